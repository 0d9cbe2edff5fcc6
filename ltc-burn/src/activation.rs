//! Numerically safe activations used by the layers.

use burn::tensor::{Tensor, backend::Backend};

/// `softplus(x) = ln(1 + eˣ)`, computed as `max(x, 0) + ln(1 + e^(−|x|))` so that it neither
/// overflows for large `x` nor loses all precision for very negative `x`.
///
/// (Burn's `activation::softplus` evaluates `ln(eˣ + 1)` directly, which is `inf` in f32 for
/// `x > 88`.)
pub fn softplus<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    let tail = x.clone().abs().neg().exp().log1p();
    x.clamp_min(0.0) + tail
}

/// The inverse of [`softplus`], elementwise: `ln(eʸ − 1)` for `y > 0`, written as
/// `y + ln(1 − e^(−y))` so that large `y` does not overflow.
pub fn inverse_softplus<B: Backend, const D: usize>(y: Tensor<B, D>) -> Tensor<B, D> {
    y.clone() + y.neg().exp().neg().log1p()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::tensor::TensorData;

    #[test]
    fn softplus_is_stable_and_exact() {
        // f64 on ndarray: in a process of its own (see the ltc-testing crate).
        ltc_testing::in_own_process(
            module_path!(),
            "softplus_is_stable_and_exact",
            softplus_is_stable_and_exact_f64,
        );
    }

    fn softplus_is_stable_and_exact_f64() {
        let device = Default::default();
        let x = Tensor::<NdArray<f64>, 1>::from_data(
            TensorData::from([-800.0, -3.0, 0.0, 2.0, 800.0]),
            &device,
        );
        let y: Vec<f64> = softplus(x).into_data().to_vec().unwrap();
        let expected = [
            0.0,
            (1.0 + (-3.0f64).exp()).ln(),
            2f64.ln(),
            (1.0 + 2f64.exp()).ln(),
            800.0,
        ];
        for (got, want) in y.iter().zip(expected) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
    }

    #[test]
    fn inverse_softplus_inverts_softplus() {
        ltc_testing::in_own_process(
            module_path!(),
            "inverse_softplus_inverts_softplus",
            inverse_softplus_inverts_softplus_f64,
        );
    }

    fn inverse_softplus_inverts_softplus_f64() {
        let device = Default::default();
        let ys: [f64; 8] = [1e-3, 0.3, 0.5, 1.0, 4.0, 7.0, 30.0, 50.0];
        let t = Tensor::<NdArray<f64>, 1>::from_data(TensorData::from(ys), &device);
        let x: Vec<f64> = inverse_softplus(t.clone()).into_data().to_vec().unwrap();
        let back: Vec<f64> = softplus(inverse_softplus(t)).into_data().to_vec().unwrap();
        for ((y, x), back) in ys.iter().zip(&x).zip(&back) {
            let formula = y + (-(-y).exp()).ln_1p(); // ln(e^y − 1), stably
            assert!(
                (x - formula).abs() < 1e-12 * formula.abs().max(1.0),
                "{y}: {x} vs {formula}"
            );
            assert!(
                (back - y).abs() < 1e-12 * y.max(1.0),
                "{y} -> {x} -> {back}"
            );
        }
    }
}
