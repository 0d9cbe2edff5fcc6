//! The liquid neuron cell: one first-order ODE per neuron, integrated by explicit Euler.

use burn::config::Config;
use burn::module::{Initializer, Module, Param};
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};

use crate::activation::{inverse_softplus, softplus};
use crate::error::{Check, ConfigError};
use crate::kernel::cpu::into_vec;
use crate::param::materialize;
use crate::recurrent::RecurrentCell;
use crate::stepper::{StepCell, StepFloat};

/// Configuration of a [`LiquidCell`]; build it with [`LiquidCellConfig::init`] (or a layer of
/// them with [`LiquidLayerConfig`](super::LiquidLayerConfig)).
///
/// Every initial range is a field with a documented default, so nothing about the layer is
/// hidden in its code.
#[derive(Config, Debug)]
pub struct LiquidCellConfig {
    /// Input features per time step.
    pub d_input: usize,
    /// Liquid neurons (the state size).
    pub d_hidden: usize,
    /// The time between inputs when the layer gets no timespans.
    #[config(default = 1.0)]
    pub timespan: f64,
    /// Lower bound of every time constant: `τ = tau_min + softplus(tau_raw)`, so `τ > 0` holds
    /// whatever an optimiser does to `tau_raw`. Explicit Euler is stable while `Δt < 2τ`; keep
    /// `tau_min ≥ Δt / 2` if your steps are long and stability matters more than speed.
    #[config(default = 0.01)]
    pub tau_min: f64,
    /// Low end of the uniform initial distribution of `τ`.
    #[config(default = 1.0)]
    pub tau_init_min: f64,
    /// High end of the uniform initial distribution of `τ`.
    #[config(default = 5.0)]
    pub tau_init_max: f64,
    /// Initialiser of the input weights `w_in` (fan-in `d_input`, fan-out `d_hidden`).
    #[config(default = "Initializer::XavierUniform { gain: 1.0 }")]
    pub input_initializer: Initializer,
    /// `w_rec` starts uniform in `[-recurrent_init_range, recurrent_init_range]`.
    #[config(default = 0.5)]
    pub recurrent_init_range: f64,
    /// `b` starts uniform in `[-bias_init_range, bias_init_range]`. A non-zero bias moves each
    /// neuron off the odd centre of `tanh`, so its response to an oscillating input has a mean
    /// that depends on the input's amplitude after filtering — what frequency- and
    /// energy-sensitive tasks need from the first step.
    #[config(default = 1.0)]
    pub bias_init_range: f64,
}

/// A layer's worth of liquid neurons, vectorised over neurons and batch; run over sequences by
/// [`LiquidLayer`](super::LiquidLayer).
///
/// Each neuron `i` follows `dhᵢ/dt = (−hᵢ + tanh(x·W_in[:, i] + w_rec[i]·hᵢ + b[i])) / τᵢ`,
/// integrated by one explicit Euler step per input: `h ← h + Δt · dh/dt`.
///
/// ```
/// use burn::backend::NdArray;
/// use burn::tensor::Tensor;
/// use ltc_burn::liquid::LiquidLayerConfig;
/// # #[cfg(not(ltc_doc_wgpu))] type B = NdArray;
/// # #[cfg(ltc_doc_wgpu)] type B = burn::backend::Wgpu;
///
/// let device = Default::default();
/// let layer = LiquidLayerConfig::from_sizes(3, 8).init::<B>(&device)?;
/// let x = Tensor::<B, 3>::zeros([4, 10, 3], &device); // [batch, seq, d_input]
/// let (outputs, state) = layer.forward(x, None, None);
/// assert_eq!(outputs.dims(), [4, 10, 8]); // [batch, seq, d_hidden]
/// assert_eq!(state.hidden.dims(), [4, 8]);
/// # #[cfg(ltc_doc_wgpu)] // finish the GPU work before the process exits
/// # <B as burn::tensor::backend::Backend>::sync(&device).unwrap();
/// # Ok::<(), ltc_burn::ConfigError>(())
/// ```
#[derive(Module, Debug)]
pub struct LiquidCell<B: Backend> {
    /// Input weights, `[d_input, d_hidden]`, from [`LiquidCellConfig::input_initializer`].
    pub w_in: Param<Tensor<B, 2>>,
    /// Self-recurrent weight of each neuron, `[d_hidden]`, uniform in
    /// `±recurrent_init_range`.
    pub w_rec: Param<Tensor<B, 1>>,
    /// Bias, `[d_hidden]`, uniform in `±bias_init_range`.
    pub b: Param<Tensor<B, 1>>,
    /// Unconstrained time-constant parameter, `[d_hidden]`: `τ = tau_min + softplus(tau_raw)`.
    /// Initialised so that `τ` is uniform in `[tau_init_min, tau_init_max]`.
    pub tau_raw: Param<Tensor<B, 1>>,
    /// Lower bound of `τ` (constant).
    pub tau_min: f64,
    /// The time between inputs without timespans (constant).
    pub timespan: f64,
}

impl LiquidCellConfig {
    /// Checks every field; [`init`](Self::init) calls it first.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let check = Check {
            config: "LiquidCellConfig",
        };
        check.nonzero("d_input", self.d_input)?;
        check.nonzero("d_hidden", self.d_hidden)?;
        check.positive("timespan", self.timespan)?;
        check.positive("tau_min", self.tau_min)?;
        check.positive("tau_init_min", self.tau_init_min)?;
        check.positive("tau_init_max", self.tau_init_max)?;
        check.non_negative("recurrent_init_range", self.recurrent_init_range)?;
        check.non_negative("bias_init_range", self.bias_init_range)?;
        if self.tau_init_min <= self.tau_min {
            return Err(check.inconsistent(format!(
                "tau_init_min = {} must be above tau_min = {} (τ = tau_min + softplus(tau_raw) \
                 cannot reach tau_min itself)",
                self.tau_init_min, self.tau_min
            )));
        }
        if self.tau_init_max < self.tau_init_min {
            return Err(check.inconsistent(format!(
                "tau_init_max = {} must be at least tau_init_min = {}",
                self.tau_init_max, self.tau_init_min
            )));
        }
        Ok(())
    }

    /// Builds the layer with freshly initialised parameters on `device`.
    ///
    /// Initialisation draws from the backend's generator: call `B::seed(&device, seed)` first
    /// for reproducible weights.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<LiquidCell<B>, ConfigError> {
        self.validate()?;
        let [d_input, d_hidden] = [self.d_input, self.d_hidden];
        let w_in = materialize(self.input_initializer.init_with(
            [d_input, d_hidden],
            Some(d_input),
            Some(d_hidden),
            device,
        ));
        let r = self.recurrent_init_range;
        let w_rec = Tensor::random([d_hidden], Distribution::Uniform(-r, r), device);
        let r = self.bias_init_range;
        let b = Tensor::random([d_hidden], Distribution::Uniform(-r, r), device);
        // τ ~ U(tau_init_min, tau_init_max), stored as its softplus pre-image above tau_min.
        let (lo, hi) = (self.tau_init_min, self.tau_init_max);
        let tau = Tensor::<B, 1>::random([d_hidden], Distribution::Uniform(lo, hi), device);
        let tau_raw = inverse_softplus(tau.sub_scalar(self.tau_min));
        Ok(LiquidCell {
            w_in,
            w_rec: Param::from_tensor(w_rec),
            b: Param::from_tensor(b),
            tau_raw: Param::from_tensor(tau_raw),
            tau_min: self.tau_min,
            timespan: self.timespan,
        })
    }
}

impl<B: Backend> LiquidCell<B> {
    /// The effective time constants `τ = tau_min + softplus(tau_raw)`, `[d_hidden]`, all
    /// `≥ tau_min > 0`.
    pub fn tau(&self) -> Tensor<B, 1> {
        softplus(self.tau_raw.val()).add_scalar(self.tau_min)
    }
}

impl<B: Backend> RecurrentCell<B> for LiquidCell<B> {
    const NAME: &'static str = "LiquidLayer";

    /// Input features per step.
    fn d_input(&self) -> usize {
        self.w_in.dims()[0]
    }

    /// Neurons (the state size).
    fn d_hidden(&self) -> usize {
        self.w_in.dims()[1]
    }

    /// The new state is the output.
    fn d_output(&self) -> usize {
        self.d_hidden()
    }

    fn device(&self) -> B::Device {
        self.w_in.device()
    }

    /// One explicit Euler step; the new state is also the output.
    fn step(
        &self,
        x: Tensor<B, 2>,
        h: Tensor<B, 2>,
        timespans: Option<Tensor<B, 1>>,
    ) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let [batch, _] = x.dims();
        let d_hidden = self.d_hidden();
        let drive = x.matmul(self.w_in.val()) + self.b.val().reshape([1, d_hidden]);
        let inv_tau = self.tau().recip().reshape([1, d_hidden]);
        let rate = match timespans {
            Some(dt) => dt.reshape([batch, 1]) * inv_tau,
            None => inv_tau.mul_scalar(self.timespan),
        };
        let h = euler_step(h, drive, self.w_rec.val().reshape([1, d_hidden]), rate);
        (h.clone(), h)
    }

    /// Everything that does not depend on the state for all steps at once (one matrix
    /// product for the inputs), then the Euler steps.
    fn forward_sequence(
        &self,
        x: &Tensor<B, 3>,
        h0: &Tensor<B, 2>,
        timespans: Option<&Tensor<B, 2>>,
    ) -> Option<(Tensor<B, 3>, Tensor<B, 2>)> {
        let [batch, seq, d_input] = x.dims();
        let d_hidden = self.d_hidden();
        let drive = x
            .clone()
            .reshape([batch * seq, d_input])
            .matmul(self.w_in.val())
            .reshape([batch, seq, d_hidden])
            + self.b.val().reshape([1, 1, d_hidden]); // [batch, seq, d_hidden]
        // rate = Δt / τ: per sample and step with timespans, one row for all otherwise.
        let inv_tau = self.tau().recip().reshape([1, 1, d_hidden]);
        let rate = match timespans {
            Some(dt) => Rate::PerStep(dt.clone().reshape([batch, seq, 1]) * inv_tau),
            None => Rate::Constant(inv_tau.mul_scalar(self.timespan).reshape([1, d_hidden])),
        };
        let w_rec = self.w_rec.val().reshape([1, d_hidden]);
        let mut h = h0.clone();
        let mut outputs = Vec::with_capacity(seq);
        for t in 0..seq {
            let drive_t = drive.clone().narrow(1, t, 1).reshape([batch, d_hidden]);
            let rate_t = match &rate {
                Rate::PerStep(rate) => rate.clone().narrow(1, t, 1).reshape([batch, d_hidden]),
                Rate::Constant(rate) => rate.clone(),
            };
            h = euler_step(h, drive_t, w_rec.clone(), rate_t);
            outputs.push(h.clone());
        }
        Some((Tensor::stack(outputs, 1), h))
    }

    fn step_cell<F: StepFloat>(&self) -> Option<Box<dyn StepCell<F>>> {
        Some(Box::new(LiquidStepCell::<F>::read(self)))
    }
}

/// A [`LiquidCell`] on slices, for the prepared steppers: `W_in`, `w_rec`, `b` and `1/τ` read
/// once.
#[derive(Debug, Clone)]
struct LiquidStepCell<F> {
    /// `[d_input, d_hidden]`.
    w_in: Vec<F>,
    w_rec: Vec<F>,
    b: Vec<F>,
    inv_tau: Vec<F>,
    timespan: F,
    /// Scratch: one sample's drive.
    drive: Vec<F>,
}

impl<F: StepFloat> LiquidStepCell<F> {
    fn read<B: Backend>(cell: &LiquidCell<B>) -> Self {
        let b: Vec<F> = into_vec(cell.b.val());
        LiquidStepCell {
            w_in: into_vec(cell.w_in.val()),
            w_rec: into_vec(cell.w_rec.val()),
            inv_tau: into_vec(cell.tau().recip()),
            timespan: F::from_f64(cell.timespan),
            drive: vec![F::ZERO; b.len()],
            b,
        }
    }
}

impl<F: StepFloat> StepCell<F> for LiquidStepCell<F> {
    fn advance(&mut self, x: &[F], h: &mut [F], timespan: Option<F>, out: &mut [F]) {
        crate::kernel::cpu::linalg::row_times(x, &self.w_in, Some(&self.b), &mut self.drive);
        let dt = timespan.unwrap_or(self.timespan);
        let params = self.drive.iter().zip(&self.w_rec).zip(&self.inv_tau);
        for (h, ((drive, w_rec), inv_tau)) in h.iter_mut().zip(params) {
            let target = F::tanh(*drive + *w_rec * *h);
            *h += dt * *inv_tau * (target - *h);
        }
        out.copy_from_slice(h);
    }

    fn clone_box(&self) -> Box<dyn StepCell<F>> {
        Box::new(self.clone())
    }
}

/// `Δt / τ` for every step of a sequence.
enum Rate<B: Backend> {
    /// `[batch, seq, d_hidden]`: each sample and step has its own timespan.
    PerStep(Tensor<B, 3>),
    /// `[1, d_hidden]`: the config's constant step, broadcast over batch and time.
    Constant(Tensor<B, 2>),
}

/// `h + rate · (tanh(drive + w_rec ⊙ h) − h)`, with `rate = Δt / τ`.
fn euler_step<B: Backend>(
    h: Tensor<B, 2>,
    drive: Tensor<B, 2>,
    w_rec: Tensor<B, 2>,
    rate: Tensor<B, 2>,
) -> Tensor<B, 2> {
    let target = (drive + h.clone() * w_rec).tanh(); // [batch, d_hidden]
    h.clone() + (target - h) * rate
}
