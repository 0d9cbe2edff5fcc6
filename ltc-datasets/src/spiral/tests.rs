use super::*;
use burn::data::dataset::Dataset;

#[test]
fn radius_grows_and_windows_split_cleanly() {
    let spiral = Spiral::new(&SpiralConfig::new().with_num_points(200).with_seq_len(10)).unwrap();
    let t = spiral.trajectory();
    let radius: Vec<f64> = t
        .chunks(2)
        .map(|p| f64::from(p[0]).hypot(f64::from(p[1])))
        .collect();
    assert!(radius.windows(2).all(|w| w[1] > w[0]), "radius must grow");
    assert!((radius[199] - 1.0).abs() < 1e-6);
    let (train, valid) = (spiral.train(), spiral.valid());
    assert_eq!(train.len() + valid.len(), 190);
    assert_eq!(valid.len(), 38); // round(190 · 0.2)
    // Disjoint: every window appears once, identified by its first input point.
    let mut firsts: Vec<(u32, u32)> = (0..train.len())
        .map(|i| train.get(i).unwrap())
        .chain((0..valid.len()).map(|i| valid.get(i).unwrap()))
        .map(|w| (w.inputs[0].to_bits(), w.inputs[1].to_bits()))
        .collect();
    firsts.sort_unstable();
    firsts.dedup();
    assert_eq!(firsts.len(), 190);
    // Targets are the inputs shifted by one point.
    let w = train.get(0).unwrap();
    assert_eq!(&w.inputs[2..], &w.targets[..w.targets.len() - 2]);
}

#[test]
fn seeded_noise() {
    let config = SpiralConfig::new()
        .with_num_points(100)
        .with_noise(5.0)
        .with_seq_len(8);
    let a = Spiral::new(&config).unwrap();
    let b = Spiral::new(&config).unwrap();
    let c = Spiral::new(&config.clone().with_seed(1)).unwrap();
    assert_eq!(a.trajectory(), b.trajectory());
    assert_ne!(a.trajectory(), c.trajectory());
    assert!(Spiral::new(&SpiralConfig::new().with_num_points(10)).is_err()); // < seq_len + 1
}
