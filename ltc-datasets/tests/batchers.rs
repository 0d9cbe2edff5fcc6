//! Every batcher on every backend: shapes and values of the tensors it makes.

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::backend::Backend;
use ltc_datasets::{
    EventBatch, EventBatcher, EventXor, Moons, PointBatch, PointBatcher,
    SequenceClassificationBatch, SequenceClassificationBatcher, SeriesBatch, SeriesBatcher,
    SineFrequencyConfig, SineFrequencyDataset, Spiral, SpiralConfig,
};
use ltc_testing::backend_tests;

fn floats<B: Backend, const D: usize>(t: burn::tensor::Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec().unwrap()
}

fn ints<B: Backend>(t: burn::tensor::Tensor<B, 1, burn::tensor::Int>) -> Vec<i64> {
    t.into_data().convert::<i64>().to_vec().unwrap()
}

fn series_batches<B: Backend>(device: &B::Device) {
    let spiral = Spiral::new(&SpiralConfig::new().with_num_points(100).with_seq_len(8)).unwrap();
    let items: Vec<_> = (0..5).map(|i| spiral.train().get(i).unwrap()).collect();
    let batch: SeriesBatch<B> = SeriesBatcher.batch(items.clone(), device);
    assert_eq!(batch.inputs.dims(), [5, 8, 2]);
    assert_eq!(batch.targets.dims(), [5, 8, 2]);
    assert!(batch.timespans.is_none());
    assert_eq!(floats(batch.targets)[..16], items[0].targets[..]);
}

fn classification_batches<B: Backend>(device: &B::Device) {
    let data =
        SineFrequencyDataset::new(SineFrequencyConfig::new().with_seq_len(12), 6, 2).unwrap();
    let items: Vec<_> = (0..6).map(|i| data.get(i).unwrap()).collect();
    let batch: SequenceClassificationBatch<B> = SequenceClassificationBatcher.batch(items, device);
    assert_eq!(batch.inputs.dims(), [6, 12, 1]);
    assert_eq!(ints(batch.targets), vec![0, 1, 0, 1, 0, 1]);
}

fn point_batches<B: Backend>(device: &B::Device) {
    let moons = Moons::new(10, 0.0, 1).unwrap();
    let items: Vec<_> = (0..10).map(|i| moons.get(i).unwrap()).collect();
    let batch: PointBatch<B> = PointBatcher.batch(items.clone(), device);
    assert_eq!(batch.inputs.dims(), [10, 2]);
    assert_eq!(floats(batch.inputs)[..2], items[0].point[..]);
    assert_eq!(ints(batch.targets).iter().sum::<i64>(), 5);
}

fn event_batches<B: Backend>(device: &B::Device) {
    let data = EventXor::new(8, 4, 3).unwrap();
    let items: Vec<_> = (0..4).map(|i| data.get(i).unwrap()).collect();
    let longest = items.iter().map(|i| i.values.len()).max().unwrap();
    let batch: EventBatch<B> = EventBatcher.batch(items.clone(), device);
    assert_eq!(batch.inputs.dims(), [4, longest, 1]);
    assert_eq!(batch.mask.dims(), [4, longest]);
    let mask = floats(batch.mask);
    let timespans = floats(batch.timespans);
    for (r, item) in items.iter().enumerate() {
        let row = &mask[r * longest..(r + 1) * longest];
        assert_eq!(row.iter().sum::<f32>() as usize, item.values.len());
        // Elapsed times of the real events add up to the stream's 8 bits.
        let total: f32 = timespans[r * longest..(r + 1) * longest].iter().sum();
        assert_eq!(total, 8.0);
    }
}

backend_tests! {
    series_batches,
    classification_batches,
    point_batches,
    event_batches,
}
