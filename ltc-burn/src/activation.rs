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

/// `tanh(x)`, element-wise, through the kernel layer's [`Tanh`](crate::kernel::tanh::Tanh)
/// where the backend has one (`NdArray<f32>`: a vectorised f32 `tanh` within 2 ulp of the
/// correctly rounded one, where burn-ndarray goes through libm's f64 `tanh`), Burn's
/// `Tensor::tanh` elsewhere. The gradient is `1 − tanh²(x)` either way.
///
/// ```
/// use burn::backend::NdArray;
/// use burn::tensor::Tensor;
/// let x = Tensor::<NdArray, 1>::from_floats([-20.0, -0.5, 0.0, 0.3, 2.0], &Default::default());
/// let y: Vec<f32> = ltc_burn::activation::tanh(x).into_data().to_vec().unwrap();
/// let exact = [-1.0f32, -0.46211716, 0.0, 0.29131261, 0.9640276];
/// for (y, e) in y.iter().zip(exact) {
///     assert!((y - e).abs() <= 2.0 * f32::EPSILON * e.abs().max(f32::MIN_POSITIVE));
/// }
/// ```
pub fn tanh<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    let kernel = crate::kernel::lookup::<crate::kernel::tanh::Tanh, B>();
    match kernel.and_then(|tanh| tanh(x.clone().into_primitive().tensor())) {
        Some(y) => Tensor::from_primitive(burn::tensor::TensorPrimitive::Float(y)),
        None => x.tanh(),
    }
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
mod tests;
