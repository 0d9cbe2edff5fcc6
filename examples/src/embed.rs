//! A liquid layer as one part of a larger Burn model: a convolutional frame encoder, a CfC (or
//! an LTC) over the frames, a linear head — trained end to end by burn-train's Learner on
//! which way a blob moves through a short video.

use std::path::{Path, PathBuf};

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::optim::AdamConfig;
use burn::tensor::Tensor;
use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;
use burn::train::metric::AccuracyMetric;
use burn::train::{ClassificationOutput, Learner};
use ltc_datasets::{DIRECTIONS, FrameBatch, FrameBatcher, MovingBlobs, MovingBlobsConfig};
use ltc_wirings::AutoNcp;

use crate::backend;
use crate::liquid::{Liquid, LiquidKind};
use crate::run::learner::Batches;
use crate::run::{
    ConfigChecks, InferOn, MAX_ITEMS, MAX_WIDTH, RunError, RunOptions, Supervised,
    fraction_correct, launch, load_run, prepare_artifacts, run_error, save_model,
    supervised_training,
};

/// Everything that defines a run; saved as `config.json` in the artifacts folder.
#[derive(Config, Debug)]
pub struct EmbedConfig {
    /// The videos.
    pub data: MovingBlobsConfig,
    /// The liquid layer.
    #[config(default = "LiquidKind::Cfc")]
    pub liquid: LiquidKind,
    /// Features per frame, from the encoder to the liquid layer.
    #[config(default = 16)]
    pub features: usize,
    /// Liquid neurons.
    #[config(default = 16)]
    pub units: usize,
    /// Training videos.
    #[config(default = 2048)]
    pub train_size: usize,
    /// Validation videos (drawn from another seed).
    #[config(default = 512)]
    pub valid_size: usize,
    /// Epochs.
    #[config(default = 4)]
    pub epochs: usize,
    /// Videos per batch.
    #[config(default = 32)]
    pub batch_size: usize,
    /// Adam's learning rate.
    #[config(default = 5e-3)]
    pub learning_rate: f64,
    /// Seed of the weights, the data and the shuffling.
    #[config(default = 42)]
    pub seed: u64,
}

/// The per-frame encoder: two convolutions and a projection, `[n, 1, s, s] → [n, features]`.
#[derive(Module, Debug)]
pub struct FrameEncoder<B: Backend> {
    /// `1 → 8` channels, 3×3, stride 2.
    pub conv1: Conv2d<B>,
    /// `8 → 16` channels, 3×3.
    pub conv2: Conv2d<B>,
    /// Flattened maps → features.
    pub proj: Linear<B>,
}

impl<B: Backend> FrameEncoder<B> {
    fn init(size: usize, features: usize, device: &B::Device) -> Self {
        let after1 = (size - 3) / 2 + 1;
        let after2 = after1 - 2;
        Self {
            conv1: Conv2dConfig::new([1, 8], [3, 3])
                .with_stride([2, 2])
                .init(device),
            conv2: Conv2dConfig::new([8, 16], [3, 3]).init(device),
            proj: LinearConfig::new(16 * after2 * after2, features).init(device),
        }
    }

    /// `[n, 1, s, s] → [n, features]`.
    pub fn forward(&self, frames: Tensor<B, 4>) -> Tensor<B, 2> {
        let x = relu(self.conv1.forward(frames));
        let x = relu(self.conv2.forward(x));
        relu(self.proj.forward(x.flatten(1, 3)))
    }
}

/// Encoder → liquid layer → head: the pattern for putting our layers inside your own model.
#[derive(Module, Debug)]
pub struct VideoClassifier<B: Backend> {
    /// Applied to every frame.
    pub encoder: FrameEncoder<B>,
    /// Runs over the frame features.
    pub liquid: Liquid<B>,
    /// The last step's liquid outputs → class logits.
    pub head: Linear<B>,
}

impl EmbedConfig {
    /// Checks the training options, widths and sizes before anything is written (the data
    /// checks its own fields when built).
    pub fn check(&self) -> Result<(), RunError> {
        ConfigChecks::new("EmbedConfig")
            .training(self.epochs, self.batch_size, self.learning_rate)
            .count("features", self.features, 1, MAX_WIDTH)
            .count("units", self.units, 1, MAX_WIDTH)
            .count("train_size", self.train_size, 1, MAX_ITEMS)
            .count("valid_size", self.valid_size, 1, MAX_ITEMS)
            .finish()
    }

    /// Builds the model on `device` (the LTC on AutoNCP(units, 4)).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<VideoClassifier<B>, RunError> {
        let encoder = FrameEncoder::init(self.data.size, self.features, device);
        let liquid = Liquid::init(
            self.liquid,
            self.features,
            self.units,
            || AutoNcp::new(self.units, 4).build(self.features),
            device,
        )?;
        let head = LinearConfig::new(liquid.d_output(), DIRECTIONS.len()).init(device);
        Ok(VideoClassifier {
            encoder,
            liquid,
            head,
        })
    }
}

impl<B: Backend> VideoClassifier<B> {
    /// Class logits `[batch, 4]` for `frames [batch, seq, 1, size, size]`.
    pub fn forward(&self, frames: Tensor<B, 5>) -> Tensor<B, 2> {
        let [batch, seq, channels, h, w] = frames.dims();
        let features = self
            .encoder
            .forward(frames.reshape([batch * seq, channels, h, w]));
        let width = features.dims()[1];
        let y = self
            .liquid
            .forward_last(features.reshape([batch, seq, width]));
        self.head.forward(y)
    }

    /// Logits and loss for one batch.
    pub fn forward_classification(&self, batch: FrameBatch<B>) -> ClassificationOutput<B> {
        let logits = self.forward(batch.frames);
        let loss = CrossEntropyLossConfig::new()
            .init(&logits.device())
            .forward(logits.clone(), batch.targets.clone());
        ClassificationOutput::new(loss, logits, batch.targets)
    }
}

impl<B: Backend> Supervised<B> for VideoClassifier<B> {
    type Batch = FrameBatch<B>;
    type Output = ClassificationOutput<B>;

    fn forward_supervised(&self, batch: Self::Batch) -> Self::Output {
        self.forward_classification(batch)
    }
}

crate::supervised_steps!(VideoClassifier);

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct Report {
    /// Accuracy of the trained model on the whole validation set, in `[0, 1]`.
    pub valid_accuracy: f64,
    /// Wall-clock training time, in seconds.
    pub train_seconds: f64,
    /// Trainable parameters: encoder, liquid layer, head.
    pub params: [usize; 3],
    /// The artifacts folder.
    pub artifacts: PathBuf,
}

/// Trains the model described by `config` and writes `config.json`, `model.mpk`, the Learner's
/// checkpoints and logs under `artifacts`.
pub fn train(
    config: &EmbedConfig,
    artifacts: &Path,
    options: &RunOptions,
) -> Result<Report, RunError> {
    type B = backend::TrainBackend;
    let device = backend::device();
    config.check()?;
    B::seed(&device, config.seed);
    let train = MovingBlobs::new(config.data.clone(), config.train_size, config.seed)
        .map_err(|e| run_error("training data", e))?;
    let valid = MovingBlobs::new(
        config.data.clone(),
        config.valid_size,
        InferOn::Validation.seed(config.seed),
    )
    .map_err(|e| run_error("validation data", e))?;
    let model = config.init::<B>(&device)?;
    // Only now, with the whole config checked: a bad option leaves an earlier run's files be.
    let resume_from = prepare_artifacts(config, artifacts, options)?;
    let params = [
        model.encoder.num_params(),
        model.liquid.num_params(),
        model.head.num_params(),
    ];

    let learner = Learner::new(model, AdamConfig::new().init(), config.learning_rate);
    let training = supervised_training(
        artifacts,
        FrameBatcher,
        (train, valid.clone()),
        Batches::shuffled(config.batch_size, config.seed),
        config.epochs,
    )
    .metric_train_numeric(AccuracyMetric::new())
    .metric_valid_numeric(AccuracyMetric::new());
    let (model, train_seconds) = launch(training, learner, options, resume_from);

    save_model(model.clone(), artifacts)?;
    Ok(Report {
        valid_accuracy: accuracy(&model, &valid, config.batch_size, &device),
        train_seconds,
        params,
        artifacts: artifacts.to_path_buf(),
    })
}

/// Fraction of `data` that `model` classifies correctly.
pub fn accuracy<B: Backend>(
    model: &VideoClassifier<B>,
    data: &MovingBlobs,
    batch_size: usize,
    device: &B::Device,
) -> f64 {
    fraction_correct(
        data,
        batch_size,
        device,
        &FrameBatcher,
        |batch: FrameBatch<B>| {
            let predicted = model.forward(batch.frames).argmax(1);
            (predicted.flatten::<1>(0, 1), batch.targets)
        },
    )
}

/// The `--infer` path: loads the model saved in `artifacts` on the inference backend and
/// returns its accuracy on `valid_size` newly drawn videos (another seed) or on the run's
/// validation videos.
pub fn infer(artifacts: &Path, on: InferOn) -> Result<f64, RunError> {
    let (config, model) = load_run(artifacts, EmbedConfig::init)?;
    let seed = on.seed(config.seed);
    let data = MovingBlobs::new(config.data.clone(), config.valid_size, seed)
        .map_err(|e| run_error("data", e))?;
    Ok(accuracy(
        &model,
        &data,
        config.batch_size,
        &backend::device(),
    ))
}
