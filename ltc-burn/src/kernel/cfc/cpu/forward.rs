//! The forward pass over a whole sequence: the first layer's input side for every step at
//! once, then per step the state side, the backbone, the heads and the closed form.

use super::elementwise::closed_form;
use super::{CfcForward, CfcProblem, Layout, check};
use crate::kernel::cpu::linalg::{Float, gemm, rows};

/// Each row of the row-major `[rows, bias.len()]` matrix `c` set to `bias`.
fn fill_rows<F: Copy>(c: &mut [F], bias: &[F]) {
    for row in c.chunks_exact_mut(bias.len().max(1)) {
        row.copy_from_slice(bias);
    }
}

/// The forward pass.
pub(crate) fn forward<F: Float>(p: &CfcProblem<'_, F>) -> CfcForward<F> {
    let d = p.dims;
    let layout = Layout::new(d, p.mode);
    check(p, &layout);
    let (bsz, l, s, h) = (d.batch, d.seq, d.inputs, d.hidden);
    let theta = p.theta;
    let rows_all = l * bsz;
    // Time-major inputs.
    let mut xs = vec![F::ZERO; rows_all * s];
    for b in 0..bsz {
        for t in 0..l {
            xs[(t * bsz + b) * s..][..s].copy_from_slice(&p.x[(b * l + t) * s..][..s]);
        }
    }
    let mut hs = vec![F::ZERO; (l + 1) * bsz * h];
    hs[..bsz * h].copy_from_slice(p.h0);
    let mut pre: Vec<Vec<F>> = (0..d.layers)
        .map(|_| vec![F::ZERO; rows_all * d.units])
        .collect();
    let mut post = pre.clone();
    let heads_w = p.mode.heads() * h;
    let mut heads = vec![F::ZERO; rows_all * heads_w];

    // The first layer's bias and input-side product, for every step at once.
    let first = layout.dense[0];
    {
        let out0 = if d.layers > 0 {
            &mut pre[0]
        } else {
            &mut heads
        };
        fill_rows(out0, &theta[first.b..first.b + first.d_out]);
        gemm(
            (rows_all, s, first.d_out),
            rows(&xs, s),
            rows(&theta[first.w..], first.d_out),
            F::ONE,
            out0,
            first.d_out,
        );
    }
    let w_h0 = &theta[first.w + s * first.d_out..];
    for t in 0..l {
        let (done, next) = hs.split_at_mut((t + 1) * bsz * h);
        let h_t = &done[t * bsz * h..];
        // The state-side product of the first layer.
        {
            let out0 = if d.layers > 0 {
                &mut pre[0]
            } else {
                &mut heads
            };
            let block = &mut out0[t * bsz * first.d_out..][..bsz * first.d_out];
            gemm(
                (bsz, h, first.d_out),
                rows(h_t, h),
                rows(w_h0, first.d_out),
                F::ONE,
                block,
                first.d_out,
            );
        }
        for k in 0..d.layers {
            let u = d.units;
            let range = t * bsz * u..(t + 1) * bsz * u;
            if k > 0 {
                let layer = layout.dense[k];
                let input = &post[k - 1][range.clone()];
                let block = &mut pre[k][range.clone()];
                fill_rows(block, &theta[layer.b..layer.b + u]);
                gemm(
                    (bsz, u, u),
                    rows(input, u),
                    rows(&theta[layer.w..], u),
                    F::ONE,
                    block,
                    u,
                );
            }
            p.act.apply(&pre[k][range.clone()], &mut post[k][range]);
        }
        let block = &mut heads[t * bsz * heads_w..][..bsz * heads_w];
        if d.layers > 0 {
            let layer = layout.dense[d.layers];
            let u = d.units;
            let input = &post[d.layers - 1][t * bsz * u..][..bsz * u];
            fill_rows(block, &theta[layer.b..layer.b + heads_w]);
            gemm(
                (bsz, u, heads_w),
                rows(input, u),
                rows(&theta[layer.w..], heads_w),
                F::ONE,
                block,
                heads_w,
            );
        }
        let h_next = &mut next[..bsz * h];
        for b in 0..bsz {
            let dt = p.dt.map_or(F::ONE, |dt| dt[b * l + t]);
            let row = &block[b * heads_w..][..heads_w];
            let out = &mut h_next[b * h..][..h];
            closed_form(p.mode, &layout, theta, row, dt, out);
        }
    }
    CfcForward {
        xs,
        hs,
        pre,
        post,
        heads,
    }
}
