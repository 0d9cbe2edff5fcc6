//! `ltc-parity [DIR] [--backend ndarray|ndarray-f64|wgpu]...`: runs every ncps fixture in DIR
//! (default: the project's `fixtures/ncps`) on each backend and prints one row per file with
//! the largest differences; exits with 1 when any file is beyond tolerance or cannot be run.
//!
//! Each backend runs in a process of its own (Burn keeps one default float type per device
//! kind and process, so ndarray f32 and f64 cannot share one).

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use burn::backend::wgpu::{CubeBackend, WgpuDevice, WgpuRuntime};
use burn::backend::{Autodiff, NdArray};
use burn::tensor::backend::AutodiffBackend;
use ltc_parity::{Fixture, Report};

const BACKENDS: [&str; 3] = ["ndarray", "ndarray-f64", "wgpu"];

const HELP: &str = "\
ltc-parity [DIR] [--backend ndarray|ndarray-f64|wgpu]...

Runs every ncps model fixture (JSON with a \"model\" key) in DIR on each backend and compares
outputs, final states, losses, every gradient, the input gradient and, where present, the
parameters after one Adam step. One row per file: the largest absolute difference per group
and the worst |Δ|/tolerance (tolerance 1e-5 + 1e-4·|want| against the float32 references; on
ndarray-f64 also 1e-9 against outputs_f64, 1e-9 + 1e-9·|want| against loss_f64). Exit status 1 beyond tolerance.
Without --backend: all three. DIR defaults to the project's fixtures/ncps.
";

fn run<B: AutodiffBackend>(name: &str, fixtures: &[Fixture], device: &B::Device) -> bool {
    println!("\nbackend {name}");
    println!("{}", Report::header());
    let mut ok = true;
    for fixture in fixtures {
        let report = ltc_parity::check::<B>(fixture, device);
        println!("{}", report.row());
        ok &= report.passed();
    }
    ok
}

fn main() -> ExitCode {
    let mut dir = None;
    let mut backends = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                print!("{HELP}");
                return ExitCode::SUCCESS;
            }
            "--backend" => match args.next() {
                Some(b) if BACKENDS.contains(&b.as_str()) => backends.push(b),
                other => {
                    eprintln!(
                        "--backend {}: expected one of {}",
                        other.unwrap_or_default(),
                        BACKENDS.join(", ")
                    );
                    return ExitCode::from(2);
                }
            },
            _ if dir.is_none() && !arg.starts_with('-') => dir = Some(PathBuf::from(arg)),
            other => {
                eprintln!("unexpected argument {other:?}\n\n{HELP}");
                return ExitCode::from(2);
            }
        }
    }
    let dir = dir.unwrap_or_else(ltc_parity::default_dir);
    let fixtures = match Fixture::all_in(&dir) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("ltc-parity: {e}");
            return ExitCode::from(2);
        }
    };
    let ok = match backends.as_slice() {
        [one] => match one.as_str() {
            "ndarray" => {
                run::<Autodiff<NdArray<f32>>>("ndarray (f32)", &fixtures, &Default::default())
            }
            "ndarray-f64" => {
                run::<Autodiff<NdArray<f64>>>("ndarray (f64)", &fixtures, &Default::default())
            }
            _ => run::<Autodiff<CubeBackend<WgpuRuntime, f32, i32, u32>>>(
                "wgpu (f32)",
                &fixtures,
                &WgpuDevice::DefaultDevice,
            ),
        },
        _ => {
            // One child process per backend.
            let list = if backends.is_empty() {
                BACKENDS.iter().map(|b| b.to_string()).collect()
            } else {
                backends
            };
            let exe = std::env::current_exe().expect("the path of this program");
            let mut ok = true;
            for backend in list {
                let status = Command::new(&exe)
                    .arg(&dir)
                    .args(["--backend", &backend])
                    .status();
                ok &= matches!(status, Ok(s) if s.success());
            }
            ok
        }
    };
    println!();
    if ok {
        println!("parity: every fixture within tolerance");
        ExitCode::SUCCESS
    } else {
        println!("parity: FAILED (rows marked FAIL or ERROR above)");
        ExitCode::FAILURE
    }
}
