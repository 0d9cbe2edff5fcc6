//! What wraps any cell: ncps's LSTM memory cell before it, a linear projection after it.

use crate::cfc::product;
use crate::error::FormatError;
use crate::math::{add_row_times, row_times, sigmoid, tanh};
use crate::read::{Floats, Reader};

/// ncps's memory cell: `z = x·Wx + bx + h·Wh`, chunked `[i, ig, fg, og]`;
/// `c' = c·σ(fg + 1) + tanh(i)·σ(ig)`, `h' = tanh(c')·σ(og)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Memory<'a> {
    wx: Floats<'a>,
    bx: Floats<'a>,
    wh: Floats<'a>,
}

impl<'a> Memory<'a> {
    pub(crate) fn read(
        r: &mut Reader<'a>,
        inputs: usize,
        units: usize,
    ) -> Result<Self, FormatError> {
        let four = product("memory width", 4, units)?;
        Ok(Memory {
            wx: r.floats(product("memory Wx", inputs, four)?)?,
            bx: r.floats(four)?,
            wh: r.floats(product("memory Wh", units, four)?)?,
        })
    }

    /// `4·units` scratch values.
    pub(crate) fn scratch_len(&self) -> usize {
        self.bx.len()
    }

    /// `h` and `c` updated in place from the raw input `x`.
    pub(crate) fn step(&self, x: &[f32], h: &mut [f32], c: &mut [f32], z: &mut [f32]) {
        let n = h.len();
        let z = &mut z[..4 * n];
        row_times(x, self.wx, Some(self.bx), z);
        add_row_times(h, self.wh, z);
        let (i, rest) = z.split_at(n);
        let (ig, rest) = rest.split_at(n);
        let (fg, og) = rest.split_at(n);
        for j in 0..n {
            c[j] = c[j] * sigmoid(fg[j] + 1.0) + tanh(i[j]) * sigmoid(ig[j]);
            h[j] = tanh(c[j]) * sigmoid(og[j]);
        }
    }
}

/// `y = x·W + b`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Projection<'a> {
    w: Floats<'a>,
    b: Floats<'a>,
}

impl<'a> Projection<'a> {
    pub(crate) fn read(
        r: &mut Reader<'a>,
        inputs: usize,
        outputs: usize,
    ) -> Result<Self, FormatError> {
        Ok(Projection {
            w: r.floats(product("projection", inputs, outputs)?)?,
            b: r.floats(outputs)?,
        })
    }

    pub(crate) fn apply(&self, x: &[f32], y: &mut [f32]) {
        row_times(x, self.w, Some(self.b), y);
    }
}
