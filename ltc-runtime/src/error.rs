//! What can go wrong: a file that is not a valid model ([`FormatError`]), a step given slices
//! of the wrong length or a bad elapsed time ([`StepError`]).

use core::fmt;

/// Why [`Model::parse`](crate::Model::parse) rejected a file. Nothing in a model that parsed
/// can make a step index out of bounds: every size, offset and index is checked here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatError {
    /// The file ends before `needed` bytes (it has `len`): truncated, or not a model.
    Truncated {
        /// Bytes the file would need.
        needed: usize,
        /// Bytes it has.
        len: usize,
    },
    /// The length is not a whole number of 4-byte words, or differs from the header's.
    Length {
        /// Bytes the header announces.
        expected: usize,
        /// Bytes there are.
        len: usize,
    },
    /// The first word is not `b"LTCR"`: not a file ltc-burn exported.
    Magic([u8; 4]),
    /// A version this crate cannot read.
    Version {
        /// The file's version.
        found: u32,
        /// The version this crate reads.
        supported: u32,
    },
    /// A code (`field`) with no meaning, e.g. an unknown cell kind or mode.
    Code {
        /// The field.
        field: &'static str,
        /// Its value.
        value: u32,
    },
    /// A size or index (`field`) out of its range (`value`, at most `limit` allowed), or
    /// sizes that disagree.
    Invalid {
        /// The field.
        field: &'static str,
        /// Its value.
        value: usize,
        /// The largest value it may have.
        limit: usize,
    },
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::Truncated { needed, len } => write!(
                f,
                "model file truncated: {len} bytes, at least {needed} needed (export it again)"
            ),
            FormatError::Length { expected, len } => write!(
                f,
                "model file has {len} bytes, its header says {expected} (a truncated or \
                 padded file: export it again)"
            ),
            FormatError::Magic(found) => write!(
                f,
                "not an ltc-runtime model: it starts with {found:?}, expected b\"LTCR\" \
                 (write it with ltc-burn's to_runtime)"
            ),
            FormatError::Version { found, supported } => write!(
                f,
                "model format version {found}, this ltc-runtime reads version {supported} \
                 (export it with the matching ltc-burn)"
            ),
            FormatError::Code { field, value } => {
                write!(f, "model file: {field} = {value} is not a known code")
            }
            FormatError::Invalid {
                field,
                value,
                limit,
            } => write!(f, "model file: {field} = {value}, at most {limit} allowed"),
        }
    }
}

impl core::error::Error for FormatError {}

/// Why [`Model::step`](crate::Model::step) refused to step; the state is left as it was.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepError {
    /// A slice (`what`: `"x"`, `"state"`, `"scratch"` or `"out"`) of the wrong length.
    Length {
        /// The slice.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The length the model needs ([`Model::d_input`](crate::Model::d_input),
        /// [`state_len`](crate::Model::state_len), at least
        /// [`scratch_len`](crate::Model::scratch_len), [`d_output`](crate::Model::d_output)).
        expected: usize,
    },
    /// A NaN or infinite elapsed time.
    Elapsed(f32),
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepError::Length {
                what: "scratch",
                len,
                expected,
            } => write!(
                f,
                "step: scratch has {len} values, at least {expected} needed"
            ),
            StepError::Length {
                what,
                len,
                expected,
            } => write!(f, "step: {what} has {len} values, expected {expected}"),
            StepError::Elapsed(dt) => write!(
                f,
                "step: elapsed time {dt} is not finite (pass a finite time, or None for 1)"
            ),
        }
    }
}

impl core::error::Error for StepError {}
