//! Projects: `ListProjects`, `GetProject`, `GetProjectConfig`,
//! `ListProjectEvents`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::{ApiError, ApiResult, Caller};
use crate::auth::Action;
use crate::hub::Hub;
use crate::objects::{Kind, manifest_object};
use crate::schema;
use crate::server::AppState;

/// A project as the API shows it: its `Project` manifest, or one made for
/// it, with the counts and health of its Stages and Warehouses.
fn project_object(hub: &Hub) -> Value {
    let project = hub.controller().project();
    let mut value = match project.manifests().project(hub.project()) {
        Some(p) => manifest_object(p, "Project", hub.project()),
        None => json!({
            "apiVersion": crate::objects::API_VERSION,
            "kind": "Project",
            "metadata": {"name": hub.project()},
        }),
    };
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        // A Project is cluster-scoped: it has no namespace.
        meta.remove("namespace");
    }
    let snapshot = hub.snapshot();
    let health = |kind: Kind| {
        let (mut healthy, mut unhealthy) = (0, 0);
        for (_, o) in snapshot.of(kind) {
            let ready = o
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
                .is_some_and(|c| c["status"] == "True");
            if ready { healthy += 1 } else { unhealthy += 1 }
        }
        json!({"count": healthy + unhealthy, "health": {"healthy": healthy, "unhealthy": unhealthy}})
    };
    value["status"] = json!({
        "conditions": [{"type": "Ready", "status": "True", "reason": "Ready"}],
        "stats": {"stages": health(Kind::Stage), "warehouses": health(Kind::Warehouse)},
    });
    value
}

/// `GET /v1beta1/projects`: the projects the caller reaches.
#[utoipa::path(get, path = "/v1beta1/projects", operation_id = "ListProjects",
    tag = "Core", security(("BearerAuth" = [])),
    params(("mine" = Option<bool>, Query), ("filter" = Option<String>, Query, description = "Only projects whose name contains this"),
           ("uid" = Option<Vec<String>>, Query), ("pageSize" = Option<u32>, Query, minimum = 0), ("page" = Option<u32>, Query, minimum = 0)),
    responses((status = 200, body = schema::ListProjectsResponse), (status = 400), (status = 401)))]
pub(crate) async fn list_projects(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> ApiResult {
    let filter = super::query_value(query.as_deref(), "filter").unwrap_or_default();
    // Every project listed is the caller's: `mine` changes nothing.
    super::query_flag(query.as_deref(), "mine")?;
    let page_size = super::query_number(query.as_deref(), "pageSize")?;
    let page = super::query_number(query.as_deref(), "page")?.unwrap_or(0);
    let mut items: Vec<Value> = state
        .hubs()
        .filter(|h| caller.0.reaches(h.project()) && h.project().contains(&filter))
        .map(|h| project_object(h))
        .collect();
    let total = items.len();
    if let Some(size) = page_size.filter(|s| *s > 0) {
        items = items.into_iter().skip(page * size).take(size).collect();
    }
    Ok(Json(json!({"items": items, "total": total})).into_response())
}

/// `GET /v1beta1/projects/{project}`.
#[utoipa::path(get, path = "/v1beta1/projects/{project}", operation_id = "GetProject",
    tag = "Core", security(("BearerAuth" = [])), params(("project" = String, Path)),
    responses((status = 200, body = schema::Object), (status = 401), (status = 403), (status = 404)))]
pub(crate) async fn get_project(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(project): Path<String>,
) -> ApiResult {
    let hub = caller.project(&state, &project, Action::Read)?;
    Ok(Json(project_object(&hub)).into_response())
}

/// `GET /v1beta1/projects/{project}/config`: the ProjectConfig, with each
/// webhook receiver's path and URL in `status.webhookReceivers`.
#[utoipa::path(get, path = "/v1beta1/projects/{project}/config", operation_id = "GetProjectConfig",
    tag = "Config", security(("BearerAuth" = [])), params(("project" = String, Path)),
    responses((status = 200, body = schema::Object), (status = 401), (status = 403), (status = 404)))]
pub(crate) async fn get_project_config(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(project): Path<String>,
) -> ApiResult {
    let hub = caller.project(&state, &project, Action::Read)?;
    let view = hub.controller().project();
    let config = view
        .manifests()
        .project_config(&project)
        .or_else(|| view.manifests().project_configs().first())
        .ok_or_else(|| ApiError::not_found(format!("ProjectConfig {project:?} not found")))?;
    let mut value = manifest_object(config, "ProjectConfig", &project);
    value["status"] = json!({
        "conditions": [{"type": "Ready", "status": "True", "reason": "Synced"}],
        "webhookReceivers": state.webhooks.receivers(state.hubs()).details(&project),
    });
    Ok(Json(value).into_response())
}

/// `GET /v1beta1/projects/{project}/events`: the project's recent events,
/// newest first, as Kubernetes Events (kept by this replica).
#[utoipa::path(get, path = "/v1beta1/projects/{project}/events", operation_id = "ListProjectEvents",
    tag = "Events", security(("BearerAuth" = [])), params(("project" = String, Path)),
    responses((status = 200, body = schema::ObjectList), (status = 401), (status = 403), (status = 404)))]
pub(crate) async fn list_events(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(project): Path<String>,
) -> ApiResult {
    let hub = caller.project(&state, &project, Action::Read)?;
    let mut items = hub.events();
    items.reverse();
    Ok(
        Json(json!({"apiVersion": "v1", "kind": "EventList", "metadata": {}, "items": items}))
            .into_response(),
    )
}
