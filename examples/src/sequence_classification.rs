//! Sequence classification with a stack of liquid neurons, trained by burn-train's Learner.

use std::path::{Path, PathBuf};

use burn::config::Config;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::AdamConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::tensor::backend::Backend;
use burn::train::metric::AccuracyMetric;
use burn::train::{ClassificationOutput, Learner};
use ltc_burn::liquid::{
    LiquidClassifier, LiquidClassifierConfig, LiquidLayerConfig, LiquidStackConfig,
};
use ltc_datasets::{
    SequenceClassificationBatch, SequenceClassificationBatcher, SineFrequencyConfig,
    SineFrequencyDataset,
};

use crate::backend;
use crate::run::learner::Batches;
use crate::run::{
    ConfigChecks, InferOn, MAX_ITEMS, RunError, RunOptions, Supervised, fraction_correct, launch,
    load_run, prepare_artifacts, run_error, save_model, supervised_training,
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
            let cell = layer
                .cell
                .clone()
                .with_timespan(dt)
                .with_tau_init_min(2.0 * dt)
                .with_tau_init_max(20.0 * dt);
            LiquidLayerConfig { cell, ..layer }
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

impl<B: Backend> Supervised<B> for SequenceClassifier<B> {
    type Batch = SequenceClassificationBatch<B>;
    type Output = ClassificationOutput<B>;

    fn forward_supervised(&self, batch: Self::Batch) -> Self::Output {
        self.forward_classification(batch)
    }
}

crate::supervised_steps!(SequenceClassifier);

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

    let optimizer = AdamConfig::new()
        .with_weight_decay(Some(WeightDecayConfig::new(1e-5)))
        .init();
    let learner = Learner::new(model, optimizer, config.learning_rate);
    let training = supervised_training(
        artifacts,
        SequenceClassificationBatcher,
        (train, valid.clone()),
        Batches::shuffled(config.batch_size, config.seed),
        config.epochs,
    )
    .metric_train_numeric(AccuracyMetric::new())
    .metric_valid_numeric(AccuracyMetric::new());
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
