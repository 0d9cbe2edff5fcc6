//! Typed configuration errors shared by every layer of the crate.

use core::fmt;

/// A configuration that cannot build a layer.
///
/// Every variant names the config type, the field, the offending value and what would be valid,
/// so that the message alone is enough to fix the call.
///
/// ```
/// use ltc_burn::{ConfigError, LiquidLayerConfig};
///
/// let err = LiquidLayerConfig::from_sizes(3, 0).validate().unwrap_err();
/// assert!(matches!(err, ConfigError::ZeroSize { field: "d_hidden", .. }));
/// assert_eq!(
///     err.to_string(),
///     "LiquidCellConfig.d_hidden = 0: must be at least 1"
/// );
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A size that must be at least one is zero.
    ZeroSize {
        /// The config type, e.g. `"LiquidCellConfig"`.
        config: &'static str,
        /// The field, e.g. `"d_hidden"`.
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
        /// What would be valid, e.g. `"a finite number > 0"`.
        valid: &'static str,
    },
    /// Two fields that must be ordered are not, e.g. an initial range whose low end is above
    /// its high end.
    Inconsistent {
        /// The config type.
        config: &'static str,
        /// What is wrong, naming both fields and their values.
        message: String,
    },
}

impl fmt::Display for ConfigError {
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
            Self::Inconsistent { config, message } => write!(f, "{config}: {message}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Small helpers for `validate()` methods: each returns the typed error for one rule.
pub(crate) struct Check {
    pub(crate) config: &'static str,
}

impl Check {
    pub(crate) fn nonzero(&self, field: &'static str, value: usize) -> Result<(), ConfigError> {
        if value == 0 {
            return Err(ConfigError::ZeroSize {
                config: self.config,
                field,
            });
        }
        Ok(())
    }

    pub(crate) fn positive(&self, field: &'static str, value: f64) -> Result<(), ConfigError> {
        if !(value.is_finite() && value > 0.0) {
            return Err(ConfigError::OutOfRange {
                config: self.config,
                field,
                value,
                valid: "a finite number > 0",
            });
        }
        Ok(())
    }

    pub(crate) fn non_negative(&self, field: &'static str, value: f64) -> Result<(), ConfigError> {
        if !(value.is_finite() && value >= 0.0) {
            return Err(ConfigError::OutOfRange {
                config: self.config,
                field,
                value,
                valid: "a finite number >= 0",
            });
        }
        Ok(())
    }

    /// A probability that must lie in `[0, 1)`, such as a dropout rate.
    pub(crate) fn fraction(&self, field: &'static str, value: f64) -> Result<(), ConfigError> {
        if !(value.is_finite() && (0.0..1.0).contains(&value)) {
            return Err(ConfigError::OutOfRange {
                config: self.config,
                field,
                value,
                valid: "a number in [0, 1)",
            });
        }
        Ok(())
    }

    /// An initial range `[low, high]`: both finite, `low <= high`.
    pub(crate) fn range(&self, field: &'static str, [lo, hi]: [f64; 2]) -> Result<(), ConfigError> {
        for value in [lo, hi] {
            if !value.is_finite() {
                return Err(ConfigError::OutOfRange {
                    config: self.config,
                    field,
                    value,
                    valid: "a finite number",
                });
            }
        }
        if lo > hi {
            return Err(self.inconsistent(format!(
                "{field} = [{lo}, {hi}]: the low end must not exceed the high end"
            )));
        }
        Ok(())
    }

    pub(crate) fn inconsistent(&self, message: String) -> ConfigError {
        ConfigError::Inconsistent {
            config: self.config,
            message,
        }
    }
}
