//! Vector fields: what the solvers integrate.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::Tensor;
use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;

use crate::activation::{softplus, tanh};
use crate::error::{Check, ConfigError};
use crate::param::materialize;

/// The right-hand side of `dy/dt = f(t, y)`.
///
/// Any type can be a vector field: a Burn module (its parameters then get gradients through the
/// solver, or through [`solve_adjoint`](super::solve_adjoint)), a struct holding constants, or a
/// closure `|t, y| ...`. The state is a tensor of any rank `D` (`[batch, d_input]`, images
/// `[batch, channels, height, width]`, ...); `f` must return a tensor of the same shape.
///
/// ```
/// use burn::backend::NdArray;
/// use burn::tensor::Tensor;
/// use ltc_burn::ode::{solve, SolveOptions, VectorField};
/// # #[cfg(not(ltc_doc_wgpu))] type B = NdArray<f64>;
/// # #[cfg(ltc_doc_wgpu)] type B = burn::backend::Wgpu;
///
/// // y' = −y, a closure.
/// let decay = |_t: f64, y: Tensor<B, 2>| -y;
/// let y0 = Tensor::<B, 2>::ones([1, 1], &Default::default());
/// let sol = solve(&decay, y0, 0.0, 1.0, &SolveOptions::new())?;
/// let y1: f64 = sol.last().into_scalar().into();
/// assert!((y1 - (-1.0f64).exp()).abs() < 1e-6);
/// # Ok::<(), ltc_burn::ode::OdeError>(())
/// ```
pub trait VectorField<B: Backend, const D: usize> {
    /// `dy/dt` at time `t` and state `y`; same shape as `y`.
    fn eval(&self, t: f64, y: Tensor<B, D>) -> Tensor<B, D>;
}

impl<B, const D: usize, F> VectorField<B, D> for F
where
    B: Backend,
    F: Fn(f64, Tensor<B, D>) -> Tensor<B, D> + ?Sized,
{
    fn eval(&self, t: f64, y: Tensor<B, D>) -> Tensor<B, D> {
        self(t, y)
    }
}

/// The nonlinearity between the layers of an [`MlpField`].
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum FieldActivation {
    /// `tanh`, torchdyn's and torchdiffeq's tutorials' choice.
    Tanh,
    /// `softplus`, smooth and unbounded.
    Softplus,
    /// `max(x, 0)`: not smooth, which makes adaptive solvers take more steps.
    Relu,
}

/// A multi-layer perceptron vector field `f(t, y) = L_k(act(… act(L_1([y, t?]))))` on
/// `[batch, d_input]` states, the usual Neural ODE right-hand side.
#[derive(Config, Debug)]
pub struct MlpFieldConfig {
    /// The state's width (the field's input and output width).
    pub d_input: usize,
    /// Width of each hidden layer.
    pub d_hidden: usize,
    /// Hidden layers (≥ 1).
    #[config(default = 1)]
    pub hidden_layers: usize,
    /// The nonlinearity after each hidden layer.
    #[config(default = "FieldActivation::Tanh")]
    pub activation: FieldActivation,
    /// Feed the time `t` as an extra input column (a depth-variant field, torchdyn's
    /// `DepthCat`). Off by default: an autonomous field, as in torchdyn's moons tutorial.
    #[config(default = false)]
    pub time_input: bool,
}

/// The module built by [`MlpFieldConfig`]; a [`VectorField`] on `[batch, d_input]`.
#[derive(Module, Debug)]
pub struct MlpField<B: Backend> {
    /// The layers, input to output; Burn's default initialisation (Kaiming-uniform weights).
    pub layers: Vec<Linear<B>>,
    /// The nonlinearity (constant).
    pub activation: FieldActivation,
    /// Whether `t` is an input column (constant).
    pub time_input: bool,
}

impl MlpFieldConfig {
    /// Checks every field; [`init`](Self::init) calls it first.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let check = Check {
            config: "MlpFieldConfig",
        };
        check.nonzero("d_input", self.d_input)?;
        check.nonzero("d_hidden", self.d_hidden)?;
        check.nonzero("hidden_layers", self.hidden_layers)
    }

    /// Builds the field with freshly initialised weights.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<MlpField<B>, ConfigError> {
        self.validate()?;
        let input = self.d_input + usize::from(self.time_input);
        let mut widths = vec![input];
        widths.extend(std::iter::repeat_n(self.d_hidden, self.hidden_layers));
        widths.push(self.d_input);
        let layers = widths
            .windows(2)
            .map(|w| {
                let mut layer = LinearConfig::new(w[0], w[1]).init(device);
                layer.weight = materialize(layer.weight);
                layer.bias = layer.bias.map(materialize);
                layer
            })
            .collect();
        Ok(MlpField {
            layers,
            activation: self.activation,
            time_input: self.time_input,
        })
    }
}

impl<B: Backend> MlpField<B> {
    /// The state's width.
    pub fn d_input(&self) -> usize {
        self.layers.last().map_or(0, |l| l.weight.dims()[1])
    }
}

impl<B: Backend> VectorField<B, 2> for MlpField<B> {
    /// # Shapes
    /// - `y`: `[batch, d_input]` → `[batch, d_input]`.
    fn eval(&self, t: f64, y: Tensor<B, 2>) -> Tensor<B, 2> {
        let [batch, _] = y.dims();
        let mut h = if self.time_input {
            let time = Tensor::<B, 2>::full([batch, 1], t, &y.device());
            Tensor::cat(vec![y, time], 1)
        } else {
            y
        };
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(h);
            if i < last {
                h = match self.activation {
                    FieldActivation::Tanh => tanh(h),
                    FieldActivation::Softplus => softplus(h),
                    FieldActivation::Relu => relu(h),
                };
            }
        }
        h
    }
}
