use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ExpressionVariable, FreightOrigin, ObjectMeta, PromotionTemplateSpec};
use crate::duration::GoDuration;

/// A promotion target: it requests Freight from Warehouses or upstream
/// Stages and incorporates it by running its promotion template.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Stage {
    /// `kargo.akuity.io/v1alpha1`, when read from a manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `Stage`, when read from a manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Metadata; `metadata.name` names the Stage within its project.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Where Freight comes from and how it is promoted.
    pub spec: StageSpec,
    /// The observed state, kept as written (kargo-rs keeps its own state in
    /// a state store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

impl Stage {
    /// Whether the Stage only passes Freight on (it has no promotion steps).
    pub fn is_control_flow(&self) -> bool {
        self.spec
            .promotion_template
            .as_ref()
            .is_none_or(|t| t.spec.steps.is_empty())
    }

    /// The Stage's request for Freight from `origin`, if it has one.
    pub fn requested_freight_from(&self, origin: &FreightOrigin) -> Option<&FreightRequest> {
        self.spec
            .requested_freight
            .iter()
            .find(|r| &r.origin == origin)
    }
}

/// The specification of a [`Stage`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StageSpec {
    /// The shard the Stage belongs to; empty for the default shard.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub shard: String,
    /// Variables for the promotion template and verification arguments.
    /// Promotion template variables override them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vars: Vec<ExpressionVariable>,
    /// The Freight the Stage needs, one request per origin (at least one).
    #[serde(default)]
    pub requested_freight: Vec<FreightRequest>,
    /// How to promote Freight into the Stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion_template: Option<PromotionTemplate>,
    /// How to verify the Stage's current Freight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// The Targets the Stage governs; absent for a classic Stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<StageTargets>,
}

/// A Stage's need for Freight from one origin.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FreightRequest {
    /// The Warehouse the Freight must come from.
    pub origin: FreightOrigin,
    /// Where the Freight may be taken from.
    #[serde(default)]
    pub sources: FreightSources,
}

/// Where requested Freight may be taken from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FreightSources {
    /// Directly from the origin Warehouse.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub direct: bool,
    /// From these upstream Stages, once verified there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<String>,
    /// How long Freight must have been in an upstream Stage before it is
    /// available here (besides being verified). A manual approval
    /// overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_soak_time: Option<GoDuration>,
    /// Whether Freight must be verified (and soaked) in one upstream Stage
    /// or in all of them. Defaults to `OneOf`; an empty string means `OneOf`.
    #[serde(default)]
    pub availability_strategy: AvailabilityStrategy,
    /// Auto-promotion options; auto-promotion itself is switched on by the
    /// project's promotion policies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_promotion_options: Option<AutoPromotionOptions>,
}

/// How requested Freight becomes available from upstream Stages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AvailabilityStrategy {
    /// Verified (and soaked) in at least one upstream Stage.
    #[default]
    #[serde(alias = "")]
    OneOf,
    /// Verified (and soaked) in every upstream Stage.
    All,
}

/// Options for auto-promotion into a Stage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AutoPromotionOptions {
    /// Which Freight is eligible. Defaults to `NewestFreight`.
    #[serde(default)]
    pub selection_policy: AutoPromotionSelectionPolicy,
}

/// Which Freight auto-promotion picks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AutoPromotionSelectionPolicy {
    /// The newest Freight available to the Stage.
    #[default]
    NewestFreight,
    /// The Freight currently in the single upstream Stage.
    MatchUpstream,
}

/// A Stage's promotion template.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromotionTemplate {
    /// The variables and steps of every promotion into the Stage.
    pub spec: PromotionTemplateSpec,
}

impl PromotionTemplate {
    /// The template every promotion into `stage` runs, with Kargo's
    /// variable order: the Stage's `spec.vars` first, then the template's,
    /// so that a template variable of the same name wins. `None` when the
    /// Stage has no `spec.promotionTemplate` (a control-flow Stage).
    pub fn for_stage(stage: &Stage) -> Option<PromotionTemplate> {
        let mut spec = stage.spec.promotion_template.as_ref()?.spec.clone();
        let mut vars = stage.spec.vars.clone();
        vars.append(&mut spec.vars);
        spec.vars = vars;
        Some(PromotionTemplate { spec })
    }
}

/// How a Stage's Freight is verified (Argo Rollouts analysis in Kargo).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Verification {
    /// The analysis templates to run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub analysis_templates: Vec<AnalysisTemplateReference>,
    /// Labels and annotations for the analysis runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis_run_metadata: Option<AnalysisRunMetadata>,
    /// Arguments for the analysis runs; values may hold expressions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<AnalysisRunArgument>,
}

/// A reference to an analysis template.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnalysisTemplateReference {
    /// The template's name.
    pub name: String,
    /// `AnalysisTemplate` (the default) or `ClusterAnalysisTemplate`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
}

/// Labels and annotations for analysis runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnalysisRunMetadata {
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An argument of an analysis run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnalysisRunArgument {
    /// The argument's name.
    pub name: String,
    /// Its value; may hold expressions.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
}

/// The Targets a Stage governs, selected by label.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StageTargets {
    /// A Target is governed when it matches any selector; an empty selector
    /// matches every Target, an empty list none.
    #[serde(default)]
    pub selectors: Vec<LabelSelector>,
}

/// A Kubernetes label selector.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelector {
    /// Labels that must have exactly these values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Further requirements, all of which must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// One requirement of a [`LabelSelector`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelectorRequirement {
    /// The label's key.
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    pub operator: String,
    /// The values for `In` and `NotIn`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_read_kargo_fields_and_defaults() {
        let yaml = r#"
origin:
  kind: Warehouse
  name: guestbook
sources:
  stages: [test, uat]
  requiredSoakTime: 1h
  availabilityStrategy: All
  autoPromotionOptions:
    selectionPolicy: MatchUpstream
"#;
        let request: FreightRequest = serde_saphyr::from_str(yaml).expect("valid request");
        assert_eq!(request.origin, FreightOrigin::warehouse("guestbook"));
        assert_eq!(request.sources.stages, ["test", "uat"]);
        assert_eq!(
            request.sources.required_soak_time.map(|d| d.to_string()),
            Some("1h0m0s".to_owned())
        );
        assert_eq!(
            request.sources.availability_strategy,
            AvailabilityStrategy::All
        );
        assert_eq!(
            request.sources.auto_promotion_options,
            Some(AutoPromotionOptions {
                selection_policy: AutoPromotionSelectionPolicy::MatchUpstream
            })
        );

        let direct: FreightSources =
            serde_saphyr::from_str("direct: true\navailabilityStrategy: \"\"\n")
                .expect("valid sources");
        assert!(direct.direct);
        assert_eq!(direct.availability_strategy, AvailabilityStrategy::OneOf);
    }

    #[test]
    fn unknown_spec_field_is_rejected() {
        let err = serde_saphyr::from_str::<StageSpec>("requestedFreight: []\npromotionSteps: []\n")
            .expect_err("unknown field");
        assert!(err.to_string().contains("promotionSteps"), "{err}");
    }

    #[test]
    fn stage_without_steps_is_control_flow() {
        let stage = Stage::default();
        assert!(stage.is_control_flow());
    }
}
