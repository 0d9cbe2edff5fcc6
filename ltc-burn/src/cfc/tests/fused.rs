//! The fused CfC sequence against the plain step-by-step path: outputs, final state and the
//! gradient of every parameter, the inputs, the initial state and the timespans, on random
//! problems over every mode, backbone depth and fused activation, including batch 1, one
//! hidden unit, sequence 1 and masked (wired-style) heads.

use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Distribution, Tensor};
use ltc_testing::{assert_close, backend_tests, is_f64, param_grads, values};

use crate::cfc::{Activation, CfcCellConfig, CfcConfig, CfcMode};
use crate::kernel::cfc::CfcSequence;
use crate::kernel::has;
use crate::recurrent::RecurrentState;

struct Case {
    batch: usize,
    seq: usize,
    input: usize,
    hidden: usize,
    layers: usize,
    mode: CfcMode,
    activation: Activation,
    timespans: bool,
    masked: bool,
}

fn cases() -> Vec<Case> {
    use Activation::*;
    use CfcMode::*;
    let case = |batch, seq, input, hidden, layers, mode, activation, timespans, masked| Case {
        batch,
        seq,
        input,
        hidden,
        layers,
        mode,
        activation,
        timespans,
        masked,
    };
    vec![
        // Batch 1, sequence 1, one input, one unit, no backbone.
        case(1, 1, 1, 1, 0, Default, LecunTanh, false, false),
        case(3, 5, 3, 4, 1, Default, LecunTanh, true, false),
        case(2, 4, 2, 3, 2, NoGate, Silu, true, false),
        case(4, 3, 2, 5, 1, Pure, Relu, true, false),
        case(1, 3, 2, 2, 0, Pure, Tanh, true, false),
        case(2, 6, 3, 4, 0, Default, Tanh, false, true),
        case(3, 2, 2, 4, 1, NoGate, LecunTanh, false, true),
        case(2, 4, 3, 3, 2, Default, Gelu, true, false),
    ]
}

fn fused_equals_plain<B: AutodiffBackend>(device: &B::Device) {
    if !has::<CfcSequence, B>() {
        return;
    }
    let (atol, rtol) = if is_f64::<B>() {
        (1e-11, 1e-9)
    } else {
        (2e-5, 2e-5)
    };
    for (i, case) in cases().into_iter().enumerate() {
        ltc_testing::seed::<B>(device, 70 + i as u64);
        let (batch, seq, s, h) = (case.batch, case.seq, case.input, case.hidden);
        let cell = CfcCellConfig::new(s, h)
            .with_mode(case.mode)
            .with_activation(case.activation)
            .with_backbone_layers(case.layers)
            .with_backbone_units(3 + case.layers)
            // Pure mode: A and w_tau drawn from Xavier-uniform, so neither gradient is trivial.
            .with_ncps_compat(case.mode == CfcMode::Pure);
        let mut fused = CfcConfig::new(cell).init::<B>(device).unwrap();
        if case.masked {
            // Signed heads with some synapses missing, as a wired cell's.
            let d = fused.cell.ff1.weight.dims()[0];
            let sign =
                Tensor::<B, 2>::random([d, h], Distribution::Uniform(-1.5, 1.5), device).round();
            let gate = sign.clone().abs();
            fused.cell.head_mask = Some(sign);
            fused.cell.gate_mask = Some(gate);
            fused.cell.signed = true;
        }
        let plain = fused.clone().with_fused(false);
        assert!(fused.cell.fused && !plain.cell.fused);
        let x = Tensor::<B, 3>::random([batch, seq, s], Distribution::Normal(0.0, 1.5), device)
            .require_grad();
        let h0 = Tensor::<B, 2>::random([batch, h], Distribution::Uniform(-0.8, 0.8), device)
            .require_grad();
        let dt = case.timespans.then(|| {
            Tensor::<B, 2>::random([batch, seq], Distribution::Uniform(0.2, 2.0), device)
                .require_grad()
        });
        let weights =
            Tensor::<B, 3>::random([batch, seq, h], Distribution::Normal(0.0, 1.0), device);
        let what = format!(
            "case {i} (batch {batch}, seq {seq}, input {s}, hidden {h}, {} layer(s), {:?}, {:?})",
            case.layers, case.mode, case.activation
        );
        let run = |layer: &crate::cfc::Cfc<B>| {
            let state = RecurrentState::new(h0.clone());
            let (y, last) = layer.forward(x.clone(), Some(state), dt.clone());
            // The final state enters the loss too, through a different weight.
            let loss =
                (y.clone() * weights.clone()).sum() + last.hidden.clone().sum().mul_scalar(0.5);
            let grads = loss.backward();
            let mut all = param_grads(layer, &grads);
            all.push(values(x.grad(&grads).unwrap()));
            all.push(values(h0.grad(&grads).unwrap()));
            if let Some(dt) = &dt {
                all.push(values(dt.grad(&grads).unwrap()));
            }
            (values(y), values(last.hidden), all)
        };
        let (fy, fh, fg) = run(&fused);
        let (py, ph, pg) = run(&plain);
        assert_close(&format!("{what}: outputs"), &fy, &py, atol, rtol);
        assert_close(&format!("{what}: state"), &fh, &ph, atol, rtol);
        assert_eq!(fg.len(), pg.len(), "{what}: gradient count");
        for (k, (f, p)) in fg.iter().zip(&pg).enumerate() {
            assert_close(&format!("{what}: gradient {k}"), f, p, atol, rtol);
        }
        // Not a vacuous comparison: the parameters, inputs and state do get gradients.
        let nonzero = pg.iter().filter(|g| g.iter().any(|v| *v != 0.0)).count();
        assert!(
            nonzero + 1 >= pg.len(),
            "{what}: {nonzero} of {} gradients non-zero",
            pg.len()
        );
    }
}

/// `forward_last` and `step` take the fused path too and agree with the plain one (GELU
/// included); dropout while training falls back to the plain path (with the same numbers).
fn every_entry_point_agrees<B: AutodiffBackend>(device: &B::Device) {
    ltc_testing::seed::<B>(device, 5);
    let tol = if is_f64::<B>() { 1e-12 } else { 1e-5 };
    for activation in [Activation::LecunTanh, Activation::Gelu] {
        let cell = CfcCellConfig::new(3, 4)
            .with_backbone_units(6)
            .with_activation(activation);
        let fused = CfcConfig::new(cell).init::<B>(device).unwrap();
        let plain = fused.clone().with_fused(false);
        let x = Tensor::<B, 3>::random([2, 5, 3], Distribution::Normal(0.0, 1.0), device);
        let dt = Tensor::<B, 2>::random([2, 5], Distribution::Uniform(0.5, 1.5), device);
        let (a, sa) = fused.forward_last(x.clone(), None, Some(dt.clone()));
        let (b, sb) = plain.forward_last(x.clone(), None, Some(dt.clone()));
        assert_close("forward_last", &values(a), &values(b), tol, tol);
        assert_close(
            "forward_last state",
            &values(sa.hidden),
            &values(sb.hidden),
            tol,
            tol,
        );
        let x0 = x.narrow(1, 0, 1).reshape([2, 3]);
        let dt0 = dt.narrow(1, 0, 1).reshape([2]);
        let (a, _) = fused.step(x0.clone(), None, Some(dt0.clone()));
        let (b, _) = plain.step(x0, None, Some(dt0));
        assert_close("step", &values(a), &values(b), tol, tol);
    }
    let x = Tensor::<B, 3>::ones([1, 2, 3], device);
    let h0 = Tensor::<B, 2>::zeros([1, 4], device);
    let gelu = CfcCellConfig::new(3, 4).with_activation(Activation::Gelu);
    let cell = gelu.init::<B>(device).unwrap();
    assert_eq!(
        cell.fused_sequence(&x, &h0, None).is_some(),
        has::<CfcSequence, B>(),
        "GELU is fused where the backend has the kernel"
    );
    let dropout = CfcCellConfig::new(3, 4).with_backbone_dropout(0.3);
    let cell = dropout.init::<B>(device).unwrap();
    assert!(
        cell.fused_sequence(&x, &h0, None).is_none(),
        "dropout while training"
    );
    assert!(
        cell.valid()
            .fused_sequence(&x.inner(), &h0.inner(), None)
            .is_some()
            == has::<CfcSequence, B::InnerBackend>(),
        "inference ignores dropout"
    );
}

backend_tests! {
    fused_equals_plain,
    every_entry_point_agrees,
}
