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
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Record, Recorder as _};
use burn::tensor::backend::Backend;

use crate::ConfigError;
use crate::cfc::{Cfc, CfcCell, CfcCellConfig, CfcConfig, WiredCfc, WiredCfcConfig};
use crate::liquid::{
    LiquidClassifier, LiquidClassifierConfig, LiquidLayer, LiquidLayerConfig, LiquidStack,
    LiquidStackConfig,
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

/// Reads a config written by [`save_config`] (or by hand).
pub fn load_config<C: Config>(path: &Path) -> Result<C, PersistError> {
    C::load(path).map_err(|e| error(path, format!("not a valid config: {e}")))
}

/// Writes `model`'s weights at `path` (an `.mpk` file), through a temporary file and a rename.
pub fn save_weights<B: Backend, M: Module<B>>(model: M, path: &Path) -> Result<(), PersistError> {
    save_record::<B, _>(model.into_record(), path)
}

/// Writes any Burn record (a module's, an optimiser's state) at `path` (an `.mpk` file) with
/// [`Recorder`], through a temporary file in the same folder and a rename: an interrupted
/// write leaves the previous file intact and no partial file under `path`'s name.
pub fn save_record<B: Backend, R: Record<B>>(record: R, path: &Path) -> Result<(), PersistError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| error(parent, e))?;
    }
    // The recorder sets the extension `.mpk` on the name it is given.
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let temporary = path.with_file_name(format!(".{stem}-partial.mpk"));
    Recorder::new()
        .record(record, temporary.clone())
        .map_err(|e| error(path, e))?;
    std::fs::rename(&temporary, path).map_err(|e| error(path, e))
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
    model
        .load_file(path, &Recorder::new(), device)
        .map_err(|e| error(path, format!("cannot load the weights: {e}")))
}
