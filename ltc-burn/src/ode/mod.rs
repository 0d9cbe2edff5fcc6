//! Neural ODEs: explicit Runge–Kutta solvers for Burn tensors, with dense output, adaptive
//! step control, back-propagation through the solver or the adjoint method, and the
//! [`NeuralOde`] module.
//!
//! Small parts that compose, one entry point (diffrax's split):
//! - a [`VectorField`] `f(t, y) -> dy/dt` — any Burn module, struct or closure;
//! - a [`Solver`]: Euler, Midpoint, Heun, RK4 (fixed step), Bosh3, Dopri5, Tsit5 (adaptive),
//!   each a [`ButcherTableau`] run by one engine; and Radau5, implicit and L-stable, for stiff
//!   problems (Newton on a difference-quotient Jacobian; [`solve`] with back-propagation and the
//!   `Backsolve` adjoint, not events or the checkpointed adjoint);
//! - step control in [`SolveOptions`]: `rtol`/`atol`, a [`PiController`], the first step,
//!   `dt_min`/`dt_max`, `max_steps`;
//! - what to keep: [`SaveAt`] (the final state, given times by dense output, every step);
//! - per-sample step control ([`SolveOptions::per_sample`], torchode's): each sample of the
//!   batch its own step size, accept/reject and save times ([`SaveAt::TimesPerSample`]);
//! - the sensitivity: back-propagation through [`solve`] on an autodiff backend, the adjoint
//!   method by [`solve_adjoint`] (memory independent of the number of steps), or
//!   back-propagation's exact gradients at bounded memory by [`solve_adjoint_with`] and
//!   [`Adjoint::Checkpointed`] (binomial checkpointing).
//!
//! - a terminal event: [`solve_event`] stops where `g(t, y)` crosses zero, with the event time
//!   differentiable.
//!
//! [`solve`] returns a [`Solution`] (times, states, [`Stats`]) or an [`OdeError`] that names
//! the time reached and the remedy.
//!
//! The defaults follow torchdiffeq (Dopri5, `rtol = 1e-7`, `atol = 1e-9`, an I controller with
//! safety 0.9 and factors 0.2 … 10, Hairer's first step), so that step counts compare fairly.

mod adjoint;
mod checkpoint;
mod engine;
mod event;
mod field;
mod implicit;
mod interpolant;
mod neural;
mod options;
mod per_sample;
mod saver;
mod solution;
mod solve;
mod tableau;

pub use adjoint::{Adjoint, AdjointGradients, AdjointSolution, solve_adjoint, solve_adjoint_with};
pub use event::{Event, EventFunction, EventSolution, solve_event};
pub use field::{Autonomous, FieldActivation, MlpField, MlpFieldConfig, VectorField};
pub use neural::{NeuralOde, NeuralOdeAdjoint, NeuralOdeConfig, NeuralOdeOutput};
pub use options::{PiController, SaveAt, SolveOptions};
pub use solution::{OdeError, PerSample, Solution, Stats};
pub use solve::solve;
pub use tableau::{ButcherTableau, Solver};

#[cfg(test)]
mod tests;
