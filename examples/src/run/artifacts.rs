//! The artifacts folder: config, model, the Learner's checkpoints and logs; preparing it for a
//! fresh or a resumed run, and loading a saved run.

use std::path::{Path, PathBuf};

use burn::config::Config;
use burn::module::Module;
use burn::tensor::backend::Backend;

use super::RunOptions;
use super::error::{RunError, run_error};
use crate::backend;

/// Writes `config.json` into the artifacts folder (through a temporary file and a rename).
pub fn save_config(config: &impl Config, artifacts: &Path) -> Result<(), RunError> {
    ltc_burn::persist::save_config(config, &artifacts.join(ltc_burn::persist::CONFIG_FILE))
        .map_err(|e| run_error("cannot write config.json", e))
}

/// Writes the trained model as `model.mpk` (full precision) into the artifacts folder (through
/// a temporary file and a rename).
pub fn save_model<B: Backend, M: Module<B>>(model: M, artifacts: &Path) -> Result<(), RunError> {
    ltc_burn::persist::save_weights(model, &artifacts.join(ltc_burn::persist::MODEL_FILE))
        .map_err(|e| run_error("cannot write the model", e))
}

/// Creates the artifacts folder and removes an earlier run's Learner logs and checkpoints from
/// it (the Learner's summary reads every epoch log it finds); nothing else there is touched.
pub fn fresh_artifacts(artifacts: &Path) -> Result<(), RunError> {
    std::fs::create_dir_all(artifacts).map_err(|e| {
        let folder = artifacts.display();
        run_error(
            format_args!("cannot create the artifacts folder {folder}"),
            e,
        )
    })?;
    for stale in ["train", "valid", "checkpoint"] {
        let path = artifacts.join(stale);
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(|e| {
                run_error(
                    format_args!("cannot clear the earlier run's {}", path.display()),
                    e,
                )
            })?;
        }
    }
    Ok(())
}

/// The last epoch whose model, optimiser and scheduler checkpoints are all in
/// `artifacts/checkpoint`.
pub fn last_checkpoint(artifacts: &Path) -> Option<usize> {
    last_complete_epoch(&artifacts.join("checkpoint"), |epoch| {
        vec![
            format!("optim-{epoch}.mpk"),
            format!("scheduler-{epoch}.mpk"),
        ]
    })
}

/// The largest `epoch` with a `model-{epoch}.mpk` in `dir` beside every file `others(epoch)`
/// names: the last checkpoint that was written completely.
pub fn last_complete_epoch(dir: &Path, others: impl Fn(usize) -> Vec<String>) -> Option<usize> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|name| {
            name.strip_prefix("model-")?
                .strip_suffix(".mpk")?
                .parse::<usize>()
                .ok()
        })
        .filter(|&epoch| others(epoch).iter().all(|name| dir.join(name).is_file()))
        .max()
}

/// A run to continue: the artifacts folder and its last complete checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    /// The artifacts folder of the interrupted run.
    pub artifacts: PathBuf,
    /// The epoch whose checkpoint the run continues from.
    pub epoch: usize,
}

/// Prepares the artifacts folder: a fresh run clears the earlier run's logs and checkpoints and
/// writes `config.json`; a resumed run checks that `config.json` describes the same run (only
/// `epochs` may differ), keeps the logs and returns where to resume from.
pub fn prepare_artifacts<C: Config>(
    config: &C,
    artifacts: &Path,
    options: &RunOptions,
) -> Result<Option<Resume>, RunError> {
    if options.devices == 0 {
        return Err(RunError("--devices 0: train on at least one device".into()));
    }
    if !options.resume {
        fresh_artifacts(artifacts)?;
        save_config(config, artifacts)?;
        return Ok(None);
    }
    check_same_run(config, artifacts)?;
    let epoch = last_checkpoint(artifacts).ok_or_else(|| {
        RunError(format!(
            "--resume: no complete checkpoint in {}; start without --resume",
            artifacts.join("checkpoint").display()
        ))
    })?;
    save_config(config, artifacts)?;
    Ok(Some(Resume {
        artifacts: artifacts.to_path_buf(),
        epoch,
    }))
}

/// Checks, for `--resume`, that `artifacts/config.json` describes the run `config` describes
/// (only `epochs` may differ).
pub fn check_same_run<C: Config>(config: &C, artifacts: &Path) -> Result<(), RunError> {
    let path = artifacts.join(ltc_burn::persist::CONFIG_FILE);
    let saved = std::fs::read_to_string(&path)
        .map_err(|e| run_error(format_args!("--resume: cannot read {}", path.display()), e))?;
    let comparable = |json: &str| -> Result<serde_json::Value, RunError> {
        let mut value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| run_error(path.display(), e))?;
        if let Some(object) = value.as_object_mut() {
            object.remove("epochs");
        }
        Ok(value)
    };
    let ours = serde_json::to_string(config).map_err(|e| run_error("config", e))?;
    if comparable(&saved)? != comparable(&ours)? {
        return Err(RunError(format!(
            "--resume: {} describes another run; resume with the options of the interrupted \
             run (only --epochs may change), or start afresh without --resume",
            path.display()
        )));
    }
    Ok(())
}

/// Loads the run saved in `artifacts` on the inference backend (no autodiff): its
/// `config.json`, and the model that `build` makes from that config with the weights of
/// `model.mpk` loaded into it.
pub fn load_run<C: Config, M: burn::module::Module<backend::Backend>>(
    artifacts: &Path,
    build: impl FnOnce(&C, &burn::tensor::Device<backend::Backend>) -> Result<M, RunError>,
) -> Result<(C, M), RunError> {
    use ltc_burn::persist::{CONFIG_FILE, MODEL_FILE};
    load_files(
        &artifacts.join(CONFIG_FILE),
        &artifacts.join(MODEL_FILE),
        build,
    )
}

/// [`load_run`] from a config file and a weights file anywhere.
pub fn load_files<C: Config, M: burn::module::Module<backend::Backend>>(
    config: &Path,
    weights: &Path,
    build: impl FnOnce(&C, &burn::tensor::Device<backend::Backend>) -> Result<M, RunError>,
) -> Result<(C, M), RunError> {
    let device = backend::device();
    let config: C = ltc_burn::persist::load_config(config).map_err(|e| run_error("--infer", e))?;
    let model = build(&config, &device)?;
    let model = ltc_burn::persist::load_weights(model, weights, &device)
        .map_err(|e| run_error("--infer", e))?;
    Ok((config, model))
}
