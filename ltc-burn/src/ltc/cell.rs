//! The Liquid Time-Constant cell of ncps, with its fused semi-implicit Euler solver.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, ElementConversion, Tensor};
use ltc_wirings::Wiring;

use super::plain::unfold_plain;
use super::positive::{PositiveParam, Positivity};
use crate::activation::reciprocal;
use crate::error::{Check, ConfigError};
use crate::kernel;
use crate::kernel::ltc::{SynapseTensors, UnfoldInputs, UnfoldParams};
use crate::recurrent::RecurrentCell;
use crate::stepper::{StepCell, StepFloat};

/// An input or output mapping of the LTC cell (ncps's `input_mapping` / `output_mapping`).
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Mapping {
    /// `x ⊙ w + b`, with `w` starting at ones and `b` at zeros (ncps `"affine"`).
    Affine,
    /// `x ⊙ w`, with `w` starting at ones (ncps `"linear"`).
    Linear,
    /// `x`, no parameters (ncps `None`).
    Identity,
}

impl Mapping {
    fn has_weight(self) -> bool {
        matches!(self, Self::Affine | Self::Linear)
    }

    fn has_bias(self) -> bool {
        self == Self::Affine
    }
}

/// The smallest valid [`LtcCellConfig::epsilon`]: with it every term of the update's
/// denominator is ≥ 0 and the sum ≥ ε > 0, in single precision too (1e-30 is a normal `f32`).
pub const MIN_EPSILON: f64 = 1e-30;

/// Timespans below this (zero or negative) count as this much: the step then leaves the
/// potentials unchanged to within `f32` rounding, and `cm / Δt` stays finite.
pub const MIN_TIMESPAN: f64 = 1e-20;

/// Configuration of an [`LtcCell`]: the wiring, the mappings, the solver and every initial
/// range. The defaults are those of ncps 1.0.1's `LTCCell`, except [`positivity`](Self::positivity),
/// which defaults to the `LTC` wrapper's softplus (ncps's cell and wrapper disagree).
///
/// The initial ranges are `[low, high]` of a uniform draw; ncps hard-codes them in
/// `LTCCell._init_ranges`.
#[derive(Config, Debug)]
pub struct LtcCellConfig {
    /// The synapse graph, built for the input width (`wiring.input_dim()` inputs,
    /// `wiring.units()` neurons, the first `wiring.output_dim()` of them motor neurons).
    pub wiring: Wiring,
    /// Mapping of the inputs before the sensory synapses.
    #[config(default = "Mapping::Affine")]
    pub input_mapping: Mapping,
    /// Mapping of the motor neurons' potentials to the outputs.
    #[config(default = "Mapping::Affine")]
    pub output_mapping: Mapping,
    /// Semi-implicit Euler sub-steps per input step (ncps `ode_unfolds`).
    #[config(default = 6)]
    pub ode_unfolds: usize,
    /// Added to the denominator of the update (ncps `epsilon`); at least [`MIN_EPSILON`], so that
    /// the denominator never reaches zero.
    #[config(default = 1e-8)]
    pub epsilon: f64,
    /// How `w`, `sensory_w`, `cm` and `gleak` stay positive.
    #[config(default = "Positivity::Softplus")]
    pub positivity: Positivity,
    /// Leak conductance `gleak` (ncps: U(0.001, 1.0)).
    #[config(default = "[0.001, 1.0]")]
    pub gleak_init: [f64; 2],
    /// Leak reversal potential `vleak` (ncps: U(−0.2, 0.2)).
    #[config(default = "[-0.2, 0.2]")]
    pub vleak_init: [f64; 2],
    /// Membrane capacitance `cm` (ncps: U(0.4, 0.6)).
    #[config(default = "[0.4, 0.6]")]
    pub cm_init: [f64; 2],
    /// Synapse steepness `sigma` (ncps: U(3, 8)).
    #[config(default = "[3.0, 8.0]")]
    pub sigma_init: [f64; 2],
    /// Synapse midpoint `mu` (ncps: U(0.3, 0.8)).
    #[config(default = "[0.3, 0.8]")]
    pub mu_init: [f64; 2],
    /// Synapse maximum conductance `w` (ncps: U(0.001, 1.0)).
    #[config(default = "[0.001, 1.0]")]
    pub w_init: [f64; 2],
    /// Sensory synapse steepness `sensory_sigma` (ncps: U(3, 8)).
    #[config(default = "[3.0, 8.0]")]
    pub sensory_sigma_init: [f64; 2],
    /// Sensory synapse midpoint `sensory_mu` (ncps: U(0.3, 0.8)).
    #[config(default = "[0.3, 0.8]")]
    pub sensory_mu_init: [f64; 2],
    /// Sensory synapse maximum conductance `sensory_w` (ncps: U(0.001, 1.0)).
    #[config(default = "[0.001, 1.0]")]
    pub sensory_w_init: [f64; 2],
}

/// The Liquid Time-Constant cell: `N` neurons whose membrane potentials `v` follow
///
/// `cm·dv/dt = gleak·(vleak − v) + Σᵢ wᵢ·σ(sigmaᵢ·(vᵢ − muᵢ))·(erevᵢ − v)`
///
/// over the recurrent and sensory synapses the wiring allows, integrated exactly as ncps does:
/// [`ode_unfolds`](LtcCellConfig::ode_unfolds) semi-implicit Euler sub-steps per input step,
///
/// `v ← (cm_t·v + gleak·vleak + Σ a·erev + num_s) / (cm_t + gleak + Σ a + den_s + ε)`,
/// `cm_t = cm / (Δt / K)`.
///
/// Parameters are named as in ncps, matrices indexed `[source, destination]`. The masks are
/// constants rebuilt from the wiring, not parameters: they are in no record and get no gradient.
/// Masked synapses still have entries in `w`, `sigma`, `mu`, `erev`; their gradient is exactly 0.
///
/// ```
/// use burn::backend::NdArray;
/// use burn::tensor::Tensor;
/// use ltc_burn::ltc::LtcCellConfig;
/// use ltc_burn::recurrent::RecurrentCell;
/// # #[cfg(not(ltc_doc_wgpu))] type B = NdArray;
/// # #[cfg(ltc_doc_wgpu)] type B = burn::backend::Wgpu;
///
/// let device = Default::default();
/// let wiring = ltc_wirings::AutoNcp::new(16, 2).build(3)?;
/// let cell = LtcCellConfig::new(wiring).init::<B>(&device)?;
/// let x = Tensor::<B, 2>::ones([4, 3], &device); // [batch, d_input]
/// let v = Tensor::<B, 2>::zeros([4, 16], &device); // [batch, d_hidden]
/// let (y, v) = cell.forward(x, v, None);
/// assert_eq!((y.dims(), v.dims()), ([4, 2], [4, 16])); // motor outputs, new state
/// // The potentials stay between the smallest and largest reversal potential (−1 … 1).
/// let v: Vec<f32> = v.into_data().convert::<f32>().to_vec().unwrap();
/// assert!(v.iter().all(|p| p.abs() <= 1.0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Module, Debug)]
pub struct LtcCell<B: Backend> {
    /// Leak conductance, `[units]`, positive.
    pub gleak: PositiveParam<B, 1>,
    /// Leak reversal potential, `[units]`.
    pub vleak: Param<Tensor<B, 1>>,
    /// Membrane capacitance, `[units]`, positive.
    pub cm: PositiveParam<B, 1>,
    /// Synapse steepness, `[units, units]`.
    pub sigma: Param<Tensor<B, 2>>,
    /// Synapse midpoint, `[units, units]`.
    pub mu: Param<Tensor<B, 2>>,
    /// Synapse maximum conductance, `[units, units]`, positive.
    pub w: PositiveParam<B, 2>,
    /// Synapse reversal potential, `[units, units]`; starts at the wiring's polarity (−1/0/+1)
    /// and is trained freely, as in ncps.
    pub erev: Param<Tensor<B, 2>>,
    /// Sensory synapse steepness, `[input, units]`.
    pub sensory_sigma: Param<Tensor<B, 2>>,
    /// Sensory synapse midpoint, `[input, units]`.
    pub sensory_mu: Param<Tensor<B, 2>>,
    /// Sensory synapse maximum conductance, `[input, units]`, positive.
    pub sensory_w: PositiveParam<B, 2>,
    /// Sensory synapse reversal potential, `[input, units]`.
    pub sensory_erev: Param<Tensor<B, 2>>,
    /// `|adjacency|`, `[units, units]` (constant).
    pub sparsity_mask: Tensor<B, 2>,
    /// `|sensory adjacency|`, `[input, units]` (constant).
    pub sensory_sparsity_mask: Tensor<B, 2>,
    /// Input mapping weight, `[input]`, ones (affine and linear mappings).
    pub input_w: Option<Param<Tensor<B, 1>>>,
    /// Input mapping bias, `[input]`, zeros (affine mapping).
    pub input_b: Option<Param<Tensor<B, 1>>>,
    /// Output mapping weight, `[motor]`, ones (affine and linear mappings).
    pub output_w: Option<Param<Tensor<B, 1>>>,
    /// Output mapping bias, `[motor]`, zeros (affine mapping).
    pub output_b: Option<Param<Tensor<B, 1>>>,
    /// Motor neurons: the outputs are the potentials of neurons `0..motor` (constant).
    pub motor: usize,
    /// Sub-steps per input step (constant).
    pub ode_unfolds: usize,
    /// Denominator guard (constant).
    pub epsilon: f64,
    /// Whether the unfold loop runs through the backend's fused kernel where it has one
    /// (constant, `true` after [`init`](LtcCellConfig::init); see [`with_fused`](Self::with_fused)).
    pub fused: bool,
}

impl LtcCellConfig {
    /// Checks every field; [`init`](Self::init) calls it first.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let check = Check {
            config: "LtcCellConfig",
        };
        check.nonzero("wiring.units", self.wiring.units())?;
        check.nonzero("wiring.input_dim", self.wiring.input_dim())?;
        check.nonzero("wiring.output_dim", self.wiring.output_dim())?;
        check.nonzero("ode_unfolds", self.ode_unfolds)?;
        if !(self.epsilon.is_finite() && self.epsilon >= MIN_EPSILON) {
            return Err(ConfigError::OutOfRange {
                config: "LtcCellConfig",
                field: "epsilon",
                value: self.epsilon,
                valid: "a finite number >= 1e-30 (it keeps the update's denominator above zero; \
                        ncps uses 1e-8)",
            });
        }
        for (field, range) in self.ranges() {
            check.range(field, range)?;
        }
        Ok(())
    }

    fn ranges(&self) -> [(&'static str, [f64; 2]); 9] {
        [
            ("gleak_init", self.gleak_init),
            ("vleak_init", self.vleak_init),
            ("cm_init", self.cm_init),
            ("sigma_init", self.sigma_init),
            ("mu_init", self.mu_init),
            ("w_init", self.w_init),
            ("sensory_sigma_init", self.sensory_sigma_init),
            ("sensory_mu_init", self.sensory_mu_init),
            ("sensory_w_init", self.sensory_w_init),
        ]
    }

    /// Builds the cell with freshly initialised parameters on `device`, drawing in ncps's
    /// parameter order from the backend's generator (`B::seed(&device, seed)` first for
    /// reproducible weights).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<LtcCell<B>, ConfigError> {
        self.validate()?;
        let (n, s, m) = (
            self.wiring.units(),
            self.wiring.input_dim(),
            self.wiring.output_dim(),
        );
        let uniform = |shape: Vec<usize>, [lo, hi]: [f64; 2]| {
            let len = shape.iter().product::<usize>();
            if lo == hi {
                // A one-point range (Burn's uniform draw refuses an empty range).
                return Tensor::<B, 1>::full([len], lo, device);
            }
            Tensor::<B, 1>::random([len], Distribution::Uniform(lo, hi), device)
        };
        let vector = |range| Param::from_tensor(uniform(vec![n], range));
        let matrix = |rows: usize, range| {
            Param::from_tensor(uniform(vec![rows, n], range).reshape([rows, n]))
        };
        let ones = |len| Param::from_tensor(Tensor::ones([len], device));
        let zeros = |len| Param::from_tensor(Tensor::zeros([len], device));
        Ok(LtcCell {
            gleak: PositiveParam::new(vector(self.gleak_init), self.positivity),
            vleak: vector(self.vleak_init),
            cm: PositiveParam::new(vector(self.cm_init), self.positivity),
            sigma: matrix(n, self.sigma_init),
            mu: matrix(n, self.mu_init),
            w: PositiveParam::new(matrix(n, self.w_init), self.positivity),
            erev: Param::from_tensor(crate::wiring::erev(&self.wiring, device)),
            sensory_sigma: matrix(s, self.sensory_sigma_init),
            sensory_mu: matrix(s, self.sensory_mu_init),
            sensory_w: PositiveParam::new(matrix(s, self.sensory_w_init), self.positivity),
            sensory_erev: Param::from_tensor(crate::wiring::sensory_erev(&self.wiring, device)),
            sparsity_mask: crate::wiring::mask(&self.wiring, device),
            sensory_sparsity_mask: crate::wiring::sensory_mask(&self.wiring, device),
            input_w: self.input_mapping.has_weight().then(|| ones(s)),
            input_b: self.input_mapping.has_bias().then(|| zeros(s)),
            output_w: self.output_mapping.has_weight().then(|| ones(m)),
            output_b: self.output_mapping.has_bias().then(|| zeros(m)),
            motor: m,
            ode_unfolds: self.ode_unfolds,
            epsilon: self.epsilon,
            fused: true,
        })
    }
}

impl<B: Backend> LtcCell<B> {
    /// Synapses between neurons (the wiring's, not counting masked entries).
    pub fn synapse_count(&self) -> usize {
        self.sparsity_mask.clone().sum().into_scalar().elem::<f64>() as usize
    }

    /// Synapses from inputs to neurons. (ncps 1.0.1's `LTCCell.sensory_synapse_count` returns
    /// the recurrent count; this one counts sensory synapses.)
    pub fn sensory_synapse_count(&self) -> usize {
        self.sensory_sparsity_mask
            .clone()
            .sum()
            .into_scalar()
            .elem::<f64>() as usize
    }

    /// Whether the unfold loop runs through the backend's fused kernel where it has one
    /// ([`LtcUnfold`](crate::kernel::ltc::LtcUnfold) in the [kernel table](crate::kernel)), the
    /// default; `false` keeps the plain tensor path ([`unfold_plain`]), the reference the
    /// kernel is tested against. The two agree to rounding (within 1e-5 in f32).
    pub fn with_fused(self, fused: bool) -> Self {
        Self { fused, ..self }
    }

    /// Clips `w`, `sensory_w`, `cm` and `gleak` to `≥ 0` in [`Positivity::Clip`] mode (ncps's
    /// `apply_weight_constraints`). Optimiser steps already do this (see [`Positivity`]); call
    /// it after changing parameters by other means.
    pub fn apply_weight_constraints(self) -> Self {
        Self {
            gleak: self.gleak.clipped(),
            cm: self.cm.clipped(),
            w: self.w.clipped(),
            sensory_w: self.sensory_w.clipped(),
            ..self
        }
    }

    /// The parameters of the unfold loop in the form [`kernel::ltc::unfold`] takes them:
    /// positive, masked conductances and the leak terms, with their autodiff graph.
    pub fn unfold_params(&self) -> UnfoldParams<B> {
        let n = self.d_hidden();
        let gleak = self.gleak.value();
        UnfoldParams {
            recurrent: SynapseTensors {
                w: self.w.value() * self.sparsity_mask.clone(),
                sigma: self.sigma.val(),
                mu: self.mu.val(),
                erev: self.erev.val(),
            },
            recurrent_mask: self.sparsity_mask.clone(),
            sensory: SynapseTensors {
                w: self.sensory_w.value() * self.sensory_sparsity_mask.clone(),
                sigma: self.sensory_sigma.val(),
                mu: self.sensory_mu.val(),
                erev: self.sensory_erev.val(),
            },
            sensory_mask: self.sensory_sparsity_mask.clone(),
            gleak_vleak: gleak.clone() * self.vleak.val().reshape([n]),
            gleak,
            unfolds: self.ode_unfolds,
            epsilon: self.epsilon,
        }
    }

    /// The input mapping, on `[rows, d_input]`.
    pub(crate) fn map_input(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let s = self.d_input();
        let x = match &self.input_w {
            Some(w) => x * w.val().reshape([1, s]),
            None => x,
        };
        match &self.input_b {
            Some(b) => x + b.val().reshape([1, s]),
            None => x,
        }
    }

    /// The output mapping of the motor neurons, on `[rows, d_hidden]` → `[rows, d_output]`.
    pub(crate) fn map_output(&self, v: Tensor<B, 2>) -> Tensor<B, 2> {
        let m = self.motor;
        let y = if m < self.d_hidden() {
            v.narrow(1, 0, m)
        } else {
            v
        };
        let y = match &self.output_w {
            Some(w) => y * w.val().reshape([1, m]),
            None => y,
        };
        match &self.output_b {
            Some(b) => y + b.val().reshape([1, m]),
            None => y,
        }
    }

    /// `cm_t = pos(cm) / (Δt / K)`: `[1, 1, units]` for the default `Δt = 1`,
    /// `[batch, seq, units]` for timespans `[batch, seq]`.
    pub fn cm_t(&self, timespans: Option<Tensor<B, 2>>) -> Tensor<B, 3> {
        let k = self.ode_unfolds as f64;
        let n = self.d_hidden();
        let cm = self.cm.value().reshape([1, 1, n]);
        match timespans {
            None => cm.mul_scalar(k),
            Some(dt) => {
                let [batch, seq] = dt.dims();
                // ncps's cm / (Δt / K), through the exact reciprocal (see `crate::activation`).
                // Timespans below MIN_TIMESPAN (zero, or negative: time does not run
                // backwards) count as MIN_TIMESPAN: `cm_t` stays finite and the step holds the
                // potentials where they are, the limit of the update as Δt → 0 (ncps gives NaN).
                let dt = dt.reshape([batch, seq, 1]).clamp_min(MIN_TIMESPAN);
                cm * reciprocal(dt.div_scalar(k))
            }
        }
    }

    /// The unfold loop over a sequence of mapped inputs `x̃` `[batch, seq, d_input]` from the
    /// potentials `v0` `[batch, units]`: the potentials after every step, `[batch, seq, units]`.
    /// Fused where the backend has a kernel that takes these inputs and
    /// [`fused`](Self::fused) is set; the plain tensor path otherwise.
    pub(crate) fn unfold(
        &self,
        x: Tensor<B, 3>,
        v0: Tensor<B, 2>,
        cm_t: Tensor<B, 3>,
    ) -> Tensor<B, 3> {
        let inputs = UnfoldInputs {
            x,
            v0,
            cm_t,
            params: self.unfold_params(),
        };
        if self.fused
            && let Some(v) = kernel::ltc::unfold(inputs.clone())
        {
            return v;
        }
        unfold_plain(inputs)
    }
}

impl<B: Backend> RecurrentCell<B> for LtcCell<B> {
    const NAME: &'static str = "Ltc";

    /// Input features per step.
    fn d_input(&self) -> usize {
        self.sensory_sigma.dims()[0]
    }

    /// Neurons (the state size).
    fn d_hidden(&self) -> usize {
        self.gleak.dims()[0]
    }

    /// Motor neurons (the outputs).
    fn d_output(&self) -> usize {
        self.motor
    }

    fn device(&self) -> B::Device {
        self.vleak.device()
    }

    /// One input step, as ncps's `LTCCell.forward`: the mapped motor potentials and the new
    /// potentials.
    fn step(
        &self,
        x: Tensor<B, 2>,
        v: Tensor<B, 2>,
        timespans: Option<Tensor<B, 1>>,
    ) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let [batch, s] = x.dims();
        let cm_t = self.cm_t(timespans.map(|dt| dt.reshape([batch, 1])));
        let x = self.map_input(x).reshape([batch, 1, s]);
        let v = self.unfold(x, v, cm_t).reshape([batch, self.d_hidden()]);
        (self.map_output(v.clone()), v)
    }

    /// The whole sequence as one unfold call (fused where the backend has a kernel), the input
    /// and output mappings for all steps at once.
    fn forward_sequence(
        &self,
        x: &Tensor<B, 3>,
        v0: &Tensor<B, 2>,
        timespans: Option<&Tensor<B, 2>>,
    ) -> Option<(Tensor<B, 3>, Tensor<B, 2>)> {
        let [batch, seq, s] = x.dims();
        let (n, m) = (self.d_hidden(), self.d_output());
        let mapped = self
            .map_input(x.clone().reshape([batch * seq, s]))
            .reshape([batch, seq, s]);
        // [1, 1, units], or [batch, seq, units] with timespans.
        let cm_t = self.cm_t(timespans.cloned());
        let v = self.unfold(mapped, v0.clone(), cm_t);
        let last = v.clone().narrow(1, seq - 1, 1).reshape([batch, n]);
        let y = self
            .map_output(v.reshape([batch * seq, n]))
            .reshape([batch, seq, m]);
        Some((y, last))
    }

    fn step_cell<F: StepFloat>(&self) -> Option<Box<dyn StepCell<F>>> {
        Some(Box::new(super::stepper::LtcStepCell::<F>::read(self)))
    }
}
