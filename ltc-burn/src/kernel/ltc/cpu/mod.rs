//! The LTC unfold loop over a whole sequence, fused for the CPU: one pass over the synapses per
//! unfold, no `[batch, units, units]` temporaries, vectorisable inner loops (compiled for AVX2
//! too, used when the CPU has it), threaded over the batch, and a backward pass that recomputes the
//! synapse activations from the saved per-unfold potentials instead of storing them.
//!
//! Everything here works on plain slices; [`super`] connects it to Burn tensors, and the LTC's
//! prepared stepper steps it one input at a time (`UnfoldStepKernel`).
//!
//! # The computation (ncps's `LTCCell._ode_solver`, `K = ode_unfolds` sub-steps per input)
//!
//! For each sample, step `t` and unfold `k`, with `v` the potentials before the unfold:
//! - sensory (once per step): `s_ij = ws_ij·σ(sσ_ij·(x_i − sμ_ij))`,
//!   `num_f_j = gleak_vleak_j + Σ_i s_ij·serev_ij`, `den_f_j = cm_t_j + gleak_j + ε + Σ_i s_ij`;
//! - recurrent: `a_ij = w_ij·σ(σ_ij·(v_i − μ_ij))`;
//! - `den_j = den_f_j + Σ_i a_ij`, `v'_j = (cm_t_j·v_j + num_f_j + Σ_i a_ij·erev_ij) / den_j`.
//!
//! Parameters are laid out `[source, destination]` (row-major), as the cell's tensors.
//!
//! ```
//! use ltc_burn::kernel::ltc::cpu::{SynapseParams, Synapses, UnfoldProblem, backward, forward};
//!
//! // One sample, two steps, two neurons, one input, six unfolds.
//! let (w, sigma, mu, erev) = ([0.5f32; 4], [5.0; 4], [0.5; 4], [1.0, -1.0, -1.0, 1.0]);
//! let dense = Synapses::Dense;
//! let p = UnfoldProblem {
//!     batch: 1, seq: 2, units: 2, inputs: 1, unfolds: 6,
//!     x: &[1.0, -1.0],
//!     v0: &[0.0, 0.0],
//!     cm_t: &[3.0, 3.0],
//!     recurrent: SynapseParams { w: &w, sigma: &sigma, mu: &mu, erev: &erev },
//!     recurrent_synapses: &dense,
//!     sensory: SynapseParams { w: &[0.5, 0.5], sigma: &[5.0; 2], mu: &[0.5; 2], erev: &[1.0; 2] },
//!     sensory_synapses: &dense,
//!     gleak: &[1.0, 1.0],
//!     gleak_vleak: &[0.0, 0.0],
//!     epsilon: 1e-8,
//! };
//! let fwd = forward(&p);
//! assert_eq!(fwd.v.len(), 2 * 2); // [batch, seq, units]
//! assert!(fwd.v.iter().all(|v| v.abs() <= 1.0)); // between the reversal potentials
//! // ∂(Σ v)/∂everything, recomputing the synapse activations from the saved potentials.
//! let grads = backward(&p, &fwd, &[1.0; 4]);
//! assert_eq!(grads.recurrent[0].len(), 4); // ∂/∂w, [units, units]
//! ```

mod backward;
mod forward;
mod layout;
mod step;

pub use backward::{backward, backward_with};
pub use forward::{forward, forward_with};
pub use layout::{SynapseParams, Synapses};
pub(crate) use step::UnfoldStepKernel;

use super::super::cpu::Real;

/// Everything one fused LTC sequence needs.
#[derive(Debug, Clone, Copy)]
pub struct UnfoldProblem<'a, F> {
    /// Samples.
    pub batch: usize,
    /// Input steps.
    pub seq: usize,
    /// Neurons.
    pub units: usize,
    /// Input features (after the input mapping).
    pub inputs: usize,
    /// Unfolds per input step.
    pub unfolds: usize,
    /// Mapped inputs, `[batch, seq, inputs]`.
    pub x: &'a [F],
    /// Potentials before the first step, `[batch, units]`.
    pub v0: &'a [F],
    /// `cm / (Δt / K)`: `[units]` for every sample and step, or `[batch, seq, units]`.
    pub cm_t: &'a [F],
    /// Recurrent synapses, `[units, units]`.
    pub recurrent: SynapseParams<'a, F>,
    /// Which recurrent synapses exist.
    pub recurrent_synapses: &'a Synapses,
    /// Sensory synapses, `[inputs, units]`.
    pub sensory: SynapseParams<'a, F>,
    /// Which sensory synapses exist.
    pub sensory_synapses: &'a Synapses,
    /// `pos(gleak)`, `[units]`.
    pub gleak: &'a [F],
    /// `pos(gleak)·vleak`, `[units]`.
    pub gleak_vleak: &'a [F],
    /// The denominator guard ε.
    pub epsilon: F,
}

impl<F: Real> UnfoldProblem<'_, F> {
    #[inline(always)]
    pub(crate) fn cm_t_per_step(&self) -> bool {
        self.cm_t.len() != self.units
    }

    #[inline(always)]
    pub(crate) fn cm_t_at(&self, b: usize, t: usize) -> &[F] {
        let n = self.units;
        if self.cm_t_per_step() {
            let at = (b * self.seq + t) * n;
            &self.cm_t[at..at + n]
        } else {
            self.cm_t
        }
    }

    /// Checks every slice's length.
    ///
    /// # Panics
    /// Naming the slice, its expected and its actual length.
    pub(crate) fn check(&self) {
        let (b, l, n, s) = (self.batch, self.seq, self.units, self.inputs);
        let lens = [
            ("x", self.x.len(), b * l * s),
            ("v0", self.v0.len(), b * n),
            ("gleak", self.gleak.len(), n),
            ("gleak_vleak", self.gleak_vleak.len(), n),
        ];
        for (name, actual, expected) in lens {
            assert_eq!(
                actual, expected,
                "fused LTC: `{name}` has {actual} values, expected {expected}"
            );
        }
        assert!(
            self.cm_t.len() == n || self.cm_t.len() == b * l * n,
            "fused LTC: `cm_t` has {} values, expected {n} or {}",
            self.cm_t.len(),
            b * l * n
        );
        for (name, p, rows) in [
            ("recurrent", &self.recurrent, n),
            ("sensory", &self.sensory, s),
        ] {
            for (field, m) in [
                ("w", p.w),
                ("sigma", p.sigma),
                ("mu", p.mu),
                ("erev", p.erev),
            ] {
                assert_eq!(
                    m.len(),
                    rows * n,
                    "fused LTC: {name} `{field}` has {} values, expected {}",
                    m.len(),
                    rows * n
                );
            }
        }
        assert!(self.unfolds > 0, "fused LTC: `unfolds` is 0");
    }
}

/// What the forward pass returns and the backward pass needs.
#[derive(Debug, Clone)]
pub struct UnfoldForward<F> {
    /// The potentials after every step, `[batch, seq, units]`.
    pub v: Vec<F>,
    /// The potentials before every unfold, `[batch, seq, unfolds, units]`.
    pub saved_v: Vec<F>,
    /// Every unfold's denominator, `[batch, seq, unfolds, units]`.
    pub saved_den: Vec<F>,
}

/// Gradients of a loss with respect to every input of an [`UnfoldProblem`].
#[derive(Debug, Clone, PartialEq)]
pub struct UnfoldGradients<F> {
    /// `[batch, seq, inputs]`.
    pub x: Vec<F>,
    /// `[batch, units]`.
    pub v0: Vec<F>,
    /// The shape of [`UnfoldProblem::cm_t`].
    pub cm_t: Vec<F>,
    /// Recurrent `w`, `sigma`, `mu`, `erev`, each `[units, units]` (0 where no synapse).
    pub recurrent: [Vec<F>; 4],
    /// Sensory `w`, `sigma`, `mu`, `erev`, each `[inputs, units]`.
    pub sensory: [Vec<F>; 4],
    /// `[units]`.
    pub gleak: Vec<F>,
    /// `[units]`.
    pub gleak_vleak: Vec<F>,
}

#[cfg(test)]
mod tests;
