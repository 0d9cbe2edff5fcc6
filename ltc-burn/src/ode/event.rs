//! Terminal events (torchdiffeq's `odeint_event`, diffrax's `Event`): stop the solve where an
//! event function `g(t, y)` crosses zero, located on the dense output, with the event time
//! differentiable with respect to `y0` and the field's parameters.
//!
//! The event time `t*` solves `g(t*, y(t*)) = 0`. By the implicit function theorem its gradient
//! with respect to anything `p` the solution depends on is
//!
//! `dt*/dp = −(∂g/∂y · ∂y(t*)/∂p) / (∂g/∂t + ∂g/∂y · f(t*, y(t*)))`,
//!
//! which [`solve_event`] builds into the graph as `t* − (g_e − detach(g_e)) / ġ`, where `g_e` is
//! `g` at the (graph-carrying) dense-output state and `ġ` the detached total derivative of `g`
//! along the solution (a central difference along `(1, f)`, exact for `g` linear in `t` and
//! `y`). The state returned at the event carries the same dependence: `y(t*) + f·(t* − detach(t*))`.

use burn::tensor::backend::Backend;
use burn::tensor::{ElementConversion, Tensor};

use super::engine::Engine;
use super::field::VectorField;
use super::options::SolveOptions;
use super::solution::{OdeError, Solution};

/// The event function `g(t, y)`: a scalar (a one-element tensor) whose sign change ends the
/// solve. Closures `|t, y| ...` are event functions.
pub trait EventFunction<B: Backend, const D: usize> {
    /// `g(t, y)`, a tensor of one element.
    fn eval(&self, t: f64, y: Tensor<B, D>) -> Tensor<B, 1>;
}

impl<B, const D: usize, G> EventFunction<B, D> for G
where
    B: Backend,
    G: Fn(f64, Tensor<B, D>) -> Tensor<B, 1> + ?Sized,
{
    fn eval(&self, t: f64, y: Tensor<B, D>) -> Tensor<B, 1> {
        self(t, y)
    }
}

/// Where the event fired.
#[derive(Debug, Clone)]
pub struct Event<B: Backend> {
    /// The event time.
    pub t: f64,
    /// The event time as a one-element tensor that carries its gradient with respect to `y0`
    /// and the field's parameters (on an autodiff backend).
    pub time: Tensor<B, 1>,
}

/// What [`solve_event`] returns.
#[derive(Debug, Clone)]
pub struct EventSolution<B: Backend, const D: usize> {
    /// The saved states up to the event (or to `t1` when it did not fire). With
    /// `SaveAt::Final` or `SaveAt::Steps` the last state is the state at the event, and save
    /// times after the event are not saved.
    pub solution: Solution<B, D>,
    /// The event, or `None` when `g` kept its sign up to `t1`.
    pub event: Option<Event<B>>,
}

/// Solves like [`solve`](super::solve) and stops where `event` changes sign (a terminal event).
///
/// The sign is checked at the end of each accepted step; a change is located on the step's
/// dense output (Illinois regula falsi, to the time's floating-point resolution), so the event
/// time is as accurate as the dense output — exact, to rounding, where the solution is a
/// polynomial of degree ≤ 4 and the solver adaptive. A zero of `g` at `t0` does not count;
/// two zeros inside one step cancel and are missed (bound the step with `dt_max`).
///
/// A ball dropped from height `h` under gravity `g` lands at `√(2h/g)`, and `dt/dh = 1/√(2gh)`:
///
/// ```
/// use burn::backend::{Autodiff, NdArray};
/// use burn::tensor::Tensor;
/// use ltc_burn::ode::{solve_event, SolveOptions};
/// # #[cfg(not(ltc_doc_wgpu))] type B = Autodiff<NdArray<f64>>;
/// # #[cfg(ltc_doc_wgpu)] type B = Autodiff<burn::backend::Wgpu>;
///
/// let gravity: f64 = 9.81;
/// let fall = |_t: f64, y: Tensor<B, 2>| {
///     let v = y.clone().narrow(1, 1, 1);
///     Tensor::cat(vec![v.clone(), v.ones_like().mul_scalar(-gravity)], 1)
/// };
/// let height = |_t: f64, y: Tensor<B, 2>| y.narrow(1, 0, 1).reshape([1]);
/// let y0 = Tensor::<B, 2>::from_floats([[2.0, 0.0]], &Default::default()).require_grad();
/// let sol = solve_event(&fall, y0.clone(), 0.0, 10.0, &SolveOptions::new(), &height)?;
/// let event = sol.event.expect("the ball lands");
/// # let tol = if cfg!(ltc_doc_wgpu) { 1e-4 } else { 1e-9 };
/// assert!((event.t - (2.0 * 2.0 / gravity).sqrt()).abs() < tol);
/// let grads = event.time.sum().backward();
/// let dt_dh: f64 = y0.grad(&grads).unwrap().narrow(1, 0, 1).into_scalar().into();
/// assert!((dt_dh - 1.0 / (2.0 * gravity * 2.0f64).sqrt()).abs() < tol);
/// # Ok::<(), ltc_burn::ode::OdeError>(())
/// ```
///
/// # Errors
/// As [`solve`](super::solve); [`OdeError::EventNotDifferentiable`] when `g` touches zero
/// without crossing it (`ġ = 0` at the event).
///
/// # Panics
/// If `event` returns a tensor of more than one element, or the field a tensor of another shape.
pub fn solve_event<B, const D: usize, F, G>(
    field: &F,
    y0: Tensor<B, D>,
    t0: f64,
    t1: f64,
    options: &SolveOptions,
    event: &G,
) -> Result<EventSolution<B, D>, OdeError>
where
    B: Backend,
    F: VectorField<B, D> + Sync + ?Sized,
    G: EventFunction<B, D> + Sync,
{
    options.validate()?;
    let outcome = crate::kernel::on_compute_pool::<B, _>(|| {
        Engine::new(field, options, None)
            .watching(event)
            .run_full(y0, t0, t1)
    })?;
    Ok(EventSolution {
        solution: outcome.solution,
        event: outcome.event,
    })
}

/// The engine's view of an event function: `g` and its value at the current state.
pub(crate) struct Watch<'a, B: Backend, const D: usize> {
    g: &'a dyn EventFunction<B, D>,
    /// `g` at the start of the current step.
    pub(crate) last: f64,
}

impl<'a, B: Backend, const D: usize> Watch<'a, B, D> {
    pub(crate) fn new(g: &'a dyn EventFunction<B, D>) -> Self {
        Watch { g, last: f64::NAN }
    }

    /// `g(t, y)` as a number (no graph).
    pub(crate) fn value(&self, t: f64, y: Tensor<B, D>) -> f64 {
        self.graph(t, y.detach()).into_scalar().elem::<f64>()
    }

    /// `g(t, y)` as a one-element tensor, in the graph.
    pub(crate) fn graph(&self, t: f64, y: Tensor<B, D>) -> Tensor<B, 1> {
        let out = self.g.eval(t, y);
        assert_eq!(
            out.dims(),
            [1],
            "the event function returned shape {:?}: g(t, y) must be a one-element tensor \
             (reduce a batch with e.g. `.min()` or `.sum()`, or `.reshape([1])` a [1, 1] value)",
            out.dims()
        );
        out
    }
}

/// Whether `g` changed sign from `before` to `after` (a zero at the start does not count).
pub(crate) fn crossed(before: f64, after: f64) -> bool {
    before != 0.0 && (after == 0.0 || (before < 0.0) != (after < 0.0))
}

/// The root of `phi` in `[0, 1]`, where `phi(0) = lo_value` and `phi(1) = hi_value` differ in
/// sign (or `hi_value` is zero): Illinois regula falsi, to `resolution` in the fraction.
pub(crate) fn illinois(
    mut phi: impl FnMut(f64) -> f64,
    lo_value: f64,
    hi_value: f64,
    resolution: f64,
) -> f64 {
    let (mut lo, mut hi, mut f_lo, mut f_hi) = (0.0, 1.0, lo_value, hi_value);
    if f_hi == 0.0 {
        return 1.0;
    }
    let mut side = 0;
    for _ in 0..200 {
        if hi - lo <= resolution {
            break;
        }
        let mut x = (lo * f_hi - hi * f_lo) / (f_hi - f_lo);
        if !(x > lo && x < hi) {
            x = 0.5 * (lo + hi);
        }
        let f = phi(x);
        if f == 0.0 {
            return x;
        }
        if (f < 0.0) == (f_lo < 0.0) {
            lo = x;
            f_lo = f;
            if side == -1 {
                f_hi *= 0.5;
            }
            side = -1;
        } else {
            hi = x;
            f_hi = f;
            if side == 1 {
                f_lo *= 0.5;
            }
            side = 1;
        }
    }
    // The end whose value is closer to zero.
    if f_lo.abs() < f_hi.abs() { lo } else { hi }
}

#[cfg(test)]
mod tests {
    use super::{crossed, illinois};

    #[test]
    fn illinois_finds_roots_to_resolution() {
        let root = illinois(|x| x * x - 0.3, -0.3, 0.7, 1e-15);
        assert!((root - 0.3f64.sqrt()).abs() < 1e-14, "{root}");
        // A flat then steep function, where plain regula falsi stalls on one side.
        let f = |x: f64| (10.0 * (x - 0.9)).exp() - 1.0;
        let root = illinois(f, f(0.0), f(1.0), 1e-15);
        assert!((root - 0.9).abs() < 1e-14, "{root}");
    }

    #[test]
    fn a_zero_at_the_start_is_not_a_crossing() {
        assert!(!crossed(0.0, 1.0));
        assert!(crossed(1.0, 0.0));
        assert!(crossed(-1.0, 2.0));
        assert!(!crossed(1.0, 2.0));
    }
}
