//! Closed-form continuous-time networks (CfC, Hasani et al. 2022), exactly as ncps 1.0.1
//! computes them.
//!
//! - [`CfcCell`]: one step of the closed-form solution: backbone, heads and time gate
//!   ([`CfcMode::Default`], [`CfcMode::Pure`], [`CfcMode::NoGate`]).
//! - [`WiredCfcCell`]: a CfC on a wiring, one cell per wiring layer — ncps's layout
//!   ([`WiredVariant::Ncps`]) or one that honours every synapse and its polarity
//!   ([`WiredVariant::Faithful`]).
//! - [`Cfc`] and [`WiredCfc`]: the sequence layers (ncps's `CfC`): the cells in a
//!   [`Recurrent`](crate::recurrent::Recurrent) layer, with per-sample timespans, an output
//!   projection, mixed memory, batch- or sequence-first inputs, a one-step API and (for
//!   [`Cfc`]) a prepared stepper.
//!
//! Where ncps 1.0.1 has a bug, the default here is the fix, and
//! [`CfcCellConfig::ncps_compat`] restores ncps's behaviour: backbone dropout applies after
//! every backbone layer (ncps skips the first, so its default one-layer backbone never drops
//! out), and pure mode starts at `A = 1`, `w_tau = 0` (ncps overwrites both with Xavier
//! draws). Timespans are per sample for every batch size (ncps mis-broadcasts them unless the
//! batch size is 1).

mod cell;
mod layer;
mod stepper;
mod wired;

pub use cell::{Activation, CfcCell, CfcCellConfig, CfcMode};
pub use layer::{Cfc, CfcConfig, WiredCfc, WiredCfcConfig};
pub(crate) use wired::index_values;
pub use wired::{WiredCfcCell, WiredCfcCellConfig, WiredVariant};

#[cfg(test)]
mod tests;
