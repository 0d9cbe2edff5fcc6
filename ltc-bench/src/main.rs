//! `ltc-bench`: times ltc-burn on the ncps peer's workloads and prints the results next to the
//! ncps (PyTorch) numbers. Run through `cargo xtask bench` (dev profile, this crate at opt-level 3,
//! where Burn's generic tensor code is compiled; it finds the Python peer when installed).
//!
//! Workload (as `bench_ncps.py`): batch 32, sequence 64, 8 inputs, batch-first, all steps
//! returned, zero initial state, no timespans, ncps defaults (6 unfolds, softplus constraints,
//! affine mappings).
//! - train: forward + MSE against a fixed random target + backward + Adam(lr 1e-3) step;
//! - fwd: forward only, without autodiff;
//! - step B=1: one `Ltc::step` on a `[1, 8]` input carrying the state (streaming latency);
//! - stepper B=1: the same step through the layer's prepared stepper (`Ltc::stepper`,
//!   `Cfc::stepper`: parameters read once, slices in and out), where the layer has one.
//!
//! Each (model, threads) pair runs in a fresh process of this program (`--worker`), so thread
//! pools and peak memory are per measurement, as the peer's are.

mod ode;

use std::process::{Command, ExitCode};
use std::time::Instant;

use burn::backend::wgpu::{CubeBackend, WgpuDevice, WgpuRuntime};
use burn::backend::{Autodiff, NdArray, Wgpu};
use burn::cubecl::Runtime;
use burn::module::AutodiffModule;
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};
use ltc_burn::cfc::{CfcCell, CfcConfig, CfcLayer, CfcState, WiredCfcCell, WiredCfcConfig};
use ltc_burn::ltc::{Ltc, LtcConfig, LtcState};
use ltc_burn::on_compute_pool;
use ltc_wirings::{AutoNcp, FullyConnected, Wiring};
use serde_json::{Value, json};

/// `(key, label, ncps median train ms, fwd ms, step µs)` for 1 and 2 threads, from
/// `peer-benchmarks.md` (ncps 1.0.1, torch 2.15 CPU, 2-vCPU AMD EPYC VM, batch 32, seq 64); NaN
/// where it publishes none.
const MODELS: [(&str, &str, [[f64; 3]; 2]); 8] = [
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
    (
        "ltc_fc128",
        "LTC(8, 128) [FullyConnected(128)]",
        [[f64::NAN; 3]; 2],
    ),
    (
        "ltc_fc256",
        "LTC(8, 256) [FullyConnected(256)]",
        [[f64::NAN; 3]; 2],
    ),
    (
        "cfc32",
        "CfC(8, 32) [backbone 128x1]",
        [[37.3, 9.4, 89.0], [31.3, 8.6, 88.0]],
    ),
    (
        "cfc64",
        "CfC(8, 64) [backbone 128x1]",
        [[42.9, 12.2, 137.0], [34.2, 10.4, 94.0]],
    ),
    (
        "wiredcfc_autoncp64_8",
        "CfC(8, AutoNCP(64, 8)) [wired]",
        [[81.8, 17.6, 394.0], [92.0, 19.0, 202.0]],
    ),
];
/// The models run when `--models` is not given: the peer table's six.
const DEFAULT_MODELS: [&str; 6] = [
    "ltc_fc32",
    "ltc_fc64",
    "ltc_autoncp64_8",
    "cfc32",
    "cfc64",
    "wiredcfc_autoncp64_8",
];
/// The peer's published numbers are for this batch and sequence length only.
const REFERENCE_SHAPE: (usize, usize) = (32, 64);
const INPUT: usize = 8;

const HELP: &str = "\
ltc-bench [--backend ndarray|wgpu|wgpu-fusion] [--threads 1 2] [--models NAME...] [--iters N]
          [--warmup N] [--batch N] [--seq N] [--peer PYTHON BENCH_NCPS_PY] [--peer-device cpu|cuda]
          [--no-ode] [--scale]

Times the train step, forward, B=1 step and B=1 prepared stepper on the ncps peer's workloads (batch 32, seq 64,
input 8 unless --batch/--seq) and prints them next to ncps's published CPU numbers. With --peer,
also runs bench_ncps.py's worker for each (model, threads) in the same invocation (on
--peer-device) and prints measured ratios and both processes' peak memory. Models: ltc_fc32
ltc_fc64 ltc_autoncp64_8 cfc32 cfc64 wiredcfc_autoncp64_8 (the default set), ltc_fc128
ltc_fc256. --scale prints the LTC cost as units (32 → 256) and sequence length (64 → 4096)
grow instead. --threads sets RAYON_NUM_THREADS and MATMUL_NUM_THREADS per worker process (ndarray
only). wgpu is CubeBackend (the test backend), wgpu-fusion Burn's `Wgpu` (with kernel fusion).
Then (ndarray; --no-ode skips it) the Neural ODE row: Dopri5 on an MLP field against
torchdiffeq (tools/bench_torchdiffeq.py, run with the peer's Python when it has torchdiffeq):
function evaluations and times.
";

/// The models the bench builds.
enum Kind {
    Ltc(Wiring),
    Cfc(usize),
    WiredCfc(Wiring),
}

fn kind(model: &str) -> Kind {
    let fc = |n| FullyConnected::new(n).build(INPUT).expect("a valid wiring");
    let autoncp = || AutoNcp::new(64, 8).build(INPUT).expect("a valid wiring");
    match model {
        "ltc_fc32" => Kind::Ltc(fc(32)),
        "ltc_fc64" => Kind::Ltc(fc(64)),
        "ltc_fc128" => Kind::Ltc(fc(128)),
        "ltc_fc256" => Kind::Ltc(fc(256)),
        "ltc_autoncp64_8" => Kind::Ltc(autoncp()),
        "cfc32" => Kind::Cfc(32),
        "cfc64" => Kind::Cfc(64),
        "wiredcfc_autoncp64_8" => Kind::WiredCfc(autoncp()),
        other => panic!("unknown model {other}"),
    }
}

/// One streaming step of a prepared stepper on a `[1, input]` input.
type StepFn = Box<dyn FnMut(&[f32])>;

/// What the bench needs of a sequence layer: a whole-sequence forward, one streaming step, and
/// where the layer has one, its prepared stepper.
trait Timed<B: Backend>: Module<B> {
    type State;
    fn width(&self) -> usize;
    fn sequence(&self, x: Tensor<B, 3>) -> Tensor<B, 3>;
    fn step1(&self, x: Tensor<B, 2>, state: Option<Self::State>) -> (Tensor<B, 2>, Self::State);
    /// The layer's prepared B=1 stepper ([`Ltc::stepper`], [`ltc_burn::Cfc::stepper`]).
    fn stepper(&self) -> Option<StepFn> {
        None
    }
}

impl<B: Backend> Timed<B> for Ltc<B> {
    type State = LtcState<B>;
    fn width(&self) -> usize {
        self.output_size()
    }
    fn sequence(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        self.forward(x, None, None).0
    }
    fn step1(&self, x: Tensor<B, 2>, state: Option<Self::State>) -> (Tensor<B, 2>, Self::State) {
        self.step(x, state, None)
    }
    fn stepper(&self) -> Option<StepFn> {
        let mut stepper = self.stepper::<f32>(1).expect("batch 1");
        Some(Box::new(move |x| {
            stepper.step(x, None).expect("a [1, input] input");
        }))
    }
}

/// `Timed` for a CfC layer; `$stepper` says whether it has a prepared stepper.
macro_rules! timed_cfc {
    ($cell:ident, $stepper:expr) => {
        impl<B: Backend> Timed<B> for CfcLayer<B, $cell<B>> {
            type State = CfcState<B>;
            fn width(&self) -> usize {
                self.output_size()
            }
            fn sequence(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
                self.forward(x, None, None).0
            }
            fn step1(
                &self,
                x: Tensor<B, 2>,
                state: Option<Self::State>,
            ) -> (Tensor<B, 2>, Self::State) {
                self.step(x, state, None)
            }
            fn stepper(&self) -> Option<StepFn> {
                $stepper(self)
            }
        }
    };
}

timed_cfc!(CfcCell, |cfc: &CfcLayer<B, CfcCell<B>>| -> Option<StepFn> {
    let mut stepper = cfc.stepper::<f32>(1).expect("batch 1");
    Some(Box::new(move |x| {
        stepper.step(x, None).expect("a [1, input] input");
    }))
});
timed_cfc!(WiredCfcCell, |_| None);

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

/// Builds `model` and times it on `B` (see the crate docs); `device_mib` reads the device
/// memory pool after training (NaN on the CPU).
fn worker<B: AutodiffBackend>(
    model: &str,
    args: &Args,
    device: &B::Device,
    device_mib: impl Fn() -> f64,
) -> Value {
    B::seed(device, 0);
    match kind(model) {
        Kind::Ltc(wiring) => time::<B, _>(
            LtcConfig::from_wiring(wiring).init(device),
            args,
            device,
            device_mib,
        ),
        Kind::Cfc(units) => time::<B, _>(
            CfcConfig::from_sizes(INPUT, units).init(device),
            args,
            device,
            device_mib,
        ),
        Kind::WiredCfc(wiring) => time::<B, _>(
            WiredCfcConfig::from_wiring(wiring).init(device),
            args,
            device,
            device_mib,
        ),
    }
}

fn time<B: AutodiffBackend, M>(
    model: Result<M, ltc_burn::ConfigError>,
    args: &Args,
    device: &B::Device,
    device_mib: impl Fn() -> f64,
) -> Value
where
    M: Timed<B> + AutodiffModule<B>,
    M::InnerModule: Timed<B::InnerBackend>,
{
    let model = model.expect("the benchmark configs are valid");
    let (batch, seq, iters, warmup) = (args.batch, args.seq, args.iters, args.warmup);
    let out = model.width();
    let x = Tensor::<B, 3>::random([batch, seq, INPUT], Distribution::Normal(0.0, 1.0), device);
    let target = Tensor::<B, 3>::random([batch, seq, out], Distribution::Normal(0.0, 1.0), device);
    let sync = || B::sync(device).expect("device sync");
    let rss_after_build = status_mib("VmRSS");
    let anon_after_build = status_mib("RssAnon");

    // Forward only, no autodiff.
    let inner = model.valid();
    let x_inner = x.clone().inner();
    let mut fwd = Vec::new();
    for i in 0..warmup + iters {
        let t = Instant::now();
        let y = inner.sequence(x_inner.clone());
        let _ = y.into_data(); // wait for the result
        if i >= warmup {
            fwd.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }

    // Streaming: one step of batch 1, state carried.
    let x1 = x_inner
        .clone()
        .narrow(0, 0, 1)
        .narrow(1, 0, 1)
        .reshape([1, INPUT]);
    let mut state = None;
    let mut step = Vec::new();
    for i in 0..220 {
        let t = Instant::now();
        let (y, next) = inner.step1(x1.clone(), state);
        let _ = y.into_data();
        state = Some(next);
        if i >= 20 {
            step.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }

    // Streaming through the prepared stepper: batch 1, state carried.
    let x1_values: Vec<f32> = x1
        .clone()
        .into_data()
        .convert::<f32>()
        .to_vec()
        .expect("f32");
    let stepper = inner.stepper().map(|mut stepper| {
        let mut times = Vec::new();
        for i in 0..220 {
            let t = Instant::now();
            stepper(&x1_values);
            if i >= 20 {
                times.push(t.elapsed().as_secs_f64() * 1e6);
            }
        }
        median(times)
    });

    // Training steps.
    let (train, anon_peak) = with_anon_peak(|| {
        let mut optim = AdamConfig::new().init::<B, M>();
        let mut model = model;
        let mut times = Vec::new();
        for i in 0..warmup + iters {
            let t = Instant::now();
            // As the crate recommends for ndarray: the whole step on the compute pool.
            model = on_compute_pool::<B, _>(|| {
                let y = model.sequence(x.clone());
                let loss = (y - target.clone()).powi_scalar(2).mean();
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                optim.step(1e-3, model, grads)
            });
            sync();
            if i >= warmup {
                times.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        times
    });
    json!({
        "train_median_ms": median(train),
        "fwd_median_ms": median(fwd),
        "step_b1_median_us": median(step),
        "stepper_b1_median_us": stepper,
        "rss_after_build_mib": rss_after_build,
        "anon_after_build_mib": anon_after_build,
        "anon_peak_train_mib": anon_peak,
        "peak_rss_mib": status_mib("VmHWM"),
        "device_mib": device_mib(),
    })
}

struct Args {
    backend: String,
    threads: Vec<usize>,
    models: Vec<String>,
    iters: usize,
    warmup: usize,
    peer: Option<(String, String)>,
    peer_device: String,
    worker: Option<String>,
    batch: usize,
    seq: usize,
    ode: bool,
    ode_worker: bool,
    scale: bool,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        backend: "ndarray".into(),
        threads: vec![1, 2],
        models: DEFAULT_MODELS.iter().map(|m| m.to_string()).collect(),
        iters: 10,
        warmup: 3,
        peer: None,
        peer_device: "cpu".into(),
        worker: None,
        batch: REFERENCE_SHAPE.0,
        seq: REFERENCE_SHAPE.1,
        ode: true,
        ode_worker: false,
        scale: false,
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
            "--scale" => {
                args.scale = true;
                i += 1;
            }
            "--ode-worker" => {
                args.ode_worker = true;
                i += 1;
            }
            "--backend" => {
                args.backend = value(i)?;
                if !["ndarray", "wgpu", "wgpu-fusion"].contains(&args.backend.as_str()) {
                    return Err(format!(
                        "--backend {}: expected ndarray, wgpu or wgpu-fusion",
                        args.backend
                    ));
                }
                i += 2;
            }
            "--iters" | "--warmup" | "--batch" | "--seq" => {
                let n = value(i)?
                    .parse()
                    .map_err(|_| format!("{}: expected a count", raw[i]))?;
                match raw[i].as_str() {
                    "--iters" => args.iters = n,
                    "--warmup" => args.warmup = n,
                    "--batch" | "--seq" if n == 0 => {
                        return Err(format!("{} 0: expected at least 1", raw[i]));
                    }
                    "--batch" => args.batch = n,
                    _ => args.seq = n,
                }
                i += 2;
            }
            "--peer-device" => {
                args.peer_device = value(i)?;
                if !["cpu", "cuda"].contains(&args.peer_device.as_str()) {
                    return Err(format!(
                        "--peer-device {}: expected cpu or cuda",
                        args.peer_device
                    ));
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

/// The counts both workers (ours and the peer's) take: iterations, warm-up, batch, sequence.
fn counts(args: &Args, seq: usize) -> [(&'static str, usize); 4] {
    [
        ("--iters", args.iters),
        ("--warmup", args.warmup),
        ("--batch", args.batch),
        ("--seq", seq),
    ]
}

/// The command that runs one measurement of `model` in a fresh process of this program, at
/// sequence length `seq`, on `threads` rayon / matrixmultiply threads (0: their default).
fn worker_command(args: &Args, model: &str, seq: usize, threads: usize) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("this program's path"));
    cmd.args(["--worker", model, "--backend", &args.backend]);
    for (flag, n) in counts(args, seq) {
        cmd.args([flag, &n.to_string()]);
    }
    if threads > 0 {
        cmd.env("RAYON_NUM_THREADS", threads.to_string())
            .env("MATMUL_NUM_THREADS", threads.to_string());
    }
    cmd
}

/// `--scale`: LTC training (forward + backward + Adam) and forward cost as the units grow
/// (32 → 256 at sequence 64) and as the sequence grows (64 → 4096 at 32 units), batch 32, one
/// worker process per row.
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
        args.backend, args.batch, args.iters, args.warmup
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
        let label = MODELS.iter().find(|m| m.0 == model).map_or(model, |m| m.1);
        println!(
            "{label:<34} {seq:>5} | {train:>9.1} {:>11.0} | {fwd:>8.1} {:>11.0} | {:>8.1} {:>13.1}",
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
        let gpu = || {
            let device = WgpuDevice::DefaultDevice;
            move || {
                WgpuRuntime::client(&device)
                    .memory_usage()
                    .map_or(f64::NAN, |m| m.bytes_reserved as f64 / (1024.0 * 1024.0))
            }
        };
        let result = match args.backend.as_str() {
            "wgpu" => worker::<Autodiff<CubeBackend<WgpuRuntime, f32, i32, u32>>>(
                model,
                &args,
                &WgpuDevice::DefaultDevice,
                gpu(),
            ),
            "wgpu-fusion" => {
                worker::<Autodiff<Wgpu>>(model, &args, &WgpuDevice::DefaultDevice, gpu())
            }
            _ => worker::<Autodiff<NdArray<f32>>>(model, &args, &Default::default(), || f64::NAN),
        };
        println!("RESULT {result}");
        return ExitCode::SUCCESS;
    }

    if args.scale {
        return scale(&args);
    }
    let exe = std::env::current_exe().expect("this program's path");
    let gpu = args.backend != "ndarray";
    let threads = if gpu { vec![0] } else { args.threads.clone() };
    // The published numbers hold for the CPU at the reference shape only.
    let published = (args.batch, args.seq) == REFERENCE_SHAPE;
    println!(
        "ltc-burn {} backend, batch {}, seq {}, input {INPUT}; medians of {} iterations \
         after {} warm-up ({} B=1 steps)",
        args.backend, args.batch, args.seq, args.iters, args.warmup, 200
    );
    println!(
        "'ncps ref' = peer-benchmarks.md (2-vCPU EPYC, batch 32, seq 64); 'ncps now' = \
         bench_ncps.py on {} run just now{}",
        args.peer_device,
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
            let (_, label, reference) = MODELS.iter().find(|m| m.0 == model).expect("checked");
            let ours = match spawn(&mut worker_command(&args, model, args.seq, t)) {
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
                    .args(["--device", &args.peer_device]);
                for (flag, n) in counts(&args, args.seq) {
                    cmd.args([flag, &n.to_string()]);
                }
                cmd.env("OMP_NUM_THREADS", &th).env("MKL_NUM_THREADS", &th);
                spawn(&mut cmd).map_err(|e| eprintln!("peer: {e}")).ok()
            });
            let reference = if published && !gpu {
                reference[t.clamp(1, 2) - 1]
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
            let opt = |v: f64, digits: usize| {
                if v.is_nan() {
                    "-".to_string()
                } else {
                    format!("{v:.digits$}")
                }
            };
            let (mem, peer_mem) = if gpu {
                (f(&ours, "device_mib"), now("device_peak_mib"))
            } else {
                (
                    f(&ours, "anon_peak_train_mib"),
                    now("anon_rss_peak_train_mib"),
                )
            };
            println!(
                "{:<34} {:>3} | {a:>9.1} {:>9} {:>9} {:>5}× | {e:>8.1} {:>8} {:>8} {:>5}× | {j:>8.0} {:>8} {:>8} {:>5}× | {:>10} {:>5}× | {:>9} {:>9}",
                label,
                if t == 0 {
                    "gpu".to_string()
                } else {
                    t.to_string()
                },
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
