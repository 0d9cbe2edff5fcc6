//! Numerical robustness of the recurrent layers on every backend: outputs, final states and
//! every gradient stay finite for inputs of magnitude 1e6, zero, tiny and huge (1e30) elapsed
//! times, and 10,000-step sequences; the LTC denominator cannot reach zero. See RELIABILITY.md.

use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;
use ltc_testing::{backend_tests, numbers, param_grads, tensor, values};
use ltc_wirings::{AutoNcp, FullyConnected};

use crate::cfc::{CfcConfig, CfcMode, WiredCfcConfig};
use crate::ltc::{LtcConfig, Positivity};

/// Elapsed times that stress the update: zero, tiny, ordinary, huge; and negative (time does
/// not run backwards: counted as zero).
const ELAPSED: [f64; 8] = [0.0, 1e-30, 1e-7, 1.0, 1e3, 1e6, 1e30, -2.0];

/// `[batch, seq, input]` values of magnitude up to 1e6 (and exact zeros), and `[batch, seq]`
/// elapsed times cycling through [`ELAPSED`].
fn extreme_inputs<B: AutodiffBackend>(
    batch: usize,
    seq: usize,
    input: usize,
    device: &B::Device,
) -> (Tensor<B, 3>, Tensor<B, 2>) {
    let x: Vec<f64> = numbers(batch * seq * input, 41, -1.0, 1.0)
        .into_iter()
        .enumerate()
        .map(|(i, u)| match i % 4 {
            0 => u * 1e6,
            1 => u * 1e3,
            2 => 0.0,
            _ => u,
        })
        .collect();
    let dt: Vec<f64> = (0..batch * seq)
        .map(|i| ELAPSED[(i * 3 + i / seq) % ELAPSED.len()])
        .collect();
    (
        tensor(&x, [batch, seq, input], device),
        tensor(&dt, [batch, seq], device),
    )
}

#[track_caller]
fn assert_finite(what: &str, v: &[f64]) {
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        panic!("{what}[{i}] = {} is not finite", v[i]);
    }
}

/// Backward from the sum of the outputs and of the final state; every parameter's gradient
/// and the input's gradient must be finite.
#[track_caller]
fn assert_finite_grads<B: AutodiffBackend, M: Module<B>>(
    what: &str,
    module: &M,
    x: &Tensor<B, 3>,
    loss: Tensor<B, 1>,
) {
    assert_finite(&format!("{what}: loss"), &values(loss.clone()));
    let grads = loss.backward();
    for (i, g) in param_grads(module, &grads).iter().enumerate() {
        assert_finite(&format!("{what}: gradient of parameter {i}"), g);
    }
    let gx = x.grad(&grads).expect("x is tracked");
    assert_finite(&format!("{what}: gradient of x"), &values(gx));
}

fn ltc_extreme_inputs_stay_finite<B: AutodiffBackend>(device: &B::Device) {
    let configs = [
        (
            "LTC AutoNCP(10, 2)",
            LtcConfig::from_wiring(AutoNcp::new(10, 2).build(3).unwrap()),
        ),
        (
            "LTC FC(6), mixed memory",
            LtcConfig::from_wiring(FullyConnected::new(6).build(3).unwrap())
                .with_mixed_memory(true),
        ),
        ("LTC FC(6), clip positivity", {
            let mut config = LtcConfig::from_wiring(FullyConnected::new(6).build(3).unwrap());
            config.cell.positivity = Positivity::Clip;
            config
        }),
    ];
    for (what, config) in configs {
        let ltc = config.init::<B>(device).unwrap();
        let (x, dt) = extreme_inputs::<B>(3, 8, 3, device);
        let x = x.require_grad();
        let (y, state) = ltc.forward(x.clone(), None, Some(dt));
        assert_finite(&format!("{what}: outputs"), &values(y.clone()));
        assert_finite(&format!("{what}: state"), &values(state.hidden.clone()));
        let loss = y.sum() + state.hidden.sum();
        assert_finite_grads(what, &ltc, &x, loss);
    }
}

/// A zero (or negative) elapsed time leaves the LTC's potentials where they were, as the ODE
/// says; before, `cm / 0` made them NaN.
fn ltc_zero_elapsed_time_holds_the_state<B: AutodiffBackend>(device: &B::Device) {
    let ltc = LtcConfig::from_wiring(AutoNcp::new(8, 2).build(2).unwrap())
        .init::<B>(device)
        .unwrap();
    let x = tensor::<B, 3>(&numbers(2 * 3 * 2, 5, -2.0, 2.0), [2, 3, 2], device);
    let ones = tensor::<B, 2>(&[1.0; 4], [2, 2], device);
    let (_, before) = ltc.forward(x.clone().slice([0..2, 0..2]), None, Some(ones));
    let held = tensor::<B, 2>(&[0.0, -1.0], [2, 1], device);
    let (_, after) = ltc.forward(x.slice([0..2, 2..3]), Some(before.clone()), Some(held));
    let (a, b) = (values(before.hidden), values(after.hidden));
    assert_finite("state after a zero step", &b);
    ltc_testing::assert_close("state across a zero step", &b, &a, 1e-6, 1e-6);
}

/// The worst case for the denominator: clip positivity with every leak, capacitance and weight
/// driven to zero, and a huge elapsed time (so `cm_t` vanishes too). ε keeps it positive.
fn ltc_denominator_never_reaches_zero<B: AutodiffBackend>(device: &B::Device) {
    let mut config = LtcConfig::from_wiring(FullyConnected::new(4).build(2).unwrap());
    config.cell.positivity = Positivity::Clip;
    config.cell.gleak_init = [-1.0, -1.0];
    config.cell.cm_init = [-1.0, -1.0];
    config.cell.w_init = [-1.0, -1.0];
    config.cell.sensory_w_init = [-1.0, -1.0];
    // ε is what keeps this denominator positive: below MIN_EPSILON it is refused.
    let err = config
        .cell
        .clone()
        .with_epsilon(0.0)
        .validate()
        .unwrap_err();
    assert!(err.to_string().contains("epsilon = 0"), "{err}");
    let ltc = config.init::<B>(device).unwrap();
    let x = tensor::<B, 3>(&numbers(2 * 3 * 2, 9, -1.0, 1.0), [2, 3, 2], device).require_grad();
    let dt = tensor::<B, 2>(&[1e30; 6], [2, 3], device);
    let (y, state) = ltc.forward(x.clone(), None, Some(dt));
    assert_finite("outputs", &values(y.clone()));
    assert_finite("state", &values(state.hidden.clone()));
    assert_finite_grads("zero-leak LTC", &ltc, &x, y.sum());
}

fn cfc_extreme_inputs_stay_finite<B: AutodiffBackend>(device: &B::Device) {
    for mode in [CfcMode::Default, CfcMode::Pure, CfcMode::NoGate] {
        for mixed in [false, true] {
            let mut config = CfcConfig::from_sizes(3, 6).with_mixed_memory(mixed);
            config.cell.mode = mode;
            let what = format!("CfC {mode:?}, mixed memory {mixed}");
            let cfc = config.init::<B>(device).unwrap();
            let (x, dt) = extreme_inputs::<B>(3, 8, 3, device);
            let x = x.require_grad();
            let (y, state) = cfc.forward(x.clone(), None, Some(dt));
            assert_finite(&format!("{what}: outputs"), &values(y.clone()));
            assert_finite(&format!("{what}: state"), &values(state.hidden.clone()));
            assert_finite_grads(&what, &cfc, &x, y.sum() + state.hidden.sum());
        }
    }
    let wired = WiredCfcConfig::from_wiring(AutoNcp::new(10, 2).build(3).unwrap())
        .init::<B>(device)
        .unwrap();
    let (x, dt) = extreme_inputs::<B>(3, 8, 3, device);
    let x = x.require_grad();
    let (y, state) = wired.forward(x.clone(), None, Some(dt));
    assert_finite("wired CfC: outputs", &values(y.clone()));
    assert_finite("wired CfC: state", &values(state.hidden.clone()));
    assert_finite_grads("wired CfC", &wired, &x, y.sum());
}

fn is_wgpu<B: AutodiffBackend>() -> bool {
    core::any::type_name::<B>().contains("Wgpu")
}

/// The longest sequence the suite runs: 10,000 steps, outputs and gradients finite (and the
/// gradient reaches the first input).
const LONG: usize = 10_000;

fn long_sequences_stay_finite<B: AutodiffBackend>(device: &B::Device) {
    let x =
        tensor::<B, 3>(&numbers(2 * LONG * 2, 77, -1.0, 1.0), [2, LONG, 2], device).require_grad();
    let ltc = LtcConfig::from_wiring(AutoNcp::new(8, 2).build(2).unwrap())
        .init::<B>(device)
        .unwrap();
    let (y, _) = ltc.forward(x.clone(), None, None);
    assert_finite("LTC over 10,000 steps: outputs", &values(y.clone()));
    assert_finite_grads("LTC over 10,000 steps", &ltc, &x, y.sum());

    // The CfC on wgpu runs the plain tensor path (no GPU kernel yet): some 40 dispatches per
    // step, which lavapipe takes minutes over at 10,000 steps. There it runs 1,000.
    let len = if is_wgpu::<B>() { 1_000 } else { LONG };
    let x =
        tensor::<B, 3>(&numbers(2 * len * 2, 78, -1.0, 1.0), [2, len, 2], device).require_grad();
    let cfc = CfcConfig::from_sizes(2, 8).init::<B>(device).unwrap();
    let (y, _) = cfc.forward(x.clone(), None, None);
    assert_finite(
        &format!("CfC over {len} steps: outputs"),
        &values(y.clone()),
    );
    assert_finite_grads(&format!("CfC over {len} steps"), &cfc, &x, y.sum());
}

backend_tests! {
    ltc_extreme_inputs_stay_finite,
    ltc_zero_elapsed_time_holds_the_state,
    ltc_denominator_never_reaches_zero,
    cfc_extreme_inputs_stay_finite,
    long_sequences_stay_finite,
}
