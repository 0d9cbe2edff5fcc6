//! Pictures of wirings as SVG: no Python, no Graphviz, no font files (the viewer renders the
//! text).

use crate::wiring::{NeuronType, Wiring};

const RADIUS: f64 = 11.0;
/// Six legend entries of 95 px from x = 20.
const LEGEND_WIDTH: f64 = 20.0 + 95.0 * 6.0;
const SENSORY: &str = "#bcbd22";
const EXCITATORY: &str = "#2ca02c";
const INHIBITORY: &str = "#d62728";

fn fill(t: NeuronType) -> &'static str {
    match t {
        NeuronType::Inter => "#1f77b4",
        NeuronType::Command => "#9467bd",
        NeuronType::Motor => "#ff7f0e",
    }
}

/// Where each node goes: sensory inputs and neurons, in picture coordinates.
struct Layout {
    sensory: Vec<(f64, f64)>,
    neurons: Vec<(f64, f64)>,
    width: f64,
    height: f64,
    /// Column titles: (x, text).
    titles: Vec<(f64, String)>,
}

fn column(count: usize, x: f64, top: f64, height: f64) -> Vec<(f64, f64)> {
    let step = height / count.max(1) as f64;
    (0..count)
        .map(|i| (x, top + step * (i as f64 + 0.5)))
        .collect()
}

fn layout(w: &Wiring) -> Layout {
    let spacing = 3.2 * RADIUS;
    let top = 70.0;
    let tallest = (0..w.num_layers())
        .map(|l| w.layer(l).len())
        .chain([w.input_dim()])
        .max()
        .unwrap_or(1);
    if w.num_layers() > 1 {
        // Columns, input side first: sensory, then every layer.
        let height = tallest as f64 * spacing;
        let gap = 170.0;
        let mut titles = vec![(60.0, format!("sensory ({})", w.input_dim()))];
        let sensory = column(w.input_dim(), 60.0, top, height);
        let mut neurons = vec![(0.0, 0.0); w.units()];
        for l in 0..w.num_layers() {
            let x = 60.0 + gap * (l + 1) as f64;
            let ids = w.layer(l);
            for (&id, pos) in ids.iter().zip(column(ids.len(), x, top, height)) {
                neurons[id] = pos;
            }
            let name = ids.first().map_or("empty", |&n| w.neuron_type(n).name());
            titles.push((x, format!("{name} ({})", ids.len())));
        }
        Layout {
            sensory,
            neurons,
            width: 120.0 + gap * w.num_layers() as f64,
            height: top + height + 20.0,
            titles,
        }
    } else {
        // Sensory column on the left, the neurons on a circle.
        let r = (w.units() as f64 * spacing / std::f64::consts::TAU).max(3.0 * RADIUS);
        let height = (2.0 * r + 4.0 * RADIUS).max(w.input_dim() as f64 * spacing);
        let (cx, cy) = (60.0 + 150.0 + r, top + height / 2.0);
        let neurons = (0..w.units())
            .map(|i| {
                let a = std::f64::consts::TAU * i as f64 / w.units() as f64
                    - std::f64::consts::FRAC_PI_2;
                (cx + r * a.cos(), cy + r * a.sin())
            })
            .collect();
        Layout {
            sensory: column(w.input_dim(), 60.0, top, height),
            neurons,
            width: cx + r + 60.0,
            height: top + height + 20.0,
            titles: vec![
                (60.0, format!("sensory ({})", w.input_dim())),
                (
                    cx,
                    format!("neurons ({}, {} motor)", w.units(), w.output_dim()),
                ),
            ],
        }
    }
}

/// A line from `a` to `b`, shortened to end on the circles' rims, with an arrow head.
fn edge(out: &mut String, a: (f64, f64), b: (f64, f64), polarity: i8) {
    let (colour, marker) = if polarity > 0 {
        (EXCITATORY, "exc")
    } else {
        (INHIBITORY, "inh")
    };
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len = (dx * dx + dy * dy).sqrt();
    if len < 1e-9 {
        // A self-loop: a small circle above the neuron.
        out.push_str(&format!(
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{:.1}\" fill=\"none\" stroke=\"{colour}\" stroke-opacity=\"0.7\"/>\n",
            a.0,
            a.1 - RADIUS * 1.5,
            RADIUS * 0.7
        ));
        return;
    }
    let (ux, uy) = (dx / len, dy / len);
    let (x1, y1) = (a.0 + ux * RADIUS, a.1 + uy * RADIUS);
    let (x2, y2) = (b.0 - ux * (RADIUS + 2.0), b.1 - uy * (RADIUS + 2.0));
    out.push_str(&format!(
        "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"{colour}\" stroke-opacity=\"0.55\" marker-end=\"url(#{marker})\"/>\n"
    ));
}

fn node(out: &mut String, (x, y): (f64, f64), colour: &str, label: &str, kind: &str) {
    out.push_str(&format!(
        "<g class=\"{kind}\"><circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{RADIUS}\" fill=\"{colour}\" stroke=\"#333\"/>\
         <text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"9\" text-anchor=\"middle\" fill=\"white\">{label}</text></g>\n",
        y + 3.0
    ));
}

impl Wiring {
    /// An SVG picture: sensory inputs and neurons coloured by type (sensory olive, inter blue,
    /// command purple, motor orange), synapses by polarity (excitatory green, inhibitory red),
    /// laid out by layer (sensory → inter → command → motor) for NCP wirings and as a circle
    /// for unlayered ones. Each node is a `<g class="sensory|inter|command|motor">`.
    ///
    /// ```
    /// let svg = ltc_wirings::AutoNcp::new(16, 2).build(3)?.to_svg();
    /// assert!(svg.starts_with("<svg"));
    /// assert_eq!(svg.matches("class=\"command\"").count(), 5);
    /// # Ok::<(), ltc_wirings::WiringError>(())
    /// ```
    pub fn to_svg(&self) -> String {
        let mut l = layout(self);
        l.width = l.width.max(LEGEND_WIDTH);
        let mut out = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0}\" height=\"{:.0}\" viewBox=\"0 0 {:.0} {:.0}\" font-family=\"sans-serif\">\n",
            l.width, l.height, l.width, l.height
        );
        out.push_str("<defs>\n");
        for (id, colour) in [("exc", EXCITATORY), ("inh", INHIBITORY)] {
            out.push_str(&format!(
                "<marker id=\"{id}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"{colour}\"/></marker>\n"
            ));
        }
        out.push_str("</defs>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        // Legend.
        let legend = [
            ("sensory", SENSORY),
            ("inter", fill(NeuronType::Inter)),
            ("command", fill(NeuronType::Command)),
            ("motor", fill(NeuronType::Motor)),
            ("excitatory", EXCITATORY),
            ("inhibitory", INHIBITORY),
        ];
        for (i, (name, colour)) in legend.iter().enumerate() {
            let x = 20.0 + 95.0 * i as f64;
            out.push_str(&format!(
                "<rect x=\"{x:.0}\" y=\"12\" width=\"12\" height=\"12\" fill=\"{colour}\"/><text x=\"{:.0}\" y=\"22\" font-size=\"12\">{name}</text>\n",
                x + 16.0
            ));
        }
        for (x, title) in &l.titles {
            out.push_str(&format!(
                "<text x=\"{x:.1}\" y=\"52\" font-size=\"13\" text-anchor=\"middle\">{title}</text>\n"
            ));
        }
        for s in 0..self.input_dim() {
            for d in 0..self.units() {
                if let Some(p) = self.sensory_synapse(s, d) {
                    edge(&mut out, l.sensory[s], l.neurons[d], p);
                }
            }
        }
        for s in 0..self.units() {
            for d in 0..self.units() {
                if let Some(p) = self.synapse(s, d) {
                    edge(&mut out, l.neurons[s], l.neurons[d], p);
                }
            }
        }
        for (s, &pos) in l.sensory.iter().enumerate() {
            node(&mut out, pos, SENSORY, &format!("s{s}"), "sensory");
        }
        for (n, &pos) in l.neurons.iter().enumerate() {
            let t = self.neuron_type(n);
            node(&mut out, pos, fill(t), &n.to_string(), t.name());
        }
        out.push_str("</svg>\n");
        out
    }

    /// One line per layer, input side first, e.g.
    /// `inter: 9 neurons, 22 synapses in from sensory, 18 out`.
    pub fn layer_summary(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "sensory: {} inputs, {} synapses out",
            self.input_dim(),
            self.sensory_synapse_count()
        )];
        let fan_in = self.fan_in();
        let fan_out = self.fan_out();
        let sensory_in = self.sensory_fan_in();
        for l in 0..self.num_layers() {
            let ids = self.layer(l);
            let name = ids.first().map_or("empty", |&n| self.neuron_type(n).name());
            let from_inputs: usize = ids.iter().map(|&n| sensory_in[n]).sum();
            let incoming: usize = ids.iter().map(|&n| fan_in[n]).sum();
            let outgoing: usize = ids.iter().map(|&n| fan_out[n]).sum();
            lines.push(format!(
                "{name}: {} neurons, {from_inputs} synapses in from sensory, {incoming} in from neurons, {outgoing} out",
                ids.len()
            ));
        }
        lines
    }
}

#[cfg(test)]
mod tests;
