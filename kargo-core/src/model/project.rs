use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{LabelSelector, LabelSelectorRequirement, ObjectMeta, PromotionPhase};

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
    /// The policy that applies to a Stage: the first, in order, whose
    /// selector matches the Stage's name and labels (Kargo's rule; a policy
    /// that names no Stage and selects no labels matches every Stage).
    pub fn policy_for(&self, stage: &ObjectMeta) -> Result<Option<&PromotionPolicy>, PolicyError> {
        policy_for(&self.promotion_policies, stage)
    }

    /// Whether new Freight is promoted into the Stage automatically: the
    /// matching policy says so.
    pub fn auto_promotion_enabled(&self, stage: &ObjectMeta) -> Result<bool, PolicyError> {
        Ok(self
            .policy_for(stage)?
            .is_some_and(|p| p.auto_promotion_enabled))
    }
}

impl ProjectSpec {
    /// Like [`ProjectConfigSpec::policy_for`], for the legacy policies.
    pub fn policy_for(&self, stage: &ObjectMeta) -> Result<Option<&PromotionPolicy>, PolicyError> {
        policy_for(&self.promotion_policies, stage)
    }
}

fn policy_for<'a>(
    policies: &'a [PromotionPolicy],
    stage: &ObjectMeta,
) -> Result<Option<&'a PromotionPolicy>, PolicyError> {
    for policy in policies {
        if policy.matches(&stage.name, &stage.labels)? {
            return Ok(Some(policy));
        }
    }
    Ok(None)
}

/// A promotion policy whose selector cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A `glob:` or `regex:` name pattern does not parse.
    #[error("invalid promotion policy name pattern `{pattern}`: {reason}")]
    InvalidPattern {
        /// The pattern, prefix included.
        pattern: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A label selector requirement is malformed.
    #[error("invalid promotion policy label selector on `{key}`: {reason}")]
    InvalidSelector {
        /// The label key of the requirement.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

impl From<PolicyError> for crate::Error {
    fn from(err: PolicyError) -> Self {
        crate::Error::Invalid(err.to_string())
    }
}

impl PromotionPolicy {
    /// Whether the policy applies to a Stage with this name and these
    /// labels. The name is taken from `stageSelector.name` or, without a
    /// selector, from the deprecated `stage` field; it is an exact name, or
    /// a pattern prefixed with `glob:` or `regex:`/`regexp:` (a regular
    /// expression matches anywhere in the name, as in Kargo). Labels must
    /// satisfy the selector's `matchLabels` and `matchExpressions`.
    pub fn matches(
        &self,
        stage_name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<bool, PolicyError> {
        let (name, match_labels, match_expressions) = match &self.stage_selector {
            Some(s) => (
                s.name.as_str(),
                &s.match_labels,
                s.match_expressions.as_slice(),
            ),
            None => (self.stage.as_str(), &BTreeMap::new(), &[][..]),
        };
        if !name.is_empty() && !name_matches(name, stage_name)? {
            return Ok(false);
        }
        labels_match(match_labels, match_expressions, labels)
    }
}

impl LabelSelector {
    /// Whether `labels` satisfy the selector, as Kubernetes decides: every
    /// `matchLabels` entry is there with that value, and every
    /// `matchExpressions` requirement (`In`, `NotIn`, `Exists`,
    /// `DoesNotExist`) holds. An empty selector matches everything. A
    /// requirement with an unknown operator, or values where it takes
    /// none (or none where it needs some), is an error naming its key.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> Result<bool, PolicyError> {
        labels_match(&self.match_labels, &self.match_expressions, labels)
    }
}

fn labels_match(
    match_labels: &BTreeMap<String, String>,
    match_expressions: &[LabelSelectorRequirement],
    labels: &BTreeMap<String, String>,
) -> Result<bool, PolicyError> {
    if !match_labels
        .iter()
        .all(|(k, v)| labels.get(k).is_some_and(|l| l == v))
    {
        return Ok(false);
    }
    for requirement in match_expressions {
        if !requirement_matches(requirement, labels)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn name_matches(pattern: &str, name: &str) -> Result<bool, PolicyError> {
    let invalid = |reason: String| PolicyError::InvalidPattern {
        pattern: pattern.to_owned(),
        reason,
    };
    if let Some(glob) = pattern.strip_prefix("glob:") {
        // `*` and `?` stop at `/`; `\` escapes; `[!a]`, `{a,b}` as usual.
        let matcher = globset::GlobBuilder::new(glob)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|e| invalid(e.kind().to_string()))?
            .compile_matcher();
        return Ok(matcher.is_match(name));
    }
    if let Some(expr) = pattern
        .strip_prefix("regex:")
        .or_else(|| pattern.strip_prefix("regexp:"))
    {
        let regex = regex_lite::Regex::new(expr).map_err(|e| invalid(e.to_string()))?;
        return Ok(regex.is_match(name));
    }
    Ok(pattern == name)
}

fn requirement_matches(
    requirement: &LabelSelectorRequirement,
    labels: &BTreeMap<String, String>,
) -> Result<bool, PolicyError> {
    let value = labels.get(&requirement.key);
    let invalid = |reason: &str| PolicyError::InvalidSelector {
        key: requirement.key.clone(),
        reason: reason.to_owned(),
    };
    match requirement.operator.as_str() {
        "In" | "NotIn" if requirement.values.is_empty() => {
            Err(invalid("`In` and `NotIn` need values"))
        }
        "In" => Ok(value.is_some_and(|v| requirement.values.contains(v))),
        "NotIn" => Ok(!value.is_some_and(|v| requirement.values.contains(v))),
        "Exists" | "DoesNotExist" if !requirement.values.is_empty() => {
            Err(invalid("`Exists` and `DoesNotExist` take no values"))
        }
        "Exists" => Ok(value.is_some()),
        "DoesNotExist" => Ok(value.is_none()),
        _ => Err(invalid(
            "the operator must be In, NotIn, Exists or DoesNotExist",
        )),
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
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Further label requirements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
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
        let stage = |name: &str, tier: &str| ObjectMeta {
            name: name.into(),
            labels: [("tier".to_owned(), tier.to_owned())].into(),
            ..Default::default()
        };
        assert_eq!(
            config.spec.auto_promotion_enabled(&stage("test", "x")),
            Ok(true)
        );
        assert_eq!(
            config
                .spec
                .auto_promotion_enabled(&stage("prod-eu", "prod")),
            Ok(false)
        );
        assert!(
            config
                .spec
                .policy_for(&stage("prod-eu", "prod"))
                .is_ok_and(|p| p.is_some())
        );
        assert_eq!(config.spec.policy_for(&stage("prod-eu", "dev")), Ok(None));
        assert_eq!(config.spec.policy_for(&stage("uat", "prod")), Ok(None));
        assert_eq!(
            policies[1].stage_selector.as_ref().map(|s| s.name.as_str()),
            Some("glob:prod-*")
        );
    }

    fn policy(name: &str) -> PromotionPolicy {
        PromotionPolicy {
            stage_selector: Some(PromotionPolicySelector {
                name: name.into(),
                ..Default::default()
            }),
            auto_promotion_enabled: true,
            ..Default::default()
        }
    }

    #[test]
    fn policy_names_match_exactly_by_glob_or_by_regex() {
        let none = BTreeMap::new();
        let cases = [
            ("test", "test", true),
            ("test", "test-2", false),
            ("glob:prod-*", "prod-eu", true),
            ("glob:prod-*", "staging", false),
            ("glob:prod-?", "prod-1", true),
            ("glob:prod-[0-9]", "prod-7", true),
            ("glob:prod-[!0-9]", "prod-7", false),
            ("glob:{dev,test}", "test", true),
            ("glob:{dev,test}", "uat", false),
            // `*` stays within one path segment; `\` escapes.
            ("glob:team/*", "team/a", true),
            ("glob:team/*", "team/a/b", false),
            ("glob:a\\*", "a*", true),
            ("glob:a\\*", "ab", false),
            // Unanchored, as Go's MatchString.
            ("regex:^prod-", "prod-eu", true),
            ("regex:eu", "prod-eu-1", true),
            ("regexp:^uat$", "uat-2", false),
            // No name: every Stage.
            ("", "anything", true),
        ];
        for (pattern, stage, want) in cases {
            assert_eq!(
                policy(pattern).matches(stage, &none),
                Ok(want),
                "{pattern} vs {stage}"
            );
        }
        assert!(policy("regex:(").matches("x", &none).is_err());
        assert!(policy("glob:[abc").matches("x", &none).is_err());
        // The deprecated `stage` field, without a selector.
        let legacy = PromotionPolicy {
            stage: "test".into(),
            ..Default::default()
        };
        assert_eq!(legacy.matches("test", &none), Ok(true));
        assert_eq!(legacy.matches("uat", &none), Ok(false));
    }

    #[test]
    fn policy_label_expressions() {
        let labels: BTreeMap<String, String> = [("tier".to_owned(), "prod".to_owned())].into();
        let with = |operator: &str, values: &[&str]| PromotionPolicy {
            stage_selector: Some(PromotionPolicySelector {
                match_expressions: vec![LabelSelectorRequirement {
                    key: "tier".into(),
                    operator: operator.into(),
                    values: values.iter().map(|v| (*v).to_owned()).collect(),
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(with("In", &["prod", "uat"]).matches("s", &labels), Ok(true));
        assert_eq!(with("NotIn", &["prod"]).matches("s", &labels), Ok(false));
        assert_eq!(with("Exists", &[]).matches("s", &labels), Ok(true));
        assert_eq!(with("DoesNotExist", &[]).matches("s", &labels), Ok(false));
        assert!(with("In", &[]).matches("s", &labels).is_err());
        assert!(with("Near", &["x"]).matches("s", &labels).is_err());
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

#[cfg(test)]
mod label_selector_tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn requirement(key: &str, operator: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: operator.into(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        }
    }

    #[test]
    fn a_label_selector_ands_its_labels_and_requirements() {
        let selector = LabelSelector {
            match_labels: labels(&[("env", "prod")]),
            match_expressions: vec![
                requirement("service", "In", &["ui", "api"]),
                requirement("legacy", "DoesNotExist", &[]),
            ],
        };
        let cases = [
            (labels(&[("env", "prod"), ("service", "ui")]), true),
            (labels(&[("env", "prod"), ("service", "db")]), false),
            (labels(&[("env", "dev"), ("service", "api")]), false),
            (
                labels(&[("env", "prod"), ("service", "api"), ("legacy", "")]),
                false,
            ),
            (labels(&[("service", "api")]), false),
        ];
        for (given, expected) in cases {
            assert_eq!(selector.matches(&given).unwrap(), expected, "{given:?}");
        }
        assert!(LabelSelector::default().matches(&labels(&[])).unwrap());
        let bad = LabelSelector {
            match_expressions: vec![requirement("service", "Equals", &["ui"])],
            ..LabelSelector::default()
        };
        let err = bad.matches(&labels(&[])).unwrap_err();
        assert!(err.to_string().contains("`service`"), "{err}");
    }
}
