//! The fused unfold on CubeCL backends (wgpu): the whole unfold loop of a sequence as one GPU
//! dispatch, and a backward pass that recomputes the synapse activations from the saved
//! potentials.
//!
//! - **Forward** (`forward_kernel`): one cube (workgroup) per sample, one thread per destination
//!   neuron (threads stride over the neurons past 256). The potentials live in shared memory;
//!   each unfold reads every synapse once (coalesced over destinations) and two barriers separate
//!   the unfolds. Under autodiff it also writes the potentials before and the denominators of
//!   every unfold, `[batch, seq, unfolds, units]`: what the backward needs, O(B·N·K·L).
//! - **Backward state** (`backward_kernel`): the reverse sweep, again one cube per sample. Per
//!   unfold, each destination's `q = ∂L/∂num` and `r = ∂L/∂den` go to shared memory and, after a
//!   barrier, each source sums its gradient over its outgoing synapses (reading the transposed
//!   parameters, coalesced over sources). It writes `q`, `r` of every unfold and the sensory
//!   sums' gradients of every step, plus `∂L/∂x` and `∂L/∂v0`.
//! - **Parameter gradients** (`synapse_grads_kernel`): one thread per synapse (and per chunk of
//!   rows), summing its four gradients over every (sample, step, unfold) from the saved
//!   potentials and `q`, `r`; the chunks' partial sums are added with tensor ops. The same kernel
//!   serves the sensory synapses (rows = (sample, step), sources = the inputs).
//!
//! Everything else (packing the parameters, summing the leak and capacitance gradients) is
//! plain tensor operations on the inner backend.

use std::sync::Arc;

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::wgpu::WgpuRuntime;
use burn::tensor::backend::Backend;
use burn::tensor::{Shape, Tensor, TensorPrimitive};
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime, FloatElement, IntElement};
use cubecl::prelude::{CubeCount, CubeDim};

use super::{FusedUnfold, SynapseTensors, UnfoldInputs, UnfoldParams};

/// The CubeCL backends the dispatch in [`super::unfold`] knows: Burn's wgpu backend without
/// kernel fusion, `f32`.
pub(crate) type WgpuCube = CubeBackend<WgpuRuntime, f32, i32, u32>;

/// Runs `$body` with `$C` bound to the backend type `B` is, among the CubeCL backends with a
/// fused kernel; falls through otherwise.
macro_rules! with_cube_backend {
    ($B:ty, $C:ident => $body:expr) => {
        $crate::ltc::fused::with_backend_in!($B, $C => $body;
            $crate::ltc::fused::cube::WgpuCube,
            burn::backend::Autodiff<$crate::ltc::fused::cube::WgpuCube>)
    };
}
pub(crate) use with_cube_backend;

/// Whether `B` is a CubeCL backend with the fused kernel.
pub(crate) fn has_cube_kernel<B: Backend>() -> bool {
    (|| {
        with_cube_backend!(B, C => true);
        false
    })()
}

/// Most threads per cube; past it, threads stride over the neurons.
const MAX_THREADS: usize = 256;

/// Steps of the sequence per dispatch: a long sequence runs as several dispatches of at most
/// this many steps, each starting where the previous one stopped. One dispatch over thousands
/// of steps runs for seconds, past what drivers allow a single dispatch (Windows' 2-second
/// TDR); on Mesa's lavapipe such a dispatch silently stopped part-way (10,000 steps: the later
/// outputs were never written).
const STEPS_PER_DISPATCH: usize = 128;

/// Most neurons the kernels take: their shared arrays (seven of `units` values in the
/// backward) must fit a workgroup's shared memory on every GPU (28 KiB here, under Metal's
/// 32 KiB). Larger layers take the plain path.
pub(crate) const MAX_UNITS: usize = 1024;

/// Whether the kernels take these inputs (see [`MAX_UNITS`]).
fn fits<B: Backend>(inputs: &UnfoldInputs<B>) -> bool {
    inputs.params.gleak.dims()[0] <= MAX_UNITS
}

/// `units` rounded up to whole warps: the shared arrays' length (a compile-time constant of
/// the kernel, so one compilation per size class).
fn capacity(units: usize) -> usize {
    units.div_ceil(32) * 32
}

/// The kernels, in CubeCL's Rust dialect.
mod kernels {
    use cubecl::prelude::*;

    #[cube]
    fn sigmoid<F: Float>(z: F) -> F {
        F::new(1.0) / (F::new(1.0) + F::exp(F::new(0.0) - z))
    }

    #[cube(launch)]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn forward_kernel<F: Float>(
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
                    let a =
                        sen[at] * sigmoid::<F>(sen[sn + at] * (x[row * s + i] - sen[2 * sn + at]));
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
    pub(super) fn backward_kernel<F: Float>(
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
    pub(super) fn synapse_grads_kernel<F: Float>(
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
}

use kernels::{backward_kernel, forward_kernel, synapse_grads_kernel};

type Inner<R, F, I, BT> = CubeBackend<R, F, I, BT>;

fn cube<B: Backend, const D: usize>(t: Tensor<B, D>) -> B::FloatTensorPrimitive {
    t.into_primitive().tensor()
}

fn tensor<B: Backend, const D: usize>(t: B::FloatTensorPrimitive) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(t))
}

/// A new contiguous tensor like `like`'s device and float type.
fn empty<R: CubeRuntime>(like: &CubeTensor<R>, shape: Vec<usize>) -> CubeTensor<R> {
    empty_device_dtype::<R>(
        like.client.clone(),
        like.device.clone(),
        Shape::from(shape),
        like.dtype,
    )
}

/// A contiguous copy (or the tensor itself when it already is).
fn contiguous<R: CubeRuntime>(t: CubeTensor<R>) -> CubeTensor<R> {
    burn_cubecl::kernel::into_contiguous(t)
}

/// The unfold's inputs on the inner backend, packed for the kernels.
#[derive(Debug, Clone)]
struct Packed<B: Backend> {
    /// `(batch, seq, inputs, units, unfolds)`.
    sizes: (usize, usize, usize, usize, usize),
    x: Tensor<B, 3>,
    v0: Tensor<B, 2>,
    cm_t: Tensor<B, 3>,
    /// `[4, units, units]`.
    rec: Tensor<B, 3>,
    /// `[4, inputs, units]`.
    sen: Tensor<B, 3>,
    /// `[2, units]`: `gleak + ε`, `gleak·vleak`.
    leak: Tensor<B, 2>,
    recurrent_mask: Tensor<B, 2>,
    sensory_mask: Tensor<B, 2>,
}

fn stack4<B: Backend>(p: SynapseTensors<B>) -> Tensor<B, 3> {
    Tensor::stack::<3>(vec![p.w, p.sigma, p.mu, p.erev], 0)
}

impl<B: Backend> Packed<B> {
    fn new(inputs: UnfoldInputs<B>) -> Self {
        let (batch, seq, s, n) = inputs.sizes();
        let p: UnfoldParams<B> = inputs.params;
        let leak = Tensor::stack::<2>(vec![p.gleak.add_scalar(p.epsilon), p.gleak_vleak], 0);
        Packed {
            sizes: (batch, seq, s, n, p.unfolds),
            x: inputs.x,
            v0: inputs.v0,
            cm_t: inputs.cm_t,
            rec: stack4(p.recurrent),
            sen: stack4(p.sensory),
            leak,
            recurrent_mask: p.recurrent_mask,
            sensory_mask: p.sensory_mask,
        }
    }
}

/// What the kernel's forward gives: the potentials after every step and, when saved, the
/// potentials before and the denominators of every unfold.
type ForwardOut<B> = (Tensor<B, 3>, Option<(Tensor<B, 4>, Tensor<B, 4>)>);

fn launch_forward<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement>(
    p: &Packed<Inner<R, F, I, BT>>,
    save: bool,
) -> ForwardOut<Inner<R, F, I, BT>> {
    let (batch, seq, s, n, k) = p.sizes;
    let x = contiguous(cube(p.x.clone()));
    let out = empty(&x, vec![batch, seq, n]);
    let saved_shape = if save {
        vec![batch, seq, k, n]
    } else {
        vec![1, 1, 1, 1]
    };
    let saved_v = empty(&x, saved_shape.clone());
    let saved_den = empty(&x, saved_shape);
    if batch * seq > 0 {
        let cap = capacity(n);
        let client = x.client.clone();
        let dtype = x.dtype;
        let v0 = contiguous(cube(p.v0.clone()));
        let cm_t = contiguous(cube(p.cm_t.clone()));
        let rec = contiguous(cube(p.rec.clone()));
        let sen = contiguous(cube(p.sen.clone()));
        let leak = contiguous(cube(p.leak.clone()));
        for start in (0..seq).step_by(STEPS_PER_DISPATCH) {
            let end = (start + STEPS_PER_DISPATCH).min(seq);
            forward_kernel::launch::<R>(
                &client,
                CubeCount::Static(batch as u32, 1, 1),
                CubeDim::new_1d(cap.min(MAX_THREADS) as u32),
                x.clone().into_tensor_arg(),
                v0.clone().into_tensor_arg(),
                cm_t.clone().into_tensor_arg(),
                rec.clone().into_tensor_arg(),
                sen.clone().into_tensor_arg(),
                leak.clone().into_tensor_arg(),
                out.clone().into_tensor_arg(),
                saved_v.clone().into_tensor_arg(),
                saved_den.clone().into_tensor_arg(),
                seq as u32,
                s as u32,
                n as u32,
                k as u32,
                u32::from(p.cm_t.dims()[0] != 1 || p.cm_t.dims()[1] != 1),
                u32::from(save),
                start as u32,
                end as u32,
                cap as u32,
                dtype.into(),
            );
        }
    }
    let saved = save.then(|| (tensor(saved_v), tensor(saved_den)));
    (tensor(out), saved)
}

/// `Σ` over the rows of every synapse's four parameter gradients, `[4, sources,
/// destinations]`, given the source values `[rows, sources]` and `q`, `r` `[rows,
/// destinations]`.
fn synapse_grads<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement>(
    src: Tensor<Inner<R, F, I, BT>, 2>,
    q: Tensor<Inner<R, F, I, BT>, 2>,
    r: Tensor<Inner<R, F, I, BT>, 2>,
    params: Tensor<Inner<R, F, I, BT>, 3>,
) -> Tensor<Inner<R, F, I, BT>, 3> {
    let [rows, sources] = src.dims();
    let destinations = q.dims()[1];
    let synapses = sources * destinations;
    if rows == 0 || synapses == 0 {
        return params.zeros_like();
    }
    // Enough chunks of rows to give the GPU ~64k threads, each summing at least 16 rows.
    let chunks = (65_536 / synapses).clamp(1, rows.div_ceil(16).max(1));
    let rows_per_chunk = rows.div_ceil(chunks);
    let chunks = rows.div_ceil(rows_per_chunk);
    let src = contiguous(cube(src));
    let partial = empty(&src, vec![chunks, 4, sources, destinations]);
    let client = src.client.clone();
    let dtype = src.dtype;
    let threads = 256;
    synapse_grads_kernel::launch::<R>(
        &client,
        CubeCount::Static(synapses.div_ceil(threads) as u32, chunks as u32, 1),
        CubeDim::new_1d(threads as u32),
        src.into_tensor_arg(),
        contiguous(cube(q)).into_tensor_arg(),
        contiguous(cube(r)).into_tensor_arg(),
        contiguous(cube(params)).into_tensor_arg(),
        partial.clone().into_tensor_arg(),
        rows as u32,
        sources as u32,
        destinations as u32,
        rows_per_chunk as u32,
        dtype.into(),
    );
    tensor::<_, 4>(partial)
        .sum_dim(0)
        .reshape([4, sources, destinations])
}

/// What the backward pass keeps: the packed inputs and the forward's output, per-unfold
/// potentials and denominators (no synapse activations).
#[derive(Debug, Clone)]
struct Saved<B: Backend> {
    packed: Packed<B>,
    out: Tensor<B, 3>,
    saved_v: Tensor<B, 4>,
    saved_den: Tensor<B, 4>,
}

/// The autodiff node of the fused unfold on a CubeCL backend.
#[derive(Debug)]
struct CubeUnfoldBackward;

impl<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement>
    super::UnfoldKernel<Inner<R, F, I, BT>> for CubeUnfoldBackward
{
    fn run(
        inputs: UnfoldInputs<Inner<R, F, I, BT>>,
        save: bool,
    ) -> (Tensor<Inner<R, F, I, BT>, 3>, Option<Self::State>) {
        let packed = Packed::new(inputs);
        let (out, saved) = launch_forward(&packed, save);
        let state = saved.map(|(saved_v, saved_den)| {
            Arc::new(Saved {
                packed,
                out: out.clone(),
                saved_v,
                saved_den,
            })
        });
        (out, state)
    }
}

impl<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement>
    Backward<Inner<R, F, I, BT>, 13> for CubeUnfoldBackward
{
    type State = Arc<Saved<Inner<R, F, I, BT>>>;

    fn backward(
        self,
        ops: Ops<Self::State, 13>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        type B<R, F, I, BT> = Inner<R, F, I, BT>;
        let saved = ops.state;
        let grad_out = grads.consume::<B<R, F, I, BT>>(&ops.node);
        let p = &saved.packed;
        let (batch, seq, s, n, k) = p.sizes;
        let grad_out = contiguous(grad_out);
        let q_all = empty(&grad_out, vec![batch, seq, k, n]);
        let r_all = empty(&grad_out, vec![batch, seq, k, n]);
        let g_nf = empty(&grad_out, vec![batch, seq, n]);
        let g_df = empty(&grad_out, vec![batch, seq, n]);
        let g_cm = empty(&grad_out, vec![batch, seq, n]);
        let g_x = empty(&grad_out, vec![batch, seq, s]);
        let g_v0 = empty(&grad_out, vec![batch, n]);
        let cm_shared = p.cm_t.dims()[0] == 1 && p.cm_t.dims()[1] == 1;
        if batch * seq > 0 {
            let cap = capacity(n);
            let client = grad_out.client.clone();
            let dtype = grad_out.dtype;
            let grad_out = grad_out.clone();
            let x = contiguous(cube(p.x.clone()));
            let cm_t = contiguous(cube(p.cm_t.clone()));
            let transposed =
                |t: &Tensor<B<R, F, I, BT>, 3>| contiguous(cube(t.clone().swap_dims(1, 2)));
            let (rec_t, sen_t) = (transposed(&p.rec), transposed(&p.sen));
            let out = contiguous(cube(saved.out.clone()));
            let saved_v = contiguous(cube(saved.saved_v.clone()));
            let saved_den = contiguous(cube(saved.saved_den.clone()));
            // Last chunk of steps first; each dispatch hands ∂L/∂v on through `g_v0`.
            let starts: Vec<usize> = (0..seq).step_by(STEPS_PER_DISPATCH).collect();
            for &start in starts.iter().rev() {
                let end = (start + STEPS_PER_DISPATCH).min(seq);
                backward_kernel::launch::<R>(
                    &client,
                    CubeCount::Static(batch as u32, 1, 1),
                    CubeDim::new_1d(cap.min(MAX_THREADS) as u32),
                    grad_out.clone().into_tensor_arg(),
                    x.clone().into_tensor_arg(),
                    cm_t.clone().into_tensor_arg(),
                    rec_t.clone().into_tensor_arg(),
                    sen_t.clone().into_tensor_arg(),
                    out.clone().into_tensor_arg(),
                    saved_v.clone().into_tensor_arg(),
                    saved_den.clone().into_tensor_arg(),
                    q_all.clone().into_tensor_arg(),
                    r_all.clone().into_tensor_arg(),
                    g_nf.clone().into_tensor_arg(),
                    g_df.clone().into_tensor_arg(),
                    g_cm.clone().into_tensor_arg(),
                    g_x.clone().into_tensor_arg(),
                    g_v0.clone().into_tensor_arg(),
                    seq as u32,
                    s as u32,
                    n as u32,
                    k as u32,
                    u32::from(!cm_shared),
                    start as u32,
                    end as u32,
                    cap as u32,
                    dtype.into(),
                );
            }
        }
        let (g_nf, g_df) = (tensor::<_, 3>(g_nf), tensor::<_, 3>(g_df));
        let rows = batch * seq;
        let g_cm_t = tensor::<_, 3>(g_cm).add(g_df.clone());
        let g_cm_t = if cm_shared {
            g_cm_t.reshape([1, rows, n]).sum_dim(1)
        } else {
            g_cm_t
        };
        let rec = synapse_grads(
            saved.saved_v.clone().reshape([rows * k, n]),
            tensor::<_, 4>(q_all).reshape([rows * k, n]),
            tensor::<_, 4>(r_all).reshape([rows * k, n]),
            p.rec.clone(),
        );
        let sen = synapse_grads(
            p.x.clone().reshape([rows, s]),
            g_nf.clone().reshape([rows, n]),
            g_df.clone().reshape([rows, n]),
            p.sen.clone(),
        );
        // Gradients of the four populations' parameters, the conductances' masked (no
        // gradient where there is no synapse, as on the CPU).
        let split = |g: Tensor<B<R, F, I, BT>, 3>, mask: &Tensor<B<R, F, I, BT>, 2>| {
            let [_, a, b] = g.dims();
            let part = |i: usize| g.clone().narrow(0, i, 1).reshape([a, b]);
            [part(0).mul(mask.clone()), part(1), part(2), part(3)]
        };
        let [rw, rsigma, rmu, rerev] = split(rec, &p.recurrent_mask);
        let [sw, ssigma, smu, serev] = split(sen, &p.sensory_mask);
        let leak_sum = |g: Tensor<B<R, F, I, BT>, 3>| g.reshape([rows, n]).sum_dim(0).reshape([n]);
        let all: [CubeTensor<R>; 13] = [
            g_x,
            g_v0,
            cube(g_cm_t),
            cube(rw),
            cube(rsigma),
            cube(rmu),
            cube(rerev),
            cube(sw),
            cube(ssigma),
            cube(smu),
            cube(serev),
            cube(leak_sum(g_df)),
            cube(leak_sum(g_nf)),
        ];
        for (parent, grad) in ops.parents.iter().zip(all) {
            if let Some(parent) = parent {
                grads.register::<B<R, F, I, BT>>(parent.id, grad);
            }
        }
    }
}

impl<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement> FusedUnfold
    for Inner<R, F, I, BT>
{
    fn fused_unfold(inputs: UnfoldInputs<Self>) -> Tensor<Self, 3> {
        if !fits(&inputs) {
            return super::unfold_reference(inputs);
        }
        launch_forward(&Packed::new(inputs), false).0
    }
}

impl<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement> FusedUnfold
    for Autodiff<Inner<R, F, I, BT>>
{
    fn fused_unfold(inputs: UnfoldInputs<Self>) -> Tensor<Self, 3> {
        if !fits(&inputs) {
            return super::unfold_reference(inputs);
        }
        super::tracked(inputs, CubeUnfoldBackward)
    }
}
