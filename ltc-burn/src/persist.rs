//! Saving and loading trained models with everything needed to use them: the weights and the
//! config, which holds the wiring graph (so a loaded NCP model has the same masks and layers).
//!
//! A saved model is a folder with `config.json` (the module's config, readable and editable)
//! and `model.mpk` (Burn's named MessagePack record at full precision). The masks are not
//! weights: they are rebuilt from the wiring in the config. Loading is exact — identical
//! outputs — and a model saved on one backend loads on any other (files are written via a
//! temporary file and a rename, so an interrupted save leaves the previous one intact).
//!
//! ```
//! use burn::backend::NdArray;
//! use burn::tensor::Tensor;
//! use ltc_burn::ltc::{LtcCellConfig, LtcConfig};
//! use ltc_burn::persist;
//! use ltc_wirings::AutoNcp;
//!
//! type B = NdArray;
//! let device = Default::default();
//! let config = LtcConfig::new(LtcCellConfig::new(AutoNcp::new(12, 2).build(3)?));
//! let ltc = config.init::<B>(&device)?;
//! let dir = std::env::temp_dir().join("ltc-burn-persist-doc");
//! persist::save(&dir, &config, &ltc)?;
//!
//! let (loaded_config, loaded) = persist::load::<B, LtcConfig>(&dir, &device)?;
//! assert_eq!(loaded_config.cell.wiring, config.cell.wiring);
//! let x = Tensor::<B, 3>::ones([1, 5, 3], &device);
//! let (a, _) = ltc.forward(x.clone(), None, None);
//! let (b, _) = loaded.forward(x, None, None);
//! assert_eq!(a.into_data(), b.into_data());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use burn::config::Config;
use burn::module::Module;
use burn::record::{
    FileRecorder, FullPrecisionSettings, NamedMpkFileRecorder, Record, Recorder as _, RecorderError,
};
use burn::tensor::backend::Backend;

use crate::ConfigError;
use crate::cfc::{Cfc, CfcCell, CfcCellConfig, CfcConfig, WiredCfc, WiredCfcConfig};
use crate::liquid::{
    LiquidCell, LiquidCellConfig, LiquidClassifier, LiquidClassifierConfig, LiquidLayer,
    LiquidLayerConfig, LiquidStack, LiquidStackConfig,
};
use crate::ltc::{Ltc, LtcCell, LtcCellConfig, LtcConfig};

/// The config file of a saved model.
pub const CONFIG_FILE: &str = "config.json";
/// The weights file of a saved model.
pub const MODEL_FILE: &str = "model.mpk";

/// The recorder used for saved models and training checkpoints: named MessagePack, full
/// precision (f32 values stay bit-exact).
pub type Recorder = NamedMpkFileRecorder<FullPrecisionSettings>;

/// A config that builds a module: what [`save`] and [`load`] need.
pub trait ModuleConfig: Config {
    /// The module it builds, on any backend.
    type Module<B: Backend>: Module<B>;

    /// Builds the module (fresh weights).
    fn init_module<B: Backend>(&self, device: &B::Device) -> Result<Self::Module<B>, ConfigError>;
}

macro_rules! module_config {
    ($($config:ty => $module:ident),* $(,)?) => {$(
        impl ModuleConfig for $config {
            type Module<B: Backend> = $module<B>;

            fn init_module<B: Backend>(
                &self,
                device: &B::Device,
            ) -> Result<Self::Module<B>, ConfigError> {
                self.init(device)
            }
        }
    )*};
}

module_config!(
    LtcConfig => Ltc,
    LtcCellConfig => LtcCell,
    CfcConfig => Cfc,
    CfcCellConfig => CfcCell,
    WiredCfcConfig => WiredCfc,
    LiquidCellConfig => LiquidCell,
    LiquidLayerConfig => LiquidLayer,
    LiquidStackConfig => LiquidStack,
    LiquidClassifierConfig => LiquidClassifier,
);

/// A file that could not be written or read, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct PersistError {
    /// The file (or folder).
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for PersistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for PersistError {}

fn error(path: &Path, message: impl fmt::Display) -> PersistError {
    PersistError {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// Writes `config` as `dir/config.json` and `model`'s weights as `dir/model.mpk`, creating
/// `dir` if needed.
pub fn save<B: Backend, C: ModuleConfig>(
    dir: impl AsRef<Path>,
    config: &C,
    model: &C::Module<B>,
) -> Result<(), PersistError> {
    let dir = dir.as_ref();
    save_config(config, &dir.join(CONFIG_FILE))?;
    save_weights(model.clone(), &dir.join(MODEL_FILE))
}

/// Reads a model written by [`save`]: the config, then a module built from it with the saved
/// weights. Ready for inference; wrap the backend in `Autodiff` to train on.
pub fn load<B: Backend, C: ModuleConfig>(
    dir: impl AsRef<Path>,
    device: &B::Device,
) -> Result<(C, C::Module<B>), PersistError> {
    let dir = dir.as_ref();
    let config: C = load_config(&dir.join(CONFIG_FILE))?;
    let model = config
        .init_module::<B>(device)
        .map_err(|e| error(&dir.join(CONFIG_FILE), e))?;
    let model = load_weights(model, &dir.join(MODEL_FILE), device)?;
    Ok((config, model))
}

/// Writes any config as JSON at `path` (through a temporary file and a rename).
pub fn save_config(config: &impl Config, path: &Path) -> Result<(), PersistError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| error(parent, e))?;
    }
    let temporary = path.with_extension("json.tmp");
    config.save(&temporary).map_err(|e| error(&temporary, e))?;
    std::fs::rename(&temporary, path).map_err(|e| error(path, e))
}

/// Reads a config written by [`save_config`] (or by hand), strictly: see [`parse_config`].
/// The error names the file and what is wrong in it.
pub fn load_config<C: Config>(path: &Path) -> Result<C, PersistError> {
    let text = std::fs::read(path).map_err(|e| error(path, e))?;
    let text = String::from_utf8(text).map_err(|e| error(path, format!("not UTF-8 text: {e}")))?;
    parse_config(&text).map_err(|e| error(path, format!("not a valid config: {e}")))
}

/// Why a config's JSON was refused by [`parse_config`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConfigFileError {
    /// Not JSON, or a value of the wrong type or an unknown variant: serde's message, with the
    /// line and column.
    Invalid(String),
    /// A field the config does not have (a typo, or a field of another version).
    UnknownField {
        /// Where, as a dotted path from the top (`""` for the top level).
        at: String,
        /// The field given.
        field: String,
        /// The fields that are valid there.
        valid: Vec<String>,
    },
    /// A field the config has but the JSON does not give (also an optional one: write `null`
    /// for none, so that a forgotten field is never read as a default).
    MissingField {
        /// Where, as a dotted path from the top.
        at: String,
        /// The field missing.
        field: String,
    },
}

impl fmt::Display for ConfigFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = |at: &str| {
            if at.is_empty() {
                "at the top level".to_string()
            } else {
                format!("in `{at}`")
            }
        };
        match self {
            Self::Invalid(message) => write!(f, "{message}"),
            Self::UnknownField { at, field, valid } => write!(
                f,
                "unknown field `{field}` {}; valid fields there: {}",
                place(at),
                valid.join(", ")
            ),
            Self::MissingField { at, field } => write!(
                f,
                "missing field `{field}` {} (give it explicitly; `null` where it is optional)",
                place(at)
            ),
        }
    }
}

impl std::error::Error for ConfigFileError {}

/// Parses a config from JSON, strictly: a value of the wrong type, an unknown variant, an
/// unknown field or a missing field (optional ones included) is an error naming it, never
/// ignored or filled with a default. (Burn's own `Config::load` ignores unknown fields and reads
/// a missing optional field as `None`.) It does not validate values; `init` does that.
///
/// ```
/// use ltc_burn::cfc::CfcConfig;
/// use ltc_burn::persist::{parse_config, ConfigFileError};
///
/// let json = burn::config::config_to_json(&CfcConfig::from_sizes(2, 8));
/// let config: CfcConfig = parse_config(&json)?;
/// assert_eq!(config.cell.d_hidden, 8);
///
/// let typo = json.replacen('{', "{\"mixed_memroy\": true,", 1); // a misspelt extra field
/// let err = parse_config::<CfcConfig>(&typo).unwrap_err();
/// assert!(matches!(err, ConfigFileError::UnknownField { .. }), "{err}");
/// # Ok::<(), ConfigFileError>(())
/// ```
pub fn parse_config<C: Config>(json: &str) -> Result<C, ConfigFileError> {
    let invalid = |e: serde_json::Error| ConfigFileError::Invalid(e.to_string());
    let given: serde_json::Value = serde_json::from_str(json).map_err(invalid)?;
    let config: C = serde_json::from_value(given.clone()).map_err(invalid)?;
    let canonical = serde_json::to_value(&config).map_err(invalid)?;
    same_fields(&given, &canonical, "")?;
    Ok(config)
}

/// Checks that `given` names exactly the fields `canonical` (the parsed config written back)
/// does, recursively. A `null` given for a field the canonical form leaves out is accepted.
fn same_fields(
    given: &serde_json::Value,
    canonical: &serde_json::Value,
    at: &str,
) -> Result<(), ConfigFileError> {
    use serde_json::Value;
    let join = |field: &str| {
        if at.is_empty() {
            field.to_string()
        } else {
            format!("{at}.{field}")
        }
    };
    match (given, canonical) {
        (Value::Object(given), Value::Object(canonical)) => {
            for (field, value) in given {
                match canonical.get(field) {
                    Some(inner) => same_fields(value, inner, &join(field))?,
                    None if value.is_null() => {}
                    None => {
                        return Err(ConfigFileError::UnknownField {
                            at: at.to_string(),
                            field: field.clone(),
                            valid: canonical.keys().cloned().collect(),
                        });
                    }
                }
            }
            if let Some(field) = canonical.keys().find(|f| !given.contains_key(*f)) {
                return Err(ConfigFileError::MissingField {
                    at: at.to_string(),
                    field: field.clone(),
                });
            }
            Ok(())
        }
        (Value::Array(given), Value::Array(canonical)) => given
            .iter()
            .zip(canonical)
            .enumerate()
            .try_for_each(|(i, (g, c))| same_fields(g, c, &join(&i.to_string()))),
        _ => Ok(()),
    }
}

/// Writes `model`'s weights at `path` (an `.mpk` file), through a temporary file and a rename.
pub fn save_weights<B: Backend, M: Module<B>>(model: M, path: &Path) -> Result<(), PersistError> {
    save_record::<B, _>(model.into_record(), path)
}

/// Writes any Burn record (a module's, an optimiser's state) at `path` (an `.mpk` file) with
/// [`AtomicRecorder`]: an interrupted write leaves the previous file intact and no partial file
/// under `path`'s name.
pub fn save_record<B: Backend, R: Record<B>>(record: R, path: &Path) -> Result<(), PersistError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| error(parent, e))?;
    }
    AtomicRecorder::new()
        .record(record, path.to_path_buf())
        .map_err(|e| error(path, e))
}

/// [`Recorder`] (named MessagePack, full precision) writing through a temporary file in the same
/// folder, flushed to disk and then renamed over the target: a process killed mid-write
/// (`SIGKILL`, power loss after the flush) leaves either the old file or the new one, never a
/// truncated one. Reads like [`Recorder`], whose files it reads and writes.
///
/// Give it to burn-train for atomic training checkpoints:
/// `SupervisedTraining::with_file_checkpointer(AtomicRecorder::new())`.
///
/// ```
/// use burn::backend::NdArray;
/// use burn::module::Module;
/// use burn::record::Recorder as _;
/// use ltc_burn::cfc::CfcConfig;
/// use ltc_burn::persist::AtomicRecorder;
///
/// let device = Default::default();
/// let cfc = CfcConfig::from_sizes(2, 4).init::<NdArray>(&device)?;
/// let path = std::env::temp_dir().join("ltc-burn-atomic-doc/cfc.mpk");
/// AtomicRecorder::new().record(cfc.clone().into_record(), path.clone())?;
/// let loaded = cfc.load_file(path, &AtomicRecorder::new(), &device)?;
/// # let _ = loaded;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct AtomicRecorder {
    inner: Recorder,
}

impl AtomicRecorder {
    /// A recorder.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<B: Backend> burn::record::Recorder<B> for AtomicRecorder {
    type Settings = FullPrecisionSettings;
    type RecordArgs = PathBuf;
    type RecordOutput = ();
    type LoadArgs = PathBuf;

    fn save_item<I: burn::serde::Serialize>(
        &self,
        item: I,
        mut file: PathBuf,
    ) -> Result<(), RecorderError> {
        let io = |what: &str, path: &Path, e: std::io::Error| {
            RecorderError::Unknown(format!("{what} {}: {e}", path.display()))
        };
        file.set_extension(<Self as FileRecorder<B>>::file_extension());
        let stem = file.file_stem().unwrap_or_default().to_string_lossy();
        // The inner recorder sets the extension `.mpk` on the name it is given.
        let temporary = file.with_file_name(format!(".{stem}-partial.mpk"));
        <Recorder as burn::record::Recorder<B>>::save_item(&self.inner, item, temporary.clone())?;
        std::fs::File::open(&temporary)
            .and_then(|f| f.sync_all())
            .map_err(|e| io("cannot flush", &temporary, e))?;
        std::fs::rename(&temporary, &file).map_err(|e| io("cannot rename onto", &file, e))
    }

    fn load_item<I: burn::serde::de::DeserializeOwned>(
        &self,
        file: &mut PathBuf,
    ) -> Result<I, RecorderError> {
        <Recorder as burn::record::Recorder<B>>::load_item(&self.inner, file)
    }
}

impl<B: Backend> FileRecorder<B> for AtomicRecorder {
    fn file_extension() -> &'static str {
        <Recorder as FileRecorder<B>>::file_extension()
    }
}

/// Reads a record written by [`save_record`] (for a module, prefer [`load_weights`]).
pub fn load_record<B: Backend, R: Record<B>>(
    path: &Path,
    device: &B::Device,
) -> Result<R, PersistError> {
    if !path.is_file() {
        return Err(error(path, "no such file"));
    }
    Recorder::new()
        .load(path.to_path_buf(), device)
        .map_err(|e| error(path, format!("cannot load the record: {e}")))
}

/// Loads weights written by [`save_weights`] into `model` (built from the same config).
pub fn load_weights<B: Backend, M: Module<B>>(
    model: M,
    path: &Path,
    device: &B::Device,
) -> Result<M, PersistError> {
    if !path.is_file() {
        return Err(error(path, "no such file"));
    }
    let expected = param_shapes(&model);
    let model = model
        .load_file(path, &Recorder::new(), device)
        .map_err(|e| error(path, format!("cannot load the weights: {e}")))?;
    // Burn loads a record of another shape without complaint; a model of the wrong shape must
    // not come back.
    for ((name, want), (_, got)) in expected.iter().zip(param_shapes(&model)) {
        if *want != got {
            return Err(error(
                path,
                format!(
                    "`{name}` has shape {got:?} in the file but {want:?} in the model the config \
                     builds: these weights belong to another config"
                ),
            ));
        }
    }
    Ok(model)
}

/// Every parameter's dotted path and shape, in visiting order.
fn param_shapes<B: Backend, M: Module<B>>(model: &M) -> Vec<(String, Vec<usize>)> {
    use burn::module::{ModuleVisitor, Param};
    use burn::tensor::{Bool, Int, Tensor};
    #[derive(Default)]
    struct Shapes {
        path: Vec<String>,
        out: Vec<(String, Vec<usize>)>,
    }
    impl Shapes {
        fn push(&mut self, shape: Vec<usize>) {
            self.out.push((self.path.join("."), shape));
        }
    }
    impl<B: Backend> ModuleVisitor<B> for Shapes {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            self.push(param.dims().to_vec());
        }
        fn visit_int<const D: usize>(&mut self, param: &Param<Tensor<B, D, Int>>) {
            self.push(param.dims().to_vec());
        }
        fn visit_bool<const D: usize>(&mut self, param: &Param<Tensor<B, D, Bool>>) {
            self.push(param.dims().to_vec());
        }
    }
    let mut shapes = Shapes::default();
    model.visit(&mut shapes);
    shapes.out
}
