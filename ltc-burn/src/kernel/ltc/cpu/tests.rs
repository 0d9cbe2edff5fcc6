//! The fused CPU kernel against a naive reference (the formula written out with plain loops),
//! its gradients against central finite differences, and sparse against dense.

use super::*;
use crate::kernel::cpu::Isa;

use ltc_testing::Rng;

/// A problem's owned data, in f64.
#[derive(Clone)]
struct Data {
    batch: usize,
    seq: usize,
    units: usize,
    inputs: usize,
    unfolds: usize,
    x: Vec<f64>,
    v0: Vec<f64>,
    cm_t: Vec<f64>,
    rec: [Vec<f64>; 4],
    sen: [Vec<f64>; 4],
    rec_mask: Vec<f64>,
    sen_mask: Vec<f64>,
    gleak: Vec<f64>,
    gleak_vleak: Vec<f64>,
}

impl Data {
    /// Random data in ncps's initialisation ranges; `density` < 1 drops synapses (w = 0 and the
    /// mask 0 there); `per_step` gives every sample and step its own `cm_t`.
    fn random(
        [batch, seq, units, inputs, unfolds]: [usize; 5],
        density: f64,
        per_step: bool,
        seed: u64,
    ) -> Self {
        let mut rng = Rng(seed);
        let (nn, sn) = (units * units, inputs * units);
        let mut mask = |len: usize| -> Vec<f64> {
            (0..len)
                .map(|_| if rng.next() < density { 1.0 } else { 0.0 })
                .collect()
        };
        let rec_mask = mask(nn);
        let sen_mask = mask(sn);
        let mut rng = Rng(seed ^ 0xABCD);
        let masked = |w: Vec<f64>, m: &[f64]| w.iter().zip(m).map(|(w, m)| w * m).collect();
        let rec = [
            masked(rng.uniform(nn, 0.01, 1.0), &rec_mask),
            rng.uniform(nn, 3.0, 8.0),
            rng.uniform(nn, 0.3, 0.8),
            rng.uniform(nn, -1.0, 1.0),
        ];
        let sen = [
            masked(rng.uniform(sn, 0.01, 1.0), &sen_mask),
            rng.uniform(sn, 3.0, 8.0),
            rng.uniform(sn, 0.3, 0.8),
            rng.uniform(sn, -1.0, 1.0),
        ];
        let cm_len = if per_step { batch * seq * units } else { units };
        Data {
            batch,
            seq,
            units,
            inputs,
            unfolds,
            x: rng.uniform(batch * seq * inputs, -1.0, 1.0),
            v0: rng.uniform(batch * units, -0.5, 0.5),
            cm_t: rng.uniform(cm_len, 0.4, 3.6),
            rec,
            sen,
            rec_mask,
            sen_mask,
            gleak: rng.uniform(units, 0.001, 1.0),
            gleak_vleak: rng.uniform(units, -0.2, 0.2),
        }
    }

    fn convert<F: Real>(v: &[f64]) -> Vec<F> {
        v.iter().map(|x| F::from_f64(*x)).collect()
    }

    /// Runs `f` on the kernel's view of this data in `F`.
    fn with_problem<F: Real, R>(
        &self,
        sparse: bool,
        f: impl FnOnce(&UnfoldProblem<'_, F>) -> R,
    ) -> R {
        let c = Self::convert::<F>;
        let (x, v0, cm_t, gleak, gleak_vleak) = (
            c(&self.x),
            c(&self.v0),
            c(&self.cm_t),
            c(&self.gleak),
            c(&self.gleak_vleak),
        );
        let rec = self.rec.each_ref().map(|m| c(m));
        let sen = self.sen.each_ref().map(|m| c(m));
        let (rec_syn, sen_syn) = if sparse {
            (
                Synapses::from_mask(&self.rec_mask, self.units),
                Synapses::from_mask(&self.sen_mask, self.units),
            )
        } else {
            (Synapses::Dense, Synapses::Dense)
        };
        fn params<F>(m: &[Vec<F>; 4]) -> SynapseParams<'_, F> {
            SynapseParams {
                w: &m[0],
                sigma: &m[1],
                mu: &m[2],
                erev: &m[3],
            }
        }
        let problem = UnfoldProblem {
            batch: self.batch,
            seq: self.seq,
            units: self.units,
            inputs: self.inputs,
            unfolds: self.unfolds,
            x: &x,
            v0: &v0,
            cm_t: &cm_t,
            recurrent: params(&rec),
            recurrent_synapses: &rec_syn,
            sensory: params(&sen),
            sensory_synapses: &sen_syn,
            gleak: &gleak,
            gleak_vleak: &gleak_vleak,
            epsilon: F::from_f64(1e-8),
        };
        f(&problem)
    }

    /// The formula with plain loops in f64: the potentials after every step.
    #[allow(clippy::needless_range_loop)] // indices as in the formula
    fn reference(&self) -> Vec<f64> {
        let (n, s, seq) = (self.units, self.inputs, self.seq);
        let sig = |z: f64| 1.0 / (1.0 + (-z.max(-80.0)).exp());
        let mut out = vec![0.0; self.batch * seq * n];
        for b in 0..self.batch {
            let mut v = self.v0[b * n..(b + 1) * n].to_vec();
            for t in 0..seq {
                let cm = |j: usize| {
                    if self.cm_t.len() == n {
                        self.cm_t[j]
                    } else {
                        self.cm_t[(b * seq + t) * n + j]
                    }
                };
                let x = &self.x[(b * seq + t) * s..(b * seq + t + 1) * s];
                let mut num_f: Vec<f64> = self.gleak_vleak.clone();
                let mut den_f: Vec<f64> = (0..n).map(|j| cm(j) + self.gleak[j] + 1e-8).collect();
                for (i, xi) in x.iter().enumerate() {
                    for j in 0..n {
                        let k = i * n + j;
                        let a = self.sen[0][k] * sig(self.sen[1][k] * (xi - self.sen[2][k]));
                        num_f[j] += a * self.sen[3][k];
                        den_f[j] += a;
                    }
                }
                for _ in 0..self.unfolds {
                    let mut num: Vec<f64> = (0..n).map(|j| cm(j) * v[j] + num_f[j]).collect();
                    let mut den = den_f.clone();
                    for i in 0..n {
                        for j in 0..n {
                            let k = i * n + j;
                            let a = self.rec[0][k] * sig(self.rec[1][k] * (v[i] - self.rec[2][k]));
                            num[j] += a * self.rec[3][k];
                            den[j] += a;
                        }
                    }
                    v = (0..n).map(|j| num[j] / den[j]).collect();
                }
                out[(b * seq + t) * n..(b * seq + t + 1) * n].copy_from_slice(&v);
            }
        }
        out
    }
}

fn max_rel_diff<F: Real + Into<f64>>(ours: &[F], reference: &[f64]) -> f64 {
    assert_eq!(ours.len(), reference.len());
    ours.iter()
        .zip(reference)
        .map(|(a, b)| ((*a).into() - b).abs() / (1.0 + b.abs()))
        .fold(0.0, f64::max)
}

const SHAPES: [[usize; 5]; 7] = [
    // batch, seq, units, inputs, unfolds
    [3, 4, 5, 2, 6],
    [1, 1, 1, 1, 1],
    [2, 3, 1, 3, 2],
    [1, 5, 7, 1, 3],
    [4, 2, 12, 4, 6],
    // Over 16 samples: the backward's sample groups hold 2 (the last one 1) and 3 (the last
    // one 1) samples each, summed group by group.
    [19, 2, 3, 2, 2],
    [34, 1, 2, 1, 1],
];

#[test]
fn forward_matches_the_formula_in_f64_and_f32() {
    for (case, shape) in SHAPES.into_iter().enumerate() {
        for (density, per_step, sparse) in [
            (1.0, false, false),
            (1.0, true, true),
            (0.4, false, true),
            (0.4, true, false),
        ] {
            let data = Data::random(shape, density, per_step, case as u64 + 1);
            let reference = data.reference();
            let f64_v = data.with_problem::<f64, _>(sparse, |p| forward(p).v);
            let f32_v = data.with_problem::<f32, _>(sparse, |p| forward(p).v);
            let (d64, d32) = (
                max_rel_diff(&f64_v, &reference),
                max_rel_diff(&f32_v, &reference),
            );
            let what = format!("{shape:?} density {density} per-step {per_step} sparse {sparse}");
            assert!(d64 < 1e-13, "{what}: f64 differs by {d64:e}");
            assert!(d32 < 2e-6, "{what}: f32 differs by {d32:e}");
        }
    }
}

/// `L = Σ c ⊙ v` over every step, with fixed random `c`.
fn loss(data: &Data, weights: &[f64]) -> f64 {
    data.reference()
        .iter()
        .zip(weights)
        .map(|(v, c)| v * c)
        .sum()
}

/// Every input of the problem as a mutable slice, with a name, for finite differences.
fn inputs_mut(data: &mut Data) -> Vec<(String, &mut Vec<f64>)> {
    let mut all: Vec<(String, &mut Vec<f64>)> = vec![
        ("x".into(), &mut data.x),
        ("v0".into(), &mut data.v0),
        ("cm_t".into(), &mut data.cm_t),
        ("gleak".into(), &mut data.gleak),
        ("gleak_vleak".into(), &mut data.gleak_vleak),
    ];
    let names = ["w", "sigma", "mu", "erev"];
    for (name, m) in names.iter().zip(data.rec.iter_mut()) {
        all.push((format!("recurrent {name}"), m));
    }
    for (name, m) in names.iter().zip(data.sen.iter_mut()) {
        all.push((format!("sensory {name}"), m));
    }
    all
}

fn analytic(g: &UnfoldGradients<f64>) -> Vec<Vec<f64>> {
    let mut all = vec![
        g.x.clone(),
        g.v0.clone(),
        g.cm_t.clone(),
        g.gleak.clone(),
        g.gleak_vleak.clone(),
    ];
    all.extend(g.recurrent.iter().cloned());
    all.extend(g.sensory.iter().cloned());
    all
}

#[test]
fn gradients_match_finite_differences() {
    for (case, shape) in SHAPES.into_iter().enumerate() {
        for (density, per_step, sparse) in [(1.0, false, false), (0.5, true, true)] {
            let data = Data::random(shape, density, per_step, 100 + case as u64);
            let [batch, seq, units, ..] = shape;
            let weights = Rng(7 + case as u64).uniform(batch * seq * units, -1.0, 1.0);
            let grads = data.with_problem::<f64, _>(sparse, |p| {
                let fwd = forward(p);
                backward(p, &fwd, &weights)
            });
            let kernel = analytic(&grads);
            // Every instruction set computes the same gradients (f64: to rounding; f32: to
            // f32's accuracy).
            for isa in Isa::supported() {
                let other = data.with_problem::<f64, _>(sparse, |p| {
                    backward_with(p, &forward_with(p, isa), &weights, isa)
                });
                for (a, b) in kernel.iter().zip(analytic(&other).iter()) {
                    let diff = a
                        .iter()
                        .zip(b)
                        .map(|(a, b)| (a - b).abs())
                        .fold(0.0, f64::max);
                    assert!(
                        diff < 1e-12,
                        "{isa:?} {shape:?}: gradients differ by {diff:e}"
                    );
                }
                let f32_grads = data.with_problem::<f32, _>(sparse, |p| {
                    let w = Data::convert::<f32>(&weights);
                    backward_with(p, &forward_with(p, isa), &w, isa)
                });
                let f32_all = [
                    &f32_grads.x,
                    &f32_grads.v0,
                    &f32_grads.cm_t,
                    &f32_grads.gleak,
                    &f32_grads.gleak_vleak,
                ]
                .into_iter()
                .chain(&f32_grads.recurrent)
                .chain(&f32_grads.sensory);
                for (a, b) in f32_all.zip(&kernel) {
                    let d = max_rel_diff(a, b);
                    assert!(d < 2e-5, "{isa:?} {shape:?}: f32 gradients differ by {d:e}");
                }
            }
            let mut probe = data.clone();
            let masks = (data.rec_mask.clone(), data.sen_mask.clone());
            let h = 1e-6;
            for (slot, (name, values)) in inputs_mut(&mut probe).into_iter().enumerate() {
                for k in 0..values.len() {
                    let keep = values[k];
                    values[k] = keep + h;
                    let snapshot_plus = values.clone();
                    values[k] = keep - h;
                    let snapshot_minus = values.clone();
                    values[k] = keep;
                    let eval = |snapshot: Vec<f64>| {
                        let mut d = data.clone();
                        *inputs_mut(&mut d).swap_remove(slot).1 = snapshot;
                        loss(&d, &weights)
                    };
                    let numeric = (eval(snapshot_plus) - eval(snapshot_minus)) / (2.0 * h);
                    let ours = kernel[slot][k];
                    // A masked synapse's parameters get no gradient in the sparse kernel (the
                    // dense one computes the exact, zero, derivative of a w = 0 synapse, except
                    // for w itself).
                    let masked = sparse
                        && match name.as_str() {
                            n if n.starts_with("recurrent") => masks.0[k] == 0.0,
                            n if n.starts_with("sensory") => masks.1[k] == 0.0,
                            _ => false,
                        };
                    let expected = if masked { 0.0 } else { numeric };
                    assert!(
                        (ours - expected).abs() <= 1e-6 * (1.0 + expected.abs()),
                        "{shape:?} sparse {sparse}: ∂L/∂{name}[{k}] = {ours:e}, finite \
                         differences {numeric:e}"
                    );
                }
            }
        }
    }
}

#[test]
fn sparse_and_dense_agree_on_a_full_mask() {
    let data = Data::random([2, 3, 6, 3, 4], 1.0, false, 9);
    let weights = Rng(3).uniform(2 * 3 * 6, -1.0, 1.0);
    let run = |sparse: bool| {
        data.with_problem::<f32, _>(sparse, |p| {
            let fwd = forward(p);
            let grads = backward(p, &fwd, &Data::convert::<f32>(&weights));
            (fwd.v, grads)
        })
    };
    // A full mask is dense: both take the same path.
    assert_eq!(Synapses::from_mask(&data.rec_mask, 6), Synapses::Dense);
    assert_eq!(run(true), run(false));
    // And a sparse list holding every synapse computes the same numbers.
    let all = Synapses::Sparse {
        offsets: (0..=6).map(|i| i * 6).collect(),
        destinations: (0..36).map(|k| k % 6).collect(),
    };
    let sparse = data.with_problem::<f64, _>(false, |p| {
        let p = UnfoldProblem {
            recurrent_synapses: &all,
            ..*p
        };
        forward(&p).v
    });
    let dense = data.with_problem::<f64, _>(false, |p| forward(p).v);
    assert!(max_rel_diff(&sparse, &dense) < 1e-15);
}

#[test]
fn the_mask_lists_existing_synapses() {
    let mask = [1.0f32, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0];
    assert_eq!(
        Synapses::from_mask(&mask, 3),
        Synapses::Sparse {
            offsets: vec![0, 2, 2, 4],
            destinations: vec![0, 2, 1, 2],
        }
    );
    assert_eq!(Synapses::from_mask(&mask, 3).count(3, 3), 4);
}

#[test]
#[should_panic(expected = "fused LTC: `v0` has 4 values, expected 10")]
fn wrong_lengths_are_named() {
    let mut data = Data::random([2, 1, 5, 1, 1], 1.0, false, 1);
    data.v0.truncate(4);
    data.with_problem::<f64, _>(false, forward);
}
