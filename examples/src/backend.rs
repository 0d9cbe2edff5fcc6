//! The backend the examples run on, chosen by cargo feature: ndarray on the CPU by default,
//! `--features wgpu` for the GPU (Vulkan, Metal, DX12; Mesa's lavapipe on machines without one).

use burn::backend::Autodiff;

/// The inference backend.
#[cfg(not(feature = "wgpu"))]
pub type Backend = burn::backend::NdArray<f32>;
/// The inference backend: wgpu without Burn's kernel fusion, where the LTC runs through its
/// fused CubeCL kernels (see `ltc_burn::backend`).
#[cfg(feature = "wgpu")]
pub type Backend = ltc_burn::backend::Wgpu;

/// The training backend.
pub type TrainBackend = Autodiff<Backend>;

/// The device to run on.
pub fn device() -> burn::tensor::Device<Backend> {
    // Named explicitly: CubeCL does not enumerate software adapters (lavapipe) as available.
    #[cfg(feature = "wgpu")]
    return burn::backend::wgpu::WgpuDevice::DefaultDevice;
    #[cfg(not(feature = "wgpu"))]
    return Default::default();
}

/// A short name of the backend, for logs and artifact metadata.
pub fn name() -> &'static str {
    if cfg!(feature = "wgpu") {
        "wgpu"
    } else {
        "ndarray"
    }
}
