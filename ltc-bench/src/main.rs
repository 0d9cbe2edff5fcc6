//! `ltc-bench`: times ltc-burn on the ncps peer's workloads and prints the results next to the
//! ncps (PyTorch) numbers. Run through `cargo xtask bench` (dev profile, this crate at opt-level 3,
//! where Burn's generic tensor code is compiled; it finds the Python peer when installed).
//!
//! Workload (as `bench_ncps.py`): batch 32, sequence 64, 8 inputs, batch-first, all steps
//! returned, zero initial state, no timespans, ncps defaults (6 unfolds, softplus constraints,
//! affine mappings).
//! - train: forward + MSE against a fixed random target + backward + Adam(lr 1e-3) step;
//! - fwd: forward only, without autodiff;
//! - step B=1: one `Ltc::step` on a `[1, 8]` input carrying the state (streaming latency).
//!
//! Each (model, threads) pair runs in a fresh process of this program (`--worker`), so thread
//! pools and peak memory are per measurement, as the peer's are.

mod ode;

use std::process::{Command, ExitCode};
use std::time::Instant;

use burn::backend::wgpu::{CubeBackend, WgpuDevice, WgpuRuntime};
use burn::backend::{Autodiff, NdArray};
use burn::module::AutodiffModule;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Distribution, Tensor};
use ltc_burn::ltc::{Ltc, LtcConfig};
use ltc_wirings::{AutoNcp, FullyConnected, Wiring};
use serde_json::{Value, json};

/// `(key, label, ncps median train ms, fwd ms, step µs)` for 1 and 2 threads, from
/// `peer-benchmarks.md` (ncps 1.0.1, torch 2.15 CPU, 2-vCPU AMD EPYC VM).
const MODELS: [(&str, &str, [[f64; 3]; 2]); 3] = [
    (
        "ltc_fc32",
        "LTC(8, 32) [FullyConnected(32)]",
        [[226.1, 38.6, 409.0], [292.5, 68.2, 371.0]],
    ),
    (
        "ltc_fc64",
        "LTC(8, 64) [FullyConnected(64)]",
        [[475.6, 94.9, 441.0], [399.8, 87.2, 325.0]],
    ),
    (
        "ltc_autoncp64_8",
        "LTC(8, AutoNCP(64, 8))",
        [[466.2, 135.2, 422.0], [473.9, 74.1, 332.0]],
    ),
];
const BATCH: usize = 32;
const SEQ: usize = 64;
const INPUT: usize = 8;

const HELP: &str = "\
ltc-bench [--backend ndarray|wgpu] [--threads 1 2] [--models NAME...] [--iters N] [--warmup N]
          [--peer PYTHON BENCH_NCPS_PY]

Times the LTC train step, forward and B=1 step on the ncps peer's workloads (batch 32, seq 64,
input 8) and prints them next to ncps's published CPU numbers. With --peer, also runs
bench_ncps.py's worker for each (model, threads) in the same invocation and prints measured
ratios. Models: ltc_fc32 ltc_fc64 ltc_autoncp64_8. --threads sets RAYON_NUM_THREADS and
MATMUL_NUM_THREADS per worker process (ndarray only). Then (ndarray; --no-ode skips it) the
Neural ODE row: Dopri5 on an MLP field against torchdiffeq (tools/bench_torchdiffeq.py, run
with the peer's Python when it has torchdiffeq): function evaluations and times.
";

fn wiring(model: &str) -> Wiring {
    match model {
        "ltc_fc32" => FullyConnected::new(32).build(INPUT),
        "ltc_fc64" => FullyConnected::new(64).build(INPUT),
        "ltc_autoncp64_8" => AutoNcp::new(64, 8).build(INPUT),
        other => panic!("unknown model {other}"),
    }
    .expect("the benchmark wirings are valid")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// `VmRSS`, `VmHWM` or `RssAnon` of this process in MiB.
fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// Samples `RssAnon` every millisecond while `f` runs; returns `f`'s result and the peak.
fn with_anon_peak<T>(f: impl FnOnce() -> T) -> (T, f64) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut peak = status_mib("RssAnon");
            while !stop.load(Ordering::Relaxed) {
                peak = peak.max(status_mib("RssAnon"));
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            peak
        })
    };
    let out = f();
    stop.store(true, Ordering::Relaxed);
    (out, sampler.join().unwrap_or(f64::NAN))
}

fn worker<B: AutodiffBackend>(
    model: &str,
    iters: usize,
    warmup: usize,
    device: &B::Device,
) -> Value {
    B::seed(device, 0);
    let ltc: Ltc<B> = LtcConfig::from_wiring(wiring(model))
        .init(device)
        .expect("valid config");
    let out = ltc.output_size();
    let x = Tensor::<B, 3>::random([BATCH, SEQ, INPUT], Distribution::Normal(0.0, 1.0), device);
    let target = Tensor::<B, 3>::random([BATCH, SEQ, out], Distribution::Normal(0.0, 1.0), device);
    let sync = || B::sync(device).expect("device sync");
    let rss_after_build = status_mib("VmRSS");
    let anon_after_build = status_mib("RssAnon");

    // Forward only, no autodiff.
    let inner = ltc.valid();
    let x_inner = x.clone().inner();
    let mut fwd = Vec::new();
    for i in 0..warmup + iters {
        let t = Instant::now();
        let (y, _) = inner.forward(x_inner.clone(), None, None);
        let _ = y.into_data(); // wait for the result
        if i >= warmup {
            fwd.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }

    // Streaming: one step of batch 1, state carried.
    let x1 = x_inner
        .clone()
        .narrow(0, 1, 1)
        .narrow(1, 0, 1)
        .reshape([1, INPUT]);
    let mut state = None;
    let mut step = Vec::new();
    for i in 0..220 {
        let t = Instant::now();
        let (y, next) = inner.step(x1.clone(), state, None);
        let _ = y.into_data();
        state = Some(next);
        if i >= 20 {
            step.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }

    // Training steps.
    let (train, anon_peak) = with_anon_peak(|| {
        let mut optim = AdamConfig::new().init::<B, Ltc<B>>();
        let mut ltc = ltc;
        let mut times = Vec::new();
        for i in 0..warmup + iters {
            let t = Instant::now();
            let (y, _) = ltc.forward(x.clone(), None, None);
            let loss = (y - target.clone()).powi_scalar(2).mean();
            let grads = GradientsParams::from_grads(loss.backward(), &ltc);
            ltc = optim.step(1e-3, ltc, grads);
            sync();
            if i >= warmup {
                times.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        times
    });
    json!({
        "model": model,
        "train_median_ms": median(train),
        "fwd_median_ms": median(fwd),
        "step_b1_median_us": median(step),
        "rss_after_build_mib": rss_after_build,
        "anon_after_build_mib": anon_after_build,
        "anon_peak_train_mib": anon_peak,
        "peak_rss_mib": status_mib("VmHWM"),
    })
}

struct Args {
    backend: String,
    threads: Vec<usize>,
    models: Vec<String>,
    iters: usize,
    warmup: usize,
    peer: Option<(String, String)>,
    worker: Option<String>,
    ode: bool,
    ode_worker: bool,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        backend: "ndarray".into(),
        threads: vec![1, 2],
        models: MODELS.iter().map(|m| m.0.to_string()).collect(),
        iters: 10,
        warmup: 3,
        peer: None,
        worker: None,
        ode: true,
        ode_worker: false,
    };
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    let value = |i: usize| {
        raw.get(i + 1)
            .cloned()
            .ok_or(format!("{} needs a value", raw[i]))
    };
    let list = |i: usize| -> Vec<String> {
        raw[i + 1..]
            .iter()
            .take_while(|a| !a.starts_with("--"))
            .cloned()
            .collect()
    };
    while i < raw.len() {
        match raw[i].as_str() {
            "-h" | "--help" => return Err(String::new()),
            "--no-ode" => {
                args.ode = false;
                i += 1;
            }
            "--ode-worker" => {
                args.ode_worker = true;
                i += 1;
            }
            "--backend" => {
                args.backend = value(i)?;
                if !["ndarray", "wgpu"].contains(&args.backend.as_str()) {
                    return Err(format!(
                        "--backend {}: expected ndarray or wgpu",
                        args.backend
                    ));
                }
                i += 2;
            }
            "--iters" | "--warmup" => {
                let n = value(i)?
                    .parse()
                    .map_err(|_| format!("{}: expected a count", raw[i]))?;
                if raw[i] == "--iters" {
                    args.iters = n;
                } else {
                    args.warmup = n;
                }
                i += 2;
            }
            "--threads" => {
                let l = list(i);
                args.threads = l
                    .iter()
                    .map(|t| {
                        t.parse()
                            .map_err(|_| format!("--threads {t}: expected a count"))
                    })
                    .collect::<Result<_, _>>()?;
                i += 1 + l.len();
            }
            "--models" => {
                let l = list(i);
                for m in &l {
                    if !MODELS.iter().any(|k| k.0 == m) {
                        return Err(format!("--models {m}: unknown model"));
                    }
                }
                args.models = l.clone();
                i += 1 + l.len();
            }
            "--peer" => {
                let l = list(i);
                let [python, script] = l.as_slice() else {
                    return Err("--peer needs PYTHON and the path of bench_ncps.py".into());
                };
                args.peer = Some((python.clone(), script.clone()));
                i += 3;
            }
            "--worker" => {
                args.worker = Some(value(i)?);
                i += 2;
            }
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    Ok(args)
}

/// Runs one measurement in a child process and returns its `RESULT` JSON.
fn spawn(cmd: &mut Command) -> Result<Value, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .and_then(|j| serde_json::from_str(j).ok())
        .ok_or_else(|| {
            format!(
                "{cmd:?} gave no result:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("ltc-bench: {e}\n");
            }
            eprint!("{HELP}");
            return ExitCode::from(if e.is_empty() { 0 } else { 2 });
        }
    };
    if args.ode_worker {
        println!("RESULT {}", ode::measure(args.iters.min(5)));
        return ExitCode::SUCCESS;
    }
    if let Some(model) = &args.worker {
        let result = match args.backend.as_str() {
            "wgpu" => worker::<Autodiff<CubeBackend<WgpuRuntime, f32, i32, u32>>>(
                model,
                args.iters,
                args.warmup,
                &WgpuDevice::DefaultDevice,
            ),
            _ => worker::<Autodiff<NdArray<f32>>>(
                model,
                args.iters,
                args.warmup,
                &Default::default(),
            ),
        };
        println!("RESULT {result}");
        return ExitCode::SUCCESS;
    }

    let exe = std::env::current_exe().expect("this program's path");
    let threads = if args.backend == "wgpu" {
        vec![0]
    } else {
        args.threads.clone()
    };
    println!(
        "ltc-burn {} backend, batch {BATCH}, seq {SEQ}, input {INPUT}; medians of {} iterations \
         after {} warm-up ({} B=1 steps)",
        args.backend, args.iters, args.warmup, 200
    );
    println!(
        "'ncps ref' = peer-benchmarks.md (2-vCPU EPYC); 'ncps now' = bench_ncps.py run just now{}",
        if args.peer.is_some() {
            ""
        } else {
            " (not run: no --peer)"
        }
    );
    println!(
        "\n{:<34} {:>3} | {:>9} {:>9} {:>9} {:>6} | {:>8} {:>8} {:>8} {:>6} | {:>8} {:>8} {:>8} {:>6} | {:>9}",
        "model",
        "thr",
        "train ms",
        "ncps ref",
        "ncps now",
        "×",
        "fwd ms",
        "ncps ref",
        "ncps now",
        "×",
        "step µs",
        "ncps ref",
        "ncps now",
        "×",
        "anon MiB"
    );
    let mut ok = true;
    for &t in &threads {
        for model in &args.models {
            let (_, label, reference) = MODELS.iter().find(|m| m.0 == model).expect("checked");
            let mut cmd = Command::new(&exe);
            cmd.args(["--worker", model, "--backend", &args.backend])
                .args([
                    "--iters",
                    &args.iters.to_string(),
                    "--warmup",
                    &args.warmup.to_string(),
                ]);
            if t > 0 {
                cmd.env("RAYON_NUM_THREADS", t.to_string())
                    .env("MATMUL_NUM_THREADS", t.to_string());
            }
            let ours = match spawn(&mut cmd) {
                Ok(v) => v,
                Err(e) => {
                    eprintln!("{e}");
                    ok = false;
                    continue;
                }
            };
            let peer = args.peer.as_ref().and_then(|(python, script)| {
                let th = t.max(1).to_string();
                let mut cmd = Command::new(python);
                cmd.args([script.as_str(), "--worker", model, &th])
                    .args([
                        "--iters",
                        &args.iters.to_string(),
                        "--warmup",
                        &args.warmup.to_string(),
                    ])
                    .env("OMP_NUM_THREADS", &th)
                    .env("MKL_NUM_THREADS", &th);
                spawn(&mut cmd).map_err(|e| eprintln!("peer: {e}")).ok()
            });
            let reference = reference[t.clamp(1, 2) - 1];
            let f = |v: &Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
            let now = |k: &str| peer.as_ref().map_or(f64::NAN, |p| f(p, k));
            let cols = |k: &str, r: f64| {
                let (o, n) = (f(&ours, k), now(k));
                // Speed-up over the peer measured now when there is one, else over the reference.
                let base = if n.is_nan() { r } else { n };
                (o, r, n, base / o)
            };
            let (a, b, c, d) = cols("train_median_ms", reference[0]);
            let (e, g, h, i) = cols("fwd_median_ms", reference[1]);
            let (j, k, l, m) = cols("step_b1_median_us", reference[2]);
            let opt = |v: f64| {
                if v.is_nan() {
                    "-".to_string()
                } else {
                    format!("{v:.1}")
                }
            };
            println!(
                "{:<34} {:>3} | {a:>9.1} {b:>9.1} {:>9} {d:>5.1}× | {e:>8.1} {g:>8.1} {:>8} {i:>5.1}× | {j:>8.0} {k:>8.0} {:>8} {m:>5.1}× | {:>9.0}",
                label,
                if t == 0 {
                    "gpu".to_string()
                } else {
                    t.to_string()
                },
                opt(c),
                opt(h),
                opt(l),
                f(&ours, "anon_peak_train_mib"),
            );
        }
    }
    println!(
        "\n× = ncps time / ltc-burn time (higher is faster), against 'ncps now' when measured"
    );
    if args.ode && args.backend == "ndarray" {
        let mut cmd = Command::new(&exe);
        cmd.args(["--ode-worker", "--iters", &args.iters.to_string()])
            .env("RAYON_NUM_THREADS", "1")
            .env("MATMUL_NUM_THREADS", "1");
        match spawn(&mut cmd) {
            Ok(ours) => {
                // torchdiffeq's side sits next to bench_ncps.py.
                let peer = args.peer.as_ref().and_then(|(python, script)| {
                    let script =
                        std::path::Path::new(script).with_file_name("bench_torchdiffeq.py");
                    let mut cmd = Command::new(python);
                    cmd.arg(&script)
                        .args(["--iters", &args.iters.min(5).to_string()])
                        .env("OMP_NUM_THREADS", "1")
                        .env("MKL_NUM_THREADS", "1");
                    spawn(&mut cmd)
                        .map_err(|e| {
                            eprintln!("torchdiffeq peer (pip install torchdiffeq==0.2.5): {e}")
                        })
                        .ok()
                });
                ode::print(&ours, peer.as_ref());
            }
            Err(e) => {
                eprintln!("{e}");
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
