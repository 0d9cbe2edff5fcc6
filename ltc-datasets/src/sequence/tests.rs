use super::*;
use burn::backend::NdArray;

#[test]
fn items_follow_the_formula() {
    // With no noise and a fixed amplitude the sequence is a pure sine of the class's
    // frequency: x_{t+1} + x_{t-1} = 2 cos(2π f Δ) x_t for every t.
    let config = SineFrequencyConfig::new()
        .with_noise(0.0)
        .with_amplitude_min(1.0)
        .with_amplitude_max(1.0);
    let data = SineFrequencyDataset::new(config.clone(), 10, 1).unwrap();
    for i in 0..10 {
        let item = data.get(i).unwrap();
        let hz = if i % 2 == 0 {
            config.low_hz
        } else {
            config.high_hz
        };
        let k = 2.0 * (std::f64::consts::TAU * hz * config.sample_interval).cos();
        let x: Vec<f64> = item.inputs.iter().map(|&v| v as f64).collect();
        assert!(x.iter().all(|v| v.abs() <= 1.0 + 1e-6));
        for t in 1..x.len() - 1 {
            assert!(
                (x[t + 1] + x[t - 1] - k * x[t]).abs() < 1e-5,
                "item {i}, t {t}"
            );
        }
    }
}

#[test]
fn seeded_balanced_and_independent_of_length() {
    let a = SineFrequencyDataset::new(SineFrequencyConfig::new(), 50, 9).unwrap();
    let b = SineFrequencyDataset::new(SineFrequencyConfig::new(), 500, 9).unwrap();
    let c = SineFrequencyDataset::new(SineFrequencyConfig::new(), 50, 10).unwrap();
    assert_eq!(a.get(17), b.get(17));
    assert_ne!(a.get(17).unwrap().inputs, c.get(17).unwrap().inputs);
    assert_eq!(a.get(50), None);
    let ones = (0..50).filter(|&i| a.get(i).unwrap().label == 1).count();
    assert_eq!(ones, 25);
}

#[test]
fn noise_has_the_configured_spread() {
    // Difference between a noisy item and the same item without noise is σ·ε.
    let noisy =
        SineFrequencyDataset::new(SineFrequencyConfig::new().with_noise(0.5), 200, 3).unwrap();
    let clean =
        SineFrequencyDataset::new(SineFrequencyConfig::new().with_noise(0.0), 200, 3).unwrap();
    let mut sum_sq = 0.0;
    let mut n = 0.0;
    for i in 0..200 {
        for (a, b) in noisy
            .get(i)
            .unwrap()
            .inputs
            .iter()
            .zip(clean.get(i).unwrap().inputs)
        {
            sum_sq += ((a - b) as f64).powi(2);
            n += 1.0;
        }
    }
    let std = (sum_sq / n).sqrt();
    assert!((std - 0.5).abs() < 0.02, "noise std {std}");
}

#[test]
fn batcher_stacks_items() {
    let data = SineFrequencyDataset::new(SineFrequencyConfig::new().with_seq_len(5), 3, 1).unwrap();
    let items: Vec<_> = (0..3).map(|i| data.get(i).unwrap()).collect();
    let batch: SequenceClassificationBatch<NdArray> =
        SequenceClassificationBatcher.batch(items.clone(), &Default::default());
    assert_eq!(batch.inputs.dims(), [3, 5, 1]);
    let values: Vec<f32> = batch.inputs.into_data().to_vec().unwrap();
    assert_eq!(&values[5..10], &items[1].inputs[..]);
    let targets: Vec<i64> = batch.targets.into_data().convert::<i64>().to_vec().unwrap();
    assert_eq!(targets, vec![0, 1, 0]);
}

#[test]
#[should_panic(expected = "item 1 has shape [4, 1] (4 values), expected [5, 1]")]
fn batcher_rejects_ragged_items() {
    let item = |seq_len| SequenceItem {
        inputs: vec![0.0; seq_len],
        seq_len,
        features: 1,
        label: 0,
    };
    let _: SequenceClassificationBatch<NdArray> =
        SequenceClassificationBatcher.batch(vec![item(5), item(4)], &Default::default());
}

#[test]
fn config_errors_name_the_fix() {
    let err = |c: SineFrequencyConfig| c.validate().unwrap_err().to_string();
    assert_eq!(
        err(SineFrequencyConfig::new().with_seq_len(0)),
        "SineFrequencyConfig.seq_len = 0: must be at least 1"
    );
    assert_eq!(
        err(SineFrequencyConfig::new().with_high_hz(6.0)),
        "SineFrequencyConfig.high_hz = 6: must be a finite number > 0.5 and < 5"
    );
    assert_eq!(
        err(SineFrequencyConfig::new().with_noise(-1.0)),
        "SineFrequencyConfig.noise = -1: must be a finite number >= 0"
    );
    assert!(SineFrequencyDataset::new(SineFrequencyConfig::new(), 0, 1).is_err());
}
