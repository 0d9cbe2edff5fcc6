//! Importing ncps (PyTorch) checkpoints: `torch.save(model.state_dict())` of an ncps 1.0.x
//! `LTC` or `CfC`, read by Burn's PyTorch reader (`burn-store`) — no Python, no libtorch.
//!
//! The config comes from you, because some ncps options leave no trace in the tensors
//! (`ode_unfolds`, `epsilon`, `implicit_param_constraints`, the CfC `mode` and `activation`).
//! What the tensors do show is taken from the checkpoint: the wiring's masks (and, for LTC, the
//! synapse polarities, from the sign of the trained `erev`), the input/output mappings, mixed
//! memory and the CfC projection. Every other size is checked, and a mismatch names the key and
//! both shapes.
//!
//! ```no_run
//! use burn::backend::NdArray;
//! use ltc_burn::import::NcpsCheckpoint;
//! use ltc_burn::ltc::{LtcCellConfig, LtcConfig};
//! use ltc_wirings::AutoNcp;
//!
//! // ncps: LTC(2, AutoNCP(16, 1), batch_first=True), trained, then torch.save(m.state_dict(), "ltc.pt")
//! let wiring = AutoNcp::new(16, 1).build(2)?;
//! let config = LtcConfig::new(LtcCellConfig::new(wiring));
//! let checkpoint = NcpsCheckpoint::from_file("ltc.pt")?;
//! let (config, ltc) = checkpoint.load_ltc::<NdArray>(&config, &Default::default())?;
//! // `config` now carries the checkpoint's wiring: save both with `ltc_burn::persist::save`.
//! # let _ = (config, ltc);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use burn_store::pytorch::PytorchReader;
use ltc_wirings::{Wiring, WiringRecord};

use crate::cfc::{Cfc, CfcConfig, WiredCfc, WiredCfcConfig, WiredVariant};
use crate::ltc::{Ltc, LtcConfig, Mapping, Positivity};

/// Why a checkpoint could not be imported. Each message names the file or key and the fix.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ImportError {
    /// The file is missing or not a PyTorch state dict.
    Read {
        /// The file.
        path: PathBuf,
        /// What the reader said.
        message: String,
    },
    /// A tensor's shape differs from the one the config implies.
    Shape {
        /// The state-dict key, e.g. `rnn_cell.gleak`.
        key: String,
        /// Its shape in the checkpoint (PyTorch layout).
        checkpoint: Vec<usize>,
        /// The shape the config implies (PyTorch layout).
        config: Vec<usize>,
        /// Which config option decides it.
        hint: String,
    },
    /// The model built from the config needs a tensor the checkpoint lacks.
    Missing {
        /// The state-dict key.
        key: String,
        /// Which config option asked for it.
        hint: String,
    },
    /// The checkpoint holds tensors the model built from the config has no place for.
    Unused {
        /// The state-dict keys.
        keys: Vec<String>,
        /// Which config option would use them.
        hint: String,
    },
    /// The config (or the wiring rebuilt from the checkpoint's masks) is not valid.
    Config(String),
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, message } => write!(
                f,
                "{}: not a readable PyTorch state dict ({message}); save it with \
                 torch.save(model.state_dict(), path)",
                path.display()
            ),
            Self::Shape {
                key,
                checkpoint,
                config,
                hint,
            } => write!(
                f,
                "{key}: the checkpoint has shape {checkpoint:?}, the config implies {config:?} \
                 ({hint})"
            ),
            Self::Missing { key, hint } => write!(
                f,
                "{key}: the model built from the config needs it, the checkpoint does not have \
                 it ({hint})"
            ),
            Self::Unused { keys, hint } => write!(
                f,
                "the checkpoint has {keys:?}, which the model built from the config does not \
                 use ({hint})"
            ),
            Self::Config(message) => write!(f, "invalid config: {message}"),
        }
    }
}

impl std::error::Error for ImportError {}

/// One tensor of a checkpoint, as `f32` in PyTorch's layout.
#[derive(Debug, Clone, PartialEq)]
struct Array {
    shape: Vec<usize>,
    data: Vec<f32>,
}

impl Array {
    fn at(&self, row: usize, col: usize) -> f32 {
        self.data[row * self.shape[1] + col]
    }
}

/// An ncps `state_dict` read from a `.pt` file: every tensor by its key.
#[derive(Debug, Clone)]
pub struct NcpsCheckpoint {
    path: PathBuf,
    tensors: BTreeMap<String, Array>,
}

impl NcpsCheckpoint {
    /// Reads `torch.save(model.state_dict(), path)` (the zip format of PyTorch ≥ 1.6, and the
    /// legacy format).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ImportError> {
        let path = path.as_ref().to_path_buf();
        let read_error = |message: String| ImportError::Read {
            path: path.clone(),
            message,
        };
        let reader = PytorchReader::new(&path).map_err(|e| read_error(e.to_string()))?;
        let mut tensors = BTreeMap::new();
        for (key, snapshot) in reader.into_tensors() {
            let data = snapshot
                .to_data()
                .map_err(|e| read_error(format!("{key}: {e:?}")))?;
            let shape = data.shape.to_vec();
            let data = data
                .convert::<f32>()
                .to_vec::<f32>()
                .map_err(|e| read_error(format!("{key}: {e:?}")))?;
            tensors.insert(key, Array { shape, data });
        }
        if tensors.is_empty() {
            return Err(read_error("it holds no tensors".into()));
        }
        Ok(Self { path, tensors })
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every key, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// The shape of `key` (PyTorch layout), if present.
    pub fn shape(&self, key: &str) -> Option<&[usize]> {
        self.tensors.get(key).map(|a| a.shape.as_slice())
    }

    fn has(&self, key: &str) -> bool {
        self.tensors.contains_key(key)
    }

    fn get(&self, key: &str, hint: &str) -> Result<&Array, ImportError> {
        self.tensors.get(key).ok_or_else(|| ImportError::Missing {
            key: key.into(),
            hint: hint.into(),
        })
    }

    fn expect_shape(&self, key: &str, config: &[usize], hint: &str) -> Result<&Array, ImportError> {
        let array = self.get(key, hint)?;
        if array.shape != config {
            return Err(ImportError::Shape {
                key: key.into(),
                checkpoint: array.shape.clone(),
                config: config.to_vec(),
                hint: hint.into(),
            });
        }
        Ok(array)
    }

    /// Imports an ncps `LTC`. `config` gives what the tensors cannot (`ode_unfolds`, `epsilon`,
    /// `positivity` = ncps's `implicit_param_constraints`, `batch_first`) and the wiring's
    /// sizes (units, inputs, motor neurons, layers), which must match. Returned: the config as
    /// imported — its wiring carries the checkpoint's masks with the polarity of the trained
    /// `erev` — and the model.
    pub fn load_ltc<B: Backend>(
        &self,
        config: &LtcConfig,
        device: &B::Device,
    ) -> Result<(LtcConfig, Ltc<B>), ImportError> {
        let wiring = &config.cell.wiring;
        let (n, s) = (wiring.units(), wiring.input_dim());
        let units = "the config's wiring: units";
        self.expect_shape("rnn_cell.gleak", &[n], units)?;
        let sensory = "the config's wiring: input_dim x units";
        let mask = self.expect_shape("rnn_cell.sparsity_mask", &[n, n], units)?;
        let erev = self.expect_shape("rnn_cell.erev", &[n, n], units)?;
        let sensory_mask = self.expect_shape("rnn_cell.sensory_sparsity_mask", &[s, n], sensory)?;
        let sensory_erev = self.expect_shape("rnn_cell.sensory_erev", &[s, n], sensory)?;
        let polarity = |mask: &Array, erev: &Array, i: usize, j: usize| -> i8 {
            match (mask.at(i, j) != 0.0, erev.at(i, j) < 0.0) {
                (false, _) => 0,
                (true, true) => -1,
                (true, false) => 1,
            }
        };
        let mut record = WiringRecord::from(wiring.clone());
        record.adjacency_matrix = (0..n)
            .map(|i| (0..n).map(|j| polarity(mask, erev, i, j)).collect())
            .collect();
        record.sensory_adjacency_matrix = (0..s)
            .map(|i| {
                (0..n)
                    .map(|j| polarity(sensory_mask, sensory_erev, i, j))
                    .collect()
            })
            .collect();
        if config.cell.positivity == Positivity::Clip {
            for key in [
                "rnn_cell.w",
                "rnn_cell.sensory_w",
                "rnn_cell.cm",
                "rnn_cell.gleak",
            ] {
                let min = self
                    .get(key, units)?
                    .data
                    .iter()
                    .copied()
                    .fold(f32::INFINITY, f32::min);
                if min < 0.0 {
                    return Err(ImportError::Config(format!(
                        "{key} holds {min} < 0 but the config's positivity is Clip: the \
                         checkpoint was trained with implicit_param_constraints=False without \
                         apply_weight_constraints(), and ncps computes with the negative values; \
                         import with Positivity::Unconstrained to reproduce it exactly"
                    )));
                }
            }
        }
        let mapping = |w: &str, b: &str| match (self.has(w), self.has(b)) {
            (true, true) => Mapping::Affine,
            (true, false) => Mapping::Linear,
            _ => Mapping::Identity,
        };
        let mut imported = config.clone();
        imported.cell.wiring = rebuilt(record)?;
        imported.cell.input_mapping = mapping("rnn_cell.input_w", "rnn_cell.input_b");
        imported.cell.output_mapping = mapping("rnn_cell.output_w", "rnn_cell.output_b");
        imported.mixed_memory = self.has("lstm.input_map.weight");
        let model = imported
            .init::<B>(device)
            .map_err(|e| ImportError::Config(e.to_string()))?;
        let masks = ["rnn_cell.sparsity_mask", "rnn_cell.sensory_sparsity_mask"];
        let model = self.load_params(model, false, &masks, device)?;
        Ok((imported, model))
    }

    /// Imports an ncps `CfC` with an integer `units`. `config` gives the mode, activation,
    /// backbone (units, layers, dropout) and `batch_first`, and the sizes, which must match;
    /// the projection (`proj_size`) and mixed memory are taken from the checkpoint.
    pub fn load_cfc<B: Backend>(
        &self,
        config: &CfcConfig,
        device: &B::Device,
    ) -> Result<(CfcConfig, Cfc<B>), ImportError> {
        let mut imported = config.clone();
        imported.proj_size = self.shape("fc.weight").map(|s| s[0]);
        imported.mixed_memory = self.has("lstm.input_map.weight");
        let model = imported
            .init::<B>(device)
            .map_err(|e| ImportError::Config(e.to_string()))?;
        let dropout = config.cell.backbone_dropout > 0.0;
        let model = self.load_params(model, dropout, &[], device)?;
        Ok((imported, model))
    }

    /// Imports an ncps `CfC` on a wiring (`WiredCfCCell`). `config` gives the mode and
    /// `batch_first` and the wiring, whose layer sizes must match the checkpoint's
    /// `layer_{l}` tensors; the masks between layers are taken from the checkpoint, as are the
    /// projection and mixed memory. The variant is [`WiredVariant::Ncps`].
    pub fn load_wired_cfc<B: Backend>(
        &self,
        config: &WiredCfcConfig,
        device: &B::Device,
    ) -> Result<(WiredCfcConfig, WiredCfc<B>), ImportError> {
        let wiring = &config.cell.wiring;
        let layers: Vec<Vec<usize>> = (0..wiring.num_layers())
            .map(|l| wiring.layer(l).to_vec())
            .collect();
        let extra = format!("rnn_cell.layer_{}.ff1.weight", layers.len());
        if self.has(&extra) {
            return Err(ImportError::Unused {
                keys: vec![extra],
                hint: format!(
                    "the config's wiring has {} layers; the checkpoint has more",
                    layers.len()
                ),
            });
        }
        let mut record = WiringRecord::from(wiring.clone());
        for (l, ids) in layers.iter().enumerate() {
            let sources: Vec<usize> = if l == 0 {
                (0..wiring.input_dim()).collect()
            } else {
                layers[l - 1].clone()
            };
            let (n_l, in_l) = (ids.len(), sources.len());
            let hint =
                format!("the config's wiring: layer {l} has {n_l} neurons reading {in_l} inputs");
            let key = format!("rnn_cell.layer_{l}.sparsity_mask");
            let mask = self.expect_shape(&key, &[n_l, in_l + n_l], &hint)?;
            let mask = wired_mask(&key, mask)?;
            for (row, &dst) in ids.iter().enumerate() {
                for (col, &src) in sources.iter().enumerate() {
                    let on = mask.at(row, col) != 0.0;
                    let entry = if l == 0 {
                        &mut record.sensory_adjacency_matrix[src][dst]
                    } else {
                        &mut record.adjacency_matrix[src][dst]
                    };
                    *entry = match (on, *entry) {
                        (false, _) => 0,
                        (true, 0) => 1,
                        (true, polarity) => polarity,
                    };
                }
            }
        }
        let mut imported = config.clone();
        imported.cell.wiring = rebuilt(record)?;
        imported.cell.variant = WiredVariant::Ncps;
        imported.proj_size = self.shape("fc.weight").map(|s| s[0]);
        imported.mixed_memory = self.has("lstm.input_map.weight");
        let model = imported
            .init::<B>(device)
            .map_err(|e| ImportError::Config(e.to_string()))?;
        let masks: Vec<String> = (0..layers.len())
            .map(|l| format!("rnn_cell.layer_{l}.sparsity_mask"))
            .collect();
        let masks: Vec<&str> = masks.iter().map(String::as_str).collect();
        let model = self.load_params(model, false, &masks, device)?;
        Ok((imported, model))
    }

    /// Replaces every parameter of `model` by the checkpoint tensor of its ncps name; every
    /// checkpoint key must be used (as a parameter or one of `masks`).
    fn load_params<B: Backend, M: Module<B>>(
        &self,
        model: M,
        backbone_dropout: bool,
        masks: &[&str],
        device: &B::Device,
    ) -> Result<M, ImportError> {
        let (model, mut used) = load_by_ncps_name(model, backbone_dropout, device, |key| {
            let array = self.tensors.get(key)?;
            Some(TensorData::new(array.data.clone(), array.shape.clone()))
        })?;
        used.extend(masks.iter().map(|m| m.to_string()));
        let unused: Vec<String> = self
            .tensors
            .keys()
            .filter(|k| !used.contains(*k))
            .cloned()
            .collect();
        if !unused.is_empty() {
            return Err(ImportError::Unused {
                hint: unused_hint(&unused),
                keys: unused,
            });
        }
        Ok(model)
    }
}

/// A wired layer's mask `(n_l, in_l + n_l)` in row-major order.
///
/// ncps stores it as a transposed NumPy view (`torch.from_numpy(np.abs(mask.T))`), i.e. in
/// column-major storage, and burn-store 0.21.0's PyTorch reader ignores strides (it reads every
/// tensor as if contiguous: tracel-ai/burn#5383, fixed after 0.21.0 by #5392). The layout is
/// recovered from what ncps always puts there: its last `n_l` columns (the layer's own state)
/// are all ones. When both readings have that block and differ, it is an error rather than a
/// guess.
fn wired_mask(key: &str, mask: &Array) -> Result<Array, ImportError> {
    let (n, m) = (mask.shape[0], mask.shape[1]);
    let column_major = Array {
        shape: mask.shape.clone(),
        data: (0..n * m).map(|i| mask.data[(i % m) * n + i / m]).collect(),
    };
    let own_block_is_ones = |a: &Array| (0..n).all(|r| (m - n..m).all(|c| a.at(r, c) == 1.0));
    match (own_block_is_ones(mask), own_block_is_ones(&column_major)) {
        (true, false) => Ok(mask.clone()),
        (false, true) => Ok(column_major),
        (true, true) if mask.data == column_major.data => Ok(column_major),
        (true, true) => Err(ImportError::Config(format!(
            "{key}: its storage order cannot be told apart (both readings are valid ncps \
             masks); save the checkpoint with contiguous buffers \
             (buf.data = buf.data.contiguous() before torch.save)"
        ))),
        (false, false) => Err(ImportError::Config(format!(
            "{key}: not an ncps WiredCfCCell mask (its last {n} columns, the layer's own \
             state, must be all ones)"
        ))),
    }
}

fn unused_hint(keys: &[String]) -> String {
    let any = |part: &str| keys.iter().any(|k| k.contains(part));
    if any("w_tau") || any(".A") {
        "the checkpoint is a CfC in mode \"pure\": set the config's mode to CfcMode::Pure".into()
    } else if any("ff2") || any("time_a") {
        "the checkpoint is a CfC in mode \"default\" or \"no_gate\", not \"pure\"".into()
    } else if any("backbone") {
        "the checkpoint has more backbone layers than the config's backbone_layers".into()
    } else {
        "check the config against the ncps constructor that made the checkpoint".into()
    }
}

fn rebuilt(record: WiringRecord) -> Result<Wiring, ImportError> {
    let record = WiringRecord {
        spec: None,
        synapse_count: None,
        sensory_synapse_count: None,
        ..record
    };
    Wiring::try_from(record)
        .map_err(|e| ImportError::Config(format!("the wiring from the checkpoint's masks: {e}")))
}

/// Fills every float parameter of `model` from a state dict, by its ncps name
/// ([`ncps_name`]): `lookup(name)` gives the tensor in PyTorch's layout (Linear weights
/// `(out, in)`, transposed here to Burn's `[in, out]`). Returns the model and the names used.
///
/// This is what every `load_*` of [`NcpsCheckpoint`] runs after building the model from the
/// config; it also fills a model from any other source of ncps parameters (ltc-parity's JSON
/// fixtures). A missing name or a shape that does not fit is an error naming it.
pub fn load_by_ncps_name<B: Backend, M: Module<B>>(
    model: M,
    backbone_dropout: bool,
    device: &B::Device,
    lookup: impl FnMut(&str) -> Option<TensorData>,
) -> Result<(M, BTreeSet<String>), ImportError> {
    let mut mapper = Loader::<B, _> {
        lookup,
        device: device.clone(),
        path: Vec::new(),
        backbone_dropout,
        used: BTreeSet::new(),
        error: None,
    };
    let model = model.map(&mut mapper);
    match mapper.error {
        Some(error) => Err(error),
        None => Ok((model, mapper.used)),
    }
}

/// The mapper behind [`load_by_ncps_name`].
struct Loader<B: Backend, F> {
    lookup: F,
    device: B::Device,
    path: Vec<String>,
    backbone_dropout: bool,
    used: BTreeSet<String>,
    error: Option<ImportError>,
}

impl<B: Backend, F: FnMut(&str) -> Option<TensorData>> ModuleMapper<B> for Loader<B, F> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        if self.error.is_some() {
            return param;
        }
        let (key, transposed) = ncps_name(&self.path.join("."), self.backbone_dropout);
        let mut expected = param.dims().to_vec();
        if transposed {
            expected.reverse();
        }
        let hint = "the config's sizes and options";
        let Some(data) = (self.lookup)(&key) else {
            self.error = Some(ImportError::Missing {
                key,
                hint: hint.into(),
            });
            return param;
        };
        if data.shape.to_vec() != expected {
            self.error = Some(ImportError::Shape {
                key,
                checkpoint: data.shape.to_vec(),
                config: expected,
                hint: hint.into(),
            });
            return param;
        }
        self.used.insert(key);
        let tensor = Tensor::<B, D>::from_data(data, &self.device);
        let tensor = if transposed {
            tensor.transpose()
        } else {
            tensor
        };
        let (id, _, _) = param.consume();
        Param::initialized(id, tensor.require_grad())
    }
}

/// The ncps (PyTorch `named_parameters`) name of the parameter at Burn module path `path`
/// (e.g. `cell.layers.1.ff1.weight` → `rnn_cell.layer_1.ff1.weight`), and whether it is a
/// Linear weight, stored `[in, out]` in Burn and `(out, in)` in PyTorch.
///
/// `backbone_dropout` matters because ncps numbers its backbone `Sequential` with a `Dropout`
/// entry after every layer but the first when dropout is on.
///
/// ```
/// use ltc_burn::import::ncps_name;
/// assert_eq!(ncps_name("cell.gleak", false), ("rnn_cell.gleak".into(), false));
/// assert_eq!(
///     ncps_name("cell.layers.1.ff1.weight", false),
///     ("rnn_cell.layer_1.ff1.weight".into(), true)
/// );
/// // ncps numbers its backbone Sequential with activations and, with dropout, Dropouts.
/// assert_eq!(ncps_name("cell.backbone.2.weight", true).0, "rnn_cell.backbone.5.weight");
/// ```
pub fn ncps_name(path: &str, backbone_dropout: bool) -> (String, bool) {
    let parts: Vec<&str> = path.split('.').collect();
    let mut out: Vec<String> = Vec::with_capacity(parts.len());
    let mut i = 0;
    while i < parts.len() {
        let part = parts[i];
        let next = parts.get(i + 1).and_then(|p| p.parse::<usize>().ok());
        match (part, next) {
            ("cell", _) if i == 0 => out.push("rnn_cell".into()),
            ("layers", Some(l)) => {
                out.push(format!("layer_{l}"));
                i += 1;
            }
            ("backbone", Some(k)) => {
                let per_layer = if backbone_dropout { 3 } else { 2 };
                let index = if k == 0 { 0 } else { 2 + (k - 1) * per_layer };
                out.push(format!("backbone.{index}"));
                i += 1;
            }
            ("a", _) if i + 1 == parts.len() => out.push("A".into()),
            _ => out.push(part.into()),
        }
        i += 1;
    }
    let name = out.join(".");
    let linear_weight = name.ends_with(".weight");
    (name, linear_weight)
}
