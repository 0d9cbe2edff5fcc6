//! Shared code of the runnable examples: backend selection ([`backend`]), what every run
//! shares ([`run`]: options, errors, artifacts, the Learner set-up, the supervised steps),
//! plots and progress lines, and one module per example holding its model and training loop.
//! Each `examples/<name>.rs` is a thin command-line front end over these; no example module
//! uses another's.
#![warn(missing_docs)]

pub mod backend;
pub mod embed;
pub mod liquid;
pub mod moons;
pub mod ode_spiral;
pub mod plot;
pub mod progress;
pub mod run;
pub mod sequence_classification;
pub mod sine;
pub mod spiral;
pub mod xor;

/// The README's Rust examples, compiled and run as doc tests (this package depends on every
/// crate of the workspace).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
