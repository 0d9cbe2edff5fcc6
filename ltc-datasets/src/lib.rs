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
#![warn(missing_docs)]

mod error;
mod sequence;

pub use error::DatasetError;
pub use sequence::{
    SequenceClassificationBatch, SequenceClassificationBatcher, SequenceItem, SineFrequencyConfig,
    SineFrequencyDataset,
};
