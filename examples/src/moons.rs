//! Classifying two moons with a Neural ODE (torchdyn's tutorial), trained by burn-train's
//! Learner with gradients by the adjoint method.
//!
//! The vector field `Linear(2, 16) → tanh → Linear(16, 2)` flows each point for one unit of
//! depth; the final state is the logits. A 2-D flow cannot cross trajectories, so it must pull
//! the moons apart rather than fold them: the trajectory plots show how.

use std::path::{Path, PathBuf};

use burn::config::Config;
use burn::data::dataset::Dataset;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::AdamConfig;
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::train::metric::AccuracyMetric;
use burn::train::{ClassificationOutput, Learner, TrainOutput};
use ltc_burn::kernel::on_compute_pool;
use ltc_burn::ode::{
    MlpField, MlpFieldConfig, NeuralOde, NeuralOdeConfig, SolveOptions, Solver, VectorField,
};
use ltc_datasets::{Moons, PointBatch, PointBatcher};

use crate::backend;
use crate::plot::{COLORS, Plot, Series};
use crate::run::learner::Batches;
use crate::run::{
    ConfigChecks, InferOn, MAX_ITEMS, MAX_WIDTH, RunError, RunOptions, Supervised,
    fraction_correct, launch, load_run, prepare_artifacts, run_error, save_model,
    supervised_training,
};

/// Everything that defines a run; saved as `config.json` in the artifacts folder.
#[derive(Config, Debug)]
pub struct MoonsExperiment {
    /// Training points.
    #[config(default = 512)]
    pub train_size: usize,
    /// Validation points (another seed).
    #[config(default = 512)]
    pub valid_size: usize,
    /// Gaussian noise of the moons (torchdyn's tutorial: 0.1).
    #[config(default = 0.1)]
    pub noise: f64,
    /// Hidden width of the vector field.
    #[config(default = 16)]
    pub hidden: usize,
    /// Times of `t_span = linspace(0, 1, n)` (torchdyn: 5).
    #[config(default = 5)]
    pub times: usize,
    /// Relative and absolute tolerance of Dopri5 (forward and adjoint).
    #[config(default = 1e-4)]
    pub tolerance: f64,
    /// Epochs.
    #[config(default = 40)]
    pub epochs: usize,
    /// Points per batch.
    #[config(default = 64)]
    pub batch_size: usize,
    /// Adam's learning rate (torchdyn: 0.01).
    #[config(default = 1e-2)]
    pub learning_rate: f64,
    /// Seed of the weights, the data and the shuffling.
    #[config(default = 42)]
    pub seed: u64,
}

/// `linspace(0, 1, n)`, `n ≥ 2`.
fn depths(n: usize) -> Vec<f64> {
    (0..n).map(|i| i as f64 / (n - 1) as f64).collect()
}

impl MoonsExperiment {
    /// Checks the training options, sizes, noise and tolerance before anything is written.
    pub fn check(&self) -> Result<(), RunError> {
        ConfigChecks::new("MoonsExperiment")
            .training(self.epochs, self.batch_size, self.learning_rate)
            .count("train_size", self.train_size, 1, MAX_ITEMS)
            .count("valid_size", self.valid_size, 1, MAX_ITEMS)
            .count("hidden", self.hidden, 1, MAX_WIDTH)
            .count("times", self.times, 2, 100_000)
            .non_negative("noise", self.noise)
            .positive("tolerance", self.tolerance)
            .finish()
    }

    /// The untrained model.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<MoonsModel<B>, RunError> {
        let field = MlpFieldConfig::new(2, self.hidden)
            .init::<B>(device)
            .map_err(|e| run_error("vector field", e))?;
        let ode = self
            .ode()
            .init(field)
            .map_err(|e| run_error("Neural ODE", e))?;
        Ok(MoonsModel {
            ode,
            times: self.times.max(2),
        })
    }

    /// The Neural ODE's config.
    pub fn ode(&self) -> NeuralOdeConfig {
        NeuralOdeConfig::new().with_options(
            SolveOptions::new()
                .with_solver(Solver::Dopri5)
                .with_rtol(self.tolerance)
                .with_atol(self.tolerance),
        )
    }
}

/// The model: a Neural ODE whose final state is the two logits.
#[derive(Module, Debug)]
pub struct MoonsModel<B: Backend> {
    /// The Neural ODE on the 2-D points.
    pub ode: NeuralOde<B, MlpField<B>>,
    /// Times of `t_span = linspace(0, 1, times)` (constant).
    pub times: usize,
}

impl<B: Backend> MoonsModel<B> {
    fn t_span(&self) -> Vec<f64> {
        depths(self.times)
    }

    /// The trajectories `[times, batch, 2]` of a batch of points.
    ///
    /// # Panics
    /// If the solver fails (it reports why, e.g. `max_steps`).
    pub fn trajectories(&self, points: Tensor<B, 2>, t_span: &[f64]) -> Tensor<B, 3> {
        match self.ode.forward(points, t_span) {
            Ok(out) => out.trajectory,
            Err(e) => panic!("the Neural ODE's solve failed: {e}"),
        }
    }

    fn classify(&self, batch: PointBatch<B>) -> ClassificationOutput<B> {
        let logits = match self.ode.forward(batch.inputs, &self.t_span()) {
            Ok(out) => out.last,
            Err(e) => panic!("the Neural ODE's solve failed: {e}"),
        };
        let loss = CrossEntropyLossConfig::new()
            .init(&logits.device())
            .forward(logits.clone(), batch.targets.clone());
        ClassificationOutput::new(loss, logits, batch.targets)
    }
}

impl<B: Backend> Supervised<B> for MoonsModel<B> {
    type Batch = PointBatch<B>;
    type Output = ClassificationOutput<B>;

    fn forward_supervised(&self, batch: Self::Batch) -> Self::Output {
        self.classify(batch)
    }
}

/// The adjoint method: the forward solve records no graph; the loss's gradient at the final
/// state starts the backward sweep, whose parameter gradients are the step's. On ndarray the
/// whole step runs on the compute pool, as [`backprop_step`](crate::run::backprop_step).
fn adjoint_step<B: AutodiffBackend>(
    model: &MoonsModel<B>,
    batch: PointBatch<B>,
) -> TrainOutput<ClassificationOutput<B>> {
    on_compute_pool::<B, _>(|| {
        let forward = match model.ode.forward_adjoint(batch.inputs, &model.t_span()) {
            Ok(forward) => forward,
            Err(e) => panic!("the Neural ODE's forward solve failed: {e}"),
        };
        let logits = forward.output.last.clone();
        let loss = CrossEntropyLossConfig::new()
            .init(&logits.device())
            .forward(logits.clone(), batch.targets.clone());
        let grads = loss.backward();
        let sweep = match forward.backward(&grads) {
            Ok(sweep) => sweep,
            Err(e) => panic!("the adjoint's backward solve failed: {e}"),
        };
        TrainOutput {
            grads: sweep.params,
            item: ClassificationOutput::new(loss, logits, batch.targets),
        }
    })
}

crate::supervised_steps!(MoonsModel, adjoint_step);

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct MoonsReport {
    /// Accuracy on the validation points, in `[0, 1]`.
    pub valid_accuracy: f64,
    /// Wall-clock training time, in seconds.
    pub train_seconds: f64,
    /// The artifacts folder.
    pub artifacts: PathBuf,
}

/// Trains, evaluates and plots; writes `config.json`, `model.mpk`, the Learner's logs and the
/// plots under `artifacts`.
pub fn train(
    config: &MoonsExperiment,
    artifacts: &Path,
    options: &RunOptions,
) -> Result<MoonsReport, RunError> {
    type B = backend::TrainBackend;
    let device = backend::device();
    config.check()?;
    B::seed(&device, config.seed);
    let train = Moons::new(config.train_size, config.noise, config.seed)
        .map_err(|e| run_error("training data", e))?;
    let valid = Moons::new(
        config.valid_size,
        config.noise,
        InferOn::Validation.seed(config.seed),
    )
    .map_err(|e| run_error("validation data", e))?;
    let model = config.init::<B>(&device)?;
    // Only now, with the whole config checked: a bad option leaves an earlier run's files be.
    let resume_from = prepare_artifacts(config, artifacts, options)?;

    let learner = Learner::new(model, AdamConfig::new().init(), config.learning_rate);
    let training = supervised_training(
        artifacts,
        PointBatcher,
        (train.clone(), valid.clone()),
        Batches::shuffled(config.batch_size, config.seed),
        config.epochs,
    )
    .metric_train_numeric(AccuracyMetric::new())
    .metric_valid_numeric(AccuracyMetric::new());
    let (model, train_seconds) = launch(training, learner, options, resume_from);

    save_model(model.clone(), artifacts)?;
    let valid_accuracy = accuracy(&model, &valid, config.batch_size, &device);
    plot(&model, &valid, artifacts, &device).map_err(|e| run_error("cannot write the plots", e))?;
    Ok(MoonsReport {
        valid_accuracy,
        train_seconds,
        artifacts: artifacts.to_path_buf(),
    })
}

/// Fraction of `data` that `model` classifies correctly.
pub fn accuracy<B: Backend>(
    model: &MoonsModel<B>,
    data: &Moons,
    batch_size: usize,
    device: &B::Device,
) -> f64 {
    fraction_correct(
        data,
        batch_size,
        device,
        &PointBatcher,
        |batch: PointBatch<B>| {
            let out = model.classify(batch);
            (out.output.argmax(1).flatten::<1>(0, 1), out.targets)
        },
    )
}

/// The `--infer` path: loads the model saved in `artifacts` on the inference backend and
/// returns its accuracy on `valid_size` newly drawn points (another seed) or on the run's
/// validation points.
pub fn infer(artifacts: &Path, on: InferOn) -> Result<f64, RunError> {
    let (config, model) = load_run(artifacts, MoonsExperiment::init)?;
    let seed = on.seed(config.seed);
    let data =
        Moons::new(config.valid_size, config.noise, seed).map_err(|e| run_error("data", e))?;
    Ok(accuracy(
        &model,
        &data,
        config.batch_size,
        &backend::device(),
    ))
}

/// `data.png`, `trajectories_x0.png` / `_x1.png` (each state dimension over depth, coloured by
/// class) and `vector_field.png` (the learned field as arrows over the data), each with an SVG.
fn plot<B: Backend>(
    model: &MoonsModel<B>,
    data: &Moons,
    artifacts: &Path,
    device: &B::Device,
) -> std::io::Result<()> {
    let class_series = |points: Vec<Vec<(f64, f64)>>| -> Vec<Series> {
        points
            .into_iter()
            .enumerate()
            .map(|(class, points)| Series {
                label: format!("class {class}"),
                points,
                color: COLORS[class],
                line: false,
            })
            .collect()
    };
    let items: Vec<_> = (0..data.len()).filter_map(|i| data.get(i)).collect();
    let mut by_class = vec![Vec::new(), Vec::new()];
    for item in &items {
        by_class[item.label].push((f64::from(item.point[0]), f64::from(item.point[1])));
    }
    Plot {
        title: "Two moons (validation data)".into(),
        x_label: "x0".into(),
        y_label: "x1".into(),
        series: class_series(by_class.clone()),
        equal_aspect: true,
        log_y: false,
    }
    .save(&artifacts.join("data"))?;

    // Trajectories of 128 points over depth, 21 times.
    let shown = &items[..items.len().min(128)];
    let points: Vec<f32> = shown.iter().flat_map(|i| i.point).collect();
    let t_span = depths(21);
    let x = Tensor::<B, 2>::from_data(
        burn::tensor::TensorData::new(points, [shown.len(), 2]),
        device,
    );
    let trajectory: Vec<f64> = model
        .trajectories(x, &t_span)
        .into_data()
        .convert::<f64>()
        .to_vec()
        .unwrap_or_default();
    let n = shown.len();
    for dim in 0..2 {
        let mut labelled = [false; 2];
        let series = shown
            .iter()
            .enumerate()
            .map(|(k, item)| {
                let label = if labelled[item.label] {
                    String::new()
                } else {
                    labelled[item.label] = true;
                    format!("class {}", item.label)
                };
                Series {
                    label,
                    points: t_span
                        .iter()
                        .enumerate()
                        .map(|(ti, t)| (*t, trajectory[(ti * n + k) * 2 + dim]))
                        .collect(),
                    color: COLORS[item.label],
                    line: true,
                }
            })
            .collect();
        Plot {
            title: format!("State dimension x{dim} over depth, by class"),
            x_label: "depth t".into(),
            y_label: format!("x{dim}(t)"),
            series,
            equal_aspect: false,
            log_y: false,
        }
        .save(&artifacts.join(format!("trajectories_x{dim}")))?;
    }

    // The learned field on a 21 × 21 grid over the data, as arrows of length ∝ |f|.
    let (lo, hi) = ((-1.5f64, -1.0f64), (2.5f64, 1.5f64));
    let grid: Vec<(f64, f64)> = (0..21)
        .flat_map(|i| {
            (0..21).map(move |j| {
                (
                    lo.0 + (hi.0 - lo.0) * i as f64 / 20.0,
                    lo.1 + (hi.1 - lo.1) * j as f64 / 20.0,
                )
            })
        })
        .collect();
    let g: Vec<f32> = grid
        .iter()
        .flat_map(|(x, y)| [*x as f32, *y as f32])
        .collect();
    let f = model.ode.field.eval(
        0.0,
        Tensor::<B, 2>::from_data(burn::tensor::TensorData::new(g, [grid.len(), 2]), device),
    );
    let f: Vec<f64> = f.into_data().convert::<f64>().to_vec().unwrap_or_default();
    let longest = f.chunks(2).map(|v| v[0].hypot(v[1])).fold(1e-12, f64::max);
    let scale = 0.18 / longest;
    let mut series = class_series(by_class);
    for (k, (x, y)) in grid.iter().enumerate() {
        let (u, v) = (f[2 * k] * scale, f[2 * k + 1] * scale);
        // The shaft, and a short barb at the head.
        let (hx, hy) = (x + u, y + v);
        let (bx, by) = (hx - 0.35 * (u - 0.5 * v), hy - 0.35 * (v + 0.5 * u));
        series.push(Series {
            label: if k == 0 { "f(x)".into() } else { String::new() },
            points: vec![(*x, *y), (hx, hy), (bx, by)],
            color: [90, 90, 90],
            line: true,
        });
    }
    Plot {
        title: "The learned vector field".into(),
        x_label: "x0".into(),
        y_label: "x1".into(),
        series,
        equal_aspect: true,
        log_y: false,
    }
    .save(&artifacts.join("vector_field"))
}
