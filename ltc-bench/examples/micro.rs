//! Micro-timings of the tensor operations the LTC solver is made of (ndarray, f32), used to
//! choose its formulation: `cargo run -p ltc-bench --example micro`.
use burn::backend::NdArray;
use burn::tensor::{Distribution, Tensor};
use std::time::Instant;
type B = NdArray<f32>;
fn t(name: &str, f: impl Fn()) {
    f();
    let s = Instant::now();
    for _ in 0..100 {
        f();
    }
    println!("{name:40} {:8.1} µs", s.elapsed().as_secs_f64() * 1e4);
}
fn main() {
    let d = Default::default();
    let (b, n) = (32, 32);
    let v = Tensor::<B, 2>::random([b, n], Distribution::Default, &d);
    let mu = Tensor::<B, 3>::random([1, n, n], Distribution::Default, &d);
    let mu_full = mu.clone().repeat_dim(0, b);
    let a = Tensor::<B, 3>::random([b, n, n], Distribution::Default, &d);
    let ones_row = Tensor::<B, 3>::ones([b, 1, n], &d);
    t("bcast sub [b,n,1]-[1,n,n]", || {
        let _ = v.clone().reshape([b, n, 1]) - mu.clone();
    });
    t("bcast mul [b,1,n]*[b,n,n]", || {
        let _ = v.clone().reshape([b, 1, n]) * a.clone();
    });
    t("bcast mul [b,n,1]*[b,n,n]", || {
        let _ = v.clone().reshape([b, n, 1]) * a.clone();
    });
    let one = Tensor::<B, 3>::ones([b, n, n], &d);
    t("ones_full / a", || {
        let _ = one.clone() / a.clone();
    });
    let ones_col = Tensor::<B, 3>::ones([1, 1, n], &d);
    let ones_colb = Tensor::<B, 3>::ones([b, 1, n], &d);
    t("outer v via matmul [b,n,1]@[1,1,n]", || {
        let _ = v.clone().reshape([b, n, 1]).matmul(ones_col.clone());
    });
    t("outer v via matmul [b,n,1]@[b,1,n]", || {
        let _ = v.clone().reshape([b, n, 1]).matmul(ones_colb.clone());
    });
    t("repeat v to [b,n,n]", || {
        let _ = v.clone().reshape([b, n, 1]).repeat_dim(2, n);
    });
    t("sub same shape", || {
        let _ = a.clone() - mu_full.clone();
    });
    t("mul bcast [1,n,n]", || {
        let _ = a.clone() * mu.clone();
    });
    t("exp", || {
        let _ = a.clone().exp();
    });
    t("tanh", || {
        let _ = a.clone().tanh();
    });
    t("div same shape", || {
        let _ = a.clone() / mu_full.clone();
    });
    t("sum_dim(1)", || {
        let _ = a.clone().sum_dim(1);
    });
    t("sum_dim(2)", || {
        let _ = a.clone().sum_dim(2);
    });
    t("matmul ones[b,1,n] @ a", || {
        let _ = ones_row.clone().matmul(a.clone());
    });
    t("swap_dims(1,2) then sum_dim(2)", || {
        let _ = a.clone().swap_dims(1, 2).sum_dim(2);
    });
}
