//! The LTC neurons' ODE as a vector field for the solvers of [`crate::ode`].

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::LtcCell;
use super::plain::{PlainSynapses, sensory_currents, synaptic_currents};
use crate::activation::reciprocal;
use crate::recurrent::{RecurrentCell, check_step_input};

/// The LTC neurons' ODE with the input held fixed, as a [`VectorField`](crate::ode::VectorField) that any solver of
/// [`crate::ode`] can integrate:
///
/// `dv/dt = (gleak·(vleak − v) + Σᵢ wᵢ·σ(sigmaᵢ·(vᵢ − muᵢ))·(erevᵢ − v) + sensory terms) / cm`.
///
/// The cell's own step ([`RecurrentCell::step`](crate::recurrent::RecurrentCell::step)) is the fused semi-implicit Euler scheme for this
/// ODE with `ode_unfolds` sub-steps; it converges to the exact solution at first order as the
/// sub-steps grow (a test checks it against Dopri5). Built by [`LtcCell::vector_field`].
///
/// ```
/// use burn::backend::NdArray;
/// use burn::tensor::Tensor;
/// use ltc_burn::ltc::LtcCellConfig;
/// use ltc_burn::ode::{solve, SolveOptions};
/// # #[cfg(not(ltc_doc_wgpu))] type B = NdArray<f64>;
/// # #[cfg(ltc_doc_wgpu)] type B = burn::backend::Wgpu;
///
/// let device = Default::default();
/// let cell = LtcCellConfig::new(ltc_wirings::FullyConnected::new(4).build(2)?)
///     .init::<B>(&device)?;
/// let x = Tensor::<B, 2>::ones([3, 2], &device); // [batch, input], held for the whole step
/// let v0 = Tensor::<B, 2>::zeros([3, 4], &device); // [batch, units]
/// let exact = solve(&cell.vector_field(x), v0, 0.0, 1.0, &SolveOptions::new())?;
/// assert_eq!(exact.last().dims(), [3, 4]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct LtcField<B: Backend> {
    prepared: PlainSynapses<B>,
    /// `1 / pos(cm)`, `[1, units]`.
    inv_cm: Tensor<B, 2>,
    /// `gleak·vleak + Σ sensory·sensory_erev`, `[batch, units]`.
    num_fixed: Tensor<B, 2>,
    /// `gleak + Σ sensory`, `[batch, units]`.
    den_fixed: Tensor<B, 2>,
}

impl<B: Backend> LtcCell<B> {
    /// The cell's ODE for the raw input `x` `[batch, input]` (mapped by the input mapping, as
    /// in [`RecurrentCell::step`](crate::recurrent::RecurrentCell::step)), held constant; the state is `v` `[batch, units]`.
    ///
    /// # Panics
    /// If `x` is not `[batch, input]`.
    pub fn vector_field(&self, x: Tensor<B, 2>) -> LtcField<B> {
        let batch = check_step_input("LtcCell::vector_field", self.d_input(), &x, None);
        let p = PlainSynapses::new(&self.unfold_params(), batch);
        let (num_s, den_s) = sensory_currents(&p, self.map_input(x));
        LtcField {
            inv_cm: reciprocal(self.cm.value().reshape([1, self.d_hidden()])),
            num_fixed: p.gleak_vleak.clone() + num_s,
            den_fixed: p.gleak.clone() + den_s,
            prepared: p,
        }
    }
}

impl<B: Backend> crate::ode::VectorField<B, 2> for LtcField<B> {
    fn eval(&self, _t: f64, v: Tensor<B, 2>) -> Tensor<B, 2> {
        let (a_erev, a) = synaptic_currents(&self.prepared, v.clone());
        let num = self.num_fixed.clone() + a_erev;
        let den = self.den_fixed.clone() + a;
        (num - v * den) * self.inv_cm.clone()
    }
}
