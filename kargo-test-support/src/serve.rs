//! `kargo serve`'s server on a loopback port over a [`PipelineWorld`], as
//! the API, webhook and UI tests start it: the world's manifests, the
//! built-in steps, the controller's loop running (every hour, so that
//! only what a test does makes it act), stopped when dropped.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use kargo_core::state::DynStateStore;
use kargo_runtime::{Controller, ControllerBuilder, RunOptions};
use kargo_server::auth::Auth;
use kargo_server::{Server, ServerBuilder};
use serde_json::Value;

use crate::PipelineWorld;
use crate::auth::auth_file;

/// The project every test world holds.
const PROJECT: &str = "demo";

/// A server on a loopback port, stopped when dropped.
#[derive(Debug)]
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// A client for the tests' requests.
    pub client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    /// Serves `world`'s pipeline over `store`, with the test auth file
    /// ([`auth_file`]) when `auth`, running the controller's loop.
    pub async fn start(world: &PipelineWorld, store: Arc<DynStateStore>, auth: bool) -> TestServer {
        TestServer::start_with(world, store, auth, |c| c, |b| b).await
    }

    /// [`TestServer::start`], with the controller and the server
    /// configured further.
    pub async fn start_with(
        world: &PipelineWorld,
        store: Arc<DynStateStore>,
        auth: bool,
        controller: impl FnOnce(ControllerBuilder) -> ControllerBuilder,
        configure: impl FnOnce(ServerBuilder) -> ServerBuilder,
    ) -> TestServer {
        TestServer::start_in(world.dir.path(), store, auth, controller, configure).await
    }

    /// [`TestServer::start_with`] over the manifests in `dir/manifests`
    /// (a world of the test's own making), with work directories under
    /// `dir/work`.
    pub async fn start_in(
        dir: &Path,
        store: Arc<DynStateStore>,
        auth: bool,
        controller: impl FnOnce(ControllerBuilder) -> ControllerBuilder,
        configure: impl FnOnce(ServerBuilder) -> ServerBuilder,
    ) -> TestServer {
        // `KARGO_LOG=debug cargo test ...` shows what the server did.
        if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("KARGO_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        }
        let registry =
            kargo_runtime::input::registry_with_custom_steps(&[]).expect("the built-in steps");
        let builder = Controller::builder()
            .manifests_path(dir.join("manifests"))
            .registry(Arc::new(registry))
            .store(store)
            .work_root(dir.join("work"), false);
        let controller = controller(builder).build().expect("the world's controller");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let base = format!(
            "http://{}",
            listener.local_addr().expect("the listening address")
        );
        let mut builder = Server::builder()
            .project(PROJECT, controller)
            .run_controllers(RunOptions::default().with_interval(Duration::from_secs(3600)))
            .external_url(base.clone());
        if auth {
            let auth = Auth::from_yaml(&auth_file(PROJECT), "auth.yaml").expect("the auth file");
            builder = builder.auth(auth);
        }
        let server = configure(builder).build().await.expect("the server");
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            server
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await
                .expect("the server serves until stopped");
        });
        TestServer {
            base,
            client: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The URL of `path` on the server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request to `path` with `token`, if any.
    pub fn request(
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
    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let response = self
            .request(reqwest::Method::GET, path, token)
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `POST path` with a JSON `body` as `token`: the status and the JSON
    /// body.
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let response = self
            .request(reqwest::Method::POST, path, token)
            .json(&body)
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Polls `GET path` until `done` holds for its body (at most 30 s).
    pub async fn wait_for(
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
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("the server task ends");
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

/// A SQLite store in `world` (`state.db`).
pub async fn sqlite(world: &PipelineWorld) -> Arc<DynStateStore> {
    let path = world.path("state.db");
    kargo_store::open(path.to_str().expect("a UTF-8 path"))
        .await
        .expect("the SQLite store opens")
}
