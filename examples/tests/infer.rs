//! `--infer` for every training example: a short run, then its saved model loaded on the
//! inference backend (no autodiff). On the run's own validation data it must give exactly the
//! metric the run reported (the saved model loads exactly); on new data a finite, sensible
//! number. And `xor`'s hand-written loop: checkpoints, `--resume`, `--infer`.

use ltc_datasets::{MovingBlobsConfig, SpiralConfig};
use ltc_examples::embed::{self, EmbedConfig};
use ltc_examples::liquid::LiquidKind;
use ltc_examples::run::{InferOn, Progress, RunError, RunOptions};
use ltc_examples::xor::{self, XorConfig, model_dir};
use ltc_examples::{moons, ode_spiral, sine, spiral};

fn dir(name: &str) -> std::path::PathBuf {
    ltc_testing::test_dir::<ltc_examples::backend::TrainBackend>(name)
}

fn plain() -> RunOptions {
    RunOptions::new(Progress::Plain)
}

/// `infer` on the run's own validation data gives exactly `reported` (the saved model loads
/// exactly); returns its result on new data.
fn infer_matches<T: PartialEq + std::fmt::Debug>(
    reported: T,
    infer: impl Fn(InferOn) -> Result<T, RunError>,
) -> T {
    assert_eq!(infer(InferOn::Validation).unwrap(), reported);
    infer(InferOn::NewData).unwrap()
}

#[test]
fn spiral_infers_from_its_artifacts() {
    let artifacts = dir("spiral");
    let config =
        spiral::SpiralExperiment::new(SpiralConfig::new().with_num_points(200).with_seq_len(16))
            .with_epochs(2);
    let report = spiral::train(&config, &artifacts, &plain()).unwrap();
    let (mse, baseline) = infer_matches((report.valid_mse, report.baseline_mse), |on| {
        spiral::infer(&artifacts, on)
    });
    assert!(mse.is_finite() && baseline > 0.0, "{mse} {baseline}");
    assert_ne!(baseline, report.baseline_mse, "new data differs");
}

#[test]
fn sine_infers_from_its_artifacts() {
    let artifacts = dir("sine");
    let config = sine::SineExperiment::new().with_steps(40);
    let report = sine::train(&config, &artifacts, &plain()).unwrap();
    let continued = infer_matches(report.mse, |on| sine::infer(&artifacts, on));
    assert!(
        continued.is_finite() && continued != report.mse,
        "{continued}"
    );
}

#[test]
fn embed_infers_from_its_artifacts() {
    let artifacts = dir("embed");
    let config = EmbedConfig::new(MovingBlobsConfig::new())
        .with_liquid(LiquidKind::Ltc)
        .with_train_size(64)
        .with_valid_size(32)
        .with_epochs(1);
    let report = embed::train(&config, &artifacts, &plain()).unwrap();
    let accuracy = infer_matches(report.valid_accuracy, |on| embed::infer(&artifacts, on));
    assert!((0.0..=1.0).contains(&accuracy), "{accuracy}");
}

#[test]
fn moons_infers_from_its_artifacts() {
    let artifacts = dir("moons");
    let config = moons::MoonsExperiment::new()
        .with_train_size(256)
        .with_valid_size(256)
        .with_epochs(3);
    let report = moons::train(&config, &artifacts, &plain()).unwrap();
    // Moons are easy: three epochs already separate them well on any draw.
    let accuracy = infer_matches(report.valid_accuracy, |on| moons::infer(&artifacts, on));
    assert!(
        (accuracy - report.valid_accuracy).abs() < 0.1,
        "new data {accuracy}, validation {}",
        report.valid_accuracy
    );
}

#[test]
fn ode_spiral_infers_from_its_artifacts() {
    let artifacts = dir("ode_spiral");
    let config = ode_spiral::OdeSpiralExperiment::new()
        .with_points(100)
        .with_t_end(2.5)
        .with_epochs(1);
    let report = ode_spiral::train(&config, &artifacts, &plain()).unwrap();
    let l1 = infer_matches(report.final_l1, |on| ode_spiral::infer(&artifacts, on));
    assert!(l1.is_finite() && l1 != report.final_l1, "{l1}");
}

fn small_xor(epochs: usize) -> XorConfig {
    XorConfig::new()
        .with_bits(4)
        .with_train_size(512)
        .with_valid_size(256)
        .with_epochs(epochs)
}

/// xor trains with its own loop: a checkpoint per epoch (the last two kept), `--resume` from
/// the last one replays the data order and ends where an uninterrupted run ends, `--infer`
/// loads the trained weights exactly.
#[test]
fn xor_checkpoints_resumes_and_infers() {
    let device = ltc_examples::backend::device();
    type B = ltc_examples::backend::TrainBackend;
    let kind = LiquidKind::Cfc;
    let whole = dir("xor-whole");
    let uninterrupted =
        xor::train::<B>(&small_xor(4), kind, &whole, false, &device, |_, _| {}).unwrap();
    assert_eq!(uninterrupted.valid_accuracy.len(), 4);

    let parts = dir("xor-parts");
    xor::train::<B>(&small_xor(2), kind, &parts, false, &device, |_, _| {}).unwrap();
    let checkpoints = model_dir(&parts, kind).join("checkpoint");
    assert!(checkpoints.join("optim-2.mpk").is_file());
    let mut epochs = Vec::new();
    let resumed = xor::train::<B>(&small_xor(4), kind, &parts, true, &device, |e, _| {
        epochs.push(e)
    })
    .unwrap();
    assert_eq!(resumed.resumed_from, Some(2));
    assert_eq!(epochs, [3, 4]);
    assert_eq!(resumed.valid_accuracy.len(), 4);
    assert!(!checkpoints.join("model-2.mpk").exists(), "older ones go");
    assert!(checkpoints.join("model-4.mpk").is_file());
    // Same weights, Adam state and data order: the same curve, up to the rounding of
    // ndarray's threaded reductions.
    for (a, b) in resumed
        .valid_accuracy
        .iter()
        .zip(&uninterrupted.valid_accuracy)
    {
        assert!((a - b).abs() <= 0.03, "{resumed:?} vs {uninterrupted:?}");
    }

    let last = *resumed.valid_accuracy.last().unwrap();
    let new = infer_matches(last, |on| xor::infer(&parts, kind, on));
    assert!((0.0..=1.0).contains(&new), "{new}");

    // Resuming with other options, or with nothing to resume from, is refused.
    let error = xor::train::<B>(
        &small_xor(4).with_units(8),
        kind,
        &parts,
        true,
        &device,
        |_, _| {},
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("describes another run"),
        "{error}"
    );
    let error = xor::train::<B>(
        &small_xor(4),
        LiquidKind::Ltc,
        &parts,
        true,
        &device,
        |_, _| {},
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("no complete checkpoint"),
        "{error}"
    );
}
