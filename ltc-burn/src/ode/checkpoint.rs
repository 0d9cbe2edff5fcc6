//! The checkpointed adjoint (diffrax's `RecursiveCheckpointAdjoint`): the exact gradients of
//! back-propagation through the solver, with memory bounded by a number of stored states the
//! user sets, at the price of re-computing steps.
//!
//! The forward solve runs without a graph and records only its accepted steps (two times per
//! step). The backward sweep reverses the steps by binomial checkpointing (Griewank & Walther's
//! `revolve`, 2000): to reverse steps `i..j` from the state at step `i` with `s` free slots, it
//! advances to a split point `m`, stores that state, reverses `m..j` with `s − 1` slots, then
//! `i..m` with `s` slots. At most `s + 1` states are held at once, and each step's
//! back-propagation builds a one-step graph and drops it: memory does not grow with the number of
//! steps. With `s` slots and `r` re-computations per step, `C(s + r, s)` steps can be reversed.
//!
//! Each step is re-taken with the recorded times, so the gradient is back-propagation's (the
//! step sizes are constants of the graph there too), not an approximation of the continuous
//! adjoint.

use burn::module::AutodiffModule;
use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;

use super::adjoint::{Collect, ParamCounter};
use super::engine::{Engine, StepRecord, Trace};
use super::field::VectorField;
use super::options::{SaveAt, SolveOptions};
use super::saver::Saver;
use super::solution::Stats;

/// What the reversal needs besides the field.
pub(crate) struct Reversal<'a, B: AutodiffBackend, const D: usize, F: AutodiffModule<B>> {
    pub(crate) field: &'a F,
    pub(crate) inner_field: F::InnerModule,
    pub(crate) options: &'a SolveOptions,
    pub(crate) trace: &'a Trace,
    /// The save times of the forward solve (`SaveAt::Times`), or empty.
    pub(crate) save_times: &'a [f64],
    /// `|t1 − t0|`, which sets the engine's time tolerance.
    pub(crate) span: f64,
    /// The loss gradient of every saved state.
    pub(crate) cotangents: &'a [Tensor<B::InnerBackend, D>],
    pub(crate) stats: Stats,
    /// The parameter adjoint, flattened in visiting order (`None`: no parameters).
    pub(crate) theta: Option<Tensor<B::InnerBackend, 1>>,
}

impl<B, const D: usize, F> Reversal<'_, B, D, F>
where
    B: AutodiffBackend,
    F: AutodiffModule<B> + VectorField<B, D>,
    F::InnerModule: VectorField<B::InnerBackend, D>,
{
    /// `∂L/∂y0` from the state `y0` at the start, with `slots` states stored at most (besides
    /// `y0`); accumulates the parameter adjoint in `theta`.
    pub(crate) fn run(
        &mut self,
        y0: Tensor<B::InnerBackend, D>,
        slots: usize,
    ) -> Tensor<B::InnerBackend, D> {
        let n = self.trace.steps.len();
        let mut a = match self.options.save_at {
            SaveAt::Final => self.cotangents.last().cloned().expect("one saved state"),
            _ => y0.zeros_like(),
        };
        if n > 0 {
            self.reverse(0, y0, n, slots, &mut a);
        }
        for cotangent in &self.cotangents[..self.trace.start_saves] {
            a = a + cotangent.clone();
        }
        a
    }

    /// Reverses steps `i..j` from `y_i`, the state at step `i`; `a` holds `∂L/∂y_j` on entry and
    /// `∂L/∂y_i` on return.
    fn reverse(
        &mut self,
        i: usize,
        y_i: Tensor<B::InnerBackend, D>,
        j: usize,
        slots: usize,
        a: &mut Tensor<B::InnerBackend, D>,
    ) {
        if j - i == 1 {
            self.back_step(i, y_i, a);
        } else if slots == 0 {
            for k in (i..j).rev() {
                let y_k = self.advance(y_i.clone(), i, k);
                self.back_step(k, y_k, a);
            }
        } else {
            let m = i + split(j - i, slots);
            let y_m = self.advance(y_i.clone(), i, m);
            self.reverse(m, y_m, j, slots - 1, a);
            self.reverse(i, y_i, m, slots, a);
        }
    }

    /// Re-takes steps `from..to` without a graph.
    fn advance(
        &mut self,
        mut y: Tensor<B::InnerBackend, D>,
        from: usize,
        to: usize,
    ) -> Tensor<B::InnerBackend, D> {
        let mut engine = Engine::new(&self.inner_field, self.options, None);
        for record in &self.trace.steps[from..to] {
            let h = record.t_next - record.t;
            let k1 = engine.eval(record.t, y.clone());
            y = engine.step(record.t, h, &y, k1).y1;
        }
        self.stats.nfe += engine.stats.nfe;
        y
    }

    /// Back-propagates through step `k` from `y_k`: `a` becomes `∂L/∂y_k`, and the step's
    /// parameter gradients join `theta`.
    fn back_step(
        &mut self,
        k: usize,
        y_k: Tensor<B::InnerBackend, D>,
        a: &mut Tensor<B::InnerBackend, D>,
    ) {
        let record: &StepRecord = &self.trace.steps[k];
        let y = Tensor::<B, D>::from_inner(y_k).require_grad();
        let mut engine = Engine::new(self.field, self.options, None);
        let h = record.t_next - record.t;
        let k1 = engine.eval(record.t, y.clone());
        let step = engine.step(record.t, h, &y, k1.clone());
        let mut saver = Saver::for_replay(
            self.save_times[record.times.clone()].to_vec(),
            self.options.save_at == SaveAt::Steps,
            self.span,
        );
        engine.save_step(&mut saver, record.t, record.t_next, h, &y, &k1, &step);
        debug_assert_eq!(saver.ys.len(), record.saved.len());
        let mut loss = (step.y1 * Tensor::from_inner(a.clone())).sum();
        for (saved, cotangent) in saver
            .ys
            .into_iter()
            .zip(&self.cotangents[record.saved.clone()])
        {
            loss = loss + (saved * Tensor::from_inner(cotangent.clone())).sum();
        }
        let grads = loss.backward();
        self.stats.nfe += engine.stats.nfe;
        self.stats.accepted += 1;
        *a = y.grad(&grads).unwrap_or_else(|| a.zeros_like());
        if let Some(theta) = &mut self.theta {
            let mut collect = Collect::<B> {
                grads: &grads,
                parts: Vec::new(),
            };
            self.field.visit(&mut collect);
            *theta = theta.clone() + Tensor::cat(collect.parts, 0);
        }
    }
}

/// The parameter count of a field (the elements of the parameters that require gradients).
pub(crate) fn parameter_count<B: AutodiffBackend, F: AutodiffModule<B>>(field: &F) -> usize {
    let mut counter = ParamCounter { total: 0 };
    field.visit(&mut counter);
    counter.total
}

/// `C(s + r, s)`, saturating: how many steps `s` slots reverse with `r` re-computations.
fn binomial(s: usize, r: usize) -> usize {
    let mut out: u128 = 1;
    for i in 1..=s.min(r) as u128 {
        out = out * (s.max(r) as u128 + i) / i;
        if out > usize::MAX as u128 {
            return usize::MAX;
        }
    }
    out as usize
}

/// Where `revolve` places the next checkpoint in `steps` steps with `slots` free slots: after
/// `steps − C(slots − 1 + r, slots − 1)` steps, `r` the fewest re-computations that reverse
/// `steps` steps; always inside `1..steps`.
fn split(steps: usize, slots: usize) -> usize {
    let mut r = 0;
    while binomial(slots, r) < steps {
        r += 1;
    }
    steps
        .saturating_sub(binomial(slots - 1, r))
        .clamp(1, steps - 1)
}

#[cfg(test)]
mod tests {
    use super::{binomial, split};

    #[test]
    fn binomial_counts_the_steps_revolve_reverses() {
        assert_eq!(binomial(1, 4), 5);
        assert_eq!(binomial(2, 2), 6);
        assert_eq!(binomial(3, 3), 20);
        assert_eq!(binomial(0, 7), 1);
        assert_eq!(binomial(200, 200), usize::MAX);
    }

    /// Every split lies strictly inside the span; one slot walks back one step at a time.
    #[test]
    fn splits_lie_inside() {
        for steps in 2..200 {
            for slots in 1..8 {
                let m = split(steps, slots);
                assert!((1..steps).contains(&m), "split({steps}, {slots}) = {m}");
            }
        }
        assert_eq!(split(5, 1), 4);
    }
}
