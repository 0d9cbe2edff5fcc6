//! The LTC sequence layer (ncps's `LTC`): the cell run over time by [`Recurrent`].

use burn::tensor::backend::Backend;
use ltc_wirings::Wiring;

use super::cell::{LtcCell, LtcCellConfig};
use crate::recurrent::{Recurrent, layer_config};

layer_config!(
    /// Configuration of an [`Ltc`] layer: the cell and the sequence layer's options.
    ///
    /// ```
    /// use ltc_burn::ltc::{LtcCellConfig, LtcConfig, Mapping, Positivity};
    ///
    /// let wiring = ltc_wirings::FullyConnected::new(8).build(3)?;
    /// let config = LtcConfig::new(
    ///     LtcCellConfig::new(wiring)
    ///         .with_ode_unfolds(3)
    ///         .with_positivity(Positivity::Clip)
    ///         .with_output_mapping(Mapping::Identity),
    /// )
    /// .with_mixed_memory(true);
    /// assert_eq!(config.cell.wiring.units(), 8);
    /// # Ok::<(), ltc_wirings::WiringError>(())
    /// ```
    LtcConfig,
    LtcCellConfig,
    Ltc
);

impl LtcConfig {
    /// An LTC layer on `wiring` with every other setting at its default.
    pub fn from_wiring(wiring: Wiring) -> Self {
        Self::new(LtcCellConfig::new(wiring))
    }
}

/// The LTC sequence layer: an [`LtcCell`] run over time, as ncps's `LTC`.
///
/// The outputs are the mapped potentials of the motor neurons; the state is the potentials
/// of every neuron. Without mixed memory a whole sequence is one unfold call, fused where the
/// backend has a kernel.
///
/// ```
/// use burn::backend::{Autodiff, NdArray};
/// use burn::tensor::Tensor;
/// use ltc_burn::ltc::LtcConfig;
/// # #[cfg(not(ltc_doc_wgpu))] type Inner = NdArray;
/// # #[cfg(ltc_doc_wgpu)] type Inner = burn::backend::Wgpu;
/// type B = Autodiff<Inner>;
///
/// let device = Default::default();
/// let wiring = ltc_wirings::AutoNcp::new(16, 2).build(3)?;
/// let ltc = LtcConfig::from_wiring(wiring).init::<B>(&device)?;
/// let x = Tensor::<B, 3>::ones([4, 10, 3], &device); // [batch, seq, d_input]
/// let timespans = Tensor::<B, 2>::full([4, 10], 0.5, &device); // [batch, seq]
/// let (y, state) = ltc.forward(x, None, Some(timespans));
/// assert_eq!(y.dims(), [4, 10, 2]); // the 2 motor neurons at every step
/// assert_eq!(state.hidden.dims(), [4, 16]);
/// let grads = y.powi_scalar(2).sum().backward();
/// let w_grad = ltc.cell.w.grad(&grads).expect("w is trained");
/// assert!(w_grad.abs().sum().into_scalar() > 0.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type Ltc<B> = Recurrent<B, LtcCell<B>>;

impl<B: Backend> Ltc<B> {
    /// The layer with its cell's unfold loop fused or not ([`LtcCell::with_fused`]).
    pub fn with_fused(self, fused: bool) -> Self {
        Self {
            cell: self.cell.with_fused(fused),
            ..self
        }
    }
}
