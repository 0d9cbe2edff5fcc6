//! The examples' own configs (what their command lines set, what `config.json` holds for
//! `--resume` and `--infer`): every bad value is a `RunError` naming the config, the field and
//! the bad value, before anything is written; random configs and random `config.json` values
//! never panic.

use burn::config::Config;
use ltc_datasets::{MovingBlobsConfig, SpiralConfig};
use ltc_examples::embed::EmbedConfig;
use ltc_examples::moons::MoonsExperiment;
use ltc_examples::ode_spiral::OdeSpiralExperiment;
use ltc_examples::run::{Progress, RunError, RunOptions};
use ltc_examples::sequence_classification::ExperimentConfig;
use ltc_examples::sine::SineExperiment;
use ltc_examples::spiral::SpiralExperiment;
use ltc_examples::xor::XorConfig;
use ltc_testing::Rng;
use serde_json::Value;

/// Each example's default config, as its command line builds it without options.
fn defaults() -> Vec<(&'static str, Value)> {
    fn json<C: Config>(config: &C) -> Value {
        serde_json::to_value(config).unwrap()
    }
    vec![
        (
            "SpiralExperiment",
            json(&SpiralExperiment::new(SpiralConfig::new())),
        ),
        ("SineExperiment", json(&SineExperiment::new())),
        ("MoonsExperiment", json(&MoonsExperiment::new())),
        ("ExperimentConfig", json(&ExperimentConfig::default_run())),
        (
            "EmbedConfig",
            json(&EmbedConfig::new(MovingBlobsConfig::new())),
        ),
        ("OdeSpiralExperiment", json(&OdeSpiralExperiment::new())),
        ("XorConfig", json(&XorConfig::new())),
    ]
}

/// Parses `json` strictly as the config called `name` (as `--resume`/`--infer` read
/// `config.json`) and checks it: `Ok(())`, or the parse or check error as text.
fn parse_and_check(name: &str, json: &str) -> Result<(), String> {
    fn run<C: Config>(json: &str, check: fn(&C) -> Result<(), RunError>) -> Result<(), String> {
        let config: C = ltc_burn::persist::parse_config(json).map_err(|e| e.to_string())?;
        check(&config).map_err(|e| e.to_string())
    }
    match name {
        "SpiralExperiment" => run(json, SpiralExperiment::check),
        "SineExperiment" => run(json, SineExperiment::check),
        "MoonsExperiment" => run(json, MoonsExperiment::check),
        "ExperimentConfig" => run(json, ExperimentConfig::check),
        "EmbedConfig" => run(json, EmbedConfig::check),
        "OdeSpiralExperiment" => run(json, OdeSpiralExperiment::check),
        "XorConfig" => run(json, XorConfig::check),
        other => panic!("unknown config {other}"),
    }
}

/// `config` with the field at the dotted `field` path (`data.num_points`) set to `value`, as JSON.
fn with(mut config: Value, field: &str, value: Value) -> String {
    set_leaf(&mut config, &format!("/{}", field.replace('.', "/")), value);
    config.to_string()
}

#[test]
fn the_defaults_pass_their_checks() {
    for (name, config) in defaults() {
        assert_eq!(parse_and_check(name, &config.to_string()), Ok(()), "{name}");
    }
}

/// Every checked field of every example, set to a bad value: the error names the config, the
/// field and the value.
#[test]
fn bad_values_name_the_config_the_field_and_the_value() {
    let cases: &[(&str, &str, Value, &str)] = &[
        ("SpiralExperiment", "epochs", 0.into(), "must be at least 1"),
        (
            "SpiralExperiment",
            "batch_size",
            0.into(),
            "must be at least 1",
        ),
        (
            "SpiralExperiment",
            "learning_rate",
            (-1.0).into(),
            "greater than 0",
        ),
        (
            "SpiralExperiment",
            "learning_rate",
            0.0.into(),
            "greater than 0",
        ),
        ("SpiralExperiment", "units", 0.into(), "must be at least 1"),
        (
            "SpiralExperiment",
            "units",
            1_000_000.into(),
            "must be at most 65536",
        ),
        (
            "SpiralExperiment",
            "warmup",
            32.into(),
            "must be at most 31",
        ),
        (
            "SpiralExperiment",
            "data.num_points",
            20_000_000.into(),
            "at most 10000000",
        ),
        ("SineExperiment", "steps", 0.into(), "must be at least 1"),
        ("SineExperiment", "clip_norm", 0.0.into(), "greater than 0"),
        ("SineExperiment", "units", 0.into(), "must be at least 1"),
        (
            "MoonsExperiment",
            "valid_size",
            0.into(),
            "must be at least 1",
        ),
        (
            "MoonsExperiment",
            "train_size",
            0.into(),
            "must be at least 1",
        ),
        ("MoonsExperiment", "noise", (-0.1).into(), "0 or more"),
        ("MoonsExperiment", "tolerance", 0.0.into(), "greater than 0"),
        ("MoonsExperiment", "times", 1.into(), "must be at least 2"),
        ("MoonsExperiment", "hidden", 0.into(), "must be at least 1"),
        (
            "ExperimentConfig",
            "valid_size",
            0.into(),
            "must be at least 1",
        ),
        ("ExperimentConfig", "epochs", 0.into(), "must be at least 1"),
        ("EmbedConfig", "features", 0.into(), "must be at least 1"),
        ("EmbedConfig", "batch_size", 0.into(), "must be at least 1"),
        (
            "OdeSpiralExperiment",
            "t_end",
            (-25.0).into(),
            "greater than 0",
        ),
        (
            "OdeSpiralExperiment",
            "window",
            1.into(),
            "must be at least 2",
        ),
        (
            "OdeSpiralExperiment",
            "points",
            2.into(),
            "must be at least 3",
        ),
        ("XorConfig", "train_size", 0.into(), "must be at least 1"),
        (
            "XorConfig",
            "learning_rate",
            (-0.5).into(),
            "greater than 0",
        ),
    ];
    let defaults = defaults();
    for (name, field, value, says) in cases {
        let config = &defaults.iter().find(|(n, _)| n == name).unwrap().1;
        let json = with(config.clone(), field, value.clone());
        let err = parse_and_check(name, &json).expect_err(&json);
        let value = value.to_string();
        let value = value.trim_end_matches(".0");
        assert!(
            err.starts_with(&format!("{name}.{field} = {value}: ")),
            "{err}"
        );
        assert!(err.contains(says), "{err}");
    }
    // NaN and infinity cannot be written in JSON (serde_json writes null: a parse error); from
    // code they are caught by the check.
    let config = SpiralExperiment::new(SpiralConfig::new()).with_learning_rate(f64::NAN);
    let err = config.check().unwrap_err().to_string();
    assert_eq!(
        err,
        "SpiralExperiment.learning_rate = NaN: must be a finite number greater than 0"
    );
}

/// A bad option, caught however late (here by the wiring, the data or the model), leaves an
/// earlier run's checkpoints and logs where they were: `--units 0` after a run must not cost the
/// run.
#[test]
fn a_bad_config_leaves_the_earlier_run_alone() {
    use std::path::Path;
    type Attempt = Box<dyn Fn(&Path, &RunOptions) -> Result<(), RunError>>;
    fn attempt<R: 'static, C: 'static>(
        train: fn(&C, &Path, &RunOptions) -> Result<R, RunError>,
        config: C,
    ) -> Attempt {
        Box::new(move |dir, options| train(&config, dir, options).map(|_| ()))
    }
    let attempts: Vec<(&str, Attempt)> = vec![
        // Caught by the wiring builder when the model is built.
        (
            "spiral units 1",
            attempt(
                ltc_examples::spiral::train,
                SpiralExperiment::new(SpiralConfig::new()).with_units(1),
            ),
        ),
        // Caught by the data.
        (
            "spiral points 5",
            attempt(
                ltc_examples::spiral::train,
                SpiralExperiment::new(SpiralConfig::new().with_num_points(5)),
            ),
        ),
        (
            "embed frames 0",
            attempt(
                ltc_examples::embed::train,
                EmbedConfig::new(MovingBlobsConfig::new().with_frames(0)),
            ),
        ),
        // Caught by the checks.
        (
            "sequence_classification batch 0",
            attempt(
                ltc_examples::sequence_classification::train,
                ExperimentConfig::default_run().with_batch_size(0),
            ),
        ),
        (
            "moons noise inf",
            attempt(
                ltc_examples::moons::train,
                MoonsExperiment::new().with_noise(f64::INFINITY),
            ),
        ),
        (
            "sine lr -1",
            attempt(
                ltc_examples::sine::train,
                SineExperiment::new().with_learning_rate(-1.0),
            ),
        ),
        (
            "ode_spiral epochs 0",
            attempt(
                ltc_examples::ode_spiral::train,
                OdeSpiralExperiment::new().with_epochs(0),
            ),
        ),
    ];
    let plain = RunOptions::new(Progress::Plain);
    for (i, (what, train)) in attempts.iter().enumerate() {
        let artifacts =
            ltc_testing::test_dir::<ltc_examples::backend::TrainBackend>(&format!("bad{i}"));
        let files = [
            "checkpoint/model-3.mpk",
            "train/epoch-3/Loss.log",
            "valid/epoch-3/Loss.log",
            "config.json",
        ];
        for file in files {
            let path = artifacts.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, file).unwrap();
        }
        let err = train(&artifacts, &plain).expect_err(what);
        for file in files {
            assert_eq!(
                std::fs::read_to_string(artifacts.join(file))
                    .ok()
                    .as_deref(),
                Some(file),
                "{what}: {file} was touched by a run that failed with: {err}"
            );
        }
    }
}

/// Thousands of random configs: every field of each example's `config.json` set to values
/// from 0, 1, small and huge numbers, negatives, fractions, strings, `null`, booleans and
/// nested junk. Parsing and checking never panics, a failure is an error naming what is wrong,
/// and a good share of the cases are valid or fail only the check (not all parse errors).
#[test]
fn random_configs_parse_and_check_without_panicking() {
    let pool: Vec<Value> = vec![
        0.into(),
        1.into(),
        2.into(),
        3.into(),
        7.into(),
        64.into(),
        1000.into(),
        65_536.into(),
        65_537.into(),
        10_000_001.into(),
        u64::MAX.into(),
        (-1).into(),
        i64::MIN.into(),
        0.5.into(),
        (-0.5).into(),
        1e-300.into(),
        1e300.into(),
        (-1e300).into(),
        "12".into(),
        "NaN".into(),
        Value::Null,
        true.into(),
        serde_json::json!([1, 2]),
        serde_json::json!({"x": 1}),
    ];
    let defaults = defaults();
    let mut rng = Rng(0x00C0_FF1E);
    let (mut ok, mut check_errors, mut parse_errors) = (0, 0, 0);
    for case in 0..7000 {
        let (name, config) = &defaults[case % defaults.len()];
        let mut config = config.clone();
        // Change 1 to 3 leaves (numbers, strings, booleans) anywhere in the tree.
        for _ in 0..1 + rng.below(3) {
            let mut leaves = Vec::new();
            collect_leaves(&config, String::new(), &mut leaves);
            let path = rng.pick(&leaves);
            let value = if rng.below(4) == 0 {
                // A neighbour of the current value: mostly still valid.
                match config.pointer(&path).and_then(Value::as_f64) {
                    Some(x) => Value::from((x * (rng.next() * 2.0)).round()),
                    None => rng.pick(&pool),
                }
            } else {
                rng.pick(&pool)
            };
            set_leaf(&mut config, &path, value);
        }
        let json = config.to_string();
        match parse_and_check(name, &json) {
            Ok(()) => ok += 1,
            Err(e) if e.starts_with(&format!("{name}.")) => {
                assert!(e.contains(" = ") && e.contains("must be"), "{e}");
                check_errors += 1;
            }
            Err(e) => {
                assert!(!e.is_empty());
                parse_errors += 1;
            }
        }
    }
    eprintln!("{ok} valid, {check_errors} check errors, {parse_errors} parse errors");
    assert!(ok >= 200, "only {ok} valid");
    assert!(check_errors >= 500, "only {check_errors} check errors");
    assert!(parse_errors >= 500, "only {parse_errors} parse errors");
}

fn collect_leaves(value: &Value, path: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                collect_leaves(v, format!("{path}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                collect_leaves(v, format!("{path}/{i}"), out);
            }
        }
        _ => out.push(path),
    }
}

fn set_leaf(value: &mut Value, path: &str, new: Value) {
    *value.pointer_mut(path).unwrap() = new;
}
