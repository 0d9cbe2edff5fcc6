//! The forward pass: per sample, the sensory sums once per step and `unfolds` passes over the
//! recurrent synapses, keeping the potentials and denominators the backward needs.

use rayon::prelude::*;

use super::layout::{PackedSynapses, padded};
use super::{UnfoldForward, UnfoldProblem};
use crate::kernel::cpu::isa::{self, Isa, per_isa};
use crate::kernel::cpu::{MulAdd, Real};

/// Per-sample scratch space.
#[derive(Debug, Clone)]
pub(super) struct Scratch<F> {
    num_f: Vec<F>,
    den_f: Vec<F>,
    num: Vec<F>,
    den: Vec<F>,
    /// Packed activations of one source row (sparse rows).
    row: Vec<F>,
}

impl<F: Real> Scratch<F> {
    pub(super) fn new(n: usize) -> Self {
        Scratch {
            num_f: vec![F::ZERO; n],
            den_f: vec![F::ZERO; n],
            num: vec![F::ZERO; n],
            den: vec![F::ZERO; n],
            row: vec![F::ZERO; n],
        }
    }
}

/// `num[j] += Σ_i a_ij·erev_ij`, `den[j] += Σ_i a_ij` with `a_ij = w_ij·σ(σ_ij·(v_i − μ_ij))`.
/// `num`, `den` and `row` hold `padded(destinations)` values.
///
/// The loops run over zipped slices (no bounds checks) whose lengths are whole lanes, so they
/// compile to vector code without a scalar remainder.
#[inline(always)]
fn accumulate<F: Real, M: MulAdd>(
    p: &PackedSynapses<F>,
    v: &[F],
    num: &mut [F],
    den: &mut [F],
    row: &mut [F],
) {
    for (i, &vi) in v.iter().enumerate() {
        let range = p.offsets[i]..p.offsets[i + 1];
        let len = range.len();
        let params = p.w[range.clone()]
            .iter()
            .zip(&p.sigma[range.clone()])
            .zip(&p.mu[range.clone()]);
        let erev = &p.erev[range.clone()];
        if p.dense {
            let sums = num[..len].iter_mut().zip(&mut den[..len]);
            for ((((w, sigma), mu), erev), (num, den)) in params.zip(erev).zip(sums) {
                let a = *w * F::sigmoid::<M>(*sigma * (vi - *mu));
                *num += a * *erev;
                *den += a;
            }
        } else {
            for (((w, sigma), mu), a) in params.zip(&mut row[..len]) {
                *a = *w * F::sigmoid::<M>(*sigma * (vi - *mu));
            }
            for ((&j, a), erev) in p.dst[range].iter().zip(&row[..len]).zip(erev) {
                num[j] += *a * *erev;
                den[j] += *a;
            }
        }
    }
}

/// The per-neuron constants of the unfold loop.
#[derive(Debug, Clone, Copy)]
pub(super) struct Leak<'a, F> {
    pub(super) gleak: &'a [F],
    pub(super) gleak_vleak: &'a [F],
    pub(super) epsilon: F,
    pub(super) unfolds: usize,
}

/// One input step of one sample: the sensory sums once, then `unfolds` updates of `v` (`units`
/// values) in place. `saved`, when given, receives the potentials before every unfold and every
/// unfold's denominator (`[unfolds, units]` each).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn step_sample<F: Real, M: MulAdd>(
    rec: &PackedSynapses<F>,
    sen: &PackedSynapses<F>,
    leak: &Leak<'_, F>,
    cm_t: &[F],
    x: &[F],
    v: &mut [F],
    scratch: &mut Scratch<F>,
    mut saved: Option<(&mut [F], &mut [F])>,
) {
    let n = v.len();
    let Scratch {
        num_f,
        den_f,
        num,
        den,
        row,
    } = scratch;
    for j in 0..n {
        num_f[j] = leak.gleak_vleak[j];
        den_f[j] = cm_t[j] + leak.gleak[j] + leak.epsilon;
    }
    accumulate::<F, M>(sen, x, num_f, den_f, row);
    for k in 0..leak.unfolds {
        if let Some((saved_v, _)) = saved.as_mut() {
            saved_v[k * n..(k + 1) * n].copy_from_slice(v);
        }
        for j in 0..n {
            num[j] = cm_t[j] * v[j] + num_f[j];
            den[j] = den_f[j];
        }
        accumulate::<F, M>(rec, v, num, den, row);
        for j in 0..n {
            v[j] = num[j] / den[j];
        }
        if let Some((_, saved_den)) = saved.as_mut() {
            saved_den[k * n..(k + 1) * n].copy_from_slice(&den[..n]);
        }
    }
}

per_isa! {
    /// One sample's forward pass over the whole sequence ([`forward_sample`]) in the copy
    /// compiled for `isa`.
    fn forward_sample_on = forward_sample(
        p: &UnfoldProblem<'_, F>,
        rec: &PackedSynapses<F>,
        sen: &PackedSynapses<F>,
        b: usize,
        out_v: &mut [F],
        saved_v: &mut [F],
        saved_den: &mut [F],
    );
}

/// One sample's forward pass over the whole sequence, writing its potentials after every step
/// and before every unfold, and every unfold's denominator.
#[inline(always)]
fn forward_sample<F: Real, M: MulAdd>(
    p: &UnfoldProblem<'_, F>,
    rec: &PackedSynapses<F>,
    sen: &PackedSynapses<F>,
    b: usize,
    out_v: &mut [F],
    saved_v: &mut [F],
    saved_den: &mut [F],
) {
    let (n, s, k_max) = (p.units, p.inputs, p.unfolds);
    let leak = Leak {
        gleak: p.gleak,
        gleak_vleak: p.gleak_vleak,
        epsilon: p.epsilon,
        unfolds: k_max,
    };
    let mut scratch = Scratch::new(padded(n));
    let mut v = p.v0[b * n..(b + 1) * n].to_vec();
    for t in 0..p.seq {
        let x = &p.x[(b * p.seq + t) * s..(b * p.seq + t + 1) * s];
        let at = t * k_max * n..(t + 1) * k_max * n;
        let saved = (&mut saved_v[at.clone()], &mut saved_den[at]);
        step_sample::<F, M>(
            rec,
            sen,
            &leak,
            p.cm_t_at(b, t),
            x,
            &mut v,
            &mut scratch,
            Some(saved),
        );
        out_v[t * n..(t + 1) * n].copy_from_slice(&v);
    }
}

/// The forward pass: potentials after every step plus what [`backward`](super::backward) needs.
///
/// # Panics
/// If a slice's length does not match the problem's sizes (naming it).
pub fn forward<F: Real>(p: &UnfoldProblem<'_, F>) -> UnfoldForward<F> {
    forward_with(p, isa::isa())
}

/// [`forward`] with the loops compiled for `isa`.
///
/// # Panics
/// As [`forward`], and if this CPU does not support `isa` ([`Isa::supported`]).
pub fn forward_with<F: Real>(p: &UnfoldProblem<'_, F>, isa: Isa) -> UnfoldForward<F> {
    isa.assert_supported();
    p.check();
    let (n, k, seq) = (p.units, p.unfolds, p.seq);
    let rec = PackedSynapses::new(&p.recurrent, p.recurrent_synapses, n, n);
    let sen = PackedSynapses::new(&p.sensory, p.sensory_synapses, p.inputs, n);
    let mut out = UnfoldForward {
        v: vec![F::ZERO; p.batch * seq * n],
        saved_v: vec![F::ZERO; p.batch * seq * k * n],
        saved_den: vec![F::ZERO; p.batch * seq * k * n],
    };
    let step = seq * n;
    let saved = seq * k * n;
    if step > 0 {
        out.v
            .par_chunks_mut(step)
            .zip(out.saved_v.par_chunks_mut(saved))
            .zip(out.saved_den.par_chunks_mut(saved))
            .enumerate()
            .for_each(|(b, ((out_v, saved_v), saved_den))| {
                forward_sample_on(isa, p, &rec, &sen, b, out_v, saved_v, saved_den);
            });
    }
    out
}
