//! Sequence-to-sequence data: sliding windows over a series, and their batches.

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use crate::error::{Check, DatasetError};

/// One sequence with a target per step and, for irregular sampling, the elapsed time before
/// each step.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesItem {
    /// Row-major `[seq_len, input_features]`.
    pub inputs: Vec<f32>,
    /// Row-major `[seq_len, target_features]`.
    pub targets: Vec<f32>,
    /// `[seq_len]`, or `None` for a regular series (every step 1).
    pub elapsed: Option<Vec<f32>>,
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
            elapsed: None,
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
    /// `[batch, seq]` elapsed times, when the items carry them.
    pub elapsed: Option<Tensor<B, 2>>,
}

/// Stacks [`SeriesItem`]s into a [`SeriesBatch`].
///
/// # Panics
/// If the items differ in shape, or some carry elapsed times and others do not.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeriesBatcher;

impl<B: Backend> Batcher<B, SeriesItem, SeriesBatch<B>> for SeriesBatcher {
    fn batch(&self, items: Vec<SeriesItem>, device: &B::Device) -> SeriesBatch<B> {
        let first = items.first().expect("SeriesBatcher: empty batch");
        let (seq, fi, ft, timed) = (
            first.seq_len,
            first.input_features,
            first.target_features,
            first.elapsed.is_some(),
        );
        let (mut inputs, mut targets, mut elapsed) = (Vec::new(), Vec::new(), Vec::new());
        for (i, item) in items.iter().enumerate() {
            assert!(
                item.seq_len == seq
                    && item.input_features == fi
                    && item.target_features == ft
                    && item.elapsed.is_some() == timed
                    && item.inputs.len() == seq * fi
                    && item.targets.len() == seq * ft,
                "SeriesBatcher: item {i} has seq_len {}, features {}/{}, elapsed {}; expected {seq}, {fi}/{ft}, {timed}",
                item.seq_len,
                item.input_features,
                item.target_features,
                item.elapsed.is_some()
            );
            inputs.extend_from_slice(&item.inputs);
            targets.extend_from_slice(&item.targets);
            if let Some(e) = &item.elapsed {
                elapsed.extend_from_slice(e);
            }
        }
        let b = items.len();
        SeriesBatch {
            inputs: Tensor::from_data(TensorData::new(inputs, [b, seq, fi]), device),
            targets: Tensor::from_data(TensorData::new(targets, [b, seq, ft]), device),
            elapsed: timed.then(|| Tensor::from_data(TensorData::new(elapsed, [b, seq]), device)),
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
mod tests {
    use super::*;
    use burn::backend::NdArray;

    #[test]
    fn windows_cover_the_series_and_shift_targets() {
        let w = Windows {
            seq_len: 3,
            stride: 2,
            horizon: 1,
        };
        assert_eq!(w.starts(8).unwrap(), vec![0, 2, 4]);
        let series: Vec<f32> = (0..8).flat_map(|i| [i as f32, 10.0 * i as f32]).collect();
        let item = w.item(&series, 2, &series, 2, 2);
        assert_eq!(item.inputs, vec![2.0, 20.0, 3.0, 30.0, 4.0, 40.0]);
        assert_eq!(item.targets, vec![3.0, 30.0, 4.0, 40.0, 5.0, 50.0]);
        let err = w.starts(3).unwrap_err().to_string();
        assert_eq!(
            err,
            "series has 3 rows, but one window needs 4 (seq_len + horizon)"
        );
        assert!(
            Windows {
                seq_len: 3,
                stride: 0,
                horizon: 0
            }
            .starts(9)
            .is_err()
        );
    }

    #[test]
    fn batcher_stacks_series_with_elapsed_times() {
        let item = |v: f32| SeriesItem {
            inputs: vec![v; 4],
            targets: vec![-v; 2],
            elapsed: Some(vec![0.5, 1.5]),
            seq_len: 2,
            input_features: 2,
            target_features: 1,
        };
        let batch: SeriesBatch<NdArray> =
            SeriesBatcher.batch(vec![item(1.0), item(2.0), item(3.0)], &Default::default());
        assert_eq!(batch.inputs.dims(), [3, 2, 2]);
        assert_eq!(batch.targets.dims(), [3, 2, 1]);
        let elapsed = batch.elapsed.unwrap();
        assert_eq!(elapsed.dims(), [3, 2]);
        let targets: Vec<f32> = batch.targets.into_data().to_vec().unwrap();
        assert_eq!(targets, vec![-1.0, -1.0, -2.0, -2.0, -3.0, -3.0]);
    }
}
