//! The CPU kernel of [`super::cpu`] as a Burn operation on the ndarray backends, with and
//! without autodiff (its backward recomputes the synapse activations from the potentials the
//! forward saved).

use burn::backend::{Autodiff, NdArray};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::cpu::{self, SynapseParams, Synapses, UnfoldForward, UnfoldProblem};
use super::{Parents, UnfoldConstants, UnfoldInputs, output};
use crate::kernel::autodiff::{apply, apply_inner};
use crate::kernel::cpu::slices::{NdFloat, SliceKernel, Sliced, values};

/// The unfold on slices: the sizes and constants of one call; its inputs arrive in
/// [`UnfoldInputs::into_parts`]'s order.
#[derive(Debug)]
pub(crate) struct UnfoldSlices<F> {
    /// `(batch, seq, input, units)`.
    sizes: (usize, usize, usize, usize),
    unfolds: usize,
    recurrent: Synapses,
    sensory: Synapses,
    epsilon: F,
}

impl<F: NdFloat> UnfoldSlices<F> {
    fn new<B: Backend>(c: UnfoldConstants<B>) -> Self {
        let n = c.sizes.3;
        let mask = |m: Tensor<B, 2>| values::<B, F>(m.into_primitive().tensor());
        UnfoldSlices {
            sizes: c.sizes,
            unfolds: c.unfolds,
            recurrent: Synapses::from_mask::<F>(&mask(c.recurrent_mask), n),
            sensory: Synapses::from_mask::<F>(&mask(c.sensory_mask), n),
            epsilon: F::from_f64(c.epsilon),
        }
    }

    fn problem<'a>(&'a self, inputs: &'a [Vec<F>; 13]) -> UnfoldProblem<'a, F> {
        let (batch, seq, s, n) = self.sizes;
        let p = Parents::from_array(inputs.each_ref());
        let four = |[w, sigma, mu, erev]: [&'a Vec<F>; 4]| SynapseParams { w, sigma, mu, erev };
        UnfoldProblem {
            batch,
            seq,
            units: n,
            inputs: s,
            unfolds: self.unfolds,
            x: p.x,
            v0: p.v0,
            cm_t: p.cm_t,
            recurrent: four(p.recurrent),
            recurrent_synapses: &self.recurrent,
            sensory: four(p.sensory),
            sensory_synapses: &self.sensory,
            gleak: p.gleak,
            gleak_vleak: p.gleak_vleak,
            epsilon: self.epsilon,
        }
    }
}

impl<F: NdFloat> SliceKernel<F, 13> for UnfoldSlices<F> {
    type Tape = UnfoldForward<F>;

    fn forward(
        &self,
        inputs: &[Vec<F>; 13],
        save: bool,
    ) -> (Vec<F>, Vec<usize>, Option<Self::Tape>) {
        let (batch, seq, _, n) = self.sizes;
        let forward = cpu::forward(&self.problem(inputs));
        let shape = vec![batch, seq, n];
        if save {
            (forward.v.clone(), shape, Some(forward))
        } else {
            (forward.v, shape, None)
        }
    }

    fn backward(
        &self,
        inputs: &[Vec<F>; 13],
        tape: &Self::Tape,
        grad: &[F],
        _wanted: [bool; 13],
    ) -> [Vec<F>; 13] {
        let g = cpu::backward(&self.problem(inputs), tape, grad);
        Parents {
            x: g.x,
            v0: g.v0,
            cm_t: g.cm_t,
            recurrent: g.recurrent,
            sensory: g.sensory,
            gleak: g.gleak,
            gleak_vleak: g.gleak_vleak,
        }
        .into_array()
    }
}

/// The registered implementations on `NdArray<$F>` and `Autodiff<NdArray<$F>>`.
macro_rules! registered {
    ($F:ty, $plain:ident, $tracked:ident) => {
        pub(crate) fn $plain(inputs: UnfoldInputs<NdArray<$F>>) -> Option<Tensor<NdArray<$F>, 3>> {
            let (parents, constants) = inputs.into_parts();
            let op = Sliced::new(UnfoldSlices::<$F>::new(constants));
            Some(output(apply_inner(op, parents)))
        }

        pub(crate) fn $tracked(
            inputs: UnfoldInputs<Autodiff<NdArray<$F>>>,
        ) -> Option<Tensor<Autodiff<NdArray<$F>>, 3>> {
            let (parents, constants) = inputs.into_parts();
            let op = Sliced::new(UnfoldSlices::<$F>::new(constants.inner()));
            Some(output(apply(op, parents)))
        }
    };
}

registered!(f32, unfold_f32, unfold_tracked_f32);
registered!(f64, unfold_f64, unfold_tracked_f64);
