use super::*;

/// The blob's centre of mass moves in the labelled direction, by `speed` per frame, and
/// stays inside the frame; classes are balanced; items are reproducible.
#[test]
fn blobs_move_in_the_labelled_direction() {
    let config = MovingBlobsConfig::new().with_noise(0.0);
    let data = MovingBlobs::new(config.clone(), 40, 9).unwrap();
    let s = config.size;
    let mut counts = [0; 4];
    for i in 0..data.len() {
        let item = data.get(i).unwrap();
        assert_eq!(data.get(i).unwrap(), item);
        counts[item.label] += 1;
        let centre = |f: usize| {
            let frame = &item.pixels[f * s * s..(f + 1) * s * s];
            let total: f64 = frame.iter().map(|&p| f64::from(p)).sum();
            let (mut x, mut y) = (0.0, 0.0);
            for (k, &p) in frame.iter().enumerate() {
                x += (k % s) as f64 * f64::from(p);
                y += (k / s) as f64 * f64::from(p);
            }
            (x / total, y / total)
        };
        let (x0, y0) = centre(0);
        let (x1, y1) = centre(config.frames - 1);
        let travel = config.speed * (config.frames - 1) as f64;
        let (dx, dy) = [(travel, 0.0), (-travel, 0.0), (0.0, travel), (0.0, -travel)][item.label];
        // Truncation at the border pulls the centre of mass in a little.
        assert!((x1 - x0 - dx).abs() < 0.5, "item {i}: Δx {}", x1 - x0);
        assert!((y1 - y0 - dy).abs() < 0.5, "item {i}: Δy {}", y1 - y0);
    }
    assert_eq!(counts, [10; 4]);
}

#[test]
fn bad_configs_name_the_field() {
    let err = MovingBlobsConfig::new()
        .with_speed(2.0)
        .validate()
        .unwrap_err();
    assert!(
        err.to_string().contains("MovingBlobsConfig.speed = 2"),
        "{err}"
    );
    let err = MovingBlobsConfig::new()
        .with_size(2)
        .validate()
        .unwrap_err();
    assert!(
        err.to_string().contains("MovingBlobsConfig.radius"),
        "{err}"
    );
    let err = MovingBlobs::new(MovingBlobsConfig::new(), 0, 1).unwrap_err();
    assert!(err.to_string().contains("MovingBlobs.len = 0"), "{err}");
}
