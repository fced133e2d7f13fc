use serde::{Deserialize, Serialize};

use super::{ObjectMeta, PromotionPhase};

/// A Kargo project: a namespace that holds Warehouses, Stages and tasks.
///
/// Current Kargo keeps project settings in a [`ProjectConfig`]; the older
/// `spec.promotionPolicies` of a Project is still read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Project {
    /// `kargo.akuity.io/v1alpha1`, when read from a manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `Project`, when read from a manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Metadata; `metadata.name` is the project's name.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Legacy settings (Kargo before `ProjectConfig`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<ProjectSpec>,
    /// The observed state, kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

/// The legacy specification of a [`Project`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProjectSpec {
    /// Promotion policies; superseded by `ProjectConfig.spec.promotionPolicies`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub promotion_policies: Vec<PromotionPolicy>,
}

/// The configuration of a project. Kargo expects one per project, named
/// after it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProjectConfig {
    /// `kargo.akuity.io/v1alpha1`, when read from a manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `ProjectConfig`, when read from a manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Metadata; the name and namespace are the project's name.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The project's settings.
    #[serde(default)]
    pub spec: ProjectConfigSpec,
    /// The observed state, kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

/// The specification of a [`ProjectConfig`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProjectConfigSpec {
    /// Per-Stage promotion policies, e.g. which Stages auto-promote.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub promotion_policies: Vec<PromotionPolicy>,
    /// Webhook receivers (kept as written; kargo-rs does not serve webhooks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhook_receivers: Vec<serde_json::Value>,
    /// Links shown with each piece of Freight.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub freight_links: Vec<DeepLink>,
    /// Links shown with each Stage.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stage_links: Vec<DeepLink>,
    /// Promotion windows (kept as written).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub promotion_windows: Vec<serde_json::Value>,
}

impl ProjectConfigSpec {
    /// The first policy that names `stage` exactly, if any.
    ///
    /// Policies selecting Stages by pattern (`regex:`, `glob:`) or label
    /// need the Stage's labels and a matcher; this lookup only covers exact
    /// names.
    pub fn policy_for_stage(&self, stage: &str) -> Option<&PromotionPolicy> {
        self.promotion_policies.iter().find(|p| {
            p.stage == stage || p.stage_selector.as_ref().is_some_and(|s| s.name == stage)
        })
    }
}

/// A link template shown next to Freight or Stages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeepLink {
    /// The link's title.
    pub title: String,
    /// The link's URL; may hold expressions.
    #[serde(rename = "url")]
    pub url: String,
    /// A description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// An expression deciding whether the link is shown.
    #[serde(rename = "if", default, skip_serializing_if = "String::is_empty")]
    pub if_: String,
}

/// How promotions into a Stage (or a set of Stages) are handled.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromotionPolicy {
    /// The Stage the policy applies to (exclusive with `stageSelector`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stage: String,
    /// Selects the Stages the policy applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage_selector: Option<PromotionPolicySelector>,
    /// Whether new Freight is promoted into the Stage automatically.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto_promotion_enabled: bool,
    /// When to roll back automatically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_rollback: Option<AutoRollbackConfig>,
}

/// Selects Stages by name (exact, `regex:` or `glob:`) and/or labels; both
/// must match when both are given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromotionPolicySelector {
    /// An exact name, or a pattern prefixed with `regex:` or `glob:`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Labels that must have exactly these values.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub match_labels: std::collections::BTreeMap<String, String>,
    /// Further label requirements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<super::LabelSelectorRequirement>,
}

/// When a Stage rolls back automatically.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AutoRollbackConfig {
    /// Promotion phases that trigger a rollback.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_promotion: Vec<PromotionPhase>,
    /// Verification phases (`Failed`, `Error`, ...) that trigger a rollback.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_verification: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_config_reads_promotion_policies() {
        let yaml = r#"
apiVersion: kargo.akuity.io/v1alpha1
kind: ProjectConfig
metadata:
  name: demo
  namespace: demo
spec:
  promotionPolicies:
  - stage: test
    autoPromotionEnabled: true
  - stageSelector:
      name: "glob:prod-*"
      matchLabels:
        tier: prod
    autoPromotionEnabled: false
"#;
        let config: ProjectConfig = serde_saphyr::from_str(yaml).expect("valid ProjectConfig");
        let policies = &config.spec.promotion_policies;
        assert_eq!(policies.len(), 2);
        assert!(
            config
                .spec
                .policy_for_stage("test")
                .is_some_and(|p| p.auto_promotion_enabled)
        );
        assert_eq!(
            policies[1].stage_selector.as_ref().map(|s| s.name.as_str()),
            Some("glob:prod-*")
        );
    }

    #[test]
    fn legacy_project_spec_is_read() {
        let yaml = "metadata:\n  name: demo\nspec:\n  promotionPolicies:\n  - stage: test\n    autoPromotionEnabled: true\nstatus:\n  conditions: []\n";
        let project: Project = serde_saphyr::from_str(yaml).expect("valid Project");
        let spec = project.spec.expect("spec");
        assert!(spec.promotion_policies[0].auto_promotion_enabled);
        assert!(project.status.is_some());
    }
}
