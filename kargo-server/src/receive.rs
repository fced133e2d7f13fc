//! The HTTP side of webhook receivers: `POST {base path}/{kind}/{hash}`
//! finds the receiver, lets it check the request, and acts on what it
//! asks for.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use kargo_core::credentials::StaticCredentials;
use kargo_runtime::Project;
use serde_json::{Value, json};

use crate::hub::Hub;
use crate::objects::Kind;
use crate::server::AppState;
use crate::webhook::{
    ActionResult, Delivery, GenericRequest, GenericTarget, GenericTargets, MAX_BODY_BYTES,
    Receiver, Receivers, ReplayGuard, TargetKind, run_generic as run_generic_actions,
    warehouse_wants,
};

/// Every project's receivers, built again when a project's manifests
/// change.
#[derive(Debug)]
pub(crate) struct Webhooks {
    base_url: String,
    secrets: Arc<StaticCredentials>,
    guard: ReplayGuard,
    built: Mutex<Built>,
}

#[derive(Debug, Default)]
struct Built {
    /// The projects the receivers were built from.
    from: Vec<Arc<Project>>,
    receivers: Arc<Receivers>,
}

impl Webhooks {
    /// Receivers at `base_url` (e.g. `http://host:8080/webhooks`), their
    /// Secrets looked up in `secrets`.
    pub(crate) fn new(base_url: String, secrets: Arc<StaticCredentials>) -> Self {
        Webhooks {
            base_url,
            secrets,
            guard: ReplayGuard::default(),
            built: Mutex::new(Built::default()),
        }
    }

    /// The receivers of `hubs`' projects as their manifests are now.
    pub(crate) fn receivers<'a>(&self, hubs: impl Iterator<Item = &'a Arc<Hub>>) -> Arc<Receivers> {
        let projects: Vec<Arc<Project>> = hubs.map(|h| h.controller().project()).collect();
        let mut built = self.built.lock().unwrap_or_else(PoisonError::into_inner);
        let same = built.from.len() == projects.len()
            && built
                .from
                .iter()
                .zip(&projects)
                .all(|(a, b)| Arc::ptr_eq(a, b));
        if same && !projects.is_empty() {
            return built.receivers.clone();
        }
        let configs: Vec<_> = projects
            .iter()
            .flat_map(|p| p.manifests().project_configs().iter().cloned())
            .collect();
        let lookup = |project: &str, name: &str| -> Option<BTreeMap<String, String>> {
            self.secrets.named_secret(project, name).map(|s| {
                s.fields()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect()
            })
        };
        let (receivers, errors) = Receivers::build(&configs, &lookup, &self.base_url);
        for error in errors {
            tracing::warn!(error = %error, "webhook receiver not set up");
        }
        self.guard.retain(&receivers);
        *built = Built {
            from: projects,
            receivers: Arc::new(receivers),
        };
        built.receivers.clone()
    }
}

/// `POST /webhooks/...`: a webhook delivery.
pub(crate) async fn receive(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let receivers = state.webhooks.receivers(state.hubs());
    let Some(receiver) = receivers.find(uri.path()) else {
        state.metrics.webhook("unknown", "not_found");
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "no such webhook receiver"})),
        )
            .into_response();
    };
    let label = format!("{}/{}", receiver.project(), receiver.name());
    if body.len() > MAX_BODY_BYTES {
        state.metrics.webhook(&label, "too_large");
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            Json(json!({"error": "request body too large"})),
        )
            .into_response();
    }
    let query = uri.query().unwrap_or("");
    let delivery = match state
        .webhooks
        .guard
        .handle_query(receiver, query, &headers, &body)
    {
        Ok(delivery) => delivery,
        Err(rejection) => {
            tracing::info!(receiver = %label, status = rejection.status.as_u16(), "webhook refused: {}", rejection.message);
            state.metrics.webhook(&label, "refused");
            return rejection.into_response();
        }
    };
    let Some(hub) = state.hub(receiver.project()) else {
        state.metrics.webhook(&label, "not_found");
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "project not served"})),
        )
            .into_response();
    };
    let message = match delivery {
        Delivery::Refresh {
            repo_urls,
            qualifiers,
            changed_paths,
        } => {
            let project = hub.controller().project();
            let warehouses: Vec<String> = project
                .manifests()
                .warehouses()
                .iter()
                .filter(|w| {
                    repo_urls
                        .iter()
                        .any(|url| warehouse_wants(w, url, &qualifiers, &changed_paths))
                })
                .map(|w| w.metadata.name.clone())
                .collect();
            let message = format!("refreshing {} Warehouse(s)", warehouses.len());
            tracing::info!(receiver = %label, ?warehouses, "webhook: {message}");
            state.refresh_warehouses(&hub, warehouses);
            message
        }
        Delivery::PullRequestClosed { url, .. } => {
            let promotions = waiting_on(&hub, &url);
            let message = format!(
                "refreshing {} promotion(s) waiting on {url}",
                promotions.len()
            );
            tracing::info!(receiver = %label, "webhook: {message}");
            for promotion in promotions {
                state.refresh_promotion(&hub, &promotion);
            }
            message
        }
        Delivery::Generic(request) => {
            let response = run_generic(&state, &hub, receiver, &request);
            state.metrics.webhook(&label, "accepted");
            return response;
        }
        Delivery::Ignored { reason } => reason,
    };
    state.metrics.webhook(&label, "accepted");
    (StatusCode::OK, Json(json!({"msg": message}))).into_response()
}

/// Runs a generic receiver's actions on the project's Warehouses and
/// Promotions, and answers Kargo's `{"results": [...]}`: 200, or 500 when
/// an action failed.
fn run_generic(
    state: &AppState,
    hub: &Arc<Hub>,
    receiver: &Receiver,
    request: &GenericRequest,
) -> Response {
    let Some(config) = receiver.config().generic.as_ref() else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": "not a generic receiver"})),
        )
            .into_response();
    };
    let project = hub.controller().project();
    let snapshot = hub.snapshot();
    let targets = GenericTargets {
        warehouses: project
            .manifests()
            .warehouses()
            .iter()
            .map(GenericTarget::warehouse)
            .collect(),
        promotions: snapshot
            .of(Kind::Promotion)
            .map(|(name, p)| GenericTarget {
                name: name.clone(),
                labels: p
                    .pointer("/metadata/labels")
                    .and_then(|l| serde_json::from_value(l.clone()).ok())
                    .unwrap_or_default(),
                subscribed_urls: Vec::new(),
            })
            .collect(),
    };
    let mut warehouses = Vec::new();
    let mut promotions = Vec::new();
    let results = run_generic_actions(
        config,
        receiver.project(),
        request,
        &targets,
        &mut |kind, name| {
            match kind {
                TargetKind::Warehouse => warehouses.push(name.to_owned()),
                TargetKind::Promotion => promotions.push(name.to_owned()),
            }
            true
        },
    );
    warehouses.sort();
    warehouses.dedup();
    tracing::info!(receiver = %format!("{}/{}", receiver.project(), receiver.name()), ?warehouses, ?promotions, "generic webhook");
    if !warehouses.is_empty() {
        state.refresh_warehouses(hub, warehouses);
    }
    for promotion in promotions {
        state.refresh_promotion(hub, &promotion);
    }
    let status = if results.iter().any(ActionResult::is_error) {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    (status, Json(json!({"results": results}))).into_response()
}

/// The running promotions that wait on the pull request at `url` (a
/// step's output `pr.url`).
fn waiting_on(hub: &Hub, url: &str) -> Vec<String> {
    let snapshot = hub.snapshot();
    snapshot
        .of(Kind::Promotion)
        .filter(|(_, p)| p.pointer("/status/phase").and_then(Value::as_str) == Some("Running"))
        .filter(|(_, p)| {
            p.pointer("/status/state")
                .and_then(Value::as_object)
                .is_some_and(|outputs| {
                    outputs
                        .values()
                        .any(|o| o.pointer("/pr/url").and_then(Value::as_str) == Some(url))
                })
        })
        .map(|(name, _)| name.clone())
        .collect()
}
