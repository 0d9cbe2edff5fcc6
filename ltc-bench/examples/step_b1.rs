//! The B=1 streaming step of `Ltc::step` (FC(64) by default, `UNITS=32` for FC(32)), fused
//! and plain, for profiling: `cargo run -p ltc-bench --example step_b1` (`FUSED=1` or `0` for one path).
use std::time::Instant;

use burn::backend::NdArray;
use burn::tensor::{Distribution, Tensor};
use ltc_burn::ltc::LtcConfig;
use ltc_wirings::FullyConnected;

type B = NdArray<f32>;

fn main() {
    let units: usize = std::env::var("UNITS")
        .ok()
        .and_then(|u| u.parse().ok())
        .unwrap_or(64);
    let iters: usize = std::env::var("ITERS")
        .ok()
        .and_then(|u| u.parse().ok())
        .unwrap_or(2000);
    let device = Default::default();
    let ltc = LtcConfig::from_wiring(FullyConnected::new(units).build(8).unwrap())
        .init::<B>(&device)
        .unwrap();
    let x = Tensor::<B, 2>::random([1, 8], Distribution::Normal(0.0, 1.0), &device);
    let paths: &[bool] = match std::env::var("FUSED").as_deref() {
        Ok("1") => &[true],
        Ok("0") => &[false],
        _ => &[true, false],
    };
    for &fused in paths {
        let ltc = ltc.clone().with_fused(fused);
        let mut state = None;
        let mut times = Vec::new();
        for _ in 0..iters {
            let t = Instant::now();
            let (y, next) = ltc.step(x.clone(), state, None);
            let _ = y.into_data();
            state = Some(next);
            times.push(t.elapsed().as_secs_f64() * 1e6);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "FC({units}) step B=1, fused {fused}: median {:.1} µs",
            times[iters / 2]
        );
    }
}
