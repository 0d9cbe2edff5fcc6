//! The event-based bit-stream XOR of the CfC paper, at small scale: CfC against LTC.
//!
//! A stream of fair bits is merged into runs; each run is one event (its bit, and its length as
//! the elapsed time), so a model must weigh every event by its duration to get the parity. The
//! paper (Hasani et al. 2022, 32-bit streams) reports CfC ≈ 99 % and LTC ≈ 49 %.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::config::Config;
use burn::data::dataloader::DataLoaderBuilder;
use burn::module::{AutodiffModule, Module};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor};
use ltc_burn::persist::{
    CONFIG_FILE, MODEL_FILE, load_record, load_weights, save_record, save_weights,
};
use ltc_datasets::{EventBatch, EventBatcher, EventXor};
use ltc_wirings::FullyConnected;

use crate::backend;
use crate::liquid::{Liquid, LiquidKind};
use crate::run::{
    ConfigChecks, InferOn, MAX_ITEMS, MAX_WIDTH, RunError, check_same_run, fraction_correct,
    last_complete_epoch, load_files, run_error, save_config,
};

/// Everything that defines a run.
#[derive(Config, Debug)]
pub struct XorConfig {
    /// Bits per stream.
    #[config(default = 8)]
    pub bits: usize,
    /// Liquid neurons.
    #[config(default = 16)]
    pub units: usize,
    /// Training streams.
    #[config(default = 4096)]
    pub train_size: usize,
    /// Validation streams (drawn from another seed).
    #[config(default = 1024)]
    pub valid_size: usize,
    /// Epochs.
    #[config(default = 20)]
    pub epochs: usize,
    /// Streams per batch.
    #[config(default = 64)]
    pub batch_size: usize,
    /// Adam's learning rate (the first epoch's; see [`XorConfig::learning_rate_at`]).
    #[config(default = 5e-3)]
    pub learning_rate: f64,
    /// Seed of the weights, the data and the batch order.
    #[config(default = 7)]
    pub seed: u64,
}

/// A liquid layer over the events and a linear read-out of its output at each stream's last
/// event.
#[derive(Module, Debug)]
pub struct XorModel<B: Backend> {
    /// CfC or LTC, fed `[bit]` per event with the run length as its timespan.
    pub liquid: Liquid<B>,
    /// Last real event's outputs → two logits.
    pub head: Linear<B>,
}

impl XorConfig {
    /// The learning rate of `epoch` (from 1): `learning_rate` annealed along a half cosine to
    /// 5 % of it in the last epoch. At a constant rate Adam's last epochs can jump out of a
    /// solved XOR (seen: 99.9 % after epoch 19, 91.7 % after epoch 20).
    ///
    /// ```
    /// let config = ltc_examples::xor::XorConfig::new().with_epochs(20);
    /// assert!((config.learning_rate_at(1) - 5e-3).abs() < 1e-12);
    /// assert!((config.learning_rate_at(20) - 2.5e-4).abs() < 1e-12);
    /// assert!(config.learning_rate_at(10) < config.learning_rate_at(9));
    /// // Epochs past the schedule (a resume to fewer epochs) stay at the floor.
    /// assert_eq!(config.learning_rate_at(25), config.learning_rate_at(20));
    /// ```
    pub fn learning_rate_at(&self, epoch: usize) -> f64 {
        let progress = (epoch.saturating_sub(1)) as f64 / (self.epochs.max(2) - 1) as f64;
        let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos());
        self.learning_rate * (0.05 + 0.95 * cosine)
    }

    /// Checks the training options, widths and sizes before anything is written (the data
    /// checks the number of bits when built).
    pub fn check(&self) -> Result<(), RunError> {
        ConfigChecks::new("XorConfig")
            .training(self.epochs, self.batch_size, self.learning_rate)
            .count("units", self.units, 1, MAX_WIDTH)
            .count("train_size", self.train_size, 1, MAX_ITEMS)
            .count("valid_size", self.valid_size, 1, MAX_ITEMS)
            .finish()
    }

    /// Builds the model on `device`: a CfC (backbone 32) or an LTC on `FullyConnected(units)`.
    pub fn init<B: Backend>(
        &self,
        kind: LiquidKind,
        device: &B::Device,
    ) -> Result<XorModel<B>, RunError> {
        let wiring = || FullyConnected::new(self.units).build(1);
        let liquid = Liquid::init(kind, 1, self.units, wiring, device)?;
        let head = LinearConfig::new(liquid.d_output(), 2).init(device);
        Ok(XorModel { liquid, head })
    }
}

impl<B: Backend> XorModel<B> {
    /// Logits `[batch, 2]`. Padding after a stream's end gets timespan 1 (any positive
    /// value: the read-out takes each stream's last real event, and the layers are causal).
    pub fn forward(&self, batch: &EventBatch<B>) -> Tensor<B, 2> {
        let [b, events] = batch.mask.dims();
        let padding = batch.mask.clone().neg().add_scalar(1.0);
        let timespans = batch.timespans.clone() + padding;
        let y = self.liquid.forward(batch.inputs.clone(), Some(timespans)); // [b, events, out]
        // One-hot of each stream's last event: mask[t] − mask[t + 1].
        let next = Tensor::cat(
            vec![
                batch.mask.clone().narrow(1, 1, events - 1),
                Tensor::zeros([b, 1], &batch.mask.device()),
            ],
            1,
        );
        let last = (batch.mask.clone() - next).unsqueeze_dim::<3>(2);
        let y_last = (y * last).sum_dim(1).squeeze_dim::<2>(1);
        self.head.forward(y_last)
    }

    /// Predicted classes `[batch]`.
    pub fn predict(&self, batch: &EventBatch<B>) -> Tensor<B, 1, Int> {
        self.forward(batch).argmax(1).flatten::<1>(0, 1)
    }
}

/// One model's result.
#[derive(Debug, Clone)]
pub struct XorReport {
    /// The liquid layer.
    pub kind: LiquidKind,
    /// Validation accuracy after each epoch, in `[0, 1]` (a resumed run's earlier epochs come
    /// from its checkpoint).
    pub valid_accuracy: Vec<f64>,
    /// Trainable parameters.
    pub params: usize,
    /// Wall-clock training time of this invocation, in seconds.
    pub train_seconds: f64,
    /// The epoch this invocation resumed after (`None`: trained from the start).
    pub resumed_from: Option<usize>,
}

/// The folder of one model's checkpoints and trained weights: `artifacts/cfc` or
/// `artifacts/ltc`.
pub fn model_dir(artifacts: &Path, kind: LiquidKind) -> PathBuf {
    artifacts.join(match kind {
        LiquidKind::Cfc => "cfc",
        LiquidKind::Ltc => "ltc",
    })
}

fn checkpoint_files(epoch: usize) -> [String; 3] {
    [
        format!("model-{epoch}.mpk"),
        format!("optim-{epoch}.mpk"),
        format!("accuracy-{epoch}.json"),
    ]
}

/// Trains one model with a plain Adam loop and reports its validation accuracy after every
/// epoch.
///
/// Writes `artifacts/config.json` and, under [`model_dir`], a checkpoint after every epoch
/// (`checkpoint/model-E.mpk`, `optim-E.mpk` with Adam's moments, `accuracy-E.json` with the
/// accuracies so far; each written to a temporary file and renamed; the last two epochs are
/// kept) and the trained weights `model.mpk`. With `resume`, continues after the last complete
/// checkpoint, replaying the data order of the epochs already done, once `config.json` is
/// checked to describe the same run (only `epochs` may differ).
pub fn train<B: AutodiffBackend>(
    config: &XorConfig,
    kind: LiquidKind,
    artifacts: &Path,
    resume: bool,
    device: &B::Device,
    mut on_epoch: impl FnMut(usize, f64),
) -> Result<XorReport, RunError> {
    config.check()?;
    B::seed(device, config.seed);
    let train = EventXor::new(config.bits, config.train_size, config.seed)
        .map_err(|e| run_error("training data", e))?;
    let valid = EventXor::new(
        config.bits,
        config.valid_size,
        InferOn::Validation.seed(config.seed),
    )
    .map_err(|e| run_error("validation data", e))?;
    let mut model = config.init::<B>(kind, device)?;
    let params = model.num_params();
    let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let loader = DataLoaderBuilder::<B, _, _>::new(EventBatcher)
        .batch_size(config.batch_size)
        .shuffle(config.seed)
        .set_device(device.clone())
        .build(train);

    let dir = model_dir(artifacts, kind);
    let checkpoints = dir.join("checkpoint");
    let mut valid_accuracy = Vec::with_capacity(config.epochs);
    let resumed_from = if resume {
        check_same_run(config, artifacts)?;
        let epoch = last_complete_epoch(&checkpoints, |e| checkpoint_files(e)[1..].to_vec())
            .ok_or_else(|| {
                RunError(format!(
                    "--resume: no complete checkpoint in {}; start without --resume",
                    checkpoints.display()
                ))
            })?;
        let [model_file, optim_file, accuracy_file] = checkpoint_files(epoch);
        model = load_weights(model, &checkpoints.join(model_file), device)
            .map_err(|e| run_error("--resume", e))?;
        optim = optim.load_record(
            load_record::<B, _>(&checkpoints.join(optim_file), device)
                .map_err(|e| run_error("--resume", e))?,
        );
        let path = checkpoints.join(accuracy_file);
        valid_accuracy = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .ok_or_else(|| RunError(format!("--resume: {} is unreadable", path.display())))?;
        // Each pass over the loader draws the next order from its seeded generator.
        for _ in 0..epoch {
            drop(loader.iter());
        }
        Some(epoch)
    } else {
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| {
                run_error(
                    format_args!("cannot clear the earlier run's {}", dir.display()),
                    e,
                )
            })?;
        }
        None
    };
    save_config(config, artifacts)?;

    let start = Instant::now();
    for epoch in resumed_from.unwrap_or(0) + 1..=config.epochs {
        let lr = config.learning_rate_at(epoch);
        for batch in loader.iter() {
            let loss = loss_fn.forward(model.forward(&batch), batch.targets.clone());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
        }
        let accuracy = accuracy(&model.valid(), &valid, config.batch_size, device);
        on_epoch(epoch, accuracy);
        valid_accuracy.push(accuracy);
        write_checkpoint(&checkpoints, epoch, &model, &optim, &valid_accuracy)?;
    }
    save_weights(model.clone(), &dir.join(MODEL_FILE))
        .map_err(|e| run_error("cannot write the model", e))?;
    Ok(XorReport {
        kind,
        valid_accuracy,
        params,
        train_seconds: start.elapsed().as_secs_f64(),
        resumed_from,
    })
}

/// Writes epoch `epoch`'s checkpoint (the accuracies last, so a complete set has all three)
/// and removes the one from two epochs before.
fn write_checkpoint<B: AutodiffBackend, O: Optimizer<XorModel<B>, B>>(
    dir: &Path,
    epoch: usize,
    model: &XorModel<B>,
    optim: &O,
    valid_accuracy: &[f64],
) -> Result<(), RunError> {
    let [model_file, optim_file, accuracy_file] = checkpoint_files(epoch);
    let failed = |e| run_error("cannot write a checkpoint", e);
    save_weights(model.clone(), &dir.join(model_file)).map_err(failed)?;
    save_record::<B, _>(optim.to_record(), &dir.join(optim_file)).map_err(failed)?;
    let path = dir.join(accuracy_file);
    let temporary = path.with_extension("json.tmp");
    let json = serde_json::to_string(valid_accuracy).map_err(|e| run_error("accuracies", e))?;
    std::fs::write(&temporary, json)
        .and_then(|()| std::fs::rename(&temporary, &path))
        .map_err(|e| run_error(format_args!("cannot write {}", path.display()), e))?;
    if epoch > 2 {
        for name in checkpoint_files(epoch - 2) {
            let _ = std::fs::remove_file(dir.join(name));
        }
    }
    Ok(())
}

/// The `--infer` path: loads the `kind` model saved under `artifacts` on the inference backend
/// and returns its accuracy on `valid_size` newly drawn streams (another seed) or on the run's
/// validation streams.
pub fn infer(artifacts: &Path, kind: LiquidKind, on: InferOn) -> Result<f64, RunError> {
    let (config, model) = load_files(
        &artifacts.join(CONFIG_FILE),
        &model_dir(artifacts, kind).join(MODEL_FILE),
        |config: &XorConfig, device| config.init(kind, device),
    )?;
    let device = backend::device();
    let data = EventXor::new(config.bits, config.valid_size, on.seed(config.seed))
        .map_err(|e| run_error("data", e))?;
    Ok(accuracy(&model, &data, config.batch_size, &device))
}

/// Fraction of `data` that `model` gets right.
pub fn accuracy<B: Backend>(
    model: &XorModel<B>,
    data: &EventXor,
    batch_size: usize,
    device: &B::Device,
) -> f64 {
    fraction_correct(
        data,
        batch_size,
        device,
        &EventBatcher,
        |batch: EventBatch<B>| (model.predict(&batch), batch.targets),
    )
}
