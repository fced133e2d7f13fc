//! Promotions: `ListPromotions`, `GetPromotion`, `AbortPromotion`,
//! `RefreshPromotion`.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use serde_json::Value;

use super::encoding::AcceptGzip;
use super::watch::Filter;
use super::{ApiResult, Caller, found, list_response, ok, query_values, read_or_watch};
use crate::auth::Action;
use crate::objects::Kind;
use crate::schema;
use crate::server::AppState;
use crate::touched::Touched;

fn of_stage(promotion: &Value, stage: &str) -> bool {
    stage.is_empty() || promotion.pointer("/spec/stage").and_then(Value::as_str) == Some(stage)
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
    let stage = query_values(query.as_deref(), "stage")
        .into_iter()
        .next()
        .unwrap_or_default();
    let watched = stage.clone();
    read_or_watch(
        &state,
        &hub,
        query.as_deref(),
        || Filter::all(Kind::Promotion).matching(move |p| of_stage(p, &watched)),
        |s| {
            let keep = |p: &Value| of_stage(p, &stage);
            Ok(list_response(
                s,
                Kind::Promotion,
                (!stage.is_empty()).then_some(&keep as _),
                gzip,
            ))
        },
    )
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
    let snapshot = hub.snapshot();
    let promotion = found(
        snapshot.get(Kind::Promotion, &name),
        "Promotion",
        &name,
        &project,
    )?;
    read_or_watch(
        &state,
        &hub,
        query.as_deref(),
        || Filter::named(Kind::Promotion, &name),
        |_| Ok(promotion),
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
    let snapshot = hub.snapshot();
    let promotion = snapshot.get(Kind::Promotion, &name);
    found(promotion, "Promotion", &name, &project)?;
    hub.controller().abort(&name, caller.actor()).await?;
    let stage = promotion.and_then(|p| p.pointer("/spec/stage")?.as_str());
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
    found(
        hub.snapshot().get(Kind::Promotion, &name),
        "Promotion",
        &name,
        &project,
    )?;
    state.refresh_promotion(&hub, &name);
    Ok(ok())
}
