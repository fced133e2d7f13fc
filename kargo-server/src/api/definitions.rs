//! Definitions read from the manifests: `ListPromotionTasks`,
//! `GetPromotionTask`, `ListAnalysisTemplates`, `GetAnalysisTemplate`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use kargo_core::manifest::Manifests;
use kargo_core::model::ObjectMeta;
use serde::Serialize;
use serde_json::Value;

use super::{ApiResult, Caller, not_in_project};
use crate::auth::Action;
use crate::objects::{list_object, manifest_object};
use crate::schema;
use crate::server::AppState;

/// The project's resources of one kind (`of` picks them from the
/// manifests), as the API shows them.
fn resources<T: Serialize>(
    state: &AppState,
    caller: &Caller,
    project: &str,
    kind: &str,
    of: fn(&Manifests) -> &[T],
    meta: fn(&T) -> &ObjectMeta,
) -> ApiResult<Vec<Value>> {
    let hub = caller.project(state, project, Action::Read)?;
    let view = hub.controller().project();
    Ok(of(view.manifests())
        .iter()
        .filter(|r| {
            let ns = &meta(r).namespace;
            ns.is_empty() || ns == project
        })
        .map(|r| manifest_object(r, kind, project))
        .collect())
}

fn named(items: Vec<Value>, kind: &str, name: &str, project: &str) -> ApiResult {
    items
        .into_iter()
        .find(|o| o.pointer("/metadata/name").and_then(Value::as_str) == Some(name))
        .map(|o| Json(o).into_response())
        .ok_or_else(|| not_in_project(kind, name, project))
}

fn tasks(state: &AppState, caller: &Caller, project: &str) -> ApiResult<Vec<Value>> {
    resources(
        state,
        caller,
        project,
        "PromotionTask",
        Manifests::promotion_tasks,
        |t| &t.metadata,
    )
}

fn analysis_templates(state: &AppState, caller: &Caller, project: &str) -> ApiResult<Vec<Value>> {
    resources(
        state,
        caller,
        project,
        "AnalysisTemplate",
        Manifests::analysis_templates,
        |t| &t.metadata,
    )
}

/// `GET /v1beta1/projects/{project}/promotion-tasks`.
#[utoipa::path(get, path = "/v1beta1/projects/{project}/promotion-tasks", operation_id = "ListPromotionTasks",
    tag = "Core", security(("BearerAuth" = [])), params(("project" = String, Path)),
    responses((status = 200, body = schema::ObjectList), (status = 401), (status = 403), (status = 404)))]
pub(crate) async fn list_tasks(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(project): Path<String>,
) -> ApiResult {
    let items = tasks(&state, &caller, &project)?;
    Ok(Json(list_object("PromotionTask", items)).into_response())
}

/// `GET /v1beta1/projects/{project}/promotion-tasks/{promotion-task}`.
#[utoipa::path(get, path = "/v1beta1/projects/{project}/promotion-tasks/{promotion-task}", operation_id = "GetPromotionTask",
    tag = "Core", security(("BearerAuth" = [])), params(("project" = String, Path), ("promotion-task" = String, Path)),
    responses((status = 200, body = schema::Object), (status = 401), (status = 403), (status = 404)))]
pub(crate) async fn get_task(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((project, name)): Path<(String, String)>,
) -> ApiResult {
    named(
        tasks(&state, &caller, &project)?,
        "PromotionTask",
        &name,
        &project,
    )
}

/// `GET /v1beta1/projects/{project}/analysis-templates`.
#[utoipa::path(get, path = "/v1beta1/projects/{project}/analysis-templates", operation_id = "ListAnalysisTemplates",
    tag = "Verifications", security(("BearerAuth" = [])), params(("project" = String, Path)),
    responses((status = 200, body = schema::ObjectList), (status = 401), (status = 403), (status = 404)))]
pub(crate) async fn list_analysis_templates(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(project): Path<String>,
) -> ApiResult {
    let items = analysis_templates(&state, &caller, &project)?;
    let mut list = list_object("AnalysisTemplate", items);
    list["apiVersion"] = Value::String("argoproj.io/v1alpha1".to_owned());
    Ok(Json(list).into_response())
}

/// `GET /v1beta1/projects/{project}/analysis-templates/{analysis-template}`.
#[utoipa::path(get, path = "/v1beta1/projects/{project}/analysis-templates/{analysis-template}", operation_id = "GetAnalysisTemplate",
    tag = "Verifications", security(("BearerAuth" = [])), params(("project" = String, Path), ("analysis-template" = String, Path)),
    responses((status = 200, body = schema::Object), (status = 401), (status = 403), (status = 404)))]
pub(crate) async fn get_analysis_template(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((project, name)): Path<(String, String)>,
) -> ApiResult {
    named(
        analysis_templates(&state, &caller, &project)?,
        "AnalysisTemplate",
        &name,
        &project,
    )
}
