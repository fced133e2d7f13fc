use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The part of Kubernetes' object metadata that Kargo resources use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// The resource's name, unique per kind within a project.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The project (Kubernetes namespace) the resource belongs to.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// When the resource was created (RFC 3339), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<String>,
}
