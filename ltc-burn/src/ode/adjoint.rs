//! The adjoint sensitivity method: gradients by solving the adjoint ODE backwards in time,
//! with memory that does not grow with the number of steps.
//!
//! Burn 0.21 cannot run a backward pass inside another one (a nested `backward()` in a custom
//! op's backward deadlocks; fixed after 0.21). So the adjoint is not an op inside the autodiff
//! graph. It is two explicit phases around the user's loss:
//!
//! 1. [`solve_adjoint`] solves forward on the inner (non-autodiff) backend — no graph is
//!    recorded — and hands back the saved states as fresh autodiff leaves;
//! 2. after `loss.backward()`, [`AdjointSolution::backward`] reads the loss gradients of those
//!    leaves and integrates the augmented system `[y, a, θ̄]` from the last saved time back to
//!    `t0`, re-computing `y` on the way and resetting it to the forward value at each saved
//!    time. Each function evaluation builds a one-evaluation graph for the vector–Jacobian
//!    products `aᵀ·∂f/∂y` and `aᵀ·∂f/∂θ` and drops it at once.
//!
//! The result is the gradient with respect to `y0` and a `GradientsParams` for the field's
//! parameters, which joins the rest of a model's gradients with
//! [`merge_gradients`](crate::optim::merge_gradients).

use burn::config::Config;
use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};

use super::checkpoint::{Reversal, parameter_count};
use super::engine::{Engine, Trace};
use super::field::VectorField;
use super::options::{SaveAt, SolveOptions};
use super::solution::{OdeError, Solution, Stats};
use super::solve::save_times;

/// How the backward sweep of [`solve_adjoint_with`] computes gradients.
///
/// | method | gradient | memory | cost of the backward sweep |
/// |---|---|---|---|
/// | back-propagation through [`solve`](super::solve) | exact (of the discrete solve) | grows with the steps | one pass over the graph |
/// | `Backsolve` | the continuous adjoint, re-solved backwards (its own truncation error) | the saved states | a backward solve of `[y, a, θ̄]` |
/// | `Checkpointed(c)` | back-propagation's, to rounding | `c + 1` states and one step's graph | each step re-taken ≤ `r + 1` times, where `C(c + r, c)` ≥ the steps |
///
/// `Backsolve` is torchdiffeq's `odeint_adjoint` and diffrax's `BacksolveAdjoint`;
/// `Checkpointed` is diffrax's `RecursiveCheckpointAdjoint` (binomial checkpointing) and
/// needs no tolerance of its own.
#[derive(Config, Debug, PartialEq)]
pub enum Adjoint {
    /// Solve the adjoint ODE backwards in time (Chen et al. 2018), with the seminorm on `[y, a]`.
    Backsolve,
    /// Re-take the forward steps from at most this many stored states (besides `y0`) and
    /// back-propagate through each: back-propagation's gradients at bounded memory. `0` keeps
    /// only `y0` (each step re-computed from the start: quadratic time); about `log₂(steps)`
    /// keeps the re-computation near `log₂(steps)` passes.
    Checkpointed(usize),
}

// Written out: `#[derive(Default)]` with `#[default]` does not pass through Burn's `Config` derive.
#[allow(clippy::derivable_impls)]
impl Default for Adjoint {
    fn default() -> Self {
        Adjoint::Backsolve
    }
}

/// The forward half of an adjoint solve: the saved states, as autodiff leaves that a loss can
/// use, and what the backward sweep needs.
///
/// Between the two phases it holds only the saved states (one tensor per saved time), whatever
/// the number of steps.
#[derive(Debug)]
pub struct AdjointSolution<B: AutodiffBackend, const D: usize, F> {
    /// The saved times and states; the states are leaves that require gradients.
    pub solution: Solution<B, D>,
    inner: Vec<Tensor<B::InnerBackend, D>>,
    field: F,
    options: SolveOptions,
    t0: f64,
    t1: f64,
    method: Method<B::InnerBackend, D>,
}

/// What the backward sweep needs beyond the saved states.
#[derive(Debug)]
enum Method<B: Backend, const D: usize> {
    Backsolve,
    Checkpointed {
        slots: usize,
        y0: Tensor<B, D>,
        trace: Trace,
    },
}

/// What [`AdjointSolution::backward`] returns.
#[derive(Debug)]
pub struct AdjointGradients<B: AutodiffBackend, const D: usize> {
    /// `∂L/∂y0`.
    pub y0: Tensor<B::InnerBackend, D>,
    /// `∂L/∂θ` for every parameter of the vector field that requires a gradient.
    pub params: GradientsParams,
    /// The backward solve's counters (one evaluation = one vector–Jacobian product).
    pub stats: Stats,
}

impl<B: AutodiffBackend, const D: usize> AdjointGradients<B, D> {
    /// Continues back-propagation into whatever computed `y0` (an encoder, say): `y0` is that
    /// tracked tensor, and the result holds the gradients of its graph, to be turned into
    /// `GradientsParams` for the upstream module.
    pub fn backward_through(&self, y0: Tensor<B, D>) -> B::Gradients {
        (y0 * Tensor::from_inner(self.y0.clone())).sum().backward()
    }
}

/// Solves like [`solve`](super::solve()) and prepares the adjoint backward pass.
///
/// The field must be an autodiff module (its parameters get gradients) whose inner module is a
/// vector field too; the forward solve runs on the inner module. The backward sweep uses the
/// same options (tolerances, solver, `dt`), with the step-size error measured on `[y, a]` only
/// (the seminorm of Kidger, Chen & Lyons 2021, which needs fewer steps than including the
/// parameter adjoint).
///
/// ```
/// use burn::backend::{Autodiff, NdArray};
/// use burn::tensor::Tensor;
/// use ltc_burn::ode::{solve_adjoint, MlpFieldConfig, SolveOptions};
/// # #[cfg(not(ltc_doc_wgpu))] type Inner = NdArray<f64>;
/// # #[cfg(ltc_doc_wgpu)] type Inner = burn::backend::Wgpu;
/// type B = Autodiff<Inner>;
///
/// let device = Default::default();
/// let field = MlpFieldConfig::new(2, 8).init::<B>(&device)?;
/// let y0 = Tensor::<B, 2>::from_floats([[1.0, -0.5]], &device);
/// let options = SolveOptions::new().with_rtol(1e-6).with_atol(1e-8);
/// let forward = solve_adjoint(&field, y0, 0.0, 1.0, &options)?;
/// let loss = forward.solution.last().powi_scalar(2).sum();
/// let grads = forward.backward(&loss.backward())?;
/// let w = grads.params.get::<Inner, 2>(field.layers[0].weight.id).expect("a gradient");
/// assert_eq!(w.dims(), [2, 8]);
/// assert_eq!(grads.y0.dims(), [1, 2]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`solve`](super::solve()).
pub fn solve_adjoint<B, const D: usize, F>(
    field: &F,
    y0: Tensor<B, D>,
    t0: f64,
    t1: f64,
    options: &SolveOptions,
) -> Result<AdjointSolution<B, D, F>, OdeError>
where
    B: AutodiffBackend,
    F: AutodiffModule<B> + VectorField<B, D> + Clone,
    F::InnerModule: VectorField<B::InnerBackend, D>,
{
    solve_adjoint_with(field, y0, t0, t1, options, &Adjoint::Backsolve)
}

/// As [`solve_adjoint`], with the backward sweep's [`Adjoint`] method.
///
/// `Adjoint::Checkpointed(c)` gives back-propagation's gradients (to rounding) while holding at
/// most `c + 1` states and one step's graph, whatever the number of steps:
///
/// ```
/// use burn::backend::{Autodiff, NdArray};
/// use burn::tensor::Tensor;
/// use ltc_burn::ode::{solve, solve_adjoint_with, Adjoint, MlpFieldConfig, SolveOptions};
/// # #[cfg(not(ltc_doc_wgpu))] type Inner = NdArray<f64>;
/// # #[cfg(ltc_doc_wgpu)] type Inner = burn::backend::Wgpu;
/// type B = Autodiff<Inner>;
///
/// let device = Default::default();
/// let field = MlpFieldConfig::new(2, 8).init::<B>(&device)?;
/// let options = SolveOptions::new().with_rtol(1e-6).with_atol(1e-8);
/// let y0 = || Tensor::<B, 2>::from_floats([[1.0, -0.5]], &device);
///
/// // Back-propagation through the solver.
/// let x = y0().require_grad();
/// let direct = solve(&field, x.clone(), 0.0, 1.0, &options)?;
/// let grads = direct.last().powi_scalar(2).sum().backward();
/// let direct: Vec<f64> = x.grad(&grads).unwrap().into_data().convert::<f64>().to_vec().unwrap();
///
/// // The same gradient from two stored states.
/// let forward = solve_adjoint_with(&field, y0(), 0.0, 1.0, &options, &Adjoint::Checkpointed(2))?;
/// let grads = forward.last().powi_scalar(2).sum().backward();
/// let sweep = forward.backward(&grads)?;
/// let checkpointed: Vec<f64> = sweep.y0.into_data().convert::<f64>().to_vec().unwrap();
/// # let tol = if cfg!(ltc_doc_wgpu) { 1e-4 } else { 1e-10 };
/// for (d, c) in direct.iter().zip(&checkpointed) {
///     assert!((d - c).abs() < tol, "{d} vs {c}");
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`solve`](super::solve).
pub fn solve_adjoint_with<B, const D: usize, F>(
    field: &F,
    y0: Tensor<B, D>,
    t0: f64,
    t1: f64,
    options: &SolveOptions,
    adjoint: &Adjoint,
) -> Result<AdjointSolution<B, D, F>, OdeError>
where
    B: AutodiffBackend,
    F: AutodiffModule<B> + VectorField<B, D> + Clone,
    F::InnerModule: VectorField<B::InnerBackend, D>,
{
    options.validate()?;
    if matches!(options.save_at, SaveAt::TimesPerSample(_)) {
        let check = crate::error::Check {
            config: "SolveOptions",
        };
        return Err(OdeError::Config(check.inconsistent(
            "SaveAt::TimesPerSample with the adjoint: the backward sweep runs one solve for the \
             batch and resets the state at shared save times; save at shared times \
             (SaveAt::Times) or back-propagate through solve"
                .into(),
        )));
    }
    let inner_field = field.valid();
    let y0 = y0.inner();
    let (forward, method) = crate::kernel::on_compute_pool::<B, _>(move || match adjoint {
        Adjoint::Backsolve => Ok::<_, OdeError>((
            Engine::new(&inner_field, options, None).run(y0, t0, t1)?,
            Method::Backsolve,
        )),
        Adjoint::Checkpointed(slots) => {
            let (solution, trace) = Engine::new(&inner_field, options, None)
                .recording()
                .run_traced(y0.clone(), t0, t1)?;
            let trace = trace.expect("the engine was recording");
            Ok((
                solution,
                Method::Checkpointed {
                    slots: *slots,
                    y0,
                    trace,
                },
            ))
        }
    })?;
    let leaves = forward
        .ys
        .iter()
        .map(|y| Tensor::<B, D>::from_inner(y.clone()).require_grad())
        .collect();
    Ok(AdjointSolution {
        solution: Solution {
            ts: forward.ts,
            ys: leaves,
            stats: forward.stats,
            per_sample: forward.per_sample,
        },
        inner: forward.ys,
        field: field.clone(),
        options: options.clone(),
        t0,
        t1,
        method,
    })
}

impl<B, const D: usize, F> AdjointSolution<B, D, F>
where
    B: AutodiffBackend,
    F: AutodiffModule<B> + VectorField<B, D>,
    F::InnerModule: VectorField<B::InnerBackend, D>,
{
    /// The last saved state (a leaf).
    pub fn last(&self) -> Tensor<B, D> {
        self.solution.last()
    }

    /// The backward sweep, from the loss gradients `grads` of the saved states (a state the
    /// loss did not use contributes nothing).
    ///
    /// # Errors
    /// An [`OdeError`] of the backward solve (e.g. `max_steps` reached going backwards).
    pub fn backward(self, grads: &B::Gradients) -> Result<AdjointGradients<B, D>, OdeError> {
        let shape = self.inner[0].dims();
        let device = self.inner[0].device();
        let cotangents: Vec<Tensor<B::InnerBackend, D>> = self
            .solution
            .ys
            .iter()
            .map(|leaf| {
                leaf.grad(grads)
                    .unwrap_or_else(|| Tensor::zeros(shape, &device))
            })
            .collect();
        crate::kernel::on_compute_pool::<B, _>(move || self.sweep(cotangents))
    }

    /// The backward sweep from the saved states' cotangents, on the compute pool.
    fn sweep(
        self,
        cotangents: Vec<Tensor<B::InnerBackend, D>>,
    ) -> Result<AdjointGradients<B, D>, OdeError> {
        let shape = self.inner[0].dims();
        let n: usize = shape.iter().product();
        let device = self.inner[0].device();
        let p = parameter_count::<B, F>(&self.field);
        if let Method::Checkpointed { slots, y0, trace } = &self.method {
            let times = save_times(&self.options.save_at, self.t0, self.t1)?;
            let mut reversal = Reversal::<B, D, F> {
                field: &self.field,
                inner_field: self.field.valid(),
                options: &self.options,
                trace,
                save_times: &times,
                span: (self.t1 - self.t0).abs(),
                cotangents: &cotangents,
                stats: Stats::default(),
                theta: (p > 0).then(|| Tensor::zeros([p], &device)),
            };
            let y0 = reversal.run(y0.clone(), *slots);
            let (stats, theta) = (reversal.stats, reversal.theta);
            return Ok(AdjointGradients {
                y0,
                params: self.register(theta),
                stats,
            });
        }
        let augmented = Augmented::<B, F, D> {
            _backend: core::marker::PhantomData,
            field: &self.field,
            shape,
            n,
            p,
        };
        // The augmented state is one flat vector: the sweep runs under joint control.
        let options = self
            .options
            .clone()
            .with_save_at(SaveAt::Final)
            .with_per_sample(false);
        let mut stats = Stats::default();
        let ts = &self.solution.ts;
        let last = ts.len() - 1;
        let mut a = cotangents[last].clone();
        let mut theta: Option<Tensor<B::InnerBackend, 1>> =
            (p > 0).then(|| Tensor::zeros([p], &device));
        // Backwards over the saved times, then from the first one to t0.
        for i in (0..=last).rev() {
            let (from, to) = (ts[i], if i == 0 { self.t0 } else { ts[i - 1] });
            if i < last {
                a = a + cotangents[i].clone();
            }
            if from == to {
                continue;
            }
            let mut parts = vec![self.inner[i].clone().reshape([n]), a.clone().reshape([n])];
            if let Some(theta) = &theta {
                parts.push(theta.clone());
            }
            let z = Tensor::cat(parts, 0);
            let solution = Engine::new(&augmented, &options, Some(2 * n)).run(z, from, to)?;
            stats += solution.stats;
            let z = solution.last();
            a = z.clone().narrow(0, n, n).reshape(shape);
            if p > 0 {
                theta = Some(z.narrow(0, 2 * n, p));
            }
        }
        Ok(AdjointGradients {
            y0: a,
            params: self.register(theta),
            stats,
        })
    }

    /// The flat parameter adjoint as one gradient per parameter.
    fn register(&self, theta: Option<Tensor<B::InnerBackend, 1>>) -> GradientsParams {
        let mut params = GradientsParams::new();
        if let Some(theta) = theta {
            self.field.visit(&mut Register {
                flat: theta,
                offset: 0,
                out: &mut params,
            });
        }
        params
    }
}

/// The augmented system `[y, a, θ̄]' = [f, −aᵀ∂f/∂y, −aᵀ∂f/∂θ]`, flattened to one vector.
struct Augmented<'a, B, F, const D: usize> {
    _backend: core::marker::PhantomData<B>,
    field: &'a F,
    shape: [usize; D],
    n: usize,
    p: usize,
}

impl<B, const D: usize, F> VectorField<B::InnerBackend, 1> for Augmented<'_, B, F, D>
where
    B: AutodiffBackend,
    F: AutodiffModule<B> + VectorField<B, D>,
{
    fn eval(&self, t: f64, z: Tensor<B::InnerBackend, 1>) -> Tensor<B::InnerBackend, 1> {
        let (n, p) = (self.n, self.p);
        let y = z.clone().narrow(0, 0, n).reshape(self.shape);
        let a = z.narrow(0, n, n).reshape(self.shape);
        let y = Tensor::<B, D>::from_inner(y).require_grad();
        let out = self.field.eval(t, y.clone());
        let grads = (out.clone() * Tensor::from_inner(a)).sum().backward();
        let dy = out.inner().reshape([n]);
        let da = y
            .grad(&grads)
            .map(|g| g.reshape([n]).neg())
            .unwrap_or_else(|| dy.zeros_like());
        let mut parts = vec![dy, da];
        if p > 0 {
            let mut collect = Collect::<B> {
                grads: &grads,
                parts: Vec::new(),
            };
            self.field.visit(&mut collect);
            parts.push(Tensor::cat(collect.parts, 0).neg());
        }
        Tensor::cat(parts, 0)
    }
}

/// Counts the elements of the parameters that require gradients.
pub(super) struct ParamCounter {
    pub(super) total: usize,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for ParamCounter {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if param.is_require_grad() {
            self.total += param.shape().num_elements();
        }
    }
}

/// Flattens the gradients of the parameters that require them, in visiting order (zeros for a
/// parameter the field did not use).
pub(super) struct Collect<'a, B: AutodiffBackend> {
    pub(super) grads: &'a B::Gradients,
    pub(super) parts: Vec<Tensor<B::InnerBackend, 1>>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Collect<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if !param.is_require_grad() {
            return;
        }
        let value = param.val();
        let numel = param.shape().num_elements();
        let grad = value
            .grad(self.grads)
            .unwrap_or_else(|| value.inner().zeros_like());
        self.parts.push(grad.reshape([numel]));
    }
}

/// Splits the parameter adjoint back into one gradient per parameter.
struct Register<'a, B: Backend> {
    flat: Tensor<B, 1>,
    offset: usize,
    out: &'a mut GradientsParams,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Register<'_, B::InnerBackend> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if !param.is_require_grad() {
            return;
        }
        let dims: [usize; D] = param.dims();
        let numel = param.shape().num_elements();
        let grad = self
            .flat
            .clone()
            .narrow(0, self.offset, numel)
            .reshape(dims);
        self.offset += numel;
        self.out.register::<B::InnerBackend, D>(param.id, grad);
    }
}
