//! `/v1beta1/resources`: Kargo manifests applied through the API (POST
//! creates, PUT updates, `PUT ?upsert=true` creates or updates, DELETE
//! deletes). They are kept in the state store beside the manifests read
//! from files, so every replica sees them; each document is checked
//! before anything is stored.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use kargo_runtime::{ApplyMode, ResourceOutcome};
use serde_json::{Value, json};

use super::{ApiError, ApiResult, Body, Caller, query_flag};
use crate::auth::Action;
use crate::schema;
use crate::server::AppState;
use crate::touched::Touched;

/// What a request does with its documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Apply(ApplyMode),
    Delete,
}

/// `POST /v1beta1/resources`: creates the manifests' resources; 201 with a
/// result per document (a single document's failure is the answer's
/// status: 409 when it exists).
#[utoipa::path(post, path = "/v1beta1/resources", operation_id = "CreateResource",
    tag = "Resources", security(("BearerAuth" = [])),
    request_body(content = String, content_type = "text/plain", description = "YAML or JSON manifest(s)"),
    responses((status = 201, body = schema::ResourceResults), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409), (status = 413)))]
pub(crate) async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Body(body): Body,
) -> ApiResult {
    respond(&state, &caller, &body, Verb::Apply(ApplyMode::Create)).await
}

/// `PUT /v1beta1/resources[?upsert=true]`: updates the manifests'
/// resources (creates missing ones with `upsert`).
#[utoipa::path(put, path = "/v1beta1/resources", operation_id = "UpdateResource",
    tag = "Resources", security(("BearerAuth" = [])),
    params(("upsert" = Option<bool>, Query)),
    request_body(content = String, content_type = "text/plain", description = "YAML or JSON manifest(s)"),
    responses((status = 200, body = schema::ResourceResults), (status = 400), (status = 401), (status = 403), (status = 404), (status = 413)))]
pub(crate) async fn update(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    RawQuery(query): RawQuery,
    Body(body): Body,
) -> ApiResult {
    let mode = if query_flag(query.as_deref(), "upsert")? {
        ApplyMode::Upsert
    } else {
        ApplyMode::Update
    };
    respond(&state, &caller, &body, Verb::Apply(mode)).await
}

/// `DELETE /v1beta1/resources`: deletes the manifests' resources (only
/// those applied through the API: files are the files' owners').
#[utoipa::path(delete, path = "/v1beta1/resources", operation_id = "DeleteResource",
    tag = "Resources", security(("BearerAuth" = [])),
    request_body(content = String, content_type = "text/plain", description = "YAML or JSON manifest(s)"),
    responses((status = 200, body = schema::ResourceResults), (status = 400), (status = 401), (status = 403), (status = 404), (status = 413)))]
pub(crate) async fn delete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Body(body): Body,
) -> ApiResult {
    respond(&state, &caller, &body, Verb::Delete).await
}

/// The project a document belongs to: its namespace, or a Project's name.
fn project_of(doc: &Value) -> String {
    let meta = &doc["metadata"];
    match (doc["kind"].as_str(), meta["namespace"].as_str()) {
        (Some("Project"), _) | (_, None | Some("")) => {
            meta["name"].as_str().unwrap_or_default().to_owned()
        }
        (_, Some(ns)) => ns.to_owned(),
    }
}

async fn respond(state: &AppState, caller: &Caller, body: &[u8], verb: Verb) -> ApiResult {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("the manifests are not UTF-8 text"))?;
    let docs = kargo_runtime::documents_from_yaml(text)?;
    if docs.is_empty() {
        return Err(ApiError::bad_request("no resources found in request body"));
    }
    // The caller must be an admin of every project the documents touch.
    let mut by_project: BTreeMap<String, Vec<(usize, Value)>> = BTreeMap::new();
    for (i, doc) in docs.into_iter().enumerate() {
        by_project
            .entry(project_of(&doc))
            .or_default()
            .push((i, doc));
    }
    let mut hubs = Vec::new();
    for project in by_project.keys() {
        hubs.push(caller.project(state, project, Action::Admin)?);
    }
    let count = by_project.values().map(Vec::len).sum();
    let mut outcomes: Vec<Option<ResourceOutcome>> = vec![None; count];
    for (hub, (_, docs)) in hubs.iter().zip(by_project) {
        let (indexes, docs): (Vec<usize>, Vec<Value>) = docs.into_iter().unzip();
        let results = match verb {
            Verb::Apply(mode) => hub.controller().apply_resources(docs, mode).await?,
            Verb::Delete => hub.controller().delete_resources(docs).await?,
        };
        for (i, outcome) in indexes.into_iter().zip(results) {
            outcomes[i] = Some(outcome);
        }
        state.settle(hub, Touched::everything()).await;
    }
    let outcomes: Vec<ResourceOutcome> = outcomes.into_iter().flatten().collect();
    if let [only] = outcomes.as_slice()
        && let Some(error) = only.error()
    {
        return Err(single_failure(error));
    }
    let results: Vec<Value> = outcomes.iter().map(result).collect();
    let status = match verb {
        Verb::Apply(ApplyMode::Create) => StatusCode::CREATED,
        _ => StatusCode::OK,
    };
    Ok((status, Json(json!({"results": results}))).into_response())
}

/// A result as Kargo writes it: the manifest under what happened to it,
/// or the error.
fn result(outcome: &ResourceOutcome) -> Value {
    match outcome {
        ResourceOutcome::Created { manifest, .. } => json!({"createdResourceManifest": manifest}),
        ResourceOutcome::Updated { manifest, .. } => json!({"updatedResourceManifest": manifest}),
        ResourceOutcome::Deleted { manifest, .. } => json!({"deletedResourceManifest": manifest}),
        other => json!({"error": other.error().unwrap_or("not applied")}),
    }
}

/// The answer to a request of one document that failed: 409 when it
/// exists already, 404 when it does not, else 400.
fn single_failure(error: &str) -> ApiError {
    let status = if error.ends_with("already exists") {
        StatusCode::CONFLICT
    } else if error.ends_with("does not exist") {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::BAD_REQUEST
    };
    ApiError::new(status, error)
}
