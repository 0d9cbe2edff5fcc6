//! One `use` line for the models, their configs and states, the wiring builders and the Neural
//! ODE entry points: `use ltc_burn::prelude::*;` (no second crate in your manifest for the
//! wirings).
//!
//! ```
//! use burn::backend::{Autodiff, NdArray};
//! use burn::tensor::Tensor;
//! use ltc_burn::prelude::*;
//! # #[cfg(not(ltc_doc_wgpu))] type B = Autodiff<NdArray>;
//! # #[cfg(ltc_doc_wgpu)] type B = Autodiff<burn::backend::Wgpu>;
//!
//! let device = Default::default();
//! // An LTC on a neural circuit policy, a CfC, and a Neural ODE's solver: one import.
//! let ltc = LtcConfig::from_wiring(AutoNcp::new(12, 2).build(3)?).init::<B>(&device)?;
//! let cfc = CfcConfig::new(CfcCellConfig::new(3, 8)).init::<B>(&device)?;
//! let x = Tensor::<B, 3>::ones([4, 10, 3], &device);
//! let (y, state): (Tensor<B, 3>, RecurrentState<B>) = ltc.forward(x.clone(), None, None);
//! assert_eq!((y.dims(), state.hidden.dims()), ([4, 10, 2], [4, 12]));
//! let (y, _) = cfc.forward(x, None, None);
//! assert_eq!(y.dims(), [4, 10, 8]);
//!
//! // dy/dt = -y from y(0) = 1: y(1) = e^-1.
//! let y0 = Tensor::<B, 2>::ones([1, 1], &device);
//! let field = |_t: f64, y: Tensor<B, 2>| -y;
//! let solution = solve(&field, y0, 0.0, 1.0, &SolveOptions::new())?;
//! let y1 = solution.last().into_data().to_vec::<f32>()?[0];
//! assert!((y1 - (-1.0f32).exp()).abs() < 1e-4, "y(1) = {y1}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use crate::cfc::{
    Cfc, CfcCell, CfcCellConfig, CfcConfig, CfcMode, WiredCfc, WiredCfcCell, WiredCfcCellConfig,
    WiredCfcConfig, WiredVariant,
};
pub use crate::error::ConfigError;
pub use crate::liquid::{
    LiquidCell, LiquidCellConfig, LiquidClassifier, LiquidClassifierConfig, LiquidLayer,
    LiquidLayerConfig, LiquidStack, LiquidStackConfig,
};
pub use crate::ltc::{Ltc, LtcCell, LtcCellConfig, LtcConfig, Mapping};
pub use crate::ode::{
    MlpField, MlpFieldConfig, NeuralOde, NeuralOdeConfig, OdeError, SaveAt, SolveOptions, Solver,
    VectorField, solve, solve_adjoint,
};
pub use crate::recurrent::{Recurrent, RecurrentCell, RecurrentConfig, RecurrentState};
pub use crate::stepper::{StepError, Stepper};
pub use ltc_wirings::{AutoNcp, FullyConnected, Ncp, Random, Wiring, WiringError};
