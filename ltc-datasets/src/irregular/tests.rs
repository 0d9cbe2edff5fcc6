use super::*;

#[test]
fn targets_follow_the_formula_and_velocity_is_the_derivative() {
    let c = IrregularOscillatorConfig::new().with_noise(0.0);
    let data = IrregularOscillator::new(c.clone(), 10, 4).unwrap();
    for i in 0..10 {
        let item = data.get(i).unwrap();
        let (a, phase, times) = data.trajectory_of(i);
        let x = |t: f64| a * (-c.damping * t).exp() * (c.omega * t + phase).cos();
        let timespans = item.timespans.unwrap();
        let mut t = 0.0;
        for k in 0..c.seq_len {
            t += f64::from(timespans[k]);
            assert!((t - times[k]).abs() < 1e-4, "timespans add up to the times");
            assert!((f64::from(item.targets[2 * k]) - x(times[k])).abs() < 1e-6);
            assert_eq!(
                item.inputs[k],
                item.targets[2 * k],
                "no noise: input = position"
            );
            let h = 1e-5;
            let dx = (x(times[k] + h) - x(times[k] - h)) / (2.0 * h);
            assert!(
                (f64::from(item.targets[2 * k + 1]) - dx).abs() < 1e-5,
                "velocity"
            );
        }
    }
}

#[test]
fn noise_does_not_move_the_trajectory() {
    let clean =
        IrregularOscillator::new(IrregularOscillatorConfig::new().with_noise(0.0), 5, 8).unwrap();
    let noisy =
        IrregularOscillator::new(IrregularOscillatorConfig::new().with_noise(0.3), 5, 8).unwrap();
    let (a, b) = (clean.get(2).unwrap(), noisy.get(2).unwrap());
    assert_eq!(a.targets, b.targets);
    assert_eq!(a.timespans, b.timespans);
    assert_ne!(a.inputs, b.inputs);
    assert!(
        IrregularOscillator::new(IrregularOscillatorConfig::new().with_dt_max(0.01), 5, 8).is_err()
    );
}
