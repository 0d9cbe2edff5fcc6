//! The CfC cell's step on slices, for the prepared steppers (see [`crate::stepper`]).

use burn::tensor::backend::Backend;

use super::cell::CfcCell;
use super::wired::{WiredCfcCell, WiredVariant, index_values};
use crate::kernel::cfc::cpu::CfcStepKernel;
use crate::stepper::{StepCell, StepFloat};

/// A [`CfcCell`] with its parameters read once and laid out for the CPU: backbone, heads and
/// the closed form of every mode and activation, per layer one pass over its weight rows in
/// the CPU's widest vector registers, with no allocation. Backbone dropout is off, as in
/// inference.
#[derive(Debug, Clone)]
pub(crate) struct CfcStepCell<F> {
    kernel: CfcStepKernel<F>,
}

impl<F: StepFloat> CfcStepCell<F> {
    /// Reads `cell`'s parameters, from any backend.
    pub(crate) fn read<B: Backend>(cell: &CfcCell<B>) -> Self {
        let (mode, act) = cell.kernel_kind();
        CfcStepCell {
            kernel: CfcStepKernel::new(cell.kernel_dims(1, 1), mode, act, cell.flat_params()),
        }
    }
}

impl<F: StepFloat> StepCell<F> for CfcStepCell<F> {
    fn advance(&mut self, x: &[F], h: &mut [F], timespan: Option<F>, out: &mut [F]) {
        self.kernel.step(x, h, timespan.unwrap_or(F::ONE));
        out.copy_from_slice(h);
    }

    fn clone_box(&self) -> Box<dyn StepCell<F>> {
        Box::new(self.clone())
    }
}

/// A [`WiredCfcCell`] read out for the CPU: one [`CfcStepKernel`] per wiring layer (heads only,
/// the masks applied), fed within the step as the cell feeds them, with no allocation.
#[derive(Debug, Clone)]
pub(crate) struct WiredCfcStepCell<F> {
    layers: Vec<CfcStepKernel<F>>,
    sizes: Vec<usize>,
    variant: WiredVariant,
    /// Faithful variant: the state's neuron id of each position in layer order.
    layer_order: Option<Vec<usize>>,
    /// Faithful variant: each neuron id's position in layer order.
    id_order: Option<Vec<usize>>,
    /// ncps variant: the outputs' columns of the last layer.
    motor: Option<Vec<usize>>,
    /// Scratch: the state in layer order, the faithful variant's `[x, state]`, one layer's
    /// own state.
    layered: Vec<F>,
    z: Vec<F>,
    own: Vec<F>,
}

impl<F: StepFloat> WiredCfcStepCell<F> {
    /// Reads `cell`'s parameters, from any backend.
    pub(crate) fn read<B: Backend>(cell: &WiredCfcCell<B>) -> Self {
        let layers = cell
            .layers
            .iter()
            .map(|layer| CfcStepCell::read(layer).kernel)
            .collect();
        let sizes = cell.layer_sizes();
        let n: usize = sizes.iter().sum();
        WiredCfcStepCell {
            layers,
            variant: cell.variant,
            layer_order: cell.layer_order.as_ref().map(index_values),
            id_order: cell.id_order.as_ref().map(index_values),
            motor: cell.motor_columns.as_ref().map(index_values),
            layered: vec![F::ZERO; n],
            z: vec![F::ZERO; cell.d_input + n],
            own: vec![F::ZERO; sizes.iter().copied().max().unwrap_or(0)],
            sizes,
        }
    }
}

impl<F: StepFloat> StepCell<F> for WiredCfcStepCell<F> {
    fn advance(&mut self, x: &[F], h: &mut [F], timespan: Option<F>, out: &mut [F]) {
        let dt = timespan.unwrap_or(F::ONE);
        let WiredCfcStepCell {
            layers,
            sizes,
            variant,
            layer_order,
            id_order,
            motor,
            layered,
            z,
            own,
        } = self;
        match layer_order {
            Some(order) => layered
                .iter_mut()
                .zip(order.iter())
                .for_each(|(v, &i)| *v = h[i]),
            None => layered.copy_from_slice(h),
        }
        let s = x.len();
        let (mut start, mut previous) = (0, 0..0);
        for (kernel, &n_l) in layers.iter_mut().zip(sizes.iter()) {
            match variant {
                // [the input or the layer before's new state, this layer's old state].
                WiredVariant::Ncps => {
                    let (before, rest) = layered.split_at_mut(start);
                    let input = if start == 0 {
                        x
                    } else {
                        &before[previous.clone()]
                    };
                    kernel.step(input, &mut rest[..n_l], dt);
                }
                // [x, every layer's state, new before this one]: the kernel reads the last n_l
                // values as its state; its new state goes to this layer's place.
                WiredVariant::Faithful => {
                    z[..s].copy_from_slice(x);
                    z[s..].copy_from_slice(layered);
                    let (reads, tail) = z.split_at(z.len() - n_l);
                    let own = &mut own[..n_l];
                    own.copy_from_slice(tail);
                    kernel.step(reads, own, dt);
                    layered[start..start + n_l].copy_from_slice(own);
                }
            }
            previous = start..start + n_l;
            start += n_l;
        }
        match id_order {
            Some(order) => h
                .iter_mut()
                .zip(order.iter())
                .for_each(|(v, &i)| *v = layered[i]),
            None => h.copy_from_slice(layered),
        }
        match (*variant, motor) {
            (WiredVariant::Ncps, Some(columns)) => {
                let last = &layered[previous];
                out.iter_mut()
                    .zip(columns.iter())
                    .for_each(|(o, &c)| *o = last[c]);
            }
            (WiredVariant::Ncps, None) => out.copy_from_slice(&layered[previous]),
            (WiredVariant::Faithful, _) => out.copy_from_slice(&h[..out.len()]),
        }
    }

    fn clone_box(&self) -> Box<dyn StepCell<F>> {
        Box::new(self.clone())
    }
}
