//! The fused unfold on burn-ndarray: the CPU kernel of [`super::cpu`] behind Burn tensors, and
//! its autodiff node, whose backward recomputes the synapse activations from the potentials
//! the forward saved.

use core::any::Any;
use core::marker::PhantomData;
use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::ndarray::NdArrayTensor;
use burn::backend::{Autodiff, NdArray};
use burn::tensor::backend::Backend;
use burn::tensor::{Element, Tensor, TensorData, TensorPrimitive};

use super::cpu::{self, Problem, Real, SynapseParams, Synapses};
use super::{FusedUnfold, UnfoldInputs, UnfoldKernel, tracked};

/// The inputs of one fused unfold as owned vectors: what the kernel reads, and what the
/// backward pass keeps.
#[derive(Debug)]
struct Owned<F> {
    sizes: [usize; 5],
    x: Vec<F>,
    v0: Vec<F>,
    cm_t: Vec<F>,
    recurrent: [Vec<F>; 4],
    recurrent_synapses: Synapses,
    sensory: [Vec<F>; 4],
    sensory_synapses: Synapses,
    gleak: Vec<F>,
    gleak_vleak: Vec<F>,
    epsilon: F,
}

/// The float types of the ndarray kernels: `f32` and `f64`.
pub(crate) trait NdFloat: Real + Element {
    /// A copy of the values of `t`, when its storage holds `Self` (row-major order).
    fn copy_of(t: &NdArrayTensor) -> Option<Vec<Self>>;
}

macro_rules! nd_float {
    ($F:ty, $variant:ident) => {
        impl NdFloat for $F {
            fn copy_of(t: &NdArrayTensor) -> Option<Vec<Self>> {
                match t {
                    NdArrayTensor::$variant(storage) => {
                        let view = storage.view();
                        // One copy of a contiguous array; element by element otherwise.
                        Some(
                            view.as_slice()
                                .map_or_else(|| view.iter().copied().collect(), <[_]>::to_vec),
                        )
                    }
                    _ => None,
                }
            }
        }
    };
}

nd_float!(f32, F32);
nd_float!(f64, F64);

/// A tensor's values (the backend's float type is `F`). On burn-ndarray the array is read
/// directly: `into_data` copies a shared array (a parameter the module also holds) element by
/// element through a dynamic-rank iterator, which costs more than the kernel itself for one
/// step of batch 1.
pub(crate) fn values<B: Backend, F: NdFloat, const D: usize>(t: Tensor<B, D>) -> Vec<F> {
    let primitive: Box<dyn Any> = Box::new(t.into_primitive().tensor());
    match primitive.downcast::<NdArrayTensor>() {
        Ok(nd) => match F::copy_of(&nd) {
            Some(values) => values,
            None => into_vec(Tensor::<NdArray, D>::from_primitive(
                TensorPrimitive::Float(*nd),
            )),
        },
        Err(other) => {
            let other = other
                .downcast::<B::FloatTensorPrimitive>()
                .expect("the primitive of B");
            into_vec(Tensor::<B, D>::from_primitive(TensorPrimitive::Float(
                *other,
            )))
        }
    }
}

/// A tensor's values in `F`, row-major, on any backend (through `into_data`).
pub(crate) fn into_vec<B: Backend, F: Element, const D: usize>(t: Tensor<B, D>) -> Vec<F> {
    t.into_data()
        .convert::<F>()
        .into_vec::<F>()
        .expect("converted to the kernel's float type")
}

impl<F: NdFloat> Owned<F> {
    fn new<B: Backend>(inputs: UnfoldInputs<B>) -> Self {
        let (batch, seq, s, n) = inputs.sizes();
        let UnfoldInputs {
            x,
            v0,
            cm_t,
            params: p,
        } = inputs;
        let four = |t: super::SynapseTensors<B>| {
            [values(t.w), values(t.sigma), values(t.mu), values(t.erev)]
        };
        Owned {
            sizes: [batch, seq, s, n, p.unfolds],
            x: values(x),
            v0: values(v0),
            cm_t: values(cm_t),
            recurrent_synapses: Synapses::from_mask::<F>(&values(p.recurrent_mask), n),
            recurrent: four(p.recurrent),
            sensory_synapses: Synapses::from_mask::<F>(&values(p.sensory_mask), n),
            sensory: four(p.sensory),
            gleak: values(p.gleak),
            gleak_vleak: values(p.gleak_vleak),
            epsilon: F::from_f64(p.epsilon),
        }
    }

    fn problem(&self) -> Problem<'_, F> {
        let [batch, seq, inputs, units, unfolds] = self.sizes;
        Problem {
            batch,
            seq,
            units,
            inputs,
            unfolds,
            x: &self.x,
            v0: &self.v0,
            cm_t: &self.cm_t,
            recurrent: SynapseParams::from_arrays(&self.recurrent),
            recurrent_synapses: &self.recurrent_synapses,
            sensory: SynapseParams::from_arrays(&self.sensory),
            sensory_synapses: &self.sensory_synapses,
            gleak: &self.gleak,
            gleak_vleak: &self.gleak_vleak,
            epsilon: self.epsilon,
        }
    }

    /// The shapes of the 13 differentiable inputs, in [`UnfoldBackward`]'s parent order.
    fn shapes(&self) -> [Vec<usize>; 13] {
        let [batch, seq, s, n, _] = self.sizes;
        let cm_t = if self.cm_t.len() == n {
            vec![1, 1, n]
        } else {
            vec![batch, seq, n]
        };
        let square = || vec![n, n];
        let sensory = || vec![s, n];
        [
            vec![batch, seq, s],
            vec![batch, n],
            cm_t,
            square(),
            square(),
            square(),
            square(),
            sensory(),
            sensory(),
            sensory(),
            sensory(),
            vec![n],
            vec![n],
        ]
    }
}

/// The kernel's output as a tensor, `[batch, seq, units]`.
fn output<B: Backend, F: Element>(v: Vec<F>, owned_sizes: [usize; 5]) -> Tensor<B, 3> {
    let [batch, seq, _, n, _] = owned_sizes;
    Tensor::from_data(TensorData::new(v, [batch, seq, n]), &Default::default())
}

macro_rules! plain {
    ($F:ty) => {
        impl FusedUnfold for NdArray<$F> {
            fn fused_unfold(inputs: UnfoldInputs<Self>) -> Tensor<Self, 3> {
                let owned = Owned::<$F>::new(inputs);
                let fwd = cpu::forward(&owned.problem());
                output(fwd.v, owned.sizes)
            }
        }
    };
}

plain!(f32);
plain!(f64);

/// What the backward pass keeps: the inputs and the forward's per-unfold potentials and
/// denominators (no synapse activations).
#[derive(Debug)]
struct Saved<F> {
    owned: Owned<F>,
    forward: cpu::Forward<F>,
}

/// The autodiff node of the fused unfold; its 13 parents are `x`, `v0`, `cm_t`, the recurrent
/// `w`, `sigma`, `mu`, `erev`, the sensory `w`, `sigma`, `mu`, `erev`, `gleak` and
/// `gleak_vleak` (the masks are constants).
///
/// `B` is the inner backend, `F` its float type.
#[derive(Debug)]
struct UnfoldBackward<F>(PhantomData<F>);

impl<B: Backend, F: NdFloat> Backward<B, 13> for UnfoldBackward<F> {
    type State = Arc<Saved<F>>;

    fn backward(
        self,
        ops: Ops<Self::State, 13>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let saved = ops.state;
        let grad_v = grads.consume::<B>(&ops.node);
        let grad_v: Vec<F> = values(Tensor::<B, 3>::from_primitive(TensorPrimitive::Float(
            grad_v,
        )));
        let g = cpu::backward(&saved.owned.problem(), &saved.forward, &grad_v);
        let [rw, rsigma, rmu, rerev] = g.recurrent;
        let [sw, ssigma, smu, serev] = g.sensory;
        let all = [
            g.x,
            g.v0,
            g.cm_t,
            rw,
            rsigma,
            rmu,
            rerev,
            sw,
            ssigma,
            smu,
            serev,
            g.gleak,
            g.gleak_vleak,
        ];
        let device = Default::default();
        for ((parent, values), shape) in ops.parents.iter().zip(all).zip(saved.owned.shapes()) {
            if let Some(parent) = parent {
                // The gradient primitive in the parent's shape, whatever its rank.
                let grad = B::float_from_data(TensorData::new(values, shape), &device);
                grads.register::<B>(parent.id, grad);
            }
        }
    }
}

impl<B: Backend, F: NdFloat> UnfoldKernel<B> for UnfoldBackward<F> {
    fn run(inputs: UnfoldInputs<B>, save: bool) -> (Tensor<B, 3>, Option<Self::State>) {
        let owned = Owned::<F>::new(inputs);
        let forward = cpu::forward(&owned.problem());
        if save {
            let out = output::<B, F>(forward.v.clone(), owned.sizes);
            (out, Some(Arc::new(Saved { owned, forward })))
        } else {
            (output::<B, F>(forward.v, owned.sizes), None)
        }
    }
}

impl FusedUnfold for Autodiff<NdArray<f32>> {
    fn fused_unfold(inputs: UnfoldInputs<Self>) -> Tensor<Self, 3> {
        tracked(inputs, UnfoldBackward::<f32>(PhantomData))
    }
}

impl FusedUnfold for Autodiff<NdArray<f64>> {
    fn fused_unfold(inputs: UnfoldInputs<Self>) -> Tensor<Self, 3> {
        tracked(inputs, UnfoldBackward::<f64>(PhantomData))
    }
}
