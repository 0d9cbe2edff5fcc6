//! The dense output of one step: saving at given times never shortens a step.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::engine::combine;
use super::tableau::ButcherTableau;

/// The dense output of one step, in the step's fraction `θ ∈ [0, 1]`.
pub(crate) enum Interpolant<B: Backend, const D: usize> {
    /// `y(θ) = (((a·θ + b)·θ + c)·θ + d)·θ + e` through y0, y(½), y1 and the end slopes
    /// (torchdiffeq's `_interp_fit`; Shampine 1986 for Dopri5).
    Quartic([Tensor<B, D>; 5]),
    /// Cubic Hermite through y0, y1 and the end slopes (scaled by h).
    Hermite([Tensor<B, D>; 4]),
}

/// The cubic Hermite basis at `θ`: the weights of `y0`, `h·f0`, `y1` and `h·f1`.
pub(crate) fn hermite(theta: f64) -> [f64; 4] {
    let (t2, t3) = (theta * theta, theta * theta * theta);
    [
        2.0 * t3 - 3.0 * t2 + 1.0,
        t3 - 2.0 * t2 + theta,
        3.0 * t2 - 2.0 * t3,
        t3 - t2,
    ]
}

/// The leading coefficients `[a, b, c]` of torchdiffeq's quartic
/// `y(θ) = (((a·θ + b)·θ + c)·θ + h·f0)·θ + y0` through `y0`, the mid-point `ym`, `y1` and the
/// end slopes times the step (`hf0`, `hf1`; `h` may be a per-row column).
pub(crate) fn quartic<B: Backend, const D: usize>(
    y0: &Tensor<B, D>,
    y1: &Tensor<B, D>,
    ym: &Tensor<B, D>,
    hf0: &Tensor<B, D>,
    hf1: &Tensor<B, D>,
) -> [Tensor<B, D>; 3] {
    let a = (hf1.clone() - hf0.clone()).mul_scalar(2.0) - (y1.clone() + y0.clone()).mul_scalar(8.0)
        + ym.clone().mul_scalar(16.0);
    let b = hf0.clone().mul_scalar(5.0) - hf1.clone().mul_scalar(3.0)
        + y0.clone().mul_scalar(18.0)
        + y1.clone().mul_scalar(14.0)
        - ym.clone().mul_scalar(32.0);
    let c = hf1.clone()
        - hf0.clone().mul_scalar(4.0)
        - y0.clone().mul_scalar(11.0)
        - y1.clone().mul_scalar(5.0)
        + ym.clone().mul_scalar(16.0);
    [a, b, c]
}

impl<B: Backend, const D: usize> Interpolant<B, D> {
    pub(crate) fn fit(
        tableau: &ButcherTableau,
        h: f64,
        y0: &Tensor<B, D>,
        f0: &Tensor<B, D>,
        y1: &Tensor<B, D>,
        f1: &Tensor<B, D>,
        ks: &[Tensor<B, D>],
    ) -> Self {
        let hf0 = f0.clone().mul_scalar(h);
        let hf1 = f1.clone().mul_scalar(h);
        match tableau.b_mid {
            Some(b_mid) => {
                let ym = combine(y0, h, b_mid, ks);
                let [a, b, c] = quartic(y0, y1, &ym, &hf0, &hf1);
                Interpolant::Quartic([a, b, c, hf0, y0.clone()])
            }
            None => Interpolant::Hermite([y0.clone(), hf0, y1.clone(), hf1]),
        }
    }

    /// The same polynomial without a graph (for root finding on values).
    pub(crate) fn detached(&self) -> Self {
        match self {
            Interpolant::Quartic(c) => Interpolant::Quartic(c.clone().map(Tensor::detach)),
            Interpolant::Hermite(c) => Interpolant::Hermite(c.clone().map(Tensor::detach)),
        }
    }

    pub(crate) fn eval(&self, theta: f64) -> Tensor<B, D> {
        match self {
            Interpolant::Quartic([a, b, c, d, e]) => {
                let mut out = a.clone().mul_scalar(theta) + b.clone();
                out = out.mul_scalar(theta) + c.clone();
                out = out.mul_scalar(theta) + d.clone();
                out.mul_scalar(theta) + e.clone()
            }
            Interpolant::Hermite([y0, hf0, y1, hf1]) => {
                let [w0, w1, w2, w3] = hermite(theta);
                y0.clone().mul_scalar(w0)
                    + hf0.clone().mul_scalar(w1)
                    + y1.clone().mul_scalar(w2)
                    + hf1.clone().mul_scalar(w3)
            }
        }
    }
}
