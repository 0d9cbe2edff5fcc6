//! The CfC time loop over a whole sequence for the CPU, on plain slices: batched matrix
//! products (matrixmultiply) for the backbone and the heads, the closed form elementwise, and
//! a backpropagation-through-time pass that accumulates the weight gradients of every step in
//! one product per layer at the end.
//!
//! # The computation (ncps's `CfCCell`, per step `t`)
//!
//! `z₀ = [x_t, h_t]`; backbone layers `pre_k = z_k·W_k + b_k`, `z_{k+1} = act(pre_k)`; heads
//! `[ff1 | ff2 | ta | tb] = z·W_h + b_h` (one `[d, 4·hidden]` matrix; `ff1` alone in pure
//! mode); then the closed form of [`Mode`] gives `h_{t+1}`. Weights are `[in, out]` row-major
//! (Burn's `Linear` layout), all in one flat parameter vector laid out by [`Layout`].
//!
//! The first layer's input-side product `x·W₀[..input]` does not depend on the state: it runs
//! for every step at once, before the loop; so do, in the backward pass, the input gradients
//! and every weight gradient. Only the state-side products stay in the loop.

use crate::ltc::fused::cpu::{Isa, Real, Separate, isa};
use crate::stepper::row_times;

/// The float types of the kernel: [`Real`] with a matrix product.
#[allow(unsafe_code)] // matrixmultiply's raw-pointer API; `gemm` is the safe wrapper.
pub(crate) trait Float: Real {
    /// `C ← α·A·B + β·C` on strided matrices (matrixmultiply's `sgemm`/`dgemm`).
    ///
    /// # Safety
    /// Every element addressed by the sizes and strides lies inside the allocations `a`, `b`,
    /// `c` point into, and `c` does not overlap `a` or `b`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: (*const Self, isize, isize),
        b: (*const Self, isize, isize),
        beta: Self,
        c: (*mut Self, isize, isize),
    );
}

/// `Float::gemm_raw` through matrixmultiply's `$gemm` (`sgemm` or `dgemm`).
macro_rules! gemm_raw {
    ($gemm:ident) => {
        unsafe fn gemm_raw(
            m: usize,
            k: usize,
            n: usize,
            alpha: Self,
            a: (*const Self, isize, isize),
            b: (*const Self, isize, isize),
            beta: Self,
            c: (*mut Self, isize, isize),
        ) {
            // SAFETY: forwarded from the caller.
            unsafe {
                matrixmultiply::$gemm(
                    m, k, n, alpha, a.0, a.1, a.2, b.0, b.1, b.2, beta, c.0, c.1, c.2,
                );
            }
        }
    };
}

#[allow(unsafe_code)]
impl Float for f32 {
    gemm_raw!(sgemm);
}

#[allow(unsafe_code)]
impl Float for f64 {
    gemm_raw!(dgemm);
}

/// A strided `rows × cols` view: element `(i, j)` at `data[i·rs + j·cs]`.
#[derive(Clone, Copy)]
struct Mat<'a, F> {
    data: &'a [F],
    rs: usize,
    cs: usize,
}

/// A row-major `[rows, cols]` matrix starting at `data[0]`.
fn rows<F>(data: &[F], cols: usize) -> Mat<'_, F> {
    Mat {
        data,
        rs: cols,
        cs: 1,
    }
}

/// The transpose of a row-major `[rows, cols]` matrix starting at `data[0]`.
fn transposed<F>(data: &[F], cols: usize) -> Mat<'_, F> {
    Mat {
        data,
        rs: 1,
        cs: cols,
    }
}

/// Up to this many rows, [`gemm`] runs row updates instead of matrixmultiply.
const SMALL_M: usize = 4;

/// `C ← A·B + β·C` for `A: m×k`, `B: k×n` and a row-major `C: m×n` (row stride `ldc`), with
/// the extents checked against the slices.
#[allow(unsafe_code)]
fn gemm<F: Float>(
    (m, k, n): (usize, usize, usize),
    a: Mat<'_, F>,
    b: Mat<'_, F>,
    beta: F,
    c: &mut [F],
    ldc: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    let last = |rows: usize, cols: usize, rs: usize, cs: usize| (rows - 1) * rs + (cols - 1) * cs;
    if k > 0 {
        assert!(
            last(m, k, a.rs, a.cs) < a.data.len(),
            "gemm: A out of bounds"
        );
        assert!(
            last(k, n, b.rs, b.cs) < b.data.len(),
            "gemm: B out of bounds"
        );
    }
    assert!(last(m, n, ldc, 1) < c.len(), "gemm: C out of bounds");
    if m <= SMALL_M && b.cs == 1 {
        // A few rows against a row-major B (a B=1 step): row updates `c_i += a_ip·b_p`,
        // which vectorise, instead of packing all of B for a kernel that fills one row.
        for i in 0..m {
            let row = &mut c[i * ldc..i * ldc + n];
            if beta != F::ONE {
                row.iter_mut()
                    .for_each(|v| *v = if beta == F::ZERO { F::ZERO } else { *v * beta });
            }
            for p in 0..k {
                let coef = a.data[i * a.rs + p * a.cs];
                let b_row = &b.data[p * b.rs..p * b.rs + n];
                for (v, w) in row.iter_mut().zip(b_row) {
                    *v += coef * *w;
                }
            }
        }
        return;
    }
    let s = |x: usize| x as isize;
    // SAFETY: the extents were checked above; `c` is a unique borrow, so it overlaps neither
    // `a` nor `b`.
    unsafe {
        F::gemm_raw(
            m,
            k,
            n,
            F::ONE,
            (a.data.as_ptr(), s(a.rs), s(a.cs)),
            (b.data.as_ptr(), s(b.rs), s(b.cs)),
            beta,
            (c.as_mut_ptr(), s(ldc), 1),
        );
    }
}

/// The backbone's activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Act {
    /// `1.7159·tanh(0.666·x)`.
    LecunTanh,
    /// `x·σ(x)`.
    Silu,
    /// `max(x, 0)`.
    Relu,
    /// `tanh(x)`.
    Tanh,
    /// `x·(1 + erf(x/√2))/2`, the exact GELU.
    Gelu,
}

impl Act {
    /// `post = act(pre)`, elementwise; one loop per activation, so that each vectorises.
    fn apply<F: Real>(self, pre: &[F], post: &mut [F]) {
        fn each<F: Real>(pre: &[F], post: &mut [F], f: impl Fn(F) -> F) {
            for (y, x) in post.iter_mut().zip(pre) {
                *y = f(*x);
            }
        }
        match self {
            Act::LecunTanh => each(pre, post, |x| Act::LecunTanh.value(x)),
            Act::Silu => each(pre, post, |x| Act::Silu.value(x)),
            Act::Relu => each(pre, post, |x| Act::Relu.value(x)),
            Act::Tanh => each(pre, post, |x| Act::Tanh.value(x)),
            Act::Gelu => each(pre, post, |x| Act::Gelu.value(x)),
        }
    }

    #[inline(always)]
    fn value<F: Real>(self, x: F) -> F {
        match self {
            Act::LecunTanh => F::from_f64(1.7159) * F::tanh(F::from_f64(0.666) * x),
            Act::Silu => x * F::sigmoid::<Separate>(x),
            Act::Relu => {
                if x > F::ZERO {
                    x
                } else {
                    F::ZERO
                }
            }
            Act::Tanh => F::tanh(x),
            Act::Gelu => x * gelu_cdf(x),
        }
    }

    /// The derivative at `x`, where the activation's value is `y`.
    #[inline(always)]
    fn derivative<F: Real>(self, x: F, y: F) -> F {
        match self {
            Act::LecunTanh => {
                let t = y / F::from_f64(1.7159);
                F::from_f64(1.7159 * 0.666) * (F::ONE - t * t)
            }
            Act::Silu => {
                let s = F::sigmoid::<Separate>(x);
                s + x * s * (F::ONE - s)
            }
            Act::Relu => {
                if x > F::ZERO {
                    F::ONE
                } else {
                    F::ZERO
                }
            }
            Act::Tanh => F::ONE - y * y,
            Act::Gelu => {
                // Φ(x) + x·φ(x).
                let pdf =
                    F::exp_neg(-F::from_f64(0.5) * x * x) * F::from_f64(0.398_942_280_401_432_7);
                gelu_cdf(x) + x * pdf
            }
        }
    }
}

/// Φ(x) = (1 + erf(x/√2))/2, the standard normal CDF of the exact GELU `x·Φ(x)`.
#[inline(always)]
fn gelu_cdf<F: Real>(x: F) -> F {
    F::from_f64(0.5) * (F::ONE + F::erf(x * F::from_f64(core::f64::consts::FRAC_1_SQRT_2)))
}

/// The closed form (ncps `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `h' = tanh(ff1)·(1 − g) + g·tanh(ff2)`, `g = σ(ta·Δt + tb)`.
    Gated,
    /// `h' = tanh(ff1) + g·tanh(ff2)`.
    NoGate,
    /// `h' = −A·e^(−Δt·(|ff1| + |w_tau|))·ff1 + A`.
    Pure,
}

impl Mode {
    /// Head blocks of `hidden` columns: 4, or 1 in pure mode.
    pub(crate) fn heads(self) -> usize {
        if self == Mode::Pure { 1 } else { 4 }
    }
}

/// The sizes of one fused CfC run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dims {
    pub(crate) batch: usize,
    pub(crate) seq: usize,
    pub(crate) inputs: usize,
    pub(crate) hidden: usize,
    /// Backbone width.
    pub(crate) units: usize,
    /// Backbone layers (0: the heads read `[x, h]`).
    pub(crate) layers: usize,
}

/// One dense layer's place in the flat parameter vector.
#[derive(Debug, Clone, Copy)]
struct Dense {
    d_in: usize,
    d_out: usize,
    /// Offset of the `[d_in, d_out]` weight.
    w: usize,
    /// Offset of the `[d_out]` bias.
    b: usize,
}

/// Where each parameter sits in the flat vector: backbone layer `k`'s weight then bias, the
/// heads' weight `[d, heads·hidden]` then bias, and in pure mode `w_tau` then `A` (`[hidden]`
/// each).
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// The backbone layers, then the heads.
    dense: Vec<Dense>,
    w_tau: usize,
    a: usize,
    /// Total length.
    pub(crate) len: usize,
}

impl Layout {
    pub(crate) fn new(d: Dims, mode: Mode) -> Self {
        let mut dense = Vec::with_capacity(d.layers + 1);
        let mut at = 0;
        let mut push = |d_in: usize, d_out: usize| {
            dense.push(Dense {
                d_in,
                d_out,
                w: at,
                b: at + d_in * d_out,
            });
            at += (d_in + 1) * d_out;
        };
        let z = d.inputs + d.hidden;
        for k in 0..d.layers {
            push(if k == 0 { z } else { d.units }, d.units);
        }
        push(
            if d.layers == 0 { z } else { d.units },
            mode.heads() * d.hidden,
        );
        let w_tau = at;
        let a = at + d.hidden;
        let len = if mode == Mode::Pure { a + d.hidden } else { at };
        Layout {
            dense,
            w_tau,
            a,
            len,
        }
    }
}

/// One fused CfC run's inputs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Problem<'a, F> {
    pub(crate) dims: Dims,
    pub(crate) mode: Mode,
    pub(crate) act: Act,
    /// `[batch, seq, inputs]`.
    pub(crate) x: &'a [F],
    /// `[batch, hidden]`.
    pub(crate) h0: &'a [F],
    /// Elapsed times `[batch, seq]`; 1 everywhere when `None`.
    pub(crate) dt: Option<&'a [F]>,
    /// The parameters, laid out by [`Layout`].
    pub(crate) theta: &'a [F],
}

/// What the forward pass computes and the backward pass reads, time-major (`[seq, batch, ·]`).
#[derive(Debug)]
pub(crate) struct Forward<F> {
    /// The inputs, `[seq, batch, inputs]`.
    xs: Vec<F>,
    /// The states `h_0 … h_seq`, `[seq + 1, batch, hidden]`.
    hs: Vec<F>,
    /// Per backbone layer, the pre-activations `[seq, batch, units]`.
    pre: Vec<Vec<F>>,
    /// Per backbone layer, the activations.
    post: Vec<Vec<F>>,
    /// The heads, `[seq, batch, heads·hidden]`.
    heads: Vec<F>,
}

impl<F: Float> Forward<F> {
    /// The states after every step, `[batch, seq, hidden]`.
    pub(crate) fn outputs(&self, d: Dims) -> Vec<F> {
        let (b, l, h) = (d.batch, d.seq, d.hidden);
        let mut out = vec![F::ZERO; b * l * h];
        for t in 0..l {
            for s in 0..b {
                let from = ((t + 1) * b + s) * h;
                out[(s * l + t) * h..][..h].copy_from_slice(&self.hs[from..from + h]);
            }
        }
        out
    }
}

/// The gradients of one run.
#[derive(Debug)]
pub(crate) struct Grads<F> {
    /// `[batch, seq, inputs]` (empty when not asked for).
    pub(crate) x: Vec<F>,
    /// `[batch, hidden]`.
    pub(crate) h0: Vec<F>,
    /// `[batch, seq]` (empty without elapsed times).
    pub(crate) dt: Vec<F>,
    /// Laid out as the parameters.
    pub(crate) theta: Vec<F>,
}

fn check<F>(p: &Problem<'_, F>, layout: &Layout) {
    let d = p.dims;
    assert_eq!(p.x.len(), d.batch * d.seq * d.inputs, "cfc fused: x");
    assert_eq!(p.h0.len(), d.batch * d.hidden, "cfc fused: h0");
    if let Some(dt) = p.dt {
        assert_eq!(dt.len(), d.batch * d.seq, "cfc fused: dt");
    }
    assert_eq!(p.theta.len(), layout.len, "cfc fused: theta");
}

/// Each row of the row-major `[rows, bias.len()]` matrix `c` set to `bias`.
fn fill_rows<F: Copy>(c: &mut [F], bias: &[F]) {
    for row in c.chunks_exact_mut(bias.len().max(1)) {
        row.copy_from_slice(bias);
    }
}

/// The forward pass.
pub(crate) fn forward<F: Float>(p: &Problem<'_, F>) -> Forward<F> {
    let d = p.dims;
    let layout = Layout::new(d, p.mode);
    check(p, &layout);
    let (bsz, l, s, h) = (d.batch, d.seq, d.inputs, d.hidden);
    let theta = p.theta;
    let rows_all = l * bsz;
    // Time-major inputs.
    let mut xs = vec![F::ZERO; rows_all * s];
    for b in 0..bsz {
        for t in 0..l {
            xs[(t * bsz + b) * s..][..s].copy_from_slice(&p.x[(b * l + t) * s..][..s]);
        }
    }
    let mut hs = vec![F::ZERO; (l + 1) * bsz * h];
    hs[..bsz * h].copy_from_slice(p.h0);
    let mut pre: Vec<Vec<F>> = (0..d.layers)
        .map(|_| vec![F::ZERO; rows_all * d.units])
        .collect();
    let mut post = pre.clone();
    let heads_w = p.mode.heads() * h;
    let mut heads = vec![F::ZERO; rows_all * heads_w];

    // The first layer's bias and input-side product, for every step at once.
    let first = layout.dense[0];
    {
        let out0 = if d.layers > 0 {
            &mut pre[0]
        } else {
            &mut heads
        };
        fill_rows(out0, &theta[first.b..first.b + first.d_out]);
        gemm(
            (rows_all, s, first.d_out),
            rows(&xs, s),
            rows(&theta[first.w..], first.d_out),
            F::ONE,
            out0,
            first.d_out,
        );
    }
    let w_h0 = &theta[first.w + s * first.d_out..];
    for t in 0..l {
        let (done, next) = hs.split_at_mut((t + 1) * bsz * h);
        let h_t = &done[t * bsz * h..];
        // The state-side product of the first layer.
        {
            let out0 = if d.layers > 0 {
                &mut pre[0]
            } else {
                &mut heads
            };
            let block = &mut out0[t * bsz * first.d_out..][..bsz * first.d_out];
            gemm(
                (bsz, h, first.d_out),
                rows(h_t, h),
                rows(w_h0, first.d_out),
                F::ONE,
                block,
                first.d_out,
            );
        }
        for k in 0..d.layers {
            let u = d.units;
            let range = t * bsz * u..(t + 1) * bsz * u;
            if k > 0 {
                let layer = layout.dense[k];
                let input = &post[k - 1][range.clone()];
                let block = &mut pre[k][range.clone()];
                fill_rows(block, &theta[layer.b..layer.b + u]);
                gemm(
                    (bsz, u, u),
                    rows(input, u),
                    rows(&theta[layer.w..], u),
                    F::ONE,
                    block,
                    u,
                );
            }
            p.act.apply(&pre[k][range.clone()], &mut post[k][range]);
        }
        let block = &mut heads[t * bsz * heads_w..][..bsz * heads_w];
        if d.layers > 0 {
            let layer = layout.dense[d.layers];
            let u = d.units;
            let input = &post[d.layers - 1][t * bsz * u..][..bsz * u];
            fill_rows(block, &theta[layer.b..layer.b + heads_w]);
            gemm(
                (bsz, u, heads_w),
                rows(input, u),
                rows(&theta[layer.w..], heads_w),
                F::ONE,
                block,
                heads_w,
            );
        }
        let h_next = &mut next[..bsz * h];
        for b in 0..bsz {
            let dt = p.dt.map_or(F::ONE, |dt| dt[b * l + t]);
            let row = &block[b * heads_w..][..heads_w];
            let out = &mut h_next[b * h..][..h];
            closed_form(p.mode, &layout, theta, row, dt, out);
        }
    }
    Forward {
        xs,
        hs,
        pre,
        post,
        heads,
    }
}

/// A cell prepared for streaming, one sample and one step at a time ([`crate::cfc::CfcStepper`]):
/// the parameters laid out by [`Layout`], and scratch space for the layers.
#[derive(Debug, Clone)]
pub(crate) struct Prepared<F> {
    dims: Dims,
    mode: Mode,
    act: Act,
    layout: Layout,
    theta: Vec<F>,
    /// `[x, h]`, each backbone layer's pre-activations and activations, the heads, `h'`.
    z: Vec<F>,
    pre: Vec<F>,
    post: Vec<F>,
    heads: Vec<F>,
    next: Vec<F>,
    isa: Isa,
}

impl<F: Real> Prepared<F> {
    /// `dims` gives the sizes (its `batch` and `seq` are not read); `theta` is laid out by
    /// [`Layout`].
    ///
    /// # Panics
    /// If `theta` has the wrong length.
    pub(crate) fn new(dims: Dims, mode: Mode, act: Act, theta: Vec<F>) -> Self {
        let layout = Layout::new(dims, mode);
        assert_eq!(theta.len(), layout.len, "cfc step: theta");
        let zeros = |len| vec![F::ZERO; len];
        Prepared {
            z: zeros(dims.inputs + dims.hidden),
            pre: zeros(dims.units),
            post: zeros(dims.units),
            heads: zeros(mode.heads() * dims.hidden),
            next: zeros(dims.hidden),
            dims,
            mode,
            act,
            layout,
            theta,
            isa: isa(),
        }
    }

    /// One step of one sample: `x` its input, `h` its state (updated in place), `dt` the
    /// elapsed time.
    ///
    /// # Panics
    /// If a length does not match.
    pub(crate) fn step(&mut self, x: &[F], h: &mut [F], dt: F) {
        assert_eq!(x.len(), self.dims.inputs, "cfc step: x");
        assert_eq!(h.len(), self.dims.hidden, "cfc step: h");
        // SAFETY (both): `isa` is supported: it is what `isa()` chose for this CPU.
        #[allow(unsafe_code)]
        match self.isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { step_avx512(self, x, h, dt) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { step_avx2(self, x, h, dt) },
            _ => step_one(self, x, h, dt),
        }
    }
}

/// [`Prepared::step`]'s work: `z₀ = [x, h]`, each layer one pass over its weight rows
/// ([`row_times`]), the closed form.
#[inline(always)]
fn step_one<F: Real>(p: &mut Prepared<F>, x: &[F], h: &mut [F], dt: F) {
    let Prepared {
        dims,
        mode,
        act,
        layout,
        theta,
        z,
        pre,
        post,
        heads,
        next,
        ..
    } = p;
    let s = dims.inputs;
    z[..s].copy_from_slice(x);
    z[s..].copy_from_slice(h);
    let mut input: &[F] = z;
    for (k, layer) in layout.dense.iter().enumerate() {
        let w = &theta[layer.w..layer.w + layer.d_in * layer.d_out];
        let b = &theta[layer.b..layer.b + layer.d_out];
        if k == dims.layers {
            row_times(input, w, Some(b), heads);
        } else {
            row_times(input, w, Some(b), pre);
            act.apply(pre, post);
            input = post;
        }
    }
    closed_form(*mode, layout, theta, heads, dt, next);
    h.copy_from_slice(next);
}

macro_rules! step_for {
    ($features:literal, $name:ident) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        fn $name<F: Real>(p: &mut Prepared<F>, x: &[F], h: &mut [F], dt: F) {
            step_one(p, x, h, dt);
        }
    };
}

step_for!("avx2,fma", step_avx2);
step_for!("avx512f,avx2,fma", step_avx512);

/// One sample's new state from its heads.
#[inline(always)]
fn closed_form<F: Real>(mode: Mode, layout: &Layout, theta: &[F], row: &[F], dt: F, out: &mut [F]) {
    let h = out.len();
    match mode {
        Mode::Pure => {
            let w_tau = &theta[layout.w_tau..][..h];
            let a = &theta[layout.a..][..h];
            for j in 0..h {
                let ff = row[j];
                let e = F::exp_neg(-((abs(ff) + abs(w_tau[j])) * dt));
                out[j] = -a[j] * e * ff + a[j];
            }
        }
        Mode::Gated | Mode::NoGate => {
            let (ff1, rest) = row.split_at(h);
            let (ff2, rest) = rest.split_at(h);
            let (ta, tb) = rest.split_at(h);
            // `f1·(1 − g) + g·f2`, or `f1 + g·f2` without the complement: one branch-free loop.
            let complement = if mode == Mode::Gated { F::ONE } else { F::ZERO };
            for j in 0..h {
                let f1 = F::tanh(ff1[j]);
                let f2 = F::tanh(ff2[j]);
                let g = F::sigmoid::<Separate>(ta[j] * dt + tb[j]);
                out[j] = f1 * (F::ONE - complement * g) + g * f2;
            }
        }
    }
}

#[inline(always)]
fn abs<F: Real>(x: F) -> F {
    if x < F::ZERO { -x } else { x }
}

/// `sign(x)` with `sign(0) = 0` (the gradient of `|x|`, as Burn's).
#[inline(always)]
fn sign<F: Real>(x: F) -> F {
    if x > F::ZERO {
        F::ONE
    } else if x < F::ZERO {
        -F::ONE
    } else {
        F::ZERO
    }
}

/// Column sums of the row-major `[rows, out.len()]` matrix `m`, added to `out`.
fn add_column_sums<F: Real>(m: &[F], out: &mut [F]) {
    for row in m.chunks_exact(out.len().max(1)) {
        for (o, v) in out.iter_mut().zip(row) {
            *o += *v;
        }
    }
}

/// The backward pass: the gradients of `Σ grad_out ⊙ outputs` (`grad_out`
/// `[batch, seq, hidden]`); the input gradient only when `want_x`.
pub(crate) fn backward<F: Float>(
    p: &Problem<'_, F>,
    fwd: &Forward<F>,
    grad_out: &[F],
    want_x: bool,
) -> Grads<F> {
    let d = p.dims;
    let layout = Layout::new(d, p.mode);
    check(p, &layout);
    let (bsz, l, s, h) = (d.batch, d.seq, d.inputs, d.hidden);
    assert_eq!(grad_out.len(), bsz * l * h, "cfc fused: grad_out");
    let theta = p.theta;
    let rows_all = l * bsz;
    let heads_w = p.mode.heads() * h;
    let u = d.units;
    let first = layout.dense[0];

    let mut g_theta = vec![F::ZERO; layout.len];
    let mut g_dt = if p.dt.is_some() {
        vec![F::ZERO; bsz * l]
    } else {
        Vec::new()
    };
    let mut d_heads = vec![F::ZERO; rows_all * heads_w];
    let mut d_pre: Vec<Vec<F>> = (0..d.layers).map(|_| vec![F::ZERO; rows_all * u]).collect();
    let mut dh = vec![F::ZERO; bsz * h];
    let mut dz = vec![F::ZERO; bsz * u];
    let w_h0 = &theta[first.w + s * first.d_out..];
    let (mut g_w_tau, mut g_a) = (vec![F::ZERO; h], vec![F::ZERO; h]);

    for t in (0..l).rev() {
        for b in 0..bsz {
            let from = (b * l + t) * h;
            for (g, o) in dh[b * h..][..h].iter_mut().zip(&grad_out[from..from + h]) {
                *g += *o;
            }
        }
        // The closed form's backward, per sample.
        let heads_t = &fwd.heads[t * bsz * heads_w..][..bsz * heads_w];
        let d_heads_t = &mut d_heads[t * bsz * heads_w..][..bsz * heads_w];
        for b in 0..bsz {
            let dt = p.dt.map_or(F::ONE, |dt| dt[b * l + t]);
            let row = &heads_t[b * heads_w..][..heads_w];
            let d_row = &mut d_heads_t[b * heads_w..][..heads_w];
            let dh_b = &dh[b * h..][..h];
            let mut g_dt_b = F::ZERO;
            match p.mode {
                Mode::Pure => {
                    let w_tau = &theta[layout.w_tau..][..h];
                    let a = &theta[layout.a..][..h];
                    for j in 0..h {
                        let (ff, wt, aj, g) = (row[j], w_tau[j], a[j], dh_b[j]);
                        let rate = abs(ff) + abs(wt);
                        let e = F::exp_neg(-(rate * dt));
                        g_a[j] += g * (F::ONE - e * ff);
                        // ∂h'/∂(rate·Δt) = A·e·ff.
                        let d_rate = g * aj * e * ff;
                        d_row[j] = -g * aj * e + d_rate * dt * sign(ff);
                        g_w_tau[j] += d_rate * dt * sign(wt);
                        g_dt_b += d_rate * rate;
                    }
                }
                mode => {
                    let (ff1, rest) = row.split_at(h);
                    let (ff2, rest) = rest.split_at(h);
                    let (ta, tb) = rest.split_at(h);
                    let (d1, rest) = d_row.split_at_mut(h);
                    let (d2, rest) = rest.split_at_mut(h);
                    let (dta, dtb) = rest.split_at_mut(h);
                    for j in 0..h {
                        let f1 = F::tanh(ff1[j]);
                        let f2 = F::tanh(ff2[j]);
                        let z = ta[j] * dt + tb[j];
                        let gate = F::sigmoid::<Separate>(z);
                        let g = dh_b[j];
                        let (d_f1, d_gate) = if mode == Mode::Gated {
                            (g * (F::ONE - gate), g * (f2 - f1))
                        } else {
                            (g, g * f2)
                        };
                        d1[j] = d_f1 * (F::ONE - f1 * f1);
                        d2[j] = g * gate * (F::ONE - f2 * f2);
                        let dz_ = if F::clamped(z) {
                            F::ZERO
                        } else {
                            d_gate * gate * (F::ONE - gate)
                        };
                        dta[j] = dz_ * dt;
                        dtb[j] = dz_;
                        g_dt_b += dz_ * ta[j];
                    }
                }
            }
            if let Some(g) = g_dt.get_mut(b * l + t) {
                *g = g_dt_b;
            }
        }
        // Back through the heads and the backbone, to the first layer's pre-activations.
        if d.layers > 0 {
            let heads_layer = layout.dense[d.layers];
            gemm(
                (bsz, heads_w, u),
                rows(d_heads_t, heads_w),
                transposed(&theta[heads_layer.w..][..u * heads_w], heads_w),
                F::ZERO,
                &mut dz,
                u,
            );
            for k in (0..d.layers).rev() {
                let range = t * bsz * u..(t + 1) * bsz * u;
                let block = &mut d_pre[k][range.clone()];
                for ((g, (x, y)), dzv) in block
                    .iter_mut()
                    .zip(fwd.pre[k][range.clone()].iter().zip(&fwd.post[k][range]))
                    .zip(&dz)
                {
                    *g = *dzv * p.act.derivative(*x, *y);
                }
                if k > 0 {
                    let layer = layout.dense[k];
                    gemm(
                        (bsz, u, u),
                        rows(block, u),
                        transposed(&theta[layer.w..][..u * u], u),
                        F::ZERO,
                        &mut dz,
                        u,
                    );
                }
            }
        }
        // The state's gradient: the first layer's state-side weights.
        let d_first = if d.layers > 0 {
            &d_pre[0][t * bsz * u..][..bsz * u]
        } else {
            &d_heads[t * bsz * heads_w..][..bsz * heads_w]
        };
        gemm(
            (bsz, first.d_out, h),
            rows(d_first, first.d_out),
            transposed(&w_h0[..h * first.d_out], first.d_out),
            F::ZERO,
            &mut dh,
            h,
        );
    }

    // Weight gradients, every step at once.
    let d_first = if d.layers > 0 { &d_pre[0] } else { &d_heads };
    gemm(
        (s, rows_all, first.d_out),
        transposed(&fwd.xs, s),
        rows(d_first, first.d_out),
        F::ZERO,
        &mut g_theta[first.w..],
        first.d_out,
    );
    gemm(
        (h, rows_all, first.d_out),
        transposed(&fwd.hs[..rows_all * h], h),
        rows(d_first, first.d_out),
        F::ZERO,
        &mut g_theta[first.w + s * first.d_out..],
        first.d_out,
    );
    add_column_sums(d_first, &mut g_theta[first.b..first.b + first.d_out]);
    #[allow(clippy::needless_range_loop)] // `i = layers` is the heads, outside `d_pre`.
    for i in 1..=d.layers {
        let layer = layout.dense[i];
        let d_out: &[F] = if i < d.layers { &d_pre[i] } else { &d_heads };
        gemm(
            (layer.d_in, rows_all, layer.d_out),
            transposed(&fwd.post[i - 1], layer.d_in),
            rows(d_out, layer.d_out),
            F::ZERO,
            &mut g_theta[layer.w..],
            layer.d_out,
        );
        add_column_sums(d_out, &mut g_theta[layer.b..layer.b + layer.d_out]);
    }
    if p.mode == Mode::Pure {
        g_theta[layout.w_tau..][..h].copy_from_slice(&g_w_tau);
        g_theta[layout.a..][..h].copy_from_slice(&g_a);
    }

    let x = if want_x {
        let mut dxs = vec![F::ZERO; rows_all * s];
        gemm(
            (rows_all, first.d_out, s),
            rows(d_first, first.d_out),
            transposed(&theta[first.w..][..s * first.d_out], first.d_out),
            F::ZERO,
            &mut dxs,
            s,
        );
        let mut dx = vec![F::ZERO; rows_all * s];
        for b in 0..bsz {
            for t in 0..l {
                dx[(b * l + t) * s..][..s].copy_from_slice(&dxs[(t * bsz + b) * s..][..s]);
            }
        }
        dx
    } else {
        Vec::new()
    };
    Grads {
        x,
        h0: dh,
        dt: g_dt,
        theta: g_theta,
    }
}
