//! ncps's "first steps" task: an LTC on AutoNCP(16, 1) learns `sin 2t` from `[sin t, cos t]`,
//! trained by burn-train's Learner with ncps's settings (Adam, lr 0.01, gradient norm clipped
//! at 1, 400 optimiser steps on the one 48-point sequence).

use std::path::{Path, PathBuf};

use burn::config::Config;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::InMemDataset;
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::train::{Learner, RegressionOutput, TrainOutput};
use ltc_burn::kernel::on_compute_pool;
use ltc_burn::ltc::{Ltc, LtcConfig};
use ltc_burn::optim::clip_grad_norm;
use ltc_datasets::{SeriesBatch, SeriesBatcher, SeriesItem, sine_quickstart, sine_sequence};
use ltc_wirings::AutoNcp;

use crate::backend;
use crate::plot::{COLORS, Plot, Series};
use crate::run::learner::Batches;
use crate::run::{
    ConfigChecks, InferOn, MAX_ITEMS, MAX_WIDTH, RunError, RunOptions, Supervised, launch,
    load_run, prepare_artifacts, run_error, save_model, supervised_training,
};

/// Everything that defines a run; saved as `config.json` in the artifacts folder.
#[derive(Config, Debug)]
pub struct SineExperiment {
    /// Neurons of the AutoNCP wiring (1 of them the motor neuron).
    #[config(default = 16)]
    pub units: usize,
    /// Optimiser steps (ncps's quickstart: 400 epochs of one batch).
    #[config(default = 400)]
    pub steps: usize,
    /// Adam's learning rate.
    #[config(default = 0.01)]
    pub learning_rate: f64,
    /// Global gradient-norm clipping (ncps's quickstart: Lightning's `gradient_clip_val=1`).
    #[config(default = 1.0)]
    pub clip_norm: f64,
    /// Seed of the weights. The final MSE depends on it (the landscape is rugged): over seeds
    /// 1–11 it ranges from 2.6e-4 to 2.6e-3; seed 10 reaches 2.6e-4. ncps itself, 12 seeds:
    /// 9.2e-5 to 2.3e-3, median 1.9e-4 (`tools/ncps_sine.py`).
    #[config(default = 10)]
    pub seed: u64,
}

impl SineExperiment {
    /// Checks every field before anything is written.
    pub fn check(&self) -> Result<(), RunError> {
        ConfigChecks::new("SineExperiment")
            .count("units", self.units, 1, MAX_WIDTH)
            .count("steps", self.steps, 1, MAX_ITEMS)
            .positive("learning_rate", self.learning_rate)
            .positive("clip_norm", self.clip_norm)
            .finish()
    }

    /// The untrained model: an LTC on AutoNCP(units, 1) over `[sin t, cos t]`.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<SineModel<B>, RunError> {
        let wiring = AutoNcp::new(self.units, 1)
            .build(2)
            .map_err(|e| run_error("wiring", e))?;
        let ltc = LtcConfig::from_wiring(wiring)
            .init::<B>(device)
            .map_err(|e| run_error("model", e))?;
        Ok(SineModel {
            ltc,
            clip_norm: self.clip_norm,
        })
    }
}

/// The LTC with an MSE loss over every step.
#[derive(Module, Debug)]
pub struct SineModel<B: Backend> {
    /// The liquid network.
    pub ltc: Ltc<B>,
    /// Global gradient-norm bound (constant).
    pub clip_norm: f64,
}

impl<B: Backend> SineModel<B> {
    fn forward_regression(&self, batch: SeriesBatch<B>) -> RegressionOutput<B> {
        let [b, seq, _] = batch.targets.dims();
        let (y, _) = self.ltc.forward(batch.inputs, None, None);
        let output = y.reshape([b * seq, 1]);
        let targets = batch.targets.reshape([b * seq, 1]);
        let loss = (output.clone() - targets.clone()).powi_scalar(2).mean();
        RegressionOutput::new(loss, output, targets)
    }
}

impl<B: Backend> Supervised<B> for SineModel<B> {
    type Batch = SeriesBatch<B>;
    type Output = RegressionOutput<B>;

    fn forward_supervised(&self, batch: Self::Batch) -> Self::Output {
        self.forward_regression(batch)
    }
}

/// Back-propagation with the gradients clipped to a global norm of `clip_norm`, as PyTorch
/// Lightning's `gradient_clip_val` (Burn's own clipping is per parameter); on the compute pool.
fn clipped_step<B: AutodiffBackend>(
    model: &SineModel<B>,
    batch: SeriesBatch<B>,
) -> TrainOutput<RegressionOutput<B>> {
    on_compute_pool::<B, _>(|| {
        let item = model.forward_regression(batch);
        let grads = GradientsParams::from_grads(item.loss.backward(), model);
        let (grads, _) = clip_grad_norm(model, grads, model.clip_norm);
        TrainOutput { grads, item }
    })
}

crate::supervised_steps!(SineModel, clipped_step);

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct SineReport {
    /// MSE of the trained model over the sequence.
    pub mse: f64,
    /// Wall-clock training time, seconds.
    pub train_seconds: f64,
    /// The artifacts folder.
    pub artifacts: PathBuf,
    /// The plot.
    pub plot: PathBuf,
}

/// Trains and writes config, checkpoint, logs, model and `prediction.{png,svg}` under
/// `artifacts`.
pub fn train(
    config: &SineExperiment,
    artifacts: &Path,
    options: &RunOptions,
) -> Result<SineReport, RunError> {
    type B = backend::TrainBackend;
    let device = backend::device();
    config.check()?;
    B::seed(&device, config.seed);
    let model = config.init::<B>(&device)?;
    // Only now, with the whole config checked: a bad option leaves an earlier run's files be.
    let resume_from = prepare_artifacts(config, artifacts, options)?;
    let item = sine_quickstart();
    // One epoch of `steps` batches, each the whole sequence: `steps` optimiser steps.
    let train_data = InMemDataset::new(vec![item.clone(); config.steps]);
    let valid_data = InMemDataset::new(vec![item.clone()]);
    // PyTorch's Adam defaults (Burn's epsilon is 1e-5).
    let optimizer = AdamConfig::new().with_epsilon(1e-8).init();
    let learner = Learner::new(model, optimizer, config.learning_rate);
    let training = supervised_training(
        artifacts,
        SeriesBatcher,
        (train_data, valid_data),
        Batches {
            batch_size: 1,
            valid_batch_size: 1,
            shuffle: None,
        },
        1,
    );
    let (model, train_seconds) = launch(training, learner, options, resume_from);
    save_model(model.clone(), artifacts)?;

    let (mse, prediction) = evaluate(&model, &item, &device);
    let plot = artifacts.join("prediction");
    let t = |i: usize| 3.0 * std::f64::consts::PI * i as f64 / (item.seq_len - 1) as f64;
    Plot {
        title: format!(
            "sin 2t from [sin t, cos t]: LTC on AutoNCP({}, 1), MSE {mse:.2e}",
            config.units
        ),
        x_label: "t".into(),
        y_label: "value".into(),
        series: vec![
            Series {
                label: "target sin 2t".into(),
                points: item
                    .targets
                    .iter()
                    .enumerate()
                    .map(|(i, &y)| (t(i), f64::from(y)))
                    .collect(),
                color: COLORS[0],
                line: true,
            },
            Series {
                label: "LTC prediction".into(),
                points: prediction
                    .iter()
                    .enumerate()
                    .map(|(i, &y)| (t(i), y))
                    .collect(),
                color: COLORS[1],
                line: true,
            },
        ],
        equal_aspect: false,
        log_y: false,
    }
    .save(&plot)
    .map_err(|e| run_error(format_args!("cannot write {}", plot.display()), e))?;
    Ok(SineReport {
        mse,
        train_seconds,
        artifacts: artifacts.to_path_buf(),
        plot: plot.with_extension("png"),
    })
}

/// The `--infer` path: loads the model saved in `artifacts` on the inference backend and
/// returns its MSE on the 48 steps that follow the training sequence (it runs the sequence
/// continued to 96 points, `t` up to 6π, from the start), or on the training sequence itself.
pub fn infer(artifacts: &Path, on: InferOn) -> Result<f64, RunError> {
    let (_, model) = load_run(artifacts, SineExperiment::init)?;
    let trained = sine_quickstart();
    let device = backend::device();
    Ok(match on {
        InferOn::Validation => evaluate(&model, &trained, &device).0,
        InferOn::NewData => {
            let n = trained.seq_len;
            let longer = sine_sequence(2 * n, 3.0 * std::f64::consts::PI / (n - 1) as f64);
            let (_, prediction) = evaluate(&model, &longer, &device);
            prediction[n..]
                .iter()
                .zip(&longer.targets[n..])
                .map(|(p, t)| (p - f64::from(*t)).powi(2))
                .sum::<f64>()
                / n as f64
        }
    })
}

/// MSE over the sequence and the predictions.
pub fn evaluate<B: Backend>(
    model: &SineModel<B>,
    item: &SeriesItem,
    device: &B::Device,
) -> (f64, Vec<f64>) {
    let batch: SeriesBatch<B> = SeriesBatcher.batch(vec![item.clone()], device);
    let (y, _) = model.ltc.forward(batch.inputs, None, None);
    let prediction: Vec<f64> = y.into_data().convert::<f64>().to_vec().expect("float");
    let mse = prediction
        .iter()
        .zip(&item.targets)
        .map(|(p, t)| (p - f64::from(*t)).powi(2))
        .sum::<f64>()
        / prediction.len() as f64;
    (mse, prediction)
}
