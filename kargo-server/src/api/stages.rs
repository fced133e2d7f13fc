//! Stages: `ListStages`, `GetStage`, `PromoteToStage`,
//! `PromoteDownstream`, `RefreshStage`, `Reverify`, `AbortVerification`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use kargo_runtime::{FreightChoice, PromoteRequest};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::encoding::AcceptGzip;
use super::{
    ApiError, ApiResult, Caller, existing, freight_id, get_or_watch, list_or_watch, not_in_project,
    ok, query_values,
};
use crate::auth::Action;
use crate::objects::Kind;
use crate::schema;
use crate::server::AppState;

/// Whether a Stage object requests Freight from one of `warehouses`.
fn requests_from(stage: &Value, warehouses: &[String]) -> bool {
    stage
        .pointer("/spec/requestedFreight")
        .and_then(Value::as_array)
        .is_some_and(|requests| {
            requests.iter().any(|r| {
                r.pointer("/origin/name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| warehouses.iter().any(|w| w == n))
            })
        })
}

/// `GET /v1beta1/projects/{project}/stages[?freightOrigins=W1,W2][&watch=true]`.
#[utoipa::path(get, path = "/v1beta1/projects/{project}/stages", operation_id = "ListStages",
    tag = "Core", security(("BearerAuth" = [])),
    params(("project" = String, Path),
           ("freightOrigins" = Option<Vec<String>>, Query, description = "Only Stages that request Freight from one of these Warehouses"),
           ("watch" = Option<bool>, Query)),
    responses((status = 200, body = schema::ObjectList), (status = 401), (status = 403), (status = 404)))]
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(project): Path<String>,
    RawQuery(query): RawQuery,
    gzip: AcceptGzip,
) -> ApiResult {
    let hub = caller.project(&state, &project, Action::Read)?;
    let origins = query_values(query.as_deref(), "freightOrigins");
    let keep = (!origins.is_empty()).then_some(move |s: &Value| requests_from(s, &origins));
    list_or_watch(&state, &hub, query.as_deref(), Kind::Stage, keep, gzip)
}

/// `GET /v1beta1/projects/{project}/stages/{stage}[?watch=true]`.
#[utoipa::path(get, path = "/v1beta1/projects/{project}/stages/{stage}", operation_id = "GetStage",
    tag = "Core", security(("BearerAuth" = [])),
    params(("project" = String, Path), ("stage" = String, Path), ("watch" = Option<bool>, Query)),
    responses((status = 200, body = schema::Object), (status = 401), (status = 403), (status = 404)))]
pub(crate) async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((project, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let hub = caller.project(&state, &project, Action::Read)?;
    let stage = existing(&hub, Kind::Stage, &name)?;
    get_or_watch(&state, &hub, query.as_deref(), Kind::Stage, &name, &stage)
}

/// Which Freight to promote (Kargo's `PromoteToStageRequest`): exactly one
/// of the three.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PromoteToStageRequest {
    /// The Freight's name.
    #[serde(default)]
    freight: String,
    /// The Freight's alias.
    #[serde(default)]
    freight_alias: String,
    /// An origin (`Warehouse/NAME`): its newest Freight available to the
    /// Stage.
    #[serde(default)]
    origin: String,
}

/// Reads a JSON body; 400 naming what is wrong.
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("request body: {e}")))
}

/// `POST /v1beta1/projects/{project}/stages/{stage}/promotions`: queues a
/// promotion (Kargo's checks: the Freight exists and is available to the
/// Stage) and starts it; answers the Promotion, 201.
#[utoipa::path(post, path = "/v1beta1/projects/{project}/stages/{stage}/promotions", operation_id = "PromoteToStage",
    tag = "Core", security(("BearerAuth" = [])),
    params(("project" = String, Path), ("stage" = String, Path)),
    request_body = PromoteToStageRequest,
    responses((status = 201, body = schema::Object), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub(crate) async fn promote(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((project, stage)): Path<(String, String)>,
    super::Body(body): super::Body,
) -> ApiResult {
    let hub = caller.project(&state, &project, Action::Promote)?;
    let req: PromoteToStageRequest = json_body(&body)?;
    let given = [&req.freight, &req.freight_alias, &req.origin]
        .iter()
        .filter(|v| !v.is_empty())
        .count();
    if given != 1 {
        return Err(ApiError::bad_request(
            "exactly one of freight, freightAlias, or origin must be provided",
        ));
    }
    existing(&hub, Kind::Stage, &stage)?;
    let choice = if !req.origin.is_empty() {
        let warehouse = match req.origin.split_once('/') {
            Some(("Warehouse", name)) if !name.is_empty() => name,
            None => req.origin.as_str(),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "invalid origin {:?}: expected Warehouse/NAME",
                    req.origin
                )));
            }
        };
        FreightChoice::Origin(warehouse.to_owned())
    } else {
        let name = if req.freight.is_empty() {
            &req.freight_alias
        } else {
            &req.freight
        };
        let snapshot = hub.snapshot();
        let id = snapshot.freight_id(name).ok_or_else(|| {
            let what = if req.freight.is_empty() {
                "Freight with alias"
            } else {
                "Freight"
            };
            not_in_project(what, name, &project)
        })?;
        FreightChoice::Named(id.to_owned())
    };
    let promotion = state
        .promote(&hub, PromoteRequest::new(&stage, choice, caller.actor()))
        .await?;
    Ok((StatusCode::CREATED, Json(&*promotion)).into_response())
}

/// Which Freight to promote downstream (Kargo's `PromoteDownstreamRequest`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PromoteDownstreamRequest {
    /// The Freight's name.
    #[serde(default)]
    freight: String,
    /// The Freight's alias.
    #[serde(default)]
    freight_alias: String,
}

/// `POST /v1beta1/projects/{project}/stages/{stage}/promotions/downstream`:
/// promotes Freight from `stage` into every Stage that takes Freight from
/// it; 201 with `{"promotions": [...]}`, or 207 with `errors` when some
/// could not be queued.
#[utoipa::path(post, path = "/v1beta1/projects/{project}/stages/{stage}/promotions/downstream", operation_id = "PromoteDownstream",
    tag = "Core", security(("BearerAuth" = [])),
    params(("project" = String, Path), ("stage" = String, Path)),
    request_body = PromoteDownstreamRequest,
    responses((status = 201, body = schema::Object), (status = 207, body = schema::Object), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub(crate) async fn promote_downstream(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((project, stage)): Path<(String, String)>,
    super::Body(body): super::Body,
) -> ApiResult {
    let hub = caller.project(&state, &project, Action::Promote)?;
    let req: PromoteDownstreamRequest = json_body(&body)?;
    if req.freight.is_empty() == req.freight_alias.is_empty() {
        return Err(ApiError::bad_request(
            "exactly one of freight or freightAlias must be provided",
        ));
    }
    existing(&hub, Kind::Stage, &stage)?;
    let name = if req.freight.is_empty() {
        &req.freight_alias
    } else {
        &req.freight
    };
    let id = freight_id(&hub.snapshot(), name, &project)?;
    let project_view = hub.controller().project();
    let downstream: Vec<String> = project_view.graph().downstream(&stage).to_vec();
    if downstream.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Stage {stage:?} has no downstream Stages"
        )));
    }
    let mut promotions = Vec::new();
    let mut errors = Vec::new();
    for target in downstream {
        let request =
            PromoteRequest::new(&target, FreightChoice::Named(id.clone()), caller.actor());
        match state.promote(&hub, request).await {
            Ok(p) => promotions.push((*p).clone()),
            Err(e) => errors.push(format!("Stage {target:?}: {}", e.message())),
        }
    }
    let mut body = json!({"promotions": promotions});
    if errors.is_empty() {
        return Ok((StatusCode::CREATED, Json(body)).into_response());
    }
    body["errors"] = Value::String(errors.join("; "));
    Ok((StatusCode::MULTI_STATUS, Json(body)).into_response())
}

/// `POST /v1beta1/projects/{project}/stages/{stage}/refresh`: the Stage's
/// queue and verification are looked at now.
#[utoipa::path(post, path = "/v1beta1/projects/{project}/stages/{stage}/refresh", operation_id = "RefreshStage",
    tag = "Core", security(("BearerAuth" = [])),
    params(("project" = String, Path), ("stage" = String, Path)),
    responses((status = 200), (status = 401), (status = 403), (status = 404)))]
pub(crate) async fn refresh(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((project, stage)): Path<(String, String)>,
) -> ApiResult {
    let hub = caller.project(&state, &project, Action::Promote)?;
    existing(&hub, Kind::Stage, &stage)?;
    state.drive(&hub, &stage);
    Ok(ok())
}

/// `POST /v1beta1/projects/{project}/stages/{stage}/verification`: verifies
/// the Stage's current Freight again, in the background; 400 when the
/// Stage holds no Freight.
#[utoipa::path(post, path = "/v1beta1/projects/{project}/stages/{stage}/verification", operation_id = "Reverify",
    tag = "Verifications", security(("BearerAuth" = [])),
    params(("project" = String, Path), ("stage" = String, Path)),
    responses((status = 200), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub(crate) async fn reverify(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((project, stage)): Path<(String, String)>,
) -> ApiResult {
    let hub = caller.project(&state, &project, Action::Promote)?;
    let object = existing(&hub, Kind::Stage, &stage)?;
    let holds_freight = object.pointer("/status/freightHistory/0").is_some();
    if !holds_freight {
        return Err(ApiError::bad_request(format!(
            "Stage {stage:?} holds no Freight"
        )));
    }
    state.reverify(&hub, &stage);
    Ok(ok())
}

/// `POST /v1beta1/projects/{project}/stages/{stage}/verification/abort`:
/// stops the Stage's verification running in this process (its checks are
/// cancelled and it is recorded `Aborted`); answers 200 for a Stage that
/// exists also when none runs, as Kargo does.
#[utoipa::path(post, path = "/v1beta1/projects/{project}/stages/{stage}/verification/abort", operation_id = "AbortVerification",
    tag = "Verifications", security(("BearerAuth" = [])),
    params(("project" = String, Path), ("stage" = String, Path)),
    responses((status = 200), (status = 401), (status = 403), (status = 404)))]
pub(crate) async fn abort_verification(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((project, stage)): Path<(String, String)>,
) -> ApiResult {
    let hub = caller.project(&state, &project, Action::Promote)?;
    existing(&hub, Kind::Stage, &stage)?;
    hub.controller().abort_verification(&stage);
    Ok(ok())
}
