//! Typed errors of the wiring builders and of wiring records.

use core::fmt;

/// A wiring configuration (or record) that cannot give a valid graph. Every variant carries
/// the offending values and what would be valid.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum WiringError {
    /// A size that must be at least one is zero.
    Zero {
        /// The builder, e.g. `"Ncp"`.
        builder: &'static str,
        /// The parameter, e.g. `"command_neurons"`.
        param: &'static str,
    },
    /// The number of output (motor) neurons does not fit the units.
    OutputDim {
        /// The builder.
        builder: &'static str,
        /// The requested outputs.
        output_dim: usize,
        /// The units.
        units: usize,
        /// The largest valid value.
        max: usize,
    },
    /// A fan-out or fan-in asks for more neurons than the target layer has.
    FanoutExceedsLayer {
        /// The builder.
        builder: &'static str,
        /// The parameter, e.g. `"sensory_fanout"`.
        param: &'static str,
        /// The value given.
        value: usize,
        /// The layer it draws from, e.g. `"inter"`.
        layer: &'static str,
        /// Neurons available in that layer.
        available: usize,
    },
    /// A sparsity level outside its range (or NaN).
    Sparsity {
        /// The builder.
        builder: &'static str,
        /// The value given.
        value: f64,
        /// The valid range, as text (`"[0, 1)"`).
        valid: &'static str,
    },
    /// A size beyond what a wiring can hold (see [`MAX_UNITS`](crate::MAX_UNITS)), or more
    /// draws than the graph has synapses.
    TooLarge {
        /// The builder.
        builder: &'static str,
        /// The parameter, e.g. `"units"`.
        param: &'static str,
        /// The value given.
        value: usize,
        /// The largest valid value.
        max: usize,
    },
    /// A wiring file that cannot be read or written, or whose JSON is not a valid wiring.
    File {
        /// The file.
        path: String,
        /// What went wrong (serde's message with line and column, or the I/O error).
        message: String,
    },
    /// A wiring record that is not a valid graph (wrong matrix shape, polarity outside
    /// {−1, 0, 1}, inconsistent layers).
    Record {
        /// What is wrong.
        message: String,
    },
}

impl fmt::Display for WiringError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Zero { builder, param } => write!(f, "{builder}.{param} = 0: must be at least 1"),
            Self::OutputDim {
                builder,
                output_dim,
                units,
                max,
            } => write!(
                f,
                "{builder}: output_dim = {output_dim} does not fit {units} units: must be between 1 and {max}"
            ),
            Self::FanoutExceedsLayer {
                builder,
                param,
                value,
                layer,
                available,
            } => write!(
                f,
                "{builder}.{param} = {value} exceeds the {available} {layer} neurons: must be at most {available}"
            ),
            Self::Sparsity {
                builder,
                value,
                valid,
            } => write!(f, "{builder}: sparsity = {value} must lie in {valid}"),
            Self::TooLarge {
                builder,
                param,
                value,
                max,
            } => write!(
                f,
                "{builder}.{param} = {value} is too large: must be at most {max}"
            ),
            Self::File { path, message } => write!(f, "{path}: {message}"),
            Self::Record { message } => write!(f, "invalid wiring record: {message}"),
        }
    }
}

impl std::error::Error for WiringError {}
