//! Every ncps fixture in `fixtures/ncps`, on every backend: outputs, states, losses, all
//! gradients, the input gradient, the wired CfC's masks and (a, d, f) one Adam step (with the
//! automatic clip for a).

use burn::tensor::backend::AutodiffBackend;
use ltc_parity::{Fixture, Report, Tolerance, check, default_dir, fused_vs_reference};
use ltc_testing::backend_tests;

const CASES: [&str; 12] = [
    "a_ltc_fc8",
    "b_ltc_autoncp16_2",
    "c_ltc_fc8_timespans",
    "d_ltc_fc8_implicit",
    "e_cfc_default",
    "f_cfc_pure",
    "g_cfc_no_gate",
    "h_wired_cfc_autoncp16_2",
    "i_cfc_timespans",
    "j_ltc_fc8_mixed_memory",
    "k_cfc_seqfirst_last_hx",
    "l_ltc_ncp_linear_nomap_hx",
];

fn load(case: &str) -> Fixture {
    Fixture::load(&default_dir().join(format!("{case}.json"))).unwrap()
}

fn run_case<B: AutodiffBackend>(case: &str, device: &B::Device) {
    let fixture = load(case);
    let report = check::<B>(&fixture, device);
    assert!(
        report.passed(),
        "\n{}\n{}\n{:#?}",
        Report::header(),
        report.row(),
        report.worst()
    );
    // Every trainable parameter's gradient was compared, and the Adam step where recorded.
    let trainable = fixture.json["trainable"].as_array().unwrap();
    for name in trainable {
        let name = format!("grads/{}", name.as_str().unwrap());
        assert!(
            report.comparisons.iter().any(|c| c.what == name),
            "{name} not compared"
        );
    }
    let adam = report
        .comparisons
        .iter()
        .filter(|c| c.what.starts_with("after_adam_step/"))
        .count();
    let want = if fixture.json.get("after_adam_step").is_some() {
        trainable.len()
    } else {
        0
    };
    assert_eq!(adam, want, "parameters compared after the Adam step");
    // A wired CfC's masks, rebuilt from the wiring, equal ncps's.
    if let Some(wiring) = fixture.json["wiring"].as_object()
        && fixture.model == "CfC"
    {
        let layers = wiring["num_layers"].as_u64().unwrap() as usize;
        for l in 0..layers {
            let name = format!("masks/rnn_cell.layer_{l}.sparsity_mask");
            assert!(
                report.comparisons.iter().any(|c| c.what == name),
                "{name} not compared"
            );
        }
    }
}

fn a_ltc_fc8<B: AutodiffBackend>(device: &B::Device) {
    run_case::<B>("a_ltc_fc8", device);
}
fn b_ltc_autoncp16_2<B: AutodiffBackend>(device: &B::Device) {
    run_case::<B>("b_ltc_autoncp16_2", device);
}
fn c_ltc_fc8_timespans<B: AutodiffBackend>(device: &B::Device) {
    run_case::<B>("c_ltc_fc8_timespans", device);
}
fn d_ltc_fc8_implicit<B: AutodiffBackend>(device: &B::Device) {
    run_case::<B>("d_ltc_fc8_implicit", device);
}
fn e_cfc_default<B: AutodiffBackend>(device: &B::Device) {
    run_case::<B>("e_cfc_default", device);
}
fn f_cfc_pure<B: AutodiffBackend>(device: &B::Device) {
    run_case::<B>("f_cfc_pure", device);
}
fn g_cfc_no_gate<B: AutodiffBackend>(device: &B::Device) {
    run_case::<B>("g_cfc_no_gate", device);
}
fn h_wired_cfc_autoncp16_2<B: AutodiffBackend>(device: &B::Device) {
    run_case::<B>("h_wired_cfc_autoncp16_2", device);
}
fn i_cfc_timespans<B: AutodiffBackend>(device: &B::Device) {
    run_case::<B>("i_cfc_timespans", device);
}
fn k_cfc_seqfirst_last_hx<B: AutodiffBackend>(device: &B::Device) {
    run_case::<B>("k_cfc_seqfirst_last_hx", device);
}
fn j_ltc_fc8_mixed_memory<B: AutodiffBackend>(device: &B::Device) {
    run_case::<B>("j_ltc_fc8_mixed_memory", device);
}
fn l_ltc_ncp_linear_nomap_hx<B: AutodiffBackend>(device: &B::Device) {
    run_case::<B>("l_ltc_ncp_linear_nomap_hx", device);
}

/// The fused unfold equals the plain tensor path on every LTC fixture: outputs, final state
/// and every gradient within 1e-5 (1e-10 in f64).
fn ltc_fixtures_fused_equals_reference<B: AutodiffBackend>(device: &B::Device) {
    let tol = if ltc_testing::is_f64::<B>() {
        Tolerance {
            atol: 1e-10,
            rtol: 1e-10,
        }
    } else {
        Tolerance {
            atol: 1e-5,
            rtol: 1e-5,
        }
    };
    let ltc_cases: Vec<&str> = CASES.into_iter().filter(|c| c.contains("_ltc_")).collect();
    assert_eq!(ltc_cases.len(), 6);
    for case in ltc_cases {
        let comparisons = fused_vs_reference::<B>(&load(case), device, tol).unwrap();
        // outputs, final state, grad_input and at least the 11 synapse/leak parameters.
        assert!(comparisons.len() >= 14, "{case}: {comparisons:?}");
        for c in comparisons {
            assert!(
                c.worst <= 1.0,
                "{case}: {} differs by {:.3e} (×{:.2} the tolerance)",
                c.what,
                c.max_abs,
                c.worst
            );
        }
    }
}

backend_tests! {
    ltc_fixtures_fused_equals_reference,
    a_ltc_fc8,
    b_ltc_autoncp16_2,
    c_ltc_fc8_timespans,
    d_ltc_fc8_implicit,
    e_cfc_default,
    f_cfc_pure,
    g_cfc_no_gate,
    h_wired_cfc_autoncp16_2,
    i_cfc_timespans,
    j_ltc_fc8_mixed_memory,
    k_cfc_seqfirst_last_hx,
    l_ltc_ncp_linear_nomap_hx,
}

#[test]
fn every_fixture_in_the_folder_has_a_test() {
    let mut found: Vec<String> = Fixture::all_in(&default_dir())
        .unwrap()
        .into_iter()
        .map(|f| f.case)
        .collect();
    found.sort();
    assert_eq!(found, CASES);
}

/// The runner can fail: a reference off by 1e-4 in one output, one gradient entry or one
/// post-Adam parameter is reported, by name.
#[test]
fn a_perturbed_reference_fails() {
    type B = ltc_testing::NdArrayF32;
    let device = Default::default();
    for (pointer, name) in [
        ("/outputs/1/2/3", "outputs"),
        (
            "/grads/rnn_cell.sensory_mu/0/5",
            "grads/rnn_cell.sensory_mu",
        ),
        (
            "/after_adam_step/params/rnn_cell.w/2/2",
            "after_adam_step/rnn_cell.w",
        ),
    ] {
        let mut fixture = load("a_ltc_fc8");
        let value = fixture.json.pointer_mut(pointer).unwrap();
        *value = serde_json::json!(value.as_f64().unwrap() + 1e-3);
        let report = check::<B>(&fixture, &device);
        assert!(!report.passed(), "{pointer}: {}", report.row());
        assert!(
            report.row().contains(&format!("FAIL ({name} beyond")),
            "{}",
            report.row()
        );
    }
}

/// The CfC runner can fail too: a perturbed reference is reported by name, a wrong mask is
/// caught, and a parameter the model lacks is an error naming it.
#[test]
fn a_perturbed_cfc_reference_fails() {
    type B = ltc_testing::NdArrayF32;
    let device = Default::default();
    for (case, pointer, name) in [
        ("f_cfc_pure", "/grads/rnn_cell.A/0/3", "grads/rnn_cell.A"),
        (
            "f_cfc_pure",
            "/after_adam_step/params/rnn_cell.backbone.2.weight/1/1",
            "after_adam_step/rnn_cell.backbone.2.weight",
        ),
        ("g_cfc_no_gate", "/grads/fc.weight/1/7", "grads/fc.weight"),
        (
            "h_wired_cfc_autoncp16_2",
            "/params/rnn_cell.layer_1.sparsity_mask/0/0",
            "masks/rnn_cell.layer_1.sparsity_mask",
        ),
    ] {
        let mut fixture = load(case);
        let value = fixture.json.pointer_mut(pointer).unwrap();
        *value = serde_json::json!(value.as_f64().unwrap() + 1e-3);
        let report = check::<B>(&fixture, &device);
        assert!(
            report.row().contains(&format!("FAIL ({name} beyond")),
            "{pointer}: {}",
            report.row()
        );
    }
    let mut fixture = load("e_cfc_default");
    fixture.json["config"]["mode"] = serde_json::json!("pure");
    let report = check::<B>(&fixture, &device);
    assert!(
        report
            .error
            .as_deref()
            .is_some_and(|e| e.contains("rnn_cell.w_tau")),
        "{}",
        report.row()
    );
}

/// A fixture of an unknown model is an error, not a pass.
#[test]
fn unknown_models_are_errors() {
    type B = ltc_testing::NdArrayF32;
    let mut fixture = load("l_ltc_ncp_linear_nomap_hx");
    fixture.model = "GRU".into();
    let report = check::<B>(&fixture, &Default::default());
    assert!(!report.passed(), "{}", report.row());
    assert!(
        report.row().contains("unknown model \"GRU\""),
        "{}",
        report.row()
    );
}
