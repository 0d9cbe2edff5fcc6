//! Property tests over random inputs: thousands of random builder configs and mangled wiring
//! JSON. Every case either gives a valid graph or a typed error; none panics. (Seeded, so a
//! failure names a case that reproduces.)

use ltc_wirings::{AutoNcp, Builder, FullyConnected, MAX_UNITS, Ncp, Random, Wiring, WiringError};

/// splitmix64: a small, seedable generator (no dependency, the same sequence everywhere).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Mostly small sizes, sometimes zero, sometimes past the limit or absurd.
    fn size(&mut self) -> usize {
        match self.below(20) {
            0 => 0,
            1 => MAX_UNITS + 1 + self.below(1000) as usize,
            2 => usize::MAX - self.below(3) as usize,
            _ => self.below(24) as usize + 1,
        }
    }

    fn sparsity(&mut self) -> f64 {
        const SPECIAL: [f64; 10] = [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.1,
            0.0,
            0.1,
            0.999_999,
            1.0,
            1.5,
            -0.0,
        ];
        if self.below(3) == 0 {
            SPECIAL[self.below(SPECIAL.len() as u64) as usize]
        } else {
            self.below(1_000_001) as f64 / 1e6
        }
    }
}

/// A random builder of any kind.
fn builder(rng: &mut Rng) -> Builder {
    match rng.below(4) {
        0 => Builder::FullyConnected(FullyConnected {
            units: rng.size(),
            output_dim: rng.size(),
            self_connections: rng.below(2) == 0,
            seed: rng.next(),
        }),
        1 => Builder::Random(Random {
            units: rng.size(),
            output_dim: rng.size(),
            sparsity: rng.sparsity(),
            seed: rng.next(),
        }),
        2 => Builder::Ncp(Ncp {
            inter: rng.size(),
            command: rng.size(),
            motor: rng.size(),
            sensory_fanout: rng.size(),
            inter_fanout: rng.size(),
            recurrent_command_synapses: if rng.below(10) == 0 {
                usize::MAX
            } else {
                rng.below(60) as usize
            },
            motor_fanin: rng.size(),
            seed: rng.next(),
        }),
        _ => Builder::AutoNcp(AutoNcp {
            units: rng.size().saturating_add(rng.below(40) as usize),
            output_size: rng.size(),
            sparsity: rng.sparsity(),
            seed: rng.next(),
        }),
    }
}

/// What every valid wiring satisfies.
fn check_graph(wiring: &Wiring, input_dim: usize, case: &str) {
    let n = wiring.units();
    assert!((1..=MAX_UNITS).contains(&n), "{case}: units {n}");
    assert_eq!(wiring.input_dim(), input_dim, "{case}");
    assert!(
        (1..=n).contains(&wiring.output_dim()),
        "{case}: {} outputs of {n}",
        wiring.output_dim()
    );
    assert_eq!(wiring.adjacency().len(), n * n, "{case}");
    assert_eq!(wiring.sensory_adjacency().len(), input_dim * n, "{case}");
    let polarity = |&p: &i8| (-1..=1).contains(&p);
    assert!(wiring.adjacency().iter().all(polarity), "{case}");
    assert!(wiring.sensory_adjacency().iter().all(polarity), "{case}");
    let count = wiring.adjacency().iter().filter(|&&p| p != 0).count();
    assert_eq!(wiring.synapse_count(), count, "{case}");
    // Every neuron in exactly one layer.
    let mut seen = vec![0usize; n];
    for layer in 0..wiring.num_layers() {
        for &i in wiring.layer(layer) {
            seen[i] += 1;
        }
    }
    assert!(seen.iter().all(|&c| c == 1), "{case}: layers {seen:?}");
    // The record round-trips and regenerates the same graph from its spec.
    let json = serde_json::to_string(wiring).unwrap();
    let back: Wiring = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{case}: {e}"));
    assert_eq!(&back, wiring, "{case}");
}

/// 4000 random configs of the four builders with random input widths, a quarter of them
/// outside the valid ranges (zero, past [`MAX_UNITS`], `usize::MAX`, NaN and infinite
/// sparsities): each builds a valid graph or returns a [`WiringError`] whose message names the
/// builder; nothing panics, overflows or allocates past the limit.
#[test]
fn random_builder_configs_give_graphs_or_typed_errors() {
    let mut rng = Rng(0x5EED_0001);
    let (mut built, mut refused) = (0, 0);
    for case in 0..4000 {
        let builder = builder(&mut rng);
        let input_dim = rng.size();
        let name = format!("case {case}: {builder:?}, input_dim {input_dim}");
        match builder.build(input_dim) {
            Ok(wiring) => {
                check_graph(&wiring, input_dim, &name);
                // The spec it carries regenerates it.
                let spec = wiring.spec().expect("a built wiring has its spec");
                assert_eq!(
                    spec.builder.build(spec.input_dim).unwrap(),
                    wiring,
                    "{name}"
                );
                built += 1;
            }
            Err(err) => {
                let kind = match &builder {
                    Builder::FullyConnected(_) => "FullyConnected",
                    Builder::Random(_) => "Random",
                    Builder::Ncp(_) => "Ncp",
                    Builder::AutoNcp(_) => "AutoNcp",
                };
                let message = err.to_string();
                assert!(message.contains(kind), "{name}: {message}");
                assert!(
                    !matches!(err, WiringError::Record { .. }),
                    "{name}: {message}"
                );
                refused += 1;
            }
        }
    }
    // Both outcomes are exercised in earnest.
    assert!(
        built > 1000 && refused > 1000,
        "built {built}, refused {refused}"
    );
}

/// One random edit of a JSON text: truncate it, drop or replace a byte, or put a random token
/// (huge, negative, fractional or NaN-like numbers, strings, nulls, brackets) somewhere.
fn mangle(json: &str, rng: &mut Rng) -> String {
    const TOKENS: [&str; 14] = [
        "1e400",
        "-1",
        "0.5",
        "NaN",
        "\"NaN\"",
        "null",
        "18446744073709551616",
        "99999999999",
        "[]",
        "{}",
        "\"x\"",
        "]",
        "2",
        ",",
    ];
    let mut bytes = json.as_bytes().to_vec();
    let at = rng.below(bytes.len() as u64 + 1) as usize;
    match rng.below(4) {
        0 => bytes.truncate(at),
        1 if at < bytes.len() => {
            bytes.remove(at);
        }
        2 if at < bytes.len() => bytes[at] = b" -019[]{},:\"ex."[rng.below(15) as usize],
        _ => {
            let token = TOKENS[rng.below(TOKENS.len() as u64) as usize];
            bytes.splice(at..at, token.bytes());
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// 3000 wiring records mangled at random (one to three edits each) and 1000 whose numbers are
/// replaced by random values at random places in the JSON tree: each either loads as a graph
/// that satisfies every invariant or is a serde error; nothing panics.
#[test]
fn mangled_wiring_records_load_or_fail_cleanly() {
    let mut rng = Rng(0x5EED_0002);
    let wirings: Vec<Wiring> = vec![
        FullyConnected::new(5).build(3).unwrap(),
        Random::new(6, 0.5).build(2).unwrap(),
        AutoNcp::new(9, 2).build(3).unwrap(),
        Ncp {
            inter: 3,
            command: 2,
            motor: 1,
            sensory_fanout: 2,
            inter_fanout: 1,
            recurrent_command_synapses: 3,
            motor_fanin: 2,
            seed: 7,
        }
        .build(2)
        .unwrap(),
    ];
    let texts: Vec<String> = wirings
        .iter()
        .map(|w| serde_json::to_string(w).unwrap())
        .collect();
    let (mut loaded, mut refused) = (0, 0);
    for case in 0..3000 {
        let mut text = texts[case % texts.len()].clone();
        for _ in 0..=rng.below(3) {
            text = mangle(&text, &mut rng);
        }
        match serde_json::from_str::<Wiring>(&text) {
            Ok(wiring) => {
                check_graph(&wiring, wiring.input_dim(), &format!("case {case}: {text}"));
                loaded += 1;
            }
            Err(err) => {
                assert!(!err.to_string().is_empty());
                refused += 1;
            }
        }
    }
    for case in 0..1000 {
        let mut value = serde_json::to_value(&wirings[case % wirings.len()]).unwrap();
        replace_random_number(&mut value, &mut rng);
        let text = value.to_string();
        match serde_json::from_value::<Wiring>(value) {
            Ok(wiring) => {
                check_graph(
                    &wiring,
                    wiring.input_dim(),
                    &format!("value {case}: {text}"),
                );
                loaded += 1;
            }
            Err(_) => refused += 1,
        }
    }
    assert!(
        loaded > 100 && refused > 2000,
        "loaded {loaded}, refused {refused}"
    );
}

/// How many numbers `value` holds.
fn count_numbers(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Number(_) => 1,
        serde_json::Value::Array(items) => items.iter().map(count_numbers).sum(),
        serde_json::Value::Object(map) => map.values().map(count_numbers).sum(),
        _ => 0,
    }
}

/// Sets the `target`-th number (depth first) of `value` to `to`; true once done.
fn set_number(value: &mut serde_json::Value, target: &mut usize, to: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Number(_) if *target == 0 => {
            *value = to.clone();
            true
        }
        serde_json::Value::Number(_) => {
            *target -= 1;
            false
        }
        serde_json::Value::Array(items) => items.iter_mut().any(|v| set_number(v, target, to)),
        serde_json::Value::Object(map) => map.values_mut().any(|v| set_number(v, target, to)),
        _ => false,
    }
}

/// Replaces one number of `value`, chosen at random, by a random one.
fn replace_random_number(value: &mut serde_json::Value, rng: &mut Rng) {
    let replacement = match rng.below(6) {
        0 => serde_json::Value::from(-1),
        1 => serde_json::Value::from(u64::MAX),
        2 => serde_json::Value::from(0),
        3 => serde_json::Value::from(2.5),
        4 => serde_json::Value::from(rng.below(40)),
        _ => serde_json::Value::from(3),
    };
    let mut target = rng.below(count_numbers(value) as u64) as usize;
    set_number(value, &mut target, &replacement);
}
