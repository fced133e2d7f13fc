//! Warehouses: `ListWarehouses`, `GetWarehouse`, `RefreshWarehouse`.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};

use super::encoding::AcceptGzip;
use super::{ApiResult, Caller, EVERY_OBJECT, existing, get_or_watch, list_or_watch, ok};
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
    list_or_watch(
        &state,
        &hub,
        query.as_deref(),
        Kind::Warehouse,
        EVERY_OBJECT,
        gzip,
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
    let warehouse = existing(&hub, Kind::Warehouse, &name)?;
    get_or_watch(
        &state,
        &hub,
        query.as_deref(),
        Kind::Warehouse,
        &name,
        &warehouse,
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
    existing(&hub, Kind::Warehouse, &name)?;
    state.refresh_warehouses(&hub, vec![name]);
    Ok(ok())
}
