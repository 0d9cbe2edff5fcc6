//! Running a fixture on a backend: outputs, states, losses, gradients and one Adam step,
//! compared with ncps's; and the LTC's fused kernel against its plain path on a fixture.

use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};
use ltc_burn::ltc::Ltc;
use ltc_burn::recurrent::{Recurrent, RecurrentCell, RecurrentState};
use serde_json::Value;

use crate::build::{Model, build, build_ltc, pointer_escape, snapshot};
use crate::compare::compare;
use crate::{Array, Comparison, F32, F64, F64_LOSS, Fixture, Report, Tolerance};
use ltc_burn::cfc::WiredCfc;

/// A fixture's inputs as tensors.
struct Inputs<B: Backend> {
    /// `[batch, seq, input]` (or sequence-first, as the fixture's config says), tracked.
    input: Tensor<B, 3>,
    timespans: Option<Tensor<B, 2>>,
    hx: Option<Hx<B>>,
    return_sequences: bool,
}

impl<B: AutodiffBackend> Inputs<B> {
    fn of(fixture: &Fixture, device: &B::Device) -> Result<Self, String> {
        let input = fixture
            .array("/input")?
            .tensor::<B, 3>(device)
            .require_grad();
        let timespans = match &fixture.json["timespans"] {
            Value::Null => None,
            v => Some(Array::from_json(v)?.tensor::<B, 2>(device)),
        };
        let hx = match &fixture.json["hx"] {
            Value::Null => None,
            Value::Object(_) => Some((
                fixture.array("/hx/h")?.tensor(device),
                Some(fixture.array("/hx/c")?.tensor(device)),
            )),
            v => Some((Array::from_json(v)?.tensor(device), None)),
        };
        let return_sequences = fixture.config("return_sequences").as_bool().unwrap_or(true);
        Ok(Self {
            input,
            timespans,
            hx,
            return_sequences,
        })
    }
}

/// For an LTC fixture, the fused unfold against the plain tensor path on backend `B` (both on
/// the fixture's parameters and inputs): outputs, final state, the input's gradient and every
/// parameter's gradient of the fixture's loss (Σ outputs²), compared within `tol`. On a
/// backend without a fused kernel both runs take the plain path.
///
/// # Errors
/// If the fixture is not an LTC one or cannot be read.
pub fn fused_vs_reference<B: AutodiffBackend>(
    fixture: &Fixture,
    device: &B::Device,
    tol: Tolerance,
) -> Result<Vec<Comparison>, String> {
    let fused = build_ltc::<B>(fixture, device)?.with_fused(true);
    let reference = fused.clone().with_fused(false);
    let run = |model: &Ltc<B>| -> Result<Vec<(String, Array)>, String> {
        let Inputs {
            input,
            timespans,
            hx,
            return_sequences,
        } = Inputs::of(fixture, device)?;
        let (outputs, outputs_array, (h, c)) =
            run(model, input.clone(), hx, timespans, return_sequences);
        let mut all = vec![
            ("outputs".to_string(), outputs_array),
            ("final_state.h".to_string(), Array::of(h)),
        ];
        if let Some(c) = c {
            all.push(("final_state.c".to_string(), Array::of(c)));
        }
        let grads = outputs.powi_scalar(2).sum().backward();
        let grad_input = input.grad(&grads).ok_or("the input has no gradient")?;
        all.push(("grad_input".to_string(), Array::of(grad_input)));
        for (name, _, grad) in snapshot::<B, Ltc<B>>(fixture, model, Some(&grads)) {
            let grad = grad.ok_or_else(|| format!("{name} has no gradient"))?;
            all.push((format!("grads/{name}"), grad));
        }
        Ok(all)
    };
    let (got, want) = (run(&fused)?, run(&reference)?);
    Ok(got
        .iter()
        .zip(&want)
        .map(|((what, got), (_, want))| compare(what.clone(), got, want, tol))
        .collect())
}

/// Runs one fixture on backend `B` and compares everything it holds.
pub fn check<B: AutodiffBackend>(fixture: &Fixture, device: &B::Device) -> Report {
    let mut report = Report {
        case: fixture.case.clone(),
        comparisons: Vec::new(),
        error: None,
    };
    let result = build::<B>(fixture, device).and_then(|model| match model {
        Model::Ltc(m) => check_model(fixture, m, device, &mut report.comparisons),
        Model::Cfc(m) => check_model(fixture, m, device, &mut report.comparisons),
        Model::WiredCfc(m) => {
            compare_wired_masks(fixture, &m, &mut report.comparisons)?;
            check_model(fixture, m, device, &mut report.comparisons)
        }
    });
    if let Err(e) = result {
        report.error = Some(e);
    }
    report
}

/// The wired cell's masks, rebuilt from the fixture's wiring, against ncps's
/// `layer_{l}.sparsity_mask` (`(n_l, in_l + n_l)`, our `[in_l + n_l, n_l]` transposed).
fn compare_wired_masks<B: Backend>(
    fixture: &Fixture,
    model: &WiredCfc<B>,
    out: &mut Vec<Comparison>,
) -> Result<(), String> {
    for (l, layer) in model.cell.layers.iter().enumerate() {
        let name = format!("rnn_cell.layer_{l}.sparsity_mask");
        let want = fixture.array(&format!("/params/{name}"))?;
        let mask = layer
            .head_mask
            .clone()
            .ok_or("a wired layer without a mask")?;
        out.push(compare(
            format!("masks/{name}"),
            &Array::of(mask).transposed(),
            &want,
            Tolerance {
                atol: 0.0,
                rtol: 0.0,
            },
        ));
    }
    Ok(())
}

/// A recurrent state as the fixtures hold it: `h` and, with mixed memory, `c`.
type Hx<B> = (Tensor<B, 2>, Option<Tensor<B, 2>>);

/// Runs `layer` from the initial state `hx`: the outputs (every step, or the last with
/// `return_sequences` off) flattened for the loss and as an array for the comparison, and the
/// final state.
fn run<B: Backend, C: RecurrentCell<B>>(
    layer: &Recurrent<B, C>,
    x: Tensor<B, 3>,
    hx: Option<Hx<B>>,
    ts: Option<Tensor<B, 2>>,
    return_sequences: bool,
) -> (Tensor<B, 1>, Array, Hx<B>) {
    fn flat<B: Backend, const D: usize>(y: Tensor<B, D>) -> (Tensor<B, 1>, Array) {
        let array = Array::of(y.clone());
        let n = array.data.len();
        (y.reshape([n]), array)
    }
    let state = hx.map(|(hidden, memory)| RecurrentState { hidden, memory });
    let ((y, array), state) = if return_sequences {
        let (y, state) = layer.forward(x, state, ts);
        (flat(y), state)
    } else {
        let (y, state) = layer.forward_last(x, state, ts);
        (flat(y), state)
    };
    (y, array, (state.hidden, state.memory))
}

fn check_model<B: AutodiffBackend, C: RecurrentCell<B>>(
    fixture: &Fixture,
    model: Recurrent<B, C>,
    device: &B::Device,
    out: &mut Vec<Comparison>,
) -> Result<(), String>
where
    Recurrent<B, C>: burn::module::AutodiffModule<B>,
{
    let f64_backend = core::mem::size_of::<B::FloatElem>() == 8;
    let Inputs {
        input,
        timespans,
        hx,
        return_sequences,
    } = Inputs::of(fixture, device)?;
    let (outputs, outputs_array, (h, c)) =
        run(&model, input.clone(), hx, timespans, return_sequences);

    out.push(compare(
        "outputs",
        &outputs_array,
        &fixture.array("/outputs")?,
        F32,
    ));
    if f64_backend {
        out.push(compare(
            "outputs_f64",
            &outputs_array,
            &fixture.array("/outputs_f64")?,
            F64,
        ));
    }
    match c {
        Some(c) => {
            out.push(compare(
                "final_state.h",
                &Array::of(h),
                &fixture.array("/final_state/h")?,
                F32,
            ));
            out.push(compare(
                "final_state.c",
                &Array::of(c),
                &fixture.array("/final_state/c")?,
                F32,
            ));
        }
        None => out.push(compare(
            "final_state",
            &Array::of(h),
            &fixture.array("/final_state")?,
            F32,
        )),
    }
    let loss = outputs.powi_scalar(2).sum();
    let loss_array = Array::of(loss.clone().reshape([1])).data;
    let scalar = |x: f64| Array {
        shape: vec![],
        data: vec![x],
    };
    let want_loss = fixture.json["loss"].as_f64().ok_or("missing loss")?;
    out.push(compare(
        "loss",
        &scalar(loss_array[0]),
        &scalar(want_loss),
        F32,
    ));
    if f64_backend {
        let want = fixture.json["loss_f64"]
            .as_f64()
            .ok_or("missing loss_f64")?;
        out.push(compare(
            "loss_f64",
            &scalar(loss_array[0]),
            &scalar(want),
            F64_LOSS,
        ));
    }

    let grads = loss.backward();
    let grad_input = input.grad(&grads).ok_or("the input has no gradient")?;
    out.push(compare(
        "grad_input",
        &Array::of(grad_input),
        &fixture.array("/grad_input")?,
        F32,
    ));
    for (name, _, grad) in snapshot::<B, Recurrent<B, C>>(fixture, &model, Some(&grads)) {
        let want = fixture.array(&format!("/grads/{}", pointer_escape(&name)))?;
        let got = grad.ok_or_else(|| format!("{name} has no gradient"))?;
        out.push(compare(format!("grads/{name}"), &got, &want, F32));
    }

    if let Some(step) = fixture.json.get("after_adam_step") {
        let lr = step["hyperparams"]["lr"]
            .as_f64()
            .ok_or("after_adam_step: no lr")?;
        let defaults = &step["defaults_used"];
        let betas = defaults["betas"]
            .as_array()
            .ok_or("after_adam_step: no betas")?;
        let beta = |i: usize| {
            betas
                .get(i)
                .and_then(Value::as_f64)
                .ok_or("after_adam_step: betas")
        };
        let mut optim = AdamConfig::new()
            .with_beta_1(beta(0)? as f32)
            .with_beta_2(beta(1)? as f32)
            .with_epsilon(defaults["eps"].as_f64().ok_or("after_adam_step: eps")? as f32)
            .init::<B, Recurrent<B, C>>();
        let grads = GradientsParams::from_grads(grads, &model);
        // In LTC Clip mode the parameters clip themselves after the step: nothing else to call.
        let stepped = optim.step(lr, model, grads);
        for (name, value, _) in snapshot::<B, Recurrent<B, C>>(fixture, &stepped, None) {
            let want = fixture.array(&format!(
                "/after_adam_step/params/{}",
                pointer_escape(&name)
            ))?;
            out.push(compare(
                format!("after_adam_step/{name}"),
                &value,
                &want,
                F32,
            ));
        }
    }
    Ok(())
}
