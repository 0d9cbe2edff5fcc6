//! Builds a wiring and draws it: `wiring.svg` (the picture), `wiring.dot` (Graphviz) and
//! `wiring.json` (the graph, reloadable with serde), plus a one-line summary per layer.
//!
//! ```text
//! cargo run --example wiring -- --units 16 --outputs 2          # AutoNCP(16, 2), 3 inputs
//! cargo run --example wiring -- --kind fully-connected --units 8 --outputs 2
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use ltc_wirings::{AutoNcp, FullyConnected, Random, Wiring, WiringError};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kind {
    /// Neural Circuit Policy with sizes derived from --units, --outputs and --sparsity.
    AutoNcp,
    /// Every neuron to every neuron.
    FullyConnected,
    /// Random synapses at --sparsity.
    Random,
}

/// Build a wiring and draw it.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// The kind of wiring.
    #[arg(long, value_enum, default_value_t = Kind::AutoNcp)]
    kind: Kind,
    /// Neurons.
    #[arg(long, default_value_t = 16)]
    units: usize,
    /// Output (motor) neurons.
    #[arg(long, default_value_t = 2)]
    outputs: usize,
    /// Input features (sensory neurons).
    #[arg(long, default_value_t = 3)]
    inputs: usize,
    /// Fraction of absent synapses (AutoNCP: [0.1, 1]; Random: [0, 1)).
    #[arg(long, default_value_t = 0.5)]
    sparsity: f64,
    /// Seed of the graph.
    #[arg(long, default_value_t = 22222)]
    seed: u64,
    /// Folder for wiring.svg, wiring.dot and wiring.json.
    #[arg(long, default_value = "artifacts/wiring")]
    out: PathBuf,
}

fn build(args: &Args) -> Result<Wiring, WiringError> {
    match args.kind {
        Kind::AutoNcp => AutoNcp {
            units: args.units,
            output_size: args.outputs,
            sparsity: args.sparsity,
            seed: args.seed,
        }
        .build(args.inputs),
        Kind::FullyConnected => FullyConnected {
            units: args.units,
            output_dim: args.outputs,
            self_connections: true,
            seed: args.seed,
        }
        .build(args.inputs),
        Kind::Random => Random {
            units: args.units,
            output_dim: args.outputs,
            sparsity: args.sparsity,
            seed: args.seed,
        }
        .build(args.inputs),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let wiring = match build(&args) {
        Ok(wiring) => wiring,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let json = serde_json::to_string_pretty(&wiring).expect("a wiring serialises");
    let files = [
        ("wiring.svg", wiring.to_svg()),
        ("wiring.dot", wiring.to_dot()),
        ("wiring.json", json),
    ];
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!("error: cannot create {}: {e}", args.out.display());
        return ExitCode::FAILURE;
    }
    for (name, text) in &files {
        let path = args.out.join(name);
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    let folder = std::fs::canonicalize(&args.out).unwrap_or(args.out.clone());
    println!("picture: {}", folder.join("wiring.svg").display());
    println!("graphviz: {}", folder.join("wiring.dot").display());
    println!("graph (JSON): {}", folder.join("wiring.json").display());
    println!(
        "{:?}: {} neurons, {} synapses, {} sensory synapses",
        args.kind,
        wiring.units(),
        wiring.synapse_count(),
        wiring.sensory_synapse_count()
    );
    for line in wiring.layer_summary() {
        println!("  {line}");
    }
    ExitCode::SUCCESS
}
