//! [`LtcStepper`]: an [`Ltc`] layer prepared for streaming inference on the CPU.

use burn::tensor::backend::Backend;

use super::cell::MIN_ELAPSED;
use super::fused::cpu::{Prepared, Problem, SynapseParams, Synapses};
use super::{Ltc, LtcState};
use crate::stepper::{
    Memory, StepCell, StepError, StepFloat, Stepper, affine, check_batch, into_vec,
};

/// An [`Ltc`] layer prepared for streaming inference: the constrained parameters computed and
/// packed once (built by [`Ltc::stepper`]), then one input at a time on slices, the state kept.
/// See [the module](crate::stepper).
///
/// Each [`step`](Stepper::step) computes what [`Ltc::step`] computes (the mappings, the memory
/// cell with mixed memory, the fused semi-implicit unfolds, elapsed times: 0 or less holds the
/// potentials) for `batch` sequences, with no allocation, in the CPU kernel's fastest compiled
/// copy. Its [`state`](Stepper::state) is the potentials of every neuron.
pub type LtcStepper<F> = Stepper<F, LtcStepCell<F>>;

/// The LTC cell of an [`LtcStepper`]: the packed synapses, the mappings and `cm`.
#[derive(Debug, Clone)]
pub struct LtcStepCell<F> {
    cell: Prepared<F>,
    unfolds: usize,
    input_w: Option<Vec<F>>,
    input_b: Option<Vec<F>>,
    output_w: Option<Vec<F>>,
    output_b: Option<Vec<F>>,
    /// `pos(cm)`, `[units]`.
    cm: Vec<F>,
    /// `cm / (Δt / K)` for the default `Δt = 1`.
    cm_t_default: Vec<F>,
    /// Scratch: one sample's mapped input and `cm_t`.
    mapped: Vec<F>,
    cm_t: Vec<F>,
}

impl<F> crate::stepper::sealed::Cell for LtcStepCell<F> {}

impl<F: StepFloat> StepCell<F> for LtcStepCell<F> {
    const STEP: &'static str = "LtcStepper::step";
    const SET_STATE: &'static str = "LtcStepper::set_state";

    fn advance(&mut self, x: &[F], v: &mut [F], dt: Option<F>, out: &mut [F]) {
        self.mapped.copy_from_slice(x);
        affine(
            &mut self.mapped,
            self.input_w.as_deref(),
            self.input_b.as_deref(),
        );
        let cm_t = match dt {
            None => &self.cm_t_default,
            Some(dt) => {
                let min_elapsed = F::from_f64(MIN_ELAPSED);
                let dt = if dt > min_elapsed { dt } else { min_elapsed };
                // cm / (Δt / K), as the layer computes it.
                let inv = F::ONE / (dt / F::from_f64(self.unfolds as f64));
                for (t, c) in self.cm_t.iter_mut().zip(&self.cm) {
                    *t = *c * inv;
                }
                &self.cm_t
            }
        };
        self.cell.step(&self.mapped, cm_t, v);
        out.copy_from_slice(&v[..out.len()]);
        affine(out, self.output_w.as_deref(), self.output_b.as_deref());
    }
}

impl<B: Backend> Ltc<B> {
    /// This layer prepared for streaming inference on the CPU, for `batch` sequences from a
    /// zero state, computing in `F` (`f32` or `f64`): see [`LtcStepper`]. Reads the parameters
    /// once, from any backend; train further, and build a new one.
    ///
    /// # Errors
    /// [`StepError::ZeroBatch`] when `batch` is 0.
    pub fn stepper<F: StepFloat>(&self, batch: usize) -> Result<LtcStepper<F>, StepError> {
        check_batch("Ltc::stepper", batch)?;
        let cell = &self.cell;
        let (n, s, k) = (cell.units(), cell.input_size(), cell.ode_unfolds);
        let p = cell.unfold_params();
        let four = |t: super::fused::SynapseTensors<B>| -> [Vec<F>; 4] {
            [
                into_vec(t.w),
                into_vec(t.sigma),
                into_vec(t.mu),
                into_vec(t.erev),
            ]
        };
        let (recurrent, sensory) = (four(p.recurrent), four(p.sensory));
        let recurrent_synapses = Synapses::from_mask::<F>(&into_vec(p.recurrent_mask), n);
        let sensory_synapses = Synapses::from_mask::<F>(&into_vec(p.sensory_mask), n);
        let (gleak, gleak_vleak): (Vec<F>, Vec<F>) = (into_vec(p.gleak), into_vec(p.gleak_vleak));
        let prepared = Prepared::new(&Problem {
            batch: 0,
            seq: 0,
            units: n,
            inputs: s,
            unfolds: k,
            x: &[],
            v0: &[],
            cm_t: &gleak,
            recurrent: SynapseParams::from_arrays(&recurrent),
            recurrent_synapses: &recurrent_synapses,
            sensory: SynapseParams::from_arrays(&sensory),
            sensory_synapses: &sensory_synapses,
            gleak: &gleak,
            gleak_vleak: &gleak_vleak,
            epsilon: F::from_f64(p.epsilon),
        });
        let cm: Vec<F> = into_vec(cell.cm.value());
        let k_f = F::from_f64(k as f64);
        let step_cell = LtcStepCell {
            cell: prepared,
            unfolds: k,
            input_w: cell.input_w.as_ref().map(|w| into_vec(w.val())),
            input_b: cell.input_b.as_ref().map(|b| into_vec(b.val())),
            output_w: cell.output_w.as_ref().map(|w| into_vec(w.val())),
            output_b: cell.output_b.as_ref().map(|b| into_vec(b.val())),
            cm_t_default: cm.iter().map(|c| *c * k_f).collect(),
            cm,
            mapped: vec![F::ZERO; s],
            cm_t: vec![F::ZERO; n],
        };
        Ok(Stepper::new(
            step_cell,
            batch,
            [s, n, cell.motor_size()],
            self.lstm.as_ref().map(Memory::read),
        ))
    }
}

impl<F: StepFloat> LtcStepper<F> {
    /// The state as the layer's [`LtcState`] on `device`.
    pub fn to_state<B: Backend>(&self, device: &B::Device) -> LtcState<B> {
        let (v, c) = self.state_tensors(device);
        LtcState { v, c }
    }
}
