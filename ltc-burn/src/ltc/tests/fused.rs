//! The fused unfold against the plain tensor path, on every backend: outputs and the gradient
//! of every input, on random problems including batch 1, units 1 and sequence 1, dense and
//! sparse wirings, with and without per-step timespans.

use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Distribution, Tensor};
use ltc_testing::{assert_close, backend_tests, is_f64, param_grads, values};
use ltc_wirings::{AutoNcp, FullyConnected, Ncp, Random, Wiring};

use crate::kernel::ltc::{LtcUnfold, UnfoldInputs, cube::MAX_UNITS};
use crate::kernel::{self, Compute, has};
use crate::ltc::{LtcCell, LtcCellConfig, LtcConfig, Positivity, unfold_plain};

struct Case {
    batch: usize,
    seq: usize,
    wiring: Wiring,
    timespans: bool,
    unfolds: usize,
}

fn ncp() -> Ncp {
    Ncp {
        inter: 3,
        command: 2,
        motor: 1,
        sensory_fanout: 2,
        inter_fanout: 2,
        recurrent_command_synapses: 1,
        motor_fanin: 1,
        seed: 7,
    }
}

fn cases() -> Vec<Case> {
    let case = |batch, seq, wiring, timespans, unfolds| Case {
        batch,
        seq,
        wiring,
        timespans,
        unfolds,
    };
    vec![
        // units 1, input 1, batch 1, seq 1.
        case(1, 1, FullyConnected::new(1).build(1).unwrap(), false, 1),
        case(3, 5, FullyConnected::new(8).build(3).unwrap(), true, 6),
        case(2, 4, AutoNcp::new(12, 3).build(4).unwrap(), false, 6),
        case(1, 7, Random::new(6, 0.5).build(2).unwrap(), true, 3),
        case(4, 1, ncp().build(2).unwrap(), false, 2),
        // Batch 1 with per-step elapsed times: `cm_t` is `[1, seq, units]`.
        case(1, 3, FullyConnected::new(5).build(2).unwrap(), true, 4),
        // Each kernel's other code paths: over STEPS_PER_DISPATCH (128) steps the GPU kernels
        // run in several dispatches, forward and backward; over 256 units their threads stride
        // over the neurons; over 16 samples the CPU backward sums in sample groups.
        case(2, 130, FullyConnected::new(3).build(1).unwrap(), true, 2),
        case(1, 2, Random::new(260, 0.02).build(1).unwrap(), false, 1),
        case(18, 2, FullyConnected::new(4).build(2).unwrap(), true, 2),
    ]
}

/// A cell with every parameter drawn away from its initial range (erev included), so that
/// no gradient is trivially zero.
fn cell<B: AutodiffBackend>(wiring: Wiring, unfolds: usize, device: &B::Device) -> LtcCell<B> {
    LtcCellConfig::new(wiring)
        .with_ode_unfolds(unfolds)
        .with_positivity(Positivity::Softplus)
        .init::<B>(device)
        .unwrap()
}

fn fused_equals_reference<B: AutodiffBackend>(device: &B::Device) {
    let (atol, rtol) = if is_f64::<B>() {
        (1e-11, 1e-9)
    } else {
        (1e-5, 1e-5)
    };
    for (i, case) in cases().into_iter().enumerate() {
        ltc_testing::seed::<B>(device, 40 + i as u64);
        let (batch, seq) = (case.batch, case.seq);
        let (n, s) = (case.wiring.units(), case.wiring.input_dim());
        let cell = cell::<B>(case.wiring, case.unfolds, device);
        let x = Tensor::<B, 3>::random([batch, seq, s], Distribution::Normal(0.0, 1.0), device)
            .require_grad();
        let v0 = Tensor::<B, 2>::random([batch, n], Distribution::Uniform(-0.5, 0.5), device)
            .require_grad();
        let timespans = case
            .timespans
            .then(|| Tensor::<B, 2>::random([batch, seq], Distribution::Uniform(0.2, 2.0), device));
        let weights =
            Tensor::<B, 3>::random([batch, seq, n], Distribution::Normal(0.0, 1.0), device);
        let what = format!("case {i} (batch {batch}, seq {seq}, units {n}, input {s})");

        // Fresh inputs per run: a backward pass consumes the graph of the parameters'
        // transforms (softplus, mask).
        let fused = |inputs| kernel::ltc::unfold(inputs).expect("a kernel on every test backend");
        let run = |f: &dyn Fn(UnfoldInputs<B>) -> Tensor<B, 3>| {
            let v = f(UnfoldInputs {
                x: x.clone(),
                v0: v0.clone(),
                cm_t: cell.cm_t(timespans.clone()),
                params: cell.unfold_params(),
            });
            let grads = (v.clone() * weights.clone()).sum().backward();
            let mut all = param_grads(&cell, &grads);
            all.push(values(x.grad(&grads).unwrap()));
            all.push(values(v0.grad(&grads).unwrap()));
            (values(v), all)
        };
        let (fused_v, fused_grads) = run(&fused);
        let (plain_v, plain_grads) = run(&unfold_plain);
        assert_close(&format!("{what}: v"), &fused_v, &plain_v, atol, rtol);
        assert_eq!(fused_grads.len(), plain_grads.len());
        for (k, (f, p)) in fused_grads.iter().zip(&plain_grads).enumerate() {
            assert_close(&format!("{what}: gradient {k}"), f, p, atol, rtol);
        }
        // Not a vacuous comparison: the trained parameters do get gradients.
        assert!(
            plain_grads
                .iter()
                .filter(|g| g.iter().any(|v| *v != 0.0))
                .count()
                >= 8,
            "{what}: too few non-zero gradients"
        );
    }
}

/// The layer takes the fused path on every test backend (ndarray's CPU kernel, wgpu's CubeCL
/// kernel) and gives the reference's numbers there; `fused = false` forces the plain path.
fn layer_uses_the_fused_path_where_it_exists<B: AutodiffBackend>(device: &B::Device) {
    assert!(has::<LtcUnfold, B>());
    assert!(has::<LtcUnfold, B::InnerBackend>());
    ltc_testing::seed::<B>(device, 3);
    let wiring = AutoNcp::new(10, 2).build(3).unwrap();
    let config = LtcConfig::from_wiring(wiring);
    let fused = config.init::<B>(device).unwrap();
    assert!(fused.cell.fused);
    let plain = fused.clone().with_fused(false);
    let x = Tensor::<B, 3>::random([2, 6, 3], Distribution::Normal(0.0, 1.0), device);
    let (a, sa) = fused.forward(x.clone(), None, None);
    let (b, sb) = plain.forward(x, None, None);
    let tol = if is_f64::<B>() { 1e-12 } else { 1e-6 };
    assert_close("outputs", &values(a), &values(b), tol, tol);
    assert_close("state", &values(sa.hidden), &values(sb.hidden), tol, tol);
    assert!(!fused.clone().with_fused(false).cell.fused);
}

/// Past the GPU kernels' size limit (`cube::MAX_UNITS`, shared memory) the cell still works:
/// on wgpu the kernel declines and the cell takes the plain path instead of failing at launch.
fn more_units_than_the_gpu_kernel_takes<B: AutodiffBackend>(device: &B::Device) {
    let n = MAX_UNITS + 1;
    ltc_testing::seed::<B>(device, 5);
    let cell = cell::<B>(FullyConnected::new(n).build(1).unwrap(), 1, device);
    let inputs = UnfoldInputs {
        x: Tensor::<B, 3>::ones([1, 1, 1], device),
        v0: Tensor::<B, 2>::random([1, n], Distribution::Uniform(-0.5, 0.5), device),
        cm_t: cell.cm_t(None),
        params: cell.unfold_params(),
    };
    let tol = if is_f64::<B>() { 1e-11 } else { 1e-5 };
    // The CPU kernel takes any size; the GPU kernel declines.
    let on_cpu = kernel::backend_info::<B>().is_some_and(|b| b.compute == Compute::Rayon);
    assert_eq!(kernel::ltc::unfold(inputs.clone()).is_some(), on_cpu);
    let UnfoldInputs { x, v0, cm_t, .. } = inputs.clone();
    let v = values(cell.unfold(x, v0, cm_t));
    assert_eq!(v.len(), n);
    assert_close("v", &v, &values(unfold_plain(inputs)), tol, tol);
}

backend_tests! {
    more_units_than_the_gpu_kernel_takes,
    fused_equals_reference,
    layer_uses_the_fused_path_where_it_exists,
}
