//! A recurrent cell written outside ltc-burn gets the whole sequence layer — layout,
//! per-sample timespans, `forward_last`, mixed memory, a projection — and trains with
//! burn-train's Learner like any built-in layer.

use burn::backend::{Autodiff, NdArray};
use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::InMemDataset;
use burn::module::{AutodiffModule, Module};
use burn::nn::{Linear, LinearConfig};
use burn::optim::AdamConfig;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use burn::train::metric::LossMetric;
use burn::train::{
    InferenceStep, Learner, LearningResult, RegressionOutput, SupervisedTraining, TrainOutput,
    TrainStep,
};
use ltc_burn::recurrent::{Recurrent, RecurrentCell, RecurrentConfig, RecurrentState};
use ltc_testing::{assert_close, numbers, tensor, values};

type B = Autodiff<NdArray<f64>>;

/// A leaky integrator of its own: `h' = h + Δt·(tanh(x·W + h·U) − h)`.
#[derive(Module, Debug)]
struct Leaky<B: Backend> {
    /// `[d_input] → [d_hidden]`.
    input: Linear<B>,
    /// `[d_hidden] → [d_hidden]`, no bias.
    recurrent: Linear<B>,
}

impl<B: Backend> Leaky<B> {
    fn new(d_input: usize, d_hidden: usize, device: &B::Device) -> Self {
        Self {
            input: LinearConfig::new(d_input, d_hidden).init(device),
            recurrent: LinearConfig::new(d_hidden, d_hidden)
                .with_bias(false)
                .init(device),
        }
    }
}

impl<B: Backend> RecurrentCell<B> for Leaky<B> {
    const NAME: &'static str = "Leaky";

    fn d_input(&self) -> usize {
        self.input.weight.dims()[0]
    }

    fn d_hidden(&self) -> usize {
        self.input.weight.dims()[1]
    }

    fn d_output(&self) -> usize {
        self.d_hidden()
    }

    fn step(
        &self,
        x: Tensor<B, 2>,
        h: Tensor<B, 2>,
        timespans: Option<Tensor<B, 1>>,
    ) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let target = (self.input.forward(x) + self.recurrent.forward(h.clone())).tanh();
        let dh = target - h.clone();
        let dh = match timespans {
            Some(dt) => dh * dt.unsqueeze_dim(1),
            None => dh,
        };
        let h = h + dh;
        (h.clone(), h)
    }
}

/// The cell stepped by hand, `[batch, seq, d_input]` batch-first, from zeros: every output.
fn by_hand<B: Backend>(cell: &Leaky<B>, x: Tensor<B, 3>, ts: Tensor<B, 2>) -> Tensor<B, 3> {
    let [batch, seq, s] = x.dims();
    let mut h = Tensor::zeros([batch, cell.d_hidden()], &x.device());
    let mut out = Vec::new();
    for t in 0..seq {
        let x_t = x.clone().narrow(1, t, 1).reshape([batch, s]);
        let dt = ts.clone().narrow(1, t, 1).reshape([batch]);
        let (y, next) = cell.step(x_t, h, Some(dt));
        h = next;
        out.push(y);
    }
    Tensor::stack(out, 1)
}

#[test]
fn the_sequence_layer_gives_it_layout_timespans_and_forward_last() {
    let _claim = ltc_testing::draws();
    let device = Default::default();
    ltc_testing::seed::<B>(&device, 3);
    let (batch, seq, s, n) = (3, 6, 2, 4);
    let cell = Leaky::<B>::new(s, n, &device);
    let x = tensor::<B, 3>(
        &numbers(batch * seq * s, 1, -1.0, 1.0),
        [batch, seq, s],
        &device,
    );
    // Sample 1 has zero timespans: its state stays at zero.
    let mut ts = numbers(batch * seq, 2, 0.1, 0.9);
    ts[seq..2 * seq].iter_mut().for_each(|t| *t = 0.0);
    let ts = tensor::<B, 2>(&ts, [batch, seq], &device);
    let want = values(by_hand(&cell, x.clone(), ts.clone()));

    // Sequence-first, through the layer.
    let layer: Recurrent<B, Leaky<B>> = RecurrentConfig::new()
        .with_batch_first(false)
        .init(cell, &device)
        .unwrap();
    let (y, state) = layer.forward(
        x.clone().swap_dims(0, 1),
        None,
        Some(ts.clone().swap_dims(0, 1)),
    );
    assert_eq!(y.dims(), [seq, batch, n]);
    assert_close("outputs", &values(y.swap_dims(0, 1)), &want, 1e-12, 0.0);
    let held: Vec<f64> = values(state.hidden.clone())[n..2 * n].to_vec();
    assert_eq!(held, vec![0.0; n], "a zero timespan holds the state");

    // The last step alone, and step by step.
    let (last, _) = layer.forward_last(
        x.clone().swap_dims(0, 1),
        None,
        Some(ts.clone().swap_dims(0, 1)),
    );
    let last_want: Vec<f64> = (0..batch)
        .flat_map(|b| want[(b * seq + seq - 1) * n..(b * seq + seq) * n].to_vec())
        .collect();
    assert_close("forward_last", &values(last), &last_want, 1e-12, 0.0);
    let mut state: Option<RecurrentState<B>> = None;
    for t in 0..seq {
        let x_t = x.clone().narrow(1, t, 1).reshape([batch, s]);
        let dt = ts.clone().narrow(1, t, 1).reshape([batch]);
        state = Some(layer.step(x_t, state, Some(dt)).1);
    }
    assert_close(
        "stepped state",
        &values(state.unwrap().hidden),
        &values(
            layer
                .forward_last(x.swap_dims(0, 1), None, Some(ts.swap_dims(0, 1)))
                .1
                .hidden,
        ),
        1e-12,
        0.0,
    );

    // Mixed memory and a projection come with the layer too.
    let layer: Recurrent<B, Leaky<B>> = RecurrentConfig::new()
        .with_mixed_memory(true)
        .with_proj_size(Some(1))
        .init(Leaky::new(s, n, &device), &device)
        .unwrap();
    let (y, state) = layer.forward(
        tensor(
            &numbers(batch * seq * s, 4, -1.0, 1.0),
            [batch, seq, s],
            &device,
        ),
        None,
        None,
    );
    assert_eq!(
        (y.dims(), state.memory.unwrap().dims()),
        ([batch, seq, 1], [batch, n])
    );
    // No stepper for this cell: a typed error, not a panic.
    assert!(layer.stepper::<f64>(1).is_err());
}

/// Predicts the running mean of a noisy input at every step: the custom cell, a projection to
/// one output, in a model of its own.
#[derive(Module, Debug)]
struct Model<B: Backend> {
    rnn: Recurrent<B, Leaky<B>>,
}

#[derive(Debug, Clone)]
struct Item {
    x: Vec<f64>,
    y: Vec<f64>,
}

#[derive(Debug, Clone)]
struct Batch<B: Backend> {
    x: Tensor<B, 3>,
    y: Tensor<B, 3>,
}

const SEQ: usize = 8;

#[derive(Debug, Clone, Copy)]
struct ItemBatcher;

impl<B: Backend> Batcher<B, Item, Batch<B>> for ItemBatcher {
    fn batch(&self, items: Vec<Item>, device: &B::Device) -> Batch<B> {
        let n = items.len();
        let x: Vec<f64> = items.iter().flat_map(|i| i.x.clone()).collect();
        let y: Vec<f64> = items.iter().flat_map(|i| i.y.clone()).collect();
        let tensor = |v: Vec<f64>| {
            Tensor::from_data(
                TensorData::new(v, [n, SEQ, 1]).convert::<B::FloatElem>(),
                device,
            )
        };
        Batch {
            x: tensor(x),
            y: tensor(y),
        }
    }
}

fn items(count: usize, seed: u64) -> Vec<Item> {
    (0..count as u64)
        .map(|i| {
            let x = numbers(SEQ, seed * 1000 + i, -1.0, 1.0);
            let mut sum = 0.0;
            let y = x
                .iter()
                .enumerate()
                .map(|(t, v)| {
                    sum += v;
                    sum / (t + 1) as f64
                })
                .collect();
            Item { x, y }
        })
        .collect()
}

impl<B: Backend> Model<B> {
    fn regression(&self, batch: Batch<B>) -> RegressionOutput<B> {
        let (y, _) = self.rnn.forward(batch.x, None, None);
        let [b, seq, _] = y.dims();
        let (output, targets) = (y.reshape([b * seq, 1]), batch.y.reshape([b * seq, 1]));
        let loss = (output.clone() - targets.clone()).powi_scalar(2).mean();
        RegressionOutput::new(loss, output, targets)
    }
}

impl<B: AutodiffBackend> TrainStep for Model<B> {
    type Input = Batch<B>;
    type Output = RegressionOutput<B>;

    fn step(&self, batch: Batch<B>) -> TrainOutput<RegressionOutput<B>> {
        let item = self.regression(batch);
        TrainOutput::new(self, item.loss.backward(), item)
    }
}

impl<B: Backend> InferenceStep for Model<B> {
    type Input = Batch<B>;
    type Output = RegressionOutput<B>;

    fn step(&self, batch: Batch<B>) -> RegressionOutput<B> {
        self.regression(batch)
    }
}

fn valid_loss<B: Backend>(model: &Model<B>, data: &[Item]) -> f64 {
    let batch = ItemBatcher.batch(data.to_vec(), &Default::default());
    values(model.regression(batch).loss)[0]
}

#[test]
fn the_learner_trains_it() {
    let _claim = ltc_testing::draws();
    let device = Default::default();
    ltc_testing::seed::<B>(&device, 7);
    let rnn = RecurrentConfig::new()
        .with_proj_size(Some(1))
        .init(Leaky::<B>::new(1, 8, &device), &device)
        .unwrap();
    let model = Model { rnn };
    let (train, valid) = (items(256, 1), items(64, 2));
    let before = valid_loss(&model.valid(), &valid);

    let artifacts =
        std::env::temp_dir().join(format!("ltc-burn-custom-cell-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&artifacts);
    let loader_train = DataLoaderBuilder::<B, Item, Batch<B>>::new(ItemBatcher)
        .batch_size(16)
        .shuffle(7)
        .build(InMemDataset::new(train));
    let loader_valid =
        DataLoaderBuilder::<NdArray<f64>, Item, Batch<NdArray<f64>>>::new(ItemBatcher)
            .batch_size(16)
            .build(InMemDataset::new(valid.clone()));
    let training = SupervisedTraining::new(&artifacts, loader_train, loader_valid)
        .metric_train_numeric(LossMetric::new())
        .metric_valid_numeric(LossMetric::new())
        .num_epochs(6);
    let learner = Learner::new(model, AdamConfig::new().init(), 1e-2);
    let LearningResult { model, .. } = training.launch(learner);
    let after = valid_loss(&model, &valid);
    let _ = std::fs::remove_dir_all(&artifacts);
    assert!(
        after < before / 4.0,
        "the Learner did not train the custom cell: validation MSE {before:.4} → {after:.4}"
    );
}
