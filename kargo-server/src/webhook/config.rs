//! `ProjectConfig.spec.webhookReceivers`, typed: Kargo's
//! `WebhookReceiverConfig` field for field.
//!
//! ```
//! use kargo_server::webhook::config::WebhookReceiverConfig;
//! use kargo_server::webhook::ReceiverKind;
//!
//! let config = WebhookReceiverConfig::parse(&serde_json::json!({
//!     "name": "my-receiver",
//!     "github": {"secretRef": {"name": "my-secret"}},
//! }))
//! .unwrap();
//! assert_eq!(config.kind(), Some(ReceiverKind::GitHub));
//! assert_eq!(config.secret_name(), "my-secret");
//!
//! let err = WebhookReceiverConfig::parse(&serde_json::json!({
//!     "name": "my-receiver",
//!     "github": {"secretref": {"name": "my-secret"}},
//! }))
//! .unwrap_err();
//! assert!(err.starts_with("github.secretref: unknown field `secretref`"), "{err}");
//! ```

use std::collections::BTreeMap;

use kargo_core::model::LabelSelector;
use serde::{Deserialize, Serialize};

use super::ReceiverKind;

/// One webhook receiver: a name and exactly one kind's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct WebhookReceiverConfig {
    /// The receiver's name, unique in its project (a Kubernetes name).
    pub name: String,
    /// `bitbucket`: Bitbucket Cloud and Server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitbucket: Option<SecretRefConfig>,
    /// `dockerhub`: Docker Hub.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "dockerhub")]
    pub docker_hub: Option<SecretRefConfig>,
    /// `github`: GitHub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github: Option<SecretRefConfig>,
    /// `gitlab`: GitLab.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gitlab: Option<SecretRefConfig>,
    /// `harbor`: Harbor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harbor: Option<SecretRefConfig>,
    /// `quay`: Quay.io.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quay: Option<SecretRefConfig>,
    /// `artifactory`: JFrog Artifactory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifactory: Option<ArtifactoryConfig>,
    /// `azure`: Azure Container Registry and Azure DevOps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure: Option<SecretRefConfig>,
    /// `gitea`: Gitea.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gitea: Option<SecretRefConfig>,
    /// `generic`: user-defined actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generic: Option<GenericConfig>,
}

/// The settings of most kinds: only the Secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct SecretRefConfig {
    /// The Secret of the project holding the receiver's secret.
    pub secret_ref: SecretRef,
}

/// A reference to a Secret in the receiver's project (Kubernetes'
/// `LocalObjectReference`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SecretRef {
    /// The Secret's name.
    pub name: String,
}

/// The settings of an `artifactory` receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct ArtifactoryConfig {
    /// The Secret holding `secret-token`.
    pub secret_ref: SecretRef,
    /// A virtual repository whose name replaces the payload's `repo_key`
    /// (the local repository) in the repository URL, for Warehouses that
    /// subscribe through the virtual repository.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub virtual_repo_name: String,
}

/// The settings of a `generic` receiver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct GenericConfig {
    /// The Secret holding `secret` (only hashed into the path).
    pub secret_ref: SecretRef,
    /// What to do when a request comes; at least one.
    #[serde(default)]
    pub actions: Vec<GenericAction>,
}

/// One action of a `generic` receiver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct GenericAction {
    /// `Refresh`, the only action Kargo has.
    pub action: String,
    /// An expression the request must satisfy for the action to run.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub when_expression: String,
    /// Parameters of the action, static or expressions.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
    /// Which resources the action applies to; at least one.
    #[serde(default)]
    pub target_selection_criteria: Vec<TargetSelectionCriteria>,
}

/// Resources a `generic` action applies to: all criteria given must hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct TargetSelectionCriteria {
    /// `Warehouse` (or `Promotion`).
    pub kind: String,
    /// The resource's name (may be an expression).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// A label selector (values may be expressions).
    #[serde(default)]
    pub label_selector: LabelSelector,
    /// Values of Kargo's indices (values may be expressions).
    #[serde(default)]
    pub index_selector: IndexSelector,
}

/// Selection by Kargo's indices.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct IndexSelector {
    /// Requirements, all of which must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_indices: Vec<IndexSelectorRequirement>,
}

/// One index requirement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct IndexSelectorRequirement {
    /// `subscribedURLs` or `receiverPaths`.
    pub key: String,
    /// `Equals` or `NotEquals`.
    pub operator: String,
    /// The value, static or an expression.
    pub value: String,
}

impl WebhookReceiverConfig {
    /// Reads one entry of `webhookReceivers` and checks it as Kargo's
    /// schema and admission webhook do: a Kubernetes name, exactly one
    /// kind, a Secret name, and for `generic` at least one `Refresh` action
    /// with at least one target each, each target selecting by name,
    /// labels or index. The error names the field (`github.secretRef.name:
    /// …`).
    pub fn parse(value: &serde_json::Value) -> Result<WebhookReceiverConfig, String> {
        let config: WebhookReceiverConfig =
            serde_path_to_error::deserialize(value).map_err(|e| {
                let path = e.path().to_string();
                if path == "." {
                    e.inner().to_string()
                } else {
                    format!("{path}: {}", e.inner())
                }
            })?;
        config.validate()?;
        Ok(config)
    }

    fn kinds(&self) -> Vec<ReceiverKind> {
        let present = [
            (ReceiverKind::Bitbucket, self.bitbucket.is_some()),
            (ReceiverKind::DockerHub, self.docker_hub.is_some()),
            (ReceiverKind::GitHub, self.github.is_some()),
            (ReceiverKind::GitLab, self.gitlab.is_some()),
            (ReceiverKind::Harbor, self.harbor.is_some()),
            (ReceiverKind::Quay, self.quay.is_some()),
            (ReceiverKind::Artifactory, self.artifactory.is_some()),
            (ReceiverKind::Azure, self.azure.is_some()),
            (ReceiverKind::Gitea, self.gitea.is_some()),
            (ReceiverKind::Generic, self.generic.is_some()),
        ];
        present
            .into_iter()
            .filter(|(_, set)| *set)
            .map(|(kind, _)| kind)
            .collect()
    }

    /// The receiver's kind; `None` unless exactly one kind's settings are
    /// present (always one on a config that [`parse`](Self::parse) accepted).
    pub fn kind(&self) -> Option<ReceiverKind> {
        match self.kinds().as_slice() {
            [kind] => Some(*kind),
            _ => None,
        }
    }

    /// The name of the receiver's Secret (`<kind>.secretRef.name`).
    pub fn secret_name(&self) -> &str {
        let secret_ref = [
            &self.bitbucket,
            &self.docker_hub,
            &self.github,
            &self.gitlab,
            &self.harbor,
            &self.quay,
            &self.azure,
            &self.gitea,
        ]
        .into_iter()
        .flatten()
        .map(|c| &c.secret_ref)
        .chain(self.artifactory.iter().map(|c| &c.secret_ref))
        .chain(self.generic.iter().map(|c| &c.secret_ref))
        .next();
        secret_ref.map_or("", |r| r.name.as_str())
    }

    fn validate(&self) -> Result<(), String> {
        if !is_kubernetes_name(&self.name) {
            return Err(format!(
                "name: {:?} is not a Kubernetes name (lowercase letters, digits, '-' and '.', \
                 at most 253 characters)",
                self.name
            ));
        }
        let kind = match self.kinds().as_slice() {
            [] => {
                let all: Vec<&str> = ReceiverKind::ALL.iter().map(|k| k.as_str()).collect();
                return Err(format!("needs one of {}", all.join(", ")));
            }
            [kind] => *kind,
            several => {
                let names: Vec<&str> = several.iter().map(|k| k.as_str()).collect();
                return Err(format!(
                    "a receiver is of exactly one kind, this one has {}",
                    names.join(" and ")
                ));
            }
        };
        if self.secret_name().is_empty() {
            return Err(format!("{kind}.secretRef.name: empty"));
        }
        if let Some(generic) = &self.generic {
            generic.validate()?;
            super::generic::check(generic)?;
        }
        Ok(())
    }
}

impl GenericConfig {
    fn validate(&self) -> Result<(), String> {
        if self.actions.is_empty() {
            return Err("generic.actions: at least one action is needed".into());
        }
        for (i, action) in self.actions.iter().enumerate() {
            let at = format!("generic.actions[{i}]");
            if action.action != "Refresh" {
                return Err(format!(
                    "{at}.action: {:?} is not supported (only Refresh)",
                    action.action
                ));
            }
            if action.target_selection_criteria.is_empty() {
                return Err(format!(
                    "{at}.targetSelectionCriteria: at least one target is needed"
                ));
            }
            for (j, target) in action.target_selection_criteria.iter().enumerate() {
                let at = format!("{at}.targetSelectionCriteria[{j}]");
                if !matches!(target.kind.as_str(), "Warehouse" | "Promotion") {
                    return Err(format!(
                        "{at}.kind: {:?} is not Warehouse or Promotion",
                        target.kind
                    ));
                }
                if target.name.is_empty()
                    && target.label_selector.match_labels.is_empty()
                    && target.label_selector.match_expressions.is_empty()
                    && target.index_selector.match_indices.is_empty()
                {
                    return Err(format!(
                        "{at}: at least one of name, labelSelector or indexSelector is needed"
                    ));
                }
                for (k, index) in target.index_selector.match_indices.iter().enumerate() {
                    let at = format!("{at}.indexSelector.matchIndices[{k}]");
                    if !matches!(index.key.as_str(), "subscribedURLs" | "receiverPaths") {
                        return Err(format!(
                            "{at}.key: {:?} is not subscribedURLs or receiverPaths",
                            index.key
                        ));
                    }
                    if !matches!(index.operator.as_str(), "Equals" | "NotEquals") {
                        return Err(format!(
                            "{at}.operator: {:?} is not Equals or NotEquals",
                            index.operator
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Kubernetes' DNS subdomain names, Kargo's pattern for receiver names:
/// dot-separated labels of lowercase letters, digits and inner `-`, at most
/// 253 characters.
fn is_kubernetes_name(name: &str) -> bool {
    let label_ok = |label: &str| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    !name.is_empty() && name.len() <= 253 && name.split('.').all(label_ok)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_kind_is_read_with_kargos_field_names() {
        for kind in ReceiverKind::ALL {
            let config = WebhookReceiverConfig::parse(&json!({
                "name": "r",
                kind.as_str(): {"secretRef": {"name": "s"}, "actions": [{
                    "action": "Refresh",
                    "targetSelectionCriteria": [{"kind": "Warehouse", "name": "w"}],
                }]},
            }));
            // Only `generic` knows `actions`.
            if kind == ReceiverKind::Generic {
                let config = config.unwrap();
                assert_eq!((config.kind(), config.secret_name()), (Some(kind), "s"));
                continue;
            }
            let err = config.unwrap_err();
            assert!(
                err.starts_with(&format!("{kind}.actions: unknown field `actions`")),
                "{err}"
            );
            let config = WebhookReceiverConfig::parse(&json!({
                "name": "r",
                kind.as_str(): {"secretRef": {"name": "s"}},
            }))
            .unwrap();
            assert_eq!((config.kind(), config.secret_name()), (Some(kind), "s"));
        }
        let config = WebhookReceiverConfig::parse(&json!({
            "name": "jfrog",
            "artifactory": {"secretRef": {"name": "s"}, "virtualRepoName": "proj-virtual"},
        }))
        .unwrap();
        assert_eq!(
            config.artifactory.unwrap().virtual_repo_name,
            "proj-virtual"
        );
    }

    #[test]
    fn bad_configs_name_the_field() {
        let cases = [
            (
                json!({"github": {"secretRef": {"name": "s"}}}),
                "missing field `name`",
            ),
            (
                json!({"name": "Bad_Name", "github": {"secretRef": {"name": "s"}}}),
                "name: \"Bad_Name\" is not a Kubernetes name",
            ),
            (
                json!({"name": "r"}),
                "needs one of bitbucket, dockerhub, github",
            ),
            (
                json!({"name": "r", "github": {"secretRef": {"name": "s"}}, "quay": {"secretRef": {"name": "s"}}}),
                "exactly one kind, this one has github and quay",
            ),
            (
                json!({"name": "r", "gitlab": {"secretRef": {}}}),
                "gitlab.secretRef: missing field `name`",
            ),
            (
                json!({"name": "r", "gitlab": {"secretRef": {"name": ""}}}),
                "gitlab.secretRef.name: empty",
            ),
            (
                json!({"name": "r", "harbor": {"secretRef": {"name": 7}}}),
                "harbor.secretRef.name: invalid type: integer `7`",
            ),
            (
                json!({"name": "r", "generic": {"secretRef": {"name": "s"}}}),
                "generic.actions: at least one action is needed",
            ),
            (
                json!({"name": "r", "generic": {"secretRef": {"name": "s"}, "actions": [{"action": "Delete", "targetSelectionCriteria": [{"kind": "Warehouse", "name": "w"}]}]}}),
                "generic.actions[0].action: \"Delete\" is not supported",
            ),
            (
                json!({"name": "r", "generic": {"secretRef": {"name": "s"}, "actions": [{"action": "Refresh", "targetSelectionCriteria": [{"kind": "Warehouse"}]}]}}),
                "generic.actions[0].targetSelectionCriteria[0]: at least one of name, labelSelector or indexSelector",
            ),
            (
                json!({"name": "r", "generic": {"secretRef": {"name": "s"}, "actions": [{"action": "Refresh", "targetSelectionCriteria": [{"kind": "Warehouse", "indexSelector": {"matchIndices": [{"key": "subscribedURLs", "operator": "In", "value": "x"}]}}]}]}}),
                "generic.actions[0].targetSelectionCriteria[0].indexSelector.matchIndices[0].operator",
            ),
        ];
        for (value, expected) in cases {
            let err = WebhookReceiverConfig::parse(&value).unwrap_err();
            assert!(err.contains(expected), "{expected:?} in {err:?}");
        }
    }
}
