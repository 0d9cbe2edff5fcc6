//! What every training example shares: the run options (`--plain`, `--resume`, `--devices`,
//! `--infer`), errors and config checks ([`error`]), the artifacts folder ([`artifacts`]), the
//! Learner set-up and launch with resuming and data-parallel training ([`learner`]), the
//! supervised train/infer steps ([`steps`]) and evaluation ([`eval`]).

pub mod artifacts;
pub mod error;
pub mod eval;
pub mod learner;
pub mod steps;

use std::process::ExitCode;

pub use artifacts::{
    Resume, check_same_run, fresh_artifacts, last_checkpoint, last_complete_epoch, load_files,
    load_run, prepare_artifacts, save_config, save_model,
};
pub use error::{ConfigChecks, MAX_ITEMS, MAX_WIDTH, RunError, run_error};
pub use eval::fraction_correct;
pub use learner::{ResumedMetricLogger, devices, launch, supervised_training};
pub use steps::{Loss, Supervised, backprop_step};

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

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// burn-train's dashboard on a terminal, one line per epoch otherwise.
    Auto,
    /// Always plain lines.
    Plain,
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
