use serde::{Deserialize, Serialize};

use super::{ObjectMeta, PromotionTemplateSpec};

/// The specification of a task: variables (a variable without a value must
/// be set by the step that uses the task) and steps. Same shape as a
/// promotion template.
pub type PromotionTaskSpec = PromotionTemplateSpec;

/// A reusable sequence of promotion steps, local to a project. A step uses
/// it with `task: {name: ...}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromotionTask {
    /// `kargo.akuity.io/v1alpha1`, when read from a manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `PromotionTask`, when read from a manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Metadata; `metadata.name` names the task within its project.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The task's variables and steps.
    pub spec: PromotionTaskSpec,
}

/// A reusable sequence of promotion steps shared by every project. A step
/// uses it with `task: {name: ..., kind: ClusterPromotionTask}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterPromotionTask {
    /// `kargo.akuity.io/v1alpha1`, when read from a manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `ClusterPromotionTask`, when read from a manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Metadata; `metadata.name` names the task.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The task's variables and steps.
    pub spec: PromotionTaskSpec,
}
