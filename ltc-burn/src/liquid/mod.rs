//! Liquid neurons: the simplest liquid model, each neuron a first-order ODE with a learnable,
//! strictly positive time constant.

mod layer;
mod stack;

pub use layer::{LiquidLayer, LiquidLayerConfig, LiquidState};
pub use stack::{LiquidClassifier, LiquidClassifierConfig, LiquidStack, LiquidStackConfig};
