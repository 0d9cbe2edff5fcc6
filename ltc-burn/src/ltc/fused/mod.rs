//! The fused LTC solver: the whole unfold loop of a sequence as one operation.
//!
//! [`unfold`] runs ncps's semi-implicit Euler unfolds over a whole sequence. Where the backend
//! has a fused kernel ([`FusedUnfold`]: ndarray in f32 and f64, and Burn's wgpu backend without
//! kernel fusion, `CubeBackend<WgpuRuntime, f32, i32, u32>`, each with or without [`Autodiff`])
//! it makes one pass over the synapses per unfold with no `[batch, units, units]`
//! temporaries, and its backward pass recomputes the synapse activations from the saved
//! potentials: autodiff keeps `O(batch·units·unfolds·seq)` values instead of the plain path's
//! `O(batch·units²·unfolds·seq)`. Every other backend (Burn's fusion `Wgpu` among them) runs
//! [`unfold_reference`], the plain tensor path, which is also the reference the kernels are
//! tested against.
//!
//! [`cpu`] is the CPU kernel on plain slices (forward, and the recomputing backward); on wgpu
//! the forward is one CubeCL dispatch per sequence (one workgroup per sample, the potentials in
//! shared memory) and the backward two (a reverse sweep per sample, then one thread per synapse
//! for the parameter gradients).
//!
//! ```
//! use burn::backend::{Autodiff, NdArray};
//! use burn::tensor::Tensor;
//! use ltc_burn::ltc::LtcCellConfig;
//! use ltc_burn::ltc::fused::{UnfoldInputs, has_fused, unfold, unfold_reference};
//! type B = Autodiff<NdArray>;
//!
//! let device = Default::default();
//! let cell = LtcCellConfig::new(ltc_wirings::AutoNcp::new(8, 2).build(3)?).init::<B>(&device)?;
//! let inputs = UnfoldInputs {
//!     x: Tensor::<B, 3>::ones([2, 5, 3], &device), // mapped inputs [batch, seq, input]
//!     v0: Tensor::zeros([2, 8], &device),           // [batch, units]
//!     cm_t: cell.cm.value().reshape([1, 1, 8]).mul_scalar(6.0), // cm / (Δt / K), Δt = 1
//!     params: cell.unfold_params(),
//! };
//! assert!(has_fused::<B>());
//! let fused = unfold(inputs.clone()); // [batch, seq, units]
//! let plain = unfold_reference(inputs);
//! assert!(fused.sub(plain).abs().max().into_scalar() < 1e-5);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::any::Any;

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::ops::{Backward, OpsKind};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorPrimitive};

use super::cell::{Prepared, solve};
use crate::sequence::stack_steps;

pub mod cpu;
pub(crate) mod cube;
pub(crate) mod ndarray;

/// One synapse population's parameters as tensors, `[sources, destinations]`.
#[derive(Debug, Clone)]
pub struct SynapseTensors<B: Backend> {
    /// Maximum conductance, already positive and masked (`pos(w) ⊙ mask`).
    pub w: Tensor<B, 2>,
    /// Steepness.
    pub sigma: Tensor<B, 2>,
    /// Midpoint.
    pub mu: Tensor<B, 2>,
    /// Reversal potential.
    pub erev: Tensor<B, 2>,
}

impl<B: Backend> SynapseTensors<B> {
    fn map<C: Backend>(self, f: impl Fn(Tensor<B, 2>) -> Tensor<C, 2>) -> SynapseTensors<C> {
        SynapseTensors {
            w: f(self.w),
            sigma: f(self.sigma),
            mu: f(self.mu),
            erev: f(self.erev),
        }
    }
}

/// The parameters of the unfold loop, the same for every step: built by
/// [`LtcCell::unfold_params`](super::LtcCell::unfold_params).
#[derive(Debug, Clone)]
pub struct UnfoldParams<B: Backend> {
    /// Recurrent synapses, `[units, units]`.
    pub recurrent: SynapseTensors<B>,
    /// Which recurrent synapses exist (non-zero), `[units, units]`; a constant (no gradient).
    /// The fused kernels evaluate only these.
    pub recurrent_mask: Tensor<B, 2>,
    /// Sensory synapses, `[input, units]`.
    pub sensory: SynapseTensors<B>,
    /// Which sensory synapses exist, `[input, units]`; a constant.
    pub sensory_mask: Tensor<B, 2>,
    /// `pos(gleak)`, `[units]`.
    pub gleak: Tensor<B, 1>,
    /// `pos(gleak)·vleak`, `[units]`.
    pub gleak_vleak: Tensor<B, 1>,
    /// Unfolds per input step.
    pub unfolds: usize,
    /// The denominator guard ε.
    pub epsilon: f64,
}

/// Everything [`unfold`] takes.
#[derive(Debug, Clone)]
pub struct UnfoldInputs<B: Backend> {
    /// Mapped inputs, `[batch, seq, input]`.
    pub x: Tensor<B, 3>,
    /// Potentials before the first step, `[batch, units]`.
    pub v0: Tensor<B, 2>,
    /// `pos(cm) / (Δt / unfolds)`: `[1, 1, units]` for one Δt everywhere, or
    /// `[batch, seq, units]`.
    pub cm_t: Tensor<B, 3>,
    /// The parameters.
    pub params: UnfoldParams<B>,
}

impl<B: Backend> UnfoldInputs<B> {
    /// `(batch, seq, input, units)`, after checking that every shape agrees.
    ///
    /// # Panics
    /// Naming the input, its expected and its actual shape.
    pub fn sizes(&self) -> (usize, usize, usize, usize) {
        let [batch, seq, s] = self.x.dims();
        let [_, n] = self.params.recurrent.w.dims();
        let p = &self.params;
        let expect = |name: &str, actual: Vec<usize>, expected: Vec<usize>| {
            assert_eq!(
                actual, expected,
                "fused::unfold: `{name}` has shape {actual:?}, expected {expected:?}"
            );
        };
        expect("v0", self.v0.dims().to_vec(), vec![batch, n]);
        let cm_t = self.cm_t.dims().to_vec();
        if cm_t != [1, 1, n] {
            expect("cm_t", cm_t, vec![batch, seq, n]);
        }
        for (name, t) in [
            ("recurrent.w", &p.recurrent.w),
            ("recurrent.sigma", &p.recurrent.sigma),
            ("recurrent.mu", &p.recurrent.mu),
            ("recurrent.erev", &p.recurrent.erev),
            ("recurrent_mask", &p.recurrent_mask),
        ] {
            expect(name, t.dims().to_vec(), vec![n, n]);
        }
        for (name, t) in [
            ("sensory.w", &p.sensory.w),
            ("sensory.sigma", &p.sensory.sigma),
            ("sensory.mu", &p.sensory.mu),
            ("sensory.erev", &p.sensory.erev),
            ("sensory_mask", &p.sensory_mask),
        ] {
            expect(name, t.dims().to_vec(), vec![s, n]);
        }
        expect("gleak", p.gleak.dims().to_vec(), vec![n]);
        expect("gleak_vleak", p.gleak_vleak.dims().to_vec(), vec![n]);
        assert!(p.unfolds > 0, "fused::unfold: `unfolds` is 0, expected ≥ 1");
        (batch, seq, s, n)
    }

    /// The same inputs as tensors of backend `C`, which must be `B` itself.
    fn cast<C: Backend>(self) -> UnfoldInputs<C> {
        let p = self.params;
        UnfoldInputs {
            x: same_backend(self.x),
            v0: same_backend(self.v0),
            cm_t: same_backend(self.cm_t),
            params: UnfoldParams {
                recurrent: p.recurrent.map(same_backend),
                recurrent_mask: same_backend(p.recurrent_mask),
                sensory: p.sensory.map(same_backend),
                sensory_mask: same_backend(p.sensory_mask),
                gleak: same_backend(p.gleak),
                gleak_vleak: same_backend(p.gleak_vleak),
                unfolds: p.unfolds,
                epsilon: p.epsilon,
            },
        }
    }
}

/// A tensor of backend `B` as one of backend `C`, where `C` is `B` (checked by the caller
/// through their `TypeId`s).
pub(crate) fn same_backend<B: Backend, C: Backend, const D: usize>(
    t: Tensor<B, D>,
) -> Tensor<C, D> {
    let any: Box<dyn Any> = Box::new(t);
    *any.downcast::<Tensor<C, D>>()
        .expect("fused::unfold: dispatched to a backend of another type")
}

/// A backend with a fused implementation of the LTC unfold loop: Burn's backend-extension
/// pattern. [`unfold`] uses it where the backend is one of the implementors below; any other
/// backend runs [`unfold_reference`].
pub trait FusedUnfold: Backend {
    /// The potentials after every step, `[batch, seq, units]`, as [`unfold_reference`]
    /// computes them (to rounding).
    fn fused_unfold(inputs: UnfoldInputs<Self>) -> Tensor<Self, 3>;
}

/// Runs `$body` with `$C` bound to the backend type `$B` is, when it is one of the listed types
/// (compared by `TypeId`); falls through otherwise. The dispatch of [`with_fused_backend!`]
/// (CPU) and `cube::with_cube_backend!` (wgpu).
macro_rules! with_backend_in {
    ($B:ty, $C:ident => $body:expr; $($ty:ty),+) => {{
        $(
            if ::core::any::TypeId::of::<$B>() == ::core::any::TypeId::of::<$ty>() {
                #[allow(dead_code)]
                type $C = $ty;
                return $body;
            }
        )+
    }};
}
pub(crate) use with_backend_in;

/// Runs `$body` with `$C` bound to the backend type `B` is, among the backends with a fused
/// kernel; falls through otherwise.
macro_rules! with_fused_backend {
    ($B:ty, $C:ident => $body:expr) => {
        $crate::ltc::fused::with_backend_in!($B, $C => $body;
            burn::backend::NdArray<f32>,
            burn::backend::NdArray<f64>,
            burn::backend::Autodiff<burn::backend::NdArray<f32>>,
            burn::backend::Autodiff<burn::backend::NdArray<f64>>)
    };
}
pub(crate) use with_fused_backend;

/// A fused kernel with an autodiff node: `run` computes the potentials after every step on the
/// inner backend and, when `save` is set, the node's state (what its backward needs).
pub(crate) trait UnfoldKernel<B: Backend>: Backward<B, 13> {
    fn run(inputs: UnfoldInputs<B>, save: bool) -> (Tensor<B, 3>, Option<Self::State>);
}

/// The fused unfold on `Autodiff<B>`: the kernel's forward on the inner tensors, and the
/// kernel's node when any input is tracked. The node's 13 parents are `x`, `v0`, `cm_t`, the
/// recurrent `w`, `sigma`, `mu`, `erev`, the sensory `w`, `sigma`, `mu`, `erev`, `gleak` and
/// `gleak_vleak` (the masks are constants).
pub(crate) fn tracked<B: Backend, K: UnfoldKernel<B>>(
    inputs: UnfoldInputs<Autodiff<B>>,
    kernel: K,
) -> Tensor<Autodiff<B>, 3> {
    let UnfoldInputs {
        x,
        v0,
        cm_t,
        params: p,
    } = inputs;
    let (rec, sen) = (p.recurrent, p.sensory);
    // The autodiff tensors, in the node's parent order.
    let x = x.into_primitive().tensor();
    let v0 = v0.into_primitive().tensor();
    let cm_t = cm_t.into_primitive().tensor();
    let rw = rec.w.into_primitive().tensor();
    let rsigma = rec.sigma.into_primitive().tensor();
    let rmu = rec.mu.into_primitive().tensor();
    let rerev = rec.erev.into_primitive().tensor();
    let sw = sen.w.into_primitive().tensor();
    let ssigma = sen.sigma.into_primitive().tensor();
    let smu = sen.mu.into_primitive().tensor();
    let serev = sen.erev.into_primitive().tensor();
    let gleak = p.gleak.into_primitive().tensor();
    let gleak_vleak = p.gleak_vleak.into_primitive().tensor();
    let nodes = [
        x.node.clone(),
        v0.node.clone(),
        cm_t.node.clone(),
        rw.node.clone(),
        rsigma.node.clone(),
        rmu.node.clone(),
        rerev.node.clone(),
        sw.node.clone(),
        ssigma.node.clone(),
        smu.node.clone(),
        serev.node.clone(),
        gleak.node.clone(),
        gleak_vleak.node.clone(),
    ];
    fn inner<B: Backend, const D: usize>(t: B::FloatTensorPrimitive) -> Tensor<B, D> {
        Tensor::from_primitive(TensorPrimitive::Float(t))
    }
    let four = |w, sigma, mu, erev| SynapseTensors {
        w: inner(w),
        sigma: inner(sigma),
        mu: inner(mu),
        erev: inner(erev),
    };
    let inputs = UnfoldInputs::<B> {
        x: inner(x.primitive),
        v0: inner(v0.primitive),
        cm_t: inner(cm_t.primitive),
        params: UnfoldParams {
            recurrent: four(
                rw.primitive,
                rsigma.primitive,
                rmu.primitive,
                rerev.primitive,
            ),
            recurrent_mask: p.recurrent_mask.inner(),
            sensory: four(
                sw.primitive,
                ssigma.primitive,
                smu.primitive,
                serev.primitive,
            ),
            sensory_mask: p.sensory_mask.inner(),
            gleak: inner(gleak.primitive),
            gleak_vleak: inner(gleak_vleak.primitive),
            unfolds: p.unfolds,
            epsilon: p.epsilon,
        },
    };
    let out = match kernel
        .prepare::<NoCheckpointing>(nodes)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let (out, state) = K::run(inputs, true);
            let state = state.expect("a saved state when asked for one");
            prep.finish(state, out.into_primitive().tensor())
        }
        OpsKind::UnTracked(prep) => prep.finish(K::run(inputs, false).0.into_primitive().tensor()),
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

/// Whether [`unfold`] has a fused kernel for backend `B`: the ndarray backends (CPU) and
/// Burn's wgpu backend without kernel fusion (`CubeBackend<WgpuRuntime, f32, i32, u32>`), each
/// with or without [`Autodiff`].
pub fn has_fused<B: Backend>() -> bool {
    has_cpu_kernel::<B>() || cube::has_cube_kernel::<B>()
}

/// Whether `B` is one of the ndarray backends with the fused CPU kernels (LTC and CfC).
pub(crate) fn has_cpu_kernel<B: Backend>() -> bool {
    (|| {
        with_fused_backend!(B, C => true);
        false
    })()
}

/// The LTC unfold loop over a sequence: the potentials after every step, `[batch, seq,
/// units]`. Fused where the backend has a kernel ([`has_fused`]), [`unfold_reference`]
/// otherwise.
///
/// # Panics
/// If the shapes of `inputs` disagree (naming the input, its expected and actual shape).
pub fn unfold<B: Backend>(inputs: UnfoldInputs<B>) -> Tensor<B, 3> {
    inputs.sizes();
    with_fused_backend!(B, C => same_backend(C::fused_unfold(inputs.cast::<C>())));
    cube::with_cube_backend!(B, C => same_backend(C::fused_unfold(inputs.cast::<C>())));
    unfold_reference(inputs)
}

/// [`unfold`] on the plain tensor path, for any backend: step by step, each unfold on
/// `[batch, units, units]` tensors, differentiated by Burn's autodiff as written. The
/// reference the fused kernels are tested against.
///
/// # Panics
/// As [`unfold`].
pub fn unfold_reference<B: Backend>(inputs: UnfoldInputs<B>) -> Tensor<B, 3> {
    let (batch, seq, s, n) = inputs.sizes();
    let UnfoldInputs {
        x,
        v0,
        cm_t,
        params,
    } = inputs;
    let p = Prepared::new(&params, batch);
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

#[cfg(test)]
mod tests;
