use std::fmt;

use serde::{Deserialize, Serialize};

use crate::duration::GoDuration;

/// A variable that expressions can read as `vars.<name>`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExpressionVariable {
    /// The variable's name.
    pub name: String,
    /// Its value; may itself contain expressions. A task variable without a
    /// value is required: the step that uses the task must set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// A reference from a step to a `PromotionTask` or `ClusterPromotionTask`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromotionTaskReference {
    /// The task's name.
    pub name: String,
    /// `PromotionTask` (the default) or `ClusterPromotionTask`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// The retry policy of one step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromotionStepRetry {
    /// How long a step that keeps returning `Running` (or keeps failing with
    /// retryable errors) may be retried; zero means no limit. The check runs
    /// after an attempt, so a step may run once past the deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<GoDuration>,
    /// How many consecutive errors end the step; 0 means the step's default
    /// (and 1 when the step has none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub error_threshold: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One step of a promotion, as written in a promotion template.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromotionStep {
    /// The step kind to run, e.g. `yaml-update`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uses: String,
    /// A task to inflate in place of this step (exclusive with `uses`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<PromotionTaskReference>,
    /// The alias that names the step's outputs (default `step-N`/`task-N`).
    #[serde(rename = "as", default, skip_serializing_if = "String::is_empty")]
    pub alias: String,
    /// An expression deciding whether the step runs.
    #[serde(rename = "if", default, skip_serializing_if = "String::is_empty")]
    pub if_: String,
    /// A failure of this step neither stops later steps nor fails the promotion.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub continue_on_error: bool,
    /// Retry policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<PromotionStepRetry>,
    /// Step variables; they override promotion variables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vars: Vec<ExpressionVariable>,
    /// The step's configuration; string values may hold expressions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
}

impl PromotionStep {
    /// The step's alias: `as` when set, else `task-N` for a task reference
    /// and `step-N` otherwise (`index` counts from 0, N from 1).
    pub fn alias_at(&self, index: usize) -> String {
        if !self.alias.is_empty() {
            self.alias.clone()
        } else if self.task.is_some() {
            format!("task-{}", index + 1)
        } else {
            format!("step-{}", index + 1)
        }
    }
}

/// A promotion template: variables and steps. This is the shape of a
/// Stage's `spec.promotionTemplate.spec` and of a task's `spec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromotionTemplateSpec {
    /// Promotion-wide variables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vars: Vec<ExpressionVariable>,
    /// The steps, in order.
    #[serde(default)]
    pub steps: Vec<PromotionStep>,
}

/// The phase of a promotion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PromotionPhase {
    /// Queued, not started.
    #[default]
    Pending,
    /// Started and not finished (possibly waiting for something).
    Running,
    /// Finished successfully.
    Succeeded,
    /// Finished unsuccessfully, usually for non-technical reasons.
    Failed,
    /// Finished unsuccessfully for technical reasons.
    Errored,
    /// Stopped by a person (or cancelled).
    Aborted,
}

impl PromotionPhase {
    /// Whether the promotion is over.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            PromotionPhase::Succeeded
                | PromotionPhase::Failed
                | PromotionPhase::Errored
                | PromotionPhase::Aborted
        )
    }

    /// The name Kargo uses, e.g. `"Succeeded"`.
    pub fn as_str(self) -> &'static str {
        match self {
            PromotionPhase::Pending => "Pending",
            PromotionPhase::Running => "Running",
            PromotionPhase::Succeeded => "Succeeded",
            PromotionPhase::Failed => "Failed",
            PromotionPhase::Errored => "Errored",
            PromotionPhase::Aborted => "Aborted",
        }
    }
}

impl fmt::Display for PromotionPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status of one step, ordered by Kargo's severity: `Succeeded` <
/// `Skipped` < `Running` < `Aborted` < `Failed` < `Errored`.
///
/// The derived `Ord` is that severity order, so the promotion's outcome is
/// the `max` of its steps' statuses.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum StepStatus {
    /// Done, successfully.
    #[default]
    Succeeded,
    /// Not run (its `if` was false, an earlier step failed, or nothing to do).
    Skipped,
    /// Not finished: waiting for something; will be run again.
    Running,
    /// Stopped because the promotion was aborted.
    Aborted,
    /// Done, unsuccessfully, for non-technical reasons.
    Failed,
    /// Done, unsuccessfully, for technical reasons.
    Errored,
}

impl StepStatus {
    /// The name Kargo uses, e.g. `"Succeeded"`.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Succeeded => "Succeeded",
            StepStatus::Skipped => "Skipped",
            StepStatus::Running => "Running",
            StepStatus::Aborted => "Aborted",
            StepStatus::Failed => "Failed",
            StepStatus::Errored => "Errored",
        }
    }

    /// Whether this status counts as a failure for later steps' default
    /// `if` (`Aborted`, `Failed`, `Errored`).
    pub fn is_failure(self) -> bool {
        self >= StepStatus::Aborted
    }

    /// The promotion phase a promotion ends in when this is its worst step.
    pub fn to_phase(self) -> PromotionPhase {
        match self {
            StepStatus::Succeeded | StepStatus::Skipped => PromotionPhase::Succeeded,
            StepStatus::Running => PromotionPhase::Running,
            StepStatus::Aborted => PromotionPhase::Aborted,
            StepStatus::Failed => PromotionPhase::Failed,
            StepStatus::Errored => PromotionPhase::Errored,
        }
    }
}

impl fmt::Display for StepStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
