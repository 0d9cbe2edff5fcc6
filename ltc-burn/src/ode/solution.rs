//! What a solve gives: the [`Solution`] with its [`Stats`], or an [`OdeError`] that says where
//! it stopped and what to do.

use core::fmt;

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::error::ConfigError;

/// Counters of one solve.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Accepted steps.
    pub accepted: usize,
    /// Rejected steps (adaptive solvers only).
    pub rejected: usize,
    /// Evaluations of the vector field, including the first-step selection's (and, for the
    /// implicit solver, the Newton iterations' and the difference quotients of its Jacobians).
    pub nfe: usize,
    /// Jacobians `∂f/∂y` formed (implicit solvers only).
    pub jacobians: usize,
}

impl core::ops::AddAssign for Stats {
    fn add_assign(&mut self, other: Stats) {
        self.accepted += other.accepted;
        self.rejected += other.rejected;
        self.nfe += other.nfe;
        self.jacobians += other.jacobians;
    }
}

impl Stats {
    /// Accepted plus rejected steps.
    pub fn steps(&self) -> usize {
        self.accepted + self.rejected
    }
}

/// The result of [`solve`](super::solve): the saved times and states, and the counters.
#[derive(Debug, Clone)]
pub struct Solution<B: Backend, const D: usize> {
    /// The saved times, in the order of integration. With
    /// [`SaveAt::TimesPerSample`](super::SaveAt::TimesPerSample), the first sample's;
    /// [`PerSample::ts`] has every sample's.
    pub ts: Vec<f64>,
    /// The state at each saved time, each of `y0`'s shape.
    pub ys: Vec<Tensor<B, D>>,
    /// Steps and function evaluations. With per-sample step control, the sums over the samples
    /// (`nfe` then counts sample-evaluations: a call on `n` rows counts `n`).
    pub stats: Stats,
    /// Each sample's times and counters, when the solve ran with
    /// [`SolveOptions::per_sample`](super::SolveOptions::per_sample).
    pub per_sample: Option<PerSample>,
}

/// What each sample of a per-sample solve did.
#[derive(Debug, Clone, PartialEq)]
pub struct PerSample {
    /// `ts[i][j]`: the time of row `i` of the `j`-th saved state.
    pub ts: Vec<Vec<f64>>,
    /// Each sample's steps and evaluations, as its own solve would count them.
    pub stats: Vec<Stats>,
    /// Calls of the vector field on (part of) the batch.
    pub calls: usize,
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

    /// Field evaluations summed over the samples: each sample's own count with per-sample
    /// step control; `nfe × batch` with joint control (every call evaluates every row).
    /// What the two controls cost, compared.
    pub fn sample_evaluations(&self) -> usize {
        match &self.per_sample {
            Some(per_sample) => per_sample.stats.iter().map(|s| s.nfe).sum(),
            None => self.stats.nfe * self.ys.first().map_or(0, |y| y.dims()[0]),
        }
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
    /// An event function touched zero without crossing it: its time has no derivative.
    EventNotDifferentiable {
        /// The event time.
        t: f64,
        /// The derivative of `g` along the solution there.
        g_dot: f64,
    },
    /// The implicit solver's Newton iterations did not converge at a step it could not shrink
    /// (a fixed `dt`), or its Newton matrix was singular.
    NewtonFailed {
        /// The time reached.
        t: f64,
        /// The step.
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
            OdeError::EventNotDifferentiable { t, g_dot } => write!(
                f,
                "the event function reaches zero at t = {t} with derivative {g_dot} along the \
                 solution: it touches zero without crossing it, so the event time has no \
                 gradient; use an event function that crosses zero (e.g. g − ε)"
            ),
            OdeError::NewtonFailed { t, dt } => write!(
                f,
                "the implicit solver's Newton iterations did not converge at t = {t} with \
                 dt = {dt:e}: use a smaller dt, or let the solver choose its steps (dt = None)"
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
