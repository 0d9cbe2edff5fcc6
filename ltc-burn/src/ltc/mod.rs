//! Liquid Time-Constant networks, exactly as ncps 1.0.1 computes them.
//!
//! - [`LtcCell`]: one input step of the LTC neurons on a wiring, solved by ncps's fused
//!   semi-implicit Euler unfolds.
//! - [`Ltc`]: the sequence layer (ncps's `LTC`), with per-sample elapsed times, optional mixed
//!   memory, batch- or sequence-first inputs and a one-step API.
//! - [`Positivity`]: ncps's implicit (softplus) and explicit (clip) constraints; the clip runs
//!   by itself after every optimiser step.
//! - [`fused`]: the whole unfold loop of a sequence as one operation, fused on ndarray (with a
//!   backward pass that recomputes the synapse activations); the layers use it by default
//!   where the backend has it, the plain tensor path elsewhere.
//! - [`LtcStepper`]: a layer prepared for streaming inference on the CPU ([`Ltc::stepper`]).

mod cell;
pub mod fused;
mod layer;
mod positive;
mod stepper;

pub use crate::memory::MixedMemory;
pub use cell::{LtcCell, LtcCellConfig, LtcField, MIN_ELAPSED, MIN_EPSILON, Mapping};
pub use fused::{SynapseTensors, UnfoldParams};
pub use layer::{Ltc, LtcConfig, LtcState};
pub use positive::{PositiveParam, Positivity};
pub use stepper::{LtcStepCell, LtcStepper};

#[cfg(test)]
mod tests;
