//! [`PromotionState`]: a promotion's progress, as the engine saves it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::{PromotionPhase, StepStatus};
use crate::time::Timestamp;

/// Everything about a promotion in progress: its phase, where it is, what
/// each step did, and every step's output. Saved after every step; running
/// the same steps again with a saved state resumes from it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PromotionState {
    /// The promotion's phase.
    pub phase: PromotionPhase,
    /// Why the promotion is in its phase (the worst step's message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The index of the step to run next.
    pub current_step: usize,
    /// What each step did, in step order (steps not reached yet have no record).
    #[serde(default)]
    pub steps: Vec<StepRecord>,
    /// Step outputs by alias (Kargo's promotion "state").
    #[serde(default)]
    pub outputs: Map<String, Value>,
    /// When the phase is `Running`: how long to wait before resuming, in
    /// milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// When the phase is `Running`: when the current step is to run again
    /// (`retry_after_ms` after the engine stopped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<Timestamp>,
}

/// What one step did (Kargo's step execution metadata).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct StepRecord {
    /// The step's alias.
    pub alias: String,
    /// The step kind.
    pub uses: String,
    /// The step's status; `None` until it was first evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StepStatus>,
    /// A message for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Whether the step's failure is ignored.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub continue_on_error: bool,
    /// When the step first started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    /// When the step finished (unset while it waits or retries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    /// Consecutive errors so far.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub error_count: u32,
    /// How many times the step was run.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl StepRecord {
    pub(crate) fn new(alias: String, uses: String, continue_on_error: bool) -> Self {
        StepRecord {
            alias,
            uses,
            continue_on_error,
            ..StepRecord::default()
        }
    }

    /// Whether the step failed in a way that makes later steps skip by
    /// default (Kargo: `Failed` or `Errored`, unless `continueOnError`).
    pub fn counts_as_failure(&self) -> bool {
        !self.continue_on_error
            && matches!(self.status, Some(StepStatus::Failed | StepStatus::Errored))
    }

    pub(crate) fn finish(&mut self, status: StepStatus, message: Option<String>) {
        self.status = Some(status);
        self.message = message;
        self.finished_at = Some(Timestamp::now());
    }
}

impl PromotionState {
    /// Whether the promotion waits to run its current step again after a
    /// retryable error below the step's `retry.errorThreshold` (its
    /// record `Running` with an error count), rather than for something
    /// outside it (a step that returned `Running`).
    pub fn is_retrying(&self) -> bool {
        self.phase == PromotionPhase::Running
            && self.steps.get(self.current_step).is_some_and(|r| {
                r.status == Some(StepStatus::Running)
                    && r.error_count > 0
                    && r.finished_at.is_none()
            })
    }

    /// Whether any step so far failed without `continueOnError`.
    pub fn has_failures(&self) -> bool {
        self.steps.iter().any(StepRecord::counts_as_failure)
    }

    /// The phase the recorded step statuses add up to: the worst status of
    /// the steps without `continueOnError`, with its message.
    pub fn final_phase(&self) -> (PromotionPhase, Option<String>) {
        let mut worst = StepStatus::Succeeded;
        let mut message = None;
        for record in self.steps.iter().filter(|r| !r.continue_on_error) {
            let status = record.status.unwrap_or(StepStatus::Succeeded);
            if status > worst {
                worst = status;
                message = record.message.clone();
            }
        }
        (worst.to_phase(), message)
    }
}
