//! The one entry point, [`solve`].

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::engine::Engine;
use super::field::VectorField;
use super::options::{SaveAt, SolveOptions};
use super::solution::{OdeError, Solution};

/// Integrates `dy/dt = field(t, y)` from `(t0, y0)` to `t1` (which may be before `t0`).
///
/// Gradients flow through every solver operation when `B` is an autodiff backend
/// (discretise-then-optimise, the default sensitivity); [`solve_adjoint`](super::solve_adjoint)
/// computes them by the adjoint method instead. One step size serves the whole batch: the error
/// norm is the RMS over every element of `err / (atol + rtol·max(|y|, |y'|))`, as torchdiffeq's.
///
/// On the ndarray backends the solve runs on [`on_compute_pool`](crate::kernel::on_compute_pool)
/// (one hand-off per solve instead of one per matmul), so the field must be `Sync`; Burn
/// modules and closures over them are.
///
/// ```
/// use burn::backend::NdArray;
/// use burn::tensor::Tensor;
/// use ltc_burn::ode::{solve, SaveAt, SolveOptions, Solver};
/// # #[cfg(not(ltc_doc_wgpu))] type B = NdArray<f64>;
/// # #[cfg(ltc_doc_wgpu)] type B = burn::backend::Wgpu;
///
/// // The harmonic oscillator x'' = −x as y = [x, v]: y' = [v, −x].
/// let field = |_t: f64, y: Tensor<B, 2>| {
///     let x = y.clone().narrow(1, 0, 1);
///     let v = y.narrow(1, 1, 1);
///     Tensor::cat(vec![v, -x], 1)
/// };
/// let y0 = Tensor::<B, 2>::from_floats([[1.0, 0.0]], &Default::default());
/// let times = vec![0.0, 1.0, 2.0];
/// let options = SolveOptions::new().with_save_at(SaveAt::Times(times.clone()));
/// let sol = solve(&field, y0, 0.0, 2.0, &options)?;
/// for (t, y) in sol.ts.iter().zip(&sol.ys) {
///     let x: f64 = y.clone().narrow(1, 0, 1).into_scalar().into();
///     assert!((x - t.cos()).abs() < 1e-6, "x({t}) = {x}");
/// }
/// // Dopri5: f(t0) and the first-step probe, then 6 evaluations per step (FSAL).
/// assert_eq!(sol.stats.nfe, 2 + 6 * sol.stats.steps());
/// # Ok::<(), ltc_burn::ode::OdeError>(())
/// ```
///
/// # Errors
/// [`OdeError`]: invalid options or times, `max_steps` reached, step-size underflow, a
/// non-finite state — each with the time reached.
///
/// # Panics
/// If the vector field returns a tensor whose shape differs from the state's.
pub fn solve<B, const D: usize, F>(
    field: &F,
    y0: Tensor<B, D>,
    t0: f64,
    t1: f64,
    options: &SolveOptions,
) -> Result<Solution<B, D>, OdeError>
where
    B: Backend,
    F: VectorField<B, D> + Sync + ?Sized,
{
    options.validate()?;
    crate::kernel::on_compute_pool::<B, _>(|| Engine::new(field, options, None).run(y0, t0, t1))
}

/// The save times of a solve, checked against the span.
pub(crate) fn save_times(save_at: &SaveAt, t0: f64, t1: f64) -> Result<Vec<f64>, OdeError> {
    let SaveAt::Times(times) = save_at else {
        return Ok(Vec::new());
    };
    if times.is_empty() {
        return Err(OdeError::InvalidTimes(
            "SaveAt::Times is empty: give at least one time, or use SaveAt::Final".into(),
        ));
    }
    let dir = if t1 >= t0 { 1.0 } else { -1.0 };
    let (lo, hi) = if dir > 0.0 { (t0, t1) } else { (t1, t0) };
    for (i, &t) in times.iter().enumerate() {
        if !t.is_finite() || t < lo || t > hi {
            return Err(OdeError::InvalidTimes(format!(
                "SaveAt::Times[{i}] = {t} lies outside the span [{t0}, {t1}]: every save time \
                 must be finite and between t0 and t1"
            )));
        }
        if i > 0 && (t - times[i - 1]) * dir <= 0.0 {
            return Err(OdeError::InvalidTimes(format!(
                "SaveAt::Times must be strictly {} (the direction from t0 = {t0} to t1 = \
                 {t1}): times[{}] = {}, times[{i}] = {t}",
                if dir > 0.0 {
                    "increasing"
                } else {
                    "decreasing"
                },
                i - 1,
                times[i - 1]
            )));
        }
    }
    Ok(times.clone())
}
