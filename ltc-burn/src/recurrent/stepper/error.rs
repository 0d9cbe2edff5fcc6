//! Why a stepper refused an input, and the checks that say so.

use core::fmt;

use super::StepFloat;

/// Why a stepper refused an input. Nothing changes when it does: the state stays as it was.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StepError {
    /// A slice has the wrong number of values.
    Length {
        /// The method, e.g. `"LtcStepper::step"`.
        context: String,
        /// The argument, e.g. `"x"`.
        what: &'static str,
        /// Values given.
        actual: usize,
        /// Values expected.
        expected: usize,
        /// How `expected` comes about, e.g. `"batch 1 × d_input 3"`.
        layout: String,
    },
    /// A timespan is NaN or infinite.
    Timespan {
        /// The method.
        context: String,
        /// The sample.
        sample: usize,
        /// The value given.
        value: f64,
    },
    /// A stepper for no sequences.
    ZeroBatch {
        /// The method, e.g. `"Ltc::stepper"`.
        context: String,
    },
    /// The state given has a memory cell's `c` where the layer has none, or lacks it where the
    /// layer has one.
    Memory {
        /// The method.
        context: String,
        /// Whether the layer has mixed memory.
        layer_has_memory: bool,
    },
    /// The layer's cell has no step kernel
    /// ([`RecurrentCell::step_cell`](crate::recurrent::RecurrentCell::step_cell) is `None`).
    Unsupported {
        /// The layer, e.g. `"WiredCfc"`.
        layer: &'static str,
    },
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length {
                context,
                what,
                actual,
                expected,
                layout,
            } => write!(
                f,
                "{context}: {what} has {actual} values, expected {expected} ({layout})"
            ),
            Self::Timespan {
                context,
                sample,
                value,
            } => write!(
                f,
                "{context}: timespans[{sample}] = {value}: must be a finite time (0 or less \
                 holds the state)"
            ),
            Self::ZeroBatch { context } => {
                write!(
                    f,
                    "{context}: batch = 0: a stepper needs at least 1 sequence"
                )
            }
            Self::Memory {
                context,
                layer_has_memory: true,
            } => write!(
                f,
                "{context}: the layer has mixed memory: give its memory with the state"
            ),
            Self::Memory {
                context,
                layer_has_memory: false,
            } => write!(
                f,
                "{context}: the layer has no mixed memory: give no memory with the state"
            ),
            Self::Unsupported { layer } => write!(
                f,
                "{layer}::stepper: this layer's cell has no prepared stepper yet; step it with \
                 {layer}::step"
            ),
        }
    }
}

impl std::error::Error for StepError {}

/// `Ok` when `values` has `expected` values; otherwise [`StepError::Length`].
pub(crate) fn check_len(
    context: &str,
    what: &'static str,
    values: usize,
    expected: usize,
    layout: impl FnOnce() -> String,
) -> Result<(), StepError> {
    if values == expected {
        return Ok(());
    }
    Err(StepError::Length {
        context: context.to_string(),
        what,
        actual: values,
        expected,
        layout: layout(),
    })
}

/// `Ok` when `batch > 0`.
pub(crate) fn check_batch(context: String, batch: usize) -> Result<(), StepError> {
    if batch == 0 {
        return Err(StepError::ZeroBatch { context });
    }
    Ok(())
}

/// Checks timespans: `batch` values, each finite.
pub(crate) fn check_timespans<F: StepFloat>(
    context: &str,
    timespans: Option<&[F]>,
    batch: usize,
) -> Result<(), StepError> {
    let Some(dt) = timespans else {
        return Ok(());
    };
    check_len(context, "timespans", dt.len(), batch, || {
        format!("batch {batch}")
    })?;
    for (sample, &value) in dt.iter().enumerate() {
        let value = value.to_f64();
        if !value.is_finite() {
            return Err(StepError::Timespan {
                context: context.to_string(),
                sample,
                value,
            });
        }
    }
    Ok(())
}
