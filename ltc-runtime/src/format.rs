//! The file format ltc-burn's exporter writes and [`Model::parse`](crate::Model::parse) reads
//! (version 1).
//!
//! Everything is a 4-byte little-endian word: `u32` sizes, codes and indices, `f32` values.
//! Weights are row-major `[inputs, outputs]` (Burn's `Linear` layout). In order:
//!
//! | words | what |
//! |---|---|
//! | 9 | header: [`MAGIC`], [`VERSION`], cell [`Kind`], `d_input`, `d_hidden`, the cell's `d_output`, flags ([`FLAG_MEMORY`], [`FLAG_PROJECTION`]), `d_output` after the projection, the file's length in words |
//! | with memory | ncps's LSTM memory cell: `Wx [d_input, 4·d_hidden]`, `bx [4·d_hidden]`, `Wh [d_hidden, 4·d_hidden]` |
//! | the cell | LTC, CfC or wired CfC, below |
//! | with a projection | `W [cell d_output, d_output]`, `b [d_output]` |
//!
//! **LTC**: `unfolds`, `epsilon` (f32), mapping flags ([`MAP_INPUT_W`] …), then `input_w
//! [d_input]`, `input_b [d_input]`, `output_w [d_output]`, `output_b [d_output]` (each only
//! when flagged), `cm [n]`, `gleak [n]`, `gleak·vleak [n]` (the positive parameters already
//! constrained), then the sensory and the recurrent synapses, each as a source-major list:
//! `count`, `offsets [sources + 1]`, `destination [count]`, `w [count]`, `sigma [count]`,
//! `mu [count]`, `erev [count]` (only the wiring's synapses, `w` constrained).
//!
//! **CfC**: [`Mode`] code, [`Activation`] code, backbone layers, backbone units, then each
//! backbone layer's weight and bias, the heads' weight `[d, heads·d_hidden]` (`ff1`, and
//! unless pure `ff2`, `time_a`, `time_b`, side by side) and bias, and in pure mode `w_tau
//! [d_hidden]` and `A [d_hidden]`.
//!
//! **Wired CfC**: [`WiredVariant`] code, [`Mode`] code, layers `L`, `sizes [L]`,
//! `layer_order [d_hidden]` (the state's position of each neuron in layer order), `id_order
//! [d_hidden]` (its inverse), for ncps's variant `motor [d_output]` (the outputs' columns of the
//! last layer; the faithful variant's outputs are neurons `0..d_output`), then
//! per layer a CfC's heads (as above, no backbone) reading the layer's input.

/// The first word: `b"LTCR"`.
pub const MAGIC: [u8; 4] = *b"LTCR";
/// The version this crate reads.
pub const VERSION: u32 = 1;
/// Header flag: ncps's LSTM memory cell runs before every step (mixed memory).
pub const FLAG_MEMORY: u32 = 1;
/// Header flag: a linear projection follows the cell.
pub const FLAG_PROJECTION: u32 = 2;
/// LTC mapping flag: an input weight.
pub const MAP_INPUT_W: u32 = 1;
/// LTC mapping flag: an input bias.
pub const MAP_INPUT_B: u32 = 2;
/// LTC mapping flag: an output weight.
pub const MAP_OUTPUT_W: u32 = 4;
/// LTC mapping flag: an output bias.
pub const MAP_OUTPUT_B: u32 = 8;
/// Words in the header.
pub const HEADER_WORDS: usize = 9;

/// Which cell a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A Liquid Time-Constant cell on its wiring.
    Ltc,
    /// A closed-form continuous-time cell.
    Cfc,
    /// A CfC on a wiring, one CfC per wiring layer.
    WiredCfc,
}

/// The CfC's closed form (ncps `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `h' = tanh(ff1)·(1 − g) + g·tanh(ff2)`, `g = σ(ta·Δt + tb)`.
    Gated,
    /// `h' = tanh(ff1) + g·tanh(ff2)`.
    NoGate,
    /// `h' = −A·e^(−Δt·(|ff1| + |w_tau|))·ff1 + A`.
    Pure,
}

/// The CfC backbone's activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `1.7159·tanh(0.666·x)`.
    LecunTanh,
    /// `x·σ(x)`.
    Silu,
    /// `max(x, 0)`.
    Relu,
    /// `tanh(x)`.
    Tanh,
    /// `x·(1 + erf(x/√2))/2`.
    Gelu,
}

/// How a wired CfC feeds its layers (ltc-burn's `WiredVariant`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WiredVariant {
    /// ncps's `WiredCfCCell`: layer `l` reads layer `l − 1`'s new state (layer 0 the input) and
    /// its own old state; the state is in layer order.
    Ncps,
    /// Layer `l` reads the input, every earlier layer's new state and every later layer's (and
    /// its own) old state; the state is in neuron-id order.
    Faithful,
}

macro_rules! codes {
    ($ty:ident { $($variant:ident = $code:literal),* $(,)? }) => {
        impl $ty {
            /// The code the file stores.
            pub const fn code(self) -> u32 {
                match self { $($ty::$variant => $code),* }
            }

            /// The value of a stored code, `None` for an unknown one.
            pub const fn from_code(code: u32) -> Option<Self> {
                match code { $($code => Some($ty::$variant),)* _ => None }
            }
        }
    };
}

codes!(Kind { Ltc = 1, Cfc = 2, WiredCfc = 3 });
codes!(Mode { Gated = 0, NoGate = 1, Pure = 2 });
codes!(Activation { LecunTanh = 0, Silu = 1, Relu = 2, Tanh = 3, Gelu = 4 });
codes!(WiredVariant { Ncps = 0, Faithful = 1 });

impl Mode {
    /// Head blocks of `d_hidden` columns: 4, or 1 in pure mode.
    pub const fn heads(self) -> usize {
        match self {
            Mode::Pure => 1,
            _ => 4,
        }
    }
}
