//! Per-sample step control ([`SolveOptions::per_sample`], torchode's independent solves): the
//! batch dimension carries independent solves, each with its own step size, accept/reject and
//! save times.
//!
//! One loop over the *active* samples, as one batch: the stages run on the rows still
//! integrating, each row at its own time and step (the step enters as a `[rows, 1, …]` column);
//! one host read per step brings back every row's error ratio (and its finiteness), the step
//! control runs on the host per row, accepted rows move on (`mask_where`) and rejected ones
//! stay, and a row that reaches the end of the span leaves the batch (`select`), so it costs no
//! more evaluations. Saved states are collected as row pieces and put back in sample order at
//! the end. Every operation is a differentiable tensor operation: back-propagation works
//! through it as through the joint loop.
//!
//! Each sample takes exactly the steps its solo solve would: its error norm is the RMS over its
//! own elements, and its first step comes from the same rule on its own row.

use burn::tensor::backend::Backend;
use burn::tensor::{Bool, Int, Tensor, TensorData};

use super::engine::{first_step, next_step, probe_step};
use super::field::{VectorField, check_field_shape};
use super::interpolant::{hermite, quartic};
use super::options::{SaveAt, SolveOptions};
use super::saver::SAME_TIME;
use super::solution::{OdeError, PerSample, Solution, Stats};
use super::solve::save_times;
use super::tableau::ButcherTableau;

/// One sample still integrating, aligned with a row of the active batch.
#[derive(Debug, Clone)]
struct Lane {
    sample: usize,
    t: f64,
    /// The proposed step (positive).
    h: f64,
    previous_ratio: f64,
    /// Its next save time not yet saved.
    next: usize,
}

/// A state to keep: a row of the step's end, or of its dense output at `theta`.
enum Request {
    End,
    Dense(f64),
}

/// One state to keep from a step: the active row, the `(sample, slot)` it fills, and where it
/// comes from.
struct Keep {
    row: usize,
    slot: (usize, usize),
    request: Request,
}

struct PerSampleRun<'a, B: Backend, const D: usize, F: VectorField<B, D> + ?Sized> {
    field: &'a F,
    tableau: &'static ButcherTableau,
    options: &'a SolveOptions,
    stats: Vec<Stats>,
    calls: usize,
    device: B::Device,
}

/// Solves with per-sample step control; the caller validated `options` (explicit, adaptive,
/// FSAL, no `dt`).
pub(crate) fn run<B, const D: usize, F>(
    field: &F,
    tableau: &'static ButcherTableau,
    options: &SolveOptions,
    y0: Tensor<B, D>,
    t0: f64,
    t1: f64,
) -> Result<Solution<B, D>, OdeError>
where
    B: Backend,
    F: VectorField<B, D> + ?Sized,
{
    let batch = y0.dims()[0];
    if batch == 0 {
        return Err(OdeError::InvalidTimes(
            "per-sample step control on an empty batch (y0's dimension 0 is 0)".into(),
        ));
    }
    let times = sample_times(&options.save_at, t0, t1, batch)?;
    let mut run = PerSampleRun {
        field,
        tableau,
        options,
        stats: vec![Stats::default(); batch],
        calls: 0,
        device: y0.device(),
    };
    let final_only = options.save_at == SaveAt::Final;
    let slots = if final_only { 1 } else { times[0].len() };
    let ys = if t0 == t1 {
        // Every save time is t0.
        vec![y0; slots]
    } else {
        let (pieces, rows) = run.integrate(y0, t0, t1, &times, final_only)?;
        assemble(pieces, &rows, batch, slots, &run.device)
    };
    let ts = if final_only {
        vec![t1]
    } else {
        times[0].clone()
    };
    let mut total = Stats::default();
    for stats in &run.stats {
        total += *stats;
    }
    Ok(Solution {
        ts,
        ys,
        stats: total,
        per_sample: Some(PerSample {
            ts: if final_only {
                vec![vec![t1]; batch]
            } else {
                times
            },
            stats: run.stats,
            calls: run.calls,
        }),
    })
}

/// Each sample's save times, checked against the span and the batch.
fn sample_times(
    save_at: &SaveAt,
    t0: f64,
    t1: f64,
    batch: usize,
) -> Result<Vec<Vec<f64>>, OdeError> {
    match save_at {
        SaveAt::TimesPerSample(rows) => {
            if rows.len() != batch {
                return Err(OdeError::InvalidTimes(format!(
                    "SaveAt::TimesPerSample has {} rows for a batch of {batch} samples: give one \
                     row of times per sample",
                    rows.len()
                )));
            }
            let mut out = Vec::with_capacity(batch);
            for (i, row) in rows.iter().enumerate() {
                if row.len() != rows[0].len() {
                    return Err(OdeError::InvalidTimes(format!(
                        "SaveAt::TimesPerSample: row {i} holds {} times, row 0 holds {}: every \
                         sample saves the same number of states",
                        row.len(),
                        rows[0].len()
                    )));
                }
                let checked = save_times(&SaveAt::Times(row.clone()), t0, t1)
                    .map_err(|e| OdeError::InvalidTimes(format!("sample {i}: {e}")))?;
                out.push(checked);
            }
            Ok(out)
        }
        shared => Ok(vec![save_times(shared, t0, t1)?; batch]),
    }
}

/// The saved states in sample order: `pieces` stacked hold the row `(sample, slot)` of `rows`.
fn assemble<B: Backend, const D: usize>(
    pieces: Vec<Tensor<B, D>>,
    rows: &[(usize, usize)],
    batch: usize,
    slots: usize,
    device: &B::Device,
) -> Vec<Tensor<B, D>> {
    let all = Tensor::cat(pieces, 0);
    let mut at = vec![vec![0; batch]; slots];
    for (row, &(sample, slot)) in rows.iter().enumerate() {
        at[slot][sample] = row;
    }
    at.into_iter()
        .map(|order| {
            if slots == 1 && order.iter().copied().eq(0..rows.len()) {
                all.clone()
            } else {
                all.clone().select(0, index::<B>(&order, device))
            }
        })
        .collect()
}

impl<B: Backend, const D: usize, F: VectorField<B, D> + ?Sized> PerSampleRun<'_, B, D, F> {
    /// `f` on the active rows, row `r` at `ts[r]`.
    fn eval(&mut self, lanes: &[Lane], ts: &[f64], y: Tensor<B, D>) -> Tensor<B, D> {
        let dims = y.dims();
        let samples: Vec<usize> = lanes.iter().map(|lane| lane.sample).collect();
        let out = self.field.eval_per_sample(ts, &samples, y);
        check_field_shape(out.dims(), dims);
        self.calls += 1;
        for lane in lanes {
            self.stats[lane.sample].nfe += 1;
        }
        out
    }

    /// The first step of each row by Hairer, Nørsett & Wanner's rule (as the joint solve).
    fn initial_steps(
        &mut self,
        lanes: &[Lane],
        t0: f64,
        dir: f64,
        y0: &Tensor<B, D>,
        f0: &Tensor<B, D>,
    ) -> Vec<f64> {
        let (rtol, atol) = (self.options.rtol, self.options.atol);
        let scale = y0.clone().detach().abs().mul_scalar(rtol).add_scalar(atol);
        let d0 = row_rms(y0.clone().detach() / scale.clone(), y0);
        let d1 = row_rms(f0.clone().detach() / scale.clone(), f0);
        let h0: Vec<f64> = d0
            .iter()
            .zip(&d1)
            .map(|(&d0, &d1)| probe_step(d0, d1))
            .collect();
        let signed: Vec<f64> = h0.iter().map(|h| h * dir).collect();
        let y1 = y0.clone().detach() + f0.clone().detach() * column::<B, D>(&signed, &self.device);
        let ts: Vec<f64> = signed.iter().map(|h| t0 + h).collect();
        let f1 = self.eval(lanes, &ts, y1).detach();
        let d2 = row_rms((f1 - f0.clone().detach()) / scale, f0);
        h0.iter()
            .zip(d1.iter().zip(&d2))
            .map(|(&h0, (&d1, &d2))| first_step(h0, d1, d2, self.tableau.order))
            .collect()
    }

    /// The loop; returns the saved row pieces and which `(sample, slot)` each row is.
    #[allow(clippy::type_complexity)]
    fn integrate(
        &mut self,
        y0: Tensor<B, D>,
        t0: f64,
        t1: f64,
        times: &[Vec<f64>],
        final_only: bool,
    ) -> Result<(Vec<Tensor<B, D>>, Vec<(usize, usize)>), OdeError> {
        let opts = self.options;
        let tab = self.tableau;
        let b_err = tab.b_err.expect("adaptive solvers have error weights");
        let dir = (t1 - t0).signum();
        let tol = SAME_TIME * (t1 - t0).abs();
        let batch = y0.dims()[0];
        let mut pieces: Vec<Tensor<B, D>> = Vec::new();
        let mut rows: Vec<(usize, usize)> = Vec::new();
        let mut lanes: Vec<Lane> = (0..batch)
            .map(|sample| Lane {
                sample,
                t: t0,
                h: 0.0,
                previous_ratio: 1.0,
                next: 0,
            })
            .collect();
        // Save times at t0.
        let mut at_start = Vec::new();
        for (r, lane) in lanes.iter_mut().enumerate() {
            let own = &times[lane.sample];
            while lane.next < own.len() && (own[lane.next] - t0).abs() <= tol {
                at_start.push(r);
                rows.push((lane.sample, lane.next));
                lane.next += 1;
            }
        }
        if !at_start.is_empty() {
            pieces.push(y0.clone().select(0, index::<B>(&at_start, &self.device)));
        }
        let mut y = y0;
        let mut k1 = self.eval(&lanes, &vec![t0; batch], y.clone());
        let first = match opts.dt0 {
            Some(dt0) => vec![dt0; batch],
            None => self.initial_steps(&lanes, t0, dir, &y, &k1),
        };
        for (lane, h) in lanes.iter_mut().zip(first) {
            lane.h = opts.dt_max.map_or(h, |dt_max| h.min(dt_max));
        }
        let s = tab.stages();
        while !lanes.is_empty() {
            for lane in &lanes {
                if self.stats[lane.sample].steps() >= opts.max_steps {
                    return Err(OdeError::MaxStepsReached {
                        t: lane.t,
                        t1,
                        max_steps: opts.max_steps,
                    });
                }
            }
            // Land on t1 instead of stepping past it; a tiny remainder joins this step.
            let last: Vec<bool> = lanes
                .iter()
                .map(|lane| lane.h >= (t1 - lane.t).abs() * (1.0 - SAME_TIME))
                .collect();
            let hs: Vec<f64> = lanes
                .iter()
                .zip(&last)
                .map(|(lane, &last)| dir * if last { (t1 - lane.t).abs() } else { lane.h })
                .collect();
            let hcol = column::<B, D>(&hs, &self.device);
            let mut ks = Vec::with_capacity(s);
            ks.push(k1.clone());
            let mut y1 = None;
            for i in 1..s {
                let yi = y.clone() + hcol.clone() * weighted(tab.a[i], &ks);
                if i == s - 1 {
                    y1 = Some(yi.clone());
                }
                let ts: Vec<f64> = lanes
                    .iter()
                    .zip(&hs)
                    .map(|(lane, h)| lane.t + tab.c[i] * h)
                    .collect();
                let ki = self.eval(&lanes, &ts, yi);
                ks.push(ki);
            }
            // FSAL: the last stage's input is y + h·Σ b·k.
            let y1 = y1.expect("an FSAL method has two stages or more");
            let err = hcol.clone() * weighted(b_err, &ks);
            let scale = y
                .clone()
                .detach()
                .abs()
                .max_pair(y1.clone().detach().abs())
                .mul_scalar(opts.rtol)
                .add_scalar(opts.atol);
            let ratios = row_rms(err.detach() / scale, &y1);

            let mut accepted = vec![false; lanes.len()];
            let mut finished = vec![false; lanes.len()];
            let mut requests: Vec<Keep> = Vec::new();
            for (r, lane) in lanes.iter_mut().enumerate() {
                let ratio = ratios[r];
                let ok = ratio.is_finite() && ratio <= 1.0;
                let factor = opts
                    .controller
                    .factor(ratio, lane.previous_ratio, tab.order);
                let stats = &mut self.stats[lane.sample];
                let (t, h) = (lane.t, hs[r]);
                if ok {
                    stats.accepted += 1;
                    accepted[r] = true;
                    lane.previous_ratio = ratio;
                    let t_next = if last[r] { t1 } else { t + h };
                    let own = &times[lane.sample];
                    while lane.next < own.len() && (own[lane.next] - t_next) * dir <= tol {
                        let time = own[lane.next];
                        let request = if (time - t_next).abs() <= tol {
                            Request::End
                        } else {
                            Request::Dense((time - t) / h)
                        };
                        requests.push(Keep {
                            row: r,
                            slot: (lane.sample, lane.next),
                            request,
                        });
                        lane.next += 1;
                    }
                    if last[r] {
                        finished[r] = true;
                        if final_only {
                            requests.push(Keep {
                                row: r,
                                slot: (lane.sample, 0),
                                request: Request::End,
                            });
                        }
                    }
                    lane.t = t_next;
                } else {
                    stats.rejected += 1;
                }
                if finished[r] {
                    continue;
                }
                lane.h = next_step(opts, ratio, h.abs() * factor, lane.t, h)?;
            }
            let (ends, dense): (Vec<Keep>, Vec<Keep>) = requests
                .into_iter()
                .partition(|keep| matches!(keep.request, Request::End));
            if !ends.is_empty() {
                let at: Vec<usize> = ends.iter().map(|keep| keep.row).collect();
                pieces.push(y1.clone().select(0, index::<B>(&at, &self.device)));
                rows.extend(ends.iter().map(|keep| keep.slot));
            }
            if !dense.is_empty() {
                pieces.push(self.dense_rows(&dense, &y, &y1, &hcol, &ks));
                rows.extend(dense.iter().map(|keep| keep.slot));
            }
            let k_last = ks.pop().expect("a step has stages");
            if accepted.iter().all(|&a| a) {
                y = y1;
                k1 = k_last;
            } else if accepted.iter().any(|&a| a) {
                let mask = row_mask::<B, D>(&accepted, y.dims(), &self.device);
                y = y.mask_where(mask.clone(), y1);
                k1 = k1.mask_where(mask, k_last);
            }
            if finished.iter().any(|&f| f) {
                let keep: Vec<usize> = (0..lanes.len()).filter(|&r| !finished[r]).collect();
                if keep.is_empty() {
                    break;
                }
                let keep_index = index::<B>(&keep, &self.device);
                y = y.select(0, keep_index.clone());
                k1 = k1.select(0, keep_index);
                lanes = keep.iter().map(|&r| lanes[r].clone()).collect();
            }
        }
        Ok((pieces, rows))
    }

    /// The rows `requests` ask for, in order, from the step's dense output (quartic where the
    /// solver has mid-point weights, cubic Hermite otherwise), each row at its own fraction of
    /// its own step.
    fn dense_rows(
        &self,
        requests: &[Keep],
        y: &Tensor<B, D>,
        y1: &Tensor<B, D>,
        hcol: &Tensor<B, D>,
        ks: &[Tensor<B, D>],
    ) -> Tensor<B, D> {
        let positions: Vec<usize> = requests.iter().map(|keep| keep.row).collect();
        let pick = |x: &Tensor<B, D>| x.clone().select(0, index::<B>(&positions, &self.device));
        let thetas: Vec<f64> = requests
            .iter()
            .map(|keep| match keep.request {
                Request::End => 1.0,
                Request::Dense(theta) => theta,
            })
            .collect();
        let column = |values: Vec<f64>| column::<B, D>(&values, &self.device);
        let hf0 = hcol.clone() * ks[0].clone();
        let hf1 = hcol.clone() * ks.last().expect("a step has stages").clone();
        match self.tableau.b_mid {
            Some(b_mid) => {
                // torchdiffeq's quartic through y0, y(½), y1 and the end slopes.
                let ym = y.clone() + hcol.clone() * weighted(b_mid, ks);
                let [a, b, c] = quartic(y, y1, &ym, &hf0, &hf1);
                let theta = column(thetas);
                let mut out = pick(&a) * theta.clone() + pick(&b);
                out = out * theta.clone() + pick(&c);
                out = out * theta.clone() + pick(&hf0);
                out * theta + pick(y)
            }
            None => {
                let weights = |i: usize| column(thetas.iter().map(|&t| hermite(t)[i]).collect());
                pick(y) * weights(0)
                    + pick(&hf0) * weights(1)
                    + pick(y1) * weights(2)
                    + pick(&hf1) * weights(3)
            }
        }
    }
}

/// `Σ w_j·k_j` over the non-zero weights.
fn weighted<B: Backend, const D: usize>(weights: &[f64], ks: &[Tensor<B, D>]) -> Tensor<B, D> {
    let mut out: Option<Tensor<B, D>> = None;
    for (w, k) in weights.iter().zip(ks) {
        if *w != 0.0 {
            let term = k.clone().mul_scalar(*w);
            out = Some(match out {
                Some(sum) => sum + term,
                None => term,
            });
        }
    }
    out.unwrap_or_else(|| ks[0].zeros_like())
}

/// The RMS of each row (dimension 0) of `x`; `NaN` for a row where `also_finite` is not
/// finite. One device read.
fn row_rms<B: Backend, const D: usize>(x: Tensor<B, D>, also_finite: &Tensor<B, D>) -> Vec<f64> {
    let dims = x.dims();
    let rows = dims[0];
    let width = dims.iter().skip(1).product::<usize>().max(1);
    let guard = also_finite
        .clone()
        .detach()
        .reshape([rows, width])
        .mul_scalar(0.0)
        .sum_dim(1);
    let mean_sq = x.reshape([rows, width]).powi_scalar(2).mean_dim(1) + guard;
    mean_sq
        .into_data()
        .convert::<f64>()
        .to_vec::<f64>()
        .expect("a float tensor reads as f64")
        .into_iter()
        .map(f64::sqrt)
        .collect()
}

/// `values` as a `[rows, 1, …, 1]` column that broadcasts over a state's other dimensions.
fn column<B: Backend, const D: usize>(values: &[f64], device: &B::Device) -> Tensor<B, D> {
    let mut shape = [1; D];
    shape[0] = values.len();
    let data = TensorData::new(values.to_vec(), [values.len()]).convert::<B::FloatElem>();
    Tensor::<B, 1>::from_data(data, device).reshape(shape)
}

/// A mask of `dims`, true on the rows where `rows` is.
fn row_mask<B: Backend, const D: usize>(
    rows: &[bool],
    dims: [usize; D],
    device: &B::Device,
) -> Tensor<B, D, Bool> {
    let mut shape = [1; D];
    shape[0] = rows.len();
    Tensor::<B, 1, Bool>::from_data(TensorData::new(rows.to_vec(), [rows.len()]), device)
        .reshape(shape)
        .expand(dims)
}

/// Row indices as an index tensor.
pub(crate) fn index<B: Backend>(rows: &[usize], device: &B::Device) -> Tensor<B, 1, Int> {
    let data: Vec<i64> = rows.iter().map(|&i| i as i64).collect();
    Tensor::from_data(TensorData::new(data, [rows.len()]), device)
}

#[cfg(test)]
mod tests;
