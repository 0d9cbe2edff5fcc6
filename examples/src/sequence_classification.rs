//! Sequence classification with a stack of liquid neurons, trained by burn-train's Learner.

use std::path::{Path, PathBuf};

use burn::config::Config;
use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::AdamConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::prelude::ToElement;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor};
use burn::train::metric::{AccuracyMetric, LossMetric};
use burn::train::{
    ClassificationOutput, InferenceStep, Learner, SupervisedTraining, TrainOutput, TrainStep,
};
use ltc_burn::on_compute_pool;
use ltc_burn::{LiquidClassifier, LiquidClassifierConfig, LiquidStackConfig};
use ltc_datasets::{
    SequenceClassificationBatch, SequenceClassificationBatcher, SineFrequencyConfig,
    SineFrequencyDataset,
};

use crate::backend;
use crate::run::{
    ConfigChecks, InferOn, MAX_ITEMS, RunOptions, launch, load_run, prepare_artifacts,
};

/// Everything that defines a run; saved as `config.json` in the artifacts folder.
#[derive(Config, Debug)]
pub struct ExperimentConfig {
    /// The model.
    pub model: LiquidClassifierConfig,
    /// The task.
    pub data: SineFrequencyConfig,
    /// Training sequences.
    #[config(default = 4096)]
    pub train_size: usize,
    /// Validation sequences (drawn from another seed).
    #[config(default = 1024)]
    pub valid_size: usize,
    /// Epochs.
    #[config(default = 4)]
    pub epochs: usize,
    /// Sequences per batch.
    #[config(default = 64)]
    pub batch_size: usize,
    /// Adam's learning rate.
    #[config(default = 1e-2)]
    pub learning_rate: f64,
    /// Seed of the weights, the data and the shuffling.
    #[config(default = 42)]
    pub seed: u64,
}

impl ExperimentConfig {
    /// Checks the training options and sizes before anything is written (the model and the
    /// data check their own fields when built).
    pub fn check(&self) -> Result<(), RunError> {
        ConfigChecks::new("ExperimentConfig")
            .training(self.epochs, self.batch_size, self.learning_rate)
            .count("train_size", self.train_size, 1, MAX_ITEMS)
            .count("valid_size", self.valid_size, 1, MAX_ITEMS)
            .finish()
    }

    /// The default run: two layers of 32 liquid neurons on the default sine-frequency task.
    pub fn default_run() -> Self {
        Self::new(
            LiquidClassifierConfig::new(Self::stack(&SineFrequencyConfig::new(), 32, 2), 2),
            SineFrequencyConfig::new(),
        )
    }

    /// The untrained model.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<SequenceClassifier<B>, RunError> {
        let net = self.model.init(device).map_err(|e| run_error("model", e))?;
        Ok(SequenceClassifier { net })
    }

    /// `layers` liquid layers of `hidden` neurons, stepping at the data's sampling interval,
    /// with time constants initialised between 2 and 20 samples (0.2 – 2 s by default): the
    /// first layer then acts as a bank of low-pass filters whose gain tells the frequencies
    /// apart, the second rectifies and integrates it.
    pub fn stack(data: &SineFrequencyConfig, hidden: usize, layers: usize) -> LiquidStackConfig {
        let dt = data.sample_interval;
        LiquidStackConfig::uniform(1, hidden, layers).map_layers(|layer| {
            layer
                .with_dt(dt)
                .with_tau_init_min(2.0 * dt)
                .with_tau_init_max(20.0 * dt)
        })
    }
}

/// The model trained here: a [`LiquidClassifier`] with a cross-entropy loss. Wrapping our module
/// in one of your own is how it joins the Learner (and any larger model).
#[derive(Module, Debug)]
pub struct SequenceClassifier<B: Backend> {
    /// The liquid network.
    pub net: LiquidClassifier<B>,
}

impl<B: Backend> SequenceClassifier<B> {
    /// Logits and loss for one batch.
    pub fn forward_classification(
        &self,
        batch: SequenceClassificationBatch<B>,
    ) -> ClassificationOutput<B> {
        let logits = self.net.forward(batch.inputs, None);
        let loss = CrossEntropyLossConfig::new()
            .init(&logits.device())
            .forward(logits.clone(), batch.targets.clone());
        ClassificationOutput::new(loss, logits, batch.targets)
    }
}

impl<B: AutodiffBackend> TrainStep for SequenceClassifier<B> {
    type Input = SequenceClassificationBatch<B>;
    type Output = ClassificationOutput<B>;

    fn step(&self, batch: Self::Input) -> TrainOutput<Self::Output> {
        // On ndarray the whole step (forward, backward) runs on rayon's pool, where
        // burn-ndarray's matmuls then start without a thread hand-off each.
        on_compute_pool::<B, _>(|| {
            let item = self.forward_classification(batch);
            TrainOutput::new(self, item.loss.backward(), item)
        })
    }
}

impl<B: Backend> InferenceStep for SequenceClassifier<B> {
    type Input = SequenceClassificationBatch<B>;
    type Output = ClassificationOutput<B>;

    fn step(&self, batch: Self::Input) -> Self::Output {
        self.forward_classification(batch)
    }
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// burn-train's dashboard on a terminal, one line per epoch otherwise.
    Auto,
    /// Always plain lines.
    Plain,
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct Report {
    /// Accuracy of the trained model on the whole validation set, in `[0, 1]`.
    pub valid_accuracy: f64,
    /// Wall-clock training time, in seconds.
    pub train_seconds: f64,
    /// The artifacts folder.
    pub artifacts: PathBuf,
}

/// Errors of a run, each saying what to change.
#[derive(Debug)]
pub struct RunError(pub String);

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RunError {}

/// A [`RunError`] reading `"{context}: {error}"`.
pub fn run_error(context: impl std::fmt::Display, error: impl std::fmt::Display) -> RunError {
    RunError(format!("{context}: {error}"))
}

/// Writes `config.json` into the artifacts folder (through a temporary file and a rename).
pub fn save_config(config: &impl Config, artifacts: &Path) -> Result<(), RunError> {
    ltc_burn::persist::save_config(config, &artifacts.join(ltc_burn::persist::CONFIG_FILE))
        .map_err(|e| run_error("cannot write config.json", e))
}

/// Writes the trained model as `model.mpk` (full precision) into the artifacts folder (through
/// a temporary file and a rename).
pub fn save_model<B: Backend, M: Module<B>>(model: M, artifacts: &Path) -> Result<(), RunError> {
    ltc_burn::persist::save_weights(model, &artifacts.join(ltc_burn::persist::MODEL_FILE))
        .map_err(|e| run_error("cannot write the model", e))
}

/// Creates the artifacts folder and removes an earlier run's Learner logs and checkpoints from
/// it (the Learner's summary reads every epoch log it finds); nothing else there is touched.
pub fn fresh_artifacts(artifacts: &Path) -> Result<(), RunError> {
    std::fs::create_dir_all(artifacts).map_err(|e| {
        let folder = artifacts.display();
        run_error(
            format_args!("cannot create the artifacts folder {folder}"),
            e,
        )
    })?;
    for stale in ["train", "valid", "checkpoint"] {
        let path = artifacts.join(stale);
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(|e| {
                run_error(
                    format_args!("cannot clear the earlier run's {}", path.display()),
                    e,
                )
            })?;
        }
    }
    Ok(())
}

/// Trains the model described by `config` and writes `config.json`, `model.mpk`, the Learner's
/// checkpoints and logs under `artifacts`.
pub fn train(
    config: &ExperimentConfig,
    artifacts: &Path,
    options: &RunOptions,
) -> Result<Report, RunError> {
    type B = backend::TrainBackend;
    let device = backend::device();
    config.check()?;
    B::seed(&device, config.seed);
    let train = SineFrequencyDataset::new(config.data.clone(), config.train_size, config.seed)
        .map_err(|e| run_error("training data", e))?;
    let valid = SineFrequencyDataset::new(
        config.data.clone(),
        config.valid_size,
        InferOn::Validation.seed(config.seed),
    )
    .map_err(|e| run_error("validation data", e))?;
    let model = config.init::<B>(&device)?;
    // Only now, with the whole config checked: a bad option leaves an earlier run's files be.
    let resume_from = prepare_artifacts(config, artifacts, options)?;

    let loader_train = DataLoaderBuilder::new(SequenceClassificationBatcher)
        .batch_size(config.batch_size)
        .shuffle(config.seed)
        .build(train);
    let loader_valid =
        DataLoaderBuilder::<backend::Backend, _, _>::new(SequenceClassificationBatcher)
            .batch_size(config.batch_size)
            .build(valid.clone());

    let optimizer = AdamConfig::new()
        .with_weight_decay(Some(WeightDecayConfig::new(1e-5)))
        .init();
    let learner = Learner::new(model, optimizer, config.learning_rate);
    let training = SupervisedTraining::new(artifacts, loader_train, loader_valid)
        .metric_train_numeric(AccuracyMetric::new())
        .metric_valid_numeric(AccuracyMetric::new())
        .metric_train_numeric(LossMetric::new())
        .metric_valid_numeric(LossMetric::new())
        .with_file_checkpointer(ltc_burn::persist::AtomicRecorder::new())
        .num_epochs(config.epochs)
        .summary();
    let (model, train_seconds) = launch(training, learner, options, resume_from);

    save_model(model.clone(), artifacts)?;
    let valid_accuracy = accuracy(&model, &valid, config.batch_size, &device);
    Ok(Report {
        valid_accuracy,
        train_seconds,
        artifacts: artifacts.to_path_buf(),
    })
}

/// Fraction of `data` that `model` classifies correctly.
pub fn accuracy<B: Backend>(
    model: &SequenceClassifier<B>,
    data: &SineFrequencyDataset,
    batch_size: usize,
    device: &B::Device,
) -> f64 {
    fraction_correct(
        data,
        batch_size,
        device,
        &SequenceClassificationBatcher,
        |batch: SequenceClassificationBatch<B>| {
            let predicted = model.net.forward(batch.inputs, None).argmax(1);
            (predicted.flatten::<1>(0, 1), batch.targets)
        },
    )
}

/// The fraction of `data` classified correctly, in batches of `batch_size`: `classify` turns a
/// batch into its predicted and its true classes.
pub fn fraction_correct<B: Backend, I, T>(
    data: &impl Dataset<I>,
    batch_size: usize,
    device: &B::Device,
    batcher: &impl Batcher<B, I, T>,
    classify: impl Fn(T) -> (Tensor<B, 1, Int>, Tensor<B, 1, Int>),
) -> f64 {
    let mut correct = 0usize;
    let indices: Vec<usize> = (0..data.len()).collect();
    for chunk in indices.chunks(batch_size) {
        let items = chunk.iter().filter_map(|&i| data.get(i)).collect();
        let (predicted, targets) = classify(batcher.batch(items, device));
        correct += predicted
            .equal(targets)
            .int()
            .sum()
            .into_scalar()
            .to_usize();
    }
    correct as f64 / data.len() as f64
}

/// The `--infer` path: loads the model saved in `artifacts` (its `config.json` and `model.mpk`)
/// on the inference backend (no autodiff) and returns its accuracy on `valid_size` sequences:
/// newly drawn ones (a seed neither training nor validation used) or the run's validation set.
pub fn infer(artifacts: &Path, on: InferOn) -> Result<f64, RunError> {
    let (config, model) = load_run(artifacts, ExperimentConfig::init)?;
    let seed = on.seed(config.seed);
    let data = SineFrequencyDataset::new(config.data.clone(), config.valid_size, seed)
        .map_err(|e| run_error("data", e))?;
    Ok(accuracy(
        &model,
        &data,
        config.batch_size,
        &backend::device(),
    ))
}
