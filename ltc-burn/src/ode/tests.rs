//! Solver tests as numerical analysts write them: fitted convergence orders against the exact
//! matrix exponential, torchdiffeq's test problems, dense output, reverse time, finite-difference
//! gradients, adjoint against direct back-propagation, and every error path.
//!
//! The numerical ones run in f64 (`f64_tests!`); every backend runs the smoke tests
//! (`backend_tests!`).

use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};
use ltc_testing::{assert_close, backend_tests, f64_tests, is_f64, numbers, tensor, values};

use super::*;
use crate::ConfigError;
use crate::recurrent::RecurrentCell;

// ---------------------------------------------------------------------------------------------
// Helpers

/// Standard normal numbers (Box–Muller over the LCG of `numbers`).
fn randn(n: usize, seed: u64) -> Vec<f64> {
    let u = numbers(2 * n, seed, 1e-12, 1.0);
    (0..n)
        .map(|i| (-2.0 * u[2 * i].ln()).sqrt() * (2.0 * core::f64::consts::PI * u[2 * i + 1]).cos())
        .collect()
}

/// `m · v` for a row-major `n × n` matrix.
fn matvec(m: &[f64], v: &[f64]) -> Vec<f64> {
    let n = v.len();
    (0..n)
        .map(|i| (0..n).map(|j| m[i * n + j] * v[j]).sum())
        .collect()
}

fn matmul(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for k in 0..n {
            for j in 0..n {
                out[i * n + j] += a[i * n + k] * b[k * n + j];
            }
        }
    }
    out
}

/// `exp(m)` by scaling and squaring with a 24-term Taylor series (f64-exact for the norms used
/// here).
fn expm(m: &[f64], n: usize) -> Vec<f64> {
    let norm: f64 = (0..n)
        .map(|j| (0..n).map(|i| m[i * n + j].abs()).sum::<f64>())
        .fold(0.0, f64::max);
    let s = (norm / 0.25).log2().ceil().max(0.0) as i32;
    let scaled: Vec<f64> = m.iter().map(|x| x / 2f64.powi(s)).collect();
    let mut result: Vec<f64> = (0..n * n)
        .map(|k| f64::from(u8::from(k % (n + 1) == 0)))
        .collect();
    let mut term = result.clone();
    for k in 1..24 {
        term = matmul(&term, &scaled, n)
            .iter()
            .map(|x| x / k as f64)
            .collect();
        result = result.iter().zip(&term).map(|(r, t)| r + t).collect();
    }
    for _ in 0..s {
        result = matmul(&result, &result, n);
    }
    result
}

/// `y' = y·Aᵀ` on `[1, n]` rows (i.e. `y' = A·y` for the column vector).
fn linear_field<B: Backend>(
    a: &[f64],
    n: usize,
    device: &B::Device,
) -> impl Fn(f64, Tensor<B, 2>) -> Tensor<B, 2> {
    let at = tensor::<B, 2>(a, [n, n], device).transpose();
    move |_t, y| y.matmul(at.clone())
}

/// Least-squares slope of `ys` against `xs`.
fn slope(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let sxy: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    sxy / sxx
}

/// `∂f/∂x_i` by central differences of step `eps`, for every `i`.
fn central_differences(x: &[f64], eps: f64, f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
    (0..x.len())
        .map(|i| {
            let (mut plus, mut minus) = (x.to_vec(), x.to_vec());
            plus[i] += eps;
            minus[i] -= eps;
            (f(&plus) - f(&minus)) / (2.0 * eps)
        })
        .collect()
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// torchdiffeq's spiral `y' = y³·A` with a learnable `A`.
#[derive(Module, Debug)]
struct Spiral<B: Backend> {
    a: Param<Tensor<B, 2>>,
}

impl<B: Backend> Spiral<B> {
    fn new(a: &[f64], device: &B::Device) -> Self {
        Spiral {
            a: Param::from_tensor(tensor(a, [2, 2], device)),
        }
    }
}

impl<B: Backend> VectorField<B, 2> for Spiral<B> {
    fn eval(&self, _t: f64, y: Tensor<B, 2>) -> Tensor<B, 2> {
        y.powi_scalar(3).matmul(self.a.val())
    }
}

const SPIRAL_A: [f64; 4] = [-0.1, 2.0, -2.0, -0.1];

// ---------------------------------------------------------------------------------------------
// Convergence order and exactness (f64)

/// diffrax's `test_ode_order`: `y' = A·y`, A = 0.5·randn(10×10), t ∈ [0, 4], constant steps
/// 2^0 … 2^−10; the fitted slope of log2(error) against log2(dt) is each solver's order ± 0.5
/// (fitted over the steps whose error lies between round-off and the pre-asymptotic regime).
fn convergence_order<B: AutodiffBackend>(device: &B::Device) {
    let n = 10;
    let a: Vec<f64> = randn(n * n, 7).iter().map(|x| 0.5 * x).collect();
    let y0 = randn(n, 8);
    let exact = matvec(
        &expm(&a.iter().map(|x| 4.0 * x).collect::<Vec<_>>(), n),
        &y0,
    );
    let scale = exact.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let field = linear_field::<B::InnerBackend>(&a, n, device);
    for solver in Solver::ALL {
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        let mut report = Vec::new();
        for k in 0..=10 {
            let dt = 2f64.powi(-k);
            let options = SolveOptions::new()
                .with_solver(solver)
                .with_dt(Some(dt))
                .with_max_steps(5000);
            let y = tensor::<B::InnerBackend, 2>(&y0, [1, n], device);
            let sol = solve(&field, y, 0.0, 4.0, &options).unwrap();
            assert_eq!(
                sol.stats.accepted,
                4 << k,
                "{solver:?}: steps at dt = 2^-{k}"
            );
            // Relative to the solution's size (|y(4)| is in the hundreds).
            let err = max_abs_diff(&values(sol.last()), &exact) / scale;
            report.push(format!("2^-{k}: {err:.2e}"));
            // The asymptotic regime: below 1e-1 and well above round-off.
            if err < 1e-1 && err > 1e-12 {
                xs.push(-(k as f64));
                ys.push(err.log2());
            }
        }
        assert!(
            xs.len() >= 3,
            "{solver:?}: too few points in the asymptotic regime: {report:?}"
        );
        let order = slope(&xs, &ys);
        let want = f64::from(solver.order());
        assert!(
            (order - want).abs() <= 0.5,
            "{solver:?}: fitted order {order:.2}, expected {want} ± 0.5; errors {report:?}"
        );
    }
}

/// torchdiffeq's `TestGridConstructor`: Euler on x' = x with 10 steps of 0.1 gives 1.1^10, in
/// exactly 10 steps and 10 evaluations.
fn euler_makes_exactly_ten_steps<B: AutodiffBackend>(device: &B::Device) {
    let field = |_t: f64, x: Tensor<B, 2>| x;
    let options = SolveOptions::new()
        .with_solver(Solver::Euler)
        .with_dt(Some(0.1));
    let sol = solve(&field, Tensor::ones([1, 1], device), 0.0, 1.0, &options).unwrap();
    let tol = if is_f64::<B>() { 1e-12 } else { 1e-5 };
    assert_close(
        "Euler x(1)",
        &values(sol.last()),
        &[1.1f64.powi(10)],
        tol,
        0.0,
    );
    assert_eq!(sol.stats.accepted, 10);
    assert_eq!(sol.stats.rejected, 0);
    assert_eq!(sol.stats.nfe, 10);
    // Fixed steps on [0, 1] of 0.1, with every grid point saved: exact grid values, 10 steps.
    let grid: Vec<f64> = (0..=10).map(|i| i as f64 / 10.0).collect();
    let sol = solve(
        &field,
        Tensor::ones([1, 1], device),
        0.0,
        1.0,
        &options.clone().with_save_at(SaveAt::Times(grid.clone())),
    )
    .unwrap();
    assert_eq!(sol.ts, grid);
    assert_eq!(sol.stats.accepted, 10);
    for (i, y) in sol.ys.iter().enumerate() {
        assert_close(
            &format!("x({})", grid[i]),
            &values(y.clone()),
            &[1.1f64.powi(i as i32)],
            tol,
            tol,
        );
    }
}

/// A problem of torchdiffeq's `tests/problems.py`: the field, the exact solution, and
/// torchdiffeq's error bound for the adaptive solvers at rtol 1e-7 / atol 1e-9.
struct Problem {
    name: &'static str,
    dim: usize,
    field: Box<dyn Fn(f64, Tensor<NdF64, 2>) -> Tensor<NdF64, 2> + Sync>,
    exact: Box<dyn Fn(f64) -> Vec<f64>>,
    tol: f64,
}

type NdF64 = burn::backend::NdArray<f64>;

fn torchdiffeq_problems() -> Vec<Problem> {
    let (a, b) = (0.2, 3.0);
    let u: Vec<f64> = randn(100, 0).iter().map(|x| 0.1 * x).collect();
    let skew: Vec<f64> = (0..100).map(|k| u[k] - u[(k % 10) * 10 + k / 10]).collect();
    let skew_t = skew.clone();
    let skew_field = Tensor::<NdF64, 2>::from_data(
        burn::tensor::TensorData::new(skew.clone(), [10, 10]),
        &Default::default(),
    )
    .transpose();
    vec![
        Problem {
            name: "constant",
            dim: 1,
            field: Box::new(move |t, y| (y.sub_scalar(a * t + b)).powi_scalar(5).add_scalar(a)),
            exact: Box::new(move |t| vec![a * t + b]),
            tol: 3e-4,
        },
        Problem {
            name: "sine",
            dim: 1,
            field: Box::new(|t, y| {
                y.mul_scalar(2.0 / t)
                    .add_scalar(t.powi(4) * (2.0 * t).sin() - t * t + 4.0 * t.powi(3))
            }),
            exact: Box::new(|t| {
                let (s, c) = ((2.0 * t).sin(), (2.0 * t).cos());
                vec![
                    -0.5 * t.powi(4) * c + 0.5 * t.powi(3) * s + 0.25 * t * t * c - t.powi(3)
                        + 2.0 * t.powi(4)
                        + (core::f64::consts::PI - 0.25) * t * t,
                ]
            }),
            tol: 3e-4,
        },
        Problem {
            name: "linear",
            dim: 10,
            field: Box::new(move |_t, y| y.matmul(skew_field.clone())),
            exact: Box::new(move |t| {
                matvec(
                    &expm(&skew_t.iter().map(|x| x * t).collect::<Vec<_>>(), 10),
                    &[1.0; 10],
                )
            }),
            tol: 2e-3,
        },
        Problem {
            name: "exp",
            dim: 1,
            field: Box::new(|t, y| y.zeros_like().add_scalar(-0.1 * (-0.1 * t).exp())),
            exact: Box::new(|t| vec![(-0.1 * t).exp()]),
            tol: 5e-2,
        },
    ]
}

/// torchdiffeq's `TestSolverError`: every adaptive solver on every problem at its default
/// tolerances (rtol 1e-7, atol 1e-9), t = linspace(1, 8, 10) by dense output, max relative
/// error below torchdiffeq's bounds (4e-3 for Bosh3).
fn torchdiffeq_problems_at_default_tolerances<B: AutodiffBackend>(_device: &B::Device) {
    let device = Default::default();
    let ts: Vec<f64> = (0..10).map(|i| 1.0 + 7.0 * i as f64 / 9.0).collect();
    for problem in torchdiffeq_problems() {
        for solver in [Solver::Bosh3, Solver::Dopri5, Solver::Tsit5] {
            let y0 = Tensor::<NdF64, 2>::from_data(
                burn::tensor::TensorData::new((problem.exact)(1.0), [1, problem.dim]),
                &device,
            );
            let options = SolveOptions::new()
                .with_solver(solver)
                .with_max_steps(100_000)
                .with_save_at(SaveAt::Times(ts.clone()));
            let sol = solve(&*problem.field, y0, 1.0, 8.0, &options).unwrap();
            let mut worst: f64 = 0.0;
            for (t, y) in sol.ts.iter().zip(&sol.ys) {
                let exact = (problem.exact)(*t);
                for (g, w) in values(y.clone()).iter().zip(&exact) {
                    worst = worst.max(((g - w) / w).abs());
                }
            }
            let bound = if solver == Solver::Bosh3 {
                4e-3
            } else {
                problem.tol
            };
            assert!(
                worst < bound,
                "{} with {solver:?}: max relative error {worst:.2e} ≥ {bound:.0e} ({:?})",
                problem.name,
                sol.stats
            );
        }
    }
}

/// Dense output is the solver's interpolant: the states at 50 requested times match the exact
/// solution to the tolerance, and requesting them costs no extra step.
fn dense_output_is_exact_and_free<B: AutodiffBackend>(device: &B::Device) {
    // The harmonic oscillator, y = [cos t, −sin t].
    let field = |_t: f64, y: Tensor<B::InnerBackend, 2>| {
        let x = y.clone().narrow(1, 0, 1);
        let v = y.narrow(1, 1, 1);
        Tensor::cat(vec![v, -x], 1)
    };
    let ts: Vec<f64> = (0..50).map(|i| 10.0 * i as f64 / 49.0).collect();
    for solver in [Solver::Bosh3, Solver::Dopri5, Solver::Tsit5] {
        let (rtol, atol) = (1e-8, 1e-10);
        let base = SolveOptions::new()
            .with_solver(solver)
            .with_rtol(rtol)
            .with_atol(atol)
            .with_max_steps(100_000);
        let y0 = || tensor::<B::InnerBackend, 2>(&[1.0, 0.0], [1, 2], device);
        let plain = solve(&field, y0(), 0.0, 10.0, &base).unwrap();
        let dense = solve(
            &field,
            y0(),
            0.0,
            10.0,
            &base.clone().with_save_at(SaveAt::Times(ts.clone())),
        )
        .unwrap();
        assert_eq!(
            (dense.stats.accepted, dense.stats.rejected, dense.stats.nfe),
            (plain.stats.accepted, plain.stats.rejected, plain.stats.nfe),
            "{solver:?}: save times changed the steps"
        );
        // The global error at these tolerances is ~1e-7 for Bosh3 over 10 time units; the
        // interpolant must not add more than the step's own error.
        let bound = if solver == Solver::Bosh3 { 2e-5 } else { 1e-6 };
        for (t, y) in dense.ts.iter().zip(&dense.ys) {
            assert_close(
                &format!("{solver:?} y({t:.3})"),
                &values(y.clone()),
                &[t.cos(), -t.sin()],
                bound,
                0.0,
            );
        }
        assert_close(
            "final state",
            &values(dense.last()),
            &values(plain.last()),
            1e-14,
            0.0,
        );
    }
    // Fixed-step solvers interpolate by cubic Hermite: RK4 with dt = 0.1, checked between grid
    // points (cubic Hermite is O(h⁴) accurate).
    let options = SolveOptions::new()
        .with_solver(Solver::Rk4)
        .with_dt(Some(0.1))
        .with_save_at(SaveAt::Times(vec![0.05, 1.234, 7.77]));
    let sol = solve(
        &field,
        tensor(&[1.0, 0.0], [1, 2], device),
        0.0,
        10.0,
        &options,
    )
    .unwrap();
    assert_eq!(sol.stats.accepted, 100);
    for (t, y) in sol.ts.iter().zip(&sol.ys) {
        assert_close(
            &format!("RK4 y({t})"),
            &values(y.clone()),
            &[t.cos(), -t.sin()],
            1e-5,
            0.0,
        );
    }
}

/// diffrax's `test_reverse_time`: f = −y from 4 to 0.3 equals g = +y from −4 to −0.3 with the
/// times negated, for the final state, save times and every step.
fn reverse_time_is_symmetric<B: AutodiffBackend>(device: &B::Device) {
    let backward = |_t: f64, y: Tensor<B::InnerBackend, 2>| -y;
    let forward = |_t: f64, y: Tensor<B::InnerBackend, 2>| y;
    let y0 = || tensor::<B::InnerBackend, 2>(&[1.0, -2.0, 0.5], [1, 3], device);
    for solver in [Solver::Rk4, Solver::Dopri5, Solver::Tsit5] {
        let dt = (!solver.is_adaptive()).then_some(0.05);
        for save in [
            SaveAt::Final,
            SaveAt::Steps,
            SaveAt::Times(vec![4.0, 2.5, 1.0, 0.3]),
        ] {
            let negated = match &save {
                SaveAt::Times(ts) => SaveAt::Times(ts.iter().map(|t| -t).collect()),
                other => other.clone(),
            };
            let options = SolveOptions::new().with_solver(solver).with_dt(dt);
            let a = solve(
                &backward,
                y0(),
                4.0,
                0.3,
                &options.clone().with_save_at(save),
            )
            .unwrap();
            let b = solve(&forward, y0(), -4.0, -0.3, &options.with_save_at(negated)).unwrap();
            assert_eq!(a.ys.len(), b.ys.len());
            for ((ta, ya), (tb, yb)) in a.ts.iter().zip(&a.ys).zip(b.ts.iter().zip(&b.ys)) {
                assert!((ta + tb).abs() < 1e-12, "{solver:?}: times {ta} and {tb}");
                assert_close(
                    &format!("{solver:?} y({ta})"),
                    &values(ya.clone()),
                    &values(yb.clone()),
                    1e-12,
                    1e-12,
                );
            }
            // And it is the right answer: y(0.3) = y(4)·e^(3.7).
            let want: Vec<f64> = [1.0, -2.0, 0.5].iter().map(|v| v * 3.7f64.exp()).collect();
            assert_close(
                &format!("{solver:?} y(0.3)"),
                &values(a.last()),
                &want,
                1e-4,
                1e-5,
            );
        }
    }
}

/// The PI controller takes fewer rejected steps than the I controller on a problem with
/// changing stiffness, and both meet the tolerance.
fn pi_controller_meets_tolerance<B: AutodiffBackend>(device: &B::Device) {
    // Van der Pol, μ = 5: a limit cycle with slow and fast phases.
    let field = |_t: f64, y: Tensor<B::InnerBackend, 2>| {
        let x = y.clone().narrow(1, 0, 1);
        let v = y.narrow(1, 1, 1);
        let dv = (x.clone().powi_scalar(2).neg().add_scalar(1.0) * v.clone()).mul_scalar(5.0) - x;
        Tensor::cat(vec![v, dv], 1)
    };
    let y0 = || tensor::<B::InnerBackend, 2>(&[2.0, 0.0], [1, 2], device);
    let tight = SolveOptions::new()
        .with_rtol(1e-12)
        .with_atol(1e-12)
        .with_max_steps(100_000);
    let reference = values(solve(&field, y0(), 0.0, 20.0, &tight).unwrap().last());
    let loose = SolveOptions::new()
        .with_rtol(1e-6)
        .with_atol(1e-8)
        .with_max_steps(100_000);
    let i = solve(&field, y0(), 0.0, 20.0, &loose).unwrap();
    let pi = solve(
        &field,
        y0(),
        0.0,
        20.0,
        &loose
            .clone()
            .with_controller(PiController::new().with_pcoeff(0.4).with_icoeff(0.3)),
    )
    .unwrap();
    for (what, sol) in [("I", &i), ("PI", &pi)] {
        let err = max_abs_diff(&values(sol.last()), &reference);
        assert!(err < 1e-3, "{what}: error {err:.2e} ({:?})", sol.stats);
    }
    assert!(
        pi.stats.rejected < i.stats.rejected,
        "PI rejected {:?}, I rejected {:?}",
        pi.stats,
        i.stats
    );
}

// ---------------------------------------------------------------------------------------------
// Gradients (f64)

/// Back-propagation through RK4 equals central finite differences of the discrete solve, for
/// `y0` and the parameters.
fn backprop_gradients_match_finite_differences<B: AutodiffBackend>(device: &B::Device) {
    let y0v = [1.2, -0.4];
    let w = [0.3, -0.7];
    let options = SolveOptions::new()
        .with_solver(Solver::Rk4)
        .with_dt(Some(0.01));
    let loss_of = |a: &[f64], y0: &[f64]| -> f64 {
        let field = Spiral::<B::InnerBackend>::new(a, device);
        let y = solve(&field, tensor(y0, [1, 2], device), 0.0, 1.0, &options).unwrap();
        values(y.last()).iter().zip(&w).map(|(y, w)| y * w).sum()
    };
    let field = Spiral::<B>::new(&SPIRAL_A, device);
    let y0 = tensor::<B, 2>(&y0v, [1, 2], device).require_grad();
    let y1 = solve(&field, y0.clone(), 0.0, 1.0, &options)
        .unwrap()
        .last();
    let grads = (y1 * tensor::<B, 2>(&w, [1, 2], device)).sum().backward();
    let gy0 = values(y0.grad(&grads).unwrap());
    let ga = values(field.a.val().grad(&grads).unwrap());
    let eps = 1e-6;
    let fd_y0 = central_differences(&y0v, eps, |x| loss_of(&SPIRAL_A, x));
    let fd_a = central_differences(&SPIRAL_A, eps, |x| loss_of(x, &y0v));
    assert_close("∂L/∂y0 (backprop vs FD)", &gy0, &fd_y0, 1e-7, 1e-6);
    assert_close("∂L/∂A (backprop vs FD)", &ga, &fd_a, 1e-7, 1e-6);
}

/// Compares every parameter's gradient between two `GradientsParams` of one module.
pub(super) struct Compare<'a> {
    pub(super) direct: &'a GradientsParams,
    pub(super) adjoint: &'a GradientsParams,
    /// `(atol, rtol)`.
    pub(super) tolerance: (f64, f64),
    pub(super) compared: usize,
}

impl<B: AutodiffBackend> burn::module::ModuleVisitor<B> for Compare<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let d = self
            .direct
            .get::<B::InnerBackend, D>(param.id)
            .expect("direct gradient");
        let a = self
            .adjoint
            .get::<B::InnerBackend, D>(param.id)
            .expect("adjoint gradient");
        let (atol, rtol) = self.tolerance;
        assert_close("gradient", &values(a), &values(d), atol, rtol);
        self.compared += 1;
    }
}

/// torchdiffeq's `TestCompareAdjointGradient`: the spiral y' = y³A, y0 = [2, 0],
/// t = linspace(0, 25, 10), default tolerances, upstream gradients 0.1·rand:
/// |Δ grad y0| < 3e-4 and |Δ grad A| < 2e-3 between the adjoint and back-propagation. The
/// adjoint also matches central finite differences of the (tight) solve.
fn adjoint_matches_backprop_on_the_spiral<B: AutodiffBackend>(device: &B::Device) {
    let ts: Vec<f64> = (0..10).map(|i| 25.0 * i as f64 / 9.0).collect();
    let options = SolveOptions::new().with_save_at(SaveAt::Times(ts.clone()));
    let upstream: Vec<Tensor<B, 2>> = (0..10)
        .map(|i| tensor(&numbers(2, 100 + i, 0.0, 0.1), [1, 2], device))
        .collect();
    let loss = |ys: &[Tensor<B, 2>]| {
        ys.iter()
            .zip(&upstream)
            .map(|(y, g)| (y.clone() * g.clone()).sum())
            .reduce(|a, b| a + b)
            .unwrap()
    };
    // Direct.
    let field = Spiral::<B>::new(&SPIRAL_A, device);
    let y0 = tensor::<B, 2>(&[2.0, 0.0], [1, 2], device).require_grad();
    let direct = solve(&field, y0.clone(), 0.0, 25.0, &options).unwrap();
    let grads = loss(&direct.ys).backward();
    let direct_y0 = values(y0.grad(&grads).unwrap());
    let direct_a = values(field.a.val().grad(&grads).unwrap());
    // Adjoint.
    let y0 = tensor::<B, 2>(&[2.0, 0.0], [1, 2], device);
    let forward = solve_adjoint(&field, y0, 0.0, 25.0, &options).unwrap();
    assert_eq!(forward.solution.ts, ts);
    let grads = loss(&forward.solution.ys).backward();
    let adjoint = forward.backward(&grads).unwrap();
    let adjoint_y0 = values(adjoint.y0.clone());
    let adjoint_a = values(
        adjoint
            .params
            .get::<B::InnerBackend, 2>(field.a.id)
            .unwrap(),
    );
    let dy0 = max_abs_diff(&direct_y0, &adjoint_y0);
    let da = max_abs_diff(&direct_a, &adjoint_a);
    assert!(
        dy0 < 3e-4,
        "|Δ grad y0| = {dy0:.2e}: direct {direct_y0:?}, adjoint {adjoint_y0:?}"
    );
    assert!(
        da < 2e-3,
        "|Δ grad A| = {da:.2e}: direct {direct_a:?}, adjoint {adjoint_a:?}"
    );
    assert!(adjoint.stats.nfe > 0);
    // Against finite differences on [0, 5] at tight tolerances (the adjoint approximates the
    // continuous gradient, so the solve must be tight for the comparison to mean something).
    let tight = SolveOptions::new()
        .with_rtol(1e-10)
        .with_atol(1e-12)
        .with_max_steps(100_000);
    let w = [0.3, -0.7];
    let loss_of = |a: &[f64], y0: &[f64]| -> f64 {
        let field = Spiral::<B::InnerBackend>::new(a, device);
        let y = solve(&field, tensor(y0, [1, 2], device), 0.0, 5.0, &tight).unwrap();
        values(y.last()).iter().zip(&w).map(|(y, w)| y * w).sum()
    };
    let forward = solve_adjoint(
        &field,
        tensor(&[2.0, 0.0], [1, 2], device),
        0.0,
        5.0,
        &tight,
    )
    .unwrap();
    let grads = (forward.last() * tensor::<B, 2>(&w, [1, 2], device))
        .sum()
        .backward();
    let adjoint = forward.backward(&grads).unwrap();
    let eps = 1e-6;
    let fd_a = central_differences(&SPIRAL_A, eps, |x| loss_of(x, &[2.0, 0.0]));
    let fd_y0 = central_differences(&[2.0, 0.0], eps, |x| loss_of(&SPIRAL_A, x));
    assert_close(
        "∂L/∂y0 (adjoint vs FD)",
        &values(adjoint.y0),
        &fd_y0,
        1e-6,
        1e-5,
    );
    assert_close(
        "∂L/∂A (adjoint vs FD)",
        &values(
            adjoint
                .params
                .get::<B::InnerBackend, 2>(field.a.id)
                .unwrap(),
        ),
        &fd_a,
        1e-6,
        1e-5,
    );
}

/// The checkpointed adjoint is back-propagation, re-ordered: equal gradients (f64, 1e-8) for
/// every way of saving, fixed and adaptive steps, FSAL or not, a time-dependent field, and any
/// number of checkpoints — and fewer checkpoints cost more re-computation, never accuracy.
fn checkpointed_adjoint_equals_backprop<B: AutodiffBackend>(device: &B::Device) {
    // Seeded: the step counts (and so what the checkpointing has to reverse) depend on the
    // field's weights.
    ltc_testing::seed::<B>(device, 5);
    let field = MlpFieldConfig::new(3, 6)
        .with_time_input(true)
        .init::<B>(device)
        .unwrap();
    let x = || tensor::<B, 2>(&numbers(6, 11, -1.0, 1.0), [2, 3], device);
    let weights = |i: usize| tensor::<B, 2>(&numbers(6, 40 + i as u64, -1.0, 1.0), [2, 3], device);
    let loss = |ys: &[Tensor<B, 2>]| {
        ys.iter()
            .enumerate()
            .map(|(i, y)| (y.clone().tanh() * weights(i)).sum())
            .reduce(|a, b| a + b)
            .unwrap()
    };
    let cases = [
        (
            Solver::Dopri5,
            None,
            SaveAt::Times(vec![0.0, 0.3, 0.31, 1.2, 2.0]),
        ),
        (Solver::Tsit5, None, SaveAt::Final),
        (Solver::Bosh3, None, SaveAt::Steps),
        (Solver::Rk4, Some(0.15), SaveAt::Times(vec![0.1, 0.45, 2.0])),
        (Solver::Heun, Some(0.25), SaveAt::Steps),
        (Solver::Euler, Some(0.5), SaveAt::Final),
    ];
    for (solver, dt, save_at) in cases {
        let options = SolveOptions::new()
            .with_solver(solver)
            .with_dt(dt)
            .with_rtol(1e-8)
            .with_atol(1e-10)
            .with_save_at(save_at.clone());
        let y0 = x().require_grad();
        let direct = solve(&field, y0.clone(), 0.0, 2.0, &options).unwrap();
        let grads = loss(&direct.ys).backward();
        let direct_y0 = values(y0.grad(&grads).unwrap());
        let direct_params = GradientsParams::from_grads(grads, &field);
        let steps = direct.stats.accepted;
        let mut nfes = Vec::new();
        for slots in [0, 1, 3, 1000] {
            let what = format!("{solver:?} {save_at:?} with {slots} checkpoints");
            let forward = solve_adjoint_with(
                &field,
                x(),
                0.0,
                2.0,
                &options,
                &Adjoint::Checkpointed(slots),
            )
            .unwrap();
            assert_eq!(forward.solution.ts, direct.ts, "{what}: saved times");
            assert_eq!(
                forward.solution.stats, direct.stats,
                "{what}: forward stats"
            );
            let grads = loss(&forward.solution.ys).backward();
            let sweep = forward.backward(&grads).unwrap();
            assert_eq!(
                sweep.stats.accepted, steps,
                "{what}: one back-propagated step each"
            );
            assert_close(
                &format!("{what}: ∂L/∂y0"),
                &values(sweep.y0),
                &direct_y0,
                1e-8,
                1e-8,
            );
            let mut compare = Compare {
                direct: &direct_params,
                adjoint: &sweep.params,
                tolerance: (1e-8, 1e-8),
                compared: 0,
            };
            field.visit(&mut compare);
            assert_eq!(
                compare.compared, 4,
                "{what}: two layers' weights and biases"
            );
            nfes.push(sweep.stats.nfe);
        }
        assert!(
            steps >= 4,
            "{solver:?}: {steps} steps is too few to test checkpointing"
        );
        assert!(
            nfes.windows(2).all(|w| w[0] >= w[1]) && nfes[0] > nfes[3],
            "{solver:?}: re-computation must fall as checkpoints grow: {nfes:?}"
        );
    }
}

/// A training step of a larger model with the ODE in the middle: encoder → Neural ODE
/// (adjoint) → head. The gradients of every parameter equal back-propagation's.
fn adjoint_inside_a_larger_model<B: AutodiffBackend>(device: &B::Device) {
    use burn::nn::{Linear, LinearConfig};
    #[derive(Module, Debug)]
    struct Model<B: Backend> {
        encoder: Linear<B>,
        ode: NeuralOde<B, MlpField<B>>,
        head: Linear<B>,
    }
    let tight = SolveOptions::new().with_rtol(1e-10).with_atol(1e-12);
    let model = Model {
        encoder: LinearConfig::new(3, 4).init::<B>(device),
        ode: NeuralOdeConfig::new()
            .with_options(tight)
            .with_augment(1)
            .init(MlpFieldConfig::new(5, 8).init::<B>(device).unwrap())
            .unwrap(),
        head: LinearConfig::new(5, 2).init::<B>(device),
    };
    let x = tensor::<B, 2>(&numbers(12, 3, -1.0, 1.0), [4, 3], device);
    let t_span = [0.0, 0.5, 1.0];
    let loss_of = |trajectory: Tensor<B, 3>| {
        let [t, batch, f] = trajectory.dims();
        model
            .head
            .forward(trajectory.reshape([t * batch, f]))
            .powi_scalar(2)
            .mean()
    };
    // Back-propagation through the solver.
    let out = model
        .ode
        .forward(model.encoder.forward(x.clone()), &t_span)
        .unwrap();
    let direct = GradientsParams::from_grads(loss_of(out.trajectory).backward(), &model);
    // The adjoint: head gradients from the loss, the field's from the sweep, the encoder's
    // from a second pass with ∂L/∂y0. The continuous adjoint approximates; the checkpointed one
    // is back-propagation's to rounding.
    for (method, tolerance) in [
        (Adjoint::Backsolve, (1e-7, 1e-5)),
        (Adjoint::Checkpointed(1), (1e-10, 1e-9)),
    ] {
        let mut ode = model.ode.clone();
        ode.adjoint = method;
        let encoded = model.encoder.forward(x.clone());
        let adjoint = ode.forward_adjoint(encoded.clone(), &t_span).unwrap();
        let mut grads = loss_of(adjoint.output.trajectory.clone()).backward();
        let mut total = GradientsParams::from_module(&mut grads, &model.head);
        let sweep = adjoint.backward(&grads).unwrap();
        assert_eq!(
            sweep.y0.dims(),
            [4, 4],
            "∂L/∂x without the augmented column"
        );
        let encoder = GradientsParams::from_grads(sweep.backward_through(encoded), &model.encoder);
        crate::optim::merge_gradients(&mut total, encoder, &model.encoder);
        crate::optim::merge_gradients(&mut total, sweep.params, &model.ode);
        let mut compare = Compare {
            direct: &direct,
            adjoint: &total,
            tolerance,
            compared: 0,
        };
        model.visit(&mut compare);
        assert_eq!(
            compare.compared,
            2 + 4 + 2,
            "encoder, two field layers, head"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The stiff solver

/// scipy's Radau at rtol 1e-12 (`tools/stiff_reference.py`).
fn stiff_reference(problem: &str) -> (Vec<f64>, Vec<f64>, Vec<Vec<f64>>) {
    let json: serde_json::Value =
        serde_json::from_str(include_str!("../../tests/fixtures/stiff_reference.json")).unwrap();
    let p = &json[problem];
    let floats = |v: &serde_json::Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let states = p["states"].as_array().unwrap().iter().map(floats).collect();
    (floats(&p["y0"]), floats(&p["times"]), states)
}

fn robertson<B: Backend>(_t: f64, y: Tensor<B, 2>) -> Tensor<B, 2> {
    let y1 = y.clone().narrow(1, 0, 1);
    let y2 = y.clone().narrow(1, 1, 1);
    let y3 = y.narrow(1, 2, 1);
    let slow = y1.mul_scalar(0.04);
    let fast = (y2.clone() * y3).mul_scalar(1e4);
    let faster = y2.powi_scalar(2).mul_scalar(3e7);
    Tensor::cat(
        vec![
            fast.clone() - slow.clone(),
            slow - fast - faster.clone(),
            faster,
        ],
        1,
    )
}

fn van_der_pol<B: Backend>(_t: f64, y: Tensor<B, 2>) -> Tensor<B, 2> {
    let x = y.clone().narrow(1, 0, 1);
    let v = y.narrow(1, 1, 1);
    let dv = (x.clone().powi_scalar(2).neg().add_scalar(1.0) * v.clone()).mul_scalar(1000.0) - x;
    Tensor::cat(vec![v, dv], 1)
}

/// Radau5 solves Robertson's problem to t = 1e5 and Van der Pol at μ = 1000 to scipy's
/// tight-tolerance values; Dopri5 given 100× Radau5's steps runs out of them.
fn stiff_problems_against_scipy<B: AutodiffBackend>(device: &B::Device) {
    type Field<B> = fn(f64, Tensor<B, 2>) -> Tensor<B, 2>;
    /// Name, field, rtol, atol, the accuracy asked of the states.
    type Problem<B> = (&'static str, Field<B>, f64, f64, f64);
    let problems: [Problem<B::InnerBackend>; 2] = [
        ("robertson", robertson::<B::InnerBackend>, 1e-6, 1e-10, 1e-4),
        (
            "van_der_pol_mu1000",
            van_der_pol::<B::InnerBackend>,
            1e-6,
            1e-8,
            1e-3,
        ),
    ];
    for (name, field, rtol, atol, accuracy) in problems {
        let (y0, times, want) = stiff_reference(name);
        let d = y0.len();
        let t1 = *times.last().unwrap();
        let options = SolveOptions::new()
            .with_solver(Solver::Radau5)
            .with_rtol(rtol)
            .with_atol(atol)
            .with_save_at(SaveAt::Times(times.clone()));
        let sol = solve(&field, tensor(&y0, [1, d], device), 0.0, t1, &options).unwrap();
        println!("{name}: Radau5 {:?}", sol.stats);
        for ((t, y), want) in times.iter().zip(&sol.ys).zip(&want) {
            let got = values(y.clone());
            for (g, w) in got.iter().zip(want) {
                assert!(
                    (g - w).abs() <= accuracy * w.abs() + 10.0 * atol,
                    "{name} at t = {t}: got {got:?}, scipy {want:?}"
                );
            }
        }
        let steps = sol.stats.steps();
        assert!(steps < 2000, "{name}: Radau5 took {steps} steps");
        let explicit = SolveOptions::new()
            .with_rtol(rtol)
            .with_atol(atol)
            .with_max_steps(100 * steps);
        let err = solve(&field, tensor(&y0, [1, d], device), 0.0, t1, &explicit).unwrap_err();
        assert!(
            matches!(err, OdeError::MaxStepsReached { .. }),
            "{name}: Dopri5 with {} steps: {err:?}",
            100 * steps
        );
    }
}

/// A stiff linear field `y' = A·y` whose matrix is a parameter.
#[derive(Module, Debug)]
struct Linear<B: Backend> {
    a: Param<Tensor<B, 2>>,
}

impl<B: Backend> VectorField<B, 2> for Linear<B> {
    fn eval(&self, _t: f64, y: Tensor<B, 2>) -> Tensor<B, 2> {
        y.matmul(self.a.val().transpose())
    }
}

const STIFF_A: [f64; 4] = [-1000.0, 1.0, 0.5, -1.0];

/// Back-propagation through Radau5's Newton solves is the derivative of the discrete solve
/// (fixed steps: central differences of the same solve, 1e-6) and, at tight tolerances, the
/// exact gradient `e^{Aᵀt}·w` (adaptive). The Backsolve adjoint with Radau5 agrees.
fn radau_gradients<B: AutodiffBackend>(device: &B::Device) {
    let y0 = [1.0, -2.0];
    let w = [0.7, -0.3];
    let t1 = 2.0;
    let loss_of = |a: &[f64], y0: &[f64], options: &SolveOptions| -> f64 {
        let field = Linear::<B::InnerBackend> {
            a: Param::from_tensor(tensor(a, [2, 2], device)),
        };
        let y = solve(&field, tensor(y0, [1, 2], device), 0.0, t1, options).unwrap();
        values(y.last()).iter().zip(&w).map(|(y, w)| y * w).sum()
    };
    let fixed = SolveOptions::new()
        .with_solver(Solver::Radau5)
        .with_dt(Some(0.1));
    let field = Linear::<B> {
        a: Param::from_tensor(tensor(&STIFF_A, [2, 2], device)),
    };
    let x = tensor::<B, 2>(&y0, [1, 2], device).require_grad();
    let sol = solve(&field, x.clone(), 0.0, t1, &fixed).unwrap();
    let grads = (sol.last() * tensor::<B, 2>(&w, [1, 2], device))
        .sum()
        .backward();
    let (g_y0, g_a) = (
        values(x.grad(&grads).unwrap()),
        values(field.a.val().grad(&grads).unwrap()),
    );
    let eps = 1e-6;
    let fd_y0 = central_differences(&y0, eps, |x| loss_of(&STIFF_A, x, &fixed));
    let fd_a = central_differences(&STIFF_A, eps, |x| loss_of(x, &y0, &fixed));
    assert_close("Radau5 fixed dt: ∂L/∂y0 vs FD", &g_y0, &fd_y0, 1e-8, 1e-6);
    assert_close("Radau5 fixed dt: ∂L/∂A vs FD", &g_a, &fd_a, 1e-8, 1e-6);
    // Adaptive, tight: the exact gradient with respect to y0 is e^{Aᵀ t1}·w.
    let tight = SolveOptions::new()
        .with_solver(Solver::Radau5)
        .with_rtol(1e-10)
        .with_atol(1e-12);
    let x = tensor::<B, 2>(&y0, [1, 2], device).require_grad();
    let sol = solve(&field, x.clone(), 0.0, t1, &tight).unwrap();
    let grads = (sol.last() * tensor::<B, 2>(&w, [1, 2], device))
        .sum()
        .backward();
    let at: Vec<f64> = [STIFF_A[0], STIFF_A[2], STIFF_A[1], STIFF_A[3]]
        .iter()
        .map(|v| v * t1)
        .collect();
    let exact = matvec(&expm(&at, 2), &w);
    assert_close(
        "Radau5 adaptive: ∂L/∂y0 vs exact",
        &values(x.grad(&grads).unwrap()),
        &exact,
        1e-7,
        1e-6,
    );
    // The Backsolve adjoint runs its backward solve by Radau5 too — on a field that is not
    // stiff: re-solving a stiff y backwards in time is unstable (its decaying modes grow),
    // whatever the solver, so stiff fields take back-propagation.
    let rotation = [-0.5, 1.0, -1.0, -0.2];
    let field = Linear::<B> {
        a: Param::from_tensor(tensor(&rotation, [2, 2], device)),
    };
    let options = SolveOptions::new()
        .with_solver(Solver::Radau5)
        .with_rtol(1e-9)
        .with_atol(1e-11);
    let forward = solve_adjoint(&field, tensor(&y0, [1, 2], device), 0.0, t1, &options).unwrap();
    let grads = (forward.last() * tensor::<B, 2>(&w, [1, 2], device))
        .sum()
        .backward();
    let sweep = forward.backward(&grads).unwrap();
    let at: Vec<f64> = [rotation[0], rotation[2], rotation[1], rotation[3]]
        .iter()
        .map(|v| v * t1)
        .collect();
    let exact = matvec(&expm(&at, 2), &w);
    assert_close(
        "Radau5 adjoint: ∂L/∂y0 vs exact",
        &values(sweep.y0),
        &exact,
        1e-6,
        1e-5,
    );
    assert!(sweep.stats.jacobians > 0);
}

/// A Neural ODE whose field has a stiff linear part trains with Radau5 (back-propagation):
/// the loss halves in a few Adam steps. Dopri5 needs ≥ 10× the steps on it (13× measured).
fn stiff_neural_ode_trains<B: AutodiffBackend>(device: &B::Device) {
    use burn::module::AutodiffModule;
    use burn::optim::{AdamConfig, Optimizer};
    #[derive(Module, Debug)]
    struct StiffField<B: Backend> {
        mlp: MlpField<B>,
    }
    impl<B: Backend> VectorField<B, 2> for StiffField<B> {
        fn eval(&self, t: f64, y: Tensor<B, 2>) -> Tensor<B, 2> {
            let decay = tensor(&[-1000.0, -1.0], [1, 2], &y.device());
            y.clone() * decay + self.mlp.eval(t, y)
        }
    }
    ltc_testing::seed::<B>(device, 3);
    let mut model = StiffField {
        mlp: MlpFieldConfig::new(2, 8).init::<B>(device).unwrap(),
    };
    let x = tensor::<B, 2>(&[1.0, 0.5, -0.5, 1.0], [2, 2], device);
    // The stiff component relaxes to about mlp(y)/1000 within milliseconds: the targets put it
    // there, and ask the slow one to move.
    let target = tensor::<B, 2>(&[0.0, 1.2, 0.0, 1.6], [2, 2], device);
    let options = SolveOptions::new()
        .with_solver(Solver::Radau5)
        .with_rtol(1e-4)
        .with_atol(1e-6);
    let mut optim = AdamConfig::new().init();
    let mut losses = Vec::new();
    let mut steps = 0;
    for _ in 0..12 {
        let sol = solve(&model, x.clone(), 0.0, 1.0, &options).unwrap();
        steps = sol.stats.steps();
        let loss = (sol.last() - target.clone()).powi_scalar(2).mean();
        losses.push(values(loss.clone())[0]);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(0.1, model, grads);
    }
    println!("stiff Neural ODE: losses {losses:?}, {steps} Radau5 steps");
    assert!(
        losses.last().unwrap() * 2.0 < losses[0],
        "the loss must halve: {losses:?}"
    );
    let explicit = SolveOptions::new()
        .with_rtol(1e-4)
        .with_atol(1e-6)
        .with_max_steps(100 * steps);
    let err = solve(&model.valid(), x.inner(), 0.0, 1.0, &explicit);
    let dopri = err.as_ref().map(|s| s.stats.steps());
    assert!(
        dopri.as_ref().map_or(true, |s| *s >= 10 * steps),
        "Dopri5 took {dopri:?} steps where Radau5 took {steps}"
    );
}

// ---------------------------------------------------------------------------------------------
// Events

/// Free fall `[x, v]' = [v, −g]` with the gravity `g` a parameter.
#[derive(Module, Debug)]
struct Fall<B: Backend> {
    g: Param<Tensor<B, 2>>,
}

impl<B: Backend> Fall<B> {
    fn new(g: f64, device: &B::Device) -> Self {
        Fall {
            g: Param::from_tensor(tensor(&[g], [1, 1], device)),
        }
    }
}

impl<B: Backend> VectorField<B, 2> for Fall<B> {
    fn eval(&self, _t: f64, y: Tensor<B, 2>) -> Tensor<B, 2> {
        let v = y.narrow(1, 1, 1);
        let a = v.ones_like() * self.g.val().neg();
        Tensor::cat(vec![v, a], 1)
    }
}

fn height<B: Backend>(_t: f64, y: Tensor<B, 2>) -> Tensor<B, 1> {
    y.narrow(1, 0, 1).reshape([1])
}

/// The bouncing ball: dropped from `h`, it lands at `√(2h/g)` (within 1e-6) with
/// `dt/dh = 1/√(2gh)` (within 1e-5), `dt/dg = −t/(2g)`, and speed `−√(2gh)` whose gradient
/// carries the event time's (`dv/dh = −g/√(2gh)`) — for adaptive and fixed-step solvers; saves
/// stop at the event.
fn bouncing_ball_event_time_and_gradients<B: AutodiffBackend>(device: &B::Device) {
    let (h, g): (f64, f64) = (2.0, 9.81);
    let t_land = (2.0 * h / g).sqrt();
    for options in [
        SolveOptions::new(),
        SolveOptions::new()
            .with_solver(Solver::Tsit5)
            .with_rtol(1e-4)
            .with_atol(1e-6),
        SolveOptions::new()
            .with_solver(Solver::Rk4)
            .with_dt(Some(0.07)),
        SolveOptions::new()
            .with_solver(Solver::Midpoint)
            .with_dt(Some(0.1)),
    ] {
        let what = format!("{:?} dt = {:?}", options.solver, options.dt);
        let field = Fall::<B>::new(g, device);
        let y0 = tensor::<B, 2>(&[h, 0.0], [1, 2], device).require_grad();
        let sol = solve_event(&field, y0.clone(), 0.0, 10.0, &options, &height::<B>).unwrap();
        let event = sol.event.expect("the ball lands");
        assert!(
            (event.t - t_land).abs() < 1e-6,
            "{what}: lands at {} not {t_land}",
            event.t
        );
        assert_eq!(
            sol.solution.ts,
            vec![event.t],
            "{what}: SaveAt::Final saves the event"
        );
        let grads = event.time.clone().sum().backward();
        let dt_dh = values(y0.grad(&grads).unwrap())[0];
        let dt_dg = values(field.g.val().grad(&grads).unwrap())[0];
        assert!(
            (dt_dh - 1.0 / (2.0 * g * h).sqrt()).abs() < 1e-5,
            "{what}: dt/dh = {dt_dh}"
        );
        assert!(
            (dt_dg + t_land / (2.0 * g)).abs() < 1e-5,
            "{what}: dt/dg = {dt_dg}"
        );
        // The state at the event: on the ground, falling at √(2gh) (a new solve: the backward
        // pass above consumed the graph).
        let y0 = tensor::<B, 2>(&[h, 0.0], [1, 2], device).require_grad();
        let sol = solve_event(&field, y0.clone(), 0.0, 10.0, &options, &height::<B>).unwrap();
        let landed = sol.solution.last();
        let [x, v] = values(landed.clone())[..] else {
            unreachable!()
        };
        assert!(
            x.abs() < 1e-9 && (v + (2.0 * g * h).sqrt()).abs() < 1e-6,
            "{what}: {x}, {v}"
        );
        let grads = landed.narrow(1, 1, 1).sum().backward();
        let dv_dh = values(y0.grad(&grads).unwrap())[0];
        assert!(
            (dv_dh + g / (2.0 * g * h).sqrt()).abs() < 1e-5,
            "{what}: dv/dh = {dv_dh}"
        );
    }
    // Saving: times after the event are not saved; every step ends with the event.
    let field = Fall::<B>::new(g, device);
    let y0 = || tensor::<B, 2>(&[h, 0.0], [1, 2], device);
    let times = SaveAt::Times(vec![0.0, 0.3, 0.6, 0.9]);
    let sol = solve_event(
        &field,
        y0(),
        0.0,
        10.0,
        &SolveOptions::new().with_save_at(times),
        &height::<B>,
    )
    .unwrap();
    assert_eq!(
        sol.solution.ts,
        vec![0.0, 0.3, 0.6],
        "0.9 lies after the landing"
    );
    let x_06 = values(sol.solution.ys[2].clone())[0];
    assert!(
        (x_06 - (h - 0.5 * g * 0.36)).abs() < 1e-9,
        "x(0.6) = {x_06}"
    );
    let steps = SolveOptions::new().with_save_at(SaveAt::Steps);
    let sol = solve_event(&field, y0(), 0.0, 10.0, &steps, &height::<B>).unwrap();
    assert_eq!(*sol.solution.ts.last().unwrap(), sol.event.unwrap().t);
    // No crossing before t1: no event, a plain solve.
    let sol = solve_event(&field, y0(), 0.0, 0.5, &SolveOptions::new(), &height::<B>).unwrap();
    assert!(sol.event.is_none());
    assert_eq!(sol.solution.ts, vec![0.5]);
}

/// On a nonlinear field and event function, the event time's gradients with respect to `y0`
/// and the parameters equal central finite differences of the event time.
fn event_time_gradient_matches_finite_differences<B: AutodiffBackend>(device: &B::Device) {
    let field = Spiral::<B>::new(&SPIRAL_A, device);
    let tight = SolveOptions::new()
        .with_rtol(1e-11)
        .with_atol(1e-13)
        .with_max_steps(100_000);
    // The first time the spiral's x crosses 0.3·y + 0.1·t² − 0.5.
    let event = |t: f64, y: Tensor<B, 2>| {
        let x = y.clone().narrow(1, 0, 1);
        let v = y.narrow(1, 1, 1);
        (x - v.mul_scalar(0.3))
            .add_scalar(0.5 - 0.1 * t * t)
            .reshape([1])
    };
    let y0 = tensor::<B, 2>(&[2.0, 0.0], [1, 2], device).require_grad();
    let sol = solve_event(&field, y0.clone(), 0.0, 25.0, &tight, &event).unwrap();
    let hit = sol.event.expect("an event");
    let grads = hit.time.sum().backward();
    let dy0 = values(y0.grad(&grads).unwrap());
    let da = values(field.a.val().grad(&grads).unwrap());
    let time_of = |a: &[f64], y0: &[f64]| -> f64 {
        let field = Spiral::<B::InnerBackend>::new(a, device);
        let event = |t: f64, y: Tensor<B::InnerBackend, 2>| {
            let x = y.clone().narrow(1, 0, 1);
            let v = y.narrow(1, 1, 1);
            (x - v.mul_scalar(0.3))
                .add_scalar(0.5 - 0.1 * t * t)
                .reshape([1])
        };
        let sol = solve_event(
            &field,
            tensor(y0, [1, 2], device),
            0.0,
            25.0,
            &tight,
            &event,
        );
        sol.unwrap().event.unwrap().t
    };
    let eps = 1e-6;
    let fd_y0 = central_differences(&[2.0, 0.0], eps, |x| time_of(&SPIRAL_A, x));
    let fd_a = central_differences(&SPIRAL_A, eps, |x| time_of(x, &[2.0, 0.0]));
    assert!(hit.t > 0.0 && hit.t < 25.0);
    assert_close("dt*/dy0 (vs FD)", &dy0, &fd_y0, 1e-6, 1e-5);
    assert_close("dt*/dA (vs FD)", &da, &fd_a, 1e-6, 1e-5);
}

fn event_of_wrong_shape_panics<B: AutodiffBackend>(device: &B::Device) {
    let field = |_t: f64, y: Tensor<B, 2>| -y;
    let y0 = Tensor::<B, 2>::ones([2, 1], device);
    let event = |_t: f64, y: Tensor<B, 2>| y.reshape([2]);
    let _ = solve_event(&field, y0, 0.0, 1.0, &SolveOptions::new(), &event);
}

// ---------------------------------------------------------------------------------------------
// The LTC neuron's ODE

/// The fused semi-implicit Euler of the LTC cell converges at first order to the Dopri5
/// solution of the same ODE as `ode_unfolds` grows.
fn ltc_fused_solver_converges_to_dopri5<B: AutodiffBackend>(device: &B::Device) {
    use crate::ltc::LtcCellConfig;
    // Seeded: over seeds 0..30 the error at 256 unfolds ranged 5.5e-4 ..= 1.6e-3, always
    // between 1/64 and 1.4/64 of the error at 4 unfolds (first order all the way down).
    ltc_testing::seed::<B>(device, 2);
    let wiring = ltc_wirings::AutoNcp::new(8, 2).build(3).unwrap();
    let mut cell = LtcCellConfig::new(wiring)
        .init::<B::InnerBackend>(device)
        .unwrap();
    let x = tensor::<B::InnerBackend, 2>(&numbers(6, 5, -1.0, 1.0), [2, 3], device);
    let v0 = tensor::<B::InnerBackend, 2>(&numbers(16, 6, -0.5, 0.5), [2, 8], device);
    let elapsed = 2.0;
    let exact = solve(
        &cell.vector_field(x.clone()),
        v0.clone(),
        0.0,
        elapsed,
        &SolveOptions::new().with_rtol(1e-11).with_atol(1e-12),
    )
    .unwrap();
    let exact = values(exact.last());
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for k in [4usize, 8, 16, 32, 64, 128, 256] {
        cell.ode_unfolds = k;
        let dt = Tensor::<B::InnerBackend, 1>::full([2], elapsed, device);
        let (_, v) = cell.forward(x.clone(), v0.clone(), Some(dt));
        let err = max_abs_diff(&values(v), &exact);
        xs.push((k as f64).log2());
        ys.push(err.log2());
    }
    let order = -slope(&xs, &ys);
    assert!(
        (order - 1.0).abs() < 0.2,
        "fitted order {order:.3} (log2 errors {ys:?})"
    );
    // Converging to dopri5's solution, not to an offset: still first order at 256 unfolds.
    let (first, last) = (ys[0].exp2(), ys.last().unwrap().exp2());
    assert!(
        last < 1.5 * first / 64.0 && last < 2e-3,
        "error at 256 unfolds {last:.3e}, at 4 unfolds {first:.3e}"
    );
}

// ---------------------------------------------------------------------------------------------
// Errors

fn max_steps_is_an_error<B: AutodiffBackend>(device: &B::Device) {
    let field = |_t: f64, y: Tensor<B, 2>| y.neg();
    let options = SolveOptions::new().with_max_steps(3);
    let err = solve(&field, Tensor::ones([1, 1], device), 0.0, 100.0, &options).unwrap_err();
    let OdeError::MaxStepsReached { t, t1, max_steps } = err.clone() else {
        panic!("expected MaxStepsReached, got {err:?}");
    };
    assert!(
        t > 0.0 && t < 100.0 && t1 == 100.0 && max_steps == 3,
        "{err:?}"
    );
    assert!(err.to_string().contains("raise `max_steps`"), "{err}");
    // Fixed steps: known in advance.
    let options = SolveOptions::new()
        .with_solver(Solver::Euler)
        .with_dt(Some(1e-3))
        .with_max_steps(10);
    let err = solve(&field, Tensor::ones([1, 1], device), 0.0, 1.0, &options).unwrap_err();
    assert!(
        matches!(err, OdeError::MaxStepsReached { t: 0.0, .. }),
        "{err:?}"
    );
}

/// `y' = y²` from 1 blows up at t = 1: the adaptive step underflows before it, and the error
/// says where.
fn step_size_underflow_is_an_error<B: AutodiffBackend>(device: &B::Device) {
    let field = |_t: f64, y: Tensor<B, 2>| y.powi_scalar(2);
    let options = SolveOptions::new()
        .with_dt_min(1e-6)
        .with_max_steps(100_000);
    let err = solve(&field, Tensor::ones([1, 1], device), 0.0, 2.0, &options).unwrap_err();
    let OdeError::StepSizeUnderflow { t, dt } = err else {
        panic!("expected an underflow, got {err:?}");
    };
    assert!(t > 0.9 && t < 1.0 && dt.abs() < 1e-6, "{err:?}");
    assert!(err.to_string().contains("t = 0.9"), "{err}");
}

/// A field that returns NaN after t = 0.5: a non-finite state with the time, for adaptive and
/// fixed steps — never a hang.
fn non_finite_state_is_an_error<B: AutodiffBackend>(device: &B::Device) {
    let field = |t: f64, y: Tensor<B, 2>| if t > 0.5 { y.mul_scalar(f64::NAN) } else { y };
    let err = solve(
        &field,
        Tensor::ones([1, 1], device),
        0.0,
        1.0,
        &SolveOptions::new(),
    )
    .unwrap_err();
    match err {
        OdeError::NonFinite { t, t_next } => assert!(t <= 0.5 && t_next > 0.5, "{err:?}"),
        other => panic!("expected NonFinite, got {other:?}"),
    }
    let options = SolveOptions::new()
        .with_solver(Solver::Rk4)
        .with_dt(Some(0.1));
    let err = solve(&field, Tensor::ones([1, 1], device), 0.0, 1.0, &options).unwrap_err();
    match &err {
        OdeError::NonFinite { t, t_next } => {
            assert!(
                (*t - 0.4).abs() < 1e-9 && (*t_next - 0.5).abs() < 1e-9 || (*t - 0.5).abs() < 1e-9,
                "{err:?}"
            )
        }
        other => panic!("expected NonFinite, got {other:?}"),
    }
    assert!(err.to_string().contains("non-finite"), "{err}");
}

fn bad_options_name_the_field<B: AutodiffBackend>(device: &B::Device) {
    let field = |_t: f64, y: Tensor<B, 2>| y;
    let y0 = || Tensor::<B, 2>::ones([1, 1], device);
    let cases: Vec<(SolveOptions, &str)> = vec![
        (
            SolveOptions::new().with_rtol(0.0),
            "SolveOptions.rtol = 0: must be a finite number > 0",
        ),
        (
            SolveOptions::new().with_atol(-1.0),
            "SolveOptions.atol = -1: must be a finite number > 0",
        ),
        (
            SolveOptions::new().with_dt(Some(f64::NAN)),
            "SolveOptions.dt = NaN",
        ),
        (
            SolveOptions::new().with_max_steps(0),
            "SolveOptions.max_steps = 0",
        ),
        (
            SolveOptions::new().with_solver(Solver::Rk4),
            "solver = Rk4 is a fixed-step solver and dt is not set",
        ),
        (
            SolveOptions::new().with_controller(PiController::new().with_safety(1.5)),
            "PiController.safety = 1.5: must be in (0, 1]",
        ),
    ];
    for (options, message) in cases {
        let err = solve(&field, y0(), 0.0, 1.0, &options).unwrap_err();
        assert!(matches!(
            err,
            OdeError::Config(
                ConfigError::OutOfRange { .. }
                    | ConfigError::ZeroSize { .. }
                    | ConfigError::Inconsistent { .. }
            )
        ));
        assert!(
            err.to_string().contains(message),
            "`{err}` does not contain `{message}`"
        );
    }
    let bad_times = [
        (
            SaveAt::Times(vec![0.5, 1.5]),
            "SaveAt::Times[1] = 1.5 lies outside the span [0, 1]",
        ),
        (SaveAt::Times(vec![0.5, 0.2]), "must be strictly increasing"),
        (SaveAt::Times(vec![]), "SaveAt::Times is empty"),
    ];
    for (save, message) in bad_times {
        let err = solve(
            &field,
            y0(),
            0.0,
            1.0,
            &SolveOptions::new().with_save_at(save),
        )
        .unwrap_err();
        assert!(matches!(err, OdeError::InvalidTimes(_)), "{err:?}");
        assert!(
            err.to_string().contains(message),
            "`{err}` does not contain `{message}`"
        );
    }
    let err = solve(&field, y0(), 0.0, f64::INFINITY, &SolveOptions::new()).unwrap_err();
    assert!(err.to_string().contains("must be finite"), "{err}");
}

/// Random solver inputs (fuzzing, 3,000 cases): any solver; `dt`, `dt0`, `dt_min`, `dt_max`,
/// `rtol`, `atol` and the controller's coefficients drawn from ordinary values, zero,
/// negatives, 1e-300, 1e300, NaN and infinity; `max_steps` 0–120; save times inside and
/// outside the span; spans reversed, empty, tiny, huge or not finite; fields that decay
/// stiffly, grow, blow up in finite time, turn NaN or infinite part-way, or oscillate fast; a
/// quarter of the cases through the adjoint (forward and backward). Every case returns within
/// its `max_steps`: either a solution whose times and states are finite, inside the span and
/// as many as asked for, or a typed [`OdeError`] with a message — never a panic. Invalid
/// options are always [`OdeError::Config`].
fn random_solver_inputs_fail_cleanly<B: AutodiffBackend>(device: &B::Device) {
    use ltc_testing::Rng;
    use std::panic::{AssertUnwindSafe, catch_unwind};

    const CASES: u64 = 3000;
    let special = [
        0.0,
        -1.0,
        1e-300,
        1e300,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MIN_POSITIVE,
    ];
    // A number: usually log-uniform in [1e-12, 1e3), sometimes a special value.
    let number = |rng: &mut Rng| {
        if rng.next() < 0.06 {
            rng.pick(&special)
        } else {
            10f64.powf(-12.0 + 15.0 * rng.next())
        }
    };
    let time = |rng: &mut Rng| {
        if rng.next() < 0.15 {
            rng.pick(&special)
        } else {
            rng.pick(&[-1.0, 1.0, 10.0, 1e6]) * rng.next()
        }
    };
    let mut outcomes = std::collections::BTreeMap::<&str, usize>::new();
    for case in 0..CASES {
        let mut rng = Rng(case);
        let solver = rng.pick(&Solver::ALL);
        let fixed = !solver.is_adaptive() || rng.next() < 0.2;
        let mut controller = PiController::new();
        if rng.next() < 0.15 {
            controller = controller
                .with_pcoeff(rng.pick(&[0.0, 0.4, -0.1, f64::NAN]))
                .with_icoeff(rng.pick(&[1.0, 0.3, 0.0, 1e300]))
                .with_safety(rng.pick(&[0.9, 1.0, 1e-300, 1.5]))
                .with_factor_min(rng.pick(&[0.2, 1.0, 1e-300, 0.0]))
                .with_factor_max(rng.pick(&[10.0, 1.0, 1e300, f64::INFINITY]))
                .with_shrink_after_accept(rng.next() < 0.5);
        }
        let (t0, t1) = if rng.next() < 0.1 {
            let t = time(&mut rng);
            (t, t)
        } else {
            (time(&mut rng), time(&mut rng))
        };
        let save_at = match rng.below(3) {
            0 => SaveAt::Final,
            1 => SaveAt::Steps,
            _ => {
                let mut ts: Vec<f64> = (0..rng.below(6))
                    .map(|_| t0 + (t1 - t0) * (1.2 * rng.next() - 0.1))
                    .collect();
                if rng.next() < 0.8 {
                    ts.sort_by(f64::total_cmp);
                    if t1 < t0 {
                        ts.reverse();
                    }
                    ts.dedup();
                }
                SaveAt::Times(ts)
            }
        };
        let options = SolveOptions::new()
            .with_solver(solver)
            .with_dt(fixed.then(|| number(&mut rng)))
            .with_rtol(number(&mut rng))
            .with_atol(number(&mut rng))
            .with_dt0((rng.next() < 0.3).then(|| number(&mut rng)))
            .with_dt_min(if rng.next() < 0.7 {
                0.0
            } else {
                number(&mut rng)
            })
            .with_dt_max((rng.next() < 0.3).then(|| number(&mut rng)))
            .with_max_steps(rng.below(121))
            .with_controller(controller)
            .with_save_at(save_at);
        let kind = rng.below(6);
        let rate = 10f64.powf(-2.0 + 10.0 * rng.next());
        let t_bad = time(&mut rng);
        let field = move |t: f64, y: Tensor<B, 2>| match kind {
            0 => y.mul_scalar(-rate),
            1 => y.mul_scalar(rate),
            2 => y.powi_scalar(2).mul_scalar(rate),
            3 if t > t_bad => y.mul_scalar(f64::NAN),
            4 if t > t_bad => y.mul_scalar(f64::INFINITY),
            5 => y.mul_scalar((rate * t).sin()),
            _ => y.neg(),
        };
        let y0 = tensor::<B, 2>(&[1.0, -0.5, 0.25, 2.0], [2, 2], device);
        let adjoint = rng.next() < 0.25;
        let what = format!(
            "case {case}: t0 = {t0}, t1 = {t1}, field {kind} (rate {rate}, t_bad {t_bad}), \
             adjoint {adjoint}, {options:?}"
        );
        let run = catch_unwind(AssertUnwindSafe(|| {
            if adjoint {
                let spiral = Spiral::<B>::new(&[-rate.min(1e3), 2.0, -2.0, -0.1], device);
                let forward = solve_adjoint(&spiral, y0.clone(), t0, t1, &options)?;
                let (ts, ys) = (forward.solution.ts.clone(), forward.solution.ys.clone());
                let grads = forward.last().sum().backward();
                forward.backward(&grads)?;
                Ok((ts, ys))
            } else {
                solve(&field, y0.clone(), t0, t1, &options).map(|sol| (sol.ts, sol.ys))
            }
        }));
        let result = run.unwrap_or_else(|_| panic!("panicked: {what}"));
        match result {
            Ok((ts, ys)) => {
                *outcomes.entry("solved").or_default() += 1;
                assert!(options.validate().is_ok(), "invalid options solved: {what}");
                assert_eq!(ts.len(), ys.len(), "{what}");
                let (lo, hi) = (t0.min(t1), t0.max(t1));
                for (t, y) in ts.iter().zip(ys) {
                    assert!(t.is_finite() && *t >= lo && *t <= hi, "t = {t}: {what}");
                    let v = values(y);
                    assert!(v.iter().all(|v| v.is_finite()), "state {v:?}: {what}");
                }
                if let SaveAt::Times(want) = &options.save_at {
                    assert_eq!(&ts, want, "{what}");
                }
            }
            Err(err) => {
                assert!(!err.to_string().is_empty(), "{what}");
                let name = match err {
                    OdeError::Config(_) => "Config",
                    OdeError::InvalidTimes(_) => "InvalidTimes",
                    OdeError::MaxStepsReached { .. } => "MaxStepsReached",
                    OdeError::StepSizeUnderflow { .. } => "StepSizeUnderflow",
                    OdeError::NonFinite { .. } => "NonFinite",
                    OdeError::EventNotDifferentiable { .. } => "EventNotDifferentiable",
                    OdeError::NewtonFailed { .. } => "NewtonFailed",
                };
                if options.validate().is_err() {
                    assert_eq!(name, "Config", "invalid options gave {err:?}: {what}");
                }
                *outcomes.entry(name).or_default() += 1;
            }
        }
    }
    // Every outcome is exercised.
    for name in [
        "solved",
        "Config",
        "InvalidTimes",
        "MaxStepsReached",
        "StepSizeUnderflow",
        "NonFinite",
    ] {
        assert!(
            outcomes.get(name).copied().unwrap_or(0) >= 10,
            "{name} came up too rarely: {outcomes:?}"
        );
    }
    eprintln!("{CASES} random solves: {outcomes:?}");
}

#[allow(clippy::needless_pass_by_value)]
fn wrong_field_shape_panics<B: AutodiffBackend>(device: &B::Device) {
    let field = |_t: f64, y: Tensor<B, 2>| y.narrow(1, 0, 1);
    let _ = solve(
        &field,
        Tensor::ones([2, 3], device),
        0.0,
        1.0,
        &SolveOptions::new(),
    );
}

// ---------------------------------------------------------------------------------------------
// Every backend

/// Every solver on every backend: a 2-D rotation to t = 1 within the single-precision
/// tolerance, with the expected step counts.
fn every_solver_runs<B: AutodiffBackend>(device: &B::Device) {
    let field = |_t: f64, y: Tensor<B, 2>| {
        let x = y.clone().narrow(1, 0, 1);
        let v = y.narrow(1, 1, 1);
        Tensor::cat(vec![v, -x], 1)
    };
    let want = [1f64.cos(), -1f64.sin(), 2.0 * 1f64.cos(), -2.0 * 1f64.sin()];
    for solver in Solver::ALL {
        let options = SolveOptions::new()
            .with_solver(solver)
            .with_dt((!solver.is_adaptive()).then_some(0.01))
            .with_rtol(1e-5)
            .with_atol(1e-6);
        let y0 = tensor::<B, 2>(&[1.0, 0.0, 2.0, 0.0], [2, 2], device);
        let sol = solve(&field, y0, 0.0, 1.0, &options).unwrap();
        let tol = if solver == Solver::Euler { 2e-2 } else { 1e-4 };
        assert_close(&format!("{solver:?}"), &values(sol.last()), &want, tol, 0.0);
        if !solver.is_adaptive() {
            assert_eq!(sol.stats.accepted, 100, "{solver:?}");
        }
    }
}

/// NeuralOde on every backend: augmentation, the trajectory's first state is the padded input,
/// and gradients reach the field (backprop) and agree with the adjoint's to single precision.
fn neural_ode_smoke<B: AutodiffBackend>(device: &B::Device) {
    let field = MlpFieldConfig::new(3, 8).init::<B>(device).unwrap();
    let ode = NeuralOdeConfig::new()
        .with_options(SolveOptions::new().with_rtol(1e-5).with_atol(1e-6))
        .with_augment(1)
        .init(field)
        .unwrap();
    let xv = numbers(8, 9, -1.0, 1.0);
    let x = tensor::<B, 2>(&xv, [4, 2], device);
    let t_span = [0.0, 0.25, 1.0];
    let out = ode.forward(x.clone(), &t_span).unwrap();
    assert_eq!(out.trajectory.dims(), [3, 4, 3]);
    let first = values(out.trajectory.clone().narrow(0, 0, 1).reshape([4, 3]));
    let padded: Vec<f64> = xv.chunks(2).flat_map(|r| [r[0], r[1], 0.0]).collect();
    assert_close("trajectory[0]", &first, &padded, 0.0, 1e-7);
    assert_close(
        "last",
        &values(out.last.clone()),
        &values(out.trajectory.clone().narrow(0, 2, 1).reshape([4, 3])),
        0.0,
        0.0,
    );
    let grads = out.last.powi_scalar(2).sum().backward();
    let direct = values(ode.field.layers[0].weight.grad(&grads).unwrap());
    let adjoint = ode.forward_adjoint(x, &t_span).unwrap();
    let grads = adjoint.output.last.clone().powi_scalar(2).sum().backward();
    let sweep = adjoint.backward(&grads).unwrap();
    let via_adjoint = values(
        sweep
            .params
            .get::<B::InnerBackend, 2>(ode.field.layers[0].weight.id)
            .unwrap(),
    );
    let scale = direct.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert_close(
        "adjoint vs backprop",
        &via_adjoint,
        &direct,
        1e-3 * scale.max(1.0),
        0.0,
    );
}

/// The LTC vector field on every backend: Dopri5 on it lands close to the cell's own step with
/// many unfolds.
fn ltc_field_smoke<B: AutodiffBackend>(device: &B::Device) {
    use crate::ltc::LtcCellConfig;
    let wiring = ltc_wirings::FullyConnected::new(4).build(2).unwrap();
    ltc_testing::seed::<B>(device, 6);
    let mut cell = LtcCellConfig::new(wiring).init::<B>(device).unwrap();
    let x = tensor::<B, 2>(&[0.5, -0.5, 1.0, 0.0], [2, 2], device);
    let v0 = Tensor::<B, 2>::zeros([2, 4], device);
    let sol = solve(
        &cell.vector_field(x.clone()),
        v0.clone(),
        0.0,
        1.0,
        &SolveOptions::new().with_rtol(1e-6).with_atol(1e-7),
    )
    .unwrap();
    let exact = values(sol.last());
    // The cell's semi-implicit Euler unfold is a first-order method: its distance from the
    // Dopri5 solution of the same field must be small and halve when the unfolds double.
    let mut errors = Vec::new();
    for unfolds in [100, 200] {
        cell.ode_unfolds = unfolds;
        let (_, fused) = cell.forward(x.clone(), v0.clone(), None);
        let error = values(fused)
            .iter()
            .zip(&exact)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        errors.push(error);
    }
    assert!(
        errors[1] < 1e-2,
        "200 unfolds are {} from Dopri5",
        errors[1]
    );
    let ratio = errors[0] / errors[1];
    assert!(
        (1.6..2.5).contains(&ratio),
        "doubling the unfolds divided the error by {ratio} (errors {errors:?}), not ~2"
    );
}

/// Options round-trip through JSON (so a NeuralOdeConfig in a saved config.json restores).
fn options_round_trip<B: AutodiffBackend>(_device: &B::Device) {
    use burn::config::Config;
    let config = NeuralOdeConfig::new()
        .with_options(
            SolveOptions::new()
                .with_solver(Solver::Tsit5)
                .with_rtol(1e-4)
                .with_save_at(SaveAt::Times(vec![0.0, 1.0]))
                .with_controller(PiController::new().with_pcoeff(0.4)),
        )
        .with_augment(2)
        .with_adjoint(Adjoint::Checkpointed(3));
    let json = serde_json::to_string(&config).unwrap();
    let back = NeuralOdeConfig::load_binary(json.as_bytes()).unwrap();
    assert_eq!(back.options, config.options);
    assert_eq!(back.augment, 2);
    assert_eq!(back.adjoint, Adjoint::Checkpointed(3));
}

backend_tests! {
    every_solver_runs,
    neural_ode_smoke,
    ltc_field_smoke,
    euler_makes_exactly_ten_steps,
    max_steps_is_an_error,
    non_finite_state_is_an_error,
    bad_options_name_the_field,
    options_round_trip,
    #[should_panic(expected = "the vector field returned shape [2, 1] for a state of shape [2, 3]")]
    wrong_field_shape_panics,
    #[should_panic(expected = "the event function returned shape [2]: g(t, y) must be a one-element tensor")]
    event_of_wrong_shape_panics,
}

f64_tests! {
    convergence_order,
    torchdiffeq_problems_at_default_tolerances,
    dense_output_is_exact_and_free,
    reverse_time_is_symmetric,
    pi_controller_meets_tolerance,
    backprop_gradients_match_finite_differences,
    adjoint_matches_backprop_on_the_spiral,
    adjoint_inside_a_larger_model,
    checkpointed_adjoint_equals_backprop,
    bouncing_ball_event_time_and_gradients,
    event_time_gradient_matches_finite_differences,
    stiff_problems_against_scipy,
    radau_gradients,
    stiff_neural_ode_trains,
    ltc_fused_solver_converges_to_dopri5,
    step_size_underflow_is_an_error,
    random_solver_inputs_fail_cleanly,
}

/// On ndarray the solve runs on the compute pool, so that burn-ndarray's matmuls start on a
/// rayon worker instead of handing off to the pool one by one (BENCHMARKS.md, "The compute
/// pool"): every evaluation of a solve called from a plain thread happens on a worker.
#[test]
fn ndarray_solves_run_on_the_compute_pool() {
    use core::sync::atomic::{AtomicUsize, Ordering};
    type B = burn::backend::NdArray<f32>;
    let (on_pool, off_pool) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let field = |_t: f64, y: Tensor<B, 2>| {
        let counter = if rayon::current_thread_index().is_some() {
            &on_pool
        } else {
            &off_pool
        };
        counter.fetch_add(1, Ordering::Relaxed);
        -y
    };
    assert!(rayon::current_thread_index().is_none(), "a test thread");
    let y0 = Tensor::<B, 2>::ones([3, 2], &Default::default());
    for per_sample in [false, true] {
        let options = SolveOptions::new().with_per_sample(per_sample);
        solve(&field, y0.clone(), 0.0, 1.0, &options).unwrap();
    }
    assert!(on_pool.load(Ordering::Relaxed) > 0);
    assert_eq!(
        off_pool.load(Ordering::Relaxed),
        0,
        "evaluations off the pool"
    );
}
