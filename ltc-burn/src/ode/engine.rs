//! The shared Runge–Kutta engine: one loop for every solver of [`super::Solver`], with step
//! control, the first-step guess, saving by dense output, and the errors.

use burn::tensor::backend::Backend;
use burn::tensor::{ElementConversion, Tensor};

use super::event::{Event, EventFunction, Watch, crossed, illinois};
use super::field::{VectorField, check_field_shape};
use super::implicit::Radau;
use super::interpolant::Interpolant;
use super::options::SolveOptions;
use super::saver::{SAME_TIME, Saver};
use super::solution::{OdeError, Solution, Stats};
use super::tableau::ButcherTableau;
use crate::error::ConfigError;

/// The shared Runge–Kutta engine.
pub(crate) struct Engine<'a, B: Backend, const D: usize, F: VectorField<B, D> + ?Sized> {
    pub(crate) field: &'a F,
    /// The explicit method (`None`: an implicit solver, which [`Engine::run_full`] hands to
    /// its own loop).
    tableau: Option<&'static ButcherTableau>,
    pub(crate) options: &'a SolveOptions,
    /// Error-norm only over the first `n` elements of the flattened state (the adjoint's
    /// seminorm); `None`: every element.
    pub(crate) norm_prefix: Option<usize>,
    pub(crate) stats: Stats,
    /// The accepted steps, when the caller asked for them ([`Engine::recording`]).
    trace: Option<Trace>,
    /// The terminal event to watch for ([`Engine::watching`]).
    watch: Option<Watch<'a, B, D>>,
    /// Where the event fired.
    hit: Option<Event<B>>,
    _backend: core::marker::PhantomData<B>,
}

/// The accepted steps of a solve, in order, and which saved states each produced: enough to
/// re-take every step exactly (the checkpointed adjoint).
#[derive(Debug, Clone, Default)]
pub(crate) struct Trace {
    /// How many states were saved at the start, before any step.
    pub(crate) start_saves: usize,
    /// One entry per accepted step.
    pub(crate) steps: Vec<StepRecord>,
}

/// One accepted step: its ends, the save times that fell in it (indices into the save-time
/// list) and the saved states it produced (indices into the solution's states).
#[derive(Debug, Clone)]
pub(crate) struct StepRecord {
    pub(crate) t: f64,
    pub(crate) t_next: f64,
    pub(crate) times: core::ops::Range<usize>,
    pub(crate) saved: core::ops::Range<usize>,
}

/// Everything a solve produced.
pub(crate) struct Outcome<B: Backend, const D: usize> {
    pub(crate) solution: Solution<B, D>,
    pub(crate) trace: Option<Trace>,
    pub(crate) event: Option<Event<B>>,
}

/// The stages of one step and what follows from them.
pub(crate) struct Step<B: Backend, const D: usize> {
    pub(crate) y1: Tensor<B, D>,
    pub(crate) ks: Vec<Tensor<B, D>>,
}

impl<'a, B: Backend, const D: usize, F: VectorField<B, D> + ?Sized> Engine<'a, B, D, F> {
    pub(crate) fn new(field: &'a F, options: &'a SolveOptions, norm_prefix: Option<usize>) -> Self {
        Engine {
            field,
            tableau: options.solver.tableau(),
            options,
            norm_prefix,
            stats: Stats::default(),
            trace: None,
            watch: None,
            hit: None,
            _backend: core::marker::PhantomData,
        }
    }

    /// The explicit tableau; only the explicit loops call it.
    fn tab(&self) -> &'static ButcherTableau {
        self.tableau
            .expect("implicit solvers run in their own loop (Engine::run_full)")
    }

    /// Records the accepted steps; [`run_traced`](Self::run_traced) returns them.
    pub(crate) fn recording(mut self) -> Self {
        self.trace = Some(Trace::default());
        self
    }

    /// Ends the solve where `g` changes sign; [`run_full`](Self::run_full) returns the event.
    pub(crate) fn watching(mut self, g: &'a dyn EventFunction<B, D>) -> Self {
        self.watch = Some(Watch::new(g));
        self
    }

    pub(crate) fn eval(&mut self, t: f64, y: Tensor<B, D>) -> Tensor<B, D> {
        let dims = y.dims();
        let out = self.field.eval(t, y);
        check_field_shape(out.dims(), dims);
        self.stats.nfe += 1;
        out
    }

    pub(crate) fn step(
        &mut self,
        t: f64,
        h: f64,
        y: &Tensor<B, D>,
        k1: Tensor<B, D>,
    ) -> Step<B, D> {
        let tab = self.tab();
        let s = tab.stages();
        let mut ks = Vec::with_capacity(s);
        ks.push(k1);
        let mut last_input = None;
        for i in 1..s {
            let yi = combine(y, h, tab.a[i], &ks);
            if tab.fsal && i == s - 1 {
                last_input = Some(yi.clone());
            }
            let ki = self.eval(t + tab.c[i] * h, yi);
            ks.push(ki);
        }
        let y1 = match last_input {
            // FSAL: the last stage's input is y + h·Σ b·k.
            Some(y1) => y1,
            None => combine(y, h, tab.b, &ks),
        };
        Step { y1, ks }
    }

    /// RMS over the (prefix of the) flattened tensor; `NaN` when anything in `also_finite` is
    /// not finite. One device read.
    fn rms(&self, x: Tensor<B, D>, also_finite: &Tensor<B, D>) -> f64 {
        let flat: Tensor<B, 1> = x.detach().flatten(0, D - 1);
        let flat = match self.norm_prefix {
            Some(n) => flat.narrow(0, 0, n),
            None => flat,
        };
        let guard = also_finite.clone().detach().mul_scalar(0.0).sum();
        let mean_sq = flat.powi_scalar(2).mean() + guard;
        mean_sq.into_scalar().elem::<f64>().sqrt()
    }

    fn all_finite(&self, y: &Tensor<B, D>) -> bool {
        y.clone()
            .detach()
            .mul_scalar(0.0)
            .sum()
            .into_scalar()
            .elem::<f64>()
            .is_finite()
    }

    /// Hairer, Nørsett & Wanner I, §II.4, as torchdiffeq: one extra evaluation.
    fn initial_step(&mut self, t0: f64, y0: &Tensor<B, D>, f0: &Tensor<B, D>, dir: f64) -> f64 {
        let (rtol, atol) = (self.options.rtol, self.options.atol);
        let scale = y0.clone().detach().abs().mul_scalar(rtol).add_scalar(atol);
        let d0 = self.rms(y0.clone() / scale.clone(), y0);
        let d1 = self.rms(f0.clone() / scale.clone(), f0);
        let h0 = probe_step(d0, d1);
        let y1 = y0.clone().detach() + f0.clone().detach().mul_scalar(h0 * dir);
        let f1 = self.eval(t0 + h0 * dir, y1).detach();
        let d2 = self.rms((f1 - f0.clone().detach()) / scale, f0);
        first_step(h0, d1, d2, self.tab().order)
    }

    pub(crate) fn run(
        self,
        y0: Tensor<B, D>,
        t0: f64,
        t1: f64,
    ) -> Result<Solution<B, D>, OdeError> {
        self.run_traced(y0, t0, t1).map(|(solution, _)| solution)
    }

    /// As [`run`](Self::run), with the trace of the accepted steps when
    /// [`recording`](Self::recording).
    pub(crate) fn run_traced(
        self,
        y0: Tensor<B, D>,
        t0: f64,
        t1: f64,
    ) -> Result<(Solution<B, D>, Option<Trace>), OdeError> {
        self.run_full(y0, t0, t1)
            .map(|outcome| (outcome.solution, outcome.trace))
    }

    /// The solution, the trace when [`recording`](Self::recording) and the event when
    /// [`watching`](Self::watching).
    pub(crate) fn run_full(
        mut self,
        y0: Tensor<B, D>,
        t0: f64,
        t1: f64,
    ) -> Result<Outcome<B, D>, OdeError> {
        if !t0.is_finite() || !t1.is_finite() {
            return Err(OdeError::InvalidTimes(format!(
                "the span [{t0}, {t1}] must be finite"
            )));
        }
        if self.tableau.is_none() {
            if self.trace.is_some() || self.watch.is_some() {
                return Err(OdeError::Config(ConfigError::Inconsistent {
                    config: "SolveOptions",
                    message: format!(
                        "solver = {:?} is implicit: it serves solve and the Backsolve adjoint; \
                         for events and the checkpointed adjoint choose an explicit solver \
                         (Dopri5, Tsit5, ...)",
                        self.options.solver
                    ),
                }));
            }
            let solution =
                Radau::new(self.field, self.options, self.norm_prefix, &y0).run(y0, t0, t1)?;
            return Ok(Outcome {
                solution,
                trace: None,
                event: None,
            });
        }
        if self.options.per_sample {
            if self.trace.is_some() || self.watch.is_some() {
                return Err(OdeError::Config(ConfigError::Inconsistent {
                    config: "SolveOptions",
                    message: "per_sample = true serves solve and the Backsolve adjoint; events \
                              and the checkpointed adjoint need joint step control \
                              (per_sample = false)"
                        .into(),
                }));
            }
            let solution =
                super::per_sample::run(self.field, self.tab(), self.options, y0, t0, t1)?;
            return Ok(Outcome {
                solution,
                trace: None,
                event: None,
            });
        }
        let mut saver = Saver::start(&self.options.save_at, t0, t1, &y0)?;
        if let Some(trace) = &mut self.trace {
            trace.start_saves = saver.ys.len();
        }
        if let Some(watch) = &mut self.watch {
            watch.last = watch.value(t0, y0.clone());
        }
        let y = if t0 == t1 {
            y0
        } else if let Some(dt) = self.options.dt {
            self.run_fixed(y0, t0, t1, dt, &mut saver)?
        } else {
            self.run_adaptive(y0, t0, t1, &mut saver)?
        };
        let t_end = self.hit.as_ref().map_or(t1, |event| event.t);
        let (ts, ys) = saver.finish(t_end, y, self.hit.is_some())?;
        Ok(Outcome {
            solution: Solution {
                ts,
                ys,
                stats: self.stats,
                per_sample: None,
            },
            trace: self.trace,
            event: self.hit,
        })
    }

    fn run_fixed(
        &mut self,
        y0: Tensor<B, D>,
        t0: f64,
        t1: f64,
        dt: f64,
        saver: &mut Saver<B, D>,
    ) -> Result<Tensor<B, D>, OdeError> {
        let dir = (t1 - t0).signum();
        let span = (t1 - t0).abs();
        // Steps of exactly dt, the last one shortened; a remainder below 1e-9 of a step is
        // rounding, not a step (0.1 × 10 = 1 makes 10 steps, not 11).
        let n = ((span / dt) - 1e-9).ceil().max(1.0);
        if n > self.options.max_steps as f64 {
            return Err(OdeError::MaxStepsReached {
                t: t0,
                t1,
                max_steps: self.options.max_steps,
            });
        }
        let n = n as usize;
        let mut y = y0;
        let mut t = t0;
        let mut k1: Option<Tensor<B, D>> = None;
        for i in 1..=n {
            let t_next = if i == n { t1 } else { t0 + dir * dt * i as f64 };
            let h = t_next - t;
            let first = match k1.take() {
                Some(k) => k,
                None => self.eval(t, y.clone()),
            };
            let step = self.step(t, h, &y, first.clone());
            if !self.all_finite(&step.y1) {
                return Err(OdeError::NonFinite { t, t_next });
            }
            self.stats.accepted += 1;
            if let Some(y_event) = self.detect(saver, t, t_next, h, &y, &first, &step)? {
                return Ok(y_event);
            }
            k1 = self.save_step(saver, t, t_next, h, &y, &first, &step);
            if self.tab().fsal {
                k1 = step.ks.last().cloned();
            }
            y = step.y1;
            t = t_next;
        }
        Ok(y)
    }

    fn run_adaptive(
        &mut self,
        y0: Tensor<B, D>,
        t0: f64,
        t1: f64,
        saver: &mut Saver<B, D>,
    ) -> Result<Tensor<B, D>, OdeError> {
        let opts = self.options;
        let dir = (t1 - t0).signum();
        let order = self.tab().order;
        let b_err = self
            .tab()
            .b_err
            .expect("adaptive solvers have error weights");
        let mut y = y0;
        let mut t = t0;
        let mut k1 = self.eval(t0, y.clone());
        let mut h = match opts.dt0 {
            Some(dt0) => dt0,
            None => self.initial_step(t0, &y, &k1, dir),
        };
        if let Some(dt_max) = opts.dt_max {
            h = h.min(dt_max);
        }
        let mut previous_ratio = 1.0;
        while (t1 - t) * dir > 0.0 {
            if self.stats.steps() >= opts.max_steps {
                return Err(OdeError::MaxStepsReached {
                    t,
                    t1,
                    max_steps: opts.max_steps,
                });
            }
            let remaining = (t1 - t).abs();
            // Land on t1 instead of stepping past it; a tiny remainder joins this step.
            let last = h >= remaining * (1.0 - SAME_TIME);
            let h_abs = if last { remaining } else { h };
            let step = self.step(t, h_abs * dir, &y, k1.clone());
            let err = combine(&y.zeros_like(), h_abs * dir, b_err, &step.ks);
            let scale = y
                .clone()
                .detach()
                .abs()
                .max_pair(step.y1.clone().detach().abs())
                .mul_scalar(opts.rtol)
                .add_scalar(opts.atol);
            let ratio = self.rms(err.detach() / scale, &step.y1);
            let accepted = ratio.is_finite() && ratio <= 1.0;
            let factor = opts.controller.factor(ratio, previous_ratio, order);
            if accepted {
                let t_next = if last { t1 } else { t + h_abs * dir };
                self.stats.accepted += 1;
                previous_ratio = ratio;
                if let Some(y_event) = self.detect(saver, t, t_next, h_abs * dir, &y, &k1, &step)? {
                    return Ok(y_event);
                }
                let f1 = self.save_step(saver, t, t_next, h_abs * dir, &y, &k1, &step);
                k1 = match (self.tab().fsal, f1) {
                    (true, _) => step.ks.last().cloned().expect("an FSAL step has stages"),
                    (false, Some(f1)) => f1,
                    (false, None) => self.eval(t_next, step.y1.clone()),
                };
                y = step.y1;
                t = t_next;
            } else {
                self.stats.rejected += 1;
            }
            if (t1 - t) * dir > 0.0 {
                h = next_step(opts, ratio, h_abs * factor, t, h_abs * dir)?;
            }
        }
        Ok(y)
    }

    /// Checks the watched event on the accepted step `(t, t_next]`. When `g` changed sign:
    /// locates the event on the dense output, saves what lies in `(t, t*]`, records the event
    /// and returns the state at it (carrying the event time's dependence, see
    /// [`super::event`]).
    #[allow(clippy::too_many_arguments)]
    fn detect(
        &mut self,
        saver: &mut Saver<B, D>,
        t: f64,
        t_next: f64,
        h: f64,
        y: &Tensor<B, D>,
        f0: &Tensor<B, D>,
        step: &Step<B, D>,
    ) -> Result<Option<Tensor<B, D>>, OdeError> {
        let Some(mut watch) = self.watch.take() else {
            return Ok(None);
        };
        let (before, after) = (watch.last, watch.value(t_next, step.y1.clone()));
        if !crossed(before, after) {
            watch.last = after;
            self.watch = Some(watch);
            return Ok(None);
        }
        let (interpolant, _) = self.dense_output(t_next, h, y, f0, step);
        let values = interpolant.detached();
        let resolution = 4.0 * f64::EPSILON * t.abs().max(t_next.abs()).max(h.abs()) / h.abs();
        let theta = illinois(
            |theta| watch.value(t + theta * h, values.eval(theta)),
            before,
            after,
            resolution,
        );
        let (t_event, y_event) = if theta >= 1.0 {
            (t_next, step.y1.clone())
        } else {
            (t + theta * h, interpolant.eval(theta))
        };
        // ġ: the derivative of g along the solution, by a central difference along (1, f).
        let y_fixed = y_event.clone().detach();
        let f_event = self.eval(t_event, y_fixed.clone()).detach();
        let delta = h.abs()
            * if core::mem::size_of::<B::FloatElem>() >= 8 {
                1e-6
            } else {
                1e-3
            };
        let g_dot = (watch.value(
            t_event + delta,
            y_fixed.clone() + f_event.clone().mul_scalar(delta),
        ) - watch.value(t_event - delta, y_fixed - f_event.clone().mul_scalar(delta)))
            / (2.0 * delta);
        if g_dot == 0.0 || !g_dot.is_finite() {
            return Err(OdeError::EventNotDifferentiable { t: t_event, g_dot });
        }
        let g_event = watch.graph(t_event, y_event.clone());
        let time = (g_event.clone() - g_event.detach())
            .mul_scalar(-1.0 / g_dot)
            .add_scalar(t_event);
        let shift: Tensor<B, D> = time.clone().sub_scalar(t_event).reshape([1; D]);
        let state = y_event + f_event * shift;
        saver.save_until(t_event, h.signum(), &state, |time| {
            interpolant.eval((time - t) / h)
        });
        self.hit = Some(Event { t: t_event, time });
        self.watch = Some(watch);
        Ok(Some(state))
    }

    /// The dense output of an accepted step, and `f(t_next, y1)` when it had to evaluate it
    /// (a solver without FSAL).
    fn dense_output(
        &mut self,
        t_next: f64,
        h: f64,
        y: &Tensor<B, D>,
        f0: &Tensor<B, D>,
        step: &Step<B, D>,
    ) -> (Interpolant<B, D>, Option<Tensor<B, D>>) {
        let (f_end, evaluated) = if self.tab().fsal {
            let last = step.ks.last().cloned().expect("an FSAL step has stages");
            (last, None)
        } else {
            let f = self.eval(t_next, step.y1.clone());
            (f.clone(), Some(f))
        };
        let fitted = Interpolant::fit(self.tab(), h, y, f0, &step.y1, &f_end, &step.ks);
        (fitted, evaluated)
    }

    /// Saves what lies in the accepted step `(t, t_next]`; returns `f(t_next, y1)` if it had
    /// to evaluate it (the next step's first stage).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn save_step(
        &mut self,
        saver: &mut Saver<B, D>,
        t: f64,
        t_next: f64,
        h: f64,
        y: &Tensor<B, D>,
        f0: &Tensor<B, D>,
        step: &Step<B, D>,
    ) -> Option<Tensor<B, D>> {
        let (times_before, saved_before) = (saver.next, saver.ys.len());
        let mut f1: Option<Tensor<B, D>> = None;
        let mut interpolant: Option<Interpolant<B, D>> = None;
        saver.save_until(t_next, h.signum(), &step.y1, |time| {
            let fitted = interpolant.get_or_insert_with(|| {
                let (fitted, evaluated) = self.dense_output(t_next, h, y, f0, step);
                f1 = evaluated;
                fitted
            });
            fitted.eval((time - t) / h)
        });
        if let Some(trace) = &mut self.trace {
            trace.steps.push(StepRecord {
                t,
                t_next,
                times: times_before..saver.next,
                saved: saved_before..saver.ys.len(),
            });
        }
        f1
    }
}

/// Hairer, Nørsett & Wanner's probe step (I, §II.4) from the scaled RMS norms of `y0` (`d0`)
/// and `f(t0, y0)` (`d1`).
pub(crate) fn probe_step(d0: f64, d1: f64) -> f64 {
    if d0 < 1e-5 || d1 < 1e-5 || !d0.is_finite() || !d1.is_finite() {
        1e-6
    } else {
        0.01 * d0 / d1
    }
}

/// Their first step from the probe `h0`, `d1`, and the scaled RMS norm `d2` of
/// `f(t0 + h0, y0 + h0·f0) − f0`, for a method of order `order`.
pub(crate) fn first_step(h0: f64, d1: f64, d2: f64, order: u32) -> f64 {
    let d2 = d2 / h0;
    let h1 = if d1 <= 1e-15 && d2 <= 1e-15 || !d2.is_finite() {
        (h0 * 1e-3).max(1e-6)
    } else {
        (0.01 / d1.max(d2)).powf(1.0 / f64::from(order))
    };
    (100.0 * h0).min(h1)
}

/// The next step of a solve still short of its end at `t`: `proposed` (the controller's
/// factor times the last step's length) capped by `dt_max`, or the error that ends the solve
/// — `NonFinite` when the last trial (`tried`, signed) broke the state (`ratio` NaN or
/// infinite), `StepSizeUnderflow` when the step fell below `dt_min` or `t`'s resolution.
pub(crate) fn next_step(
    opts: &SolveOptions,
    ratio: f64,
    proposed: f64,
    t: f64,
    tried: f64,
) -> Result<f64, OdeError> {
    let h = opts.dt_max.map_or(proposed, |dt_max| proposed.min(dt_max));
    let dir = tried.signum();
    if h < opts.dt_min || t + h * dir == t {
        if !ratio.is_finite() {
            return Err(OdeError::NonFinite {
                t,
                t_next: t + tried,
            });
        }
        return Err(OdeError::StepSizeUnderflow { t, dt: h * dir });
    }
    Ok(h)
}

/// `y + h·Σ w_j·k_j`, skipping zero weights.
pub(crate) fn combine<B: Backend, const D: usize>(
    y: &Tensor<B, D>,
    h: f64,
    weights: &[f64],
    ks: &[Tensor<B, D>],
) -> Tensor<B, D> {
    let mut out = y.clone();
    for (w, k) in weights.iter().zip(ks) {
        if *w != 0.0 {
            out = out + k.clone().mul_scalar(h * w);
        }
    }
    out
}
