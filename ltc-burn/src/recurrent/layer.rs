//! [`Recurrent`]: any [`RecurrentCell`] run over time, with an optional output projection and
//! mixed memory.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::input::{Sequence, check_state, check_step_input, stack_steps};
use super::stepper::{Memory, Projection, StepError, StepFloat, Stepper, check_batch};
use super::{MixedMemory, RecurrentCell, RecurrentState};
use crate::error::{Check, ConfigError};
use crate::kernel::on_compute_pool;
use crate::param::materialize;

/// How a [`Recurrent`] layer wraps its cell: the sequence layer's own options, the same for
/// every cell (the configs of [`Ltc`](crate::Ltc), [`Cfc`](crate::Cfc) and the others hold
/// them beside their cell's config).
///
/// ```
/// use ltc_burn::recurrent::RecurrentConfig;
///
/// let config = RecurrentConfig::new().with_proj_size(Some(2)).with_batch_first(false);
/// assert!(config.validate().is_ok());
/// let err = config.with_proj_size(Some(0)).validate().unwrap_err();
/// assert_eq!(err.to_string(), "RecurrentConfig.proj_size = 0: must be at least 1");
/// ```
#[derive(Config, Debug)]
pub struct RecurrentConfig {
    /// A `Linear(d_output → proj_size)` applied to every output (not to the state; ncps `fc`).
    #[config(default = "None")]
    pub proj_size: Option<usize>,
    /// Adds ncps's LSTM memory cell in front of every step (ncps `mixed_memory`).
    #[config(default = false)]
    pub mixed_memory: bool,
    /// Inputs (and outputs) are `[batch, seq, ·]` when true, `[seq, batch, ·]` when false.
    #[config(default = true)]
    pub batch_first: bool,
}

impl RecurrentConfig {
    /// Checks every field; [`init`](Self::init) calls it first.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_as("RecurrentConfig")
    }

    /// [`validate`](Self::validate), naming `config` in the error.
    pub(crate) fn validate_as(&self, config: &'static str) -> Result<(), ConfigError> {
        match self.proj_size {
            Some(p) => Check { config }.nonzero("proj_size", p),
            None => Ok(()),
        }
    }

    /// The layer over `cell`, with a fresh projection and memory cell where asked for.
    pub fn init<B: Backend, C: RecurrentCell<B>>(
        &self,
        cell: C,
        device: &B::Device,
    ) -> Result<Recurrent<B, C>, ConfigError> {
        self.validate()?;
        Ok(self.assemble(cell, device))
    }

    /// [`init`](Self::init) without the check (the caller made it).
    pub(crate) fn assemble<B: Backend, C: RecurrentCell<B>>(
        &self,
        cell: C,
        device: &B::Device,
    ) -> Recurrent<B, C> {
        let fc = self.proj_size.map(|p| {
            // PyTorch's default Linear init: U(±1/√fan_in) for weight and bias, as Burn's.
            let mut fc = LinearConfig::new(cell.d_output(), p).init(device);
            fc.weight = materialize(fc.weight);
            fc.bias = fc.bias.map(materialize);
            fc
        });
        let lstm = self
            .mixed_memory
            .then(|| MixedMemory::init(cell.d_input(), cell.d_hidden(), device));
        Recurrent {
            cell,
            fc,
            lstm,
            batch_first: self.batch_first,
        }
    }
}

/// The config of a sequence layer over one kind of cell: the cell's config and the
/// [`RecurrentConfig`] options side by side, `validate` and `init`.
macro_rules! layer_config {
    ($(#[$meta:meta])* $name:ident, $cell:ty, $layer:ident) => {
        $(#[$meta])*
        #[derive(burn::config::Config, Debug)]
        pub struct $name {
            /// The cell.
            pub cell: $cell,
            /// A `Linear(d_output → proj_size)` applied to every output (not to the state; ncps
            /// `fc`).
            #[config(default = "None")]
            pub proj_size: Option<usize>,
            /// Adds ncps's LSTM memory cell in front of every step (ncps `mixed_memory`).
            #[config(default = false)]
            pub mixed_memory: bool,
            /// Inputs (and outputs) are `[batch, seq, ·]` when true, `[seq, batch, ·]` when
            /// false.
            #[config(default = true)]
            pub batch_first: bool,
        }

        impl $name {
            /// The sequence layer's options.
            pub fn layer(&self) -> $crate::recurrent::RecurrentConfig {
                $crate::recurrent::RecurrentConfig {
                    proj_size: self.proj_size,
                    mixed_memory: self.mixed_memory,
                    batch_first: self.batch_first,
                }
            }

            /// Checks every field; [`init`](Self::init) calls it first.
            pub fn validate(&self) -> Result<(), $crate::ConfigError> {
                self.cell.validate()?;
                self.layer().validate_as(stringify!($name))
            }

            /// Builds the layer with freshly initialised parameters on `device` (seed the
            /// backend with `B::seed(&device, seed)` first for reproducible weights).
            pub fn init<B: burn::tensor::backend::Backend>(
                &self,
                device: &B::Device,
            ) -> Result<$layer<B>, $crate::ConfigError> {
                self.validate()?;
                let cell = self.cell.init(device)?;
                Ok(self.layer().assemble(cell, device))
            }
        }
    };
}
pub(crate) use layer_config;

/// A sequence layer: a [`RecurrentCell`] run over time (ncps's `LTC` and `CfC` wrappers, for
/// any cell), with an optional output projection and mixed memory.
///
/// The outputs are the cell's outputs, projected when `fc` is set, at every step
/// ([`forward`](Self::forward)) or at the last step ([`forward_last`](Self::forward_last),
/// ncps's `return_sequences=False`); [`step`](Self::step) advances one input at a time for
/// streaming and control loops, and [`stepper`](Self::stepper) prepares the layer for that on
/// the CPU. Per-sample timespans are honoured for every batch size (ncps 1.0.1 mis-broadcasts
/// them when the batch size is not 1). Built by [`RecurrentConfig::init`] or a model's config
/// ([`LtcConfig`](crate::ltc::LtcConfig), [`CfcConfig`](crate::cfc::CfcConfig), …).
#[derive(Module, Debug)]
pub struct Recurrent<B: Backend, C: Module<B>> {
    /// The cell.
    pub cell: C,
    /// The output projection (ncps `fc`), with `proj_size`.
    pub fc: Option<Linear<B>>,
    /// ncps's LSTM memory cell, with mixed memory.
    pub lstm: Option<MixedMemory<B>>,
    /// Whether inputs are `[batch, seq, ·]` (constant).
    pub batch_first: bool,
}

impl<B: Backend, C: RecurrentCell<B>> Recurrent<B, C> {
    /// Input features per step.
    pub fn d_input(&self) -> usize {
        self.cell.d_input()
    }

    /// The state's size per sample.
    pub fn d_hidden(&self) -> usize {
        self.cell.d_hidden()
    }

    /// Output features per step (`proj_size` when set).
    pub fn d_output(&self) -> usize {
        match &self.fc {
            Some(fc) => fc.weight.dims()[1],
            None => self.cell.d_output(),
        }
    }

    /// A zero state for `batch` sequences (with a zero memory under mixed memory).
    pub fn zero_state(&self, batch: usize) -> RecurrentState<B> {
        let device = self.cell.device();
        let zeros = || Tensor::zeros([batch, self.d_hidden()], &device);
        RecurrentState {
            hidden: zeros(),
            memory: self.lstm.as_ref().map(|_| zeros()),
        }
    }

    /// Runs the layer over whole sequences and returns the outputs at every step.
    ///
    /// # Shapes
    /// - `x`: `[batch, seq, d_input]` (`[seq, batch, d_input]` when not `batch_first`)
    /// - `state`: `hidden` and, with mixed memory, `memory`, each `[batch, d_hidden]`; zeros
    ///   when `None`
    /// - `timespans`: the time elapsed before each input, `[batch, seq]` (`[seq, batch]` when
    ///   not `batch_first`); 1 when `None`
    /// - returns the outputs `[batch, seq, d_output]` (`[seq, batch, d_output]`) and the final
    ///   state.
    ///
    /// # Panics
    /// If a shape does not match (naming the layer, the tensor, the expected and the actual
    /// shape), or if `state.memory` is missing under mixed memory or present without it.
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        state: Option<RecurrentState<B>>,
        timespans: Option<Tensor<B, 2>>,
    ) -> (Tensor<B, 3>, RecurrentState<B>) {
        on_compute_pool::<B, _>(|| {
            let (outputs, state) = self.run("forward", x, state, timespans, true);
            let y = outputs.all(self.batch_first);
            let y = match &self.fc {
                Some(fc) => fc.forward(y),
                None => y,
            };
            (y, state)
        })
    }

    /// Runs the layer over whole sequences and returns only the last step's outputs (ncps's
    /// `return_sequences=False`).
    ///
    /// # Shapes
    /// As [`forward`](Self::forward); returns `[batch, d_output]` and the final state.
    pub fn forward_last(
        &self,
        x: Tensor<B, 3>,
        state: Option<RecurrentState<B>>,
        timespans: Option<Tensor<B, 2>>,
    ) -> (Tensor<B, 2>, RecurrentState<B>) {
        on_compute_pool::<B, _>(|| {
            let (outputs, state) = self.run("forward_last", x, state, timespans, false);
            (self.project(outputs.last()), state)
        })
    }

    /// Advances the layer by one input, for streaming and control loops: the same
    /// computation as one step of [`forward`](Self::forward).
    ///
    /// # Shapes
    /// - `x`: `[batch, d_input]`
    /// - `state`: as in [`forward`](Self::forward)
    /// - `timespans`: `[batch]`, the time since the previous input (1 when `None`)
    /// - returns the outputs `[batch, d_output]` and the new state.
    ///
    /// # Panics
    /// As [`forward`](Self::forward).
    pub fn step(
        &self,
        x: Tensor<B, 2>,
        state: Option<RecurrentState<B>>,
        timespans: Option<Tensor<B, 1>>,
    ) -> (Tensor<B, 2>, RecurrentState<B>) {
        let context = format!("{}::step", C::NAME);
        let batch = check_step_input(&context, self.d_input(), &x, timespans.as_ref());
        let state = self.initial_state(&context, state, batch);
        // A one-step sequence through the cell's own sequence path (a fused kernel has no Burn
        // matrix product to hand to the pool: it runs in place).
        if self.lstm.is_none() {
            let x3 = x.clone().unsqueeze_dim(1);
            let ts = timespans.clone().map(|t| t.unsqueeze_dim(1));
            if let Some((ys, hidden)) = self.cell.forward_sequence(&x3, &state.hidden, ts.as_ref())
            {
                return (self.project(ys.squeeze_dim(1)), RecurrentState::new(hidden));
            }
        }
        on_compute_pool::<B, _>(|| {
            let (y, state) = self.advance(x, state, timespans);
            (self.project(y), state)
        })
    }

    /// This layer prepared for streaming inference on the CPU, for `batch` sequences from a
    /// zero state, computing in `F` (`f32` or `f64`): see [`Stepper`]. Reads the parameters
    /// once, from any backend; train further, and build a new one.
    ///
    /// # Errors
    /// [`StepError::ZeroBatch`] when `batch` is 0; [`StepError::Unsupported`] when the cell has
    /// no step kernel ([`RecurrentCell::step_cell`]).
    pub fn stepper<F: StepFloat>(&self, batch: usize) -> Result<Stepper<F>, StepError> {
        check_batch(format!("{}::stepper", C::NAME), batch)?;
        let cell = self
            .cell
            .step_cell::<F>()
            .ok_or(StepError::Unsupported { layer: C::NAME })?;
        Ok(Stepper::new(
            cell,
            C::NAME,
            batch,
            [self.d_input(), self.d_hidden(), self.cell.d_output()],
            self.lstm.as_ref().map(Memory::read),
            self.fc.as_ref().map(Projection::read),
        ))
    }

    fn project(&self, y: Tensor<B, 2>) -> Tensor<B, 2> {
        match &self.fc {
            Some(fc) => fc.forward(y),
            None => y,
        }
    }

    /// The shared time loop: the (unprojected) outputs of every step when `keep` is set, else
    /// of the last step only; the whole sequence at once where the cell has a way.
    fn run(
        &self,
        method: &str,
        x: Tensor<B, 3>,
        state: Option<RecurrentState<B>>,
        timespans: Option<Tensor<B, 2>>,
        keep: bool,
    ) -> (Outputs<B>, RecurrentState<B>) {
        let context = format!("{}::{method}", C::NAME);
        let seq = Sequence::new(&context, self.batch_first, self.d_input(), x, timespans);
        let mut state = self.initial_state(&context, state, seq.batch);
        if self.lstm.is_none()
            && let Some((ys, hidden)) =
                self.cell
                    .forward_sequence(&seq.x, &state.hidden, seq.timespans.as_ref())
        {
            return (Outputs::Stacked(ys), RecurrentState::new(hidden));
        }
        let mut outputs = Vec::with_capacity(if keep { seq.seq } else { 1 });
        for t in 0..seq.seq {
            let (y, next) = self.advance(seq.input(t), state, seq.timespans(t));
            state = next;
            if keep || t + 1 == seq.seq {
                outputs.push(y);
            }
        }
        (Outputs::Steps(outputs), state)
    }

    /// One step: the memory cell (if any), then the cell, both on the input `x`.
    fn advance(
        &self,
        x: Tensor<B, 2>,
        state: RecurrentState<B>,
        timespans: Option<Tensor<B, 1>>,
    ) -> (Tensor<B, 2>, RecurrentState<B>) {
        let RecurrentState { hidden, memory } = state;
        let (hidden, memory) = match (&self.lstm, memory) {
            // As ncps: the memory cell sees the raw input, and its `h` is the cell's state.
            (Some(lstm), Some(c)) => {
                let (h, c) = lstm.step(x.clone(), hidden, c);
                (h, Some(c))
            }
            (_, memory) => (hidden, memory),
        };
        let (y, hidden) = self.cell.step(x, hidden, timespans);
        (y, RecurrentState { hidden, memory })
    }

    fn initial_state(
        &self,
        context: &str,
        state: Option<RecurrentState<B>>,
        batch: usize,
    ) -> RecurrentState<B> {
        let Some(state) = state else {
            return self.zero_state(batch);
        };
        check_state(context, &state, batch, self.d_hidden(), self.lstm.is_some());
        state
    }
}

/// The outputs of a time loop: step by step, or all steps at once (batch-first).
enum Outputs<B: Backend> {
    /// `[batch, d_output]` per kept step.
    Steps(Vec<Tensor<B, 2>>),
    /// `[batch, seq, d_output]`.
    Stacked(Tensor<B, 3>),
}

impl<B: Backend> Outputs<B> {
    /// Every step, `[batch, seq, d_output]` (`[seq, batch, d_output]` unless `batch_first`).
    fn all(self, batch_first: bool) -> Tensor<B, 3> {
        match self {
            Outputs::Steps(steps) => stack_steps(steps, batch_first),
            Outputs::Stacked(ys) if batch_first => ys,
            Outputs::Stacked(ys) => ys.swap_dims(0, 1),
        }
    }

    /// The last step, `[batch, d_output]`.
    fn last(self) -> Tensor<B, 2> {
        match self {
            Outputs::Steps(mut steps) => steps.pop().expect("the last output is kept"),
            Outputs::Stacked(ys) => {
                let [batch, seq, width] = ys.dims();
                ys.narrow(1, seq - 1, 1).reshape([batch, width])
            }
        }
    }
}
