//! The runtime on what ltc-burn exported: each fixture's model stepped over its trace (200
//! steps of inputs and irregular elapsed times, with the outputs and states of the layer's own
//! `step` in ltc-burn) matches within 1e-5; and damaged files are refused, never stepped into
//! a panic. ltc-burn's `runtime_fixtures_are_current` test keeps the fixtures current.

use std::path::PathBuf;

use ltc_runtime::{FormatError, Kind, Model, StepError};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// (name, kind, mixed memory)
const MODELS: [(&str, Kind, bool); 6] = [
    ("ltc_ncp", Kind::Ltc, false),
    ("ltc_ncp_memory", Kind::Ltc, true),
    ("cfc_gated", Kind::Cfc, false),
    ("cfc_pure_relu_memory_projection", Kind::Cfc, true),
    ("wired_cfc_ncps", Kind::WiredCfc, false),
    ("wired_cfc_faithful_memory", Kind::WiredCfc, true),
];

struct Step {
    x: Vec<f32>,
    dt: f32,
    y: Vec<f32>,
    state: Vec<f32>,
}

fn trace(name: &str) -> Vec<Step> {
    let bytes = fixture(&format!("{name}.trace"));
    let mut words = bytes.chunks_exact(4).map(|w| [w[0], w[1], w[2], w[3]]);
    let mut size = || u32::from_le_bytes(words.next().unwrap()) as usize;
    let [steps, s, o, n] = [size(), size(), size(), size()];
    let floats: Vec<f32> = bytes[16..]
        .chunks_exact(4)
        .map(|w| f32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        .collect();
    let per = s + 1 + o + n;
    assert_eq!(floats.len(), steps * per, "{name}.trace: length");
    floats
        .chunks_exact(per)
        .map(|c| Step {
            x: c[..s].to_vec(),
            dt: c[s],
            y: c[s + 1..s + 1 + o].to_vec(),
            state: c[s + 1 + o..].to_vec(),
        })
        .collect()
}

fn close(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let tol = 1e-5 * w.abs().max(1.0);
        assert!((g - w).abs() <= tol, "{what}[{i}]: {g} vs {w}");
    }
}

#[test]
fn every_fixture_matches_the_layers_step() {
    for (name, kind, memory) in MODELS {
        let file = fixture(&format!("{name}.ltcr"));
        let model = Model::parse(&file).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((model.kind(), model.has_memory()), (kind, memory), "{name}");
        let steps = trace(name);
        assert_eq!(steps.len(), 200, "{name}: a long sequence");
        let mut state = vec![0.0; model.state_len()];
        let mut scratch = vec![0.0; model.scratch_len()];
        let mut y = vec![0.0; model.d_output()];
        for (t, step) in steps.iter().enumerate() {
            model
                .step(&step.x, Some(step.dt), &mut state, &mut scratch, &mut y)
                .unwrap();
            close(&format!("{name}, step {t}, outputs"), &y, &step.y);
            close(&format!("{name}, step {t}, state"), &state, &step.state);
        }
    }
}

#[test]
fn a_step_needs_buffers_of_the_right_length_and_a_finite_time() {
    let file = fixture("ltc_ncp_memory.ltcr");
    let model = Model::parse(&file).unwrap();
    let (s, o, n) = (model.d_input(), model.d_output(), model.state_len());
    let mut state = vec![0.25; n];
    let mut scratch = vec![0.0; model.scratch_len()];
    let mut y = vec![0.0; o];
    let x = vec![0.5; s];
    let scratch_len = model.scratch_len();
    // One refused step: the error, with the state and the outputs untouched.
    let refused = |x: &[f32], n_state: usize, n_scratch: usize, n_out: usize, dt| {
        let mut st = vec![0.25; n_state];
        let mut sc = vec![0.0; n_scratch];
        let mut out = vec![7.0; n_out];
        let err = model.step(x, dt, &mut st, &mut sc, &mut out).unwrap_err();
        assert!(st.iter().all(|v| *v == 0.25), "{err}: state unchanged");
        assert!(out.iter().all(|v| *v == 7.0), "{err}: nothing written");
        err
    };
    let length = |what, len, expected| StepError::Length {
        what,
        len,
        expected,
    };
    assert_eq!(
        refused(&x[1..], n, scratch_len, o, None),
        length("x", s - 1, s)
    );
    assert_eq!(
        refused(&x, n + 1, scratch_len, o, None),
        length("state", n + 1, n)
    );
    assert_eq!(
        refused(&x, n, scratch_len - 1, o, None),
        length("scratch", scratch_len - 1, scratch_len)
    );
    assert_eq!(
        refused(&x, n, scratch_len, o + 1, None),
        length("out", o + 1, o)
    );
    assert!(matches!(
        refused(&x, n, scratch_len, o, Some(f32::NAN)),
        StepError::Elapsed(dt) if dt.is_nan()
    ));
    assert_eq!(
        model
            .step(&x, Some(f32::INFINITY), &mut state, &mut scratch, &mut y)
            .unwrap_err()
            .to_string(),
        "step: elapsed time inf is not finite (pass a finite time, or None for 1)"
    );
    // A larger scratch is fine, and None is the default elapsed time of 1.
    let mut big = vec![0.0; model.scratch_len() + 10];
    let mut a = vec![0.0; o];
    model
        .step(&x, None, &mut state.clone(), &mut big, &mut a)
        .unwrap();
    let mut b = vec![0.0; o];
    model
        .step(&x, Some(1.0), &mut state, &mut scratch, &mut b)
        .unwrap();
    assert_eq!(a, b);
}

#[test]
fn damaged_files_are_refused_with_what_is_wrong() {
    let file = fixture("cfc_gated.ltcr");
    let err = |bytes: &[u8]| Model::parse(bytes).unwrap_err();
    assert_eq!(err(b"LTC"), FormatError::Truncated { needed: 4, len: 3 });
    let mut wrong = file.clone();
    wrong[..4].copy_from_slice(b"PK\x03\x04");
    assert_eq!(
        err(&wrong).to_string(),
        "not an ltc-runtime model: it starts with [80, 75, 3, 4], expected b\"LTCR\" (write it \
         with ltc-burn's to_runtime)"
    );
    let mut wrong = file.clone();
    wrong[4..8].copy_from_slice(&2u32.to_le_bytes());
    assert_eq!(
        err(&wrong),
        FormatError::Version {
            found: 2,
            supported: 1
        }
    );
    let mut wrong = file.clone();
    wrong[8..12].copy_from_slice(&9u32.to_le_bytes());
    assert_eq!(
        err(&wrong),
        FormatError::Code {
            field: "cell kind",
            value: 9
        }
    );
    let mut longer = file.clone();
    longer.extend_from_slice(&[0; 4]);
    assert_eq!(
        err(&longer),
        FormatError::Length {
            expected: file.len(),
            len: file.len() + 4
        }
    );
    // Every truncation of every fixture is refused.
    for (name, _, _) in MODELS {
        let file = fixture(&format!("{name}.ltcr"));
        for len in 0..file.len() {
            assert!(Model::parse(&file[..len]).is_err(), "{name} cut at {len}");
        }
    }
}

/// Any word of a file replaced by any of a few values: the parser refuses it, or the model it
/// accepts steps without a panic (every size and index was checked).
#[test]
fn corrupted_words_never_panic() {
    let values = [
        0u32,
        1,
        2,
        3,
        7,
        19,
        255,
        65_535,
        1 << 20,
        u32::MAX,
        0x7fc0_0000,
    ];
    let mut accepted = 0;
    for (name, _, _) in MODELS {
        let file = fixture(&format!("{name}.ltcr"));
        for at in (0..file.len()).step_by(4) {
            for v in values {
                let mut bad = file.clone();
                bad[at..at + 4].copy_from_slice(&v.to_le_bytes());
                let Ok(model) = Model::parse(&bad) else {
                    continue;
                };
                accepted += 1;
                let mut state = vec![0.0; model.state_len()];
                let mut scratch = vec![0.0; model.scratch_len()];
                let mut y = vec![0.0; model.d_output()];
                let x = vec![0.5; model.d_input()];
                for _ in 0..3 {
                    model
                        .step(&x, Some(0.1), &mut state, &mut scratch, &mut y)
                        .unwrap();
                }
            }
        }
    }
    // Parameter words take any value: those parse.
    assert!(accepted > 1000, "{accepted}");
}
