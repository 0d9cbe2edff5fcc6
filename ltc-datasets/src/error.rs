//! Typed errors of the dataset generators and loaders.

use core::fmt;

/// A dataset configuration or input that cannot produce data.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum DatasetError {
    /// A size that must be at least one is zero.
    ZeroSize {
        /// The config type.
        config: &'static str,
        /// The field.
        field: &'static str,
    },
    /// A number lies outside its valid range (or is NaN or infinite).
    OutOfRange {
        /// The config type.
        config: &'static str,
        /// The field.
        field: &'static str,
        /// The value given.
        value: f64,
        /// What would be valid.
        valid: String,
    },
    /// Malformed CSV input.
    Csv {
        /// The file.
        file: String,
        /// 1-based line, when one is to blame.
        line: Option<u64>,
        /// The column, when one is to blame.
        column: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// A series too short for even one window.
    TooShort {
        /// What is short, e.g. `"series"`.
        what: String,
        /// Rows it has.
        rows: usize,
        /// Rows one window needs.
        needed: usize,
    },
}

impl fmt::Display for DatasetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroSize { config, field } => {
                write!(f, "{config}.{field} = 0: must be at least 1")
            }
            Self::OutOfRange {
                config,
                field,
                value,
                valid,
            } => write!(f, "{config}.{field} = {value}: must be {valid}"),
            Self::Csv {
                file,
                line,
                column,
                message,
            } => {
                write!(f, "{file}")?;
                if let Some(line) = line {
                    write!(f, ":{line}")?;
                }
                if let Some(column) = column {
                    write!(f, ": column '{column}'")?;
                }
                write!(f, ": {message}")
            }
            Self::TooShort { what, rows, needed } => write!(
                f,
                "{what} has {rows} rows, but one window needs {needed} (seq_len + horizon)"
            ),
        }
    }
}

impl std::error::Error for DatasetError {}

/// Helpers for `validate()` methods.
pub(crate) struct Check {
    pub(crate) config: &'static str,
}

impl Check {
    pub(crate) fn nonzero(&self, field: &'static str, value: usize) -> Result<(), DatasetError> {
        if value == 0 {
            return Err(DatasetError::ZeroSize {
                config: self.config,
                field,
            });
        }
        Ok(())
    }

    /// `lo < value < hi` (either bound may be infinite), and finite.
    pub(crate) fn within(
        &self,
        field: &'static str,
        value: f64,
        lo: f64,
        hi: f64,
        inclusive_lo: bool,
    ) -> Result<(), DatasetError> {
        let above = if inclusive_lo {
            value >= lo
        } else {
            value > lo
        };
        if !(value.is_finite() && above && value < hi) {
            let open = if inclusive_lo { ">=" } else { ">" };
            let valid = if hi.is_finite() {
                format!("a finite number {open} {lo} and < {hi}")
            } else {
                format!("a finite number {open} {lo}")
            };
            return Err(DatasetError::OutOfRange {
                config: self.config,
                field,
                value,
                valid,
            });
        }
        Ok(())
    }
}
