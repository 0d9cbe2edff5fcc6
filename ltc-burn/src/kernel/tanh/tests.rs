use burn::backend::{Autodiff, NdArray};
use burn::tensor::{Tensor, TensorData};

use super::*;
use crate::kernel::cpu::Isa;

/// Inputs over the whole range: a dense sweep of [−12, 12], huge values, signed zeros,
/// subnormals, infinities.
fn inputs() -> Vec<f32> {
    let mut x: Vec<f32> = (-24_000..=24_000).map(|i| i as f32 * 5e-4).collect();
    x.extend([
        0.0,
        -0.0,
        1e-30,
        -1e-38,
        1e-42,
        0.624_999,
        0.625,
        0.625_001,
        9.0,
        44.0,
        -88.0,
        1e30,
        -1e30,
        f32::MAX,
        f32::MIN,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ]);
    x
}

/// Distance in units in the last place between two finite f32.
fn ulps(a: f32, b: f32) -> u32 {
    let key = |x: f32| {
        let bits = x.to_bits() as i32;
        if bits < 0 { i32::MIN - bits } else { bits }
    };
    key(a).abs_diff(key(b))
}

#[test]
fn every_copy_is_within_2_ulp_of_the_correctly_rounded_tanh() {
    let x = inputs();
    for isa in Isa::supported() {
        let mut y = vec![0.0; x.len()];
        tanh_all_on(isa, &x, &mut y);
        for (&x, &y) in x.iter().zip(&y) {
            let exact = f64::from(x).tanh() as f32;
            assert!(
                ulps(y, exact) <= 2,
                "{isa:?}: tanh({x:e}) = {y:e}, correctly rounded {exact:e}"
            );
            // (tanh(−0) gives +0: Cephes' polynomial adds −0 to +0.)
            if exact != 0.0 {
                let signs = (y.is_sign_negative(), exact.is_sign_negative());
                assert_eq!(signs.0, signs.1, "sign of tanh({x:e})");
            }
        }
    }
}

#[test]
fn nan_stays_nan() {
    for isa in Isa::supported() {
        let mut y = [0.0; 3];
        tanh_all_on(isa, &[f32::NAN, 1.0, -f32::NAN], &mut y);
        assert!(y[0].is_nan() && y[2].is_nan(), "{isa:?}: {y:?}");
    }
}

#[test]
fn the_kernel_is_registered_and_matches_burns_value_and_gradient() {
    type B = Autodiff<NdArray<f32>>;
    assert!(crate::kernel::has::<Tanh, B>() && crate::kernel::has::<Tanh, NdArray<f32>>());
    let device = Default::default();
    let values: Vec<f32> = (0..120).map(|i| (i as f32 - 60.0) * 0.07).collect();
    let make = || {
        Tensor::<B, 3>::from_data(TensorData::new(values.clone(), [2, 3, 20]), &device)
            .require_grad()
    };
    let weights = Tensor::<B, 3>::from_data(
        TensorData::new((0..120).map(|i| (i % 7) as f32 - 3.0).collect(), [2, 3, 20]),
        &device,
    );
    let (ours_x, burn_x) = (make(), make());
    let ours = crate::activation::tanh(ours_x.clone());
    let burns = burn_x.clone().tanh();
    assert_eq!(ours.dims(), [2, 3, 20]);
    let value = |t: Tensor<B, 3>| t.into_data().to_vec::<f32>().unwrap();
    for (a, b) in value(ours.clone()).iter().zip(value(burns.clone())) {
        assert!(ulps(*a, b) <= 2, "{a} vs {b}");
    }
    let g_ours = (ours * weights.clone()).sum().backward();
    let g_burn = (burns * weights).sum().backward();
    let grad = |x: &Tensor<B, 3>, g| x.grad(g).unwrap().into_data().to_vec::<f32>().unwrap();
    for (a, b) in grad(&ours_x, &g_ours).iter().zip(grad(&burn_x, &g_burn)) {
        assert!(
            (a - b).abs() <= 4.0 * f32::EPSILON * b.abs().max(1.0),
            "{a} vs {b}"
        );
    }
}
