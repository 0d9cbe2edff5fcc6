//! Stacks and the classifier: layers chained, states per layer, training on a toy task.

use burn::module::Module;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};
use ltc_testing::{assert_close, backend_tests, is_f64, values};

use crate::liquid::{LiquidClassifierConfig, LiquidLayerConfig, LiquidStackConfig};

fn tol<B: Backend>() -> f64 {
    if is_f64::<B>() { 1e-12 } else { 1e-6 }
}

/// The stack is exactly its layers applied in turn, in `forward` and in `step`.
fn stack_is_layers_in_turn<B: AutodiffBackend>(device: &B::Device) {
    ltc_testing::seed::<B>(device, 3);
    let stack = LiquidStackConfig::uniform(3, 4, 2)
        .map_layers(|c| LiquidLayerConfig::new(c.cell.with_timespan(0.5)))
        .init::<B>(device)
        .unwrap();
    let x = Tensor::<B, 3>::random([2, 6, 3], Distribution::Uniform(-1.0, 1.0), device);
    let (out, states) = stack.forward(x.clone(), None, None);
    let (mid, s0) = stack.layers[0].forward(x.clone(), None, None);
    let (want, s1) = stack.layers[1].forward(mid, None, None);
    assert_close(
        "outputs",
        &values(out.clone()),
        &values(want),
        tol::<B>(),
        0.0,
    );
    assert_close(
        "state 0",
        &values(states[0].hidden.clone()),
        &values(s0.hidden),
        tol::<B>(),
        0.0,
    );
    assert_close(
        "state 1",
        &values(states[1].hidden.clone()),
        &values(s1.hidden),
        tol::<B>(),
        0.0,
    );

    let mut streamed = None;
    for t in 0..6 {
        let x_t = x.clone().narrow(1, t, 1).reshape([2, 3]);
        streamed = Some(stack.step(x_t, streamed, None).1);
    }
    let streamed = streamed.unwrap();
    assert_close(
        "step",
        &values(streamed[1].hidden.clone()),
        &values(states[1].hidden.clone()),
        tol::<B>(),
        0.0,
    );
}

/// The classifier is the head applied to the last layer's final state.
fn classifier_reads_last_state<B: AutodiffBackend>(device: &B::Device) {
    ltc_testing::seed::<B>(device, 4);
    let model = LiquidClassifierConfig::new(LiquidStackConfig::uniform(2, 5, 2), 3)
        .init::<B>(device)
        .unwrap();
    let x = Tensor::<B, 3>::random([4, 7, 2], Distribution::Uniform(-1.0, 1.0), device);
    let dt = Tensor::<B, 2>::random([4, 7], Distribution::Uniform(0.1, 1.0), device);
    let logits = model.forward(x.clone(), Some(dt.clone()));
    let (_, states) = model.stack.forward(x, None, Some(dt));
    let h = values(states[1].hidden.clone());
    let w = values(model.head.weight.val()); // [5, 3]
    let b = values(model.head.bias.as_ref().unwrap().val());
    let want: Vec<f64> = (0..4)
        .flat_map(|s| {
            let (h, w, b) = (&h, &w, &b);
            (0..3).map(move |o| b[o] + (0..5).map(|k| h[s * 5 + k] * w[k * 3 + o]).sum::<f64>())
        })
        .collect();
    let tol = if is_f64::<B>() { 1e-12 } else { 1e-5 };
    assert_close("logits", &values(logits), &want, tol, 0.0);
    assert_eq!(
        model.num_params(),
        (2 * 5 + 3 * 5) + (5 * 5 + 3 * 5) + (5 * 3 + 3)
    );
}

fn rejects_wrong_state_count<B: AutodiffBackend>(device: &B::Device) {
    let stack = LiquidStackConfig::uniform(3, 4, 2)
        .init::<B>(device)
        .unwrap();
    let one = vec![stack.layers[0].zero_state(2)];
    let _ = stack.forward(Tensor::zeros([2, 5, 3], device), Some(one), None);
}

fn classifier_rejects_wrong_width<B: AutodiffBackend>(device: &B::Device) {
    let model = LiquidClassifierConfig::new(LiquidStackConfig::uniform(2, 5, 1), 3)
        .init::<B>(device)
        .unwrap();
    let _ = model.forward(Tensor::zeros([4, 7, 6], device), None);
}

backend_tests! {
    stack_is_layers_in_turn,
    classifier_reads_last_state,
    #[should_panic(expected = "LiquidStack::forward: expected one state per layer (2 layers), got 1 states")]
    rejects_wrong_state_count,
    #[should_panic(expected = "LiquidClassifier::forward: x must have shape [batch, seq, d_input=2], got [4, 7, 6]")]
    classifier_rejects_wrong_width,
}

#[test]
fn stack_config_errors() {
    let err = LiquidStackConfig::new(vec![]).validate().unwrap_err();
    assert_eq!(
        err.to_string(),
        "LiquidStackConfig.layers.len() = 0: must be at least 1"
    );
    let mut config = LiquidStackConfig::uniform(3, 4, 2);
    config.layers[1].cell.d_input = 5;
    assert_eq!(
        config.validate().unwrap_err().to_string(),
        "LiquidStackConfig: layers[1].cell.d_input = 5 must equal the output width of layers[0] = 4 (its d_hidden, or proj_size)"
    );
    let err = LiquidClassifierConfig::new(LiquidStackConfig::uniform(3, 4, 1), 0)
        .validate()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "LiquidClassifierConfig.d_output = 0: must be at least 1"
    );
}

#[test]
fn config_json_round_trip() {
    let config = LiquidClassifierConfig::new(LiquidStackConfig::uniform(3, 4, 2), 2);
    let json = serde_json::to_string(&config).unwrap();
    let back: LiquidClassifierConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back.stack.layers[1].cell.d_input, 4);
    assert_eq!(back.d_output, 2);
}
