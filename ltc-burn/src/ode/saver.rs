//! What a solve keeps: the states at the save times and step ends that [`SaveAt`] asks for,
//! collected step by step. One mechanism for the explicit engine, its events, the
//! checkpointed adjoint's replays and the implicit solver.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::options::SaveAt;
use super::solution::OdeError;
use super::solve::save_times;

/// Times closer than this fraction of the span are the same time.
pub(crate) const SAME_TIME: f64 = 1e-12;

/// The saved times and states of one solve.
pub(crate) struct Saver<B: Backend, const D: usize> {
    times: Vec<f64>,
    /// The next save time not yet saved.
    pub(crate) next: usize,
    every_step: bool,
    final_only: bool,
    /// Two times closer than this are the same.
    tol: f64,
    ts: Vec<f64>,
    pub(crate) ys: Vec<Tensor<B, D>>,
}

impl<B: Backend, const D: usize> Saver<B, D> {
    /// The saver of a solve from `(t0, y0)` to `t1`, with the states at `t0` already saved.
    pub(crate) fn start(
        save_at: &SaveAt,
        t0: f64,
        t1: f64,
        y0: &Tensor<B, D>,
    ) -> Result<Self, OdeError> {
        let mut saver = Saver {
            times: save_times(save_at, t0, t1)?,
            next: 0,
            every_step: *save_at == SaveAt::Steps,
            final_only: *save_at == SaveAt::Final,
            tol: SAME_TIME * (t1 - t0).abs().max(f64::MIN_POSITIVE),
            ts: Vec::new(),
            ys: Vec::new(),
        };
        // The start counts as the end of an empty step.
        let dir = if t1 >= t0 { 1.0 } else { -1.0 };
        saver.save_until(t0, dir, y0, |_| {
            unreachable!("save_times keeps every time inside the span")
        });
        Ok(saver)
    }

    /// A saver for re-taking one recorded step of a solve over `span`: the save times that
    /// fell in it.
    pub(crate) fn for_replay(times: Vec<f64>, every_step: bool, span: f64) -> Self {
        Saver {
            times,
            next: 0,
            every_step,
            final_only: false,
            tol: SAME_TIME * span.max(f64::MIN_POSITIVE),
            ts: Vec::new(),
            ys: Vec::new(),
        }
    }

    /// Saves what lies up to `t_end` in the direction `dir` (a step that ends at `t_end` with
    /// the state `end`): `end` at a save time equal to `t_end`, `between(time)` at one before
    /// it, and `end` itself when saving every step.
    pub(crate) fn save_until(
        &mut self,
        t_end: f64,
        dir: f64,
        end: &Tensor<B, D>,
        mut between: impl FnMut(f64) -> Tensor<B, D>,
    ) {
        while self.next < self.times.len() {
            let time = self.times[self.next];
            if (time - t_end) * dir > self.tol {
                break;
            }
            let value = if (time - t_end).abs() <= self.tol {
                end.clone()
            } else {
                between(time)
            };
            self.ts.push(time);
            self.ys.push(value);
            self.next += 1;
        }
        if self.every_step {
            self.ts.push(t_end);
            self.ys.push(end.clone());
        }
    }

    /// The saved times and states once the solve ended at `t_end` with `y`: `y` when only the
    /// final state is kept; an error when a save time was not reached, unless an event
    /// `stopped` the solve.
    pub(crate) fn finish(
        mut self,
        t_end: f64,
        y: Tensor<B, D>,
        stopped: bool,
    ) -> Result<(Vec<f64>, Vec<Tensor<B, D>>), OdeError> {
        if self.final_only {
            self.ts.push(t_end);
            self.ys.push(y);
        }
        if self.next < self.times.len() && !stopped {
            return Err(OdeError::InvalidTimes(format!(
                "SaveAt::Times[{}] = {} was not reached (the solve ended at t1 = {t_end})",
                self.next, self.times[self.next]
            )));
        }
        Ok((self.ts, self.ys))
    }
}
