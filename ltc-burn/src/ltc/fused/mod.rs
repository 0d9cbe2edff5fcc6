//! The fused LTC solver: the whole unfold loop of a sequence as one operation.
//!
//! [`cpu`] is the CPU implementation on plain slices (forward, and a backward that recomputes
//! the synapse activations from the saved potentials).

pub mod cpu;
