//! CfC tests on every backend. Golden parity with ncps lives in `ltc-parity`; these pin the
//! semantics by hand-computed numbers and invariants.

use burn::module::{AutodiffModule, Module, Param};
use burn::record::{DoublePrecisionSettings, NamedMpkFileRecorder};
use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;
use ltc_testing::{assert_close, backend_tests, is_f64, numbers, tensor, test_dir, values};
use ltc_wirings::{AutoNcp, FullyConnected, Ncp};

use super::*;
use crate::ConfigError;
use crate::recurrent::{Recurrent, RecurrentCell, RecurrentState};

mod fused;

fn tol<B: AutodiffBackend>() -> f64 {
    if is_f64::<B>() { 1e-12 } else { 1e-5 }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Sets a Linear layer's `[in, out]` weight and bias.
fn set_linear<B: AutodiffBackend>(
    linear: &mut burn::nn::Linear<B>,
    weight: &[f64],
    bias: &[f64],
    device: &B::Device,
) {
    let out = bias.len();
    linear.weight = Param::from_tensor(tensor(weight, [weight.len() / out, out], device));
    linear.bias = Some(Param::from_tensor(tensor(bias, [out], device)));
}

/// One input, one hidden unit, no backbone, worked out by hand for every mode. The heads read
/// z = [x, h] = [2, 0.5]:
///
/// ff1 = 0.3·2 − 0.4·0.5 + 0.1 = 0.5, ff2 = −0.2·2 + 0.6·0.5 = −0.1,
/// time_a = 0.5·2 + 0.2 = 1.2, time_b = 0.1·0.5 − 0.3 = −0.25; Δt = 0.7.
fn closed_forms_by_hand<B: AutodiffBackend>(device: &B::Device) {
    let (ff1, ff2, ta, tb, dt) = (0.5f64, -0.1f64, 1.2f64, -0.25f64, 0.7f64);
    let gate = sigmoid(ta * dt + tb);
    for (mode, want) in [
        (
            CfcMode::Default,
            ff1.tanh() * (1.0 - gate) + gate * ff2.tanh(),
        ),
        (CfcMode::NoGate, ff1.tanh() + gate * ff2.tanh()),
        // A = 1.5, w_tau = −0.2: −A·e^(−Δt·(|w_tau| + |ff1|))·ff1 + A.
        (
            CfcMode::Pure,
            -1.5 * (-dt * (0.2 + ff1.abs())).exp() * ff1 + 1.5,
        ),
    ] {
        let mut cell = CfcCellConfig::new(1, 1)
            .with_mode(mode)
            .with_backbone_layers(0)
            .init::<B>(device)
            .unwrap();
        set_linear(&mut cell.ff1, &[0.3, -0.4], &[0.1], device);
        if let Some(ff2) = cell.ff2.as_mut() {
            set_linear(ff2, &[-0.2, 0.6], &[0.0], device);
        }
        if let Some(time_a) = cell.time_a.as_mut() {
            set_linear(time_a, &[0.5, 0.0], &[0.2], device);
        }
        if let Some(time_b) = cell.time_b.as_mut() {
            set_linear(time_b, &[0.0, 0.1], &[-0.3], device);
        }
        if mode == CfcMode::Pure {
            cell.a = Some(Param::from_tensor(tensor(&[1.5], [1, 1], device)));
            cell.w_tau = Some(Param::from_tensor(tensor(&[-0.2], [1, 1], device)));
        }
        let x = tensor::<B, 2>(&[2.0], [1, 1], device);
        let h = tensor::<B, 2>(&[0.5], [1, 1], device);
        let dt = tensor::<B, 1>(&[dt], [1], device);
        let got = values(cell.forward(x, h, Some(dt)).1);
        assert_close(&format!("{mode:?}"), &got, &[want], tol::<B>(), 0.0);
    }
}

/// The backbone: LeCun tanh of a Linear, before the heads.
fn backbone_by_hand<B: AutodiffBackend>(device: &B::Device) {
    let mut cell = CfcCellConfig::new(1, 1)
        .with_backbone_units(1)
        .with_mode(CfcMode::NoGate)
        .init::<B>(device)
        .unwrap();
    set_linear(&mut cell.backbone[0], &[1.0, 2.0], &[-0.2], device);
    set_linear(&mut cell.ff1, &[0.8], &[0.0], device);
    for head in [&mut cell.ff2, &mut cell.time_a, &mut cell.time_b] {
        set_linear(head.as_mut().unwrap(), &[0.0], &[0.0], device);
    }
    let x = tensor::<B, 2>(&[0.3], [1, 1], device);
    let h = tensor::<B, 2>(&[0.1], [1, 1], device);
    let z = 1.7159 * (0.666f64 * (1.0 * 0.3 + 2.0 * 0.1 - 0.2)).tanh();
    // ff2 = 0, so h' = tanh(0.8·z) + σ(0)·tanh(0).
    let got = values(cell.forward(x, h, None).1);
    assert_close("h'", &got, &[(0.8 * z).tanh()], tol::<B>(), 0.0);
}

fn numbers_tensor<B: AutodiffBackend, const D: usize>(
    shape: [usize; D],
    seed: u64,
    lo: f64,
    hi: f64,
    device: &B::Device,
) -> Tensor<B, D> {
    tensor(
        &numbers(shape.iter().product(), seed, lo, hi),
        shape,
        device,
    )
}

fn plain_cfc<B: AutodiffBackend>(device: &B::Device, mixed_memory: bool, seed: u64) -> Cfc<B> {
    ltc_testing::seed::<B>(device, seed);
    CfcConfig::new(
        CfcCellConfig::new(4, 6)
            .with_backbone_units(8)
            .with_activation(Activation::Silu),
    )
    .with_proj_size(Some(3))
    .with_mixed_memory(mixed_memory)
    .init::<B>(device)
    .unwrap()
}

fn wired_cfc<B: AutodiffBackend>(
    device: &B::Device,
    variant: WiredVariant,
    seed: u64,
) -> WiredCfc<B> {
    ltc_testing::seed::<B>(device, seed);
    let wiring = AutoNcp::new(10, 2).build(4).unwrap();
    WiredCfcConfig::new(WiredCfcCellConfig::new(wiring).with_variant(variant))
        .init::<B>(device)
        .unwrap()
}

/// Runs `layer` on a whole sequence and step by step; both must agree (outputs and state).
fn assert_step_equals_forward<B: AutodiffBackend, C: RecurrentCell<B>>(
    what: &str,
    layer: &Recurrent<B, C>,
    device: &B::Device,
) {
    let (batch, seq, s) = (2, 5, layer.d_input());
    let x = numbers_tensor::<B, 3>([batch, seq, s], 9, -1.0, 1.0, device);
    let ts = numbers_tensor::<B, 2>([batch, seq], 10, 0.5, 1.5, device);
    let (y, state) = layer.forward(x.clone(), None, Some(ts.clone()));
    let mut s_t = None;
    let mut steps = Vec::new();
    for t in 0..seq {
        let x_t = x.clone().narrow(1, t, 1).reshape([batch, s]);
        let dt = ts.clone().narrow(1, t, 1).reshape([batch]);
        let (y_t, next) = layer.step(x_t, s_t, Some(dt));
        steps.push(y_t);
        s_t = Some(next);
    }
    let s_t = s_t.unwrap();
    let tol = tol::<B>();
    let stepped = Tensor::stack::<3>(steps, 1);
    assert_close(what, &values(stepped), &values(y.clone()), tol, tol);
    assert_close(
        what,
        &values(s_t.hidden),
        &values(state.hidden.clone()),
        tol,
        tol,
    );
    assert_eq!(s_t.memory.is_some(), layer.lstm.is_some());
    if let (Some(a), Some(b)) = (s_t.memory, state.memory.clone()) {
        assert_close(what, &values(a), &values(b), tol, tol);
    }
    // The last step of `forward` is `forward_last`.
    let (last, _) = layer.forward_last(x, None, Some(ts));
    let y_last = y.narrow(1, seq - 1, 1).reshape([batch, layer.d_output()]);
    assert_close(what, &values(last), &values(y_last), tol, tol);
}

fn step_equals_forward<B: AutodiffBackend>(device: &B::Device) {
    assert_step_equals_forward("Cfc", &plain_cfc::<B>(device, true, 1), device);
    for variant in [WiredVariant::Ncps, WiredVariant::Faithful] {
        let layer = wired_cfc::<B>(device, variant, 2);
        assert_step_equals_forward(&format!("{variant:?}"), &layer, device);
    }
}

/// Each sample's elapsed times are its own, for a batch size other than 1 and equal to the
/// number of units (where ncps 1.0.1 fails or silently mis-broadcasts).
fn timespans_are_per_sample<B: AutodiffBackend>(device: &B::Device) {
    let cfc = plain_cfc::<B>(device, false, 3);
    let wired = wired_cfc::<B>(device, WiredVariant::Ncps, 4);
    for batch in [3, 6] {
        let seq = 4;
        let x = numbers_tensor::<B, 3>([batch, seq, 4], 6, -1.0, 1.0, device);
        let ts = numbers_tensor::<B, 2>([batch, seq], 7, 0.2, 2.0, device);
        for (name, run) in [
            (
                "Cfc",
                &(|x, ts| cfc.forward(x, None, ts).0) as &dyn Fn(_, _) -> Tensor<B, 3>,
            ),
            ("WiredCfc", &|x, ts| wired.forward(x, None, ts).0),
        ] {
            let y = values(run(x.clone(), Some(ts.clone())));
            let per = y.len() / batch;
            for b in 0..batch {
                let yb = run(x.clone().narrow(0, b, 1), Some(ts.clone().narrow(0, b, 1)));
                assert_close(
                    &format!("{name}, batch {batch}, sample {b}"),
                    &y[b * per..(b + 1) * per],
                    &values(yb),
                    tol::<B>(),
                    tol::<B>(),
                );
            }
            let y1 = values(run(x.clone(), None));
            let diff: f64 = y1.iter().zip(&y).map(|(a, b)| (a - b).abs()).sum();
            assert!(diff > 1e-3, "{name}: timespans had no effect");
        }
    }
}

fn sequence_first_is_the_transpose<B: AutodiffBackend>(device: &B::Device) {
    let batch_first = plain_cfc::<B>(device, true, 11);
    let seq_first = Recurrent {
        batch_first: false,
        ..batch_first.clone()
    };
    let x = numbers_tensor::<B, 3>([2, 3, 4], 12, -1.0, 1.0, device);
    let ts = numbers_tensor::<B, 2>([2, 3], 13, 0.5, 1.5, device);
    let (a, sa) = batch_first.forward(x.clone(), None, Some(ts.clone()));
    let (b, sb) = seq_first.forward(x.swap_dims(0, 1), None, Some(ts.swap_dims(0, 1)));
    let tol = tol::<B>();
    assert_close("outputs", &values(b.swap_dims(0, 1)), &values(a), tol, tol);
    assert_close("state", &values(sb.hidden), &values(sa.hidden), tol, tol);
}

fn record_round_trip<B: AutodiffBackend>(device: &B::Device) {
    let dir = test_dir::<B>("cfc_record_round_trip");
    let recorder = NamedMpkFileRecorder::<DoublePrecisionSettings>::new();
    let x = numbers_tensor::<B, 3>([2, 4, 4], 19, -1.0, 1.0, device);

    let cfc = plain_cfc::<B>(device, true, 17);
    cfc.clone().save_file(dir.join("cfc"), &recorder).unwrap();
    let fresh = plain_cfc::<B>(device, true, 18);
    let before = values(fresh.forward(x.clone(), None, None).0);
    let loaded = fresh.load_file(dir.join("cfc"), &recorder, device).unwrap();
    let want = values(cfc.forward(x.clone(), None, None).0);
    assert_eq!(values(loaded.forward(x.clone(), None, None).0), want);
    assert_ne!(before, want, "the fresh layer differed before loading");

    let wired = wired_cfc::<B>(device, WiredVariant::Faithful, 20);
    wired
        .clone()
        .save_file(dir.join("wired"), &recorder)
        .unwrap();
    let loaded = wired_cfc::<B>(device, WiredVariant::Faithful, 21)
        .load_file(dir.join("wired"), &recorder, device)
        .unwrap();
    assert_eq!(
        values(loaded.forward(x.clone(), None, None).0),
        values(wired.forward(x, None, None).0)
    );
}

/// Dropout acts after every backbone layer (in training, i.e. on an autodiff backend) —
/// including the first, which ncps skips; `ncps_compat` restores ncps's placement.
fn dropout_applies_to_every_backbone_layer<B: AutodiffBackend>(device: &B::Device) {
    let x = numbers_tensor::<B, 2>([4, 3], 22, -1.0, 1.0, device);
    let h = Tensor::<B, 2>::zeros([4, 5], device);
    for (compat, layers, random) in [(false, 1, true), (true, 1, false), (true, 2, true)] {
        ltc_testing::seed::<B>(device, 23);
        let cell = CfcCellConfig::new(3, 5)
            .with_backbone_units(16)
            .with_backbone_layers(layers)
            .with_backbone_dropout(0.5)
            .with_ncps_compat(compat)
            .init::<B>(device)
            .unwrap();
        let a = values(cell.forward(x.clone(), h.clone(), None).1);
        let b = values(cell.forward(x.clone(), h.clone(), None).1);
        assert_eq!(a != b, random, "ncps_compat {compat}, {layers} layer(s)");
        // Inference (no autodiff): never dropped.
        let inner = cell.valid();
        let xi = x.clone().inner();
        let hi = h.clone().inner();
        let c = values(inner.forward(xi.clone(), hi.clone(), None).1);
        assert_eq!(c, values(inner.forward(xi, hi, None).1));
    }
}

/// Pure mode starts at A = 1, w_tau = 0 (the CfC paper's intent); `ncps_compat` draws both
/// from Xavier-uniform as ncps 1.0.1 does.
fn pure_mode_initial_values<B: AutodiffBackend>(device: &B::Device) {
    let config = CfcCellConfig::new(3, 8).with_mode(CfcMode::Pure);
    let cell = config.init::<B>(device).unwrap();
    assert_eq!(values(cell.a.unwrap().val()), vec![1.0; 8]);
    assert_eq!(values(cell.w_tau.unwrap().val()), vec![0.0; 8]);
    let cell = config.with_ncps_compat(true).init::<B>(device).unwrap();
    let bound = (6.0f64 / 9.0).sqrt();
    for p in [cell.a.unwrap(), cell.w_tau.unwrap()] {
        let v = values(p.val());
        assert!(v.iter().all(|x| x.abs() <= bound), "{v:?}");
        assert!(v.iter().any(|x| (x - v[0]).abs() > 1e-6), "{v:?}");
    }
    assert!(cell.ff2.is_none() && cell.time_a.is_none() && cell.time_b.is_none());
}

/// The faithful wired variant uses exactly the wiring's synapses with their signs; ncps's
/// variant is densely recurrent within a layer.
///
/// With the gate heads zeroed (a constant gate) and no-gate mode, `h'_j` rises with an
/// excitatory input and falls with an inhibitory one, and does not depend on an input or a
/// neuron without a synapse to `j`.
fn faithful_variant_follows_the_wiring<B: AutodiffBackend>(device: &B::Device) {
    // Command neurons with recurrent synapses, so the ncps variant's dense recurrence shows.
    let wiring = Ncp {
        inter: 4,
        command: 3,
        motor: 2,
        sensory_fanout: 2,
        inter_fanout: 2,
        recurrent_command_synapses: 3,
        motor_fanin: 2,
        seed: 5,
    }
    .build(3)
    .unwrap();
    let n = wiring.units();
    let command_synapses: Vec<i8> = wiring
        .layer(1)
        .iter()
        .flat_map(|&i| wiring.layer(1).iter().map(move |&j| (i, j)))
        .map(|(i, j)| wiring.synapse(i, j).unwrap_or(0))
        .collect();
    assert!(
        command_synapses.contains(&0) && command_synapses.iter().any(|&p| p != 0),
        "the test needs present and absent command → command synapses: {command_synapses:?}"
    );
    for variant in [WiredVariant::Faithful, WiredVariant::Ncps] {
        ltc_testing::seed::<B>(device, 24);
        let mut cell = WiredCfcCellConfig::new(wiring.clone())
            .with_mode(CfcMode::NoGate)
            .with_variant(variant)
            .init::<B>(device)
            .unwrap();
        for layer in &mut cell.layers {
            for gate in [&mut layer.time_a, &mut layer.time_b] {
                let gate = gate.as_mut().unwrap();
                gate.weight = Param::from_tensor(gate.weight.val().zeros_like());
            }
        }
        let x = numbers_tensor::<B, 2>([1, 3], 25, -0.5, 0.5, device).require_grad();
        let h = numbers_tensor::<B, 2>([1, n], 26, -0.5, 0.5, device).require_grad();
        // Neuron ids of the state columns: id order (faithful) or layer order (ncps).
        let columns: Vec<usize> = match variant {
            WiredVariant::Faithful => (0..n).collect(),
            WiredVariant::Ncps => (0..wiring.num_layers())
                .flat_map(|l| wiring.layer(l).to_vec())
                .collect(),
        };
        let inter = wiring.layer(0);
        let command = wiring.layer(1);
        for (col, &j) in columns.iter().enumerate() {
            // A fresh graph per output: backward consumes the one it runs on.
            let (_, h_new) = cell.forward(x.clone(), h.clone(), None);
            let grads = h_new.narrow(1, col, 1).sum().backward();
            let dx = values(x.grad(&grads).unwrap());
            let dh = values(h.grad(&grads).unwrap());
            if inter.contains(&j) {
                for (i, &d) in dx.iter().enumerate() {
                    let polarity = wiring.sensory_synapse(i, j).unwrap_or(0);
                    if polarity == 0 {
                        assert_eq!(d, 0.0, "input {i} → neuron {j}: no synapse");
                    } else if variant == WiredVariant::Faithful {
                        assert_eq!(
                            d.signum(),
                            f64::from(polarity),
                            "input {i} → neuron {j}: ∂h'/∂x = {d}"
                        );
                    }
                }
            }
            if command.contains(&j) {
                for &i in command {
                    let d = dh[columns.iter().position(|&c| c == i).unwrap()];
                    let polarity = wiring.synapse(i, j).unwrap_or(0);
                    match variant {
                        WiredVariant::Faithful if polarity == 0 => {
                            assert_eq!(d, 0.0, "command {i} → command {j}: no synapse")
                        }
                        WiredVariant::Faithful => {
                            assert_eq!(d.signum(), f64::from(polarity), "command {i} → command {j}")
                        }
                        // ncps: every command neuron reads every other.
                        WiredVariant::Ncps => assert_ne!(d, 0.0, "command {i} → command {j}"),
                    }
                }
            }
        }
    }
}

/// ncps's output is the motor layer; the faithful variant's is neurons `0..d_output` of the
/// id-ordered state, the same neurons.
fn outputs_are_the_motor_neurons<B: AutodiffBackend>(device: &B::Device) {
    let x = numbers_tensor::<B, 3>([2, 3, 4], 27, -1.0, 1.0, device);
    for variant in [WiredVariant::Ncps, WiredVariant::Faithful] {
        let cfc = wired_cfc::<B>(device, variant, 28);
        let (y, state) = cfc.forward_last(x.clone(), None, None);
        let motor = match variant {
            WiredVariant::Ncps => state.hidden.narrow(1, 8, 2), // [inter | command | motor]
            WiredVariant::Faithful => state.hidden.narrow(1, 0, 2),
        };
        assert_eq!(values(y), values(motor), "{variant:?}");
    }
    // A one-layer wiring with fewer outputs than neurons: the first output_dim neurons.
    let wiring = FullyConnected {
        output_dim: 2,
        ..FullyConnected::new(5)
    }
    .build(4)
    .unwrap();
    let cfc = WiredCfcConfig::from_wiring(wiring)
        .init::<B>(device)
        .unwrap();
    let (y, state) = cfc.forward_last(x, None, None);
    assert_eq!(values(y), values(state.hidden.narrow(1, 0, 2)));
}

fn rejects_wrong_input_width<B: AutodiffBackend>(device: &B::Device) {
    let cfc = plain_cfc::<B>(device, false, 1);
    let _ = cfc.forward(Tensor::zeros([2, 3, 5], device), None, None);
}

fn rejects_wrong_timespans<B: AutodiffBackend>(device: &B::Device) {
    let cfc = wired_cfc::<B>(device, WiredVariant::Ncps, 1);
    let ts = Tensor::ones([3, 2], device);
    let _ = cfc.forward(Tensor::zeros([2, 3, 4], device), None, Some(ts));
}

fn rejects_wrong_state<B: AutodiffBackend>(device: &B::Device) {
    let cfc = plain_cfc::<B>(device, false, 1);
    let state = RecurrentState::new(Tensor::zeros([2, 7], device));
    let _ = cfc.step(Tensor::zeros([2, 4], device), Some(state), None);
}

fn rejects_state_without_memory_cell<B: AutodiffBackend>(device: &B::Device) {
    let cfc = plain_cfc::<B>(device, true, 1);
    let state = RecurrentState::new(Tensor::zeros([2, 6], device));
    let _ = cfc.forward(Tensor::zeros([2, 3, 4], device), Some(state), None);
}

fn rejects_wrong_cell_state<B: AutodiffBackend>(device: &B::Device) {
    let cell = CfcCellConfig::new(4, 6).init::<B>(device).unwrap();
    let _ = cell.forward(
        Tensor::zeros([2, 4], device),
        Tensor::zeros([3, 6], device),
        None,
    );
}

backend_tests! {
    closed_forms_by_hand,
    backbone_by_hand,
    step_equals_forward,
    timespans_are_per_sample,
    sequence_first_is_the_transpose,
    record_round_trip,
    dropout_applies_to_every_backbone_layer,
    pure_mode_initial_values,
    faithful_variant_follows_the_wiring,
    outputs_are_the_motor_neurons,
    #[should_panic(expected = "Cfc::forward: x must have shape [batch, seq, d_input=4], got [2, 3, 5]")]
    rejects_wrong_input_width,
    #[should_panic(expected = "WiredCfc::forward: timespans must have shape [batch=2, seq=3], got [3, 2]")]
    rejects_wrong_timespans,
    #[should_panic(expected = "Cfc::step: state.hidden must have shape [batch=2, d_hidden=6], got [2, 7]")]
    rejects_wrong_state,
    #[should_panic(expected = "this layer has mixed memory, so state.memory must be a [batch, d_hidden] tensor, got None")]
    rejects_state_without_memory_cell,
    #[should_panic(expected = "Cfc cell: h must have shape [batch=2, d_hidden=6], got [3, 6]")]
    rejects_wrong_cell_state,
}

#[test]
fn bad_configs_name_the_field_and_the_fix() {
    let err = CfcCellConfig::new(3, 0).validate().unwrap_err();
    assert_eq!(
        err.to_string(),
        "CfcCellConfig.d_hidden = 0: must be at least 1"
    );
    let err = CfcCellConfig::new(3, 4)
        .with_backbone_units(0)
        .validate()
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::ZeroSize {
                field: "backbone_units",
                ..
            }
        ),
        "{err}"
    );
    // Without a backbone its width does not matter.
    assert!(
        CfcCellConfig::new(3, 4)
            .with_backbone_units(0)
            .with_backbone_layers(0)
            .validate()
            .is_ok()
    );
    let err = CfcCellConfig::new(3, 4)
        .with_backbone_dropout(f64::NAN)
        .validate()
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("CfcCellConfig.backbone_dropout = NaN"),
        "{err}"
    );
    let err = CfcConfig::from_sizes(3, 4)
        .with_proj_size(Some(0))
        .validate()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "CfcConfig.proj_size = 0: must be at least 1"
    );
    let wiring = AutoNcp::new(10, 2).build(3).unwrap();
    let err = WiredCfcConfig::from_wiring(wiring)
        .with_proj_size(Some(0))
        .validate()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "WiredCfcConfig.proj_size = 0: must be at least 1"
    );
}

#[test]
fn config_round_trips_through_json() {
    use burn::config::Config;
    let dir = std::env::temp_dir().join(format!("cfc-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = CfcConfig::new(
        CfcCellConfig::new(3, 8)
            .with_mode(CfcMode::NoGate)
            .with_activation(Activation::Gelu),
    )
    .with_proj_size(Some(2));
    config.save(dir.join("cfc.json")).unwrap();
    let loaded = CfcConfig::load(dir.join("cfc.json")).unwrap();
    assert_eq!(loaded.cell.mode, CfcMode::NoGate);
    assert_eq!(loaded.cell.activation, Activation::Gelu);
    assert_eq!(loaded.proj_size, Some(2));

    let wiring = AutoNcp::new(10, 2).build(3).unwrap();
    let config = WiredCfcConfig::new(
        WiredCfcCellConfig::new(wiring.clone()).with_variant(WiredVariant::Faithful),
    );
    config.save(dir.join("wired.json")).unwrap();
    let loaded = WiredCfcConfig::load(dir.join("wired.json")).unwrap();
    assert_eq!(loaded.cell.wiring, wiring);
    assert_eq!(loaded.cell.variant, WiredVariant::Faithful);
    let _ = std::fs::remove_dir_all(dir);
}

/// Trainable parameters as ncps counts them (masks are constants, not parameters): the counts
/// ncps 1.0.1 reports for the benchmark models (`../shared/reference/peer-benchmarks.md`).
#[test]
fn parameter_counts_match_ncps() {
    type B = ltc_testing::NdArrayF32;
    let device = Default::default();
    for (units, want) in [(32, 21_760), (64, 42_368)] {
        let cfc = CfcConfig::from_sizes(8, units).init::<B>(&device).unwrap();
        assert_eq!(cfc.num_params(), want, "CfC(8, {units})");
    }
    // CfC(8, AutoNCP(64, 8)) → WiredCfCCell with layers 34 / 22 / 8.
    let wiring = AutoNcp::new(64, 8).build(8).unwrap();
    let cfc = WiredCfcConfig::from_wiring(wiring)
        .init::<B>(&device)
        .unwrap();
    assert_eq!(cfc.cell.layer_sizes(), vec![34, 22, 8]);
    assert_eq!(cfc.num_params(), 11_856);
}
