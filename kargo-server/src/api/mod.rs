//! Kargo's REST API (`/v1beta1`): routing, the caller, errors.

pub(crate) mod definitions;
pub(crate) mod encoding;
pub(crate) mod freight;
pub(crate) mod projects;
pub(crate) mod promotions;
pub(crate) mod resources;
pub(crate) mod stages;
pub(crate) mod system;
pub(crate) mod warehouses;
pub(crate) mod watch;

use std::sync::Arc;

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use serde::Serialize;
use serde_json::Value;

use crate::auth::{Action, Principal, Unauthenticated, bearer};
use crate::hub::Hub;
use crate::objects::Kind;
use crate::server::AppState;

/// The API's routes under `/v1beta1`.
pub(crate) fn routes(
    resources_limit: axum::extract::DefaultBodyLimit,
) -> axum::Router<Arc<AppState>> {
    use axum::Router;
    let project = Router::new()
        .route("/", get(projects::get_project))
        .route("/config", get(projects::get_project_config))
        .route("/events", get(projects::list_events))
        .route("/warehouses", get(warehouses::list))
        .route("/warehouses/{warehouse}", get(warehouses::get))
        .route("/warehouses/{warehouse}/refresh", post(warehouses::refresh))
        .route("/stages", get(stages::list))
        .route("/stages/{stage}", get(stages::get))
        .route("/stages/{stage}/promotions", post(stages::promote))
        .route(
            "/stages/{stage}/promotions/downstream",
            post(stages::promote_downstream),
        )
        .route("/stages/{stage}/refresh", post(stages::refresh))
        .route("/stages/{stage}/verification", post(stages::reverify))
        .route(
            "/stages/{stage}/verification/abort",
            post(stages::abort_verification),
        )
        .route("/freight", get(freight::query))
        .route("/freight/{freight}", get(freight::get))
        .route("/freight/{freight}/alias", patch(freight::alias))
        .route("/freight/{freight}/approve", post(freight::approve))
        .route("/promotions", get(promotions::list))
        .route("/promotions/{promotion}", get(promotions::get))
        .route("/promotions/{promotion}/abort", post(promotions::abort))
        .route("/promotions/{promotion}/refresh", post(promotions::refresh))
        .route("/promotion-tasks", get(definitions::list_tasks))
        .route("/promotion-tasks/{task}", get(definitions::get_task))
        .route(
            "/analysis-templates",
            get(definitions::list_analysis_templates),
        )
        .route(
            "/analysis-templates/{template}",
            get(definitions::get_analysis_template),
        );
    Router::new()
        .route("/system/server-version", get(system::version))
        .route("/system/public-server-config", get(system::public_config))
        .route("/login", post(system::login))
        .route("/projects", get(projects::list_projects))
        .nest("/projects/{project}", project)
        .route(
            "/resources",
            post(resources::create)
                .put(resources::update)
                .delete(resources::delete)
                .layer(resources_limit),
        )
}

/// An API error: a status and a message, answered as JSON
/// (`{"error": MESSAGE, "message": MESSAGE}`: Kargo's clients read
/// `error`, generic ones `message`). Internal failures answer a fixed
/// message; what went wrong is logged, never sent.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// The message answered.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// An internal failure: logged here, answered without details.
    pub(crate) fn internal(error: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %error, "request failed");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
    }
}

impl From<kargo_runtime::Error> for ApiError {
    fn from(e: kargo_runtime::Error) -> Self {
        use kargo_runtime::Error as E;
        match &e {
            E::NotFound { .. } => ApiError::not_found(e.to_string()),
            E::Invalid(_) | E::Refused(_) => ApiError::bad_request(e.to_string()),
            E::Conflict(_) => ApiError::new(StatusCode::CONFLICT, e.to_string()),
            E::Store(inner) => store_error(inner),
            _ => ApiError::internal(&e),
        }
    }
}

impl From<kargo_core::Error> for ApiError {
    fn from(e: kargo_core::Error) -> Self {
        store_error(&e)
    }
}

/// A store's error: about the request (unknown, duplicate, refused by the
/// state) or internal.
fn store_error(e: &kargo_core::Error) -> ApiError {
    use kargo_core::Error as E;
    match e {
        E::NotFound { .. } => ApiError::not_found(e.to_string()),
        E::AlreadyExists { .. } => ApiError::new(StatusCode::CONFLICT, e.to_string()),
        E::Precondition(_) | E::Invalid(_) => ApiError::bad_request(e.to_string()),
        _ => ApiError::internal(e),
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: &self.message,
            message: &self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

/// A request's body, within the route's limit: beyond it, 413 with
/// Kargo's message.
#[derive(Debug)]
pub(crate) struct Body(pub(crate) axum::body::Bytes);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        match axum::body::Bytes::from_request(request, state).await {
            Ok(bytes) => Ok(Body(bytes)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large",
            )),
            Err(e) => Err(ApiError::bad_request(e.body_text())),
        }
    }
}

/// The result of a handler.
pub(crate) type ApiResult<T = Response> = Result<T, ApiError>;

/// The authenticated caller of a request: 401 without a valid
/// `Authorization: Bearer` token (unless the server is open).
#[derive(Debug, Clone)]
pub(crate) struct Caller(pub(crate) Principal);

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let Some(auth) = &state.auth else {
            let principal = Principal::anonymous();
            if let Some(slot) = parts.extensions.get::<CallerSlot>() {
                slot.fill(&principal);
            }
            return Ok(Caller(principal));
        };
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer)
            .ok_or(Unauthenticated::Missing);
        let principal = token
            .and_then(|t| auth.authenticate(t))
            .map_err(|e| ApiError::new(StatusCode::UNAUTHORIZED, e.to_string()))?;
        if let Some(slot) = parts.extensions.get::<CallerSlot>() {
            slot.fill(&principal);
        }
        Ok(Caller(principal))
    }
}

/// Where a request's authenticated caller is left for the middleware,
/// which tells the client its subject and role (`x-kargo-subject`,
/// `x-kargo-role` response headers).
#[derive(Debug, Clone, Default)]
pub(crate) struct CallerSlot(Arc<std::sync::Mutex<Option<Principal>>>);

impl CallerSlot {
    fn fill(&self, principal: &Principal) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(principal.clone());
    }

    /// The caller, once authenticated.
    pub(crate) fn take(&self) -> Option<Principal> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

impl Caller {
    /// The caller's hub for `project`: 403 when the caller may not do
    /// `action` there, 404 when the server has no such project.
    pub(crate) fn project(
        &self,
        state: &AppState,
        project: &str,
        action: Action,
    ) -> ApiResult<Arc<Hub>> {
        self.allow(action, Some(project))?;
        state
            .hub(project)
            .ok_or_else(|| ApiError::not_found(format!("project {project:?} not found")))
    }

    /// 403 unless the caller may do `action` (in `project`, if any).
    pub(crate) fn allow(&self, action: Action, project: Option<&str>) -> ApiResult<()> {
        if self.0.may(action, project) {
            return Ok(());
        }
        let what = match project {
            Some(p) => format!(" in project {p:?}"),
            None => String::new(),
        };
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "{} (role {}) may not {}{what}",
                self.0.subject,
                self.0.role,
                match action {
                    Action::Read => "read",
                    Action::Promote => "promote, approve, abort, refresh or reverify",
                    Action::Admin => "change resources",
                }
            ),
        ))
    }

    /// Who the caller is, recorded as the actor of what they do.
    pub(crate) fn actor(&self) -> &str {
        &self.0.subject
    }
}

/// The 404 for a `kind` named `name` that `project` does not have.
pub(crate) fn not_in_project(kind: &str, name: &str, project: &str) -> ApiError {
    ApiError::not_found(format!("{kind} {name:?} not found in project {project:?}"))
}

/// An object, or a 404 naming it.
pub(crate) fn found<'a>(
    object: Option<&'a Arc<Value>>,
    kind: &str,
    name: &str,
    project: &str,
) -> ApiResult<&'a Arc<Value>> {
    object.ok_or_else(|| not_in_project(kind, name, project))
}

/// The object of `kind` named `name` in `hub`'s project, or a 404.
pub(crate) fn existing(hub: &Hub, kind: Kind, name: &str) -> ApiResult<Arc<Value>> {
    found(
        hub.snapshot().get(kind, name),
        kind.as_str(),
        name,
        hub.project(),
    )
    .cloned()
}

/// The name (ID) of the Freight named or aliased `name`, or a 404.
pub(crate) fn freight_id(
    snapshot: &crate::objects::Snapshot,
    name: &str,
    project: &str,
) -> ApiResult<String> {
    snapshot
        .freight_id(name)
        .map(str::to_owned)
        .ok_or_else(|| not_in_project("Freight", name, project))
}

/// An empty `200 OK`, as Kargo answers its actions.
pub(crate) fn ok() -> Response {
    StatusCode::OK.into_response()
}

/// A Kubernetes list of `kind` (`StageList`, ...): the snapshot's whole
/// list when `keep` is `None` (gzipped, made once per change, for a
/// client that takes it), else the objects `keep` keeps.
fn list_response(
    snapshot: &crate::objects::Snapshot,
    kind: Kind,
    keep: Option<&dyn Fn(&Value) -> bool>,
    gzip: encoding::AcceptGzip,
) -> Response {
    use axum::http::header;
    let vary = (header::VARY, "accept-encoding");
    let json = match keep {
        None if gzip.0 => match snapshot.list_gzip(kind) {
            Some(body) => {
                let headers = [
                    (header::CONTENT_TYPE, "application/json"),
                    (header::CONTENT_ENCODING, "gzip"),
                    vary,
                ];
                return (headers, body).into_response();
            }
            None => snapshot.list_json(kind),
        },
        None => snapshot.list_json(kind),
        Some(keep) => {
            crate::objects::list_json(kind, snapshot.listed(kind).into_iter().filter(|o| keep(o)))
        }
    };
    ([(header::CONTENT_TYPE, "application/json"), vary], json).into_response()
}

/// The values of query parameter `key`: repeated (`?a=x&a=y`) or
/// comma-separated (`?a=x,y`), as Kargo's clients send arrays.
pub(crate) fn query_values(query: Option<&str>, key: &str) -> Vec<String> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(k, _)| k == key)
        .flat_map(|(_, v)| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The first value of query parameter `key`, if any.
pub(crate) fn query_value(query: Option<&str>, key: &str) -> Option<String> {
    query_values(query, key).into_iter().next()
}

/// Whether query parameter `key` is `true`: absent or `false` is false,
/// any other value 400.
pub(crate) fn query_flag(query: Option<&str>, key: &str) -> ApiResult<bool> {
    let mut flag = false;
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if k != key {
            continue;
        }
        flag = match &*v {
            "true" => true,
            "false" => false,
            other => {
                return Err(ApiError::bad_request(format!(
                    "query parameter {key} must be true or false, not {other:?}"
                )));
            }
        };
    }
    Ok(flag)
}

/// The number in query parameter `key`, if given; 400 if it is not one
/// (a 32-bit number at least zero, as the OpenAPI document says).
pub(crate) fn query_number(query: Option<&str>, key: &str) -> ApiResult<Option<usize>> {
    match form_urlencoded::parse(query.unwrap_or_default().as_bytes()).find(|(k, _)| k == key) {
        None => Ok(None),
        Some((_, v)) if v.is_empty() => Ok(None),
        Some((_, v)) => v
            .parse::<i32>()
            .ok()
            .and_then(|n| usize::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "query parameter {key} must be a number from 0 to 2147483647, not {v:?}"
                ))
            }),
    }
}

/// For [`list_or_watch`]: every object of the kind.
pub(crate) const EVERY_OBJECT: Option<fn(&Value) -> bool> = None;

/// The answer to a List of `kind`: the watch stream with `?watch=true`,
/// else the list; either of the objects `keep` keeps (all without it).
pub(crate) fn list_or_watch(
    state: &AppState,
    hub: &Hub,
    query: Option<&str>,
    kind: Kind,
    keep: Option<impl Fn(&Value) -> bool + Send + Sync + 'static>,
    gzip: encoding::AcceptGzip,
) -> ApiResult {
    if query_flag(query, "watch")? {
        let filter = watch::Filter::all(kind);
        let filter = match keep {
            Some(keep) => filter.matching(keep),
            None => filter,
        };
        return Ok(watch::respond(state, hub, filter));
    }
    let keep = keep.as_ref().map(|k| k as &dyn Fn(&Value) -> bool);
    Ok(list_response(&hub.snapshot(), kind, keep, gzip))
}

/// The answer to a Get of `object`, the `kind` named `name`: its watch
/// stream with `?watch=true`, else the object.
pub(crate) fn get_or_watch(
    state: &AppState,
    hub: &Hub,
    query: Option<&str>,
    kind: Kind,
    name: &str,
    object: &Value,
) -> ApiResult {
    if query_flag(query, "watch")? {
        return Ok(watch::respond(state, hub, watch::Filter::named(kind, name)));
    }
    Ok(Json(object).into_response())
}
