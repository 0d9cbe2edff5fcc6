//! The GPU backend the fused kernels run on.
//!
//! The modules are generic over `B: Backend` and run on any Burn backend. Where a backend has a
//! fused kernel they use it (the [kernel table](crate::kernel)): ndarray, and Burn's wgpu
//! backend **without** kernel fusion, named here [`Wgpu`]. Burn's own `burn::backend::Wgpu` is
//! that backend wrapped in its kernel-fusion layer when Burn's `fusion` feature is on (as in
//! this workspace); the fused LTC kernels are not reachable through that layer, so there the
//! LTC runs on the plain tensor path, many times slower (BENCHMARKS.md has the measurements).
//! The CfC has no GPU kernel yet and gains a little from Burn's fusion instead.
//!
//! ```no_run
//! use burn::backend::Autodiff;
//! use burn::tensor::Tensor;
//! use ltc_burn::backend::Wgpu;
//! use ltc_burn::ltc::LtcConfig;
//!
//! let device = burn::backend::wgpu::WgpuDevice::DefaultDevice;
//! let ltc = LtcConfig::from_wiring(ltc_wirings::FullyConnected::new(32).build(8)?)
//!     .init::<Autodiff<Wgpu>>(&device)?;
//! let x = Tensor::<Autodiff<Wgpu>, 3>::ones([256, 64, 8], &device);
//! let (y, _) = ltc.forward(x, None, None); // the whole unfold loop: one CubeCL dispatch
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

/// Burn's wgpu backend without kernel fusion (`CubeBackend<WgpuRuntime, f32, i32, u32>`): the
/// backend of the fused LTC CubeCL kernels, and of the examples' `--features wgpu`.
pub type Wgpu = burn::backend::wgpu::CubeBackend<burn::backend::wgpu::WgpuRuntime, f32, i32, u32>;
