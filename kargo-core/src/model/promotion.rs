use std::fmt;

use serde::{Deserialize, Serialize};

use super::{FreightOrigin, ObjectMeta};
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

/// A request to promote one piece of Freight into one Stage by running a
/// list of steps. Kargo creates it from the Stage's promotion template.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Promotion {
    /// `kargo.akuity.io/v1alpha1`, when read from a manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `Promotion`, when read from a manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Metadata; `metadata.name` names the promotion.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// What to promote where, and how.
    pub spec: PromotionSpec,
    /// How far the promotion got.
    #[serde(default, skip_serializing_if = "PromotionStatus::is_empty")]
    pub status: PromotionStatus,
}

/// The specification of a [`Promotion`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromotionSpec {
    /// The Stage to promote into.
    pub stage: String,
    /// The name (ID) of the Freight to promote.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub freight: String,
    /// The origin of the Freight, when the Freight is named by origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<FreightOrigin>,
    /// The Target to promote to, for a target-aware Stage.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target: String,
    /// Promotion-wide variables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vars: Vec<ExpressionVariable>,
    /// The steps, in order.
    #[serde(default)]
    pub steps: Vec<PromotionStep>,
}

/// The observed state of a [`Promotion`].
///
/// Fields kargo-rs does not interpret (`freight`, `freightCollection`,
/// `healthChecks`) are kept as JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromotionStatus {
    /// The last refresh request handled.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_handled_refresh: String,
    /// The promotion's phase; absent until it is first handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<PromotionPhase>,
    /// Why the promotion is in its phase.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The Freight being promoted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freight: Option<serde_json::Value>,
    /// All the Freight the Stage holds after the promotion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freight_collection: Option<serde_json::Value>,
    /// Health checks the steps asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health_checks: Vec<serde_json::Value>,
    /// When the promotion started (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When the promotion finished (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// The index of the step being run (or to run next).
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub current_step: i64,
    /// One entry per step that has started.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub step_execution_metadata: Vec<StepExecutionMetadata>,
    /// The steps' outputs, by alias.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<serde_json::Value>,
}

fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

impl PromotionStatus {
    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        *self == PromotionStatus::default()
    }
}

/// What happened to one step of a promotion.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepExecutionMetadata {
    /// The step's alias.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub alias: String,
    /// When the step first started (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When the step finished (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Consecutive errors so far.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub error_count: u32,
    /// The step's status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StepStatus>,
    /// Why the step is in its status.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Whether the step's failure is tolerated.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub continue_on_error: bool,
}
