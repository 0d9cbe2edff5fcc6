//! # ltc-burn
//!
//! Liquid neural networks as [Burn](https://burn.dev) modules, generic over `B: Backend`: the
//! same code trains on the CPU (`burn-ndarray`) and the GPU (`burn-wgpu`), plugs into
//! burn-train's `Learner`, and embeds in any larger Burn model.
//!
//! What is here:
//! - [`recurrent`]: one cell trait ([`RecurrentCell`]) and one sequence layer ([`Recurrent`])
//!   for every cell, a user's own included: layout, shape checks, per-sample timespans, initial
//!   state, ncps's mixed memory, an output projection, `forward`, `forward_last`, `step`.
//! - [`ltc`]: Liquid Time-Constant cells and layers on a wiring, equal to ncps 1.0.1's to
//!   float rounding ([`Ltc`], [`LtcCell`]).
//! - [`cfc`]: closed-form continuous-time cells and layers, plain or on a wiring, equal to
//!   ncps 1.0.1's to float rounding ([`Cfc`], [`WiredCfc`], [`CfcCell`]).
//! - [`liquid`]: a layer of liquid neurons, `dh/dt = (−h + tanh(x·W_in + w_rec ⊙ h + b)) / τ`,
//!   integrated by explicit Euler ([`LiquidLayer`]); [`LiquidStack`] and [`LiquidClassifier`]
//!   build deeper models from it.
//! - [`ode`]: Neural ODEs: Runge–Kutta solvers with dense output and step control,
//!   back-propagation through the solver or the adjoint method, the [`ode::NeuralOde`] module.
//! - [`stepper`]: layers prepared for streaming inference on the CPU, one input at a time.
//! - [`kernel`]: the fused kernels per backend (CPU and CubeCL) behind one dispatch point, and
//!   the table of which backend has which.
//! - [`export`]: a trained LTC, CfC or wired CfC written for `ltc_runtime`, which steps it
//!   with no std, no allocation and no Burn.
//! - [`persist`] (configs and weights on disk), [`import`] (ncps checkpoints), [`wiring`]
//!   (wirings as tensors), [`optim`] (gradient helpers), [`activation`], [`backend`].
//! - [`prelude`]: `use ltc_burn::prelude::*;` brings the layers, configs, states, the wiring
//!   builders and the ODE entry points.
//!
//! Every config validates itself and returns a typed [`ConfigError`]; every `forward` checks
//! its input shapes and panics with the expected and the actual shape.
//!
//! ```
//! use burn::backend::{Autodiff, NdArray};
//! use burn::tensor::Tensor;
//! use ltc_burn::liquid::{LiquidClassifierConfig, LiquidStackConfig};
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
//! let tau_grad = model.stack.layers[0].cell.tau_raw.grad(&grads).expect("τ is trained");
//! assert!(tau_grad.abs().sum().into_scalar() > 0.0);
//! # Ok::<(), ltc_burn::ConfigError>(())
//! ```
#![warn(missing_docs)]

pub mod activation;
pub mod backend;
pub mod cfc;
mod error;
pub mod export;
pub mod import;
pub mod kernel;
pub mod liquid;
pub mod ltc;
pub mod ode;
pub mod optim;
mod param;
pub mod persist;
pub mod prelude;
pub mod recurrent;
mod shape;
pub use recurrent::stepper;
#[cfg(test)]
mod tests;
pub mod wiring;

pub use cfc::{
    Cfc, CfcCell, CfcCellConfig, CfcConfig, CfcMode, WiredCfc, WiredCfcCell, WiredCfcConfig,
};
pub use error::ConfigError;
pub use liquid::{
    LiquidCell, LiquidCellConfig, LiquidClassifier, LiquidClassifierConfig, LiquidLayer,
    LiquidLayerConfig, LiquidStack, LiquidStackConfig,
};
pub use ltc::{Ltc, LtcCell, LtcCellConfig, LtcConfig, Mapping, Positivity};
pub use recurrent::{Recurrent, RecurrentCell, RecurrentConfig, RecurrentState};
pub use stepper::{StepError, Stepper};
