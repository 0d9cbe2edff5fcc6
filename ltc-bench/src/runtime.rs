//! `ltc-bench --runtime`: a trained layer stepped at batch 1 three ways — ltc-runtime's
//! `Model::step` (no std, no allocation, scalar code, f32), the std prepared stepper (the CPU
//! kernels' widest vector code) where the layer has one, and the layer's own tensor `step` — with
//! the size of the exported file. One thread, the same inputs for all three; the outputs are
//! checked against each other before anything is timed.

use std::time::Instant;

use burn::backend::NdArray;
use burn::tensor::{Distribution, Tensor};
use ltc_burn::cfc::{CfcCellConfig, CfcConfig, WiredCfcConfig};
use ltc_burn::export::RuntimeCell;
use ltc_burn::ltc::LtcConfig;
use ltc_burn::recurrent::Recurrent;
use ltc_runtime::Model;
use ltc_wirings::AutoNcp;

use crate::measure::median;

type B = NdArray;

/// Steps per timed batch, and batches (the median of their per-step times is reported).
const STEPS: usize = 2_000;
const BATCHES: usize = 15;

/// One model's row.
#[derive(Debug, Clone)]
pub struct Row {
    /// What was stepped.
    pub model: &'static str,
    /// Bytes of the exported file.
    pub file_bytes: usize,
    /// ltc-runtime's step, µs.
    pub runtime_us: f64,
    /// The std prepared stepper's step, µs (`None`: the layer has no stepper).
    pub stepper_us: Option<f64>,
    /// The layer's tensor `step`, µs.
    pub layer_us: f64,
}

/// The median per-step time of `step` in µs over [`BATCHES`] batches of `steps` steps.
fn per_step(steps: usize, mut step: impl FnMut(usize)) -> f64 {
    let times = (0..BATCHES + 1)
        .map(|_| {
            let t = Instant::now();
            (0..steps).for_each(&mut step);
            t.elapsed().as_secs_f64() * 1e6 / steps as f64
        })
        .skip(1) // warm-up
        .collect();
    median(times)
}

fn row<C: RuntimeCell<B>>(model: &'static str, layer: &Recurrent<B, C>) -> Row {
    let device = Default::default();
    let s = layer.d_input();
    let xs: Vec<f32> = Tensor::<B, 2>::random([64, s], Distribution::Normal(0.0, 1.0), &device)
        .into_data()
        .to_vec()
        .expect("f32");
    let x = |t: usize| &xs[(t % 64) * s..(t % 64 + 1) * s];
    let file = layer.to_runtime();
    let runtime = Model::parse(&file).expect("the exporter writes a valid file");
    let mut state = vec![0.0; runtime.state_len()];
    let mut scratch = vec![0.0; runtime.scratch_len()];
    let mut y = vec![0.0; runtime.d_output()];
    let mut stepper = layer.stepper::<f32>(1).ok();
    // The same outputs before timing: 100 steps side by side.
    for t in 0..100 {
        runtime
            .step(x(t), None, &mut state, &mut scratch, &mut y)
            .expect("the right lengths");
        if let Some(stepper) = &mut stepper {
            let want = stepper.step(x(t), None).expect("the right lengths");
            let close = y.iter().zip(want).all(|(a, b)| (a - b).abs() <= 1e-4);
            assert!(
                close,
                "{model}: the runtime and the stepper differ at step {t}"
            );
        }
    }
    let runtime_us = per_step(STEPS, |t| {
        runtime
            .step(x(t), None, &mut state, &mut scratch, &mut y)
            .expect("the right lengths");
    });
    let stepper_us = stepper.map(|mut stepper| {
        per_step(STEPS, |t| {
            stepper.step(x(t), None).expect("the right lengths");
        })
    });
    let mut layer_state = None;
    let layer_us = per_step(STEPS / 20, |t| {
        let input = Tensor::<B, 1>::from_floats(x(t), &device).reshape([1, s]);
        let (y, next) = layer.step(input, layer_state.take(), None);
        let _ = y.into_data();
        layer_state = Some(next);
    });
    Row {
        model,
        file_bytes: file.len(),
        runtime_us,
        stepper_us,
        layer_us,
    }
}

/// The rows: AutoNCP(19, 4) as an LTC and as a wired CfC (ncps's layout), and a CfC of 19
/// units (ncps's default backbone, 1 × 128), `inputs` features each.
pub fn measure(inputs: usize) -> Vec<Row> {
    let device = Default::default();
    let ncp = || AutoNcp::new(19, 4).build(inputs).expect("a valid wiring");
    let ltc = LtcConfig::from_wiring(ncp())
        .init::<B>(&device)
        .expect("valid");
    let wired = WiredCfcConfig::from_wiring(ncp())
        .init::<B>(&device)
        .expect("valid");
    let cfc = CfcConfig::new(CfcCellConfig::new(inputs, 19))
        .init::<B>(&device)
        .expect("valid");
    vec![
        row("LTC AutoNCP(19, 4)", &ltc),
        row("wired CfC AutoNCP(19, 4)", &wired),
        row("CfC(19), backbone 1 × 128", &cfc),
    ]
}
