//! Sequence-to-sequence data: sliding windows over a series, and their batches.

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use crate::error::{Check, DatasetError};

/// One sequence with a target per step and, for irregular sampling, the time elapsed before
/// each step.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesItem {
    /// Row-major `[seq_len, input_features]`.
    pub inputs: Vec<f32>,
    /// Row-major `[seq_len, target_features]`.
    pub targets: Vec<f32>,
    /// `[seq_len]`, or `None` for a regular series (every step 1).
    pub timespans: Option<Vec<f32>>,
    /// Steps.
    pub seq_len: usize,
    /// Features per input step.
    pub input_features: usize,
    /// Features per target step.
    pub target_features: usize,
}

/// Sliding windows over a series of `len` rows: windows of `seq_len` rows starting every
/// `stride` rows, each paired with the window `horizon` rows later (next-step prediction is
/// `horizon = 1`).
///
/// ```
/// let w = ltc_datasets::Windows { seq_len: 4, stride: 2, horizon: 1 };
/// assert_eq!(w.starts(10)?, vec![0, 2, 4]); // the last target row is 4 + 1 + 3 = 8 < 10
/// # Ok::<(), ltc_datasets::DatasetError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    /// Rows per window.
    pub seq_len: usize,
    /// Rows between the starts of consecutive windows.
    pub stride: usize,
    /// Rows between an input window and its target window.
    pub horizon: usize,
}

impl Windows {
    /// Checks that `seq_len` and `stride` are at least one.
    pub fn validate(&self) -> Result<(), DatasetError> {
        let check = Check { config: "Windows" };
        check.nonzero("seq_len", self.seq_len)?;
        check.nonzero("stride", self.stride)
    }

    /// The first row of every window that fits, with its target window, into `len` rows.
    ///
    /// # Errors
    /// Zero `seq_len` or `stride`, or a series too short for a single window.
    pub fn starts(&self, len: usize) -> Result<Vec<usize>, DatasetError> {
        self.validate()?;
        let needed = self.seq_len + self.horizon;
        if len < needed {
            return Err(DatasetError::TooShort {
                what: "series".into(),
                rows: len,
                needed,
            });
        }
        Ok((0..=len - needed).step_by(self.stride).collect())
    }

    /// The window at `start` over a row-major `[len, features]` series: inputs from
    /// `series`, targets from `targets` (pass the same series for next-step prediction).
    ///
    /// # Panics
    /// If the window does not fit (use the starts from [`Windows::starts`]).
    pub fn item(
        &self,
        series: &[f32],
        features: usize,
        targets: &[f32],
        target_features: usize,
        start: usize,
    ) -> SeriesItem {
        let rows = |data: &[f32], f: usize, from: usize| {
            data[from * f..(from + self.seq_len) * f].to_vec()
        };
        SeriesItem {
            inputs: rows(series, features, start),
            targets: rows(targets, target_features, start + self.horizon),
            timespans: None,
            seq_len: self.seq_len,
            input_features: features,
            target_features,
        }
    }
}

/// A batch of equally long series.
#[derive(Debug, Clone)]
pub struct SeriesBatch<B: Backend> {
    /// `[batch, seq, input_features]`.
    pub inputs: Tensor<B, 3>,
    /// `[batch, seq, target_features]`.
    pub targets: Tensor<B, 3>,
    /// `[batch, seq]` timespans, when the items carry them.
    pub timespans: Option<Tensor<B, 2>>,
}

/// Stacks [`SeriesItem`]s into a [`SeriesBatch`].
///
/// # Panics
/// If the items differ in shape, or some carry timespans and others do not.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeriesBatcher;

impl<B: Backend> Batcher<B, SeriesItem, SeriesBatch<B>> for SeriesBatcher {
    fn batch(&self, items: Vec<SeriesItem>, device: &B::Device) -> SeriesBatch<B> {
        let first = items.first().expect("SeriesBatcher: empty batch");
        let (seq, fi, ft, timed) = (
            first.seq_len,
            first.input_features,
            first.target_features,
            first.timespans.is_some(),
        );
        let (mut inputs, mut targets, mut timespans) = (Vec::new(), Vec::new(), Vec::new());
        for (i, item) in items.iter().enumerate() {
            assert!(
                item.seq_len == seq
                    && item.input_features == fi
                    && item.target_features == ft
                    && item.timespans.is_some() == timed
                    && item.inputs.len() == seq * fi
                    && item.targets.len() == seq * ft,
                "SeriesBatcher: item {i} has seq_len {}, features {}/{}, timespans {}; expected {seq}, {fi}/{ft}, {timed}",
                item.seq_len,
                item.input_features,
                item.target_features,
                item.timespans.is_some()
            );
            inputs.extend_from_slice(&item.inputs);
            targets.extend_from_slice(&item.targets);
            if let Some(e) = &item.timespans {
                timespans.extend_from_slice(e);
            }
        }
        let b = items.len();
        SeriesBatch {
            inputs: Tensor::from_data(TensorData::new(inputs, [b, seq, fi]), device),
            targets: Tensor::from_data(TensorData::new(targets, [b, seq, ft]), device),
            timespans: timed
                .then(|| Tensor::from_data(TensorData::new(timespans, [b, seq]), device)),
        }
    }
}

/// An in-memory list of series items (the windows of one split).
#[derive(Debug, Clone, Default)]
pub struct SeriesDataset {
    items: Vec<SeriesItem>,
}

impl SeriesDataset {
    /// The items, in order.
    pub fn new(items: Vec<SeriesItem>) -> Self {
        Self { items }
    }
}

impl Dataset<SeriesItem> for SeriesDataset {
    fn get(&self, index: usize) -> Option<SeriesItem> {
        self.items.get(index).cloned()
    }

    fn len(&self) -> usize {
        self.items.len()
    }
}

#[cfg(test)]
mod tests;
