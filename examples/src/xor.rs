//! The event-based bit-stream XOR of the CfC paper, at small scale: CfC against LTC.
//!
//! A stream of fair bits is merged into runs; each run is one event (its bit, and its length as
//! the elapsed time), so a model must weigh every event by its duration to get the parity. The
//! paper (Hasani et al. 2022, 32-bit streams) reports CfC ≈ 99 % and LTC ≈ 49 %.

use std::time::Instant;

use burn::config::Config;
use burn::data::dataloader::DataLoaderBuilder;
use burn::module::{AutodiffModule, Module};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor};
use ltc_datasets::{EventBatch, EventBatcher, EventXor};
use ltc_wirings::FullyConnected;

use crate::embed::{Liquid, LiquidKind};
use crate::sequence_classification::{RunError, fraction_correct, run_error};

/// Everything that defines a run.
#[derive(Config, Debug)]
pub struct XorConfig {
    /// Bits per stream.
    #[config(default = 8)]
    pub bits: usize,
    /// Liquid neurons.
    #[config(default = 16)]
    pub units: usize,
    /// Training streams.
    #[config(default = 4096)]
    pub train_size: usize,
    /// Validation streams (drawn from another seed).
    #[config(default = 1024)]
    pub valid_size: usize,
    /// Epochs.
    #[config(default = 20)]
    pub epochs: usize,
    /// Streams per batch.
    #[config(default = 64)]
    pub batch_size: usize,
    /// Adam's learning rate.
    #[config(default = 5e-3)]
    pub learning_rate: f64,
    /// Seed of the weights, the data and the batch order.
    #[config(default = 7)]
    pub seed: u64,
}

/// A liquid layer over the events and a linear read-out of its output at each stream's last
/// event.
#[derive(Module, Debug)]
pub struct XorModel<B: Backend> {
    /// CfC or LTC, fed `[bit]` per event with the run length as elapsed time.
    pub liquid: Liquid<B>,
    /// Last real event's outputs → two logits.
    pub head: Linear<B>,
}

impl XorConfig {
    /// Builds the model on `device`: a CfC (backbone 32) or an LTC on `FullyConnected(units)`.
    pub fn init<B: Backend>(
        &self,
        kind: LiquidKind,
        device: &B::Device,
    ) -> Result<XorModel<B>, RunError> {
        let wiring = || FullyConnected::new(self.units).build(1);
        let liquid = Liquid::init(kind, 1, self.units, wiring, device)?;
        let head = LinearConfig::new(liquid.output_size(), 2).init(device);
        Ok(XorModel { liquid, head })
    }
}

impl<B: Backend> XorModel<B> {
    /// Logits `[batch, 2]`. Padding after a stream's end gets elapsed time 1 (any positive
    /// value: the read-out takes each stream's last real event, and the layers are causal).
    pub fn forward(&self, batch: &EventBatch<B>) -> Tensor<B, 2> {
        let [b, events] = batch.mask.dims();
        let padding = batch.mask.clone().neg().add_scalar(1.0);
        let elapsed = batch.elapsed.clone() + padding;
        let y = self.liquid.forward(batch.inputs.clone(), Some(elapsed)); // [b, events, out]
        // One-hot of each stream's last event: mask[t] − mask[t + 1].
        let next = Tensor::cat(
            vec![
                batch.mask.clone().narrow(1, 1, events - 1),
                Tensor::zeros([b, 1], &batch.mask.device()),
            ],
            1,
        );
        let last = (batch.mask.clone() - next).unsqueeze_dim::<3>(2);
        let y_last = (y * last).sum_dim(1).squeeze_dim::<2>(1);
        self.head.forward(y_last)
    }

    /// Predicted classes `[batch]`.
    pub fn predict(&self, batch: &EventBatch<B>) -> Tensor<B, 1, Int> {
        self.forward(batch).argmax(1).flatten::<1>(0, 1)
    }
}

/// One model's result.
#[derive(Debug, Clone)]
pub struct XorReport {
    /// The liquid layer.
    pub kind: LiquidKind,
    /// Validation accuracy after each epoch, in `[0, 1]`.
    pub valid_accuracy: Vec<f64>,
    /// Trainable parameters.
    pub params: usize,
    /// Wall-clock training time, in seconds.
    pub train_seconds: f64,
}

/// Trains one model (a plain Adam loop) and reports its validation accuracy after every epoch.
pub fn train<B: AutodiffBackend>(
    config: &XorConfig,
    kind: LiquidKind,
    device: &B::Device,
    mut on_epoch: impl FnMut(usize, f64),
) -> Result<XorReport, RunError> {
    B::seed(device, config.seed);
    let train = EventXor::new(config.bits, config.train_size, config.seed)
        .map_err(|e| run_error("training data", e))?;
    let valid = EventXor::new(config.bits, config.valid_size, config.seed ^ 0x5eed)
        .map_err(|e| run_error("validation data", e))?;
    let mut model = config.init::<B>(kind, device)?;
    let params = model.num_params();
    let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let loader = DataLoaderBuilder::<B, _, _>::new(EventBatcher)
        .batch_size(config.batch_size)
        .shuffle(config.seed)
        .set_device(device.clone())
        .build(train);
    let mut valid_accuracy = Vec::with_capacity(config.epochs);
    let start = Instant::now();
    for epoch in 0..config.epochs {
        // A new order every epoch, from the seeded generator the loader holds.
        for batch in loader.iter() {
            let loss = loss_fn.forward(model.forward(&batch), batch.targets.clone());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(config.learning_rate, model, grads);
        }
        let accuracy = accuracy(&model.valid(), &valid, config.batch_size, device);
        on_epoch(epoch + 1, accuracy);
        valid_accuracy.push(accuracy);
    }
    Ok(XorReport {
        kind,
        valid_accuracy,
        params,
        train_seconds: start.elapsed().as_secs_f64(),
    })
}

/// Fraction of `data` that `model` gets right.
pub fn accuracy<B: Backend>(
    model: &XorModel<B>,
    data: &EventXor,
    batch_size: usize,
    device: &B::Device,
) -> f64 {
    fraction_correct(
        data,
        batch_size,
        device,
        &EventBatcher,
        |batch: EventBatch<B>| (model.predict(&batch), batch.targets),
    )
}
