//! Times the fused CPU LTC kernel alone (`ltc_burn::kernel::ltc::cpu`, on slices, no Burn) on
//! the benchmark workloads (batch 32, sequence 64, 8 inputs, 6 unfolds): median forward and
//! backward of ITERS runs (default 12).
//!
//! ```text
//! RAYON_NUM_THREADS=1 cargo run -p ltc-bench --example fused_cpu [fc32|fc64|autoncp64 ...]
//! LTC_BURN_ISA=avx2 ...        # or baseline: the lower instruction sets, for comparison
//! ```
use ltc_burn::kernel::ltc::cpu::{SynapseParams, Synapses, UnfoldProblem, backward, forward};
use ltc_wirings::{AutoNcp, FullyConnected};
use std::time::Instant;

fn main() {
    let (b, l, s, k) = (32usize, 64usize, 8usize, 6usize);
    let only: Vec<String> = std::env::args().skip(1).collect();
    let iters: usize = std::env::var("ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let fill = |len: usize, lo: f32, hi: f32| -> Vec<f32> {
        (0..len)
            .map(|i| lo + (hi - lo) * ((i * 7919 % 1000) as f32 / 1000.0))
            .collect()
    };
    for (name, wiring) in [
        ("fc32", FullyConnected::new(32).build(s).unwrap()),
        ("fc64", FullyConnected::new(64).build(s).unwrap()),
        ("autoncp64", AutoNcp::new(64, 8).build(s).unwrap()),
    ] {
        if !only.is_empty() && !only.iter().any(|o| o == name) {
            continue;
        }
        let n = wiring.units();
        let rec_mask: Vec<f32> = wiring.mask();
        let sen_mask: Vec<f32> = wiring.sensory_mask();
        let rec_syn = Synapses::from_mask(&rec_mask, n);
        let sen_syn = Synapses::from_mask(&sen_mask, n);
        // w (masked), sigma, mu, erev of a population, in ncps's initial ranges.
        let population = |mask: &[f32]| -> [Vec<f32>; 4] {
            let len = mask.len();
            let w = fill(len, 0.01, 1.0)
                .iter()
                .zip(mask)
                .map(|(a, m)| a * m)
                .collect();
            [
                w,
                fill(len, 3.0, 8.0),
                fill(len, 0.3, 0.8),
                fill(len, -1.0, 1.0),
            ]
        };
        let [w, sigma, mu, erev] = population(&rec_mask);
        let [sw, ssigma, smu, serev] = population(&sen_mask);
        let x = fill(b * l * s, -1.0, 1.0);
        let v0 = vec![0.0f32; b * n];
        let cm_t = fill(n, 2.4, 3.6);
        let gleak = fill(n, 0.001, 1.0);
        let gv = fill(n, -0.2, 0.2);
        let p = UnfoldProblem {
            batch: b,
            seq: l,
            units: n,
            inputs: s,
            unfolds: k,
            x: &x,
            v0: &v0,
            cm_t: &cm_t,
            recurrent: SynapseParams {
                w: &w,
                sigma: &sigma,
                mu: &mu,
                erev: &erev,
            },
            recurrent_synapses: &rec_syn,
            sensory: SynapseParams {
                w: &sw,
                sigma: &ssigma,
                mu: &smu,
                erev: &serev,
            },
            sensory_synapses: &sen_syn,
            gleak: &gleak,
            gleak_vleak: &gv,
            epsilon: 1e-8,
        };
        let grad = vec![1.0f32; b * l * n];
        let mut tf = Vec::new();
        let mut tb = Vec::new();
        for _ in 0..iters {
            let t0 = Instant::now();
            let f = forward(&p);
            tf.push(t0.elapsed().as_secs_f64() * 1e3);
            let t0 = Instant::now();
            let g = backward(&p, &f, &grad);
            tb.push(t0.elapsed().as_secs_f64() * 1e3);
            std::hint::black_box(g);
        }
        tf.sort_by(f64::total_cmp);
        tb.sort_by(f64::total_cmp);
        println!(
            "{name}: {} synapses, {:?}: forward {:.2} ms, backward {:.2} ms",
            rec_syn.count(n, n),
            ltc_burn::kernel::cpu::isa(),
            tf[iters / 2],
            tb[iters / 2]
        );
    }
}
