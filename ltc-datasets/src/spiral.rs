//! The spiral of the LTC tutorial, as next-step prediction windows.

use burn::config::Config;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::error::{Check, DatasetError};
use crate::series::{SeriesDataset, Windows};

/// Configuration of [`Spiral`].
#[derive(Config, Debug)]
pub struct SpiralConfig {
    /// Points on the trajectory.
    #[config(default = 1000)]
    pub num_points: usize,
    /// Turns of the spiral.
    #[config(default = 3.0)]
    pub num_turns: f64,
    /// Noise scale: each coordinate gets `noise · N(0, 1) / num_points`.
    #[config(default = 0.0)]
    pub noise: f64,
    /// Steps per window.
    #[config(default = 32)]
    pub seq_len: usize,
    /// Fraction of the windows held out for validation.
    #[config(default = 0.2)]
    pub valid_fraction: f64,
    /// Seed of the noise and of the shuffle.
    #[config(default = 42)]
    pub seed: u64,
}

/// A 2-D spiral and its next-step prediction windows.
///
/// `θ = linspace(0, num_turns·2π, n)`, `r = linspace(0, 1, n)`,
/// `x = r·sin θ + noise·N(0,1)/n`, `y = r·cos θ + noise·N(0,1)/n`. Every window of `seq_len`
/// points (stride 1) is paired with the same window shifted by one point; the windows are
/// shuffled with the seed and split into training and validation.
///
/// ```
/// use burn::data::dataset::Dataset;
/// let spiral = ltc_datasets::Spiral::new(&ltc_datasets::SpiralConfig::new())?;
/// assert_eq!(spiral.trajectory().len(), 2 * 1000); // [num_points, 2]
/// assert_eq!(spiral.train().len() + spiral.valid().len(), 1000 - 32);
/// # Ok::<(), ltc_datasets::DatasetError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Spiral {
    trajectory: Vec<f32>,
    train: SeriesDataset,
    valid: SeriesDataset,
}

impl Spiral {
    /// Generates the trajectory and its windows.
    pub fn new(config: &SpiralConfig) -> Result<Self, DatasetError> {
        let check = Check {
            config: "SpiralConfig",
        };
        check.nonzero("num_points", config.num_points)?;
        check.within("num_turns", config.num_turns, 0.0, f64::INFINITY, false)?;
        check.within("noise", config.noise, 0.0, f64::INFINITY, true)?;
        check.within("valid_fraction", config.valid_fraction, 0.0, 1.0, true)?;
        let n = config.num_points;
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let last = (n - 1).max(1) as f64;
        let mut trajectory = Vec::with_capacity(2 * n);
        for i in 0..n {
            let theta = config.num_turns * std::f64::consts::TAU * i as f64 / last;
            let r = i as f64 / last;
            let ex: f64 = StandardNormal.sample(&mut rng);
            let ey: f64 = StandardNormal.sample(&mut rng);
            trajectory.push((r * theta.sin() + config.noise * ex / n as f64) as f32);
            trajectory.push((r * theta.cos() + config.noise * ey / n as f64) as f32);
        }
        let windows = Windows {
            seq_len: config.seq_len,
            stride: 1,
            horizon: 1,
        };
        let mut starts = windows.starts(n)?;
        starts.shuffle(&mut rng);
        let n_valid = (starts.len() as f64 * config.valid_fraction).round() as usize;
        let item = |&s: &usize| windows.item(&trajectory, 2, &trajectory, 2, s);
        let valid = starts[..n_valid].iter().map(item).collect();
        let train = starts[n_valid..].iter().map(item).collect();
        Ok(Self {
            train: SeriesDataset::new(train),
            valid: SeriesDataset::new(valid),
            trajectory,
        })
    }

    /// The whole trajectory, row-major `[num_points, 2]` (for plotting).
    pub fn trajectory(&self) -> &[f32] {
        &self.trajectory
    }

    /// Training windows: inputs and targets `[seq_len, 2]`.
    pub fn train(&self) -> &SeriesDataset {
        &self.train
    }

    /// Validation windows.
    pub fn valid(&self) -> &SeriesDataset {
        &self.valid
    }
}

#[cfg(test)]
mod tests;
