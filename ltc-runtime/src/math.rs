//! The scalar functions the cells need, from libm (plain Rust, no std), and the one matrix
//! product they share.

use crate::read::Floats;

#[inline]
pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + libm::expf(-x))
}

#[inline]
pub(crate) fn tanh(x: f32) -> f32 {
    libm::tanhf(x)
}

#[inline]
pub(crate) fn exp(x: f32) -> f32 {
    libm::expf(x)
}

#[inline]
pub(crate) fn erf(x: f32) -> f32 {
    libm::erff(x)
}

/// `out = x·W + b` with `W` `[x.len(), out.len()]` row-major (zeros for a missing `b`): one pass
/// over the weight rows, each scaled by its input and added.
pub(crate) fn row_times(x: &[f32], w: Floats<'_>, b: Option<Floats<'_>>, out: &mut [f32]) {
    match b {
        Some(b) => out.iter_mut().zip(b.iter()).for_each(|(o, b)| *o = b),
        None => out.fill(0.0),
    }
    add_row_times(x, w, out);
}

/// `out += x·W`.
pub(crate) fn add_row_times(x: &[f32], w: Floats<'_>, out: &mut [f32]) {
    for (&xi, row) in x.iter().zip(w.rows(out.len())) {
        for (o, w) in out.iter_mut().zip(row.iter()) {
            *o += xi * w;
        }
    }
}
