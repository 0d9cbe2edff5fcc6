//! Golden parity with ncps 1.0.1: loads the reference fixtures (outputs, states, losses,
//! gradients and one Adam step, computed by ncps and PyTorch), rebuilds each model in
//! ltc-burn from the fixture's wiring, config and parameters, recomputes everything on a Burn
//! backend and reports the largest differences.
//!
//! The fixture schema is described in `fixtures/ncps/README.md`. Used by the `ltc-parity`
//! binary (`cargo xtask parity [DIR]`) and by this crate's tests, which run every fixture in
//! `fixtures/ncps` on every test backend.
//!
//! ```
//! use burn::backend::{Autodiff, NdArray};
//! # #[cfg(not(ltc_doc_wgpu))] type B = Autodiff<NdArray>;
//! # #[cfg(ltc_doc_wgpu)] type B = Autodiff<burn::backend::Wgpu>;
//! let path = ltc_parity::default_dir().join("a_ltc_fc8.json");
//! let fixture = ltc_parity::Fixture::load(&path)?;
//! let report = ltc_parity::check::<B>(&fixture, &Default::default());
//! assert!(report.passed(), "{}", report.row());
//! # Ok::<(), ltc_parity::ParityError>(())
//! ```
#![warn(missing_docs)]

use std::fmt;
use std::path::{Path, PathBuf};

use burn::module::{AutodiffModule, Module, ModuleVisitor, Param};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use ltc_burn::cfc::{
    Activation, Cfc, CfcCellConfig, CfcConfig, CfcMode, CfcState, WiredCfc, WiredCfcCellConfig,
    WiredCfcConfig,
};
use ltc_burn::ltc::{Ltc, LtcCellConfig, LtcConfig, LtcState, Mapping, Positivity};
use ltc_wirings::Wiring;
use serde_json::Value;

pub mod checkpoint;

/// The project's copy of the ncps fixtures (`fixtures/ncps` at the workspace root).
///
/// The root is that of the checkout cargo is running in: every package of the workspace lies
/// one level below it, and cargo sets `CARGO_MANIFEST_DIR` for what it runs. The path compiled
/// into this crate is only the fallback: CI shares one target folder between clones, and cargo
/// reuses a test binary built in another clone when the sources match, so a compiled-in path
/// can name a clone that has since been deleted.
pub fn default_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("..")
        .join("fixtures")
        .join("ncps")
}

/// A fixture that cannot be read or does not follow the schema.
#[derive(Debug)]
pub struct ParityError {
    /// The file.
    pub file: PathBuf,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.message)
    }
}

impl std::error::Error for ParityError {}

/// A dense array from the fixture: row-major values and their shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// Dimensions, outermost first (`[]` for a scalar).
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub data: Vec<f64>,
}

impl Array {
    /// Reads nested JSON arrays (or a number) into a dense array.
    pub fn from_json(value: &Value) -> Result<Self, String> {
        fn walk(
            v: &Value,
            depth: usize,
            shape: &mut Vec<usize>,
            data: &mut Vec<f64>,
        ) -> Result<(), String> {
            match v {
                Value::Number(n) => {
                    if depth != shape.len() {
                        return Err("ragged array".into());
                    }
                    data.push(n.as_f64().ok_or("not a number")?);
                    Ok(())
                }
                Value::Array(items) => {
                    if depth == shape.len() {
                        shape.push(items.len());
                    } else if shape[depth] != items.len() {
                        return Err(format!(
                            "ragged array: dimension {depth} has lengths {} and {}",
                            shape[depth],
                            items.len()
                        ));
                    }
                    items
                        .iter()
                        .try_for_each(|item| walk(item, depth + 1, shape, data))
                }
                other => Err(format!("expected a number or an array, got {other}")),
            }
        }
        let (mut shape, mut data) = (Vec::new(), Vec::new());
        walk(value, 0, &mut shape, &mut data)?;
        Ok(Self { shape, data })
    }

    /// The transpose of a matrix.
    fn transposed(&self) -> Self {
        let [rows, cols] = [self.shape[0], self.shape[1]];
        let mut data = vec![0.0; self.data.len()];
        for r in 0..rows {
            for c in 0..cols {
                data[c * rows + r] = self.data[r * cols + c];
            }
        }
        Self {
            shape: vec![cols, rows],
            data,
        }
    }

    /// On the device in the backend's precision. The fixtures hold float32 values printed
    /// with 9 digits: they are rounded to float32 first, so an f64 backend computes with exactly
    /// the values ncps used (as the fixtures' float64 references do).
    /// The values as the float32 numbers ncps computed with (the JSON's decimals rounded to
    /// the nearest f32), held as f64.
    fn tensor_data(&self) -> TensorData {
        let exact: Vec<f64> = self.data.iter().map(|&v| f64::from(v as f32)).collect();
        TensorData::new(exact, self.shape.clone())
    }

    fn tensor<B: Backend, const D: usize>(&self, device: &B::Device) -> Tensor<B, D> {
        Tensor::from_data(self.tensor_data().convert::<B::FloatElem>(), device)
    }

    fn of<B: Backend, const D: usize>(t: Tensor<B, D>) -> Self {
        let shape = t.dims().to_vec();
        let data = t
            .into_data()
            .convert::<f64>()
            .to_vec::<f64>()
            .expect("float data");
        Self { shape, data }
    }
}

/// One model fixture.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The file it came from.
    pub path: PathBuf,
    /// The file stem, e.g. `a_ltc_fc8`.
    pub case: String,
    /// `"LTC"` or `"CfC"`.
    pub model: String,
    /// The whole JSON document.
    pub json: Value,
}

impl Fixture {
    /// Reads a fixture file.
    pub fn load(path: &Path) -> Result<Self, ParityError> {
        let err = |message: String| ParityError {
            file: path.to_path_buf(),
            message,
        };
        let json = read_json(path)?;
        let model = json["model"]
            .as_str()
            .ok_or_else(|| err("no \"model\" key: not a model fixture".into()))?
            .to_string();
        let case = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Self {
            path: path.to_path_buf(),
            case,
            model,
            json,
        })
    }

    /// The model fixtures in `dir` (files with a `"model"` key), sorted by name; other JSON files
    /// (`index.json`, `wirings.json`) are left out.
    pub fn all_in(dir: &Path) -> Result<Vec<Self>, ParityError> {
        let err = |message: String| ParityError {
            file: dir.to_path_buf(),
            message,
        };
        let mut fixtures = Vec::new();
        for path in json_files(dir)? {
            let text = std::fs::read_to_string(&path).map_err(|e| ParityError {
                file: path.clone(),
                message: format!("cannot read: {e}"),
            })?;
            if text.contains("\"model\":") {
                fixtures.push(Self::load(&path)?);
            }
        }
        if fixtures.is_empty() {
            return Err(err(
                "no model fixtures (JSON files with a \"model\" key)".into()
            ));
        }
        Ok(fixtures)
    }

    fn array(&self, pointer: &str) -> Result<Array, String> {
        let value = self
            .json
            .pointer(pointer)
            .ok_or_else(|| format!("missing {pointer}"))?;
        Array::from_json(value).map_err(|e| format!("{pointer}: {e}"))
    }

    fn config(&self, key: &str) -> &Value {
        &self.json["config"][key]
    }
}

/// Reads and parses a JSON file; errors name the file.
fn read_json(path: &Path) -> Result<Value, ParityError> {
    let err = |message: String| ParityError {
        file: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
    serde_json::from_str(&text).map_err(|e| err(format!("not JSON: {e}")))
}

/// The `*.json` files in `dir`, sorted by name.
fn json_files(dir: &Path) -> Result<Vec<PathBuf>, ParityError> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| ParityError {
            file: dir.to_path_buf(),
            message: format!("cannot list the folder: {e}"),
        })?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    Ok(paths)
}

/// The comparison of one quantity (outputs, a gradient, ...).
#[derive(Debug, Clone)]
pub struct Comparison {
    /// What was compared, e.g. `grads/rnn_cell.w`.
    pub what: String,
    /// The largest absolute difference.
    pub max_abs: f64,
    /// The largest `|Δ| / (atol + rtol·|want|)`: at most 1 when within tolerance.
    pub worst: f64,
}

/// The result of one fixture on one backend.
#[derive(Debug, Clone)]
pub struct Report {
    /// The fixture's case name.
    pub case: String,
    /// Every comparison made (empty when the fixture failed to run).
    pub comparisons: Vec<Comparison>,
    /// Why the fixture could not be run (a schema error, an unknown model, a parameter the
    /// model and the fixture do not share).
    pub error: Option<String>,
}

impl Report {
    /// Ran, and within tolerance everywhere.
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.comparisons.iter().all(|c| c.worst <= 1.0)
    }

    fn max_abs(&self, prefix: &str) -> Option<f64> {
        self.comparisons
            .iter()
            .filter(|c| c.what.starts_with(prefix))
            .map(|c| c.max_abs)
            .reduce(f64::max)
    }

    /// The worst comparison.
    pub fn worst(&self) -> Option<&Comparison> {
        self.comparisons
            .iter()
            .max_by(|a, b| a.worst.total_cmp(&b.worst))
    }

    /// The table header matching [`row`](Self::row).
    pub fn header() -> String {
        format!(
            "{:<34} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}  result",
            "fixture", "outputs", "state", "loss", "grads", "d/dinput", "adam", "|Δ|/tol"
        )
    }

    /// One line: the largest absolute difference per group, the worst tolerance ratio and the
    /// verdict.
    pub fn row(&self) -> String {
        if let Some(error) = &self.error {
            return format!("{:<34} ERROR: {error}", self.case);
        }
        let cell = |prefix: &str| match self.max_abs(prefix) {
            Some(v) => format!("{v:>9.2e}"),
            None => format!("{:>9}", "-"),
        };
        let worst = self.worst();
        let verdict = match worst {
            Some(w) if w.worst > 1.0 => format!("FAIL ({} beyond tolerance)", w.what),
            _ => "ok".to_string(),
        };
        format!(
            "{:<34} {} {} {} {} {} {} {:>7.3}  {verdict}",
            self.case,
            cell("outputs"),
            cell("final_state"),
            cell("loss"),
            cell("grads/"),
            cell("grad_input"),
            cell("after_adam_step/"),
            worst.map_or(0.0, |w| w.worst),
        )
    }
}

/// Tolerances: `|got − want| ≤ atol + rtol·|want|`.
#[derive(Debug, Clone, Copy)]
pub struct Tolerance {
    /// Absolute part.
    pub atol: f64,
    /// Relative part.
    pub rtol: f64,
}

/// Against the float32 references (every quantity on every backend): 1e-5 absolute + 1e-4
/// relative.
pub const F32: Tolerance = Tolerance {
    atol: 1e-5,
    rtol: 1e-4,
};

/// Against the float64 references (`outputs_f64`, `loss_f64`) on a float64 backend: 1e-9
/// absolute.
pub const F64: Tolerance = Tolerance {
    atol: 1e-9,
    rtol: 0.0,
};

/// Against `loss_f64` (a sum over all outputs, so of a larger magnitude) on a float64 backend:
/// 1e-9 absolute + 1e-9 relative.
pub const F64_LOSS: Tolerance = Tolerance {
    atol: 1e-9,
    rtol: 1e-9,
};

fn compare(what: impl Into<String>, got: &Array, want: &Array, tol: Tolerance) -> Comparison {
    let what = what.into();
    if got.shape != want.shape || got.data.len() != want.data.len() {
        return Comparison {
            what: format!("{what} (shape {:?}, want {:?})", got.shape, want.shape),
            max_abs: f64::INFINITY,
            worst: f64::INFINITY,
        };
    }
    let (mut max_abs, mut worst) = (0.0f64, 0.0f64);
    for (g, w) in got.data.iter().zip(&want.data) {
        let d = (g - w).abs();
        let d = if d.is_nan() { f64::INFINITY } else { d };
        max_abs = max_abs.max(d);
        worst = worst.max(d / (tol.atol + tol.rtol * w.abs()));
    }
    Comparison {
        what,
        max_abs,
        worst,
    }
}

/// A fixture's inputs as tensors.
struct Inputs<B: Backend> {
    /// `[batch, seq, input]` (or sequence-first, as the fixture's config says), tracked.
    input: Tensor<B, 3>,
    timespans: Option<Tensor<B, 2>>,
    hx: Option<Hx<B>>,
    return_sequences: bool,
}

impl<B: AutodiffBackend> Inputs<B> {
    fn of(fixture: &Fixture, device: &B::Device) -> Result<Self, String> {
        let input = fixture
            .array("/input")?
            .tensor::<B, 3>(device)
            .require_grad();
        let timespans = match &fixture.json["timespans"] {
            Value::Null => None,
            v => Some(Array::from_json(v)?.tensor::<B, 2>(device)),
        };
        let hx = match &fixture.json["hx"] {
            Value::Null => None,
            Value::Object(_) => Some((
                fixture.array("/hx/h")?.tensor(device),
                Some(fixture.array("/hx/c")?.tensor(device)),
            )),
            v => Some((Array::from_json(v)?.tensor(device), None)),
        };
        let return_sequences = fixture.config("return_sequences").as_bool().unwrap_or(true);
        Ok(Self {
            input,
            timespans,
            hx,
            return_sequences,
        })
    }
}

/// For an LTC fixture, the fused unfold against the plain tensor path on backend `B` (both on
/// the fixture's parameters and inputs): outputs, final state, the input's gradient and every
/// parameter's gradient of the fixture's loss (Σ outputs²), compared within `tol`. On a
/// backend without a fused kernel both runs take the plain path.
///
/// # Errors
/// If the fixture is not an LTC one or cannot be read.
pub fn fused_vs_reference<B: AutodiffBackend>(
    fixture: &Fixture,
    device: &B::Device,
    tol: Tolerance,
) -> Result<Vec<Comparison>, String> {
    let fused = build_ltc::<B>(fixture, device)?.with_fused(true);
    let reference = fused.clone().with_fused(false);
    let run = |model: &Ltc<B>| -> Result<Vec<(String, Array)>, String> {
        let Inputs {
            input,
            timespans,
            hx,
            return_sequences,
        } = Inputs::of(fixture, device)?;
        let (outputs, outputs_array, (h, c)) =
            model.run(input.clone(), hx, timespans, return_sequences);
        let mut all = vec![
            ("outputs".to_string(), outputs_array),
            ("final_state.h".to_string(), Array::of(h)),
        ];
        if let Some(c) = c {
            all.push(("final_state.c".to_string(), Array::of(c)));
        }
        let grads = outputs.powi_scalar(2).sum().backward();
        let grad_input = input.grad(&grads).ok_or("the input has no gradient")?;
        all.push(("grad_input".to_string(), Array::of(grad_input)));
        for (name, _, grad) in snapshot::<B, Ltc<B>>(fixture, model, Some(&grads)) {
            let grad = grad.ok_or_else(|| format!("{name} has no gradient"))?;
            all.push((format!("grads/{name}"), grad));
        }
        Ok(all)
    };
    let (got, want) = (run(&fused)?, run(&reference)?);
    Ok(got
        .iter()
        .zip(&want)
        .map(|((what, got), (_, want))| compare(what.clone(), got, want, tol))
        .collect())
}

/// Runs one fixture on backend `B` and compares everything it holds.
pub fn check<B: AutodiffBackend>(fixture: &Fixture, device: &B::Device) -> Report {
    let mut report = Report {
        case: fixture.case.clone(),
        comparisons: Vec::new(),
        error: None,
    };
    let result = build::<B>(fixture, device).and_then(|model| match model {
        Model::Ltc(m) => check_model(fixture, m, device, &mut report.comparisons),
        Model::Cfc(m) => check_model(fixture, m, device, &mut report.comparisons),
        Model::WiredCfc(m) => {
            compare_wired_masks(fixture, &m, &mut report.comparisons)?;
            check_model(fixture, m, device, &mut report.comparisons)
        }
    });
    if let Err(e) = result {
        report.error = Some(e);
    }
    report
}

/// A model a fixture describes, built with the fixture's parameters.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one model per fixture, built once
pub enum Model<B: Backend> {
    /// ncps `LTC`.
    Ltc(Ltc<B>),
    /// ncps `CfC` with an integer `units`.
    Cfc(Cfc<B>),
    /// ncps `CfC` on a wiring (`WiredCfCCell`).
    WiredCfc(WiredCfc<B>),
}

/// Builds the model a fixture describes (its config, wiring and parameters).
pub fn build<B: Backend>(fixture: &Fixture, device: &B::Device) -> Result<Model<B>, String> {
    match (fixture.model.as_str(), &fixture.json["wiring"]) {
        ("LTC", _) => build_ltc(fixture, device).map(Model::Ltc),
        ("CfC", Value::Null) => build_cfc(fixture, device).map(Model::Cfc),
        ("CfC", _) => build_wired_cfc(fixture, device).map(Model::WiredCfc),
        (other, _) => Err(format!(
            "unknown model {other:?} (expected \"LTC\" or \"CfC\")"
        )),
    }
}

fn wiring(fixture: &Fixture) -> Result<Wiring, String> {
    serde_json::from_value(fixture.json["wiring"].clone()).map_err(|e| format!("wiring: {e}"))
}

fn usize_of(config: &Value, key: &str) -> Result<usize, String> {
    config[key]
        .as_u64()
        .map(|v| v as usize)
        .ok_or_else(|| format!("config.{key}: missing or not an integer"))
}

/// Builds the ncps `LTC` a fixture describes, with the fixture's parameters.
pub fn build_ltc<B: Backend>(fixture: &Fixture, device: &B::Device) -> Result<Ltc<B>, String> {
    let ltc = ltc_config(&fixture.json["config"], wiring(fixture)?)?
        .init::<B>(device)
        .map_err(|e| e.to_string())?;
    load_params(fixture, ltc, device)
}

/// The ltc-burn config of ncps's `LTC(input_size, wiring, **config)`, from the constructor
/// arguments as the fixtures record them (`input_mapping`, `ode_unfolds`,
/// `implicit_param_constraints`, ...).
pub fn ltc_config(config: &Value, wiring: Wiring) -> Result<LtcConfig, String> {
    let mapping = |key: &str| match config[key].as_str() {
        Some("affine") => Ok(Mapping::Affine),
        Some("linear") => Ok(Mapping::Linear),
        None => Ok(Mapping::Identity),
        Some(other) => Err(format!("config.{key}: unknown mapping {other:?}")),
    };
    let positivity = match config["implicit_param_constraints"].as_bool() {
        Some(true) => Positivity::Softplus,
        Some(false) => Positivity::Clip,
        None => return Err("config.implicit_param_constraints: missing".into()),
    };
    let cell = LtcCellConfig::new(wiring)
        .with_input_mapping(mapping("input_mapping")?)
        .with_output_mapping(mapping("output_mapping")?)
        .with_ode_unfolds(usize_of(config, "ode_unfolds")?)
        .with_epsilon(config["epsilon"].as_f64().ok_or("config.epsilon")?)
        .with_positivity(positivity);
    Ok(LtcConfig::new(cell)
        .with_mixed_memory(config["mixed_memory"].as_bool().unwrap_or(false))
        .with_batch_first(config["batch_first"].as_bool().unwrap_or(true)))
}

fn cfc_mode(config: &Value) -> Result<CfcMode, String> {
    match config["mode"].as_str() {
        Some("default") | None => Ok(CfcMode::Default),
        Some("pure") => Ok(CfcMode::Pure),
        Some("no_gate") => Ok(CfcMode::NoGate),
        Some(other) => Err(format!("config.mode: unknown mode {other:?}")),
    }
}

fn proj_size(config: &Value) -> Option<usize> {
    config["proj_size"].as_u64().map(|p| p as usize)
}

/// Builds the ncps `CfC` (integer `units`) a fixture describes, with the fixture's parameters.
pub fn build_cfc<B: Backend>(fixture: &Fixture, device: &B::Device) -> Result<Cfc<B>, String> {
    let cfc = cfc_config(&fixture.json["config"])?
        .init::<B>(device)
        .map_err(|e| e.to_string())?;
    load_params(fixture, cfc, device)
}

/// The ltc-burn config of ncps's `CfC(input_size, units, **config)` with an integer `units`.
pub fn cfc_config(config: &Value) -> Result<CfcConfig, String> {
    let activation = match config["activation"].as_str() {
        Some("lecun_tanh") | None => Activation::LecunTanh,
        Some("silu") => Activation::Silu,
        Some("relu") => Activation::Relu,
        Some("tanh") => Activation::Tanh,
        Some("gelu") => Activation::Gelu,
        Some(other) => return Err(format!("config.activation: unknown activation {other:?}")),
    };
    let cell = CfcCellConfig::new(usize_of(config, "input_size")?, usize_of(config, "units")?)
        .with_mode(cfc_mode(config)?)
        .with_activation(activation)
        .with_backbone_units(usize_of(config, "backbone_units")?)
        .with_backbone_layers(usize_of(config, "backbone_layers")?)
        .with_backbone_dropout(config["backbone_dropout"].as_f64().unwrap_or(0.0))
        .with_ncps_compat(true);
    Ok(CfcConfig::new(cell)
        .with_proj_size(proj_size(config))
        .with_mixed_memory(config["mixed_memory"].as_bool().unwrap_or(false))
        .with_batch_first(config["batch_first"].as_bool().unwrap_or(true)))
}

/// Builds the ncps `CfC` on a wiring (`WiredCfCCell`) a fixture describes, with the fixture's
/// parameters.
pub fn build_wired_cfc<B: Backend>(
    fixture: &Fixture,
    device: &B::Device,
) -> Result<WiredCfc<B>, String> {
    let cfc = wired_cfc_config(&fixture.json["config"], wiring(fixture)?)?
        .init::<B>(device)
        .map_err(|e| e.to_string())?;
    load_params(fixture, cfc, device)
}

/// The ltc-burn config of ncps's `CfC(input_size, wiring, **config)`.
pub fn wired_cfc_config(config: &Value, wiring: Wiring) -> Result<WiredCfcConfig, String> {
    let cell = WiredCfcCellConfig::new(wiring)
        .with_mode(cfc_mode(config)?)
        .with_ncps_compat(true);
    Ok(WiredCfcConfig::new(cell)
        .with_proj_size(proj_size(config))
        .with_mixed_memory(config["mixed_memory"].as_bool().unwrap_or(false))
        .with_batch_first(config["batch_first"].as_bool().unwrap_or(true)))
}

fn pointer_escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

use ltc_burn::import::load_by_ncps_name;
pub use ltc_burn::import::ncps_name;

fn has_backbone_dropout(fixture: &Fixture) -> bool {
    fixture.json["config"]["backbone_dropout"]
        .as_f64()
        .is_some_and(|p| p > 0.0)
}

/// Collects every parameter's module path, value and (given gradients) gradient.
struct Snapshot<'a, B: AutodiffBackend> {
    path: Vec<String>,
    grads: Option<&'a B::Gradients>,
    out: Vec<(String, Array, Option<Array>)>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Snapshot<'_, B> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let grad = self.grads.and_then(|g| param.grad(g)).map(Array::of);
        self.out
            .push((self.path.join("."), Array::of(param.val()), grad));
    }
}

/// Every parameter of `model` under its ncps name, in ncps's layout, with its gradient when
/// `grads` is given.
fn snapshot<B: AutodiffBackend, M: Module<B>>(
    fixture: &Fixture,
    model: &M,
    grads: Option<&B::Gradients>,
) -> Vec<(String, Array, Option<Array>)> {
    let mut visitor = Snapshot::<B> {
        path: Vec::new(),
        grads,
        out: Vec::new(),
    };
    model.visit(&mut visitor);
    let dropout = has_backbone_dropout(fixture);
    visitor
        .out
        .into_iter()
        .map(|(path, value, grad)| {
            let (name, transposed) = ncps_name(&path, dropout);
            let fix = |a: Array| if transposed { a.transposed() } else { a };
            (name, fix(value), grad.map(fix))
        })
        .collect()
}

/// Loads the fixture's parameters into `model` (by ncps name, as a checkpoint import does):
/// every model parameter must be in the fixture, and every trainable fixture parameter in the
/// model. (In LTC `Clip` mode the parameters clip themselves as they are mapped; the fixtures'
/// raw values are positive, so nothing changes.)
fn load_params<B: Backend, M: Module<B>>(
    fixture: &Fixture,
    model: M,
    device: &B::Device,
) -> Result<M, String> {
    let (model, loaded) = load_by_ncps_name(model, has_backbone_dropout(fixture), device, |name| {
        let array = fixture
            .array(&format!("/params/{}", pointer_escape(name)))
            .ok()?;
        Some(array.tensor_data())
    })
    .map_err(|e| e.to_string())?;
    for name in trainable(fixture)? {
        if !loaded.contains(&name) {
            return Err(format!(
                "{name}: trainable in the fixture, but the model has no such parameter"
            ));
        }
    }
    Ok(model)
}

fn trainable(fixture: &Fixture) -> Result<Vec<String>, String> {
    fixture.json["trainable"]
        .as_array()
        .ok_or("missing \"trainable\"")?
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .ok_or("\"trainable\": not a name".into())
        })
        .collect()
}

/// The wired cell's masks, rebuilt from the fixture's wiring, against ncps's
/// `layer_{l}.sparsity_mask` (`(n_l, in_l + n_l)`, our `[in_l + n_l, n_l]` transposed).
fn compare_wired_masks<B: Backend>(
    fixture: &Fixture,
    model: &WiredCfc<B>,
    out: &mut Vec<Comparison>,
) -> Result<(), String> {
    for (l, layer) in model.cell.layers.iter().enumerate() {
        let name = format!("rnn_cell.layer_{l}.sparsity_mask");
        let want = fixture.array(&format!("/params/{name}"))?;
        let mask = layer
            .head_mask
            .clone()
            .ok_or("a wired layer without a mask")?;
        out.push(compare(
            format!("masks/{name}"),
            &Array::of(mask).transposed(),
            &want,
            Tolerance {
                atol: 0.0,
                rtol: 0.0,
            },
        ));
    }
    Ok(())
}

/// A recurrent state as the fixtures hold it: `h` and, with mixed memory, `c`.
type Hx<B> = (Tensor<B, 2>, Option<Tensor<B, 2>>);

/// The sequence layers the fixtures hold, seen alike: run `x` from an initial state.
trait Layer<B: AutodiffBackend>: AutodiffModule<B> + Sized {
    /// Outputs at every step (ncps `return_sequences=True`) and the final state.
    fn all(
        &self,
        x: Tensor<B, 3>,
        hx: Option<Hx<B>>,
        ts: Option<Tensor<B, 2>>,
    ) -> (Tensor<B, 3>, Hx<B>);

    /// The last step's outputs and the final state.
    fn last(
        &self,
        x: Tensor<B, 3>,
        hx: Option<Hx<B>>,
        ts: Option<Tensor<B, 2>>,
    ) -> (Tensor<B, 2>, Hx<B>);

    /// The outputs flattened (for the loss) and as an array (for the comparison), and the final
    /// state.
    fn run(
        &self,
        x: Tensor<B, 3>,
        hx: Option<Hx<B>>,
        ts: Option<Tensor<B, 2>>,
        return_sequences: bool,
    ) -> (Tensor<B, 1>, Array, Hx<B>) {
        fn flat<B: Backend, const D: usize>(y: Tensor<B, D>) -> (Tensor<B, 1>, Array) {
            let array = Array::of(y.clone());
            let n = array.data.len();
            (y.reshape([n]), array)
        }
        let ((y, array), state) = if return_sequences {
            let (y, state) = self.all(x, hx, ts);
            (flat(y), state)
        } else {
            let (y, state) = self.last(x, hx, ts);
            (flat(y), state)
        };
        (y, array, state)
    }
}

impl<B: AutodiffBackend> Layer<B> for Ltc<B> {
    fn all(
        &self,
        x: Tensor<B, 3>,
        hx: Option<Hx<B>>,
        ts: Option<Tensor<B, 2>>,
    ) -> (Tensor<B, 3>, Hx<B>) {
        let (y, s) = self.forward(x, hx.map(|(v, c)| LtcState { v, c }), ts);
        (y, (s.v, s.c))
    }

    fn last(
        &self,
        x: Tensor<B, 3>,
        hx: Option<Hx<B>>,
        ts: Option<Tensor<B, 2>>,
    ) -> (Tensor<B, 2>, Hx<B>) {
        let (y, s) = self.forward_last(x, hx.map(|(v, c)| LtcState { v, c }), ts);
        (y, (s.v, s.c))
    }
}

impl<B: AutodiffBackend, C> Layer<B> for ltc_burn::cfc::CfcLayer<B, C>
where
    C: ltc_burn::cfc::CfcCore<B> + AutodiffModule<B>,
    Self: AutodiffModule<B>,
{
    fn all(
        &self,
        x: Tensor<B, 3>,
        hx: Option<Hx<B>>,
        ts: Option<Tensor<B, 2>>,
    ) -> (Tensor<B, 3>, Hx<B>) {
        let (y, s) = self.forward(x, hx.map(|(h, c)| CfcState { h, c }), ts);
        (y, (s.h, s.c))
    }

    fn last(
        &self,
        x: Tensor<B, 3>,
        hx: Option<Hx<B>>,
        ts: Option<Tensor<B, 2>>,
    ) -> (Tensor<B, 2>, Hx<B>) {
        let (y, s) = self.forward_last(x, hx.map(|(h, c)| CfcState { h, c }), ts);
        (y, (s.h, s.c))
    }
}

fn check_model<B: AutodiffBackend, M: Layer<B>>(
    fixture: &Fixture,
    model: M,
    device: &B::Device,
    out: &mut Vec<Comparison>,
) -> Result<(), String> {
    let f64_backend = core::mem::size_of::<B::FloatElem>() == 8;
    let Inputs {
        input,
        timespans,
        hx,
        return_sequences,
    } = Inputs::of(fixture, device)?;
    let (outputs, outputs_array, (h, c)) =
        model.run(input.clone(), hx, timespans, return_sequences);

    out.push(compare(
        "outputs",
        &outputs_array,
        &fixture.array("/outputs")?,
        F32,
    ));
    if f64_backend {
        out.push(compare(
            "outputs_f64",
            &outputs_array,
            &fixture.array("/outputs_f64")?,
            F64,
        ));
    }
    match c {
        Some(c) => {
            out.push(compare(
                "final_state.h",
                &Array::of(h),
                &fixture.array("/final_state/h")?,
                F32,
            ));
            out.push(compare(
                "final_state.c",
                &Array::of(c),
                &fixture.array("/final_state/c")?,
                F32,
            ));
        }
        None => out.push(compare(
            "final_state",
            &Array::of(h),
            &fixture.array("/final_state")?,
            F32,
        )),
    }
    let loss = outputs.powi_scalar(2).sum();
    let loss_array = Array::of(loss.clone().reshape([1])).data;
    let scalar = |x: f64| Array {
        shape: vec![],
        data: vec![x],
    };
    let want_loss = fixture.json["loss"].as_f64().ok_or("missing loss")?;
    out.push(compare(
        "loss",
        &scalar(loss_array[0]),
        &scalar(want_loss),
        F32,
    ));
    if f64_backend {
        let want = fixture.json["loss_f64"]
            .as_f64()
            .ok_or("missing loss_f64")?;
        out.push(compare(
            "loss_f64",
            &scalar(loss_array[0]),
            &scalar(want),
            F64_LOSS,
        ));
    }

    let grads = loss.backward();
    let grad_input = input.grad(&grads).ok_or("the input has no gradient")?;
    out.push(compare(
        "grad_input",
        &Array::of(grad_input),
        &fixture.array("/grad_input")?,
        F32,
    ));
    for (name, _, grad) in snapshot::<B, M>(fixture, &model, Some(&grads)) {
        let want = fixture.array(&format!("/grads/{}", pointer_escape(&name)))?;
        let got = grad.ok_or_else(|| format!("{name} has no gradient"))?;
        out.push(compare(format!("grads/{name}"), &got, &want, F32));
    }

    if let Some(step) = fixture.json.get("after_adam_step") {
        let lr = step["hyperparams"]["lr"]
            .as_f64()
            .ok_or("after_adam_step: no lr")?;
        let defaults = &step["defaults_used"];
        let betas = defaults["betas"]
            .as_array()
            .ok_or("after_adam_step: no betas")?;
        let beta = |i: usize| {
            betas
                .get(i)
                .and_then(Value::as_f64)
                .ok_or("after_adam_step: betas")
        };
        let mut optim = AdamConfig::new()
            .with_beta_1(beta(0)? as f32)
            .with_beta_2(beta(1)? as f32)
            .with_epsilon(defaults["eps"].as_f64().ok_or("after_adam_step: eps")? as f32)
            .init::<B, M>();
        let grads = GradientsParams::from_grads(grads, &model);
        // In LTC Clip mode the parameters clip themselves after the step: nothing else to call.
        let stepped = optim.step(lr, model, grads);
        for (name, value, _) in snapshot::<B, M>(fixture, &stepped, None) {
            let want = fixture.array(&format!(
                "/after_adam_step/params/{}",
                pointer_escape(&name)
            ))?;
            out.push(compare(
                format!("after_adam_step/{name}"),
                &value,
                &want,
                F32,
            ));
        }
    }
    Ok(())
}
