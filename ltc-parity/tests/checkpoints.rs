//! The six ncps PyTorch checkpoints in `fixtures/ncps/pt`, on every backend: imported with the
//! config from their JSON (wirings from our builders, masks from the checkpoint), they reproduce
//! ncps's outputs and final state within 1e-5; saved as our own record and loaded again (on
//! this backend, and across backends) they give identical weights and outputs.

use std::path::PathBuf;

use burn::backend::NdArray;
use burn::tensor::backend::Backend;
use ltc_burn::import::{ImportError, NcpsCheckpoint};
use ltc_burn::ltc::{LtcCellConfig, LtcConfig};
use ltc_burn::persist;
use ltc_parity::checkpoint::{CheckpointCase, Imported, TOLERANCE};
use ltc_parity::default_dir;
use ltc_testing::{backend_tests, test_dir};
use ltc_wirings::FullyConnected;

const CASES: [&str; 6] = [
    "cfc_16_sine",
    "cfc_8_nogate_silu_sine",
    "ltc_autoncp16_1_sine",
    "ltc_fc6_mixed_sine",
    "ltc_fc6_sine",
    "wired_cfc_autoncp12_1_sine",
];

fn pt_dir() -> PathBuf {
    default_dir().join("pt")
}

fn case(name: &str) -> CheckpointCase {
    CheckpointCase::load(&pt_dir().join(format!("{name}.json"))).unwrap()
}

fn run_case<B: Backend>(name: &str, device: &B::Device) {
    let case = case(name);
    let imported = case.import::<B>(None, device).unwrap();
    let report = case.compare(&imported, device).unwrap();
    assert!(
        report.passed(),
        "{name}: {report:?} (tolerance {TOLERANCE})"
    );

    // Our own record: identical outputs after a save and a load on this backend.
    let dir = test_dir::<B>(&format!("checkpoint-{name}"));
    imported.save(&dir.join("same")).unwrap();
    let loaded = imported.load::<B>(&dir.join("same"), device).unwrap();
    let x = case.input::<B>(device).unwrap();
    let (a, ha, _) = imported.run(x.clone());
    let (b, hb, _) = loaded.run(x.clone());
    assert_eq!(a.into_data(), b.into_data(), "{name}: outputs after reload");
    assert_eq!(ha.into_data(), hb.into_data(), "{name}: state after reload");

    // Across backends: saved by ndarray, loaded here, saved again: the same bytes.
    let cpu = Default::default();
    let on_cpu = case.import::<NdArray>(None, &cpu).unwrap();
    on_cpu.save(&dir.join("cpu")).unwrap();
    let here = on_cpu.load::<B>(&dir.join("cpu"), device).unwrap();
    here.save(&dir.join("again")).unwrap();
    for file in [persist::MODEL_FILE, persist::CONFIG_FILE] {
        let first = std::fs::read(dir.join("cpu").join(file)).unwrap();
        let second = std::fs::read(dir.join("again").join(file)).unwrap();
        assert!(
            first == second,
            "{name}: {file} differs after a cross-backend round trip"
        );
    }
    let report = case.compare(&here, device).unwrap();
    assert!(
        report.passed(),
        "{name} loaded from ndarray's record: {report:?}"
    );
}

fn cfc_16_sine<B: Backend>(device: &B::Device) {
    run_case::<B>("cfc_16_sine", device);
}
fn cfc_8_nogate_silu_sine<B: Backend>(device: &B::Device) {
    run_case::<B>("cfc_8_nogate_silu_sine", device);
}
fn ltc_autoncp16_1_sine<B: Backend>(device: &B::Device) {
    run_case::<B>("ltc_autoncp16_1_sine", device);
}
fn ltc_fc6_mixed_sine<B: Backend>(device: &B::Device) {
    run_case::<B>("ltc_fc6_mixed_sine", device);
}
fn ltc_fc6_sine<B: Backend>(device: &B::Device) {
    run_case::<B>("ltc_fc6_sine", device);
}
fn wired_cfc_autoncp12_1_sine<B: Backend>(device: &B::Device) {
    run_case::<B>("wired_cfc_autoncp12_1_sine", device);
}

backend_tests! {
    cfc_16_sine,
    cfc_8_nogate_silu_sine,
    ltc_autoncp16_1_sine,
    ltc_fc6_mixed_sine,
    ltc_fc6_sine,
    wired_cfc_autoncp12_1_sine,
}

#[test]
fn every_checkpoint_in_the_folder_has_a_test() {
    let found: Vec<String> = CheckpointCase::all_in(&pt_dir())
        .unwrap()
        .iter()
        .map(CheckpointCase::name)
        .collect();
    assert_eq!(found, CASES);
}

/// The masks come from the checkpoint: our AutoNCP(16, 1) builder draws a different graph
/// than ncps's (another RNG), and the import still reproduces ncps.
#[test]
fn the_masks_come_from_the_checkpoint() {
    let case = case("ltc_autoncp16_1_sine");
    let ours = case.wiring().unwrap().unwrap();
    let Imported::Ltc(config, _) = case.import::<NdArray>(None, &Default::default()).unwrap()
    else {
        panic!("an LTC");
    };
    let record: ltc_wirings::WiringRecord =
        serde_json::from_value(case.json["wiring"].clone()).unwrap();
    let ncps: Vec<Vec<i8>> = record
        .adjacency_matrix
        .iter()
        .map(|r| r.iter().map(|p| p.abs()).collect())
        .collect();
    let mask = |w: &ltc_wirings::Wiring| -> Vec<Vec<i8>> {
        (0..w.units())
            .map(|i| {
                (0..w.units())
                    .map(|j| w.synapse(i, j).unwrap_or(0).abs())
                    .collect()
            })
            .collect()
    };
    assert_ne!(
        mask(&ours),
        ncps,
        "the builder happens to draw ncps's graph"
    );
    assert_eq!(mask(&config.cell.wiring), ncps);
}

/// A reference off by 1e-4 fails the check.
#[test]
fn a_perturbed_reference_fails() {
    let mut case = case("ltc_fc6_sine");
    let value = case.json.pointer_mut("/outputs/2/9/0").unwrap();
    *value = serde_json::json!(value.as_f64().unwrap() + 1e-4);
    let report = case.check::<NdArray>(None, &Default::default()).unwrap();
    assert!(!report.passed(), "{report:?}");
    assert!((report.outputs - 1e-4).abs() < 1e-6, "{report:?}");
}

/// A config that does not fit the checkpoint is an error naming the key and both shapes.
#[test]
fn mismatches_name_the_key_and_both_shapes() {
    let device = Default::default();
    let checkpoint = NcpsCheckpoint::from_file(pt_dir().join("ltc_fc6_sine.pt")).unwrap();
    let wiring = FullyConnected::new(8).build(2).unwrap();
    let error = checkpoint
        .load_ltc::<NdArray>(&LtcConfig::new(LtcCellConfig::new(wiring)), &device)
        .unwrap_err();
    assert!(
        matches!(&error, ImportError::Shape { key, checkpoint, config, .. }
            if key == "rnn_cell.gleak" && checkpoint == &[6] && config == &[8]),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "rnn_cell.gleak: the checkpoint has shape [6], the config implies [8] \
         (the config's wiring: units)"
    );

    // A CfC checkpoint read with the wrong backbone width.
    let cfc = case("cfc_16_sine");
    let mut config = ltc_parity::cfc_config(&cfc.json["config"]).unwrap();
    config.cell.backbone_units = 24;
    let checkpoint = NcpsCheckpoint::from_file(cfc.state_dict()).unwrap();
    let error = checkpoint
        .load_cfc::<NdArray>(&config, &device)
        .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("rnn_cell.backbone.0.weight: the checkpoint has shape [32, 18], the config implies [24, 18]"),
        "{error}"
    );

    // The wrong mode: a pure CfC has no ff1/ff2/time heads but w_tau and A.
    let mut config = ltc_parity::cfc_config(&cfc.json["config"]).unwrap();
    config.cell.mode = ltc_burn::CfcMode::Pure;
    let error = checkpoint
        .load_cfc::<NdArray>(&config, &device)
        .unwrap_err();
    assert_eq!(
        error,
        ImportError::Missing {
            key: "rnn_cell.w_tau".into(),
            hint: "the config's sizes and options".into()
        }
    );

    // Negative conductances (explicit mode, never clipped) under a Clip config.
    let checkpoint = NcpsCheckpoint::from_file(pt_dir().join("ltc_fc6_sine.pt")).unwrap();
    let fc6 = case("ltc_fc6_sine");
    let clip = ltc_parity::ltc_config(&fc6.json["config"], fc6.wiring().unwrap().unwrap()).unwrap();
    assert_eq!(clip.cell.positivity, ltc_burn::Positivity::Clip);
    let error = checkpoint.load_ltc::<NdArray>(&clip, &device).unwrap_err();
    assert!(
        error.to_string().contains("rnn_cell.w holds -0.16")
            && error.to_string().contains("Positivity::Unconstrained"),
        "{error}"
    );

    // Not a checkpoint at all.
    let error = NcpsCheckpoint::from_file(pt_dir().join("cfc_16_sine.json")).unwrap_err();
    assert!(
        error.to_string().starts_with(&format!(
            "{}: not a readable PyTorch state dict",
            pt_dir().join("cfc_16_sine.json").display()
        )),
        "{error}"
    );
}
