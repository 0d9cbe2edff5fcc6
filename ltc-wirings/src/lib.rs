//! # ltc-wirings
//!
//! Wiring graphs and masks for Neural Circuit Policy models: which neuron feeds which, which
//! input feeds which neuron, and which neurons are outputs. Plain Rust, no Burn needed to build
//! a wiring.
//!
//! This crate holds the workspace's place for the wirings (FullyConnected, Random, NCP,
//! AutoNCP); they land with the wirings work and are used by the LTC and wired CfC layers.
#![warn(missing_docs)]
