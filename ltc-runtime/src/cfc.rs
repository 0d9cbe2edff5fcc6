//! The CfC: a backbone of dense layers, the heads, the closed form of every mode. A wired CfC
//! runs one of these (no backbone) per wiring layer.

use crate::error::FormatError;
use crate::format::{Activation, Mode};
use crate::math::{erf, exp, row_times, sigmoid, tanh};
use crate::read::{Floats, Reader};

/// A CfC's parameters, laid out as ltc-burn's CPU kernel lays them out: each backbone layer's
/// weight `[in, units]` and bias, the heads' weight `[d, heads·hidden]` and bias, and in pure
/// mode `w_tau` and `A`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cfc<'a> {
    mode: Mode,
    act: Activation,
    /// Width of `z = [x, h]` (a wired layer: of everything it reads, its own old state last).
    z: usize,
    hidden: usize,
    units: usize,
    layers: usize,
    theta: Floats<'a>,
}

/// `a·b`, or an error naming `field`.
pub(crate) fn product(field: &'static str, a: usize, b: usize) -> Result<usize, FormatError> {
    a.checked_mul(b).ok_or(FormatError::Invalid {
        field,
        value: a,
        limit: usize::MAX / b.max(1),
    })
}

impl<'a> Cfc<'a> {
    /// Reads the parameters of a CfC over `z` inputs (the step input and the state side by
    /// side) with `hidden` state values.
    pub(crate) fn read(
        r: &mut Reader<'a>,
        mode: Mode,
        act: Activation,
        [z, hidden, units, layers]: [usize; 4],
    ) -> Result<Self, FormatError> {
        let mut len = 0usize;
        let mut d_in = z;
        for _ in 0..layers {
            len = len.saturating_add(product("backbone size", d_in + 1, units)?);
            d_in = units;
        }
        let heads = product("heads", mode.heads(), hidden)?;
        len = len.saturating_add(product("heads size", d_in + 1, heads)?);
        if mode == Mode::Pure {
            len = len.saturating_add(2 * hidden);
        }
        Ok(Cfc {
            mode,
            act,
            z,
            hidden,
            units,
            layers,
            theta: r.floats(len)?,
        })
    }

    /// Scratch values an update needs: two backbone rows and the heads.
    pub(crate) fn scratch_len(&self) -> usize {
        2 * self.units + self.mode.heads() * self.hidden
    }

    /// Width of `z`.
    pub(crate) fn z_len(&self) -> usize {
        self.z
    }

    /// Scratch values a [`step`](Self::step) needs: `z = [x, h]`, the new state, an update's.
    pub(crate) fn step_scratch_len(&self) -> usize {
        self.z + self.hidden + self.scratch_len()
    }

    /// One step of a plain CfC: `h` (updated) from `x` and `dt`; the output `out` is the new
    /// state.
    pub(crate) fn step(
        &self,
        x: &[f32],
        h: &mut [f32],
        dt: f32,
        scratch: &mut [f32],
        out: &mut [f32],
    ) {
        let (z, rest) = scratch.split_at_mut(self.z);
        let (next, rest) = rest.split_at_mut(self.hidden);
        let (z_x, z_h) = z.split_at_mut(x.len());
        z_x.copy_from_slice(x);
        z_h.copy_from_slice(h);
        self.update(z, dt, rest, next);
        h.copy_from_slice(next);
        out.copy_from_slice(next);
    }

    /// The new state `next` (`hidden` values) from `z` and the elapsed time `dt`.
    pub(crate) fn update(&self, z: &[f32], dt: f32, scratch: &mut [f32], next: &mut [f32]) {
        let (pre, rest) = scratch.split_at_mut(self.units);
        let (post, rest) = rest.split_at_mut(self.units);
        let heads = &mut rest[..self.mode.heads() * self.hidden];
        let mut at = 0;
        let mut dense = |d_in: usize, d_out: usize| {
            let w = self.theta.range(at, d_in * d_out);
            let b = self.theta.range(at + d_in * d_out, d_out);
            at += (d_in + 1) * d_out;
            (w, b)
        };
        let mut d_in = self.z;
        for k in 0..self.layers {
            let (w, b) = dense(d_in, self.units);
            row_times(if k == 0 { z } else { post }, w, Some(b), pre);
            activate(self.act, pre, post);
            d_in = self.units;
        }
        let (w, b) = dense(d_in, heads.len());
        row_times(if self.layers == 0 { z } else { post }, w, Some(b), heads);
        let h = self.hidden;
        match self.mode {
            Mode::Pure => {
                let w_tau = self.theta.range(at, h);
                let a = self.theta.range(at + h, h);
                let each = next
                    .iter_mut()
                    .zip(heads.iter())
                    .zip(w_tau.iter().zip(a.iter()));
                for ((out, &ff), (w_tau, a)) in each {
                    let e = exp(-((ff.abs() + w_tau.abs()) * dt));
                    *out = -a * e * ff + a;
                }
            }
            Mode::Gated | Mode::NoGate => {
                let (ff1, rest) = heads.split_at(h);
                let (ff2, rest) = rest.split_at(h);
                let (ta, tb) = rest.split_at(h);
                let complement = if self.mode == Mode::Gated { 1.0 } else { 0.0 };
                for j in 0..h {
                    let (f1, f2) = (tanh(ff1[j]), tanh(ff2[j]));
                    let g = sigmoid(ta[j] * dt + tb[j]);
                    next[j] = f1 * (1.0 - complement * g) + g * f2;
                }
            }
        }
    }
}

/// `post = act(pre)`.
fn activate(act: Activation, pre: &[f32], post: &mut [f32]) {
    let each = |f: fn(f32) -> f32, post: &mut [f32]| {
        post.iter_mut().zip(pre).for_each(|(y, &x)| *y = f(x));
    };
    match act {
        Activation::LecunTanh => each(|x| 1.7159 * tanh(0.666 * x), post),
        Activation::Silu => each(|x| x * sigmoid(x), post),
        Activation::Relu => each(|x| x.max(0.0), post),
        Activation::Tanh => each(tanh, post),
        Activation::Gelu => each(
            |x| x * 0.5 * (1.0 + erf(x * core::f32::consts::FRAC_1_SQRT_2)),
            post,
        ),
    }
}
