//! Input plumbing shared by the sequence layers ([`Ltc`](crate::Ltc), [`Cfc`](crate::Cfc),
//! [`WiredCfc`](crate::WiredCfc)): shape checks and the batch-first / sequence-first layout.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::shape::check_shape;

/// A checked sequence in batch-first layout.
pub(crate) struct Sequence<B: Backend> {
    /// `[batch, seq, input]`.
    pub(crate) x: Tensor<B, 3>,
    /// `[batch, seq]`, when given.
    pub(crate) timespans: Option<Tensor<B, 2>>,
    pub(crate) batch: usize,
    pub(crate) seq: usize,
}

impl<B: Backend> Sequence<B> {
    /// Checks `x` (`[batch, seq, input]`, or `[seq, batch, input]` when not `batch_first`) and
    /// `timespans` (`[batch, seq]` / `[seq, batch]`) and brings both to batch-first layout.
    ///
    /// # Panics
    /// With the expected and the actual shape when one does not match.
    #[track_caller]
    pub(crate) fn new(
        context: &str,
        batch_first: bool,
        input_size: usize,
        x: Tensor<B, 3>,
        timespans: Option<Tensor<B, 2>>,
    ) -> Self {
        let (b_name, s_name) = if batch_first {
            ("batch", "seq")
        } else {
            ("seq", "batch")
        };
        check_shape(
            context,
            "x",
            &x.dims(),
            &[(b_name, None), (s_name, None), ("input", Some(input_size))],
        );
        let x = if batch_first { x } else { x.swap_dims(0, 1) };
        let [batch, seq, _] = x.dims();
        let timespans = timespans.map(|ts| {
            let (d0, d1) = if batch_first {
                (batch, seq)
            } else {
                (seq, batch)
            };
            check_shape(
                context,
                "timespans",
                &ts.dims(),
                &[(b_name, Some(d0)), (s_name, Some(d1))],
            );
            if batch_first { ts } else { ts.swap_dims(0, 1) }
        });
        Self {
            x,
            timespans,
            batch,
            seq,
        }
    }

    /// The input at step `t`, `[batch, input]`.
    pub(crate) fn input(&self, t: usize) -> Tensor<B, 2> {
        let [batch, _, s] = self.x.dims();
        self.x.clone().narrow(1, t, 1).reshape([batch, s])
    }

    /// The elapsed time before step `t`, `[batch]`, when timespans were given.
    pub(crate) fn elapsed(&self, t: usize) -> Option<Tensor<B, 1>> {
        self.timespans
            .as_ref()
            .map(|ts| ts.clone().narrow(1, t, 1).reshape([self.batch]))
    }
}

/// Checks one step's input `x` (`[batch, input]`) and elapsed times (`[batch]`); returns the
/// batch size.
///
/// # Panics
/// With the expected and the actual shape when one does not match.
#[track_caller]
pub(crate) fn check_step_input<B: Backend>(
    context: &str,
    input_size: usize,
    x: &Tensor<B, 2>,
    elapsed: Option<&Tensor<B, 1>>,
) -> usize {
    check_shape(
        context,
        "x",
        &x.dims(),
        &[("batch", None), ("input", Some(input_size))],
    );
    let batch = x.dims()[0];
    if let Some(dt) = elapsed {
        check_shape(context, "elapsed", &dt.dims(), &[("batch", Some(batch))]);
    }
    batch
}

/// Stacks per-step outputs `[batch, width]` into `[batch, seq, width]`, or `[seq, batch, width]`
/// when not `batch_first`.
pub(crate) fn stack_steps<B: Backend>(steps: Vec<Tensor<B, 2>>, batch_first: bool) -> Tensor<B, 3> {
    let y = Tensor::stack::<3>(steps, 1);
    if batch_first { y } else { y.swap_dims(0, 1) }
}

/// Checks a recurrent state `h` (`[batch, units]`) and, for layers with mixed memory, its
/// memory `c`.
///
/// # Panics
/// With the expected and the actual shape, or when `c` is missing under mixed memory or given
/// without it.
#[track_caller]
pub(crate) fn check_state<B: Backend>(
    context: &str,
    (h_name, c_name): (&str, &str),
    h: &Tensor<B, 2>,
    c: Option<&Tensor<B, 2>>,
    batch: usize,
    units: usize,
    mixed_memory: bool,
) {
    let expected = [("batch", Some(batch)), ("units", Some(units))];
    check_shape(context, h_name, &h.dims(), &expected);
    match (mixed_memory, c) {
        (true, Some(c)) => check_shape(context, c_name, &c.dims(), &expected),
        (true, None) => panic!(
            "{context}: this layer has mixed memory, so {c_name} must be a [batch, units] \
             tensor, got None (pass the state a previous call returned, or None for zeros)"
        ),
        (false, Some(_)) => {
            panic!("{context}: this layer has no mixed memory, so {c_name} must be None")
        }
        (false, None) => {}
    }
}

/// Runs `f` on a rayon pool of the calling thread's own when `B` computes with rayon (the
/// ndarray backends, with or without autodiff); on every other backend runs `f` in place.
///
/// burn-ndarray starts each of its parallel operations (matmul, …) from the calling thread by
/// handing it to rayon's pool and waiting for it: a context switch per operation when the
/// caller is not a pool worker. Inside `f` those operations start on the worker that runs `f`.
/// The CfC layers run their time loop through it; wrap a whole training step (forward,
/// `backward`, optimiser) in it too, since the backward runs where you call it. At one thread
/// (`ltc-bench`): CfC(32) forward 69 → 17–27 ms, B=1 step 496 → 103–141 µs, train step
/// 219 → 82 ms. The LTC layer does not use it itself: its B=1 step has no matmul, and the one
/// hand-off would cost more than it saves (75 → 210–290 µs).
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
/// use ltc_burn::{CfcConfig, on_compute_pool};
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
    if !crate::ltc::fused::has_cpu_kernel::<B>() || rayon::current_thread_index().is_some() {
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
mod tests {
    use super::on_compute_pool;
    use burn::backend::wgpu::{CubeBackend, WgpuRuntime};
    use burn::backend::{Autodiff, NdArray};

    #[test]
    fn ndarray_layers_run_on_the_pool_and_others_in_place() {
        let on_pool = || rayon::current_thread_index().is_some();
        assert!(on_compute_pool::<NdArray<f32>, _>(on_pool));
        assert!(on_compute_pool::<Autodiff<NdArray<f64>>, _>(on_pool));
        assert!(!on_compute_pool::<CubeBackend<WgpuRuntime, f32, i32, u32>, _>(on_pool));
    }

    /// Two threads training at once (as in a test binary, a hyper-parameter sweep or
    /// burn-train's multi-device strategy), each step wrapped in `on_compute_pool`: an LTC
    /// whose fused backward runs in parallel while Burn holds its graph's lock, and a CfC. With
    /// one shared pool, a worker waiting inside the LTC backward could pick up the other
    /// thread's whole step, whose autodiff clean-up then waits for the first graph's lock —
    /// held lower on the same worker's stack: a deadlock (seen in CI). Fails after a minute
    /// rather than hanging (the steps take well under a second).
    #[test]
    fn concurrent_training_steps_do_not_deadlock() {
        use crate::cfc::CfcConfig;
        use crate::ltc::LtcConfig;
        use burn::tensor::Tensor;
        use ltc_wirings::FullyConnected;
        type B = Autodiff<NdArray<f32>>;
        const STEPS: usize = 150;

        let (done, finished) = std::sync::mpsc::channel();
        let ltc_done = done.clone();
        std::thread::spawn(move || {
            let device = Default::default();
            let wiring = FullyConnected::new(8).build(3).unwrap();
            let ltc = LtcConfig::from_wiring(wiring).init::<B>(&device).unwrap();
            // Batch 64: the fused backward splits it into parallel groups.
            let x = Tensor::<B, 3>::ones([64, 6, 3], &device);
            for _ in 0..STEPS {
                on_compute_pool::<B, _>(|| {
                    let (y, _) = ltc.forward(x.clone(), None, None);
                    y.sum().backward()
                });
            }
            ltc_done.send("LTC").unwrap();
        });
        std::thread::spawn(move || {
            let device = Default::default();
            let cfc = CfcConfig::from_sizes(3, 8).init::<B>(&device).unwrap();
            let x = Tensor::<B, 3>::ones([16, 6, 3], &device);
            for _ in 0..STEPS {
                on_compute_pool::<B, _>(|| {
                    let (y, _) = cfc.forward(x.clone(), None, None);
                    y.sum().backward()
                });
            }
            done.send("CfC").unwrap();
        });
        for _ in 0..2 {
            let timeout = std::time::Duration::from_secs(60);
            let who = finished.recv_timeout(timeout);
            assert!(
                who.is_ok(),
                "two threads training at once did not finish {STEPS} steps in a minute: \
                 deadlocked"
            );
        }
    }

    #[test]
    #[should_panic(expected = "reaches the caller")]
    fn a_panic_on_the_pool_reaches_the_caller() {
        on_compute_pool::<NdArray<f32>, ()>(|| panic!("reaches the caller"));
    }
}
