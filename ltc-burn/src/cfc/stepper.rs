//! The CfC cell's step on slices, for the prepared steppers (see [`crate::stepper`]).

use burn::tensor::backend::Backend;

use super::cell::CfcCell;
use crate::kernel::cfc::cpu::CfcStepKernel;
use crate::kernel::cpu::into_vec;
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
        let params = cell
            .fused_params(mode)
            .expect("a CfC cell has the heads of its mode");
        let theta: Vec<F> = into_vec(params.flat());
        CfcStepCell {
            kernel: CfcStepKernel::new(cell.kernel_dims(1, 1), mode, act, theta),
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
