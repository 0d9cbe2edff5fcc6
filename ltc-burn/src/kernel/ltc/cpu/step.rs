//! The unfold loop one input step at a time, for the prepared steppers.

use super::UnfoldProblem;
use super::forward::{Leak, Scratch, step_sample};
use super::layout::{PackedSynapses, padded};
use crate::kernel::cpu::isa::{self, Isa, per_isa};
use crate::kernel::cpu::{MulAdd, Real};

/// The unfold loop prepared for streaming, one input step at a time: the parameters packed
/// once (what [`forward`](super::forward) does at every call), and the scratch space kept.
#[derive(Debug, Clone)]
pub(crate) struct UnfoldStepKernel<F> {
    units: usize,
    inputs: usize,
    unfolds: usize,
    rec: PackedSynapses<F>,
    sen: PackedSynapses<F>,
    gleak: Vec<F>,
    gleak_vleak: Vec<F>,
    epsilon: F,
    scratch: Scratch<F>,
    isa: Isa,
}

impl<F: Real> UnfoldStepKernel<F> {
    /// Packs the parameters of `p`; its `x`, `v0` and `cm_t` are not used (a problem of batch
    /// 0 and sequence 0 with `cm_t` of `units` values passes the checks).
    ///
    /// # Panics
    /// If a length does not match the sizes (naming it).
    pub(crate) fn new(p: &UnfoldProblem<'_, F>) -> Self {
        p.check();
        let n = p.units;
        UnfoldStepKernel {
            units: n,
            inputs: p.inputs,
            unfolds: p.unfolds,
            rec: PackedSynapses::new(&p.recurrent, p.recurrent_synapses, n, n),
            sen: PackedSynapses::new(&p.sensory, p.sensory_synapses, p.inputs, n),
            gleak: p.gleak.to_vec(),
            gleak_vleak: p.gleak_vleak.to_vec(),
            epsilon: p.epsilon,
            scratch: Scratch::new(padded(n)),
            isa: isa::isa(),
        }
    }

    /// One input step of one sample: `x` its mapped input (`inputs` values), `cm_t` its
    /// `cm / (Δt / K)` (`units` values), `v` its potentials, updated in place.
    ///
    /// # Panics
    /// If a length does not match.
    pub(crate) fn step(&mut self, x: &[F], cm_t: &[F], v: &mut [F]) {
        assert_eq!(x.len(), self.inputs, "fused LTC step: x");
        assert_eq!(cm_t.len(), self.units, "fused LTC step: cm_t");
        assert_eq!(v.len(), self.units, "fused LTC step: v");
        let UnfoldStepKernel {
            rec,
            sen,
            gleak,
            gleak_vleak,
            epsilon,
            unfolds,
            scratch,
            isa,
            ..
        } = self;
        let leak = Leak {
            gleak,
            gleak_vleak,
            epsilon: *epsilon,
            unfolds: *unfolds,
        };
        step_sample_on(*isa, rec, sen, &leak, cm_t, x, v, scratch);
    }
}

/// [`step_sample`] without saving, as a function of its own for `per_isa!`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn step_sample_unsaved<F: Real, M: MulAdd>(
    rec: &PackedSynapses<F>,
    sen: &PackedSynapses<F>,
    leak: &Leak<'_, F>,
    cm_t: &[F],
    x: &[F],
    v: &mut [F],
    scratch: &mut Scratch<F>,
) {
    step_sample::<F, M>(rec, sen, leak, cm_t, x, v, scratch, None);
}

per_isa! {
    /// One input step of one sample, in place, in the copy compiled for `isa`.
    fn step_sample_on = step_sample_unsaved(
        rec: &PackedSynapses<F>,
        sen: &PackedSynapses<F>,
        leak: &Leak<'_, F>,
        cm_t: &[F],
        x: &[F],
        v: &mut [F],
        scratch: &mut Scratch<F>,
    );
}
