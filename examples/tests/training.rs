//! Resuming from checkpoints, data-parallel training on several device handles, and the
//! `--infer` path, on a small sequence-classification run (ndarray).

use ltc_examples::run::{InferOn, RunOptions, last_checkpoint};
use ltc_examples::sequence_classification::{ExperimentConfig, Progress, infer, train};

fn small(epochs: usize) -> ExperimentConfig {
    let mut config = ExperimentConfig::default_run()
        .with_epochs(epochs)
        .with_train_size(2048)
        .with_valid_size(256)
        .with_batch_size(32);
    config.model.stack = ExperimentConfig::stack(&config.data, 32, 2);
    config
}

fn dir(name: &str) -> std::path::PathBuf {
    ltc_testing::test_dir::<ltc_examples::backend::TrainBackend>(name)
}

/// Two epochs, then `--resume` to four: four epochs checkpointed, and the final
/// accuracy within 5 points of an uninterrupted four-epoch run. Then `--infer` on the saved
/// model agrees with the run's own validation accuracy within 5 points.
#[test]
fn an_interrupted_run_resumes_from_its_last_checkpoint() {
    let plain = RunOptions::new(Progress::Plain);
    let whole = dir("whole");
    let uninterrupted = train(&small(4), &whole, &plain).unwrap();

    let parts = dir("parts");
    train(&small(2), &parts, &plain).unwrap();
    assert_eq!(last_checkpoint(&parts), Some(2));
    let resume = RunOptions {
        resume: true,
        ..plain
    };
    let resumed = train(&small(4), &parts, &resume).unwrap();
    // Epochs 3 and 4 ran after the resume: their checkpoints are there (the Learner keeps the
    // last two and the best).
    assert_eq!(last_checkpoint(&parts), Some(4));
    assert!(parts.join("checkpoint/model-3.mpk").is_file());
    assert!(parts.join("train/epoch-4").is_dir());
    assert!(
        (resumed.valid_accuracy - uninterrupted.valid_accuracy).abs() <= 0.05,
        "resumed {} vs uninterrupted {}",
        resumed.valid_accuracy,
        uninterrupted.valid_accuracy
    );
    assert!(resumed.valid_accuracy > 0.8, "{}", resumed.valid_accuracy);

    // The saved model, loaded without autodiff: exactly the run's validation accuracy on its
    // validation set, and within 5 points of it on new data.
    assert_eq!(
        infer(&parts, InferOn::Validation).unwrap(),
        resumed.valid_accuracy
    );
    let inferred = infer(&parts, InferOn::NewData).unwrap();
    assert!(
        (inferred - resumed.valid_accuracy).abs() <= 0.05,
        "--infer {inferred} vs validation {}",
        resumed.valid_accuracy
    );

    // Resuming with other options is refused, naming the fix.
    let other = small(4).with_learning_rate(0.5);
    let error = train(&other, &parts, &resume).unwrap_err();
    assert!(
        error.to_string().contains("describes another run"),
        "{error}"
    );
    // Nothing to resume from.
    let error = train(&small(4), &dir("empty"), &resume).unwrap_err();
    assert!(error.to_string().contains("--resume"), "{error}");
}

/// burn-train's multi-device strategy on two handles of the CPU: trains and learns. Each device
/// takes every other batch and the optimiser steps once per pair, so it needs about twice the
/// epochs of one device.
#[test]
fn data_parallel_training_on_two_devices() {
    let options = RunOptions {
        devices: 2,
        ..RunOptions::new(Progress::Plain)
    };
    let artifacts = dir("two-devices");
    let report = train(&small(8), &artifacts, &options).unwrap();
    assert_eq!(last_checkpoint(&artifacts), Some(8));
    assert!(report.valid_accuracy > 0.8, "{}", report.valid_accuracy);
}
