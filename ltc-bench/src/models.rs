//! The models the bench times, with ncps's published numbers for each.

use ltc_wirings::{AutoNcp, FullyConnected, Wiring};

/// `(key, label, ncps median train ms, fwd ms, step µs)` for 1 and 2 threads, from
/// `peer-benchmarks.md` (ncps 1.0.1, torch 2.15 CPU, 2-vCPU AMD EPYC VM, batch 32, seq 64); NaN
/// where it publishes none.
pub const MODELS: [(&str, &str, [[f64; 3]; 2]); 8] = [
    (
        "ltc_fc32",
        "LTC(8, 32) [FullyConnected(32)]",
        [[226.1, 38.6, 409.0], [292.5, 68.2, 371.0]],
    ),
    (
        "ltc_fc64",
        "LTC(8, 64) [FullyConnected(64)]",
        [[475.6, 94.9, 441.0], [399.8, 87.2, 325.0]],
    ),
    (
        "ltc_autoncp64_8",
        "LTC(8, AutoNCP(64, 8))",
        [[466.2, 135.2, 422.0], [473.9, 74.1, 332.0]],
    ),
    (
        "ltc_fc128",
        "LTC(8, 128) [FullyConnected(128)]",
        [[f64::NAN; 3]; 2],
    ),
    (
        "ltc_fc256",
        "LTC(8, 256) [FullyConnected(256)]",
        [[f64::NAN; 3]; 2],
    ),
    (
        "cfc32",
        "CfC(8, 32) [backbone 128x1]",
        [[37.3, 9.4, 89.0], [31.3, 8.6, 88.0]],
    ),
    (
        "cfc64",
        "CfC(8, 64) [backbone 128x1]",
        [[42.9, 12.2, 137.0], [34.2, 10.4, 94.0]],
    ),
    (
        "wiredcfc_autoncp64_8",
        "CfC(8, AutoNCP(64, 8)) [wired]",
        [[81.8, 17.6, 394.0], [92.0, 19.0, 202.0]],
    ),
];
/// The models run when `--models` is not given: the peer table's six.
pub const DEFAULT_MODELS: [&str; 6] = [
    "ltc_fc32",
    "ltc_fc64",
    "ltc_autoncp64_8",
    "cfc32",
    "cfc64",
    "wiredcfc_autoncp64_8",
];
/// The peer's published numbers are for this batch and sequence length only.
pub const REFERENCE_SHAPE: (usize, usize) = (32, 64);
/// Input features per step.
pub const INPUT: usize = 8;

/// The models the bench builds.
pub enum Kind {
    /// An LTC on the wiring.
    Ltc(Wiring),
    /// A CfC of that many units.
    Cfc(usize),
    /// A wired CfC on the wiring.
    WiredCfc(Wiring),
}

/// The model `model` names (one of [`MODELS`]).
///
/// # Panics
/// For an unknown name.
pub fn kind(model: &str) -> Kind {
    let fc = |n| FullyConnected::new(n).build(INPUT).expect("a valid wiring");
    let autoncp = || AutoNcp::new(64, 8).build(INPUT).expect("a valid wiring");
    match model {
        "ltc_fc32" => Kind::Ltc(fc(32)),
        "ltc_fc64" => Kind::Ltc(fc(64)),
        "ltc_fc128" => Kind::Ltc(fc(128)),
        "ltc_fc256" => Kind::Ltc(fc(256)),
        "ltc_autoncp64_8" => Kind::Ltc(autoncp()),
        "cfc32" => Kind::Cfc(32),
        "cfc64" => Kind::Cfc(64),
        "wiredcfc_autoncp64_8" => Kind::WiredCfc(autoncp()),
        other => panic!("unknown model {other}"),
    }
}

/// The label of `model` in the tables.
pub fn label(model: &str) -> &str {
    MODELS.iter().find(|m| m.0 == model).map_or(model, |m| m.1)
}
