//! The state of a sequence layer.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

/// The state a [`Recurrent`](super::Recurrent) layer carries from one call to the next.
#[derive(Debug, Clone)]
pub struct RecurrentState<B: Backend> {
    /// The cell's state, `[batch, d_hidden]`: an LTC's membrane potentials, a CfC's or liquid
    /// layer's hidden state (a wired CfC's in its own layout: see
    /// [`WiredVariant`](crate::cfc::WiredVariant)).
    pub hidden: Tensor<B, 2>,
    /// The memory cell's `c`, `[batch, d_hidden]`, with mixed memory; `None` otherwise.
    pub memory: Option<Tensor<B, 2>>,
}

impl<B: Backend> RecurrentState<B> {
    /// A state without mixed memory.
    pub fn new(hidden: Tensor<B, 2>) -> Self {
        Self {
            hidden,
            memory: None,
        }
    }
}
