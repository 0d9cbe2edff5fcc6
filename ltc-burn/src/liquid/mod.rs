//! Liquid neurons: the simplest liquid model, each neuron a first-order ODE with a learnable,
//! strictly positive time constant.

mod cell;
mod layer;
mod stack;

pub use cell::{LiquidCell, LiquidCellConfig};
pub use layer::{LiquidLayer, LiquidLayerConfig};
pub use stack::{LiquidClassifier, LiquidClassifierConfig, LiquidStack, LiquidStackConfig};

#[cfg(test)]
mod tests;
