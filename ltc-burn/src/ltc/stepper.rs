//! The LTC cell's step on slices, for the prepared steppers (see [`crate::stepper`]).

use burn::tensor::backend::Backend;

use super::cell::{LtcCell, MIN_TIMESPAN};
use crate::kernel::cpu::into_vec;
use crate::kernel::ltc::SynapseTensors;
use crate::kernel::ltc::cpu::{SynapseParams, Synapses, UnfoldProblem, UnfoldStepKernel};
use crate::recurrent::RecurrentCell;
use crate::stepper::{StepCell, StepFloat};

/// An [`LtcCell`] with its constrained parameters computed and packed once: each step runs the
/// mappings and the fused semi-implicit unfolds (timespans of 0 or less hold the potentials)
/// in the CPU kernel's fastest compiled copy, with no allocation.
#[derive(Debug, Clone)]
pub(crate) struct LtcStepCell<F> {
    kernel: UnfoldStepKernel<F>,
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

impl<F: StepFloat> LtcStepCell<F> {
    /// Reads `cell`'s parameters, from any backend.
    pub(crate) fn read<B: Backend>(cell: &LtcCell<B>) -> Self {
        let (n, s, k) = (cell.d_hidden(), cell.d_input(), cell.ode_unfolds);
        let p = cell.unfold_params();
        let four = |t: SynapseTensors<B>| -> [Vec<F>; 4] {
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
        let kernel = UnfoldStepKernel::new(&UnfoldProblem {
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
        LtcStepCell {
            kernel,
            unfolds: k,
            input_w: cell.input_w.as_ref().map(|w| into_vec(w.val())),
            input_b: cell.input_b.as_ref().map(|b| into_vec(b.val())),
            output_w: cell.output_w.as_ref().map(|w| into_vec(w.val())),
            output_b: cell.output_b.as_ref().map(|b| into_vec(b.val())),
            cm_t_default: cm.iter().map(|c| *c * k_f).collect(),
            cm,
            mapped: vec![F::ZERO; s],
            cm_t: vec![F::ZERO; n],
        }
    }
}

impl<F: StepFloat> StepCell<F> for LtcStepCell<F> {
    fn advance(&mut self, x: &[F], v: &mut [F], timespan: Option<F>, out: &mut [F]) {
        self.mapped.copy_from_slice(x);
        affine(
            &mut self.mapped,
            self.input_w.as_deref(),
            self.input_b.as_deref(),
        );
        let cm_t = match timespan {
            None => &self.cm_t_default,
            Some(dt) => {
                let min = F::from_f64(MIN_TIMESPAN);
                let dt = if dt > min { dt } else { min };
                // cm / (Δt / K), as the layer computes it.
                let inv = F::ONE / (dt / F::from_f64(self.unfolds as f64));
                for (t, c) in self.cm_t.iter_mut().zip(&self.cm) {
                    *t = *c * inv;
                }
                &self.cm_t
            }
        };
        self.kernel.step(&self.mapped, cm_t, v);
        out.copy_from_slice(&v[..out.len()]);
        affine(out, self.output_w.as_deref(), self.output_b.as_deref());
    }

    fn clone_box(&self) -> Box<dyn StepCell<F>> {
        Box::new(self.clone())
    }
}

/// `x ⊙ w + b` (either part absent when `None`).
fn affine<F: StepFloat>(x: &mut [F], w: Option<&[F]>, b: Option<&[F]>) {
    if let Some(w) = w {
        x.iter_mut().zip(w).for_each(|(x, w)| *x = *x * *w);
    }
    if let Some(b) = b {
        x.iter_mut().zip(b).for_each(|(x, b)| *x += *b);
    }
}
