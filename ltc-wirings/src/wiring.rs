//! The built graph: adjacency matrices, neuron types, layers and masks.

use serde::{Deserialize, Serialize};

use crate::builders::{Builder, WiringSpec};
use crate::error::WiringError;

/// The role of a neuron in a wiring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NeuronType {
    /// Hidden neuron fed by the inputs (NCP's first layer; every hidden neuron of
    /// unlayered wirings).
    Inter,
    /// Hidden neuron between the inter and the motor layer (NCP only).
    Command,
    /// Output neuron: ids `0..output_dim`.
    Motor,
}

impl NeuronType {
    /// `"inter"`, `"command"` or `"motor"`, as ncps names them.
    pub fn name(self) -> &'static str {
        match self {
            Self::Inter => "inter",
            Self::Command => "command",
            Self::Motor => "motor",
        }
    }
}

/// A built wiring: the sparse, signed connectome of a liquid layer.
///
/// Matrices are row-major and indexed `[source, destination]`; entries are −1 (inhibitory),
/// 0 (no synapse) or +1 (excitatory). Motor neurons are ids `0..output_dim`.
///
/// Build one with a builder ([`FullyConnected`](crate::FullyConnected),
/// [`Random`](crate::Random), [`Ncp`](crate::Ncp), [`AutoNcp`](crate::AutoNcp)):
///
/// ```
/// use ltc_wirings::{AutoNcp, NeuronType};
///
/// let wiring = AutoNcp::new(16, 2).build(5)?;
/// assert_eq!((wiring.units(), wiring.input_dim(), wiring.output_dim()), (16, 5, 2));
/// assert_eq!(wiring.layer_sizes(), vec![9, 5, 2]); // inter, command, motor
/// assert_eq!(wiring.neuron_type(0), NeuronType::Motor);
/// assert!(wiring.synapse(7, 0).is_none()); // inter → motor is not an NCP edge
/// # Ok::<(), ltc_wirings::WiringError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Wiring {
    pub(crate) units: usize,
    pub(crate) input_dim: usize,
    pub(crate) output_dim: usize,
    /// `[units, units]`, row-major.
    pub(crate) adjacency: Vec<i8>,
    /// `[input_dim, units]`, row-major.
    pub(crate) sensory_adjacency: Vec<i8>,
    /// Neuron ids per layer, input side first.
    pub(crate) layers: Vec<Vec<usize>>,
    pub(crate) neuron_types: Vec<NeuronType>,
    /// The builder and input width that produced the graph, when known.
    pub(crate) spec: Option<WiringSpec>,
}

impl Wiring {
    /// An empty graph of `units` neurons, the first `output_dim` motor, the rest `hidden`.
    pub(crate) fn empty(units: usize, input_dim: usize, output_dim: usize) -> Self {
        let neuron_types = (0..units)
            .map(|i| {
                if i < output_dim {
                    NeuronType::Motor
                } else {
                    NeuronType::Inter
                }
            })
            .collect();
        Self {
            units,
            input_dim,
            output_dim,
            adjacency: vec![0; units * units],
            sensory_adjacency: vec![0; input_dim * units],
            layers: vec![(0..units).collect()],
            neuron_types,
            spec: None,
        }
    }

    /// Records the builder and input width that produced this graph.
    pub(crate) fn with_spec(mut self, builder: Builder, input_dim: usize) -> Self {
        self.spec = Some(WiringSpec { builder, input_dim });
        self
    }

    pub(crate) fn set_synapse(&mut self, src: usize, dst: usize, polarity: i8) {
        self.adjacency[src * self.units + dst] = polarity;
    }

    pub(crate) fn set_sensory_synapse(&mut self, src: usize, dst: usize, polarity: i8) {
        self.sensory_adjacency[src * self.units + dst] = polarity;
    }

    /// Writes the wiring as JSON (its record: matrices, layers, builder) at `path`, through a
    /// temporary file and a rename, so an interrupted write leaves any earlier file intact.
    pub fn save(&self, path: impl AsRef<std::path::Path>) -> Result<(), WiringError> {
        let path = path.as_ref();
        let file_error = |e: &dyn std::fmt::Display| WiringError::File {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let json = serde_json::to_string_pretty(self).map_err(|e| file_error(&e))?;
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(".partial");
        std::fs::write(&temporary, json).map_err(|e| file_error(&e))?;
        std::fs::rename(&temporary, path).map_err(|e| file_error(&e))
    }

    /// Reads a wiring written by [`save`](Self::save) (or any wiring record, e.g. an
    /// ncps-derived one). A missing, truncated or corrupted file, or a record that is not a
    /// valid graph, is a [`WiringError::File`] naming the file and what is wrong.
    ///
    /// ```
    /// use ltc_wirings::{AutoNcp, Wiring, WiringError};
    ///
    /// let wiring = AutoNcp::new(16, 2).build(3)?;
    /// let path = std::env::temp_dir().join("ltc-wirings-doc.json");
    /// wiring.save(&path)?;
    /// assert_eq!(Wiring::load(&path)?, wiring);
    ///
    /// let text = std::fs::read_to_string(&path).unwrap();
    /// std::fs::write(&path, &text[..text.len() / 2]).unwrap(); // truncated
    /// let err = Wiring::load(&path).unwrap_err();
    /// assert!(matches!(err, WiringError::File { .. }), "{err}");
    /// # Ok::<(), WiringError>(())
    /// ```
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Self, WiringError> {
        let path = path.as_ref();
        let file_error = |message: String| WiringError::File {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read(path).map_err(|e| file_error(format!("cannot read: {e}")))?;
        serde_json::from_slice(&text)
            .map_err(|e| file_error(format!("not a valid wiring record: {e}")))
    }

    /// Neurons (the state size of the layer).
    pub fn units(&self) -> usize {
        self.units
    }

    /// Input features (sensory neurons).
    pub fn input_dim(&self) -> usize {
        self.input_dim
    }

    /// Output (motor) neurons, ids `0..output_dim`.
    pub fn output_dim(&self) -> usize {
        self.output_dim
    }

    /// Neuron → neuron polarities, `[units, units]` row-major, `[source, destination]`.
    pub fn adjacency(&self) -> &[i8] {
        &self.adjacency
    }

    /// Input → neuron polarities, `[input_dim, units]` row-major.
    pub fn sensory_adjacency(&self) -> &[i8] {
        &self.sensory_adjacency
    }

    /// The polarity of the synapse `src → dst`, if there is one.
    pub fn synapse(&self, src: usize, dst: usize) -> Option<i8> {
        let p = self.adjacency[src * self.units + dst];
        (p != 0).then_some(p)
    }

    /// The polarity of the synapse from input `src` to neuron `dst`, if there is one.
    pub fn sensory_synapse(&self, src: usize, dst: usize) -> Option<i8> {
        let p = self.sensory_adjacency[src * self.units + dst];
        (p != 0).then_some(p)
    }

    /// Neuron → neuron synapses.
    pub fn synapse_count(&self) -> usize {
        self.adjacency.iter().filter(|&&p| p != 0).count()
    }

    /// Input → neuron synapses (ncps 1.0.1's layers report the recurrent count here; this is
    /// the sensory one).
    pub fn sensory_synapse_count(&self) -> usize {
        self.sensory_adjacency.iter().filter(|&&p| p != 0).count()
    }

    /// Layers: 3 for NCP wirings (inter, command, motor), 1 otherwise.
    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// Neuron ids of layer `i`, input side first.
    ///
    /// # Panics
    /// If `i >= num_layers()`.
    pub fn layer(&self, i: usize) -> &[usize] {
        &self.layers[i]
    }

    /// Neurons per layer, input side first.
    pub fn layer_sizes(&self) -> Vec<usize> {
        self.layers.iter().map(Vec::len).collect()
    }

    /// The type of neuron `i`.
    pub fn neuron_type(&self, i: usize) -> NeuronType {
        self.neuron_types[i]
    }

    /// The type of every neuron.
    pub fn neuron_types(&self) -> &[NeuronType] {
        &self.neuron_types
    }

    /// The builder and input width that produced this graph, when it came from a builder.
    pub fn spec(&self) -> Option<&WiringSpec> {
        self.spec.as_ref()
    }

    /// Synapses into each neuron from other neurons, `[units]`.
    pub fn fan_in(&self) -> Vec<usize> {
        (0..self.units)
            .map(|dst| {
                (0..self.units)
                    .filter(|&src| self.synapse(src, dst).is_some())
                    .count()
            })
            .collect()
    }

    /// Synapses out of each neuron to other neurons, `[units]`.
    pub fn fan_out(&self) -> Vec<usize> {
        (0..self.units)
            .map(|src| {
                (0..self.units)
                    .filter(|&dst| self.synapse(src, dst).is_some())
                    .count()
            })
            .collect()
    }

    /// Synapses out of each input, `[input_dim]`.
    pub fn sensory_fan_out(&self) -> Vec<usize> {
        (0..self.input_dim)
            .map(|src| {
                (0..self.units)
                    .filter(|&dst| self.sensory_synapse(src, dst).is_some())
                    .count()
            })
            .collect()
    }

    /// Synapses from inputs into each neuron, `[units]`.
    pub fn sensory_fan_in(&self) -> Vec<usize> {
        (0..self.units)
            .map(|dst| {
                (0..self.input_dim)
                    .filter(|&src| self.sensory_synapse(src, dst).is_some())
                    .count()
            })
            .collect()
    }

    /// The 0/1 mask of neuron → neuron synapses, `[units, units]` row-major (ncps's
    /// `sparsity_mask`).
    pub fn mask(&self) -> Vec<f32> {
        self.adjacency.iter().map(|&p| f32::from(p.abs())).collect()
    }

    /// The 0/1 mask of input → neuron synapses, `[input_dim, units]` row-major (ncps's
    /// `sensory_sparsity_mask`).
    pub fn sensory_mask(&self) -> Vec<f32> {
        self.sensory_adjacency
            .iter()
            .map(|&p| f32::from(p.abs()))
            .collect()
    }

    /// The polarities as floats, `[units, units]` row-major: the initial value of an LTC's
    /// reversal potentials `erev`.
    pub fn erev(&self) -> Vec<f32> {
        self.adjacency.iter().map(|&p| f32::from(p)).collect()
    }

    /// The sensory polarities as floats, `[input_dim, units]` row-major (initial
    /// `sensory_erev`).
    pub fn sensory_erev(&self) -> Vec<f32> {
        self.sensory_adjacency
            .iter()
            .map(|&p| f32::from(p))
            .collect()
    }

    /// A Graphviz description: sensory inputs `s0…`, neurons `n0…` coloured by type and grouped
    /// by layer, synapses green (excitatory) or red (inhibitory).
    ///
    /// ```
    /// let dot = ltc_wirings::FullyConnected::new(2).build(1)?.to_dot();
    /// assert!(dot.starts_with("digraph wiring {"));
    /// assert!(dot.contains("s0 -> n1"));
    /// # Ok::<(), ltc_wirings::WiringError>(())
    /// ```
    pub fn to_dot(&self) -> String {
        let colour = |t: NeuronType| match t {
            NeuronType::Inter => "#1f77b4",
            NeuronType::Command => "#9467bd",
            NeuronType::Motor => "#ff7f0e",
        };
        let edge = |p: i8| if p > 0 { "#2ca02c" } else { "#d62728" };
        let mut out = String::from("digraph wiring {\n  rankdir=LR;\n  node [style=filled];\n");
        out.push_str("  subgraph cluster_sensory {\n    label=\"sensory\";\n");
        for s in 0..self.input_dim {
            out.push_str(&format!("    s{s} [fillcolor=\"#bcbd22\"];\n"));
        }
        out.push_str("  }\n");
        for (l, layer) in self.layers.iter().enumerate() {
            let name = layer
                .first()
                .map_or("empty", |&n| self.neuron_types[n].name());
            out.push_str(&format!(
                "  subgraph cluster_layer{l} {{\n    label=\"{name}\";\n"
            ));
            for &n in layer {
                out.push_str(&format!(
                    "    n{n} [fillcolor=\"{}\"];\n",
                    colour(self.neuron_types[n])
                ));
            }
            out.push_str("  }\n");
        }
        for src in 0..self.input_dim {
            for dst in 0..self.units {
                if let Some(p) = self.sensory_synapse(src, dst) {
                    out.push_str(&format!("  s{src} -> n{dst} [color=\"{}\"];\n", edge(p)));
                }
            }
        }
        for src in 0..self.units {
            for dst in 0..self.units {
                if let Some(p) = self.synapse(src, dst) {
                    out.push_str(&format!("  n{src} -> n{dst} [color=\"{}\"];\n", edge(p)));
                }
            }
        }
        out.push_str("}\n");
        out
    }
}
