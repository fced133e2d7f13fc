//! Warehouses: `ListWarehouses`, `GetWarehouse`, `RefreshWarehouse`.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};

use super::encoding::AcceptGzip;
use super::watch::Filter;
use super::{ApiResult, Caller, found, list_response, ok, read_or_watch};
use crate::auth::Action;
use crate::objects::Kind;
use crate::schema;
use crate::server::AppState;

/// `GET /v1beta1/projects/{project}/warehouses[?watch=true]`.
#[utoipa::path(get, path = "/v1beta1/projects/{project}/warehouses", operation_id = "ListWarehouses",
    tag = "Core", security(("BearerAuth" = [])),
    params(("project" = String, Path), ("watch" = Option<bool>, Query)),
    responses((status = 200, body = schema::ObjectList), (status = 401), (status = 403), (status = 404)))]
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(project): Path<String>,
    RawQuery(query): RawQuery,
    gzip: AcceptGzip,
) -> ApiResult {
    let hub = caller.project(&state, &project, Action::Read)?;
    read_or_watch(
        &state,
        &hub,
        query.as_deref(),
        || Filter::all(Kind::Warehouse),
        |s| Ok(list_response(s, Kind::Warehouse, None, gzip)),
    )
}

/// `GET /v1beta1/projects/{project}/warehouses/{warehouse}[?watch=true]`.
#[utoipa::path(get, path = "/v1beta1/projects/{project}/warehouses/{warehouse}", operation_id = "GetWarehouse",
    tag = "Core", security(("BearerAuth" = [])),
    params(("project" = String, Path), ("warehouse" = String, Path), ("watch" = Option<bool>, Query)),
    responses((status = 200, body = schema::Object), (status = 401), (status = 403), (status = 404)))]
pub(crate) async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((project, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let hub = caller.project(&state, &project, Action::Read)?;
    let exists = hub.snapshot().get(Kind::Warehouse, &name).is_some();
    read_or_watch(
        &state,
        &hub,
        query.as_deref().filter(|_| exists),
        || Filter::named(Kind::Warehouse, &name),
        |s| found(s.get(Kind::Warehouse, &name), "Warehouse", &name, &project),
    )
}

/// `POST /v1beta1/projects/{project}/warehouses/{warehouse}/refresh`: the
/// Warehouse discovers now, in the background (as in Kargo, the answer
/// does not wait for it).
#[utoipa::path(post, path = "/v1beta1/projects/{project}/warehouses/{warehouse}/refresh", operation_id = "RefreshWarehouse",
    tag = "Core", security(("BearerAuth" = [])),
    params(("project" = String, Path), ("warehouse" = String, Path)),
    responses((status = 200), (status = 401), (status = 403), (status = 404)))]
pub(crate) async fn refresh(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((project, name)): Path<(String, String)>,
) -> ApiResult {
    let hub = caller.project(&state, &project, Action::Promote)?;
    found(
        hub.snapshot().get(Kind::Warehouse, &name),
        "Warehouse",
        &name,
        &project,
    )?;
    state.refresh_warehouses(&hub, vec![name]);
    Ok(ok())
}
