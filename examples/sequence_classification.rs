//! Trains a stack of liquid neurons to tell which of two frequencies a noisy sine has, with
//! burn-train's Learner (dashboard on a terminal, plain lines otherwise).
//!
//! ```text
//! cargo run --example sequence_classification                  # CPU (ndarray)
//! cargo run --example sequence_classification --features wgpu  # GPU (wgpu)
//! cargo run --example sequence_classification -- --help
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ltc_examples::backend;
use ltc_examples::run::{InferOn, RunArgs, infer_exit, require_at_least};
use ltc_examples::sequence_classification::{ExperimentConfig, infer, train};

/// Train a liquid-neuron classifier on the sine-frequency task.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Training epochs.
    #[arg(long, default_value_t = 4)]
    epochs: usize,
    /// Sequences per batch.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-2)]
    lr: f64,
    /// Liquid neurons per layer.
    #[arg(long, default_value_t = 32)]
    hidden: usize,
    /// Liquid layers.
    #[arg(long, default_value_t = 2)]
    layers: usize,
    /// Training sequences.
    #[arg(long, default_value_t = 4096)]
    train_size: usize,
    /// Validation sequences.
    #[arg(long, default_value_t = 1024)]
    valid_size: usize,
    /// Seed of weights, data and shuffling.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Folder for the config, checkpoints, logs and the trained model.
    #[arg(long, default_value = "artifacts/sequence_classification")]
    artifacts: PathBuf,
    #[command(flatten)]
    run: RunArgs,
    /// Exit with an error if the final validation accuracy (with `--infer`: the saved model's
    /// accuracy on new data) is below this fraction.
    #[arg(long)]
    require_accuracy: Option<f64>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut config = ExperimentConfig::default_run()
        .with_epochs(args.epochs)
        .with_batch_size(args.batch_size)
        .with_learning_rate(args.lr)
        .with_train_size(args.train_size)
        .with_valid_size(args.valid_size)
        .with_seed(args.seed);
    config.model.stack = ExperimentConfig::stack(&config.data, args.hidden, args.layers);

    if args.run.infer {
        return infer_exit(infer(&args.artifacts, InferOn::NewData), |accuracy| {
            println!(
                "accuracy of the saved model in {} on newly drawn sequences: {:.2} %",
                args.artifacts.display(),
                100.0 * accuracy
            );
            require_at_least("accuracy", accuracy, args.require_accuracy)
        });
    }
    let options = args.run.options();
    println!(
        "training a liquid classifier ({} x {} neurons) on {} for {} epochs",
        args.layers,
        args.hidden,
        backend::name(),
        args.epochs
    );
    let report = match train(&config, &args.artifacts, &options) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let folder = std::fs::canonicalize(&report.artifacts).unwrap_or(report.artifacts.clone());
    println!("artifacts: {}", folder.display());
    println!("training time: {:.1} s", report.train_seconds);
    println!(
        "final validation accuracy: {:.2} %",
        100.0 * report.valid_accuracy
    );
    require_at_least(
        "validation accuracy",
        report.valid_accuracy,
        args.require_accuracy,
    )
}
