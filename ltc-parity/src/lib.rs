//! Golden parity with ncps 1.0.1: loads the reference fixtures (outputs, states, losses,
//! gradients and one Adam step, computed by ncps and PyTorch), rebuilds each model in
//! ltc-burn from the fixture's wiring, config and parameters, recomputes everything on a Burn
//! backend and reports the largest differences.
//!
//! The fixture schema is described in `fixtures/ncps/README.md`. Used by the `ltc-parity`
//! binary (`cargo xtask parity [DIR]`) and by this crate's tests, which run every fixture in
//! `fixtures/ncps` on every test backend.
//!
//! ```
//! use burn::backend::{Autodiff, NdArray};
//! # #[cfg(not(ltc_doc_wgpu))] type B = Autodiff<NdArray>;
//! # #[cfg(ltc_doc_wgpu)] type B = Autodiff<burn::backend::Wgpu>;
//! let path = ltc_parity::default_dir().join("a_ltc_fc8.json");
//! let fixture = ltc_parity::Fixture::load(&path)?;
//! let report = ltc_parity::check::<B>(&fixture, &Default::default());
//! assert!(report.passed(), "{}", report.row());
//! # Ok::<(), ltc_parity::ParityError>(())
//! ```
#![warn(missing_docs)]

use std::fmt;
use std::path::PathBuf;

mod build;
mod check;
mod compare;
mod fixture;

pub use build::{
    Model, build, build_cfc, build_ltc, build_wired_cfc, cfc_config, ltc_config, wired_cfc_config,
};
pub use check::{check, fused_vs_reference};
pub use compare::{Comparison, F32, F64, F64_LOSS, Report, Tolerance};
pub use fixture::{Array, Fixture};

pub mod checkpoint;

/// The project's copy of the ncps fixtures (`fixtures/ncps` at the workspace root).
///
/// The root is that of the checkout cargo is running in: every package of the workspace lies
/// one level below it, and cargo sets `CARGO_MANIFEST_DIR` for what it runs. The path compiled
/// into this crate is only the fallback: CI shares one target folder between clones, and cargo
/// reuses a test binary built in another clone when the sources match, so a compiled-in path
/// can name a clone that has since been deleted.
pub fn default_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("..")
        .join("fixtures")
        .join("ncps")
}

/// A fixture that cannot be read or does not follow the schema.
#[derive(Debug)]
pub struct ParityError {
    /// The file.
    pub file: PathBuf,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.message)
    }
}

impl std::error::Error for ParityError {}
