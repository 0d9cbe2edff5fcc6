//! Dense LU with partial pivoting, for the implicit solver's Newton and error matrices.

/// A dense LU factorisation with partial pivoting, row-major.
pub(crate) struct Lu {
    n: usize,
    a: Vec<f64>,
    perm: Vec<usize>,
}

impl Lu {
    /// `None` when the matrix is singular (or not finite).
    pub(crate) fn factor(mut a: Vec<f64>, n: usize) -> Option<Lu> {
        let mut perm: Vec<usize> = (0..n).collect();
        for k in 0..n {
            let p = (k..n).max_by(|&i, &j| a[i * n + k].abs().total_cmp(&a[j * n + k].abs()))?;
            let pivot = a[p * n + k];
            if pivot == 0.0 || !pivot.is_finite() {
                return None;
            }
            if p != k {
                for j in 0..n {
                    a.swap(k * n + j, p * n + j);
                }
                perm.swap(k, p);
            }
            for i in k + 1..n {
                let l = a[i * n + k] / a[k * n + k];
                a[i * n + k] = l;
                if l != 0.0 {
                    for j in k + 1..n {
                        a[i * n + j] -= l * a[k * n + j];
                    }
                }
            }
        }
        Some(Lu { n, a, perm })
    }

    /// `x` with `M·x = b`.
    pub(crate) fn solve(&self, b: &[f64]) -> Vec<f64> {
        let (n, a) = (self.n, &self.a);
        let mut x: Vec<f64> = self.perm.iter().map(|&p| b[p]).collect();
        for i in 0..n {
            let s: f64 = (0..i).map(|j| a[i * n + j] * x[j]).sum();
            x[i] -= s;
        }
        for i in (0..n).rev() {
            let s: f64 = (i + 1..n).map(|j| a[i * n + j] * x[j]).sum();
            x[i] = (x[i] - s) / a[i * n + i];
        }
        x
    }

    /// `M⁻¹`, row-major.
    pub(crate) fn inverse(&self) -> Vec<f64> {
        let n = self.n;
        let mut inv = vec![0.0; n * n];
        let mut e = vec![0.0; n];
        for j in 0..n {
            e.fill(0.0);
            e[j] = 1.0;
            for (i, v) in self.solve(&e).into_iter().enumerate() {
                inv[i * n + j] = v;
            }
        }
        inv
    }
}

#[cfg(test)]
mod tests {
    use super::Lu;

    #[test]
    fn lu_solves_and_inverts_with_pivoting() {
        // A zero first pivot needs a row swap.
        let a = vec![0.0, 2.0, 1.0, 1.0, 1.0, 0.0, 3.0, 0.0, 1.0];
        let lu = Lu::factor(a.clone(), 3).expect("regular");
        let x = lu.solve(&[3.0, 2.0, 4.0]);
        for (r, want) in [3.0, 2.0, 4.0].iter().enumerate() {
            let got: f64 = (0..3).map(|c| a[r * 3 + c] * x[c]).sum();
            assert!((got - want).abs() < 1e-14, "row {r}: {got}");
        }
        let inv = lu.inverse();
        for r in 0..3 {
            for c in 0..3 {
                let got: f64 = (0..3).map(|k| a[r * 3 + k] * inv[k * 3 + c]).sum();
                let want = if r == c { 1.0 } else { 0.0 };
                assert!((got - want).abs() < 1e-14);
            }
        }
        assert!(
            Lu::factor(vec![1.0, 2.0, 2.0, 4.0], 2).is_none(),
            "singular"
        );
    }
}
