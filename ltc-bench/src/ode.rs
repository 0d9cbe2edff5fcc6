//! The Neural ODE row of `cargo xtask bench`: Dopri5 on an MLP vector field on `y³` (the
//! architecture of torchdiffeq's `ode_demo`), next to torchdiffeq's dopri5 on the same field,
//! weights, batch and tolerances (`tools/bench_torchdiffeq.py`).

use std::time::Instant;

use burn::backend::{Autodiff, NdArray};
use burn::module::{AutodiffModule, Module, Param};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use ltc_burn::kernel::on_compute_pool;
use ltc_burn::ode::{SaveAt, SolveOptions, VectorField, solve, solve_adjoint};
use serde_json::{Value, json};

use crate::measure::median;

/// Starting points solved together.
pub const BATCH: usize = 16;
/// The field's hidden width.
pub const HIDDEN: usize = 50;
/// Save times on `[0, T_END]`.
pub const POINTS: usize = 50;
/// The end of the time span.
pub const T_END: f64 = 5.0;
/// Relative tolerance (float32 can meet it; see `tools/bench_torchdiffeq.py`).
pub const RTOL: f64 = 1e-5;
/// Absolute tolerance.
pub const ATOL: f64 = 1e-7;

/// `tanh(y³·W1 + b1)·W2`, weights from the formulas the Python side uses; `tanh` is
/// `ltc_burn::activation::tanh` (the kernel layer's vectorised f32 `tanh` on ndarray), as in
/// `ltc_burn::ode::MlpField`.
#[derive(Module, Debug)]
pub struct Field<B: Backend> {
    /// `[2, HIDDEN]`.
    pub w1: Param<Tensor<B, 2>>,
    /// `[HIDDEN]`.
    pub b1: Param<Tensor<B, 1>>,
    /// `[HIDDEN, 2]`.
    pub w2: Param<Tensor<B, 2>>,
}

impl<B: Backend> Field<B> {
    /// The field with the formula weights, on `device`.
    pub fn new(device: &B::Device) -> Self {
        let w1: Vec<f32> = (0..2)
            .flat_map(|i| {
                (0..HIDDEN).map(move |j| 0.5 * (1.0 + 3.0 * i as f64 + 7.0 * j as f64).sin())
            })
            .map(|v| v as f32)
            .collect();
        let b1: Vec<f32> = (0..HIDDEN)
            .map(|j| (0.1 * (j as f64).cos()) as f32)
            .collect();
        let w2: Vec<f32> = (0..HIDDEN)
            .flat_map(|j| (0..2).map(move |k| 0.1 * (2.0 + 5.0 * j as f64 + 11.0 * k as f64).cos()))
            .map(|v| v as f32)
            .collect();
        Field {
            w1: Param::from_tensor(Tensor::from_data(TensorData::new(w1, [2, HIDDEN]), device)),
            b1: Param::from_tensor(Tensor::from_data(TensorData::new(b1, [HIDDEN]), device)),
            w2: Param::from_tensor(Tensor::from_data(TensorData::new(w2, [HIDDEN, 2]), device)),
        }
    }
}

impl<B: Backend> VectorField<B, 2> for Field<B> {
    fn eval(&self, _t: f64, y: Tensor<B, 2>) -> Tensor<B, 2> {
        let h = y.powi_scalar(3).matmul(self.w1.val()) + self.b1.val().unsqueeze::<2>();
        ltc_burn::activation::tanh(h).matmul(self.w2.val())
    }
}

/// The [`BATCH`] starting points, `[BATCH, 2]`, on a spiral.
pub fn starts<B: Backend>(device: &B::Device) -> Tensor<B, 2> {
    let v: Vec<f32> = (0..BATCH)
        .flat_map(|b| {
            let r = 0.5 + b as f64 / 32.0;
            let a = 2.0 * std::f64::consts::PI * b as f64 / BATCH as f64;
            [(2.0 * r * a.cos()) as f32, (2.0 * r * a.sin()) as f32]
        })
        .collect();
    Tensor::from_data(TensorData::new(v, [BATCH, 2]), device)
}

/// The solver options: Dopri5 (the default) at [`RTOL`], [`ATOL`], saving at [`POINTS`]
/// equally spaced times.
pub fn options() -> SolveOptions {
    let times: Vec<f64> = (0..POINTS)
        .map(|i| T_END * i as f64 / (POINTS - 1) as f64)
        .collect();
    SolveOptions::new()
        .with_rtol(RTOL)
        .with_atol(ATOL)
        .with_save_at(SaveAt::Times(times))
}

/// `Σ` of the squares of every saved state: the loss both sides differentiate.
pub fn loss<B: Backend>(ys: &[Tensor<B, 2>]) -> Tensor<B, 1> {
    ys.iter()
        .map(|y| y.clone().powi_scalar(2).sum())
        .reduce(|a, b| a + b)
        .expect("saved states")
}

/// Our measurements (`iters` of each, after one untimed), as the JSON the Python side
/// prints.
pub fn measure(iters: usize) -> Value {
    type B = Autodiff<NdArray<f32>>;
    let device = Default::default();
    let field = Field::<B>::new(&device);
    let options = options();
    let inner = field.valid();
    let (mut fwd, mut nfe_forward) = (Vec::new(), 0);
    for _ in 0..=iters {
        let start = Instant::now();
        let sol = solve(&inner, starts(&device), 0.0, T_END, &options).expect("solves");
        let _ = sol.last().into_data();
        fwd.push(start.elapsed().as_secs_f64() * 1e3);
        nfe_forward = sol.stats.nfe;
    }
    let mut backprop = Vec::new();
    for _ in 0..=iters {
        let start = Instant::now();
        // The training step on the compute pool, as the recurrent rows' (the backward too).
        on_compute_pool::<B, _>(|| {
            let sol = solve(&field, starts(&device), 0.0, T_END, &options).expect("solves");
            let grads = loss(&sol.ys).backward();
            let _ = field.w1.val().grad(&grads).map(|g| g.into_data());
        });
        backprop.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let (mut adjoint, mut nfe_adjoint_backward) = (Vec::new(), 0);
    for _ in 0..=iters {
        let start = Instant::now();
        nfe_adjoint_backward = on_compute_pool::<B, _>(|| {
            let forward =
                solve_adjoint(&field, starts(&device), 0.0, T_END, &options).expect("solves");
            let loss = loss(&forward.solution.ys);
            let sweep = forward.backward(&loss.backward()).expect("adjoint solves");
            let _ = sweep.y0.into_data();
            sweep.stats.nfe
        });
        adjoint.push(start.elapsed().as_secs_f64() * 1e3);
    }
    json!({
        "nfe_forward": nfe_forward,
        "fwd_ms": median(fwd[1..].to_vec()),
        "backprop_ms": median(backprop[1..].to_vec()),
        "adjoint_ms": median(adjoint[1..].to_vec()),
        "nfe_adjoint_backward": nfe_adjoint_backward,
    })
}

/// Prints the row: ours, torchdiffeq's (when `peer` is given), and the ratios.
pub fn print(ours: &Value, peer: Option<&Value>) {
    let f = |v: &Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    println!(
        "\nNeural ODE: Dopri5 (rtol {RTOL:e}, atol {ATOL:e}, f32) on an MLP field on y³ \
         (2 → {HIDDEN} → 2), batch {BATCH}, {POINTS} save times on [0, {T_END}], 1 thread{}",
        if peer.is_some() {
            ""
        } else {
            " (torchdiffeq not run: no peer with torchdiffeq)"
        }
    );
    println!(
        "{:<34} | {:>10} {:>12} {:>8}",
        "measure", "ltc-burn", "torchdiffeq", "ratio"
    );
    for (key, label, is_time) in [
        ("nfe_forward", "forward function evaluations", false),
        ("fwd_ms", "forward, no grad (ms)", true),
        ("backprop_ms", "forward + backprop (ms)", true),
        ("adjoint_ms", "forward + adjoint (ms)", true),
        (
            "nfe_adjoint_backward",
            "adjoint backward evaluations",
            false,
        ),
    ] {
        let (o, p) = (f(ours, key), peer.map_or(f64::NAN, |p| f(p, key)));
        let ratio = if is_time { p / o } else { o / p };
        println!(
            "{label:<34} | {o:>10.1} {:>12} {:>7}{}",
            if p.is_nan() {
                "-".into()
            } else {
                format!("{p:.1}")
            },
            if ratio.is_nan() {
                "-".into()
            } else {
                format!("{ratio:.2}")
            },
            if ratio.is_nan() {
                ""
            } else if is_time {
                "× faster"
            } else {
                " ours/theirs"
            }
        );
    }
}
