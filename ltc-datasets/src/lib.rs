//! # ltc-datasets
//!
//! Seeded data for liquid networks and Neural ODEs, as Burn [`Dataset`](burn::data::dataset::Dataset)s
//! with [`Batcher`](burn::data::dataloader::batcher::Batcher)s whose output shapes are
//! documented. Every generator documents its exact formula and gives the same items for the
//! same seed on every platform.
//!
//! - [`SineFrequencyDataset`]: which of two frequencies a noisy sine has (sequence
//!   classification), batched by [`SequenceClassificationBatcher`] into
//!   `inputs [batch, seq, features]` and `targets [batch]`.
//! - [`Spiral`]: the LTC tutorial's spiral as next-step prediction windows, and
//!   [`sine_quickstart`] (and its continuation [`sine_sequence`]), ncps's first-steps sequence; both batched by [`SeriesBatcher`] into
//!   `inputs [batch, seq, in]`, `targets [batch, seq, out]` and, for irregular data,
//!   `timespans [batch, seq]`. [`Windows`] cuts any in-memory series into such windows.
//! - [`Moons`]: two interleaved half circles, batched by [`PointBatcher`] into
//!   `inputs [batch, 2]`, `targets [batch]`.
//! - [`IrregularOscillator`]: a damped oscillator observed at random times, with per-step
//!   timespans (exercises `timespans`).
//! - [`CsvSeries`]: your own CSV time series — chosen feature, target and time columns, split
//!   in time, z-scored with a reusable [`Normalizer`], errors naming file, line and column.
//! - [`MovingBlobs`]: which way a blob moves through a short video, batched by
//!   [`FrameBatcher`] into `frames [batch, frames, 1, size, size]` and `targets [batch]`.
//! - [`EventXor`]: the parity of a bit stream seen as run-length events, batched (padded and
//!   masked) by [`EventBatcher`].
#![warn(missing_docs)]

mod blobs;
mod csv_series;
mod error;
mod events;
mod irregular;
mod moons;
mod sequence;
mod series;
mod spiral;

pub use blobs::{DIRECTIONS, FrameBatch, FrameBatcher, FrameItem, MovingBlobs, MovingBlobsConfig};
pub use csv_series::{CsvSeries, CsvSeriesConfig, Normalizer};
pub use error::DatasetError;
pub use events::{EventBatch, EventBatcher, EventItem, EventXor, sine_quickstart, sine_sequence};
pub use irregular::{IrregularOscillator, IrregularOscillatorConfig};
pub use moons::{Moons, PointBatch, PointBatcher, PointItem};
pub use sequence::{
    SequenceClassificationBatch, SequenceClassificationBatcher, SequenceItem, SineFrequencyConfig,
    SineFrequencyDataset,
};
pub use series::{SeriesBatch, SeriesBatcher, SeriesDataset, SeriesItem, Windows};
pub use spiral::{Spiral, SpiralConfig};
