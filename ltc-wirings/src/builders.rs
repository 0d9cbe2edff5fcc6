//! The wiring builders: plain data, validated, built in one call from a seed.

use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::WiringError;
use crate::wiring::{NeuronType, Wiring};

/// ±1 with `P(+1) = 2/3`: ncps's `choice([-1, 1, 1])` for FullyConnected and Random.
fn polarity_two_thirds(rng: &mut ChaCha8Rng) -> i8 {
    if rng.random_range(0..3) == 0 { -1 } else { 1 }
}

/// ±1 with `P(+1) = 1/2`: ncps's `choice([-1, 1])` for NCP.
fn polarity_half(rng: &mut ChaCha8Rng) -> i8 {
    if rng.random_bool(0.5) { 1 } else { -1 }
}

/// The most neurons (and inputs) a wiring may have: 65 536, whose adjacency matrix alone takes
/// 4 GiB. Larger sizes are refused with [`WiringError::TooLarge`] instead of overflowing or
/// exhausting memory.
pub const MAX_UNITS: usize = 1 << 16;

fn check_size(builder: &'static str, param: &'static str, value: usize) -> Result<(), WiringError> {
    if value > MAX_UNITS {
        return Err(WiringError::TooLarge {
            builder,
            param,
            value,
            max: MAX_UNITS,
        });
    }
    Ok(())
}

fn check_input_dim(builder: &'static str, input_dim: usize) -> Result<(), WiringError> {
    if input_dim == 0 {
        return Err(WiringError::Zero {
            builder,
            param: "input_dim",
        });
    }
    check_size(builder, "input_dim", input_dim)
}

fn check_units_outputs(
    builder: &'static str,
    units: usize,
    output_dim: usize,
) -> Result<(), WiringError> {
    if units == 0 {
        return Err(WiringError::Zero {
            builder,
            param: "units",
        });
    }
    check_size(builder, "units", units)?;
    if output_dim == 0 || output_dim > units {
        return Err(WiringError::OutputDim {
            builder,
            output_dim,
            units,
            max: units,
        });
    }
    Ok(())
}

/// Every neuron connected to every neuron (self-connections optional) and every input to every
/// neuron, each synapse excitatory with probability 2/3.
///
/// ```
/// use ltc_wirings::FullyConnected;
///
/// let wiring = FullyConnected { output_dim: 2, self_connections: false, ..FullyConnected::new(6) }
///     .build(3)?;
/// assert_eq!(wiring.synapse_count(), 6 * 5);
/// assert_eq!(wiring.sensory_synapse_count(), 3 * 6);
/// # Ok::<(), ltc_wirings::WiringError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FullyConnected {
    /// Neurons.
    pub units: usize,
    /// Motor neurons, `1..=units` (ncps's default: all of them).
    pub output_dim: usize,
    /// Whether a neuron feeds itself.
    pub self_connections: bool,
    /// Seed of the polarities (ncps's default 1111).
    pub seed: u64,
}

impl FullyConnected {
    /// `units` neurons, all motor, with self-connections, seed 1111 (ncps's defaults).
    pub fn new(units: usize) -> Self {
        Self {
            units,
            output_dim: units,
            self_connections: true,
            seed: 1111,
        }
    }

    /// Checks the configuration.
    pub fn validate(&self) -> Result<(), WiringError> {
        check_units_outputs("FullyConnected", self.units, self.output_dim)
    }

    /// Builds the graph for `input_dim` inputs.
    pub fn build(&self, input_dim: usize) -> Result<Wiring, WiringError> {
        self.validate()?;
        check_input_dim("FullyConnected", input_dim)?;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut wiring = Wiring::empty(self.units, input_dim, self.output_dim);
        for src in 0..self.units {
            for dst in 0..self.units {
                if src != dst || self.self_connections {
                    wiring.set_synapse(src, dst, polarity_two_thirds(&mut rng));
                }
            }
        }
        for src in 0..input_dim {
            for dst in 0..self.units {
                wiring.set_sensory_synapse(src, dst, polarity_two_thirds(&mut rng));
            }
        }
        Ok(wiring.with_spec(Builder::FullyConnected(self.clone()), input_dim))
    }
}

/// `round(units² · (1 − sparsity))` distinct random synapses (self-loops allowed) and
/// `round(input_dim · units · (1 − sparsity))` sensory ones, each excitatory with probability
/// 2/3. (ncps draws every sensory polarity twice and keeps the second; we draw once.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Random {
    /// Neurons.
    pub units: usize,
    /// Motor neurons, `1..=units`.
    pub output_dim: usize,
    /// Fraction of absent synapses, in `[0, 1)`.
    pub sparsity: f64,
    /// Seed of the graph (ncps's default 1111).
    pub seed: u64,
}

impl Random {
    /// `units` neurons, all motor, sparsity 0, seed 1111 (ncps's defaults).
    pub fn new(units: usize, sparsity: f64) -> Self {
        Self {
            units,
            output_dim: units,
            sparsity,
            seed: 1111,
        }
    }

    /// Checks the configuration.
    pub fn validate(&self) -> Result<(), WiringError> {
        check_units_outputs("Random", self.units, self.output_dim)?;
        if !(0.0..1.0).contains(&self.sparsity) {
            return Err(WiringError::Sparsity {
                builder: "Random",
                value: self.sparsity,
                valid: "[0, 1)",
            });
        }
        Ok(())
    }

    /// Builds the graph for `input_dim` inputs.
    pub fn build(&self, input_dim: usize) -> Result<Wiring, WiringError> {
        self.validate()?;
        check_input_dim("Random", input_dim)?;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let n = self.units;
        let mut wiring = Wiring::empty(n, input_dim, self.output_dim);
        let density = 1.0 - self.sparsity;
        let count = ((n * n) as f64 * density).round() as usize;
        for index in sample(&mut rng, n * n, count.min(n * n)) {
            let polarity = polarity_two_thirds(&mut rng);
            wiring.set_synapse(index / n, index % n, polarity);
        }
        let count = ((input_dim * n) as f64 * density).round() as usize;
        for index in sample(&mut rng, input_dim * n, count.min(input_dim * n)) {
            let polarity = polarity_two_thirds(&mut rng);
            wiring.set_sensory_synapse(index / n, index % n, polarity);
        }
        Ok(wiring.with_spec(Builder::Random(self.clone()), input_dim))
    }
}

/// A Neural Circuit Policy: sensory → inter → command (with recurrence) → motor, each synapse
/// excitatory with probability 1/2.
///
/// Neuron ids: motor `0..M`, command `M..M+C`, inter `M+C..N`; layers are returned input side
/// first (inter, command, motor). The build follows ncps's four stages: every input feeds
/// `sensory_fanout` distinct inter neurons (inter neurons left without input get sources);
/// every inter neuron feeds `inter_fanout` distinct command neurons (likewise); then
/// `recurrent_command_synapses` command → command draws with replacement; every motor neuron
/// gets `motor_fanin` distinct command sources (command neurons left without a target get some).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ncp {
    /// Inter neurons (first layer).
    pub inter: usize,
    /// Command neurons (second layer).
    pub command: usize,
    /// Motor neurons (outputs).
    pub motor: usize,
    /// Inter neurons each input feeds, `≤ inter`.
    pub sensory_fanout: usize,
    /// Command neurons each inter neuron feeds, `≤ command`.
    pub inter_fanout: usize,
    /// Command → command draws (duplicates and self-loops can make the count lower).
    pub recurrent_command_synapses: usize,
    /// Command sources of each motor neuron, `≤ command`.
    pub motor_fanin: usize,
    /// Seed of the graph (ncps's default 22222).
    pub seed: u64,
}

impl Ncp {
    /// Checks the configuration.
    pub fn validate(&self) -> Result<(), WiringError> {
        for (param, value) in [
            ("inter", self.inter),
            ("command", self.command),
            ("motor", self.motor),
        ] {
            if value == 0 {
                return Err(WiringError::Zero {
                    builder: "Ncp",
                    param,
                });
            }
            check_size("Ncp", param, value)?;
        }
        let units = self.units();
        check_size("Ncp", "inter + command + motor", units)?;
        if self.recurrent_command_synapses > units * units {
            return Err(WiringError::TooLarge {
                builder: "Ncp",
                param: "recurrent_command_synapses",
                value: self.recurrent_command_synapses,
                max: units * units,
            });
        }
        for (param, value, layer, available) in [
            ("sensory_fanout", self.sensory_fanout, "inter", self.inter),
            ("inter_fanout", self.inter_fanout, "command", self.command),
            ("motor_fanin", self.motor_fanin, "command", self.command),
        ] {
            if value > available {
                return Err(WiringError::FanoutExceedsLayer {
                    builder: "Ncp",
                    param,
                    value,
                    layer,
                    available,
                });
            }
        }
        Ok(())
    }

    /// Neurons in all: `inter + command + motor`.
    pub fn units(&self) -> usize {
        self.inter
            .saturating_add(self.command)
            .saturating_add(self.motor)
    }

    /// Builds the graph for `input_dim` inputs.
    pub fn build(&self, input_dim: usize) -> Result<Wiring, WiringError> {
        self.validate()?;
        check_input_dim("Ncp", input_dim)?;
        let wiring = self.build_graph(input_dim);
        Ok(wiring.with_spec(Builder::Ncp(self.clone()), input_dim))
    }

    fn build_graph(&self, input_dim: usize) -> Wiring {
        let (m, c, i) = (self.motor, self.command, self.inter);
        let motor: Vec<usize> = (0..m).collect();
        let command: Vec<usize> = (m..m + c).collect();
        let inter: Vec<usize> = (m + c..m + c + i).collect();
        let mut w = Wiring::empty(m + c + i, input_dim, m);
        for &n in &command {
            w.neuron_types[n] = NeuronType::Command;
        }
        w.layers = vec![inter.clone(), command.clone(), motor.clone()];
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let sensory: Vec<usize> = (0..input_dim).collect();
        // How many sources a neuron left without input gets: clip(int(a·b/c), 1, max).
        let backfill = |a: usize, b: usize, c: usize, max: usize| ((a * b) / c).clamp(1, max);

        // 1. sensory → inter
        let sensory_edges = Edges {
            exists: |w: &Wiring, s, d| w.sensory_synapse(s, d).is_some(),
            set: |w: &mut Wiring, s, d, p| w.set_sensory_synapse(s, d, p),
        };
        let k = backfill(input_dim, self.sensory_fanout, i, input_dim);
        sensory_edges.connect(&mut w, &mut rng, &sensory, &inter, self.sensory_fanout, k);
        // 2. inter → command
        let forward = Edges {
            exists: |w: &Wiring, s, d| w.synapse(s, d).is_some(),
            set: |w: &mut Wiring, s, d, p| w.set_synapse(s, d, p),
        };
        let k = backfill(i, self.inter_fanout, c, i);
        forward.connect(&mut w, &mut rng, &inter, &command, self.inter_fanout, k);
        // 3. command → command, with replacement
        for _ in 0..self.recurrent_command_synapses {
            let src = command[rng.random_range(0..c)];
            let dst = command[rng.random_range(0..c)];
            let p = polarity_half(&mut rng);
            w.set_synapse(src, dst, p);
        }
        // 4. command → motor: every motor neuron draws its command sources (the edges of
        // stages 1–2 reversed), then command neurons without a motor target get some.
        let backward = Edges {
            exists: |w: &Wiring, motor, command| w.synapse(command, motor).is_some(),
            set: |w: &mut Wiring, motor, command, p| w.set_synapse(command, motor, p),
        };
        let k = backfill(m, self.motor_fanin, c, m);
        backward.connect(&mut w, &mut rng, &motor, &command, self.motor_fanin, k);
        w
    }
}

/// How one NCP stage reads and writes its edges `(a, b)`: sensory or neuron synapses, forward
/// or reversed.
struct Edges<E, S> {
    exists: E,
    set: S,
}

impl<E, S> Edges<E, S>
where
    E: Fn(&Wiring, usize, usize) -> bool,
    S: Fn(&mut Wiring, usize, usize, i8),
{
    /// Every `a` of `from` gets edges to `fanout` distinct random `b`s of `to`; then every `b`
    /// left without an edge gets edges from `backfill` distinct random `a`s. One polarity draw
    /// per edge, in that order (ncps's order).
    fn connect(
        &self,
        w: &mut Wiring,
        rng: &mut ChaCha8Rng,
        from: &[usize],
        to: &[usize],
        fanout: usize,
        backfill: usize,
    ) {
        let pick = |rng: &mut ChaCha8Rng, among: &[usize], k: usize| -> Vec<usize> {
            sample(rng, among.len(), k.min(among.len()))
                .into_iter()
                .map(|j| among[j])
                .collect()
        };
        for &a in from {
            for b in pick(rng, to, fanout) {
                let p = polarity_half(rng);
                (self.set)(w, a, b, p);
            }
        }
        for &b in to {
            if from.iter().all(|&a| !(self.exists)(w, a, b)) {
                for a in pick(rng, from, backfill) {
                    let p = polarity_half(rng);
                    (self.set)(w, a, b, p);
                }
            }
        }
    }
}

/// An [`Ncp`] whose layer sizes and fan-outs are derived from `units`, `output_size` and
/// `sparsity` exactly as ncps's `AutoNCP` derives them (f64 arithmetic, truncation):
///
/// ```text
/// density = 1 − sparsity;  ic = units − output_size
/// command = max(⌊0.4·ic⌋, 1);  inter = ic − command
/// sensory_fanout = max(⌊inter·density⌋, 1);  inter_fanout = max(⌊command·density⌋, 1)
/// recurrent_command_synapses = max(⌊command·density·2⌋, 1);  motor_fanin = max(⌊command·density⌋, 1)
/// ```
///
/// ```
/// let ncp = ltc_wirings::AutoNcp::new(64, 8).to_ncp()?;
/// assert_eq!((ncp.inter, ncp.command, ncp.motor), (34, 22, 8));
/// assert_eq!((ncp.sensory_fanout, ncp.inter_fanout, ncp.motor_fanin), (17, 11, 11));
/// # Ok::<(), ltc_wirings::WiringError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoNcp {
    /// Neurons in all.
    pub units: usize,
    /// Motor neurons, `1..=units − 3`.
    pub output_size: usize,
    /// In `[0.1, 1]` (ncps's range).
    pub sparsity: f64,
    /// Seed of the graph (ncps's default 22222).
    pub seed: u64,
}

impl AutoNcp {
    /// `units` neurons, `output_size` of them motor, sparsity 0.5, seed 22222 (ncps's defaults).
    pub fn new(units: usize, output_size: usize) -> Self {
        Self {
            units,
            output_size,
            sparsity: 0.5,
            seed: 22222,
        }
    }

    /// Checks the configuration.
    pub fn validate(&self) -> Result<(), WiringError> {
        if self.units == 0 {
            return Err(WiringError::Zero {
                builder: "AutoNcp",
                param: "units",
            });
        }
        check_size("AutoNcp", "units", self.units)?;
        // ncps requires output_size < units − 2 (one inter and at least one command neuron).
        if self.output_size == 0 || self.output_size.saturating_add(2) >= self.units {
            return Err(WiringError::OutputDim {
                builder: "AutoNcp",
                output_dim: self.output_size,
                units: self.units,
                max: self.units.saturating_sub(3),
            });
        }
        if !(0.1..=1.0).contains(&self.sparsity) {
            return Err(WiringError::Sparsity {
                builder: "AutoNcp",
                value: self.sparsity,
                valid: "[0.1, 1]",
            });
        }
        Ok(())
    }

    /// The [`Ncp`] this derives.
    pub fn to_ncp(&self) -> Result<Ncp, WiringError> {
        self.validate()?;
        let density = 1.0 - self.sparsity;
        let ic = (self.units - self.output_size) as f64;
        let command = ((0.4 * ic) as usize).max(1);
        let inter = self.units - self.output_size - command;
        let at_least_one = |x: f64| (x as usize).max(1);
        Ok(Ncp {
            inter,
            command,
            motor: self.output_size,
            sensory_fanout: at_least_one(inter as f64 * density),
            inter_fanout: at_least_one(command as f64 * density),
            recurrent_command_synapses: at_least_one(command as f64 * density * 2.0),
            motor_fanin: at_least_one(command as f64 * density),
            seed: self.seed,
        })
    }

    /// Builds the graph for `input_dim` inputs.
    pub fn build(&self, input_dim: usize) -> Result<Wiring, WiringError> {
        let ncp = self.to_ncp()?;
        check_input_dim("AutoNcp", input_dim)?;
        let wiring = ncp.build_graph(input_dim);
        Ok(wiring.with_spec(Builder::AutoNcp(self.clone()), input_dim))
    }
}

/// Any of the builders, as stored with a wiring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum Builder {
    /// [`FullyConnected`].
    FullyConnected(FullyConnected),
    /// [`Random`].
    Random(Random),
    /// [`Ncp`].
    Ncp(Ncp),
    /// [`AutoNcp`].
    AutoNcp(AutoNcp),
}

impl Builder {
    /// Builds the graph for `input_dim` inputs.
    pub fn build(&self, input_dim: usize) -> Result<Wiring, WiringError> {
        match self {
            Self::FullyConnected(b) => b.build(input_dim),
            Self::Random(b) => b.build(input_dim),
            Self::Ncp(b) => b.build(input_dim),
            Self::AutoNcp(b) => b.build(input_dim),
        }
    }
}

/// How a wiring was made: the builder and the input width.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WiringSpec {
    /// The builder.
    pub builder: Builder,
    /// The input width it was built for.
    pub input_dim: usize,
}
