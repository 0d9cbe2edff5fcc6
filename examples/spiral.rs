//! The main example: next-step prediction on the spiral with a Liquid Time-Constant network on
//! an NCP (or random) wiring, trained by burn-train's Learner (dashboard on a terminal, one
//! line per epoch otherwise). Prints the validation MSE next to the "predict the last point"
//! baseline, writes plots of the trajectory and the loss, and saves config and model.
//!
//! ```text
//! cargo run --example spiral                  # CPU (ndarray)
//! cargo run --example spiral --features wgpu  # GPU (wgpu)
//! cargo run --example spiral -- --help
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use ltc_datasets::SpiralConfig;
use ltc_examples::backend;
use ltc_examples::run::{InferOn, RunArgs, infer_exit, require_at_least};
use ltc_examples::spiral::{SpiralExperiment, WiringKind, infer, train};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Wiring {
    /// AutoNCP(units, 2): sensory → inter → command → motor.
    Ncp,
    /// Random graph, half the synapses.
    Random,
}

/// Train an LTC to predict the next point of a spiral.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Wiring of the LTC.
    #[arg(long, value_enum, default_value_t = Wiring::Ncp)]
    wiring: Wiring,
    /// Neurons (2 of them motor neurons, the outputs).
    #[arg(long, default_value_t = 16)]
    units: usize,
    /// Training epochs.
    #[arg(long, default_value_t = 12)]
    epochs: usize,
    /// Windows per batch.
    #[arg(long, default_value_t = 16)]
    batch_size: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 0.02)]
    lr: f64,
    /// Points on the spiral.
    #[arg(long, default_value_t = 1000)]
    points: usize,
    /// Steps per window.
    #[arg(long, default_value_t = 16)]
    seq_len: usize,
    /// Seed of data, wiring, weights and shuffling.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Folder for config, checkpoints, logs, model and plots.
    #[arg(long, default_value = "artifacts/spiral")]
    artifacts: PathBuf,
    #[command(flatten)]
    run: RunArgs,
    /// Exit with an error unless the model's validation MSE is at least this many times lower
    /// than the last-point baseline's (with `--infer`: on the new data).
    #[arg(long)]
    require_improvement: Option<f64>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = SpiralExperiment::new(
        SpiralConfig::new()
            .with_num_points(args.points)
            .with_seq_len(args.seq_len)
            .with_seed(args.seed),
    )
    .with_wiring(match args.wiring {
        Wiring::Ncp => WiringKind::Ncp,
        Wiring::Random => WiringKind::Random,
    })
    .with_units(args.units)
    .with_epochs(args.epochs)
    .with_batch_size(args.batch_size)
    .with_learning_rate(args.lr)
    .with_seed(args.seed);
    if args.run.infer {
        return infer_exit(
            infer(&args.artifacts, InferOn::NewData),
            |(mse, baseline)| {
                println!(
                    "the saved model in {} on a newly drawn noisy spiral: MSE {mse:.3e}   \
                     last-point baseline: {baseline:.3e}   ({:.1}× lower)",
                    args.artifacts.display(),
                    baseline / mse
                );
                require_at_least(
                    "improvement over the baseline (×)",
                    baseline / mse,
                    args.require_improvement,
                )
            },
        );
    }
    println!(
        "training an LTC ({:?} wiring, {} neurons) on the spiral, {} for {} epochs; loss = MSE \
         in units of the mean squared step (the last-point baseline scores about 1)",
        args.wiring,
        args.units,
        backend::name(),
        args.epochs
    );
    let options = args.run.options();
    let report = match train(&config, &args.artifacts, &options) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("\nepoch  train MSE    valid MSE    (data units)");
    for (i, (t, v)) in report.epochs.iter().enumerate() {
        println!(
            "{:>5}  {:.3e}    {:.3e}",
            i + 1,
            t * report.loss_unit,
            v * report.loss_unit
        );
    }
    let folder = std::fs::canonicalize(&report.artifacts).unwrap_or(report.artifacts.clone());
    println!("\nartifacts: {}", folder.display());
    for file in &report.files {
        println!("  {}", file.display());
    }
    println!("training time: {:.1} s", report.train_seconds);
    let improvement = report.baseline_mse / report.valid_mse;
    println!(
        "final validation MSE: {:.3e}   last-point baseline: {:.3e}   ({improvement:.1}× lower)",
        report.valid_mse, report.baseline_mse
    );
    require_at_least(
        "improvement over the baseline (×)",
        improvement,
        args.require_improvement,
    )
}
