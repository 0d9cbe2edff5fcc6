//! The CfC paper's event-based bit-stream XOR at small scale: a CfC and an LTC trained on the
//! same streams, their validation accuracies printed side by side.
//!
//! ```text
//! cargo run --example xor                  # both models, CPU (ndarray)
//! cargo run --example xor -- --bits 32     # the paper's stream length
//! cargo run --example xor -- --help
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use ltc_examples::backend;
use ltc_examples::liquid::LiquidKind;
use ltc_examples::run::{InferOn, infer_exit, require_at_least};
use ltc_examples::xor::{XorConfig, infer, model_dir, train};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Models {
    Both,
    Cfc,
    Ltc,
}

/// Train a CfC and an LTC on event-based bit-stream XOR and compare their accuracies.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Bits per stream.
    #[arg(long, default_value_t = 8)]
    bits: usize,
    /// Liquid neurons of each model.
    #[arg(long, default_value_t = 16)]
    units: usize,
    /// Training epochs.
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Training streams.
    #[arg(long, default_value_t = 4096)]
    train_size: usize,
    /// Validation streams.
    #[arg(long, default_value_t = 1024)]
    valid_size: usize,
    /// Adam's learning rate, annealed along a half cosine to 5 % of it by the last epoch.
    #[arg(long, default_value_t = 5e-3)]
    lr: f64,
    /// Which models to train.
    #[arg(long, value_enum, default_value = "both")]
    models: Models,
    /// Seed of weights, data and batch order.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Folder for the config, each model's checkpoints (one per epoch) and trained weights.
    #[arg(long, default_value = "artifacts/xor")]
    artifacts: PathBuf,
    /// Continue each model from its last checkpoint in the artifacts folder (the options must
    /// be those of the interrupted run; `--epochs` may be raised).
    #[arg(long)]
    resume: bool,
    /// Do not train: load the saved models and report their accuracy on newly drawn streams.
    #[arg(long)]
    infer: bool,
    /// Exit with an error if the CfC's final validation accuracy (with `--infer`: on the new
    /// streams) is below this fraction.
    #[arg(long)]
    require_cfc_accuracy: Option<f64>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = XorConfig::new()
        .with_bits(args.bits)
        .with_units(args.units)
        .with_epochs(args.epochs)
        .with_train_size(args.train_size)
        .with_valid_size(args.valid_size)
        .with_learning_rate(args.lr)
        .with_seed(args.seed);
    let device = backend::device();
    let mut reports = Vec::new();
    let kinds = match args.models {
        Models::Both => vec![LiquidKind::Cfc, LiquidKind::Ltc],
        Models::Cfc => vec![LiquidKind::Cfc],
        Models::Ltc => vec![LiquidKind::Ltc],
    };
    if args.infer {
        for kind in kinds {
            let result = infer(&args.artifacts, kind, InferOn::NewData);
            let code = infer_exit(result, |accuracy| {
                println!(
                    "{kind:?} saved in {}: accuracy {:.2} % on newly drawn streams",
                    model_dir(&args.artifacts, kind).display(),
                    100.0 * accuracy
                );
                match kind {
                    LiquidKind::Cfc => {
                        require_at_least("CfC accuracy", accuracy, args.require_cfc_accuracy)
                    }
                    LiquidKind::Ltc => ExitCode::SUCCESS,
                }
            });
            if code != ExitCode::SUCCESS {
                return code;
            }
        }
        return ExitCode::SUCCESS;
    }
    for kind in kinds {
        println!(
            "training {kind:?} ({} neurons) on {}-bit event XOR, {} streams, on {}",
            args.units,
            args.bits,
            args.train_size,
            backend::name()
        );
        let on_epoch = |epoch: usize, accuracy: f64| {
            println!(
                "  epoch {epoch:>2}: validation accuracy {:.2} %",
                100.0 * accuracy
            );
        };
        let report = train::<backend::TrainBackend>(
            &config,
            kind,
            &args.artifacts,
            args.resume,
            &device,
            on_epoch,
        );
        match report {
            Ok(report) => {
                if let Some(epoch) = report.resumed_from {
                    println!("  (resumed after epoch {epoch})");
                }
                reports.push(report)
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!();
    println!("| model | parameters | validation accuracy | training time |");
    println!("|---|---:|---:|---:|");
    for r in &reports {
        println!(
            "| {:?} | {} | {:.2} % | {:.1} s |",
            r.kind,
            r.params,
            100.0 * r.valid_accuracy.last().copied().unwrap_or(0.0),
            r.train_seconds
        );
    }
    println!("(the CfC paper, 32-bit streams: CfC ≈ 99 %, LTC ≈ 49 %)");
    let cfc = reports
        .iter()
        .find(|r| r.kind == LiquidKind::Cfc)
        .and_then(|r| r.valid_accuracy.last().copied());
    match (args.require_cfc_accuracy, cfc) {
        (Some(_), None) => {
            eprintln!("error: --require-cfc-accuracy needs the CfC trained (--models both or cfc)");
            ExitCode::FAILURE
        }
        (required, Some(cfc)) => require_at_least("CfC validation accuracy", cfc, required),
        (None, None) => ExitCode::SUCCESS,
    }
}
