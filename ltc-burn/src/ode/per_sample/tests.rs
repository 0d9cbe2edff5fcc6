//! Per-sample step control: each sample equals its solo solve (values, save times, step
//! counts), gradients equal the solo solves' gradients, the adjoint works with it, a mixed
//! batch costs fewer evaluations than joint control, and bad options fail with the remedy.

use burn::module::Module;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};
use ltc_testing::{assert_close, backend_tests, f64_tests, numbers, param_grads, tensor, values};

use burn::optim::GradientsParams;

use crate::ConfigError;
use crate::ode::tests::Compare;
use crate::ode::{
    Autonomous, MlpFieldConfig, OdeError, SaveAt, SolveOptions, Solver, Stats, VectorField, solve,
    solve_adjoint, solve_event,
};

/// `y' = −k·y` with a rate per sample (`[batch, 1]`), picking its rows by sample.
struct Decay<B: Backend> {
    rates: Tensor<B, 2>,
}

impl<B: Backend> VectorField<B, 2> for Decay<B> {
    fn eval(&self, _t: f64, y: Tensor<B, 2>) -> Tensor<B, 2> {
        -y * self.rates.clone()
    }

    fn eval_per_sample(&self, _t: &[f64], samples: &[usize], y: Tensor<B, 2>) -> Tensor<B, 2> {
        let rows: Vec<i64> = samples.iter().map(|&s| s as i64).collect();
        let rows =
            Tensor::<B, 1, Int>::from_data(TensorData::new(rows, [samples.len()]), &y.device());
        -y * self.rates.clone().select(0, rows)
    }
}

/// Two lists of saved states equal to rounding (1e-12 absolute, 1e-10 relative).
fn same_states<B: Backend>(label: &str, a: &[Tensor<B, 2>], b: &[Tensor<B, 2>]) {
    assert_eq!(
        a.len(),
        b.len(),
        "{label}: {} vs {} states",
        a.len(),
        b.len()
    );
    for (a, b) in a.iter().zip(b) {
        assert_close(label, &values(a.clone()), &values(b.clone()), 1e-12, 1e-10);
    }
}

/// Row `i` of a `[batch, width]` tensor.
fn row<B: Backend>(x: &Tensor<B, 2>, i: usize) -> Tensor<B, 2> {
    x.clone().narrow(0, i, 1)
}

/// Five samples of a time-dependent MLP field (time as an input column, so one call per
/// stage), each with its own save times: every row equals its solo solve to rounding, and
/// takes exactly the solo solve's steps. Then the default `eval_per_sample` (a closure,
/// grouped by time) gives the same.
fn per_sample_equals_solo_solves<B: AutodiffBackend>(device: &B::Device) {
    ltc_testing::seed::<B>(device, 11);
    let field = MlpFieldConfig::new(2, 16)
        .with_time_input(true)
        .init::<B::InnerBackend>(device)
        .unwrap();
    // Amplitudes from 0.05 to 4: different step counts per sample.
    let scales = [0.05, 0.5, 1.0, 2.0, 4.0];
    let raw = numbers(10, 3, -1.0, 1.0);
    let y0v: Vec<f64> = (0..10).map(|k| raw[k] * scales[k / 2]).collect();
    let y0 = tensor::<B::InnerBackend, 2>(&y0v, [5, 2], device);
    let times: Vec<Vec<f64>> = (0..5)
        .map(|i| vec![0.0, 0.3 + 0.2 * i as f64, 1.5 + 0.1 * i as f64, 2.0])
        .collect();
    for solver in [Solver::Dopri5, Solver::Tsit5, Solver::Bosh3] {
        let options = SolveOptions::new()
            .with_solver(solver)
            .with_rtol(1e-6)
            .with_atol(1e-8)
            .with_per_sample(true)
            .with_save_at(SaveAt::TimesPerSample(times.clone()));
        let batch = solve(&field, y0.clone(), 0.0, 2.0, &options).unwrap();
        let per_sample = batch.per_sample.clone().expect("per-sample statistics");
        assert_eq!(per_sample.ts, times);
        assert_eq!(batch.ys.len(), 4);
        let mut total = Stats::default();
        let mut steps = Vec::new();
        for (i, own) in times.iter().enumerate() {
            let solo_options = SolveOptions::new()
                .with_solver(solver)
                .with_rtol(1e-6)
                .with_atol(1e-8)
                .with_save_at(SaveAt::Times(own.clone()));
            let solo = solve(&field, row(&y0, i), 0.0, 2.0, &solo_options).unwrap();
            assert_eq!(
                per_sample.stats[i], solo.stats,
                "{solver:?}: sample {i}'s steps differ from its solo solve's"
            );
            for (j, y) in solo.ys.iter().enumerate() {
                assert_close(
                    &format!("{solver:?} sample {i} at t = {}", own[j]),
                    &values(row(&batch.ys[j], i)),
                    &values(y.clone()),
                    1e-12,
                    1e-10,
                );
            }
            total += solo.stats;
            steps.push(solo.stats.steps());
        }
        assert_eq!(batch.stats, total);
        assert_eq!(batch.sample_evaluations(), total.nfe);
        // The samples really differ (else the test proves little).
        assert!(
            steps.iter().max() > steps.iter().min(),
            "{solver:?}: {steps:?}"
        );
        // Fewer calls than evaluations: rows share calls.
        assert!(per_sample.calls < total.nfe);
    }
    // The default eval_per_sample (one call per distinct time) agrees with the column field.
    let options = SolveOptions::new()
        .with_rtol(1e-6)
        .with_atol(1e-8)
        .with_per_sample(true)
        .with_save_at(SaveAt::TimesPerSample(times.clone()));
    let by_column = solve(&field, y0.clone(), 0.0, 2.0, &options).unwrap();
    let closure = |t: f64, y: Tensor<B::InnerBackend, 2>| field.eval(t, y);
    let grouped = solve(&closure, y0, 0.0, 2.0, &options).unwrap();
    assert_eq!(grouped.per_sample, by_column.per_sample);
    same_states("grouped vs column", &grouped.ys, &by_column.ys);
}

/// Back-propagation through a per-sample solve gives each sample's solo gradients: `∂L/∂y0`
/// row by row, and the parameters' gradient as the sum over the solo solves.
fn per_sample_gradients_equal_solo_gradients<B: AutodiffBackend>(device: &B::Device) {
    ltc_testing::seed::<B>(device, 12);
    let field = MlpFieldConfig::new(2, 8)
        .with_time_input(true)
        .init::<B>(device)
        .unwrap();
    let y0v = [0.1, -0.05, 1.5, 0.7, -3.0, 2.0];
    let w = numbers(6, 5, -1.0, 1.0);
    let times = vec![vec![0.5, 1.0], vec![0.2, 1.0], vec![0.9, 1.0]];
    let options = SolveOptions::new()
        .with_rtol(1e-7)
        .with_atol(1e-9)
        .with_per_sample(true)
        .with_save_at(SaveAt::TimesPerSample(times.clone()));
    let y0 = tensor::<B, 2>(&y0v, [3, 2], device).require_grad();
    let sol = solve(&field, y0.clone(), 0.0, 1.0, &options).unwrap();
    let weights = tensor::<B, 2>(&w, [3, 2], device);
    let loss = (sol.ys[0].clone() * weights.clone()).sum() + sol.ys[1].clone().powi_scalar(2).sum();
    let grads = loss.backward();
    let batch_y0 = values(y0.grad(&grads).unwrap());
    let batch_params = param_grads(&field, &grads);

    let mut solo_y0 = Vec::new();
    let mut solo_params: Vec<Vec<f64>> = Vec::new();
    for (i, own) in times.iter().enumerate() {
        let field = field.clone().fork(device);
        let x = tensor::<B, 2>(&y0v[2 * i..2 * i + 2], [1, 2], device).require_grad();
        let solo_options = SolveOptions::new()
            .with_rtol(1e-7)
            .with_atol(1e-9)
            .with_save_at(SaveAt::Times(own.clone()));
        let solo = solve(&field, x.clone(), 0.0, 1.0, &solo_options).unwrap();
        let loss =
            (solo.ys[0].clone() * row(&weights, i)).sum() + solo.ys[1].clone().powi_scalar(2).sum();
        let grads = loss.backward();
        solo_y0.extend(values(x.grad(&grads).unwrap()));
        for (k, g) in param_grads(&field, &grads).into_iter().enumerate() {
            match solo_params.get_mut(k) {
                Some(sum) => sum.iter_mut().zip(g).for_each(|(s, g)| *s += g),
                None => solo_params.push(g),
            }
        }
    }
    assert_close(
        "∂L/∂y0 per sample vs solo",
        &batch_y0,
        &solo_y0,
        1e-11,
        1e-9,
    );
    assert_eq!(batch_params.len(), solo_params.len());
    for (b, s) in batch_params.iter().zip(&solo_params) {
        assert!(!b.is_empty());
        assert_close("∂L/∂θ per sample vs Σ solo", b, s, 1e-11, 1e-9);
    }
}

/// The adjoint of a per-sample forward solve (its backward sweep under joint control) agrees
/// with back-propagation through the per-sample solve.
fn per_sample_adjoint_matches_backprop<B: AutodiffBackend>(device: &B::Device) {
    ltc_testing::seed::<B>(device, 13);
    let field = MlpFieldConfig::new(2, 8).init::<B>(device).unwrap();
    let y0v = [0.1, -0.05, 1.5, 0.7, -3.0, 2.0];
    let options = SolveOptions::new()
        .with_rtol(1e-9)
        .with_atol(1e-11)
        .with_per_sample(true)
        .with_save_at(SaveAt::Times(vec![0.5, 1.0]));
    let y0 = tensor::<B, 2>(&y0v, [3, 2], device).require_grad();
    let direct = solve(&field, y0.clone(), 0.0, 1.0, &options).unwrap();
    let loss = |ys: &[Tensor<B, 2>]| ys[0].clone().sum() + ys[1].clone().powi_scalar(2).sum();
    let grads = loss(&direct.ys).backward();
    let direct_y0 = values(y0.grad(&grads).unwrap());
    let direct_params = GradientsParams::from_grads(grads, &field);

    let forward = solve_adjoint(
        &field,
        tensor::<B, 2>(&y0v, [3, 2], device),
        0.0,
        1.0,
        &options,
    )
    .unwrap();
    assert!(forward.solution.per_sample.is_some());
    same_states("adjoint's forward", &forward.solution.ys, &direct.ys);
    let grads = loss(&forward.solution.ys).backward();
    let adjoint = forward.backward(&grads).unwrap();
    assert_close(
        "∂L/∂y0 adjoint vs backprop",
        &values(adjoint.y0),
        &direct_y0,
        1e-6,
        1e-6,
    );
    let mut compare = Compare {
        direct: &direct_params,
        adjoint: &adjoint.params,
        tolerance: (1e-6, 1e-6),
        compared: 0,
    };
    field.visit(&mut compare);
    assert_eq!(compare.compared, 4);
}

/// Decay rates 1 and 1000 in one batch: the stiff samples hold an explicit solver to small
/// steps. Joint control steps every sample at their pace; per-sample control lets the smooth
/// ones finish in a few steps. Reports both counts.
fn per_sample_saves_evaluations_on_mixed_stiffness<B: AutodiffBackend>(device: &B::Device) {
    for rates in [
        vec![1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1000.0, 1000.0],
        vec![1.0, 1000.0, 1.0, 1000.0],
    ] {
        let n = rates.len();
        let field = Decay::<B::InnerBackend> {
            rates: tensor(&rates, [n, 1], device),
        };
        let y0 = Tensor::<B::InnerBackend, 2>::ones([n, 1], device);
        let joint = SolveOptions::new().with_rtol(1e-6).with_atol(1e-9);
        let own = joint.clone().with_per_sample(true);
        let a = solve(&field, y0.clone(), 0.0, 1.0, &joint).unwrap();
        let b = solve(&field, y0, 0.0, 1.0, &own).unwrap();
        for (i, (ya, yb)) in values(a.last()).iter().zip(values(b.last())).enumerate() {
            let exact = (-rates[i]).exp();
            assert!(
                (ya - exact).abs() < 1e-5 && (yb - exact).abs() < 1e-5,
                "sample {i}"
            );
        }
        let (ja, jb) = (a.sample_evaluations(), b.sample_evaluations());
        println!(
            "rates {rates:?}: joint {ja} sample-evaluations ({} steps), per-sample {jb} ({:.2}x fewer)",
            a.stats.steps(),
            ja as f64 / jb as f64
        );
        let stiff_share = rates.iter().filter(|&&r| r > 1.0).count() as f64 / n as f64;
        if stiff_share <= 0.25 {
            assert!(2 * jb <= ja, "per-sample {jb} vs joint {ja}");
        } else {
            assert!(jb < ja, "per-sample {jb} vs joint {ja}");
        }
    }
}

/// Every backend: per-sample saving at own times agrees with joint solves of each sample
/// (the row selections, masks and index tensors run on the device).
fn per_sample_runs_on_every_backend<B: AutodiffBackend>(device: &B::Device) {
    let field = Autonomous(|_t: f64, y: Tensor<B, 2>| -y.powi_scalar(3));
    let y0v = [0.1, 10.0, 1.0];
    let y0 = tensor::<B, 2>(&y0v, [3, 1], device);
    let times = vec![vec![0.5, 1.0], vec![0.25, 1.0], vec![0.0, 0.75]];
    let options = SolveOptions::new()
        .with_rtol(1e-5)
        .with_atol(1e-7)
        .with_per_sample(true)
        .with_save_at(SaveAt::TimesPerSample(times.clone()));
    let sol = solve(&field, y0, 0.0, 1.0, &options).unwrap();
    for (j, y) in sol.ys.iter().enumerate() {
        let y = values(y.clone());
        for i in 0..3 {
            let exact = y0v[i] / (1.0 + 2.0 * y0v[i] * y0v[i] * times[i][j]).sqrt();
            assert!(
                (y[i] - exact).abs() < 1e-4,
                "sample {i} at {}: {} vs {exact}",
                times[i][j],
                y[i]
            );
        }
    }
}

/// What per-sample control cannot do fails before any work, naming the fix.
fn per_sample_options_fail_cleanly<B: AutodiffBackend>(device: &B::Device) {
    let field = |_t: f64, y: Tensor<B, 2>| -y;
    let y0 = || Tensor::<B, 2>::ones([2, 1], device);
    let config = |options: SolveOptions, message: &str| {
        let err = solve(&field, y0(), 0.0, 1.0, &options).unwrap_err();
        assert!(
            matches!(err, OdeError::Config(ConfigError::Inconsistent { .. }))
                && err.to_string().contains(message),
            "{err}"
        );
    };
    config(
        SolveOptions::new()
            .with_solver(Solver::Rk4)
            .with_dt(Some(0.1))
            .with_per_sample(true),
        "per_sample = true needs its own step control",
    );
    config(
        SolveOptions::new()
            .with_solver(Solver::Radau5)
            .with_per_sample(true),
        "per_sample = true needs its own step control",
    );
    config(
        SolveOptions::new()
            .with_per_sample(true)
            .with_save_at(SaveAt::Steps),
        "per_sample = true with SaveAt::Steps",
    );
    config(
        SolveOptions::new().with_save_at(SaveAt::TimesPerSample(vec![vec![1.0], vec![1.0]])),
        "SaveAt::TimesPerSample needs per_sample = true",
    );
    let times = |rows: Vec<Vec<f64>>| {
        let options = SolveOptions::new()
            .with_per_sample(true)
            .with_save_at(SaveAt::TimesPerSample(rows));
        solve(&field, y0(), 0.0, 1.0, &options)
            .unwrap_err()
            .to_string()
    };
    assert!(times(vec![vec![1.0]]).contains("1 rows for a batch of 2 samples"));
    assert!(times(vec![vec![1.0], vec![0.5, 1.0]]).contains("row 1 holds 2 times, row 0 holds 1"));
    assert!(
        times(vec![vec![1.0], vec![2.0]])
            .contains("sample 1: SaveAt::Times[0] = 2 lies outside the span")
    );
    let g = |_t: f64, y: Tensor<B, 2>| y.narrow(0, 0, 1).reshape([1]);
    let event = solve_event(
        &field,
        y0(),
        0.0,
        1.0,
        &SolveOptions::new().with_per_sample(true),
        &g,
    );
    assert!(
        event
            .unwrap_err()
            .to_string()
            .contains("events and the checkpointed adjoint need joint step control")
    );
}

fn per_sample_adjoint_rejects_own_times<B: AutodiffBackend>(device: &B::Device) {
    let field = MlpFieldConfig::new(1, 4).init::<B>(device).unwrap();
    let options = SolveOptions::new()
        .with_per_sample(true)
        .with_save_at(SaveAt::TimesPerSample(vec![vec![1.0], vec![0.5]]));
    let err = solve_adjoint(
        &field,
        Tensor::<B, 2>::ones([2, 1], device),
        0.0,
        1.0,
        &options,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("SaveAt::TimesPerSample with the adjoint"),
        "{err}"
    );
}

backend_tests! {
    per_sample_runs_on_every_backend,
    per_sample_options_fail_cleanly,
    per_sample_adjoint_rejects_own_times,
}

f64_tests! {
    per_sample_equals_solo_solves,
    per_sample_gradients_equal_solo_gradients,
    per_sample_adjoint_matches_backprop,
    per_sample_saves_evaluations_on_mixed_stiffness,
}
