//! Cross-check of the sine quickstart outside burn-train: trains an LTC on AutoNCP(16, 1) with
//! a plain loop (Adam lr 0.01, eps 1e-8, global gradient-norm clip 1) and prints the loss every
//! 50 steps; writes the initial parameters and the wiring as JSON (ncps names) so that
//! `tools/ncps_sine.py --init FILE` trains ncps from the very same start.
use burn::backend::{Autodiff, NdArray};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use ltc_burn::ltc::{Ltc, LtcConfig};
use ltc_burn::optim::clip_grad_norm;

type B = Autodiff<NdArray<f32>>;

fn main() {
    let seed: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(42);
    let out = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "/tmp/sine_init.json".into());
    let device = Default::default();
    B::seed(&device, seed);
    // A third argument: a wiring record (JSON) to use instead of our AutoNCP(16, 1).
    let wiring: ltc_wirings::Wiring = match std::env::args().nth(3) {
        Some(path) => {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            serde_json::from_value(v.get("wiring").cloned().unwrap_or(v)).unwrap()
        }
        None => ltc_wirings::AutoNcp::new(16, 1).build(2).unwrap(),
    };
    let mut ltc: Ltc<B> = LtcConfig::from_wiring(wiring.clone())
        .init(&device)
        .unwrap();
    // A fourth argument: initial parameters (JSON, ncps names, e.g. tools/ncps_init_dump.py).
    if let Some(path) = std::env::args().nth(4) {
        let d: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let get = |name: &str| -> Vec<f32> {
            fn flat(v: &serde_json::Value, out: &mut Vec<f32>) {
                match v {
                    serde_json::Value::Array(a) => a.iter().for_each(|x| flat(x, out)),
                    x => out.push(x.as_f64().unwrap() as f32),
                }
            }
            let mut out = Vec::new();
            flat(&d["params"][format!("rnn_cell.{name}")], &mut out);
            out
        };
        use burn::module::Param;
        let v1 = |name: &str| {
            Param::from_tensor(Tensor::<B, 1>::from_data(
                TensorData::new(get(name), [get(name).len()]),
                &device,
            ))
        };
        let v2 = |name: &str, rows: usize| {
            let v = get(name);
            let cols = v.len() / rows;
            Param::from_tensor(Tensor::<B, 2>::from_data(
                TensorData::new(v, [rows, cols]),
                &device,
            ))
        };
        let c = &mut ltc.cell;
        c.gleak.param = v1("gleak");
        c.vleak = v1("vleak");
        c.cm.param = v1("cm");
        c.sigma = v2("sigma", 16);
        c.mu = v2("mu", 16);
        c.w.param = v2("w", 16);
        c.erev = v2("erev", 16);
        c.sensory_sigma = v2("sensory_sigma", 2);
        c.sensory_mu = v2("sensory_mu", 2);
        c.sensory_w.param = v2("sensory_w", 2);
        c.sensory_erev = v2("sensory_erev", 2);
        c.input_w = Some(v1("input_w"));
        c.input_b = Some(v1("input_b"));
        c.output_w = Some(v1("output_w"));
        c.output_b = Some(v1("output_b"));
    }
    let vals = |t: Tensor<B, 1>| t.into_data().convert::<f64>().to_vec::<f64>().unwrap();
    let mat = |t: Tensor<B, 2>| {
        let [r, c] = t.dims();
        let v = t.into_data().convert::<f64>().to_vec::<f64>().unwrap();
        serde_json::json!(
            (0..r)
                .map(|i| v[i * c..(i + 1) * c].to_vec())
                .collect::<Vec<_>>()
        )
    };
    let cell = &ltc.cell;
    let params = serde_json::json!({
        "rnn_cell.gleak": vals(cell.gleak.val()), "rnn_cell.vleak": vals(cell.vleak.val()),
        "rnn_cell.cm": vals(cell.cm.val()), "rnn_cell.sigma": mat(cell.sigma.val()),
        "rnn_cell.mu": mat(cell.mu.val()), "rnn_cell.w": mat(cell.w.val()),
        "rnn_cell.erev": mat(cell.erev.val()), "rnn_cell.sensory_sigma": mat(cell.sensory_sigma.val()),
        "rnn_cell.sensory_mu": mat(cell.sensory_mu.val()), "rnn_cell.sensory_w": mat(cell.sensory_w.val()),
        "rnn_cell.sensory_erev": mat(cell.sensory_erev.val()),
        "rnn_cell.sparsity_mask": mat(cell.sparsity_mask.clone()),
        "rnn_cell.sensory_sparsity_mask": mat(cell.sensory_sparsity_mask.clone()),
        "rnn_cell.input_w": vals(cell.input_w.as_ref().unwrap().val()),
        "rnn_cell.input_b": vals(cell.input_b.as_ref().unwrap().val()),
        "rnn_cell.output_w": vals(cell.output_w.as_ref().unwrap().val()),
        "rnn_cell.output_b": vals(cell.output_b.as_ref().unwrap().val()),
    });
    std::fs::write(
        &out,
        serde_json::json!({"params": params, "wiring": wiring}).to_string(),
    )
    .unwrap();

    let item = ltc_datasets::sine_quickstart();
    let x = Tensor::<B, 3>::from_data(TensorData::new(item.inputs.clone(), [1, 48, 2]), &device);
    let y = Tensor::<B, 3>::from_data(TensorData::new(item.targets.clone(), [1, 48, 1]), &device);
    let mut optim = AdamConfig::new().with_epsilon(1e-8).init::<B, Ltc<B>>();
    for step in 0..=400 {
        let (p, _) = ltc.forward(x.clone(), None, None);
        let loss = (p - y.clone()).powi_scalar(2).mean();
        if step % 50 == 0 {
            println!("step {step}: loss {:.4e}", loss.clone().into_scalar());
        }
        if step == 400 {
            break;
        }
        let grads = GradientsParams::from_grads(loss.backward(), &ltc);
        let (grads, _) = clip_grad_norm(&ltc, grads, 1.0);
        ltc = optim.step(0.01, ltc, grads);
    }
}
