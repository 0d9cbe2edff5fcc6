//! One custom autodiff operation for every kernel: `N` float tensors in, one out, and a
//! backward pass written by the kernel ([`CustomOp`]).
//!
//! Burn 0.21 differentiates its own operations; a kernel that fuses many of them into one
//! computation brings its own backward. [`apply`] puts such a kernel into `Autodiff<B>`'s graph
//! as one node whose parents are its `N` inputs: the forward runs on the inner backend `B`, and
//! when any input is tracked the kernel's saved state goes into the graph for the backward.
//! [`apply_inner`] runs the same kernel on `B` itself (no graph). The LTC unfold (CPU and
//! CubeCL) and the CfC sequence (CPU) are such operations; [`super::cpu::slices`] adapts any
//! kernel written on plain slices to it.

use core::fmt::Debug;
use core::marker::PhantomData;

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::tensor::backend::Backend;

/// A float tensor of backend `B`, of any rank.
pub(crate) type Primitive<B> = burn::tensor::ops::FloatTensor<B>;

/// A differentiable computation of `N` float tensors on backend `B`, giving one float tensor.
///
/// The op value itself carries what is constant for one call (sizes, masks, the mode): it is
/// consumed by [`forward`](Self::forward), which returns what [`backward`](Self::backward) needs.
pub(crate) trait CustomOp<B: Backend, const N: usize>:
    Sized + Send + Debug + 'static
{
    /// What the backward pass keeps, from the forward.
    type Saved: Clone + Send + Debug + 'static;

    /// The output; when `save` is set, also what the backward pass needs.
    fn forward(self, inputs: [Primitive<B>; N], save: bool) -> (Primitive<B>, Option<Self::Saved>);

    /// The gradient of each input (in the input's shape) from the output's, for the inputs
    /// whose `wanted` entry is set; `None` for the others (and for any that gets no gradient).
    fn backward(
        saved: Self::Saved,
        grad: Primitive<B>,
        wanted: [bool; N],
    ) -> [Option<Primitive<B>>; N];
}

/// The graph node of a [`CustomOp`].
#[derive(Debug)]
struct Node<O>(PhantomData<O>);

impl<B: Backend, O: CustomOp<B, N>, const N: usize> Backward<B, N> for Node<O> {
    type State = O::Saved;

    fn backward(self, ops: Ops<O::Saved, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let wanted = ops.parents.each_ref().map(Option::is_some);
        let inputs = O::backward(ops.state, grad, wanted);
        for (parent, grad) in ops.parents.iter().zip(inputs) {
            if let (Some(parent), Some(grad)) = (parent, grad) {
                grads.register::<B>(parent.id, grad);
            }
        }
    }
}

/// Runs `op` on `Autodiff<B>`: the forward on the inner tensors, and one graph node whose
/// parents are the `N` inputs when any of them is tracked.
pub(crate) fn apply<B: Backend, O: CustomOp<B, N>, const N: usize>(
    op: O,
    inputs: [Primitive<Autodiff<B>>; N],
) -> Primitive<Autodiff<B>> {
    let nodes = inputs.each_ref().map(|t| t.node.clone());
    let inner = inputs.map(|t| t.primitive);
    match Node::<O>(PhantomData)
        .prepare::<NoCheckpointing>(nodes)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let (out, saved) = op.forward(inner, true);
            prep.finish(saved.expect("a saved state when asked for one"), out)
        }
        OpsKind::UnTracked(prep) => prep.finish(op.forward(inner, false).0),
    }
}

/// Runs `op` on `B` itself: the forward only.
pub(crate) fn apply_inner<B: Backend, O: CustomOp<B, N>, const N: usize>(
    op: O,
    inputs: [Primitive<B>; N],
) -> Primitive<B> {
    op.forward(inputs, false).0
}
