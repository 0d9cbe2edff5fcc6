//! Imports an ncps PyTorch checkpoint (`torch.save(model.state_dict())`) and checks it against
//! what ncps computed: the JSON gives the ncps constructor arguments (`model`, `config`), an
//! input batch and ncps's outputs and final state (the schema of `fixtures/ncps/pt`).
//!
//! ```text
//! cargo run --example import_ncps -- --state-dict fixtures/ncps/pt/ltc_fc6_sine.pt \
//!     --check fixtures/ncps/pt/ltc_fc6_sine.json --save artifacts/ltc_fc6
//! ```
//!
//! Exits non-zero when the largest difference exceeds 1e-5. With `--save DIR` the imported model
//! is written as our own record (`config.json` with the wiring + `model.mpk`), which
//! `ltc_burn::persist::load` reads back.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ltc_examples::backend;
use ltc_parity::checkpoint::{CheckpointCase, TOLERANCE};

/// Import an ncps checkpoint and compare it with ncps's recorded outputs.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// The PyTorch state dict (`torch.save(model.state_dict(), FILE)`).
    #[arg(long)]
    state_dict: PathBuf,
    /// The JSON with the constructor arguments, an input and ncps's outputs.
    #[arg(long)]
    check: PathBuf,
    /// Write the imported model (config.json + model.mpk) into this folder.
    #[arg(long)]
    save: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let device = backend::device();
    let case = match CheckpointCase::load(&args.check) {
        Ok(case) => case,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let imported = match case.import::<backend::Backend>(Some(&args.state_dict), &device) {
        Ok(imported) => imported,
        Err(e) => {
            eprintln!("error: {}: {e}", args.state_dict.display());
            return ExitCode::FAILURE;
        }
    };
    println!(
        "imported an ncps {} ({}) from {} on {}",
        imported.kind(),
        case.json["config"]["units"],
        args.state_dict.display(),
        backend::name()
    );
    let report = match case.compare(&imported, &device) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("error: {}: {e}", args.check.display());
            return ExitCode::FAILURE;
        }
    };
    println!("max |ours - ncps| outputs:     {:.3e}", report.outputs);
    println!("max |ours - ncps| final state: {:.3e}", report.state);
    if let Some(dir) = &args.save {
        if let Err(e) = imported.save(dir) {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
        println!("saved to {}", dir.display());
    }
    if report.passed() {
        println!("within {TOLERANCE:e}");
        ExitCode::SUCCESS
    } else {
        eprintln!("error: beyond the tolerance {TOLERANCE:e}");
        ExitCode::FAILURE
    }
}
