//! Next-step prediction on the spiral with an LTC on an NCP (or random) wiring, trained by
//! burn-train's Learner.
//!
//! The model sees the window of points so far and predicts the step to the next point:
//! `p̂(t+1) = p(t) + step_scale · LTC(features)(t)`, where the features are the point and its
//! last step (in units of `step_scale`, the RMS step of the training data). The loss is the mean
//! squared prediction error in units of `step_scale²`, so "predict the last point again" (a zero
//! step) scores about 1.0 and every number below 1 is skill. The first `warmup` steps of each
//! window, where the network has seen too little, are left out of loss and metrics.

use std::path::{Path, PathBuf};

use burn::config::Config;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::module::Module;
use burn::optim::AdamConfig;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use burn::train::{Learner, RegressionOutput};
use ltc_burn::ltc::{Ltc, LtcConfig};
use ltc_datasets::{SeriesBatch, SeriesBatcher, SeriesDataset, Spiral, SpiralConfig};
use ltc_wirings::{AutoNcp, Random, Wiring};

use crate::backend;
use crate::plot::{COLORS, Plot, Series};
use crate::run::learner::Batches;
use crate::run::{
    ConfigChecks, InferOn, MAX_ITEMS, MAX_WIDTH, RunError, RunOptions, Supervised, launch,
    load_run, prepare_artifacts, run_error, save_model, supervised_training,
};

/// The wiring of the LTC.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum WiringKind {
    /// AutoNCP(units, 2): sensory → inter → command → 2 motor neurons.
    Ncp,
    /// A random graph of `units` neurons, 2 of them motor, half the synapses present.
    Random,
}

/// Everything that defines a run; saved as `config.json` in the artifacts folder.
#[derive(Config, Debug)]
pub struct SpiralExperiment {
    /// The data.
    pub data: SpiralConfig,
    /// The wiring kind.
    #[config(default = "WiringKind::Ncp")]
    pub wiring: WiringKind,
    /// Neurons.
    #[config(default = 16)]
    pub units: usize,
    /// Epochs.
    #[config(default = 12)]
    pub epochs: usize,
    /// Windows per batch.
    #[config(default = 16)]
    pub batch_size: usize,
    /// Adam's learning rate.
    #[config(default = 0.02)]
    pub learning_rate: f64,
    /// Steps at the start of each window left out of the loss.
    #[config(default = 4)]
    pub warmup: usize,
    /// Seed of the wiring, the weights and the shuffling.
    #[config(default = 42)]
    pub seed: u64,
}

impl SpiralExperiment {
    /// Checks the training options, the width and the warm-up before anything is written (the
    /// data and the wiring check their own fields when built).
    pub fn check(&self) -> Result<(), RunError> {
        ConfigChecks::new("SpiralExperiment")
            .training(self.epochs, self.batch_size, self.learning_rate)
            .count("units", self.units, 1, MAX_WIDTH)
            .count("data.num_points", self.data.num_points, 1, MAX_ITEMS)
            .count(
                "warmup",
                self.warmup,
                0,
                self.data.seq_len.saturating_sub(1),
            )
            .finish()
    }

    /// The wiring for 4 input features (point and step) and 2 outputs.
    pub fn build_wiring(&self) -> Result<Wiring, RunError> {
        let wiring = match self.wiring {
            WiringKind::Ncp => AutoNcp {
                seed: self.seed,
                ..AutoNcp::new(self.units, 2)
            }
            .build(4),
            WiringKind::Random => Random {
                units: self.units,
                output_dim: 2,
                sparsity: 0.5,
                seed: self.seed,
            }
            .build(4),
        };
        wiring.map_err(|e| run_error("wiring", e))
    }

    /// The untrained model for data whose RMS step is `step_scale`.
    pub fn init<B: Backend>(
        &self,
        step_scale: f64,
        device: &B::Device,
    ) -> Result<SpiralModel<B>, RunError> {
        let ltc = LtcConfig::from_wiring(self.build_wiring()?)
            .init::<B>(device)
            .map_err(|e| run_error("model", e))?;
        Ok(SpiralModel {
            ltc,
            step_scale,
            warmup: self.warmup,
        })
    }
}

/// The spiral predictor: an LTC over `[point, step / step_scale]`, whose 2 motor neurons give
/// the next step in units of `step_scale`.
#[derive(Module, Debug)]
pub struct SpiralModel<B: Backend> {
    /// The liquid network.
    pub ltc: Ltc<B>,
    /// RMS step of the training data (constant).
    pub step_scale: f64,
    /// Steps left out of the loss (constant).
    pub warmup: usize,
}

impl<B: Backend> SpiralModel<B> {
    /// Predicted next points, `[batch, seq, 2]`, from points `[batch, seq, 2]`.
    pub fn predict(&self, points: Tensor<B, 3>) -> Tensor<B, 3> {
        let [batch, seq, _] = points.dims();
        let previous = Tensor::cat(
            vec![
                points.clone().narrow(1, 0, 1),
                points.clone().narrow(1, 0, seq - 1),
            ],
            1,
        );
        let step = (points.clone() - previous).div_scalar(self.step_scale);
        let features = Tensor::cat(vec![points.clone(), step], 2); // [batch, seq, 4]
        let (out, _) = self.ltc.forward(features, None, None);
        debug_assert_eq!(out.dims(), [batch, seq, 2]);
        points + out.mul_scalar(self.step_scale)
    }

    /// Loss (mean squared error in units of `step_scale²`) and the flattened predictions and
    /// targets after the warm-up steps.
    pub fn forward_regression(&self, batch: SeriesBatch<B>) -> RegressionOutput<B> {
        let [b, seq, _] = batch.inputs.dims();
        let keep = seq - self.warmup.min(seq - 1);
        let scaled = |t: Tensor<B, 3>| {
            t.narrow(1, seq - keep, keep)
                .div_scalar(self.step_scale)
                .reshape([b * keep, 2])
        };
        let output = scaled(self.predict(batch.inputs));
        let targets = scaled(batch.targets);
        let loss = (output.clone() - targets.clone()).powi_scalar(2).mean();
        RegressionOutput::new(loss, output, targets)
    }
}

impl<B: Backend> Supervised<B> for SpiralModel<B> {
    type Batch = SeriesBatch<B>;
    type Output = RegressionOutput<B>;

    fn forward_supervised(&self, batch: Self::Batch) -> Self::Output {
        self.forward_regression(batch)
    }
}

crate::supervised_steps!(SpiralModel);

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct SpiralReport {
    /// Validation MSE of the model, in the data's units (mean over points and coordinates).
    pub valid_mse: f64,
    /// Validation MSE of "predict the last point".
    pub baseline_mse: f64,
    /// Train and validation loss per epoch (units of `step_scale²`), from the Learner's logs.
    pub epochs: Vec<(f64, f64)>,
    /// `step_scale²`: multiply a loss by it for an MSE in the data's units.
    pub loss_unit: f64,
    /// Wall-clock training time, seconds.
    pub train_seconds: f64,
    /// The artifacts folder.
    pub artifacts: PathBuf,
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// RMS step between consecutive points of the training windows.
fn rms_step(data: &SeriesDataset) -> f64 {
    let (mut sum, mut count) = (0.0, 0usize);
    for i in 0..data.len() {
        let item = data.get(i).expect("in range");
        for (x, y) in item.inputs.iter().zip(&item.targets) {
            sum += f64::from(y - x).powi(2);
            count += 1;
        }
    }
    (sum / count.max(1) as f64).sqrt()
}

/// Mean over the epoch's logged batches (`value,count` lines) of the Learner's `Loss.log`.
fn epoch_loss(artifacts: &Path, split: &str, epoch: usize) -> Option<f64> {
    let text =
        std::fs::read_to_string(artifacts.join(format!("{split}/epoch-{epoch}/Loss.log"))).ok()?;
    let (mut sum, mut n) = (0.0, 0.0);
    for line in text.lines() {
        let mut parts = line.split(',');
        let value: f64 = parts.next()?.trim().parse().ok()?;
        let count: f64 = parts
            .next()
            .and_then(|c| c.trim().parse().ok())
            .unwrap_or(1.0);
        sum += value * count;
        n += count;
    }
    (n > 0.0).then(|| sum / n)
}

/// MSE (data units) of the model and of the last-point baseline over `data`.
pub fn evaluate<B: Backend>(
    model: &SpiralModel<B>,
    data: &SeriesDataset,
    batch_size: usize,
    device: &B::Device,
) -> (f64, f64) {
    let (mut model_sum, mut base_sum, mut n) = (0.0, 0.0, 0usize);
    let indices: Vec<usize> = (0..data.len()).collect();
    for chunk in indices.chunks(batch_size) {
        let items: Vec<_> = chunk.iter().filter_map(|&i| data.get(i)).collect();
        let batch: SeriesBatch<B> = SeriesBatcher.batch(items, device);
        let [b, seq, _] = batch.inputs.dims();
        let keep = seq - model.warmup.min(seq - 1);
        let tail = |t: Tensor<B, 3>| t.narrow(1, seq - keep, keep);
        let predicted = tail(model.predict(batch.inputs.clone()));
        let target = tail(batch.targets);
        let last = tail(batch.inputs);
        let sq = |a: Tensor<B, 3>| {
            a.powi_scalar(2)
                .sum()
                .into_data()
                .convert::<f64>()
                .to_vec::<f64>()
                .expect("float")[0]
        };
        model_sum += sq(predicted - target.clone());
        base_sum += sq(last - target);
        n += b * keep * 2;
    }
    (model_sum / n as f64, base_sum / n as f64)
}

/// Trains the model described by `config` and writes config, checkpoints, logs, the model and
/// the plots under `artifacts`.
pub fn train(
    config: &SpiralExperiment,
    artifacts: &Path,
    options: &RunOptions,
) -> Result<SpiralReport, RunError> {
    type B = backend::TrainBackend;
    let device = backend::device();
    config.check()?;
    let spiral = Spiral::new(&config.data).map_err(|e| run_error("data", e))?;
    let step_scale = rms_step(spiral.train());
    B::seed(&device, config.seed);
    let model = config.init::<B>(step_scale, &device)?;
    // Only now, with the whole config checked: a bad option leaves an earlier run's files be.
    let resume_from = prepare_artifacts(config, artifacts, options)?;

    let optimizer = AdamConfig::new()
        .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
        .init();
    let learner = Learner::new(model, optimizer, config.learning_rate);
    let training = supervised_training(
        artifacts,
        SeriesBatcher,
        (spiral.train().clone(), spiral.valid().clone()),
        Batches::shuffled(config.batch_size, config.seed),
        config.epochs,
    );
    let (model, train_seconds) = launch(training, learner, options, resume_from);

    save_model(model.clone(), artifacts)?;
    let (valid_mse, baseline_mse) = evaluate(&model, spiral.valid(), config.batch_size, &device);
    let epochs: Vec<(f64, f64)> = (1..=config.epochs)
        .map(|e| {
            (
                epoch_loss(artifacts, "train", e).unwrap_or(f64::NAN),
                epoch_loss(artifacts, "valid", e).unwrap_or(f64::NAN),
            )
        })
        .collect();
    let files = plots(&model, &spiral, &epochs, artifacts, &device)?;
    Ok(SpiralReport {
        valid_mse,
        baseline_mse,
        epochs,
        loss_unit: step_scale * step_scale,
        train_seconds,
        artifacts: artifacts.to_path_buf(),
        files,
    })
}

/// The `--infer` path: loads the model saved in `artifacts` on the inference backend and
/// returns its MSE and the last-point baseline's (data units) on validation windows: those of
/// a spiral drawn with another seed and added noise (`noise + 0.5`, about 5e-4 per coordinate
/// at 1000 points), or the run's own.
pub fn infer(artifacts: &Path, on: InferOn) -> Result<(f64, f64), RunError> {
    let (config, model) = load_run(artifacts, |config: &SpiralExperiment, device| {
        let spiral = Spiral::new(&config.data).map_err(|e| run_error("data", e))?;
        config.init(rms_step(spiral.train()), device)
    })?;
    let data = match on {
        InferOn::NewData => config
            .data
            .clone()
            .with_seed(InferOn::NewData.seed(config.data.seed))
            .with_noise(config.data.noise + 0.5),
        InferOn::Validation => config.data.clone(),
    };
    let spiral = Spiral::new(&data).map_err(|e| run_error("data", e))?;
    Ok(evaluate(
        &model,
        spiral.valid(),
        config.batch_size,
        &backend::device(),
    ))
}

/// `trajectory.{png,svg}`: the true spiral and the one-step-ahead predictions along it;
/// `loss.{png,svg}`: train and validation loss per epoch.
fn plots<B: Backend>(
    model: &SpiralModel<B>,
    spiral: &Spiral,
    epochs: &[(f64, f64)],
    artifacts: &Path,
    device: &B::Device,
) -> Result<Vec<PathBuf>, RunError> {
    let trajectory = spiral.trajectory();
    let n = trajectory.len() / 2;
    let points = Tensor::<B, 3>::from_data(TensorData::new(trajectory.to_vec(), [1, n, 2]), device);
    let predicted: Vec<f64> = model
        .predict(points)
        .into_data()
        .convert::<f64>()
        .to_vec()
        .expect("float");
    let truth: Vec<(f64, f64)> = trajectory
        .chunks(2)
        .map(|p| (f64::from(p[0]), f64::from(p[1])))
        .collect();
    // The prediction made at point t is for point t + 1.
    let predicted: Vec<(f64, f64)> = predicted
        .chunks(2)
        .map(|p| (p[0], p[1]))
        .take(n - 1)
        .collect();
    let trajectory_plot = Plot {
        title: "spiral: true trajectory and one-step-ahead LTC predictions".into(),
        x_label: "x".into(),
        y_label: "y".into(),
        series: vec![
            Series {
                label: "true".into(),
                points: truth,
                color: COLORS[0],
                line: true,
            },
            Series {
                label: "predicted (from the points before)".into(),
                points: predicted,
                color: COLORS[1],
                line: false,
            },
        ],
        equal_aspect: true,
        log_y: false,
    };
    let loss_plot = Plot {
        title: "loss per epoch (MSE in units of the mean squared step; last-point baseline ≈ 1)"
            .into(),
        x_label: "epoch".into(),
        y_label: "loss".into(),
        series: vec![
            Series {
                label: "train".into(),
                points: epochs
                    .iter()
                    .enumerate()
                    .map(|(i, e)| ((i + 1) as f64, e.0))
                    .collect(),
                color: COLORS[0],
                line: true,
            },
            Series {
                label: "validation".into(),
                points: epochs
                    .iter()
                    .enumerate()
                    .map(|(i, e)| ((i + 1) as f64, e.1))
                    .collect(),
                color: COLORS[1],
                line: true,
            },
        ],
        equal_aspect: false,
        log_y: true,
    };
    let mut files = Vec::new();
    for (plot, stem) in [(trajectory_plot, "trajectory"), (loss_plot, "loss")] {
        let stem = artifacts.join(stem);
        plot.save(&stem)
            .map_err(|e| run_error(format_args!("cannot write {}", stem.display()), e))?;
        files.push(stem.with_extension("png"));
    }
    Ok(files)
}
