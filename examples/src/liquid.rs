//! The liquid layer of the `embed` and `xor` examples: a CfC or an LTC, behind one `Module`.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use ltc_burn::cfc::{Cfc, CfcCellConfig, CfcConfig};
use ltc_burn::ltc::{Ltc, LtcConfig};
use ltc_wirings::{Wiring, WiringError};

use crate::run::{RunError, run_error};

/// Which liquid layer reads the frame features.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum LiquidKind {
    /// A CfC with a small backbone.
    Cfc,
    /// An LTC on an AutoNCP wiring.
    Ltc,
}

/// The liquid part: either layer, behind one `Module` (Burn derives modules for enums too).
#[allow(clippy::large_enum_variant)] // one per model; boxing would only obscure the pattern
#[derive(Module, Debug)]
pub enum Liquid<B: Backend> {
    /// A CfC layer.
    Cfc(Cfc<B>),
    /// An LTC layer.
    Ltc(Ltc<B>),
}

impl<B: Backend> Liquid<B> {
    /// The last step's outputs for `[batch, seq, features]`.
    pub fn forward_last(&self, x: Tensor<B, 3>) -> Tensor<B, 2> {
        match self {
            Self::Cfc(cfc) => cfc.forward_last(x, None, None).0,
            Self::Ltc(ltc) => ltc.forward_last(x, None, None).0,
        }
    }

    /// The outputs at every step for `[batch, seq, features]`, with optional timespans
    /// `[batch, seq]`.
    pub fn forward(&self, x: Tensor<B, 3>, timespans: Option<Tensor<B, 2>>) -> Tensor<B, 3> {
        match self {
            Self::Cfc(cfc) => cfc.forward(x, None, timespans).0,
            Self::Ltc(ltc) => ltc.forward(x, None, timespans).0,
        }
    }

    /// `kind` on `input` features with `units` neurons: a CfC with a 32-unit backbone, or an
    /// LTC on the wiring `wiring()` builds (for `input` inputs).
    pub fn init(
        kind: LiquidKind,
        input: usize,
        units: usize,
        wiring: impl FnOnce() -> Result<Wiring, WiringError>,
        device: &B::Device,
    ) -> Result<Self, RunError> {
        match kind {
            LiquidKind::Cfc => {
                CfcConfig::new(CfcCellConfig::new(input, units).with_backbone_units(32))
                    .init(device)
                    .map(Self::Cfc)
                    .map_err(|e| run_error("CfC", e))
            }
            LiquidKind::Ltc => {
                let wiring = wiring().map_err(|e| run_error("LTC wiring", e))?;
                LtcConfig::from_wiring(wiring)
                    .init(device)
                    .map(Self::Ltc)
                    .map_err(|e| run_error("LTC", e))
            }
        }
    }

    /// Output features per step.
    pub fn d_output(&self) -> usize {
        match self {
            Self::Cfc(cfc) => cfc.d_output(),
            Self::Ltc(ltc) => ltc.d_output(),
        }
    }
}
