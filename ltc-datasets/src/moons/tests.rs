use super::*;
use burn::backend::NdArray;

#[test]
fn noiseless_moons_lie_on_their_circles() {
    let moons = Moons::new(101, 0.0, 3).unwrap();
    let (mut zeros, mut ones) = (0, 0);
    for i in 0..moons.len() {
        let PointItem {
            point: [x, y],
            label,
        } = moons.get(i).unwrap();
        let (x, y) = (f64::from(x), f64::from(y));
        let (cx, cy) = if label == 0 { (0.0, 0.0) } else { (1.0, 0.5) };
        assert!(((x - cx).hypot(y - cy) - 1.0).abs() < 1e-6, "point {i}");
        if label == 0 {
            assert!(y >= -1e-6);
            zeros += 1;
        } else {
            assert!(y <= 0.5 + 1e-6);
            ones += 1;
        }
    }
    assert_eq!((zeros, ones), (51, 50));
}

#[test]
fn seeded_and_batched() {
    let a = Moons::new(20, 0.2, 1).unwrap();
    assert_eq!(a.get(5), Moons::new(20, 0.2, 1).unwrap().get(5));
    assert_ne!(a.get(5), Moons::new(20, 0.2, 2).unwrap().get(5));
    let items: Vec<_> = (0..4).map(|i| a.get(i).unwrap()).collect();
    let batch: PointBatch<NdArray> = PointBatcher.batch(items, &Default::default());
    assert_eq!(batch.inputs.dims(), [4, 2]);
    assert_eq!(batch.targets.dims(), [4]);
    assert!(Moons::new(0, 0.1, 1).is_err());
    assert!(Moons::new(10, -0.1, 1).is_err());
}
