//! The fused CfC sequence: a whole sequence of a [`CfcCell`](super::CfcCell) as one operation
//! on the ndarray backends (forward, and a backpropagation-through-time backward as one
//! autodiff node), from the [`cpu`] kernel. Every other backend, and every configuration the
//! kernel does not cover, runs the cell step by step on the plain tensor path, which is the
//! reference the kernel is tested against.

use core::marker::PhantomData;
use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::{Autodiff, NdArray};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData, TensorPrimitive};

use crate::ltc::fused::ndarray::{NdFloat, values};
use crate::ltc::fused::{same_backend, with_fused_backend};

pub(crate) mod cpu;
#[cfg(test)]
mod tests;

use cpu::{Act, Dims, Float, Mode, Problem};

/// One fused CfC run: the inputs as tensors, the sizes and the cell's constants.
#[derive(Debug, Clone)]
pub(crate) struct FusedCfc<B: Backend> {
    /// `[batch, seq, input]`.
    pub(crate) x: Tensor<B, 3>,
    /// `[batch, hidden]`.
    pub(crate) h0: Tensor<B, 2>,
    /// Elapsed times, `[batch, seq]`.
    pub(crate) dt: Option<Tensor<B, 2>>,
    /// The parameters.
    pub(crate) params: Params<B>,
    pub(crate) dims: Dims,
    pub(crate) mode: Mode,
    pub(crate) act: Act,
}

impl<B: Backend> FusedCfc<B> {
    fn cast<C: Backend>(self) -> FusedCfc<C> {
        FusedCfc {
            x: same_backend(self.x),
            h0: same_backend(self.h0),
            dt: self.dt.map(same_backend),
            params: self.params.cast(),
            dims: self.dims,
            mode: self.mode,
            act: self.act,
        }
    }
}

/// A cell's parameters as the kernel applies them (heads already masked).
#[derive(Debug, Clone)]
pub(crate) struct Params<B: Backend> {
    /// Per backbone layer, weight `[in, out]` and bias `[out]`.
    pub(crate) backbone: Vec<(Tensor<B, 2>, Tensor<B, 1>)>,
    /// `ff1`, and unless in pure mode `ff2`, `time_a`, `time_b`: weight `[d, hidden]`, bias
    /// `[hidden]`.
    pub(crate) heads: Vec<(Tensor<B, 2>, Tensor<B, 1>)>,
    /// Pure mode's `w_tau` and `A`, `[1, hidden]` each.
    pub(crate) pure: Option<(Tensor<B, 2>, Tensor<B, 2>)>,
}

impl<B: Backend> Params<B> {
    fn cast<C: Backend>(self) -> Params<C> {
        let pair = |(w, b): (Tensor<B, 2>, Tensor<B, 1>)| (same_backend(w), same_backend(b));
        Params {
            backbone: self.backbone.into_iter().map(pair).collect(),
            heads: self.heads.into_iter().map(pair).collect(),
            pure: self.pure.map(|(w, a)| (same_backend(w), same_backend(a))),
        }
    }

    /// One vector laid out by [`cpu::Layout`], by tensor operations (differentiable).
    pub(crate) fn flat(self) -> Tensor<B, 1> {
        let flat = |t: Tensor<B, 2>| t.reshape([-1]);
        let mut parts = Vec::with_capacity(2 * self.backbone.len() + 4);
        for (w, b) in self.backbone {
            parts.push(flat(w));
            parts.push(b);
        }
        let (weights, biases): (Vec<_>, Vec<_>) = self.heads.into_iter().unzip();
        parts.push(flat(Tensor::cat(weights, 1)));
        parts.push(Tensor::cat(biases, 0));
        if let Some((w_tau, a)) = self.pure {
            parts.push(flat(w_tau));
            parts.push(flat(a));
        }
        Tensor::cat(parts, 0)
    }

    /// The same vector as [`flat`](Self::flat), assembled from each parameter's values (one
    /// copy each: Burn's `cat` on ndarray copies element by element through dynamic-rank
    /// iterators, which costs more than a whole B=1 step).
    fn values<F: NdFloat>(self) -> Vec<F> {
        let len = |shape: &[usize]| shape.iter().product::<usize>();
        let pairs = self.backbone.iter().chain(&self.heads);
        let total = pairs
            .map(|(w, b)| len(&w.dims()) + len(&b.dims()))
            .sum::<usize>()
            + self
                .pure
                .as_ref()
                .map_or(0, |(w, a)| len(&w.dims()) + len(&a.dims()));
        // One allocation: growing a vector of this size re-maps and faults in fresh pages at
        // every doubling, which costs more than a B=1 step's arithmetic.
        let mut theta = Vec::with_capacity(total);
        for (w, b) in self.backbone {
            theta.extend(values::<B, F, 2>(w));
            theta.extend(values::<B, F, 1>(b));
        }
        let (weights, biases): (Vec<_>, Vec<_>) = self.heads.into_iter().unzip();
        let width = weights.first().map_or(0, |w| w.dims()[1]);
        let weights: Vec<Vec<F>> = weights.into_iter().map(values).collect();
        let rows = weights.first().map_or(0, |w| w.len() / width.max(1));
        for r in 0..rows {
            for w in &weights {
                theta.extend_from_slice(&w[r * width..(r + 1) * width]);
            }
        }
        for b in biases {
            theta.extend(values::<B, F, 1>(b));
        }
        if let Some((w_tau, a)) = self.pure {
            theta.extend(values::<B, F, 2>(w_tau));
            theta.extend(values::<B, F, 2>(a));
        }
        theta
    }
}

/// Whether [`run`] has a kernel for backend `B`.
pub(crate) fn has_fused<B: Backend>() -> bool {
    crate::ltc::fused::has_cpu_kernel::<B>()
}

/// The states after every step, `[batch, seq, hidden]`, where `B` has a kernel; `None`
/// otherwise.
pub(crate) fn run<B: Backend>(inputs: FusedCfc<B>) -> Option<Tensor<B, 3>> {
    with_fused_backend!(B, C => Some(same_backend(C::fused_cfc(inputs.cast::<C>()))));
    None
}

/// The backends with a fused CfC kernel (the same as the LTC's).
trait FusedCfcBackend: Backend {
    fn fused_cfc(inputs: FusedCfc<Self>) -> Tensor<Self, 3>;
}

/// The inputs of a run as owned vectors.
#[derive(Debug)]
struct Owned<F> {
    dims: Dims,
    mode: Mode,
    act: Act,
    x: Vec<F>,
    h0: Vec<F>,
    dt: Option<Vec<F>>,
    theta: Vec<F>,
}

impl<F: NdFloat + Float> Owned<F> {
    fn new<B: Backend>(inputs: FusedCfc<B>) -> Self {
        Owned {
            dims: inputs.dims,
            mode: inputs.mode,
            act: inputs.act,
            x: values(inputs.x),
            h0: values(inputs.h0),
            dt: inputs.dt.map(values),
            theta: inputs.params.values(),
        }
    }

    fn problem(&self) -> Problem<'_, F> {
        Problem {
            dims: self.dims,
            mode: self.mode,
            act: self.act,
            x: &self.x,
            h0: &self.h0,
            dt: self.dt.as_deref(),
            theta: &self.theta,
        }
    }

    fn output<B: Backend>(&self, fwd: &cpu::Forward<F>) -> Tensor<B, 3> {
        let d = self.dims;
        Tensor::from_data(
            TensorData::new(fwd.outputs(d), [d.batch, d.seq, d.hidden]),
            &Default::default(),
        )
    }
}

macro_rules! plain {
    ($F:ty) => {
        impl FusedCfcBackend for NdArray<$F> {
            fn fused_cfc(inputs: FusedCfc<Self>) -> Tensor<Self, 3> {
                let owned = Owned::<$F>::new(inputs);
                let fwd = cpu::forward(&owned.problem());
                owned.output(&fwd)
            }
        }
    };
}

plain!(f32);
plain!(f64);

/// What the backward pass keeps: the inputs and the forward's activations.
#[derive(Debug)]
struct Saved<F> {
    owned: Owned<F>,
    forward: cpu::Forward<F>,
}

/// The autodiff node of a fused CfC run; its parents are `x`, `h0`, `dt` (a constant `[1, 1]`
/// stand-in without elapsed times) and `theta`.
#[derive(Debug)]
struct CfcBackward<F>(PhantomData<F>);

impl<B: Backend, F: NdFloat + Float> Backward<B, 4> for CfcBackward<F> {
    type State = Arc<Saved<F>>;

    fn backward(
        self,
        ops: Ops<Self::State, 4>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let saved = ops.state;
        let grad = grads.consume::<B>(&ops.node);
        let grad: Vec<F> = values(Tensor::<B, 3>::from_primitive(TensorPrimitive::Float(grad)));
        let owned = &saved.owned;
        let want_x = ops.parents[0].is_some();
        let g = cpu::backward(&owned.problem(), &saved.forward, &grad, want_x);
        let d = owned.dims;
        let all = [
            (g.x, vec![d.batch, d.seq, d.inputs]),
            (g.h0, vec![d.batch, d.hidden]),
            (g.dt, vec![d.batch, d.seq]),
            (g.theta, vec![owned.theta.len()]),
        ];
        let device = Default::default();
        for (parent, (values, shape)) in ops.parents.iter().zip(all) {
            if let Some(parent) = parent
                && !values.is_empty()
            {
                let grad = B::float_from_data(TensorData::new(values, shape), &device);
                grads.register::<B>(parent.id, grad);
            }
        }
    }
}

/// The fused run on `Autodiff<B>` (`B` an ndarray backend of float type `F`).
fn tracked<B: Backend, F: NdFloat + Float>(
    inputs: FusedCfc<Autodiff<B>>,
) -> Tensor<Autodiff<B>, 3> {
    let x = inputs.x.into_primitive().tensor();
    let h0 = inputs.h0.into_primitive().tensor();
    let has_dt = inputs.dt.is_some();
    let dt = inputs
        .dt
        .unwrap_or_else(|| Tensor::ones([1, 1], &Default::default()))
        .into_primitive()
        .tensor();
    let theta = inputs.params.flat().into_primitive().tensor();
    let nodes = [
        x.node.clone(),
        h0.node.clone(),
        dt.node.clone(),
        theta.node.clone(),
    ];
    fn inner<B: Backend, const D: usize>(t: B::FloatTensorPrimitive) -> Tensor<B, D> {
        Tensor::from_primitive(TensorPrimitive::Float(t))
    }
    let owned = Owned::<F> {
        dims: inputs.dims,
        mode: inputs.mode,
        act: inputs.act,
        x: values(inner::<B, 3>(x.primitive)),
        h0: values(inner::<B, 2>(h0.primitive)),
        dt: has_dt.then(|| values(inner::<B, 2>(dt.primitive))),
        theta: values(inner::<B, 1>(theta.primitive)),
    };
    let forward = cpu::forward(&owned.problem());
    let out = owned.output::<B>(&forward).into_primitive().tensor();
    let out = match CfcBackward::<F>(PhantomData)
        .prepare::<NoCheckpointing>(nodes)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(Arc::new(Saved { owned, forward }), out),
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

impl FusedCfcBackend for Autodiff<NdArray<f32>> {
    fn fused_cfc(inputs: FusedCfc<Self>) -> Tensor<Self, 3> {
        tracked::<NdArray<f32>, f32>(inputs)
    }
}

impl FusedCfcBackend for Autodiff<NdArray<f64>> {
    fn fused_cfc(inputs: FusedCfc<Self>) -> Tensor<Self, 3> {
        tracked::<NdArray<f64>, f64>(inputs)
    }
}
