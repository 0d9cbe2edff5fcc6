//! The LTC unfold's CubeCL kernels, in CubeCL's Rust dialect: the forward sweep, the backward
//! sweep and the synapse gradients (see [`super`] for what each computes).

use cubecl::prelude::*;

#[cube]
fn sigmoid<F: Float>(z: F) -> F {
    F::new(1.0) / (F::new(1.0) + F::exp(F::new(0.0) - z))
}

#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward_kernel<F: Float>(
    x: &Tensor<F>,             // [batch, seq, inputs]
    v0: &Tensor<F>,            // [batch, units]
    cm_t: &Tensor<F>,          // [1, 1, units] or [batch, seq, units]
    rec: &Tensor<F>,           // [4, units, units]: w, sigma, mu, erev; [source, destination]
    sen: &Tensor<F>,           // [4, inputs, units]
    leak: &Tensor<F>,          // [2, units]: gleak + ε, gleak·vleak
    out: &mut Tensor<F>,       // [batch, seq, units]
    saved_v: &mut Tensor<F>,   // [batch, seq, unfolds, units] (when saving)
    saved_den: &mut Tensor<F>, // [batch, seq, unfolds, units] (when saving)
    seq: u32,
    inputs: u32,
    units: u32,
    unfolds: u32,
    cm_per_step: u32,
    save: u32,
    start: u32,
    end: u32,
    #[comptime] capacity: u32,
    #[define(F)] _dtype: StorageType,
) {
    let b = CUBE_POS_X as usize;
    let tid = UNIT_POS_X as usize;
    let dim = CUBE_DIM_X as usize;
    let l = seq as usize;
    let s = inputs as usize;
    let n = units as usize;
    let kk = unfolds as usize;
    let cap = capacity as usize;
    let nn = n * n;
    let sn = s * n;
    let mut v = SharedMemory::<F>::new(cap);
    let mut v_new = SharedMemory::<F>::new(cap);
    let mut num_f = SharedMemory::<F>::new(cap);
    let mut den_f = SharedMemory::<F>::new(cap);

    // Steps `start..end` of the sequence; a later dispatch starts from the potentials the
    // previous one wrote.
    let first = start as usize;
    let mut j = tid;
    while j < n {
        if first == 0 {
            v[j] = v0[b * n + j];
        } else {
            v[j] = out[(b * l + first - 1) * n + j];
        }
        j += dim;
    }
    sync_cube();
    for t in first..end as usize {
        let row = b * l + t;
        let mut cm_base = 0;
        if cm_per_step == 1 {
            cm_base = row * n;
        }
        // The sensory synapses' sums, once per step.
        let mut j = tid;
        while j < n {
            let mut nf = leak[n + j];
            let mut df = cm_t[cm_base + j] + leak[j];
            for i in 0..s {
                let at = i * n + j;
                let a = sen[at] * sigmoid::<F>(sen[sn + at] * (x[row * s + i] - sen[2 * sn + at]));
                nf += a * sen[3 * sn + at];
                df += a;
            }
            num_f[j] = nf;
            den_f[j] = df;
            j += dim;
        }
        for k in 0..kk {
            let mut j = tid;
            while j < n {
                let vj = v[j];
                let mut num = cm_t[cm_base + j] * vj + num_f[j];
                let mut den = den_f[j];
                for i in 0..n {
                    let at = i * n + j;
                    let a = rec[at] * sigmoid::<F>(rec[nn + at] * (v[i] - rec[2 * nn + at]));
                    num += a * rec[3 * nn + at];
                    den += a;
                }
                if save == 1 {
                    let at = (row * kk + k) * n + j;
                    saved_v[at] = vj;
                    saved_den[at] = den;
                }
                v_new[j] = num / den;
                j += dim;
            }
            sync_cube();
            let mut j = tid;
            while j < n {
                v[j] = v_new[j];
                j += dim;
            }
            sync_cube();
        }
        let mut j = tid;
        while j < n {
            out[row * n + j] = v[j];
            j += dim;
        }
    }
}

#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward_kernel<F: Float>(
    grad_out: &Tensor<F>,  // [batch, seq, units]
    x: &Tensor<F>,         // [batch, seq, inputs]
    cm_t: &Tensor<F>,      // [1, 1, units] or [batch, seq, units]
    rec_t: &Tensor<F>,     // [4, units, units]: [destination, source]
    sen_t: &Tensor<F>,     // [4, units, inputs]
    out: &Tensor<F>,       // [batch, seq, units]
    saved_v: &Tensor<F>,   // [batch, seq, unfolds, units]
    saved_den: &Tensor<F>, // [batch, seq, unfolds, units]
    q_all: &mut Tensor<F>, // [batch, seq, unfolds, units]: ∂L/∂num of every unfold
    r_all: &mut Tensor<F>, // [batch, seq, unfolds, units]: ∂L/∂den of every unfold
    g_nf: &mut Tensor<F>,  // [batch, seq, units]: ∂L/∂num_f (the sensory numerator)
    g_df: &mut Tensor<F>,  // [batch, seq, units]: ∂L/∂den_f
    g_cm: &mut Tensor<F>,  // [batch, seq, units]: Σ_k q·v (∂L/∂cm_t less g_df)
    g_x: &mut Tensor<F>,   // [batch, seq, inputs]
    g_v0: &mut Tensor<F>,  // [batch, units]
    seq: u32,
    inputs: u32,
    units: u32,
    unfolds: u32,
    cm_per_step: u32,
    start: u32,
    end: u32,
    #[comptime] capacity: u32,
    #[define(F)] _dtype: StorageType,
) {
    let b = CUBE_POS_X as usize;
    let tid = UNIT_POS_X as usize;
    let dim = CUBE_DIM_X as usize;
    let l = seq as usize;
    let s = inputs as usize;
    let n = units as usize;
    let kk = unfolds as usize;
    let cap = capacity as usize;
    let nn = n * n;
    let sn = s * n;
    let one = F::new(1.0);
    let mut gv = SharedMemory::<F>::new(cap);
    let mut q = SharedMemory::<F>::new(cap);
    let mut r = SharedMemory::<F>::new(cap);
    let mut vs = SharedMemory::<F>::new(cap);
    let mut nf = SharedMemory::<F>::new(cap);
    let mut df = SharedMemory::<F>::new(cap);
    let mut gc = SharedMemory::<F>::new(cap);

    // Steps `end-1` down to `start`; a dispatch before the last starts from the ∂L/∂v the
    // later one left in `g_v0`.
    let mut j = tid;
    while j < n {
        if end as usize == l {
            gv[j] = F::new(0.0);
        } else {
            gv[j] = g_v0[b * n + j];
        }
        j += dim;
    }
    sync_cube();
    let (first, last) = (start as usize, end as usize);
    for tt in 0..last - first {
        let t = last - 1 - tt;
        let row = b * l + t;
        let mut cm_base = 0;
        if cm_per_step == 1 {
            cm_base = row * n;
        }
        let mut j = tid;
        while j < n {
            gv[j] += grad_out[row * n + j];
            nf[j] = F::new(0.0);
            df[j] = F::new(0.0);
            gc[j] = F::new(0.0);
            j += dim;
        }
        for kt in 0..kk {
            let k = kk - 1 - kt;
            let at = (row * kk + k) * n;
            // v'_j = num_j / den_j: q_j = ∂L/∂num_j, r_j = ∂L/∂den_j = −q_j·v'_j.
            let mut j = tid;
            while j < n {
                let vj = saved_v[at + j];
                let mut v_next = out[row * n + j];
                if k + 1 < kk {
                    v_next = saved_v[at + n + j];
                }
                let qj = gv[j] / saved_den[at + j];
                let rj = F::new(0.0) - qj * v_next;
                nf[j] += qj;
                df[j] += rj;
                gc[j] += qj * vj;
                q[j] = qj;
                r[j] = rj;
                vs[j] = vj;
                q_all[at + j] = qj;
                r_all[at + j] = rj;
                j += dim;
            }
            sync_cube();
            // ∂L/∂v_i before the unfold: through cm_t·v_i and every synapse leaving i.
            let mut i = tid;
            while i < n {
                let vi = vs[i];
                let mut acc = q[i] * cm_t[cm_base + i];
                for j in 0..n {
                    let p = j * n + i;
                    let sigma = rec_t[nn + p];
                    let sg = sigmoid::<F>(sigma * (vi - rec_t[2 * nn + p]));
                    let ga = q[j] * rec_t[3 * nn + p] + r[j];
                    acc += ga * rec_t[p] * sg * (one - sg) * sigma;
                }
                gv[i] = acc;
                i += dim;
            }
            sync_cube();
        }
        let mut j = tid;
        while j < n {
            g_nf[row * n + j] = nf[j];
            g_df[row * n + j] = df[j];
            g_cm[row * n + j] = gc[j];
            j += dim;
        }
        // ∂L/∂x_i through the sensory synapses leaving input i.
        let mut i = tid;
        while i < s {
            let xi = x[row * s + i];
            let mut acc = F::new(0.0);
            for j in 0..n {
                let p = j * s + i;
                let sigma = sen_t[sn + p];
                let sg = sigmoid::<F>(sigma * (xi - sen_t[2 * sn + p]));
                let ga = nf[j] * sen_t[3 * sn + p] + df[j];
                acc += ga * sen_t[p] * sg * (one - sg) * sigma;
            }
            g_x[row * s + i] = acc;
            i += dim;
        }
        sync_cube();
    }
    let mut j = tid;
    while j < n {
        g_v0[b * n + j] = gv[j];
        j += dim;
    }
}

#[cube(launch)]
pub(crate) fn synapse_grads_kernel<F: Float>(
    src: &Tensor<F>,         // [rows, sources]: the source values (potentials or inputs)
    q: &Tensor<F>,           // [rows, destinations]: ∂L/∂num
    r: &Tensor<F>,           // [rows, destinations]: ∂L/∂den
    params: &Tensor<F>,      // [4, sources, destinations]: w, sigma, mu, erev
    partial: &mut Tensor<F>, // [chunks, 4, sources, destinations]
    rows: u32,
    sources: u32,
    destinations: u32,
    rows_per_chunk: u32,
    #[define(F)] _dtype: StorageType,
) {
    let nd = destinations as usize;
    let ns = sources as usize;
    let m = ns * nd;
    let idx = ABSOLUTE_POS_X as usize;
    if idx >= m {
        terminate!();
    }
    let i = idx / nd;
    let j = idx % nd;
    let chunk = CUBE_POS_Y as usize;
    let start = chunk * rows_per_chunk as usize;
    let mut end = start + rows_per_chunk as usize;
    if end > rows as usize {
        end = rows as usize;
    }
    let w = params[idx];
    let sigma = params[m + idx];
    let mu = params[2 * m + idx];
    let erev = params[3 * m + idx];
    let one = F::new(1.0);
    let mut gw = F::new(0.0);
    let mut gs = F::new(0.0);
    let mut gm = F::new(0.0);
    let mut ge = F::new(0.0);
    for row in start..end {
        let d = src[row * ns + i] - mu;
        let sg = sigmoid::<F>(sigma * d);
        let qv = q[row * nd + j];
        let ga = qv * erev + r[row * nd + j];
        ge += qv * w * sg;
        gw += ga * sg;
        let gz = ga * w * sg * (one - sg);
        gs += gz * d;
        gm -= gz * sigma;
    }
    let base = chunk * 4 * m;
    partial[base + idx] = gw;
    partial[base + m + idx] = gs;
    partial[base + 2 * m + idx] = gm;
    partial[base + 3 * m + idx] = ge;
}
