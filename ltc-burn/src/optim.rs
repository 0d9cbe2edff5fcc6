//! Training helpers Burn 0.21 lacks.

use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Tensor};

/// Scales all gradients together so that their global L2 norm is at most `max_norm`, as
/// PyTorch's `clip_grad_norm_` (and PyTorch Lightning's `gradient_clip_val`) do; returns the
/// norm before clipping.
///
/// Burn's `GradientClippingConfig::Norm` clips each parameter's gradient on its own, which is a
/// different (weaker) constraint: use this to reproduce PyTorch training runs. Call it between
/// `GradientsParams::from_grads` and the optimiser step (e.g. in your `TrainStep::step`).
///
/// ```
/// use burn::backend::{Autodiff, NdArray};
/// use burn::nn::LinearConfig;
/// use burn::optim::GradientsParams;
/// use burn::tensor::Tensor;
/// # #[cfg(not(ltc_doc_wgpu))] type Inner = NdArray;
/// # #[cfg(ltc_doc_wgpu)] type Inner = burn::backend::Wgpu;
/// type B = Autodiff<Inner>;
///
/// let device = Default::default();
/// let linear = LinearConfig::new(4, 3).init::<B>(&device);
/// let loss = linear.forward(Tensor::<B, 2>::ones([2, 4], &device)).sum().mul_scalar(100.0);
/// let grads = GradientsParams::from_grads(loss.backward(), &linear);
/// let (grads, norm) = ltc_burn::optim::clip_grad_norm(&linear, grads, 1.0);
/// assert!(norm > 1.0);
/// let w = grads.get::<Inner, 2>(linear.weight.id).unwrap();
/// let b = grads.get::<Inner, 1>(linear.bias.as_ref().unwrap().id).unwrap();
/// let clipped = (w.powi_scalar(2).sum() + b.powi_scalar(2).sum()).sqrt().into_scalar();
/// assert!((clipped - 1.0).abs() < 1e-4);
/// ```
pub fn clip_grad_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    grads: GradientsParams,
    max_norm: f64,
) -> (GradientsParams, f64) {
    struct SquaredNorm<'a> {
        grads: &'a GradientsParams,
        sum: f64,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for SquaredNorm<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
                self.sum += g.powi_scalar(2).sum().into_scalar().elem::<f64>();
            }
        }
    }
    struct Scale {
        grads: GradientsParams,
        factor: f64,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for Scale {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
                self.grads
                    .register::<B::InnerBackend, D>(param.id, g.mul_scalar(self.factor));
            }
        }
    }
    let mut norm = SquaredNorm {
        grads: &grads,
        sum: 0.0,
    };
    module.visit(&mut norm);
    let total = norm.sum.sqrt();
    // PyTorch's factor: max_norm / (norm + 1e-6), applied only when it is below 1.
    let factor = max_norm / (total + 1e-6);
    if factor >= 1.0 {
        return (grads, total);
    }
    let mut scale = Scale { grads, factor };
    module.visit(&mut scale);
    (scale.grads, total)
}

/// Moves every gradient of `module`'s parameters from `source` into `target`, adding to a
/// gradient `target` already holds for the same parameter.
///
/// Burn's `GradientsParams` can only be built from one backward pass. A training step that
/// computes some gradients by another pass — [`solve_adjoint`](crate::ode::solve_adjoint)'s
/// backward sweep, or a second `backward()` into an encoder — joins them with this before the
/// optimiser step.
///
/// ```
/// use burn::backend::{Autodiff, NdArray};
/// use burn::nn::LinearConfig;
/// use burn::optim::GradientsParams;
/// use burn::tensor::Tensor;
/// # #[cfg(not(ltc_doc_wgpu))] type Inner = NdArray;
/// # #[cfg(ltc_doc_wgpu)] type Inner = burn::backend::Wgpu;
/// type B = Autodiff<Inner>;
///
/// let device = Default::default();
/// let linear = LinearConfig::new(2, 1).init::<B>(&device);
/// let x = Tensor::<B, 2>::ones([1, 2], &device);
/// let first = GradientsParams::from_grads(linear.forward(x.clone()).sum().backward(), &linear);
/// let mut total = GradientsParams::from_grads(linear.forward(x).sum().backward(), &linear);
/// ltc_burn::optim::merge_gradients(&mut total, first, &linear);
/// let w = total.get::<Inner, 2>(linear.weight.id).unwrap();
/// assert_eq!(w.into_data().to_vec::<f32>().unwrap(), vec![2.0, 2.0]); // 1 + 1 per weight
/// ```
pub fn merge_gradients<B: AutodiffBackend, M: AutodiffModule<B>>(
    target: &mut GradientsParams,
    mut source: GradientsParams,
    module: &M,
) {
    struct Merge<'a> {
        target: &'a mut GradientsParams,
        source: &'a mut GradientsParams,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for Merge<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if let Some(g) = self.source.remove::<B::InnerBackend, D>(param.id) {
                let g = match self.target.remove::<B::InnerBackend, D>(param.id) {
                    Some(existing) => existing + g,
                    None => g,
                };
                self.target.register::<B::InnerBackend, D>(param.id, g);
            }
        }
    }
    module.visit(&mut Merge {
        target,
        source: &mut source,
    });
}
