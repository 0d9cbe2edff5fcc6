//! # ltc-runtime
//!
//! Trained liquid networks — an LTC, a CfC or a wired CfC (an NCP), with ncps's mixed memory
//! and an output projection where the layer has them — stepped one input at a time in `f32`,
//! with **no std, no allocation and no Burn**: for microcontrollers and hard real-time control
//! loops. ltc-burn writes the file (`Ltc::to_runtime`, `Cfc::to_runtime`,
//! `WiredCfc::to_runtime`); [`Model::parse`] reads it in place (a `&[u8]`, e.g. from
//! `include_bytes!`, any alignment) and checks every size and index once; [`Model::step`]
//! runs on buffers the caller owns and cannot index out of bounds.
//!
//! Each step computes what the layer's `step` in ltc-burn computes, to `f32` rounding (the
//! tests hold them within 1e-5 over long sequences with elapsed times).
//!
//! ```
//! use ltc_runtime::{Kind, Model, StepError};
//!
//! // An AutoNCP(19, 4) wired CfC that ltc-burn exported (ncps's layout, 3 inputs).
//! static FILE: &[u8] = include_bytes!(concat!(
//!     env!("CARGO_MANIFEST_DIR"),
//!     "/tests/fixtures/wired_cfc_ncps.ltcr"
//! ));
//! let model = Model::parse(FILE)?;
//! assert_eq!(model.kind(), Kind::WiredCfc);
//! assert_eq!((model.d_input(), model.d_hidden(), model.d_output()), (3, 19, 4));
//!
//! // The caller's buffers: sized once, reused at every step (arrays on a microcontroller).
//! let mut state = [0.0f32; 64];
//! let mut scratch = [0.0f32; 256];
//! assert!(model.state_len() <= state.len() && model.scratch_len() <= scratch.len());
//! let state = &mut state[..model.state_len()];
//! let mut action = [0.0f32; 4];
//! for t in 0..100 {
//!     let observation = [(t as f32 * 0.1).sin(), 0.5, -1.0];
//!     let elapsed = Some(0.05 + 0.01 * (t % 3) as f32); // irregular sampling
//!     model.step(&observation, elapsed, state, &mut scratch, &mut action)?;
//! }
//! assert!(action.iter().all(|a| a.is_finite() && a.abs() <= 1.0)); // tanh-bounded states
//!
//! // A wrong length is an error that names it, and the state is left as it was.
//! let before = state.to_vec();
//! let err = model.step(&[0.5, -1.0], None, state, &mut scratch, &mut action).unwrap_err();
//! assert_eq!(err, StepError::Length { what: "x", len: 2, expected: 3 });
//! assert_eq!(err.to_string(), "step: x has 2 values, expected 3");
//! assert_eq!(state, &before[..]);
//!
//! // A damaged file is refused when parsed, not when stepped.
//! let err = Model::parse(&FILE[..FILE.len() - 4]).unwrap_err();
//! assert!(err.to_string().starts_with("model file has"), "{err}");
//! # Ok::<(), Box<dyn core::error::Error>>(())
//! ```
#![no_std]
#![warn(missing_docs)]

mod cfc;
mod error;
pub mod format;
mod ltc;
mod math;
mod memory;
mod read;
mod wired;

pub use error::{FormatError, StepError};
pub use format::{Activation, Kind, Mode, WiredVariant};

use cfc::Cfc;
use format::{FLAG_MEMORY, FLAG_PROJECTION, HEADER_WORDS, MAGIC, VERSION};
use ltc::Ltc;
use memory::{Memory, Projection};
use read::Reader;
use wired::Wired;

/// The crate's README, its Rust example run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Largest size (inputs, neurons, outputs, backbone units) a file may declare.
const MAX_SIZE: usize = 1 << 20;

/// The cell, read. (Its variants differ in size — a wired CfC holds a view per layer — and
/// there is nothing to box them in: no allocation. A model is parsed once and borrowed.)
#[derive(Debug, Clone, Copy)]
#[allow(clippy::large_enum_variant)]
enum Cell<'a> {
    Ltc(Ltc<'a>),
    Cfc(Cfc<'a>),
    Wired(Wired<'a>),
}

/// A trained layer read from the bytes of a file ltc-burn exported, in place: see
/// [the crate](crate).
#[derive(Debug, Clone, Copy)]
pub struct Model<'a> {
    kind: Kind,
    inputs: usize,
    hidden: usize,
    cell_outputs: usize,
    outputs: usize,
    memory: Option<Memory<'a>>,
    cell: Cell<'a>,
    projection: Option<Projection<'a>>,
    scratch: usize,
    bytes: usize,
}

impl<'a> Model<'a> {
    /// Reads a model from `bytes`, checking the header, every size, offset and index, and
    /// that the file has exactly the length its header gives.
    ///
    /// # Errors
    /// [`FormatError`], naming what is wrong.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(bytes);
        let magic = r.raw()?;
        if magic != MAGIC {
            return Err(FormatError::Magic(magic));
        }
        let version = r.u32()?;
        if version != VERSION {
            return Err(FormatError::Version {
                found: version,
                supported: VERSION,
            });
        }
        let kind = r.code("cell kind", Kind::from_code)?;
        let inputs = r.size("d_input", 1, MAX_SIZE)?;
        let hidden = r.size("d_hidden", 1, MAX_SIZE)?;
        let cell_outputs = r.size("cell d_output", 1, MAX_SIZE)?;
        let flags = r.u32()?;
        if flags > (FLAG_MEMORY | FLAG_PROJECTION) {
            return Err(FormatError::Code {
                field: "flags",
                value: flags,
            });
        }
        let outputs = r.size("d_output", 1, MAX_SIZE)?;
        let words = r.u32()? as usize;
        let expected = words.saturating_mul(4);
        if expected != bytes.len() || words < HEADER_WORDS {
            return Err(FormatError::Length {
                expected,
                len: bytes.len(),
            });
        }
        let has_projection = flags & FLAG_PROJECTION != 0;
        if !has_projection && outputs != cell_outputs {
            return Err(FormatError::Invalid {
                field: "d_output without a projection",
                value: outputs,
                limit: cell_outputs,
            });
        }
        let memory = if flags & FLAG_MEMORY != 0 {
            Some(Memory::read(&mut r, inputs, hidden)?)
        } else {
            None
        };
        let cell = match kind {
            Kind::Ltc => Cell::Ltc(Ltc::read(&mut r, inputs, hidden, cell_outputs)?),
            Kind::Cfc => {
                let mode = r.code("mode", Mode::from_code)?;
                let act = r.code("activation", Activation::from_code)?;
                let layers = r.size("backbone layers", 0, 64)?;
                let units = r.size("backbone units", usize::from(layers > 0), MAX_SIZE)?;
                if cell_outputs != hidden {
                    return Err(FormatError::Invalid {
                        field: "CfC d_output",
                        value: cell_outputs,
                        limit: hidden,
                    });
                }
                let dims = [inputs + hidden, hidden, units, layers];
                Cell::Cfc(Cfc::read(&mut r, mode, act, dims)?)
            }
            Kind::WiredCfc => Cell::Wired(Wired::read(&mut r, inputs, hidden, cell_outputs)?),
        };
        let projection = if has_projection {
            Some(Projection::read(&mut r, cell_outputs, outputs)?)
        } else {
            None
        };
        if r.position() != bytes.len() {
            return Err(FormatError::Length {
                expected: r.position(),
                len: bytes.len(),
            });
        }
        let cell_scratch = match &cell {
            Cell::Ltc(c) => c.scratch_len(),
            // z = [x, h], the new state, the update's own.
            Cell::Cfc(c) => c.step_scratch_len(),
            Cell::Wired(c) => c.scratch_len(),
        };
        let memory_scratch = memory.as_ref().map_or(0, Memory::scratch_len);
        let projected = if has_projection { cell_outputs } else { 0 };
        Ok(Model {
            kind,
            inputs,
            hidden,
            cell_outputs,
            outputs,
            memory,
            cell,
            projection,
            scratch: projected + cell_scratch.max(memory_scratch),
            bytes: bytes.len(),
        })
    }

    /// The cell.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Input features per step.
    pub fn d_input(&self) -> usize {
        self.inputs
    }

    /// The cell's state per sequence: an LTC's potentials, a CfC's hidden state.
    pub fn d_hidden(&self) -> usize {
        self.hidden
    }

    /// Outputs per step (after the projection, if any).
    pub fn d_output(&self) -> usize {
        self.outputs
    }

    /// Whether ncps's memory cell runs before every step (its `c` is part of the state).
    pub fn has_memory(&self) -> bool {
        self.memory.is_some()
    }

    /// The length of the state [`step`](Self::step) keeps: `d_hidden`, then with mixed memory
    /// the memory cell's `c` (`d_hidden` more). All zeros is the layer's initial state.
    pub fn state_len(&self) -> usize {
        if self.memory.is_some() {
            2 * self.hidden
        } else {
            self.hidden
        }
    }

    /// The smallest scratch buffer [`step`](Self::step) takes.
    pub fn scratch_len(&self) -> usize {
        self.scratch
    }

    /// Bytes of the file: the parameters with their sizes and indices.
    pub fn file_len(&self) -> usize {
        self.bytes
    }

    /// One step: `x` the input (`d_input` values), `elapsed` the time since the previous
    /// input (`None`: 1, as the layer's default), `state` (`state_len` values) updated in
    /// place, `scratch` at least `scratch_len` values (its contents do not matter), `out` the
    /// outputs (`d_output` values).
    ///
    /// # Errors
    /// [`StepError::Length`] naming a slice of the wrong length, [`StepError::Elapsed`] for a
    /// NaN or infinite time; nothing is written then.
    pub fn step(
        &self,
        x: &[f32],
        elapsed: Option<f32>,
        state: &mut [f32],
        scratch: &mut [f32],
        out: &mut [f32],
    ) -> Result<(), StepError> {
        let check = |what, len, expected| match len == expected {
            true => Ok(()),
            false => Err(StepError::Length {
                what,
                len,
                expected,
            }),
        };
        check("x", x.len(), self.inputs)?;
        check("state", state.len(), self.state_len())?;
        check("out", out.len(), self.outputs)?;
        if scratch.len() < self.scratch {
            return Err(StepError::Length {
                what: "scratch",
                len: scratch.len(),
                expected: self.scratch,
            });
        }
        if let Some(dt) = elapsed.filter(|dt| !dt.is_finite()) {
            return Err(StepError::Elapsed(dt));
        }
        let (h, c) = state.split_at_mut(self.hidden);
        let (cell_out, scratch) = match self.projection {
            Some(_) => scratch.split_at_mut(self.cell_outputs),
            None => (&mut [][..], scratch),
        };
        if let Some(memory) = &self.memory {
            // As ncps: the memory cell sees the raw input, and its h is the cell's state.
            memory.step(x, h, c, scratch);
        }
        let y = match self.projection {
            Some(_) => &mut cell_out[..],
            None => &mut out[..],
        };
        match &self.cell {
            Cell::Ltc(ltc) => ltc.step(x, h, elapsed, scratch, y),
            Cell::Cfc(cfc) => cfc.step(x, h, elapsed.unwrap_or(1.0), scratch, y),
            Cell::Wired(wired) => wired.step(x, h, elapsed.unwrap_or(1.0), scratch, y),
        }
        if let Some(projection) = &self.projection {
            projection.apply(cell_out, out);
        }
        Ok(())
    }
}
