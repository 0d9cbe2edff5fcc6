//! ncps PyTorch checkpoints (`fixtures/ncps/pt`): a `.pt` state dict plus a `.json` with the
//! ncps constructor arguments, an input batch and the outputs ncps produced. Imported through
//! [`ltc_burn::import::NcpsCheckpoint`] with a config built from the constructor arguments (the
//! wiring from our own builders: its masks are replaced by the checkpoint's).

use std::path::{Path, PathBuf};

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use ltc_burn::cfc::{Cfc, CfcConfig, WiredCfc, WiredCfcConfig};
use ltc_burn::import::NcpsCheckpoint;
use ltc_burn::ltc::{Ltc, LtcConfig, Positivity};
use ltc_burn::persist::{self, PersistError};
use ltc_burn::recurrent::RecurrentState;
use ltc_wirings::{AutoNcp, FullyConnected, Wiring, WiringRecord};
use serde_json::Value;

use crate::compare::compare;
use crate::fixture::{json_files, read_json};
use crate::{Array, ParityError, Tolerance, cfc_config, ltc_config, wired_cfc_config};

/// The tolerance every checkpoint must meet (max abs difference of outputs and final state).
pub const TOLERANCE: f64 = 1e-5;

/// One checkpoint case: the JSON document next to a `.pt` file.
#[derive(Debug, Clone)]
pub struct CheckpointCase {
    /// The JSON file.
    pub path: PathBuf,
    /// The whole JSON document.
    pub json: Value,
}

impl CheckpointCase {
    /// Reads a case's JSON (`{case, model, config, input, outputs, final_state, ...}`).
    pub fn load(path: &Path) -> Result<Self, ParityError> {
        let json = read_json(path)?;
        for key in ["model", "config", "input", "outputs", "final_state"] {
            if json.get(key).is_none() {
                return Err(ParityError {
                    file: path.to_path_buf(),
                    message: format!("no {key:?} key: not a checkpoint case"),
                });
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            json,
        })
    }

    /// The cases in `dir` (every `*.json` with a `.pt` beside it), sorted by name.
    pub fn all_in(dir: &Path) -> Result<Vec<Self>, ParityError> {
        json_files(dir)?
            .iter()
            .filter(|p| p.with_extension("pt").is_file())
            .map(|p| Self::load(p))
            .collect()
    }

    /// The `.pt` beside the JSON.
    pub fn state_dict(&self) -> PathBuf {
        self.path.with_extension("pt")
    }

    /// The case's name (the file stem).
    pub fn name(&self) -> String {
        self.path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn config(&self) -> &Value {
        &self.json["config"]
    }

    fn input_size(&self) -> Result<usize, String> {
        self.config()["input_size"]
            .as_u64()
            .map(|v| v as usize)
            .ok_or_else(|| "config.input_size: missing or not an integer".into())
    }

    /// The wiring ncps's `units` argument names — `"AutoNCP(16, 1)"`, `"FullyConnected(6, 1)"`
    /// — built by our builders (the checkpoint's masks replace their random graph), or the
    /// JSON's `wiring` record for any other wiring; `None` for an integer `units`.
    pub fn wiring(&self) -> Result<Option<Wiring>, String> {
        let units = &self.config()["units"];
        if units.is_u64() {
            return Ok(None);
        }
        let spec = units
            .as_str()
            .ok_or("config.units: not a number or a wiring")?;
        let args = |prefix: &str| -> Option<Vec<usize>> {
            let inner = spec
                .strip_prefix(prefix)?
                .strip_prefix('(')?
                .strip_suffix(')')?;
            inner.split(',').map(|a| a.trim().parse().ok()).collect()
        };
        let input = self.input_size()?;
        let built = if let Some([units, out]) = args("AutoNCP").as_deref() {
            AutoNcp::new(*units, *out).build(input)
        } else if let Some([units, out]) = args("FullyConnected").as_deref() {
            FullyConnected {
                output_dim: *out,
                ..FullyConnected::new(*units)
            }
            .build(input)
        } else {
            let record: WiringRecord = serde_json::from_value(self.json["wiring"].clone())
                .map_err(|e| format!("config.units = {spec:?} and no readable wiring: {e}"))?;
            Wiring::try_from(record)
        };
        built
            .map(Some)
            .map_err(|e| format!("config.units = {spec:?}: {e}"))
    }

    /// Imports the case's `.pt` (or `state_dict`, when given) with the case's config.
    pub fn import<B: Backend>(
        &self,
        state_dict: Option<&Path>,
        device: &B::Device,
    ) -> Result<Imported<B>, String> {
        let file = state_dict.map_or_else(|| self.state_dict(), Path::to_path_buf);
        let checkpoint = NcpsCheckpoint::from_file(&file).map_err(|e| e.to_string())?;
        let config = self.config();
        let imported = match (self.json["model"].as_str(), self.wiring()?) {
            (Some("LTC"), Some(wiring)) => {
                let mut ltc = ltc_config(config, wiring)?;
                // ncps computes with the raw values in explicit mode: a checkpoint trained
                // without `apply_weight_constraints()` may hold negative ones.
                if ltc.cell.positivity == Positivity::Clip {
                    ltc.cell.positivity = Positivity::Unconstrained;
                }
                let (c, m) = checkpoint
                    .load_ltc(&ltc, device)
                    .map_err(|e| e.to_string())?;
                Imported::Ltc(c, m)
            }
            (Some("CfC"), None) => {
                let (c, m) = checkpoint
                    .load_cfc(&cfc_config(config)?, device)
                    .map_err(|e| e.to_string())?;
                Imported::Cfc(c, m)
            }
            (Some("CfC"), Some(wiring)) => {
                let (c, m) = checkpoint
                    .load_wired_cfc(&wired_cfc_config(config, wiring)?, device)
                    .map_err(|e| e.to_string())?;
                Imported::WiredCfc(c, m)
            }
            (model, _) => {
                return Err(format!(
                    "model {model:?} with units {}: expected an LTC on a wiring or a CfC",
                    config["units"]
                ));
            }
        };
        Ok(imported)
    }

    /// Imports the case and compares its outputs and final state with ncps's.
    pub fn check<B: Backend>(
        &self,
        state_dict: Option<&Path>,
        device: &B::Device,
    ) -> Result<CheckpointReport, String> {
        let imported = self.import::<B>(state_dict, device)?;
        self.compare(&imported, device)
    }

    /// The case's input batch, `[batch, seq, input]` (batch first).
    pub fn input<B: Backend>(&self, device: &B::Device) -> Result<Tensor<B, 3>, String> {
        let input = Array::from_json(&self.json["input"]).map_err(|e| format!("input: {e}"))?;
        Ok(input.tensor::<B, 3>(device))
    }

    /// Runs the case's input through `model` and compares with ncps's recorded results.
    pub fn compare<B: Backend>(
        &self,
        model: &Imported<B>,
        device: &B::Device,
    ) -> Result<CheckpointReport, String> {
        let (outputs, h, c) = model.run(self.input(device)?);
        let want = Array::from_json(&self.json["outputs"]).map_err(|e| format!("outputs: {e}"))?;
        let outputs = max_abs("outputs", &Array::of(outputs), &want)?;
        // `final_state` is `h`, or `{h, c}` under mixed memory.
        let state = &self.json["final_state"];
        let (want_h, want_c) = match state.get("h") {
            Some(h) => (h, state.get("c")),
            None => (state, None),
        };
        let want_h = Array::from_json(want_h).map_err(|e| format!("final_state: {e}"))?;
        let mut state_diff = max_abs("final_state.h", &Array::of(h), &want_h)?;
        match (c, want_c) {
            (Some(c), Some(want_c)) => {
                let want_c = Array::from_json(want_c).map_err(|e| format!("final_state.c: {e}"))?;
                state_diff = state_diff.max(max_abs("final_state.c", &Array::of(c), &want_c)?);
            }
            (None, None) => {}
            (Some(_), None) => {
                return Err("the model has a cell state c, ncps recorded none".into());
            }
            (None, Some(_)) => {
                return Err("ncps recorded a cell state c, the model has none".into());
            }
        }
        Ok(CheckpointReport {
            outputs,
            state: state_diff,
        })
    }
}

/// The largest absolute difference (infinite when anything is NaN); a shape mismatch is an
/// error naming both shapes.
fn max_abs(what: &str, got: &Array, want: &Array) -> Result<f64, String> {
    if got.shape != want.shape {
        return Err(format!(
            "{what}: shape {:?}, ncps recorded {:?}",
            got.shape, want.shape
        ));
    }
    let absolute = Tolerance {
        atol: TOLERANCE,
        rtol: 0.0,
    };
    Ok(compare(what, got, want, absolute).max_abs)
}

/// The largest absolute differences to what ncps recorded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CheckpointReport {
    /// Over every output.
    pub outputs: f64,
    /// Over the final state (`h`, and `c` under mixed memory).
    pub state: f64,
}

impl CheckpointReport {
    /// Both within [`TOLERANCE`].
    pub fn passed(&self) -> bool {
        self.outputs <= TOLERANCE && self.state <= TOLERANCE
    }
}

/// An imported model with the config it was imported with.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one model per import
pub enum Imported<B: Backend> {
    /// ncps `LTC`.
    Ltc(LtcConfig, Ltc<B>),
    /// ncps `CfC` with an integer `units`.
    Cfc(CfcConfig, Cfc<B>),
    /// ncps `CfC` on a wiring.
    WiredCfc(WiredCfcConfig, WiredCfc<B>),
}

impl<B: Backend> Imported<B> {
    /// Outputs at every step, the final `h` and, under mixed memory, `c`.
    pub fn run(&self, x: Tensor<B, 3>) -> (Tensor<B, 3>, Tensor<B, 2>, Option<Tensor<B, 2>>) {
        match self {
            Self::Ltc(_, m) => {
                let (y, RecurrentState { hidden, memory }) = m.forward(x, None, None);
                (y, hidden, memory)
            }
            Self::Cfc(_, m) => {
                let (y, RecurrentState { hidden, memory }) = m.forward(x, None, None);
                (y, hidden, memory)
            }
            Self::WiredCfc(_, m) => {
                let (y, RecurrentState { hidden, memory }) = m.forward(x, None, None);
                (y, hidden, memory)
            }
        }
    }

    /// Writes the model as our own record (`config.json` + `model.mpk`, see
    /// [`ltc_burn::persist`]).
    pub fn save(&self, dir: &Path) -> Result<(), PersistError> {
        match self {
            Self::Ltc(c, m) => persist::save(dir, c, m),
            Self::Cfc(c, m) => persist::save(dir, c, m),
            Self::WiredCfc(c, m) => persist::save(dir, c, m),
        }
    }

    /// Loads a model written by [`save`](Self::save) from a model of this kind, on any backend.
    pub fn load<B2: Backend>(
        &self,
        dir: &Path,
        device: &B2::Device,
    ) -> Result<Imported<B2>, PersistError> {
        Ok(match self {
            Self::Ltc(..) => {
                let (c, m) = persist::load::<B2, LtcConfig>(dir, device)?;
                Imported::Ltc(c, m)
            }
            Self::Cfc(..) => {
                let (c, m) = persist::load::<B2, CfcConfig>(dir, device)?;
                Imported::Cfc(c, m)
            }
            Self::WiredCfc(..) => {
                let (c, m) = persist::load::<B2, WiredCfcConfig>(dir, device)?;
                Imported::WiredCfc(c, m)
            }
        })
    }

    /// `"LTC"`, `"CfC"` or `"WiredCfC"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Ltc(..) => "LTC",
            Self::Cfc(..) => "CfC",
            Self::WiredCfc(..) => "WiredCfC",
        }
    }
}
