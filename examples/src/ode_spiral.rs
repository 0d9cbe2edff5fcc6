//! Learning the spiral `y' = y³·A` from one trajectory (torchdiffeq's `ode_demo`), trained by
//! burn-train's Learner with back-propagation through Dopri5.
//!
//! The true system, A = [[−0.1, 2], [−2, −0.1]], y0 = [2, 0], is solved at 1000 times on
//! [0, 25]. Each training item is a window of 10 consecutive points; the model integrates an
//! MLP vector field `Linear(2, 50) → tanh → Linear(50, 2)` on `y³` from the window's first point
//! and is scored by the L1 distance to the window. Validation integrates the whole trajectory
//! from y0 — the number that must fall.

use std::path::{Path, PathBuf};

use burn::config::Config;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::InMemDataset;
use burn::module::{AutodiffModule, Module};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::optim::RmsPropConfig;
use burn::optim::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::prelude::ToElement;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use burn::train::{Learner, RegressionOutput};
use ltc_burn::ode::{SaveAt, SolveOptions, VectorField, solve};

use crate::backend;
use crate::plot::{COLORS, Plot, Series};
use crate::run::learner::Batches;
use crate::run::{
    ConfigChecks, InferOn, MAX_ITEMS, MAX_WIDTH, RunError, RunOptions, Supervised, launch,
    load_run, prepare_artifacts, run_error, save_model, supervised_training,
};

/// The true system's matrix.
pub const TRUE_A: [[f32; 2]; 2] = [[-0.1, 2.0], [-2.0, -0.1]];

/// Everything that defines a run; saved as `config.json` in the artifacts folder.
#[derive(Config, Debug)]
pub struct OdeSpiralExperiment {
    /// Points of the true trajectory on `[0, t_end]` (torchdiffeq: 1000).
    #[config(default = 1000)]
    pub points: usize,
    /// The trajectory's end time (torchdiffeq: 25).
    #[config(default = 25.0)]
    pub t_end: f64,
    /// Points per training window (torchdiffeq: 10).
    #[config(default = 10)]
    pub window: usize,
    /// Hidden width of the MLP (torchdiffeq: 50).
    #[config(default = 50)]
    pub hidden: usize,
    /// Epochs; one epoch visits every window once (990 windows = 50 batches of 20, so 40
    /// epochs are torchdiffeq's 2000 iterations).
    #[config(default = 40)]
    pub epochs: usize,
    /// Windows per batch (torchdiffeq: 20).
    #[config(default = 20)]
    pub batch_size: usize,
    /// RMSprop's initial learning rate (torchdiffeq: 1e-3, constant), annealed (cosine) to
    /// 1 % of it over the run.
    #[config(default = 1e-3)]
    pub learning_rate: f64,
    /// Solver options (torchdiffeq's defaults: Dopri5, rtol 1e-7, atol 1e-9).
    #[config(default = "SolveOptions::new()")]
    pub solve: SolveOptions,
    /// Seed of the weights and the shuffling.
    #[config(default = 42)]
    pub seed: u64,
}

/// The start of the training trajectory.
pub const TRUE_Y0: [f32; 2] = [2.0, 0.0];

/// The start of the `--infer` trajectory: inside the training spiral, on another track.
pub const NEW_Y0: [f32; 2] = [0.0, 1.5];

impl OdeSpiralExperiment {
    fn times(&self) -> Vec<f64> {
        (0..self.points)
            .map(|i| self.t_end * i as f64 / (self.points - 1) as f64)
            .collect()
    }

    /// The true system's trajectory from `y0` at the run's `points` times, `[points, 2]`
    /// row-major.
    pub fn true_trajectory(
        &self,
        y0: [f32; 2],
        device: &burn::tensor::Device<backend::Backend>,
    ) -> Result<Vec<f32>, RunError> {
        let y0 = Tensor::<backend::Backend, 2>::from_floats([y0], device);
        let truth = solve(
            &true_field::<backend::Backend>(device),
            y0,
            0.0,
            self.t_end,
            &SolveOptions::new()
                .with_max_steps(100_000)
                .with_save_at(SaveAt::Times(self.times())),
        )
        .map_err(|e| run_error("the true trajectory", e))?;
        truth
            .stacked::<3>()
            .into_data()
            .convert::<f32>()
            .to_vec()
            .map_err(|e| run_error("the true trajectory", format!("{e:?}")))
    }

    /// Checks the training options, sizes and time span before anything is written (the solver
    /// options are checked by the solver).
    pub fn check(&self) -> Result<(), RunError> {
        ConfigChecks::new("OdeSpiralExperiment")
            .training(self.epochs, self.batch_size, self.learning_rate)
            .count("points", self.points, 3, MAX_ITEMS)
            .count(
                "window",
                self.window,
                2,
                self.points.saturating_sub(1).max(2),
            )
            .count("hidden", self.hidden, 1, MAX_WIDTH)
            .positive("t_end", self.t_end)
            .finish()
    }

    /// The untrained model: weights and biases drawn from N(0, 0.1).
    pub fn init<B: Backend>(&self, device: &B::Device) -> SpiralOde<B> {
        let init = Initializer::Normal {
            mean: 0.0,
            std: 0.1,
        };
        let field = SpiralField {
            input: LinearConfig::new(2, self.hidden)
                .with_initializer(init.clone())
                .init::<B>(device),
            output: LinearConfig::new(self.hidden, 2)
                .with_initializer(init)
                .init::<B>(device),
        };
        let times = self.times();
        SpiralOde {
            field,
            dt: times[1] - times[0],
            solve: self.solve.clone().with_max_steps(100_000),
        }
    }
}

/// Mean L1 distance between `truth` and the model's trajectory from truth's first point.
fn l1<B: Backend>(model: &SpiralOde<B>, truth: &Window, device: &B::Device) -> f64 {
    let batch = WindowBatcher.batch(vec![truth.clone()], device);
    model.regression(batch).loss.into_scalar().to_f64()
}

/// The `--infer` path: loads the model saved in `artifacts` on the inference backend and
/// returns the mean L1 distance between its trajectory and the true one over the run's time
/// span, from [`NEW_Y0`] (a start it never saw) or from the training start [`TRUE_Y0`] (the
/// run's validation).
pub fn infer(artifacts: &Path, on: InferOn) -> Result<f64, RunError> {
    let (config, model) = load_run(artifacts, |config: &OdeSpiralExperiment, device| {
        config.check()?;
        Ok(config.init(device))
    })?;
    let device = backend::device();
    let y0 = match on {
        InferOn::NewData => NEW_Y0,
        InferOn::Validation => TRUE_Y0,
    };
    let truth = Window {
        points: config.true_trajectory(y0, &device)?,
    };
    Ok(l1(&model, &truth, &device))
}

/// `f(y) = Linear(50, 2)(tanh(Linear(2, 50)(y³)))`, weights and biases drawn from N(0, 0.1)
/// (torchdiffeq draws the biases as 0).
#[derive(Module, Debug)]
pub struct SpiralField<B: Backend> {
    /// `2 → hidden`.
    pub input: Linear<B>,
    /// `hidden → 2`.
    pub output: Linear<B>,
}

impl<B: Backend> VectorField<B, 2> for SpiralField<B> {
    fn eval(&self, _t: f64, y: Tensor<B, 2>) -> Tensor<B, 2> {
        self.output
            .forward(self.input.forward(y.powi_scalar(3)).tanh())
    }
}

/// The true field `y³·A`.
fn true_field<B: Backend>(device: &B::Device) -> impl Fn(f64, Tensor<B, 2>) -> Tensor<B, 2> {
    let a = Tensor::<B, 2>::from_floats(TRUE_A, device);
    move |_t, y| y.powi_scalar(3).matmul(a.clone())
}

/// One window of the trajectory (or, for validation, all of it).
#[derive(Debug, Clone)]
pub struct Window {
    /// The points, `[len, 2]` row-major; the first is the start.
    pub points: Vec<f32>,
}

/// Windows stacked: `starts [batch, 2]`, `targets [len, batch, 2]`.
#[derive(Debug, Clone)]
pub struct WindowBatch<B: Backend> {
    /// `[batch, 2]`.
    pub starts: Tensor<B, 2>,
    /// `[len, batch, 2]`.
    pub targets: Tensor<B, 3>,
}

/// Stacks [`Window`]s.
#[derive(Debug, Clone, Copy)]
pub struct WindowBatcher;

impl<B: Backend> Batcher<B, Window, WindowBatch<B>> for WindowBatcher {
    fn batch(&self, items: Vec<Window>, device: &B::Device) -> WindowBatch<B> {
        let (batch, len) = (items.len(), items[0].points.len() / 2);
        let flat: Vec<f32> = items.iter().flat_map(|w| w.points.clone()).collect();
        let windows = Tensor::<B, 3>::from_data(TensorData::new(flat, [batch, len, 2]), device);
        WindowBatch {
            starts: windows.clone().narrow(1, 0, 1).reshape([batch, 2]),
            targets: windows.swap_dims(0, 1),
        }
    }
}

/// The model: the field and the (constant) grid it is integrated on.
#[derive(Module, Debug)]
pub struct SpiralOde<B: Backend> {
    /// The learned vector field.
    pub field: SpiralField<B>,
    /// The time between two points of the trajectory (constant).
    pub dt: f64,
    /// Solver options (constant).
    pub solve: SolveOptions,
}

impl<B: Backend> SpiralOde<B> {
    /// The trajectory from `starts` `[batch, 2]` at `len` points spaced `dt`: `[len, batch, 2]`.
    ///
    /// # Panics
    /// If the solver fails (it says why).
    pub fn trajectory(&self, starts: Tensor<B, 2>, len: usize) -> Tensor<B, 3> {
        let times: Vec<f64> = (0..len).map(|i| i as f64 * self.dt).collect();
        let options = self
            .solve
            .clone()
            .with_save_at(SaveAt::Times(times.clone()));
        match solve(&self.field, starts, 0.0, times[len - 1], &options) {
            Ok(solution) => solution.stacked(),
            Err(e) => panic!("the solve failed: {e}"),
        }
    }

    fn regression(&self, batch: WindowBatch<B>) -> RegressionOutput<B> {
        let [len, b, _] = batch.targets.dims();
        let predicted = self.trajectory(batch.starts, len);
        let loss = (predicted.clone() - batch.targets.clone()).abs().mean();
        let flat = |t: Tensor<B, 3>| t.swap_dims(0, 1).reshape([b, len * 2]);
        RegressionOutput::new(loss, flat(predicted), flat(batch.targets))
    }
}

impl<B: Backend> Supervised<B> for SpiralOde<B> {
    type Batch = WindowBatch<B>;
    type Output = RegressionOutput<B>;

    fn forward_supervised(&self, batch: Self::Batch) -> Self::Output {
        self.regression(batch)
    }
}

crate::supervised_steps!(SpiralOde);

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct OdeSpiralReport {
    /// Full-trajectory L1 before training.
    pub initial_l1: f64,
    /// Full-trajectory L1 after training.
    pub final_l1: f64,
    /// Wall-clock training time, in seconds.
    pub train_seconds: f64,
    /// The artifacts folder.
    pub artifacts: PathBuf,
}

/// Trains and plots; writes `config.json`, `model.mpk`, the Learner's logs and
/// `trajectories.png`/`.svg` under `artifacts`.
pub fn train(
    config: &OdeSpiralExperiment,
    artifacts: &Path,
    options: &RunOptions,
) -> Result<OdeSpiralReport, RunError> {
    type B = backend::TrainBackend;
    let device = backend::device();
    config.check()?;
    B::seed(&device, config.seed);

    let truth = config.true_trajectory(TRUE_Y0, &device)?;
    let windows: Vec<Window> = (0..config.points - config.window)
        .map(|s| Window {
            points: truth[2 * s..2 * (s + config.window)].to_vec(),
        })
        .collect();
    let whole_item = Window {
        points: truth.clone(),
    };
    let whole = InMemDataset::new(vec![whole_item.clone()]);

    let model = config.init::<B>(&device);
    // Only now, with the whole config checked: a bad option leaves an earlier run's files be.
    let resume_from = prepare_artifacts(config, artifacts, options)?;
    let l1 = |model: &SpiralOde<backend::Backend>| l1(model, &whole_item, &device);
    let initial_l1 = l1(&model.valid());

    let windows_len = windows.len();
    // torch's RMSprop defaults: no momentum, eps 1e-8.
    let optimizer = RmsPropConfig::new()
        .with_momentum(0.0)
        .with_epsilon(1e-8)
        .init();
    // Cosine annealing to 1 % of the rate over the run: the full-trajectory error keeps
    // jumping at a constant rate (as in torchdiffeq's demo), and settles as the rate falls.
    let iterations = config.epochs * windows_len.div_ceil(config.batch_size);
    let schedule = CosineAnnealingLrSchedulerConfig::new(config.learning_rate, iterations.max(1))
        .with_min_lr(config.learning_rate / 100.0)
        .init()
        .map_err(|e| run_error("learning-rate schedule", e))?;
    let learner = Learner::new(model, optimizer, schedule);
    let training = supervised_training(
        artifacts,
        WindowBatcher,
        (InMemDataset::new(windows), whole),
        Batches {
            batch_size: config.batch_size,
            valid_batch_size: 1,
            shuffle: Some(config.seed),
        },
        config.epochs,
    );
    let (model, train_seconds) = launch(training, learner, options, resume_from);
    save_model(model.clone(), artifacts)?;
    let final_l1 = l1(&model);

    // True vs learned, in the phase plane.
    let y0 = Tensor::<backend::Backend, 2>::from_floats([TRUE_Y0], &device);
    let learned: Vec<f64> = model
        .trajectory(y0, config.points)
        .into_data()
        .convert::<f64>()
        .to_vec()
        .unwrap_or_default();
    let pairs = |v: Vec<f64>| v.chunks(2).map(|p| (p[0], p[1])).collect::<Vec<_>>();
    Plot {
        title: format!("Spiral: true vs learned (L1 {initial_l1:.3} → {final_l1:.4})"),
        x_label: "y0".into(),
        y_label: "y1".into(),
        series: vec![
            Series {
                label: "true".into(),
                points: pairs(truth.iter().map(|v| f64::from(*v)).collect()),
                color: COLORS[0],
                line: true,
            },
            Series {
                label: "learned".into(),
                points: pairs(learned),
                color: COLORS[1],
                line: true,
            },
        ],
        equal_aspect: true,
        log_y: false,
    }
    .save(&artifacts.join("trajectories"))
    .map_err(|e| run_error("cannot write the plot", e))?;
    Ok(OdeSpiralReport {
        initial_l1,
        final_l1,
        train_seconds,
        artifacts: artifacts.to_path_buf(),
    })
}
