//! [`CfcStepper`]: a [`Cfc`] layer prepared for streaming inference on the CPU.

use burn::tensor::backend::Backend;

use super::fused;
use super::layer::{Cfc, CfcState};
use crate::stepper::{
    Memory, StepCell, StepError, StepFloat, Stepper, check_batch, into_vec, row_times,
};

/// A [`Cfc`] layer prepared for streaming inference: its parameters read once and laid out
/// for the CPU (built by [`Cfc::stepper`]), then one input at a time on slices, the state
/// kept. See [the module](crate::stepper).
///
/// Each [`step`](Stepper::step) computes what [`CfcLayer::step`](super::CfcLayer::step) computes
/// (the memory cell with mixed memory, the backbone, the heads and the closed form of every
/// mode and activation, elapsed times, the output projection) for `batch` sequences, with no
/// allocation: per layer one pass over its weight rows, in the CPU's widest vector registers.
/// Backbone dropout is off, as in inference.
///
/// ```
/// use burn::backend::NdArray;
/// use ltc_burn::cfc::{CfcCellConfig, CfcConfig};
///
/// let device = Default::default();
/// let cfc = CfcConfig::new(CfcCellConfig::new(3, 16)).with_proj_size(Some(2));
/// let cfc = cfc.init::<NdArray>(&device)?;
/// let mut stepper = cfc.stepper::<f32>(1)?;
/// for t in 0..10 {
///     let y = stepper.step(&[t as f32, 0.5, -0.5], Some(&[0.1]))?; // 0.1 s since the last
///     assert_eq!(y.len(), 2);
/// }
/// assert_eq!(stepper.state().len(), 16);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type CfcStepper<F> = Stepper<F, CfcStepCell<F>>;

/// The CfC cell of a [`CfcStepper`]: backbone, heads and closed form, and the projection.
#[derive(Debug, Clone)]
pub struct CfcStepCell<F> {
    cell: fused::cpu::Prepared<F>,
    /// The projection's weight `[hidden, proj]` and bias.
    fc: Option<(Vec<F>, Option<Vec<F>>)>,
}

impl<F> crate::stepper::sealed::Cell for CfcStepCell<F> {}

impl<F: StepFloat> StepCell<F> for CfcStepCell<F> {
    const STEP: &'static str = "CfcStepper::step";
    const SET_STATE: &'static str = "CfcStepper::set_state";

    fn advance(&mut self, x: &[F], h: &mut [F], dt: Option<F>, out: &mut [F]) {
        self.cell.step(x, h, dt.unwrap_or(F::ONE));
        match &self.fc {
            Some((w, bias)) => row_times(h, w, bias.as_deref(), out),
            None => out.copy_from_slice(h),
        }
    }
}

impl<B: Backend> Cfc<B> {
    /// This layer prepared for streaming inference on the CPU, for `batch` sequences from a
    /// zero state, computing in `F` (`f32` or `f64`): see [`CfcStepper`]. Reads the parameters
    /// once, from any backend; train further, and build a new one.
    ///
    /// # Errors
    /// [`StepError::ZeroBatch`] when `batch` is 0.
    pub fn stepper<F: StepFloat>(&self, batch: usize) -> Result<CfcStepper<F>, StepError> {
        check_batch("Cfc::stepper", batch)?;
        let cell = &self.cell;
        let (mode, act) = cell.kernel_kind();
        let params = cell
            .fused_params(mode)
            .expect("a CfC cell has the heads of its mode");
        let theta: Vec<F> = into_vec(params.flat());
        let hidden = cell.hidden_size();
        let fc = self.fc.as_ref().map(|fc| {
            (
                into_vec::<B, F, 2>(fc.weight.val()),
                fc.bias.as_ref().map(|b| into_vec::<B, F, 1>(b.val())),
            )
        });
        let step_cell = CfcStepCell {
            cell: fused::cpu::Prepared::new(cell.kernel_dims(1, 1), mode, act, theta),
            fc,
        };
        Ok(Stepper::new(
            step_cell,
            batch,
            [cell.input_size(), hidden, self.output_size()],
            self.lstm.as_ref().map(Memory::read),
        ))
    }
}

impl<F: StepFloat> CfcStepper<F> {
    /// The state as the layer's [`CfcState`] on `device`.
    pub fn to_state<B: Backend>(&self, device: &B::Device) -> CfcState<B> {
        let (h, c) = self.state_tensors(device);
        CfcState { h, c }
    }
}
