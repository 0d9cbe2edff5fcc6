//! The liquid neuron layer: the liquid cell run over time by [`Recurrent`].

use super::cell::{LiquidCell, LiquidCellConfig};
use crate::recurrent::{Recurrent, layer_config};

layer_config!(
    /// Configuration of a [`LiquidLayer`]: the cell and the sequence layer's options.
    ///
    /// ```
    /// use ltc_burn::liquid::{LiquidCellConfig, LiquidLayerConfig};
    ///
    /// let config = LiquidLayerConfig::new(LiquidCellConfig::new(3, 8).with_timespan(0.1));
    /// assert!(config.validate().is_ok());
    /// let err = LiquidLayerConfig::from_sizes(3, 0).validate().unwrap_err();
    /// assert_eq!(err.to_string(), "LiquidCellConfig.d_hidden = 0: must be at least 1");
    /// ```
    LiquidLayerConfig,
    LiquidCellConfig,
    LiquidLayer
);

impl LiquidLayerConfig {
    /// A layer of `d_hidden` liquid neurons on `d_input` features, every other setting at its
    /// default.
    pub fn from_sizes(d_input: usize, d_hidden: usize) -> Self {
        Self::new(LiquidCellConfig::new(d_input, d_hidden))
    }
}

/// A layer of liquid neurons: a [`LiquidCell`] run over time. Its outputs are the neurons'
/// states after every step.
pub type LiquidLayer<B> = Recurrent<B, LiquidCell<B>>;
