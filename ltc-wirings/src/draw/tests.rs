use crate::{AutoNcp, FullyConnected};

#[test]
fn picture_holds_every_node_and_edge() {
    let w = AutoNcp::new(16, 2).build(3).unwrap();
    let svg = w.to_svg();
    for (class, count) in [("sensory", 3), ("inter", 9), ("command", 5), ("motor", 2)] {
        assert_eq!(
            svg.matches(&format!("class=\"{class}\"")).count(),
            count,
            "{class}"
        );
    }
    let self_loops = (0..16).filter(|&n| w.synapse(n, n).is_some()).count();
    assert_eq!(
        svg.matches("<line").count() + self_loops,
        w.synapse_count() + w.sensory_synapse_count()
    );
    assert!(svg.contains("inter (9)") && svg.contains("command (5)") && svg.contains("motor (2)"));
    assert!(svg.trim_end().ends_with("</svg>"));
}

#[test]
fn unlayered_wirings_are_drawn_as_a_circle() {
    let svg = FullyConnected::new(6).build(2).unwrap().to_svg();
    assert!(svg.contains("neurons (6, 6 motor)"));
    assert_eq!(svg.matches("class=\"motor\"").count(), 6);
}

#[test]
fn summary_has_one_line_per_layer() {
    let w = AutoNcp::new(16, 2).build(3).unwrap();
    let lines = w.layer_summary();
    assert_eq!(lines.len(), 4);
    assert!(lines[1].starts_with("inter: 9 neurons"), "{lines:?}");
    assert!(lines[2].starts_with("command: 5 neurons"), "{lines:?}");
    assert!(lines[3].starts_with("motor: 2 neurons"), "{lines:?}");
}
