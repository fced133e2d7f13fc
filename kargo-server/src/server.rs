//! The server: its state, its routes and middleware, and serving them
//! beside the controllers' loops.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kargo_runtime::{Controller, PromoteRequest, RunOptions};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tower_http::timeout::TimeoutLayer;

use crate::api::{self, ApiError, ApiResult};
use crate::auth::Auth;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::objects::Kind;
use crate::receive::Webhooks;
use crate::touched::Touched;
use kargo_core::credentials::StaticCredentials;

/// The body limit of every route but `/v1beta1/resources` (Kargo's).
pub const BODY_LIMIT: usize = 1024 * 1024;
/// The body limit of `/v1beta1/resources` (Kargo's).
pub const RESOURCES_BODY_LIMIT: usize = 4 * 1024 * 1024;
/// How long a request may take to be answered (a watch stream's events
/// are not bounded by it, only its start).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Where webhook receivers' paths start (Kargo's receivers have their own
/// server; here they share the API's).
pub const WEBHOOK_PATH: &str = crate::webhook::DEFAULT_BASE_PATH;
/// How long a shutdown waits for requests in flight.
const DRAIN: Duration = Duration::from_secs(10);

/// What the handlers share.
#[derive(Debug)]
pub(crate) struct AppState {
    hubs: BTreeMap<String, Arc<Hub>>,
    pub(crate) auth: Option<Arc<Auth>>,
    pub(crate) metrics: Arc<Metrics>,
    /// Cancelled when the server stops: watch streams end.
    pub(crate) stop: CancellationToken,
    /// The webhook receivers.
    pub(crate) webhooks: Webhooks,
}

impl AppState {
    /// The hub of `project`.
    pub(crate) fn hub(&self, project: &str) -> Option<Arc<Hub>> {
        self.hubs.get(project).cloned()
    }

    /// Every project's hub.
    pub(crate) fn hubs(&self) -> impl Iterator<Item = &Arc<Hub>> {
        self.hubs.values()
    }

    /// Reads what a write `touched` again before answering, so the
    /// caller reads their own write; a failure is logged (the next read
    /// catches up).
    pub(crate) async fn settle(&self, hub: &Hub, touched: Touched) {
        if let Err(e) = hub.refresh_touched(touched).await {
            tracing::warn!(project = hub.project(), error = %e, "cannot read the project's state");
        }
    }

    /// Queues a person's promotion, starts the Stage's queue in the
    /// background, and returns the Promotion as the API shows it.
    pub(crate) async fn promote(
        &self,
        hub: &Arc<Hub>,
        request: PromoteRequest,
    ) -> ApiResult<Arc<Value>> {
        let stage = request.stage.clone();
        let record = hub.controller().promote(&request).await?;
        self.settle(hub, Touched::stage(&stage).with_freight(&record.freight))
            .await;
        self.drive(hub, &stage);
        hub.snapshot()
            .get(Kind::Promotion, &record.name)
            .cloned()
            .ok_or_else(|| ApiError::internal(&format!("promotion {} vanished", record.name)))
    }

    /// Runs `stage`'s queue now, in the background. Under replicas the
    /// store's claims make sure each promotion runs once.
    pub(crate) fn drive(&self, hub: &Arc<Hub>, stage: &str) {
        let stage = stage.to_owned();
        let failed = format!("cannot run the promotions of Stage {stage}");
        in_background(hub, Touched::stage(&stage), failed, |c| async move {
            c.run_stage(&stage).await.map(drop)
        });
    }

    /// Tries a waiting promotion again now, in the background.
    pub(crate) fn refresh_promotion(&self, hub: &Arc<Hub>, promotion: &str) {
        let touched = match hub
            .snapshot()
            .get(Kind::Promotion, promotion)
            .and_then(|p| p.pointer("/spec/stage"))
            .and_then(Value::as_str)
        {
            Some(stage) => Touched::stage(stage),
            None => Touched::everything(),
        };
        let promotion = promotion.to_owned();
        let failed = format!("cannot refresh promotion {promotion}");
        in_background(hub, touched, failed, |c| async move {
            c.refresh_promotion(&promotion).await.map(drop)
        });
    }

    /// Verifies `stage` again, in the background.
    pub(crate) fn reverify(&self, hub: &Arc<Hub>, stage: &str) {
        let stage = stage.to_owned();
        let failed = format!("cannot verify Stage {stage}");
        in_background(hub, Touched::stage(&stage), failed, |c| async move {
            c.reverify(&stage).await.map(drop)
        });
    }

    /// Discovers `warehouses` now, one after the other, in the
    /// background; new Freight wakes the controller's loop, which
    /// auto-promotes it.
    pub(crate) fn refresh_warehouses(&self, hub: &Arc<Hub>, warehouses: Vec<String>) {
        let project = hub.project().to_owned();
        let failed = "cannot refresh the Warehouses".to_owned();
        let touched = warehouses
            .iter()
            .fold(Touched::none(), |t, w| t.with_warehouse(w));
        in_background(hub, touched, failed, |c| async move {
            for name in warehouses {
                if let Err(e) = c.refresh_warehouse(&name).await {
                    tracing::warn!(project, warehouse = name, error = %e, "cannot refresh the Warehouse");
                }
            }
            Ok(())
        });
    }
}

/// Runs `work` on `hub`'s controller in a task of its own: a failure is
/// logged as `failed`, and the hub reads what the work `touched` again
/// afterwards (besides what the controller's events name).
fn in_background<F, Fut>(hub: &Arc<Hub>, touched: Touched, failed: String, work: F)
where
    F: FnOnce(Controller) -> Fut,
    Fut: Future<Output = kargo_runtime::Result<()>> + Send + 'static,
{
    let running = work(hub.controller().clone());
    let hub = hub.clone();
    tokio::spawn(async move {
        if let Err(e) = running.await {
            tracing::warn!(project = hub.project(), error = %e, "{failed}");
        }
        hub.touch(touched);
    });
}

/// `kargo serve`'s HTTP server over one or more projects' controllers.
///
/// # Example
/// ```no_run
/// # async fn run(controller: kargo_runtime::Controller) -> std::io::Result<()> {
/// let server = kargo_server::Server::builder()
///     .project("demo", controller)
///     .build()
///     .await
///     .expect("the store answers");
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// // Serves until the future resolves: a signal, a host's own shutdown.
/// server.serve(listener, std::future::pending()).await
/// # }
/// ```
#[derive(Debug)]
pub struct Server {
    state: Arc<AppState>,
    run_controllers: Option<RunOptions>,
}

/// Builds a [`Server`].
#[derive(Debug, Default)]
pub struct ServerBuilder {
    projects: Vec<(String, Controller)>,
    auth: Option<Auth>,
    run_controllers: Option<RunOptions>,
    external_url: Option<String>,
    secrets: Option<Arc<StaticCredentials>>,
}

impl ServerBuilder {
    /// Serves `controller`'s pipeline as project `name`.
    pub fn project(mut self, name: impl Into<String>, controller: Controller) -> Self {
        self.projects.push((name.into(), controller));
        self
    }

    /// Requires callers to authenticate with `auth`'s tokens; without it,
    /// the API is open.
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Runs each controller's loop ([`Controller::run`]) while serving;
    /// without it the host runs them.
    pub fn run_controllers(mut self, options: RunOptions) -> Self {
        self.run_controllers = Some(options);
        self
    }

    /// The URL clients reach the server at (default `http://127.0.0.1:8080`):
    /// webhook receivers' URLs start with it, their paths with its path
    /// and [`WEBHOOK_PATH`].
    pub fn external_url(mut self, url: impl Into<String>) -> Self {
        self.external_url = Some(url.into());
        self
    }

    /// The Secrets webhook receivers' `secretRef`s name (Kubernetes
    /// Secrets, labelled or not; see [`StaticCredentials::named_secret`]).
    pub fn secrets(mut self, secrets: Arc<StaticCredentials>) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// The server, each project's state read once.
    pub async fn build(self) -> kargo_core::Result<Server> {
        let metrics = Arc::new(Metrics::new());
        let mut hubs = BTreeMap::new();
        for (name, controller) in self.projects {
            let hub = Hub::new(name.clone(), controller, metrics.clone()).await?;
            hubs.insert(name, hub);
        }
        Ok(Server {
            state: Arc::new(AppState {
                hubs,
                auth: self.auth.map(Arc::new),
                metrics,
                stop: CancellationToken::new(),
                webhooks: Webhooks::new(
                    format!(
                        "{}{WEBHOOK_PATH}",
                        self.external_url
                            .as_deref()
                            .unwrap_or("http://127.0.0.1:8080")
                            .trim_end_matches('/')
                    ),
                    self.secrets.unwrap_or_default(),
                ),
            }),
            run_controllers: self.run_controllers,
        })
    }
}

impl Server {
    /// A builder.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// The HTTP routes, for a host that serves them itself. The hubs must
    /// run ([`Server::serve`] runs them) for reads to follow changes made
    /// outside the API.
    pub fn router(&self) -> axum::Router {
        axum::Router::new()
            .nest(
                "/v1beta1",
                api::routes(DefaultBodyLimit::max(RESOURCES_BODY_LIMIT)),
            )
            .merge(crate::ui::routes())
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics))
            .route("/openapi.json", get(openapi))
            .route(
                &format!("{WEBHOOK_PATH}/{{*receiver}}"),
                post(crate::receive::receive)
                    .layer(DefaultBodyLimit::max(crate::webhook::MAX_BODY_BYTES)),
            )
            .fallback(not_found)
            .layer(axum::middleware::from_fn_with_state(
                self.state.clone(),
                observe,
            ))
            .layer(DefaultBodyLimit::max(BODY_LIMIT))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                REQUEST_TIMEOUT,
            ))
            .with_state(self.state.clone())
    }

    /// Serves on `listener` until `shutdown` resolves, keeping every
    /// project's state current and, when asked, running the controllers.
    /// On shutdown it stops taking requests, ends watch streams, waits up
    /// to ten seconds for requests in flight, and stops promotions at
    /// their next step boundary.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let stop = self.state.stop.clone();
        let mut tasks = tokio::task::JoinSet::new();
        for hub in self.state.hubs() {
            let (watched, stop) = (hub.clone(), stop.clone());
            tasks.spawn(async move { watched.run(stop.cancelled_owned()).await });
            if let Some(options) = &self.run_controllers {
                let (controller, options, stop) = (
                    hub.controller().clone(),
                    options.clone(),
                    self.state.stop.clone(),
                );
                tasks.spawn(async move {
                    if let Err(e) = controller.run(options, stop.cancelled_owned()).await {
                        tracing::error!(error = %e, "the controller stopped");
                    }
                });
            }
        }
        let router = self.router();
        let signal = {
            let stop = stop.clone();
            async move {
                shutdown.await;
                tracing::info!(
                    "shutting down: draining requests, stopping promotions at a step boundary"
                );
                stop.cancel();
            }
        };
        let server = axum::serve(listener, router).with_graceful_shutdown(signal);
        let drained = async {
            stop.cancelled().await;
            tokio::time::sleep(DRAIN).await;
        };
        tokio::select! {
            result = server => result?,
            () = drained => tracing::warn!("requests still open after the drain period; closing them"),
        }
        for hub in self.state.hubs() {
            hub.controller().shutdown();
        }
        while tasks.join_next().await.is_some() {}
        Ok(())
    }
}

/// Counts and logs every request with its ID (`x-request-id`: the
/// client's, or one made here), route, status and time.
async fn observe(State(state): State<Arc<AppState>>, mut request: Request, next: Next) -> Response {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            format!(
                "{:x}-{}",
                std::process::id(),
                NEXT_ID.fetch_add(1, Ordering::Relaxed)
            )
        });
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().as_str().to_owned();
    if let Ok(value) = HeaderValue::from_str(&id) {
        request.headers_mut().insert("x-request-id", value);
    }
    let caller = crate::api::CallerSlot::default();
    request.extensions_mut().insert(caller.clone());
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route);
    let started = Instant::now();
    let mut response = tracing::Instrument::instrument(next.run(request), span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::info!(
            status,
            millis = elapsed.as_millis() as u64,
            "request answered"
        );
    });
    state
        .metrics
        .http(&route, &method, status, elapsed.as_secs_f64());
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    if let Some(principal) = caller.take() {
        // Who the server took the caller for, so that a client (the UI)
        // offers only what the role allows.
        let headers = response.headers_mut();
        if let Ok(subject) = HeaderValue::from_str(&principal.subject) {
            headers.insert("x-kargo-subject", subject);
        }
        if let Ok(role) = HeaderValue::from_str(&principal.role.to_string()) {
            headers.insert("x-kargo-role", role);
        }
    }
    response
}

/// `GET /healthz`: the process is alive.
async fn healthz() -> Response {
    (StatusCode::OK, "ok").into_response()
}

/// `GET /readyz`: 200 when every project's store answers and manifests
/// are loaded, 503 otherwise.
async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if state.hubs.is_empty() {
        return (StatusCode::SERVICE_UNAVAILABLE, "no project loaded").into_response();
    }
    for hub in state.hubs() {
        let probe = hub.controller().store().get_warehouse("");
        match tokio::time::timeout(Duration::from_secs(5), probe).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(project = hub.project(), error = %e, "readiness: the state store fails");
                return (StatusCode::SERVICE_UNAVAILABLE, "state store unavailable")
                    .into_response();
            }
            Err(_) => {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "state store does not answer",
                )
                    .into_response();
            }
        }
    }
    (StatusCode::OK, "ok").into_response()
}

/// `GET /metrics`.
async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// `GET /openapi.json`.
async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(crate::openapi::document())
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}
