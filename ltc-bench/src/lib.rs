//! `ltc-bench`: times ltc-burn on the ncps peer's workloads and prints the results next to the
//! ncps (PyTorch) numbers. Run through `cargo xtask bench` (dev profile, this crate at opt-level
//! 3, where Burn's generic tensor code is compiled; it finds the Python peer when installed).
//!
//! Workload (as `bench_ncps.py`): batch 32, sequence 64, 8 inputs, batch-first, all steps
//! returned, zero initial state, no timespans, ncps defaults (6 unfolds, softplus constraints,
//! affine mappings).
//! - train: forward + MSE against a fixed random target + backward + Adam(lr 1e-3) step;
//! - fwd: forward only, without autodiff;
//! - step B=1: one `step` on a `[1, 8]` input carrying the state (streaming latency);
//! - stepper B=1: the same step through the layer's prepared stepper (parameters read once,
//!   slices in and out), where the layer has one.
//!
//! Each (model, threads) pair runs in a fresh process of the `ltc-bench` binary (`--worker`),
//! so thread pools and peak memory are per measurement, as the peer's are. The Neural ODE row
//! ([`ode`]) runs Dopri5 next to torchdiffeq on one problem, whose evaluation counts a test
//! pins. `--runtime` times ltc-runtime's no-std step beside the prepared stepper ([`runtime`]).
#![warn(missing_docs)]

pub mod measure;
pub mod models;
pub mod ode;
pub mod process;
pub mod runtime;
