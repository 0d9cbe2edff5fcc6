//! The prepared steppers against the layers' own `step` on the plain tensor path: outputs and states over several steps,
//! on every backend the parameters come from, for every mapping, wiring kind, mode,
//! activation, mixed memory, projection, timespans (zero and negative ones included),
//! batch 1 and more; and their errors, which leave the state as it was.

use burn::module::Param;
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor, TensorData};
use ltc_testing::{assert_close, backend_tests, is_f64, values};
use ltc_wirings::{AutoNcp, FullyConnected, Random};

use crate::cfc::{
    Activation, CfcCellConfig, CfcConfig, CfcMode, WiredCfcCellConfig, WiredCfcConfig, WiredVariant,
};
use crate::ltc::{LtcCellConfig, LtcConfig, Mapping};
use crate::recurrent::{Recurrent, RecurrentCell, RecurrentState};
use crate::stepper::{StepError, StepFloat};

/// Steps per comparison.
const STEPS: usize = 4;

fn tol<B: Backend>() -> f64 {
    if is_f64::<B>() { 1e-10 } else { 2e-5 }
}

/// `STEPS` inputs `[batch, d_input]` and timespans `[batch]` (one of them 0 and one
/// negative when `odd_times`).
fn inputs<B: Backend>(
    batch: usize,
    input: usize,
    odd_times: bool,
    device: &B::Device,
) -> Vec<(Tensor<B, 2>, Option<Tensor<B, 1>>)> {
    (0..STEPS)
        .map(|t| {
            let x = Tensor::random([batch, input], Distribution::Normal(0.0, 1.0), device);
            let dt = odd_times.then(|| {
                let mut dt: Vec<f64> = (0..batch).map(|b| 0.3 + 0.4 * b as f64).collect();
                if t == 1 {
                    dt[0] = 0.0;
                }
                if t == 2 {
                    dt[batch - 1] = -1.0;
                }
                Tensor::from_data(TensorData::new(dt, [batch]), device)
            });
            (x, dt)
        })
        .collect()
}

/// One step's outputs and state (and memory `c`), the stepper's against the layer's.
fn compare<B: Backend, F: StepFloat>(
    what: &str,
    got: &[F],
    want: Tensor<B, 2>,
    ours: (Tensor<B, 2>, Option<Tensor<B, 2>>),
    theirs: (Tensor<B, 2>, Option<Tensor<B, 2>>),
) {
    let got: Vec<f64> = got.iter().map(|v| v.to_f64()).collect();
    assert_close(what, &got, &values(want), tol::<B>(), tol::<B>());
    assert_close(
        what,
        &values(ours.0),
        &values(theirs.0),
        tol::<B>(),
        tol::<B>(),
    );
    assert_eq!(ours.1.is_some(), theirs.1.is_some(), "{what}: memory");
    if let (Some(ours), Some(theirs)) = (ours.1, theirs.1) {
        assert_close(what, &values(ours), &values(theirs), tol::<B>(), tol::<B>());
    }
}

/// A tensor's values in `F`.
fn slice<B: Backend, F: StepFloat, const D: usize>(t: Tensor<B, D>) -> Vec<F> {
    crate::kernel::cpu::into_vec(t)
}

fn random<B: Backend, const D: usize>(
    shape: [usize; D],
    device: &B::Device,
) -> Param<Tensor<B, D>> {
    Param::from_tensor(Tensor::random(
        shape,
        Distribution::Uniform(0.5, 1.5),
        device,
    ))
}

/// A random wiring of 6 neurons, 2 of them motor, for 2 inputs.
pub(super) fn random_wiring() -> ltc_wirings::Wiring {
    Random {
        output_dim: 2,
        seed: 7,
        ..Random::new(6, 0.5)
    }
    .build(2)
    .unwrap()
}

/// An LTC of `config` with its mappings moved away from their identity start.
pub(super) fn ltc_with_random_mappings<B: Backend>(
    config: LtcConfig,
    device: &B::Device,
) -> crate::Ltc<B> {
    let mut ltc = config.init::<B>(device).unwrap();
    let (s, m) = (ltc.d_input(), ltc.cell.motor);
    let cell = &mut ltc.cell;
    cell.input_w = cell.input_w.take().map(|_| random([s], device));
    cell.input_b = cell.input_b.take().map(|_| random([s], device));
    cell.output_w = cell.output_w.take().map(|_| random([m], device));
    cell.output_b = cell.output_b.take().map(|_| random([m], device));
    ltc
}

/// The stepper of `layer` (batch `batch`) against the layer's own `step` over [`STEPS`]
/// inputs: outputs, states and memory at every step. Timespans (with `odd_times`) include a
/// zero and a negative one unless `positive` (the CfC takes timespans as they are).
fn stepper_follows_step<B: Backend, F: StepFloat, C: RecurrentCell<B>>(
    what: &str,
    layer: &Recurrent<B, C>,
    (batch, odd_times, positive): (usize, bool, bool),
    device: &B::Device,
) {
    let mut stepper = layer.stepper::<F>(batch).unwrap();
    let mut state = None;
    for (t, (x, dt)) in inputs::<B>(batch, layer.d_input(), odd_times, device)
        .into_iter()
        .enumerate()
    {
        let dt = dt.map(|dt| {
            if positive {
                dt.abs().add_scalar(0.1)
            } else {
                dt
            }
        });
        let (x_s, dt_s): (Vec<F>, Option<Vec<F>>) = (slice(x.clone()), dt.clone().map(slice));
        let (y, next) = layer.step(x, state, dt);
        let got = stepper.step(&x_s, dt_s.as_deref()).unwrap().to_vec();
        let RecurrentState { hidden, memory } = stepper.to_state::<B>(device);
        let want = (next.hidden.clone(), next.memory.clone());
        compare(
            &format!("{what}, step {t}"),
            &got,
            y,
            (hidden, memory),
            want,
        );
        state = Some(next);
    }
}

fn ltc_case<B: Backend, F: StepFloat>(
    what: &str,
    config: LtcConfig,
    batch: usize,
    odd_times: bool,
    device: &B::Device,
) {
    // Against the plain tensor path: the reference, independent of the CPU kernel.
    let ltc = ltc_with_random_mappings::<B>(config, device).with_fused(false);
    stepper_follows_step::<B, F, _>(what, &ltc, (batch, odd_times, false), device);
}

fn ltc_stepper_equals_step<B: Backend>(device: &B::Device) {
    if is_f64::<B>() {
        ltc_cases::<B, f64>(device);
    } else {
        ltc_cases::<B, f32>(device);
    }
}

fn ltc_cases<B: Backend, F: StepFloat>(device: &B::Device) {
    ltc_testing::seed::<B>(device, 41);
    let fc = FullyConnected::new(5).build(3).unwrap();
    let ncp = AutoNcp::new(8, 2).build(3).unwrap();
    let random = random_wiring();
    let cell = |wiring| LtcCellConfig::new(wiring);
    let cases = [
        ("FC, affine", LtcConfig::new(cell(fc.clone())), 1, false),
        (
            "AutoNCP, linear, timespans",
            LtcConfig::new(cell(ncp.clone()).with_input_mapping(Mapping::Linear)),
            3,
            true,
        ),
        (
            "Random, identity, 3 unfolds",
            LtcConfig::new(
                cell(random)
                    .with_input_mapping(Mapping::Identity)
                    .with_output_mapping(Mapping::Identity)
                    .with_ode_unfolds(3),
            ),
            2,
            false,
        ),
        (
            "AutoNCP, mixed memory, timespans",
            LtcConfig::new(cell(ncp)).with_mixed_memory(true),
            2,
            true,
        ),
    ];
    for (what, config, batch, odd_times) in cases {
        ltc_case::<B, F>(what, config, batch, odd_times, device);
    }
}

/// A CfC layer of `[d_input, d_hidden, backbone units]` in `mode` with `act` on `layers`
/// backbone layers (pure mode's parameters drawn as ncps draws them).
pub(super) fn cfc_layer<B: Backend>(
    [d_input, d_hidden, units]: [usize; 3],
    (mode, act, layers): (CfcMode, Activation, usize),
    proj: Option<usize>,
    memory: bool,
    device: &B::Device,
) -> crate::Cfc<B> {
    let cell = CfcCellConfig::new(d_input, d_hidden)
        .with_mode(mode)
        .with_activation(act)
        .with_backbone_layers(layers)
        .with_backbone_units(units)
        .with_ncps_compat(mode == CfcMode::Pure);
    CfcConfig::new(cell)
        .with_proj_size(proj)
        .with_mixed_memory(memory)
        .init::<B>(device)
        .unwrap()
}

fn cfc_stepper_equals_step<B: Backend>(device: &B::Device) {
    if is_f64::<B>() {
        cfc_cases::<B, f64>(device);
    } else {
        cfc_cases::<B, f32>(device);
    }
}

fn cfc_cases<B: Backend, F: StepFloat>(device: &B::Device) {
    ltc_testing::seed::<B>(device, 43);
    use Activation::*;
    use CfcMode::*;
    // (mode, activation, backbone layers, projection, mixed memory, batch, timespans)
    let cases = [
        (Default, LecunTanh, 1, None, false, 1, false),
        (Default, Gelu, 2, Some(2), false, 3, true),
        (NoGate, Silu, 0, None, true, 2, true),
        (Pure, Relu, 1, Some(3), false, 2, true),
        (Default, Tanh, 1, None, true, 1, false),
    ];
    for (i, (mode, act, layers, proj, memory, batch, odd_times)) in cases.into_iter().enumerate() {
        let what = format!("CfC case {i} ({mode:?}, {act:?})");
        let cfc = cfc_layer::<B>([3, 5, 7], (mode, act, layers), proj, memory, device);
        let cfc = cfc.with_fused(false);
        stepper_follows_step::<B, F, _>(&what, &cfc, (batch, odd_times, true), device);
    }
}

fn wired_cfc_stepper_equals_step<B: Backend>(device: &B::Device) {
    if is_f64::<B>() {
        wired_cfc_cases::<B, f64>(device);
    } else {
        wired_cfc_cases::<B, f32>(device);
    }
}

fn wired_cfc_cases<B: Backend, F: StepFloat>(device: &B::Device) {
    ltc_testing::seed::<B>(device, 47);
    use CfcMode::*;
    use WiredVariant::*;
    let ncp = AutoNcp::new(10, 2).build(3).unwrap();
    let random = Random {
        output_dim: 2,
        seed: 5,
        ..Random::new(7, 0.5)
    }
    .build(3)
    .unwrap();
    // A one-layer wiring with fewer outputs than neurons: ncps's variant gathers its columns.
    let fc = FullyConnected {
        output_dim: 2,
        ..FullyConnected::new(5)
    }
    .build(3)
    .unwrap();
    // (wiring, variant, mode, projection, mixed memory, batch, timespans)
    let cases = [
        (ncp.clone(), Ncps, Default, None, false, 1, false),
        (ncp.clone(), Ncps, Pure, Some(2), true, 2, true),
        (ncp.clone(), Faithful, NoGate, None, false, 3, true),
        (ncp, Faithful, Default, Some(3), true, 1, true),
        (random.clone(), Ncps, NoGate, None, false, 2, true),
        (random, Faithful, Pure, None, false, 2, false),
        (fc.clone(), Ncps, Default, None, false, 2, true),
        (fc, Faithful, Default, None, true, 1, false),
    ];
    for (i, (wiring, variant, mode, proj, memory, batch, odd_times)) in
        cases.into_iter().enumerate()
    {
        let what = format!("wired CfC case {i} ({variant:?}, {mode:?})");
        let wired = wired_layer::<B>(wiring, (variant, mode), proj, memory, device);
        stepper_follows_step::<B, F, _>(&what, &wired, (batch, odd_times, true), device);
    }
}

/// A wired CfC on `wiring` in `variant` and `mode`.
pub(super) fn wired_layer<B: Backend>(
    wiring: ltc_wirings::Wiring,
    (variant, mode): (WiredVariant, CfcMode),
    proj: Option<usize>,
    memory: bool,
    device: &B::Device,
) -> crate::WiredCfc<B> {
    let cell = WiredCfcCellConfig::new(wiring)
        .with_variant(variant)
        .with_mode(mode)
        .with_ncps_compat(mode == CfcMode::Pure);
    WiredCfcConfig::new(cell)
        .with_proj_size(proj)
        .with_mixed_memory(memory)
        .init::<B>(device)
        .unwrap()
}

backend_tests! {
    ltc_stepper_equals_step,
    cfc_stepper_equals_step,
    wired_cfc_stepper_equals_step,
}

#[test]
fn bad_input_is_named_and_changes_nothing() {
    use burn::backend::NdArray;
    let device = Default::default();
    let ltc = LtcConfig::new(LtcCellConfig::new(AutoNcp::new(8, 2).build(3).unwrap()))
        .init::<NdArray>(&device)
        .unwrap();
    assert_eq!(
        ltc.stepper::<f32>(0).unwrap_err(),
        StepError::ZeroBatch {
            context: "Ltc::stepper".into()
        }
    );
    let mut stepper = ltc.stepper::<f32>(2).unwrap();
    stepper.step(&[0.5; 6], None).unwrap();
    let before = stepper.state().to_vec();
    let err = stepper.step(&[0.5; 5], None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "LtcStepper::step: x has 5 values, expected 6 (batch 2 × d_input 3)"
    );
    let err = stepper.step(&[0.5; 6], Some(&[1.0])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "LtcStepper::step: timespans has 1 values, expected 2 (batch 2)"
    );
    let err = stepper.step(&[0.5; 6], Some(&[1.0, f32::NAN])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "LtcStepper::step: timespans[1] = NaN: must be a finite time (0 or less holds the state)"
    );
    let err = stepper.set_state(&[0.0; 15], None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "LtcStepper::set_state: state has 15 values, expected 16 (batch 2 × d_hidden 8)"
    );
    let err = stepper.set_state(&[0.0; 16], Some(&[0.0; 16])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "LtcStepper::set_state: the layer has no mixed memory: give no memory with the state"
    );
    assert_eq!(
        stepper.state(),
        &before[..],
        "errors leave the state as it was"
    );
    // The state round-trips, and reset zeroes it.
    let mut other = ltc.stepper::<f32>(2).unwrap();
    other.set_state(&before, None).unwrap();
    let a = stepper.step(&[0.1; 6], None).unwrap().to_vec();
    let b = other.step(&[0.1; 6], None).unwrap().to_vec();
    assert_eq!(a, b);
    stepper.reset();
    assert!(stepper.state().iter().all(|v| *v == 0.0));

    let cfc = CfcConfig::new(CfcCellConfig::new(3, 4))
        .with_mixed_memory(true)
        .init::<NdArray>(&device)
        .unwrap();
    let mut stepper = cfc.stepper::<f32>(1).unwrap();
    let err = stepper.set_state(&[0.0; 4], None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "CfcStepper::set_state: the layer has mixed memory: give its memory with the state"
    );
    let err = stepper.step(&[0.0; 4], None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "CfcStepper::step: x has 4 values, expected 3 (batch 1 × d_input 3)"
    );
    assert_eq!(
        cfc.stepper::<f32>(0).unwrap_err().to_string(),
        "Cfc::stepper: batch = 0: a stepper needs at least 1 sequence"
    );
}
