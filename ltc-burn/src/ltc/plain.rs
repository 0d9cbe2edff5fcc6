//! The LTC unfold loop on the plain tensor path: any backend, differentiated by Burn's
//! autodiff as written. The reference the fused kernels are tested against, and what runs
//! where a backend has no kernel.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::activation::reciprocal;
use crate::kernel::ltc::{UnfoldInputs, UnfoldParams};
use crate::recurrent::stack_steps;

/// The layout the plain tensor path computes in, built once per sequence (or per call) for one
/// batch size from [`UnfoldParams`].
///
/// Layout: synapse tensors are `[batch, destination, source]`, the transpose of the parameters'
/// `[source, destination]`, repeated over the batch. On burn-ndarray this is several times
/// faster than broadcasting `[1, source, destination]` parameters against the state: operands
/// of the same shape take the vectorised path, the sums over sources run along the contiguous
/// last axis, and the state is spread over destinations by a `k = 1` matrix product
/// ([`PlainSynapses::spread`]) instead of a broadcast.
#[derive(Debug, Clone)]
pub(crate) struct PlainSynapses<B: Backend> {
    /// `(pos(w) ⊙ mask)ᵀ`, `[batch, units, units]`.
    pub(crate) w: Tensor<B, 3>,
    /// `sigmaᵀ`, `[batch, units, units]`.
    pub(crate) sigma: Tensor<B, 3>,
    /// `muᵀ`, `[batch, units, units]`.
    pub(crate) mu: Tensor<B, 3>,
    /// `erevᵀ`, `[batch, units, units]`.
    pub(crate) erev: Tensor<B, 3>,
    /// `(pos(sensory_w) ⊙ sensory_mask)ᵀ`, `[batch, units, input]`.
    pub(crate) sensory_w: Tensor<B, 3>,
    /// `[batch, units, input]`.
    pub(crate) sensory_sigma: Tensor<B, 3>,
    /// `[batch, units, input]`.
    pub(crate) sensory_mu: Tensor<B, 3>,
    /// `[batch, units, input]`.
    pub(crate) sensory_erev: Tensor<B, 3>,
    /// Ones, `[batch, units, 1]`: `spread(x) = ones @ x[batch, 1, ·]`.
    pub(crate) ones_column: Tensor<B, 3>,
    /// Ones, `[batch, units, units]`, the numerator of the exact reciprocal.
    pub(crate) ones_square: Tensor<B, 3>,
    /// Ones, `[batch, units, input]`.
    pub(crate) ones_sensory: Tensor<B, 3>,
    /// `pos(gleak)`, `[1, units]`.
    pub(crate) gleak: Tensor<B, 2>,
    /// `pos(gleak) ⊙ vleak`, `[1, units]`.
    pub(crate) gleak_vleak: Tensor<B, 2>,
}

impl<B: Backend> PlainSynapses<B> {
    pub(crate) fn new(params: &UnfoldParams<B>, batch: usize) -> Self {
        let [s, n] = params.sensory.w.dims();
        // [source, destination] → [batch, destination, source], contiguous.
        let lay_out = |t: &Tensor<B, 2>| {
            let [rows, cols] = t.dims();
            t.clone()
                .transpose()
                .reshape([1, cols, rows])
                .repeat_dim(0, batch)
        };
        let device = params.gleak.device();
        let (rec, sen) = (&params.recurrent, &params.sensory);
        PlainSynapses {
            w: lay_out(&rec.w),
            sigma: lay_out(&rec.sigma),
            mu: lay_out(&rec.mu),
            erev: lay_out(&rec.erev),
            sensory_w: lay_out(&sen.w),
            sensory_sigma: lay_out(&sen.sigma),
            sensory_mu: lay_out(&sen.mu),
            sensory_erev: lay_out(&sen.erev),
            ones_column: Tensor::ones([batch, n, 1], &device),
            ones_square: Tensor::ones([batch, n, n], &device),
            ones_sensory: Tensor::ones([batch, n, s], &device),
            gleak: params.gleak.clone().reshape([1, n]),
            gleak_vleak: params.gleak_vleak.clone().reshape([1, n]),
        }
    }

    /// `out[b, j, i] = x[b, i]` for every destination `j`: `[batch, k]` → `[batch, units, k]`.
    pub(crate) fn spread(&self, x: Tensor<B, 2>) -> Tensor<B, 3> {
        let [batch, k] = x.dims();
        self.ones_column.clone().matmul(x.reshape([batch, 1, k]))
    }
}

/// The sensory synapses' `(Σ s·sensory_erev, Σ s)` over inputs, `[batch, units]` each, with
/// `s = sensory_w·σ(sensory_sigma·(x̃ − sensory_mu))` for the mapped input `x̃`.
pub(crate) fn sensory_currents<B: Backend>(
    p: &PlainSynapses<B>,
    x: Tensor<B, 2>,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let [batch, _] = x.dims();
    let n = p.gleak.dims()[1];
    // [batch, destination, input]
    let sensory = activation(
        &p.sensory_w,
        &p.sensory_sigma,
        &p.sensory_mu,
        &p.ones_sensory,
        p.spread(x),
    );
    let num = (sensory.clone() * p.sensory_erev.clone())
        .sum_dim(2)
        .reshape([batch, n]);
    (num, sensory.sum_dim(2).reshape([batch, n]))
}

/// The recurrent synapses' `(Σ a·erev, Σ a)` over sources, `[batch, units]` each, with
/// `a = w·σ(sigma·(v_source − mu))`.
pub(crate) fn synaptic_currents<B: Backend>(
    p: &PlainSynapses<B>,
    v: Tensor<B, 2>,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let [batch, n] = v.dims();
    // [batch, destination, source]
    let a = activation(&p.w, &p.sigma, &p.mu, &p.ones_square, p.spread(v));
    let a_erev = (a.clone() * p.erev.clone()).sum_dim(2).reshape([batch, n]);
    (a_erev, a.sum_dim(2).reshape([batch, n]))
}

/// One input step on the plain tensor path: the sensory currents of the mapped input `x̃`
/// `[batch, input]` once, then `unfolds` semi-implicit sub-steps from `v` `[batch, units]`;
/// `cm_t` is `[1, units]` or `[batch, units]`.
pub(crate) fn solve<B: Backend>(
    p: &PlainSynapses<B>,
    x: Tensor<B, 2>,
    v: Tensor<B, 2>,
    cm_t: Tensor<B, 2>,
    unfolds: usize,
    epsilon: f64,
) -> Tensor<B, 2> {
    // Sensory synapses, held for all sub-steps.
    let (num_s, den_s) = sensory_currents(p, x);
    // The parts of numerator and denominator that the sub-steps do not change.
    let num_fixed = p.gleak_vleak.clone() + num_s; // [batch, units]
    let den_fixed = (cm_t.clone() + p.gleak.clone() + den_s).add_scalar(epsilon);
    let mut v = v;
    for _ in 0..unfolds {
        let (a_erev, a) = synaptic_currents(p, v.clone());
        let num = cm_t.clone() * v + num_fixed.clone() + a_erev;
        let den = den_fixed.clone() + a;
        v = num * reciprocal(den);
    }
    v
}

/// The unfold loop over a sequence on the plain tensor path, for any backend: step by step,
/// each unfold on `[batch, units, units]` tensors, differentiated by Burn's autodiff as
/// written; the potentials after every step, `[batch, seq, units]`. What
/// [`kernel::ltc::unfold`](crate::kernel::ltc::unfold) computes where there is a kernel (to
/// rounding), and the reference the kernels are tested against.
///
/// # Panics
/// If the shapes of `inputs` disagree (naming the input, its expected and actual shape).
pub fn unfold_plain<B: Backend>(inputs: UnfoldInputs<B>) -> Tensor<B, 3> {
    let (batch, seq, s, n) = inputs.sizes();
    let UnfoldInputs {
        x,
        v0,
        cm_t,
        params,
    } = inputs;
    let p = PlainSynapses::new(&params, batch);
    // `[1, 1, units]` (or a sequence of one step): the same for every step.
    let shared = cm_t.dims()[1] == 1;
    let mut v = v0;
    let mut states = Vec::with_capacity(seq);
    for t in 0..seq {
        let x_t = x.clone().narrow(1, t, 1).reshape([batch, s]);
        let cm_t = if shared {
            cm_t.clone()
        } else {
            cm_t.clone().narrow(1, t, 1)
        };
        let rows = cm_t.dims()[0];
        v = solve(
            &p,
            x_t,
            v,
            cm_t.reshape([rows, n]),
            params.unfolds,
            params.epsilon,
        );
        states.push(v.clone());
    }
    stack_steps(states, true)
}

/// `w · σ(sigma · (pre − mu))` on `[batch, destination, source]` operands of one shape, as
/// `w · (1 / (1 + e^((mu − pre)·sigma)))`: ncps's expression, its exponent clamped at 80 (where
/// σ < 2e-35) so that neither value nor gradient overflows, and `1 / u` computed as `ones / u`,
/// whose gradient Burn computes exactly (see [`crate::activation`]).
fn activation<B: Backend>(
    w: &Tensor<B, 3>,
    sigma: &Tensor<B, 3>,
    mu: &Tensor<B, 3>,
    ones: &Tensor<B, 3>,
    pre: Tensor<B, 3>,
) -> Tensor<B, 3> {
    let exponent = ((mu.clone() - pre) * sigma.clone()).clamp_max(80.0);
    w.clone() * (ones.clone() / exponent.exp().add_scalar(1.0))
}
