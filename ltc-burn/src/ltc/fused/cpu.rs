//! The LTC unfold loop over a whole sequence, fused for the CPU: one pass over the synapses per
//! unfold, no `[batch, units, units]` temporaries, vectorisable inner loops (compiled for AVX2
//! too, used when the CPU has it), threaded over the batch, and a backward pass that recomputes the
//! synapse activations from the saved per-unfold potentials instead of storing them.
//!
//! Everything here works on plain slices; [`super`] connects it to Burn tensors.
//!
//! # The computation (ncps's `LTCCell._ode_solver`, `K = ode_unfolds` sub-steps per input)
//!
//! For each sample, step `t` and unfold `k`, with `v` the potentials before the unfold:
//! - sensory (once per step): `s_ij = ws_ij·σ(sσ_ij·(x_i − sμ_ij))`,
//!   `num_f_j = gleak_vleak_j + Σ_i s_ij·serev_ij`, `den_f_j = cm_t_j + gleak_j + ε + Σ_i s_ij`;
//! - recurrent: `a_ij = w_ij·σ(σ_ij·(v_i − μ_ij))`;
//! - `den_j = den_f_j + Σ_i a_ij`, `v'_j = (cm_t_j·v_j + num_f_j + Σ_i a_ij·erev_ij) / den_j`.
//!
//! Parameters are laid out `[source, destination]` (row-major), as the cell's tensors.
//!
//! ```
//! use ltc_burn::ltc::fused::cpu::{Problem, SynapseParams, Synapses, backward, forward};
//!
//! // One sample, two steps, two neurons, one input, six unfolds.
//! let (w, sigma, mu, erev) = ([0.5f32; 4], [5.0; 4], [0.5; 4], [1.0, -1.0, -1.0, 1.0]);
//! let dense = Synapses::Dense;
//! let p = Problem {
//!     batch: 1, seq: 2, units: 2, inputs: 1, unfolds: 6,
//!     x: &[1.0, -1.0],
//!     v0: &[0.0, 0.0],
//!     cm_t: &[3.0, 3.0],
//!     recurrent: SynapseParams { w: &w, sigma: &sigma, mu: &mu, erev: &erev },
//!     recurrent_synapses: &dense,
//!     sensory: SynapseParams { w: &[0.5, 0.5], sigma: &[5.0; 2], mu: &[0.5; 2], erev: &[1.0; 2] },
//!     sensory_synapses: &dense,
//!     gleak: &[1.0, 1.0],
//!     gleak_vleak: &[0.0, 0.0],
//!     epsilon: 1e-8,
//! };
//! let fwd = forward(&p);
//! assert_eq!(fwd.v.len(), 2 * 2); // [batch, seq, units]
//! assert!(fwd.v.iter().all(|v| v.abs() <= 1.0)); // between the reversal potentials
//! // ∂(Σ v)/∂everything, recomputing the synapse activations from the saved potentials.
//! let grads = backward(&p, &fwd, &[1.0; 4]);
//! assert_eq!(grads.recurrent[0].len(), 4); // ∂/∂w, [units, units]
//! ```

use core::ops::{Add, AddAssign, Div, Mul, Neg, Sub, SubAssign};

use rayon::prelude::*;

/// Groups of samples whose parameter gradients the backward sums separately (in parallel) and
/// then adds in a fixed order.
const BACKWARD_GROUPS: usize = 16;

/// The float types the kernel runs in.
pub trait Real:
    Copy
    + Send
    + Sync
    + Default
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + 'static
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// From an `f64` (rounded).
    fn from_f64(x: f64) -> Self;
    /// `σ(z) = 1 / (1 + e^(−max(z, −80)))`, as [`crate::activation::sigmoid`]; inlined and
    /// branch-free so that loops over it vectorise. `M` says how `a·b + c` is computed.
    fn sigmoid<M: MulAdd>(z: Self) -> Self;
    /// `a·b + c`, rounded once.
    fn fused_mul_add(a: Self, b: Self, c: Self) -> Self;
    /// `tanh(x)`; branch-free in `f32` (Cephes' `tanhf`, within 2 ulp) so that loops over it
    /// vectorise.
    fn tanh(x: Self) -> Self;
    /// `eˣ` for `x ≤ 0` ([`exp_f32`] in `f32`).
    fn exp_neg(x: Self) -> Self;
    /// The error function (libm's `erf`, in `f64`).
    fn erf(x: Self) -> Self;
    /// Whether `z` is below the sigmoid's clamp (its gradient there is 0).
    #[inline(always)]
    fn clamped(z: Self) -> bool {
        z < Self::from_f64(-80.0)
    }
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn sigmoid<M: MulAdd>(z: Self) -> Self {
        // e^(−max(z, −80)); the exponential clamps its argument below at −87.3, where the sum
        // is 1.
        1.0 / (1.0 + exp_f32_with::<M>((-z).min(80.0)))
    }
    #[inline(always)]
    fn fused_mul_add(a: Self, b: Self, c: Self) -> Self {
        a.mul_add(b, c)
    }
    #[inline(always)]
    #[allow(clippy::excessive_precision)] // Cephes' coefficients, as published.
    fn tanh(x: Self) -> Self {
        // Cephes' tanhf, branch-free so that loops over it vectorise: a polynomial below
        // |x| = 0.625, 1 − 2/(e^(2|x|) + 1) above (with the sign put back).
        let ax = x.abs();
        let z = x * x;
        let small = ((((-5.704_988_7e-3 * z + 2.063_908_9e-2) * z - 5.373_971_6e-2) * z
            + 1.333_144_2e-1)
            * z
            - 3.333_328_2e-1)
            * z
            * x
            + x;
        let e = exp_f32((-2.0 * ax).max(-87.0));
        let large = (1.0 - e) / (1.0 + e);
        let large = if x < 0.0 { -large } else { large };
        if ax < 0.625 { small } else { large }
    }
    #[inline(always)]
    fn exp_neg(x: Self) -> Self {
        exp_f32(x)
    }
    #[inline(always)]
    fn erf(x: Self) -> Self {
        // In f64, as burn-ndarray's `erf`.
        libm::erf(f64::from(x)) as f32
    }
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn sigmoid<M: MulAdd>(z: Self) -> Self {
        1.0 / (1.0 + (-z.max(-80.0)).exp())
    }
    #[inline(always)]
    fn fused_mul_add(a: Self, b: Self, c: Self) -> Self {
        a.mul_add(b, c)
    }
    #[inline(always)]
    fn tanh(x: Self) -> Self {
        x.tanh()
    }
    #[inline(always)]
    fn exp_neg(x: Self) -> Self {
        x.exp()
    }
    #[inline(always)]
    fn erf(x: Self) -> Self {
        libm::erf(x)
    }
}

/// How the kernels compute `a·b + c`: [`Separate`] (a product, then a sum) everywhere, or
/// [`Fused`] (one FMA instruction, one rounding) in the copies compiled for CPUs with FMA.
pub trait MulAdd {
    /// `a·b + c`.
    fn mul_add<F: Real>(a: F, b: F, c: F) -> F;
}

/// `a·b + c` as a product and a sum.
#[derive(Debug, Clone, Copy)]
pub struct Separate;

impl MulAdd for Separate {
    #[inline(always)]
    fn mul_add<F: Real>(a: F, b: F, c: F) -> F {
        a * b + c
    }
}

/// `a·b + c` as one fused multiply-add (only where the CPU has FMA: elsewhere it is a slow
/// library call).
#[derive(Debug, Clone, Copy)]
pub struct Fused;

impl MulAdd for Fused {
    #[inline(always)]
    fn mul_add<F: Real>(a: F, b: F, c: F) -> F {
        F::fused_mul_add(a, b, c)
    }
}

/// `eˣ` in f32 for `x ≤ 88`, within 2 ulp, from integer and float arithmetic only (no libm
/// call), so that a loop over it vectorises: `eˣ = 2ⁿ·eʳ` with `n = round(x·log₂e)`,
/// `r = x − n·ln 2` (in two parts), `eʳ` by Cephes' `expf` polynomial. Arguments below −87.3
/// give e^−87.3 ≈ 1.2e-38 (f32's smallest normal) instead of smaller numbers.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    exp_f32_with::<Separate>(x)
}

/// [`exp_f32`] with its multiply-adds computed as `M` says.
#[inline(always)]
pub fn exp_f32_with<M: MulAdd>(x: f32) -> f32 {
    const LOG2E: f32 = core::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5·2²³: adding it rounds to an integer held in the low mantissa bits.
    const SHIFTER: f32 = 12_582_912.0;
    let x = x.max(-87.3);
    let t = M::mul_add(x, LOG2E, SHIFTER);
    let n = t - SHIFTER;
    let r = M::mul_add(n, -LN2_LO, M::mul_add(n, -LN2_HI, x));
    let p = M::mul_add(1.987_569_1e-4_f32, r, 1.398_199_9e-3);
    let p = M::mul_add(p, r, 8.333_452e-3);
    let p = M::mul_add(p, r, 4.166_579_6e-2);
    let p = M::mul_add(p, r, 1.666_666_5e-1);
    let p = M::mul_add(p, r, 0.5);
    let er = M::mul_add(p, r * r, r) + 1.0;
    // 2ⁿ from n's bits: t's integer bits are 0x4B40_0000 + n.
    let exponent = (t.to_bits().wrapping_sub(0x4B40_0000).wrapping_add(127)) << 23;
    er * f32::from_bits(exponent)
}

/// Which synapses exist: every one (`Dense`), or per source the listed destinations
/// (CSR-style, from the wiring's mask).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Synapses {
    /// All `sources × destinations`.
    Dense,
    /// `offsets[i]..offsets[i + 1]` index `destinations` (and the packed parameters) for
    /// source `i`.
    Sparse {
        /// `sources + 1` offsets.
        offsets: Vec<usize>,
        /// Destination of each existing synapse, grouped by source.
        destinations: Vec<usize>,
    },
}

impl Synapses {
    /// The synapses of a `[sources, destinations]` mask (non-zero = present): `Dense` when all
    /// are present.
    pub fn from_mask<F: Real>(mask: &[F], destinations: usize) -> Self {
        if mask.iter().all(|m| *m != F::ZERO) {
            return Synapses::Dense;
        }
        let mut offsets = vec![0];
        let mut list = Vec::new();
        for row in mask.chunks(destinations.max(1)) {
            list.extend(
                row.iter()
                    .enumerate()
                    .filter(|(_, m)| **m != F::ZERO)
                    .map(|(j, _)| j),
            );
            offsets.push(list.len());
        }
        Synapses::Sparse {
            offsets,
            destinations: list,
        }
    }

    /// Synapses present.
    pub fn count(&self, sources: usize, destinations: usize) -> usize {
        match self {
            Synapses::Dense => sources * destinations,
            Synapses::Sparse { destinations, .. } => destinations.len(),
        }
    }
}

/// One synapse population's parameters, `[sources, destinations]` row-major: maximum
/// conductance (already positive and masked), steepness, midpoint, reversal potential.
#[derive(Debug, Clone, Copy)]
pub struct SynapseParams<'a, F> {
    /// `pos(w) ⊙ mask`.
    pub w: &'a [F],
    /// Steepness.
    pub sigma: &'a [F],
    /// Midpoint.
    pub mu: &'a [F],
    /// Reversal potential.
    pub erev: &'a [F],
}

impl<'a, F> SynapseParams<'a, F> {
    /// The parameters held as `[w, sigma, mu, erev]`.
    pub fn from_arrays([w, sigma, mu, erev]: &'a [Vec<F>; 4]) -> Self {
        SynapseParams { w, sigma, mu, erev }
    }
}

/// Lanes the inner loops work in: rows are padded to a multiple of it, so that every inner
/// loop is whole vectors (8 f32 = one AVX2 register) with no scalar remainder.
const LANES: usize = 8;

/// `n` rounded up to whole lanes.
fn padded(n: usize) -> usize {
    n.div_ceil(LANES) * LANES
}

/// Parameters packed row by row (per source), each row padded to whole [`LANES`] with
/// synapses of `w = 0` (which contribute nothing and whose gradients are dropped): for dense
/// populations every destination, `padded(destinations)` per row; for sparse ones only the
/// existing synapses.
#[derive(Debug, Clone, Default)]
struct Packed<F> {
    w: Vec<F>,
    sigma: Vec<F>,
    mu: Vec<F>,
    erev: Vec<F>,
    /// Destination of each packed synapse (sparse; padding points at 0).
    dst: Vec<usize>,
    /// Per source, the start of its row in the packed arrays (`sources + 1` entries).
    offsets: Vec<usize>,
    /// Where each packed synapse sits in the full `[sources, destinations]` matrix (`None`
    /// for padding).
    index: Vec<Option<usize>>,
    /// The rows hold every destination in order (`dst` unused).
    dense: bool,
}

impl<F: Real> Packed<F> {
    fn new(p: &SynapseParams<'_, F>, synapses: &Synapses, sources: usize, dsts: usize) -> Self {
        let mut index = Vec::new();
        let mut dst = Vec::new();
        let mut offsets = vec![0];
        let dense = matches!(synapses, Synapses::Dense);
        for i in 0..sources {
            let row: Vec<usize> = match synapses {
                Synapses::Dense => (0..dsts).collect(),
                Synapses::Sparse {
                    offsets,
                    destinations,
                } => destinations[offsets[i]..offsets[i + 1]].to_vec(),
            };
            let len = row.len();
            index.extend(row.iter().map(|j| Some(i * dsts + j)));
            dst.extend(&row);
            index.extend((len..padded(len)).map(|_| None));
            dst.extend((len..padded(len)).map(|_| 0));
            offsets.push(index.len());
        }
        let gather = |m: &[F]| index.iter().map(|k| k.map_or(F::ZERO, |k| m[k])).collect();
        Packed {
            w: gather(p.w),
            sigma: gather(p.sigma),
            mu: gather(p.mu),
            erev: gather(p.erev),
            dst,
            offsets,
            index,
            dense,
        }
    }

    /// Scatters packed gradients back to a full `[sources, destinations]` matrix.
    fn unpack(&self, packed: &[F], full_len: usize) -> Vec<F> {
        let mut full = vec![F::ZERO; full_len];
        for (k, at) in self.index.iter().enumerate() {
            if let Some(at) = at {
                full[*at] = packed[k];
            }
        }
        full
    }
}

/// Everything one fused LTC sequence needs.
#[derive(Debug, Clone, Copy)]
pub struct Problem<'a, F> {
    /// Samples.
    pub batch: usize,
    /// Input steps.
    pub seq: usize,
    /// Neurons.
    pub units: usize,
    /// Input features (after the input mapping).
    pub inputs: usize,
    /// Unfolds per input step.
    pub unfolds: usize,
    /// Mapped inputs, `[batch, seq, inputs]`.
    pub x: &'a [F],
    /// Potentials before the first step, `[batch, units]`.
    pub v0: &'a [F],
    /// `cm / (Δt / K)`: `[units]` for every sample and step, or `[batch, seq, units]`.
    pub cm_t: &'a [F],
    /// Recurrent synapses, `[units, units]`.
    pub recurrent: SynapseParams<'a, F>,
    /// Which recurrent synapses exist.
    pub recurrent_synapses: &'a Synapses,
    /// Sensory synapses, `[inputs, units]`.
    pub sensory: SynapseParams<'a, F>,
    /// Which sensory synapses exist.
    pub sensory_synapses: &'a Synapses,
    /// `pos(gleak)`, `[units]`.
    pub gleak: &'a [F],
    /// `pos(gleak)·vleak`, `[units]`.
    pub gleak_vleak: &'a [F],
    /// The denominator guard ε.
    pub epsilon: F,
}

impl<F: Real> Problem<'_, F> {
    #[inline(always)]
    fn cm_t_per_step(&self) -> bool {
        self.cm_t.len() != self.units
    }

    #[inline(always)]
    fn cm_t_at(&self, b: usize, t: usize) -> &[F] {
        let n = self.units;
        if self.cm_t_per_step() {
            let at = (b * self.seq + t) * n;
            &self.cm_t[at..at + n]
        } else {
            self.cm_t
        }
    }

    /// Checks every slice's length.
    ///
    /// # Panics
    /// Naming the slice, its expected and its actual length.
    fn check(&self) {
        let (b, l, n, s) = (self.batch, self.seq, self.units, self.inputs);
        let lens = [
            ("x", self.x.len(), b * l * s),
            ("v0", self.v0.len(), b * n),
            ("gleak", self.gleak.len(), n),
            ("gleak_vleak", self.gleak_vleak.len(), n),
        ];
        for (name, actual, expected) in lens {
            assert_eq!(
                actual, expected,
                "fused LTC: `{name}` has {actual} values, expected {expected}"
            );
        }
        assert!(
            self.cm_t.len() == n || self.cm_t.len() == b * l * n,
            "fused LTC: `cm_t` has {} values, expected {n} or {}",
            self.cm_t.len(),
            b * l * n
        );
        for (name, p, rows) in [
            ("recurrent", &self.recurrent, n),
            ("sensory", &self.sensory, s),
        ] {
            for (field, m) in [
                ("w", p.w),
                ("sigma", p.sigma),
                ("mu", p.mu),
                ("erev", p.erev),
            ] {
                assert_eq!(
                    m.len(),
                    rows * n,
                    "fused LTC: {name} `{field}` has {} values, expected {}",
                    m.len(),
                    rows * n
                );
            }
        }
        assert!(self.unfolds > 0, "fused LTC: `unfolds` is 0");
    }
}

/// What the forward pass returns and the backward pass needs.
#[derive(Debug, Clone)]
pub struct Forward<F> {
    /// The potentials after every step, `[batch, seq, units]`.
    pub v: Vec<F>,
    /// The potentials before every unfold, `[batch, seq, unfolds, units]`.
    pub saved_v: Vec<F>,
    /// Every unfold's denominator, `[batch, seq, unfolds, units]`.
    pub saved_den: Vec<F>,
}

/// Gradients of a loss with respect to every input of a [`Problem`].
#[derive(Debug, Clone, PartialEq)]
pub struct Gradients<F> {
    /// `[batch, seq, inputs]`.
    pub x: Vec<F>,
    /// `[batch, units]`.
    pub v0: Vec<F>,
    /// The shape of [`Problem::cm_t`].
    pub cm_t: Vec<F>,
    /// Recurrent `w`, `sigma`, `mu`, `erev`, each `[units, units]` (0 where no synapse).
    pub recurrent: [Vec<F>; 4],
    /// Sensory `w`, `sigma`, `mu`, `erev`, each `[inputs, units]`.
    pub sensory: [Vec<F>; 4],
    /// `[units]`.
    pub gleak: Vec<F>,
    /// `[units]`.
    pub gleak_vleak: Vec<F>,
}

/// Per-sample scratch space.
#[derive(Debug, Clone)]
struct Scratch<F> {
    num_f: Vec<F>,
    den_f: Vec<F>,
    num: Vec<F>,
    den: Vec<F>,
    /// Packed activations of one source row (sparse rows).
    row: Vec<F>,
}

impl<F: Real> Scratch<F> {
    fn new(n: usize) -> Self {
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
    p: &Packed<F>,
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
struct Leak<'a, F> {
    gleak: &'a [F],
    gleak_vleak: &'a [F],
    epsilon: F,
    unfolds: usize,
}

/// One input step of one sample: the sensory sums once, then `unfolds` updates of `v` (`units`
/// values) in place. `saved`, when given, receives the potentials before every unfold and every
/// unfold's denominator (`[unfolds, units]` each).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn step_sample<F: Real, M: MulAdd>(
    rec: &Packed<F>,
    sen: &Packed<F>,
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

/// One sample's forward pass over the whole sequence.
#[inline(always)]
fn forward_sample<F: Real, M: MulAdd>(
    p: &Problem<'_, F>,
    rec: &Packed<F>,
    sen: &Packed<F>,
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

/// The unfold loop prepared for streaming, one input step at a time: the parameters packed
/// once (what [`forward`] does at every call), and the scratch space kept.
#[derive(Debug, Clone)]
pub(crate) struct Prepared<F> {
    units: usize,
    inputs: usize,
    unfolds: usize,
    rec: Packed<F>,
    sen: Packed<F>,
    gleak: Vec<F>,
    gleak_vleak: Vec<F>,
    epsilon: F,
    scratch: Scratch<F>,
    isa: Isa,
}

impl<F: Real> Prepared<F> {
    /// Packs the parameters of `p`; its `x`, `v0` and `cm_t` are not used (a problem of batch
    /// 0 and sequence 0 with `cm_t` of `units` values passes the checks).
    ///
    /// # Panics
    /// If a length does not match the sizes (naming it).
    pub(crate) fn new(p: &Problem<'_, F>) -> Self {
        p.check();
        let n = p.units;
        Prepared {
            units: n,
            inputs: p.inputs,
            unfolds: p.unfolds,
            rec: Packed::new(&p.recurrent, p.recurrent_synapses, n, n),
            sen: Packed::new(&p.sensory, p.sensory_synapses, p.inputs, n),
            gleak: p.gleak.to_vec(),
            gleak_vleak: p.gleak_vleak.to_vec(),
            epsilon: p.epsilon,
            scratch: Scratch::new(padded(n)),
            isa: isa(),
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
        let Prepared {
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
        // SAFETY (both): `isa` is supported: it is what `isa()` chose for this CPU.
        #[allow(unsafe_code)]
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { step_sample_avx512(rec, sen, &leak, cm_t, x, v, scratch) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { step_sample_avx2(rec, sen, &leak, cm_t, x, v, scratch) },
            _ => step_sample::<F, Separate>(rec, sen, &leak, cm_t, x, v, scratch, None),
        }
    }
}

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
    p: &Packed<F>,
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

/// One sample's backward pass: `gout` is `∂L/∂v` after every step, `[seq, units]`; returns
/// `∂L/∂x` (`[seq, inputs]`) and `∂L/∂v0`, and accumulates the parameter gradients.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn backward_sample<F: Real, M: MulAdd>(
    p: &Problem<'_, F>,
    rec: &Packed<F>,
    sen: &Packed<F>,
    fwd: &Forward<F>,
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

/// Which compiled copy of the per-sample loops this CPU runs: AVX-512 (16 f32 lanes) or AVX2
/// (8 lanes), both with FMA, or the baseline build (SSE2 on x86-64). Checked once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512F + FMA.
    Avx512,
    /// AVX2 + FMA.
    Avx2,
    /// What the crate is compiled for, with separate multiplies and adds.
    Baseline,
}

impl Isa {
    /// Every instruction set this CPU can run the kernels with, best first.
    pub fn supported() -> Vec<Isa> {
        let mut all = Vec::new();
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("fma") {
            if std::is_x86_feature_detected!("avx512f") {
                all.push(Isa::Avx512);
            }
            if std::is_x86_feature_detected!("avx2") {
                all.push(Isa::Avx2);
            }
        }
        all.push(Isa::Baseline);
        all
    }
}

/// The [`Isa`] the kernels use on this CPU: the best it supports, or a lower one named by
/// `LTC_BURN_ISA=baseline|avx2` (for comparisons).
pub fn isa() -> Isa {
    static ISA: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
    *ISA.get_or_init(|| {
        let supported = Isa::supported();
        let wanted = match std::env::var("LTC_BURN_ISA").as_deref() {
            Ok("baseline") => Some(Isa::Baseline),
            Ok("avx2") => Some(Isa::Avx2),
            _ => None,
        };
        wanted
            .filter(|w| supported.contains(w))
            .unwrap_or(supported[0])
    })
}

/// Copies of the per-sample loops compiled for one instruction set (the generic code is
/// inlined into each).
macro_rules! compiled_for {
    ($features:literal, $forward:ident, $backward:ident, $step:ident) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        fn $forward<F: Real>(
            p: &Problem<'_, F>,
            rec: &Packed<F>,
            sen: &Packed<F>,
            b: usize,
            out_v: &mut [F],
            saved_v: &mut [F],
            saved_den: &mut [F],
        ) {
            forward_sample::<F, Fused>(p, rec, sen, b, out_v, saved_v, saved_den);
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        #[allow(clippy::too_many_arguments)]
        fn $backward<F: Real>(
            p: &Problem<'_, F>,
            rec: &Packed<F>,
            sen: &Packed<F>,
            fwd: &Forward<F>,
            b: usize,
            gout: &[F],
            grads: &mut ParamGrads<F>,
            gx: &mut [F],
            gv0: &mut [F],
        ) {
            backward_sample::<F, Fused>(p, rec, sen, fwd, b, gout, grads, gx, gv0);
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        fn $step<F: Real>(
            rec: &Packed<F>,
            sen: &Packed<F>,
            leak: &Leak<'_, F>,
            cm_t: &[F],
            x: &[F],
            v: &mut [F],
            scratch: &mut Scratch<F>,
        ) {
            step_sample::<F, Fused>(rec, sen, leak, cm_t, x, v, scratch, None);
        }
    };
}

compiled_for!(
    "avx2,fma",
    forward_sample_avx2,
    backward_sample_avx2,
    step_sample_avx2
);
compiled_for!(
    "avx512f,avx2,fma",
    forward_sample_avx512,
    backward_sample_avx512,
    step_sample_avx512
);

/// The forward pass: potentials after every step plus what [`backward`] needs.
///
/// # Panics
/// If a slice's length does not match the problem's sizes (naming it).
pub fn forward<F: Real>(p: &Problem<'_, F>) -> Forward<F> {
    forward_with(p, isa())
}

/// [`forward`] with the loops compiled for `isa`.
///
/// # Panics
/// As [`forward`], and if this CPU does not support `isa` ([`Isa::supported`]).
pub fn forward_with<F: Real>(p: &Problem<'_, F>, isa: Isa) -> Forward<F> {
    assert!(
        Isa::supported().contains(&isa),
        "fused LTC: this CPU does not support {isa:?}"
    );
    p.check();
    let (n, k, seq) = (p.units, p.unfolds, p.seq);
    let rec = Packed::new(&p.recurrent, p.recurrent_synapses, n, n);
    let sen = Packed::new(&p.sensory, p.sensory_synapses, p.inputs, n);
    let mut out = Forward {
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
            .for_each(|(b, ((v, sv), sd))| {
                // SAFETY (both): `isa` is supported: the CPU has the features these copies are compiled
                // for.
                #[allow(unsafe_code)]
                match isa {
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx512 => unsafe { forward_sample_avx512(p, &rec, &sen, b, v, sv, sd) },
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx2 => unsafe { forward_sample_avx2(p, &rec, &sen, b, v, sv, sd) },
                    _ => forward_sample::<F, Separate>(p, &rec, &sen, b, v, sv, sd),
                }
            });
    }
    out
}

/// The backward pass: `grad_v` is `∂L/∂v` after every step, `[batch, seq, units]` (the final
/// state's gradient belongs to the last step).
///
/// # Panics
/// If a slice's length does not match the problem's sizes.
pub fn backward<F: Real>(p: &Problem<'_, F>, fwd: &Forward<F>, grad_v: &[F]) -> Gradients<F> {
    backward_with(p, fwd, grad_v, isa())
}

/// [`backward`] with the loops compiled for `isa`.
///
/// # Panics
/// As [`backward`], and if this CPU does not support `isa` ([`Isa::supported`]).
pub fn backward_with<F: Real>(
    p: &Problem<'_, F>,
    fwd: &Forward<F>,
    grad_v: &[F],
    isa: Isa,
) -> Gradients<F> {
    assert!(
        Isa::supported().contains(&isa),
        "fused LTC: this CPU does not support {isa:?}"
    );
    p.check();
    let (n, s, seq) = (p.units, p.inputs, p.seq);
    assert_eq!(
        grad_v.len(),
        p.batch * seq * n,
        "fused LTC: the output gradient has {} values, expected {}",
        grad_v.len(),
        p.batch * seq * n
    );
    let rec = Packed::new(&p.recurrent, p.recurrent_synapses, n, n);
    let sen = Packed::new(&p.sensory, p.sensory_synapses, s, n);
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
                let g = &mut grads;
                // SAFETY (both): `isa` is supported: the CPU has the features these copies are
                // compiled for.
                #[allow(unsafe_code)]
                match isa {
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx512 => unsafe {
                        backward_sample_avx512(p, &rec, &sen, fwd, b, gout, g, gx, gv0)
                    },
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx2 => unsafe {
                        backward_sample_avx2(p, &rec, &sen, fwd, b, gout, g, gx, gv0)
                    },
                    _ => backward_sample::<F, Separate>(p, &rec, &sen, fwd, b, gout, g, gx, gv0),
                }
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
    Gradients {
        x: gx,
        v0: gv0,
        cm_t,
        recurrent: g_rec.map(|g| rec.unpack(&g, n * n)),
        sensory: g_sen.map(|g| sen.unpack(&g, s * n)),
        gleak,
        gleak_vleak,
    }
}

#[cfg(test)]
mod tests;
