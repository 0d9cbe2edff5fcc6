//! Prepared steppers: streaming inference on the CPU, one input at a time, for control loops.
//!
//! [`Ltc::step`](crate::Ltc::step) and [`CfcLayer::step`](crate::cfc::CfcLayer::step) are
//! ordinary tensor code: they work on every backend, batch and autodiff graph, and recompute
//! the constrained parameters (softplus, masks, packing) at every call, as ncps does. A
//! controller that feeds one observation at a time to a trained network needs none of that:
//! [`Ltc::stepper`](crate::Ltc::stepper) and [`Cfc::stepper`](crate::Cfc::stepper) read the
//! parameters once, from any backend, into plain vectors laid out for the CPU kernels, and then
//! step on slices, keeping the state, with no allocation and no tensor per step.
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
//! assert_eq!(err.to_string(), "LtcStepper::step: x has 2 values, expected 3 (batch 1 × input 3)");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;

use burn::tensor::backend::Backend;
use burn::tensor::{Element, Tensor, TensorData};

use crate::ltc::fused::cpu::Real;
pub(crate) use crate::ltc::fused::ndarray::into_vec;
use crate::memory::MixedMemory;

/// The float types a stepper computes in: `f32` and `f64` (whatever the backend's own).
pub trait StepFloat: Real + Element + sealed::Sealed {}

impl StepFloat for f32 {}
impl StepFloat for f64 {}

pub(crate) mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
    /// Implemented by the crate's step cells only.
    pub trait Cell {}
}

/// Why a stepper refused an input. Nothing changes when it does: the state stays as it was.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StepError {
    /// A slice has the wrong number of values.
    Length {
        /// The method, e.g. `"LtcStepper::step"`.
        context: &'static str,
        /// The argument, e.g. `"x"`.
        what: &'static str,
        /// Values given.
        actual: usize,
        /// Values expected.
        expected: usize,
        /// How `expected` comes about, e.g. `"batch 1 × input 3"`.
        layout: String,
    },
    /// An elapsed time is NaN or infinite.
    Elapsed {
        /// The method.
        context: &'static str,
        /// The sample.
        sample: usize,
        /// The value given.
        value: f64,
    },
    /// A stepper for no sequences.
    ZeroBatch {
        /// The method, e.g. `"Ltc::stepper"`.
        context: &'static str,
    },
    /// The state given has a memory cell's `c` where the layer has none, or lacks it where the
    /// layer has one.
    Memory {
        /// The method.
        context: &'static str,
        /// Whether the layer has mixed memory.
        layer_has_memory: bool,
    },
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length {
                context,
                what,
                actual,
                expected,
                layout,
            } => write!(
                f,
                "{context}: {what} has {actual} values, expected {expected} ({layout})"
            ),
            Self::Elapsed {
                context,
                sample,
                value,
            } => write!(
                f,
                "{context}: elapsed[{sample}] = {value}: must be a finite time (0 or less \
                 holds the state)"
            ),
            Self::ZeroBatch { context } => {
                write!(
                    f,
                    "{context}: batch = 0: a stepper needs at least 1 sequence"
                )
            }
            Self::Memory {
                context,
                layer_has_memory: true,
            } => write!(
                f,
                "{context}: the layer has mixed memory: give its `c` with the state"
            ),
            Self::Memory {
                context,
                layer_has_memory: false,
            } => write!(
                f,
                "{context}: the layer has no mixed memory: give no `c` with the state"
            ),
        }
    }
}

impl std::error::Error for StepError {}

/// `Ok` when `values` has `expected` values; otherwise [`StepError::Length`].
pub(crate) fn check_len(
    context: &'static str,
    what: &'static str,
    values: usize,
    expected: usize,
    layout: impl FnOnce() -> String,
) -> Result<(), StepError> {
    if values == expected {
        return Ok(());
    }
    Err(StepError::Length {
        context,
        what,
        actual: values,
        expected,
        layout: layout(),
    })
}

/// `Ok` when `batch > 0`.
pub(crate) fn check_batch(context: &'static str, batch: usize) -> Result<(), StepError> {
    if batch == 0 {
        return Err(StepError::ZeroBatch { context });
    }
    Ok(())
}

/// Checks elapsed times: `batch` values, each finite.
pub(crate) fn check_elapsed<F: StepFloat>(
    context: &'static str,
    elapsed: Option<&[F]>,
    batch: usize,
) -> Result<(), StepError> {
    let Some(dt) = elapsed else {
        return Ok(());
    };
    check_len(context, "elapsed", dt.len(), batch, || {
        format!("batch {batch}")
    })?;
    for (sample, &value) in dt.iter().enumerate() {
        let value = value.to_f64();
        if !value.is_finite() {
            return Err(StepError::Elapsed {
                context,
                sample,
                value,
            });
        }
    }
    Ok(())
}

/// `x ⊙ w + b` over rows of `w.len()` values (either part absent when `None`).
pub(crate) fn affine<F: Real>(x: &mut [F], w: Option<&[F]>, b: Option<&[F]>) {
    let width = w.or(b).map_or(0, <[F]>::len);
    if width == 0 {
        return;
    }
    for row in x.chunks_exact_mut(width) {
        if let Some(w) = w {
            row.iter_mut().zip(w).for_each(|(x, w)| *x = *x * *w);
        }
        if let Some(b) = b {
            row.iter_mut().zip(b).for_each(|(x, b)| *x += *b);
        }
    }
}

/// `out = b + x·W` for one row: `W` is `[x.len(), out.len()]` row-major (Burn's `Linear`
/// layout), `b` `[out.len()]` or absent (zeros). One pass over `W`'s rows, each a vectorisable
/// multiply-add over `out`.
#[inline(always)]
pub(crate) fn row_times<F: Real>(x: &[F], w: &[F], b: Option<&[F]>, out: &mut [F]) {
    match b {
        Some(b) => out.copy_from_slice(b),
        None => out.iter_mut().for_each(|o| *o = F::ZERO),
    }
    add_row_times(x, w, out);
}

/// `out += x·W` for one row, `W` as in [`row_times`].
#[inline(always)]
pub(crate) fn add_row_times<F: Real>(x: &[F], w: &[F], out: &mut [F]) {
    let width = out.len();
    for (xi, row) in x.iter().zip(w.chunks_exact(width.max(1))) {
        for (o, wij) in out.iter_mut().zip(row) {
            *o += *xi * *wij;
        }
    }
}

/// ncps's LSTM memory cell ([`MixedMemory`]) with its weights read out: `z = x·Wx + bx + h·Wh`,
/// chunked `[i, ig, fg, og]`; `c' = c·σ(fg + 1) + tanh(i)·σ(ig)`, `h' = tanh(c')·σ(og)`.
#[derive(Debug, Clone)]
pub(crate) struct Memory<F> {
    /// `[input, 4·units]`.
    wx: Vec<F>,
    /// `[4·units]`.
    bx: Vec<F>,
    /// `[units, 4·units]`.
    wh: Vec<F>,
    /// Scratch, `[4·units]`.
    z: Vec<F>,
}

impl<F: StepFloat> Memory<F> {
    pub(crate) fn read<B: Backend>(memory: &MixedMemory<B>) -> Self {
        let four_units = memory.recurrent_map.weight.dims()[1];
        let bx = match &memory.input_map.bias {
            Some(b) => into_vec(b.val()),
            None => vec![F::ZERO; four_units],
        };
        Memory {
            wx: into_vec(memory.input_map.weight.val()),
            bx,
            wh: into_vec(memory.recurrent_map.weight.val()),
            z: vec![F::ZERO; four_units],
        }
    }

    /// One sample's step: `x` the raw input, `h` and `c` (`units` values each) updated in place.
    pub(crate) fn step(&mut self, x: &[F], h: &mut [F], c: &mut [F]) {
        let n = h.len();
        row_times(x, &self.wx, Some(&self.bx), &mut self.z);
        add_row_times(h, &self.wh, &mut self.z);
        let (i, rest) = self.z.split_at(n);
        let (ig, rest) = rest.split_at(n);
        let (fg, og) = rest.split_at(n);
        let sigmoid = |z: F| F::sigmoid::<crate::ltc::fused::cpu::Separate>(z);
        for j in 0..n {
            c[j] = c[j] * sigmoid(fg[j] + F::ONE) + F::tanh(i[j]) * sigmoid(ig[j]);
            h[j] = F::tanh(c[j]) * sigmoid(og[j]);
        }
    }
}

/// What a [`Stepper`] steps: one layer's cell with its parameters read out and its mappings,
/// for one sample. Implemented by [`LtcStepCell`](crate::ltc::LtcStepCell) and
/// [`CfcStepCell`](crate::cfc::CfcStepCell) only.
pub trait StepCell<F>: fmt::Debug + Clone + sealed::Cell {
    /// `"LtcStepper::step"`, for error messages.
    const STEP: &'static str;
    /// `"LtcStepper::set_state"`, for error messages.
    const SET_STATE: &'static str;
    /// One sample: `x` its raw input, `h` its state (after the memory cell, updated in place),
    /// `dt` its elapsed time (`None`: 1), `out` its outputs.
    #[doc(hidden)]
    fn advance(&mut self, x: &[F], h: &mut [F], dt: Option<F>, out: &mut [F]);
}

/// A layer prepared for streaming inference on the CPU: [`LtcStepper`](crate::LtcStepper) and
/// [`CfcStepper`](crate::CfcStepper). See [the module](self).
///
/// It holds the layer's parameters, read once, and the state of `batch` sequences; each
/// [`step`](Self::step) advances all of them by one input, with no allocation.
#[derive(Debug, Clone)]
pub struct Stepper<F, C> {
    cell: C,
    batch: usize,
    inputs: usize,
    units: usize,
    outputs: usize,
    memory: Option<Memory<F>>,
    state: State<F>,
    out: Vec<F>,
}

impl<F: StepFloat, C: StepCell<F>> Stepper<F, C> {
    pub(crate) fn new(
        cell: C,
        batch: usize,
        [inputs, units, outputs]: [usize; 3],
        memory: Option<Memory<F>>,
    ) -> Self {
        Stepper {
            cell,
            batch,
            inputs,
            units,
            outputs,
            state: State::zeros(batch, units, memory.is_some()),
            memory,
            out: vec![F::ZERO; batch * outputs],
        }
    }

    /// Advances every sequence by one input and returns the outputs, `[batch, output]`
    /// row-major: one step of the layer's own `step`.
    ///
    /// `x` is `[batch, input]` row-major; `elapsed` `[batch]`, the time since the previous
    /// input (1 when `None`).
    ///
    /// # Errors
    /// [`StepError::Length`] naming the slice whose length is wrong, [`StepError::Elapsed`] for
    /// a NaN or infinite time; the state is unchanged then.
    pub fn step(&mut self, x: &[F], elapsed: Option<&[F]>) -> Result<&[F], StepError> {
        let (batch, s, n, o) = (self.batch, self.inputs, self.units, self.outputs);
        check_len(C::STEP, "x", x.len(), batch * s, || {
            format!("batch {batch} × input {s}")
        })?;
        check_elapsed(C::STEP, elapsed, batch)?;
        for b in 0..batch {
            let x_b = &x[b * s..(b + 1) * s];
            let h = &mut self.state.h[b * n..(b + 1) * n];
            if let (Some(memory), Some(c)) = (&mut self.memory, &mut self.state.c) {
                // As ncps: the memory cell sees the raw input, and its `h` is the cell's state.
                memory.step(x_b, h, &mut c[b * n..(b + 1) * n]);
            }
            let dt = elapsed.map(|dt| dt[b]);
            self.cell
                .advance(x_b, h, dt, &mut self.out[b * o..(b + 1) * o]);
        }
        Ok(&self.out)
    }

    /// The state, `[batch, units]` row-major: the potentials of an LTC, the hidden state of a
    /// CfC.
    pub fn state(&self) -> &[F] {
        &self.state.h
    }

    /// The memory cell's `c`, `[batch, units]`, with mixed memory.
    pub fn memory(&self) -> Option<&[F]> {
        self.state.c.as_deref()
    }

    /// Sets the state (`[batch, units]`) and, with mixed memory, `c`, e.g. from the layer's
    /// own state.
    ///
    /// # Errors
    /// [`StepError::Length`] or [`StepError::Memory`]; the state is unchanged then.
    pub fn set_state(&mut self, h: &[F], c: Option<&[F]>) -> Result<(), StepError> {
        self.state.set(C::SET_STATE, self.units, h, c)
    }

    /// Back to the zero state.
    pub fn reset(&mut self) {
        self.state.reset();
    }

    /// The state as tensors `[batch, units]` on `device`, and `c` with mixed memory.
    pub(crate) fn state_tensors<B: Backend>(
        &self,
        device: &B::Device,
    ) -> (Tensor<B, 2>, Option<Tensor<B, 2>>) {
        self.state.tensors(self.units, device)
    }

    /// Sequences stepped together.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Input features per step.
    pub fn input_size(&self) -> usize {
        self.inputs
    }

    /// Outputs per step.
    pub fn output_size(&self) -> usize {
        self.outputs
    }

    /// The state size per sequence.
    pub fn units(&self) -> usize {
        self.units
    }
}

/// A stepper's recurrent state: `[batch, units]` potentials or hidden state, and with mixed
/// memory the memory cell's `c`.
#[derive(Debug, Clone)]
pub(crate) struct State<F> {
    pub(crate) h: Vec<F>,
    pub(crate) c: Option<Vec<F>>,
}

impl<F: StepFloat> State<F> {
    pub(crate) fn zeros(batch: usize, units: usize, memory: bool) -> Self {
        State {
            h: vec![F::ZERO; batch * units],
            c: memory.then(|| vec![F::ZERO; batch * units]),
        }
    }

    /// Replaces the state after checking every length (nothing changes on an error).
    pub(crate) fn set(
        &mut self,
        context: &'static str,
        units: usize,
        h: &[F],
        c: Option<&[F]>,
    ) -> Result<(), StepError> {
        let batch = self.h.len() / units.max(1);
        let layout = || format!("batch {batch} × units {units}");
        check_len(context, "state", h.len(), self.h.len(), layout)?;
        match (&mut self.c, c) {
            (Some(_), Some(c)) => check_len(context, "c", c.len(), self.h.len(), layout)?,
            (None, None) => {}
            (ours, _) => {
                return Err(StepError::Memory {
                    context,
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

    /// The state as tensors `[batch, units]` on `device`: `h`, and `c` with mixed memory.
    pub(crate) fn tensors<B: Backend>(
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

    pub(crate) fn reset(&mut self) {
        self.h.iter_mut().for_each(|v| *v = F::ZERO);
        if let Some(c) = &mut self.c {
            c.iter_mut().for_each(|v| *v = F::ZERO);
        }
    }
}
