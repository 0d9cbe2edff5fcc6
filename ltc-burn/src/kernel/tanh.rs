//! `tanh`, element-wise, on `NdArray<f32>`: burn-ndarray computes an f32 `tanh` through
//! libm's f64 `tanh` (about 100 instructions an element under callgrind, 18 % of the Neural
//! ODE benchmark's instructions); this kernel runs Cephes' branch-free f32 `tanh`
//! ([`Real::tanh`], within 2 ulp) vectorised in the copy compiled for
//! this CPU, and differentiates as `g·(1 − y²)` from the saved output. `f64` keeps Burn's
//! (already a native f64 `tanh`).

use burn::backend::{Autodiff, NdArray};
use burn::tensor::TensorMetadata;
use burn::tensor::backend::Backend;
use burn::tensor::ops::{FloatTensor, FloatTensorOps};

use super::Kernel;
use super::autodiff::{Primitive, apply};
use super::cpu::isa::{self, per_isa};
use super::cpu::slices::{SliceKernel, Sliced, values};
use super::cpu::{MulAdd, Real};

/// `tanh` of a float tensor of any rank, as its primitive.
#[derive(Debug)]
pub struct Tanh;

impl Kernel for Tanh {
    const NAME: &'static str = "tanh";
    type Input<B: Backend> = FloatTensor<B>;
    type Output<B: Backend> = FloatTensor<B>;
}

/// `out[i] = tanh(x[i])`; a NaN stays NaN (Cephes' form would give ±1, hiding a non-finite
/// state from the ODE solver's check). `M` is not used (Cephes' polynomial makes no separate
/// multiply-adds); the copy per instruction set still vectorises the loop for its registers.
#[inline(always)]
#[allow(clippy::extra_unused_type_parameters)]
fn tanh_all<F: Real, M: MulAdd>(x: &[F], out: &mut [F]) {
    for (o, &x) in out.iter_mut().zip(x) {
        let y = F::tanh(x);
        #[allow(clippy::eq_op)]
        let nan = x != x;
        *o = if nan { x } else { y };
    }
}

per_isa! {
    /// [`tanh_all`] in the copy compiled for `isa`.
    fn tanh_all_on = tanh_all(x: &[F], out: &mut [F]);
}

/// The element-wise `tanh` on slices, of a tensor of this shape.
#[derive(Debug)]
struct TanhSlices {
    shape: Vec<usize>,
}

impl SliceKernel<f32, 1> for TanhSlices {
    /// The output, `y = tanh(x)`.
    type Tape = Vec<f32>;

    fn forward(&self, [x]: &[Vec<f32>; 1], save: bool) -> (Vec<f32>, Vec<usize>, Option<Vec<f32>>) {
        let mut y = vec![0.0; x.len()];
        tanh_all_on(isa::isa(), x, &mut y);
        let tape = save.then(|| y.clone());
        (y, self.shape.clone(), tape)
    }

    fn backward(
        &self,
        _: &[Vec<f32>; 1],
        y: &Vec<f32>,
        grad: &[f32],
        _: [bool; 1],
    ) -> [Vec<f32>; 1] {
        [grad.iter().zip(y).map(|(g, y)| g * (1.0 - y * y)).collect()]
    }
}

/// The registered implementation on `NdArray<f32>`.
pub(crate) fn tanh_f32(x: Primitive<NdArray<f32>>) -> Option<Primitive<NdArray<f32>>> {
    let kernel = TanhSlices {
        shape: x.shape().to_vec(),
    };
    let values = [values::<NdArray<f32>, f32>(x)];
    let (y, shape, _) = kernel.forward(&values, false);
    Some(NdArray::<f32>::float_from_data(
        burn::tensor::TensorData::new(y, shape),
        &Default::default(),
    ))
}

/// The registered implementation on `Autodiff<NdArray<f32>>`: one graph node.
pub(crate) fn tanh_tracked_f32(
    x: Primitive<Autodiff<NdArray<f32>>>,
) -> Option<Primitive<Autodiff<NdArray<f32>>>> {
    let kernel = TanhSlices {
        shape: x.primitive.shape().to_vec(),
    };
    Some(apply(Sliced::<f32, _>::new(kernel), [x]))
}

#[cfg(test)]
mod tests;
