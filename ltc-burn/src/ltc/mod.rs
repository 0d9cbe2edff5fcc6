//! Liquid Time-Constant networks, exactly as ncps 1.0.1 computes them.
//!
//! - [`LtcCell`]: one input step of the LTC neurons on a wiring, solved by ncps's fused
//!   semi-implicit Euler unfolds; a [`RecurrentCell`](crate::recurrent::RecurrentCell).
//! - [`Ltc`]: the sequence layer (ncps's `LTC`): the cell in a
//!   [`Recurrent`](crate::recurrent::Recurrent) layer.
//! - [`Positivity`]: ncps's implicit (softplus) and explicit (clip) constraints; the clip runs
//!   by itself after every optimiser step.
//! - [`unfold_plain`]: the unfold loop on the plain tensor path, the reference of the fused
//!   kernels ([`crate::kernel::ltc`]), which the cell uses where the backend has one.
//! - [`LtcField`]: the neurons' ODE, for the solvers of [`crate::ode`].

mod cell;
mod field;
mod layer;
mod plain;
mod positive;
mod stepper;

pub use cell::{LtcCell, LtcCellConfig, MIN_EPSILON, MIN_TIMESPAN, Mapping};
pub use field::LtcField;
pub use layer::{Ltc, LtcConfig};
pub use plain::unfold_plain;
pub use positive::{PositiveParam, Positivity};

#[cfg(test)]
mod tests;
