//! An irregularly sampled series: a damped oscillator observed at random times.

use burn::config::Config;
use burn::data::dataset::Dataset;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::error::{Check, DatasetError};
use crate::series::SeriesItem;

/// Configuration of [`IrregularOscillator`].
#[derive(Config, Debug)]
pub struct IrregularOscillatorConfig {
    /// Observations per sequence.
    #[config(default = 64)]
    pub seq_len: usize,
    /// Shortest gap between observations.
    #[config(default = 0.05)]
    pub dt_min: f64,
    /// Longest gap between observations.
    #[config(default = 0.5)]
    pub dt_max: f64,
    /// Damping rate γ (1/time).
    #[config(default = 0.1)]
    pub damping: f64,
    /// Angular frequency ω (rad/time).
    #[config(default = 2.0)]
    pub omega: f64,
    /// Standard deviation of the observation noise.
    #[config(default = 0.05)]
    pub noise: f64,
}

/// A damped oscillator `x(t) = A·e^(−γt)·cos(ωt + φ)` observed at random times: the model
/// sees noisy positions and the time elapsed before each, and must recover the clean position
/// and the velocity `v(t) = A·e^(−γt)·(−γ·cos(ωt + φ) − ω·sin(ωt + φ))` — which needs the
/// timespans.
///
/// Item `i` draws from ChaCha8 stream `i` of the seed: `A ~ U(0.5, 1.5)`, `φ ~ U(0, 2π)`, gaps
/// `Δ_k ~ U(dt_min, dt_max)` (the first is the time from 0 to the first observation),
/// `t_k = Δ_0 + … + Δ_k`. Inputs `[x(t_k) + noise·ε]`, targets `[x(t_k), v(t_k)]`,
/// timespans `[Δ_k]`.
///
/// ```
/// use burn::data::dataset::Dataset;
/// use ltc_datasets::{IrregularOscillator, IrregularOscillatorConfig};
/// let data = IrregularOscillator::new(IrregularOscillatorConfig::new(), 100, 3)?;
/// let item = data.get(0).unwrap();
/// assert_eq!((item.seq_len, item.input_features, item.target_features), (64, 1, 2));
/// assert!(item.timespans.unwrap().iter().all(|&dt| (0.05..=0.5).contains(&dt)));
/// # Ok::<(), ltc_datasets::DatasetError>(())
/// ```
#[derive(Debug, Clone)]
pub struct IrregularOscillator {
    config: IrregularOscillatorConfig,
    len: usize,
    seed: u64,
}

impl IrregularOscillator {
    /// `len` sequences drawn from `seed`.
    pub fn new(
        config: IrregularOscillatorConfig,
        len: usize,
        seed: u64,
    ) -> Result<Self, DatasetError> {
        let check = Check {
            config: "IrregularOscillatorConfig",
        };
        check.nonzero("seq_len", config.seq_len)?;
        check.nonzero("len", len)?;
        check.within("dt_min", config.dt_min, 0.0, f64::INFINITY, false)?;
        check.within("dt_max", config.dt_max, config.dt_min, f64::INFINITY, true)?;
        check.within("damping", config.damping, 0.0, f64::INFINITY, true)?;
        check.within("omega", config.omega, 0.0, f64::INFINITY, false)?;
        check.within("noise", config.noise, 0.0, f64::INFINITY, true)?;
        Ok(Self { config, len, seed })
    }

    /// Amplitude, phase and observation times of item `index`.
    pub fn trajectory_of(&self, index: usize) -> (f64, f64, Vec<f64>) {
        let c = &self.config;
        let mut rng = self.rng(index);
        let amplitude = rng.random_range(0.5..=1.5);
        let phase = rng.random_range(0.0..std::f64::consts::TAU);
        let mut t = 0.0;
        let times = (0..c.seq_len)
            .map(|_| {
                t += rng.random_range(c.dt_min..=c.dt_max);
                t
            })
            .collect();
        (amplitude, phase, times)
    }

    fn rng(&self, index: usize) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(index as u64);
        rng
    }
}

impl Dataset<SeriesItem> for IrregularOscillator {
    fn get(&self, index: usize) -> Option<SeriesItem> {
        if index >= self.len {
            return None;
        }
        let c = &self.config;
        let (amplitude, phase, times) = self.trajectory_of(index);
        // Noise comes from its own stream so that it never shifts the trajectory's draws.
        let mut noise_rng = self.rng(index);
        noise_rng.set_word_pos(1 << 40);
        let (mut inputs, mut targets, mut timespans) = (Vec::new(), Vec::new(), Vec::new());
        let mut previous = 0.0;
        for &t in &times {
            let decay = amplitude * (-c.damping * t).exp();
            let (cos, sin) = ((c.omega * t + phase).cos(), (c.omega * t + phase).sin());
            let x = decay * cos;
            let v = decay * (-c.damping * cos - c.omega * sin);
            let eps: f64 = StandardNormal.sample(&mut noise_rng);
            inputs.push((x + c.noise * eps) as f32);
            targets.extend([x as f32, v as f32]);
            timespans.push((t - previous) as f32);
            previous = t;
        }
        Some(SeriesItem {
            inputs,
            targets,
            timespans: Some(timespans),
            seq_len: c.seq_len,
            input_features: 1,
            target_features: 2,
        })
    }

    fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests;
