//! Radau IIA of order 5 as numbers: the tableau, the error weights, the real eigenvalue of
//! `A⁻¹` and the collocation polynomial (Hairer & Wanner II, §IV.8; scipy's `radau.py`).

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

/// Radau IIA (order 5): nodes, stage matrix, error weights, the real eigenvalue of `A⁻¹`, and
/// the collocation polynomial's coefficients (`y(t + x·h) = y + Σ_k (Σ_i Z_i·P_ik)·x^{k+1}`).
pub(crate) struct Coefficients {
    pub(crate) c: [f64; 3],
    pub(crate) a: [[f64; 3]; 3],
    pub(crate) e: [f64; 3],
    pub(crate) mu_real: f64,
    pub(crate) p: [[f64; 3]; 3],
}

/// The method's coefficients.
pub(crate) fn coefficients() -> Coefficients {
    let s6 = 6f64.sqrt();
    Coefficients {
        c: [(4.0 - s6) / 10.0, (4.0 + s6) / 10.0, 1.0],
        a: [
            [
                (88.0 - 7.0 * s6) / 360.0,
                (296.0 - 169.0 * s6) / 1800.0,
                (-2.0 + 3.0 * s6) / 225.0,
            ],
            [
                (296.0 + 169.0 * s6) / 1800.0,
                (88.0 + 7.0 * s6) / 360.0,
                (-2.0 - 3.0 * s6) / 225.0,
            ],
            [(16.0 - s6) / 36.0, (16.0 + s6) / 36.0, 1.0 / 9.0],
        ],
        e: [
            (-13.0 - 7.0 * s6) / 3.0,
            (-13.0 + 7.0 * s6) / 3.0,
            -1.0 / 3.0,
        ],
        mu_real: 3.0 + 3f64.powf(2.0 / 3.0) - 3f64.powf(1.0 / 3.0),
        p: [
            [
                13.0 / 3.0 + 7.0 * s6 / 3.0,
                -23.0 / 3.0 - 22.0 * s6 / 3.0,
                10.0 / 3.0 + 5.0 * s6,
            ],
            [
                13.0 / 3.0 - 7.0 * s6 / 3.0,
                -23.0 / 3.0 + 22.0 * s6 / 3.0,
                10.0 / 3.0 - 5.0 * s6,
            ],
            [1.0 / 3.0, -8.0 / 3.0, 10.0 / 3.0],
        ],
    }
}

/// The collocation polynomial of one step on host values:
/// `y(t + x·h) = y + Σ_k q_k·x^{k+1}`, `q_k = Σ_i Z_i·P_ik`.
pub(crate) struct Polynomial {
    t: f64,
    h: f64,
    y: Vec<f64>,
    q: Vec<f64>,
}

impl Polynomial {
    /// The polynomial's value at `time`.
    pub(crate) fn eval(&self, time: f64) -> Vec<f64> {
        let n = self.y.len();
        let x = (time - self.t) / self.h;
        let q = &self.q;
        (0..n)
            .map(|e| self.y[e] + q[e] * x + q[n + e] * x * x + q[2 * n + e] * x * x * x)
            .collect()
    }
}

impl Coefficients {
    /// The collocation polynomial of the step from `(t, y)` of size `h` with stages `z`.
    pub(crate) fn polynomial(&self, t: f64, h: f64, y: Vec<f64>, z: &[f64]) -> Polynomial {
        let n = y.len();
        let mut q = vec![0.0; 3 * n];
        for k in 0..3 {
            for e in 0..n {
                q[k * n + e] = (0..3).map(|i| z[i * n + e] * self.p[i][k]).sum();
            }
        }
        Polynomial { t, h, y, q }
    }

    /// The collocation polynomial on tensors (in the graph when the stages are): the state at
    /// the fraction `x` of a step from `base` with stages `stages`.
    pub(crate) fn dense<B: Backend, const D: usize>(
        &self,
        base: &Tensor<B, D>,
        stages: &[Tensor<B, D>],
        x: f64,
    ) -> Tensor<B, D> {
        let mut value = base.clone();
        for k in 0..3 {
            let q = (0..3)
                .map(|i| stages[i].clone().mul_scalar(self.p[i][k]))
                .reduce(|a, b| a + b)
                .expect("three stages");
            value = value + q.mul_scalar(x.powi(k as i32 + 1));
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::coefficients;

    /// Radau IIA's simplifying conditions: B(5) (order 5), C(3) (stage order 3), stiff accuracy
    /// (`b` = the last row of `A`), and the collocation polynomial through every stage.
    #[test]
    fn radau_coefficients_satisfy_the_order_conditions() {
        let k = coefficients();
        let b = k.a[2];
        for q in 0..5 {
            let got: f64 = (0..3).map(|i| b[i] * k.c[i].powi(q)).sum();
            assert!((got - 1.0 / (q + 1) as f64).abs() < 1e-14, "B({q}): {got}");
        }
        for i in 0..3 {
            for q in 0..3 {
                let got: f64 = (0..3).map(|j| k.a[i][j] * k.c[j].powi(q)).sum();
                let want = k.c[i].powi(q + 1) / (q + 1) as f64;
                assert!(
                    (got - want).abs() < 1e-14,
                    "C({q}) row {i}: {got} vs {want}"
                );
            }
        }
        // y(c_m) = y + Z_m: Σ_k P_ik·c_m^{k+1} = δ_im.
        for i in 0..3 {
            for m in 0..3 {
                let got: f64 = (0..3).map(|q| k.p[i][q] * k.c[m].powi(q as i32 + 1)).sum();
                let want = if i == m { 1.0 } else { 0.0 };
                assert!((got - want).abs() < 1e-12, "P row {i} at c_{m}: {got}");
            }
        }
        // The real eigenvalue of A⁻¹: det(μ·A − I) = 0.
        let m: Vec<f64> = (0..9)
            .map(|e| k.mu_real * k.a[e / 3][e % 3] - if e / 3 == e % 3 { 1.0 } else { 0.0 })
            .collect();
        let det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6])
            + m[2] * (m[3] * m[7] - m[4] * m[6]);
        assert!(det.abs() < 1e-12, "det(μA − I) = {det}");
    }
}
