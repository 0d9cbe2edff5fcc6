use super::*;
use burn::backend::NdArray;

#[test]
fn windows_cover_the_series_and_shift_targets() {
    let w = Windows {
        seq_len: 3,
        stride: 2,
        horizon: 1,
    };
    assert_eq!(w.starts(8).unwrap(), vec![0, 2, 4]);
    let series: Vec<f32> = (0..8).flat_map(|i| [i as f32, 10.0 * i as f32]).collect();
    let item = w.item(&series, 2, &series, 2, 2);
    assert_eq!(item.inputs, vec![2.0, 20.0, 3.0, 30.0, 4.0, 40.0]);
    assert_eq!(item.targets, vec![3.0, 30.0, 4.0, 40.0, 5.0, 50.0]);
    let err = w.starts(3).unwrap_err().to_string();
    assert_eq!(
        err,
        "series has 3 rows, but one window needs 4 (seq_len + horizon)"
    );
    assert!(
        Windows {
            seq_len: 3,
            stride: 0,
            horizon: 0
        }
        .starts(9)
        .is_err()
    );
}

#[test]
fn batcher_stacks_series_with_timespans() {
    let item = |v: f32| SeriesItem {
        inputs: vec![v; 4],
        targets: vec![-v; 2],
        timespans: Some(vec![0.5, 1.5]),
        seq_len: 2,
        input_features: 2,
        target_features: 1,
    };
    let batch: SeriesBatch<NdArray> =
        SeriesBatcher.batch(vec![item(1.0), item(2.0), item(3.0)], &Default::default());
    assert_eq!(batch.inputs.dims(), [3, 2, 2]);
    assert_eq!(batch.targets.dims(), [3, 2, 1]);
    let timespans = batch.timespans.unwrap();
    assert_eq!(timespans.dims(), [3, 2]);
    let targets: Vec<f32> = batch.targets.into_data().to_vec().unwrap();
    assert_eq!(targets, vec![-1.0, -1.0, -2.0, -2.0, -3.0, -3.0]);
}
