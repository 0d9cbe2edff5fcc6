//! Vector fields: what the solvers integrate.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use crate::activation::{softplus, tanh};
use crate::error::{Check, ConfigError};
use crate::param::materialize;

use super::per_sample::index;

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

    /// `dy/dt` with a time per sample: row `r` of `y` (along dimension 0) is sample
    /// `samples[r]` of the batch that was solved, at time `t[r]`. Per-sample step control
    /// ([`SolveOptions::per_sample`](super::SolveOptions::per_sample)) calls it on the samples
    /// still integrating, so `y` may hold fewer rows than the batch: a field with per-sample
    /// constants (a rate, a condition per sample) picks its rows by `samples` (see the example
    /// at [`SolveOptions::per_sample`](super::SolveOptions::per_sample)).
    ///
    /// The default ignores `samples` and calls [`eval`](Self::eval) once when every time is the
    /// same, otherwise once per distinct time on the rows at that time — right for any field
    /// without per-sample constants, but up to one call per row. A field that ignores `t`
    /// (wrap it in [`Autonomous`]) or takes `t` as an input column ([`MlpField`]) answers in
    /// one call.
    ///
    /// # Panics
    /// If `t.len()` is not `y`'s dimension 0.
    fn eval_per_sample(&self, t: &[f64], samples: &[usize], y: Tensor<B, D>) -> Tensor<B, D> {
        let _ = samples;
        let rows = y.dims()[0];
        assert_eq!(
            t.len(),
            rows,
            "eval_per_sample: {} times for a state of {rows} rows (dimension 0)",
            t.len()
        );
        if rows == 0 || t.iter().all(|&ti| ti == t[0]) {
            return self.eval(t.first().copied().unwrap_or(0.0), y);
        }
        let device = y.device();
        let mut order: Vec<usize> = (0..rows).collect();
        order.sort_by(|&a, &b| t[a].total_cmp(&t[b]));
        let mut parts = Vec::new();
        let mut start = 0;
        while start < rows {
            let time = t[order[start]];
            let end = start + order[start..].iter().take_while(|&&r| t[r] == time).count();
            let group = y.clone().select(0, index::<B>(&order[start..end], &device));
            parts.push(self.eval(time, group));
            start = end;
        }
        let mut inverse = vec![0; rows];
        for (position, &row) in order.iter().enumerate() {
            inverse[row] = position;
        }
        Tensor::cat(parts, 0).select(0, index::<B>(&inverse, &device))
    }
}

/// Panics naming both shapes when a vector field's output `out` differs from its state's.
pub(crate) fn check_field_shape<const D: usize>(out: [usize; D], state: [usize; D]) {
    assert_eq!(
        out, state,
        "the vector field returned shape {out:?} for a state of shape {state:?}: f(t, y) must \
         have y's shape"
    );
}

/// A vector field that does not depend on `t` and has no per-sample constants: per-sample
/// step control evaluates it on the active rows in one call whatever each sample's time (see
/// [`VectorField::eval_per_sample`]).
///
/// ```
/// use burn::backend::NdArray;
/// use burn::tensor::Tensor;
/// use ltc_burn::ode::{solve, Autonomous, SaveAt, SolveOptions};
/// # #[cfg(not(ltc_doc_wgpu))] type B = NdArray<f64>;
/// # #[cfg(ltc_doc_wgpu)] type B = burn::backend::Wgpu;
///
/// // y' = −y³: a large start is fast at first, a small one slow throughout.
/// let field = Autonomous(|_t: f64, y: Tensor<B, 2>| -y.powi_scalar(3));
/// let y0 = Tensor::<B, 2>::from_floats([[0.1], [10.0]], &Default::default());
/// let times = vec![vec![0.5, 1.0], vec![0.25, 1.0]];
/// let options = SolveOptions::new()
///     .with_per_sample(true)
///     .with_save_at(SaveAt::TimesPerSample(times.clone()));
/// let sol = solve(&field, y0.clone(), 0.0, 1.0, &options)?;
/// // y(t) = y0 / √(1 + 2·y0²·t), each row at its own times.
/// for (j, y) in sol.ys.iter().enumerate() {
///     let y: Vec<f64> = y.clone().into_data().convert::<f64>().to_vec().unwrap();
///     for (i, y0) in [0.1, 10.0].iter().enumerate() {
///         let exact = y0 / (1.0 + 2.0 * y0 * y0 * times[i][j]).sqrt();
///         assert!((y[i] - exact).abs() < 1e-6, "sample {i} at {}", times[i][j]);
///     }
/// }
/// let per_sample = sol.per_sample.expect("a per-sample solve");
/// assert_eq!(per_sample.ts, times);
/// assert!(per_sample.stats[0].steps() < per_sample.stats[1].steps());
/// # Ok::<(), ltc_burn::ode::OdeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Autonomous<F>(pub F);

impl<B: Backend, const D: usize, F: VectorField<B, D>> VectorField<B, D> for Autonomous<F> {
    fn eval(&self, t: f64, y: Tensor<B, D>) -> Tensor<B, D> {
        self.0.eval(t, y)
    }

    fn eval_per_sample(&self, t: &[f64], _samples: &[usize], y: Tensor<B, D>) -> Tensor<B, D> {
        self.0.eval(t.first().copied().unwrap_or(0.0), y)
    }
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

impl<B: Backend> MlpField<B> {
    /// The layers on `y`, with `time` (`[batch, 1]`) as an input column when the field takes
    /// one.
    fn forward_with(&self, y: Tensor<B, 2>, time: impl FnOnce() -> Tensor<B, 2>) -> Tensor<B, 2> {
        let mut h = if self.time_input {
            Tensor::cat(vec![y, time()], 1)
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

impl<B: Backend> VectorField<B, 2> for MlpField<B> {
    /// # Shapes
    /// - `y`: `[batch, d_input]` → `[batch, d_input]`.
    fn eval(&self, t: f64, y: Tensor<B, 2>) -> Tensor<B, 2> {
        let [batch, _] = y.dims();
        let device = y.device();
        self.forward_with(y, || Tensor::full([batch, 1], t, &device))
    }

    /// One call whatever the times: each row's time is its own input column.
    fn eval_per_sample(&self, t: &[f64], _samples: &[usize], y: Tensor<B, 2>) -> Tensor<B, 2> {
        let [batch, _] = y.dims();
        assert_eq!(
            t.len(),
            batch,
            "eval_per_sample: {} times for a state of {batch} rows",
            t.len()
        );
        let device = y.device();
        self.forward_with(y, || {
            let data = TensorData::new(t.to_vec(), [batch, 1]).convert::<B::FloatElem>();
            Tensor::from_data(data, &device)
        })
    }
}
