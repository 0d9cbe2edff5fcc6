//! One recurrent-cell trait and one sequence layer for every cell.
//!
//! A cell ([`RecurrentCell`]) computes one step: `(x, h, Δt) → (y, h')`. The sequence layer
//! ([`Recurrent`]) runs any cell over whole sequences and gives every cell the same API and
//! checks: batch-first or sequence-first layout, per-sample timespans, an initial state, ncps's
//! mixed memory (an LSTM cell in front of every step), an output projection, `forward`,
//! `forward_last` and `step`, and a prepared [`Stepper`](crate::stepper::Stepper) where the cell
//! has one. [`Ltc`](crate::Ltc), [`Cfc`](crate::Cfc), [`WiredCfc`](crate::WiredCfc) and
//! [`LiquidLayer`](crate::LiquidLayer) are this layer over their cells, and so is yours:
//!
//! ```
//! use burn::backend::{Autodiff, NdArray};
//! use burn::module::{Module, Param};
//! use burn::tensor::backend::Backend;
//! use burn::tensor::{Distribution, Tensor};
//! use ltc_burn::recurrent::{Recurrent, RecurrentCell, RecurrentConfig};
//!
//! /// A leaky integrator: `h' = h + Δt·(tanh(x·W) − h)`.
//! #[derive(Module, Debug)]
//! struct Leaky<B: Backend> {
//!     w: Param<Tensor<B, 2>>, // [d_input, d_hidden]
//! }
//!
//! impl<B: Backend> RecurrentCell<B> for Leaky<B> {
//!     const NAME: &'static str = "Leaky";
//!     fn d_input(&self) -> usize { self.w.dims()[0] }
//!     fn d_hidden(&self) -> usize { self.w.dims()[1] }
//!     fn d_output(&self) -> usize { self.d_hidden() }
//!     fn step(
//!         &self,
//!         x: Tensor<B, 2>,
//!         h: Tensor<B, 2>,
//!         timespans: Option<Tensor<B, 1>>,
//!     ) -> (Tensor<B, 2>, Tensor<B, 2>) {
//!         let target = x.matmul(self.w.val()).tanh();
//!         let dh = target - h.clone();
//!         let dh = match timespans {
//!             Some(dt) => dh * dt.unsqueeze_dim(1), // [batch] → [batch, 1]
//!             None => dh,
//!         };
//!         let h = h + dh;
//!         (h.clone(), h)
//!     }
//! }
//!
//! type B = Autodiff<NdArray>;
//! let device = Default::default();
//! let cell = Leaky { w: Param::from_tensor(Tensor::random([3, 8], Distribution::Default, &device)) };
//! let layer: Recurrent<B, Leaky<B>> =
//!     RecurrentConfig::new().with_proj_size(Some(2)).init(cell, &device)?;
//! let x = Tensor::<B, 3>::ones([4, 10, 3], &device); // [batch, seq, d_input]
//! let ts = Tensor::<B, 2>::full([4, 10], 0.1, &device); // [batch, seq]
//! let (y, state) = layer.forward(x.clone(), None, Some(ts));
//! assert_eq!((y.dims(), state.hidden.dims()), ([4, 10, 2], [4, 8]));
//! let (last, _) = layer.forward_last(x, None, None);
//! assert_eq!(last.dims(), [4, 2]);
//! // Shapes are checked for every cell, naming the layer, the tensor and both shapes.
//! let wrong = Tensor::ones([4, 10, 5], &device); // d_input 5, not 3
//! let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
//!     layer.forward(wrong, None, None)
//! }));
//! assert!(panic.is_err()); // "Leaky::forward: x must have shape [batch, seq, d_input=3], got …"
//! # Ok::<(), ltc_burn::ConfigError>(())
//! ```

mod input;
mod layer;
mod memory;
mod state;
pub mod stepper;

use burn::module::{Module, ModuleDisplay};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

pub(crate) use input::{check_step_input, stack_steps};
pub(crate) use layer::layer_config;
pub use layer::{Recurrent, RecurrentConfig};
pub use memory::MixedMemory;
pub use state::RecurrentState;

use stepper::{StepCell, StepFloat};

/// One step of a recurrent cell, and what the sequence layer [`Recurrent`] needs to know of it.
///
/// The state is one `[batch, d_hidden]` tensor (a cell with several state tensors keeps them
/// side by side in it). The sequence layer checks every shape before it calls
/// [`step`](Self::step) or [`forward_sequence`](Self::forward_sequence);
/// [`forward`](Self::forward) is `step` with those checks, for calling a cell by itself.
pub trait RecurrentCell<B: Backend>: Module<B> + ModuleDisplay + Sync {
    /// The sequence layer's name in messages, e.g. `"Ltc"` (`Ltc::forward: x must have shape …`).
    const NAME: &'static str;

    /// Input features per step.
    fn d_input(&self) -> usize;

    /// The state's size per sample.
    fn d_hidden(&self) -> usize;

    /// Output features per step.
    fn d_output(&self) -> usize;

    /// The device the parameters live on.
    fn device(&self) -> B::Device {
        self.devices().into_iter().next().unwrap_or_default()
    }

    /// One step, shapes already checked: the input `x` `[batch, d_input]`, the state `h`
    /// `[batch, d_hidden]`, the time since the previous input `[batch]` (1, or the cell's own
    /// default, when `None`); returns the output `[batch, d_output]` and the new state.
    fn step(
        &self,
        x: Tensor<B, 2>,
        h: Tensor<B, 2>,
        timespans: Option<Tensor<B, 1>>,
    ) -> (Tensor<B, 2>, Tensor<B, 2>);

    /// A whole sequence at once, where the cell has a faster way than step by step (a fused
    /// kernel, or inputs processed for all steps together): the outputs of every step
    /// `[batch, seq, d_output]` and the final state, from `x` `[batch, seq, d_input]`, `h0`
    /// `[batch, d_hidden]` and `timespans` `[batch, seq]`, all checked. `None` (the default)
    /// runs [`step`](Self::step) for each step. The layer does not ask with mixed memory, whose
    /// memory cell acts between the steps.
    fn forward_sequence(
        &self,
        x: &Tensor<B, 3>,
        h0: &Tensor<B, 2>,
        timespans: Option<&Tensor<B, 2>>,
    ) -> Option<(Tensor<B, 3>, Tensor<B, 2>)> {
        let _ = (x, h0, timespans);
        None
    }

    /// The cell's parameters read out for a prepared [`Stepper`](crate::stepper::Stepper) on
    /// the CPU, computing in `F`; `None` (the default) when the cell has none.
    fn step_cell<F: StepFloat>(&self) -> Option<Box<dyn StepCell<F>>> {
        None
    }

    /// [`step`](Self::step) with its shapes checked.
    ///
    /// # Shapes
    /// - `x`: `[batch, d_input]`
    /// - `h`: `[batch, d_hidden]`
    /// - `timespans`: `[batch]`, the time since the previous input
    /// - returns the outputs `[batch, d_output]` and the new state `[batch, d_hidden]`.
    ///
    /// # Panics
    /// If a shape does not match, naming the expected and the actual shape.
    fn forward(
        &self,
        x: Tensor<B, 2>,
        h: Tensor<B, 2>,
        timespans: Option<Tensor<B, 1>>,
    ) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let context = format!("{} cell", Self::NAME);
        let batch = check_step_input(&context, self.d_input(), &x, timespans.as_ref());
        input::check_hidden(&context, "h", &h, batch, self.d_hidden());
        self.step(x, h, timespans)
    }
}

#[cfg(test)]
mod tests;
