//! Webhook receivers over real HTTP: a signed GitHub push refreshes the
//! Warehouse subscribed to the pushed repository; a forged, missing or
//! replayed signature refreshes nothing; a closed pull request wakes the
//! promotion waiting on it. Every kind: `receivers.rs`.

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::hmac;
use kargo_core::credentials::{SecretsOptions, StaticCredentials};
use serde_json::{Value, json};

use super::*;

const SECRET: &str = "s3cret-for-hooks";

/// The world with a second Warehouse, `config`, watching the world's git
/// repository, and a GitHub receiver in the ProjectConfig.
fn hooked_world() -> PipelineWorld {
    let world = world();
    let project = world.path("manifests/project.yaml");
    let text = std::fs::read_to_string(&project).unwrap().replace(
        "spec:\n  promotionPolicies:",
        "spec:\n  webhookReceivers:\n  - name: gh\n    github: {secretRef: {name: gh-secret}}\n  promotionPolicies:",
    );
    std::fs::write(&project, text).unwrap();
    kargo_test_support::write(
        world.dir.path(),
        "manifests/config-warehouse.yaml",
        &format!(
            "apiVersion: kargo.akuity.io/v1alpha1\nkind: Warehouse\nmetadata: {{name: config, namespace: demo}}\n\
             spec:\n  subscriptions: [{{git: {{repoURL: \"file://{}\", branch: main}}}}]\n",
            world.bare.display()
        ),
    );
    world
}

fn secrets() -> Arc<StaticCredentials> {
    let yaml = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: gh-secret, namespace: demo}}\nstringData: {{secret: {SECRET}}}\n"
    );
    Arc::new(
        StaticCredentials::new()
            .with_secrets_opts(
                &yaml,
                "secrets.yaml",
                SecretsOptions::default().keep_unlabelled(),
            )
            .unwrap(),
    )
}

fn sign(body: &[u8], secret: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    format!("sha256={}", hex::encode(hmac::sign(&key, body).as_ref()))
}

/// When Warehouse `config` last looked for commits.
async fn discovered_at(server: &TestServer) -> Option<String> {
    let (_, w) = server
        .get("/v1beta1/projects/demo/warehouses/config", Some(VIEWER))
        .await;
    w.pointer("/status/discoveredArtifacts/discoveredAt")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

async fn commits_found(server: &TestServer) -> usize {
    let (_, f) = server
        .get(
            "/v1beta1/projects/demo/freight?origins=config",
            Some(VIEWER),
        )
        .await;
    f["groups"][""]["items"].as_array().map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_push_refreshes_the_subscribed_warehouse_and_a_forged_one_nothing() {
    let world = hooked_world();
    let store = sqlite(&world).await;
    let server = TestServer::start_with(&world, store, true, |c| c, |b| b.secrets(secrets())).await;
    let (status, config) = server
        .get("/v1beta1/projects/demo/config", Some(VIEWER))
        .await;
    assert_eq!(status, 200, "{config}");
    let receiver = &config["status"]["webhookReceivers"][0];
    assert_eq!(receiver["name"], "gh");
    let path = receiver["path"].as_str().unwrap().to_owned();
    assert!(path.starts_with("/webhooks/github/"), "{path}");
    assert_eq!(receiver["url"], format!("{}{path}", server.base));
    // The first pass discovered the one commit there is.
    server
        .wait_for(
            "/v1beta1/projects/demo/freight?origins=config",
            Some(VIEWER),
            |f| {
                f["groups"][""]["items"]
                    .as_array()
                    .is_some_and(|i| i.len() == 1)
            },
        )
        .await;

    // A new commit on the remote, and a push event for it.
    let clone = world.path("clone");
    kargo_test_support::git(
        world.dir.path(),
        &["clone", "-q", world.bare.to_str().unwrap(), "clone"],
    );
    kargo_test_support::write(&clone, "README", "hooked\n");
    kargo_test_support::git(&clone, &["add", "-A"]);
    kargo_test_support::git(&clone, &["commit", "-q", "-m", "second"]);
    // The pipeline's own promotions push to the same repository: rebase
    // onto them until the push lands.
    for attempt in 0.. {
        kargo_test_support::git(&clone, &["pull", "-q", "--rebase", "origin", "main"]);
        let push = std::process::Command::new("git")
            .args(["push", "-q", "origin", "main"])
            .current_dir(&clone)
            .status()
            .unwrap();
        if push.success() {
            break;
        }
        assert!(attempt < 10, "cannot push to the world's repository");
    }
    let body = serde_json::to_vec(&json!({
        "ref": "refs/heads/main",
        "repository": {"clone_url": format!("file://{}", world.bare.display()), "ssh_url": ""},
        "commits": [],
    }))
    .unwrap();
    let send = |signature: Option<String>, delivery: &str| {
        let mut request = server
            .client
            .post(server.url(&path))
            .header("x-github-event", "push")
            .header("x-github-delivery", delivery.to_owned())
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(s) = signature {
            request = request.header("x-hub-signature-256", s);
        }
        request.send()
    };
    let before = discovered_at(&server).await;
    let forged = send(Some(sign(&body, "not-the-secret")), "d-1")
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let missing = send(None, "d-2").await.unwrap();
    assert_eq!(missing.status(), 401);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        discovered_at(&server).await,
        before,
        "a refused webhook refreshed the Warehouse"
    );
    assert_eq!(commits_found(&server).await, 1);

    let accepted = send(Some(sign(&body, SECRET)), "d-3").await.unwrap();
    assert_eq!(accepted.status(), 200);
    server
        .wait_for(
            "/v1beta1/projects/demo/freight?origins=config",
            Some(VIEWER),
            |f| {
                f["groups"][""]["items"]
                    .as_array()
                    .is_some_and(|i| i.len() == 2)
            },
        )
        .await;
    let replayed = send(Some(sign(&body, SECRET)), "d-3").await.unwrap();
    assert_eq!(replayed.status(), 403);
    let unknown = server
        .client
        .post(server.url("/webhooks/github/0000"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let metrics = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .contains("kargo_webhook_requests_total{receiver=\"demo/gh\",outcome=\"accepted\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("kargo_webhook_requests_total{receiver=\"demo/gh\",outcome=\"refused\"} 3"),
        "{metrics}"
    );
    server.stop().await;
}

/// Stands in for `git-wait-for-pr` on GitHub (which cannot run here):
/// waits on pull request #7 (output `pr: {id, url}`, as the real step
/// records it) until the test says it was merged, and counts its runs.
#[derive(Debug, Default)]
struct WaitForPr {
    merged: std::sync::atomic::AtomicBool,
    runs: std::sync::atomic::AtomicUsize,
}

const PR_URL: &str = "https://github.com/acme/app/pull/7";

#[async_trait::async_trait]
impl kargo_core::step::Step for WaitForPr {
    async fn run(
        &self,
        _: &kargo_core::step::StepContext,
        _: Value,
    ) -> Result<kargo_core::step::StepOutcome, kargo_core::step::StepError> {
        use kargo_core::step::StepOutcome;
        use std::sync::atomic::Ordering;
        self.runs.fetch_add(1, Ordering::SeqCst);
        let pr = json!({"id": 7, "url": PR_URL});
        Ok(if self.merged.load(Ordering::SeqCst) {
            StepOutcome::succeeded().with_output("pr", pr)
        } else {
            // Not before an hour: only the webhook can bring it back sooner.
            StepOutcome::running(Duration::from_secs(3600))
                .with_output("pr", pr)
                .with_message("pull request #7 is open")
        })
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_pull_request_wakes_the_promotion_waiting_on_it() {
    use std::sync::atomic::Ordering;
    let world = PipelineWorld::new(
        &[("v1.0.0", "2026-01-01T00:00:00Z")],
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata: {name: gate, namespace: demo}\n\
         spec:\n  requestedFreight: [{origin: {kind: Warehouse, name: app}, sources: {direct: true}}]\n  \
         promotionTemplate:\n    spec:\n      steps: [{uses: test-wait-pr, as: wait}]\n",
    );
    let project = world.path("manifests/project.yaml");
    let text = std::fs::read_to_string(&project).unwrap().replace(
        "spec:\n  promotionPolicies:",
        "spec:\n  webhookReceivers:\n  - name: gh\n    github: {secretRef: {name: gh-secret}}\n  promotionPolicies:",
    );
    std::fs::write(&project, text).unwrap();
    let wait = Arc::new(WaitForPr::default());
    let mut registry = kargo_runtime::input::registry_with_custom_steps(&[]).unwrap();
    registry.register_arc("test-wait-pr", wait.clone()).unwrap();
    let store = sqlite(&world).await;
    let server = TestServer::start_with(
        &world,
        store,
        true,
        |c| c.registry(Arc::new(registry)),
        |b| b.secrets(secrets()),
    )
    .await;
    let promotions = "/v1beta1/projects/demo/promotions?stage=gate";
    let running = |phase: &'static str| {
        move |list: &Value| {
            list["items"]
                .as_array()
                .is_some_and(|i| i.len() == 1 && i[0]["status"]["phase"] == phase)
        }
    };
    // The auto-promotion waits on the pull request.
    server
        .wait_for(promotions, Some(VIEWER), running("Running"))
        .await;
    let (_, config) = server
        .get("/v1beta1/projects/demo/config", Some(VIEWER))
        .await;
    let path = config["status"]["webhookReceivers"][0]["path"]
        .as_str()
        .unwrap()
        .to_owned();
    let closed = |url: &str, merged: bool| {
        serde_json::to_vec(&json!({
            "action": "closed",
            "number": 7,
            "pull_request": {"number": 7, "html_url": url, "merged": merged, "state": "closed"},
            "repository": {"full_name": "acme/app", "clone_url": "https://github.com/acme/app.git"},
        }))
        .unwrap()
    };
    let send = |body: Vec<u8>, delivery: &'static str| {
        server
            .client
            .post(server.url(&path))
            .header("x-github-event", "pull_request")
            .header("x-github-delivery", delivery)
            .header("x-hub-signature-256", sign(&body, SECRET))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    // Another pull request's closing wakes nobody.
    let other = send(closed("https://github.com/acme/app/pull/8", true), "pr-1")
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
    let answer: Value = other.json().await.unwrap();
    assert!(
        answer["msg"]
            .as_str()
            .unwrap()
            .starts_with("refreshing 0 promotion(s)"),
        "{answer}"
    );

    // Merged: the webhook brings the promotion back at once, and it ends.
    let runs = wait.runs.load(Ordering::SeqCst);
    wait.merged.store(true, Ordering::SeqCst);
    let merged = send(closed(PR_URL, true), "pr-2").await.unwrap();
    assert_eq!(merged.status(), 200);
    let answer: Value = merged.json().await.unwrap();
    assert!(
        answer["msg"]
            .as_str()
            .unwrap()
            .starts_with("refreshing 1 promotion(s)"),
        "{answer}"
    );
    server
        .wait_for(promotions, Some(VIEWER), running("Succeeded"))
        .await;
    assert!(wait.runs.load(Ordering::SeqCst) > runs);
    server.stop().await;
}
