//! Building the model a fixture describes, with its parameters: the config from ncps's
//! constructor arguments, the parameters matched by ncps name.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};
use ltc_burn::cfc::{
    Activation, Cfc, CfcCellConfig, CfcConfig, CfcMode, WiredCfc, WiredCfcCellConfig,
    WiredCfcConfig,
};
use ltc_burn::ltc::{Ltc, LtcCellConfig, LtcConfig, Mapping, Positivity};
use ltc_wirings::Wiring;
use serde_json::Value;

use crate::{Array, Fixture};

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

pub(crate) fn pointer_escape(name: &str) -> String {
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
pub(crate) fn snapshot<B: AutodiffBackend, M: Module<B>>(
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

pub(crate) fn trainable(fixture: &Fixture) -> Result<Vec<String>, String> {
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
