//! The web UI: its routes over real HTTP, and a person's flows in a real
//! browser (Debian's chromium, driven over WebDriver by chromedriver) on a
//! real pipeline: an OCI image layout, a bare git repository, SQLite.
//!
//! Each browser test saves screenshots under
//! `$CARGO_TARGET_TMPDIR/ui-screenshots/TEST/`; with
//! `KARGO_UI_DOCS_SCREENSHOTS=1` the main ones are also written to the
//! repository's `docs/ui-*.png`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod actions;
mod bench;
mod browser;
mod routes;
mod session;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kargo_runtime::{Controller, RunOptions};
use kargo_server::Server;
use kargo_server::auth::{Auth, token_hash};
use kargo_test_support::PipelineWorld;
use kargo_test_support::webdriver::Browser;

/// The signing key of the test auth file (32 bytes, base64).
const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
/// The admin password.
const PASSWORD: &str = "correct horse";
/// A viewer's API token.
const VIEWER: &str = "viewer-token";

/// The auth file: the admin password and a viewer's token.
fn auth_file() -> String {
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    format!(
        "adminPasswordHash: '{hash}'\ntokenSigningKey: {KEY}\ntokens:\n\
         - {{name: alice, hash: '{}', role: viewer, projects: [demo]}}\n",
        token_hash(VIEWER),
    )
}

/// The custom steps: `pause` waits a moment, so that a person (and a
/// test) sees a promotion run step by step; `gate` waits while the file
/// its config names (`file`) exists, so that a test decides when the step
/// ends.
const PAUSE_STEP: &str = r#"steps:
- name: pause
  command: [sh, -c, 'cat >/dev/null; sleep 1.5; echo "{\"outputs\": {\"waited\": \"1.5s\"}}"']
  timeout: 1m
- name: gate
  command:
  - sh
  - -c
  - |
    file=$(sed -n 's/.*"file":"\([^"]*\)".*/\1/p')
    while test -e "$file"; do sleep 0.1; done
    echo '{"outputs": {"passed": true}}'
  timeout: 2m
"#;

/// dev → staging → prod as in the API tests, prod's promotion wrapped in
/// two pauses (six steps in all).
const STAGES: &str = r#"apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: dev, namespace: demo}
spec:
  requestedFreight: [{origin: {kind: Warehouse, name: app}, sources: {direct: true}}]
  promotionTemplate:
    spec:
      steps: [{task: {name: set-tag}, vars: [{name: env, value: dev}]}]
  verification:
    analysisTemplates: [{name: smoke}]
    args: [{name: BROKEN, value: BROKEN_FLAG}]
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: staging, namespace: demo}
spec:
  requestedFreight: [{origin: {kind: Warehouse, name: app}, sources: {stages: [dev]}}]
  promotionTemplate:
    spec:
      steps: [{task: {name: set-tag}, vars: [{name: env, value: staging}]}]
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: prod, namespace: demo}
spec:
  requestedFreight:
  - origin: {kind: Warehouse, name: app}
    sources: {stages: [staging], requiredSoakTime: 1h}
  promotionTemplate:
    spec:
      steps:
      - {uses: pause, as: change-window}
      - {task: {name: set-tag}, vars: [{name: env, value: prod}]}
      - {uses: pause, as: smoke-prod}
"#;

/// A server on a loopback port, stopped when dropped.
struct UiServer {
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl UiServer {
    /// Serves `world`'s pipeline (SQLite, the controller's loop running),
    /// with the test auth file when `auth`.
    async fn start(world: &PipelineWorld, auth: bool) -> UiServer {
        let auth = auth.then(|| Auth::from_yaml(&auth_file(), "auth.yaml").unwrap());
        UiServer::start_with(world, auth).await
    }

    /// [`UiServer::start`] with `auth` (an open server without).
    async fn start_with(world: &PipelineWorld, auth: Option<Auth>) -> UiServer {
        if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("KARGO_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        }
        let steps = kargo_test_support::write(world.dir.path(), "custom-steps.yaml", PAUSE_STEP);
        let registry = kargo_runtime::input::registry_with_custom_steps(&[steps]).unwrap();
        let store = kargo_store::open(world.path("state.db").to_str().unwrap())
            .await
            .unwrap();
        let controller = Controller::builder()
            .manifests_path(world.manifests())
            .registry(Arc::new(registry))
            .store(store)
            .work_root(world.path("work"), false)
            .build()
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut builder = Server::builder()
            .project("demo", controller)
            .run_controllers(RunOptions::default().with_interval(Duration::from_secs(3600)))
            .external_url(base.clone());
        if let Some(auth) = auth {
            builder = builder.auth(auth);
        }
        let server = builder.build().await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            server
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        UiServer {
            base,
            stop: Some(stop),
            task: Some(task),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }
}

impl Drop for UiServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The test pipeline: the image tag v1.0.0 and the stages above,
/// auto-promotion on for dev and staging only (prod is promoted by a
/// person, as in Kargo's quickstart).
fn world() -> PipelineWorld {
    world_with(STAGES, &["dev", "staging"])
}

/// A pipeline of the image tag v1.0.0 and `stages`, auto-promotion on for
/// the Stages named in `auto` only.
fn world_with(stages: &str, auto: &[&str]) -> PipelineWorld {
    let world = PipelineWorld::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], stages);
    let path = world.manifests().join("project.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let every = "  - stageSelector: {name: \"glob:*\"}\n    autoPromotionEnabled: true\n";
    assert!(text.contains(every), "the ProjectConfig changed: {text}");
    let policies: String = auto
        .iter()
        .map(|stage| {
            format!("  - stageSelector: {{name: {stage}}}\n    autoPromotionEnabled: true\n")
        })
        .collect();
    std::fs::write(&path, text.replace(every, &policies)).unwrap();
    world
}

/// One browser at a time: the machine has two cores.
static BROWSERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// A browser (waiting for the previous test's to close) and its
/// screenshot directory for `test`.
async fn browser(test: &str) -> (Browser, Screenshots, tokio::sync::SemaphorePermit<'static>) {
    let permit = BROWSERS.acquire().await.unwrap();
    let browser = Browser::start(1440, 900).await;
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("ui-screenshots")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    (browser, Screenshots { dir }, permit)
}

/// Where a test's screenshots go.
struct Screenshots {
    dir: PathBuf,
}

impl Screenshots {
    /// Saves the window as `name.png`; with `docs`, and
    /// `KARGO_UI_DOCS_SCREENSHOTS` set, also as `docs/ui-{name}.png`.
    async fn save(&self, browser: &Browser, name: &str, docs: bool) {
        let path = self.dir.join(format!("{name}.png"));
        browser.screenshot(&path).await;
        Self::publish(&path, name, docs);
    }

    /// Saves the first element matching `css` as `name.png` (and in
    /// `docs/`, as [`Screenshots::save`] does).
    async fn save_element(&self, browser: &Browser, css: &str, name: &str, docs: bool) {
        let path = self.dir.join(format!("{name}.png"));
        browser.element_screenshot(css, &path).await;
        Self::publish(&path, name, docs);
    }

    fn publish(path: &std::path::Path, name: &str, docs: bool) {
        if docs && std::env::var_os("KARGO_UI_DOCS_SCREENSHOTS").is_some() {
            let target = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../docs")
                .join(format!("ui-{name}.png"));
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(path, target).unwrap();
        }
    }
}
