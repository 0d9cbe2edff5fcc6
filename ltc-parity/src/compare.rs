//! Comparing what ltc-burn computes with what the fixture holds: tolerances, one comparison
//! per quantity, one report per fixture and backend.

use crate::Array;

/// The comparison of one quantity (outputs, a gradient, ...).
#[derive(Debug, Clone)]
pub struct Comparison {
    /// What was compared, e.g. `grads/rnn_cell.w`.
    pub what: String,
    /// The largest absolute difference.
    pub max_abs: f64,
    /// The largest `|Δ| / (atol + rtol·|want|)`: at most 1 when within tolerance.
    pub worst: f64,
}

/// The result of one fixture on one backend.
#[derive(Debug, Clone)]
pub struct Report {
    /// The fixture's case name.
    pub case: String,
    /// Every comparison made (empty when the fixture failed to run).
    pub comparisons: Vec<Comparison>,
    /// Why the fixture could not be run (a schema error, an unknown model, a parameter the
    /// model and the fixture do not share).
    pub error: Option<String>,
}

impl Report {
    /// Ran, and within tolerance everywhere.
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.comparisons.iter().all(|c| c.worst <= 1.0)
    }

    fn max_abs(&self, prefix: &str) -> Option<f64> {
        self.comparisons
            .iter()
            .filter(|c| c.what.starts_with(prefix))
            .map(|c| c.max_abs)
            .reduce(f64::max)
    }

    /// The worst comparison.
    pub fn worst(&self) -> Option<&Comparison> {
        self.comparisons
            .iter()
            .max_by(|a, b| a.worst.total_cmp(&b.worst))
    }

    /// The table header matching [`row`](Self::row).
    pub fn header() -> String {
        format!(
            "{:<34} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}  result",
            "fixture", "outputs", "state", "loss", "grads", "d/dinput", "adam", "|Δ|/tol"
        )
    }

    /// One line: the largest absolute difference per group, the worst tolerance ratio and the
    /// verdict.
    pub fn row(&self) -> String {
        if let Some(error) = &self.error {
            return format!("{:<34} ERROR: {error}", self.case);
        }
        let cell = |prefix: &str| match self.max_abs(prefix) {
            Some(v) => format!("{v:>9.2e}"),
            None => format!("{:>9}", "-"),
        };
        let worst = self.worst();
        let verdict = match worst {
            Some(w) if w.worst > 1.0 => format!("FAIL ({} beyond tolerance)", w.what),
            _ => "ok".to_string(),
        };
        format!(
            "{:<34} {} {} {} {} {} {} {:>7.3}  {verdict}",
            self.case,
            cell("outputs"),
            cell("final_state"),
            cell("loss"),
            cell("grads/"),
            cell("grad_input"),
            cell("after_adam_step/"),
            worst.map_or(0.0, |w| w.worst),
        )
    }
}

/// Tolerances: `|got − want| ≤ atol + rtol·|want|`.
#[derive(Debug, Clone, Copy)]
pub struct Tolerance {
    /// Absolute part.
    pub atol: f64,
    /// Relative part.
    pub rtol: f64,
}

/// Against the float32 references (every quantity on every backend): 1e-5 absolute + 1e-4
/// relative.
pub const F32: Tolerance = Tolerance {
    atol: 1e-5,
    rtol: 1e-4,
};

/// Against the float64 references (`outputs_f64`, `loss_f64`) on a float64 backend: 1e-9
/// absolute.
pub const F64: Tolerance = Tolerance {
    atol: 1e-9,
    rtol: 0.0,
};

/// Against `loss_f64` (a sum over all outputs, so of a larger magnitude) on a float64 backend:
/// 1e-9 absolute + 1e-9 relative.
pub const F64_LOSS: Tolerance = Tolerance {
    atol: 1e-9,
    rtol: 1e-9,
};

pub(crate) fn compare(
    what: impl Into<String>,
    got: &Array,
    want: &Array,
    tol: Tolerance,
) -> Comparison {
    let what = what.into();
    if got.shape != want.shape || got.data.len() != want.data.len() {
        return Comparison {
            what: format!("{what} (shape {:?}, want {:?})", got.shape, want.shape),
            max_abs: f64::INFINITY,
            worst: f64::INFINITY,
        };
    }
    let (mut max_abs, mut worst) = (0.0f64, 0.0f64);
    for (g, w) in got.data.iter().zip(&want.data) {
        let d = (g - w).abs();
        let d = if d.is_nan() { f64::INFINITY } else { d };
        max_abs = max_abs.max(d);
        worst = worst.max(d / (tol.atol + tol.rtol * w.abs()));
    }
    Comparison {
        what,
        max_abs,
        worst,
    }
}
