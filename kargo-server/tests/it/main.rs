//! `kargo serve`'s API over real HTTP: a server on a loopback port over a
//! real pipeline (an OCI image layout, a bare git repository, SQLite or
//! PostgreSQL), called with reqwest.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod api;
mod incremental;
mod receivers;
/// A real `docker-registry` and the images pushed to it: kargo-sources'
/// test support, shared as the webhook benchmark shares it.
#[path = "../../../kargo-sources/tests/it/support/mod.rs"]
mod registry;
mod replicas;
mod resources;
mod schema;
pub(crate) mod watch;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use kargo_core::state::DynStateStore;
use kargo_runtime::{Controller, RunOptions};
use kargo_server::Server;
use kargo_server::auth::{Auth, token_hash};
use kargo_test_support::PipelineWorld;
use serde_json::Value;

/// The signing key of the test auth file (32 bytes, base64).
const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
/// The admin password.
const PASSWORD: &str = "correct horse";

/// The API tokens of the test auth file, by role.
const VIEWER: &str = "viewer-token";
const PROMOTER: &str = "promoter-token";
const ADMIN: &str = "admin-token";
/// A promoter of another project.
const STRANGER: &str = "stranger-token";

/// The auth file: the admin password, and one token per role.
fn auth_file() -> String {
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    format!(
        "adminPasswordHash: '{hash}'\ntokenSigningKey: {KEY}\ntokens:\n\
         - {{name: alice, hash: '{}', role: viewer, projects: [demo]}}\n\
         - {{name: ci, hash: '{}', role: promoter, projects: ['*']}}\n\
         - {{name: ops, hash: '{}', role: admin, projects: [demo]}}\n\
         - {{name: bob, hash: '{}', role: promoter, projects: [other]}}\n",
        token_hash(VIEWER),
        token_hash(PROMOTER),
        token_hash(ADMIN),
        token_hash(STRANGER),
    )
}

/// A server on a loopback port, stopped when dropped.
struct TestServer {
    base: String,
    client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    /// Serves `world`'s pipeline over `store`, with the test auth file
    /// when `auth`, running the controller's loop.
    async fn start(world: &PipelineWorld, store: Arc<DynStateStore>, auth: bool) -> TestServer {
        TestServer::start_with(world, store, auth, |c| c, |b| b).await
    }

    /// [`TestServer::start`], with the controller and the server
    /// configured further.
    async fn start_with(
        world: &PipelineWorld,
        store: Arc<DynStateStore>,
        auth: bool,
        controller: impl FnOnce(kargo_runtime::ControllerBuilder) -> kargo_runtime::ControllerBuilder,
        configure: impl FnOnce(kargo_server::ServerBuilder) -> kargo_server::ServerBuilder,
    ) -> TestServer {
        // `KARGO_LOG=debug cargo test ...` shows what the server did.
        if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("KARGO_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        }
        let registry = kargo_runtime::input::registry_with_custom_steps(&[]).unwrap();
        let builder = Controller::builder()
            .manifests_path(world.manifests())
            .registry(Arc::new(registry))
            .store(store)
            .work_root(world.path("work"), false);
        let controller = controller(builder).build().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut builder = Server::builder()
            .project("demo", controller)
            .run_controllers(RunOptions::default().with_interval(Duration::from_secs(3600)))
            .external_url(base.clone());
        if auth {
            builder = builder.auth(Auth::from_yaml(&auth_file(), "auth.yaml").unwrap());
        }
        let server = configure(builder).build().await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            server
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        TestServer {
            base,
            client: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request to `path` with `token`, if any.
    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let request = self.client.request(method, self.url(path));
        match token {
            Some(t) => request.bearer_auth(t),
            None => request,
        }
    }

    /// `GET path` as `token`: the status and the JSON body.
    async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let response = self
            .request(reqwest::Method::GET, path, token)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `POST path` with a JSON `body` as `token`: the status and the JSON
    /// body.
    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let response = self
            .request(reqwest::Method::POST, path, token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Polls `GET path` until `done` holds for its body (at most 30 s).
    async fn wait_for(
        &self,
        path: &str,
        token: Option<&str>,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        for _ in 0..300 {
            let (status, body) = self.get(path, token).await;
            if status == 200 && done(&body) {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{path} never got there: {:#}",
            self.get(path, token).await.1
        );
    }

    /// Stops the server and waits until it stopped.
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A pipeline world with the image tag v1.0.0 and the stages dev →
/// staging → prod (auto-promotion on in dev and staging).
fn world() -> PipelineWorld {
    let world = PipelineWorld::new(
        &[("v1.0.0", "2026-01-01T00:00:00Z")],
        kargo_test_support::STAGES,
    );
    // prod is promoted by people only: an approval for prod would
    // otherwise race the person's promotion with an auto-promotion.
    let project = world.path("manifests/project.yaml");
    let text = std::fs::read_to_string(&project).unwrap();
    let auto = "  - stageSelector: {name: \"glob:*\"}\n    autoPromotionEnabled: true\n";
    assert!(
        text.contains(auto),
        "the world's promotion policies changed"
    );
    let dev_and_staging = "  - stageSelector: {name: dev}\n    autoPromotionEnabled: true\n  \
                           - stageSelector: {name: staging}\n    autoPromotionEnabled: true\n";
    std::fs::write(&project, text.replace(auto, dev_and_staging)).unwrap();
    world
}

/// Pushes the image tag v2.0.0 to `world`'s image.
fn push_v2(world: &PipelineWorld) {
    kargo_test_support::layout_with_tags(
        &world.layout,
        &[
            ("v1.0.0", "2026-01-01T00:00:00Z"),
            ("v2.0.0", "2026-01-02T00:00:00Z"),
        ],
    );
}

/// A SQLite store in `world`.
async fn sqlite(world: &PipelineWorld) -> Arc<DynStateStore> {
    kargo_store::open(world.path("state.db").to_str().unwrap())
        .await
        .unwrap()
}
