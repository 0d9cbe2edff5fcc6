//! The Neural ODE module: a vector-field module integrated over a time span.

use burn::config::Config;
use burn::module::{AutodiffModule, Module};
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};

use super::adjoint::{Adjoint, AdjointGradients, AdjointSolution, solve_adjoint_with};
use super::field::VectorField;
use super::options::{SaveAt, SolveOptions};
use super::solution::{OdeError, Stats};
use super::solve::solve;
use crate::error::ConfigError;
use crate::shape::check_shape;

/// Configures a [`NeuralOde`]: how to solve, and how many zero dimensions to add to the state
/// (ANODE, Dupont et al. 2019; torchdyn's `Augmenter` with zeros).
#[derive(Config, Debug)]
pub struct NeuralOdeConfig {
    /// Solver, tolerances and step control (`save_at` is set by [`NeuralOde::forward`]).
    #[config(default = "SolveOptions::new()")]
    pub options: SolveOptions,
    /// Zero-valued dimensions appended to the input state before solving (0: a plain Neural
    /// ODE). The vector field then works on `d_input + augment` dimensions, and so do the
    /// outputs.
    #[config(default = 0)]
    pub augment: usize,
    /// How [`NeuralOde::forward_adjoint`]'s backward sweep computes gradients: the continuous
    /// adjoint (default) or back-propagation's gradients at bounded memory by checkpointing.
    #[config(default = "Adjoint::Backsolve")]
    pub adjoint: Adjoint,
}

impl NeuralOdeConfig {
    /// Checks the options.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.options.validate()
    }

    /// Wraps a vector field. `field` works on `[batch, d_input + augment]` states.
    pub fn init<B: Backend, F: Module<B>>(&self, field: F) -> Result<NeuralOde<B, F>, ConfigError> {
        self.validate()?;
        Ok(NeuralOde {
            field,
            augment: self.augment,
            options: self.options.clone(),
            adjoint: self.adjoint.clone(),
            _backend: core::marker::PhantomData,
        })
    }
}

/// A Neural ODE (Chen et al. 2018): `forward(x, t_span)` integrates `dh/dt = field(t, h)` from
/// `h(t_span[0]) = x` (zero-padded by `augment` dimensions) and returns the states at every
/// time of `t_span`.
///
/// Gradients flow through the solver on an autodiff backend ([`forward`](Self::forward)); on
/// one, [`forward_adjoint`](Self::forward_adjoint) computes them by the adjoint method instead.
///
/// ```
/// use burn::backend::{Autodiff, NdArray};
/// use burn::tensor::Tensor;
/// use ltc_burn::ode::{MlpFieldConfig, NeuralOdeConfig, SolveOptions};
/// # #[cfg(not(ltc_doc_wgpu))] type Inner = NdArray;
/// # #[cfg(ltc_doc_wgpu)] type Inner = burn::backend::Wgpu;
/// type B = Autodiff<Inner>;
///
/// let device = Default::default();
/// let field = MlpFieldConfig::new(3, 16).init::<B>(&device)?; // 2 inputs + 1 augmented dimension
/// let ode = NeuralOdeConfig::new()
///     .with_options(SolveOptions::new().with_rtol(1e-4).with_atol(1e-5))
///     .with_augment(1)
///     .init(field)?;
/// let x = Tensor::<B, 2>::ones([8, 2], &device); // [batch, d_input]
/// let out = ode.forward(x, &[0.0, 0.5, 1.0])?;
/// assert_eq!(out.trajectory.dims(), [3, 8, 3]); // [times, batch, d_input + augment]
/// let grads = out.last.sum().backward();
/// assert!(ode.field.layers[0].weight.grad(&grads).is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Module, Debug)]
pub struct NeuralOde<B: Backend, F: Module<B>> {
    /// The vector field.
    pub field: F,
    /// Zero dimensions appended to the state (constant).
    pub augment: usize,
    /// How to solve (constant).
    pub options: SolveOptions,
    /// The backward sweep of [`forward_adjoint`](Self::forward_adjoint) (constant).
    pub adjoint: Adjoint,
    _backend: core::marker::PhantomData<B>,
}

/// What [`NeuralOde::forward`] returns.
#[derive(Debug, Clone)]
pub struct NeuralOdeOutput<B: Backend> {
    /// The states at every time of `t_span`, `[times, batch, d_input + augment]`; the first
    /// is the (padded) input.
    pub trajectory: Tensor<B, 3>,
    /// The state at the last time, `[batch, d_input + augment]`.
    pub last: Tensor<B, 2>,
    /// The solver's counters.
    pub stats: Stats,
}

/// What [`NeuralOde::forward_adjoint`] returns: the output, whose tensors are leaves, and the
/// backward sweep to run after `loss.backward()`.
#[derive(Debug)]
pub struct NeuralOdeAdjoint<B: AutodiffBackend, F> {
    /// The states; `trajectory` is the stack of the leaves, `last` the last leaf.
    pub output: NeuralOdeOutput<B>,
    solution: AdjointSolution<B, 2, F>,
    d_input: usize,
}

impl<B: Backend, F: Module<B> + VectorField<B, 2>> NeuralOde<B, F> {
    fn start(
        &self,
        x: Tensor<B, 2>,
        t_span: &[f64],
    ) -> Result<(Tensor<B, 2>, SolveOptions), OdeError> {
        check_shape(
            "NeuralOde::forward",
            "x",
            &x.dims(),
            &[("batch", None), ("d_input", None)],
        );
        if t_span.is_empty() {
            return Err(OdeError::InvalidTimes(
                "NeuralOde::forward: t_span is empty; give the start and the times to return, \
                 e.g. &[0.0, 1.0]"
                    .into(),
            ));
        }
        let x = if self.augment > 0 {
            let [batch, _] = x.dims();
            let zeros = Tensor::zeros([batch, self.augment], &x.device());
            Tensor::cat(vec![x, zeros], 1)
        } else {
            x
        };
        let options = self
            .options
            .clone()
            .with_save_at(SaveAt::Times(t_span.to_vec()));
        Ok((x, options))
    }

    /// Integrates from `x` at `t_span[0]` through every time of `t_span` (increasing or
    /// decreasing).
    ///
    /// # Shapes
    /// - `x`: `[batch, d_input]`
    /// - returns `trajectory` `[times, batch, d_input + augment]` and `last`
    ///   `[batch, d_input + augment]`.
    ///
    /// # Errors
    /// An [`OdeError`] of the solve, or an empty or unordered `t_span`.
    pub fn forward(&self, x: Tensor<B, 2>, t_span: &[f64]) -> Result<NeuralOdeOutput<B>, OdeError>
    where
        F: Sync,
    {
        let (x, options) = self.start(x, t_span)?;
        let t1 = *t_span.last().expect("checked non-empty");
        let solution = solve(&self.field, x, t_span[0], t1, &options)?;
        Ok(NeuralOdeOutput {
            trajectory: solution.stacked(),
            last: solution.last(),
            stats: solution.stats,
        })
    }
}

impl<B, F> NeuralOde<B, F>
where
    B: AutodiffBackend,
    F: AutodiffModule<B> + VectorField<B, 2> + Clone,
    F::InnerModule: VectorField<B::InnerBackend, 2>,
{
    /// As [`forward`](Self::forward), with gradients by the adjoint method of
    /// [`NeuralOdeConfig::adjoint`]: the forward solve records no graph; call
    /// [`NeuralOdeAdjoint::backward`] after `loss.backward()`.
    ///
    /// # Errors
    /// As [`forward`](Self::forward).
    pub fn forward_adjoint(
        &self,
        x: Tensor<B, 2>,
        t_span: &[f64],
    ) -> Result<NeuralOdeAdjoint<B, F>, OdeError> {
        let d_input = x.dims()[1];
        let (x, options) = self.start(x, t_span)?;
        let t1 = *t_span.last().expect("checked non-empty");
        let solution = solve_adjoint_with(&self.field, x, t_span[0], t1, &options, &self.adjoint)?;
        let output = NeuralOdeOutput {
            trajectory: solution.solution.stacked(),
            last: solution.last(),
            stats: solution.solution.stats,
        };
        Ok(NeuralOdeAdjoint {
            output,
            solution,
            d_input,
        })
    }
}

impl<B, F> NeuralOdeAdjoint<B, F>
where
    B: AutodiffBackend,
    F: AutodiffModule<B> + VectorField<B, 2>,
    F::InnerModule: VectorField<B::InnerBackend, 2>,
{
    /// The backward sweep: the gradient with respect to the input `x` (`[batch, d_input]`,
    /// without the augmented dimensions) and the field's parameter gradients.
    ///
    /// # Errors
    /// An [`OdeError`] of the backward solve.
    pub fn backward(self, grads: &B::Gradients) -> Result<AdjointGradients<B, 2>, OdeError> {
        let mut out = self.solution.backward(grads)?;
        if out.y0.dims()[1] != self.d_input {
            out.y0 = out.y0.narrow(1, 0, self.d_input);
        }
        Ok(out)
    }
}
