//! Liquid Time-Constant networks, exactly as ncps 1.0.1 computes them.
//!
//! - [`LtcCell`]: one input step of the LTC neurons on a wiring, solved by ncps's fused
//!   semi-implicit Euler unfolds.
//! - [`Ltc`]: the sequence layer (ncps's `LTC`), with per-sample elapsed times, optional mixed
//!   memory, batch- or sequence-first inputs and a one-step API.
//! - [`Positivity`]: ncps's implicit (softplus) and explicit (clip) constraints; the clip runs
//!   by itself after every optimiser step.
//! - [`fused`]: the whole unfold loop of a sequence as one fused computation (so far the CPU
//!   kernel on slices, with its recomputing backward; the layers do not use it yet).

mod cell;
pub mod fused;
mod layer;
mod positive;

pub use crate::memory::MixedMemory;
pub use cell::{LtcCell, LtcCellConfig, LtcField, Mapping};
pub use layer::{Ltc, LtcConfig, LtcState};
pub use positive::{PositiveParam, Positivity};

#[cfg(test)]
mod tests;
