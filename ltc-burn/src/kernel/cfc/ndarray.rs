//! The CPU kernel of [`super::cpu`] as a Burn operation on the ndarray backends: the
//! sequence's four inputs `x`, `h0`, `timespans` (a constant stand-in without them) and the
//! flat parameters; its backward is one autodiff node.

use burn::backend::{Autodiff, NdArray};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData, TensorPrimitive};

use super::cpu::{self, Act, CfcDims, CfcForward, CfcProblem, Mode};
use super::{CfcParams, SequenceInputs};
use crate::kernel::autodiff::{Primitive, apply};
use crate::kernel::cpu::linalg::Float;
use crate::kernel::cpu::slices::{NdFloat, SliceKernel, Sliced, values};

/// The sequence on slices: the sizes and constants of one call; its inputs arrive as `x`,
/// `h0`, `timespans`, `theta`.
#[derive(Debug)]
pub(crate) struct SequenceSlices {
    dims: CfcDims,
    mode: Mode,
    act: Act,
    /// Whether the third input holds timespans (or is a stand-in).
    timespans: bool,
}

impl SequenceSlices {
    fn problem<'a, F>(&self, [x, h0, dt, theta]: &'a [Vec<F>; 4]) -> CfcProblem<'a, F> {
        CfcProblem {
            dims: self.dims,
            mode: self.mode,
            act: self.act,
            x,
            h0,
            dt: self.timespans.then_some(dt.as_slice()),
            theta,
        }
    }
}

impl<F: NdFloat + Float> SliceKernel<F, 4> for SequenceSlices {
    type Tape = CfcForward<F>;

    fn forward(
        &self,
        inputs: &[Vec<F>; 4],
        save: bool,
    ) -> (Vec<F>, Vec<usize>, Option<Self::Tape>) {
        let d = self.dims;
        let forward = cpu::forward(&self.problem(inputs));
        let out = forward.outputs(d);
        (out, vec![d.batch, d.seq, d.hidden], save.then_some(forward))
    }

    fn backward(
        &self,
        inputs: &[Vec<F>; 4],
        tape: &Self::Tape,
        grad: &[F],
        [want_x, ..]: [bool; 4],
    ) -> [Vec<F>; 4] {
        let g = cpu::backward(&self.problem(inputs), tape, grad, want_x);
        [g.x, g.h0, g.dt, g.theta]
    }
}

impl<B: Backend> CfcParams<B> {
    /// The same vector as [`flat`](Self::flat), assembled from each parameter's values (one
    /// copy each: Burn's `cat` on ndarray copies element by element through dynamic-rank
    /// iterators, which costs more than a whole B=1 step). `B` is an ndarray backend.
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
        let of = |t: Primitive<B>| values::<B, F>(t);
        // One allocation: growing a vector of this size re-maps and faults in fresh pages at
        // every doubling, which costs more than a B=1 step's arithmetic.
        let mut theta = Vec::with_capacity(total);
        for (w, b) in self.backbone {
            theta.extend(of(w.into_primitive().tensor()));
            theta.extend(of(b.into_primitive().tensor()));
        }
        let (weights, biases): (Vec<_>, Vec<_>) = self.heads.into_iter().unzip();
        let width: usize = weights.first().map_or(0, |w| w.dims()[1]);
        let weights: Vec<Vec<F>> = weights
            .into_iter()
            .map(|w| of(w.into_primitive().tensor()))
            .collect();
        let rows: usize = weights
            .first()
            .map_or(0, |w| w.len() / usize::max(width, 1));
        for r in 0..rows {
            for w in &weights {
                theta.extend_from_slice(&w[r * width..(r + 1) * width]);
            }
        }
        for b in biases {
            theta.extend(of(b.into_primitive().tensor()));
        }
        if let Some((w_tau, a)) = self.pure {
            theta.extend(of(w_tau.into_primitive().tensor()));
            theta.extend(of(a.into_primitive().tensor()));
        }
        theta
    }
}

impl<B: Backend> SequenceInputs<B> {
    fn kernel(&self) -> SequenceSlices {
        SequenceSlices {
            dims: self.dims,
            mode: self.mode,
            act: self.act,
            timespans: self.timespans.is_some(),
        }
    }
}

/// The registered implementations on `NdArray<$F>` and `Autodiff<NdArray<$F>>`.
macro_rules! registered {
    ($F:ty, $plain:ident, $tracked:ident) => {
        pub(crate) fn $plain(
            inputs: SequenceInputs<NdArray<$F>>,
        ) -> Option<Tensor<NdArray<$F>, 3>> {
            type B = NdArray<$F>;
            let kernel = inputs.kernel();
            let of = |t: Primitive<B>| values::<B, $F>(t);
            let dt = inputs
                .timespans
                .map_or_else(Vec::new, |t| of(t.into_primitive().tensor()));
            let all = [
                of(inputs.x.into_primitive().tensor()),
                of(inputs.h0.into_primitive().tensor()),
                dt,
                inputs.params.values(),
            ];
            let (out, shape, _) = SliceKernel::<$F, 4>::forward(&kernel, &all, false);
            Some(Tensor::from_data(
                TensorData::new(out, shape),
                &Default::default(),
            ))
        }

        pub(crate) fn $tracked(
            inputs: SequenceInputs<Autodiff<NdArray<$F>>>,
        ) -> Option<Tensor<Autodiff<NdArray<$F>>, 3>> {
            let kernel = inputs.kernel();
            let device = inputs.x.device();
            let timespans = inputs
                .timespans
                .unwrap_or_else(|| Tensor::ones([1, 1], &device));
            let parents = [
                inputs.x.into_primitive().tensor(),
                inputs.h0.into_primitive().tensor(),
                timespans.into_primitive().tensor(),
                inputs.params.flat().into_primitive().tensor(),
            ];
            let out = apply(Sliced::<$F, _>::new(kernel), parents);
            Some(Tensor::from_primitive(TensorPrimitive::Float(out)))
        }
    };
}

registered!(f32, sequence_f32, sequence_tracked_f32);
registered!(f64, sequence_f64, sequence_tracked_f64);
