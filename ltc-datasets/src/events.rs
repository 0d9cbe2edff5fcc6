//! Event-based bit-stream XOR (the CfC paper's parity task), and the ncps sine quickstart.

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Check, DatasetError};
use crate::series::SeriesItem;

/// A bit stream encoded as events: runs of equal bits become one event whose time elapsed is
/// the run's length.
#[derive(Debug, Clone, PartialEq)]
pub struct EventItem {
    /// The bit of each event (0.0 or 1.0).
    pub values: Vec<f32>,
    /// The length of each run, in bit periods.
    pub timespans: Vec<f32>,
    /// The parity (XOR) of all bits of the stream.
    pub label: usize,
}

/// Parity of a bit stream, seen as events (CfC paper, "event-based XOR"): item `i` is a
/// stream of `bits` fair coin flips drawn from `(seed, i)` (ChaCha8 stream `i`), merged into
/// runs; its label is the XOR of all bits. Streams have between 1 and `bits` events, so
/// batches are padded and masked ([`EventBatcher`]).
///
/// ```
/// use burn::data::dataset::Dataset;
/// let data = ltc_datasets::EventXor::new(16, 100, 1)?;
/// let item = data.get(0).unwrap();
/// assert_eq!(item.timespans.iter().sum::<f32>(), 16.0);
/// # Ok::<(), ltc_datasets::DatasetError>(())
/// ```
#[derive(Debug, Clone)]
pub struct EventXor {
    bits: usize,
    len: usize,
    seed: u64,
}

impl EventXor {
    /// `len` streams of `bits` bits.
    pub fn new(bits: usize, len: usize, seed: u64) -> Result<Self, DatasetError> {
        let check = Check { config: "EventXor" };
        check.nonzero("bits", bits)?;
        check.nonzero("len", len)?;
        Ok(Self { bits, len, seed })
    }

    /// The raw bits of item `index` (before run-length encoding).
    pub fn bits_of(&self, index: usize) -> Vec<bool> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(index as u64);
        (0..self.bits).map(|_| rng.random_bool(0.5)).collect()
    }
}

impl Dataset<EventItem> for EventXor {
    fn get(&self, index: usize) -> Option<EventItem> {
        if index >= self.len {
            return None;
        }
        let bits = self.bits_of(index);
        let (mut values, mut timespans) = (Vec::new(), Vec::new());
        for (i, &bit) in bits.iter().enumerate() {
            if i > 0 && bits[i - 1] == bit {
                *timespans.last_mut().expect("a run is open") += 1.0;
            } else {
                values.push(if bit { 1.0 } else { 0.0 });
                timespans.push(1.0);
            }
        }
        let label = bits.iter().filter(|&&b| b).count() % 2;
        Some(EventItem {
            values,
            timespans,
            label,
        })
    }

    fn len(&self) -> usize {
        self.len
    }
}

/// A padded batch of event streams.
#[derive(Debug, Clone)]
pub struct EventBatch<B: Backend> {
    /// `[batch, events, 1]`, zero after each stream's end.
    pub inputs: Tensor<B, 3>,
    /// `[batch, events]`, zero after each stream's end.
    pub timespans: Tensor<B, 2>,
    /// `[batch, events]`: 1 for real events, 0 for padding.
    pub mask: Tensor<B, 2>,
    /// `[batch]`: the parity.
    pub targets: Tensor<B, 1, Int>,
}

/// Pads [`EventItem`]s to the longest stream of the batch.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventBatcher;

impl<B: Backend> Batcher<B, EventItem, EventBatch<B>> for EventBatcher {
    fn batch(&self, items: Vec<EventItem>, device: &B::Device) -> EventBatch<B> {
        let b = items.len();
        let events = items
            .iter()
            .map(|i| i.values.len())
            .max()
            .unwrap_or(0)
            .max(1);
        let (mut inputs, mut timespans, mut mask) = (
            vec![0.0f32; b * events],
            vec![0.0f32; b * events],
            vec![0.0f32; b * events],
        );
        for (r, item) in items.iter().enumerate() {
            for (e, (&v, &dt)) in item.values.iter().zip(&item.timespans).enumerate() {
                inputs[r * events + e] = v;
                timespans[r * events + e] = dt;
                mask[r * events + e] = 1.0;
            }
        }
        let labels: Vec<i64> = items.iter().map(|i| i.label as i64).collect();
        EventBatch {
            inputs: Tensor::from_data(TensorData::new(inputs, [b, events, 1]), device),
            timespans: Tensor::from_data(TensorData::new(timespans, [b, events]), device),
            mask: Tensor::from_data(TensorData::new(mask, [b, events]), device),
            targets: Tensor::from_data(TensorData::new(labels, [b]), device),
        }
    }
}

/// The ncps "first steps" sequence: 48 points `t` evenly spaced over `[0, 3π]`, inputs
/// `[sin t, cos t]`, target `sin 2t`; one sequence, regular steps.
///
/// ```
/// let item = ltc_datasets::sine_quickstart();
/// assert_eq!((item.seq_len, item.input_features, item.target_features), (48, 2, 1));
/// ```
pub fn sine_quickstart() -> SeriesItem {
    sine_sequence(48, 3.0 * std::f64::consts::PI / 47.0)
}

/// `points` steps `t = i·dt` from 0 of the first-steps task: inputs `[sin t, cos t]`, target
/// `sin 2t`. [`sine_quickstart`] is `sine_sequence(48, 3π / 47)`; a longer sequence with the
/// same `dt` continues it.
///
/// ```
/// let long = ltc_datasets::sine_sequence(96, 3.0 * std::f64::consts::PI / 47.0);
/// assert_eq!(long.inputs[..96], ltc_datasets::sine_quickstart().inputs[..]);
/// ```
pub fn sine_sequence(points: usize, dt: f64) -> SeriesItem {
    let t = |i: usize| dt * i as f64;
    SeriesItem {
        inputs: (0..points)
            .flat_map(|i| [t(i).sin() as f32, t(i).cos() as f32])
            .collect(),
        targets: (0..points).map(|i| (2.0 * t(i)).sin() as f32).collect(),
        timespans: None,
        seq_len: points,
        input_features: 2,
        target_features: 1,
    }
}

#[cfg(test)]
mod tests;
