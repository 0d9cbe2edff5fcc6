//! A liquid layer inside a larger Burn model: a `Conv2d` frame encoder on every frame of a
//! short video, a CfC (or, with `--liquid ltc`, an LTC) over the frame features and a `Linear`
//! head, trained end to end with burn-train's Learner to tell which way a blob moves.
//!
//! ```text
//! cargo run --example embed                    # CfC, CPU (ndarray)
//! cargo run --example embed -- --liquid ltc    # LTC instead
//! cargo run --example embed --features wgpu    # GPU (wgpu)
//! cargo run --example embed -- --help
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use ltc_datasets::MovingBlobsConfig;
use ltc_examples::backend;
use ltc_examples::embed::{EmbedConfig, infer, train};
use ltc_examples::liquid::LiquidKind;
use ltc_examples::run::{InferOn, RunArgs, infer_exit, require_at_least};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LiquidArg {
    Cfc,
    Ltc,
}

/// Train a Conv2d → CfC/LTC → Linear video classifier on moving blobs.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// The liquid layer between the frame encoder and the head.
    #[arg(long, value_enum, default_value = "cfc")]
    liquid: LiquidArg,
    /// Training epochs.
    #[arg(long, default_value_t = 4)]
    epochs: usize,
    /// Videos per batch.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 5e-3)]
    lr: f64,
    /// Liquid neurons.
    #[arg(long, default_value_t = 16)]
    units: usize,
    /// Training videos.
    #[arg(long, default_value_t = 2048)]
    train_size: usize,
    /// Validation videos.
    #[arg(long, default_value_t = 512)]
    valid_size: usize,
    /// Frames per video.
    #[arg(long, default_value_t = 8)]
    frames: usize,
    /// Pixel noise (standard deviation; the blob's peak is 1).
    #[arg(long, default_value_t = 0.2)]
    noise: f64,
    /// Seed of weights, data and shuffling.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Folder for the config, checkpoints, logs and the trained model.
    #[arg(long, default_value = "artifacts/embed")]
    artifacts: PathBuf,
    #[command(flatten)]
    run: RunArgs,
    /// Exit with an error if the final validation accuracy is below this fraction.
    #[arg(long)]
    require_accuracy: Option<f64>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let liquid = match args.liquid {
        LiquidArg::Cfc => LiquidKind::Cfc,
        LiquidArg::Ltc => LiquidKind::Ltc,
    };
    let config = EmbedConfig::new(
        MovingBlobsConfig::new()
            .with_frames(args.frames)
            .with_noise(args.noise),
    )
    .with_liquid(liquid)
    .with_units(args.units)
    .with_epochs(args.epochs)
    .with_batch_size(args.batch_size)
    .with_learning_rate(args.lr)
    .with_train_size(args.train_size)
    .with_valid_size(args.valid_size)
    .with_seed(args.seed);
    if args.run.infer {
        return infer_exit(infer(&args.artifacts, InferOn::NewData), |accuracy| {
            println!(
                "the saved model in {}: accuracy {:.2} % on newly drawn videos (chance: 25 %)",
                args.artifacts.display(),
                100.0 * accuracy
            );
            require_at_least("accuracy", accuracy, args.require_accuracy)
        });
    }
    let options = args.run.options();
    println!(
        "training Conv2d → {liquid:?}({}) → Linear on moving blobs ({} frames of {}×{}) on {} for {} epochs",
        args.units,
        config.data.frames,
        config.data.size,
        config.data.size,
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
    let [encoder, liquid_params, head] = report.params;
    let folder = std::fs::canonicalize(&report.artifacts).unwrap_or(report.artifacts.clone());
    println!("parameters: encoder {encoder}, {liquid:?} {liquid_params}, head {head}");
    println!("artifacts: {}", folder.display());
    println!("training time: {:.1} s", report.train_seconds);
    println!(
        "final validation accuracy: {:.2} % (chance: 25 %)",
        100.0 * report.valid_accuracy
    );
    require_at_least(
        "validation accuracy",
        report.valid_accuracy,
        args.require_accuracy,
    )
}
