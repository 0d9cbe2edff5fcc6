//! The fixtures: dense arrays and one model's fixture file, read and checked against the
//! schema.

use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use serde_json::Value;

use crate::ParityError;

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
    pub(crate) fn transposed(&self) -> Self {
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
    pub(crate) fn tensor_data(&self) -> TensorData {
        let exact: Vec<f64> = self.data.iter().map(|&v| f64::from(v as f32)).collect();
        TensorData::new(exact, self.shape.clone())
    }

    pub(crate) fn tensor<B: Backend, const D: usize>(&self, device: &B::Device) -> Tensor<B, D> {
        Tensor::from_data(self.tensor_data().convert::<B::FloatElem>(), device)
    }

    pub(crate) fn of<B: Backend, const D: usize>(t: Tensor<B, D>) -> Self {
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

    pub(crate) fn array(&self, pointer: &str) -> Result<Array, String> {
        let value = self
            .json
            .pointer(pointer)
            .ok_or_else(|| format!("missing {pointer}"))?;
        Array::from_json(value).map_err(|e| format!("{pointer}: {e}"))
    }

    pub(crate) fn config(&self, key: &str) -> &Value {
        &self.json["config"][key]
    }
}

/// Reads and parses a JSON file; errors name the file.
pub(crate) fn read_json(path: &Path) -> Result<Value, ParityError> {
    let err = |message: String| ParityError {
        file: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
    serde_json::from_str(&text).map_err(|e| err(format!("not JSON: {e}")))
}

/// The `*.json` files in `dir`, sorted by name.
pub(crate) fn json_files(dir: &Path) -> Result<Vec<PathBuf>, ParityError> {
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
