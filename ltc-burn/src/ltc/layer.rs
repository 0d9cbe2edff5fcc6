//! The LTC sequence layer (ncps's `LTC`): the cell run over time, with optional mixed memory.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use ltc_wirings::Wiring;

use super::cell::{LtcCell, LtcCellConfig};
use super::fused::UnfoldParams;
use crate::error::ConfigError;
use crate::memory::MixedMemory;
use crate::sequence::{Sequence, check_state, check_step_input};

/// Configuration of an [`Ltc`] layer.
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
#[derive(Config, Debug)]
pub struct LtcConfig {
    /// The cell: wiring, mappings, solver, initial ranges.
    pub cell: LtcCellConfig,
    /// Adds ncps's LSTM memory cell in front of every LTC step (ncps `mixed_memory`).
    #[config(default = false)]
    pub mixed_memory: bool,
    /// Inputs (and outputs) are `[batch, seq, ·]` when true, `[seq, batch, ·]` when false.
    #[config(default = true)]
    pub batch_first: bool,
}

impl LtcConfig {
    /// An LTC layer on `wiring` with every other setting at its default.
    pub fn from_wiring(wiring: Wiring) -> Self {
        Self::new(LtcCellConfig::new(wiring))
    }

    /// Checks every field; [`init`](Self::init) calls it first.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.cell.validate()
    }

    /// Builds the layer with freshly initialised parameters on `device` (seed the backend with
    /// `B::seed(&device, seed)` first for reproducible weights).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<Ltc<B>, ConfigError> {
        self.validate()?;
        let cell = self.cell.init(device)?;
        let lstm = self
            .mixed_memory
            .then(|| MixedMemory::init(cell.input_size(), cell.units(), device));
        Ok(Ltc {
            cell,
            lstm,
            batch_first: self.batch_first,
        })
    }
}

/// The state of an [`Ltc`] layer.
#[derive(Debug, Clone)]
pub struct LtcState<B: Backend> {
    /// Membrane potentials of all neurons, `[batch, units]`.
    pub v: Tensor<B, 2>,
    /// The memory cell's `c`, `[batch, units]`, with mixed memory; `None` otherwise.
    pub c: Option<Tensor<B, 2>>,
}

/// The LTC sequence layer: an [`LtcCell`] run over time, as ncps's `LTC`.
///
/// The outputs are the mapped potentials of the motor neurons at every step
/// ([`forward`](Self::forward)) or at the last step ([`forward_last`](Self::forward_last), ncps's
/// `return_sequences=False`); [`step`](Self::step) advances one input at a time for streaming
/// and control loops. Per-sample elapsed times are honoured for every batch size (ncps 1.0.1
/// mis-broadcasts them when the batch size is not 1).
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
/// let x = Tensor::<B, 3>::ones([4, 10, 3], &device); // [batch, seq, input]
/// let elapsed = Tensor::<B, 2>::full([4, 10], 0.5, &device); // [batch, seq]
/// let (y, state) = ltc.forward(x, None, Some(elapsed));
/// assert_eq!(y.dims(), [4, 10, 2]); // the 2 motor neurons at every step
/// assert_eq!(state.v.dims(), [4, 16]);
/// let grads = y.powi_scalar(2).sum().backward();
/// let w_grad = ltc.cell.w.grad(&grads).expect("w is trained");
/// assert!(w_grad.abs().sum().into_scalar() > 0.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Module, Debug)]
pub struct Ltc<B: Backend> {
    /// The LTC cell.
    pub cell: LtcCell<B>,
    /// ncps's LSTM memory cell, with mixed memory.
    pub lstm: Option<MixedMemory<B>>,
    /// Whether inputs are `[batch, seq, ·]` (constant).
    pub batch_first: bool,
}

impl<B: Backend> Ltc<B> {
    /// Neurons (the size of [`LtcState::v`]).
    pub fn units(&self) -> usize {
        self.cell.units()
    }

    /// Input features per step.
    pub fn input_size(&self) -> usize {
        self.cell.input_size()
    }

    /// Output features per step (the motor neurons).
    pub fn output_size(&self) -> usize {
        self.cell.motor_size()
    }

    /// The layer with its cell's unfold loop fused or not ([`LtcCell::with_fused`]).
    pub fn with_fused(self, fused: bool) -> Self {
        Self {
            cell: self.cell.with_fused(fused),
            ..self
        }
    }

    /// A zero state for `batch` sequences (with a zero `c` under mixed memory).
    pub fn zero_state(&self, batch: usize) -> LtcState<B> {
        let device = self.cell.vleak.device();
        let zeros = || Tensor::zeros([batch, self.units()], &device);
        LtcState {
            v: zeros(),
            c: self.lstm.as_ref().map(|_| zeros()),
        }
    }

    /// Runs the layer over whole sequences and returns the outputs at every step.
    ///
    /// # Shapes
    /// - `x`: `[batch, seq, input]` (`[seq, batch, input]` when not `batch_first`)
    /// - `state`: `v` and, with mixed memory, `c`, each `[batch, units]`; zeros when `None`
    /// - `timespans`: the elapsed time before each input, `[batch, seq]` (`[seq, batch]` when not
    ///   `batch_first`); 1 when `None`
    /// - returns the outputs `[batch, seq, motor]` (`[seq, batch, motor]`) and the final state.
    ///
    /// # Panics
    /// If a shape does not match (naming the expected and the actual shape), or if `state.c`
    /// is missing under mixed memory or present without it.
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        state: Option<LtcState<B>>,
        timespans: Option<Tensor<B, 2>>,
    ) -> (Tensor<B, 3>, LtcState<B>) {
        let (v, state) = self.run("Ltc::forward", x, state, timespans);
        // The output mapping for all steps at once.
        let [batch, seq, n] = v.dims();
        let y = self.cell.map_output(v.reshape([batch * seq, n])).reshape([
            batch,
            seq,
            self.output_size(),
        ]);
        let y = if self.batch_first {
            y
        } else {
            y.swap_dims(0, 1)
        };
        (y, state)
    }

    /// Runs the layer over whole sequences and returns only the last step's outputs (ncps's
    /// `return_sequences=False`).
    ///
    /// # Shapes
    /// As [`forward`](Self::forward); returns `[batch, motor]` and the final state.
    pub fn forward_last(
        &self,
        x: Tensor<B, 3>,
        state: Option<LtcState<B>>,
        timespans: Option<Tensor<B, 2>>,
    ) -> (Tensor<B, 2>, LtcState<B>) {
        let (_, state) = self.run("Ltc::forward_last", x, state, timespans);
        (self.cell.map_output(state.v.clone()), state)
    }

    /// Advances the layer by one input, for streaming and control loops: the same
    /// computation as one step of [`forward`](Self::forward).
    ///
    /// # Shapes
    /// - `x`: `[batch, input]`
    /// - `state`: as in [`forward`](Self::forward)
    /// - `elapsed`: `[batch]`, the time since the previous input (1 when `None`)
    /// - returns the outputs `[batch, motor]` and the new state.
    pub fn step(
        &self,
        x: Tensor<B, 2>,
        state: Option<LtcState<B>>,
        elapsed: Option<Tensor<B, 1>>,
    ) -> (Tensor<B, 2>, LtcState<B>) {
        let context = "Ltc::step";
        let batch = check_step_input(context, self.input_size(), &x, elapsed.as_ref());
        let state = self.initial_state(context, state, batch);
        let s = self.input_size();
        let cm_t = self.cell.cm_t(elapsed.map(|dt| dt.reshape([batch, 1])));
        let mapped = self.cell.map_input(x.clone()).reshape([batch, 1, s]);
        let raw = self.lstm.as_ref().map(|_| x);
        let (_, state) = self.advance(&self.cell.unfold_params(), raw, mapped, state, cm_t);
        (self.cell.map_output(state.v.clone()), state)
    }

    /// The shared time loop: the potentials after every step, `[batch, seq, units]`, and the
    /// final state. Without mixed memory the whole sequence is one unfold call (fused where the
    /// backend has a kernel); with it, one call per step between the memory cell's steps.
    fn run(
        &self,
        context: &str,
        x: Tensor<B, 3>,
        state: Option<LtcState<B>>,
        timespans: Option<Tensor<B, 2>>,
    ) -> (Tensor<B, 3>, LtcState<B>) {
        let seq = Sequence::new(context, self.batch_first, self.input_size(), x, timespans);
        let (batch, s) = (seq.batch, self.input_size());
        let state = self.initial_state(context, state, batch);
        let params = self.cell.unfold_params();
        // The input mapping for all steps at once.
        let mapped = self
            .cell
            .map_input(seq.x.clone().reshape([batch * seq.seq, s]))
            .reshape([batch, seq.seq, s]);
        // [1, 1, units], or [batch, seq, units] with timespans.
        let cm_t = self.cell.cm_t(seq.timespans.clone());
        if self.lstm.is_none() {
            return self.advance(&params, None, mapped, state, cm_t);
        }
        let mut state = state;
        let mut states = Vec::with_capacity(seq.seq);
        for t in 0..seq.seq {
            let cm_t = if cm_t.dims()[1] == 1 {
                cm_t.clone()
            } else {
                cm_t.clone().narrow(1, t, 1)
            };
            let mapped_t = mapped.clone().narrow(1, t, 1);
            let (v, next) = self.advance(&params, Some(seq.input(t)), mapped_t, state, cm_t);
            states.push(v);
            state = next;
        }
        (Tensor::cat(states, 1), state)
    }

    /// Steps of the layer from `state`: the memory cell (with mixed memory, on the raw input
    /// `x` `[batch, input]` of a single step), then the unfold loop on the mapped inputs
    /// `[batch, steps, input]`. Returns the potentials after every step and the final state.
    fn advance(
        &self,
        params: &UnfoldParams<B>,
        x: Option<Tensor<B, 2>>,
        mapped: Tensor<B, 3>,
        state: LtcState<B>,
        cm_t: Tensor<B, 3>,
    ) -> (Tensor<B, 3>, LtcState<B>) {
        let LtcState { v, c } = state;
        let (v, c) = match (&self.lstm, c, x) {
            (Some(lstm), Some(c), Some(x)) => {
                // As ncps: the memory cell sees the raw input, the LTC cell the mapped one.
                let (h, c) = lstm.step(x, v, c);
                (h, Some(c))
            }
            (_, c, _) => (v, c),
        };
        let all = self.cell.unfold(params, mapped, v, cm_t);
        let [batch, steps, n] = all.dims();
        let v = all.clone().narrow(1, steps - 1, 1).reshape([batch, n]);
        (all, LtcState { v, c })
    }

    fn initial_state(
        &self,
        context: &str,
        state: Option<LtcState<B>>,
        batch: usize,
    ) -> LtcState<B> {
        let Some(state) = state else {
            return self.zero_state(batch);
        };
        check_state(
            context,
            ("state.v", "state.c"),
            &state.v,
            state.c.as_ref(),
            batch,
            self.units(),
            self.lstm.is_some(),
        );
        state
    }
}
