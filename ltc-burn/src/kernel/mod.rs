//! The kernel layer: fused implementations of the models' hot loops, per backend, behind one
//! dispatch point.
//!
//! A model module asks "is there a kernel for this on my backend?" through the registry
//! ([`lookup`], [`has`]) and runs its plain tensor path where there is none; this layer never
//! imports a model module. What it holds:
//!
//! - the registry ([`Kernel`], [`register`], [`describe_backend`], [`markdown_table`]): one
//!   table, keyed by the backend's type, of which backend has which kernel, filled with the
//!   built-in kernels below and open to more — a backend of your own, or another CubeCL
//!   runtime, gets a kernel by [`register`]ing it;
//! - the kernels: [`ltc`] (the LTC unfold loop: CPU and CubeCL), [`cfc`] (the CfC sequence:
//!   CPU) and [`tanh`] (element-wise, f32 CPU: the MLP vector fields' activation);
//! - what the CPU kernels share ([`cpu`]): the instruction-set choice made once and the one
//!   dispatch over its compiled copies, the float arithmetic, and the adapter that makes a
//!   kernel on slices a Burn operation;
//! - one custom autodiff operation with many parents that every kernel's backward goes through;
//! - the compute pool ([`on_compute_pool`]).
//!
//! The built-in table (a test keeps it equal to [`markdown_table`]); `plain` is the model's
//! tensor path, and every backend not listed (Burn's fusion `Wgpu` among them) runs it too:
//!
//! | backend | LTC unfold | CfC sequence | tanh | computes |
//! |---|---|---|---|---|
//! | `NdArray<f32>` | kernel | kernel | kernel | CPU, rayon |
//! | `Autodiff<NdArray<f32>>` | kernel | kernel | kernel | CPU, rayon |
//! | `NdArray<f64>` | kernel | kernel | plain | CPU, rayon |
//! | `Autodiff<NdArray<f64>>` | kernel | kernel | plain | CPU, rayon |
//! | `ltc_burn::backend::Wgpu` | kernel | plain | plain | device |
//! | `Autodiff<ltc_burn::backend::Wgpu>` | kernel | plain | plain | device |
//!
//! Adding a kernel: a marker type implementing [`Kernel`] (what it takes and gives), its
//! implementations (for a CPU kernel, a [`SliceKernel`](cpu::slices) run by the shared adapter;
//! for a GPU one, a custom op on the backend's tensors), one line each in the built-in table
//! (`registry.rs`), and the model's call to [`lookup`] with its plain path beside it.

pub(crate) mod autodiff;
pub mod cfc;
pub mod cpu;
pub mod ltc;
mod pool;
mod registry;
pub mod tanh;

pub use pool::on_compute_pool;
pub use registry::{
    BackendInfo, Compute, Kernel, KernelFn, backend_info, describe_backend, has, lookup,
    markdown_table, register,
};
