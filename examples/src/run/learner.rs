//! The Learner: one set-up for every example's supervised training, and its launch (dashboard or
//! lines, resuming, several devices).

use std::path::Path;

use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::lr_scheduler::LrScheduler;
use burn::module::AutodiffModule;
use burn::optim::Optimizer;
use burn::train::logger::{FileMetricLogger, MetricLogger};
use burn::train::metric::store::{EpochSummary, MetricsUpdate, Split};
use burn::train::metric::{Adaptor, ItemLazy, LossInput, LossMetric};
use burn::train::metric::{MetricDefinition, NumericEntry};
use burn::train::{
    ExecutionStrategy, InferenceStep, Learner, LearningComponentsMarker, LearningComponentsTypes,
    LearningResult, MultiDeviceOptim, SupervisedTraining, TrainStep,
};

use super::artifacts::Resume;
use super::{Progress, RunOptions};
use crate::backend;
use crate::progress::EpochLines;

/// The devices to train on: GPUs `0..n` with wgpu (one: the default adapter), `n` handles of
/// the CPU with ndarray.
pub fn devices(n: usize) -> Vec<burn::tensor::Device<backend::TrainBackend>> {
    #[cfg(feature = "wgpu")]
    if n > 1 {
        return (0..n)
            .map(burn::backend::wgpu::WgpuDevice::DiscreteGpu)
            .collect();
    }
    vec![backend::device(); n.max(1)]
}

/// How the data loaders batch: `batch_size` for training (shuffled by `shuffle`'s seed, when
/// given) and `valid_batch_size` for validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batches {
    /// Training batch size.
    pub batch_size: usize,
    /// Validation batch size.
    pub valid_batch_size: usize,
    /// The seed that shuffles the training data every epoch; `None` keeps its order.
    pub shuffle: Option<u64>,
}

impl Batches {
    /// `batch_size` for both splits, the training data shuffled by `seed`.
    pub fn shuffled(batch_size: usize, seed: u64) -> Self {
        Self {
            batch_size,
            valid_batch_size: batch_size,
            shuffle: Some(seed),
        }
    }
}

/// The supervised training every Learner example runs: data loaders over `train` and `valid`
/// as `batches` says, the loss on both splits (add more metrics to the result), checkpoints
/// written atomically after every epoch into `artifacts`, `epochs` epochs and the Learner's
/// summary. Start it with [`launch`].
pub fn supervised_training<M, O, LR, Bt, I, SB>(
    artifacts: &Path,
    batcher: Bt,
    (train, valid): (impl Dataset<I> + 'static, impl Dataset<I> + 'static),
    batches: Batches,
    epochs: usize,
) -> SupervisedTraining<LearningComponentsMarker<backend::TrainBackend, LR, M, O>>
where
    M: TrainStep + AutodiffModule<backend::TrainBackend> + core::fmt::Display + 'static,
    M::InnerModule: InferenceStep,
    O: Optimizer<M, backend::TrainBackend> + 'static,
    LR: LrScheduler + 'static,
    I: Send + Sync + Clone + core::fmt::Debug + 'static,
    SB: burn::tensor::backend::Backend,
    Bt: Batcher<backend::TrainBackend, I, M::Input>
        + Batcher<backend::Backend, I, <M::InnerModule as InferenceStep>::Input>
        + Clone
        + 'static,
    M::Input: Send + Clone + core::fmt::Debug + 'static,
    <M::InnerModule as InferenceStep>::Input: Send + Clone + core::fmt::Debug + 'static,
    // `SB` is the backend burn-train syncs metric items to (its own `Flex`, which Burn only
    // exports under a feature this workspace does not enable): inferred from the outputs.
    <M::Output as ItemLazy>::ItemSync: Adaptor<LossInput<SB>>,
    <<M::InnerModule as InferenceStep>::Output as ItemLazy>::ItemSync: Adaptor<LossInput<SB>>,
{
    let loader_train =
        DataLoaderBuilder::<backend::TrainBackend, I, M::Input>::new(batcher.clone())
            .batch_size(batches.batch_size);
    let loader_train = match batches.shuffle {
        Some(seed) => loader_train.shuffle(seed),
        None => loader_train,
    }
    .build(train);
    let loader_valid =
        DataLoaderBuilder::<backend::Backend, I, <M::InnerModule as InferenceStep>::Input>::new(
            batcher,
        )
        .batch_size(batches.valid_batch_size)
        .build(valid);
    SupervisedTraining::new(artifacts, loader_train, loader_valid)
        .metric_train_numeric(LossMetric::<SB>::new())
        .metric_valid_numeric(LossMetric::<SB>::new())
        .with_file_checkpointer(ltc_burn::persist::AtomicRecorder::new())
        .num_epochs(epochs)
        .summary()
}

/// Runs a configured training: burn-train's dashboard on a terminal unless `options` asks for
/// plain lines (or stdout is not a terminal), from the checkpoint `resume` names when given
/// (with the metric logs of its epochs filed under their own numbers: [`ResumedMetricLogger`]),
/// data-parallel when `options.devices > 1`; leaves the dashboard's screen before anything is
/// printed. Returns the trained (inference) model and the wall-clock training time in seconds.
pub fn launch<LC>(
    mut training: SupervisedTraining<LC>,
    learner: Learner<LC>,
    options: &RunOptions,
    resume: Option<Resume>,
) -> (LC::InferenceModel, f64)
where
    LC: LearningComponentsTypes<Backend = backend::TrainBackend> + Send + 'static,
{
    use std::io::IsTerminal;
    if options.progress == Progress::Plain || !std::io::stdout().is_terminal() {
        training = training.renderer(EpochLines::new());
    }
    if let Some(Resume { artifacts, epoch }) = resume {
        training = training
            .checkpoint(epoch)
            .with_metric_logger(ResumedMetricLogger::new(&artifacts, epoch));
    }
    if options.devices > 1 {
        training = training.with_training_strategy(
            ExecutionStrategy::multi(devices(options.devices), MultiDeviceOptim::OptimMainDevice)
                .into(),
        );
    }
    let start = std::time::Instant::now();
    let LearningResult { model, renderer } = training.launch(learner);
    let seconds = start.elapsed().as_secs_f64();
    drop(renderer);
    (model, seconds)
}

/// The Learner's file metric logger (`train|valid/epoch-N/<Metric>.log` under the artifacts
/// folder) for a run resumed from the checkpoint of epoch `k`, filing the first epoch's values
/// under `k + 1`.
///
/// burn-train 0.21's metric store numbers the first epoch of every run 1, a resumed one included
/// (its per-split counter starts at 1 and follows the Learner only from the end of that epoch),
/// so its own `FileMetricLogger` would overwrite the logs of epoch 1 with those of epoch `k + 1`
/// and leave `epoch-(k+1)` without them: the loss curve, the summary and the best-checkpoint
/// choice would read the wrong values. Later epochs arrive with their own numbers.
pub struct ResumedMetricLogger {
    inner: FileMetricLogger,
    first_epoch: usize,
}

impl ResumedMetricLogger {
    /// The logger of a run in `artifacts` resumed from the checkpoint of `epoch`.
    pub fn new(artifacts: &Path, epoch: usize) -> Self {
        Self {
            inner: FileMetricLogger::new(artifacts),
            first_epoch: epoch + 1,
        }
    }

    /// The epoch the store's `epoch` is: the resumed run's first epoch for 1 (a resumed run never
    /// runs epoch 1 itself), `epoch` otherwise.
    pub fn real_epoch(&self, epoch: usize) -> usize {
        if epoch == 1 { self.first_epoch } else { epoch }
    }
}

impl MetricLogger for ResumedMetricLogger {
    fn log(&mut self, update: MetricsUpdate, epoch: usize, split: &Split) {
        let epoch = self.real_epoch(epoch);
        self.inner.log(update, epoch, split);
    }

    fn read_numeric(
        &mut self,
        name: &str,
        epoch: usize,
        split: &Split,
    ) -> Result<Vec<NumericEntry>, String> {
        // Readers (the summary, the checkpointing strategy) ask with the Learner's numbers.
        self.inner.read_numeric(name, epoch, split)
    }

    fn log_metric_definition(&mut self, definition: MetricDefinition) {
        self.inner.log_metric_definition(definition);
    }

    fn log_epoch_summary(&mut self, summary: EpochSummary) {
        self.inner.log_epoch_summary(summary);
    }
}
