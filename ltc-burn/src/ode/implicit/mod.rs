//! Radau IIA of order 5 ([`Solver::Radau5`](super::Solver::Radau5)): the implicit, L-stable
//! solver for stiff problems (Hairer & Wanner II, §IV.8), step for step as scipy's `Radau`.
//!
//! Each step solves the 3-stage collocation system `Z = h·(A ⊗ I)·F(y + Z)` by simplified
//! Newton iterations on `I − h·A ⊗ J`, with `J = ∂f/∂y` by forward differences (scipy's
//! default; reused across steps until Newton stalls) and scipy's convergence test and error
//! estimate `(μ/h − J)⁻¹·(f(y) + Σ eᵢ Zᵢ / h)`; the step size follows Gustafsson's predictive
//! controller. The linear algebra is dense, in f64 on the host: meant for states of up to a few
//! hundred elements (a Jacobian of `n²`, a Newton matrix of `9n²`).
//!
//! **Gradients.** On an autodiff backend the accepted step enters the graph by the implicit
//! function theorem: with `Z*` the converged stages and `Φ(Z) = h·(A ⊗ I)·F(y + Z)` evaluated in
//! the graph, `Z = Z* + M⁻¹·(Φ(Z*) − detach(Φ(Z*)))` where `M = I − ∂Φ/∂Z` uses the Jacobians at
//! the three stages. Its value is `Z*`; its gradient is `dZ*/dp = M⁻¹·∂Φ/∂p` exactly — the
//! derivative of the discrete solve, as back-propagation through an explicit solver gives.

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

mod coefficients;
mod lu;

use self::coefficients::{Coefficients, Polynomial, coefficients};
use self::lu::Lu;
use super::field::VectorField;
use super::options::SolveOptions;
use super::saver::{SAME_TIME, Saver};
use super::solution::{OdeError, Solution, Stats};

/// Newton iterations per attempt (scipy: 6).
const NEWTON_MAXITER: usize = 6;
/// The step-size factor's bounds after a step.
const MIN_FACTOR: f64 = 0.2;
const MAX_FACTOR: f64 = 10.0;

/// Gustafsson's predictive step-size factor (scipy's `predict_factor`), before the safety factor.
fn predict_factor(h: f64, h_old: Option<f64>, err: f64, err_old: Option<f64>) -> f64 {
    let multiplier = match (h_old, err_old) {
        (Some(h_old), Some(err_old)) if err != 0.0 => h / h_old * (err_old / err).powf(0.25),
        _ => 1.0,
    };
    multiplier.min(1.0) * err.powf(-0.25)
}

/// The result of one Newton solve.
struct Newton {
    converged: bool,
    iterations: usize,
    z: Vec<f64>,
    rate: f64,
}

/// The Radau IIA loop for one solve.
pub(crate) struct Radau<'a, B: Backend, const D: usize, F: VectorField<B, D> + ?Sized> {
    field: &'a F,
    options: &'a SolveOptions,
    /// Error norms over the first `n` elements only (the adjoint's seminorm).
    norm_prefix: Option<usize>,
    shape: [usize; D],
    device: B::Device,
    n: usize,
    /// The float type's machine epsilon (sets the difference quotients' steps).
    eps: f64,
    k: Coefficients,
    stats: Stats,
}

impl<'a, B: Backend, const D: usize, F: VectorField<B, D> + ?Sized> Radau<'a, B, D, F> {
    pub(crate) fn new(
        field: &'a F,
        options: &'a SolveOptions,
        norm_prefix: Option<usize>,
        y0: &Tensor<B, D>,
    ) -> Self {
        let shape = y0.dims();
        Radau {
            field,
            options,
            norm_prefix,
            shape,
            device: y0.device(),
            n: shape.iter().product(),
            eps: if core::mem::size_of::<B::FloatElem>() >= 8 {
                f64::EPSILON
            } else {
                f32::EPSILON as f64
            },
            k: coefficients(),
            stats: Stats::default(),
        }
    }

    fn tensor(&self, values: &[f64]) -> Tensor<B, D> {
        let data = TensorData::new(values.to_vec(), self.shape).convert::<B::FloatElem>();
        Tensor::from_data(data, &self.device)
    }

    fn read(y: Tensor<B, D>) -> Vec<f64> {
        y.into_data()
            .convert::<f64>()
            .to_vec::<f64>()
            .expect("f64 data after convert")
    }

    /// `f(t, y)` in the graph.
    fn eval(&mut self, t: f64, y: Tensor<B, D>) -> Tensor<B, D> {
        let out = self.field.eval(t, y);
        assert_eq!(
            out.dims(),
            self.shape,
            "the vector field returned shape {:?} for a state of shape {:?}: f(t, y) must \
             have y's shape",
            out.dims(),
            self.shape
        );
        self.stats.nfe += 1;
        out
    }

    /// `f(t, y)` on host values.
    fn fun(&mut self, t: f64, y: &[f64]) -> Vec<f64> {
        let y = self.tensor(y);
        let out = self.eval(t, y);
        Self::read(out)
    }

    /// `∂f/∂y` at `(t, y)` (where `f = f(t, y)`) by forward differences, row-major `[n, n]`.
    fn jacobian(&mut self, t: f64, y: &[f64], f: &[f64]) -> Vec<f64> {
        let n = self.n;
        let root_eps = self.eps.sqrt();
        let mut jac = vec![0.0; n * n];
        let mut shifted = y.to_vec();
        for j in 0..n {
            let step = root_eps * y[j].abs().max(self.options.atol);
            shifted[j] = y[j] + step;
            let delta = shifted[j] - y[j];
            let fj = self.fun(t, &shifted);
            shifted[j] = y[j];
            for i in 0..n {
                jac[i * n + j] = (fj[i] - f[i]) / delta;
            }
        }
        self.stats.jacobians += 1;
        jac
    }

    /// RMS of `v / scale` over blocks of `n` (the prefix of each block for the seminorm).
    fn rms(&self, v: &[f64], scale: &[f64]) -> f64 {
        let n = self.n;
        let used = self.norm_prefix.unwrap_or(n).min(n);
        let (mut sum, mut count) = (0.0, 0usize);
        for block in v.chunks(n) {
            for (x, s) in block[..used].iter().zip(&scale[..used]) {
                sum += (x / s) * (x / s);
            }
            count += used;
        }
        (sum / count.max(1) as f64).sqrt()
    }

    /// `I − h·A ⊗ J` (the simplified Newton matrix) and `μ/h·I − J` (the error estimate's).
    fn matrices(&self, h: f64, jac: &[f64]) -> Option<(Lu, Lu)> {
        let n = self.n;
        let m = 3 * n;
        let mut newton = vec![0.0; m * m];
        for bi in 0..3 {
            for bj in 0..3 {
                let w = h * self.k.a[bi][bj];
                for i in 0..n {
                    for j in 0..n {
                        newton[(bi * n + i) * m + bj * n + j] = -w * jac[i * n + j];
                    }
                }
            }
        }
        for d in 0..m {
            newton[d * m + d] += 1.0;
        }
        let mut real: Vec<f64> = jac.iter().map(|x| -x).collect();
        for d in 0..n {
            real[d * n + d] += self.k.mu_real / h;
        }
        Some((Lu::factor(newton, m)?, Lu::factor(real, n)?))
    }

    /// Solves the collocation system by simplified Newton (scipy's convergence test).
    fn newton(&mut self, t: f64, y: &[f64], h: f64, z0: Vec<f64>, scale: &[f64], m: &Lu) -> Newton {
        let n = self.n;
        let tol = (10.0 * f64::EPSILON / self.options.rtol).max(self.options.rtol.sqrt().min(0.03));
        let mut z = z0;
        let mut norm_old: Option<f64> = None;
        let mut rate = f64::NAN;
        for iteration in 0..NEWTON_MAXITER {
            let mut stages = Vec::with_capacity(3);
            for i in 0..3 {
                let yi: Vec<f64> = (0..n).map(|e| y[e] + z[i * n + e]).collect();
                stages.push(self.fun(t + self.k.c[i] * h, &yi));
            }
            if stages.iter().flatten().any(|v| !v.is_finite()) {
                return Newton {
                    converged: false,
                    iterations: iteration + 1,
                    z,
                    rate,
                };
            }
            let mut residual = vec![0.0; 3 * n];
            for i in 0..3 {
                for e in 0..n {
                    let phi: f64 = (0..3).map(|j| self.k.a[i][j] * stages[j][e]).sum();
                    residual[i * n + e] = h * phi - z[i * n + e];
                }
            }
            let dz = m.solve(&residual);
            let norm = self.rms(&dz, scale);
            if let Some(old) = norm_old {
                rate = norm / old;
            }
            let have_rate = norm_old.is_some();
            if have_rate
                && (rate >= 1.0
                    || rate.powi((NEWTON_MAXITER - iteration) as i32) / (1.0 - rate) * norm > tol)
            {
                return Newton {
                    converged: false,
                    iterations: iteration + 1,
                    z,
                    rate,
                };
            }
            for (zi, d) in z.iter_mut().zip(&dz) {
                *zi += d;
            }
            if norm == 0.0 || (have_rate && rate / (1.0 - rate) * norm < tol) {
                return Newton {
                    converged: true,
                    iterations: iteration + 1,
                    z,
                    rate,
                };
            }
            norm_old = Some(norm);
        }
        Newton {
            converged: false,
            iterations: NEWTON_MAXITER,
            z,
            rate,
        }
    }

    /// scipy's `select_initial_step` with the error estimator's order 3.
    fn initial_step(&mut self, t0: f64, y: &[f64], f0: &[f64], dir: f64, span: f64) -> f64 {
        let (rtol, atol) = (self.options.rtol, self.options.atol);
        let scale: Vec<f64> = y.iter().map(|v| atol + v.abs() * rtol).collect();
        let d0 = self.rms(y, &scale);
        let d1 = self.rms(f0, &scale);
        let h0 = if d0 < 1e-5 || d1 < 1e-5 {
            1e-6
        } else {
            0.01 * d0 / d1
        }
        .min(span);
        let y1: Vec<f64> = y.iter().zip(f0).map(|(y, f)| y + h0 * dir * f).collect();
        let f1 = self.fun(t0 + h0 * dir, &y1);
        let diff: Vec<f64> = f1.iter().zip(f0).map(|(a, b)| a - b).collect();
        let d2 = self.rms(&diff, &scale) / h0;
        let h1 = if d1 <= 1e-15 && d2 <= 1e-15 {
            (h0 * 1e-3).max(1e-6)
        } else {
            (0.01 / d1.max(d2)).powf(0.25)
        };
        (100.0 * h0).min(h1).min(span)
    }

    pub(crate) fn run(
        mut self,
        y0: Tensor<B, D>,
        t0: f64,
        t1: f64,
    ) -> Result<Solution<B, D>, OdeError> {
        let opts = self.options;
        let n = self.n;
        let ad = B::ad_enabled(&self.device);
        let span = (t1 - t0).abs();
        let dir = if t1 >= t0 { 1.0 } else { -1.0 };
        let mut saver = Saver::start(&opts.save_at, t0, t1, &y0)?;
        let mut y_graph = y0.clone();
        let mut y = Self::read(y0);
        let mut t = t0;
        if t0 != t1 {
            let mut f = self.fun(t, &y);
            let fixed = opts.dt;
            let mut h_abs = match (fixed, opts.dt0) {
                (Some(dt), _) | (None, Some(dt)) => dt,
                (None, None) => self.initial_step(t0, &y, &f, dir, span),
            };
            let (mut h_old, mut err_old): (Option<f64>, Option<f64>) = (None, None);
            let mut jac = self.jacobian(t, &y, &f);
            let mut current_jac = true;
            let mut lu: Option<(f64, Lu, Lu)> = None;
            let mut rejected = false;
            // The last step's collocation polynomial, to predict the next stages.
            let mut previous: Option<Polynomial> = None;
            while (t1 - t) * dir > 0.0 {
                if self.stats.steps() >= opts.max_steps {
                    return Err(OdeError::MaxStepsReached {
                        t,
                        t1,
                        max_steps: opts.max_steps,
                    });
                }
                if let Some(dt_max) = opts.dt_max {
                    h_abs = h_abs.min(dt_max);
                }
                let remaining = (t1 - t).abs();
                let last = h_abs >= remaining * (1.0 - SAME_TIME);
                let h = if last { remaining } else { h_abs } * dir;
                let t_next = if last { t1 } else { t + h };
                if t + h == t {
                    return Err(OdeError::StepSizeUnderflow { t, dt: h });
                }
                let scale: Vec<f64> = y.iter().map(|v| opts.atol + v.abs() * opts.rtol).collect();
                let z0 = match &previous {
                    Some(polynomial) => self.predict(polynomial, t, h, &y),
                    None => vec![0.0; 3 * n],
                };
                let newton = loop {
                    if lu.as_ref().is_none_or(|(h_lu, ..)| *h_lu != h) {
                        lu = self.matrices(h, &jac).map(|(m, real)| (h, m, real));
                    }
                    let result = match &lu {
                        Some((_, m, _)) => self.newton(t, &y, h, z0.clone(), &scale, m),
                        None => Newton {
                            converged: false,
                            iterations: 0,
                            z: z0.clone(),
                            rate: f64::NAN,
                        },
                    };
                    if result.converged || current_jac {
                        break result;
                    }
                    jac = self.jacobian(t, &y, &f);
                    current_jac = true;
                    lu = None;
                };
                if !newton.converged {
                    if fixed.is_some() {
                        return Err(OdeError::NewtonFailed { t, dt: h });
                    }
                    self.stats.rejected += 1;
                    h_abs = h.abs() * 0.5;
                    lu = None;
                    self.check_step(t, h_abs, dir, t1)?;
                    continue;
                }
                let z = newton.z;
                let y_new: Vec<f64> = (0..n).map(|e| y[e] + z[2 * n + e]).collect();
                if y_new.iter().any(|v| !v.is_finite()) {
                    return Err(OdeError::NonFinite { t, t_next });
                }
                let safety = 0.9 * (2 * NEWTON_MAXITER + 1) as f64
                    / (2 * NEWTON_MAXITER + newton.iterations) as f64;
                let mut err = 0.0;
                if fixed.is_none() {
                    let (_, _, real) = lu.as_ref().expect("converged with matrices");
                    err = self.error_norm(t, h, &y, &y_new, &f, &z, real, rejected);
                    if err.is_nan() || err > 1.0 {
                        let factor = if err.is_finite() {
                            predict_factor(h.abs(), h_old, err, err_old)
                        } else {
                            MIN_FACTOR
                        };
                        self.stats.rejected += 1;
                        h_abs = h.abs() * (safety * factor).max(MIN_FACTOR);
                        lu = None;
                        rejected = true;
                        self.check_step(t, h_abs, dir, t1)?;
                        continue;
                    }
                }
                // Accepted.
                self.stats.accepted += 1;
                let stages = self.graph_stages(t, h, &y, &z, &y_graph, ad)?;
                let base = if ad { y_graph.clone() } else { self.tensor(&y) };
                let y_next_graph = if ad {
                    y_graph.clone() + stages[2].clone()
                } else {
                    self.tensor(&y_new)
                };
                saver.save_until(t_next, dir, &y_next_graph, |time| {
                    self.k.dense(&base, &stages, (time - t) / h)
                });
                let recompute_jac = newton.iterations > 2 && newton.rate > 1e-3;
                let mut factor = 1.0;
                if fixed.is_none() {
                    factor =
                        (safety * predict_factor(h.abs(), h_old, err, err_old)).min(MAX_FACTOR);
                    if !recompute_jac && factor < 1.2 {
                        factor = 1.0;
                    } else {
                        lu = None;
                    }
                }
                let f_new = self.fun(t_next, &y_new);
                if recompute_jac {
                    jac = self.jacobian(t_next, &y_new, &f_new);
                    current_jac = true;
                    lu = None;
                } else {
                    current_jac = false;
                }
                previous = Some(self.k.polynomial(t, h, y.clone(), &z));
                h_old = Some(h.abs());
                err_old = Some(err);
                h_abs = match fixed {
                    Some(dt) => dt,
                    None => h.abs() * factor,
                };
                rejected = false;
                y = y_new;
                y_graph = y_next_graph;
                f = f_new;
                t = t_next;
            }
        }
        let y_end = if ad { y_graph } else { self.tensor(&y) };
        let (ts, ys) = saver.finish(t1, y_end, false)?;
        Ok(Solution {
            ts,
            ys,
            stats: self.stats,
            per_sample: None,
        })
    }

    /// The accepted stages `Z₁, Z₂, Z₃` as tensors — in the graph by the implicit function
    /// theorem on an autodiff backend (see the module's doc), constants otherwise.
    fn graph_stages(
        &mut self,
        t: f64,
        h: f64,
        y: &[f64],
        z: &[f64],
        y_graph: &Tensor<B, D>,
        ad: bool,
    ) -> Result<Vec<Tensor<B, D>>, OdeError> {
        let n = self.n;
        let constants: Vec<Tensor<B, D>> = (0..3)
            .map(|i| self.tensor(&z[i * n..(i + 1) * n]))
            .collect();
        if !ad {
            return Ok(constants);
        }
        let m = 3 * n;
        let mut matrix = vec![0.0; m * m];
        for d in 0..m {
            matrix[d * m + d] = 1.0;
        }
        let mut phi_parts = Vec::with_capacity(3);
        let mut evaluations = Vec::with_capacity(3);
        for j in 0..3 {
            let tj = t + self.k.c[j] * h;
            let yj: Vec<f64> = (0..n).map(|e| y[e] + z[j * n + e]).collect();
            let fj = self.fun(tj, &yj);
            let jac = self.jacobian(tj, &yj, &fj);
            for bi in 0..3 {
                let w = h * self.k.a[bi][j];
                for r in 0..n {
                    for c in 0..n {
                        matrix[(bi * n + r) * m + j * n + c] -= w * jac[r * n + c];
                    }
                }
            }
            evaluations.push(self.eval(tj, y_graph.clone() + constants[j].clone()));
        }
        for i in 0..3 {
            let phi = (0..3)
                .map(|j| evaluations[j].clone().mul_scalar(h * self.k.a[i][j]))
                .reduce(|a, b| a + b)
                .expect("three stages");
            let residual = phi.clone() - phi.detach();
            phi_parts.push(residual.reshape([1, n]));
        }
        let inverse = Lu::factor(matrix, m)
            .ok_or(OdeError::NewtonFailed { t, dt: h })?
            .inverse();
        // Row vector r·M⁻ᵀ = (M⁻¹·r)ᵀ.
        let mut transposed = vec![0.0; m * m];
        for r in 0..m {
            for c in 0..m {
                transposed[c * m + r] = inverse[r * m + c];
            }
        }
        let inverse_t = Tensor::<B, 2>::from_data(
            TensorData::new(transposed, [m, m]).convert::<B::FloatElem>(),
            &self.device,
        );
        let correction = Tensor::cat(phi_parts, 1).matmul(inverse_t);
        Ok((0..3)
            .map(|i| {
                constants[i].clone() + correction.clone().narrow(1, i * n, n).reshape(self.shape)
            })
            .collect())
    }

    /// The stages predicted by the last step's collocation polynomial (scipy's `Z0`).
    fn predict(&self, previous: &Polynomial, t: f64, h: f64, y: &[f64]) -> Vec<f64> {
        let n = self.n;
        let mut z0 = vec![0.0; 3 * n];
        for i in 0..3 {
            let at = previous.eval(t + self.k.c[i] * h);
            for e in 0..n {
                z0[i * n + e] = at[e] - y[e];
            }
        }
        z0
    }

    /// scipy's error estimate `(μ/h − J)⁻¹·(f(y) + Σ eᵢ Zᵢ / h)` as an RMS of the tolerance
    /// scale; after a rejection, the refined `(μ/h − J)⁻¹·(f(y + err) + Σ eᵢ Zᵢ / h)`.
    #[allow(clippy::too_many_arguments)]
    fn error_norm(
        &mut self,
        t: f64,
        h: f64,
        y: &[f64],
        y_new: &[f64],
        f: &[f64],
        z: &[f64],
        real: &Lu,
        rejected: bool,
    ) -> f64 {
        let n = self.n;
        let opts = self.options;
        let ze: Vec<f64> = (0..n)
            .map(|e| (0..3).map(|i| self.k.e[i] * z[i * n + e]).sum::<f64>() / h)
            .collect();
        let rhs: Vec<f64> = f.iter().zip(&ze).map(|(a, b)| a + b).collect();
        let error = real.solve(&rhs);
        let scale: Vec<f64> = y
            .iter()
            .zip(y_new)
            .map(|(a, b)| opts.atol + a.abs().max(b.abs()) * opts.rtol)
            .collect();
        let err = self.rms(&error, &scale);
        if !(rejected && err > 1.0) {
            return err;
        }
        let shifted: Vec<f64> = y.iter().zip(&error).map(|(a, b)| a + b).collect();
        let fe = self.fun(t, &shifted);
        let rhs: Vec<f64> = fe.iter().zip(&ze).map(|(a, b)| a + b).collect();
        self.rms(&real.solve(&rhs), &scale)
    }

    /// The error for a step that became too small after a rejection.
    fn check_step(&self, t: f64, h_abs: f64, dir: f64, t1: f64) -> Result<(), OdeError> {
        if (t1 - t) * dir > 0.0 && (h_abs < self.options.dt_min || t + h_abs * dir == t) {
            return Err(OdeError::StepSizeUnderflow { t, dt: h_abs * dir });
        }
        Ok(())
    }
}
