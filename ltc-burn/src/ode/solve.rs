//! The one entry point, [`solve`], and the parts it is configured with.

use core::fmt;

use burn::config::Config;
use burn::tensor::backend::Backend;
use burn::tensor::{ElementConversion, Tensor};

use super::field::VectorField;
use super::tableau::{ButcherTableau, Solver};
use crate::error::{Check, ConfigError};

/// Which states a [`Solution`] keeps.
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

/// How [`solve`] integrates: the solver, its step control and what to save. Every field has a
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
    /// [`OdeError::StepSizeUnderflow`]. Steps below the time's floating-point resolution are
    /// an underflow whatever this says.
    #[config(default = 0.0)]
    pub dt_min: f64,
    /// The largest step an adaptive solver may take.
    pub dt_max: Option<f64>,
    /// The most steps (accepted and rejected) before [`OdeError::MaxStepsReached`]
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

/// Counters of one solve.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Accepted steps.
    pub accepted: usize,
    /// Rejected steps (adaptive solvers only).
    pub rejected: usize,
    /// Evaluations of the vector field, including the first-step selection's.
    pub nfe: usize,
}

impl Stats {
    /// Accepted plus rejected steps.
    pub fn steps(&self) -> usize {
        self.accepted + self.rejected
    }
}

/// The result of [`solve`]: the saved times and states, and the counters.
#[derive(Debug, Clone)]
pub struct Solution<B: Backend, const D: usize> {
    /// The saved times, in the order of integration.
    pub ts: Vec<f64>,
    /// The state at each saved time, each of `y0`'s shape.
    pub ys: Vec<Tensor<B, D>>,
    /// Steps and function evaluations.
    pub stats: Stats,
}

impl<B: Backend, const D: usize> Solution<B, D> {
    /// The last saved state (the state at the end of the span, unless `SaveAt::Times` stops
    /// earlier).
    pub fn last(&self) -> Tensor<B, D> {
        self.ys
            .last()
            .cloned()
            .expect("a solution holds at least one state")
    }

    /// The saved states stacked along a new first dimension: `[times, ...y0's shape]`.
    ///
    /// # Panics
    /// If `E` is not `D + 1`.
    pub fn stacked<const E: usize>(&self) -> Tensor<B, E> {
        assert_eq!(
            E,
            D + 1,
            "Solution::stacked: the stacked rank must be the state's rank + 1 = {}, got {E}",
            D + 1
        );
        Tensor::stack(self.ys.clone(), 0)
    }
}

/// Why a solve stopped without a solution. Each message says where it stopped and what to do.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum OdeError {
    /// The options are invalid.
    Config(ConfigError),
    /// The time span or the save times are invalid.
    InvalidTimes(String),
    /// `max_steps` steps were taken before the end of the span.
    MaxStepsReached {
        /// The time reached.
        t: f64,
        /// The end of the span.
        t1: f64,
        /// The limit.
        max_steps: usize,
    },
    /// The adaptive step became smaller than `dt_min` or than the resolution of `t`.
    StepSizeUnderflow {
        /// The time reached.
        t: f64,
        /// The step that was too small.
        dt: f64,
    },
    /// The state became NaN or infinite.
    NonFinite {
        /// The last time at which the state was finite.
        t: f64,
        /// The end of the step on which it broke.
        t_next: f64,
    },
}

impl fmt::Display for OdeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OdeError::Config(e) => write!(f, "{e}"),
            OdeError::InvalidTimes(message) => write!(f, "{message}"),
            OdeError::MaxStepsReached { t, t1, max_steps } => write!(
                f,
                "the solver took max_steps = {max_steps} steps and reached t = {t} of t1 = {t1}: \
                 raise `max_steps`, loosen rtol/atol, or check the vector field for stiffness"
            ),
            OdeError::StepSizeUnderflow { t, dt } => write!(
                f,
                "step size underflow at t = {t} (dt = {dt:e}): the problem is too stiff or blows \
                 up for these tolerances; loosen rtol/atol, lower dt_min, regularise the vector \
                 field, or use a fixed-step solver"
            ),
            OdeError::NonFinite { t, t_next } => write!(
                f,
                "the state became non-finite (NaN or infinite) on the step from t = {t} to \
                 t = {t_next}: the vector field blows up there; use smaller steps (tighter \
                 tolerances or a smaller dt), or bound the vector field"
            ),
        }
    }
}

impl std::error::Error for OdeError {}

impl From<ConfigError> for OdeError {
    fn from(e: ConfigError) -> Self {
        OdeError::Config(e)
    }
}

/// Integrates `dy/dt = field(t, y)` from `(t0, y0)` to `t1` (which may be before `t0`).
///
/// Gradients flow through every solver operation when `B` is an autodiff backend
/// (discretise-then-optimise, the default sensitivity); [`solve_adjoint`](super::solve_adjoint)
/// computes them by the adjoint method instead. One step size serves the whole batch: the error
/// norm is the RMS over every element of `err / (atol + rtol·max(|y|, |y'|))`, as torchdiffeq's.
///
/// ```
/// use burn::backend::NdArray;
/// use burn::tensor::Tensor;
/// use ltc_burn::ode::{solve, SaveAt, SolveOptions, Solver};
/// # #[cfg(not(ltc_doc_wgpu))] type B = NdArray<f64>;
/// # #[cfg(ltc_doc_wgpu)] type B = burn::backend::Wgpu;
///
/// // The harmonic oscillator x'' = −x as y = [x, v]: y' = [v, −x].
/// let field = |_t: f64, y: Tensor<B, 2>| {
///     let x = y.clone().narrow(1, 0, 1);
///     let v = y.narrow(1, 1, 1);
///     Tensor::cat(vec![v, -x], 1)
/// };
/// let y0 = Tensor::<B, 2>::from_floats([[1.0, 0.0]], &Default::default());
/// let times = vec![0.0, 1.0, 2.0];
/// let options = SolveOptions::new().with_save_at(SaveAt::Times(times.clone()));
/// let sol = solve(&field, y0, 0.0, 2.0, &options)?;
/// for (t, y) in sol.ts.iter().zip(&sol.ys) {
///     let x: f64 = y.clone().narrow(1, 0, 1).into_scalar().into();
///     assert!((x - t.cos()).abs() < 1e-6, "x({t}) = {x}");
/// }
/// // Dopri5: f(t0) and the first-step probe, then 6 evaluations per step (FSAL).
/// assert_eq!(sol.stats.nfe, 2 + 6 * sol.stats.steps());
/// # Ok::<(), ltc_burn::ode::OdeError>(())
/// ```
///
/// # Errors
/// [`OdeError`]: invalid options or times, `max_steps` reached, step-size underflow, a
/// non-finite state — each with the time reached.
///
/// # Panics
/// If the vector field returns a tensor whose shape differs from the state's.
pub fn solve<B, const D: usize, F>(
    field: &F,
    y0: Tensor<B, D>,
    t0: f64,
    t1: f64,
    options: &SolveOptions,
) -> Result<Solution<B, D>, OdeError>
where
    B: Backend,
    F: VectorField<B, D> + ?Sized,
{
    options.validate()?;
    Engine::new(field, options, None).run(y0, t0, t1)
}

/// The save times of a solve, checked against the span.
pub(crate) fn save_times(save_at: &SaveAt, t0: f64, t1: f64) -> Result<Vec<f64>, OdeError> {
    let SaveAt::Times(times) = save_at else {
        return Ok(Vec::new());
    };
    if times.is_empty() {
        return Err(OdeError::InvalidTimes(
            "SaveAt::Times is empty: give at least one time, or use SaveAt::Final".into(),
        ));
    }
    let dir = if t1 >= t0 { 1.0 } else { -1.0 };
    let (lo, hi) = if dir > 0.0 { (t0, t1) } else { (t1, t0) };
    for (i, &t) in times.iter().enumerate() {
        if !t.is_finite() || t < lo || t > hi {
            return Err(OdeError::InvalidTimes(format!(
                "SaveAt::Times[{i}] = {t} lies outside the span [{t0}, {t1}]: every save time \
                 must be finite and between t0 and t1"
            )));
        }
        if i > 0 && (t - times[i - 1]) * dir <= 0.0 {
            return Err(OdeError::InvalidTimes(format!(
                "SaveAt::Times must be strictly {} (the direction from t0 = {t0} to t1 = \
                 {t1}): times[{}] = {}, times[{i}] = {t}",
                if dir > 0.0 {
                    "increasing"
                } else {
                    "decreasing"
                },
                i - 1,
                times[i - 1]
            )));
        }
    }
    Ok(times.clone())
}

/// The shared Runge–Kutta engine.
pub(crate) struct Engine<'a, B: Backend, const D: usize, F: VectorField<B, D> + ?Sized> {
    pub(crate) field: &'a F,
    pub(crate) tableau: &'static ButcherTableau,
    pub(crate) options: &'a SolveOptions,
    /// Error-norm only over the first `n` elements of the flattened state (the adjoint's
    /// seminorm); `None`: every element.
    pub(crate) norm_prefix: Option<usize>,
    pub(crate) stats: Stats,
    _backend: core::marker::PhantomData<B>,
}

/// Where the saved states are collected.
struct Saver<B: Backend, const D: usize> {
    times: Vec<f64>,
    next: usize,
    every_step: bool,
    ts: Vec<f64>,
    ys: Vec<Tensor<B, D>>,
}

/// The stages of one step and what follows from them.
struct Step<B: Backend, const D: usize> {
    y1: Tensor<B, D>,
    ks: Vec<Tensor<B, D>>,
}

/// Times closer than this fraction of the step (or of the span) are the same time.
const SAME_TIME: f64 = 1e-12;

impl<'a, B: Backend, const D: usize, F: VectorField<B, D> + ?Sized> Engine<'a, B, D, F> {
    pub(crate) fn new(field: &'a F, options: &'a SolveOptions, norm_prefix: Option<usize>) -> Self {
        Engine {
            field,
            tableau: options.solver.tableau(),
            options,
            norm_prefix,
            stats: Stats::default(),
            _backend: core::marker::PhantomData,
        }
    }

    fn eval(&mut self, t: f64, y: Tensor<B, D>) -> Tensor<B, D> {
        let dims = y.dims();
        let out = self.field.eval(t, y);
        assert_eq!(
            out.dims(),
            dims,
            "the vector field returned shape {:?} for a state of shape {dims:?}: f(t, y) must \
             have y's shape",
            out.dims()
        );
        self.stats.nfe += 1;
        out
    }

    fn step(&mut self, t: f64, h: f64, y: &Tensor<B, D>, k1: Tensor<B, D>) -> Step<B, D> {
        let tab = self.tableau;
        let s = tab.stages();
        let mut ks = Vec::with_capacity(s);
        ks.push(k1);
        let mut last_input = None;
        for i in 1..s {
            let yi = combine(y, h, tab.a[i], &ks);
            if tab.fsal && i == s - 1 {
                last_input = Some(yi.clone());
            }
            let ki = self.eval(t + tab.c[i] * h, yi);
            ks.push(ki);
        }
        let y1 = match last_input {
            // FSAL: the last stage's input is y + h·Σ b·k.
            Some(y1) => y1,
            None => combine(y, h, tab.b, &ks),
        };
        Step { y1, ks }
    }

    /// RMS over the (prefix of the) flattened tensor; `NaN` when anything in `also_finite` is
    /// not finite. One device read.
    fn rms(&self, x: Tensor<B, D>, also_finite: &Tensor<B, D>) -> f64 {
        let flat: Tensor<B, 1> = x.detach().flatten(0, D - 1);
        let flat = match self.norm_prefix {
            Some(n) => flat.narrow(0, 0, n),
            None => flat,
        };
        let guard = also_finite.clone().detach().mul_scalar(0.0).sum();
        let mean_sq = flat.powi_scalar(2).mean() + guard;
        mean_sq.into_scalar().elem::<f64>().sqrt()
    }

    fn all_finite(&self, y: &Tensor<B, D>) -> bool {
        y.clone()
            .detach()
            .mul_scalar(0.0)
            .sum()
            .into_scalar()
            .elem::<f64>()
            .is_finite()
    }

    /// Hairer, Nørsett & Wanner I, §II.4, as torchdiffeq: one extra evaluation.
    fn initial_step(&mut self, t0: f64, y0: &Tensor<B, D>, f0: &Tensor<B, D>, dir: f64) -> f64 {
        let (rtol, atol) = (self.options.rtol, self.options.atol);
        let scale = y0.clone().detach().abs().mul_scalar(rtol).add_scalar(atol);
        let d0 = self.rms(y0.clone() / scale.clone(), y0);
        let d1 = self.rms(f0.clone() / scale.clone(), f0);
        let h0 = if d0 < 1e-5 || d1 < 1e-5 || !d0.is_finite() || !d1.is_finite() {
            1e-6
        } else {
            0.01 * d0 / d1
        };
        let y1 = y0.clone().detach() + f0.clone().detach().mul_scalar(h0 * dir);
        let f1 = self.eval(t0 + h0 * dir, y1).detach();
        let d2 = self.rms((f1 - f0.clone().detach()) / scale, f0) / h0;
        let h1 = if d1 <= 1e-15 && d2 <= 1e-15 || !d2.is_finite() {
            (h0 * 1e-3).max(1e-6)
        } else {
            (0.01 / d1.max(d2)).powf(1.0 / f64::from(self.tableau.order))
        };
        (100.0 * h0).min(h1)
    }

    pub(crate) fn run(
        mut self,
        y0: Tensor<B, D>,
        t0: f64,
        t1: f64,
    ) -> Result<Solution<B, D>, OdeError> {
        if !t0.is_finite() || !t1.is_finite() {
            return Err(OdeError::InvalidTimes(format!(
                "the span [{t0}, {t1}] must be finite"
            )));
        }
        let mut saver = Saver {
            times: save_times(&self.options.save_at, t0, t1)?,
            next: 0,
            every_step: self.options.save_at == SaveAt::Steps,
            ts: Vec::new(),
            ys: Vec::new(),
        };
        let span = (t1 - t0).abs();
        // Save times at the start.
        while saver.next < saver.times.len()
            && (saver.times[saver.next] - t0).abs() <= SAME_TIME * span.max(f64::MIN_POSITIVE)
        {
            saver.ts.push(saver.times[saver.next]);
            saver.ys.push(y0.clone());
            saver.next += 1;
        }
        if saver.every_step {
            saver.ts.push(t0);
            saver.ys.push(y0.clone());
        }
        let y = if t0 == t1 {
            y0
        } else if let Some(dt) = self.options.dt {
            self.run_fixed(y0, t0, t1, dt, &mut saver)?
        } else {
            self.run_adaptive(y0, t0, t1, &mut saver)?
        };
        if self.options.save_at == SaveAt::Final {
            saver.ts.push(t1);
            saver.ys.push(y);
        }
        if saver.next < saver.times.len() {
            return Err(OdeError::InvalidTimes(format!(
                "SaveAt::Times[{}] = {} was not reached (the solve ended at t1 = {t1})",
                saver.next, saver.times[saver.next]
            )));
        }
        Ok(Solution {
            ts: saver.ts,
            ys: saver.ys,
            stats: self.stats,
        })
    }

    fn run_fixed(
        &mut self,
        y0: Tensor<B, D>,
        t0: f64,
        t1: f64,
        dt: f64,
        saver: &mut Saver<B, D>,
    ) -> Result<Tensor<B, D>, OdeError> {
        let dir = (t1 - t0).signum();
        let span = (t1 - t0).abs();
        // Steps of exactly dt, the last one shortened; a remainder below 1e-9 of a step is
        // rounding, not a step (0.1 × 10 = 1 makes 10 steps, not 11).
        let n = ((span / dt) - 1e-9).ceil().max(1.0);
        if n > self.options.max_steps as f64 {
            return Err(OdeError::MaxStepsReached {
                t: t0,
                t1,
                max_steps: self.options.max_steps,
            });
        }
        let n = n as usize;
        let mut y = y0;
        let mut t = t0;
        let mut k1: Option<Tensor<B, D>> = None;
        for i in 1..=n {
            let t_next = if i == n { t1 } else { t0 + dir * dt * i as f64 };
            let h = t_next - t;
            let first = match k1.take() {
                Some(k) => k,
                None => self.eval(t, y.clone()),
            };
            let step = self.step(t, h, &y, first.clone());
            if !self.all_finite(&step.y1) {
                return Err(OdeError::NonFinite { t, t_next });
            }
            self.stats.accepted += 1;
            k1 = self.save_step(saver, t, t_next, h, &y, &first, &step, span);
            if self.tableau.fsal {
                k1 = step.ks.last().cloned();
            }
            y = step.y1;
            t = t_next;
        }
        Ok(y)
    }

    fn run_adaptive(
        &mut self,
        y0: Tensor<B, D>,
        t0: f64,
        t1: f64,
        saver: &mut Saver<B, D>,
    ) -> Result<Tensor<B, D>, OdeError> {
        let opts = self.options;
        let dir = (t1 - t0).signum();
        let span = (t1 - t0).abs();
        let order = self.tableau.order;
        let b_err = self
            .tableau
            .b_err
            .expect("adaptive solvers have error weights");
        let mut y = y0;
        let mut t = t0;
        let mut k1 = self.eval(t0, y.clone());
        let mut h = match opts.dt0 {
            Some(dt0) => dt0,
            None => self.initial_step(t0, &y, &k1, dir),
        };
        if let Some(dt_max) = opts.dt_max {
            h = h.min(dt_max);
        }
        let mut previous_ratio = 1.0;
        while (t1 - t) * dir > 0.0 {
            if self.stats.steps() >= opts.max_steps {
                return Err(OdeError::MaxStepsReached {
                    t,
                    t1,
                    max_steps: opts.max_steps,
                });
            }
            let remaining = (t1 - t).abs();
            // Land on t1 instead of stepping past it; a tiny remainder joins this step.
            let last = h >= remaining * (1.0 - SAME_TIME);
            let h_abs = if last { remaining } else { h };
            let step = self.step(t, h_abs * dir, &y, k1.clone());
            let err = combine(&y.zeros_like(), h_abs * dir, b_err, &step.ks);
            let scale = y
                .clone()
                .detach()
                .abs()
                .max_pair(step.y1.clone().detach().abs())
                .mul_scalar(opts.rtol)
                .add_scalar(opts.atol);
            let ratio = self.rms(err.detach() / scale, &step.y1);
            let accepted = ratio.is_finite() && ratio <= 1.0;
            let factor = if ratio.is_finite() {
                opts.controller.factor(ratio, previous_ratio, order)
            } else {
                opts.controller.factor_min
            };
            if accepted {
                let t_next = if last { t1 } else { t + h_abs * dir };
                self.stats.accepted += 1;
                previous_ratio = ratio;
                let f1 = self.save_step(saver, t, t_next, h_abs * dir, &y, &k1, &step, span);
                k1 = match (self.tableau.fsal, f1) {
                    (true, _) => step.ks.last().cloned().expect("an FSAL step has stages"),
                    (false, Some(f1)) => f1,
                    (false, None) => self.eval(t_next, step.y1.clone()),
                };
                y = step.y1;
                t = t_next;
            } else {
                self.stats.rejected += 1;
            }
            let mut h_new = h_abs * factor;
            if let Some(dt_max) = opts.dt_max {
                h_new = h_new.min(dt_max);
            }
            let unresolved = t + h_new * dir == t;
            if (t1 - t) * dir > 0.0 && (h_new < opts.dt_min || unresolved) {
                if !ratio.is_finite() {
                    return Err(OdeError::NonFinite {
                        t,
                        t_next: t + h_abs * dir,
                    });
                }
                return Err(OdeError::StepSizeUnderflow { t, dt: h_new * dir });
            }
            h = h_new;
        }
        Ok(y)
    }

    /// Saves what lies in the accepted step `(t, t_next]`; returns `f(t_next, y1)` if it had
    /// to evaluate it (the next step's first stage).
    #[allow(clippy::too_many_arguments)]
    fn save_step(
        &mut self,
        saver: &mut Saver<B, D>,
        t: f64,
        t_next: f64,
        h: f64,
        y: &Tensor<B, D>,
        f0: &Tensor<B, D>,
        step: &Step<B, D>,
        span: f64,
    ) -> Option<Tensor<B, D>> {
        let dir = h.signum();
        let mut f1: Option<Tensor<B, D>> = None;
        let mut interpolant: Option<Interpolant<B, D>> = None;
        let tol = SAME_TIME * span;
        while saver.next < saver.times.len() {
            let ts = saver.times[saver.next];
            if (ts - t_next) * dir > tol {
                break;
            }
            let value = if (ts - t_next).abs() <= tol {
                step.y1.clone()
            } else {
                if interpolant.is_none() {
                    let f_end = if self.tableau.fsal {
                        step.ks.last().cloned().expect("an FSAL step has stages")
                    } else {
                        let f = self.eval(t_next, step.y1.clone());
                        f1 = Some(f.clone());
                        f
                    };
                    interpolant = Some(Interpolant::fit(
                        self.tableau,
                        h,
                        y,
                        f0,
                        &step.y1,
                        &f_end,
                        &step.ks,
                    ));
                }
                interpolant
                    .as_ref()
                    .expect("fitted above")
                    .eval((ts - t) / h)
            };
            saver.ts.push(ts);
            saver.ys.push(value);
            saver.next += 1;
        }
        if saver.every_step {
            saver.ts.push(t_next);
            saver.ys.push(step.y1.clone());
        }
        f1
    }
}

/// The dense output of one step, in the step's fraction `θ ∈ [0, 1]`.
enum Interpolant<B: Backend, const D: usize> {
    /// `y(θ) = (((a·θ + b)·θ + c)·θ + d)·θ + e` through y0, y(½), y1 and the end slopes
    /// (torchdiffeq's `_interp_fit`; Shampine 1986 for Dopri5).
    Quartic([Tensor<B, D>; 5]),
    /// Cubic Hermite through y0, y1 and the end slopes (scaled by h).
    Hermite([Tensor<B, D>; 4]),
}

impl<B: Backend, const D: usize> Interpolant<B, D> {
    fn fit(
        tableau: &ButcherTableau,
        h: f64,
        y0: &Tensor<B, D>,
        f0: &Tensor<B, D>,
        y1: &Tensor<B, D>,
        f1: &Tensor<B, D>,
        ks: &[Tensor<B, D>],
    ) -> Self {
        let hf0 = f0.clone().mul_scalar(h);
        let hf1 = f1.clone().mul_scalar(h);
        match tableau.b_mid {
            Some(b_mid) => {
                let ym = combine(y0, h, b_mid, ks);
                let a = (hf1.clone() - hf0.clone()).mul_scalar(2.0)
                    - (y1.clone() + y0.clone()).mul_scalar(8.0)
                    + ym.clone().mul_scalar(16.0);
                let b = hf0.clone().mul_scalar(5.0) - hf1.clone().mul_scalar(3.0)
                    + y0.clone().mul_scalar(18.0)
                    + y1.clone().mul_scalar(14.0)
                    - ym.clone().mul_scalar(32.0);
                let c = hf1
                    - hf0.clone().mul_scalar(4.0)
                    - y0.clone().mul_scalar(11.0)
                    - y1.clone().mul_scalar(5.0)
                    + ym.mul_scalar(16.0);
                Interpolant::Quartic([a, b, c, hf0, y0.clone()])
            }
            None => Interpolant::Hermite([y0.clone(), hf0, y1.clone(), hf1]),
        }
    }

    fn eval(&self, theta: f64) -> Tensor<B, D> {
        match self {
            Interpolant::Quartic([a, b, c, d, e]) => {
                let mut out = a.clone().mul_scalar(theta) + b.clone();
                out = out.mul_scalar(theta) + c.clone();
                out = out.mul_scalar(theta) + d.clone();
                out.mul_scalar(theta) + e.clone()
            }
            Interpolant::Hermite([y0, hf0, y1, hf1]) => {
                let (t2, t3) = (theta * theta, theta * theta * theta);
                y0.clone().mul_scalar(2.0 * t3 - 3.0 * t2 + 1.0)
                    + hf0.clone().mul_scalar(t3 - 2.0 * t2 + theta)
                    + y1.clone().mul_scalar(3.0 * t2 - 2.0 * t3)
                    + hf1.clone().mul_scalar(t3 - t2)
            }
        }
    }
}

/// `y + h·Σ w_j·k_j`, skipping zero weights.
pub(crate) fn combine<B: Backend, const D: usize>(
    y: &Tensor<B, D>,
    h: f64,
    weights: &[f64],
    ks: &[Tensor<B, D>],
) -> Tensor<B, D> {
    let mut out = y.clone();
    for (w, k) in weights.iter().zip(ks) {
        if *w != 0.0 {
            out = out + k.clone().mul_scalar(h * w);
        }
    }
    out
}
