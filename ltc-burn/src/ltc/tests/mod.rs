//! LTC tests on every backend. Golden parity with ncps lives in `ltc-parity`; these pin the
//! semantics by hand-computed numbers and invariants.

use burn::module::{Module, Param};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::record::{DoublePrecisionSettings, NamedMpkFileRecorder};
use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;
use ltc_testing::{assert_close, backend_tests, is_f64, numbers, tensor, test_dir, values};
use ltc_wirings::{AutoNcp, FullyConnected};

use super::*;
use crate::ConfigError;
use crate::recurrent::{RecurrentCell, RecurrentState};

mod fused;

fn tol<B: AutodiffBackend>() -> f64 {
    if is_f64::<B>() { 1e-12 } else { 1e-5 }
}

fn set1<B: AutodiffBackend>(v: &[f64], device: &B::Device) -> Param<Tensor<B, 1>> {
    Param::from_tensor(tensor(v, [v.len()], device))
}

fn set2<B: AutodiffBackend>(v: &[f64], rows: usize, device: &B::Device) -> Param<Tensor<B, 2>> {
    Param::from_tensor(tensor(v, [rows, v.len() / rows], device))
}

/// Two neurons, one input, one sub-step, identity mappings, worked out by hand:
///
/// gleak = 1, vleak = 0, cm = 1 (so cm_t = cm / (Δt/K) = 1), ε = 1e-30 (negligible), v = [0.5, −0.5].
/// Only synapse 0 → 1 conducts: w₀₁ = 2, sigma₀₁ = 2, mu₀₁ = 0.25, erev₀₁ = 1, so
/// a₀₁ = 2·σ(2·(0.5 − 0.25)) = 2·σ(0.5). Only sensory synapse → neuron 0 conducts:
/// sensory_w = 1, sensory_sigma = 0 (σ = ½ whatever x), sensory_erev = 1: num_s = den_s = ½.
///
/// v₀' = (1·0.5 + 0 + 0 + ½) / (1 + 1 + 0 + ½) = 0.4
/// v₁' = (1·(−0.5) + 0 + a₀₁·1 + 0) / (1 + 1 + a₀₁ + 0)
fn semi_implicit_update_by_hand<B: AutodiffBackend>(device: &B::Device) {
    let wiring = FullyConnected::new(2).build(1).unwrap();
    let mut cell = LtcCellConfig::new(wiring)
        .with_input_mapping(Mapping::Identity)
        .with_output_mapping(Mapping::Identity)
        .with_ode_unfolds(1)
        .with_epsilon(MIN_EPSILON)
        .with_positivity(Positivity::Clip)
        .init::<B>(device)
        .unwrap();
    cell.gleak = PositiveParam::new(set1(&[1.0, 1.0], device), Positivity::Clip);
    cell.vleak = set1(&[0.0, 0.0], device);
    cell.cm = PositiveParam::new(set1(&[1.0, 1.0], device), Positivity::Clip);
    cell.w = PositiveParam::new(set2(&[0.0, 2.0, 0.0, 0.0], 2, device), Positivity::Clip);
    cell.sigma = set2(&[0.0, 2.0, 0.0, 0.0], 2, device);
    cell.mu = set2(&[0.0, 0.25, 0.0, 0.0], 2, device);
    cell.erev = set2(&[0.0, 1.0, 0.0, 0.0], 2, device);
    cell.sensory_w = PositiveParam::new(set2(&[1.0, 0.0], 1, device), Positivity::Clip);
    cell.sensory_sigma = set2(&[0.0, 0.0], 1, device);
    cell.sensory_mu = set2(&[0.0, 0.0], 1, device);
    cell.sensory_erev = set2(&[1.0, 1.0], 1, device);

    let x = tensor::<B, 2>(&[3.0], [1, 1], device);
    let v = tensor::<B, 2>(&[0.5, -0.5], [1, 2], device);
    let (y, v) = cell.forward(x, v, None);
    let a01 = 2.0 / (1.0 + (-0.5f64).exp());
    let want = [0.4, (-0.5 + a01) / (2.0 + a01)];
    assert_close("v'", &values(v), &want, tol::<B>(), 0.0);
    assert_close(
        "y (identity map, 2 motor)",
        &values(y),
        &want,
        tol::<B>(),
        0.0,
    );
}

/// Δt enters only through cm_t = cm·K/Δt: one step of Δt = 2 with K = 2 sub-steps equals the
/// cell with cm halved, Δt = 1, K = 2 (same cm_t).
fn elapsed_time_enters_through_cm_t<B: AutodiffBackend>(device: &B::Device) {
    let wiring = AutoNcp::new(8, 2).build(3).unwrap();
    ltc_testing::seed::<B>(device, 7);
    let cell = LtcCellConfig::new(wiring)
        .with_ode_unfolds(2)
        .with_positivity(Positivity::Clip)
        .init::<B>(device)
        .unwrap();
    let mut halved = cell.clone();
    halved.cm = PositiveParam::new(
        Param::from_tensor(tensor(
            &values(cell.cm.val())
                .iter()
                .map(|c| c / 2.0)
                .collect::<Vec<_>>(),
            [8],
            device,
        )),
        Positivity::Clip,
    );
    let x = tensor::<B, 2>(&numbers(6, 1, -1.0, 1.0), [2, 3], device);
    let v = tensor::<B, 2>(&numbers(16, 2, -0.5, 0.5), [2, 8], device);
    let dt = tensor::<B, 1>(&[2.0, 2.0], [2], device);
    let (_, a) = cell.forward(x.clone(), v.clone(), Some(dt));
    let (_, b) = halved.forward(x, v, None);
    assert_close(
        "Δt = 2 vs cm / 2",
        &values(a),
        &values(b),
        tol::<B>(),
        tol::<B>(),
    );
}

fn ncp_ltc<B: AutodiffBackend>(device: &B::Device, mixed: bool, seed: u64) -> Ltc<B> {
    ltc_testing::seed::<B>(device, seed);
    let wiring = AutoNcp::new(12, 3).build(4).unwrap();
    LtcConfig::from_wiring(wiring)
        .with_mixed_memory(mixed)
        .init::<B>(device)
        .unwrap()
}

/// Masked synapses (absent from the wiring) still have entries in w, sigma, mu and erev; their
/// gradient is exactly zero, and the present ones do learn.
fn masked_synapses_get_zero_gradient<B: AutodiffBackend>(device: &B::Device) {
    let ltc = ncp_ltc::<B>(device, false, 3);
    let x = tensor::<B, 3>(&numbers(2 * 5 * 4, 4, -1.0, 1.0), [2, 5, 4], device);
    let (y, _) = ltc.forward(x, None, None);
    let grads = y.powi_scalar(2).sum().backward();
    let mask = values(ltc.cell.sparsity_mask.clone());
    let sensory_mask = values(ltc.cell.sensory_sparsity_mask.clone());
    let cell = &ltc.cell;
    let recurrent = [
        ("w", cell.w.grad(&grads)),
        ("sigma", cell.sigma.grad(&grads)),
        ("mu", cell.mu.grad(&grads)),
        ("erev", cell.erev.grad(&grads)),
    ];
    let sensory = [
        ("sensory_w", cell.sensory_w.grad(&grads)),
        ("sensory_sigma", cell.sensory_sigma.grad(&grads)),
        ("sensory_mu", cell.sensory_mu.grad(&grads)),
        ("sensory_erev", cell.sensory_erev.grad(&grads)),
    ];
    for (groups, mask) in [(recurrent, &mask), (sensory, &sensory_mask)] {
        for (name, grad) in groups {
            let grad = values(grad.unwrap());
            let mut learning = 0;
            for (g, m) in grad.iter().zip(mask.iter()) {
                if *m == 0.0 {
                    assert_eq!(*g, 0.0, "{name}: a masked synapse has gradient {g}");
                } else if *g != 0.0 {
                    learning += 1;
                }
            }
            assert!(learning > 0, "{name}: no synapse learns");
        }
    }
}

/// Per-sample elapsed times `[batch, seq]` are honoured for any batch size: the batched run
/// equals one run per sample, with batch ≠ units (3 vs 12) and batch = units (12).
fn timespans_are_per_sample<B: AutodiffBackend>(device: &B::Device) {
    let ltc = ncp_ltc::<B>(device, false, 5);
    for batch in [3, 12] {
        let seq = 4;
        let x = tensor::<B, 3>(
            &numbers(batch * seq * 4, 6, -1.0, 1.0),
            [batch, seq, 4],
            device,
        );
        let ts = tensor::<B, 2>(&numbers(batch * seq, 7, 0.2, 2.0), [batch, seq], device);
        let (y, state) = ltc.forward(x.clone(), None, Some(ts.clone()));
        let y = values(y);
        let v = values(state.hidden);
        let (o, n) = (ltc.d_output(), ltc.d_hidden());
        for b in 0..batch {
            let xb = x.clone().narrow(0, b, 1);
            let tb = ts.clone().narrow(0, b, 1);
            let (yb, sb) = ltc.forward(xb, None, Some(tb));
            let range = b * seq * o..(b + 1) * seq * o;
            assert_close(
                &format!("batch {batch}, sample {b}"),
                &y[range],
                &values(yb),
                tol::<B>(),
                tol::<B>(),
            );
            assert_close(
                "final state",
                &v[b * n..(b + 1) * n],
                &values(sb.hidden),
                tol::<B>(),
                tol::<B>(),
            );
        }
        // And the timespans matter: Δt = 1 everywhere gives other outputs.
        let (y1, _) = ltc.forward(x, None, None);
        let diff: f64 = values(y1).iter().zip(&y).map(|(a, b)| (a - b).abs()).sum();
        assert!(diff > 1e-3, "timespans had no effect");
    }
}

/// `step` over a sequence equals `forward` (with mixed memory and timespans), and
/// `forward_last` equals the last step of `forward`.
fn step_equals_forward<B: AutodiffBackend>(device: &B::Device) {
    let ltc = ncp_ltc::<B>(device, true, 8);
    let (batch, seq) = (2, 5);
    let x = tensor::<B, 3>(
        &numbers(batch * seq * 4, 9, -1.0, 1.0),
        [batch, seq, 4],
        device,
    );
    let ts = tensor::<B, 2>(&numbers(batch * seq, 10, 0.5, 1.5), [batch, seq], device);
    let (y, state) = ltc.forward(x.clone(), None, Some(ts.clone()));
    let mut s = None;
    let mut steps = Vec::new();
    for t in 0..seq {
        let x_t = x.clone().narrow(1, t, 1).reshape([batch, 4]);
        let dt = ts.clone().narrow(1, t, 1).reshape([batch]);
        let (y_t, next) = ltc.step(x_t, s, Some(dt));
        steps.push(y_t);
        s = Some(next);
    }
    let stepped = Tensor::stack::<3>(steps, 1);
    let s = s.unwrap();
    assert_close(
        "outputs",
        &values(stepped),
        &values(y.clone()),
        tol::<B>(),
        tol::<B>(),
    );
    assert_close(
        "v",
        &values(s.hidden),
        &values(state.hidden.clone()),
        tol::<B>(),
        tol::<B>(),
    );
    assert_close(
        "c",
        &values(s.memory.unwrap()),
        &values(state.memory.clone().unwrap()),
        tol::<B>(),
        tol::<B>(),
    );

    let (last, last_state) = ltc.forward_last(x, None, Some(ts));
    let o = ltc.d_output();
    assert_close(
        "forward_last",
        &values(last),
        &values(y.narrow(1, seq - 1, 1).reshape([batch, o])),
        tol::<B>(),
        tol::<B>(),
    );
    assert_close(
        "forward_last state",
        &values(last_state.hidden),
        &values(state.hidden),
        tol::<B>(),
        tol::<B>(),
    );
}

/// Sequence-first layout gives the transposed results of batch-first.
fn sequence_first_is_the_transpose<B: AutodiffBackend>(device: &B::Device) {
    let batch_first = ncp_ltc::<B>(device, false, 11);
    let seq_first = Ltc {
        batch_first: false,
        ..batch_first.clone()
    };
    let x = tensor::<B, 3>(&numbers(2 * 3 * 4, 12, -1.0, 1.0), [2, 3, 4], device);
    let ts = tensor::<B, 2>(&numbers(6, 13, 0.5, 1.5), [2, 3], device);
    let (a, sa) = batch_first.forward(x.clone(), None, Some(ts.clone()));
    let (b, sb) = seq_first.forward(x.swap_dims(0, 1), None, Some(ts.swap_dims(0, 1)));
    assert_close(
        "outputs",
        &values(b.swap_dims(0, 1)),
        &values(a),
        tol::<B>(),
        tol::<B>(),
    );
    assert_close(
        "state",
        &values(sb.hidden),
        &values(sa.hidden),
        tol::<B>(),
        tol::<B>(),
    );
}

/// Clip mode: after an optimiser step that drives conductances negative, they are clipped to
/// exactly zero without any call; softplus mode leaves the raw values alone.
fn clip_mode_clips_after_every_optimizer_step<B: AutodiffBackend>(device: &B::Device) {
    for positivity in [
        Positivity::Clip,
        Positivity::Softplus,
        Positivity::Unconstrained,
    ] {
        ltc_testing::seed::<B>(device, 14);
        let wiring = FullyConnected::new(6).build(2).unwrap();
        let ltc = LtcConfig::new(LtcCellConfig::new(wiring).with_positivity(positivity))
            .init::<B>(device)
            .unwrap();
        let x = tensor::<B, 3>(&numbers(2 * 3 * 2, 15, -1.0, 1.0), [2, 3, 2], device);
        // Gradient of sum(w) + ... through the outputs is irrelevant: push w, sensory_w, cm
        // and gleak down hard with a loss that grows with them.
        let (y, _) = ltc.forward(x, None, None);
        let cell = &ltc.cell;
        let loss = y.sum().mul_scalar(0.0)
            + cell.w.val().sum()
            + cell.sensory_w.val().sum()
            + cell.cm.val().sum()
            + cell.gleak.val().sum();
        let grads = GradientsParams::from_grads(loss.backward(), &ltc);
        let mut optim = AdamConfig::new().init::<B, Ltc<B>>();
        let ltc = optim.step(5.0, ltc, grads); // every raw value drops by about 5
        let cell = &ltc.cell;
        for (name, raw) in [
            ("w", values(cell.w.val())),
            ("sensory_w", values(cell.sensory_w.val())),
            ("cm", values(cell.cm.val())),
            ("gleak", values(cell.gleak.val())),
        ] {
            match positivity {
                Positivity::Clip => assert!(raw.iter().all(|&v| v == 0.0), "{name}: {raw:?}"),
                Positivity::Softplus | Positivity::Unconstrained => {
                    assert!(raw.iter().all(|&v| v < -3.0), "{name}: {raw:?}")
                }
            }
        }
        // The clipped parameters still train: they are leaves with their ids.
        let x = tensor::<B, 3>(&numbers(6, 16, -1.0, 1.0), [1, 3, 2], device);
        let grads = ltc.forward(x, None, None).0.sum().backward();
        assert!(ltc.cell.w.grad(&grads).is_some());
    }
}

/// Saved and loaded into a differently initialised layer, the outputs are the same; the masks
/// come from the config's wiring, not from the record.
fn record_round_trip<B: AutodiffBackend>(device: &B::Device) {
    let ltc = ncp_ltc::<B>(device, true, 17);
    let dir = test_dir::<B>("ltc_record_round_trip");
    let recorder = NamedMpkFileRecorder::<DoublePrecisionSettings>::new();
    ltc.clone()
        .save_file(dir.join("ltc"), &recorder)
        .expect("save");
    let fresh = ncp_ltc::<B>(device, true, 18);
    let x = tensor::<B, 3>(&numbers(2 * 4 * 4, 19, -1.0, 1.0), [2, 4, 4], device);
    let before = values(fresh.forward(x.clone(), None, None).0);
    let loaded = fresh
        .load_file(dir.join("ltc"), &recorder, device)
        .expect("load");
    let want = values(ltc.forward(x.clone(), None, None).0);
    let got = values(loaded.forward(x, None, None).0);
    assert_eq!(got, want);
    assert_ne!(before, want, "the fresh layer differed before loading");
}

/// Trainable parameters as ncps counts them (masks are constants, not parameters).
fn parameter_count_matches_ncps<B: AutodiffBackend>(device: &B::Device) {
    // ncps LTC(8, 32) on FullyConnected(32): 5,296 trainable parameters (peer-benchmarks.md).
    let wiring = FullyConnected::new(32).build(8).unwrap();
    let ltc = LtcConfig::from_wiring(wiring).init::<B>(device).unwrap();
    assert_eq!(ltc.num_params(), 5296);
    let display = format!("{ltc}");
    assert!(display.contains("gleak"), "{display}");
    // Synapse counts come from the masks: the wiring's own, sensory counted separately.
    let wiring = AutoNcp::new(12, 3).build(4).unwrap();
    let cell = LtcCellConfig::new(wiring.clone())
        .init::<B>(device)
        .unwrap();
    assert_eq!(cell.synapse_count(), wiring.synapse_count());
    assert_eq!(cell.sensory_synapse_count(), wiring.sensory_synapse_count());
    assert_ne!(wiring.synapse_count(), wiring.sensory_synapse_count());
}

fn rejects_wrong_input_width<B: AutodiffBackend>(device: &B::Device) {
    let ltc = ncp_ltc::<B>(device, false, 1);
    let x = Tensor::<B, 3>::zeros([2, 3, 5], device);
    let _ = ltc.forward(x, None, None);
}

fn rejects_wrong_timespans<B: AutodiffBackend>(device: &B::Device) {
    let ltc = ncp_ltc::<B>(device, false, 1);
    let x = Tensor::<B, 3>::zeros([2, 3, 4], device);
    let ts = Tensor::<B, 2>::ones([3, 2], device);
    let _ = ltc.forward(x, None, Some(ts));
}

fn rejects_wrong_state<B: AutodiffBackend>(device: &B::Device) {
    let ltc = ncp_ltc::<B>(device, false, 1);
    let x = Tensor::<B, 2>::zeros([2, 4], device);
    let state = RecurrentState::new(Tensor::zeros([2, 7], device));
    let _ = ltc.step(x, Some(state), None);
}

fn rejects_state_without_memory_cell<B: AutodiffBackend>(device: &B::Device) {
    let ltc = ncp_ltc::<B>(device, true, 1);
    let x = Tensor::<B, 3>::zeros([2, 3, 4], device);
    let state = RecurrentState::new(Tensor::zeros([2, 12], device));
    let _ = ltc.forward(x, Some(state), None);
}

backend_tests! {
    semi_implicit_update_by_hand,
    elapsed_time_enters_through_cm_t,
    masked_synapses_get_zero_gradient,
    timespans_are_per_sample,
    step_equals_forward,
    sequence_first_is_the_transpose,
    clip_mode_clips_after_every_optimizer_step,
    record_round_trip,
    parameter_count_matches_ncps,
    #[should_panic(expected = "Ltc::forward: x must have shape [batch, seq, d_input=4], got [2, 3, 5]")]
    rejects_wrong_input_width,
    #[should_panic(expected = "Ltc::forward: timespans must have shape [batch=2, seq=3], got [3, 2]")]
    rejects_wrong_timespans,
    #[should_panic(expected = "Ltc::step: state.hidden must have shape [batch=2, d_hidden=12], got [2, 7]")]
    rejects_wrong_state,
    #[should_panic(expected = "this layer has mixed memory, so state.memory must be a [batch, d_hidden] tensor, got None")]
    rejects_state_without_memory_cell,
}

#[test]
fn bad_configs_name_the_field_and_the_fix() {
    let wiring = FullyConnected::new(4).build(2).unwrap();
    let config = LtcCellConfig::new(wiring);
    let err = config.clone().with_ode_unfolds(0).validate().unwrap_err();
    assert_eq!(
        err.to_string(),
        "LtcCellConfig.ode_unfolds = 0: must be at least 1"
    );
    let err = config.clone().with_epsilon(-1e-8).validate().unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::OutOfRange {
                field: "epsilon",
                ..
            }
        ),
        "{err}"
    );
    let err = config
        .clone()
        .with_cm_init([0.6, 0.4])
        .validate()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "LtcCellConfig: cm_init = [0.6, 0.4]: the low end must not exceed the high end"
    );
    let err = config
        .with_sigma_init([f64::NAN, 8.0])
        .validate()
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::OutOfRange {
                field: "sigma_init",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn config_round_trips_through_json_with_its_wiring() {
    use burn::config::Config;
    let wiring = AutoNcp::new(10, 2).build(3).unwrap();
    let config = LtcConfig::from_wiring(wiring.clone()).with_mixed_memory(true);
    let dir = std::env::temp_dir().join(format!("ltc-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ltc.json");
    config.save(&path).unwrap();
    let loaded = LtcConfig::load(&path).unwrap();
    assert_eq!(loaded.cell.wiring, wiring);
    assert!(loaded.mixed_memory);
    assert_eq!(loaded.cell.positivity, Positivity::Softplus);
    let _ = std::fs::remove_dir_all(dir);
}
