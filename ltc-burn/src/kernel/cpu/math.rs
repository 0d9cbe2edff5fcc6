//! The scalar arithmetic every CPU kernel shares: the float types ([`Real`]), how a
//! multiply-add is computed ([`MulAdd`]), and a vectorisable `exp` for `f32`.

use core::ops::{Add, AddAssign, Div, Mul, Neg, Sub, SubAssign};

/// The float types the kernel runs in.
pub trait Real:
    Copy
    + Send
    + Sync
    + Default
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + 'static
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// From an `f64` (rounded).
    fn from_f64(x: f64) -> Self;
    /// `σ(z) = 1 / (1 + e^(−max(z, −80)))`, as [`crate::activation::sigmoid`]; inlined and
    /// branch-free so that loops over it vectorise. `M` says how `a·b + c` is computed.
    fn sigmoid<M: MulAdd>(z: Self) -> Self;
    /// `a·b + c`, rounded once.
    fn fused_mul_add(a: Self, b: Self, c: Self) -> Self;
    /// `tanh(x)`; branch-free in `f32` (Cephes' `tanhf`, within 2 ulp) so that loops over it
    /// vectorise.
    fn tanh(x: Self) -> Self;
    /// `eˣ` for `x ≤ 0` ([`exp_f32`] in `f32`).
    fn exp_neg(x: Self) -> Self;
    /// The error function (libm's `erf`, in `f64`).
    fn erf(x: Self) -> Self;
    /// Whether `z` is below the sigmoid's clamp (its gradient there is 0).
    #[inline(always)]
    fn clamped(z: Self) -> bool {
        z < Self::from_f64(-80.0)
    }
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn sigmoid<M: MulAdd>(z: Self) -> Self {
        // e^(−max(z, −80)); the exponential clamps its argument below at −87.3, where the sum
        // is 1.
        1.0 / (1.0 + exp_f32_with::<M>((-z).min(80.0)))
    }
    #[inline(always)]
    fn fused_mul_add(a: Self, b: Self, c: Self) -> Self {
        a.mul_add(b, c)
    }
    #[inline(always)]
    #[allow(clippy::excessive_precision)] // Cephes' coefficients, as published.
    fn tanh(x: Self) -> Self {
        // Cephes' tanhf, branch-free so that loops over it vectorise: a polynomial below
        // |x| = 0.625, 1 − 2/(e^(2|x|) + 1) above (with the sign put back).
        let ax = x.abs();
        let z = x * x;
        let small = ((((-5.704_988_7e-3 * z + 2.063_908_9e-2) * z - 5.373_971_6e-2) * z
            + 1.333_144_2e-1)
            * z
            - 3.333_328_2e-1)
            * z
            * x
            + x;
        let e = exp_f32((-2.0 * ax).max(-87.0));
        let large = (1.0 - e) / (1.0 + e);
        let large = if x < 0.0 { -large } else { large };
        if ax < 0.625 { small } else { large }
    }
    #[inline(always)]
    fn exp_neg(x: Self) -> Self {
        exp_f32(x)
    }
    #[inline(always)]
    fn erf(x: Self) -> Self {
        // In f64, as burn-ndarray's `erf`.
        libm::erf(f64::from(x)) as f32
    }
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn sigmoid<M: MulAdd>(z: Self) -> Self {
        1.0 / (1.0 + (-z.max(-80.0)).exp())
    }
    #[inline(always)]
    fn fused_mul_add(a: Self, b: Self, c: Self) -> Self {
        a.mul_add(b, c)
    }
    #[inline(always)]
    fn tanh(x: Self) -> Self {
        x.tanh()
    }
    #[inline(always)]
    fn exp_neg(x: Self) -> Self {
        x.exp()
    }
    #[inline(always)]
    fn erf(x: Self) -> Self {
        libm::erf(x)
    }
}

/// How the kernels compute `a·b + c`: [`Separate`] (a product, then a sum) everywhere, or
/// [`Fused`] (one FMA instruction, one rounding) in the copies compiled for CPUs with FMA.
pub trait MulAdd {
    /// `a·b + c`.
    fn mul_add<F: Real>(a: F, b: F, c: F) -> F;
}

/// `a·b + c` as a product and a sum.
#[derive(Debug, Clone, Copy)]
pub struct Separate;

impl MulAdd for Separate {
    #[inline(always)]
    fn mul_add<F: Real>(a: F, b: F, c: F) -> F {
        a * b + c
    }
}

/// `a·b + c` as one fused multiply-add (only where the CPU has FMA: elsewhere it is a slow
/// library call).
#[derive(Debug, Clone, Copy)]
pub struct Fused;

impl MulAdd for Fused {
    #[inline(always)]
    fn mul_add<F: Real>(a: F, b: F, c: F) -> F {
        F::fused_mul_add(a, b, c)
    }
}

/// `eˣ` in f32 for `x ≤ 88`, within 2 ulp, from integer and float arithmetic only (no libm
/// call), so that a loop over it vectorises: `eˣ = 2ⁿ·eʳ` with `n = round(x·log₂e)`,
/// `r = x − n·ln 2` (in two parts), `eʳ` by Cephes' `expf` polynomial. Arguments below −87.3
/// give e^−87.3 ≈ 1.2e-38 (f32's smallest normal) instead of smaller numbers.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    exp_f32_with::<Separate>(x)
}

/// [`exp_f32`] with its multiply-adds computed as `M` says.
#[inline(always)]
pub fn exp_f32_with<M: MulAdd>(x: f32) -> f32 {
    const LOG2E: f32 = core::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5·2²³: adding it rounds to an integer held in the low mantissa bits.
    const SHIFTER: f32 = 12_582_912.0;
    let x = x.max(-87.3);
    let t = M::mul_add(x, LOG2E, SHIFTER);
    let n = t - SHIFTER;
    let r = M::mul_add(n, -LN2_LO, M::mul_add(n, -LN2_HI, x));
    let p = M::mul_add(1.987_569_1e-4_f32, r, 1.398_199_9e-3);
    let p = M::mul_add(p, r, 8.333_452e-3);
    let p = M::mul_add(p, r, 4.166_579_6e-2);
    let p = M::mul_add(p, r, 1.666_666_5e-1);
    let p = M::mul_add(p, r, 0.5);
    let er = M::mul_add(p, r * r, r) + 1.0;
    // 2ⁿ from n's bits: t's integer bits are 0x4B40_0000 + n.
    let exponent = (t.to_bits().wrapping_sub(0x4B40_0000).wrapping_add(127)) << 23;
    er * f32::from_bits(exponent)
}

#[cfg(test)]
mod tests;
