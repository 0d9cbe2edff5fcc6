use super::*;
use burn::backend::NdArray;

#[test]
fn labels_are_the_parity_and_events_encode_the_bits() {
    let data = EventXor::new(12, 300, 5).unwrap();
    let mut ones = 0;
    for i in 0..300 {
        let bits = data.bits_of(i);
        let item = data.get(i).unwrap();
        assert_eq!(item.label, bits.iter().filter(|&&b| b).count() % 2);
        ones += item.label;
        // Decoding the runs gives the bits back.
        let decoded: Vec<bool> = item
            .values
            .iter()
            .zip(&item.timespans)
            .flat_map(|(&v, &dt)| std::iter::repeat_n(v > 0.5, dt as usize))
            .collect();
        assert_eq!(decoded, bits);
        assert!(
            item.values.windows(2).all(|w| w[0] != w[1]),
            "runs are maximal"
        );
    }
    assert!((100..200).contains(&ones), "parity is balanced: {ones}/300");
    assert_eq!(data.get(300), None);
    assert!(EventXor::new(0, 3, 1).is_err());
}

#[test]
fn batcher_pads_and_masks() {
    let short = EventItem {
        values: vec![1.0],
        timespans: vec![4.0],
        label: 0,
    };
    let long = EventItem {
        values: vec![0.0, 1.0, 0.0],
        timespans: vec![1.0, 2.0, 1.0],
        label: 0,
    };
    let batch: EventBatch<NdArray> = EventBatcher.batch(vec![short, long], &Default::default());
    assert_eq!(batch.inputs.dims(), [2, 3, 1]);
    let mask: Vec<f32> = batch.mask.into_data().to_vec().unwrap();
    assert_eq!(mask, vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
    let timespans: Vec<f32> = batch.timespans.into_data().to_vec().unwrap();
    assert_eq!(timespans, vec![4.0, 0.0, 0.0, 1.0, 2.0, 1.0]);
}

#[test]
fn sine_quickstart_follows_the_formula() {
    let item = sine_quickstart();
    assert_eq!(item.inputs.len(), 96);
    for i in 0..48 {
        let (s, c) = (
            f64::from(item.inputs[2 * i]),
            f64::from(item.inputs[2 * i + 1]),
        );
        assert!((s * s + c * c - 1.0).abs() < 1e-6);
        assert!((f64::from(item.targets[i]) - 2.0 * s * c).abs() < 1e-6); // sin 2t
    }
    assert!((f64::from(item.inputs[94]) - (3.0 * std::f64::consts::PI).sin()).abs() < 1e-6);
}
