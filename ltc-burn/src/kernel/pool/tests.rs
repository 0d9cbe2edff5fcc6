//! The compute pool: ndarray runs on it, other backends in place, panics pass through.

use super::on_compute_pool;
use burn::backend::wgpu::{CubeBackend, WgpuRuntime};
use burn::backend::{Autodiff, NdArray};

#[test]
fn ndarray_layers_run_on_the_pool_and_others_in_place() {
    let on_pool = || rayon::current_thread_index().is_some();
    assert!(on_compute_pool::<NdArray<f32>, _>(on_pool));
    assert!(on_compute_pool::<Autodiff<NdArray<f64>>, _>(on_pool));
    assert!(!on_compute_pool::<CubeBackend<WgpuRuntime, f32, i32, u32>, _>(on_pool));
}

#[test]
#[should_panic(expected = "reaches the caller")]
fn a_panic_on_the_pool_reaches_the_caller() {
    on_compute_pool::<NdArray<f32>, ()>(|| panic!("reaches the caller"));
}
