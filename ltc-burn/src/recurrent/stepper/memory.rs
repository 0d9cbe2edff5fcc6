//! What a stepper adds around any cell, on slices: ncps's memory cell and the output
//! projection, their weights read out of the layer once.

use burn::nn::Linear;
use burn::tensor::backend::Backend;

use super::StepFloat;
use crate::kernel::cpu::Separate;
use crate::kernel::cpu::into_vec;
use crate::kernel::cpu::linalg::{add_row_times, row_times};
use crate::recurrent::MixedMemory;

/// ncps's LSTM memory cell ([`MixedMemory`]) with its weights read out: `z = x·Wx + bx + h·Wh`,
/// chunked `[i, ig, fg, og]`; `c' = c·σ(fg + 1) + tanh(i)·σ(ig)`, `h' = tanh(c')·σ(og)`.
#[derive(Debug, Clone)]
pub(crate) struct Memory<F> {
    /// `[d_input, 4·d_hidden]`.
    wx: Vec<F>,
    /// `[4·d_hidden]`.
    bx: Vec<F>,
    /// `[d_hidden, 4·d_hidden]`.
    wh: Vec<F>,
    /// Scratch, `[4·d_hidden]`.
    z: Vec<F>,
}

impl<F: StepFloat> Memory<F> {
    pub(crate) fn read<B: Backend>(memory: &MixedMemory<B>) -> Self {
        let four_units = memory.recurrent_map.weight.dims()[1];
        let bx = match &memory.input_map.bias {
            Some(b) => into_vec(b.val()),
            None => vec![F::ZERO; four_units],
        };
        Memory {
            wx: into_vec(memory.input_map.weight.val()),
            bx,
            wh: into_vec(memory.recurrent_map.weight.val()),
            z: vec![F::ZERO; four_units],
        }
    }

    /// One sample's step: `x` the raw input, `h` and `c` (`d_hidden` values each) updated in place.
    pub(crate) fn step(&mut self, x: &[F], h: &mut [F], c: &mut [F]) {
        let n = h.len();
        row_times(x, &self.wx, Some(&self.bx), &mut self.z);
        add_row_times(h, &self.wh, &mut self.z);
        let (i, rest) = self.z.split_at(n);
        let (ig, rest) = rest.split_at(n);
        let (fg, og) = rest.split_at(n);
        let sigmoid = |z: F| F::sigmoid::<Separate>(z);
        for j in 0..n {
            c[j] = c[j] * sigmoid(fg[j] + F::ONE) + F::tanh(i[j]) * sigmoid(ig[j]);
            h[j] = F::tanh(c[j]) * sigmoid(og[j]);
        }
    }
}

/// A layer's output projection (`fc`) with its weights read out: `y = x·W + b`.
#[derive(Debug, Clone)]
pub(crate) struct Projection<F> {
    /// `[d_output of the cell, proj_size]`.
    w: Vec<F>,
    /// `[proj_size]`.
    b: Option<Vec<F>>,
    /// `proj_size`.
    width: usize,
}

impl<F: StepFloat> Projection<F> {
    pub(crate) fn read<B: Backend>(fc: &Linear<B>) -> Self {
        Projection {
            w: into_vec(fc.weight.val()),
            b: fc.bias.as_ref().map(|b| into_vec(b.val())),
            width: fc.weight.dims()[1],
        }
    }

    /// Outputs per sample.
    pub(crate) fn width(&self) -> usize {
        self.width
    }

    /// One sample's outputs `y` from the cell's `x`.
    pub(crate) fn apply(&self, x: &[F], y: &mut [F]) {
        row_times(x, &self.w, self.b.as_deref(), y);
    }
}
