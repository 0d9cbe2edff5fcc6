//! The liquid layer against a textbook per-neuron reference, hand-computed values, finite
//! differences and its record round trip.

use burn::module::{AutodiffModule, Module, Param};
use burn::record::{
    DoublePrecisionSettings, FileRecorder, FullPrecisionSettings, NamedMpkFileRecorder,
};
use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::backend::Backend;
use ltc_testing::{assert_close, backend_tests, is_f64, numbers, tensor, test_dir, values};

use crate::liquid::{LiquidCell, LiquidCellConfig, LiquidLayer, LiquidLayerConfig};
use crate::recurrent::{RecurrentConfig, RecurrentState};

/// The layer's parameters as plain f64 vectors, for the textbook reference below.
#[derive(Clone, Debug)]
struct Plain {
    d_input: usize,
    d_hidden: usize,
    w_in: Vec<f64>, // [d_input, d_hidden], row-major
    w_rec: Vec<f64>,
    b: Vec<f64>,
    tau_raw: Vec<f64>,
    tau_min: f64,
}

impl Plain {
    fn to_layer<B: Backend>(&self, device: &B::Device) -> LiquidLayer<B> {
        let cell = LiquidCell {
            w_in: Param::from_tensor(tensor(&self.w_in, [self.d_input, self.d_hidden], device)),
            w_rec: Param::from_tensor(tensor(&self.w_rec, [self.d_hidden], device)),
            b: Param::from_tensor(tensor(&self.b, [self.d_hidden], device)),
            tau_raw: Param::from_tensor(tensor(&self.tau_raw, [self.d_hidden], device)),
            tau_min: self.tau_min,
            timespan: 1.0,
        };
        RecurrentConfig::new().init(cell, device).unwrap()
    }

    /// The textbook formulation, one neuron at a time, in f64.
    /// `x`: [batch][seq][d_input], `h0`: [batch][d_hidden], `dt`: [batch][seq].
    /// Returns (outputs [batch][seq][d_hidden] flattened, final state flattened).
    fn run(
        &self,
        x: &[f64],
        h0: &[f64],
        dt: &[f64],
        batch: usize,
        seq: usize,
    ) -> (Vec<f64>, Vec<f64>) {
        let (ni, nh) = (self.d_input, self.d_hidden);
        let mut outputs = vec![0.0; batch * seq * nh];
        let mut h = h0.to_vec();
        for s in 0..batch {
            for t in 0..seq {
                let mut next = vec![0.0; nh];
                for i in 0..nh {
                    let mut pre = self.b[i] + self.w_rec[i] * h[s * nh + i];
                    for k in 0..ni {
                        pre += x[(s * seq + t) * ni + k] * self.w_in[k * nh + i];
                    }
                    let raw = self.tau_raw[i];
                    let tau = self.tau_min + raw.max(0.0) + (-raw.abs()).exp().ln_1p();
                    let hi = h[s * nh + i];
                    next[i] = hi + dt[s * seq + t] * (-hi + pre.tanh()) / tau;
                }
                h[s * nh..(s + 1) * nh].copy_from_slice(&next);
                outputs[(s * seq + t) * nh..(s * seq + t + 1) * nh].copy_from_slice(&next);
            }
        }
        (outputs, h)
    }
}

fn random_plain(d_input: usize, d_hidden: usize, seed: u64) -> Plain {
    Plain {
        d_input,
        d_hidden,
        w_in: numbers(d_input * d_hidden, seed, -1.0, 1.0),
        w_rec: numbers(d_hidden, seed + 1, -0.8, 0.8),
        b: numbers(d_hidden, seed + 2, -0.3, 0.3),
        tau_raw: numbers(d_hidden, seed + 3, -0.5, 2.0),
        tau_min: 0.05,
    }
}

fn forward_tol<B: Backend>() -> f64 {
    if is_f64::<B>() { 1e-12 } else { 1e-6 }
}

/// d_input = d_hidden = 1, W_in = 0.5, w_rec = 0.25, b = 0.1, τ = 2 (tau_min = 1,
/// tau_raw = ln(e − 1) so softplus(tau_raw) = 1), dt = 0.5, h0 = 0, x = [1, 2]:
///   step 1: pre = 0.5·1 + 0.25·0 + 0.1 = 0.6,  tanh 0.6 = 0.5370495669980353
///           h1 = 0 + 0.5·(0.5370495669980353 − 0)/2 = 0.13426239174950882
///   step 2: pre = 0.5·2 + 0.25·h1 + 0.1 = 1.1335655979373773, tanh = 0.8122360561509402
///           h2 = h1 + 0.5·(0.8122360561509402 − h1)/2 = 0.30375580784986667
fn hand_computed_forward<B: AutodiffBackend>(device: &B::Device) {
    let plain = Plain {
        d_input: 1,
        d_hidden: 1,
        w_in: vec![0.5],
        w_rec: vec![0.25],
        b: vec![0.1],
        tau_raw: vec![(std::f64::consts::E - 1.0).ln()],
        tau_min: 1.0,
    };
    let layer = plain.to_layer::<B>(device);
    let x = tensor::<B, 3>(&[1.0, 2.0], [1, 2, 1], device);
    let dt = tensor::<B, 2>(&[0.5, 0.5], [1, 2], device);
    let (out, state) = layer.forward(x, None, Some(dt));
    let tol = if is_f64::<B>() { 1e-14 } else { 1e-6 };
    assert_close(
        "outputs",
        &values(out),
        &[0.13426239174950882, 0.30375580784986667],
        tol,
        0.0,
    );
    assert_close(
        "state",
        &values(state.hidden),
        &[0.30375580784986667],
        tol,
        0.0,
    );
}

fn matches_per_neuron_reference<B: AutodiffBackend>(device: &B::Device) {
    let (batch, seq, ni, nh) = (3, 7, 2, 5);
    let plain = random_plain(ni, nh, 11);
    let layer = plain.to_layer::<B>(device);
    let x = numbers(batch * seq * ni, 21, -2.0, 2.0);
    let h0 = numbers(batch * nh, 22, -0.5, 0.5);
    let dt = numbers(batch * seq, 23, 0.05, 0.9);
    let (want_out, want_h) = plain.run(&x, &h0, &dt, batch, seq);
    let (out, state) = layer.forward(
        tensor(&x, [batch, seq, ni], device),
        Some(RecurrentState::new(tensor(&h0, [batch, nh], device))),
        Some(tensor(&dt, [batch, seq], device)),
    );
    assert_close("outputs", &values(out), &want_out, forward_tol::<B>(), 0.0);
    assert_close(
        "state",
        &values(state.hidden),
        &want_h,
        forward_tol::<B>(),
        0.0,
    );

    // Without dt the config's constant step is used: same as dt filled with 1.0.
    let ones = vec![1.0; batch * seq];
    let (want_out, _) = plain.run(&x, &h0, &ones, batch, seq);
    let (out, _) = layer.forward(
        tensor(&x, [batch, seq, ni], device),
        Some(RecurrentState::new(tensor(&h0, [batch, nh], device))),
        None,
    );
    assert_close(
        "outputs (dt = None)",
        &values(out),
        &want_out,
        forward_tol::<B>(),
        0.0,
    );
}

/// The gradient of `L = Σ c_out ⊙ outputs + Σ c_h ⊙ h_final` with respect to every
/// parameter and the input, against central differences of the f64 reference.
fn gradients_match_f64_finite_differences<B: AutodiffBackend>(device: &B::Device) {
    let (batch, seq, ni, nh) = (2, 5, 3, 4);
    let plain = random_plain(ni, nh, 31);
    let x = numbers(batch * seq * ni, 41, -1.5, 1.5);
    let h0 = numbers(batch * nh, 42, -0.5, 0.5);
    let dt = numbers(batch * seq, 43, 0.1, 0.8);
    let c_out = numbers(batch * seq * nh, 44, -1.0, 1.0);
    let c_h = numbers(batch * nh, 45, -1.0, 1.0);
    let loss_of = |p: &Plain, x: &[f64]| {
        let (out, h) = p.run(x, &h0, &dt, batch, seq);
        out.iter().zip(&c_out).map(|(a, b)| a * b).sum::<f64>()
            + h.iter().zip(&c_h).map(|(a, b)| a * b).sum::<f64>()
    };

    let layer = plain.to_layer::<B>(device);
    let x_t = tensor::<B, 3>(&x, [batch, seq, ni], device).require_grad();
    let (out, state) = layer.forward(
        x_t.clone(),
        Some(RecurrentState::new(tensor(&h0, [batch, nh], device))),
        Some(tensor(&dt, [batch, seq], device)),
    );
    let loss = (out * tensor::<B, 3>(&c_out, [batch, seq, nh], device)).sum()
        + (state.hidden * tensor::<B, 2>(&c_h, [batch, nh], device)).sum();
    let grads = loss.backward();

    let eps = 1e-6;
    let fd = |perturb: &dyn Fn(&mut Plain, &mut Vec<f64>, f64)| {
        let (mut p_plus, mut x_plus) = (plain.clone(), x.clone());
        perturb(&mut p_plus, &mut x_plus, eps);
        let (mut p_minus, mut x_minus) = (plain.clone(), x.clone());
        perturb(&mut p_minus, &mut x_minus, -eps);
        (loss_of(&p_plus, &x_plus) - loss_of(&p_minus, &x_minus)) / (2.0 * eps)
    };
    let (atol, rtol) = if is_f64::<B>() {
        (1e-8, 1e-7)
    } else {
        (2e-5, 2e-4)
    };

    type Field = fn(&mut Plain) -> &mut Vec<f64>;
    let params: [(&str, Field, Vec<f64>); 4] = [
        (
            "w_in",
            |p| &mut p.w_in,
            values(layer.cell.w_in.grad(&grads).unwrap()),
        ),
        (
            "w_rec",
            |p| &mut p.w_rec,
            values(layer.cell.w_rec.grad(&grads).unwrap()),
        ),
        (
            "b",
            |p| &mut p.b,
            values(layer.cell.b.grad(&grads).unwrap()),
        ),
        (
            "tau_raw",
            |p| &mut p.tau_raw,
            values(layer.cell.tau_raw.grad(&grads).unwrap()),
        ),
    ];
    for (name, field, got) in params {
        let want: Vec<f64> = (0..got.len())
            .map(|i| fd(&|p, _, e| field(p)[i] += e))
            .collect();
        assert_close(name, &got, &want, atol, rtol);
    }
    let got = values(x_t.grad(&grads).unwrap());
    let want: Vec<f64> = (0..x.len()).map(|i| fd(&|_, x, e| x[i] += e)).collect();
    assert_close("x", &got, &want, atol, rtol);
}

/// One Euler step from `h0` moves the state by exactly `dt · f(h0)`: tripling a sample's
/// `dt` triples its move, and each sample of a batch uses its own `dt`.
fn per_sample_dt_follows_formula<B: AutodiffBackend>(device: &B::Device) {
    let (ni, nh) = (2, 3);
    let layer = random_plain(ni, nh, 51).to_layer::<B>(device);
    let x1 = numbers(ni, 52, -1.0, 1.0);
    let h1 = numbers(nh, 53, -0.5, 0.5);
    // The same sample twice in one batch, with dt 0.1 and 0.3.
    let x: Vec<f64> = x1.iter().chain(&x1).copied().collect();
    let h: Vec<f64> = h1.iter().chain(&h1).copied().collect();
    let (out, _) = layer.forward(
        tensor(&x, [2, 1, ni], device),
        Some(RecurrentState::new(tensor(&h, [2, nh], device))),
        Some(tensor(&[0.1, 0.3], [2, 1], device)),
    );
    let out = values(out);
    let moves: Vec<(f64, f64)> = (0..nh)
        .map(|i| (out[i] - h1[i], out[nh + i] - h1[i]))
        .collect();
    let tol = if is_f64::<B>() { 1e-13 } else { 2e-6 };
    for (i, (small, large)) in moves.into_iter().enumerate() {
        assert!(
            small.abs() > 1e-4,
            "neuron {i} does not move: test is vacuous"
        );
        assert!(
            (large - 3.0 * small).abs() <= tol,
            "neuron {i}: {large} vs 3 × {small}"
        );
    }
}

fn step_matches_forward<B: AutodiffBackend>(device: &B::Device) {
    let (batch, seq, ni, nh) = (2, 4, 3, 5);
    let layer = random_plain(ni, nh, 61).to_layer::<B>(device);
    let x = tensor::<B, 3>(
        &numbers(batch * seq * ni, 62, -1.0, 1.0),
        [batch, seq, ni],
        device,
    );
    let dt = tensor::<B, 2>(&numbers(batch * seq, 63, 0.1, 1.0), [batch, seq], device);
    let (out, last) = layer.forward(x.clone(), None, Some(dt.clone()));
    let mut state = None;
    let mut streamed = Vec::new();
    for t in 0..seq {
        let x_t = x.clone().narrow(1, t, 1).reshape([batch, ni]);
        let dt_t = dt.clone().narrow(1, t, 1).reshape([batch]);
        let (y, next) = layer.step(x_t, state, Some(dt_t));
        streamed.push(y);
        state = Some(next);
    }
    let tol = forward_tol::<B>();
    assert_close(
        "outputs",
        &values(Tensor::stack::<3>(streamed, 1)),
        &values(out),
        tol,
        0.0,
    );
    assert_close(
        "state",
        &values(state.unwrap().hidden),
        &values(last.hidden),
        tol,
        0.0,
    );
}

fn tau_stays_positive_whatever_the_optimiser_does<B: AutodiffBackend>(device: &B::Device) {
    let mut plain = random_plain(2, 3, 71);
    plain.tau_raw = vec![-1e4, -80.0, 1e4];
    let layer = plain.to_layer::<B>(device);
    let tau = values(layer.cell.tau());
    assert!(
        tau[0] >= 0.05 && tau[1] >= 0.05,
        "τ fell below tau_min: {tau:?}"
    );
    assert!(
        (tau[2] - (1e4 + 0.05)).abs() < 1.0,
        "large τ is not linear: {tau:?}"
    );
    let x = tensor::<B, 3>(&numbers(2 * 3 * 2, 72, -1.0, 1.0), [2, 3, 2], device);
    let (out, _) = layer.forward(x, None, None);
    assert!(values(out).iter().all(|v| v.is_finite()));
}

fn record_round_trip<B: AutodiffBackend>(device: &B::Device) {
    if is_f64::<B>() {
        round_trip_with::<B, _>(
            device,
            NamedMpkFileRecorder::<DoublePrecisionSettings>::new(),
        );
    } else {
        round_trip_with::<B, _>(device, NamedMpkFileRecorder::<FullPrecisionSettings>::new());
    }
}

/// Saved and loaded into a differently initialised layer, the outputs are bit-identical.
fn round_trip_with<B: AutodiffBackend, R: FileRecorder<B>>(device: &B::Device, recorder: R) {
    let config = LiquidLayerConfig::from_sizes(3, 6);
    let layer = config.init::<B>(device).unwrap();
    let path = test_dir::<B>("liquid-record").join("layer");
    layer.clone().save_file(path.clone(), &recorder).unwrap();
    let fresh = config.init::<B>(device).unwrap();
    assert_ne!(
        values(fresh.cell.w_in.val()),
        values(layer.cell.w_in.val()),
        "vacuous: same weights"
    );
    let loaded = fresh.load_file(path, &recorder, device).unwrap();
    let x = tensor::<B, 3>(&numbers(2 * 5 * 3, 81, -1.0, 1.0), [2, 5, 3], device);
    let (a, _) = layer.valid().forward(x.clone().inner(), None, None);
    let (b, _) = loaded.valid().forward(x.inner(), None, None);
    assert_eq!(values(a), values(b), "loaded layer differs");
}

fn init_follows_config<B: AutodiffBackend>(device: &B::Device) {
    let config = LiquidLayerConfig::new(
        LiquidCellConfig::new(4, 64)
            .with_tau_init_min(2.0)
            .with_tau_init_max(3.0)
            .with_recurrent_init_range(0.1)
            .with_bias_init_range(0.25),
    );
    let layer = config.init::<B>(device).unwrap();
    assert_eq!(layer.num_params(), 4 * 64 + 3 * 64);
    let tau = values(layer.cell.tau());
    assert!(
        tau.iter().all(|t| (2.0 - 1e-5..=3.0 + 1e-5).contains(t)),
        "{tau:?}"
    );
    assert!(
        values(layer.cell.w_rec.val())
            .iter()
            .all(|w| w.abs() <= 0.1 + 1e-7)
    );
    let b = values(layer.cell.b.val());
    assert!(b.iter().all(|b| b.abs() <= 0.25 + 1e-7), "{b:?}");
    assert!(b.iter().any(|b| b.abs() > 0.05), "bias not drawn: {b:?}");
    let display = format!("{layer}");
    assert!(display.contains("LiquidCell"), "{display}");
}

fn rejects_wrong_input_width<B: AutodiffBackend>(device: &B::Device) {
    let layer = random_plain(3, 4, 1).to_layer::<B>(device);
    let _ = layer.forward(Tensor::zeros([2, 5, 2], device), None, None);
}

fn rejects_wrong_state_width<B: AutodiffBackend>(device: &B::Device) {
    let layer = random_plain(3, 4, 1).to_layer::<B>(device);
    let h = Tensor::zeros([2, 5], device);
    let _ = layer.forward(
        Tensor::zeros([2, 5, 3], device),
        Some(RecurrentState::new(h)),
        None,
    );
}

fn rejects_wrong_dt_shape<B: AutodiffBackend>(device: &B::Device) {
    let layer = random_plain(3, 4, 1).to_layer::<B>(device);
    let dt = Tensor::ones([2, 4], device);
    let _ = layer.forward(Tensor::zeros([2, 5, 3], device), None, Some(dt));
}

fn rejects_wrong_step_width<B: AutodiffBackend>(device: &B::Device) {
    let layer = random_plain(3, 4, 1).to_layer::<B>(device);
    let _ = layer.step(Tensor::zeros([2, 7], device), None, None);
}

backend_tests! {
    hand_computed_forward,
    matches_per_neuron_reference,
    gradients_match_f64_finite_differences,
    per_sample_dt_follows_formula,
    step_matches_forward,
    tau_stays_positive_whatever_the_optimiser_does,
    record_round_trip,
    init_follows_config,
    #[should_panic(expected = "LiquidLayer::forward: x must have shape [batch, seq, d_input=3], got [2, 5, 2]")]
    rejects_wrong_input_width,
    #[should_panic(expected = "LiquidLayer::forward: state.hidden must have shape [batch=2, d_hidden=4], got [2, 5]")]
    rejects_wrong_state_width,
    #[should_panic(expected = "LiquidLayer::forward: timespans must have shape [batch=2, seq=5], got [2, 4]")]
    rejects_wrong_dt_shape,
    #[should_panic(expected = "LiquidLayer::step: x must have shape [batch, d_input=3], got [2, 7]")]
    rejects_wrong_step_width,
}

#[test]
fn config_errors_name_field_value_and_fix() {
    let err = |c: LiquidCellConfig| c.validate().unwrap_err().to_string();
    assert_eq!(
        err(LiquidCellConfig::new(0, 4)),
        "LiquidCellConfig.d_input = 0: must be at least 1"
    );
    assert_eq!(
        err(LiquidCellConfig::new(2, 4).with_timespan(-0.5)),
        "LiquidCellConfig.timespan = -0.5: must be a finite number > 0"
    );
    assert_eq!(
        err(LiquidCellConfig::new(2, 4).with_tau_min(f64::NAN)),
        "LiquidCellConfig.tau_min = NaN: must be a finite number > 0"
    );
    assert!(err(LiquidCellConfig::new(2, 4).with_tau_init_min(0.001)).contains("above tau_min"));
    assert!(err(LiquidCellConfig::new(2, 4).with_tau_init_max(0.5)).contains("tau_init_max = 0.5"));
    let device = Default::default();
    assert!(
        LiquidLayerConfig::from_sizes(2, 0)
            .init::<burn::backend::NdArray>(&device)
            .is_err()
    );
}
