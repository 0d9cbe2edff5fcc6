//! # ltc-wirings
//!
//! Wiring graphs for liquid layers: which neuron feeds which (signed: excitatory +1,
//! inhibitory −1), which input feeds which neuron, which neurons are outputs and, for Neural
//! Circuit Policies, the layer of each neuron. Plain Rust, no Burn needed.
//!
//! Builders are plain data and build in one call from a seed, returning
//! `Result<Wiring, WiringError>`: [`FullyConnected`], [`Random`], [`Ncp`], [`AutoNcp`]. The same
//! seed gives the same graph on every platform and every run (ChaCha8); one builder can build
//! wirings for several input widths (stacked layers). The graph semantics follow ncps 1.0.1;
//! its random streams (numpy's) are not reproduced, so graphs are equal in structure and
//! statistics, not bit for bit — exact ncps graphs load from their JSON records.
//!
//! ```
//! use ltc_wirings::{Ncp, Wiring};
//!
//! let ncp = Ncp {
//!     inter: 6, command: 4, motor: 2,
//!     sensory_fanout: 3, inter_fanout: 2, recurrent_command_synapses: 3, motor_fanin: 2,
//!     seed: 7,
//! };
//! let wiring = ncp.build(4)?;
//! assert_eq!(wiring.layer_sizes(), vec![6, 4, 2]);
//! assert!(wiring.fan_in()[..2].iter().all(|&k| k >= 2)); // motor_fanin
//!
//! // Saved and loaded, it is the same wiring, builder included.
//! let json = serde_json::to_string(&wiring).unwrap();
//! let back: Wiring = serde_json::from_str(&json).unwrap();
//! assert_eq!(back, wiring);
//! # Ok::<(), ltc_wirings::WiringError>(())
//! ```
#![warn(missing_docs)]

mod builders;
mod draw;
mod error;
mod record;
mod wiring;

pub use builders::{AutoNcp, Builder, FullyConnected, MAX_UNITS, Ncp, Random, WiringSpec};
pub use error::WiringError;
pub use record::WiringRecord;
pub use wiring::{NeuronType, Wiring};
