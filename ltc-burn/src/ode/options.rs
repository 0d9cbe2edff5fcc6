//! What configures a solve: the solver, its step control ([`PiController`]) and what to keep
//! ([`SaveAt`]), in [`SolveOptions`].

use burn::config::Config;

use super::tableau::Solver;
use crate::error::{Check, ConfigError};

/// Which states a [`Solution`](super::Solution) keeps.
#[derive(Config, Debug, PartialEq)]
pub enum SaveAt {
    /// Only the state at the end of the span.
    Final,
    /// The states at these times, in the direction of integration and inside the span (the
    /// start may be included). Points between steps come from the solver's dense output
    /// (quartic for the adaptive solvers, cubic Hermite for the fixed-step ones); they never
    /// shorten a step.
    Times(Vec<f64>),
    /// The start and the end of every accepted step.
    Steps,
}

/// Step-size control for the adaptive solvers: a PI controller (Hairer & Wanner II §IV.2,
/// Söderlind 2002) in diffrax's parametrisation,
///
/// `factor = safety · r_n^(−(pcoeff + icoeff)/k) · r_{n−1}^(pcoeff/k)`, clipped to
/// `[factor_min, factor_max]`,
///
/// where `r_n` is this step's error ratio (≤ 1 accepts the step), `r_{n−1}` the last accepted
/// step's, and `k` the solver's order. The defaults are torchdiffeq's: a pure I controller
/// (`pcoeff = 0`, `icoeff = 1`), safety 0.9, factors 0.2 … 10, and no shrinking after an accepted
/// step — so that step counts compare fairly with torchdiffeq's. `pcoeff = 0.4, icoeff = 0.3`
/// is diffrax's suggestion for a smoother PI controller.
#[derive(Config, Debug, PartialEq)]
pub struct PiController {
    /// The proportional coefficient (0: an I controller).
    #[config(default = 0.0)]
    pub pcoeff: f64,
    /// The integral coefficient.
    #[config(default = 1.0)]
    pub icoeff: f64,
    /// The safety factor applied to the proposed step, in (0, 1].
    #[config(default = 0.9)]
    pub safety: f64,
    /// The smallest factor a step may shrink by, in (0, 1].
    #[config(default = 0.2)]
    pub factor_min: f64,
    /// The largest factor a step may grow by, ≥ 1.
    #[config(default = 10.0)]
    pub factor_max: f64,
    /// Allow a step to shrink after it was accepted (torchdiffeq and Hairer never do).
    #[config(default = false)]
    pub shrink_after_accept: bool,
}

impl PiController {
    fn validate(&self) -> Result<(), ConfigError> {
        let check = Check {
            config: "PiController",
        };
        check.non_negative("pcoeff", self.pcoeff)?;
        check.positive("icoeff", self.icoeff)?;
        check.positive("safety", self.safety)?;
        if self.safety > 1.0 {
            return Err(out_of_range(
                "PiController",
                "safety",
                self.safety,
                "in (0, 1]",
            ));
        }
        check.positive("factor_min", self.factor_min)?;
        if self.factor_min > 1.0 {
            return Err(out_of_range(
                "PiController",
                "factor_min",
                self.factor_min,
                "in (0, 1]",
            ));
        }
        if !(self.factor_max.is_finite() && self.factor_max >= 1.0) {
            return Err(out_of_range(
                "PiController",
                "factor_max",
                self.factor_max,
                "a finite number >= 1",
            ));
        }
        Ok(())
    }

    /// The factor for the next step from this step's error ratio `ratio` (accepted when ≤ 1),
    /// the last accepted one `previous`, and the solver's order.
    pub fn factor(&self, ratio: f64, previous: f64, order: u32) -> f64 {
        let accepted = ratio <= 1.0;
        if ratio == 0.0 {
            return self.factor_max;
        }
        let k = f64::from(order);
        let beta1 = (self.pcoeff + self.icoeff) / k;
        let beta2 = self.pcoeff / k;
        let mut factor = self.safety * ratio.powf(-beta1) * previous.max(1e-10).powf(beta2);
        let lower = if accepted && !self.shrink_after_accept {
            1.0
        } else {
            self.factor_min
        };
        factor = factor.clamp(lower, self.factor_max);
        if !accepted {
            // A rejected step always shrinks.
            factor = factor.min(self.safety);
        }
        factor
    }
}

fn out_of_range(
    config: &'static str,
    field: &'static str,
    value: f64,
    valid: &'static str,
) -> ConfigError {
    ConfigError::OutOfRange {
        config,
        field,
        value,
        valid,
    }
}

/// How [`solve`](super::solve) integrates: the solver, its step control and what to save. Every field has a
/// default (torchdiffeq's, where there is one): Dopri5, `rtol = 1e-7`, `atol = 1e-9`, automatic
/// first step, 4096 steps at most, the final state only.
#[derive(Config, Debug, PartialEq)]
pub struct SolveOptions {
    /// The Runge–Kutta method.
    #[config(default = "Solver::Dopri5")]
    pub solver: Solver,
    /// A constant step size. Required by the fixed-step solvers; an adaptive solver given one
    /// runs at that constant step without error control. The last step is shortened to land on
    /// the end of the span.
    pub dt: Option<f64>,
    /// Relative tolerance of the adaptive solvers (torchdiffeq: 1e-7).
    #[config(default = 1e-7)]
    pub rtol: f64,
    /// Absolute tolerance of the adaptive solvers (torchdiffeq: 1e-9).
    #[config(default = 1e-9)]
    pub atol: f64,
    /// The first step of an adaptive solve; `None` chooses it by Hairer, Nørsett & Wanner's
    /// rule (I, §II.4), which costs one extra function evaluation.
    pub dt0: Option<f64>,
    /// The smallest step an adaptive solver may take before giving up with
    /// [`OdeError::StepSizeUnderflow`](super::OdeError::StepSizeUnderflow). Steps below the time's floating-point resolution are
    /// an underflow whatever this says.
    #[config(default = 0.0)]
    pub dt_min: f64,
    /// The largest step an adaptive solver may take.
    pub dt_max: Option<f64>,
    /// The most steps (accepted and rejected) before [`OdeError::MaxStepsReached`](super::OdeError::MaxStepsReached)
    /// (diffrax: 4096).
    #[config(default = 4096)]
    pub max_steps: usize,
    /// The step-size controller of the adaptive solvers.
    #[config(default = "PiController::new()")]
    pub controller: PiController,
    /// Which states to keep.
    #[config(default = "SaveAt::Final")]
    pub save_at: SaveAt,
}

impl SolveOptions {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let check = Check {
            config: "SolveOptions",
        };
        if let Some(dt) = self.dt {
            check.positive("dt", dt)?;
        } else if !self.solver.is_adaptive() {
            return Err(check.inconsistent(format!(
                "solver = {:?} is a fixed-step solver and dt is not set: set dt (e.g. \
                 `.with_dt(Some(0.01))`) or choose an adaptive solver (Bosh3, Dopri5, Tsit5)",
                self.solver
            )));
        }
        check.positive("rtol", self.rtol)?;
        check.positive("atol", self.atol)?;
        if let Some(dt0) = self.dt0 {
            check.positive("dt0", dt0)?;
        }
        check.non_negative("dt_min", self.dt_min)?;
        if let Some(dt_max) = self.dt_max {
            check.positive("dt_max", dt_max)?;
            if dt_max < self.dt_min {
                return Err(check.inconsistent(format!(
                    "dt_max = {dt_max} is below dt_min = {}",
                    self.dt_min
                )));
            }
        }
        check.nonzero("max_steps", self.max_steps)?;
        self.controller.validate()
    }
}
