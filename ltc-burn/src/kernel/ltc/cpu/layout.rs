//! How the kernel holds a synapse population: which synapses exist ([`Synapses`]), and their
//! parameters packed row by row for vector loops ([`PackedSynapses`]).

use crate::kernel::cpu::Real;

/// Which synapses exist: every one (`Dense`), or per source the listed destinations
/// (CSR-style, from the wiring's mask).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Synapses {
    /// All `sources × destinations`.
    Dense,
    /// `offsets[i]..offsets[i + 1]` index `destinations` (and the packed parameters) for
    /// source `i`.
    Sparse {
        /// `sources + 1` offsets.
        offsets: Vec<usize>,
        /// Destination of each existing synapse, grouped by source.
        destinations: Vec<usize>,
    },
}

impl Synapses {
    /// The synapses of a `[sources, destinations]` mask (non-zero = present): `Dense` when all
    /// are present.
    pub fn from_mask<F: Real>(mask: &[F], destinations: usize) -> Self {
        if mask.iter().all(|m| *m != F::ZERO) {
            return Synapses::Dense;
        }
        let mut offsets = vec![0];
        let mut list = Vec::new();
        for row in mask.chunks(destinations.max(1)) {
            list.extend(
                row.iter()
                    .enumerate()
                    .filter(|(_, m)| **m != F::ZERO)
                    .map(|(j, _)| j),
            );
            offsets.push(list.len());
        }
        Synapses::Sparse {
            offsets,
            destinations: list,
        }
    }

    /// Synapses present.
    pub fn count(&self, sources: usize, destinations: usize) -> usize {
        match self {
            Synapses::Dense => sources * destinations,
            Synapses::Sparse { destinations, .. } => destinations.len(),
        }
    }
}

/// One synapse population's parameters, `[sources, destinations]` row-major: maximum
/// conductance (already positive and masked), steepness, midpoint, reversal potential.
#[derive(Debug, Clone, Copy)]
pub struct SynapseParams<'a, F> {
    /// `pos(w) ⊙ mask`.
    pub w: &'a [F],
    /// Steepness.
    pub sigma: &'a [F],
    /// Midpoint.
    pub mu: &'a [F],
    /// Reversal potential.
    pub erev: &'a [F],
}

impl<'a, F> SynapseParams<'a, F> {
    /// The parameters held as `[w, sigma, mu, erev]`.
    pub fn from_arrays([w, sigma, mu, erev]: &'a [Vec<F>; 4]) -> Self {
        SynapseParams { w, sigma, mu, erev }
    }
}

/// Lanes the inner loops work in: rows are padded to a multiple of it, so that every inner
/// loop is whole vectors (8 f32 = one AVX2 register) with no scalar remainder.
pub(crate) const LANES: usize = 8;

/// `n` rounded up to whole lanes.
pub(crate) fn padded(n: usize) -> usize {
    n.div_ceil(LANES) * LANES
}

/// Parameters packed row by row (per source), each row padded to whole [`LANES`] with
/// synapses of `w = 0` (which contribute nothing and whose gradients are dropped): for dense
/// populations every destination, `padded(destinations)` per row; for sparse ones only the
/// existing synapses.
#[derive(Debug, Clone, Default)]
pub(crate) struct PackedSynapses<F> {
    pub(crate) w: Vec<F>,
    pub(crate) sigma: Vec<F>,
    pub(crate) mu: Vec<F>,
    pub(crate) erev: Vec<F>,
    /// Destination of each packed synapse (sparse; padding points at 0).
    pub(crate) dst: Vec<usize>,
    /// Per source, the start of its row in the packed arrays (`sources + 1` entries).
    pub(crate) offsets: Vec<usize>,
    /// Where each packed synapse sits in the full `[sources, destinations]` matrix (`None`
    /// for padding).
    pub(crate) index: Vec<Option<usize>>,
    /// The rows hold every destination in order (`dst` unused).
    pub(crate) dense: bool,
}

impl<F: Real> PackedSynapses<F> {
    pub(crate) fn new(
        p: &SynapseParams<'_, F>,
        synapses: &Synapses,
        sources: usize,
        dsts: usize,
    ) -> Self {
        let dense = matches!(synapses, Synapses::Dense);
        // Packed once per kernel call (for a one-step sequence as costly as the unfold
        // itself), so every vector is allocated once at its final length.
        let row = |i: usize| match synapses {
            Synapses::Dense => 0..dsts,
            Synapses::Sparse { offsets, .. } => offsets[i]..offsets[i + 1],
        };
        let total: usize = (0..sources).map(|i| padded(row(i).len())).sum();
        let mut index = Vec::with_capacity(total);
        let mut dst = Vec::with_capacity(total);
        let mut offsets = Vec::with_capacity(sources + 1);
        offsets.push(0);
        for i in 0..sources {
            let range = row(i);
            let len = range.len();
            match synapses {
                Synapses::Dense => dst.extend(range),
                Synapses::Sparse { destinations, .. } => dst.extend(&destinations[range]),
            }
            let start = index.len();
            index.extend(dst[start..].iter().map(|j| Some(i * dsts + j)));
            index.resize(start + padded(len), None);
            dst.resize(start + padded(len), 0);
            offsets.push(index.len());
        }
        let gather = |m: &[F]| -> Vec<F> {
            if dense && dsts > 0 {
                // Whole rows, each followed by its padding.
                let mut packed = Vec::with_capacity(total);
                for row in m[..sources * dsts].chunks_exact(dsts) {
                    packed.extend_from_slice(row);
                    packed.resize(packed.len() + padded(dsts) - dsts, F::ZERO);
                }
                packed
            } else {
                index.iter().map(|k| k.map_or(F::ZERO, |k| m[k])).collect()
            }
        };
        PackedSynapses {
            w: gather(p.w),
            sigma: gather(p.sigma),
            mu: gather(p.mu),
            erev: gather(p.erev),
            dst,
            offsets,
            index,
            dense,
        }
    }

    /// Scatters packed gradients back to a full `[sources, destinations]` matrix.
    pub(crate) fn unpack(&self, packed: &[F], full_len: usize) -> Vec<F> {
        let mut full = vec![F::ZERO; full_len];
        for (k, at) in self.index.iter().enumerate() {
            if let Some(at) = at {
                full[*at] = packed[k];
            }
        }
        full
    }
}
