//! The sequence layer's input checks: shapes named in every panic, and the batch-first /
//! sequence-first layout.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::RecurrentState;
use crate::shape::check_shape;

/// A checked sequence in batch-first layout.
pub(crate) struct Sequence<B: Backend> {
    /// `[batch, seq, input]`.
    pub(crate) x: Tensor<B, 3>,
    /// `[batch, seq]`, when given.
    pub(crate) timespans: Option<Tensor<B, 2>>,
    pub(crate) batch: usize,
    pub(crate) seq: usize,
}

impl<B: Backend> Sequence<B> {
    /// Checks `x` (`[batch, seq, input]`, or `[seq, batch, input]` when not `batch_first`) and
    /// `timespans` (`[batch, seq]` / `[seq, batch]`) and brings both to batch-first layout.
    ///
    /// # Panics
    /// With the expected and the actual shape when one does not match.
    #[track_caller]
    pub(crate) fn new(
        context: &str,
        batch_first: bool,
        d_input: usize,
        x: Tensor<B, 3>,
        timespans: Option<Tensor<B, 2>>,
    ) -> Self {
        let (b_name, s_name) = if batch_first {
            ("batch", "seq")
        } else {
            ("seq", "batch")
        };
        check_shape(
            context,
            "x",
            &x.dims(),
            &[(b_name, None), (s_name, None), ("d_input", Some(d_input))],
        );
        let x = if batch_first { x } else { x.swap_dims(0, 1) };
        let [batch, seq, _] = x.dims();
        let timespans = timespans.map(|ts| {
            let (d0, d1) = if batch_first {
                (batch, seq)
            } else {
                (seq, batch)
            };
            check_shape(
                context,
                "timespans",
                &ts.dims(),
                &[(b_name, Some(d0)), (s_name, Some(d1))],
            );
            if batch_first { ts } else { ts.swap_dims(0, 1) }
        });
        Self {
            x,
            timespans,
            batch,
            seq,
        }
    }

    /// The input at step `t`, `[batch, input]`.
    pub(crate) fn input(&self, t: usize) -> Tensor<B, 2> {
        let [batch, _, s] = self.x.dims();
        self.x.clone().narrow(1, t, 1).reshape([batch, s])
    }

    /// The time elapsed before step `t`, `[batch]`, when timespans were given.
    pub(crate) fn timespans(&self, t: usize) -> Option<Tensor<B, 1>> {
        self.timespans
            .as_ref()
            .map(|ts| ts.clone().narrow(1, t, 1).reshape([self.batch]))
    }
}

/// Checks one step's input `x` (`[batch, d_input]`) and timespans (`[batch]`); returns the
/// batch size.
///
/// # Panics
/// With the expected and the actual shape when one does not match.
#[track_caller]
pub(crate) fn check_step_input<B: Backend>(
    context: &str,
    d_input: usize,
    x: &Tensor<B, 2>,
    timespans: Option<&Tensor<B, 1>>,
) -> usize {
    check_shape(
        context,
        "x",
        &x.dims(),
        &[("batch", None), ("d_input", Some(d_input))],
    );
    let batch = x.dims()[0];
    if let Some(dt) = timespans {
        check_shape(context, "timespans", &dt.dims(), &[("batch", Some(batch))]);
    }
    batch
}

/// Checks a state tensor `[batch, d_hidden]`.
///
/// # Panics
/// With the expected and the actual shape.
#[track_caller]
pub(crate) fn check_hidden<B: Backend>(
    context: &str,
    name: &str,
    h: &Tensor<B, 2>,
    batch: usize,
    d_hidden: usize,
) {
    let expected = [("batch", Some(batch)), ("d_hidden", Some(d_hidden))];
    check_shape(context, name, &h.dims(), &expected);
}

/// Stacks per-step outputs `[batch, width]` into `[batch, seq, width]`, or `[seq, batch, width]`
/// when not `batch_first`.
pub(crate) fn stack_steps<B: Backend>(steps: Vec<Tensor<B, 2>>, batch_first: bool) -> Tensor<B, 3> {
    let y = Tensor::stack::<3>(steps, 1);
    if batch_first { y } else { y.swap_dims(0, 1) }
}

/// Checks a layer's state: `hidden` `[batch, d_hidden]` and, for layers with mixed memory, its
/// `memory`.
///
/// # Panics
/// With the expected and the actual shape, or when `memory` is missing under mixed memory or
/// given without it.
#[track_caller]
pub(crate) fn check_state<B: Backend>(
    context: &str,
    state: &RecurrentState<B>,
    batch: usize,
    d_hidden: usize,
    mixed_memory: bool,
) {
    check_hidden(context, "state.hidden", &state.hidden, batch, d_hidden);
    match (mixed_memory, &state.memory) {
        (true, Some(c)) => check_hidden(context, "state.memory", c, batch, d_hidden),
        (true, None) => panic!(
            "{context}: this layer has mixed memory, so state.memory must be a [batch, d_hidden] \
             tensor, got None (pass the state a previous call returned, or None for zeros)"
        ),
        (false, Some(_)) => {
            panic!("{context}: this layer has no mixed memory, so state.memory must be None")
        }
        (false, None) => {}
    }
}
