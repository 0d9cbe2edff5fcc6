//! The CfC sequence layers (ncps's `CfC`): a plain or a wired cell run over time by
//! [`Recurrent`].

use burn::tensor::backend::Backend;
use ltc_wirings::Wiring;

use super::cell::{CfcCell, CfcCellConfig};
use super::wired::{WiredCfcCell, WiredCfcCellConfig};
use crate::recurrent::{Recurrent, layer_config};

layer_config!(
    /// Configuration of a [`Cfc`] layer (ncps's `CfC(input_size, units, …)`).
    ///
    /// ```
    /// use ltc_burn::cfc::{CfcCellConfig, CfcConfig, CfcMode};
    ///
    /// let config = CfcConfig::new(CfcCellConfig::new(3, 32).with_mode(CfcMode::NoGate))
    ///     .with_proj_size(Some(2))
    ///     .with_mixed_memory(true);
    /// assert!(config.validate().is_ok());
    /// // The defaults are ncps's: CfC(3, 32) with a 128-unit backbone.
    /// assert_eq!(CfcConfig::from_sizes(3, 32).cell.backbone_units, 128);
    /// ```
    CfcConfig,
    CfcCellConfig,
    Cfc
);

impl CfcConfig {
    /// A CfC layer of `d_hidden` units on `d_input` features, every other setting at ncps's
    /// default (mode default, LeCun tanh, one backbone layer of 128 units).
    pub fn from_sizes(d_input: usize, d_hidden: usize) -> Self {
        Self::new(CfcCellConfig::new(d_input, d_hidden))
    }
}

layer_config!(
    /// Configuration of a [`WiredCfc`] layer (ncps's `CfC(input_size, wiring, …)`); its
    /// memory cell, with mixed memory, spans all neurons.
    ///
    /// ```
    /// use ltc_burn::cfc::{WiredCfcCellConfig, WiredCfcConfig, WiredVariant};
    ///
    /// let wiring = ltc_wirings::AutoNcp::new(16, 2).build(5)?;
    /// let config =
    ///     WiredCfcConfig::new(WiredCfcCellConfig::new(wiring).with_variant(WiredVariant::Faithful));
    /// assert!(config.validate().is_ok());
    /// # Ok::<(), ltc_wirings::WiringError>(())
    /// ```
    WiredCfcConfig,
    WiredCfcCellConfig,
    WiredCfc
);

impl WiredCfcConfig {
    /// A wired CfC layer on `wiring` with every other setting at its default.
    pub fn from_wiring(wiring: Wiring) -> Self {
        Self::new(WiredCfcCellConfig::new(wiring))
    }
}

/// A CfC layer over a plain cell (ncps's `CfC(input_size, units)`): a [`CfcCell`] run over
/// time, with an optional output projection and mixed memory. Without mixed memory a whole
/// sequence runs through the fused kernel where the backend has one.
///
/// ```
/// use burn::backend::{Autodiff, NdArray};
/// use burn::tensor::Tensor;
/// use ltc_burn::cfc::CfcConfig;
/// # #[cfg(not(ltc_doc_wgpu))] type Inner = NdArray;
/// # #[cfg(ltc_doc_wgpu)] type Inner = burn::backend::Wgpu;
/// type B = Autodiff<Inner>;
///
/// let device = Default::default();
/// let cfc = CfcConfig::from_sizes(3, 8).with_proj_size(Some(2)).init::<B>(&device)?;
/// let x = Tensor::<B, 3>::ones([4, 10, 3], &device); // [batch, seq, d_input]
/// let timespans = Tensor::<B, 2>::full([4, 10], 0.5, &device); // [batch, seq]
/// let (y, state) = cfc.forward(x, None, Some(timespans));
/// assert_eq!(y.dims(), [4, 10, 2]); // projected outputs at every step
/// assert_eq!(state.hidden.dims(), [4, 8]);
/// let grads = y.powi_scalar(2).sum().backward();
/// let grad = cfc.cell.ff1.weight.grad(&grads).expect("ff1 is trained");
/// assert!(grad.abs().sum().into_scalar() > 0.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type Cfc<B> = Recurrent<B, CfcCell<B>>;

impl<B: Backend> Cfc<B> {
    /// The layer with its cell's sequences fused or not ([`CfcCell::with_fused`]).
    pub fn with_fused(self, fused: bool) -> Self {
        Self {
            cell: self.cell.with_fused(fused),
            ..self
        }
    }
}

/// A CfC layer over a wired cell (ncps's `CfC(input_size, wiring)`): a [`WiredCfcCell`] run
/// over time.
pub type WiredCfc<B> = Recurrent<B, WiredCfcCell<B>>;
