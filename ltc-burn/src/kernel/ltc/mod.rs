//! The fused LTC unfold: the whole unfold loop of a sequence as one operation.
//!
//! [`unfold`] runs ncps's semi-implicit Euler unfolds over a whole sequence where the backend
//! has a kernel ([`LtcUnfold`] in the [kernel table](crate::kernel)): one pass over the
//! synapses per unfold with no `[batch, units, units]` temporaries, and a backward pass that
//! recomputes the synapse activations from the saved potentials: autodiff keeps
//! `O(batch·units·unfolds·seq)` values instead of the plain path's
//! `O(batch·units²·unfolds·seq)`. Elsewhere it returns `None` and the LTC cell runs its plain
//! tensor path ([`crate::ltc::unfold_plain`]), the reference the kernels are tested against.
//!
//! [`cpu`] is the CPU kernel on plain slices (forward, and the recomputing backward); on a
//! CubeCL backend ([`cube`]) the forward is one dispatch per sequence (one workgroup per
//! sample, the potentials in shared memory) and the backward two (a reverse sweep per sample,
//! then one thread per synapse for the parameter gradients).
//!
//! ```
//! use burn::backend::{Autodiff, NdArray};
//! use burn::tensor::Tensor;
//! use ltc_burn::kernel::{self, ltc::{LtcUnfold, UnfoldInputs}};
//! use ltc_burn::ltc::{LtcCellConfig, unfold_plain};
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
//! assert!(kernel::has::<LtcUnfold, B>());
//! let fused = kernel::ltc::unfold(inputs.clone()).expect("ndarray has the kernel");
//! let plain = unfold_plain(inputs);
//! assert!(fused.sub(plain).abs().max().into_scalar() < 1e-5);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use burn::backend::Autodiff;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorPrimitive};

use super::autodiff::Primitive;
use super::registry::{Kernel, lookup};

pub mod cpu;
pub mod cube;
pub(crate) mod ndarray;

pub(crate) use cube::WgpuCube;

/// The LTC unfold loop over a sequence as one operation: [`UnfoldInputs`] in, the potentials
/// after every step `[batch, seq, units]` out.
#[derive(Debug, Clone, Copy)]
pub struct LtcUnfold;

impl Kernel for LtcUnfold {
    const NAME: &'static str = "LTC unfold";
    type Input<B: Backend> = UnfoldInputs<B>;
    type Output<B: Backend> = Tensor<B, 3>;
}

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

/// The parameters of the unfold loop, the same for every step: built by
/// [`LtcCell::unfold_params`](crate::ltc::LtcCell::unfold_params).
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

/// Everything the unfold takes.
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
                "LTC unfold: `{name}` has shape {actual:?}, expected {expected:?}"
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
        assert!(p.unfolds > 0, "LTC unfold: `unfolds` is 0, expected ≥ 1");
        (batch, seq, s, n)
    }

    /// The 13 differentiable inputs in the kernels' parent order — `x`, `v0`, `cm_t`, the
    /// recurrent `w`, `sigma`, `mu`, `erev`, the sensory `w`, `sigma`, `mu`, `erev`, `gleak`,
    /// `gleak_vleak` — and the constants.
    pub(crate) fn into_parts(self) -> ([Primitive<B>; 13], UnfoldConstants<B>) {
        let sizes = self.sizes();
        let p = self.params;
        fn prim<B: Backend, const D: usize>(t: Tensor<B, D>) -> Primitive<B> {
            t.into_primitive().tensor()
        }
        let four = |s: SynapseTensors<B>| [prim(s.w), prim(s.sigma), prim(s.mu), prim(s.erev)];
        let parents = Parents {
            x: prim(self.x),
            v0: prim(self.v0),
            cm_t: prim(self.cm_t),
            recurrent: four(p.recurrent),
            sensory: four(p.sensory),
            gleak: prim(p.gleak),
            gleak_vleak: prim(p.gleak_vleak),
        }
        .into_array();
        let constants = UnfoldConstants {
            sizes,
            recurrent_mask: p.recurrent_mask,
            sensory_mask: p.sensory_mask,
            unfolds: p.unfolds,
            epsilon: p.epsilon,
        };
        (parents, constants)
    }
}

/// The 13 differentiable inputs of the unfold by name (tensors, their values or their
/// gradients), and in the kernels' parent order as an array.
#[derive(Debug, Clone)]
pub(crate) struct Parents<T> {
    pub(crate) x: T,
    pub(crate) v0: T,
    pub(crate) cm_t: T,
    /// `w`, `sigma`, `mu`, `erev`.
    pub(crate) recurrent: [T; 4],
    /// `w`, `sigma`, `mu`, `erev`.
    pub(crate) sensory: [T; 4],
    pub(crate) gleak: T,
    pub(crate) gleak_vleak: T,
}

impl<T> Parents<T> {
    /// From the parent order.
    pub(crate) fn from_array(
        [
            x,
            v0,
            cm_t,
            rw,
            rsigma,
            rmu,
            rerev,
            sw,
            ssigma,
            smu,
            serev,
            gleak,
            gleak_vleak,
        ]: [T; 13],
    ) -> Self {
        Parents {
            x,
            v0,
            cm_t,
            recurrent: [rw, rsigma, rmu, rerev],
            sensory: [sw, ssigma, smu, serev],
            gleak,
            gleak_vleak,
        }
    }

    /// In the parent order.
    pub(crate) fn into_array(self) -> [T; 13] {
        let [rw, rsigma, rmu, rerev] = self.recurrent;
        let [sw, ssigma, smu, serev] = self.sensory;
        [
            self.x,
            self.v0,
            self.cm_t,
            rw,
            rsigma,
            rmu,
            rerev,
            sw,
            ssigma,
            smu,
            serev,
            self.gleak,
            self.gleak_vleak,
        ]
    }
}

/// What a kernel takes besides its 13 differentiable inputs.
#[derive(Debug, Clone)]
pub(crate) struct UnfoldConstants<B: Backend> {
    /// `(batch, seq, input, units)`.
    pub(crate) sizes: (usize, usize, usize, usize),
    pub(crate) recurrent_mask: Tensor<B, 2>,
    pub(crate) sensory_mask: Tensor<B, 2>,
    pub(crate) unfolds: usize,
    pub(crate) epsilon: f64,
}

impl<B: Backend> UnfoldConstants<Autodiff<B>> {
    /// The constants on the inner backend.
    pub(crate) fn inner(self) -> UnfoldConstants<B> {
        UnfoldConstants {
            sizes: self.sizes,
            recurrent_mask: self.recurrent_mask.inner(),
            sensory_mask: self.sensory_mask.inner(),
            unfolds: self.unfolds,
            epsilon: self.epsilon,
        }
    }
}

/// A kernel's output as a tensor.
pub(crate) fn output<B: Backend>(t: Primitive<B>) -> Tensor<B, 3> {
    Tensor::from_primitive(TensorPrimitive::Float(t))
}

/// The LTC unfold loop over a sequence: the potentials after every step, `[batch, seq,
/// units]`, where backend `B` has a kernel that takes these inputs; `None` elsewhere (run
/// [`crate::ltc::unfold_plain`] then).
///
/// # Panics
/// If the shapes of `inputs` disagree (naming the input, its expected and actual shape).
pub fn unfold<B: Backend>(inputs: UnfoldInputs<B>) -> Option<Tensor<B, 3>> {
    inputs.sizes();
    lookup::<LtcUnfold, B>()?(inputs)
}
