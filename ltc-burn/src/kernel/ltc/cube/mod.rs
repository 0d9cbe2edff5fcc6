//! The fused unfold on CubeCL backends: the whole unfold loop of a sequence as one GPU
//! dispatch, and a backward pass that recomputes the synapse activations from the saved
//! potentials. Registered for `ltc_burn::backend::Wgpu`; [`unfold`] and [`unfold_tracked`]
//! work on any `CubeBackend` and can be [registered](crate::kernel::register) for another.
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

use std::sync::Arc;

use burn::backend::Autodiff;
use burn::backend::wgpu::WgpuRuntime;
use burn::tensor::backend::Backend;
use burn::tensor::{Shape, Tensor, TensorPrimitive};
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime, FloatElement, IntElement};
use cubecl::prelude::{CubeCount, CubeDim};

use super::{Parents, UnfoldConstants, UnfoldInputs, output};
use crate::kernel::autodiff::{CustomOp, Primitive, apply, apply_inner};

mod kernels;

use kernels::{backward_kernel, forward_kernel, synapse_grads_kernel};

/// Burn's wgpu backend without kernel fusion, `f32` (`ltc_burn::backend::Wgpu`): the CubeCL
/// backend the kernel is registered for.
pub(crate) type WgpuCube = CubeBackend<WgpuRuntime, f32, i32, u32>;

/// Most threads per cube; past it, threads stride over the neurons.
const MAX_THREADS: usize = 256;

/// Steps of the sequence per dispatch: a long sequence runs as several dispatches of at most
/// this many steps, each starting where the previous one stopped. One dispatch over thousands
/// of steps runs for seconds, past what drivers allow a single dispatch (Windows' 2-second
/// TDR); on Mesa's lavapipe such a dispatch silently stopped part-way (10,000 steps: the later
/// outputs were never written).
pub const STEPS_PER_DISPATCH: usize = 128;

/// Most neurons the kernels take: their shared arrays (seven of `units` values in the
/// backward) must fit a workgroup's shared memory on every GPU (28 KiB here, under Metal's
/// 32 KiB). Larger layers take the plain path.
pub const MAX_UNITS: usize = 1024;

/// `units` rounded up to whole warps: the shared arrays' length (a compile-time constant of
/// the kernel, so one compilation per size class).
fn capacity(units: usize) -> usize {
    units.div_ceil(32) * 32
}

type Inner<R, F, I, BT> = CubeBackend<R, F, I, BT>;
type Tracked<R, F, I, BT> = Autodiff<Inner<R, F, I, BT>>;

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
struct CubeInputs<B: Backend> {
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

impl<B: Backend> CubeInputs<B> {
    /// From the 13 inputs in [`UnfoldInputs::into_parts`]'s order.
    fn new(parents: [Primitive<B>; 13], c: UnfoldConstants<B>) -> Self {
        let p = Parents::from_array(parents);
        let four =
            |params: [Primitive<B>; 4]| Tensor::stack::<3>(params.map(tensor::<B, 2>).into(), 0);
        let gleak: Tensor<B, 1> = tensor(p.gleak);
        let leak = Tensor::stack::<2>(vec![gleak.add_scalar(c.epsilon), tensor(p.gleak_vleak)], 0);
        let (batch, seq, s, n) = c.sizes;
        CubeInputs {
            sizes: (batch, seq, s, n, c.unfolds),
            x: tensor(p.x),
            v0: tensor(p.v0),
            cm_t: tensor(p.cm_t),
            rec: four(p.recurrent),
            sen: four(p.sensory),
            leak,
            recurrent_mask: c.recurrent_mask,
            sensory_mask: c.sensory_mask,
        }
    }
}

/// What the kernel's forward gives: the potentials after every step and, when saved, the
/// potentials before and the denominators of every unfold.
type ForwardOut<B> = (Tensor<B, 3>, Option<(Tensor<B, 4>, Tensor<B, 4>)>);

fn launch_forward<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement>(
    p: &CubeInputs<Inner<R, F, I, BT>>,
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
struct CubeSaved<B: Backend> {
    inputs: CubeInputs<B>,
    out: Tensor<B, 3>,
    saved_v: Tensor<B, 4>,
    saved_den: Tensor<B, 4>,
}

/// The fused unfold on a CubeCL backend, as a [`CustomOp`]: the constants of one call.
#[derive(Debug)]
struct CubeUnfold<B: Backend> {
    constants: UnfoldConstants<B>,
}

impl<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement>
    CustomOp<Inner<R, F, I, BT>, 13> for CubeUnfold<Inner<R, F, I, BT>>
{
    type Saved = Arc<CubeSaved<Inner<R, F, I, BT>>>;

    fn forward(
        self,
        inputs: [CubeTensor<R>; 13],
        save: bool,
    ) -> (CubeTensor<R>, Option<Self::Saved>) {
        let inputs = CubeInputs::new(inputs, self.constants);
        let (out, saved) = launch_forward(&inputs, save);
        let saved = saved.map(|(saved_v, saved_den)| {
            Arc::new(CubeSaved {
                inputs,
                out: out.clone(),
                saved_v,
                saved_den,
            })
        });
        (cube(out), saved)
    }

    fn backward(
        saved: Self::Saved,
        grad: CubeTensor<R>,
        wanted: [bool; 13],
    ) -> [Option<CubeTensor<R>>; 13] {
        type B<R, F, I, BT> = Inner<R, F, I, BT>;
        let grad_out = grad;
        let p = &saved.inputs;
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
        let mut wanted = wanted.into_iter();
        all.map(|grad| wanted.next().unwrap_or(false).then_some(grad))
    }
}

/// Whether the kernels take these inputs (see [`MAX_UNITS`]).
fn fits<B: Backend>(inputs: &UnfoldInputs<B>) -> bool {
    inputs.params.gleak.dims()[0] <= MAX_UNITS
}

/// The fused unfold on the CubeCL backend `CubeBackend<R, F, I, BT>` (no autodiff): one
/// dispatch per [`STEPS_PER_DISPATCH`] steps; `None` past [`MAX_UNITS`] neurons.
pub fn unfold<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement>(
    inputs: UnfoldInputs<Inner<R, F, I, BT>>,
) -> Option<Tensor<Inner<R, F, I, BT>, 3>> {
    if !fits(&inputs) {
        return None;
    }
    let (parents, constants) = inputs.into_parts();
    Some(output(apply_inner(CubeUnfold { constants }, parents)))
}

/// The fused unfold on `Autodiff<CubeBackend<R, F, I, BT>>`, with the kernels' backward;
/// `None` past [`MAX_UNITS`] neurons.
pub fn unfold_tracked<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement>(
    inputs: UnfoldInputs<Tracked<R, F, I, BT>>,
) -> Option<Tensor<Tracked<R, F, I, BT>, 3>> {
    if !fits(&inputs) {
        return None;
    }
    let (parents, constants) = inputs.into_parts();
    Some(output(apply(
        CubeUnfold {
            constants: constants.inner(),
        },
        parents,
    )))
}
