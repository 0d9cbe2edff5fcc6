//! One supervised train/infer step for every Learner example: a model says how a batch becomes
//! an output with its loss ([`Supervised`]); [`supervised_steps!`](crate::supervised_steps)
//! gives it burn-train's `TrainStep` (back-propagation of that loss on the compute pool, or a
//! training step of its own) and `InferenceStep`.

use burn::module::AutodiffModule;
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::train::{ClassificationOutput, RegressionOutput, TrainOutput};
use ltc_burn::kernel::on_compute_pool;

/// An output that carries the batch's loss.
pub trait Loss<B: Backend> {
    /// The loss, `[1]`.
    fn loss(&self) -> Tensor<B, 1>;
}

impl<B: Backend> Loss<B> for ClassificationOutput<B> {
    fn loss(&self) -> Tensor<B, 1> {
        self.loss.clone()
    }
}

impl<B: Backend> Loss<B> for RegressionOutput<B> {
    fn loss(&self) -> Tensor<B, 1> {
        self.loss.clone()
    }
}

/// A model trained on batches with a loss: the forward pass that training and validation share.
pub trait Supervised<B: Backend> {
    /// A batch.
    type Batch;
    /// The output, with the loss.
    type Output: Loss<B>;
    /// The output for one batch.
    fn forward_supervised(&self, batch: Self::Batch) -> Self::Output;
}

/// A training step by back-propagation of the loss. On ndarray the whole step (forward,
/// backward) runs on the compute pool, where burn-ndarray's matmuls then start without a
/// thread hand-off each.
pub fn backprop_step<B, M>(model: &M, batch: M::Batch) -> TrainOutput<M::Output>
where
    B: AutodiffBackend,
    M: Supervised<B> + AutodiffModule<B> + Sync,
    M::Batch: Send,
    M::Output: Send,
{
    on_compute_pool::<B, _>(|| {
        let item = model.forward_supervised(batch);
        TrainOutput::new(model, item.loss().backward(), item)
    })
}

/// burn-train's `TrainStep` and `InferenceStep` for a [`Supervised`] model `$model<B>`: the
/// training step is [`backprop_step`], or the function given as the second argument (same
/// signature), e.g. one that clips the gradients or runs an adjoint sweep.
#[macro_export]
macro_rules! supervised_steps {
    ($model:ident) => {
        $crate::supervised_steps!($model, $crate::run::backprop_step);
    };
    ($model:ident, $train:path) => {
        impl<B: burn::tensor::backend::AutodiffBackend> burn::train::TrainStep for $model<B> {
            type Input = <Self as $crate::run::Supervised<B>>::Batch;
            type Output = <Self as $crate::run::Supervised<B>>::Output;

            fn step(&self, batch: Self::Input) -> burn::train::TrainOutput<Self::Output> {
                $train(self, batch)
            }
        }

        impl<B: burn::tensor::backend::Backend> burn::train::InferenceStep for $model<B> {
            type Input = <Self as $crate::run::Supervised<B>>::Batch;
            type Output = <Self as $crate::run::Supervised<B>>::Output;

            fn step(&self, batch: Self::Input) -> Self::Output {
                $crate::run::Supervised::forward_supervised(self, batch)
            }
        }
    };
}
