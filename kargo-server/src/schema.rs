//! Shapes for `/openapi.json` of the objects the API passes through as
//! JSON: Kargo's resources are Kubernetes objects, described loosely
//! (every field optional) so that clients and validators accept what
//! Kargo's own API returns.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// Kubernetes object metadata.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct ObjectMeta {
    name: Option<String>,
    namespace: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<BTreeMap<String, String>>,
    creation_timestamp: Option<String>,
}

/// A Kargo resource: `apiVersion`, `kind`, `metadata`, `spec`, `status`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct Object {
    api_version: Option<String>,
    kind: Option<String>,
    metadata: Option<ObjectMeta>,
    #[schema(value_type = Option<Object>)]
    spec: Option<Value>,
    #[schema(value_type = Option<Object>)]
    status: Option<Value>,
}

/// A Kubernetes list of resources.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct ObjectList {
    api_version: Option<String>,
    kind: Option<String>,
    #[schema(value_type = Option<Object>)]
    metadata: Option<Value>,
    items: Option<Vec<Object>>,
}

/// `ListProjects`' answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct ListProjectsResponse {
    items: Option<Vec<Object>>,
    total: Option<i64>,
}

/// Freight of one group.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct FreightGroup {
    items: Option<Vec<Object>>,
}

/// `QueryFreights`' answer: Freight by group (`""` without `groupBy`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct QueryFreightsResponse {
    groups: Option<BTreeMap<String, FreightGroup>>,
}

/// One manifest's outcome in a `/v1beta1/resources` answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct ResourceResults {
    #[schema(value_type = Option<Vec<Object>>)]
    results: Option<Vec<Value>>,
}
