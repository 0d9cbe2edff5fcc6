//! Numerically safe activations used by the layers.
//!
//! Two Burn 0.21 behaviours shape this module:
//! - burn-ndarray computes `recip` in f32 with the x86 approximate-reciprocal instruction
//!   (`_mm256_rcp_ps`, about 12 bits), and autodiff uses `recip` in the backward of `div`,
//!   `log` and `log1p`. Gradients through those lose up to 4e-4 relative accuracy in f32 on the
//!   CPU. Everything here divides a constant by the tensor instead ([`reciprocal`]), whose
//!   backward is an exact division.
//! - Burn's `activation::sigmoid` computes `exp(−ln(1 + e^(−x)))` in f32 whatever the backend's
//!   float type, so an f64 model silently gets f32 sigmoids.
//!
//! With these, the LTC cell's gradients match PyTorch's to f32 rounding on every backend
//! (`cargo xtask parity`).

use burn::tensor::{Tensor, backend::Backend};

/// `1 / x`, elementwise, exactly rounded, with an exactly computed gradient `−1 / x²`.
///
/// (A constant divided by `x`: Burn differentiates that with an exact division, while
/// `Tensor::recip` and the `lhs` side of `div` use burn-ndarray's approximate reciprocal.)
pub fn reciprocal<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    let one = Tensor::<B, D>::ones([1; D], &x.device());
    one / x
}

/// `softplus(x) = ln(1 + eˣ)`, computed as `max(x, 0) + ln(1 + e^(−|x|))` so that it neither
/// overflows for large `x` nor loses all precision for very negative `x`; its gradient is
/// exactly `σ(x)`.
///
/// (Burn's `activation::softplus` evaluates `ln(eˣ + 1)` directly, which is `inf` in f32 for
/// `x > 88`.)
pub fn softplus<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    let fixed = x.clone().detach();
    let value = fixed.clone().clamp_min(0.0) + fixed.clone().abs().neg().exp().log1p();
    // value + σ(x)·(x − x): the forward value is `value`, the gradient σ(x), computed exactly
    // rather than through the backward of `log1p` (see the module docs).
    value + sigmoid(fixed.clone()) * (x - fixed)
}

/// The logistic sigmoid `σ(x) = 1 / (1 + e^(−x))`, accurate in value and gradient in the
/// backend's own precision (see the module docs for why not Burn's).
///
/// Autodiff differentiates the expression itself (`e^(−x) / (1 + e^(−x))²`, no `1 − σ`
/// cancellation). Inputs are clamped at −80 first, where σ < 2e-35: `e^80` is finite in f32,
/// so neither the value nor the gradient overflows to NaN.
pub fn sigmoid<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    reciprocal(x.clamp_min(-80.0).neg().exp().add_scalar(1.0))
}

/// `silu(x) = x·σ(x)` with this module's [`sigmoid`].
pub fn silu<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    x.clone() * sigmoid(x)
}

/// The exact (erf) GELU, `x·(1 + erf(x/√2))/2`, as PyTorch's default `GELU()`, with its exact
/// gradient.
///
/// (Burn 0.21's `activation::gelu` computes the erf form but differentiates the *tanh
/// approximation* (`gelu_backward`), so its gradients are off by up to 2e-4.)
pub fn gelu<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    let half_cdf = x
        .clone()
        .mul_scalar(core::f64::consts::FRAC_1_SQRT_2)
        .erf()
        .add_scalar(1.0)
        .mul_scalar(0.5);
    x * half_cdf
}

/// ncps's `lecun_tanh(x) = 1.7159·tanh(0.666·x)`.
pub fn lecun_tanh<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    x.mul_scalar(0.666).tanh().mul_scalar(1.7159)
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
    fn sigmoid_is_exact_in_f64_and_finite_everywhere() {
        ltc_testing::in_own_process(
            module_path!(),
            "sigmoid_is_exact_in_f64_and_finite_everywhere",
            sigmoid_f64,
        );
    }

    fn sigmoid_f64() {
        use burn::backend::Autodiff;
        type A = Autodiff<NdArray<f64>>;
        let device = Default::default();
        let xs: [f64; 7] = [-1000.0, -30.0, -2.5, 0.0, 0.7, 9.0, 1000.0];
        let x = Tensor::<A, 1>::from_data(TensorData::from(xs), &device).require_grad();
        let y = sigmoid(x.clone());
        let grads = y.clone().sum().backward();
        let y: Vec<f64> = y.into_data().to_vec().unwrap();
        let dy: Vec<f64> = x.grad(&grads).unwrap().into_data().to_vec().unwrap();
        for ((x, y), dy) in xs.iter().zip(&y).zip(&dy) {
            // Inputs below −80 are clamped there: σ(−80) ≈ 1.8e-35 stands for 0.
            let want = 1.0 / (1.0 + (-x.max(-80.0)).exp());
            // σ' = e^(−x) / (1 + e^(−x))², exactly 0 where the input was clamped.
            let want_dy = if *x < -80.0 {
                0.0
            } else {
                (-x).exp() / (1.0 + (-x).exp()).powi(2)
            };
            assert!(
                (y - want).abs() <= 1e-15 * want.max(1e-300),
                "σ({x}) = {y}, want {want}"
            );
            assert!(
                (dy - want_dy).abs() <= 1e-14 * want_dy,
                "σ'({x}) = {dy}, want {want_dy}"
            );
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
