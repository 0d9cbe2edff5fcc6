//! What every training example shares: the run options (`--plain`, `--resume`, `--devices`,
//! `--infer`), the artifacts folder, resuming from the Learner's checkpoints and data-parallel
//! training on several devices through burn-train's multi-device strategy.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use burn::config::Config;
use burn::train::logger::{FileMetricLogger, MetricLogger};
use burn::train::metric::store::{EpochSummary, MetricsUpdate, Split};
use burn::train::metric::{MetricDefinition, NumericEntry};
use burn::train::{
    ExecutionStrategy, Learner, LearningComponentsTypes, LearningResult, MultiDeviceOptim,
    SupervisedTraining,
};

use crate::backend;
use crate::progress::EpochLines;
use crate::sequence_classification::{Progress, RunError, fresh_artifacts, run_error, save_config};

/// The command-line options every training example takes.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Plain progress lines even on a terminal (no dashboard).
    #[arg(long)]
    pub plain: bool,
    /// Continue from the last checkpoint in the artifacts folder (model, optimiser and
    /// scheduler, written after every epoch). The options must be those of the interrupted
    /// run; `--epochs` may be raised.
    #[arg(long)]
    pub resume: bool,
    /// Train data-parallel on this many devices with burn-train's multi-device strategy (the
    /// optimiser on the first): GPUs 0..N with `--features wgpu`, N handles of the CPU on
    /// ndarray.
    #[arg(long, default_value_t = 1)]
    pub devices: usize,
    /// Do not train: load the model saved in the artifacts folder (config.json + model.mpk)
    /// and run it on newly drawn data.
    #[arg(long)]
    pub infer: bool,
}

impl RunArgs {
    /// The options a training run needs.
    pub fn options(&self) -> RunOptions {
        RunOptions {
            progress: if self.plain {
                Progress::Plain
            } else {
                Progress::Auto
            },
            resume: self.resume,
            devices: self.devices,
        }
    }
}

/// How a training run goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOptions {
    /// Dashboard or plain lines.
    pub progress: Progress,
    /// Continue from the last checkpoint.
    pub resume: bool,
    /// Devices to train on (data-parallel when more than one).
    pub devices: usize,
}

impl RunOptions {
    /// A fresh run on one device, with the given progress display.
    pub fn new(progress: Progress) -> Self {
        Self {
            progress,
            resume: false,
            devices: 1,
        }
    }
}

/// The last epoch whose model, optimiser and scheduler checkpoints are all in
/// `artifacts/checkpoint`.
pub fn last_checkpoint(artifacts: &Path) -> Option<usize> {
    last_complete_epoch(&artifacts.join("checkpoint"), |epoch| {
        vec![
            format!("optim-{epoch}.mpk"),
            format!("scheduler-{epoch}.mpk"),
        ]
    })
}

/// The largest `epoch` with a `model-{epoch}.mpk` in `dir` beside every file `others(epoch)`
/// names: the last checkpoint that was written completely.
pub fn last_complete_epoch(dir: &Path, others: impl Fn(usize) -> Vec<String>) -> Option<usize> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|name| {
            name.strip_prefix("model-")?
                .strip_suffix(".mpk")?
                .parse::<usize>()
                .ok()
        })
        .filter(|&epoch| others(epoch).iter().all(|name| dir.join(name).is_file()))
        .max()
}

/// The largest count of items (training or validation examples, points) an example accepts:
/// more is certainly a typo, and would otherwise end in an allocation failure, not an error.
pub const MAX_ITEMS: usize = 10_000_000;

/// The largest layer width an example accepts (as `ltc_wirings::MAX_UNITS`).
pub const MAX_WIDTH: usize = ltc_wirings::MAX_UNITS;

/// Checks of an example's config, made before anything is written or allocated: each failure
/// names the config, the field, the bad value and what is valid
/// (`SpiralExperiment.batch_size = 0: must be at least 1`). The first failure is returned.
///
/// ```
/// use ltc_examples::run::ConfigChecks;
///
/// let err = ConfigChecks::new("Demo")
///     .training(3, 0, 1e-3)
///     .finish()
///     .unwrap_err();
/// assert_eq!(err.to_string(), "Demo.batch_size = 0: must be at least 1");
/// assert!(ConfigChecks::new("Demo").training(3, 8, 1e-3).finish().is_ok());
/// ```
#[derive(Debug)]
#[must_use = "call finish() for the result"]
pub struct ConfigChecks {
    config: &'static str,
    error: Option<String>,
}

impl ConfigChecks {
    /// Checks of the config called `config` in messages.
    pub fn new(config: &'static str) -> Self {
        Self {
            config,
            error: None,
        }
    }

    fn check(mut self, ok: bool, message: impl FnOnce(&str) -> String) -> Self {
        if self.error.is_none() && !ok {
            self.error = Some(message(self.config));
        }
        self
    }

    /// `value` is a whole number in `min..=max`.
    pub fn count(self, field: &str, value: usize, min: usize, max: usize) -> Self {
        self.check((min..=max).contains(&value), |config| {
            if value < min {
                format!("{config}.{field} = {value}: must be at least {min}")
            } else {
                format!("{config}.{field} = {value}: must be at most {max}")
            }
        })
    }

    /// `value` is finite and greater than zero.
    pub fn positive(self, field: &str, value: f64) -> Self {
        self.check(value.is_finite() && value > 0.0, |config| {
            format!("{config}.{field} = {value}: must be a finite number greater than 0")
        })
    }

    /// `value` is finite and not negative.
    pub fn non_negative(self, field: &str, value: f64) -> Self {
        self.check(value.is_finite() && value >= 0.0, |config| {
            format!("{config}.{field} = {value}: must be a finite number, 0 or more")
        })
    }

    /// What every training example takes: `epochs` and `batch_size` in `1..=MAX_ITEMS`, and a
    /// finite, positive `learning_rate`.
    pub fn training(self, epochs: usize, batch_size: usize, learning_rate: f64) -> Self {
        self.count("epochs", epochs, 1, MAX_ITEMS)
            .count("batch_size", batch_size, 1, MAX_ITEMS)
            .positive("learning_rate", learning_rate)
    }

    /// The first failed check, as a [`RunError`].
    pub fn finish(self) -> Result<(), RunError> {
        match self.error {
            Some(message) => Err(RunError(message)),
            None => Ok(()),
        }
    }
}

/// A run to continue: the artifacts folder and its last complete checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    /// The artifacts folder of the interrupted run.
    pub artifacts: PathBuf,
    /// The epoch whose checkpoint the run continues from.
    pub epoch: usize,
}

/// Prepares the artifacts folder: a fresh run clears the earlier run's logs and checkpoints and
/// writes `config.json`; a resumed run checks that `config.json` describes the same run (only
/// `epochs` may differ), keeps the logs and returns where to resume from.
pub fn prepare_artifacts<C: Config>(
    config: &C,
    artifacts: &Path,
    options: &RunOptions,
) -> Result<Option<Resume>, RunError> {
    if options.devices == 0 {
        return Err(RunError("--devices 0: train on at least one device".into()));
    }
    if !options.resume {
        fresh_artifacts(artifacts)?;
        save_config(config, artifacts)?;
        return Ok(None);
    }
    check_same_run(config, artifacts)?;
    let epoch = last_checkpoint(artifacts).ok_or_else(|| {
        RunError(format!(
            "--resume: no complete checkpoint in {}; start without --resume",
            artifacts.join("checkpoint").display()
        ))
    })?;
    save_config(config, artifacts)?;
    Ok(Some(Resume {
        artifacts: artifacts.to_path_buf(),
        epoch,
    }))
}

/// Checks, for `--resume`, that `artifacts/config.json` describes the run `config` describes
/// (only `epochs` may differ).
pub fn check_same_run<C: Config>(config: &C, artifacts: &Path) -> Result<(), RunError> {
    let path = artifacts.join(ltc_burn::persist::CONFIG_FILE);
    let saved = std::fs::read_to_string(&path)
        .map_err(|e| run_error(format_args!("--resume: cannot read {}", path.display()), e))?;
    let comparable = |json: &str| -> Result<serde_json::Value, RunError> {
        let mut value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| run_error(path.display(), e))?;
        if let Some(object) = value.as_object_mut() {
            object.remove("epochs");
        }
        Ok(value)
    };
    let ours = serde_json::to_string(config).map_err(|e| run_error("config", e))?;
    if comparable(&saved)? != comparable(&ours)? {
        return Err(RunError(format!(
            "--resume: {} describes another run; resume with the options of the interrupted \
             run (only --epochs may change), or start afresh without --resume",
            path.display()
        )));
    }
    Ok(())
}

/// The devices to train on: GPUs `0..n` with wgpu (one: the default adapter), `n` handles of
/// the CPU with ndarray.
pub fn devices(n: usize) -> Vec<burn::tensor::Device<backend::TrainBackend>> {
    #[cfg(feature = "wgpu")]
    if n > 1 {
        return (0..n)
            .map(burn::backend::wgpu::WgpuDevice::DiscreteGpu)
            .collect();
    }
    vec![backend::device(); n.max(1)]
}

/// Runs a configured training: burn-train's dashboard on a terminal unless `options` asks for
/// plain lines (or stdout is not a terminal), from the checkpoint `resume` names when given
/// (with the metric logs of its epochs filed under their own numbers: [`ResumedMetricLogger`]),
/// data-parallel when `options.devices > 1`; leaves the dashboard's screen before anything is
/// printed. Returns the trained (inference) model and the wall-clock training time in seconds.
pub fn launch<LC>(
    mut training: SupervisedTraining<LC>,
    learner: Learner<LC>,
    options: &RunOptions,
    resume: Option<Resume>,
) -> (LC::InferenceModel, f64)
where
    LC: LearningComponentsTypes<Backend = backend::TrainBackend> + Send + 'static,
{
    use std::io::IsTerminal;
    if options.progress == Progress::Plain || !std::io::stdout().is_terminal() {
        training = training.renderer(EpochLines::new());
    }
    if let Some(Resume { artifacts, epoch }) = resume {
        training = training
            .checkpoint(epoch)
            .with_metric_logger(ResumedMetricLogger::new(&artifacts, epoch));
    }
    if options.devices > 1 {
        training = training.with_training_strategy(
            ExecutionStrategy::multi(devices(options.devices), MultiDeviceOptim::OptimMainDevice)
                .into(),
        );
    }
    let start = std::time::Instant::now();
    let LearningResult { model, renderer } = training.launch(learner);
    let seconds = start.elapsed().as_secs_f64();
    drop(renderer);
    (model, seconds)
}

/// The Learner's file metric logger (`train|valid/epoch-N/<Metric>.log` under the artifacts
/// folder) for a run resumed from the checkpoint of epoch `k`, filing the first epoch's values
/// under `k + 1`.
///
/// burn-train 0.21's metric store numbers the first epoch of every run 1, a resumed one included
/// (its per-split counter starts at 1 and follows the Learner only from the end of that epoch),
/// so its own `FileMetricLogger` would overwrite the logs of epoch 1 with those of epoch `k + 1`
/// and leave `epoch-(k+1)` without them: the loss curve, the summary and the best-checkpoint
/// choice would read the wrong values. Later epochs arrive with their own numbers.
pub struct ResumedMetricLogger {
    inner: FileMetricLogger,
    first_epoch: usize,
}

impl ResumedMetricLogger {
    /// The logger of a run in `artifacts` resumed from the checkpoint of `epoch`.
    pub fn new(artifacts: &Path, epoch: usize) -> Self {
        Self {
            inner: FileMetricLogger::new(artifacts),
            first_epoch: epoch + 1,
        }
    }

    /// The epoch the store's `epoch` is: the resumed run's first epoch for 1 (a resumed run never
    /// runs epoch 1 itself), `epoch` otherwise.
    pub fn real_epoch(&self, epoch: usize) -> usize {
        if epoch == 1 { self.first_epoch } else { epoch }
    }
}

impl MetricLogger for ResumedMetricLogger {
    fn log(&mut self, update: MetricsUpdate, epoch: usize, split: &Split) {
        let epoch = self.real_epoch(epoch);
        self.inner.log(update, epoch, split);
    }

    fn read_numeric(
        &mut self,
        name: &str,
        epoch: usize,
        split: &Split,
    ) -> Result<Vec<NumericEntry>, String> {
        // Readers (the summary, the checkpointing strategy) ask with the Learner's numbers.
        self.inner.read_numeric(name, epoch, split)
    }

    fn log_metric_definition(&mut self, definition: MetricDefinition) {
        self.inner.log_metric_definition(definition);
    }

    fn log_epoch_summary(&mut self, summary: EpochSummary) {
        self.inner.log_epoch_summary(summary);
    }
}

/// The data an `--infer` run evaluates the saved model on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InferOn {
    /// Data the run never saw: drawn from another seed (each example says how).
    NewData,
    /// The run's own validation data: the metric must equal the one the run reported, which
    /// shows that the saved model loads exactly.
    Validation,
}

impl InferOn {
    /// The seed of this data, from the run's `seed` (which draws the training data):
    /// `seed ^ 0x5eed` for validation, `seed ^ 0x1f3d` for new data.
    pub fn seed(self, seed: u64) -> u64 {
        match self {
            InferOn::NewData => seed ^ 0x1f3d,
            InferOn::Validation => seed ^ 0x5eed,
        }
    }
}

/// Loads the run saved in `artifacts` on the inference backend (no autodiff): its
/// `config.json`, and the model that `build` makes from that config with the weights of
/// `model.mpk` loaded into it.
pub fn load_run<C: Config, M: burn::module::Module<backend::Backend>>(
    artifacts: &Path,
    build: impl FnOnce(&C, &burn::tensor::Device<backend::Backend>) -> Result<M, RunError>,
) -> Result<(C, M), RunError> {
    use ltc_burn::persist::{CONFIG_FILE, MODEL_FILE};
    load_files(
        &artifacts.join(CONFIG_FILE),
        &artifacts.join(MODEL_FILE),
        build,
    )
}

/// [`load_run`] from a config file and a weights file anywhere.
pub fn load_files<C: Config, M: burn::module::Module<backend::Backend>>(
    config: &Path,
    weights: &Path,
    build: impl FnOnce(&C, &burn::tensor::Device<backend::Backend>) -> Result<M, RunError>,
) -> Result<(C, M), RunError> {
    let device = backend::device();
    let config: C = ltc_burn::persist::load_config(config).map_err(|e| run_error("--infer", e))?;
    let model = build(&config, &device)?;
    let model = ltc_burn::persist::load_weights(model, weights, &device)
        .map_err(|e| run_error("--infer", e))?;
    Ok((config, model))
}

/// The exit status of a check that `value` (`what`, e.g. "validation accuracy") is at least
/// `required`, when one is given; NaN fails.
pub fn require_at_least(what: &str, value: f64, required: Option<f64>) -> ExitCode {
    match required {
        Some(required) if value.is_nan() || value < required => {
            eprintln!("error: {what} {value:.4} is below the required {required}");
            ExitCode::FAILURE
        }
        _ => ExitCode::SUCCESS,
    }
}

/// The exit status of a check that `value` is at most `limit`, when one is given; NaN fails.
pub fn require_at_most(what: &str, value: f64, limit: Option<f64>) -> ExitCode {
    match limit {
        Some(limit) if value.is_nan() || value > limit => {
            eprintln!("error: {what} {value:.3e} is above the required {limit:.1e}");
            ExitCode::FAILURE
        }
        _ => ExitCode::SUCCESS,
    }
}

/// The exit status of an `--infer` run: its error printed, or `report` of its result.
pub fn infer_exit<T>(result: Result<T, RunError>, report: impl FnOnce(T) -> ExitCode) -> ExitCode {
    match result {
        Ok(value) => report(value),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
