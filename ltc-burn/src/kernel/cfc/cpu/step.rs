//! One step of one sample at a time, for the prepared steppers.

use super::elementwise::closed_form;
use super::{Act, CfcDims, Layout, Mode};
use crate::kernel::cpu::isa::{self, Isa, per_isa};
use crate::kernel::cpu::linalg::row_times;
use crate::kernel::cpu::{MulAdd, Real};

/// A cell prepared for streaming, one sample and one step at a time ([`crate::cfc::CfcStepper`]):
/// the parameters laid out by [`Layout`], and scratch space for the layers.
#[derive(Debug, Clone)]
pub(crate) struct CfcStepKernel<F> {
    dims: CfcDims,
    mode: Mode,
    act: Act,
    layout: Layout,
    theta: Vec<F>,
    /// `[x, h]`, each backbone layer's pre-activations and activations, the heads, `h'`.
    z: Vec<F>,
    pre: Vec<F>,
    post: Vec<F>,
    heads: Vec<F>,
    next: Vec<F>,
    isa: Isa,
}

impl<F: Real> CfcStepKernel<F> {
    /// `dims` gives the sizes (its `batch` and `seq` are not read); `theta` is laid out by
    /// [`Layout`].
    ///
    /// # Panics
    /// If `theta` has the wrong length.
    pub(crate) fn new(dims: CfcDims, mode: Mode, act: Act, theta: Vec<F>) -> Self {
        let layout = Layout::new(dims, mode);
        assert_eq!(theta.len(), layout.len, "cfc step: theta");
        let zeros = |len| vec![F::ZERO; len];
        CfcStepKernel {
            z: zeros(dims.inputs + dims.hidden),
            pre: zeros(dims.units),
            post: zeros(dims.units),
            heads: zeros(mode.heads() * dims.hidden),
            next: zeros(dims.hidden),
            dims,
            mode,
            act,
            layout,
            theta,
            isa: isa::isa(),
        }
    }

    /// One step of one sample: `x` its input, `h` its state (updated in place), `dt` the
    /// elapsed time.
    ///
    /// # Panics
    /// If a length does not match.
    pub(crate) fn step(&mut self, x: &[F], h: &mut [F], dt: F) {
        assert_eq!(x.len(), self.dims.inputs, "cfc step: x");
        assert_eq!(h.len(), self.dims.hidden, "cfc step: h");
        step_one_on(self.isa, self, x, h, dt);
    }
}

per_isa! {
    /// One step of one sample ([`step_one`]) in the copy compiled for `isa`.
    fn step_one_on = step_one(p: &mut CfcStepKernel<F>, x: &[F], h: &mut [F], dt: F);
}

/// [`CfcStepKernel::step`]'s work: `z₀ = [x, h]`, each layer one pass over its weight rows
/// ([`row_times`]), the closed form. The products and the closed form make no separate
/// multiply-adds: `M` is not used, the copy per instruction set still vectorises the row loops
/// for its registers.
#[inline(always)]
#[allow(clippy::extra_unused_type_parameters)]
fn step_one<F: Real, M: MulAdd>(p: &mut CfcStepKernel<F>, x: &[F], h: &mut [F], dt: F) {
    let CfcStepKernel {
        dims,
        mode,
        act,
        layout,
        theta,
        z,
        pre,
        post,
        heads,
        next,
        ..
    } = p;
    let s = dims.inputs;
    z[..s].copy_from_slice(x);
    z[s..].copy_from_slice(h);
    let mut input: &[F] = z;
    for (k, layer) in layout.dense.iter().enumerate() {
        let w = &theta[layer.w..layer.w + layer.d_in * layer.d_out];
        let b = &theta[layer.b..layer.b + layer.d_out];
        if k == dims.layers {
            row_times(input, w, Some(b), heads);
        } else {
            row_times(input, w, Some(b), pre);
            act.apply(pre, post);
            input = post;
        }
    }
    closed_form(*mode, layout, theta, heads, dt, next);
    h.copy_from_slice(next);
}
