//! Parameter set-up shared by the layers.

use burn::module::Param;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

/// Initialises a lazily initialised parameter now.
///
/// Burn 0.21's `Initializer` returns lazy parameters, and a clone of a parameter that was never
/// read initialises on its own, from whatever the generator holds then: a module and its clone
/// (the Learner's copy, a saved checkpoint) would hold different weights. Reading the value once
/// fixes it for every clone made afterwards. Every `init` in this crate passes the parameters it
/// gets from an `Initializer` (its own or a Burn module's) through here.
pub(crate) fn materialize<B: Backend, const D: usize>(
    param: Param<Tensor<B, D>>,
) -> Param<Tensor<B, D>> {
    let _ = param.val();
    param
}
