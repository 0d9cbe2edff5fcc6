//! Resuming from checkpoints, data-parallel training on several device handles, and the
//! `--infer` path, on a small sequence-classification run (ndarray).

use ltc_examples::run::Progress;
use ltc_examples::run::{InferOn, RunOptions, last_checkpoint};
use ltc_examples::sequence_classification::{ExperimentConfig, infer, train};

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

/// Set in the child processes of [`a_killed_run_resumes_and_finishes`]: the artifacts folder.
const KILL_CHILD_DIR: &str = "LTC_KILL_TEST_ARTIFACTS";

/// The run the kill test interrupts: short epochs, `epochs` of them.
fn killable(epochs: usize) -> ExperimentConfig {
    small(epochs).with_train_size(1024)
}

/// Epochs of the killed children's runs: far more than they get to (an epoch takes well under
/// a second), so that the signal lands mid-training however late it comes.
const CHILD_EPOCHS: usize = 200;

/// Starts this test binary again as a child process that trains [`killable`] in `artifacts`
/// (resuming when asked), waits until epoch `after` is checkpointed completely, then kills the
/// child with `signal` (`"KILL"` or `"INT"`) mid-training. Returns the last complete checkpoint
/// the child left.
fn train_in_child_and_kill(
    artifacts: &std::path::Path,
    resume: bool,
    after: usize,
    signal: &str,
) -> usize {
    // Through `env --default-signal=INT`: a process started in the background by a
    // non-interactive shell (CI, `nohup … &`) inherits SIGINT ignored, which would make the
    // child shrug the signal off; a user's Ctrl-C meets the default action.
    let mut child = std::process::Command::new("env")
        .arg("--default-signal=INT")
        .arg(std::env::current_exe().unwrap())
        .args([
            "a_killed_run_resumes_and_finishes",
            "--exact",
            "--nocapture",
        ])
        .env(KILL_CHILD_DIR, artifacts)
        .env("LTC_KILL_TEST_RESUME", if resume { "1" } else { "0" })
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("cannot start the child");
    let start = std::time::Instant::now();
    while last_checkpoint(artifacts).is_none_or(|epoch| epoch < after) {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the child ended ({status}) before checkpointing epoch {after}");
        }
        assert!(
            start.elapsed().as_secs() < 600,
            "no checkpoint of epoch {after} after 10 minutes"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // Into the next epoch (its training log has begun), then the signal: no fixed sleep, which a
    // loaded machine could outlast or cut short.
    let next = artifacts.join(format!("train/epoch-{}", after + 1));
    while !next.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the child ended ({status}) before starting epoch {}",
                after + 1
            );
        }
        assert!(
            start.elapsed().as_secs() < 600,
            "epoch {} did not start within 10 minutes",
            after + 1
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let status = std::process::Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal} failed");
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the child was not stopped by SIG{signal} (it finished {CHILD_EPOCHS} epochs): {status}"
    );
    let last = last_checkpoint(artifacts).expect("a checkpoint");
    assert!(
        (after..CHILD_EPOCHS).contains(&last),
        "checkpoint {last} after the kill"
    );
    last
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &std::path::Path) -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// The Learner's metric logs (`train|valid/epoch-N/*.log`) of the epochs in `epochs`, with their
/// bytes.
fn epoch_logs(
    artifacts: &std::path::Path,
    epochs: std::ops::RangeInclusive<usize>,
) -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
    let mut logs = std::collections::BTreeMap::new();
    for split in ["train", "valid"] {
        for epoch in epochs.clone() {
            let dir = artifacts.join(format!("{split}/epoch-{epoch}"));
            if dir.is_dir() {
                logs.append(&mut snapshot(&dir));
            }
        }
    }
    logs
}

/// A real training process killed twice — `SIGKILL` after its first checkpoint, then,
/// resumed, `SIGINT` after its next one — and resumed once more with `--resume` for one more
/// epoch: it continues from its last complete checkpoint each time and finishes, learning. What
/// the killed processes wrote stays intact: `config.json` keeps its bytes, no partial checkpoint
/// is left, every resume loads its checkpoint (checkpoints are written to a temporary file
/// and renamed: `persist::AtomicRecorder`), and the metric logs of the epochs before each kill
/// keep their bytes while every epoch of the three runs has complete logs under its own number
/// (`run::ResumedMetricLogger`).
#[test]
fn a_killed_run_resumes_and_finishes() {
    let plain = RunOptions::new(Progress::Plain);
    if let Some(artifacts) = std::env::var_os(KILL_CHILD_DIR) {
        // The child: train until killed.
        let resume = std::env::var("LTC_KILL_TEST_RESUME").as_deref() == Ok("1");
        let options = RunOptions { resume, ..plain };
        let artifacts = std::path::Path::new(&artifacts);
        train(&killable(CHILD_EPOCHS), artifacts, &options).unwrap();
        return;
    }
    let artifacts = dir("killed");
    let first = train_in_child_and_kill(&artifacts, false, 1, "KILL");
    let config = std::fs::read(artifacts.join("config.json")).unwrap();
    let logs_first = epoch_logs(&artifacts, 1..=first);

    // Two epochs on, so that the resumed run's first epoch (the one burn-train numbers 1)
    // completes before the kill.
    let second = train_in_child_and_kill(&artifacts, true, first + 2, "INT");
    let logs_second = epoch_logs(&artifacts, first + 2..=second);
    assert_eq!(
        std::fs::read(artifacts.join("config.json")).unwrap(),
        config,
        "config.json changed"
    );
    let partial: Vec<_> = snapshot(&artifacts.join("checkpoint"))
        .into_keys()
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    assert!(partial.is_empty(), "stray files: {partial:?}");

    // Resume to the end: one more epoch (only the epoch count may change on a resume).
    let resume = RunOptions {
        resume: true,
        ..plain
    };
    let report = train(&killable(second + 1), &artifacts, &resume).unwrap();
    assert_eq!(last_checkpoint(&artifacts), Some(second + 1));
    assert!(report.valid_accuracy > 0.7, "{}", report.valid_accuracy);

    // The logs written before each kill keep their bytes (a resume used to overwrite epoch 1's
    // with its own first epoch's) …
    assert!(!logs_first.is_empty());
    for (before, after_kill) in [(logs_first, 1..=first), (logs_second, first + 2..=second)] {
        let now = epoch_logs(&artifacts, after_kill.clone());
        for (path, bytes) in &before {
            assert!(
                now.get(path) == Some(bytes),
                "{} changed after the kill of epochs {after_kill:?}",
                path.display()
            );
        }
    }
    // … and every epoch has a line per batch in each of its logs, under its own number.
    let run = killable(1);
    let batches = |split: &str| match split {
        "train" => run.train_size.div_ceil(run.batch_size),
        _ => run.valid_size.div_ceil(run.batch_size),
    };
    for split in ["train", "valid"] {
        for epoch in 1..=second + 1 {
            let dir = artifacts.join(format!("{split}/epoch-{epoch}"));
            let logs = snapshot(&dir);
            assert!(!logs.is_empty(), "no logs in {}", dir.display());
            for (path, bytes) in logs {
                let lines = bytes
                    .split(|&b| b == b'\n')
                    .filter(|l| !l.is_empty())
                    .count();
                // The epoch a kill interrupted may have flushed only part of its lines before the
                // kill (burn-train logs through a background thread); every other epoch is whole.
                if epoch != first && epoch != second {
                    assert_eq!(lines, batches(split), "{}", path.display());
                }
            }
        }
    }
}

/// A short spiral run (LTC on AutoNCP, the fused CPU kernel forward and backward, Adam).
fn repro_run(artifacts: &std::path::Path) -> ltc_examples::spiral::SpiralReport {
    use ltc_datasets::SpiralConfig;
    let config = ltc_examples::spiral::SpiralExperiment::new(
        SpiralConfig::new().with_num_points(200).with_seq_len(16),
    )
    .with_epochs(2);
    ltc_examples::spiral::train(&config, artifacts, &RunOptions::new(Progress::Plain)).unwrap()
}

/// Every parameter value of `model`, as bits, in module order.
fn weight_bits<M: burn::module::Module<ltc_examples::backend::Backend>>(model: &M) -> Vec<u64> {
    use burn::module::{ModuleVisitor, Param};
    use burn::tensor::{Tensor, backend::Backend};
    struct Bits(Vec<u64>);
    impl<B: Backend> ModuleVisitor<B> for Bits {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let values = ltc_testing::values(param.val());
            self.0.extend(values.iter().map(|v| v.to_bits()));
        }
    }
    let mut bits = Bits(Vec::new());
    model.visit(&mut bits);
    bits.0
}

/// Every parameter value of the spiral model saved in `artifacts`, as bits.
fn saved_weights(artifacts: &std::path::Path) -> Vec<u64> {
    let (_, model) = ltc_examples::run::load_run(
        artifacts,
        |config: &ltc_examples::spiral::SpiralExperiment, device| config.init(1.0, device),
    )
    .unwrap();
    weight_bits(&model)
}

/// Set in the children of [`twin_repro_runs`]: the folder that child trains into (each child
/// runs only its own test, so one name serves every test).
const REPRO_CHILD_DIR: &str = "LTC_REPRO_TEST_ARTIFACTS";

/// A reproducibility test as two processes. In a child (where [`REPRO_CHILD_DIR`] is set), runs
/// `train` on that folder and returns `None`. Otherwise starts this test binary twice at once,
/// filtered to `test`, one child on one rayon thread and one on rayon's default (results must
/// not depend on it); each child trains nothing else (Burn's backend generator, seeded by each
/// run, is global to a process: a training test running beside it would draw from it too).
/// Fails with a child's output if it failed; returns both children's folders.
fn twin_repro_runs(
    test: &str,
    train: impl FnOnce(&std::path::Path),
) -> Option<[std::path::PathBuf; 2]> {
    if let Some(artifacts) = std::env::var_os(REPRO_CHILD_DIR) {
        train(std::path::Path::new(&artifacts));
        return None;
    }
    let dirs = [dir(&format!("{test}-1")), dir(&format!("{test}-2"))];
    let children = [(&dirs[0], None), (&dirs[1], Some("1"))].map(|(artifacts, threads)| {
        let mut command = std::process::Command::new(std::env::current_exe().unwrap());
        command
            .args([test, "--exact"])
            .env(REPRO_CHILD_DIR, artifacts)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        match threads {
            Some(n) => command.env("RAYON_NUM_THREADS", n),
            None => command.env_remove("RAYON_NUM_THREADS"),
        };
        command.spawn().expect("cannot start the child")
    });
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "a run failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Some(dirs)
}

/// The same seed gives bit-identical loss curves and final weights on ndarray, across
/// processes and thread counts: two processes (this test binary again, one on one rayon thread)
/// train the same spiral model at the same time; then per-epoch losses, every logged batch
/// loss, every saved weight and the saved models' predictions (validation set and new data) are
/// compared bit for bit.
#[test]
fn the_same_seed_trains_bit_identically() {
    let Some([first, second]) = twin_repro_runs("the_same_seed_trains_bit_identically", |dir| {
        // Leave the per-epoch losses as bits.
        let report = repro_run(dir);
        std::fs::write(dir.join("epochs.txt"), epoch_bits(&report.epochs)).unwrap();
    }) else {
        return;
    };
    assert_eq!(
        std::fs::read_to_string(first.join("epochs.txt")).unwrap(),
        std::fs::read_to_string(second.join("epochs.txt")).unwrap(),
        "per-epoch (train, valid) losses differ between the two processes"
    );
    for file in ["train/epoch-1/Loss.log", "train/epoch-2/Loss.log"] {
        let (x, y) = (
            std::fs::read(first.join(file)).unwrap(),
            std::fs::read(second.join(file)).unwrap(),
        );
        assert!(x == y, "{file} differs between the two processes");
    }
    // The weights (the files' bytes differ: Burn stores a random id with every parameter).
    let weights = saved_weights(&first);
    assert!(weights.len() > 100, "{} weights", weights.len());
    assert!(
        weights == saved_weights(&second),
        "the saved weights differ between the two processes"
    );
    let predict = |dir: &std::path::Path, on: InferOn| {
        let (mse, baseline) = ltc_examples::spiral::infer(dir, on).unwrap();
        (mse.to_bits(), baseline.to_bits())
    };
    for on in [InferOn::Validation, InferOn::NewData] {
        assert_eq!(predict(&first, on), predict(&second, on));
    }
}

/// Per-epoch `(train, valid)` losses as bits, one epoch per line.
fn epoch_bits(epochs: &[(f64, f64)]) -> String {
    epochs
        .iter()
        .map(|(train, valid)| format!("{:016x} {:016x}\n", train.to_bits(), valid.to_bits()))
        .collect()
}

/// A short `xor` run of both models (the example's own Adam loop, not the Learner; its
/// cross-entropy loss and the LTC's denominator put divisions and logarithms in every backward
/// pass); returns each model's per-epoch validation accuracies as bits, one model per line.
fn xor_repro_run(artifacts: &std::path::Path) -> String {
    use ltc_examples::backend::{TrainBackend, device};
    use ltc_examples::liquid::LiquidKind;
    use ltc_examples::xor::{XorConfig, train};
    let config = XorConfig::new()
        .with_epochs(3)
        .with_train_size(512)
        .with_valid_size(256);
    [LiquidKind::Cfc, LiquidKind::Ltc]
        .into_iter()
        .map(|kind| {
            let report =
                train::<TrainBackend>(&config, kind, artifacts, false, &device(), |_, _| {})
                    .unwrap();
            let bits: Vec<String> = report
                .valid_accuracy
                .iter()
                .map(|a| format!("{:016x}", a.to_bits()))
                .collect();
            format!("{kind:?} {}\n", bits.join(" "))
        })
        .collect()
}

/// The same seed gives bit-identical results from the `xor` example's own training loop too,
/// across processes and thread counts: every saved weight of the CfC and the LTC and their
/// per-epoch validation accuracies. (Before the workspace patched macerator — see
/// vendor/macerator/PATCHED.md — two runs parted at the first optimiser step: burn-ndarray's
/// `recip`, in the backward pass of the loss's logarithm, depended on buffer addresses.)
#[test]
fn the_xor_loop_trains_bit_identically() {
    use ltc_burn::persist::{CONFIG_FILE, MODEL_FILE};
    use ltc_examples::liquid::LiquidKind;
    use ltc_examples::xor::{XorConfig, model_dir};
    let Some([first, second]) = twin_repro_runs("the_xor_loop_trains_bit_identically", |dir| {
        std::fs::write(dir.join("accuracies.txt"), xor_repro_run(dir)).unwrap();
    }) else {
        return;
    };
    assert_eq!(
        std::fs::read_to_string(first.join("accuracies.txt")).unwrap(),
        std::fs::read_to_string(second.join("accuracies.txt")).unwrap(),
        "per-epoch validation accuracies differ between the two processes"
    );
    for kind in [LiquidKind::Cfc, LiquidKind::Ltc] {
        let weights = |artifacts: &std::path::Path| {
            let (_, model) = ltc_examples::run::load_files(
                &artifacts.join(CONFIG_FILE),
                &model_dir(artifacts, kind).join(MODEL_FILE),
                |config: &XorConfig, device| config.init(kind, device),
            )
            .unwrap();
            weight_bits(&model)
        };
        let a = weights(&first);
        assert!(a.len() > 100, "{kind:?}: {} weights", a.len());
        let b = weights(&second);
        let differ = a.iter().zip(&b).filter(|(x, y)| x != y).count();
        assert!(
            differ == 0,
            "{kind:?}: {differ} of {} saved weights differ between the two processes",
            a.len()
        );
    }
}
