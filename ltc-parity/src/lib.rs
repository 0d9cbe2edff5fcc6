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

use burn::module::Param;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use ltc_burn::ltc::{Ltc, LtcCellConfig, LtcConfig, LtcState, Mapping, PositiveParam, Positivity};
use ltc_wirings::Wiring;
use serde_json::Value;

/// The project's copy of the ncps fixtures (`fixtures/ncps` at the workspace root).
pub fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
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
    fn tensor<B: Backend, const D: usize>(&self, device: &B::Device) -> Tensor<B, D> {
        let exact: Vec<f64> = self.data.iter().map(|&v| f64::from(v as f32)).collect();
        let data = TensorData::new(exact, self.shape.clone()).convert::<B::FloatElem>();
        Tensor::from_data(data, device)
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
        let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
        let json: Value = serde_json::from_str(&text).map_err(|e| err(format!("not JSON: {e}")))?;
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
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| err(format!("cannot list the folder: {e}")))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        let mut fixtures = Vec::new();
        for path in paths {
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
    /// Every comparison made (empty when skipped or failed to run).
    pub comparisons: Vec<Comparison>,
    /// Why the fixture was not checked (a model this version does not build).
    pub skipped: Option<String>,
    /// Why the fixture could not be run (a schema error).
    pub error: Option<String>,
}

impl Report {
    /// Within tolerance everywhere (a skipped fixture passes; an error does not).
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
        if let Some(reason) = &self.skipped {
            return format!("{:<34} skipped: {reason}", self.case);
        }
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

/// Runs one fixture on backend `B` and compares everything it holds.
pub fn check<B: AutodiffBackend>(fixture: &Fixture, device: &B::Device) -> Report {
    let mut report = Report {
        case: fixture.case.clone(),
        comparisons: Vec::new(),
        skipped: None,
        error: None,
    };
    match fixture.model.as_str() {
        "LTC" => {
            if let Err(e) = check_ltc::<B>(fixture, device, &mut report.comparisons) {
                report.error = Some(e);
            }
        }
        other => report.skipped = Some(format!("{other} models are not implemented yet")),
    }
    report
}

/// Builds the ncps `LTC` a fixture describes, with the fixture's parameters.
pub fn build_ltc<B: Backend>(fixture: &Fixture, device: &B::Device) -> Result<Ltc<B>, String> {
    let wiring: Wiring = serde_json::from_value(fixture.json["wiring"].clone())
        .map_err(|e| format!("wiring: {e}"))?;
    let mapping = |key: &str| match fixture.config(key).as_str() {
        Some("affine") => Ok(Mapping::Affine),
        Some("linear") => Ok(Mapping::Linear),
        None => Ok(Mapping::Identity),
        Some(other) => Err(format!("config.{key}: unknown mapping {other:?}")),
    };
    let positivity = match fixture.config("implicit_param_constraints").as_bool() {
        Some(true) => Positivity::Softplus,
        Some(false) => Positivity::Clip,
        None => return Err("config.implicit_param_constraints: missing".into()),
    };
    let cell = LtcCellConfig::new(wiring)
        .with_input_mapping(mapping("input_mapping")?)
        .with_output_mapping(mapping("output_mapping")?)
        .with_ode_unfolds(
            fixture
                .config("ode_unfolds")
                .as_u64()
                .ok_or("config.ode_unfolds")? as usize,
        )
        .with_epsilon(fixture.config("epsilon").as_f64().ok_or("config.epsilon")?)
        .with_positivity(positivity);
    let config = LtcConfig::new(cell)
        .with_mixed_memory(fixture.config("mixed_memory").as_bool().unwrap_or(false))
        .with_batch_first(fixture.config("batch_first").as_bool().unwrap_or(true));
    let ltc = config.init::<B>(device).map_err(|e| e.to_string())?;
    load_ltc_params(
        ltc,
        |name| fixture.array(&format!("/params/{}", pointer_escape(name))),
        device,
    )
}

fn pointer_escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// The parameters of an LTC under their ncps names, with a flag for Burn's `[in, out]` Linear
/// weights, which are PyTorch's `(out, in)` transposed.
fn ltc_param_names<B: Backend>(ltc: &Ltc<B>) -> Vec<(&'static str, bool)> {
    let cell = &ltc.cell;
    let mut names = vec![
        ("rnn_cell.gleak", false),
        ("rnn_cell.vleak", false),
        ("rnn_cell.cm", false),
        ("rnn_cell.sigma", false),
        ("rnn_cell.mu", false),
        ("rnn_cell.w", false),
        ("rnn_cell.erev", false),
        ("rnn_cell.sensory_sigma", false),
        ("rnn_cell.sensory_mu", false),
        ("rnn_cell.sensory_w", false),
        ("rnn_cell.sensory_erev", false),
    ];
    let optional = [
        ("rnn_cell.input_w", cell.input_w.is_some()),
        ("rnn_cell.input_b", cell.input_b.is_some()),
        ("rnn_cell.output_w", cell.output_w.is_some()),
        ("rnn_cell.output_b", cell.output_b.is_some()),
    ];
    names.extend(
        optional
            .into_iter()
            .filter(|(_, has)| *has)
            .map(|(n, _)| (n, false)),
    );
    if ltc.lstm.is_some() {
        names.extend([
            ("lstm.input_map.weight", true),
            ("lstm.input_map.bias", false),
            ("lstm.recurrent_map.weight", true),
        ]);
    }
    names
}

/// Replaces every trainable parameter of `ltc` by the array `get(ncps_name)` returns.
fn load_ltc_params<B: Backend>(
    mut ltc: Ltc<B>,
    get: impl Fn(&str) -> Result<Array, String>,
    device: &B::Device,
) -> Result<Ltc<B>, String> {
    fn set<B: Backend, const D: usize>(
        param: &mut Param<Tensor<B, D>>,
        array: Array,
        name: &str,
        device: &B::Device,
    ) -> Result<(), String> {
        if array.shape != param.dims().to_vec() {
            return Err(format!(
                "{name}: shape {:?} does not fit the model's {:?}",
                array.shape,
                param.dims()
            ));
        }
        *param = Param::from_tensor(array.tensor(device));
        Ok(())
    }
    fn set_positive<B: Backend, const D: usize>(
        param: &mut PositiveParam<B, D>,
        array: Array,
        name: &str,
        device: &B::Device,
    ) -> Result<(), String> {
        let mut inner = param.param.clone();
        set(&mut inner, array, name, device)?;
        // No clip here: the fixture's values are what ncps computed with.
        param.param = inner;
        Ok(())
    }
    for (name, transposed) in ltc_param_names(&ltc) {
        let array = get(name)?;
        let array = if transposed {
            array.transposed()
        } else {
            array
        };
        let cell = &mut ltc.cell;
        let missing = || format!("{name}: the model has no such parameter");
        match name {
            "rnn_cell.gleak" => set_positive(&mut cell.gleak, array, name, device)?,
            "rnn_cell.vleak" => set(&mut cell.vleak, array, name, device)?,
            "rnn_cell.cm" => set_positive(&mut cell.cm, array, name, device)?,
            "rnn_cell.sigma" => set(&mut cell.sigma, array, name, device)?,
            "rnn_cell.mu" => set(&mut cell.mu, array, name, device)?,
            "rnn_cell.w" => set_positive(&mut cell.w, array, name, device)?,
            "rnn_cell.erev" => set(&mut cell.erev, array, name, device)?,
            "rnn_cell.sensory_sigma" => set(&mut cell.sensory_sigma, array, name, device)?,
            "rnn_cell.sensory_mu" => set(&mut cell.sensory_mu, array, name, device)?,
            "rnn_cell.sensory_w" => set_positive(&mut cell.sensory_w, array, name, device)?,
            "rnn_cell.sensory_erev" => set(&mut cell.sensory_erev, array, name, device)?,
            "rnn_cell.input_w" => set(
                cell.input_w.as_mut().ok_or_else(missing)?,
                array,
                name,
                device,
            )?,
            "rnn_cell.input_b" => set(
                cell.input_b.as_mut().ok_or_else(missing)?,
                array,
                name,
                device,
            )?,
            "rnn_cell.output_w" => set(
                cell.output_w.as_mut().ok_or_else(missing)?,
                array,
                name,
                device,
            )?,
            "rnn_cell.output_b" => set(
                cell.output_b.as_mut().ok_or_else(missing)?,
                array,
                name,
                device,
            )?,
            _ => {
                let lstm = ltc.lstm.as_mut().ok_or_else(missing)?;
                match name {
                    "lstm.input_map.weight" => {
                        set(&mut lstm.input_map.weight, array, name, device)?
                    }
                    "lstm.input_map.bias" => set(
                        lstm.input_map.bias.as_mut().ok_or_else(missing)?,
                        array,
                        name,
                        device,
                    )?,
                    "lstm.recurrent_map.weight" => {
                        set(&mut lstm.recurrent_map.weight, array, name, device)?
                    }
                    _ => return Err(missing()),
                }
            }
        }
    }
    Ok(ltc)
}

/// Every trainable parameter of `ltc` under its ncps name, in ncps's layout, with its gradient
/// when `grads` is given.
fn ltc_snapshot<B: AutodiffBackend>(
    ltc: &Ltc<B>,
    grads: Option<&B::Gradients>,
) -> Vec<(&'static str, Array, Option<Array>)> {
    fn entry<B: AutodiffBackend, const D: usize>(
        param: &Param<Tensor<B, D>>,
        grads: Option<&B::Gradients>,
        transposed: bool,
    ) -> (Array, Option<Array>) {
        let fix = |a: Array| if transposed { a.transposed() } else { a };
        let value = fix(Array::of(param.val()));
        let grad = grads.and_then(|g| param.grad(g)).map(|g| fix(Array::of(g)));
        (value, grad)
    }
    let cell = &ltc.cell;
    let mut out = Vec::new();
    for (name, transposed) in ltc_param_names(ltc) {
        let (value, grad) = match name {
            "rnn_cell.gleak" => entry(&cell.gleak, grads, false),
            "rnn_cell.vleak" => entry(&cell.vleak, grads, false),
            "rnn_cell.cm" => entry(&cell.cm, grads, false),
            "rnn_cell.sigma" => entry(&cell.sigma, grads, false),
            "rnn_cell.mu" => entry(&cell.mu, grads, false),
            "rnn_cell.w" => entry(&cell.w, grads, false),
            "rnn_cell.erev" => entry(&cell.erev, grads, false),
            "rnn_cell.sensory_sigma" => entry(&cell.sensory_sigma, grads, false),
            "rnn_cell.sensory_mu" => entry(&cell.sensory_mu, grads, false),
            "rnn_cell.sensory_w" => entry(&cell.sensory_w, grads, false),
            "rnn_cell.sensory_erev" => entry(&cell.sensory_erev, grads, false),
            "rnn_cell.input_w" => entry(cell.input_w.as_ref().expect("listed"), grads, false),
            "rnn_cell.input_b" => entry(cell.input_b.as_ref().expect("listed"), grads, false),
            "rnn_cell.output_w" => entry(cell.output_w.as_ref().expect("listed"), grads, false),
            "rnn_cell.output_b" => entry(cell.output_b.as_ref().expect("listed"), grads, false),
            _ => {
                let lstm = ltc.lstm.as_ref().expect("listed");
                match name {
                    "lstm.input_map.weight" => entry(&lstm.input_map.weight, grads, transposed),
                    "lstm.input_map.bias" => entry(
                        lstm.input_map.bias.as_ref().expect("ncps has it"),
                        grads,
                        false,
                    ),
                    _ => entry(&lstm.recurrent_map.weight, grads, transposed),
                }
            }
        };
        out.push((name, value, grad));
    }
    out
}

fn check_ltc<B: AutodiffBackend>(
    fixture: &Fixture,
    device: &B::Device,
    out: &mut Vec<Comparison>,
) -> Result<(), String> {
    let f64_backend = core::mem::size_of::<B::FloatElem>() == 8;
    let ltc = build_ltc::<B>(fixture, device)?;
    let input = fixture
        .array("/input")?
        .tensor::<B, 3>(device)
        .require_grad();
    let timespans = match &fixture.json["timespans"] {
        Value::Null => None,
        v => Some(Array::from_json(v)?.tensor::<B, 2>(device)),
    };
    let state = match &fixture.json["hx"] {
        Value::Null => None,
        Value::Object(_) => Some(LtcState {
            v: fixture.array("/hx/h")?.tensor(device),
            c: Some(fixture.array("/hx/c")?.tensor(device)),
        }),
        v => Some(LtcState {
            v: Array::from_json(v)?.tensor(device),
            c: None,
        }),
    };
    let return_sequences = fixture.config("return_sequences").as_bool().unwrap_or(true);
    let (outputs, outputs_array, state) = if return_sequences {
        let (y, state) = ltc.forward(input.clone(), state, timespans);
        let a = Array::of(y.clone());
        (y.flatten::<1>(0, 2), a, state)
    } else {
        let (y, state) = ltc.forward_last(input.clone(), state, timespans);
        let a = Array::of(y.clone());
        (y.flatten::<1>(0, 1), a, state)
    };

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
    match state.c.clone() {
        Some(c) => {
            out.push(compare(
                "final_state.h",
                &Array::of(state.v.clone()),
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
            &Array::of(state.v.clone()),
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
            F64,
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
    for (name, _, grad) in ltc_snapshot(&ltc, Some(&grads)) {
        let want = fixture.array(&format!("/grads/{}", pointer_escape(name)))?;
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
            .init::<B, Ltc<B>>();
        let grads = GradientsParams::from_grads(grads, &ltc);
        // In Clip mode the parameters clip themselves after the step: nothing else to call.
        let stepped = optim.step(lr, ltc, grads);
        for (name, value, _) in ltc_snapshot(&stepped, None) {
            let want =
                fixture.array(&format!("/after_adam_step/params/{}", pointer_escape(name)))?;
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
