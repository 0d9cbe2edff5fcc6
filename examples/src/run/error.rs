//! Errors of a run and the checks of an example's config.

/// Errors of a run, each saying what to change.
#[derive(Debug)]
pub struct RunError(pub String);

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RunError {}

/// A [`RunError`] reading `"{context}: {error}"`.
pub fn run_error(context: impl std::fmt::Display, error: impl std::fmt::Display) -> RunError {
    RunError(format!("{context}: {error}"))
}

/// The largest count of items (training or validation examples, points) an example accepts:
/// more is certainly a typo, and would otherwise end in an allocation failure, not an error.
pub const MAX_ITEMS: usize = 10_000_000;

/// The largest layer width an example accepts (as `ltc_wirings::MAX_UNITS`).
pub const MAX_WIDTH: usize = ltc_wirings::MAX_UNITS;

/// Checks of an example's config, made before anything is written or allocated: each failure
/// names the config, the field, the bad value and what is valid
/// (`SpiralExperiment.batch_size = 0: must be at least 1`). The first failure is returned.
///
/// ```
/// use ltc_examples::run::ConfigChecks;
///
/// let err = ConfigChecks::new("Demo")
///     .training(3, 0, 1e-3)
///     .finish()
///     .unwrap_err();
/// assert_eq!(err.to_string(), "Demo.batch_size = 0: must be at least 1");
/// assert!(ConfigChecks::new("Demo").training(3, 8, 1e-3).finish().is_ok());
/// ```
#[derive(Debug)]
#[must_use = "call finish() for the result"]
pub struct ConfigChecks {
    config: &'static str,
    error: Option<String>,
}

impl ConfigChecks {
    /// Checks of the config called `config` in messages.
    pub fn new(config: &'static str) -> Self {
        Self {
            config,
            error: None,
        }
    }

    fn check(mut self, ok: bool, message: impl FnOnce(&str) -> String) -> Self {
        if self.error.is_none() && !ok {
            self.error = Some(message(self.config));
        }
        self
    }

    /// `value` is a whole number in `min..=max`.
    pub fn count(self, field: &str, value: usize, min: usize, max: usize) -> Self {
        self.check((min..=max).contains(&value), |config| {
            if value < min {
                format!("{config}.{field} = {value}: must be at least {min}")
            } else {
                format!("{config}.{field} = {value}: must be at most {max}")
            }
        })
    }

    /// `value` is finite and greater than zero.
    pub fn positive(self, field: &str, value: f64) -> Self {
        self.check(value.is_finite() && value > 0.0, |config| {
            format!("{config}.{field} = {value}: must be a finite number greater than 0")
        })
    }

    /// `value` is finite and not negative.
    pub fn non_negative(self, field: &str, value: f64) -> Self {
        self.check(value.is_finite() && value >= 0.0, |config| {
            format!("{config}.{field} = {value}: must be a finite number, 0 or more")
        })
    }

    /// What every training example takes: `epochs` and `batch_size` in `1..=MAX_ITEMS`, and a
    /// finite, positive `learning_rate`.
    pub fn training(self, epochs: usize, batch_size: usize, learning_rate: f64) -> Self {
        self.count("epochs", epochs, 1, MAX_ITEMS)
            .count("batch_size", batch_size, 1, MAX_ITEMS)
            .positive("learning_rate", learning_rate)
    }

    /// The first failed check, as a [`RunError`].
    pub fn finish(self) -> Result<(), RunError> {
        match self.error {
            Some(message) => Err(RunError(message)),
            None => Ok(()),
        }
    }
}
