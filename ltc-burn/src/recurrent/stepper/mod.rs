//! Prepared steppers: streaming inference on the CPU, one input at a time, for control loops.
//!
//! A layer's [`step`](crate::recurrent::Recurrent::step) is ordinary tensor code: it works on
//! every backend, batch and autodiff graph, and recomputes the constrained parameters
//! (softplus, masks, packing) at every call, as ncps does. A controller that feeds one
//! observation at a time to a trained network needs none of that:
//! [`stepper`](crate::recurrent::Recurrent::stepper) reads the parameters once, from any
//! backend, into plain vectors laid out for the CPU kernels, and then steps on slices, keeping
//! the state, with no allocation and no tensor per step. The LTC, the CfC, the wired CfC and the
//! liquid layer have one; a cell of your own gets one by implementing [`StepCell`] and returning
//! it from [`RecurrentCell::step_cell`](crate::recurrent::RecurrentCell::step_cell).
//!
//! A stepper computes what the layer's `step` computes (to float rounding: the tests hold them
//! within 1e-5) and holds a copy of the parameters: after training further, build a new one.
//!
//! ```
//! use burn::backend::NdArray;
//! use burn::tensor::{Tensor, TensorData};
//! use ltc_burn::ltc::LtcConfig;
//!
//! let device = Default::default();
//! let wiring = ltc_wirings::AutoNcp::new(16, 2).build(3)?;
//! let ltc = LtcConfig::from_wiring(wiring).init::<NdArray>(&device)?;
//! let mut stepper = ltc.stepper::<f32>(1)?; // batch 1
//! let observation = [0.5, -1.0, 0.25];
//! let action = stepper.step(&observation, None)?.to_vec(); // 2 motor outputs
//!
//! // The same as the layer's own step.
//! let x = Tensor::<NdArray, 2>::from_data(TensorData::new(observation.to_vec(), [1, 3]), &device);
//! let (y, _) = ltc.step(x, None, None);
//! let y: Vec<f32> = y.into_data().to_vec().unwrap();
//! assert!(action.iter().zip(&y).all(|(a, b)| (a - b).abs() < 1e-5));
//!
//! // A wrong length is an error that names it; the state is left as it was.
//! let err = stepper.step(&[0.5, -1.0], None).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "LtcStepper::step: x has 2 values, expected 3 (batch 1 × d_input 3)"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod memory;

use core::fmt;

use burn::tensor::backend::Backend;
use burn::tensor::{Element, Tensor, TensorData};

pub use error::StepError;
pub(crate) use error::check_batch;
use error::{check_len, check_timespans};
pub(crate) use memory::{Memory, Projection};

use super::RecurrentState;
use crate::kernel::cpu::Real;

/// The float types a stepper computes in: `f32` and `f64` (whatever the backend's own).
pub trait StepFloat: Real + Element + sealed::Sealed {}

impl StepFloat for f32 {}
impl StepFloat for f64 {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A cell's step on slices, one sample at a time, with its parameters read out: what a
/// [`Stepper`] runs. The [`Stepper`] checks every length, runs the memory cell and the output
/// projection, and keeps the state.
pub trait StepCell<F>: fmt::Debug + Send + Sync {
    /// One sample: `x` its input (`d_input` values), `h` its state (`d_hidden` values, after
    /// the memory cell; updated in place), `timespan` its time since the previous input
    /// (`None`: the cell's default), `out` its outputs (the cell's `d_output` values).
    fn advance(&mut self, x: &[F], h: &mut [F], timespan: Option<F>, out: &mut [F]);

    /// A copy, for [`Stepper`]'s `Clone`.
    fn clone_box(&self) -> Box<dyn StepCell<F>>;
}

/// A layer prepared for streaming inference on the CPU
/// ([`Recurrent::stepper`](crate::recurrent::Recurrent::stepper)). See [the module](self).
///
/// It holds the layer's parameters, read once, and the state of `batch` sequences; each
/// [`step`](Self::step) advances all of them by one input, with no allocation.
#[derive(Debug)]
pub struct Stepper<F> {
    cell: Box<dyn StepCell<F>>,
    /// `"LtcStepper::step"` and `"LtcStepper::set_state"`, for errors.
    contexts: [String; 2],
    batch: usize,
    inputs: usize,
    units: usize,
    /// The cell's outputs per sample (before the projection).
    cell_outputs: usize,
    memory: Option<Memory<F>>,
    projection: Option<Projection<F>>,
    state: State<F>,
    /// The cell's outputs of one sample, with a projection.
    cell_out: Vec<F>,
    out: Vec<F>,
}

impl<F> Clone for Stepper<F>
where
    F: Clone,
{
    fn clone(&self) -> Self {
        Stepper {
            cell: self.cell.clone_box(),
            contexts: self.contexts.clone(),
            batch: self.batch,
            inputs: self.inputs,
            units: self.units,
            cell_outputs: self.cell_outputs,
            memory: self.memory.clone(),
            projection: self.projection.clone(),
            state: self.state.clone(),
            cell_out: self.cell_out.clone(),
            out: self.out.clone(),
        }
    }
}

impl<F: StepFloat> Stepper<F> {
    pub(crate) fn new(
        cell: Box<dyn StepCell<F>>,
        layer: &str,
        batch: usize,
        [inputs, units, cell_outputs]: [usize; 3],
        memory: Option<Memory<F>>,
        projection: Option<Projection<F>>,
    ) -> Self {
        let outputs = projection.as_ref().map_or(cell_outputs, Projection::width);
        Stepper {
            cell,
            contexts: [
                format!("{layer}Stepper::step"),
                format!("{layer}Stepper::set_state"),
            ],
            batch,
            inputs,
            units,
            cell_outputs,
            state: State::zeros(batch, units, memory.is_some()),
            memory,
            projection,
            cell_out: vec![F::ZERO; cell_outputs],
            out: vec![F::ZERO; batch * outputs],
        }
    }

    /// Advances every sequence by one input and returns the outputs, `[batch, d_output]`
    /// row-major: one step of the layer's own `step`.
    ///
    /// `x` is `[batch, d_input]` row-major; `timespans` `[batch]`, the time since the previous
    /// input (1 when `None`).
    ///
    /// # Errors
    /// [`StepError::Length`] naming the slice whose length is wrong, [`StepError::Timespan`]
    /// for a NaN or infinite time; the state is unchanged then.
    pub fn step(&mut self, x: &[F], timespans: Option<&[F]>) -> Result<&[F], StepError> {
        let (batch, s, n) = (self.batch, self.inputs, self.units);
        let context = &self.contexts[0];
        check_len(context, "x", x.len(), batch * s, || {
            format!("batch {batch} × d_input {s}")
        })?;
        check_timespans(context, timespans, batch)?;
        let o = self.d_output();
        for b in 0..batch {
            let x_b = &x[b * s..(b + 1) * s];
            let h = &mut self.state.h[b * n..(b + 1) * n];
            if let (Some(memory), Some(c)) = (&mut self.memory, &mut self.state.c) {
                // As ncps: the memory cell sees the raw input, and its `h` is the cell's state.
                memory.step(x_b, h, &mut c[b * n..(b + 1) * n]);
            }
            let dt = timespans.map(|dt| dt[b]);
            let out = &mut self.out[b * o..(b + 1) * o];
            match &self.projection {
                Some(projection) => {
                    self.cell.advance(x_b, h, dt, &mut self.cell_out);
                    projection.apply(&self.cell_out, out);
                }
                None => self.cell.advance(x_b, h, dt, out),
            }
        }
        Ok(&self.out)
    }

    /// The state, `[batch, d_hidden]` row-major: the potentials of an LTC, the hidden state of
    /// a CfC.
    pub fn state(&self) -> &[F] {
        &self.state.h
    }

    /// The memory cell's `c`, `[batch, d_hidden]`, with mixed memory.
    pub fn memory(&self) -> Option<&[F]> {
        self.state.c.as_deref()
    }

    /// Sets the state (`[batch, d_hidden]`) and, with mixed memory, the memory, e.g. from the
    /// layer's own state.
    ///
    /// # Errors
    /// [`StepError::Length`] or [`StepError::Memory`]; the state is unchanged then.
    pub fn set_state(&mut self, hidden: &[F], memory: Option<&[F]>) -> Result<(), StepError> {
        self.state
            .set(&self.contexts[1], self.units, hidden, memory)
    }

    /// Back to the zero state.
    pub fn reset(&mut self) {
        self.state.reset();
    }

    /// The state as the layer's [`RecurrentState`] on `device`.
    pub fn to_state<B: Backend>(&self, device: &B::Device) -> RecurrentState<B> {
        let (hidden, memory) = self.state.tensors(self.units, device);
        RecurrentState { hidden, memory }
    }

    /// Sequences stepped together.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Input features per step.
    pub fn d_input(&self) -> usize {
        self.inputs
    }

    /// Outputs per step (after the layer's projection, if any).
    pub fn d_output(&self) -> usize {
        self.projection
            .as_ref()
            .map_or(self.cell_outputs, Projection::width)
    }

    /// The state size per sequence.
    pub fn d_hidden(&self) -> usize {
        self.units
    }
}

/// A stepper's recurrent state: `[batch, d_hidden]` potentials or hidden state, and with mixed
/// memory the memory cell's `c`.
#[derive(Debug, Clone)]
struct State<F> {
    h: Vec<F>,
    c: Option<Vec<F>>,
}

impl<F: StepFloat> State<F> {
    fn zeros(batch: usize, units: usize, memory: bool) -> Self {
        State {
            h: vec![F::ZERO; batch * units],
            c: memory.then(|| vec![F::ZERO; batch * units]),
        }
    }

    /// Replaces the state after checking every length (nothing changes on an error).
    fn set(
        &mut self,
        context: &str,
        units: usize,
        h: &[F],
        c: Option<&[F]>,
    ) -> Result<(), StepError> {
        let batch = self.h.len() / units.max(1);
        let layout = || format!("batch {batch} × d_hidden {units}");
        check_len(context, "state", h.len(), self.h.len(), layout)?;
        match (&mut self.c, c) {
            (Some(_), Some(c)) => check_len(context, "memory", c.len(), self.h.len(), layout)?,
            (None, None) => {}
            (ours, _) => {
                return Err(StepError::Memory {
                    context: context.to_string(),
                    layer_has_memory: ours.is_some(),
                });
            }
        }
        self.h.copy_from_slice(h);
        if let (Some(ours), Some(c)) = (&mut self.c, c) {
            ours.copy_from_slice(c);
        }
        Ok(())
    }

    /// The state as tensors `[batch, d_hidden]` on `device`: `h`, and `c` with mixed memory.
    fn tensors<B: Backend>(
        &self,
        units: usize,
        device: &B::Device,
    ) -> (Tensor<B, 2>, Option<Tensor<B, 2>>) {
        let batch = self.h.len() / units.max(1);
        let tensor = |values: &[F]| {
            Tensor::from_data(TensorData::new(values.to_vec(), [batch, units]), device)
        };
        (tensor(&self.h), self.c.as_deref().map(tensor))
    }

    fn reset(&mut self) {
        self.h.iter_mut().for_each(|v| *v = F::ZERO);
        if let Some(c) = &mut self.c {
            c.iter_mut().for_each(|v| *v = F::ZERO);
        }
    }
}
