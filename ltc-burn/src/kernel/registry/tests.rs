//! The kernel table: the documented table is the built-in one, every built-in backend finds its
//! kernels, a registered kernel is found on its backend only.

use burn::backend::{Autodiff, NdArray};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::{BackendInfo, Compute, Kernel, Registry, backend_info, has, lookup, register};
use crate::kernel::cfc::CfcSequence;
use crate::kernel::ltc::{LtcUnfold, WgpuCube};

/// The table in the kernel layer's documentation, as the registry renders it.
#[test]
fn the_documented_table_is_the_builtin_one() {
    let doc: String = include_str!("../mod.rs")
        .lines()
        .filter_map(|l| l.strip_prefix("//! "))
        .filter(|l| l.starts_with('|'))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        doc,
        Registry::builtin().markdown(),
        "kernel/mod.rs's table differs from the built-in registry; paste the right one there"
    );
}

#[test]
fn every_builtin_backend_finds_its_kernels() {
    assert!(has::<LtcUnfold, NdArray<f32>>());
    assert!(has::<LtcUnfold, Autodiff<NdArray<f64>>>());
    assert!(has::<LtcUnfold, WgpuCube>());
    assert!(has::<LtcUnfold, Autodiff<WgpuCube>>());
    assert!(has::<CfcSequence, NdArray<f64>>());
    assert!(has::<CfcSequence, Autodiff<NdArray<f32>>>());
    assert!(!has::<CfcSequence, WgpuCube>());
    // Burn's fusion Wgpu is not in the table: the plain path.
    assert!(!has::<LtcUnfold, burn::backend::Wgpu>());
    let compute = |info: Option<BackendInfo>| info.map(|b| b.compute);
    assert_eq!(
        compute(backend_info::<NdArray<f32>>()),
        Some(Compute::Rayon)
    );
    assert_eq!(
        compute(backend_info::<Autodiff<WgpuCube>>()),
        Some(Compute::Device)
    );
    assert_eq!(backend_info::<burn::backend::Wgpu>(), None);
}

/// A kernel of a test's own, for one backend.
struct Negate;

impl Kernel for Negate {
    const NAME: &'static str = "negate (test)";
    type Input<B: Backend> = Tensor<B, 1>;
    type Output<B: Backend> = Tensor<B, 1>;
}

#[test]
fn a_registered_kernel_is_found_on_its_backend_only() {
    type B = NdArray<f32>;
    assert!(lookup::<Negate, B>().is_none());
    register::<Negate, B>(|x| Some(x.neg()));
    let negate = lookup::<Negate, B>().expect("registered");
    let y = negate(Tensor::<B, 1>::from_floats(
        [1.0, -2.0],
        &Default::default(),
    ))
    .unwrap();
    assert_eq!(y.into_data().to_vec::<f32>().unwrap(), [-1.0, 2.0]);
    assert!(!has::<Negate, NdArray<f64>>());
    assert!(!has::<Negate, Autodiff<B>>());
    // The built-in kernels of that backend are still there.
    assert!(has::<LtcUnfold, B>());
    assert!(super::markdown_table().contains("negate (test)"));
}
