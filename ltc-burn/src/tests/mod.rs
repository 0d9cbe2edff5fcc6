//! Tests across modules: every module on every backend, numerics at the extremes, untrusted
//! input, reproducibility, the prepared steppers and concurrency. A module's own tests live in
//! its `tests` submodule (`x/tests.rs` or `x/tests/`).

mod concurrency;
mod cross_backend;
mod determinism;
mod export;
mod numerics;
mod reproducibility;
mod stepper;
mod untrusted;
