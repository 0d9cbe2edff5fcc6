//! The CfC sequence layers (ncps's `CfC`): a plain or a wired cell run over time, with an
//! optional projection and mixed memory.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use ltc_wirings::Wiring;

use super::cell::{CfcCell, CfcCellConfig};
use super::wired::{WiredCfcCell, WiredCfcCellConfig};
use crate::error::{Check, ConfigError};
use crate::memory::MixedMemory;
use crate::param::materialize;
use crate::sequence::{Sequence, check_state, check_step_input, on_compute_pool, stack_steps};

mod sealed {
    pub trait Sealed {}
}

/// A CfC cell a [`CfcLayer`] can run: [`CfcCell`] or [`WiredCfcCell`] (sealed).
pub trait CfcCore<B: Backend>: Module<B> + Sync + sealed::Sealed {
    /// Input features per step.
    fn input_size(&self) -> usize;
    /// The state size.
    fn state_size(&self) -> usize;
    /// Output features per step (before any projection).
    fn output_size(&self) -> usize;
    /// The device the parameters live on.
    fn device(&self) -> B::Device;
    /// The sequence layer's name in panic messages.
    #[doc(hidden)]
    fn layer_name(&self) -> &'static str;
    /// One unchecked step: `x [batch, input]`, `h [batch, state]`, `elapsed [batch, 1]` →
    /// (output, new state).
    #[doc(hidden)]
    fn advance(
        &self,
        x: Tensor<B, 2>,
        h: Tensor<B, 2>,
        elapsed: Option<Tensor<B, 2>>,
    ) -> (Tensor<B, 2>, Tensor<B, 2>);
    /// The outputs of every step of a whole sequence, `[batch, seq, output]`, from a fused
    /// kernel, where there is one for this cell on this backend: `x [batch, seq, input]`,
    /// `h0 [batch, state]`, `timespans [batch, seq]`, all checked.
    #[doc(hidden)]
    fn fused_sequence(
        &self,
        _x: &Tensor<B, 3>,
        _h0: &Tensor<B, 2>,
        _timespans: Option<&Tensor<B, 2>>,
    ) -> Option<Tensor<B, 3>> {
        None
    }
}

impl<B: Backend> sealed::Sealed for CfcCell<B> {}
impl<B: Backend> sealed::Sealed for WiredCfcCell<B> {}

impl<B: Backend> CfcCore<B> for CfcCell<B> {
    fn input_size(&self) -> usize {
        CfcCell::input_size(self)
    }
    fn state_size(&self) -> usize {
        self.hidden_size()
    }
    fn output_size(&self) -> usize {
        self.hidden_size()
    }
    fn device(&self) -> B::Device {
        self.ff1.weight.device()
    }
    fn layer_name(&self) -> &'static str {
        "Cfc"
    }
    fn advance(
        &self,
        x: Tensor<B, 2>,
        h: Tensor<B, 2>,
        elapsed: Option<Tensor<B, 2>>,
    ) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let h = self.update(Tensor::cat(vec![x, h], 1), elapsed);
        (h.clone(), h)
    }
    fn fused_sequence(
        &self,
        x: &Tensor<B, 3>,
        h0: &Tensor<B, 2>,
        timespans: Option<&Tensor<B, 2>>,
    ) -> Option<Tensor<B, 3>> {
        CfcCell::fused_sequence(self, x, h0, timespans)
    }
}

impl<B: Backend> CfcCore<B> for WiredCfcCell<B> {
    fn input_size(&self) -> usize {
        self.input_dim
    }
    fn state_size(&self) -> usize {
        self.units()
    }
    fn output_size(&self) -> usize {
        self.output_dim
    }
    fn device(&self) -> B::Device {
        self.layers[0].ff1.weight.device()
    }
    fn layer_name(&self) -> &'static str {
        "WiredCfc"
    }
    fn advance(
        &self,
        x: Tensor<B, 2>,
        h: Tensor<B, 2>,
        elapsed: Option<Tensor<B, 2>>,
    ) -> (Tensor<B, 2>, Tensor<B, 2>) {
        WiredCfcCell::advance(self, x, h, elapsed)
    }
}

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
#[derive(Config, Debug)]
pub struct CfcConfig {
    /// The cell: sizes, mode, backbone.
    pub cell: CfcCellConfig,
    /// A `Linear(units → proj_size)` applied to every output (not to the state).
    #[config(default = "None")]
    pub proj_size: Option<usize>,
    /// Adds ncps's LSTM memory cell in front of every CfC step (ncps `mixed_memory`).
    #[config(default = false)]
    pub mixed_memory: bool,
    /// Inputs (and outputs) are `[batch, seq, ·]` when true, `[seq, batch, ·]` when false.
    #[config(default = true)]
    pub batch_first: bool,
}

impl CfcConfig {
    /// A CfC layer of `units` hidden units on `input_size` features, every other setting at
    /// ncps's default (mode default, LeCun tanh, one backbone layer of 128 units).
    pub fn from_sizes(input_size: usize, units: usize) -> Self {
        Self::new(CfcCellConfig::new(input_size, units))
    }

    /// Checks every field; [`init`](Self::init) calls it first.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.cell.validate()?;
        check_proj_size("CfcConfig", self.proj_size)
    }

    /// Builds the layer with freshly initialised parameters on `device`.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<Cfc<B>, ConfigError> {
        self.validate()?;
        let cell = self.cell.init(device)?;
        Ok(CfcLayer::assemble(
            cell,
            self.proj_size,
            self.mixed_memory,
            self.batch_first,
            device,
        ))
    }
}

/// Configuration of a [`WiredCfc`] layer (ncps's `CfC(input_size, wiring, …)`).
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
#[derive(Config, Debug)]
pub struct WiredCfcConfig {
    /// The wired cell: wiring, mode, variant.
    pub cell: WiredCfcCellConfig,
    /// A `Linear(motor → proj_size)` applied to every output (not to the state).
    #[config(default = "None")]
    pub proj_size: Option<usize>,
    /// Adds ncps's LSTM memory cell (over all neurons) in front of every step.
    #[config(default = false)]
    pub mixed_memory: bool,
    /// Inputs (and outputs) are `[batch, seq, ·]` when true, `[seq, batch, ·]` when false.
    #[config(default = true)]
    pub batch_first: bool,
}

impl WiredCfcConfig {
    /// A wired CfC layer on `wiring` with every other setting at its default.
    pub fn from_wiring(wiring: Wiring) -> Self {
        Self::new(WiredCfcCellConfig::new(wiring))
    }

    /// Checks every field; [`init`](Self::init) calls it first.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.cell.validate()?;
        check_proj_size("WiredCfcConfig", self.proj_size)
    }

    /// Builds the layer with freshly initialised parameters on `device`.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<WiredCfc<B>, ConfigError> {
        self.validate()?;
        let cell = self.cell.init(device)?;
        Ok(CfcLayer::assemble(
            cell,
            self.proj_size,
            self.mixed_memory,
            self.batch_first,
            device,
        ))
    }
}

fn check_proj_size(config: &'static str, proj_size: Option<usize>) -> Result<(), ConfigError> {
    match proj_size {
        Some(p) => Check { config }.nonzero("proj_size", p),
        None => Ok(()),
    }
}

/// The state of a CfC layer.
#[derive(Debug, Clone)]
pub struct CfcState<B: Backend> {
    /// The hidden state, `[batch, units]` (a wired CfC's layout: see
    /// [`WiredVariant`](super::WiredVariant)).
    pub h: Tensor<B, 2>,
    /// The memory cell's `c`, `[batch, units]`, with mixed memory; `None` otherwise.
    pub c: Option<Tensor<B, 2>>,
}

/// A CfC layer over a plain cell (ncps's `CfC(input_size, units)`).
pub type Cfc<B> = CfcLayer<B, CfcCell<B>>;

impl<B: Backend> Cfc<B> {
    /// The layer with its cell's sequences fused or not ([`CfcCell::with_fused`]).
    pub fn with_fused(self, fused: bool) -> Self {
        Self {
            cell: self.cell.with_fused(fused),
            ..self
        }
    }
}

/// A CfC layer over a wired cell (ncps's `CfC(input_size, wiring)`).
pub type WiredCfc<B> = CfcLayer<B, WiredCfcCell<B>>;

/// The CfC sequence layer, as ncps's `CfC`: a [`CfcCell`] ([`Cfc`]) or a [`WiredCfcCell`]
/// ([`WiredCfc`]) run over time, with an optional output projection and mixed memory.
///
/// The outputs are the cell's outputs (all units, or a wired cell's motor neurons), projected
/// when `proj_size` is set, at every step ([`forward`](Self::forward)) or at the last step
/// ([`forward_last`](Self::forward_last), ncps's `return_sequences=False`);
/// [`step`](Self::step) advances one input at a time. Per-sample elapsed times are honoured
/// for every batch size (ncps 1.0.1 mis-broadcasts them when the batch size is not 1).
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
/// let x = Tensor::<B, 3>::ones([4, 10, 3], &device); // [batch, seq, input]
/// let elapsed = Tensor::<B, 2>::full([4, 10], 0.5, &device); // [batch, seq]
/// let (y, state) = cfc.forward(x, None, Some(elapsed));
/// assert_eq!(y.dims(), [4, 10, 2]); // projected outputs at every step
/// assert_eq!(state.h.dims(), [4, 8]);
/// let grads = y.powi_scalar(2).sum().backward();
/// let grad = cfc.cell.ff1.weight.grad(&grads).expect("ff1 is trained");
/// assert!(grad.abs().sum().into_scalar() > 0.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Module, Debug)]
pub struct CfcLayer<B: Backend, C: Module<B>> {
    /// The cell.
    pub cell: C,
    /// The output projection (ncps `fc`), with `proj_size`.
    pub fc: Option<Linear<B>>,
    /// ncps's LSTM memory cell, with mixed memory.
    pub lstm: Option<MixedMemory<B>>,
    /// Whether inputs are `[batch, seq, ·]` (constant).
    pub batch_first: bool,
}

impl<B: Backend, C: CfcCore<B>> CfcLayer<B, C> {
    fn assemble(
        cell: C,
        proj_size: Option<usize>,
        mixed_memory: bool,
        batch_first: bool,
        device: &B::Device,
    ) -> Self {
        let fc = proj_size.map(|p| {
            // PyTorch's default Linear init: U(±1/√fan_in) for weight and bias, as Burn's.
            let mut fc = LinearConfig::new(cell.output_size(), p).init(device);
            fc.weight = materialize(fc.weight);
            fc.bias = fc.bias.map(materialize);
            fc
        });
        let lstm =
            mixed_memory.then(|| MixedMemory::init(cell.input_size(), cell.state_size(), device));
        Self {
            cell,
            fc,
            lstm,
            batch_first,
        }
    }

    /// The state size.
    pub fn units(&self) -> usize {
        self.cell.state_size()
    }

    /// Input features per step.
    pub fn input_size(&self) -> usize {
        self.cell.input_size()
    }

    /// Output features per step (`proj_size` when set).
    pub fn output_size(&self) -> usize {
        match &self.fc {
            Some(fc) => fc.weight.dims()[1],
            None => self.cell.output_size(),
        }
    }

    /// A zero state for `batch` sequences (with a zero `c` under mixed memory).
    pub fn zero_state(&self, batch: usize) -> CfcState<B> {
        let device = self.cell.device();
        let zeros = || Tensor::zeros([batch, self.units()], &device);
        CfcState {
            h: zeros(),
            c: self.lstm.as_ref().map(|_| zeros()),
        }
    }

    /// Runs the layer over whole sequences and returns the outputs at every step.
    ///
    /// # Shapes
    /// - `x`: `[batch, seq, input]` (`[seq, batch, input]` when not `batch_first`)
    /// - `state`: `h` and, with mixed memory, `c`, each `[batch, units]`; zeros when `None`
    /// - `timespans`: the elapsed time before each input, `[batch, seq]` (`[seq, batch]` when not
    ///   `batch_first`); 1 when `None`
    /// - returns the outputs `[batch, seq, output]` (`[seq, batch, output]`) and the final
    ///   state.
    ///
    /// # Panics
    /// If a shape does not match (naming the expected and the actual shape), or if `state.c`
    /// is missing under mixed memory or present without it.
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        state: Option<CfcState<B>>,
        timespans: Option<Tensor<B, 2>>,
    ) -> (Tensor<B, 3>, CfcState<B>) {
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
    /// As [`forward`](Self::forward); returns `[batch, output]` and the final state.
    pub fn forward_last(
        &self,
        x: Tensor<B, 3>,
        state: Option<CfcState<B>>,
        timespans: Option<Tensor<B, 2>>,
    ) -> (Tensor<B, 2>, CfcState<B>) {
        on_compute_pool::<B, _>(|| {
            let (outputs, state) = self.run("forward_last", x, state, timespans, false);
            (self.project(outputs.last()), state)
        })
    }

    /// Advances the layer by one input, for streaming and control loops: the same
    /// computation as one step of [`forward`](Self::forward).
    ///
    /// # Shapes
    /// - `x`: `[batch, input]`
    /// - `state`: as in [`forward`](Self::forward)
    /// - `elapsed`: `[batch]`, the time since the previous input (1 when `None`)
    /// - returns the outputs `[batch, output]` and the new state.
    pub fn step(
        &self,
        x: Tensor<B, 2>,
        state: Option<CfcState<B>>,
        elapsed: Option<Tensor<B, 1>>,
    ) -> (Tensor<B, 2>, CfcState<B>) {
        let context = format!("{}::step", self.cell.layer_name());
        let context = context.as_str();
        let batch = check_step_input(context, self.input_size(), &x, elapsed.as_ref());
        let state = self.initial_state(context, state, batch);
        let elapsed = elapsed.map(|dt| dt.reshape([batch, 1]));
        // A fused step has no Burn matrix product to hand to the pool: it runs in place.
        if let Some((ys, state)) = self.fused(x.clone().unsqueeze_dim(1), &state, elapsed.as_ref())
        {
            return (self.project(ys.squeeze_dim(1)), state);
        }
        on_compute_pool::<B, _>(|| {
            let (y, state) = self.advance(x, state, elapsed);
            (self.project(y), state)
        })
    }

    fn project(&self, y: Tensor<B, 2>) -> Tensor<B, 2> {
        match &self.fc {
            Some(fc) => fc.forward(y),
            None => y,
        }
    }

    /// The whole sequence through the cell's fused kernel, where it has one and there is no
    /// memory cell: the outputs `[batch, seq, output]` and the final state. `x` is
    /// `[batch, seq, input]`, `timespans` `[batch, seq]`, both checked.
    fn fused(
        &self,
        x: Tensor<B, 3>,
        state: &CfcState<B>,
        timespans: Option<&Tensor<B, 2>>,
    ) -> Option<(Tensor<B, 3>, CfcState<B>)> {
        if self.lstm.is_some() {
            return None;
        }
        let ys = self.cell.fused_sequence(&x, &state.h, timespans)?;
        let [batch, seq, width] = ys.dims();
        let h = ys.clone().narrow(1, seq - 1, 1).reshape([batch, width]);
        Some((ys, CfcState { h, c: None }))
    }

    /// The shared time loop: the (unprojected) outputs of every step when `keep` is set, else
    /// of the last step only; the whole sequence at once where the cell has a fused kernel.
    fn run(
        &self,
        method: &str,
        x: Tensor<B, 3>,
        state: Option<CfcState<B>>,
        timespans: Option<Tensor<B, 2>>,
        keep: bool,
    ) -> (Outputs<B>, CfcState<B>) {
        let context = format!("{}::{method}", self.cell.layer_name());
        let context = context.as_str();
        let seq = Sequence::new(context, self.batch_first, self.input_size(), x, timespans);
        let mut state = self.initial_state(context, state, seq.batch);
        if seq.seq > 0
            && let Some((ys, state)) = self.fused(seq.x.clone(), &state, seq.timespans.as_ref())
        {
            return (Outputs::Stacked(ys), state);
        }
        let mut outputs = Vec::with_capacity(if keep { seq.seq } else { 1 });
        for t in 0..seq.seq {
            let elapsed = seq.elapsed(t).map(|dt| dt.reshape([seq.batch, 1]));
            let (y, next) = self.advance(seq.input(t), state, elapsed);
            state = next;
            if keep || t + 1 == seq.seq {
                outputs.push(y);
            }
        }
        (Outputs::Steps(outputs), state)
    }

    /// One step: the memory cell (if any), then the CfC cell, both on the input `x`.
    fn advance(
        &self,
        x: Tensor<B, 2>,
        state: CfcState<B>,
        elapsed: Option<Tensor<B, 2>>,
    ) -> (Tensor<B, 2>, CfcState<B>) {
        let CfcState { h, c } = state;
        let (h, c) = match (&self.lstm, c) {
            (Some(lstm), Some(c)) => {
                let (h, c) = lstm.step(x.clone(), h, c);
                (h, Some(c))
            }
            (_, c) => (h, c),
        };
        let (y, h) = self.cell.advance(x, h, elapsed);
        (y, CfcState { h, c })
    }

    fn initial_state(
        &self,
        context: &str,
        state: Option<CfcState<B>>,
        batch: usize,
    ) -> CfcState<B> {
        let Some(state) = state else {
            return self.zero_state(batch);
        };
        check_state(
            context,
            ("state.h", "state.c"),
            &state.h,
            state.c.as_ref(),
            batch,
            self.units(),
            self.lstm.is_some(),
        );
        state
    }
}

/// The outputs of a time loop: step by step, or all steps at once (batch-first).
enum Outputs<B: Backend> {
    /// `[batch, output]` per kept step.
    Steps(Vec<Tensor<B, 2>>),
    /// `[batch, seq, output]`.
    Stacked(Tensor<B, 3>),
}

impl<B: Backend> Outputs<B> {
    /// Every step, `[batch, seq, output]` (`[seq, batch, output]` unless `batch_first`).
    fn all(self, batch_first: bool) -> Tensor<B, 3> {
        match self {
            Outputs::Steps(steps) => stack_steps(steps, batch_first),
            Outputs::Stacked(ys) if batch_first => ys,
            Outputs::Stacked(ys) => ys.swap_dims(0, 1),
        }
    }

    /// The last step, `[batch, output]`.
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
