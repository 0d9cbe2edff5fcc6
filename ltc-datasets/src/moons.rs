//! Two interleaved half circles (the Neural ODE tutorial's data).

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::error::{Check, DatasetError};

/// A labelled point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PointItem {
    /// `(x, y)`.
    pub point: [f32; 2],
    /// The class.
    pub label: usize,
}

/// Two moons, as scikit-learn's `make_moons`: `n − n/2` points on the upper half circle
/// `(cos t, sin t)`, label 0, and `n/2` on the lower one `(1 − cos t, 0.5 − sin t)`, label 1,
/// `t` evenly spaced in `[0, π]`, plus Gaussian noise of standard deviation `noise`, shuffled
/// with the seed.
///
/// ```
/// use burn::data::dataset::Dataset;
/// let moons = ltc_datasets::Moons::new(100, 0.1, 7)?;
/// assert_eq!(moons.len(), 100);
/// # Ok::<(), ltc_datasets::DatasetError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Moons {
    items: Vec<PointItem>,
}

impl Moons {
    /// `n_samples` points with the given noise and seed.
    pub fn new(n_samples: usize, noise: f64, seed: u64) -> Result<Self, DatasetError> {
        let check = Check { config: "Moons" };
        check.nonzero("n_samples", n_samples)?;
        check.within("noise", noise, 0.0, f64::INFINITY, true)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (n_inner, n_outer) = (n_samples / 2, n_samples - n_samples / 2);
        let angle = |i: usize, n: usize| std::f64::consts::PI * i as f64 / (n.max(2) - 1) as f64;
        let mut items = Vec::with_capacity(n_samples);
        for i in 0..n_outer {
            let t = angle(i, n_outer);
            items.push((t.cos(), t.sin(), 0));
        }
        for i in 0..n_inner {
            let t = angle(i, n_inner);
            items.push((1.0 - t.cos(), 0.5 - t.sin(), 1));
        }
        let mut items: Vec<PointItem> = items
            .into_iter()
            .map(|(x, y, label)| {
                let ex: f64 = StandardNormal.sample(&mut rng);
                let ey: f64 = StandardNormal.sample(&mut rng);
                PointItem {
                    point: [(x + noise * ex) as f32, (y + noise * ey) as f32],
                    label,
                }
            })
            .collect();
        items.shuffle(&mut rng);
        Ok(Self { items })
    }
}

impl Dataset<PointItem> for Moons {
    fn get(&self, index: usize) -> Option<PointItem> {
        self.items.get(index).copied()
    }

    fn len(&self) -> usize {
        self.items.len()
    }
}

/// A batch of points: `inputs [batch, 2]`, `targets [batch]`.
#[derive(Debug, Clone)]
pub struct PointBatch<B: Backend> {
    /// `[batch, 2]`.
    pub inputs: Tensor<B, 2>,
    /// `[batch]`.
    pub targets: Tensor<B, 1, Int>,
}

/// Stacks [`PointItem`]s into a [`PointBatch`].
#[derive(Debug, Clone, Copy, Default)]
pub struct PointBatcher;

impl<B: Backend> Batcher<B, PointItem, PointBatch<B>> for PointBatcher {
    fn batch(&self, items: Vec<PointItem>, device: &B::Device) -> PointBatch<B> {
        let points: Vec<f32> = items.iter().flat_map(|i| i.point).collect();
        let labels: Vec<i64> = items.iter().map(|i| i.label as i64).collect();
        let n = items.len();
        PointBatch {
            inputs: Tensor::from_data(TensorData::new(points, [n, 2]), device),
            targets: Tensor::from_data(TensorData::new(labels, [n]), device),
        }
    }
}

#[cfg(test)]
mod tests;
