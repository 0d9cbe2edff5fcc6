//! The adjoint's memory, and the checkpointed adjoint's beyond its checkpoints, do not grow with
//! the number of solver steps; back-propagation's does. Measured, not timed: a counting global allocator records the peak heap in use above
//! the start of each run (burn-ndarray keeps its tensors on the heap).
//!
//! One test in its own binary, so that no other test allocates while it measures.
#![allow(unsafe_code)] // the counting allocator below

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::backend::{Autodiff, NdArray};
use burn::tensor::Tensor;
use ltc_burn::ode::{Adjoint, MlpFieldConfig, SolveOptions, Solver, solve, solve_adjoint_with};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on to `System`.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

type B = Autodiff<NdArray<f32>>;

/// Peak heap bytes above the start while `run` runs.
fn peak_during(run: impl FnOnce()) -> usize {
    let start = CURRENT.load(Ordering::Relaxed);
    PEAK.store(start, Ordering::Relaxed);
    run();
    PEAK.load(Ordering::Relaxed).saturating_sub(start)
}

#[test]
fn adjoint_memory_is_flat_in_the_number_of_steps() {
    let device = Default::default();
    let field = MlpFieldConfig::new(32, 64).init::<B>(&device).unwrap();
    let x = Tensor::<B, 2>::ones([64, 32], &device).mul_scalar(0.1);
    let options = |steps: usize| {
        SolveOptions::new()
            .with_solver(Solver::Rk4)
            .with_dt(Some(1.0 / steps as f64))
            .with_max_steps(10_000)
    };
    let backprop = |steps: usize| {
        peak_during(|| {
            let y = solve(&field, x.clone(), 0.0, 1.0, &options(steps)).unwrap();
            let grads = y.last().powi_scalar(2).sum().backward();
            assert!(field.layers[0].weight.grad(&grads).is_some());
        })
    };
    // The backward sweep by `method`: the continuous adjoint, or four stored states
    // (back-propagation's gradients, each step re-taken a few times).
    let sweep = |method: Adjoint, steps: usize| {
        peak_during(|| {
            let forward =
                solve_adjoint_with(&field, x.clone(), 0.0, 1.0, &options(steps), &method).unwrap();
            let grads = forward.last().powi_scalar(2).sum().backward();
            let sweep = forward.backward(&grads).unwrap();
            assert_eq!(sweep.stats.accepted, steps);
        })
    };
    let adjoint = |steps: usize| sweep(Adjoint::Backsolve, steps);
    let checkpointed = |steps: usize| sweep(Adjoint::Checkpointed(4), steps);
    // Warm-up (one-off allocations of the backend and the allocator's pools).
    let _ = (backprop(10), adjoint(10), checkpointed(10));
    let (bp_few, bp_many) = (backprop(25), backprop(200));
    let (adj_few, adj_many) = (adjoint(25), adjoint(200));
    let (ck_few, ck_many) = (checkpointed(25), checkpointed(200));
    let mib = |b: usize| b as f64 / (1 << 20) as f64;
    println!(
        "peak heap above start: backprop {:.2} MiB (25 steps) → {:.2} MiB (200 steps); \
         adjoint {:.2} MiB → {:.2} MiB; checkpointed (4) {:.2} MiB → {:.2} MiB",
        mib(bp_few),
        mib(bp_many),
        mib(adj_few),
        mib(adj_many),
        mib(ck_few),
        mib(ck_many)
    );
    // The checkpointed adjoint stays flat too, and below back-propagation's at many steps.
    assert!(
        ck_many <= ck_few + ck_few / 4 + (256 << 10),
        "checkpointed {ck_few} → {ck_many} bytes"
    );
    assert!(
        ck_many * 4 < bp_many,
        "checkpointed {ck_many} vs backprop {bp_many} bytes"
    );
    // The measurement sees the graph: 8× the steps, ≥ 4× the memory for back-propagation.
    assert!(bp_many > 4 * bp_few, "backprop {bp_few} → {bp_many} bytes");
    // The adjoint stays flat (within 25 % and 256 KiB of slack for the allocator).
    assert!(
        adj_many <= adj_few + adj_few / 4 + (256 << 10),
        "adjoint {adj_few} → {adj_many} bytes"
    );
    // And it is far below back-propagation's at many steps.
    assert!(
        adj_many * 4 < bp_many,
        "adjoint {adj_many} vs backprop {bp_many} bytes"
    );
}
