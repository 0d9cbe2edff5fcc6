//! # ltc-burn
//!
//! Liquid neural networks as [Burn](https://burn.dev) modules, generic over `B: Backend`: the
//! same code trains on the CPU (`burn-ndarray`) and the GPU (`burn-wgpu`), plugs into
//! burn-train's `Learner`, and embeds in any larger Burn model.
//!
//! What is here today:
//! - [`LiquidLayer`]: a layer of liquid neurons, `dh/dt = (−h + tanh(x·W_in + w_rec ⊙ h + b)) / τ`,
//!   integrated by explicit Euler with per-sample elapsed times; [`LiquidStack`] and
//!   [`LiquidClassifier`] build deeper models from it.
//!
//! - [`ltc`]: Liquid Time-Constant cells and layers on a wiring, equal to ncps 1.0.1's to
//!   float rounding ([`Ltc`], [`LtcCell`]).
//! - [`cfc`]: closed-form continuous-time cells and layers, plain or on a wiring, equal to
//!   ncps 1.0.1's to float rounding ([`Cfc`], [`WiredCfc`], [`CfcCell`]).
//!
//! Every config validates itself and returns a typed [`ConfigError`]; every `forward` checks
//! its input shapes and panics with the expected and the actual shape.
//!
//! ```
//! use burn::backend::{Autodiff, NdArray};
//! use burn::tensor::Tensor;
//! use ltc_burn::{LiquidClassifierConfig, LiquidStackConfig};
//! # #[cfg(not(ltc_doc_wgpu))] type Inner = NdArray;
//! # #[cfg(ltc_doc_wgpu)] type Inner = burn::backend::Wgpu;
//! type B = Autodiff<Inner>;
//!
//! let device = Default::default();
//! let model = LiquidClassifierConfig::new(LiquidStackConfig::uniform(1, 16, 1), 2)
//!     .init::<B>(&device)?;
//! let x = Tensor::<B, 3>::ones([4, 12, 1], &device); // [batch, seq, d_input]
//! let loss = model.forward(x, None).powi_scalar(2).mean();
//! let grads = loss.backward();
//! let tau_grad = model.stack.layers[0].tau_raw.grad(&grads).expect("τ is trained");
//! assert!(tau_grad.abs().sum().into_scalar() > 0.0);
//! # Ok::<(), ltc_burn::ConfigError>(())
//! ```
#![warn(missing_docs)]

pub mod activation;
pub mod backend;
pub mod cfc;
#[cfg(test)]
mod cross_backend_tests;
mod error;
pub mod import;
pub mod liquid;
pub mod ltc;
mod memory;
#[cfg(test)]
mod numerics_tests;
pub mod ode;
pub mod optim;
mod param;
pub mod persist;
#[cfg(test)]
mod reproducibility_tests;
mod sequence;
mod shape;
pub mod stepper;
#[cfg(test)]
mod stepper_tests;
#[cfg(test)]
mod untrusted_tests;
pub mod wiring;

pub use cfc::{
    Cfc, CfcCell, CfcCellConfig, CfcConfig, CfcMode, CfcState, CfcStepper, WiredCfc, WiredCfcConfig,
};
pub use error::ConfigError;
pub use liquid::{
    LiquidClassifier, LiquidClassifierConfig, LiquidLayer, LiquidLayerConfig, LiquidStack,
    LiquidStackConfig, LiquidState,
};
pub use ltc::{Ltc, LtcCell, LtcCellConfig, LtcConfig, LtcState, LtcStepper, Mapping, Positivity};
pub use sequence::on_compute_pool;
