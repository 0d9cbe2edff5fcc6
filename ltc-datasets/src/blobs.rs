//! Video classification: which way a blob moves through a short sequence of small frames.

use burn::config::Config;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::error::{Check, DatasetError};

/// Configuration of the moving-blob task (see [`MovingBlobs`]).
#[derive(Config, Debug)]
pub struct MovingBlobsConfig {
    /// Frame width and height, in pixels.
    #[config(default = 12)]
    pub size: usize,
    /// Frames per sequence.
    #[config(default = 8)]
    pub frames: usize,
    /// Pixels the blob moves per frame.
    #[config(default = 1.0)]
    pub speed: f64,
    /// The blob's Gaussian radius (standard deviation), in pixels.
    #[config(default = 1.2)]
    pub radius: f64,
    /// Standard deviation of the Gaussian pixel noise (the blob's peak is 1).
    #[config(default = 0.2)]
    pub noise: f64,
}

impl MovingBlobsConfig {
    /// Checks every field: the path must fit in the frame.
    pub fn validate(&self) -> Result<(), DatasetError> {
        let check = Check {
            config: "MovingBlobsConfig",
        };
        check.nonzero("size", self.size)?;
        check.nonzero("frames", self.frames)?;
        check.within("noise", self.noise, 0.0, f64::INFINITY, true)?;
        // The whole path, plus one radius of margin at both ends, must fit in the frame; a blob
        // that does not move has no direction.
        let room = self.size as f64 - 1.0;
        check.within("radius", self.radius, 0.0, room / 2.0, false)?;
        let path_max = match self.frames {
            1 => f64::INFINITY,
            frames => (room - 2.0 * self.radius) / (frames - 1) as f64,
        };
        check.within("speed", self.speed, 0.0, path_max, false)
    }
}

/// The four directions, the classes of [`MovingBlobs`].
pub const DIRECTIONS: [&str; 4] = ["right", "left", "down", "up"];

/// One sequence of frames and its class.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameItem {
    /// `frames × size × size` pixel values, row-major (frame, row, column).
    pub pixels: Vec<f32>,
    /// Frames.
    pub frames: usize,
    /// Frame width and height.
    pub size: usize,
    /// The direction, an index into [`DIRECTIONS`].
    pub label: usize,
}

/// A Gaussian blob moving in a straight line through noisy frames; the class is its direction
/// (right, left, down, up). Item `i` is drawn from `(seed, i)` (ChaCha8 stream `i`): its class
/// is `i mod 4` (balanced), its start is uniform among the positions whose whole path stays a
/// radius inside the frame, and every pixel is
///
/// `exp(−|p − c_t|² / (2·radius²)) + noise·ε`, with `c_t = start + t·speed·direction`.
///
/// ```
/// use burn::data::dataset::Dataset;
/// use ltc_datasets::{MovingBlobs, MovingBlobsConfig};
///
/// let data = MovingBlobs::new(MovingBlobsConfig::new().with_noise(0.0), 8, 3)?;
/// let item = data.get(0).unwrap(); // class 0: moving right
/// assert_eq!((item.frames, item.size, item.label), (8, 12, 0));
/// let brightest_column = |f: usize| {
///     let frame = &item.pixels[f * 144..(f + 1) * 144];
///     (0..144).max_by(|&a, &b| frame[a].total_cmp(&frame[b])).unwrap() % 12
/// };
/// assert!(brightest_column(7) > brightest_column(0));
/// # Ok::<(), ltc_datasets::DatasetError>(())
/// ```
#[derive(Debug, Clone)]
pub struct MovingBlobs {
    config: MovingBlobsConfig,
    len: usize,
    seed: u64,
}

impl MovingBlobs {
    /// `len` sequences drawn from `seed`. Use different seeds for training and validation.
    pub fn new(config: MovingBlobsConfig, len: usize, seed: u64) -> Result<Self, DatasetError> {
        config.validate()?;
        Check {
            config: "MovingBlobs",
        }
        .nonzero("len", len)?;
        Ok(Self { config, len, seed })
    }

    /// The configuration.
    pub fn config(&self) -> &MovingBlobsConfig {
        &self.config
    }

    fn generate(&self, index: usize) -> FrameItem {
        let c = &self.config;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(index as u64);
        let label = index % DIRECTIONS.len();
        let (dx, dy) = [(1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0)][label];
        let travel = c.speed * (c.frames - 1) as f64;
        let (lo, hi) = (c.radius, c.size as f64 - 1.0 - c.radius);
        // Along the motion the start leaves room for the whole path; across it, anywhere.
        let mut start = |d: f64| {
            let (a, b) = match d {
                d if d > 0.0 => (lo, hi - travel),
                d if d < 0.0 => (lo + travel, hi),
                _ => (lo, hi),
            };
            if b > a { rng.random_range(a..=b) } else { a }
        };
        let (x0, y0) = (start(dx), start(dy));
        let two_r2 = 2.0 * c.radius * c.radius;
        let mut pixels = Vec::with_capacity(c.frames * c.size * c.size);
        for t in 0..c.frames {
            let (cx, cy) = (x0 + dx * c.speed * t as f64, y0 + dy * c.speed * t as f64);
            for row in 0..c.size {
                for col in 0..c.size {
                    let d2 = (col as f64 - cx).powi(2) + (row as f64 - cy).powi(2);
                    let eps: f64 = rng.sample(StandardNormal);
                    pixels.push(((-d2 / two_r2).exp() + c.noise * eps) as f32);
                }
            }
        }
        FrameItem {
            pixels,
            frames: c.frames,
            size: c.size,
            label,
        }
    }
}

impl Dataset<FrameItem> for MovingBlobs {
    fn get(&self, index: usize) -> Option<FrameItem> {
        (index < self.len).then(|| self.generate(index))
    }

    fn len(&self) -> usize {
        self.len
    }
}

/// A batch of frame sequences with their classes.
#[derive(Debug, Clone)]
pub struct FrameBatch<B: Backend> {
    /// `[batch, frames, 1, size, size]` (one channel).
    pub frames: Tensor<B, 5>,
    /// `[batch]`, class indices.
    pub targets: Tensor<B, 1, Int>,
}

/// Stacks [`FrameItem`]s into a [`FrameBatch`].
///
/// # Panics
/// If the items do not all have the same number and size of frames (a batch is one tensor).
#[derive(Debug, Clone, Copy, Default)]
pub struct FrameBatcher;

impl<B: Backend> Batcher<B, FrameItem, FrameBatch<B>> for FrameBatcher {
    fn batch(&self, items: Vec<FrameItem>, device: &B::Device) -> FrameBatch<B> {
        let first = items.first().expect("FrameBatcher: empty batch");
        let (frames, size) = (first.frames, first.size);
        let mut pixels = Vec::with_capacity(items.len() * frames * size * size);
        let mut targets = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            assert!(
                item.frames == frames
                    && item.size == size
                    && item.pixels.len() == frames * size * size,
                "FrameBatcher: item {i} has {} frames of {}×{} ({} values), expected {frames} of {size}×{size}",
                item.frames,
                item.size,
                item.size,
                item.pixels.len()
            );
            pixels.extend_from_slice(&item.pixels);
            targets.push(item.label as i64);
        }
        let batch = items.len();
        FrameBatch {
            frames: Tensor::from_data(
                TensorData::new(pixels, [batch, frames, 1, size, size]),
                device,
            ),
            targets: Tensor::from_data(TensorData::new(targets, [batch]), device),
        }
    }
}

#[cfg(test)]
mod tests;
