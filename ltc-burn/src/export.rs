//! Layers exported for [`ltc_runtime`]: a trained [`Ltc`](crate::Ltc), [`Cfc`](crate::Cfc) or
//! [`WiredCfc`](crate::WiredCfc) — with its mixed memory and projection, from any backend —
//! written as one compact file that `ltc_runtime::Model` steps in `f32` with no std, no
//! allocation and no Burn (a microcontroller, a hard real-time loop).
//!
//! The file holds the parameters as the step applies them (positive parameters constrained,
//! masks applied, only the wiring's synapses of an LTC), in the layout
//! [`ltc_runtime::format`] documents.
//!
//! ```
//! use burn::backend::NdArray;
//! use burn::tensor::{Tensor, TensorData};
//! use ltc_burn::ltc::LtcConfig;
//!
//! let device = Default::default();
//! let wiring = ltc_wirings::AutoNcp::new(19, 4).build(3)?;
//! let ltc = LtcConfig::from_wiring(wiring).init::<NdArray>(&device)?;
//! let file: Vec<u8> = ltc.to_runtime(); // std::fs::write("policy.ltcr", &file)?
//!
//! // On the device: no Burn, no allocation.
//! let model = ltc_runtime::Model::parse(&file)?;
//! let (mut state, mut scratch) = (vec![0.0; model.state_len()], vec![0.0; model.scratch_len()]);
//! let mut action = [0.0f32; 4];
//! let observation = [0.5f32, -1.0, 0.25];
//! model.step(&observation, Some(0.1), &mut state, &mut scratch, &mut action)?;
//!
//! // The layer's own step, to f32 rounding.
//! let x = Tensor::<NdArray, 2>::from_data(TensorData::new(observation.to_vec(), [1, 3]), &device);
//! let dt = Tensor::from_data(TensorData::new(vec![0.1f32], [1]), &device);
//! let (y, _) = ltc.step(x, None, Some(dt));
//! let y: Vec<f32> = y.into_data().to_vec().unwrap();
//! assert!(action.iter().zip(&y).all(|(a, b)| (a - b).abs() < 1e-5));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};
use ltc_runtime::format::{self as f, Kind};

use crate::cfc::{CfcCell, WiredCfcCell, WiredVariant, index_values};
use crate::kernel::cfc::cpu::{Act, Mode};
use crate::kernel::cpu::into_vec;
use crate::ltc::LtcCell;
use crate::recurrent::{Recurrent, RecurrentCell};
use sealed::Writer;

/// A cell ltc-runtime can step: [`LtcCell`], [`CfcCell`] and [`WiredCfcCell`]. (Sealed: the
/// runtime has a step for these three only.)
pub trait RuntimeCell<B: Backend>: RecurrentCell<B> + sealed::Sealed<B> {}

impl<B: Backend> RuntimeCell<B> for LtcCell<B> {}
impl<B: Backend> RuntimeCell<B> for CfcCell<B> {}
impl<B: Backend> RuntimeCell<B> for WiredCfcCell<B> {}

/// Out of users' reach: what the three cells write.
mod sealed {
    use burn::nn::Linear;
    use burn::tensor::Tensor;
    use burn::tensor::backend::Backend;

    use super::word;
    use crate::kernel::cpu::into_vec;

    /// The cell's kind and its section of the file.
    pub trait Sealed<B: Backend> {
        fn kind(&self) -> ltc_runtime::Kind;
        fn write(&self, out: &mut Writer);
    }

    /// The file being written.
    #[derive(Debug, Default)]
    pub struct Writer {
        pub(super) bytes: Vec<u8>,
    }

    impl Writer {
        pub(super) fn word(&mut self, value: usize) {
            self.bytes.extend_from_slice(&word(value));
        }

        pub(super) fn values(&mut self, values: &[f32]) {
            for v in values {
                self.bytes.extend_from_slice(&v.to_le_bytes());
            }
        }

        pub(super) fn tensor<B: Backend, const D: usize>(&mut self, t: Tensor<B, D>) {
            self.values(&into_vec::<B, f32, D>(t));
        }

        /// A linear layer's bias, zeros when it has none.
        pub(super) fn bias<B: Backend>(&mut self, linear: &Linear<B>) {
            match &linear.bias {
                Some(b) => self.tensor(b.val()),
                None => self.values(&vec![0.0; linear.weight.dims()[1]]),
            }
        }

        pub(super) fn indices(&mut self, indices: &[usize]) {
            indices.iter().for_each(|&i| self.word(i));
        }

        /// `w, sigma, mu, erev` `[sources, destinations]` as a source-major list of the synapses
        /// `mask` marks.
        pub(super) fn synapses(
            &mut self,
            [w, sigma, mu, erev]: [Vec<f32>; 4],
            mask: &[f32],
            destinations: usize,
        ) {
            let present: Vec<usize> = (0..mask.len()).filter(|&k| mask[k] != 0.0).collect();
            self.word(present.len());
            self.word(0);
            let mut count = 0;
            for row in mask.chunks(destinations.max(1)) {
                count += row.iter().filter(|m| **m != 0.0).count();
                self.word(count);
            }
            for &k in &present {
                self.word(k % destinations);
            }
            for values in [w, sigma, mu, erev] {
                let picked: Vec<f32> = present.iter().map(|&k| values[k]).collect();
                self.values(&picked);
            }
        }
    }
}

impl<B: Backend, C: RuntimeCell<B>> Recurrent<B, C> {
    /// This layer as an [`ltc_runtime`] model file (see [the module](crate::export)): the
    /// cell, its mixed memory and its projection, read once from any backend, in `f32`.
    pub fn to_runtime(&self) -> Vec<u8> {
        let mut out = Writer::default();
        out.bytes.extend_from_slice(&f::MAGIC);
        out.word(f::VERSION as usize);
        out.word(self.cell.kind().code() as usize);
        out.word(self.cell.d_input());
        out.word(self.cell.d_hidden());
        out.word(self.cell.d_output());
        let flags = if self.lstm.is_some() {
            f::FLAG_MEMORY
        } else {
            0
        } | if self.fc.is_some() {
            f::FLAG_PROJECTION
        } else {
            0
        };
        out.word(flags as usize);
        out.word(self.d_output());
        let length_at = out.bytes.len();
        out.word(0); // the length, once known
        if let Some(memory) = &self.lstm {
            out.tensor(memory.input_map.weight.val());
            out.bias(&memory.input_map);
            out.tensor(memory.recurrent_map.weight.val());
        }
        self.cell.write(&mut out);
        if let Some(fc) = &self.fc {
            out.tensor(fc.weight.val());
            out.bias(fc);
        }
        let words = out.bytes.len() / 4;
        out.bytes[length_at..length_at + 4].copy_from_slice(&word(words));
        out.bytes
    }
}

fn word(value: usize) -> [u8; 4] {
    u32::try_from(value)
        .expect("ltc-runtime sizes fit in 32 bits")
        .to_le_bytes()
}

fn mode_code(mode: Mode) -> u32 {
    match mode {
        Mode::Gated => f::Mode::Gated,
        Mode::NoGate => f::Mode::NoGate,
        Mode::Pure => f::Mode::Pure,
    }
    .code()
}

fn act_code(act: Act) -> u32 {
    match act {
        Act::LecunTanh => f::Activation::LecunTanh,
        Act::Silu => f::Activation::Silu,
        Act::Relu => f::Activation::Relu,
        Act::Tanh => f::Activation::Tanh,
        Act::Gelu => f::Activation::Gelu,
    }
    .code()
}

impl<B: Backend> sealed::Sealed<B> for LtcCell<B> {
    fn kind(&self) -> Kind {
        Kind::Ltc
    }

    fn write(&self, out: &mut Writer) {
        let (n, p) = (self.d_hidden(), self.unfold_params());
        out.word(p.unfolds);
        out.values(&[p.epsilon as f32]);
        let mappings = [
            (&self.input_w, f::MAP_INPUT_W),
            (&self.input_b, f::MAP_INPUT_B),
            (&self.output_w, f::MAP_OUTPUT_W),
            (&self.output_b, f::MAP_OUTPUT_B),
        ];
        let flags = mappings
            .iter()
            .filter(|(m, _)| m.is_some())
            .fold(0, |flags, (_, flag)| flags | flag);
        out.word(flags as usize);
        for (mapping, _) in mappings {
            if let Some(m) = mapping {
                out.tensor(m.val());
            }
        }
        out.tensor(self.cm.value());
        out.tensor(p.gleak);
        out.tensor(p.gleak_vleak);
        for (t, mask) in [(p.sensory, p.sensory_mask), (p.recurrent, p.recurrent_mask)] {
            let four = [
                into_vec(t.w),
                into_vec(t.sigma),
                into_vec(t.mu),
                into_vec(t.erev),
            ];
            out.synapses(four, &into_vec::<B, f32, 2>(mask), n);
        }
    }
}

impl<B: Backend> sealed::Sealed<B> for CfcCell<B> {
    fn kind(&self) -> Kind {
        Kind::Cfc
    }

    fn write(&self, out: &mut Writer) {
        let (mode, act) = self.kernel_kind();
        let dims = self.kernel_dims(1, 1);
        out.word(mode_code(mode) as usize);
        out.word(act_code(act) as usize);
        out.word(dims.layers);
        out.word(dims.units);
        out.values(&self.flat_params::<f32>());
    }
}

impl<B: Backend> sealed::Sealed<B> for WiredCfcCell<B> {
    fn kind(&self) -> Kind {
        Kind::WiredCfc
    }

    fn write(&self, out: &mut Writer) {
        let variant = match self.variant {
            WiredVariant::Ncps => f::WiredVariant::Ncps,
            WiredVariant::Faithful => f::WiredVariant::Faithful,
        };
        out.word(variant.code() as usize);
        out.word(mode_code(self.layers[0].kernel_kind().0) as usize);
        out.word(self.layers.len());
        for ids in &self.layer_neurons {
            out.word(ids.len());
        }
        // The cell's gathers, the identity where it needs none.
        let n = self.d_hidden();
        let or_identity = |index: &Option<Tensor<B, 1, Int>>, len: usize| {
            index
                .as_ref()
                .map_or_else(|| (0..len).collect(), index_values)
        };
        out.indices(&or_identity(&self.layer_order, n));
        out.indices(&or_identity(&self.id_order, n));
        if self.variant == WiredVariant::Ncps {
            out.indices(&or_identity(&self.motor_columns, self.d_output));
        }
        for layer in &self.layers {
            out.values(&layer.flat_params::<f32>());
        }
    }
}
