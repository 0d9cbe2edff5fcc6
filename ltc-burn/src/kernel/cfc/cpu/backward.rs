//! The backward pass: back through time step by step for the state, then every weight
//! gradient in one product per layer.

use super::elementwise::{abs, sign};
use super::{CfcForward, CfcGradients, CfcProblem, Layout, Mode, check};
use crate::kernel::cpu::linalg::{Float, gemm, rows, transposed};
use crate::kernel::cpu::{Real, Separate};

/// Column sums of the row-major `[rows, out.len()]` matrix `m`, added to `out`.
fn add_column_sums<F: Real>(m: &[F], out: &mut [F]) {
    for row in m.chunks_exact(out.len().max(1)) {
        for (o, v) in out.iter_mut().zip(row) {
            *o += *v;
        }
    }
}

/// The backward pass: the gradients of `Σ grad_out ⊙ outputs` (`grad_out`
/// `[batch, seq, hidden]`); the input gradient only when `want_x`.
pub(crate) fn backward<F: Float>(
    p: &CfcProblem<'_, F>,
    fwd: &CfcForward<F>,
    grad_out: &[F],
    want_x: bool,
) -> CfcGradients<F> {
    let d = p.dims;
    let layout = Layout::new(d, p.mode);
    check(p, &layout);
    let (bsz, l, s, h) = (d.batch, d.seq, d.inputs, d.hidden);
    assert_eq!(grad_out.len(), bsz * l * h, "cfc fused: grad_out");
    let theta = p.theta;
    let rows_all = l * bsz;
    let heads_w = p.mode.heads() * h;
    let u = d.units;
    let first = layout.dense[0];

    let mut g_theta = vec![F::ZERO; layout.len];
    let mut g_dt = if p.dt.is_some() {
        vec![F::ZERO; bsz * l]
    } else {
        Vec::new()
    };
    let mut d_heads = vec![F::ZERO; rows_all * heads_w];
    let mut d_pre: Vec<Vec<F>> = (0..d.layers).map(|_| vec![F::ZERO; rows_all * u]).collect();
    let mut dh = vec![F::ZERO; bsz * h];
    let mut dz = vec![F::ZERO; bsz * u];
    let w_h0 = &theta[first.w + s * first.d_out..];
    let (mut g_w_tau, mut g_a) = (vec![F::ZERO; h], vec![F::ZERO; h]);

    for t in (0..l).rev() {
        for b in 0..bsz {
            let from = (b * l + t) * h;
            for (g, o) in dh[b * h..][..h].iter_mut().zip(&grad_out[from..from + h]) {
                *g += *o;
            }
        }
        // The closed form's backward, per sample.
        let heads_t = &fwd.heads[t * bsz * heads_w..][..bsz * heads_w];
        let d_heads_t = &mut d_heads[t * bsz * heads_w..][..bsz * heads_w];
        for b in 0..bsz {
            let dt = p.dt.map_or(F::ONE, |dt| dt[b * l + t]);
            let row = &heads_t[b * heads_w..][..heads_w];
            let d_row = &mut d_heads_t[b * heads_w..][..heads_w];
            let dh_b = &dh[b * h..][..h];
            let mut g_dt_b = F::ZERO;
            match p.mode {
                Mode::Pure => {
                    let w_tau = &theta[layout.w_tau..][..h];
                    let a = &theta[layout.a..][..h];
                    for j in 0..h {
                        let (ff, wt, aj, g) = (row[j], w_tau[j], a[j], dh_b[j]);
                        let rate = abs(ff) + abs(wt);
                        let e = F::exp_neg(-(rate * dt));
                        g_a[j] += g * (F::ONE - e * ff);
                        // ∂h'/∂(rate·Δt) = A·e·ff.
                        let d_rate = g * aj * e * ff;
                        d_row[j] = -g * aj * e + d_rate * dt * sign(ff);
                        g_w_tau[j] += d_rate * dt * sign(wt);
                        g_dt_b += d_rate * rate;
                    }
                }
                mode => {
                    let (ff1, rest) = row.split_at(h);
                    let (ff2, rest) = rest.split_at(h);
                    let (ta, tb) = rest.split_at(h);
                    let (d1, rest) = d_row.split_at_mut(h);
                    let (d2, rest) = rest.split_at_mut(h);
                    let (dta, dtb) = rest.split_at_mut(h);
                    for j in 0..h {
                        let f1 = F::tanh(ff1[j]);
                        let f2 = F::tanh(ff2[j]);
                        let z = ta[j] * dt + tb[j];
                        let gate = F::sigmoid::<Separate>(z);
                        let g = dh_b[j];
                        let (d_f1, d_gate) = if mode == Mode::Gated {
                            (g * (F::ONE - gate), g * (f2 - f1))
                        } else {
                            (g, g * f2)
                        };
                        d1[j] = d_f1 * (F::ONE - f1 * f1);
                        d2[j] = g * gate * (F::ONE - f2 * f2);
                        let dz_ = if F::clamped(z) {
                            F::ZERO
                        } else {
                            d_gate * gate * (F::ONE - gate)
                        };
                        dta[j] = dz_ * dt;
                        dtb[j] = dz_;
                        g_dt_b += dz_ * ta[j];
                    }
                }
            }
            if let Some(g) = g_dt.get_mut(b * l + t) {
                *g = g_dt_b;
            }
        }
        // Back through the heads and the backbone, to the first layer's pre-activations.
        if d.layers > 0 {
            let heads_layer = layout.dense[d.layers];
            gemm(
                (bsz, heads_w, u),
                rows(d_heads_t, heads_w),
                transposed(&theta[heads_layer.w..][..u * heads_w], heads_w),
                F::ZERO,
                &mut dz,
                u,
            );
            for k in (0..d.layers).rev() {
                let range = t * bsz * u..(t + 1) * bsz * u;
                let block = &mut d_pre[k][range.clone()];
                for ((g, (x, y)), dzv) in block
                    .iter_mut()
                    .zip(fwd.pre[k][range.clone()].iter().zip(&fwd.post[k][range]))
                    .zip(&dz)
                {
                    *g = *dzv * p.act.derivative(*x, *y);
                }
                if k > 0 {
                    let layer = layout.dense[k];
                    gemm(
                        (bsz, u, u),
                        rows(block, u),
                        transposed(&theta[layer.w..][..u * u], u),
                        F::ZERO,
                        &mut dz,
                        u,
                    );
                }
            }
        }
        // The state's gradient: the first layer's state-side weights.
        let d_first = if d.layers > 0 {
            &d_pre[0][t * bsz * u..][..bsz * u]
        } else {
            &d_heads[t * bsz * heads_w..][..bsz * heads_w]
        };
        gemm(
            (bsz, first.d_out, h),
            rows(d_first, first.d_out),
            transposed(&w_h0[..h * first.d_out], first.d_out),
            F::ZERO,
            &mut dh,
            h,
        );
    }

    // Weight gradients, every step at once.
    let d_first = if d.layers > 0 { &d_pre[0] } else { &d_heads };
    gemm(
        (s, rows_all, first.d_out),
        transposed(&fwd.xs, s),
        rows(d_first, first.d_out),
        F::ZERO,
        &mut g_theta[first.w..],
        first.d_out,
    );
    gemm(
        (h, rows_all, first.d_out),
        transposed(&fwd.hs[..rows_all * h], h),
        rows(d_first, first.d_out),
        F::ZERO,
        &mut g_theta[first.w + s * first.d_out..],
        first.d_out,
    );
    add_column_sums(d_first, &mut g_theta[first.b..first.b + first.d_out]);
    #[allow(clippy::needless_range_loop)] // `i = layers` is the heads, outside `d_pre`.
    for i in 1..=d.layers {
        let layer = layout.dense[i];
        let d_out: &[F] = if i < d.layers { &d_pre[i] } else { &d_heads };
        gemm(
            (layer.d_in, rows_all, layer.d_out),
            transposed(&fwd.post[i - 1], layer.d_in),
            rows(d_out, layer.d_out),
            F::ZERO,
            &mut g_theta[layer.w..],
            layer.d_out,
        );
        add_column_sums(d_out, &mut g_theta[layer.b..layer.b + layer.d_out]);
    }
    if p.mode == Mode::Pure {
        g_theta[layout.w_tau..][..h].copy_from_slice(&g_w_tau);
        g_theta[layout.a..][..h].copy_from_slice(&g_a);
    }

    let x = if want_x {
        let mut dxs = vec![F::ZERO; rows_all * s];
        gemm(
            (rows_all, first.d_out, s),
            rows(d_first, first.d_out),
            transposed(&theta[first.w..][..s * first.d_out], first.d_out),
            F::ZERO,
            &mut dxs,
            s,
        );
        let mut dx = vec![F::ZERO; rows_all * s];
        for b in 0..bsz {
            for t in 0..l {
                dx[(b * l + t) * s..][..s].copy_from_slice(&dxs[(t * bsz + b) * s..][..s]);
            }
        }
        dx
    } else {
        Vec::new()
    };
    CfcGradients {
        x,
        h0: dh,
        dt: g_dt,
        theta: g_theta,
    }
}
