//! Sequence classification: which of two frequencies a noisy sine has.

use burn::config::Config;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::error::{Check, DatasetError};

/// Configuration of the sine-frequency task (see [`SineFrequencyDataset`]).
#[derive(Config, Debug)]
pub struct SineFrequencyConfig {
    /// Samples per sequence.
    #[config(default = 32)]
    pub seq_len: usize,
    /// Time between two samples, in seconds.
    #[config(default = 0.1)]
    pub sample_interval: f64,
    /// Frequency of class 0, in Hz.
    #[config(default = 0.5)]
    pub low_hz: f64,
    /// Frequency of class 1, in Hz; must stay below the Nyquist frequency `1 / (2 Δ)`.
    #[config(default = 1.5)]
    pub high_hz: f64,
    /// Standard deviation of the additive Gaussian noise.
    #[config(default = 0.25)]
    pub noise: f64,
    /// Amplitudes are uniform in `[amplitude_min, amplitude_max]`.
    #[config(default = 0.8)]
    pub amplitude_min: f64,
    /// See `amplitude_min`.
    #[config(default = 1.2)]
    pub amplitude_max: f64,
}

impl SineFrequencyConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), DatasetError> {
        let check = Check {
            config: "SineFrequencyConfig",
        };
        check.nonzero("seq_len", self.seq_len)?;
        check.within(
            "sample_interval",
            self.sample_interval,
            0.0,
            f64::INFINITY,
            false,
        )?;
        let nyquist = 0.5 / self.sample_interval;
        check.within("low_hz", self.low_hz, 0.0, nyquist, false)?;
        check.within("high_hz", self.high_hz, self.low_hz, nyquist, false)?;
        check.within("noise", self.noise, 0.0, f64::INFINITY, true)?;
        check.within(
            "amplitude_min",
            self.amplitude_min,
            0.0,
            f64::INFINITY,
            false,
        )?;
        check.within(
            "amplitude_max",
            self.amplitude_max,
            self.amplitude_min,
            f64::INFINITY,
            true,
        )?;
        Ok(())
    }
}

/// One sequence with its class.
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceItem {
    /// Row-major `[seq_len, features]`.
    pub inputs: Vec<f32>,
    /// Time steps.
    pub seq_len: usize,
    /// Features per step.
    pub features: usize,
    /// The class.
    pub label: usize,
}

/// Which of two frequencies a noisy sine has: a seeded, learnable two-class task.
///
/// Item `i` has label `i mod 2` (so the classes are balanced) and one input feature
/// `x_t = A · sin(2π f t Δ + φ) + σ ε_t`, `t = 0 … seq_len − 1`, with `f = low_hz` for label 0
/// and `high_hz` for label 1, `A ~ U(amplitude_min, amplitude_max)`, `φ ~ U(0, 2π)`,
/// `ε_t ~ N(0, 1)` and `Δ = sample_interval`. Phase and amplitude hide the class from any
/// single sample: a model has to integrate over time.
///
/// Items are generated on demand from `(seed, i)` alone (ChaCha8 stream `i`), so an item never
/// depends on the dataset size, the platform or the order of access.
///
/// ```
/// use burn::data::dataset::Dataset;
/// use ltc_datasets::{SineFrequencyConfig, SineFrequencyDataset};
///
/// let data = SineFrequencyDataset::new(SineFrequencyConfig::new(), 100, 7)?;
/// let item = data.get(3).unwrap();
/// assert_eq!((item.seq_len, item.features, item.label), (32, 1, 1));
/// assert_eq!(data.get(3), Some(item)); // the same every time
/// # Ok::<(), ltc_datasets::DatasetError>(())
/// ```
#[derive(Debug, Clone)]
pub struct SineFrequencyDataset {
    config: SineFrequencyConfig,
    len: usize,
    seed: u64,
}

impl SineFrequencyDataset {
    /// `len` sequences drawn from `seed`. Use different seeds for training and validation.
    pub fn new(config: SineFrequencyConfig, len: usize, seed: u64) -> Result<Self, DatasetError> {
        config.validate()?;
        Check {
            config: "SineFrequencyDataset",
        }
        .nonzero("len", len)?;
        Ok(Self { config, len, seed })
    }

    /// The configuration.
    pub fn config(&self) -> &SineFrequencyConfig {
        &self.config
    }

    fn generate(&self, index: usize) -> SequenceItem {
        let c = &self.config;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(index as u64);
        let label = index % 2;
        let hz = if label == 0 { c.low_hz } else { c.high_hz };
        let amplitude = rng.random_range(c.amplitude_min..=c.amplitude_max);
        let phase = rng.random_range(0.0..std::f64::consts::TAU);
        let inputs = (0..c.seq_len)
            .map(|t| {
                let time = t as f64 * c.sample_interval;
                let eps: f64 = rng.sample(StandardNormal);
                (amplitude * (std::f64::consts::TAU * hz * time + phase).sin() + c.noise * eps)
                    as f32
            })
            .collect();
        SequenceItem {
            inputs,
            seq_len: c.seq_len,
            features: 1,
            label,
        }
    }
}

impl Dataset<SequenceItem> for SineFrequencyDataset {
    fn get(&self, index: usize) -> Option<SequenceItem> {
        (index < self.len).then(|| self.generate(index))
    }

    fn len(&self) -> usize {
        self.len
    }
}

/// A batch of equally long sequences with their classes.
#[derive(Debug, Clone)]
pub struct SequenceClassificationBatch<B: Backend> {
    /// `[batch, seq, features]`.
    pub inputs: Tensor<B, 3>,
    /// `[batch]`, class indices.
    pub targets: Tensor<B, 1, Int>,
}

/// Stacks [`SequenceItem`]s into a [`SequenceClassificationBatch`].
///
/// # Panics
/// If the items do not all have the same `seq_len` and `features` (a batch is one tensor).
#[derive(Debug, Clone, Copy, Default)]
pub struct SequenceClassificationBatcher;

impl<B: Backend> Batcher<B, SequenceItem, SequenceClassificationBatch<B>>
    for SequenceClassificationBatcher
{
    fn batch(
        &self,
        items: Vec<SequenceItem>,
        device: &B::Device,
    ) -> SequenceClassificationBatch<B> {
        let first = items
            .first()
            .expect("SequenceClassificationBatcher: empty batch");
        let (seq, features) = (first.seq_len, first.features);
        let mut inputs = Vec::with_capacity(items.len() * seq * features);
        let mut targets = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            assert!(
                item.seq_len == seq
                    && item.features == features
                    && item.inputs.len() == seq * features,
                "SequenceClassificationBatcher: item {i} has shape [{}, {}] ({} values), expected [{seq}, {features}]",
                item.seq_len,
                item.features,
                item.inputs.len()
            );
            inputs.extend_from_slice(&item.inputs);
            targets.push(item.label as i64);
        }
        let batch = items.len();
        SequenceClassificationBatch {
            inputs: Tensor::from_data(TensorData::new(inputs, [batch, seq, features]), device),
            targets: Tensor::from_data(TensorData::new(targets, [batch]), device),
        }
    }
}

#[cfg(test)]
mod tests;
