//! Parameters that must stay positive (`w`, `sensory_w`, `cm`, `gleak`), in either of ncps's
//! two modes.

use core::ops::Deref;

use burn::config::Config;
use burn::module::{
    AutodiffModule, Content, Devices, HasAutodiffModule, Module, ModuleDisplay,
    ModuleDisplayDefault, ModuleMapper, ModuleVisitor, Param,
};
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};

use crate::activation::softplus;

/// How the LTC cell keeps its conductances and capacitances (`w`, `sensory_w`, `cm`, `gleak`)
/// positive.
///
/// | mode | at use | after an optimiser step | ncps |
/// |---|---|---|---|
/// | [`Softplus`](Self::Softplus) | `softplus(raw)` | nothing | `implicit_param_constraints=True` (the `LTC` wrapper's default) |
/// | [`Clip`](Self::Clip) | `raw` | `raw ← max(raw, 0)` | `implicit_param_constraints=False` + `apply_weight_constraints()` |
/// | [`Unconstrained`](Self::Unconstrained) | `raw` | nothing | `implicit_param_constraints=False` without `apply_weight_constraints()` |
///
/// In `Clip` mode the clip is automatic: every Burn optimiser (and so burn-train's `Learner`)
/// updates parameters through [`Module::map`], and a [`PositiveParam`] clips itself right after
/// the optimiser has mapped it. Nothing needs to be called after `optim.step(..)`; ncps users who
/// forget `apply_weight_constraints()` get negative conductances, ours cannot.
///
/// As in ncps, the initial values are drawn directly (no inverse softplus), so `Softplus`
/// starts from `softplus(U(lo, hi))`.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Positivity {
    /// `softplus` on every use (ncps's implicit constraints).
    Softplus,
    /// Identity on use, clipped to `≥ 0` after every optimiser step (ncps's explicit
    /// constraints).
    Clip,
    /// Identity on use and never clipped: what ncps computes in explicit mode when
    /// `apply_weight_constraints()` is never called (nothing in ncps calls it). Only for
    /// importing such checkpoints exactly: values may go negative.
    Unconstrained,
}

/// A float parameter kept positive according to a [`Positivity`] mode.
///
/// It dereferences to the underlying [`Param`], so `cell.w.val()` is the raw value and
/// `cell.w.grad(&grads)` its gradient; [`PositiveParam::value`] is the positive value the cell
/// uses. Its record is the plain parameter's record, so checkpoints and PyTorch state dicts
/// name it exactly as the bare parameter (`w`, `cm`, ...).
#[derive(Debug, Clone)]
pub struct PositiveParam<B: Backend, const D: usize> {
    /// The raw (trained) parameter.
    pub param: Param<Tensor<B, D>>,
    /// How it is kept positive.
    pub positivity: Positivity,
}

impl<B: Backend, const D: usize> PositiveParam<B, D> {
    /// Wraps a parameter. In [`Positivity::Clip`] mode the value is clipped at once, so a
    /// `PositiveParam` never holds a negative value after construction or an optimiser step.
    pub fn new(param: Param<Tensor<B, D>>, positivity: Positivity) -> Self {
        let wrapped = Self { param, positivity };
        match positivity {
            Positivity::Softplus | Positivity::Unconstrained => wrapped,
            Positivity::Clip => wrapped.clipped(),
        }
    }

    /// The positive value the cell computes with: `softplus(raw)` or `raw`.
    pub fn value(&self) -> Tensor<B, D> {
        match self.positivity {
            Positivity::Softplus => softplus(self.param.val()),
            Positivity::Clip | Positivity::Unconstrained => self.param.val(),
        }
    }

    /// `raw ← max(raw, 0)` in [`Positivity::Clip`] mode (ncps's `apply_weight_constraints`);
    /// a no-op in `Softplus` mode. The parameter keeps its id, so optimiser state stays attached.
    pub fn clipped(self) -> Self {
        if self.positivity != Positivity::Clip {
            return self;
        }
        let param = self.param.map(|tensor| {
            let require_grad = tensor.is_require_grad();
            // Untracked, so the clipped value becomes a fresh leaf, not a node of a graph.
            let clipped = tensor.detach().set_require_grad(false).clamp_min(0.0);
            if require_grad {
                clipped.require_grad()
            } else {
                clipped
            }
        });
        Self { param, ..self }
    }
}

impl<B: Backend, const D: usize> Deref for PositiveParam<B, D> {
    type Target = Param<Tensor<B, D>>;

    fn deref(&self) -> &Self::Target {
        &self.param
    }
}

impl<B: Backend, const D: usize> Module<B> for PositiveParam<B, D> {
    type Record = Param<Tensor<B, D>>;

    fn collect_devices(&self, devices: Devices<B>) -> Devices<B> {
        self.param.collect_devices(devices)
    }

    fn fork(self, device: &B::Device) -> Self {
        Self {
            param: self.param.fork(device),
            ..self
        }
    }

    fn to_device(self, device: &B::Device) -> Self {
        Self {
            param: self.param.to_device(device),
            ..self
        }
    }

    fn visit<V: ModuleVisitor<B>>(&self, visitor: &mut V) {
        self.param.visit(visitor);
    }

    /// Maps the parameter (an optimiser step, a device move, ...), then clips it in
    /// [`Positivity::Clip`] mode: this is what makes the explicit constraint automatic.
    fn map<M: ModuleMapper<B>>(self, mapper: &mut M) -> Self {
        Self {
            param: Module::map(self.param, mapper),
            ..self
        }
        .clipped()
    }

    fn load_record(self, record: Self::Record) -> Self {
        Self {
            param: self.param.load_record(record),
            ..self
        }
    }

    fn into_record(self) -> Self::Record {
        self.param.into_record()
    }
}

impl<B: Backend, const D: usize> ModuleDisplayDefault for PositiveParam<B, D> {
    fn content(&self, content: Content) -> Option<Content> {
        self.param.content(content)
    }
}

impl<B: Backend, const D: usize> ModuleDisplay for PositiveParam<B, D> {}

impl<B: AutodiffBackend, const D: usize> AutodiffModule<B> for PositiveParam<B, D> {
    type InnerModule = PositiveParam<B::InnerBackend, D>;

    fn valid(&self) -> Self::InnerModule {
        PositiveParam {
            param: self.param.valid(),
            positivity: self.positivity,
        }
    }

    fn from_inner(module: Self::InnerModule) -> Self {
        Self {
            param: Param::from_inner(module.param),
            positivity: module.positivity,
        }
    }
}

impl<B: AutodiffBackend, const D: usize> HasAutodiffModule<B>
    for PositiveParam<B::InnerBackend, D>
{
    type TrainModule = PositiveParam<B, D>;
}
