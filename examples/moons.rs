//! Classifies two moons with a Neural ODE trained by the adjoint method (torchdyn's tutorial),
//! with burn-train's Learner (dashboard on a terminal, plain lines otherwise).
//!
//! ```text
//! cargo run --example moons                  # CPU (ndarray)
//! cargo run --example moons --features wgpu  # GPU (wgpu)
//! cargo run --example moons -- --help
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ltc_examples::backend;
use ltc_examples::moons::{MoonsExperiment, infer, train};
use ltc_examples::run::{InferOn, RunArgs, infer_exit, require_at_least};

/// Train a Neural ODE classifier on two moons.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Training epochs.
    #[arg(long, default_value_t = 40)]
    epochs: usize,
    /// Points per batch.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-2)]
    lr: f64,
    /// Hidden width of the vector field.
    #[arg(long, default_value_t = 16)]
    hidden: usize,
    /// rtol = atol of Dopri5, forward and adjoint.
    #[arg(long, default_value_t = 1e-4)]
    tolerance: f64,
    /// Seed of weights, data and shuffling.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Folder for the config, checkpoints, logs, plots and the trained model.
    #[arg(long, default_value = "artifacts/moons")]
    artifacts: PathBuf,
    #[command(flatten)]
    run: RunArgs,
    /// Exit with an error if the final validation accuracy is below this fraction.
    #[arg(long)]
    require_accuracy: Option<f64>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = MoonsExperiment::new()
        .with_epochs(args.epochs)
        .with_batch_size(args.batch_size)
        .with_learning_rate(args.lr)
        .with_hidden(args.hidden)
        .with_tolerance(args.tolerance)
        .with_seed(args.seed);
    if args.run.infer {
        return infer_exit(infer(&args.artifacts, InferOn::NewData), |accuracy| {
            println!(
                "the saved model in {}: accuracy {:.2} % on newly drawn points",
                args.artifacts.display(),
                100.0 * accuracy
            );
            require_at_least("accuracy", accuracy, args.require_accuracy)
        });
    }
    let options = args.run.options();
    println!(
        "training a Neural ODE (Linear(2, {}) → tanh → Linear({}, 2), Dopri5, adjoint) on two \
         moons, {} epochs on {}",
        args.hidden,
        args.hidden,
        args.epochs,
        backend::name()
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
    println!(
        "plots: data.png, trajectories_x0.png, trajectories_x1.png, vector_field.png (and .svg)"
    );
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
