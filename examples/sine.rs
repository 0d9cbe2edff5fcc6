//! ncps's first-steps example in Rust: an LTC on AutoNCP(16, 1) learns `sin 2t` from
//! `[sin t, cos t]` in 400 Adam steps (lr 0.01, gradient norm clipped at 1), with burn-train's
//! Learner. ncps reports a final MSE of 3.97e-4; this prints ours and plots target vs prediction.
//!
//! ```text
//! cargo run --example sine                  # CPU (ndarray)
//! cargo run --example sine --features wgpu  # GPU (wgpu)
//! cargo run --example sine -- --help
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ltc_examples::backend;
use ltc_examples::run::{InferOn, RunArgs, infer_exit, require_at_most};
use ltc_examples::sine::{SineExperiment, infer, train};

/// Train an LTC on ncps's first-steps sine task.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Neurons of the AutoNCP wiring.
    #[arg(long, default_value_t = 16)]
    units: usize,
    /// Optimiser steps.
    #[arg(long, default_value_t = 400)]
    steps: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 0.01)]
    lr: f64,
    /// Seed of the weights (the result depends on it: see the README).
    #[arg(long, default_value_t = 10)]
    seed: u64,
    /// Folder for config, checkpoint, logs, model and plot.
    #[arg(long, default_value = "artifacts/sine")]
    artifacts: PathBuf,
    #[command(flatten)]
    run: RunArgs,
    /// Exit with an error if the final MSE (with `--infer`: on the continuation) is above this
    /// value.
    #[arg(long)]
    require_mse: Option<f64>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = SineExperiment::new()
        .with_units(args.units)
        .with_steps(args.steps)
        .with_learning_rate(args.lr)
        .with_seed(args.seed);
    if args.run.infer {
        return infer_exit(infer(&args.artifacts, InferOn::NewData), |mse| {
            println!(
                "the saved model in {} on the 48 steps after its training sequence (t from \
                     3π to 6π): MSE {mse:.3e}",
                args.artifacts.display()
            );
            require_at_most("MSE", mse, args.require_mse)
        });
    }
    println!(
        "training an LTC on AutoNCP({}, 1) for {} steps on {}",
        args.units,
        args.steps,
        backend::name()
    );
    let options = args.run.options();
    let report = match train(&config, &args.artifacts, &options) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let folder = std::fs::canonicalize(&report.artifacts).unwrap_or(report.artifacts.clone());
    println!("artifacts: {}", folder.display());
    println!("plot: {}", report.plot.display());
    println!("training time: {:.1} s", report.train_seconds);
    println!("final MSE: {:.3e} (ncps 1.0.1 reports 3.97e-4)", report.mse);
    require_at_most("final MSE", report.mse, args.require_mse)
}
