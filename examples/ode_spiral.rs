//! Learns the spiral `y' = y³·A` from one trajectory with a Neural ODE (torchdiffeq's
//! `ode_demo`), with burn-train's Learner (dashboard on a terminal, plain lines otherwise).
//!
//! ```text
//! cargo run --example ode_spiral                  # CPU (ndarray)
//! cargo run --example ode_spiral --features wgpu  # GPU (wgpu)
//! cargo run --example ode_spiral -- --help
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ltc_examples::backend;
use ltc_examples::ode_spiral::{NEW_Y0, OdeSpiralExperiment, infer, train};
use ltc_examples::run::{InferOn, RunArgs, infer_exit, require_at_least, require_at_most};

/// Learn the spiral ODE from its trajectory.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Epochs (one visits all 990 windows: 40 epochs = torchdiffeq's 2000 iterations).
    #[arg(long, default_value_t = 40)]
    epochs: usize,
    /// RMSprop's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Seed of weights and shuffling.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Folder for the config, checkpoints, logs, the plot and the trained model.
    #[arg(long, default_value = "artifacts/ode_spiral")]
    artifacts: PathBuf,
    #[command(flatten)]
    run: RunArgs,
    /// Exit with an error unless the full-trajectory L1 falls by at least this factor.
    #[arg(long)]
    require_drop: Option<f64>,
    /// Exit with an error if the final full-trajectory L1 (with `--infer`: from the new start)
    /// is above this value.
    #[arg(long)]
    require_l1: Option<f64>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = OdeSpiralExperiment::new()
        .with_epochs(args.epochs)
        .with_learning_rate(args.lr)
        .with_seed(args.seed);
    if args.run.infer {
        return infer_exit(infer(&args.artifacts, InferOn::NewData), |l1| {
            println!(
                "the saved model in {}: L1 {l1:.4} to the true trajectory from the unseen start \
                 {NEW_Y0:?}",
                args.artifacts.display()
            );
            require_at_most("L1", l1, args.require_l1)
        });
    }
    let options = args.run.options();
    println!(
        "learning y' = y³A with an MLP vector field (Dopri5, back-propagation), {} epochs on {}",
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
    println!("plot: trajectories.png (and .svg)");
    println!("training time: {:.1} s", report.train_seconds);
    let drop = report.initial_l1 / report.final_l1;
    println!(
        "full-trajectory L1: {:.4} before training, {:.4} after ({drop:.1}× lower)",
        report.initial_l1, report.final_l1
    );
    let dropped = require_at_least("L1 drop (×)", drop, args.require_drop);
    if dropped != ExitCode::SUCCESS {
        return dropped;
    }
    require_at_most("final L1", report.final_l1, args.require_l1)
}
