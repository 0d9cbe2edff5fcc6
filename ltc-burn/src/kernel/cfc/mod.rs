//! The fused CfC sequence: a whole sequence of a CfC cell as one operation (forward, and a
//! backpropagation-through-time backward as one autodiff node), from the CPU kernel (`cpu`) on the
//! ndarray backends. Elsewhere, and for every configuration the kernel does not cover, the
//! CfC cell runs step by step on the plain tensor path, the reference the kernel is tested
//! against.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::registry::{Kernel, lookup};

pub(crate) mod cpu;
pub(crate) mod ndarray;

pub use cpu::{Act, CfcDims, Mode};

/// A CfC cell over a whole sequence: [`SequenceInputs`] in, the states after every step
/// `[batch, seq, hidden]` out.
#[derive(Debug, Clone, Copy)]
pub struct CfcSequence;

impl Kernel for CfcSequence {
    const NAME: &'static str = "CfC sequence";
    type Input<B: Backend> = SequenceInputs<B>;
    type Output<B: Backend> = Tensor<B, 3>;
}

/// One CfC sequence: the inputs as tensors, the sizes and the cell's constants (built by
/// the CfC cell).
#[derive(Debug, Clone)]
pub struct SequenceInputs<B: Backend> {
    /// `[batch, seq, input]`.
    pub x: Tensor<B, 3>,
    /// `[batch, hidden]`.
    pub h0: Tensor<B, 2>,
    /// The time elapsed before each input, `[batch, seq]` (1 when `None`).
    pub timespans: Option<Tensor<B, 2>>,
    /// The parameters.
    pub params: CfcParams<B>,
    /// The sizes.
    pub dims: CfcDims,
    /// The closed form.
    pub mode: Mode,
    /// The backbone's activation.
    pub act: Act,
}

/// A cell's parameters as the kernel applies them (heads already masked).
#[derive(Debug, Clone)]
pub struct CfcParams<B: Backend> {
    /// Per backbone layer, weight `[in, out]` and bias `[out]`.
    pub backbone: Vec<(Tensor<B, 2>, Tensor<B, 1>)>,
    /// `ff1`, and unless in pure mode `ff2`, `time_a`, `time_b`: weight `[d, hidden]`, bias
    /// `[hidden]`.
    pub heads: Vec<(Tensor<B, 2>, Tensor<B, 1>)>,
    /// Pure mode's `w_tau` and `A`, `[1, hidden]` each.
    pub pure: Option<(Tensor<B, 2>, Tensor<B, 2>)>,
}

impl<B: Backend> CfcParams<B> {
    /// One vector laid out by the kernel's parameter layout, by tensor operations
    /// (differentiable): each backbone layer's weight and bias, the heads' weights side by side
    /// and their biases, then pure mode's `w_tau` and `A`.
    pub fn flat(self) -> Tensor<B, 1> {
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
}

/// The states after every step, `[batch, seq, hidden]`, where backend `B` has the kernel;
/// `None` elsewhere.
pub fn sequence<B: Backend>(inputs: SequenceInputs<B>) -> Option<Tensor<B, 3>> {
    lookup::<CfcSequence, B>()?(inputs)
}
