//! Layers exported for ltc-runtime against the layers' own `step` (the plain tensor path):
//! outputs and states over long sequences with irregular elapsed times, for LTC, CfC and wired
//! CfC, every mode, backbone, mapping and wiring variant, with and without mixed memory and a
//! projection, on every backend the parameters come from. The runtime computes in `f32`.
//!
//! Also writes (`LTC_BLESS=1`) and checks the fixtures the runtime's own tests step without
//! Burn: `ltc-runtime/tests/fixtures/<name>.ltcr` (the exported model) and `<name>.trace` (the
//! inputs, elapsed times, outputs and states of `step` over 200 steps).

use std::path::PathBuf;

use burn::backend::NdArray;
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor, TensorData};
use ltc_runtime::Model;
use ltc_testing::{assert_close, backend_tests, values};
use ltc_wirings::{AutoNcp, FullyConnected, Random};

use super::stepper::{cfc_layer, ltc_with_random_mappings, random_wiring, wired_layer};
use crate::cfc::{Activation, CfcMode, WiredVariant};
use crate::export::RuntimeCell;
use crate::ltc::{LtcCellConfig, LtcConfig, Mapping};
use crate::recurrent::{Recurrent, RecurrentState};

/// One step of a run: the input, the elapsed time, the outputs, the state after it.
type Step = (Vec<f32>, f32, Vec<f32>, Vec<f32>);

/// What a run records.
struct Trace {
    d_input: usize,
    d_output: usize,
    state_len: usize,
    steps: Vec<Step>,
}

/// Elapsed times for step `t`: irregular, in (0.05, 1.55); for an LTC also 0 and negative
/// ones (the step then holds the potentials).
fn elapsed(t: usize, odd: bool) -> f32 {
    if odd && t % 17 == 5 {
        return 0.0;
    }
    if odd && t % 23 == 7 {
        return -0.5;
    }
    0.05 + 1.5 * ((t * 7919 % 101) as f32 / 101.0)
}

/// The layer's own `step` over `steps` random inputs (batch 1) with elapsed times.
fn run_layer<B: Backend, C: RuntimeCell<B>>(
    layer: &Recurrent<B, C>,
    steps: usize,
    odd: bool,
    device: &B::Device,
) -> Trace {
    let s = layer.d_input();
    let mut state: Option<RecurrentState<B>> = None;
    let mut out = Trace {
        d_input: s,
        d_output: layer.d_output(),
        state_len: layer.d_hidden() * if layer.lstm.is_some() { 2 } else { 1 },
        steps: Vec::with_capacity(steps),
    };
    for t in 0..steps {
        let x = Tensor::<B, 2>::random([1, s], Distribution::Normal(0.0, 1.0), device);
        let dt = elapsed(t, odd);
        let dt_tensor = Tensor::from_data(TensorData::new(vec![dt], [1]), device);
        let (y, next) = layer.step(x.clone(), state, Some(dt_tensor));
        let f32s = |t: Tensor<B, 2>| -> Vec<f32> { values(t).iter().map(|v| *v as f32).collect() };
        let mut st = f32s(next.hidden.clone());
        if let Some(c) = &next.memory {
            st.extend(f32s(c.clone()));
        }
        out.steps.push((f32s(x), dt, f32s(y), st));
        state = Some(next);
    }
    out
}

/// The runtime over the same inputs; every output and state within 1e-5 of the trace's.
fn check_runtime(what: &str, file: &[u8], trace: &Trace) {
    let model = Model::parse(file).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(
        (model.d_input(), model.d_output(), model.state_len()),
        (trace.d_input, trace.d_output, trace.state_len),
        "{what}: sizes"
    );
    let mut state = vec![0.0; model.state_len()];
    let mut scratch = vec![f32::NAN; model.scratch_len()]; // its contents must not matter
    let mut y = vec![0.0; model.d_output()];
    for (t, (x, dt, want_y, want_state)) in trace.steps.iter().enumerate() {
        model
            .step(x, Some(*dt), &mut state, &mut scratch, &mut y)
            .unwrap_or_else(|e| panic!("{what}, step {t}: {e}"));
        let f64s = |v: &[f32]| v.iter().map(|v| f64::from(*v)).collect::<Vec<_>>();
        let at = format!("{what}, step {t}, outputs");
        assert_close(&at, &f64s(&y), &f64s(want_y), 1e-5, 1e-5);
        let at = format!("{what}, step {t}, state");
        assert_close(&at, &f64s(&state), &f64s(want_state), 1e-5, 1e-5);
    }
}

fn ncp(inputs: usize) -> ltc_wirings::Wiring {
    AutoNcp::new(19, 4).build(inputs).unwrap()
}

fn ltc_cases<B: Backend>(device: &B::Device) -> Vec<(String, crate::Ltc<B>)> {
    let cell = LtcCellConfig::new;
    let random = random_wiring();
    vec![
        ("ltc_ncp".into(), LtcConfig::new(cell(ncp(3)))),
        (
            "ltc_fc_linear_projection".into(),
            LtcConfig::new(
                cell(FullyConnected::new(5).build(3).unwrap()).with_input_mapping(Mapping::Linear),
            )
            .with_proj_size(Some(2)),
        ),
        (
            "ltc_random_identity_3_unfolds".into(),
            LtcConfig::new(
                cell(random)
                    .with_input_mapping(Mapping::Identity)
                    .with_output_mapping(Mapping::Identity)
                    .with_ode_unfolds(3),
            ),
        ),
        (
            "ltc_ncp_memory".into(),
            LtcConfig::new(cell(ncp(3))).with_mixed_memory(true),
        ),
    ]
    .into_iter()
    .map(|(name, config)| {
        (
            name,
            ltc_with_random_mappings::<B>(config, device).with_fused(false),
        )
    })
    .collect()
}

fn cfc_cases<B: Backend>(device: &B::Device) -> Vec<(String, crate::Cfc<B>)> {
    use Activation::*;
    use CfcMode::*;
    // (name, mode, activation, backbone layers, projection, mixed memory)
    let cases = [
        ("cfc_gated", Default, LecunTanh, 1, None, false),
        (
            "cfc_gated_gelu_projection",
            Default,
            Gelu,
            2,
            Some(2),
            false,
        ),
        ("cfc_nogate_silu_memory", NoGate, Silu, 0, None, true),
        (
            "cfc_pure_relu_memory_projection",
            Pure,
            Relu,
            1,
            Some(3),
            true,
        ),
        ("cfc_gated_tanh", Default, Tanh, 3, None, false),
    ];
    cases
        .into_iter()
        .map(|(name, mode, act, layers, proj, memory)| {
            let cfc = cfc_layer::<B>([3, 8, 16], (mode, act, layers), proj, memory, device);
            (name.to_string(), cfc.with_fused(false))
        })
        .collect()
}

fn wired_cases<B: Backend>(device: &B::Device) -> Vec<(String, crate::WiredCfc<B>)> {
    use CfcMode::*;
    use WiredVariant::*;
    let random = Random {
        output_dim: 2,
        seed: 3,
        ..Random::new(7, 0.5)
    }
    .build(2)
    .unwrap();
    // (name, wiring, variant, mode, projection, mixed memory)
    let cases = [
        ("wired_cfc_ncps", ncp(3), Ncps, Default, None, false),
        (
            "wired_cfc_ncps_pure_memory",
            ncp(3),
            Ncps,
            Pure,
            Some(2),
            true,
        ),
        ("wired_cfc_faithful", ncp(3), Faithful, NoGate, None, false),
        (
            "wired_cfc_faithful_memory",
            ncp(3),
            Faithful,
            Default,
            Some(3),
            true,
        ),
        (
            "wired_cfc_random_ncps",
            random.clone(),
            Ncps,
            Default,
            None,
            false,
        ),
        (
            "wired_cfc_random_faithful",
            random,
            Faithful,
            Pure,
            None,
            false,
        ),
    ];
    cases
        .into_iter()
        .map(|(name, wiring, variant, mode, proj, memory)| {
            let wired = wired_layer::<B>(wiring, (variant, mode), proj, memory, device);
            (name.to_string(), wired)
        })
        .collect()
}

/// Steps per comparison on every backend (the fixtures run 200 on ndarray).
const STEPS: usize = 48;

fn runtime_equals_step<B: Backend>(device: &B::Device) {
    ltc_testing::seed::<B>(device, 61);
    for (name, layer) in ltc_cases::<B>(device) {
        check_runtime(
            &name,
            &layer.to_runtime(),
            &run_layer(&layer, STEPS, true, device),
        );
    }
    for (name, layer) in cfc_cases::<B>(device) {
        check_runtime(
            &name,
            &layer.to_runtime(),
            &run_layer(&layer, STEPS, false, device),
        );
    }
    for (name, layer) in wired_cases::<B>(device) {
        check_runtime(
            &name,
            &layer.to_runtime(),
            &run_layer(&layer, STEPS, false, device),
        );
    }
}

backend_tests! {
    runtime_equals_step,
}

/// `ltc-runtime/tests/fixtures`.
fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ltc-runtime/tests/fixtures")
}

fn trace_bytes(trace: &Trace) -> Vec<u8> {
    let mut out = Vec::new();
    let mut word = |v: usize| out.extend_from_slice(&(v as u32).to_le_bytes());
    word(trace.steps.len());
    word(trace.d_input);
    word(trace.d_output);
    word(trace.state_len);
    for (x, dt, y, state) in &trace.steps {
        for v in x.iter().chain([dt]).chain(y).chain(state) {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

/// Word by word: equal, or two normal `f32` within `tol` relative (seeded initialisation and
/// the layer's steps on another CPU may round differently). Sizes, codes and indices are small
/// integers, not normal floats: they must be equal.
fn same_words(a: &[u8], b: &[u8], tol: f32) -> bool {
    let word = |c: &[u8]| [c[0], c[1], c[2], c[3]];
    a.len() == b.len()
        && a.chunks(4).zip(b.chunks(4)).all(|(a, b)| {
            let (x, y) = (f32::from_le_bytes(word(a)), f32::from_le_bytes(word(b)));
            a == b || (x.is_normal() && y.is_normal() && (x - y).abs() <= tol * x.abs().max(1.0))
        })
}

/// The runtime's fixtures are what the exporter and the layers' `step` give now: regenerate
/// them with `LTC_BLESS=1 cargo test -p ltc-burn --lib runtime_fixtures`.
#[test]
fn runtime_fixtures_are_current() {
    type B = NdArray;
    let device = Default::default();
    let _draws = ltc_testing::draws();
    ltc_testing::seed::<B>(&device, 71);
    let mut files: Vec<(String, Vec<u8>, Trace)> = Vec::new();
    let mut add = |name: String, file: Vec<u8>, trace: Trace| files.push((name, file, trace));
    let keep = [
        "ltc_ncp",
        "ltc_ncp_memory",
        "cfc_gated",
        "cfc_pure_relu_memory_projection",
    ];
    for (name, layer) in ltc_cases::<B>(&device) {
        if keep.contains(&name.as_str()) {
            add(
                name,
                layer.to_runtime(),
                run_layer(&layer, 200, true, &device),
            );
        }
    }
    for (name, layer) in cfc_cases::<B>(&device) {
        if keep.contains(&name.as_str()) {
            add(
                name,
                layer.to_runtime(),
                run_layer(&layer, 200, false, &device),
            );
        }
    }
    for (name, layer) in wired_cases::<B>(&device) {
        if ["wired_cfc_ncps", "wired_cfc_faithful_memory"].contains(&name.as_str()) {
            add(
                name,
                layer.to_runtime(),
                run_layer(&layer, 200, false, &device),
            );
        }
    }
    let dir = fixtures();
    let bless = std::env::var_os("LTC_BLESS").is_some();
    if bless {
        std::fs::create_dir_all(&dir).unwrap();
    }
    for (name, file, trace) in &files {
        check_runtime(name, file, trace);
        let (model_path, trace_path) = (
            dir.join(format!("{name}.ltcr")),
            dir.join(format!("{name}.trace")),
        );
        let trace = trace_bytes(trace);
        if bless {
            std::fs::write(&model_path, file).unwrap();
            std::fs::write(&trace_path, &trace).unwrap();
            continue;
        }
        let read = |path: &PathBuf| {
            std::fs::read(path)
                .unwrap_or_else(|e| panic!("{}: {e} (write it with LTC_BLESS=1)", path.display()))
        };
        assert!(
            same_words(&read(&model_path), file, 1e-6),
            "{}: not what the exporter writes now (LTC_BLESS=1 rewrites it)",
            model_path.display()
        );
        assert!(
            same_words(&read(&trace_path), &trace, 1e-5),
            "{}: not what the layer's step gives now (LTC_BLESS=1 rewrites it)",
            trace_path.display()
        );
    }
}
