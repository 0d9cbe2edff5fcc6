//! The bench's Neural ODE problem makes exactly torchdiffeq's function evaluations, as the
//! README promises: 38 in the forward solve and 686 in the adjoint's backward solve (torchdiffeq
//! 0.2.5's dopri5 on the same field, weights, starts and tolerances, float32, counted by
//! `tools/bench_torchdiffeq.py` on 2026-12-04: the bench prints both side by side).

use burn::backend::{Autodiff, NdArray};
use burn::module::AutodiffModule;
use ltc_bench::ode::{Field, T_END, loss, options, starts};
use ltc_burn::ode::{solve, solve_adjoint};

type B = Autodiff<NdArray<f32>>;

/// torchdiffeq 0.2.5's evaluations on this problem.
const TORCHDIFFEQ_FORWARD: usize = 38;
const TORCHDIFFEQ_ADJOINT_BACKWARD: usize = 686;

#[test]
fn evaluation_counts_equal_torchdiffeqs() {
    let device = Default::default();
    let field = Field::<B>::new(&device);
    let forward = solve(&field.valid(), starts(&device), 0.0, T_END, &options()).unwrap();
    assert_eq!(
        forward.stats.nfe, TORCHDIFFEQ_FORWARD,
        "forward evaluations"
    );

    let adjoint = solve_adjoint(&field, starts(&device), 0.0, T_END, &options()).unwrap();
    assert_eq!(
        adjoint.solution.stats.nfe, TORCHDIFFEQ_FORWARD,
        "adjoint's forward"
    );
    let grads = loss(&adjoint.solution.ys).backward();
    let sweep = adjoint.backward(&grads).unwrap();
    assert_eq!(
        sweep.stats.nfe, TORCHDIFFEQ_ADJOINT_BACKWARD,
        "adjoint backward evaluations"
    );
}
