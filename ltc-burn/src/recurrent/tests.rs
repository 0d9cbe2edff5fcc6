//! The sequence layer over every built-in cell: step by step equals the whole sequence,
//! `forward_last` is the last step, sequence-first is the transpose, the projection and mixed
//! memory, and every shape check names the layer.

use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};
use ltc_testing::{assert_close, backend_tests, is_f64, numbers, tensor, values};
use ltc_wirings::AutoNcp;

use super::{Recurrent, RecurrentCell, RecurrentState};
use crate::cfc::{CfcConfig, WiredCfcConfig};
use crate::liquid::LiquidLayerConfig;
use crate::ltc::LtcConfig;

fn tol<B: Backend>() -> f64 {
    if is_f64::<B>() { 1e-10 } else { 2e-5 }
}

/// The layer run whole, last-only, step by step and sequence-first, with timespans and an
/// initial state: all agree.
fn layer_agrees_with_itself<B: Backend, C: RecurrentCell<B>>(
    what: &str,
    layer: Recurrent<B, C>,
    device: &B::Device,
) {
    let (batch, seq, s) = (3, 5, layer.d_input());
    let x = tensor::<B, 3>(
        &numbers(batch * seq * s, 1, -1.0, 1.0),
        [batch, seq, s],
        device,
    );
    let ts = tensor::<B, 2>(&numbers(batch * seq, 2, 0.2, 1.5), [batch, seq], device);
    let h0 = tensor::<B, 2>(
        &numbers(batch * layer.d_hidden(), 3, -0.5, 0.5),
        [batch, layer.d_hidden()],
        device,
    );
    let start = RecurrentState {
        hidden: h0,
        memory: layer.lstm.as_ref().map(|_| {
            tensor(
                &numbers(batch * layer.d_hidden(), 4, -0.5, 0.5),
                [batch, layer.d_hidden()],
                device,
            )
        }),
    };
    let (y, end) = layer.forward(x.clone(), Some(start.clone()), Some(ts.clone()));
    assert_eq!(y.dims(), [batch, seq, layer.d_output()], "{what}");

    let (last, end_last) = layer.forward_last(x.clone(), Some(start.clone()), Some(ts.clone()));
    let y_last = y
        .clone()
        .narrow(1, seq - 1, 1)
        .reshape([batch, layer.d_output()]);
    assert_close(
        &format!("{what}: forward_last"),
        &values(last),
        &values(y_last),
        tol::<B>(),
        tol::<B>(),
    );
    assert_close(
        &format!("{what}: forward_last state"),
        &values(end_last.hidden),
        &values(end.hidden.clone()),
        tol::<B>(),
        tol::<B>(),
    );

    let mut state = Some(start.clone());
    let mut steps = Vec::new();
    for t in 0..seq {
        let x_t = x.clone().narrow(1, t, 1).reshape([batch, s]);
        let ts_t = ts.clone().narrow(1, t, 1).reshape([batch]);
        let (y_t, next) = layer.step(x_t, state, Some(ts_t));
        steps.push(y_t);
        state = Some(next);
    }
    let state = state.unwrap();
    assert_close(
        &format!("{what}: steps"),
        &values(Tensor::stack::<3>(steps, 1)),
        &values(y.clone()),
        tol::<B>(),
        tol::<B>(),
    );
    assert_close(
        &format!("{what}: stepped state"),
        &values(state.hidden),
        &values(end.hidden.clone()),
        tol::<B>(),
        tol::<B>(),
    );
    assert_eq!(state.memory.is_some(), layer.lstm.is_some(), "{what}");

    let seq_first = Recurrent {
        batch_first: false,
        ..layer
    };
    let (y_sf, end_sf) =
        seq_first.forward(x.swap_dims(0, 1), Some(start), Some(ts.swap_dims(0, 1)));
    assert_close(
        &format!("{what}: sequence-first"),
        &values(y_sf.swap_dims(0, 1)),
        &values(y),
        tol::<B>(),
        tol::<B>(),
    );
    assert_close(
        &format!("{what}: sequence-first state"),
        &values(end_sf.hidden),
        &values(end.hidden),
        tol::<B>(),
        tol::<B>(),
    );
}

fn every_cell_through_the_one_layer<B: AutodiffBackend>(device: &B::Device) {
    let wiring = || AutoNcp::new(8, 2).build(3).unwrap();
    for (memory, proj) in [(false, None), (true, Some(2))] {
        let what = |name: &str| format!("{name} (mixed memory {memory}, projection {proj:?})");
        let ltc = LtcConfig::from_wiring(wiring())
            .with_mixed_memory(memory)
            .with_proj_size(proj)
            .init::<B>(device)
            .unwrap();
        layer_agrees_with_itself(&what("Ltc"), ltc, device);
        let cfc = CfcConfig::from_sizes(3, 5)
            .with_mixed_memory(memory)
            .with_proj_size(proj)
            .init::<B>(device)
            .unwrap();
        layer_agrees_with_itself(&what("Cfc"), cfc, device);
        let wired = WiredCfcConfig::from_wiring(wiring())
            .with_mixed_memory(memory)
            .with_proj_size(proj)
            .init::<B>(device)
            .unwrap();
        layer_agrees_with_itself(&what("WiredCfc"), wired, device);
        let liquid = LiquidLayerConfig::from_sizes(3, 4)
            .with_mixed_memory(memory)
            .with_proj_size(proj)
            .init::<B>(device)
            .unwrap();
        layer_agrees_with_itself(&what("LiquidLayer"), liquid, device);
    }
}

/// A cell with no prepared stepper: `h' = tanh(x·W)`.
#[derive(burn::module::Module, Debug)]
struct Plain<B: Backend> {
    w: burn::module::Param<Tensor<B, 2>>,
}

impl<B: Backend> RecurrentCell<B> for Plain<B> {
    const NAME: &'static str = "Plain";

    fn d_input(&self) -> usize {
        self.w.dims()[0]
    }

    fn d_hidden(&self) -> usize {
        self.w.dims()[1]
    }

    fn d_output(&self) -> usize {
        self.d_hidden()
    }

    fn step(
        &self,
        x: Tensor<B, 2>,
        _h: Tensor<B, 2>,
        _timespans: Option<Tensor<B, 1>>,
    ) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let h = x.matmul(self.w.val()).tanh();
        (h.clone(), h)
    }
}

fn a_cell_without_a_stepper_says_so<B: AutodiffBackend>(device: &B::Device) {
    let cell = Plain {
        w: burn::module::Param::from_tensor(Tensor::<B, 2>::ones([3, 4], device)),
    };
    let layer = super::RecurrentConfig::new().init(cell, device).unwrap();
    let err = layer.stepper::<f32>(1).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Plain::stepper: this layer's cell has no prepared stepper yet; step it with Plain::step"
    );
}

fn rejects_memory_without_mixed_memory<B: AutodiffBackend>(device: &B::Device) {
    let liquid = LiquidLayerConfig::from_sizes(3, 4)
        .init::<B>(device)
        .unwrap();
    let state = RecurrentState {
        hidden: Tensor::zeros([2, 4], device),
        memory: Some(Tensor::zeros([2, 4], device)),
    };
    let _ = liquid.forward(Tensor::zeros([2, 3, 3], device), Some(state), None);
}

backend_tests! {
    every_cell_through_the_one_layer,
    a_cell_without_a_stepper_says_so,
    #[should_panic(expected = "LiquidLayer::forward: this layer has no mixed memory, so state.memory must be None")]
    rejects_memory_without_mixed_memory,
}
