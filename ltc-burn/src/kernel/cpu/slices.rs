//! CPU kernels written on plain slices, made Burn operations on the ndarray backends.
//!
//! A `SliceKernel` reads its `N` inputs as row-major values and writes its output as values;
//! `Sliced` makes it a custom autodiff operation of `NdArray<f32>` and `NdArray<f64>`, so that
//! the kernel layer's `autodiff::apply` puts it in `Autodiff`'s graph with the
//! kernel's own backward. Reading a tensor's values (`values`, [`into_vec`]) lives here too.

use core::any::Any;
use core::fmt::Debug;
use std::sync::Arc;

use burn::backend::NdArray;
use burn::backend::ndarray::NdArrayTensor;
use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensorOps;
use burn::tensor::{Element, Tensor, TensorData, TensorMetadata};

use super::math::Real;
use crate::kernel::autodiff::{CustomOp, Primitive};

/// The float types of the ndarray kernels: `f32` and `f64`.
pub trait NdFloat: Real + Element + sealed::Sealed {
    /// A copy of the values of an ndarray float tensor, row-major, in `Self` (converted when the
    /// tensor holds the other float type).
    ///
    /// # Panics
    /// If the tensor does not hold floats.
    fn copy_of(t: &NdArrayTensor) -> Vec<Self>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// The values of an ndarray storage, one copy of a contiguous array, element by element
/// otherwise.
macro_rules! copy_storage {
    ($storage:expr, $convert:expr) => {{
        let view = $storage.view();
        match view.as_slice() {
            Some(slice) => slice.iter().map($convert).collect(),
            None => view.iter().map($convert).collect(),
        }
    }};
}

macro_rules! nd_float {
    ($F:ty, $same:ident, $other:ident) => {
        impl NdFloat for $F {
            fn copy_of(t: &NdArrayTensor) -> Vec<Self> {
                match t {
                    NdArrayTensor::$same(storage) => {
                        let view = storage.view();
                        view.as_slice()
                            .map_or_else(|| view.iter().copied().collect(), <[_]>::to_vec)
                    }
                    NdArrayTensor::$other(storage) => {
                        copy_storage!(storage, |x: &_| Self::from_f64(f64::from(*x)))
                    }
                    other => panic!("a CPU kernel read a {:?} tensor as floats", other.dtype()),
                }
            }
        }
    };
}

nd_float!(f32, F32, F64);
nd_float!(f64, F64, F32);

/// A float tensor's values on an ndarray backend, row-major. The array is read directly:
/// `into_data` copies a shared array (a parameter the module also holds) element by element
/// through a dynamic-rank iterator, which costs more than the kernel itself for one step of
/// batch 1.
///
/// # Panics
/// If `B` is not an ndarray backend.
pub(crate) fn values<B: Backend, F: NdFloat>(t: Primitive<B>) -> Vec<F> {
    let any: Box<dyn Any> = Box::new(t);
    match any.downcast::<NdArrayTensor>() {
        Ok(nd) => F::copy_of(&nd),
        Err(_) => panic!(
            "CPU kernels read ndarray tensors, not those of {}",
            core::any::type_name::<B>()
        ),
    }
}

/// A tensor's values in `F`, row-major, on any backend (through `into_data`).
pub fn into_vec<B: Backend, F: Element, const D: usize>(t: Tensor<B, D>) -> Vec<F> {
    t.into_data()
        .convert::<F>()
        .into_vec::<F>()
        .expect("converted to the kernel's float type")
}

/// A kernel on plain slices with its own backward pass: `N` inputs, one output.
pub(crate) trait SliceKernel<F, const N: usize>: Send + Sync + Debug + 'static {
    /// What the forward keeps for the backward, beside the inputs.
    type Tape: Send + Sync + Debug + 'static;

    /// The output's values and shape, and (when `save` is set) the tape.
    fn forward(&self, inputs: &[Vec<F>; N], save: bool)
    -> (Vec<F>, Vec<usize>, Option<Self::Tape>);

    /// The gradient of every `wanted` input from the output's gradient `grad`, as values in
    /// the input's layout; empty for the others (and for an input that gets no gradient).
    fn backward(
        &self,
        inputs: &[Vec<F>; N],
        tape: &Self::Tape,
        grad: &[F],
        wanted: [bool; N],
    ) -> [Vec<F>; N];
}

/// A [`SliceKernel`] as a [`CustomOp`] of the ndarray backend of float type `F`.
#[derive(Debug)]
pub(crate) struct Sliced<F, K> {
    kernel: K,
    _float: core::marker::PhantomData<F>,
}

impl<F, K> Sliced<F, K> {
    pub(crate) fn new(kernel: K) -> Self {
        Self {
            kernel,
            _float: core::marker::PhantomData,
        }
    }
}

/// What a [`Sliced`] op keeps for its backward: the kernel, its inputs and their shapes, the
/// tape.
#[derive(Debug)]
pub(crate) struct SlicedSaved<F, K: SliceKernel<F, N>, const N: usize> {
    kernel: K,
    inputs: [Vec<F>; N],
    shapes: [Vec<usize>; N],
    tape: K::Tape,
}

macro_rules! sliced_op {
    ($F:ty) => {
        impl<K: SliceKernel<$F, N>, const N: usize> CustomOp<NdArray<$F>, N> for Sliced<$F, K> {
            type Saved = Arc<SlicedSaved<$F, K, N>>;

            fn forward(
                self,
                inputs: [Primitive<NdArray<$F>>; N],
                save: bool,
            ) -> (Primitive<NdArray<$F>>, Option<Self::Saved>) {
                let shapes = inputs.each_ref().map(|t| t.shape().to_vec());
                let values = inputs.map(values::<NdArray<$F>, $F>);
                let (out, shape, tape) = self.kernel.forward(&values, save);
                let out = NdArray::<$F>::float_from_data(
                    TensorData::new(out, shape),
                    &Default::default(),
                );
                let saved = tape.map(|tape| {
                    Arc::new(SlicedSaved {
                        kernel: self.kernel,
                        inputs: values,
                        shapes,
                        tape,
                    })
                });
                (out, saved)
            }

            fn backward(
                saved: Self::Saved,
                grad: Primitive<NdArray<$F>>,
                wanted: [bool; N],
            ) -> [Option<Primitive<NdArray<$F>>>; N] {
                let grad: Vec<$F> = values::<NdArray<$F>, $F>(grad);
                let grads = saved
                    .kernel
                    .backward(&saved.inputs, &saved.tape, &grad, wanted);
                let mut shapes = saved.shapes.iter();
                grads.map(|values| {
                    let shape = shapes.next().expect("one shape per input").clone();
                    (!values.is_empty()).then(|| {
                        NdArray::<$F>::float_from_data(
                            TensorData::new(values, shape),
                            &Default::default(),
                        )
                    })
                })
            }
        }
    };
}

sliced_op!(f32);
sliced_op!(f64);
