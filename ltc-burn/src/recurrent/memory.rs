//! ncps's LSTM memory cell (`mixed_memory=True`), in front of any cell of a sequence layer.

use burn::module::{Initializer, Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};

use crate::activation::sigmoid;
use crate::param::materialize;

/// ncps's LSTM memory cell (`mixed_memory=True`): `z = input_map(x) + recurrent_map(h)`,
/// chunked `[i, ig, fg, og]`; `c' = c·σ(fg + 1) + tanh(i)·σ(ig)`, `h' = tanh(c')·σ(og)`. Its
/// `h'` replaces the liquid cell's state before each step; `c` is carried beside it.
#[derive(Module, Debug)]
pub struct MixedMemory<B: Backend> {
    /// `[d_input] → [4·d_hidden]`: Xavier-uniform weight, bias U(−0.1, 0.1), as ncps.
    pub input_map: Linear<B>,
    /// `[d_hidden] → [4·d_hidden]`, no bias: orthogonal weight, as ncps.
    pub recurrent_map: Linear<B>,
}

impl<B: Backend> MixedMemory<B> {
    pub(crate) fn init(d_input: usize, d_hidden: usize, device: &B::Device) -> Self {
        let mut input_map = LinearConfig::new(d_input, 4 * d_hidden)
            .with_initializer(Initializer::XavierUniform { gain: 1.0 })
            .init(device);
        input_map.weight = materialize(input_map.weight);
        input_map.bias = Some(Param::from_tensor(Tensor::random(
            [4 * d_hidden],
            Distribution::Uniform(-0.1, 0.1),
            device,
        )));
        let mut recurrent_map = LinearConfig::new(d_hidden, 4 * d_hidden)
            .with_bias(false)
            .with_initializer(Initializer::Orthogonal { gain: 1.0 })
            .init(device);
        recurrent_map.weight = materialize(recurrent_map.weight);
        Self {
            input_map,
            recurrent_map,
        }
    }

    /// One step: returns the new `(h, c)`.
    pub(crate) fn step(
        &self,
        x: Tensor<B, 2>,
        h: Tensor<B, 2>,
        c: Tensor<B, 2>,
    ) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let z = self.input_map.forward(x) + self.recurrent_map.forward(h); // [batch, 4·d_hidden]
        let [i, ig, fg, og] = <[Tensor<B, 2>; 4]>::try_from(z.chunk(4, 1))
            .unwrap_or_else(|_| unreachable!("4·d_hidden splits into 4 chunks"));
        let c = c * sigmoid(fg.add_scalar(1.0)) + i.tanh() * sigmoid(ig);
        let h = c.clone().tanh() * sigmoid(og);
        (h, c)
    }
}
