//! Your own data: a CSV time series cut into training and validation windows.

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Check, DatasetError};
use crate::series::{SeriesDataset, SeriesItem, Windows};

/// What to read from a CSV file and how to cut it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvSeriesConfig {
    /// Header names of the input columns.
    pub features: Vec<String>,
    /// Header names of the target columns.
    pub targets: Vec<String>,
    /// Header name of a time column; its differences become the timespans.
    #[serde(default)]
    pub time: Option<String>,
    /// Rows per window.
    pub seq_len: usize,
    /// Rows between window starts.
    #[serde(default = "one")]
    pub stride: usize,
    /// Rows between an input window and its target window (1: predict the next row).
    #[serde(default = "one")]
    pub horizon: usize,
    /// The last fraction of the rows (in time) held out for validation.
    #[serde(default = "fifth")]
    pub valid_fraction: f64,
    /// Z-score the columns with statistics of the training part.
    #[serde(default = "yes")]
    pub normalize: bool,
}

fn one() -> usize {
    1
}
fn fifth() -> f64 {
    0.2
}
fn yes() -> bool {
    true
}

impl CsvSeriesConfig {
    /// Inputs `features`, targets `targets`, windows of `seq_len`; stride 1, horizon 1, the
    /// last 20 % for validation, normalised.
    pub fn new(features: &[&str], targets: &[&str], seq_len: usize) -> Self {
        Self {
            features: features.iter().map(|s| s.to_string()).collect(),
            targets: targets.iter().map(|s| s.to_string()).collect(),
            time: None,
            seq_len,
            stride: 1,
            horizon: 1,
            valid_fraction: 0.2,
            normalize: true,
        }
    }
}

/// Per-column z-score statistics, fitted on the training part; save it with the model and
/// apply it to new data at inference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normalizer {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Means.
    pub mean: Vec<f64>,
    /// Standard deviations (1 where a column is constant).
    pub std: Vec<f64>,
}

impl Normalizer {
    fn fit(columns: &[String], rows: &[Vec<f64>]) -> Self {
        let n = rows.len().max(1) as f64;
        let k = columns.len();
        let mean: Vec<f64> = (0..k)
            .map(|c| rows.iter().map(|r| r[c]).sum::<f64>() / n)
            .collect();
        let std = (0..k)
            .map(|c| {
                let var = rows.iter().map(|r| (r[c] - mean[c]).powi(2)).sum::<f64>() / n;
                if var > 0.0 { var.sqrt() } else { 1.0 }
            })
            .collect();
        Self {
            columns: columns.to_vec(),
            mean,
            std,
        }
    }

    fn identity(columns: &[String]) -> Self {
        Self {
            columns: columns.to_vec(),
            mean: vec![0.0; columns.len()],
            std: vec![1.0; columns.len()],
        }
    }

    /// `(x − mean) / std` for one row of these columns.
    pub fn apply(&self, row: &[f64]) -> Vec<f32> {
        row.iter()
            .zip(self.mean.iter().zip(&self.std))
            .map(|(x, (m, s))| ((x - m) / s) as f32)
            .collect()
    }

    /// `x · std + mean`: back to the data's units.
    pub fn invert(&self, row: &[f32]) -> Vec<f64> {
        row.iter()
            .zip(self.mean.iter().zip(&self.std))
            .map(|(&x, (m, s))| f64::from(x) * s + m)
            .collect()
    }
}

/// A CSV series as training and validation windows (see [`CsvSeriesConfig`]).
///
/// Rows are split in time: the first `1 − valid_fraction` of them train, the rest validate, and
/// windows never straddle the two. Malformed input — a missing column, a non-numeric or NaN
/// cell, a time that does not increase, too few rows for one window — is an error naming the
/// file, the line and the column.
///
/// ```
/// use burn::data::dataset::Dataset;
/// use ltc_datasets::{CsvSeries, CsvSeriesConfig};
///
/// let mut csv = String::from("t,x,y\n");
/// for i in 0..20 {
///     csv.push_str(&format!("{i},{i},{}\n", 2 * i));
/// }
/// let mut config = CsvSeriesConfig::new(&["x"], &["y"], 3);
/// config.time = Some("t".into());
/// let series = CsvSeries::from_reader("example.csv", csv.as_bytes(), &config)?;
/// assert_eq!(series.train().len(), 13); // 16 training rows: windows start at 0..=12
/// assert_eq!(series.valid().len(), 1); // 4 validation rows: one window
/// assert_eq!(series.train().get(0).unwrap().timespans, Some(vec![1.0; 3]));
/// # Ok::<(), ltc_datasets::DatasetError>(())
/// ```
#[derive(Debug, Clone)]
pub struct CsvSeries {
    train: SeriesDataset,
    valid: SeriesDataset,
    inputs: Normalizer,
    targets: Normalizer,
}

impl CsvSeries {
    /// Reads `path`.
    pub fn load(path: impl AsRef<Path>, config: &CsvSeriesConfig) -> Result<Self, DatasetError> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|e| DatasetError::Csv {
            file: path.display().to_string(),
            line: None,
            column: None,
            message: format!("cannot open: {e}"),
        })?;
        Self::from_reader(&path.display().to_string(), file, config)
    }

    /// Reads CSV text from `reader`; `name` stands for the file in error messages.
    pub fn from_reader(
        name: &str,
        reader: impl Read,
        config: &CsvSeriesConfig,
    ) -> Result<Self, DatasetError> {
        let error = |line: Option<u64>, column: Option<&str>, message: String| DatasetError::Csv {
            file: name.to_string(),
            line,
            column: column.map(str::to_string),
            message,
        };
        let check = Check {
            config: "CsvSeriesConfig",
        };
        check.nonzero("features.len()", config.features.len())?;
        check.nonzero("targets.len()", config.targets.len())?;
        check.within("valid_fraction", config.valid_fraction, 0.0, 1.0, true)?;
        let windows = Windows {
            seq_len: config.seq_len,
            stride: config.stride,
            horizon: config.horizon,
        };
        windows.validate()?;

        let mut csv = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(reader);
        let header = csv
            .headers()
            .map_err(|e| error(Some(1), None, format!("cannot read the header: {e}")))?
            .clone();
        let names: Vec<&str> = header.iter().map(str::trim).collect();
        let find = |column: &str| {
            names.iter().position(|n| *n == column).ok_or_else(|| {
                error(
                    Some(1),
                    Some(column),
                    format!(
                        "no such column in the header (columns: {})",
                        names.join(", ")
                    ),
                )
            })
        };
        let feature_idx: Vec<usize> = config
            .features
            .iter()
            .map(|c| find(c))
            .collect::<Result<_, _>>()?;
        let target_idx: Vec<usize> = config
            .targets
            .iter()
            .map(|c| find(c))
            .collect::<Result<_, _>>()?;
        let time_idx = config.time.as_deref().map(find).transpose()?;

        let (mut features, mut targets, mut times) = (Vec::new(), Vec::new(), Vec::new());
        for (row, record) in csv.records().enumerate() {
            let line = row as u64 + 2; // 1-based, after the header
            let record =
                record.map_err(|e| error(Some(line), None, format!("unreadable row: {e}")))?;
            let cell = |index: usize| -> Result<f64, DatasetError> {
                let column = names[index];
                let text = record
                    .get(index)
                    .ok_or_else(|| error(Some(line), Some(column), "missing cell".into()))?
                    .trim();
                let value: f64 = text.parse().map_err(|_| {
                    error(
                        Some(line),
                        Some(column),
                        format!("{text:?} is not a number"),
                    )
                })?;
                if !value.is_finite() {
                    return Err(error(
                        Some(line),
                        Some(column),
                        format!("{text:?} is not a finite number"),
                    ));
                }
                Ok(value)
            };
            features.push(
                feature_idx
                    .iter()
                    .map(|&i| cell(i))
                    .collect::<Result<Vec<_>, _>>()?,
            );
            targets.push(
                target_idx
                    .iter()
                    .map(|&i| cell(i))
                    .collect::<Result<Vec<_>, _>>()?,
            );
            if let Some(t) = time_idx {
                let now = cell(t)?;
                if let Some(&before) = times.last()
                    && now <= before
                {
                    return Err(error(
                        Some(line),
                        config.time.as_deref(),
                        format!("time {now} does not increase (previous row: {before})"),
                    ));
                }
                times.push(now);
            }
        }

        let rows = features.len();
        let n_train = rows - (rows as f64 * config.valid_fraction).round() as usize;
        let short = |part: &str, have: usize| {
            error(
                None,
                None,
                format!(
                    "the {part} part has {have} rows, but one window needs {} (seq_len + horizon); \
                     add rows or lower seq_len, horizon or valid_fraction",
                    config.seq_len + config.horizon
                ),
            )
        };
        let train_starts = windows
            .starts(n_train)
            .map_err(|_| short("training", n_train))?;
        let valid_starts = if n_train < rows {
            windows
                .starts(rows - n_train)
                .map_err(|_| short("validation", rows - n_train))?
        } else {
            Vec::new()
        };

        let (inputs, target_norm) = if config.normalize {
            (
                Normalizer::fit(&config.features, &features[..n_train]),
                Normalizer::fit(&config.targets, &targets[..n_train]),
            )
        } else {
            (
                Normalizer::identity(&config.features),
                Normalizer::identity(&config.targets),
            )
        };
        let x: Vec<f32> = features.iter().flat_map(|r| inputs.apply(r)).collect();
        let y: Vec<f32> = targets.iter().flat_map(|r| target_norm.apply(r)).collect();
        let timespans: Option<Vec<f32>> = (!times.is_empty()).then(|| {
            (0..rows)
                .map(|r| match r {
                    0 if rows > 1 => (times[1] - times[0]) as f32,
                    0 => 1.0,
                    _ => (times[r] - times[r - 1]) as f32,
                })
                .collect()
        });
        let (fi, ft) = (config.features.len(), config.targets.len());
        let cut = |offset: usize, starts: Vec<usize>| -> SeriesDataset {
            let items: Vec<SeriesItem> = starts
                .into_iter()
                .map(|s| {
                    let start = offset + s;
                    let mut item = windows.item(&x, fi, &y, ft, start);
                    item.timespans = timespans
                        .as_ref()
                        .map(|e| e[start..start + config.seq_len].to_vec());
                    item
                })
                .collect();
            SeriesDataset::new(items)
        };
        Ok(Self {
            train: cut(0, train_starts),
            valid: cut(n_train, valid_starts),
            inputs,
            targets: target_norm,
        })
    }

    /// Training windows.
    pub fn train(&self) -> &SeriesDataset {
        &self.train
    }

    /// Validation windows (later in time than every training row).
    pub fn valid(&self) -> &SeriesDataset {
        &self.valid
    }

    /// The input columns' normalisation (fitted on the training part).
    pub fn input_normalizer(&self) -> &Normalizer {
        &self.inputs
    }

    /// The target columns' normalisation (fitted on the training part).
    pub fn target_normalizer(&self) -> &Normalizer {
        &self.targets
    }
}

#[cfg(test)]
mod tests;
