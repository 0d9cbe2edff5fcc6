use super::*;

/// Order conditions for `weights` up to `order`: all conditions up to order 4, and two of
/// order 5's nine (`Σb·c⁴` and `Σb·a·a·a·c`).
fn order_conditions(t: &ButcherTableau, weights: &[f64], order: u32, tol: f64, name: &str) {
    let s = t.stages();
    let a = |i: usize, j: usize| t.a[i].get(j).copied().unwrap_or(0.0);
    let sum = |f: &dyn Fn(usize) -> f64| (0..s).map(f).sum::<f64>();
    let c = t.c;
    let mut checks: Vec<(&str, f64, f64)> = vec![("Σb = 1", sum(&|i| weights[i]), 1.0)];
    if order >= 2 {
        checks.push(("Σb·c = 1/2", sum(&|i| weights[i] * c[i]), 0.5));
    }
    if order >= 3 {
        checks.push(("Σb·c² = 1/3", sum(&|i| weights[i] * c[i] * c[i]), 1.0 / 3.0));
        checks.push((
            "Σb·a·c = 1/6",
            sum(&|i| weights[i] * sum(&|j| a(i, j) * c[j])),
            1.0 / 6.0,
        ));
    }
    if order >= 4 {
        checks.push(("Σb·c³ = 1/4", sum(&|i| weights[i] * c[i].powi(3)), 0.25));
        checks.push((
            "Σb·c·a·c = 1/8",
            sum(&|i| weights[i] * c[i] * sum(&|j| a(i, j) * c[j])),
            0.125,
        ));
        checks.push((
            "Σb·a·c² = 1/12",
            sum(&|i| weights[i] * sum(&|j| a(i, j) * c[j] * c[j])),
            1.0 / 12.0,
        ));
        checks.push((
            "Σb·a·a·c = 1/24",
            sum(&|i| weights[i] * sum(&|j| a(i, j) * sum(&|k| a(j, k) * c[k]))),
            1.0 / 24.0,
        ));
    }
    if order >= 5 {
        checks.push(("Σb·c⁴ = 1/5", sum(&|i| weights[i] * c[i].powi(4)), 0.2));
        checks.push((
            "Σb·a·a·a·c = 1/120",
            sum(&|i| weights[i] * sum(&|j| a(i, j) * sum(&|k| a(j, k) * sum(&|l| a(k, l) * c[l])))),
            1.0 / 120.0,
        ));
    }
    for (what, got, want) in checks {
        assert!(
            (got - want).abs() < tol,
            "{name}: {what}, got {got} (|Δ| = {:.1e})",
            (got - want).abs()
        );
    }
}

#[test]
fn tableau_invariants() {
    for solver in Solver::EXPLICIT {
        let t = solver.tableau().expect("an explicit solver");
        let s = t.stages();
        let name = format!("{solver:?}");
        assert_eq!(t.a.len(), s, "{name}: rows of a");
        assert_eq!(t.b.len(), s, "{name}: b");
        assert_eq!(t.c[0], 0.0, "{name}: c[0]");
        for (i, row) in t.a.iter().enumerate() {
            assert_eq!(
                row.len(),
                i,
                "{name}: row {i} of a is not strictly lower-triangular"
            );
            let sum: f64 = row.iter().sum();
            // Tsitouras's rows are given to ~16 digits.
            assert!(
                (sum - t.c[i]).abs() < 1e-13,
                "{name}: Σ a[{i}] = {sum} ≠ c = {}",
                t.c[i]
            );
        }
        // Solution order conditions (Tsit5's published digits: 1e-12).
        order_conditions(t, t.b, t.order, 1e-12, &name);
        if let Some(err) = t.b_err {
            assert_eq!(err.len(), s, "{name}: b_err");
            let sum: f64 = err.iter().sum();
            assert!(sum.abs() < 1e-13, "{name}: Σ b_err = {sum} ≠ 0");
            // The embedded method b̂ = b − b_err has order `order − 1`.
            let embedded: Vec<f64> = t.b.iter().zip(err).map(|(b, e)| b - e).collect();
            order_conditions(
                t,
                &embedded,
                t.order - 1,
                1e-12,
                &format!("{name} embedded"),
            );
            assert!(
                err.iter().any(|e| *e != 0.0),
                "{name}: the error estimate is 0"
            );
        }
        if let Some(mid) = t.b_mid {
            let sum: f64 = mid.iter().sum();
            assert!((sum - 0.5).abs() < 1e-12, "{name}: Σ b_mid = {sum} ≠ 1/2");
        }
        if t.fsal {
            assert_eq!(
                t.c[s - 1],
                1.0,
                "{name}: FSAL needs c = 1 for the last stage"
            );
            let last = t.a[s - 1];
            for (j, w) in last.iter().enumerate() {
                assert_eq!(*w, t.b[j], "{name}: FSAL needs the last row of a = b");
            }
            assert_eq!(t.b[s - 1], 0.0, "{name}: FSAL's last weight");
        }
        assert_eq!(solver.is_adaptive(), t.b_err.is_some());
    }
}

#[test]
fn solvers_serialise_by_name() {
    let json = serde_json::to_string(&Solver::Tsit5).unwrap();
    assert_eq!(json, "\"Tsit5\"");
    assert_eq!(
        serde_json::from_str::<Solver>("\"Rk4\"").unwrap(),
        Solver::Rk4
    );
    assert!(serde_json::from_str::<Solver>("\"Rk45\"").is_err());
}
