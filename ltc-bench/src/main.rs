//! `ltc-bench`: the benchmark table of `cargo xtask bench` (see the library's documentation
//! for what each column measures).

use std::process::{Command, ExitCode};

use burn::backend::wgpu::{CubeBackend, WgpuDevice, WgpuRuntime};
use burn::backend::{Autodiff, NdArray, Wgpu};
use burn::cubecl::Runtime;
use clap::{Parser, ValueEnum};
use ltc_bench::measure::{STEPS_B1, Workload, worker};
use ltc_bench::models::{DEFAULT_MODELS, INPUT, MODELS, REFERENCE_SHAPE, label};
use ltc_bench::ode;
use ltc_bench::process::{RESULT, spawn, with_threads, workload_args};
use serde_json::Value;

/// The backend the workers run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum BackendName {
    /// ndarray on the CPU.
    Ndarray,
    /// wgpu without kernel fusion (`ltc_burn::backend::Wgpu`, the kernels' backend).
    Wgpu,
    /// Burn's `Wgpu`, with kernel fusion.
    WgpuFusion,
}

impl BackendName {
    fn as_str(self) -> &'static str {
        match self {
            Self::Ndarray => "ndarray",
            Self::Wgpu => "wgpu",
            Self::WgpuFusion => "wgpu-fusion",
        }
    }
}

/// Where the peer runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum PeerDevice {
    Cpu,
    Cuda,
}

fn at_least_one(n: &str) -> Result<usize, String> {
    match n.parse::<usize>() {
        Ok(0) => Err("expected at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

fn model_name(name: &str) -> Result<String, String> {
    if MODELS.iter().any(|m| m.0 == name) {
        Ok(name.to_string())
    } else {
        let known: Vec<&str> = MODELS.iter().map(|m| m.0).collect();
        Err(format!("unknown model; one of: {}", known.join(", ")))
    }
}

/// Times the train step, forward, B=1 step and B=1 prepared stepper on the ncps peer's
/// workloads and prints them next to ncps's published CPU numbers; with `--peer`, also runs
/// the peer's worker for each (model, threads) in the same invocation and prints measured
/// ratios and both processes' peak memory. Then (ndarray; `--no-ode` skips it) the Neural ODE
/// row: Dopri5 on an MLP field against torchdiffeq.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// The backend.
    #[arg(long, value_enum, default_value_t = BackendName::Ndarray)]
    backend: BackendName,
    /// Rayon and matrixmultiply threads per worker process (ndarray only), one row each.
    #[arg(long, num_args = 1.., default_values_t = [1, 2])]
    threads: Vec<usize>,
    /// The models.
    #[arg(long, num_args = 1.., value_parser = model_name,
          default_values_t = DEFAULT_MODELS.map(String::from))]
    models: Vec<String>,
    /// Timed iterations.
    #[arg(long, default_value_t = 10)]
    iters: usize,
    /// Untimed iterations first.
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Sequences per batch.
    #[arg(long, default_value_t = REFERENCE_SHAPE.0, value_parser = at_least_one)]
    batch: usize,
    /// Steps per sequence.
    #[arg(long, default_value_t = REFERENCE_SHAPE.1, value_parser = at_least_one)]
    seq: usize,
    /// The peer: a Python with torch and ncps, and the path of `bench_ncps.py`.
    #[arg(long, num_args = 2, value_names = ["PYTHON", "BENCH_NCPS_PY"])]
    peer: Option<Vec<String>>,
    /// Where the peer runs.
    #[arg(long, value_enum, default_value_t = PeerDevice::Cpu)]
    peer_device: PeerDevice,
    /// Skip the Neural ODE row.
    #[arg(long)]
    no_ode: bool,
    /// The LTC cost as units (32 → 256) and sequence length (64 → 4096) grow instead.
    #[arg(long)]
    scale: bool,
    /// ltc-runtime's no-std step at batch 1 beside the prepared stepper and the layer's step
    /// (one thread, this process), with the exported files' sizes.
    #[arg(long)]
    runtime: bool,
    /// Internal: measure one model in this process and print its result.
    #[arg(long, hide = true)]
    worker: Option<String>,
    /// Internal: measure the Neural ODE row in this process.
    #[arg(long, hide = true)]
    ode_worker: bool,
}

impl Args {
    fn workload(&self, seq: usize) -> Workload {
        Workload {
            batch: self.batch,
            seq,
            iters: self.iters,
            warmup: self.warmup,
        }
    }

    fn peer(&self) -> Option<(&str, &str)> {
        self.peer.as_deref().map(|p| (p[0].as_str(), p[1].as_str()))
    }
}

/// The command that runs one measurement of `model` in a fresh process of this program, at
/// sequence length `seq`, on `threads` rayon / matrixmultiply threads (0: their default).
fn worker_command(args: &Args, model: &str, seq: usize, threads: usize) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("this program's path"));
    cmd.args(["--worker", model, "--backend", args.backend.as_str()])
        .args(workload_args(args.workload(seq)));
    with_threads(&mut cmd, threads);
    cmd
}

/// `--worker`: one measurement in this process.
fn run_worker(args: &Args, model: &str) {
    let gpu = || {
        let device = WgpuDevice::DefaultDevice;
        move || {
            WgpuRuntime::client(&device)
                .memory_usage()
                .map_or(f64::NAN, |m| m.bytes_reserved as f64 / (1024.0 * 1024.0))
        }
    };
    let work = args.workload(args.seq);
    let device = WgpuDevice::DefaultDevice;
    let result = match args.backend {
        BackendName::Wgpu => {
            worker::<Autodiff<CubeBackend<WgpuRuntime, f32, i32, u32>>>(model, work, &device, gpu())
        }
        BackendName::WgpuFusion => worker::<Autodiff<Wgpu>>(model, work, &device, gpu()),
        BackendName::Ndarray => {
            worker::<Autodiff<NdArray<f32>>>(model, work, &Default::default(), || f64::NAN)
        }
    };
    println!("{RESULT}{result}");
}

/// `--scale`: LTC training (forward + backward + Adam) and forward cost as the units grow
/// (32 → 256 at sequence 64) and as the sequence grows (64 → 4096 at 32 units), batch 32, one
/// worker process per row.
/// `--runtime`: the table of [`ltc_bench::runtime`].
fn runtime_table() -> ExitCode {
    println!(
        "batch 1, {INPUT} inputs, f32, one thread; µs per step (median of 15 runs of 2,000 steps)\n"
    );
    println!(
        "{:<28} | {:>10} | {:>11} | {:>11} | {:>9} | {:>13}",
        "model", "file bytes", "runtime µs", "stepper µs", "layer µs", "runtime/stepper"
    );
    for row in ltc_bench::runtime::measure(INPUT) {
        let stepper = row.stepper_us.map_or("—".into(), |us| format!("{us:.2}"));
        let ratio = row
            .stepper_us
            .map_or("—".into(), |us| format!("{:.2}×", row.runtime_us / us));
        println!(
            "{:<28} | {:>10} | {:>11.2} | {stepper:>11} | {:>9.1} | {ratio:>13}",
            row.model, row.file_bytes, row.runtime_us, row.layer_us
        );
    }
    ExitCode::SUCCESS
}

fn scale(args: &Args) -> ExitCode {
    let rows = [
        ("ltc_fc32", 64),
        ("ltc_fc64", 64),
        ("ltc_fc128", 64),
        ("ltc_fc256", 64),
        ("ltc_fc32", 256),
        ("ltc_fc32", 1024),
        ("ltc_fc32", 4096),
    ];
    let threads = args.threads.first().copied().unwrap_or(1);
    println!(
        "ltc-burn {} backend, batch {}, input {INPUT}, {threads} thread(s); medians of {} \
         iterations after {} warm-up; 'mem' = peak anonymous memory of the process while training",
        args.backend.as_str(),
        args.batch,
        args.iters,
        args.warmup
    );
    println!(
        "\n{:<34} {:>5} | {:>9} {:>11} | {:>8} {:>11} | {:>8} {:>13}",
        "model", "seq", "train ms", "µs / step", "fwd ms", "µs / step", "mem MiB", "KiB / step"
    );
    let mut ok = true;
    for (model, seq) in rows {
        let v = match spawn(&mut worker_command(args, model, seq, threads)) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("{e}");
                ok = false;
                continue;
            }
        };
        let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
        let (train, fwd) = (f("train_median_ms"), f("fwd_median_ms"));
        let mem = f("anon_peak_train_mib") - f("anon_after_build_mib");
        println!(
            "{:<34} {seq:>5} | {train:>9.1} {:>11.0} | {fwd:>8.1} {:>11.0} | {:>8.1} {:>13.1}",
            label(model),
            train * 1e3 / seq as f64,
            fwd * 1e3 / seq as f64,
            mem,
            mem * 1024.0 / seq as f64,
        );
    }
    println!("\n'mem' = the growth of anonymous memory from after building the model to its peak");
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// A number with `digits` decimals, or `-` for NaN.
fn opt(v: f64, digits: usize) -> String {
    if v.is_nan() {
        "-".to_string()
    } else {
        format!("{v:.digits$}")
    }
}

/// One row of the table: ours and the peer's (measured now and published) per column.
fn row(args: &Args, model: &str, threads: usize) -> Result<(), String> {
    let gpu = args.backend != BackendName::Ndarray;
    let (_, label, reference) = MODELS
        .iter()
        .find(|m| m.0 == model)
        .expect("checked by clap");
    let ours = spawn(&mut worker_command(args, model, args.seq, threads))?;
    let peer = args.peer().and_then(|(python, script)| {
        let th = threads.max(1).to_string();
        let mut cmd = Command::new(python);
        let device = match args.peer_device {
            PeerDevice::Cpu => "cpu",
            PeerDevice::Cuda => "cuda",
        };
        cmd.args([script, "--worker", model, &th, "--device", device])
            .args(workload_args(args.workload(args.seq)))
            .env("OMP_NUM_THREADS", &th)
            .env("MKL_NUM_THREADS", &th);
        spawn(&mut cmd).map_err(|e| eprintln!("peer: {e}")).ok()
    });
    // The published numbers hold for the CPU at the reference shape only.
    let reference = if (args.batch, args.seq) == REFERENCE_SHAPE && !gpu {
        reference[threads.clamp(1, 2) - 1]
    } else {
        [f64::NAN; 3]
    };
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
    let (sj, _, _, sm) = cols("stepper_b1_median_us", reference[2]);
    let (mem, peer_mem) = if gpu {
        (f(&ours, "device_mib"), now("device_peak_mib"))
    } else {
        (
            f(&ours, "anon_peak_train_mib"),
            now("anon_rss_peak_train_mib"),
        )
    };
    let threads = if threads == 0 {
        "gpu".to_string()
    } else {
        threads.to_string()
    };
    println!(
        "{label:<34} {threads:>3} | {a:>9.1} {:>9} {:>9} {:>5}× | {e:>8.1} {:>8} {:>8} {:>5}× | {j:>8.0} {:>8} {:>8} {:>5}× | {:>10} {:>5}× | {:>9} {:>9}",
        opt(b, 1),
        opt(c, 1),
        opt(d, 1),
        opt(g, 1),
        opt(h, 1),
        opt(i, 1),
        opt(k, 0),
        opt(l, 0),
        opt(m, 1),
        opt(sj, 1),
        opt(sm, 1),
        opt(mem, 0),
        opt(peer_mem, 0),
    );
    Ok(())
}

/// The Neural ODE row: ours in a one-thread child, torchdiffeq's beside `bench_ncps.py`.
fn ode_row(args: &Args) -> Result<(), String> {
    let mut cmd = Command::new(std::env::current_exe().expect("this program's path"));
    cmd.args(["--ode-worker", "--iters", &args.iters.to_string()]);
    let ours = spawn(with_threads(&mut cmd, 1))?;
    let peer = args.peer().and_then(|(python, script)| {
        let script = std::path::Path::new(script).with_file_name("bench_torchdiffeq.py");
        let mut cmd = Command::new(python);
        cmd.arg(&script)
            .args(["--iters", &args.iters.min(5).to_string()])
            .env("OMP_NUM_THREADS", "1")
            .env("MKL_NUM_THREADS", "1");
        spawn(&mut cmd)
            .map_err(|e| eprintln!("torchdiffeq peer (pip install torchdiffeq==0.2.5): {e}"))
            .ok()
    });
    ode::print(&ours, peer.as_ref());
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.ode_worker {
        println!("{RESULT}{}", ode::measure(args.iters.min(5)));
        return ExitCode::SUCCESS;
    }
    if let Some(model) = &args.worker {
        run_worker(&args, model);
        return ExitCode::SUCCESS;
    }
    if args.scale {
        return scale(&args);
    }
    if args.runtime {
        return runtime_table();
    }
    let gpu = args.backend != BackendName::Ndarray;
    let threads = if gpu { vec![0] } else { args.threads.clone() };
    println!(
        "ltc-burn {} backend, batch {}, seq {}, input {INPUT}; medians of {} iterations \
         after {} warm-up ({STEPS_B1} B=1 steps)",
        args.backend.as_str(),
        args.batch,
        args.seq,
        args.iters,
        args.warmup
    );
    println!(
        "'ncps ref' = peer-benchmarks.md (2-vCPU EPYC, batch 32, seq 64); 'ncps now' = \
         bench_ncps.py on {} run just now{}",
        match args.peer_device {
            PeerDevice::Cpu => "cpu",
            PeerDevice::Cuda => "cuda",
        },
        if args.peer.is_some() {
            ""
        } else {
            " (not run: no --peer)"
        }
    );
    println!(
        "memory: {}",
        if gpu {
            "'mem' = ours: the wgpu memory pool reserved after training; ncps (cuda): \
             torch.cuda.max_memory_allocated"
        } else {
            "'mem' = peak anonymous memory (RssAnon) of each whole process while training"
        }
    );
    println!(
        "\n{:<34} {:>3} | {:>9} {:>9} {:>9} {:>6} | {:>8} {:>8} {:>8} {:>6} | {:>8} {:>8} {:>8} {:>6} | {:>10} {:>6} | {:>9} {:>9}",
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
        "stepper µs",
        "×",
        "mem MiB",
        "ncps MiB",
    );
    let mut ok = true;
    for &t in &threads {
        for model in &args.models {
            if let Err(e) = row(&args, model, t) {
                eprintln!("{e}");
                ok = false;
            }
        }
    }
    println!(
        "\n× = ncps time / ltc-burn time (higher is faster), against 'ncps now' when measured"
    );
    if !args.no_ode
        && args.backend == BackendName::Ndarray
        && let Err(e) = ode_row(&args)
    {
        eprintln!("{e}");
        ok = false;
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
