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

use kargo_server::auth::Auth;
use kargo_test_support::PipelineWorld;
use kargo_test_support::auth::{PASSWORD, VIEWER, auth_file};
use kargo_test_support::serve::{TestServer, sqlite};
use kargo_test_support::webdriver::{Browser, Screenshots};

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

/// prod's promotion in the shared world's Stages ([`kargo_test_support::STAGES`]).
const PROD_STEPS: &str =
    "      steps: [{task: {name: set-tag}, vars: [{name: env, value: prod}]}]\n";

/// dev → staging → prod as in the API tests, prod's promotion wrapped in
/// two pauses (six steps in all).
fn stages() -> String {
    let stages = kargo_test_support::STAGES;
    assert!(stages.ends_with(PROD_STEPS), "the shared Stages changed");
    stages.replace(
        PROD_STEPS,
        "      steps:\n      - {uses: pause, as: change-window}\n      \
         - {task: {name: set-tag}, vars: [{name: env, value: prod}]}\n      \
         - {uses: pause, as: smoke-prod}\n",
    )
}

/// Serves `world`'s pipeline (SQLite, the controller's loop running, the
/// custom steps above), with the test auth file when `auth`.
async fn ui_server(world: &PipelineWorld, auth: bool) -> TestServer {
    let auth = auth.then(|| Auth::from_yaml(&auth_file("demo"), "auth.yaml").unwrap());
    ui_server_with(world, auth).await
}

/// [`ui_server`] with `auth` (an open server without).
async fn ui_server_with(world: &PipelineWorld, auth: Option<Auth>) -> TestServer {
    let steps = kargo_test_support::write(world.dir.path(), "custom-steps.yaml", PAUSE_STEP);
    let registry = kargo_runtime::input::registry_with_custom_steps(&[steps]).unwrap();
    TestServer::start_with(
        world,
        sqlite(world).await,
        false,
        |c| c.registry(Arc::new(registry)),
        |b| match auth {
            Some(auth) => b.auth(auth),
            None => b,
        },
    )
    .await
}

/// The test pipeline: the image tag v1.0.0 and the stages above,
/// auto-promotion on for dev and staging only (prod is promoted by a
/// person, as in Kargo's quickstart).
fn world() -> PipelineWorld {
    world_with(&stages(), &["dev", "staging"])
}

/// A pipeline of the image tag v1.0.0 and `stages`, auto-promotion on for
/// the Stages named in `auto` only.
fn world_with(stages: &str, auto: &[&str]) -> PipelineWorld {
    let world = PipelineWorld::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], stages);
    world.auto_promote_only(auto);
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
    let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs");
    (browser, Screenshots::new(dir, docs, "ui"), permit)
}
