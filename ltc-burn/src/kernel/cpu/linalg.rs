//! Matrix products on plain slices: matrixmultiply's `sgemm`/`dgemm` behind a checked, strided
//! [`gemm`], and the one-row products of the steppers ([`row_times`], [`add_row_times`]).

use super::math::Real;

/// The float types of the kernel: [`Real`] with a matrix product.
#[allow(unsafe_code)] // matrixmultiply's raw-pointer API; `gemm` is the safe wrapper.
pub(crate) trait Float: Real {
    /// `C ← α·A·B + β·C` on strided matrices (matrixmultiply's `sgemm`/`dgemm`).
    ///
    /// # Safety
    /// Every element addressed by the sizes and strides lies inside the allocations `a`, `b`,
    /// `c` point into, and `c` does not overlap `a` or `b`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: (*const Self, isize, isize),
        b: (*const Self, isize, isize),
        beta: Self,
        c: (*mut Self, isize, isize),
    );
}

/// `Float::gemm_raw` through matrixmultiply's `$gemm` (`sgemm` or `dgemm`).
macro_rules! gemm_raw {
    ($gemm:ident) => {
        unsafe fn gemm_raw(
            m: usize,
            k: usize,
            n: usize,
            alpha: Self,
            a: (*const Self, isize, isize),
            b: (*const Self, isize, isize),
            beta: Self,
            c: (*mut Self, isize, isize),
        ) {
            // SAFETY: forwarded from the caller.
            unsafe {
                matrixmultiply::$gemm(
                    m, k, n, alpha, a.0, a.1, a.2, b.0, b.1, b.2, beta, c.0, c.1, c.2,
                );
            }
        }
    };
}

#[allow(unsafe_code)]
impl Float for f32 {
    gemm_raw!(sgemm);
}

#[allow(unsafe_code)]
impl Float for f64 {
    gemm_raw!(dgemm);
}

/// A strided `rows × cols` view: element `(i, j)` at `data[i·rs + j·cs]`.
#[derive(Clone, Copy)]
pub(crate) struct Mat<'a, F> {
    data: &'a [F],
    rs: usize,
    cs: usize,
}

/// A row-major `[rows, cols]` matrix starting at `data[0]`.
pub(crate) fn rows<F>(data: &[F], cols: usize) -> Mat<'_, F> {
    Mat {
        data,
        rs: cols,
        cs: 1,
    }
}

/// The transpose of a row-major `[rows, cols]` matrix starting at `data[0]`.
pub(crate) fn transposed<F>(data: &[F], cols: usize) -> Mat<'_, F> {
    Mat {
        data,
        rs: 1,
        cs: cols,
    }
}

/// Up to this many rows, [`gemm`] runs row updates instead of matrixmultiply.
const SMALL_M: usize = 4;

/// `C ← A·B + β·C` for `A: m×k`, `B: k×n` and a row-major `C: m×n` (row stride `ldc`), with
/// the extents checked against the slices.
#[allow(unsafe_code)]
pub(crate) fn gemm<F: Float>(
    (m, k, n): (usize, usize, usize),
    a: Mat<'_, F>,
    b: Mat<'_, F>,
    beta: F,
    c: &mut [F],
    ldc: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    let last = |rows: usize, cols: usize, rs: usize, cs: usize| (rows - 1) * rs + (cols - 1) * cs;
    if k > 0 {
        assert!(
            last(m, k, a.rs, a.cs) < a.data.len(),
            "gemm: A out of bounds"
        );
        assert!(
            last(k, n, b.rs, b.cs) < b.data.len(),
            "gemm: B out of bounds"
        );
    }
    assert!(last(m, n, ldc, 1) < c.len(), "gemm: C out of bounds");
    if m <= SMALL_M && b.cs == 1 {
        // A few rows against a row-major B (a B=1 step): row updates `c_i += a_ip·b_p`,
        // which vectorise, instead of packing all of B for a kernel that fills one row.
        for i in 0..m {
            let row = &mut c[i * ldc..i * ldc + n];
            if beta != F::ONE {
                row.iter_mut()
                    .for_each(|v| *v = if beta == F::ZERO { F::ZERO } else { *v * beta });
            }
            for p in 0..k {
                let coef = a.data[i * a.rs + p * a.cs];
                let b_row = &b.data[p * b.rs..p * b.rs + n];
                for (v, w) in row.iter_mut().zip(b_row) {
                    *v += coef * *w;
                }
            }
        }
        return;
    }
    let s = |x: usize| x as isize;
    // SAFETY: the extents were checked above; `c` is a unique borrow, so it overlaps neither
    // `a` nor `b`.
    unsafe {
        F::gemm_raw(
            m,
            k,
            n,
            F::ONE,
            (a.data.as_ptr(), s(a.rs), s(a.cs)),
            (b.data.as_ptr(), s(b.rs), s(b.cs)),
            beta,
            (c.as_mut_ptr(), s(ldc), 1),
        );
    }
}

/// `out = b + x·W` for one row: `W` is `[x.len(), out.len()]` row-major (Burn's `Linear`
/// layout), `b` `[out.len()]` or absent (zeros). One pass over `W`'s rows, each a vectorisable
/// multiply-add over `out`.
#[inline(always)]
pub(crate) fn row_times<F: Real>(x: &[F], w: &[F], b: Option<&[F]>, out: &mut [F]) {
    match b {
        Some(b) => out.copy_from_slice(b),
        None => out.iter_mut().for_each(|o| *o = F::ZERO),
    }
    add_row_times(x, w, out);
}

/// `out += x·W` for one row, `W` as in [`row_times`].
#[inline(always)]
pub(crate) fn add_row_times<F: Real>(x: &[F], w: &[F], out: &mut [F]) {
    let width = out.len();
    for (xi, row) in x.iter().zip(w.chunks_exact(width.max(1))) {
        for (o, wij) in out.iter_mut().zip(row) {
            *o += *xi * *wij;
        }
    }
}
