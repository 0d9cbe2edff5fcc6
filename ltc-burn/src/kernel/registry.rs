//! Which backend has which kernel: one table, keyed by the backend's type, filled with the
//! built-in kernels on first use ([`builtin`]) and open to more ([`register`]).

use core::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

use burn::backend::{Autodiff, NdArray};
use burn::tensor::backend::Backend;

use super::cfc::CfcSequence;
use super::ltc::{LtcUnfold, WgpuCube};

/// A kind of kernel: what it takes and what it gives on a backend `B`. The model modules ask
/// the registry for the function that computes it on their backend ([`lookup`]); a backend
/// without one runs the model's plain tensor path.
///
/// ```
/// use burn::backend::NdArray;
/// use burn::tensor::Tensor;
/// use burn::tensor::backend::Backend;
/// use ltc_burn::kernel::{self, Kernel};
///
/// /// A kernel of our own: doubles a vector.
/// struct Double;
/// impl Kernel for Double {
///     const NAME: &'static str = "double";
///     type Input<B: Backend> = Tensor<B, 1>;
///     type Output<B: Backend> = Tensor<B, 1>;
/// }
///
/// type B = NdArray<f32>;
/// assert!(!kernel::has::<Double, B>());
/// kernel::register::<Double, B>(|x| Some(x.mul_scalar(2.0)));
/// let double = kernel::lookup::<Double, B>().expect("registered");
/// let y = double(Tensor::<B, 1>::from_floats([1.0, 2.0], &Default::default())).unwrap();
/// assert_eq!(y.into_data().to_vec::<f32>().unwrap(), [2.0, 4.0]);
/// assert!(!kernel::has::<Double, NdArray<f64>>()); // per backend type
/// ```
pub trait Kernel: 'static {
    /// The kernel's name, a column of [`markdown_table`].
    const NAME: &'static str;
    /// What the kernel takes on backend `B`.
    type Input<B: Backend>;
    /// What it gives.
    type Output<B: Backend>;
}

/// A kernel's implementation for one backend: `None` when it does not take these inputs (too
/// large for the device, say), and the caller runs its plain path instead.
pub type KernelFn<K, B> = fn(<K as Kernel>::Input<B>) -> Option<<K as Kernel>::Output<B>>;

/// Where a backend computes, as far as the kernels are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compute {
    /// On the CPU, with rayon's threads: [`on_compute_pool`](super::on_compute_pool) runs
    /// work for it on a pool of the calling thread's own.
    Rayon,
    /// On a device (a GPU) the backend drives.
    Device,
}

/// What the table says about a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendInfo {
    /// Its name in the table, e.g. `Autodiff<NdArray<f32>>`.
    pub name: &'static str,
    /// Where it computes.
    pub compute: Compute,
}

/// The table: backends (in the order they were described), kernels (in the order their first
/// implementation was registered) and the implementations.
#[derive(Default)]
pub(crate) struct Registry {
    backends: Vec<(TypeId, BackendInfo)>,
    kernels: Vec<(TypeId, &'static str)>,
    /// `KernelFn<K, B>` under `(K, B)`.
    entries: HashMap<(TypeId, TypeId), Box<dyn Any + Send + Sync>>,
}

impl Registry {
    /// The built-in kernels: the one list of which backend has which.
    pub(crate) fn builtin() -> Self {
        let mut r = Registry::default();
        use super::{cfc::ndarray as cfc, ltc::ndarray as ltc};
        macro_rules! ndarray {
            ($F:ty, $name:literal, $ltc:ident, $ltc_ad:ident, $cfc:ident, $cfc_ad:ident) => {
                r.describe::<NdArray<$F>>($name, Compute::Rayon);
                let tracked = concat!("Autodiff<", $name, ">");
                r.describe::<Autodiff<NdArray<$F>>>(tracked, Compute::Rayon);
                r.insert::<LtcUnfold, NdArray<$F>>(ltc::$ltc);
                r.insert::<LtcUnfold, Autodiff<NdArray<$F>>>(ltc::$ltc_ad);
                r.insert::<CfcSequence, NdArray<$F>>(cfc::$cfc);
                r.insert::<CfcSequence, Autodiff<NdArray<$F>>>(cfc::$cfc_ad);
            };
        }
        ndarray!(
            f32,
            "NdArray<f32>",
            unfold_f32,
            unfold_tracked_f32,
            sequence_f32,
            sequence_tracked_f32
        );
        ndarray!(
            f64,
            "NdArray<f64>",
            unfold_f64,
            unfold_tracked_f64,
            sequence_f64,
            sequence_tracked_f64
        );
        r.insert::<super::tanh::Tanh, NdArray<f32>>(super::tanh::tanh_f32);
        r.insert::<super::tanh::Tanh, Autodiff<NdArray<f32>>>(super::tanh::tanh_tracked_f32);
        r.describe::<WgpuCube>("ltc_burn::backend::Wgpu", Compute::Device);
        r.describe::<Autodiff<WgpuCube>>("Autodiff<ltc_burn::backend::Wgpu>", Compute::Device);
        r.insert::<LtcUnfold, WgpuCube>(super::ltc::cube::unfold);
        r.insert::<LtcUnfold, Autodiff<WgpuCube>>(super::ltc::cube::unfold_tracked);
        r
    }

    pub(crate) fn describe<B: Backend>(&mut self, name: &'static str, compute: Compute) {
        let info = BackendInfo { name, compute };
        let id = TypeId::of::<B>();
        match self.backends.iter_mut().find(|(b, _)| *b == id) {
            Some((_, old)) => *old = info,
            None => self.backends.push((id, info)),
        }
    }

    pub(crate) fn insert<K: Kernel, B: Backend>(&mut self, f: KernelFn<K, B>) {
        let kernel = TypeId::of::<K>();
        if !self.kernels.iter().any(|(k, _)| *k == kernel) {
            self.kernels.push((kernel, K::NAME));
        }
        if !self.backends.iter().any(|(b, _)| *b == TypeId::of::<B>()) {
            let name = core::any::type_name::<B>();
            self.backends.push((
                TypeId::of::<B>(),
                BackendInfo {
                    name,
                    compute: Compute::Device,
                },
            ));
        }
        self.entries
            .insert((kernel, TypeId::of::<B>()), Box::new(f));
    }

    fn get<K: Kernel, B: Backend>(&self) -> Option<KernelFn<K, B>> {
        let entry = self.entries.get(&(TypeId::of::<K>(), TypeId::of::<B>()))?;
        entry.downcast_ref::<KernelFn<K, B>>().copied()
    }

    fn info<B: Backend>(&self) -> Option<BackendInfo> {
        let id = TypeId::of::<B>();
        self.backends
            .iter()
            .find(|(b, _)| *b == id)
            .map(|(_, info)| *info)
    }

    /// The table in Markdown: one row per backend, one column per kernel.
    pub(crate) fn markdown(&self) -> String {
        let mut out = String::from("| backend |");
        for (_, name) in &self.kernels {
            out.push_str(&format!(" {name} |"));
        }
        out.push_str(" computes |\n|---|");
        out.push_str(&"---|".repeat(self.kernels.len() + 1));
        out.push('\n');
        for (backend, info) in &self.backends {
            out.push_str(&format!("| `{}` |", info.name));
            for (kernel, _) in &self.kernels {
                let has = self.entries.contains_key(&(*kernel, *backend));
                out.push_str(if has { " kernel |" } else { " plain |" });
            }
            let compute = match info.compute {
                Compute::Rayon => "CPU, rayon",
                Compute::Device => "device",
            };
            out.push_str(&format!(" {compute} |\n"));
        }
        out
    }
}

fn registry() -> &'static RwLock<Registry> {
    static REGISTRY: OnceLock<RwLock<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(|| RwLock::new(Registry::builtin()))
}

/// The implementation of kernel `K` on backend `B`, if one is registered.
pub fn lookup<K: Kernel, B: Backend>() -> Option<KernelFn<K, B>> {
    registry()
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get::<K, B>()
}

/// Whether kernel `K` has an implementation on backend `B`.
pub fn has<K: Kernel, B: Backend>() -> bool {
    lookup::<K, B>().is_some()
}

/// Registers `f` as kernel `K` on backend `B` (replacing one registered before): from then on
/// the model modules use it on `B`. A backend not described yet ([`describe_backend`]) is listed
/// under its type name, as computing on a device.
pub fn register<K: Kernel, B: Backend>(f: KernelFn<K, B>) {
    registry()
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert::<K, B>(f);
}

/// Names backend `B` in the table and says where it computes (a CPU backend that uses rayon's
/// threads gets [`Compute::Rayon`], so that [`on_compute_pool`](super::on_compute_pool) serves
/// it).
pub fn describe_backend<B: Backend>(info: BackendInfo) {
    registry()
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .describe::<B>(info.name, info.compute);
}

/// What the table says about backend `B`, if it is in it.
pub fn backend_info<B: Backend>() -> Option<BackendInfo> {
    registry()
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .info::<B>()
}

/// The table as it stands, in Markdown: one row per backend, one column per kernel, `kernel`
/// where the backend has it and `plain` where the model's tensor path runs.
pub fn markdown_table() -> String {
    registry()
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .markdown()
}

#[cfg(test)]
mod tests;
