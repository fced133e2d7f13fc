use serde::{Deserialize, Serialize};

use super::{ExpressionVariable, ObjectMeta, PromotionStep};

/// How a Stage's Freight is verified: a kargo-rs stand-in for the Argo
/// Rollouts `AnalysisTemplate` that Kargo's `Stage.spec.verification`
/// refers to by name.
///
/// Kargo delegates verification to Argo Rollouts analysis, which does not
/// exist outside Kubernetes. kargo-rs keeps the Stage side unchanged
/// (`spec.verification.analysisTemplates[].name` and
/// `spec.verification.args`) and resolves the names to documents of this
/// kind, `kargo.akuity.io/v1alpha1` `AnalysisTemplate`, in the same
/// manifests. Its spec holds Argo's `args` (name and default value) and
/// exactly one of:
/// - `steps`: promotion steps (as in `promotionTemplate.spec.steps`, e.g.
///   an `http` check with a `successExpression`) run in a fresh work
///   directory; the verification passes when they succeed. The arguments
///   are the steps' `vars`.
/// - `command`: a program and its arguments, run in a fresh work
///   directory; it passes when the program exits 0. The arguments are
///   passed as environment variables named after them.
///
/// ```yaml
/// apiVersion: kargo.akuity.io/v1alpha1
/// kind: AnalysisTemplate
/// metadata: {name: smoke, namespace: demo}
/// spec:
///   args: [{name: url}]
///   steps:
///   - uses: http
///     config:
///       url: ${{ vars.url }}
///       successExpression: response.status == 200
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnalysisTemplate {
    /// `kargo.akuity.io/v1alpha1`, when read from a manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `AnalysisTemplate`, when read from a manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Metadata; `metadata.name` is what a Stage refers to.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// What to run.
    pub spec: AnalysisTemplateSpec,
}

/// The specification of an [`AnalysisTemplate`]: `args` plus one of
/// `steps` or `command`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnalysisTemplateSpec {
    /// The arguments with their defaults (Argo's `args`); a Stage's
    /// `spec.verification.args` override them by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<ExpressionVariable>,
    /// Promotion steps that verify.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<PromotionStep>,
    /// A program and its arguments that verify.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
}
