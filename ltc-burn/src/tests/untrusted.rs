//! Input from files and users that may be wrong: strict config JSON (unknown, missing and
//! mistyped fields, unknown modes), thousands of mangled configs, and truncated or corrupted
//! model records and PyTorch checkpoints. Each is a typed error naming the problem (and the
//! file), never a panic or a silently partial model. See RELIABILITY.md.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use burn::config::{Config, config_to_json};
use ltc_wirings::{AutoNcp, FullyConnected};
use serde_json::{Value, json};

use crate::cfc::{CfcConfig, WiredCfcConfig};
use crate::liquid::{LiquidClassifierConfig, LiquidLayerConfig, LiquidStackConfig};
use crate::ltc::LtcConfig;
use crate::ode::{NeuralOdeConfig, SolveOptions};
use crate::persist::{self, ConfigFileError, parse_config};

type B = burn::backend::NdArray<f32>;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("ltc-burn-untrusted-{}", std::process::id()))
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `json` with `edit` applied to its parsed value.
fn edited(json: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut value: Value = serde_json::from_str(json).unwrap();
    edit(&mut value);
    value.to_string()
}

#[test]
fn config_json_is_parsed_strictly() {
    let ltc = config_to_json(&LtcConfig::from_wiring(
        AutoNcp::new(10, 2).build(3).unwrap(),
    ));
    let back: LtcConfig = parse_config(&ltc).unwrap();
    assert_eq!(config_to_json(&back), ltc);

    // A typo at the top level and inside the cell.
    let err =
        parse_config::<LtcConfig>(&edited(&ltc, |v| v["mixed_memroy"] = json!(true))).unwrap_err();
    assert!(
        matches!(&err, ConfigFileError::UnknownField { at, field, .. } if at.is_empty() && field == "mixed_memroy"),
        "{err}"
    );
    assert!(err.to_string().contains("valid fields there: "), "{err}");
    let err = parse_config::<LtcConfig>(&edited(&ltc, |v| v["cell"]["ode_unfold"] = json!(3)))
        .unwrap_err();
    assert_eq!(
        err.to_string().split(';').next().unwrap(),
        "unknown field `ode_unfold` in `cell`"
    );
    // A missing field, a field with a default included: never silently defaulted.
    let err = parse_config::<LtcConfig>(&edited(&ltc, |v| {
        v["cell"].as_object_mut().unwrap().remove("epsilon");
    }))
    .unwrap_err();
    assert!(err.to_string().contains("missing field `epsilon`"), "{err}");
    // A missing optional field: an error too (write null for none).
    let cfc = config_to_json(&CfcConfig::from_sizes(2, 8));
    let err = parse_config::<CfcConfig>(&edited(&cfc, |v| {
        v.as_object_mut().unwrap().remove("proj_size");
    }))
    .unwrap_err();
    assert!(
        matches!(&err, ConfigFileError::MissingField { field, .. } if field == "proj_size"),
        "{err}"
    );
    assert!(parse_config::<CfcConfig>(&edited(&cfc, |v| v["proj_size"] = Value::Null)).is_ok());
    // A wrong type and an unknown mode: serde's message, naming the value and the line.
    let err = parse_config::<CfcConfig>(&edited(&cfc, |v| v["cell"]["d_hidden"] = json!("8")))
        .unwrap_err();
    assert!(
        err.to_string().contains("invalid type: string \"8\""),
        "{err}"
    );
    let err = parse_config::<CfcConfig>(&edited(&cfc, |v| v["cell"]["mode"] = json!("Gated")))
        .unwrap_err();
    assert!(err.to_string().contains("unknown variant `Gated`"), "{err}");
    let solve = config_to_json(&SolveOptions::new());
    let err =
        parse_config::<SolveOptions>(&edited(&solve, |v| v["solver"] = json!("Rk45"))).unwrap_err();
    assert!(err.to_string().contains("unknown variant `Rk45`"), "{err}");
    // Not JSON at all.
    assert!(matches!(
        parse_config::<CfcConfig>("{\"cell\": "),
        Err(ConfigFileError::Invalid(_))
    ));

    // Through a file: the error names it.
    let dir = scratch("strict");
    let path = dir.join("config.json");
    std::fs::write(&path, edited(&cfc, |v| v["batch_frist"] = json!(true))).unwrap();
    let err = persist::load_config::<CfcConfig>(&path).unwrap_err();
    assert_eq!(err.path, path);
    assert!(
        err.to_string().contains("unknown field `batch_frist`"),
        "{err}"
    );
}

/// One random edit of a JSON text (truncation, a dropped or replaced byte, or an inserted
/// token), from a seeded generator.
fn mangle(text: &str, seed: &mut u64) -> String {
    let mut next = |n: usize| {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 33) as usize) % n.max(1)
    };
    const TOKENS: [&str; 12] = [
        "-1",
        "0",
        "1e400",
        "\"NaN\"",
        "null",
        "[]",
        "{}",
        "1.5",
        "99999999999999999999",
        "\"x\"",
        "true",
        ",",
    ];
    let mut bytes = text.as_bytes().to_vec();
    let at = next(bytes.len() + 1);
    match next(4) {
        0 => bytes.truncate(at),
        1 if at < bytes.len() => {
            bytes.remove(at);
        }
        2 if at < bytes.len() => bytes[at] = b"0123456789-.:,{}[]\"e "[next(21)],
        _ => {
            let token = TOKENS[next(TOKENS.len())];
            bytes.splice(at..at, token.bytes());
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Parses and validates one mangled config, turning a panic into a failure naming the case.
fn parse_and_validate<C: Config>(
    text: &str,
    validate: impl Fn(&C) -> Result<(), crate::ConfigError>,
) -> bool {
    let outcome = catch_unwind(AssertUnwindSafe(|| match parse_config::<C>(text) {
        Ok(config) => validate(&config).is_ok(),
        Err(err) => {
            assert!(!err.to_string().is_empty());
            false
        }
    }));
    outcome.unwrap_or_else(|_| panic!("panicked on: {text}"))
}

/// 6000 mangled configs (LTC with its wiring, CfC, wired CfC, liquid classifier, Neural ODE),
/// one to three random edits each: parsing and validation return typed errors or a valid
/// config; nothing panics.
#[test]
fn mangled_config_json_never_panics() {
    let texts = [
        config_to_json(&LtcConfig::from_wiring(
            AutoNcp::new(8, 2).build(3).unwrap(),
        )),
        config_to_json(&CfcConfig::from_sizes(3, 8)),
        config_to_json(&WiredCfcConfig::from_wiring(
            FullyConnected::new(5).build(2).unwrap(),
        )),
        config_to_json(&LiquidClassifierConfig::new(
            LiquidStackConfig::new(vec![LiquidLayerConfig::from_sizes(2, 4)]),
            3,
        )),
        config_to_json(&NeuralOdeConfig::new()),
    ];
    let mut seed = 0x5EED_0003;
    let mut valid = 0;
    for case in 0..6000 {
        let mut text = texts[case % texts.len()].clone();
        for _ in 0..=(case / 7) % 3 {
            text = mangle(&text, &mut seed);
        }
        valid += usize::from(match case % texts.len() {
            0 => parse_and_validate::<LtcConfig>(&text, LtcConfig::validate),
            1 => parse_and_validate::<CfcConfig>(&text, CfcConfig::validate),
            2 => parse_and_validate::<WiredCfcConfig>(&text, WiredCfcConfig::validate),
            3 => parse_and_validate::<LiquidClassifierConfig>(
                &text,
                LiquidClassifierConfig::validate,
            ),
            _ => parse_and_validate::<NeuralOdeConfig>(&text, NeuralOdeConfig::validate),
        });
    }
    // Some edits leave a valid config (inside a string, a number changed to another valid one).
    assert!(valid > 100 && valid < 4000, "{valid} valid");
}

/// Every length `file` can be cut to (in `cuts` steps), and copies with a byte flipped.
fn damaged_copies(file: &Path, cuts: usize) -> Vec<(String, Vec<u8>)> {
    let bytes = std::fs::read(file).unwrap();
    let mut out: Vec<(String, Vec<u8>)> = (0..cuts)
        .map(|i| {
            let len = bytes.len() * i / cuts;
            (format!("truncated to {len} bytes"), bytes[..len].to_vec())
        })
        .collect();
    for i in 0..cuts {
        let at = (bytes.len() * (2 * i + 1)) / (2 * cuts);
        let mut flipped = bytes.clone();
        flipped[at] ^= 0xA5;
        out.push((format!("byte {at} flipped"), flipped));
    }
    out.push((
        "random bytes".into(),
        (0..300u32).map(|i| (i * 97 % 251) as u8).collect(),
    ));
    out
}

/// A saved model whose `model.mpk` is truncated (at 40 lengths, empty included), corrupted
/// (40 flipped bytes) or garbage, or whose `config.json` is truncated: loading is an error
/// naming the file or loads a whole model; never a panic. A record of another model's shape
/// is an error naming the parameter.
#[test]
fn damaged_model_files_are_errors_naming_the_file() {
    let dir = scratch("model");
    let config = LtcConfig::from_wiring(FullyConnected::new(6).build(3).unwrap());
    let ltc = config.init::<B>(&Default::default()).unwrap();
    persist::save(&dir, &config, &ltc).unwrap();
    let weights = dir.join(persist::MODEL_FILE);
    let original = std::fs::read(&weights).unwrap();
    let mut refused = 0;
    for (what, bytes) in damaged_copies(&weights, 40) {
        std::fs::write(&weights, &bytes).unwrap();
        let loaded = catch_unwind(|| persist::load::<B, LtcConfig>(&dir, &Default::default()))
            .unwrap_or_else(|_| panic!("model.mpk {what}: panicked"));
        if let Err(err) = loaded {
            assert_eq!(err.path, weights, "{what}: {err}");
            refused += 1;
        }
    }
    // Every truncation and the garbage are refused (a flipped byte inside a weight's value is
    // a valid record: the format has no checksum).
    assert!(refused >= 41, "{refused} refused");
    std::fs::write(&weights, &original).unwrap();

    let config_file = dir.join(persist::CONFIG_FILE);
    for (what, bytes) in damaged_copies(&config_file, 20).into_iter().take(20) {
        std::fs::write(&config_file, &bytes).unwrap();
        let err = persist::load::<B, LtcConfig>(&dir, &Default::default())
            .err()
            .unwrap_or_else(|| panic!("config.json {what}: loaded"));
        assert_eq!(err.path, config_file, "{what}: {err}");
    }

    // The weights of a 6-unit model under the config of an 8-unit one.
    let other = LtcConfig::from_wiring(FullyConnected::new(8).build(3).unwrap());
    persist::save_config(&other, &config_file).unwrap();
    let err = persist::load::<B, LtcConfig>(&dir, &Default::default()).unwrap_err();
    assert_eq!(err.path, weights);
    assert!(err.message.contains("shape"), "{err}");
}

/// The ncps checkpoint fixture, truncated at 30 lengths and with 30 flipped bytes: reading it
/// is an error naming the file, or (a flipped value) a checkpoint that loads; never a panic.
#[test]
fn damaged_pytorch_files_are_errors_naming_the_file() {
    // The checkout cargo runs in (see `ltc_parity::default_dir`).
    let fixture = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(
            || env!("CARGO_MANIFEST_DIR").into(),
            std::path::PathBuf::from,
        )
        .join("../fixtures/ncps/pt/ltc_fc6_sine.pt");
    let dir = scratch("pytorch");
    let path = dir.join("damaged.pt");
    let mut refused = 0;
    for (what, bytes) in damaged_copies(&fixture, 30) {
        std::fs::write(&path, &bytes).unwrap();
        let read = catch_unwind(|| crate::import::NcpsCheckpoint::from_file(&path))
            .unwrap_or_else(|_| panic!("{what}: panicked"));
        if let Err(err) = read {
            assert!(
                err.to_string().contains(&path.display().to_string()),
                "{what}: {err}"
            );
            refused += 1;
        }
    }
    assert!(refused >= 31, "{refused} refused");
}
