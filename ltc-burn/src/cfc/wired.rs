//! CfC on a wiring: ncps's `WiredCfCCell`, and a variant faithful to every synapse.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use ltc_wirings::Wiring;

use super::cell::{CfcCell, CfcCellConfig, CfcMode};
use crate::error::{Check, ConfigError};
use crate::recurrent::RecurrentCell;
use crate::stepper::{StepCell, StepFloat};

/// How a [`WiredCfcCell`] reads its wiring. Side by side:
///
/// | | [`Ncps`](Self::Ncps) (ncps 1.0.1's `WiredCfCCell`) | [`Faithful`](Self::Faithful) |
/// |---|---|---|
/// | layer `l` reads | layer `l−1`'s new state (layer 0: the input) and its own old state | the input, every earlier layer's new state and every later layer's (and its own) old state |
/// | synapses used | between consecutive layers only | every synapse of the wiring |
/// | within a layer | densely recurrent (all ones), whatever the wiring says (ncps issue #53) | the wiring's own synapses (e.g. NCP's command recurrence) |
/// | polarity | discarded | kept: `ff1`/`ff2` weights are `|W|·sign` |
/// | time gates `time_a`, `time_b` | dense | read only the neuron's synapses |
/// | state layout | layer order `[inter │ command │ motor]` | neuron-id order, as the LTC and the wiring |
/// | outputs | the motor neurons | the motor neurons (ids `0..output_dim`) |
///
/// `Ncps` reproduces ncps's numbers (and loads its checkpoints); `Faithful` is the network the
/// wiring draws.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum WiredVariant {
    /// Exactly ncps's `WiredCfCCell`.
    Ncps,
    /// Every synapse of the wiring, with its polarity; nothing else.
    Faithful,
}

/// Configuration of a [`WiredCfcCell`].
///
/// ```
/// use ltc_burn::cfc::{CfcMode, WiredCfcCellConfig, WiredVariant};
///
/// let wiring = ltc_wirings::AutoNcp::new(16, 2).build(5)?;
/// let config = WiredCfcCellConfig::new(wiring)
///     .with_mode(CfcMode::NoGate)
///     .with_variant(WiredVariant::Faithful);
/// assert!(config.validate().is_ok());
/// # Ok::<(), ltc_wirings::WiringError>(())
/// ```
#[derive(Config, Debug)]
pub struct WiredCfcCellConfig {
    /// The synapse graph, built for the input width; one CfC layer per wiring layer (NCP:
    /// inter, command, motor).
    pub wiring: Wiring,
    /// The closed form of every layer.
    #[config(default = "CfcMode::Default")]
    pub mode: CfcMode,
    /// ncps's layer layout or the faithful one.
    #[config(default = "WiredVariant::Ncps")]
    pub variant: WiredVariant,
    /// Pure mode's `A`, `w_tau` drawn as ncps does (see [`CfcCellConfig::ncps_compat`]).
    #[config(default = false)]
    pub ncps_compat: bool,
}

impl WiredCfcCellConfig {
    /// Checks every field; [`init`](Self::init) calls it first.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let check = Check {
            config: "WiredCfcCellConfig",
        };
        check.nonzero("wiring.units", self.wiring.units())?;
        check.nonzero("wiring.input_dim", self.wiring.input_dim())?;
        check.nonzero("wiring.output_dim", self.wiring.output_dim())?;
        check.nonzero("wiring.num_layers", self.wiring.num_layers())?;
        for l in 0..self.wiring.num_layers() {
            if self.wiring.layer(l).is_empty() {
                return Err(check.inconsistent(format!(
                    "wiring layer {l} has no neurons: every layer needs at least one"
                )));
            }
        }
        Ok(())
    }

    /// Builds the cell with freshly initialised parameters on `device` (seed the backend with
    /// `B::seed(&device, seed)` first for reproducible weights).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<WiredCfcCell<B>, ConfigError> {
        self.validate()?;
        let wiring = &self.wiring;
        let s = wiring.input_dim();
        let layers: Vec<Vec<usize>> = (0..wiring.num_layers())
            .map(|l| wiring.layer(l).to_vec())
            .collect();
        let order: Vec<usize> = layers.iter().flatten().copied().collect();
        let sensory =
            |src: usize, dst: usize| f64::from(wiring.sensory_synapse(src, dst).unwrap_or(0));
        let synapse = |src: usize, dst: usize| f64::from(wiring.synapse(src, dst).unwrap_or(0));
        let cells = layers
            .iter()
            .enumerate()
            .map(|(l, ids)| {
                let n_l = ids.len();
                // Rows: what layer l reads, in the order of its concatenated input.
                let (input_rows, signed): (Vec<Vec<f64>>, bool) = match self.variant {
                    WiredVariant::Ncps => {
                        let mut rows: Vec<Vec<f64>> = if l == 0 {
                            (0..s)
                                .map(|i| ids.iter().map(|&j| sensory(i, j).abs()).collect())
                                .collect()
                        } else {
                            layers[l - 1]
                                .iter()
                                .map(|&i| ids.iter().map(|&j| synapse(i, j).abs()).collect())
                                .collect()
                        };
                        rows.extend((0..n_l).map(|_| vec![1.0; n_l]));
                        (rows, false)
                    }
                    WiredVariant::Faithful => {
                        let mut rows: Vec<Vec<f64>> = (0..s)
                            .map(|i| ids.iter().map(|&j| sensory(i, j)).collect())
                            .collect();
                        rows.extend(
                            order
                                .iter()
                                .map(|&i| ids.iter().map(|&j| synapse(i, j)).collect()),
                        );
                        (rows, true)
                    }
                };
                let d = input_rows.len();
                let flat: Vec<f64> = input_rows.into_iter().flatten().collect();
                let mask = Tensor::<B, 2>::from_data(TensorData::new(flat, [d, n_l]), device);
                let gate_mask = signed.then(|| mask.clone().abs());
                CfcCellConfig::new(d - n_l, n_l)
                    .with_mode(self.mode)
                    .with_backbone_layers(0)
                    .with_ncps_compat(self.ncps_compat)
                    .init_heads(device, Some(mask), gate_mask, signed)
            })
            .collect();
        // The index tensors the steps gather with, built once.
        let index = |index: Vec<usize>| {
            let data: Vec<i64> = index.iter().map(|&i| i as i64).collect();
            Tensor::from_data(TensorData::new(data, [index.len()]), device)
        };
        let not_identity = |index: &Vec<usize>| !index.iter().copied().eq(0..index.len());
        let (layer_order, id_order) = match self.variant {
            WiredVariant::Faithful if not_identity(&order) => {
                let mut inverse = vec![0; order.len()];
                for (position, &id) in order.iter().enumerate() {
                    inverse[id] = position;
                }
                (Some(index(order)), Some(index(inverse)))
            }
            _ => (None, None),
        };
        let motor_columns = match self.variant {
            WiredVariant::Ncps => {
                let last = layers.last().expect("validated");
                let columns = motor_columns(last, wiring.output_dim());
                // Nothing to gather when the motor neurons are the whole last layer, in order.
                (!columns.iter().copied().eq(0..last.len())).then(|| index(columns))
            }
            WiredVariant::Faithful => None,
        };
        Ok(WiredCfcCell {
            layers: cells,
            layer_neurons: layers,
            variant: self.variant,
            d_input: s,
            d_output: wiring.output_dim(),
            layer_order,
            id_order,
            motor_columns,
        })
    }
}

/// A CfC on a wiring: one [`CfcCell`] (no backbone, masked heads) per wiring layer, each layer
/// feeding the next within the same step (ncps's `WiredCfCCell`, or the
/// [`Faithful`](WiredVariant::Faithful) variant: see [`WiredVariant`] for the differences).
///
/// ```
/// use burn::backend::NdArray;
/// use burn::tensor::Tensor;
/// use ltc_burn::cfc::WiredCfcCellConfig;
/// use ltc_burn::recurrent::RecurrentCell;
/// # #[cfg(not(ltc_doc_wgpu))] type B = NdArray;
/// # #[cfg(ltc_doc_wgpu)] type B = burn::backend::Wgpu;
///
/// let device = Default::default();
/// let wiring = ltc_wirings::AutoNcp::new(16, 2).build(5)?;
/// let cell = WiredCfcCellConfig::new(wiring).init::<B>(&device)?;
/// assert_eq!(cell.layer_sizes(), vec![9, 5, 2]); // inter, command, motor
/// let x = Tensor::<B, 2>::ones([4, 5], &device);
/// let (y, h) = cell.forward(x, Tensor::zeros([4, 16], &device), None);
/// assert_eq!((y.dims(), h.dims()), ([4, 2], [4, 16]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Module, Debug)]
pub struct WiredCfcCell<B: Backend> {
    /// One cell per wiring layer (ncps `layer_0`, `layer_1`, …).
    pub layers: Vec<CfcCell<B>>,
    /// The neuron ids of each layer (constant).
    pub layer_neurons: Vec<Vec<usize>>,
    /// The layout (constant).
    pub variant: WiredVariant,
    /// Input features (constant).
    pub d_input: usize,
    /// Motor neurons, the outputs (constant).
    pub d_output: usize,
    /// Faithful variant: the gather from neuron-id to layer order, when they differ (constant).
    pub layer_order: Option<Tensor<B, 1, Int>>,
    /// Faithful variant: the gather from layer to neuron-id order (constant).
    pub id_order: Option<Tensor<B, 1, Int>>,
    /// ncps variant: the motor neurons' columns of the last layer, in id order, when they are
    /// not the whole layer (constant).
    pub motor_columns: Option<Tensor<B, 1, Int>>,
}

impl<B: Backend> WiredCfcCell<B> {
    /// Neurons per layer.
    pub fn layer_sizes(&self) -> Vec<usize> {
        self.layer_neurons.iter().map(Vec::len).collect()
    }
}

impl<B: Backend> RecurrentCell<B> for WiredCfcCell<B> {
    const NAME: &'static str = "WiredCfc";

    fn d_input(&self) -> usize {
        self.d_input
    }

    /// Neurons (the state size).
    fn d_hidden(&self) -> usize {
        self.layer_neurons.iter().map(Vec::len).sum()
    }

    fn d_output(&self) -> usize {
        self.d_output
    }

    fn device(&self) -> B::Device {
        self.layers[0].ff1.weight.device()
    }

    /// One step: each wiring layer in turn, within the step.
    ///
    /// The state `h` `[batch, d_hidden]` is in layer order ([`WiredVariant::Ncps`]) or
    /// neuron-id order ([`WiredVariant::Faithful`]); the output is the motor neurons' states
    /// `[batch, d_output]`.
    fn step(
        &self,
        x: Tensor<B, 2>,
        h: Tensor<B, 2>,
        timespans: Option<Tensor<B, 1>>,
    ) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let batch = x.dims()[0];
        let timespans = timespans.map(|dt| dt.reshape([batch, 1]));
        let h = gather(h, &self.layer_order);
        // The old state per layer, in layer order.
        let mut old = Vec::with_capacity(self.layers.len());
        let mut start = 0;
        for ids in &self.layer_neurons {
            old.push(h.clone().narrow(1, start, ids.len()));
            start += ids.len();
        }
        let mut new: Vec<Tensor<B, 2>> = Vec::with_capacity(self.layers.len());
        for (l, cell) in self.layers.iter().enumerate() {
            let z = match self.variant {
                WiredVariant::Ncps => {
                    let input = if l == 0 {
                        x.clone()
                    } else {
                        new[l - 1].clone()
                    };
                    Tensor::cat(vec![input, old[l].clone()], 1)
                }
                WiredVariant::Faithful => {
                    let mut parts = vec![x.clone()];
                    parts.extend(new.iter().cloned());
                    parts.extend(old[l..].iter().cloned());
                    Tensor::cat(parts, 1)
                }
            };
            new.push(cell.update(z, timespans.clone()));
        }
        let last = new
            .last()
            .cloned()
            .expect("a wiring has at least one layer");
        let state = Tensor::cat(new, 1);
        match self.variant {
            WiredVariant::Ncps => (gather(last, &self.motor_columns), state),
            WiredVariant::Faithful => {
                let state = gather(state, &self.id_order);
                let batch = state.dims()[0];
                let y = state.clone().slice([0..batch, 0..self.d_output]);
                (y, state)
            }
        }
    }

    fn step_cell<F: StepFloat>(&self) -> Option<Box<dyn StepCell<F>>> {
        Some(Box::new(super::stepper::WiredCfcStepCell::<F>::read(self)))
    }
}

/// The columns of the motor neurons (ids `0..output_dim`) among the last layer's, in id order.
/// For NCP wirings that is the whole last layer, as in ncps; for one-layer wirings with fewer
/// outputs than neurons, ncps 1.0.1 returns every neuron instead.
fn motor_columns(last_layer: &[usize], output_dim: usize) -> Vec<usize> {
    let mut columns: Vec<(usize, usize)> = last_layer
        .iter()
        .enumerate()
        .filter(|&(_, &id)| id < output_dim)
        .map(|(column, &id)| (id, column))
        .collect();
    columns.sort_unstable();
    columns.into_iter().map(|(_, column)| column).collect()
}

/// An index tensor's values (the stepper and the exporter read the cell's gathers with it).
pub(crate) fn index_values<B: Backend>(index: &Tensor<B, 1, Int>) -> Vec<usize> {
    let data = index.to_data().convert::<i64>();
    let values = data.as_slice::<i64>().expect("converted to i64");
    values
        .iter()
        .map(|&i| usize::try_from(i).expect("an index is not negative"))
        .collect()
}

/// `h[:, index]`, or `h` itself without an index.
fn gather<B: Backend>(h: Tensor<B, 2>, index: &Option<Tensor<B, 1, Int>>) -> Tensor<B, 2> {
    match index {
        Some(index) => h.select(1, index.clone()),
        None => h,
    }
}
