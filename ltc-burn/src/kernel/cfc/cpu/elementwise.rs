//! The elementwise parts of the CfC: the backbone activations with their derivatives, and the
//! closed form of every mode.

use super::{Layout, Mode};
use crate::kernel::cpu::{Real, Separate};

/// The backbone's activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// `1.7159·tanh(0.666·x)`.
    LecunTanh,
    /// `x·σ(x)`.
    Silu,
    /// `max(x, 0)`.
    Relu,
    /// `tanh(x)`.
    Tanh,
    /// `x·(1 + erf(x/√2))/2`, the exact GELU.
    Gelu,
}

impl Act {
    /// `post = act(pre)`, elementwise; one loop per activation, so that each vectorises.
    pub(crate) fn apply<F: Real>(self, pre: &[F], post: &mut [F]) {
        fn each<F: Real>(pre: &[F], post: &mut [F], f: impl Fn(F) -> F) {
            for (y, x) in post.iter_mut().zip(pre) {
                *y = f(*x);
            }
        }
        match self {
            Act::LecunTanh => each(pre, post, |x| Act::LecunTanh.value(x)),
            Act::Silu => each(pre, post, |x| Act::Silu.value(x)),
            Act::Relu => each(pre, post, |x| Act::Relu.value(x)),
            Act::Tanh => each(pre, post, |x| Act::Tanh.value(x)),
            Act::Gelu => each(pre, post, |x| Act::Gelu.value(x)),
        }
    }

    #[inline(always)]
    pub(crate) fn value<F: Real>(self, x: F) -> F {
        match self {
            Act::LecunTanh => F::from_f64(1.7159) * F::tanh(F::from_f64(0.666) * x),
            Act::Silu => x * F::sigmoid::<Separate>(x),
            Act::Relu => {
                if x > F::ZERO {
                    x
                } else {
                    F::ZERO
                }
            }
            Act::Tanh => F::tanh(x),
            Act::Gelu => x * gelu_cdf(x),
        }
    }

    /// The derivative at `x`, where the activation's value is `y`.
    #[inline(always)]
    pub(crate) fn derivative<F: Real>(self, x: F, y: F) -> F {
        match self {
            Act::LecunTanh => {
                let t = y / F::from_f64(1.7159);
                F::from_f64(1.7159 * 0.666) * (F::ONE - t * t)
            }
            Act::Silu => {
                let s = F::sigmoid::<Separate>(x);
                s + x * s * (F::ONE - s)
            }
            Act::Relu => {
                if x > F::ZERO {
                    F::ONE
                } else {
                    F::ZERO
                }
            }
            Act::Tanh => F::ONE - y * y,
            Act::Gelu => {
                // Φ(x) + x·φ(x).
                let pdf =
                    F::exp_neg(-F::from_f64(0.5) * x * x) * F::from_f64(0.398_942_280_401_432_7);
                gelu_cdf(x) + x * pdf
            }
        }
    }
}

/// Φ(x) = (1 + erf(x/√2))/2, the standard normal CDF of the exact GELU `x·Φ(x)`.
#[inline(always)]
fn gelu_cdf<F: Real>(x: F) -> F {
    F::from_f64(0.5) * (F::ONE + F::erf(x * F::from_f64(core::f64::consts::FRAC_1_SQRT_2)))
}

/// One sample's new state from its heads.
#[inline(always)]
pub(crate) fn closed_form<F: Real>(
    mode: Mode,
    layout: &Layout,
    theta: &[F],
    row: &[F],
    dt: F,
    out: &mut [F],
) {
    let h = out.len();
    match mode {
        Mode::Pure => {
            let w_tau = &theta[layout.w_tau..][..h];
            let a = &theta[layout.a..][..h];
            for j in 0..h {
                let ff = row[j];
                let e = F::exp_neg(-((abs(ff) + abs(w_tau[j])) * dt));
                out[j] = -a[j] * e * ff + a[j];
            }
        }
        Mode::Gated | Mode::NoGate => {
            let (ff1, rest) = row.split_at(h);
            let (ff2, rest) = rest.split_at(h);
            let (ta, tb) = rest.split_at(h);
            // `f1·(1 − g) + g·f2`, or `f1 + g·f2` without the complement: one branch-free loop.
            let complement = if mode == Mode::Gated { F::ONE } else { F::ZERO };
            for j in 0..h {
                let f1 = F::tanh(ff1[j]);
                let f2 = F::tanh(ff2[j]);
                let g = F::sigmoid::<Separate>(ta[j] * dt + tb[j]);
                out[j] = f1 * (F::ONE - complement * g) + g * f2;
            }
        }
    }
}

#[inline(always)]
pub(crate) fn abs<F: Real>(x: F) -> F {
    if x < F::ZERO { -x } else { x }
}

/// `sign(x)` with `sign(0) = 0` (the gradient of `|x|`, as Burn's).
#[inline(always)]
pub(crate) fn sign<F: Real>(x: F) -> F {
    if x > F::ZERO {
        F::ONE
    } else if x < F::ZERO {
        -F::ONE
    } else {
        F::ZERO
    }
}
