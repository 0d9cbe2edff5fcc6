//! Evaluation on a dataset in batches.

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::prelude::ToElement;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};

/// The fraction of `data` classified correctly, in batches of `batch_size`: `classify` turns a
/// batch into its predicted and its true classes.
pub fn fraction_correct<B: Backend, I, T>(
    data: &impl Dataset<I>,
    batch_size: usize,
    device: &B::Device,
    batcher: &impl Batcher<B, I, T>,
    classify: impl Fn(T) -> (Tensor<B, 1, Int>, Tensor<B, 1, Int>),
) -> f64 {
    let mut correct = 0usize;
    let indices: Vec<usize> = (0..data.len()).collect();
    for chunk in indices.chunks(batch_size) {
        let items = chunk.iter().filter_map(|&i| data.get(i)).collect();
        let (predicted, targets) = classify(batcher.batch(items, device));
        correct += predicted
            .equal(targets)
            .int()
            .sum()
            .into_scalar()
            .to_usize();
    }
    correct as f64 / data.len() as f64
}
