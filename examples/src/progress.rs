//! Plain progress lines for runs without a terminal (CI, logs, pipes): one line per epoch
//! instead of burn-train's per-batch debug output.

use std::collections::HashMap;

use burn::train::metric::{MetricDefinition, MetricEntry, MetricId};
use burn::train::renderer::{
    EvaluationName, EvaluationProgress, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining, ProgressType, TrainingProgress,
};

/// Prints `epoch 2/6  train: Accuracy 91.2 Loss 0.231  valid: Accuracy 93.0 Loss 0.190` once
/// per epoch, after validation.
#[derive(Default)]
pub struct EpochLines {
    names: HashMap<MetricId, String>,
    train: Vec<(String, String)>,
    valid: Vec<(String, String)>,
}

impl EpochLines {
    /// A renderer with no metrics registered yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn record(
        names: &HashMap<MetricId, String>,
        into: &mut Vec<(String, String)>,
        state: MetricState,
    ) {
        let entry: MetricEntry = match state {
            MetricState::Generic(entry) | MetricState::Numeric(entry, _) => entry,
        };
        let name = names
            .get(&entry.metric_id)
            .cloned()
            .unwrap_or_else(|| "metric".to_string());
        let value = entry.serialized_entry.formatted;
        match into.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => into.push((name, value)),
        }
    }

    fn join(values: &[(String, String)]) -> String {
        values
            .iter()
            .map(|(name, value)| format!("{name} {value}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl MetricsRendererTraining for EpochLines {
    fn update_train(&mut self, state: MetricState) {
        Self::record(&self.names, &mut self.train, state);
    }

    fn update_valid(&mut self, state: MetricState) {
        Self::record(&self.names, &mut self.valid, state);
    }

    fn render_train(&mut self, _item: TrainingProgress, _indicators: Vec<ProgressType>) {}

    fn render_valid(&mut self, item: TrainingProgress, _indicators: Vec<ProgressType>) {
        let done = item
            .progress
            .as_ref()
            .is_some_and(|p| p.items_processed >= p.items_total);
        if done {
            println!(
                "epoch {}/{}  train: {}  valid: {}",
                item.global_progress.items_processed,
                item.global_progress.items_total,
                Self::join(&self.train),
                Self::join(&self.valid)
            );
        }
    }
}

impl MetricsRendererEvaluation for EpochLines {
    fn update_test(&mut self, _name: EvaluationName, _state: MetricState) {}

    fn render_test(&mut self, _item: EvaluationProgress, _indicators: Vec<ProgressType>) {}
}

impl MetricsRenderer for EpochLines {
    fn manual_close(&mut self) {}

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.names.insert(definition.metric_id, definition.name);
    }
}
