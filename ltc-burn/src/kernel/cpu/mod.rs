//! What every CPU kernel shares: the float types and their arithmetic ([`math`]), the choice
//! of instruction set and the one dispatch over its compiled copies ([`mod@isa`]), matrix products
//! on slices, and the adapter that makes a kernel on slices a Burn operation ([`slices`]).

pub mod isa;
pub(crate) mod linalg;
pub mod math;
pub mod slices;

pub use isa::{Isa, isa};
pub use math::{Fused, MulAdd, Real, Separate, exp_f32, exp_f32_with};
pub use slices::{NdFloat, into_vec};
