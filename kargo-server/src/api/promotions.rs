//! Promotions: `ListPromotions`, `GetPromotion`, `AbortPromotion`,
//! `RefreshPromotion`.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use serde_json::Value;

use super::encoding::AcceptGzip;
use super::{ApiResult, Caller, existing, get_or_watch, list_or_watch, ok, query_value};
use crate::auth::Action;
use crate::objects::Kind;
use crate::schema;
use crate::server::AppState;
use crate::touched::Touched;

fn of_stage(promotion: &Value, stage: &str) -> bool {
    promotion.pointer("/spec/stage").and_then(Value::as_str) == Some(stage)
}

/// `GET /v1beta1/projects/{project}/promotions[?stage=STAGE][&watch=true]`:
/// newest first.
#[utoipa::path(get, path = "/v1beta1/projects/{project}/promotions", operation_id = "ListPromotions",
    tag = "Core", security(("BearerAuth" = [])),
    params(("project" = String, Path), ("stage" = Option<String>, Query), ("watch" = Option<bool>, Query)),
    responses((status = 200, body = schema::ObjectList), (status = 401), (status = 403), (status = 404)))]
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(project): Path<String>,
    RawQuery(query): RawQuery,
    gzip: AcceptGzip,
) -> ApiResult {
    let hub = caller.project(&state, &project, Action::Read)?;
    let stage = query_value(query.as_deref(), "stage").unwrap_or_default();
    let keep = (!stage.is_empty()).then_some(move |p: &Value| of_stage(p, &stage));
    list_or_watch(&state, &hub, query.as_deref(), Kind::Promotion, keep, gzip)
}

/// `GET /v1beta1/projects/{project}/promotions/{promotion}[?watch=true]`.
#[utoipa::path(get, path = "/v1beta1/projects/{project}/promotions/{promotion}", operation_id = "GetPromotion",
    tag = "Core", security(("BearerAuth" = [])),
    params(("project" = String, Path), ("promotion" = String, Path), ("watch" = Option<bool>, Query)),
    responses((status = 200, body = schema::Object), (status = 401), (status = 403), (status = 404)))]
pub(crate) async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((project, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let hub = caller.project(&state, &project, Action::Read)?;
    let promotion = existing(&hub, Kind::Promotion, &name)?;
    get_or_watch(
        &state,
        &hub,
        query.as_deref(),
        Kind::Promotion,
        &name,
        &promotion,
    )
}

/// `POST /v1beta1/projects/{project}/promotions/{promotion}/abort`: a
/// queued promotion is dropped; a running one stops at its next step
/// boundary.
#[utoipa::path(post, path = "/v1beta1/projects/{project}/promotions/{promotion}/abort", operation_id = "AbortPromotion",
    tag = "Core", security(("BearerAuth" = [])),
    params(("project" = String, Path), ("promotion" = String, Path)),
    responses((status = 200), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub(crate) async fn abort(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((project, name)): Path<(String, String)>,
) -> ApiResult {
    let hub = caller.project(&state, &project, Action::Promote)?;
    let promotion = existing(&hub, Kind::Promotion, &name)?;
    hub.controller().abort(&name, caller.actor()).await?;
    let stage = promotion.pointer("/spec/stage").and_then(Value::as_str);
    state
        .settle(&hub, stage.map_or_else(Touched::everything, Touched::stage))
        .await;
    Ok(ok())
}

/// `POST /v1beta1/projects/{project}/promotions/{promotion}/refresh`: a
/// waiting promotion is tried again now.
#[utoipa::path(post, path = "/v1beta1/projects/{project}/promotions/{promotion}/refresh", operation_id = "RefreshPromotion",
    tag = "Core", security(("BearerAuth" = [])),
    params(("project" = String, Path), ("promotion" = String, Path)),
    responses((status = 200), (status = 401), (status = 403), (status = 404)))]
pub(crate) async fn refresh(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((project, name)): Path<(String, String)>,
) -> ApiResult {
    let hub = caller.project(&state, &project, Action::Promote)?;
    existing(&hub, Kind::Promotion, &name)?;
    state.refresh_promotion(&hub, &name);
    Ok(ok())
}
