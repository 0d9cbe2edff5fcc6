//! Bit-reproducibility of training on NdArray: the backend operations a backward pass relies on
//! give the same bits every time, wherever a tensor's buffer lies in memory.
//!
//! burn-ndarray 0.21 computes f32 `recip` — which burn-autodiff calls in the backward pass of
//! every division and logarithm — with macerator's `Vector::recip`, and macerator 0.3.4 returned
//! the hardware reciprocal *estimate* (relative error up to 1.5·2⁻¹² on AVX2, 2⁻¹⁴ on AVX-512,
//! about 2⁻⁸ on NEON) on the vectorised part of a buffer only, which for an in-place operation
//! depends on the buffer's address. f32 gradients were therefore off by that much and changed
//! from one run to the next (training runs of the `xor` example parted at the first optimiser
//! step); f64 takes burn-ndarray's scalar path and was exact. The workspace patches macerator
//! (`vendor/macerator/PATCHED.md`); these tests fail without the patch (measured on AVX-512:
//! `recip(-2.4714758e-6)` gave −4.04608e5 instead of −4.0461653e5). See RELIABILITY.md.

use burn::backend::{Autodiff, NdArray};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use ltc_testing::{numbers, tensor, values};

/// Enough elements for burn-ndarray's vector path (it starts at 32) and several vectors of
/// every width, plus an unaligned tail.
const LEN: usize = 1003;

/// Positive and negative values over twelve orders of magnitude, none near zero.
fn inputs() -> Vec<f64> {
    numbers(LEN, 17, -6.0, 6.0)
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            if i % 3 == 0 {
                -(10f64.powf(e))
            } else {
                10f64.powf(e)
            }
        })
        .collect()
}

/// `recip` on ndarray f32 is the correctly rounded `1 / x`, for a buffer the operation may
/// overwrite in place (its only owner) and for one it must copy (shared), each at several
/// offsets into its allocation.
#[test]
fn ndarray_f32_recip_is_correctly_rounded() {
    type B = NdArray<f32>;
    let exact = |x: f64| f64::from(1.0 / x as f32);
    let device = Default::default();
    ltc_testing::assert_default_float::<B>(&device);
    let x = inputs();
    for offset in 0..4 {
        let whole = tensor::<B, 1>(&x, [LEN], &device);
        let part = || whole.clone().narrow(0, offset, LEN - offset);
        // `narrow` then an addition of zero gives a fresh buffer, uniquely owned.
        let unique = (part() + 0.0).recip();
        let shared_input = part() + 0.0;
        let shared = shared_input.clone().recip();
        for (name, got) in [("in place", unique), ("copied", shared)] {
            let got = values(got);
            for (i, (&g, &v)) in got.iter().zip(&x[offset..]).enumerate() {
                assert!(
                    g.to_bits() == exact(v).to_bits(),
                    "recip ({name}, offset {offset}) of x[{i}] = {v:e}: {g:e}, expected {:e} \
                     (the hardware estimate? see vendor/macerator/PATCHED.md)",
                    exact(v)
                );
            }
        }
        drop(shared_input);
    }
}

/// The gradient of `log` is `1 / x` exactly, and the gradients of a log-sum-exp (as in a
/// cross-entropy loss) and of a division repeat bit for bit over eight passes in one process,
/// each pass leaving the allocator in another state.
#[test]
fn ndarray_log_and_division_gradients_are_exact_and_repeat() {
    type B = Autodiff<NdArray<f32>>;
    let device = Default::default();
    ltc_testing::assert_default_float::<B>(&device);
    let x = inputs();
    let positive: Vec<f64> = x.iter().map(|v| v.abs()).collect();
    let logits: Vec<f64> = numbers(128, 5, -3.0, 3.0);
    let (mut first_lse, mut first_div) = (None, None);
    for pass in 0..8 {
        let p = tensor::<B, 1>(&positive, [LEN], &device).require_grad();
        let grads = p.clone().log().sum().backward();
        let got = values(p.grad(&grads).unwrap());
        for (i, (&g, &v)) in got.iter().zip(&positive).enumerate() {
            let exact = f64::from(1.0 / v as f32);
            assert!(
                g.to_bits() == exact.to_bits(),
                "pass {pass}: d log(x)/dx at x[{i}] = {v:e} is {g:e}, expected {exact:e}"
            );
        }

        let z = tensor::<B, 2>(&logits, [64, 2], &device).require_grad();
        let lse = z.clone().exp().sum_dim(1).log().sum().backward();
        let lse = bits(z.grad(&lse).unwrap());
        let (a, b) = (z.clone(), z.clone().abs() + 1.0);
        let div = (a / b).sum().backward();
        let div = bits(z.grad(&div).unwrap());
        let first_lse = first_lse.get_or_insert_with(|| lse.clone());
        let first_div = first_div.get_or_insert_with(|| div.clone());
        assert!(
            lse == *first_lse,
            "pass {pass}: the log-sum-exp gradient differs from pass 0"
        );
        assert!(
            div == *first_div,
            "pass {pass}: the division gradient differs from pass 0"
        );
    }
}

fn bits<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<u64> {
    values(t).iter().map(|v| v.to_bits()).collect()
}
