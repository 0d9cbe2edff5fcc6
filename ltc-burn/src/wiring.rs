//! Wiring masks and polarities as Burn tensors, on any backend.
//!
//! A [`Wiring`] (from [`ltc_wirings`]) holds row-major `Vec`s; these helpers place them on a
//! device with the right shapes, for use as non-trainable masks or as initial reversal
//! potentials.

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
pub use ltc_wirings::Wiring;

fn matrix<B: Backend>(
    values: Vec<f32>,
    rows: usize,
    cols: usize,
    device: &B::Device,
) -> Tensor<B, 2> {
    Tensor::from_data(
        TensorData::new(values, [rows, cols]).convert::<B::FloatElem>(),
        device,
    )
}

/// The 0/1 mask of neuron → neuron synapses, `[units, units]` (`[source, destination]`).
///
/// ```
/// use burn::backend::NdArray;
/// let wiring = ltc_wirings::AutoNcp::new(16, 2).build(5)?;
/// # #[cfg(not(ltc_doc_wgpu))] type B = NdArray;
/// # #[cfg(ltc_doc_wgpu)] type B = burn::backend::Wgpu;
/// let mask = ltc_burn::wiring::mask::<B>(&wiring, &Default::default());
/// assert_eq!(mask.dims(), [16, 16]);
/// assert_eq!(mask.sum().into_scalar() as usize, wiring.synapse_count());
/// # Ok::<(), ltc_wirings::WiringError>(())
/// ```
pub fn mask<B: Backend>(wiring: &Wiring, device: &B::Device) -> Tensor<B, 2> {
    matrix(wiring.mask(), wiring.units(), wiring.units(), device)
}

/// The 0/1 mask of input → neuron synapses, `[input_dim, units]`.
pub fn sensory_mask<B: Backend>(wiring: &Wiring, device: &B::Device) -> Tensor<B, 2> {
    matrix(
        wiring.sensory_mask(),
        wiring.input_dim(),
        wiring.units(),
        device,
    )
}

/// The polarities (−1, 0, +1) of neuron → neuron synapses, `[units, units]`.
pub fn erev<B: Backend>(wiring: &Wiring, device: &B::Device) -> Tensor<B, 2> {
    matrix(wiring.erev(), wiring.units(), wiring.units(), device)
}

/// The polarities of input → neuron synapses, `[input_dim, units]`.
pub fn sensory_erev<B: Backend>(wiring: &Wiring, device: &B::Device) -> Tensor<B, 2> {
    matrix(
        wiring.sensory_erev(),
        wiring.input_dim(),
        wiring.units(),
        device,
    )
}

#[cfg(test)]
mod tests;
