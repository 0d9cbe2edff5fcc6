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
    /// Each sample's own save times, `[batch][times]` (torchode's `t_eval`): row `i` of the
    /// `j`-th saved state is sample `i` at `times[i][j]`. Every row holds the same number of
    /// times, in the direction of integration and inside the span. Needs
    /// [`SolveOptions::per_sample`].
    TimesPerSample(Vec<Vec<f64>>),
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
    /// the last accepted one `previous`, and the solver's order. A NaN ratio (a non-finite
    /// trial state) shrinks by `factor_min`.
    pub fn factor(&self, ratio: f64, previous: f64, order: u32) -> f64 {
        if ratio.is_nan() {
            return self.factor_min;
        }
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
    /// Independent solves along the batch dimension (dimension 0), as torchode: each sample
    /// has its own step size, its own accept/reject and its own save times
    /// ([`SaveAt::TimesPerSample`]); a sample that reaches the end stops costing evaluations.
    /// Off (torchdiffeq's and diffrax's joint control: one step size, from the RMS over the
    /// whole batch). Needs an adaptive solver with FSAL (Bosh3, Dopri5, Tsit5) and no `dt`;
    /// the samples must not interact inside the vector field (no batch statistics).
    ///
    /// The field sees only the samples still integrating: one with per-sample constants picks
    /// its rows in [`VectorField::eval_per_sample`](super::VectorField::eval_per_sample):
    ///
    /// ```
    /// use burn::backend::NdArray;
    /// use burn::tensor::{Int, Tensor, TensorData};
    /// use ltc_burn::ode::{solve, SolveOptions, VectorField};
    /// # #[cfg(not(ltc_doc_wgpu))] type B = NdArray<f64>;
    /// # #[cfg(ltc_doc_wgpu)] type B = burn::backend::Wgpu;
    ///
    /// /// y' = −k·y with a rate per sample (`[batch, 1]`).
    /// struct Decay(Tensor<B, 2>);
    /// impl VectorField<B, 2> for Decay {
    ///     fn eval(&self, _t: f64, y: Tensor<B, 2>) -> Tensor<B, 2> {
    ///         -y * self.0.clone()
    ///     }
    ///     fn eval_per_sample(&self, _t: &[f64], samples: &[usize], y: Tensor<B, 2>) -> Tensor<B, 2> {
    ///         let rows: Vec<i64> = samples.iter().map(|&s| s as i64).collect();
    ///         let rows = Tensor::<B, 1, Int>::from_data(TensorData::new(rows, [samples.len()]), &y.device());
    ///         -y * self.0.clone().select(0, rows)
    ///     }
    /// }
    ///
    /// let device = Default::default();
    /// let rates = [1.0, 1.0, 1.0, 1000.0];
    /// let field = Decay(Tensor::<B, 1>::from_floats(rates, &device).reshape([4, 1]));
    /// let y0 = Tensor::<B, 2>::ones([4, 1], &device);
    /// let joint = SolveOptions::new().with_rtol(1e-6).with_atol(1e-9);
    /// let own = joint.clone().with_per_sample(true);
    /// let a = solve(&field, y0.clone(), 0.0, 1.0, &joint)?;
    /// let b = solve(&field, y0, 0.0, 1.0, &own)?;
    /// let y: Vec<f64> = b.last().into_data().convert::<f64>().to_vec().unwrap();
    /// assert!((y[0] - (-1.0f64).exp()).abs() < 1e-5);
    /// // Joint control steps every sample at the stiff one's pace.
    /// assert!(2 * b.sample_evaluations() < a.sample_evaluations());
    /// # Ok::<(), ltc_burn::ode::OdeError>(())
    /// ```
    #[config(default = false)]
    pub per_sample: bool,
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
        if self.per_sample {
            let explicit_fsal = self.solver.tableau().is_some_and(|t| t.fsal);
            if !self.solver.is_adaptive() || !explicit_fsal || self.dt.is_some() {
                return Err(check.inconsistent(format!(
                    "per_sample = true needs its own step control: an explicit adaptive solver \
                     (Bosh3, Dopri5, Tsit5) and dt = None; got solver = {:?}, dt = {:?}",
                    self.solver, self.dt
                )));
            }
            if self.save_at == SaveAt::Steps {
                return Err(check.inconsistent(
                    "per_sample = true with SaveAt::Steps: every sample steps at its own times, \
                     so the steps do not stack into one tensor; save at times \
                     (SaveAt::Times or SaveAt::TimesPerSample) or the final state"
                        .into(),
                ));
            }
        } else if matches!(self.save_at, SaveAt::TimesPerSample(_)) {
            return Err(check.inconsistent(
                "SaveAt::TimesPerSample needs per_sample = true (`.with_per_sample(true)`), or \
                 use SaveAt::Times for times shared by the batch"
                    .into(),
            ));
        }
        self.controller.validate()
    }
}
