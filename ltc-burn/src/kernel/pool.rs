//! The compute pool: a rayon pool per calling thread for the CPU backends.

use burn::tensor::backend::Backend;

use super::registry::Compute;

/// Runs `f` on a rayon pool of the calling thread's own when `B` computes with rayon (the
/// ndarray backends, with or without autodiff: [`Compute::Rayon`] in the kernel table); on
/// every other backend runs `f` in place.
///
/// burn-ndarray starts each of its parallel operations (matmul, …) from the calling thread by
/// handing it to rayon's pool and waiting for it: a context switch per operation when the
/// caller is not a pool worker. Inside `f` those operations start on the worker that runs `f`.
/// The sequence layers run their `forward` and `forward_last` through it, and a `step` that
/// takes the plain tensor path; wrap a whole training step (forward, `backward`, optimiser) in
/// it too, since the backward runs where you call it (BENCHMARKS.md has the numbers).
///
/// The pool belongs to the calling thread (made on its first call, with as many threads as
/// rayon's global pool; called from inside a rayon worker, `f` runs in place). Threads that
/// train at the same time therefore never share one: in a shared pool, a worker that waits
/// inside one thread's backward — while Burn holds that graph's lock — could pick up another
/// thread's whole step, whose autodiff clean-up then waits for the lock held lower on the same
/// worker's stack, a deadlock.
///
/// A panic inside `f` reaches the caller unchanged.
///
/// ```
/// use burn::backend::{Autodiff, NdArray};
/// use burn::tensor::Tensor;
/// use ltc_burn::cfc::CfcConfig;
/// use ltc_burn::kernel::on_compute_pool;
///
/// type B = Autodiff<NdArray>;
/// let device = Default::default();
/// let cfc = CfcConfig::from_sizes(2, 4).init::<B>(&device).expect("a valid config");
/// let x = Tensor::<B, 3>::ones([3, 5, 2], &device);
/// // One training step on the pool: forward, loss and backward.
/// let grads = on_compute_pool::<B, _>(|| {
///     let (y, _) = cfc.forward(x, None, None);
///     y.powi_scalar(2).mean().backward()
/// });
/// assert!(cfc.cell.ff1.weight.grad(&grads).is_some());
/// ```
pub fn on_compute_pool<B: Backend, R: Send>(f: impl FnOnce() -> R + Send) -> R {
    thread_local! {
        /// This thread's pool; `None` where the threads could not be started.
        static POOL: std::cell::OnceCell<Option<rayon::ThreadPool>> =
            const { std::cell::OnceCell::new() };
    }
    let rayon_backend =
        super::backend_info::<B>().is_some_and(|info| info.compute == Compute::Rayon);
    if !rayon_backend || rayon::current_thread_index().is_some() {
        return f();
    }
    POOL.with(|pool| {
        let pool = pool.get_or_init(|| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(rayon::current_num_threads())
                .thread_name(|i| format!("ltc-compute-{i}"))
                .build()
                .ok()
        });
        match pool {
            Some(pool) => pool.install(f),
            None => f(),
        }
    })
}

#[cfg(test)]
mod tests;
