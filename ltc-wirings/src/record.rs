//! JSON form of a wiring, compatible with the ncps-derived `WiringRecord`s of the fixtures.

use serde::{Deserialize, Serialize};

use crate::builders::{Builder, WiringSpec};
use crate::error::WiringError;
use crate::wiring::{NeuronType, Wiring};

/// The serialised form of a [`Wiring`]: nested row-major matrices, neuron types, layers and,
/// when known, the builder that made it.
///
/// Keys other than these (e.g. `name` or `invariants` in ncps-derived files) are ignored;
/// `synapse_count`, `sensory_synapse_count` and `num_layers`, when present, must match the
/// matrices. Loading checks that the record is a valid graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WiringRecord {
    /// `"FullyConnected"`, `"Random"`, `"NCP"`, `"AutoNCP"` or `"Custom"` (informational).
    #[serde(rename = "type")]
    pub kind: String,
    /// Neurons.
    pub units: usize,
    /// Inputs.
    pub input_dim: usize,
    /// Motor neurons, ids `0..output_dim`.
    pub output_dim: usize,
    /// Layers, input side first.
    pub layers: Vec<Vec<usize>>,
    /// `[units]`.
    pub neuron_types: Vec<NeuronType>,
    /// `[units][units]`, `[source][destination]`, entries −1, 0, 1.
    pub adjacency_matrix: Vec<Vec<i8>>,
    /// `[input_dim][units]`.
    pub sensory_adjacency_matrix: Vec<Vec<i8>>,
    /// Checked against the matrix when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_layers: Option<usize>,
    /// Checked against the matrix when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synapse_count: Option<usize>,
    /// Checked against the matrix when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensory_synapse_count: Option<usize>,
    /// The builder and input width, when the wiring came from a builder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<WiringSpec>,
}

impl From<Wiring> for WiringRecord {
    fn from(w: Wiring) -> Self {
        let rows = |m: &[i8], n: usize| {
            m.chunks(w.units.max(1))
                .take(n)
                .map(<[i8]>::to_vec)
                .collect()
        };
        let kind = match w.spec.as_ref().map(|s| &s.builder) {
            Some(Builder::FullyConnected(_)) => "FullyConnected",
            Some(Builder::Random(_)) => "Random",
            Some(Builder::Ncp(_)) => "NCP",
            Some(Builder::AutoNcp(_)) => "AutoNCP",
            None => "Custom",
        };
        Self {
            kind: kind.to_string(),
            units: w.units,
            input_dim: w.input_dim,
            output_dim: w.output_dim,
            num_layers: Some(w.layers.len()),
            synapse_count: Some(w.synapse_count()),
            sensory_synapse_count: Some(w.sensory_synapse_count()),
            adjacency_matrix: rows(&w.adjacency, w.units),
            sensory_adjacency_matrix: rows(&w.sensory_adjacency, w.input_dim),
            layers: w.layers,
            neuron_types: w.neuron_types,
            spec: w.spec,
        }
    }
}

fn invalid(message: String) -> WiringError {
    WiringError::Record { message }
}

fn flatten(name: &str, m: &[Vec<i8>], rows: usize, cols: usize) -> Result<Vec<i8>, WiringError> {
    if m.len() != rows || m.iter().any(|r| r.len() != cols) {
        let actual: Vec<usize> = m.iter().map(Vec::len).collect();
        return Err(invalid(format!(
            "{name} must be {rows} rows of {cols}, got {} rows of lengths {actual:?}",
            m.len()
        )));
    }
    let flat: Vec<i8> = m.iter().flatten().copied().collect();
    if let Some(bad) = flat.iter().find(|p| !(-1..=1).contains(*p)) {
        return Err(invalid(format!(
            "{name} holds {bad}: polarities are -1, 0 or 1"
        )));
    }
    Ok(flat)
}

impl TryFrom<WiringRecord> for Wiring {
    type Error = WiringError;

    fn try_from(r: WiringRecord) -> Result<Self, WiringError> {
        if r.units == 0 {
            return Err(invalid(
                "units = 0: a wiring has at least one neuron".into(),
            ));
        }
        if r.output_dim == 0 || r.output_dim > r.units {
            return Err(invalid(format!(
                "output_dim = {} must be between 1 and units = {}",
                r.output_dim, r.units
            )));
        }
        let adjacency = flatten("adjacency_matrix", &r.adjacency_matrix, r.units, r.units)?;
        let sensory = flatten(
            "sensory_adjacency_matrix",
            &r.sensory_adjacency_matrix,
            r.input_dim,
            r.units,
        )?;
        if r.neuron_types.len() != r.units {
            return Err(invalid(format!(
                "neuron_types has {} entries for {} units",
                r.neuron_types.len(),
                r.units
            )));
        }
        for (i, t) in r.neuron_types.iter().enumerate() {
            if (*t == NeuronType::Motor) != (i < r.output_dim) {
                return Err(invalid(format!(
                    "neuron {i} is {}, but motor neurons are exactly ids 0..{}",
                    t.name(),
                    r.output_dim
                )));
            }
        }
        let mut seen = vec![false; r.units];
        for id in r.layers.iter().flatten() {
            if *id >= r.units || std::mem::replace(&mut seen[*id], true) {
                return Err(invalid(format!(
                    "layers must hold every neuron id 0..{} exactly once; {id} is out of range or repeated",
                    r.units
                )));
            }
        }
        if let Some(missing) = seen.iter().position(|s| !s) {
            return Err(invalid(format!("neuron {missing} is in no layer")));
        }
        let wiring = Wiring {
            units: r.units,
            input_dim: r.input_dim,
            output_dim: r.output_dim,
            adjacency,
            sensory_adjacency: sensory,
            layers: r.layers,
            neuron_types: r.neuron_types,
            spec: r.spec,
        };
        if let Some(spec) = &wiring.spec {
            let units = match &spec.builder {
                Builder::FullyConnected(b) => b.units,
                Builder::Random(b) => b.units,
                Builder::Ncp(b) => b.units(),
                Builder::AutoNcp(b) => b.units,
            };
            if spec.input_dim != wiring.input_dim || units != wiring.units {
                return Err(invalid(format!(
                    "spec describes {units} units for {} inputs, but the matrices hold {} units \
                     for {} inputs: fix the spec or remove it",
                    spec.input_dim, wiring.units, wiring.input_dim
                )));
            }
        }
        for (name, stated, actual) in [
            ("num_layers", r.num_layers, wiring.num_layers()),
            ("synapse_count", r.synapse_count, wiring.synapse_count()),
            (
                "sensory_synapse_count",
                r.sensory_synapse_count,
                wiring.sensory_synapse_count(),
            ),
        ] {
            if let Some(stated) = stated
                && stated != actual
            {
                return Err(invalid(format!(
                    "{name} = {stated}, but the matrices give {actual}"
                )));
            }
        }
        Ok(wiring)
    }
}

impl Serialize for Wiring {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WiringRecord::from(self.clone()).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Wiring {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let record = WiringRecord::deserialize(deserializer)?;
        Wiring::try_from(record).map_err(serde::de::Error::custom)
    }
}
