//! Stacks of liquid layers, and the classifier/regressor built on one.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::layer::{LiquidLayer, LiquidLayerConfig};
use crate::error::{Check, ConfigError};
use crate::param::materialize;
use crate::recurrent::RecurrentState;
use crate::shape::check_shape;

/// Configuration of a [`LiquidStack`]: one [`LiquidLayerConfig`] per layer, each layer's
/// `d_input` equal to the previous layer's output width (its `d_hidden`, or `proj_size`).
#[derive(Config, Debug)]
pub struct LiquidStackConfig {
    /// The layers, input side first.
    pub layers: Vec<LiquidLayerConfig>,
}

impl LiquidStackConfig {
    /// `num_layers` layers of `d_hidden` neurons each, with default layer settings.
    pub fn uniform(d_input: usize, d_hidden: usize, num_layers: usize) -> Self {
        let layers = (0..num_layers)
            .map(|i| {
                LiquidLayerConfig::from_sizes(if i == 0 { d_input } else { d_hidden }, d_hidden)
            })
            .collect();
        Self { layers }
    }

    /// Applies `f` to every layer's config, e.g. `.map_layers(|c| c.with_batch_first(false))`.
    pub fn map_layers(mut self, f: impl Fn(LiquidLayerConfig) -> LiquidLayerConfig) -> Self {
        self.layers = self.layers.into_iter().map(f).collect();
        self
    }

    /// Checks every layer and that consecutive layers fit together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let check = Check {
            config: "LiquidStackConfig",
        };
        check.nonzero("layers.len()", self.layers.len())?;
        for layer in &self.layers {
            layer.validate()?;
        }
        for (i, pair) in self.layers.windows(2).enumerate() {
            let width = pair[0].proj_size.unwrap_or(pair[0].cell.d_hidden);
            if pair[1].cell.d_input != width {
                return Err(check.inconsistent(format!(
                    "layers[{}].cell.d_input = {} must equal the output width of layers[{i}] = \
                     {width} (its d_hidden, or proj_size)",
                    i + 1,
                    pair[1].cell.d_input,
                )));
            }
        }
        Ok(())
    }

    /// Builds the stack on `device`.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<LiquidStack<B>, ConfigError> {
        self.validate()?;
        let layers = self
            .layers
            .iter()
            .map(|c| c.init(device))
            .collect::<Result<_, _>>()?;
        Ok(LiquidStack { layers })
    }
}

/// Liquid layers in sequence, each fed with the previous layer's outputs at every step.
///
/// ```
/// use burn::backend::NdArray;
/// use burn::tensor::Tensor;
/// use ltc_burn::LiquidStackConfig;
/// # #[cfg(not(ltc_doc_wgpu))] type B = NdArray;
/// # #[cfg(ltc_doc_wgpu)] type B = burn::backend::Wgpu;
///
/// let device = Default::default();
/// let stack = LiquidStackConfig::uniform(2, 16, 3).init::<B>(&device)?;
/// let (outputs, states) = stack.forward(Tensor::zeros([5, 20, 2], &device), None, None);
/// assert_eq!(outputs.dims(), [5, 20, 16]);
/// assert_eq!(states.len(), 3); // one state per layer
/// # #[cfg(ltc_doc_wgpu)] // finish the GPU work before the process exits
/// # <B as burn::tensor::backend::Backend>::sync(&device).unwrap();
/// # Ok::<(), ltc_burn::ConfigError>(())
/// ```
#[derive(Module, Debug)]
pub struct LiquidStack<B: Backend> {
    /// The layers, input side first.
    pub layers: Vec<LiquidLayer<B>>,
}

impl<B: Backend> LiquidStack<B> {
    /// Input features per step.
    pub fn d_input(&self) -> usize {
        self.layers[0].d_input()
    }

    /// Output features of the last layer.
    pub fn d_output(&self) -> usize {
        self.layers[self.layers.len() - 1].d_output()
    }

    /// Runs every layer over whole sequences; all layers share the time axis `timespans`.
    ///
    /// # Shapes
    /// - `x`: `[batch, seq, d_input]`
    /// - `states`: one state per layer, each `[batch, d_hidden_l]` (zeros when `None`)
    /// - `timespans`: `[batch, seq]`
    /// - returns the last layer's outputs `[batch, seq, d_output]` and the final state of
    ///   every layer.
    ///
    /// # Panics
    /// If `states` does not hold one state per layer, or a shape does not match.
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        states: Option<Vec<RecurrentState<B>>>,
        timespans: Option<Tensor<B, 2>>,
    ) -> (Tensor<B, 3>, Vec<RecurrentState<B>>) {
        let states = self.split_states("LiquidStack::forward", states);
        let mut finals = Vec::with_capacity(self.layers.len());
        let mut x = x;
        for (layer, state) in self.layers.iter().zip(states) {
            let (outputs, last) = layer.forward(x, state, timespans.clone());
            finals.push(last);
            x = outputs;
        }
        (x, finals)
    }

    /// Advances every layer by one input step.
    ///
    /// # Shapes
    /// - `x`: `[batch, d_input]`, `timespans`: `[batch]`
    /// - returns the last layer's outputs `[batch, d_output]` and the new state of every layer.
    pub fn step(
        &self,
        x: Tensor<B, 2>,
        states: Option<Vec<RecurrentState<B>>>,
        timespans: Option<Tensor<B, 1>>,
    ) -> (Tensor<B, 2>, Vec<RecurrentState<B>>) {
        let states = self.split_states("LiquidStack::step", states);
        let mut next = Vec::with_capacity(self.layers.len());
        let mut x = x;
        for (layer, state) in self.layers.iter().zip(states) {
            let (y, state) = layer.step(x, state, timespans.clone());
            x = y;
            next.push(state);
        }
        (x, next)
    }

    fn split_states(
        &self,
        context: &str,
        states: Option<Vec<RecurrentState<B>>>,
    ) -> Vec<Option<RecurrentState<B>>> {
        match states {
            Some(states) => {
                assert_eq!(
                    states.len(),
                    self.layers.len(),
                    "{context}: expected one state per layer ({} layers), got {} states",
                    self.layers.len(),
                    states.len()
                );
                states.into_iter().map(Some).collect()
            }
            None => self.layers.iter().map(|_| None).collect(),
        }
    }
}

/// Configuration of a [`LiquidClassifier`].
#[derive(Config, Debug)]
pub struct LiquidClassifierConfig {
    /// The liquid layers.
    pub stack: LiquidStackConfig,
    /// Classes (logits) or regression targets.
    pub d_output: usize,
}

impl LiquidClassifierConfig {
    /// Checks the stack and the head.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.stack.validate()?;
        Check {
            config: "LiquidClassifierConfig",
        }
        .nonzero("d_output", self.d_output)
    }

    /// Builds the model on `device`.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<LiquidClassifier<B>, ConfigError> {
        self.validate()?;
        let stack = self.stack.init(device)?;
        let mut head = LinearConfig::new(stack.d_output(), self.d_output).init(device);
        head.weight = materialize(head.weight);
        head.bias = head.bias.map(materialize);
        Ok(LiquidClassifier { stack, head })
    }
}

/// A [`LiquidStack`] read out by a `Linear` head on the last hidden state: sequence
/// classification (logits) or sequence-to-one regression.
///
/// ```
/// use burn::backend::NdArray;
/// use burn::tensor::Tensor;
/// use ltc_burn::liquid::{LiquidClassifierConfig, LiquidStackConfig};
/// # #[cfg(not(ltc_doc_wgpu))] type B = NdArray;
/// # #[cfg(ltc_doc_wgpu)] type B = burn::backend::Wgpu;
///
/// let device = Default::default();
/// let config = LiquidClassifierConfig::new(LiquidStackConfig::uniform(1, 32, 2), 3);
/// let model = config.init::<B>(&device)?;
/// let logits = model.forward(Tensor::zeros([8, 50, 1], &device), None);
/// assert_eq!(logits.dims(), [8, 3]);
/// # #[cfg(ltc_doc_wgpu)] // finish the GPU work before the process exits
/// # <B as burn::tensor::backend::Backend>::sync(&device).unwrap();
/// # Ok::<(), ltc_burn::ConfigError>(())
/// ```
#[derive(Module, Debug)]
pub struct LiquidClassifier<B: Backend> {
    /// The liquid layers.
    pub stack: LiquidStack<B>,
    /// Read-out from the last layer's final state.
    pub head: Linear<B>,
}

impl<B: Backend> LiquidClassifier<B> {
    /// Logits (or regression outputs) from whole sequences.
    ///
    /// # Shapes
    /// - `x`: `[batch, seq, d_input]`, `timespans`: `[batch, seq]`
    /// - returns `[batch, d_output]`
    pub fn forward(&self, x: Tensor<B, 3>, timespans: Option<Tensor<B, 2>>) -> Tensor<B, 2> {
        check_shape(
            "LiquidClassifier::forward",
            "x",
            &x.dims(),
            &[
                ("batch", None),
                ("seq", None),
                ("d_input", Some(self.stack.d_input())),
            ],
        );
        let (outputs, _) = self.stack.forward(x, None, timespans);
        let [batch, seq, width] = outputs.dims();
        self.head
            .forward(outputs.narrow(1, seq - 1, 1).reshape([batch, width]))
    }
}
