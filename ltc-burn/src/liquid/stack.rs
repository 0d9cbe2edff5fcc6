//! Stacks of liquid layers, and the classifier/regressor built on one.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::layer::{LiquidLayer, LiquidLayerConfig, LiquidState};
use crate::error::{Check, ConfigError};
use crate::param::materialize;
use crate::shape::check_shape;

/// Configuration of a [`LiquidStack`]: one [`LiquidLayerConfig`] per layer, each layer's
/// `d_input` equal to the previous layer's `d_hidden`.
#[derive(Config, Debug)]
pub struct LiquidStackConfig {
    /// The layers, input side first.
    pub layers: Vec<LiquidLayerConfig>,
}

impl LiquidStackConfig {
    /// `num_layers` layers of `d_hidden` neurons each, with default layer settings.
    pub fn uniform(d_input: usize, d_hidden: usize, num_layers: usize) -> Self {
        let layers = (0..num_layers)
            .map(|i| LiquidLayerConfig::new(if i == 0 { d_input } else { d_hidden }, d_hidden))
            .collect();
        Self { layers }
    }

    /// Applies `f` to every layer's config, e.g. `.map_layers(|c| c.with_dt(0.1))`.
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
            if pair[1].d_input != pair[0].d_hidden {
                return Err(check.inconsistent(format!(
                    "layers[{}].d_input = {} must equal layers[{i}].d_hidden = {}",
                    i + 1,
                    pair[1].d_input,
                    pair[0].d_hidden
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

    /// Neurons of the last layer.
    pub fn d_output(&self) -> usize {
        self.layers[self.layers.len() - 1].d_hidden()
    }

    /// Runs every layer over whole sequences; all layers share the time axis `dt`.
    ///
    /// # Shapes
    /// - `x`: `[batch, seq, d_input]`
    /// - `states`: one state per layer, each `[batch, d_hidden_l]` (zeros when `None`)
    /// - `dt`: `[batch, seq]`
    /// - returns the last layer's outputs `[batch, seq, d_hidden_last]` and the final state of
    ///   every layer.
    ///
    /// # Panics
    /// If `states` does not hold one state per layer, or a shape does not match.
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        states: Option<Vec<LiquidState<B>>>,
        dt: Option<Tensor<B, 2>>,
    ) -> (Tensor<B, 3>, Vec<LiquidState<B>>) {
        let states = self.split_states("LiquidStack::forward", states);
        let mut finals = Vec::with_capacity(self.layers.len());
        let mut x = x;
        for (layer, state) in self.layers.iter().zip(states) {
            let (outputs, last) = layer.forward(x, state, dt.clone());
            finals.push(last);
            x = outputs;
        }
        (x, finals)
    }

    /// Advances every layer by one input step.
    ///
    /// # Shapes
    /// - `x`: `[batch, d_input]`, `dt`: `[batch]`
    /// - returns the new state of every layer; the last one's `h` is the stack's output.
    pub fn step(
        &self,
        x: Tensor<B, 2>,
        states: Option<Vec<LiquidState<B>>>,
        dt: Option<Tensor<B, 1>>,
    ) -> Vec<LiquidState<B>> {
        let states = self.split_states("LiquidStack::step", states);
        let mut next = Vec::with_capacity(self.layers.len());
        let mut x = x;
        for (layer, state) in self.layers.iter().zip(states) {
            let state = layer.step(x, state, dt.clone());
            x = state.h.clone();
            next.push(state);
        }
        next
    }

    fn split_states(
        &self,
        context: &str,
        states: Option<Vec<LiquidState<B>>>,
    ) -> Vec<Option<LiquidState<B>>> {
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
/// use ltc_burn::{LiquidClassifierConfig, LiquidStackConfig};
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
    /// - `x`: `[batch, seq, d_input]`, `dt`: `[batch, seq]`
    /// - returns `[batch, d_output]`
    pub fn forward(&self, x: Tensor<B, 3>, dt: Option<Tensor<B, 2>>) -> Tensor<B, 2> {
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
        let (_, states) = self.stack.forward(x, None, dt);
        let last = states
            .into_iter()
            .next_back()
            .expect("a stack has at least one layer");
        self.head.forward(last.h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;
    use burn::tensor::backend::AutodiffBackend;
    use ltc_testing::{assert_close, backend_tests, is_f64, values};

    fn tol<B: Backend>() -> f64 {
        if is_f64::<B>() { 1e-12 } else { 1e-6 }
    }

    /// The stack is exactly its layers applied in turn, in `forward` and in `step`.
    fn stack_is_layers_in_turn<B: AutodiffBackend>(device: &B::Device) {
        B::seed(device, 3);
        let stack = LiquidStackConfig::uniform(3, 4, 2)
            .map_layers(|c| c.with_dt(0.5))
            .init::<B>(device)
            .unwrap();
        let x = Tensor::<B, 3>::random([2, 6, 3], Distribution::Uniform(-1.0, 1.0), device);
        let (out, states) = stack.forward(x.clone(), None, None);
        let (mid, s0) = stack.layers[0].forward(x.clone(), None, None);
        let (want, s1) = stack.layers[1].forward(mid, None, None);
        assert_close(
            "outputs",
            &values(out.clone()),
            &values(want),
            tol::<B>(),
            0.0,
        );
        assert_close(
            "state 0",
            &values(states[0].h.clone()),
            &values(s0.h),
            tol::<B>(),
            0.0,
        );
        assert_close(
            "state 1",
            &values(states[1].h.clone()),
            &values(s1.h),
            tol::<B>(),
            0.0,
        );

        let mut streamed = None;
        for t in 0..6 {
            let x_t = x.clone().narrow(1, t, 1).reshape([2, 3]);
            streamed = Some(stack.step(x_t, streamed, None));
        }
        let streamed = streamed.unwrap();
        assert_close(
            "step",
            &values(streamed[1].h.clone()),
            &values(states[1].h.clone()),
            tol::<B>(),
            0.0,
        );
    }

    /// The classifier is the head applied to the last layer's final state.
    fn classifier_reads_last_state<B: AutodiffBackend>(device: &B::Device) {
        B::seed(device, 4);
        let model = LiquidClassifierConfig::new(LiquidStackConfig::uniform(2, 5, 2), 3)
            .init::<B>(device)
            .unwrap();
        let x = Tensor::<B, 3>::random([4, 7, 2], Distribution::Uniform(-1.0, 1.0), device);
        let dt = Tensor::<B, 2>::random([4, 7], Distribution::Uniform(0.1, 1.0), device);
        let logits = model.forward(x.clone(), Some(dt.clone()));
        let (_, states) = model.stack.forward(x, None, Some(dt));
        let h = values(states[1].h.clone());
        let w = values(model.head.weight.val()); // [5, 3]
        let b = values(model.head.bias.as_ref().unwrap().val());
        let want: Vec<f64> = (0..4)
            .flat_map(|s| {
                let (h, w, b) = (&h, &w, &b);
                (0..3).map(move |o| b[o] + (0..5).map(|k| h[s * 5 + k] * w[k * 3 + o]).sum::<f64>())
            })
            .collect();
        let tol = if is_f64::<B>() { 1e-12 } else { 1e-5 };
        assert_close("logits", &values(logits), &want, tol, 0.0);
        assert_eq!(
            model.num_params(),
            (2 * 5 + 3 * 5) + (5 * 5 + 3 * 5) + (5 * 3 + 3)
        );
    }

    fn rejects_wrong_state_count<B: AutodiffBackend>(device: &B::Device) {
        let stack = LiquidStackConfig::uniform(3, 4, 2)
            .init::<B>(device)
            .unwrap();
        let one = vec![stack.layers[0].zero_state(2)];
        let _ = stack.forward(Tensor::zeros([2, 5, 3], device), Some(one), None);
    }

    fn classifier_rejects_wrong_width<B: AutodiffBackend>(device: &B::Device) {
        let model = LiquidClassifierConfig::new(LiquidStackConfig::uniform(2, 5, 1), 3)
            .init::<B>(device)
            .unwrap();
        let _ = model.forward(Tensor::zeros([4, 7, 6], device), None);
    }

    backend_tests! {
        stack_is_layers_in_turn,
        classifier_reads_last_state,
        #[should_panic(expected = "LiquidStack::forward: expected one state per layer (2 layers), got 1 states")]
        rejects_wrong_state_count,
        #[should_panic(expected = "LiquidClassifier::forward: x must have shape [batch, seq, d_input=2], got [4, 7, 6]")]
        classifier_rejects_wrong_width,
    }

    #[test]
    fn stack_config_errors() {
        let err = LiquidStackConfig::new(vec![]).validate().unwrap_err();
        assert_eq!(
            err.to_string(),
            "LiquidStackConfig.layers.len() = 0: must be at least 1"
        );
        let mut config = LiquidStackConfig::uniform(3, 4, 2);
        config.layers[1].d_input = 5;
        assert_eq!(
            config.validate().unwrap_err().to_string(),
            "LiquidStackConfig: layers[1].d_input = 5 must equal layers[0].d_hidden = 4"
        );
        let err = LiquidClassifierConfig::new(LiquidStackConfig::uniform(3, 4, 1), 0)
            .validate()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "LiquidClassifierConfig.d_output = 0: must be at least 1"
        );
    }

    #[test]
    fn config_json_round_trip() {
        let config = LiquidClassifierConfig::new(LiquidStackConfig::uniform(3, 4, 2), 2);
        let json = serde_json::to_string(&config).unwrap();
        let back: LiquidClassifierConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back.stack.layers[1].d_input, 4);
        assert_eq!(back.d_output, 2);
    }
}
