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

mod backward;
mod elementwise;
mod forward;
mod step;

pub(crate) use backward::backward;
pub use elementwise::Act;
pub(crate) use forward::forward;
pub(crate) use step::CfcStepKernel;

use crate::kernel::cpu::linalg::Float;

/// The closed form (ncps `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `h' = tanh(ff1)·(1 − g) + g·tanh(ff2)`, `g = σ(ta·Δt + tb)`.
    Gated,
    /// `h' = tanh(ff1) + g·tanh(ff2)`.
    NoGate,
    /// `h' = −A·e^(−Δt·(|ff1| + |w_tau|))·ff1 + A`.
    Pure,
}

impl Mode {
    /// Head blocks of `hidden` columns: 4, or 1 in pure mode.
    pub fn heads(self) -> usize {
        if self == Mode::Pure { 1 } else { 4 }
    }
}

/// The sizes of one fused CfC run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CfcDims {
    /// Sequences.
    pub batch: usize,
    /// Steps per sequence.
    pub seq: usize,
    /// Input features per step.
    pub inputs: usize,
    /// The state's size.
    pub hidden: usize,
    /// Backbone width.
    pub units: usize,
    /// Backbone layers (0: the heads read `[x, h]`).
    pub layers: usize,
}

/// One dense layer's place in the flat parameter vector.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dense {
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
    pub(crate) fn new(d: CfcDims, mode: Mode) -> Self {
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
pub(crate) struct CfcProblem<'a, F> {
    pub(crate) dims: CfcDims,
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
pub(crate) struct CfcForward<F> {
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

impl<F: Float> CfcForward<F> {
    /// The states after every step, `[batch, seq, hidden]`.
    pub(crate) fn outputs(&self, d: CfcDims) -> Vec<F> {
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
pub(crate) struct CfcGradients<F> {
    /// `[batch, seq, inputs]` (empty when not asked for).
    pub(crate) x: Vec<F>,
    /// `[batch, hidden]`.
    pub(crate) h0: Vec<F>,
    /// `[batch, seq]` (empty without elapsed times).
    pub(crate) dt: Vec<F>,
    /// Laid out as the parameters.
    pub(crate) theta: Vec<F>,
}

pub(crate) fn check<F>(p: &CfcProblem<'_, F>, layout: &Layout) {
    let d = p.dims;
    assert_eq!(p.x.len(), d.batch * d.seq * d.inputs, "cfc fused: x");
    assert_eq!(p.h0.len(), d.batch * d.hidden, "cfc fused: h0");
    if let Some(dt) = p.dt {
        assert_eq!(dt.len(), d.batch * d.seq, "cfc fused: dt");
    }
    assert_eq!(p.theta.len(), layout.len, "cfc fused: theta");
}
