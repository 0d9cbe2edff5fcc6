//! The backward pass: per sample, back through the steps and unfolds, recomputing the synapse
//! activations from the saved potentials; parameter gradients summed in a fixed order.

use rayon::prelude::*;

use super::layout::{PackedSynapses, padded};
use super::{UnfoldForward, UnfoldGradients, UnfoldProblem};
use crate::kernel::cpu::isa::{self, Isa, per_isa};
use crate::kernel::cpu::{MulAdd, Real};

/// Groups of samples whose parameter gradients the backward sums separately (in parallel) and
/// then adds in a fixed order.
const BACKWARD_GROUPS: usize = 16;
/// Parameter-gradient accumulators of one thread, packed like the parameters.
#[derive(Clone)]
struct ParamGrads<F> {
    rec: [Vec<F>; 4],
    sen: [Vec<F>; 4],
    gleak: Vec<F>,
    gleak_vleak: Vec<F>,
    cm_t: Vec<F>,
}

impl<F: Real> ParamGrads<F> {
    fn zeros(rec: usize, sen: usize, n: usize, cm_t: usize) -> Self {
        let z = |len| vec![F::ZERO; len];
        ParamGrads {
            rec: [z(rec), z(rec), z(rec), z(rec)],
            sen: [z(sen), z(sen), z(sen), z(sen)],
            gleak: z(n),
            gleak_vleak: z(n),
            cm_t: z(cm_t),
        }
    }

    fn add(mut self, other: Self) -> Self {
        let add = |a: &mut Vec<F>, b: &Vec<F>| a.iter_mut().zip(b).for_each(|(a, b)| *a += *b);
        for (a, b) in self.rec.iter_mut().zip(&other.rec) {
            add(a, b);
        }
        for (a, b) in self.sen.iter_mut().zip(&other.sen) {
            add(a, b);
        }
        add(&mut self.gleak, &other.gleak);
        add(&mut self.gleak_vleak, &other.gleak_vleak);
        add(&mut self.cm_t, &other.cm_t);
        self
    }
}

/// Back through one synapse population: given `q_j` (the gradient of the numerator sum at
/// destination `j`) and `r_j` (of the denominator sum), accumulates the packed parameter
/// gradients, and `∂/∂v_i` into `gv[i]`. `q`, `r` and the rows hold `padded(destinations)`
/// values (zeros past the last destination).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn back_synapses<F: Real, M: MulAdd>(
    p: &PackedSynapses<F>,
    v: &[F],
    q: &[F],
    r: &[F],
    grads: &mut [Vec<F>; 4],
    gv: &mut [F],
    row_q: &mut [F],
    row_r: &mut [F],
    row_gv: &mut [F],
) {
    let [g_w, g_sigma, g_mu, g_erev] = grads;
    for (i, &vi) in v.iter().enumerate() {
        let range = p.offsets[i]..p.offsets[i + 1];
        let len = range.len();
        // The destinations' q and r, in synapse order.
        if !p.dense {
            for (k, &j) in p.dst[range.clone()].iter().enumerate() {
                row_q[k] = q[j];
                row_r[k] = r[j];
            }
        }
        let (qs, rs) = if p.dense { (q, r) } else { (&*row_q, &*row_r) };
        let params = p.w[range.clone()]
            .iter()
            .zip(&p.sigma[range.clone()])
            .zip(&p.mu[range.clone()])
            .zip(&p.erev[range.clone()]);
        let upstream = qs[..len].iter().zip(&rs[..len]);
        let grads = g_w[range.clone()]
            .iter_mut()
            .zip(&mut g_sigma[range.clone()])
            .zip(&mut g_mu[range.clone()])
            .zip(&mut g_erev[range.clone()])
            .zip(&mut row_gv[..len]);
        for (((((w, sigma), mu), erev), (q, r)), ((((gw, gs), gm), ge), gv)) in
            params.zip(upstream).zip(grads)
        {
            let d = vi - *mu;
            let z = *sigma * d;
            let sg = F::sigmoid::<M>(z);
            let a = *w * sg;
            // ∂L/∂a = q·erev + r
            let ga = *q * *erev + *r;
            *ge += *q * a;
            *gw += ga * sg;
            let dsg = if F::clamped(z) {
                F::ZERO
            } else {
                sg * (F::ONE - sg)
            };
            let gz = ga * *w * dsg;
            *gs += gz * d;
            *gm -= gz * *sigma;
            *gv = gz * *sigma;
        }
        // Summed apart, in eight lanes: a running scalar sum would keep the loop above from
        // vectorising (float addition is not reassociated).
        gv[i] += lane_sum(&row_gv[..len]);
    }
}

/// `Σ values`, accumulated in eight interleaved partial sums (vectorisable, deterministic).
#[inline(always)]
fn lane_sum<F: Real>(values: &[F]) -> F {
    let mut lanes = [F::ZERO; 8];
    let chunks = values.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, v) in lanes.iter_mut().zip(chunk) {
            *lane += *v;
        }
    }
    let mut total = F::ZERO;
    for v in rest {
        total += *v;
    }
    for lane in lanes {
        total += lane;
    }
    total
}

per_isa! {
    /// One sample's backward pass ([`backward_sample`]) in the copy compiled for `isa`.
    fn backward_sample_on = backward_sample(
        p: &UnfoldProblem<'_, F>,
        rec: &PackedSynapses<F>,
        sen: &PackedSynapses<F>,
        fwd: &UnfoldForward<F>,
        b: usize,
        gout: &[F],
        grads: &mut ParamGrads<F>,
        gx: &mut [F],
        gv0: &mut [F],
    );
}

/// One sample's backward pass: `gout` is `∂L/∂v` after every step, `[seq, units]`; writes
/// `∂L/∂x` (`[seq, inputs]`) and `∂L/∂v0`, and accumulates the parameter gradients.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn backward_sample<F: Real, M: MulAdd>(
    p: &UnfoldProblem<'_, F>,
    rec: &PackedSynapses<F>,
    sen: &PackedSynapses<F>,
    fwd: &UnfoldForward<F>,
    b: usize,
    gout: &[F],
    grads: &mut ParamGrads<F>,
    gx: &mut [F],
    gv0: &mut [F],
) {
    let (n, s, k_max, seq) = (p.units, p.inputs, p.unfolds, p.seq);
    let per_step = p.cm_t_per_step();
    let mut gv = vec![F::ZERO; n];
    let mut gv_next = vec![F::ZERO; n];
    // Padded to whole lanes; the padding stays 0.
    let np = padded(n);
    let (mut q, mut r) = (vec![F::ZERO; np], vec![F::ZERO; np]);
    let (mut g_num_f, mut g_den_f, mut g_cm) =
        (vec![F::ZERO; np], vec![F::ZERO; np], vec![F::ZERO; n]);
    let (mut row_q, mut row_r, mut row_gv) =
        (vec![F::ZERO; np], vec![F::ZERO; np], vec![F::ZERO; np]);
    let mut gx_step = vec![F::ZERO; s];
    let sample_v = &fwd.v[b * seq * n..(b + 1) * seq * n];
    let sample_saved_v = &fwd.saved_v[b * seq * k_max * n..(b + 1) * seq * k_max * n];
    let sample_saved_den = &fwd.saved_den[b * seq * k_max * n..(b + 1) * seq * k_max * n];
    for t in (0..seq).rev() {
        for j in 0..n {
            gv[j] += gout[t * n + j];
        }
        let cm_t = p.cm_t_at(b, t);
        g_num_f.iter_mut().for_each(|g| *g = F::ZERO);
        g_den_f.iter_mut().for_each(|g| *g = F::ZERO);
        g_cm.iter_mut().for_each(|g| *g = F::ZERO);
        for k in (0..k_max).rev() {
            let at = (t * k_max + k) * n;
            let v = &sample_saved_v[at..at + n];
            let den = &sample_saved_den[at..at + n];
            let v_new = if k + 1 < k_max {
                &sample_saved_v[at + n..at + 2 * n]
            } else {
                &sample_v[t * n..(t + 1) * n]
            };
            for j in 0..n {
                // v'_j = num_j / den_j: ∂L/∂num_j = q_j, ∂L/∂den_j = −q_j·v'_j = r_j.
                q[j] = gv[j] / den[j];
                r[j] = -q[j] * v_new[j];
                g_num_f[j] += q[j];
                g_den_f[j] += r[j];
                g_cm[j] += q[j] * v[j];
                gv_next[j] = q[j] * cm_t[j];
            }
            back_synapses::<F, M>(
                rec,
                v,
                &q,
                &r,
                &mut grads.rec,
                &mut gv_next,
                &mut row_q,
                &mut row_r,
                &mut row_gv,
            );
            core::mem::swap(&mut gv, &mut gv_next);
        }
        // num_f = gleak_vleak + Σ s·serev; den_f = cm_t + gleak + ε + Σ s.
        for j in 0..n {
            grads.gleak[j] += g_den_f[j];
            grads.gleak_vleak[j] += g_num_f[j];
        }
        let g_cm_t = if per_step {
            let at = (b * seq + t) * n;
            &mut grads.cm_t[at..at + n]
        } else {
            &mut grads.cm_t[..]
        };
        for j in 0..n {
            g_cm_t[j] += g_cm[j] + g_den_f[j];
        }
        let x = &p.x[(b * seq + t) * s..(b * seq + t + 1) * s];
        gx_step.iter_mut().for_each(|g| *g = F::ZERO);
        back_synapses::<F, M>(
            sen,
            x,
            &g_num_f,
            &g_den_f,
            &mut grads.sen,
            &mut gx_step,
            &mut row_q,
            &mut row_r,
            &mut row_gv,
        );
        gx[t * s..(t + 1) * s].copy_from_slice(&gx_step);
    }
    gv0.copy_from_slice(&gv);
}

/// The backward pass: `grad_v` is `∂L/∂v` after every step, `[batch, seq, units]` (the final
/// state's gradient belongs to the last step).
///
/// # Panics
/// If a slice's length does not match the problem's sizes.
pub fn backward<F: Real>(
    p: &UnfoldProblem<'_, F>,
    fwd: &UnfoldForward<F>,
    grad_v: &[F],
) -> UnfoldGradients<F> {
    backward_with(p, fwd, grad_v, isa::isa())
}

/// [`backward`] with the loops compiled for `isa`.
///
/// # Panics
/// As [`backward`], and if this CPU does not support `isa` ([`Isa::supported`]).
pub fn backward_with<F: Real>(
    p: &UnfoldProblem<'_, F>,
    fwd: &UnfoldForward<F>,
    grad_v: &[F],
    isa: Isa,
) -> UnfoldGradients<F> {
    isa.assert_supported();
    p.check();
    let (n, s, seq) = (p.units, p.inputs, p.seq);
    assert_eq!(
        grad_v.len(),
        p.batch * seq * n,
        "fused LTC: the output gradient has {} values, expected {}",
        grad_v.len(),
        p.batch * seq * n
    );
    let rec = PackedSynapses::new(&p.recurrent, p.recurrent_synapses, n, n);
    let sen = PackedSynapses::new(&p.sensory, p.sensory_synapses, s, n);
    let mut gx = vec![F::ZERO; p.batch * seq * s];
    let mut gv0 = vec![F::ZERO; p.batch * n];
    let cm_t_len = p.cm_t.len();
    let zeros = || ParamGrads::zeros(rec.w.len(), sen.w.len(), n, cm_t_len);
    // The samples in a fixed number of groups, each group summed in sample order into its own
    // gradients on one thread, the groups then added in order: the sums do not depend on how
    // rayon schedules the work, so the gradients are bit-reproducible (and the same on any
    // number of threads).
    let per_group = p.batch.div_ceil(BACKWARD_GROUPS).max(1);
    let (x_len, v_len) = ((seq * s).max(1), n.max(1));
    let partial: Vec<ParamGrads<F>> = gx
        .par_chunks_mut(per_group * x_len)
        .zip(gv0.par_chunks_mut(per_group * v_len))
        .enumerate()
        .map(|(group, (gx, gv0))| {
            let mut grads = zeros();
            let samples = gx.chunks_mut(x_len).zip(gv0.chunks_mut(v_len));
            for (i, (gx, gv0)) in samples.enumerate() {
                let b = group * per_group + i;
                let gout = &grad_v[b * seq * n..(b + 1) * seq * n];
                backward_sample_on(isa, p, &rec, &sen, fwd, b, gout, &mut grads, gx, gv0);
            }
            grads
        })
        .collect();
    let grads = partial
        .into_iter()
        .reduce(ParamGrads::add)
        .unwrap_or_else(zeros);
    let ParamGrads {
        rec: g_rec,
        sen: g_sen,
        gleak,
        gleak_vleak,
        cm_t,
    } = grads;
    UnfoldGradients {
        x: gx,
        v0: gv0,
        cm_t,
        recurrent: g_rec.map(|g| rec.unpack(&g, n * n)),
        sensory: g_sen.map(|g| sen.unpack(&g, s * n)),
        gleak,
        gleak_vleak,
    }
}
