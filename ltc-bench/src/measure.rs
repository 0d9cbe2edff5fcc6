//! One measurement: a model built and timed on one backend, in the process that runs it
//! (train step, forward, B=1 step, B=1 prepared stepper, memory), as the JSON the peer's
//! worker prints too.

use std::time::Instant;

use burn::module::AutodiffModule;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Distribution, Tensor};
use ltc_burn::cfc::{CfcConfig, WiredCfcConfig};
use ltc_burn::kernel::on_compute_pool;
use ltc_burn::ltc::LtcConfig;
use ltc_burn::recurrent::{Recurrent, RecurrentCell};
use serde_json::{Value, json};

use crate::models::{INPUT, Kind, kind};

/// What one measurement runs: its shape and how many times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    /// Sequences per batch.
    pub batch: usize,
    /// Steps per sequence.
    pub seq: usize,
    /// Timed iterations.
    pub iters: usize,
    /// Untimed iterations before them.
    pub warmup: usize,
}

/// B=1 steps timed (after 20 untimed).
pub const STEPS_B1: usize = 200;

/// The median (the mean of the two middle values for an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
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
pub fn worker<B: AutodiffBackend>(
    model: &str,
    work: Workload,
    device: &B::Device,
    device_mib: impl Fn() -> f64,
) -> Value {
    B::seed(device, 0);
    let valid = "the benchmark configs are valid";
    match kind(model) {
        Kind::Ltc(wiring) => {
            let layer = LtcConfig::from_wiring(wiring).init(device).expect(valid);
            time::<B, _>(layer, work, device, device_mib)
        }
        Kind::Cfc(units) => {
            let layer = CfcConfig::from_sizes(INPUT, units)
                .init(device)
                .expect(valid);
            time::<B, _>(layer, work, device, device_mib)
        }
        Kind::WiredCfc(wiring) => {
            let layer = WiredCfcConfig::from_wiring(wiring)
                .init(device)
                .expect(valid);
            time::<B, _>(layer, work, device, device_mib)
        }
    }
}

/// The timings of one layer: forward without autodiff, the B=1 step and prepared stepper,
/// then training steps (forward, MSE against a fixed target, backward, Adam) with the peak
/// memory.
fn time<B: AutodiffBackend, C>(
    layer: Recurrent<B, C>,
    work: Workload,
    device: &B::Device,
    device_mib: impl Fn() -> f64,
) -> Value
where
    C: RecurrentCell<B> + AutodiffModule<B>,
    C::InnerModule: RecurrentCell<B::InnerBackend>,
{
    let Workload {
        batch,
        seq,
        iters,
        warmup,
    } = work;
    let out = layer.d_output();
    let x = Tensor::<B, 3>::random([batch, seq, INPUT], Distribution::Normal(0.0, 1.0), device);
    let target = Tensor::<B, 3>::random([batch, seq, out], Distribution::Normal(0.0, 1.0), device);
    let sync = || B::sync(device).expect("device sync");
    let rss_after_build = status_mib("VmRSS");
    let anon_after_build = status_mib("RssAnon");

    // Forward only, no autodiff.
    let inner = layer.valid();
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
        .narrow(0, 0, 1)
        .narrow(1, 0, 1)
        .reshape([1, INPUT]);
    let mut state = None;
    let mut step = Vec::new();
    for i in 0..20 + STEPS_B1 {
        let t = Instant::now();
        let (y, next) = inner.step(x1.clone(), state, None);
        let _ = y.into_data();
        state = Some(next);
        if i >= 20 {
            step.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }

    // Streaming through the prepared stepper, where the layer has one: batch 1, state carried.
    let x1_values: Vec<f32> = x1.into_data().convert::<f32>().to_vec().expect("f32");
    let stepper = inner.stepper::<f32>(1).ok().map(|mut stepper| {
        let mut times = Vec::new();
        for i in 0..20 + STEPS_B1 {
            let t = Instant::now();
            stepper.step(&x1_values, None).expect("a [1, input] input");
            if i >= 20 {
                times.push(t.elapsed().as_secs_f64() * 1e6);
            }
        }
        median(times)
    });

    // Training steps.
    let (train, anon_peak) = with_anon_peak(|| {
        let mut optim = AdamConfig::new().init::<B, Recurrent<B, C>>();
        let mut layer = layer;
        let mut times = Vec::new();
        for i in 0..warmup + iters {
            let t = Instant::now();
            // As the crate recommends for ndarray: the whole step on the compute pool.
            layer = on_compute_pool::<B, _>(|| {
                let (y, _) = layer.forward(x.clone(), None, None);
                let loss = (y - target.clone()).powi_scalar(2).mean();
                let grads = GradientsParams::from_grads(loss.backward(), &layer);
                optim.step(1e-3, layer, grads)
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
