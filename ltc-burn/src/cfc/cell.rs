//! The closed-form continuous-time cell of ncps (`CfCCell`).

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};

use crate::activation::{gelu, lecun_tanh, sigmoid, silu};
use crate::error::{Check, ConfigError};
use crate::kernel::cfc::{self as kernel, Act, CfcDims, CfcParams, Mode, SequenceInputs};
use crate::param::materialize;
use crate::recurrent::RecurrentCell;
use crate::stepper::{StepCell, StepFloat};

/// How the cell turns its heads into the new state (ncps `mode`).
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum CfcMode {
    /// The gated closed form: `h' = tanh(ff1)·(1 − tᵢ) + tᵢ·tanh(ff2)` with the time gate
    /// `tᵢ = σ(time_a·Δt + time_b)` (ncps `"default"`).
    Default,
    /// The direct closed-form solution `h' = −A·e^(−Δt·(|w_tau| + |ff1|))·ff1 + A`
    /// (ncps `"pure"`).
    Pure,
    /// `h' = tanh(ff1) + tᵢ·tanh(ff2)`, the gate without its complement (ncps `"no_gate"`).
    NoGate,
}

/// The backbone's activation (ncps `backbone_activation`).
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `1.7159·tanh(0.666·x)` (ncps's default).
    LecunTanh,
    /// `x·σ(x)`.
    Silu,
    /// `max(x, 0)`.
    Relu,
    /// `tanh(x)`.
    Tanh,
    /// The exact (erf) GELU, as PyTorch's `GELU()`.
    Gelu,
}

impl Activation {
    /// Applies the activation elementwise.
    pub fn forward<B: Backend, const D: usize>(self, x: Tensor<B, D>) -> Tensor<B, D> {
        match self {
            Self::LecunTanh => lecun_tanh(x),
            Self::Silu => silu(x),
            Self::Relu => burn::tensor::activation::relu(x),
            Self::Tanh => x.tanh(),
            Self::Gelu => gelu(x),
        }
    }
}

/// Configuration of a [`CfcCell`]. The defaults are ncps 1.0.1's `CfCCell` defaults.
///
/// ```
/// use ltc_burn::cfc::{Activation, CfcCellConfig, CfcMode};
///
/// let config = CfcCellConfig::new(3, 8) // d_input, d_hidden
///     .with_mode(CfcMode::Pure)
///     .with_activation(Activation::Silu)
///     .with_backbone_units(16)
///     .with_backbone_layers(2)
///     .with_backbone_dropout(0.1);
/// assert!(config.validate().is_ok());
/// let err = config.with_backbone_dropout(1.0).validate().unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "CfcCellConfig.backbone_dropout = 1: must be a number in [0, 1)"
/// );
/// ```
#[derive(Config, Debug)]
pub struct CfcCellConfig {
    /// Input features per step.
    pub d_input: usize,
    /// Hidden units (the state size).
    pub d_hidden: usize,
    /// The closed form used.
    #[config(default = "CfcMode::Default")]
    pub mode: CfcMode,
    /// The backbone's activation.
    #[config(default = "Activation::LecunTanh")]
    pub activation: Activation,
    /// Width of every backbone layer.
    #[config(default = 128)]
    pub backbone_units: usize,
    /// Backbone layers between `[input, state]` and the heads; 0 lets the heads read
    /// `[input, state]` directly.
    #[config(default = 1)]
    pub backbone_layers: usize,
    /// Dropout after every backbone layer's activation, in training (autodiff backends) only.
    #[config(default = 0.0)]
    pub backbone_dropout: f64,
    /// Reproduce two ncps 1.0.1 quirks: dropout only after backbone layers 2, 3, … (so the
    /// default one-layer backbone never drops anything), and pure mode's `A` and `w_tau`
    /// drawn from Xavier-uniform (ncps overwrites their intended ones and zeros). Off by
    /// default: dropout applies to every layer and `A = 1`, `w_tau = 0`.
    #[config(default = false)]
    pub ncps_compat: bool,
}

impl CfcCellConfig {
    /// Checks every field; [`init`](Self::init) calls it first.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let check = Check {
            config: "CfcCellConfig",
        };
        check.nonzero("d_input", self.d_input)?;
        check.nonzero("d_hidden", self.d_hidden)?;
        if self.backbone_layers > 0 {
            check.nonzero("backbone_units", self.backbone_units)?;
        }
        check.fraction("backbone_dropout", self.backbone_dropout)
    }

    /// Builds the cell with freshly initialised parameters on `device` (seed the backend with
    /// `B::seed(&device, seed)` first for reproducible weights): PyTorch's default biases,
    /// Xavier-uniform weights, as ncps.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<CfcCell<B>, ConfigError> {
        self.validate()?;
        Ok(self.init_heads(device, None, None, false))
    }

    /// The cell with masked heads (the layers of a wired CfC); no backbone.
    pub(crate) fn init_heads<B: Backend>(
        &self,
        device: &B::Device,
        head_mask: Option<Tensor<B, 2>>,
        gate_mask: Option<Tensor<B, 2>>,
        signed: bool,
    ) -> CfcCell<B> {
        let (s, h, u) = (self.d_input, self.d_hidden, self.backbone_units);
        let backbone: Vec<Linear<B>> = (0..self.backbone_layers)
            .map(|k| xavier_linear(if k == 0 { s + h } else { u }, u, device))
            .collect();
        let d = if backbone.is_empty() { s + h } else { u };
        let pure = self.mode == CfcMode::Pure;
        let head = || xavier_linear(d, h, device);
        let ff1 = head();
        let (ff2, time_a, time_b) = if pure {
            (None, None, None)
        } else {
            (Some(head()), Some(head()), Some(head()))
        };
        let (w_tau, a) = match (pure, self.ncps_compat) {
            (false, _) => (None, None),
            (true, true) => {
                let bound = (6.0 / (1 + h) as f64).sqrt();
                let draw = || {
                    Param::from_tensor(Tensor::random(
                        [1, h],
                        Distribution::Uniform(-bound, bound),
                        device,
                    ))
                };
                (Some(draw()), Some(draw()))
            }
            (true, false) => (
                Some(Param::from_tensor(Tensor::zeros([1, h], device))),
                Some(Param::from_tensor(Tensor::ones([1, h], device))),
            ),
        };
        CfcCell {
            backbone,
            ff1,
            ff2,
            time_a,
            time_b,
            w_tau,
            a,
            dropout: DropoutConfig::new(self.backbone_dropout).init(),
            head_mask,
            gate_mask,
            signed,
            mode: self.mode,
            activation: self.activation,
            first_dropout_layer: usize::from(self.ncps_compat),
            fused: true,
        }
    }
}

/// A `Linear(d_in → d_out)` initialised as ncps: Xavier-uniform weight, PyTorch's default bias
/// U(±1/√d_in) (Burn's default Linear bias is the same distribution).
fn xavier_linear<B: Backend>(d_in: usize, d_out: usize, device: &B::Device) -> Linear<B> {
    let mut linear = LinearConfig::new(d_in, d_out).init(device);
    let bound = (6.0 / (d_in + d_out) as f64).sqrt();
    linear.weight = Param::from_tensor(Tensor::random(
        [d_in, d_out],
        Distribution::Uniform(-bound, bound),
        device,
    ));
    linear.bias = linear.bias.map(materialize);
    linear
}

/// The closed-form continuous-time cell (CfC, Hasani et al. 2022), exactly as ncps 1.0.1's
/// `CfCCell`:
///
/// ```text
/// z  = backbone([x, h])                       (Linear → activation → dropout, per layer)
/// default: h' = tanh(ff1(z))·(1 − tᵢ) + tᵢ·tanh(ff2(z)),  tᵢ = σ(time_a(z)·Δt + time_b(z))
/// no_gate: h' = tanh(ff1(z)) + tᵢ·tanh(ff2(z))
/// pure:    h' = −A·exp(−Δt·(|w_tau| + |ff1(z)|))·ff1(z) + A
/// ```
///
/// Δt is the timespan per sample (1 when not given). Linear weights are Burn's
/// `[in, out]` (PyTorch's `(out, in)` transposed); the parameter names are ncps's, with `A`
/// spelled `a`.
///
/// ```
/// use burn::backend::NdArray;
/// use burn::tensor::Tensor;
/// use ltc_burn::cfc::CfcCellConfig;
/// use ltc_burn::recurrent::RecurrentCell;
/// # #[cfg(not(ltc_doc_wgpu))] type B = NdArray;
/// # #[cfg(ltc_doc_wgpu)] type B = burn::backend::Wgpu;
///
/// let device = Default::default();
/// let cell = CfcCellConfig::new(3, 8).with_backbone_units(16).init::<B>(&device)?;
/// let x = Tensor::<B, 2>::ones([4, 3], &device); // [batch, d_input]
/// let h = Tensor::<B, 2>::zeros([4, 8], &device); // [batch, d_hidden]
/// let timespans = Tensor::<B, 1>::from_floats([0.5, 1.0, 2.0, 1.0], &device); // [batch]
/// let (y, h) = cell.forward(x, h, Some(timespans)); // the output is the new state
/// assert_eq!(y.dims(), [4, 8]);
/// assert_eq!(h.dims(), [4, 8]);
/// // The default mode mixes two tanh heads: the state stays in (−1, 1).
/// let h: Vec<f32> = h.into_data().convert::<f32>().to_vec().unwrap();
/// assert!(h.iter().all(|v| v.abs() < 1.0));
/// # Ok::<(), ltc_burn::ConfigError>(())
/// ```
#[derive(Module, Debug)]
pub struct CfcCell<B: Backend> {
    /// Backbone layers: `[input + hidden] → [units]`, then `[units] → [units]` (ncps
    /// `backbone.0`, `backbone.2`, …).
    pub backbone: Vec<Linear<B>>,
    /// The first head, `[d] → [hidden]` (`d` = backbone units, or input + hidden without a
    /// backbone).
    pub ff1: Linear<B>,
    /// The second head (not in pure mode).
    pub ff2: Option<Linear<B>>,
    /// The time gate's slope head (not in pure mode).
    pub time_a: Option<Linear<B>>,
    /// The time gate's offset head (not in pure mode).
    pub time_b: Option<Linear<B>>,
    /// Pure mode's time-constant offset, `[1, hidden]`.
    pub w_tau: Option<Param<Tensor<B, 2>>>,
    /// Pure mode's fixed point (ncps `A`), `[1, hidden]`.
    pub a: Option<Param<Tensor<B, 2>>>,
    /// Backbone dropout.
    pub dropout: Dropout,
    /// Mask of `ff1`'s and `ff2`'s weights, `[d, hidden]` (wired cells; constant). Holds the
    /// synapse polarity (±1) when `signed`.
    pub head_mask: Option<Tensor<B, 2>>,
    /// Mask of `time_a`'s and `time_b`'s weights (the faithful wired variant; constant).
    pub gate_mask: Option<Tensor<B, 2>>,
    /// The heads use `|W| ⊙ head_mask`, so each synapse keeps the wiring's sign (constant).
    pub signed: bool,
    /// The closed form (constant).
    pub mode: CfcMode,
    /// The backbone activation (constant).
    pub activation: Activation,
    /// Dropout follows backbone layers `first_dropout_layer..` (constant; 1 in ncps mode).
    pub first_dropout_layer: usize,
    /// Whether sequences run through the backend's fused kernel where it has one (constant,
    /// `true` after [`init`](CfcCellConfig::init); see [`with_fused`](Self::with_fused)).
    pub fused: bool,
}

impl<B: Backend> CfcCell<B> {
    /// Whether a [`Cfc`](super::Cfc) layer runs whole sequences through the backend's fused
    /// kernel where it has one (ndarray in f32 and f64, with or without autodiff: one
    /// operation per sequence whose backward pass is one node), the default; `false` runs the
    /// cell step by step on the plain tensor path, the reference the kernel is tested against.
    /// The kernel covers every mode, backbone depth and activation;
    /// backbone dropout while training also takes the plain path.
    pub fn with_fused(self, fused: bool) -> Self {
        Self { fused, ..self }
    }

    /// The new state from the concatenated `z = [x, h]` and the timespans `[batch, 1]`.
    pub(crate) fn update(&self, z: Tensor<B, 2>, timespans: Option<Tensor<B, 2>>) -> Tensor<B, 2> {
        let mut z = z;
        for (k, layer) in self.backbone.iter().enumerate() {
            z = self.activation.forward(layer.forward(z));
            if k >= self.first_dropout_layer {
                z = self.dropout.forward(z);
            }
        }
        let ff1 = self.head(&self.ff1, z.clone(), self.head_mask.as_ref(), self.signed);
        let heads = (
            self.ff2.as_ref(),
            self.time_a.as_ref(),
            self.time_b.as_ref(),
        );
        match (self.mode, heads) {
            (CfcMode::Pure, _) => {
                let (Some(w_tau), Some(a)) = (&self.w_tau, &self.a) else {
                    unreachable!("pure cells hold w_tau and A")
                };
                let rate = ff1.clone().abs() + w_tau.val().abs();
                let rate = match timespans {
                    Some(dt) => rate * dt,
                    None => rate,
                };
                let a = a.val();
                a.clone().neg() * rate.neg().exp() * ff1 + a
            }
            (mode, (Some(ff2), Some(time_a), Some(time_b))) => {
                let f1 = ff1.tanh();
                let f2 = self
                    .head(ff2, z.clone(), self.head_mask.as_ref(), self.signed)
                    .tanh();
                let t_a = self.head(time_a, z.clone(), self.gate_mask.as_ref(), false);
                let t_b = self.head(time_b, z, self.gate_mask.as_ref(), false);
                let t_a = match timespans {
                    Some(dt) => t_a * dt,
                    None => t_a,
                };
                let gate = sigmoid(t_a + t_b);
                match mode {
                    CfcMode::NoGate => f1 + gate * f2,
                    _ => f1 * gate.clone().neg().add_scalar(1.0) + gate * f2,
                }
            }
            _ => unreachable!("gated cells hold ff2, time_a and time_b"),
        }
    }

    /// `z·W + b`, with `W` masked for wired cells (`|W| ⊙ mask` when `signed`: the mask holds
    /// the synapses' signs).
    fn head(
        &self,
        linear: &Linear<B>,
        z: Tensor<B, 2>,
        mask: Option<&Tensor<B, 2>>,
        signed: bool,
    ) -> Tensor<B, 2> {
        if mask.is_none() {
            return linear.forward(z);
        }
        let y = z.matmul(head_weight(linear, mask, signed));
        match &linear.bias {
            Some(bias) => y + bias.val().unsqueeze(),
            None => y,
        }
    }

    /// The closed form and the backbone activation, as the CPU kernels name them.
    pub(crate) fn kernel_kind(&self) -> (Mode, Act) {
        let mode = match self.mode {
            CfcMode::Default => Mode::Gated,
            CfcMode::NoGate => Mode::NoGate,
            CfcMode::Pure => Mode::Pure,
        };
        let act = match self.activation {
            Activation::LecunTanh => Act::LecunTanh,
            Activation::Silu => Act::Silu,
            Activation::Relu => Act::Relu,
            Activation::Tanh => Act::Tanh,
            Activation::Gelu => Act::Gelu,
        };
        (mode, act)
    }

    /// The CPU kernels' sizes for `batch` sequences of `seq` steps.
    pub(crate) fn kernel_dims(&self, batch: usize, seq: usize) -> CfcDims {
        CfcDims {
            batch,
            seq,
            inputs: self.d_input(),
            hidden: self.d_hidden(),
            units: self.backbone.first().map_or(0, |l| l.weight.dims()[1]),
            layers: self.backbone.len(),
        }
    }

    /// The parameters as the fused kernel applies them: the heads' weights masked as
    /// [`head`](Self::head) masks them, missing biases as zeros.
    pub(crate) fn fused_params(&self, mode: Mode) -> Option<CfcParams<B>> {
        let bias = |linear: &Linear<B>| match &linear.bias {
            Some(b) => b.val(),
            None => Tensor::zeros([linear.weight.dims()[1]], &linear.weight.device()),
        };
        let backbone = self
            .backbone
            .iter()
            .map(|layer| (layer.weight.val(), bias(layer)))
            .collect();
        let (head_mask, gate_mask) = (self.head_mask.as_ref(), self.gate_mask.as_ref());
        let mut heads = vec![(&self.ff1, head_mask, self.signed)];
        if mode != Mode::Pure {
            heads.push((self.ff2.as_ref()?, head_mask, self.signed));
            heads.push((self.time_a.as_ref()?, gate_mask, false));
            heads.push((self.time_b.as_ref()?, gate_mask, false));
        }
        let heads = heads
            .into_iter()
            .map(|(linear, mask, signed)| (head_weight(linear, mask, signed), bias(linear)))
            .collect();
        let pure = match mode {
            Mode::Pure => Some((self.w_tau.as_ref()?.val(), self.a.as_ref()?.val())),
            _ => None,
        };
        Some(CfcParams {
            backbone,
            heads,
            pure,
        })
    }

    /// [`fused_params`](Self::fused_params) of the cell's own mode as one vector laid out by the
    /// CPU kernel's layout, read in `F`: what the stepper and the ltc-runtime exporter read.
    pub(crate) fn flat_params<F: burn::tensor::Element>(&self) -> Vec<F> {
        let (mode, _) = self.kernel_kind();
        let params = self
            .fused_params(mode)
            .expect("a CfC cell has the heads of its mode");
        crate::kernel::cpu::into_vec(params.flat())
    }

    /// The states after every step of a whole sequence, `[batch, seq, d_hidden]`, from the
    /// fused kernel, where the backend has one and it covers this cell (every mode; any
    /// backbone depth and activation; no dropout while training); `None` otherwise.
    pub(crate) fn fused_sequence(
        &self,
        x: &Tensor<B, 3>,
        h0: &Tensor<B, 2>,
        timespans: Option<&Tensor<B, 2>>,
    ) -> Option<Tensor<B, 3>> {
        if !self.fused {
            return None;
        }
        let drops = self.dropout.prob > 0.0
            && B::ad_enabled(&x.device())
            && self.backbone.len() > self.first_dropout_layer;
        if drops {
            return None;
        }
        let (mode, act) = self.kernel_kind();
        let [batch, seq, _] = x.dims();
        kernel::sequence(SequenceInputs {
            x: x.clone(),
            h0: h0.clone(),
            timespans: timespans.cloned(),
            params: self.fused_params(mode)?,
            dims: self.kernel_dims(batch, seq),
            mode,
            act,
        })
    }
}

impl<B: Backend> RecurrentCell<B> for CfcCell<B> {
    const NAME: &'static str = "Cfc";

    /// Input features per step.
    fn d_input(&self) -> usize {
        let d = match self.backbone.first() {
            Some(layer) => layer.weight.dims()[0],
            None => self.ff1.weight.dims()[0],
        };
        d - self.d_hidden()
    }

    /// Hidden units (the state size).
    fn d_hidden(&self) -> usize {
        self.ff1.weight.dims()[1]
    }

    /// The new state is the output.
    fn d_output(&self) -> usize {
        self.d_hidden()
    }

    fn device(&self) -> B::Device {
        self.ff1.weight.device()
    }

    /// One step, as ncps's `CfCCell.forward`: the new state is also the output.
    fn step(
        &self,
        x: Tensor<B, 2>,
        h: Tensor<B, 2>,
        timespans: Option<Tensor<B, 1>>,
    ) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let batch = x.dims()[0];
        let h = self.update(
            Tensor::cat(vec![x, h], 1),
            timespans.map(|dt| dt.reshape([batch, 1])),
        );
        (h.clone(), h)
    }

    /// The whole sequence through the fused kernel, where there is one for this cell on this
    /// backend: one operation, one autodiff node.
    fn forward_sequence(
        &self,
        x: &Tensor<B, 3>,
        h0: &Tensor<B, 2>,
        timespans: Option<&Tensor<B, 2>>,
    ) -> Option<(Tensor<B, 3>, Tensor<B, 2>)> {
        let ys = self.fused_sequence(x, h0, timespans)?;
        let [batch, seq, width] = ys.dims();
        let h = ys.clone().narrow(1, seq - 1, 1).reshape([batch, width]);
        Some((ys, h))
    }

    fn step_cell<F: StepFloat>(&self) -> Option<Box<dyn StepCell<F>>> {
        Some(Box::new(super::stepper::CfcStepCell::<F>::read(self)))
    }
}

/// A head's weight as it is applied: masked for wired cells (`|W| ⊙ mask` when `signed`).
fn head_weight<B: Backend>(
    linear: &Linear<B>,
    mask: Option<&Tensor<B, 2>>,
    signed: bool,
) -> Tensor<B, 2> {
    let weight = linear.weight.val();
    match mask {
        None => weight,
        Some(mask) => {
            let weight = if signed { weight.abs() } else { weight };
            weight * mask.clone()
        }
    }
}
