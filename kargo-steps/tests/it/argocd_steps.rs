//! `argocd-update` and `argocd-wait` against a mock of Argo CD's REST API.
//!
//! Argo CD cannot run here (it needs a Kubernetes cluster), so its API
//! server is played by wiremock. The replies follow Argo CD's documented
//! API: `Application` objects as `GET /api/v1/applications/{name}` returns
//! them (metadata, spec.source(s), status.sync/health/operationState/
//! reconciledAt), `ApplicationList` (`{"items": [...]}`) for
//! `GET /api/v1/applications?selector=…`, and gRPC-gateway errors
//! (`{"error", "code", "message"}`) with their HTTP statuses.

use std::sync::Arc;

use kargo_core::Workspace;
use kargo_core::credentials::{CredentialType, Credentials, StaticCredentials};
use kargo_core::model::StepStatus;
use kargo_core::step::{ErrorKind, Step, StepContext};
use kargo_steps::argocd::{ArgoCdUpdate, ArgoCdWait, Options};
use serde_json::{Value, json};
use wiremock::matchers::{
    any, body_partial_json, header, method, path, query_param, query_param_is_missing,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

const APP_PATH: &str = "/api/v1/applications/my-app";
const REPO: &str = "https://github.com/example/repo.git";

fn context() -> (tempfile::TempDir, StepContext) {
    let dir = tempfile::tempdir().unwrap();
    let ctx = StepContext::new(Workspace::new(dir.path()).unwrap()).with_names(
        "kargo-demo",
        "test",
        "test.01",
    );
    (dir, ctx)
}

/// An Application as Argo CD's API returns it, authorized for
/// `kargo-demo:test`.
fn app(source: Value, status: Value) -> Value {
    json!({
        "metadata": {
            "name": "my-app",
            "namespace": "argocd",
            "labels": {"environment": "staging"},
            "annotations": {"kargo.akuity.io/authorized-stage": "kargo-demo:test"},
        },
        "spec": {
            "project": "default",
            "source": source,
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "demo"},
            "syncPolicy": {"syncOptions": ["CreateNamespace=true"], "retry": {"limit": 2}},
        },
        "status": status,
    })
}

fn git_source() -> Value {
    json!({"repoURL": REPO, "path": "env/test", "targetRevision": "stage/test"})
}

/// A finished operation started by promotion `promotion`.
fn finished(promotion: &str, phase: &str, revision: &str) -> Value {
    json!({
        "sync": {"status": "Synced", "revision": revision},
        "health": {"status": "Healthy"},
        "reconciledAt": "2026-01-01T10:00:05Z",
        "operationState": {
            "operation": {
                "sync": {"revision": revision},
                "initiatedBy": {"username": "kargo"},
                "info": [
                    {"name": "Reason", "value": "Promotion triggered a sync of this Application resource."},
                    {"name": "kargo.akuity.io/promotion", "value": promotion},
                ],
            },
            "phase": phase,
            "message": if phase == "Succeeded" { "successfully synced (all tasks run)" } else { "one or more objects failed to apply" },
            "syncResult": {"revision": revision, "source": git_source()},
            "startedAt": "2026-01-01T10:00:00Z",
            "finishedAt": "2026-01-01T10:00:04Z",
        },
    })
}

fn ok(body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

fn options(server: &MockServer) -> Options {
    Options::new(server.uri()).with_token("argocd-token")
}

/// Kargo's "Common Usage" example, the commit already evaluated.
fn common_usage() -> Value {
    serde_saphyr::from_str(&format!(
        "apps:\n- name: my-app\n  sources:\n  - repoURL: {REPO}\n    desiredRevision: abc123\n"
    ))
    .unwrap()
}

#[tokio::test]
async fn kargos_common_usage_starts_a_sync_then_succeeds_once_it_finished() {
    let server = MockServer::start().await;
    let fresh = app(
        git_source(),
        json!({"sync": {"status": "OutOfSync"}, "health": {"status": "Healthy"}}),
    );
    Mock::given(method("GET"))
        .and(path(APP_PATH))
        .and(query_param("appNamespace", "argocd"))
        .and(query_param_is_missing("refresh"))
        .and(header("authorization", "Bearer from-credentials"))
        .respond_with(ok(&fresh))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(APP_PATH))
        .and(query_param("refresh", "hard"))
        .respond_with(ok(&fresh))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{APP_PATH}/sync")))
        .and(body_partial_json(json!({
            "name": "my-app",
            "appNamespace": "argocd",
            "infos": [
                {"name": "Reason", "value": "Promotion triggered a sync of this Application resource."},
                {"name": "kargo.akuity.io/promotion", "value": "test.01"},
            ],
            "syncOptions": {"items": ["CreateNamespace=true"]},
            "retryStrategy": {"limit": 2},
        })))
        .respond_with(ok(&fresh))
        .expect(1)
        .mount(&server)
        .await;
    // Nothing to change in the spec: no PUT.
    Mock::given(method("PUT"))
        .respond_with(ok(&json!({})))
        .expect(0)
        .mount(&server)
        .await;

    // The token comes from the credentials provider when the options have none.
    let (_dir, ctx) = context();
    let ctx = ctx.with_credentials(Arc::new(StaticCredentials::new().with_url(
        CredentialType::Generic,
        server.uri(),
        Credentials::new("", "from-credentials"),
    )));
    let step = ArgoCdUpdate::new(Options::new(server.uri()));
    let outcome = step.run(&ctx, common_usage()).await.unwrap();
    assert_eq!(outcome.status, StepStatus::Running);
    assert_eq!(
        outcome.output["apps"],
        json!([{"name": "my-app", "namespace": "argocd"}])
    );
    server.verify().await;

    // The next run finds this promotion's finished sync at the desired revision.
    server.reset().await;
    Mock::given(method("GET"))
        .and(path(APP_PATH))
        .respond_with(ok(&app(
            git_source(),
            finished("test.01", "Succeeded", "abc123"),
        )))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ok(&json!({})))
        .expect(0)
        .mount(&server)
        .await;
    let outcome = step.run(&ctx, common_usage()).await.unwrap();
    assert_eq!(outcome.status, StepStatus::Succeeded);
    assert_eq!(outcome.output["apps"][0]["name"], "my-app");
}

#[tokio::test]
async fn a_finished_sync_of_another_promotion_or_revision_starts_a_new_one() {
    for status in [
        finished("test.00", "Succeeded", "abc123"),
        finished("test.01", "Succeeded", "old000"),
    ] {
        let server = MockServer::start().await;
        let current = app(git_source(), status);
        Mock::given(method("GET"))
            .and(path(APP_PATH))
            .respond_with(ok(&current))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(format!("{APP_PATH}/sync")))
            .respond_with(ok(&current))
            .expect(1)
            .mount(&server)
            .await;
        let (_dir, ctx) = context();
        let outcome = ArgoCdUpdate::new(options(&server))
            .run(&ctx, common_usage())
            .await
            .unwrap();
        assert_eq!(outcome.status, StepStatus::Running);
        server.verify().await;
    }
}

#[tokio::test]
async fn helm_images_and_target_revision_are_written_to_the_spec() {
    let server = MockServer::start().await;
    let chart_source = json!({
        "repoURL": "https://charts.example.com",
        "chart": "my-chart",
        "targetRevision": "1.0.0",
        "helm": {"parameters": [{"name": "image.tag", "value": "1.0.0"}, {"name": "replicas", "value": "2"}]},
    });
    let current = app(chart_source, json!({"sync": {"status": "Synced"}}));
    Mock::given(method("GET"))
        .and(path(APP_PATH))
        .respond_with(ok(&current))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("{APP_PATH}/spec")))
        .and(query_param("appNamespace", "argocd"))
        .and(header("authorization", "Bearer argocd-token"))
        .and(body_partial_json(json!({
            "project": "default",
            "source": {
                "repoURL": "https://charts.example.com",
                "chart": "my-chart",
                "targetRevision": "1.1.0",
                "helm": {"parameters": [
                    {"name": "image.tag", "value": "1.1.0"},
                    {"name": "replicas", "value": "2"},
                    {"name": "image.repository", "value": "ghcr.io/example/app"},
                ]},
            },
        })))
        .respond_with(ok(&json!({})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{APP_PATH}/sync")))
        .respond_with(ok(&current))
        .expect(1)
        .mount(&server)
        .await;
    // Kargo's "Updating a Target Revision" and "Updating an Image with
    // Helm" examples in one.
    let config = json!({"apps": [{"name": "my-app", "sources": [{
        "repoURL": "https://charts.example.com",
        "chart": "my-chart",
        "desiredRevision": "1.1.0",
        "updateTargetRevision": true,
        "helm": {"images": [
            {"key": "image.tag", "value": "1.1.0"},
            {"key": "image.repository", "value": "ghcr.io/example/app"},
        ]},
    }]}]});
    let (_dir, ctx) = context();
    let outcome = ArgoCdUpdate::new(options(&server))
        .run(&ctx, config)
        .await
        .unwrap();
    assert_eq!(outcome.status, StepStatus::Running);
    server.verify().await;
}

#[tokio::test]
async fn kustomize_images_replace_the_sources_images() {
    let server = MockServer::start().await;
    let current = app(git_source(), json!({}));
    Mock::given(method("GET"))
        .and(path(APP_PATH))
        .respond_with(ok(&current))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(body_partial_json(
            json!({"source": {"kustomize": {"images": [
                "ghcr.io/example/app=registry.example.com/app:1.2.3",
                "ghcr.io/example/side@sha256:abc",
            ]}}}),
        ))
        .respond_with(ok(&json!({})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ok(&current))
        .mount(&server)
        .await;
    let config = json!({"apps": [{"name": "my-app", "sources": [{
        "repoURL": "https://github.com/example/repo",
        "kustomize": {"images": [
            {"repoURL": "ghcr.io/example/app", "tag": "1.2.3", "newName": "registry.example.com/app"},
            {"repoURL": "ghcr.io/example/side", "digest": "sha256:abc"},
        ]},
    }]}]});
    let (_dir, ctx) = context();
    ArgoCdUpdate::new(options(&server))
        .run(&ctx, config)
        .await
        .unwrap();
    server.verify().await;
}

#[tokio::test]
async fn a_failed_sync_of_this_promotion_fails_the_step_with_argos_message() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(APP_PATH))
        .respond_with(ok(&app(
            git_source(),
            finished("test.01", "Failed", "abc123"),
        )))
        .mount(&server)
        .await;
    let (_dir, ctx) = context();
    let err = ArgoCdUpdate::new(options(&server))
        .run(&ctx, common_usage())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Terminal);
    assert!(
        err.to_string()
            .contains("one or more objects failed to apply"),
        "{err}"
    );
}

#[tokio::test]
async fn an_application_without_the_authorizing_annotation_is_not_touched() {
    let server = MockServer::start().await;
    let mut other = app(git_source(), json!({}));
    other["metadata"]["annotations"]["kargo.akuity.io/authorized-stage"] = json!("kargo-demo:prod");
    Mock::given(method("GET"))
        .and(path(APP_PATH))
        .respond_with(ok(&other))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ok(&json!({})))
        .expect(0)
        .mount(&server)
        .await;
    let (_dir, ctx) = context();
    let err = ArgoCdUpdate::new(options(&server))
        .run(&ctx, common_usage())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Terminal);
    assert!(
        err.to_string().contains("does not permit mutation"),
        "{err}"
    );
}

#[tokio::test]
async fn api_errors_map_to_terminal_or_retryable_without_leaking_the_token() {
    for (status, kind, expected) in [
        (
            401,
            ErrorKind::Terminal,
            "token is missing, expired or invalid",
        ),
        (403, ErrorKind::Terminal, "lacks permission"),
        (503, ErrorKind::Retryable, "HTTP 503"),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(status).set_body_json(
                json!({"error": "denied", "code": 16, "message": "invalid session: token is expired"}),
            ))
            .mount(&server)
            .await;
        let (_dir, ctx) = context();
        let err = ArgoCdUpdate::new(options(&server))
            .run(&ctx, common_usage())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{status}: {err}");
        assert!(err.to_string().contains(expected), "{err}");
        assert!(
            err.to_string().contains("invalid session"),
            "Argo CD's message: {err}"
        );
        assert!(!format!("{err} {err:?}").contains("argocd-token"));
    }

    // Nobody listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (_dir, ctx) = context();
    let err = ArgoCdWait::new(Options::new(format!("http://127.0.0.1:{port}")))
        .run(&ctx, json!({"apps": [{"name": "my-app"}]}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Retryable, "{err}");

    let err = ArgoCdWait::new(Options::default())
        .run(&ctx, json!({"apps": [{"name": "my-app"}]}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Terminal);
    assert!(err.to_string().contains("ARGOCD_SERVER"), "{err}");
}

#[tokio::test]
async fn unknown_fields_and_bad_targets_are_rejected() {
    let (_dir, ctx) = context();
    let step = ArgoCdUpdate::new(Options::new("http://127.0.0.1:9"));
    for (config, expected) in [
        (
            json!({"apps": [{"name": "a", "source": []}]}),
            "unknown field `source`",
        ),
        (
            json!({"apps": [{"name": "a", "selector": {"matchLabels": {"a": "b"}}}]}),
            "exactly one of",
        ),
        (json!({"apps": []}), "`apps` is empty"),
        (
            json!({"apps": [{"name": "a", "sources": [{"repoURL": REPO, "updateTargetRevision": true}]}]}),
            "needs `desiredRevision`",
        ),
    ] {
        let err = step.run(&ctx, config).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Failed);
        assert!(err.to_string().contains(expected), "{err}");
    }
    let err = ArgoCdWait::new(Options::new("http://127.0.0.1:9"))
        .run(
            &ctx,
            json!({"apps": [{"name": "a", "waitFor": ["healthy"]}]}),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("unknown variant `healthy`"),
        "{err}"
    );
}

#[tokio::test]
async fn argocd_wait_runs_until_healthy_and_synced() {
    let server = MockServer::start().await;
    let progressing = app(
        git_source(),
        json!({"sync": {"status": "Synced"}, "health": {"status": "Progressing"},
               "reconciledAt": "2026-01-01T10:00:05Z",
               "operationState": {"phase": "Succeeded", "finishedAt": "2026-01-01T10:00:04Z"}}),
    );
    Mock::given(method("GET"))
        .and(path(APP_PATH))
        .respond_with(ok(&progressing))
        .mount(&server)
        .await;
    // Kargo's "Common Usage" example for argocd-wait.
    let config: Value = serde_saphyr::from_str("apps:\n- name: my-app\n").unwrap();
    let (_dir, mut ctx) = context();
    ctx.alias = "wait".into();
    let step = ArgoCdWait::new(options(&server));
    let outcome = step.run(&ctx, config.clone()).await.unwrap();
    assert_eq!(outcome.status, StepStatus::Running);
    assert!(outcome.message.unwrap().contains("Progressing"));
    assert_eq!(
        outcome.output["healthStatus"],
        json!({"argocd/my-app": "Progressing"})
    );

    server.reset().await;
    Mock::given(method("GET"))
        .and(path(APP_PATH))
        .respond_with(ok(&app(
            git_source(),
            finished("test.01", "Succeeded", "abc123"),
        )))
        .mount(&server)
        .await;
    let outcome = step.run(&ctx, config.clone()).await.unwrap();
    assert_eq!(outcome.status, StepStatus::Succeeded);
    assert_eq!(
        outcome.output["apps"],
        json!([{"name": "my-app", "namespace": "argocd"}])
    );

    // Health seen before as Healthy, now Degraded: the step fails.
    let mut degraded = app(git_source(), finished("test.01", "Succeeded", "abc123"));
    degraded["status"]["health"]["status"] = json!("Degraded");
    server.reset().await;
    Mock::given(method("GET"))
        .and(path(APP_PATH))
        .respond_with(ok(&degraded))
        .mount(&server)
        .await;
    ctx.scope.outputs.insert(
        "wait".into(),
        json!({"healthStatus": {"argocd/my-app": "Healthy"}}),
    );
    let err = step.run(&ctx, config).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Terminal);
    assert!(
        err.to_string()
            .contains("regressed from Healthy to Degraded"),
        "{err}"
    );
}

#[tokio::test]
async fn argocd_wait_refreshes_an_application_not_reconciled_since_its_sync() {
    let server = MockServer::start().await;
    let mut stale = app(git_source(), finished("test.01", "Succeeded", "abc123"));
    stale["status"]["reconciledAt"] = json!("2026-01-01T09:59:00Z");
    Mock::given(method("GET"))
        .and(path(APP_PATH))
        .and(query_param_is_missing("refresh"))
        .respond_with(ok(&stale))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(APP_PATH))
        .and(query_param("refresh", "hard"))
        .respond_with(ok(&stale))
        .expect(1)
        .mount(&server)
        .await;
    let (_dir, ctx) = context();
    let outcome = ArgoCdWait::new(options(&server))
        .run(&ctx, json!({"apps": [{"name": "my-app"}]}))
        .await
        .unwrap();
    assert_eq!(outcome.status, StepStatus::Running);
    server.verify().await;
}

#[tokio::test]
async fn argocd_wait_with_a_label_selector_waits_for_every_match() {
    let server = MockServer::start().await;
    let healthy = app(git_source(), finished("test.01", "Succeeded", "abc123"));
    let mut second = healthy.clone();
    second["metadata"]["name"] = json!("my-app-eu");
    Mock::given(method("GET"))
        .and(path("/api/v1/applications"))
        .and(query_param("selector", "environment=staging"))
        .and(query_param("appNamespace", "argocd"))
        .respond_with(ok(&json!({"metadata": {}, "items": [healthy, second]})))
        .mount(&server)
        .await;
    // Kargo's "Waiting with Label Selector" example.
    let config: Value = serde_saphyr::from_str(
        "apps:\n- selector:\n    matchLabels:\n      environment: staging\n",
    )
    .unwrap();
    let (_dir, ctx) = context();
    let outcome = ArgoCdWait::new(options(&server))
        .run(&ctx, config)
        .await
        .unwrap();
    assert_eq!(outcome.status, StepStatus::Succeeded);
    assert_eq!(
        outcome.output["apps"],
        json!([{"name": "my-app", "namespace": "argocd"}, {"name": "my-app-eu", "namespace": "argocd"}])
    );

    // No match is an error naming the selector.
    server.reset().await;
    Mock::given(method("GET"))
        .respond_with(ok(&json!({"metadata": {}, "items": null})))
        .mount(&server)
        .await;
    let err = ArgoCdWait::new(options(&server))
        .run(
            &ctx,
            json!({"apps": [{"selector": {"matchLabels": {"environment": "qa"}}}]}),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("environment=qa"), "{err}");
    // The config was usable; the Applications are missing.
    assert_eq!(err.kind(), ErrorKind::Terminal);
}

/// `app` named `name`.
fn named(name: &str, status: Value) -> Value {
    let mut app = app(git_source(), status);
    app["metadata"]["name"] = json!(name);
    app
}

/// Mounts `apps` as Argo CD serves them: each by name, and all of them as
/// the Applications labelled `environment=staging`.
async fn serve_apps(server: &MockServer, apps: &[Value]) {
    for app in apps {
        let name = app["metadata"]["name"].as_str().unwrap();
        Mock::given(method("GET"))
            .and(path(format!("/api/v1/applications/{name}")))
            .respond_with(ok(app))
            .mount(server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/api/v1/applications"))
        .and(query_param("selector", "environment=staging"))
        .respond_with(ok(&json!({"metadata": {}, "items": apps})))
        .mount(server)
        .await;
}

/// Expects `n` sync requests for Application `name`.
async fn expect_syncs(server: &MockServer, name: &str, n: u64) {
    Mock::given(method("POST"))
        .and(path(format!("/api/v1/applications/{name}/sync")))
        .respond_with(ok(&json!({})))
        .expect(n)
        .named(format!("sync of {name}"))
        .mount(server)
        .await;
}

/// Kargo's example "Updating Applications by Label Selector", the commit
/// already evaluated.
fn by_selector() -> Value {
    json!({"apps": [{
        "selector": {"matchLabels": {"environment": "staging"}},
        "sources": [{"repoURL": REPO, "desiredRevision": "abc123"}],
    }]})
}

#[tokio::test]
async fn selected_applications_aggregate_their_phases_as_kargo_does() {
    let running = {
        let mut status = finished("test.01", "Running", "abc123");
        status["operationState"]
            .as_object_mut()
            .unwrap()
            .remove("finishedAt");
        status
    };
    let fresh = json!({"sync": {"status": "OutOfSync"}});

    // Mixed phases: one done, one syncing, one to sync: Running, and only
    // the third is synced.
    let server = MockServer::start().await;
    serve_apps(
        &server,
        &[
            named("app1", finished("test.01", "Succeeded", "abc123")),
            named("app2", running.clone()),
            named("app3", fresh),
        ],
    )
    .await;
    expect_syncs(&server, "app1", 0).await;
    expect_syncs(&server, "app2", 0).await;
    expect_syncs(&server, "app3", 1).await;
    let (_dir, ctx) = context();
    let step = ArgoCdUpdate::new(options(&server));
    let outcome = step.run(&ctx, by_selector()).await.unwrap();
    assert_eq!(outcome.status, StepStatus::Running);
    assert_eq!(
        outcome.output["apps"],
        json!([
            {"name": "app1", "namespace": "argocd"},
            {"name": "app2", "namespace": "argocd"},
            {"name": "app3", "namespace": "argocd"},
        ])
    );
    server.verify().await;

    // All done: Succeeded, every Application in the output.
    let server = MockServer::start().await;
    let done: Vec<Value> = ["app1", "app2", "app3"]
        .iter()
        .map(|n| named(n, finished("test.01", "Succeeded", "abc123")))
        .collect();
    serve_apps(&server, &done).await;
    let step = ArgoCdUpdate::new(options(&server));
    let outcome = step.run(&ctx, by_selector()).await.unwrap();
    assert_eq!(outcome.status, StepStatus::Succeeded);
    assert_eq!(outcome.output["apps"].as_array().unwrap().len(), 3);

    // One failed: the step fails naming it, with Argo CD's message.
    let server = MockServer::start().await;
    let mut failed = finished("test.01", "Failed", "abc123");
    failed["operationState"]["message"] = json!("deployment failed: timeout");
    serve_apps(
        &server,
        &[
            named("app1", finished("test.01", "Succeeded", "abc123")),
            named("app2", failed),
        ],
    )
    .await;
    let err = ArgoCdUpdate::new(options(&server))
        .run(&ctx, by_selector())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Terminal);
    assert!(
        err.to_string().contains("`app2`")
            && err.to_string().contains("deployment failed: timeout"),
        "{err}"
    );

    // A phase Argo CD does not have decides nothing unless it is all
    // there is.
    let mut unknown = finished("test.01", "Succeeded", "abc123");
    unknown["operationState"]["phase"] = json!("Unknown");
    let server = MockServer::start().await;
    serve_apps(
        &server,
        &[named("app1", unknown.clone()), named("app2", running)],
    )
    .await;
    let outcome = ArgoCdUpdate::new(options(&server))
        .run(&ctx, by_selector())
        .await
        .unwrap();
    assert_eq!(outcome.status, StepStatus::Running);
    let server = MockServer::start().await;
    serve_apps(&server, &[named("app1", unknown)]).await;
    let err = ArgoCdUpdate::new(options(&server))
        .run(&ctx, by_selector())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Terminal);
    assert!(
        err.to_string()
            .contains("could not determine the step's status from operation phase(s) `Unknown` of Application `app1`"),
        "{err}"
    );
}

#[tokio::test]
async fn incompatible_selected_applications_stop_the_step_before_any_update() {
    let server = MockServer::start().await;
    let mut other = named("app2", json!({}));
    other["spec"]["source"]["repoURL"] = json!("https://github.com/example/other.git");
    serve_apps(&server, &[named("app1", json!({})), other]).await;
    expect_syncs(&server, "app1", 0).await;
    Mock::given(method("PUT"))
        .respond_with(ok(&json!({})))
        .expect(0)
        .mount(&server)
        .await;
    let (_dir, ctx) = context();
    let err = ArgoCdUpdate::new(options(&server))
        .run(&ctx, by_selector())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Terminal);
    let err = err.to_string();
    assert!(
        err.contains("selected Applications must have compatible sources; 1 incompatible")
            && err.contains("`app2`")
            && err.contains("no Application was updated"),
        "{err}"
    );
    server.verify().await;
}

#[tokio::test]
async fn selected_applications_not_authorized_for_the_stage_are_skipped() {
    let unauthorized = |name: &str| {
        let mut app = named(name, json!({}));
        app["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("annotations");
        app
    };
    // selector filters out unauthorized apps
    let server = MockServer::start().await;
    serve_apps(&server, &[named("app1", json!({})), unauthorized("app2")]).await;
    expect_syncs(&server, "app1", 1).await;
    expect_syncs(&server, "app2", 0).await;
    let (_dir, ctx) = context();
    let outcome = ArgoCdUpdate::new(options(&server))
        .run(&ctx, by_selector())
        .await
        .unwrap();
    assert_eq!(
        outcome.output["apps"],
        json!([{"name": "app1", "namespace": "argocd"}])
    );
    server.verify().await;

    // selector matches apps but none authorized
    let server = MockServer::start().await;
    serve_apps(
        &server,
        &[
            unauthorized("app1"),
            unauthorized("app2"),
            unauthorized("app3"),
        ],
    )
    .await;
    let err = ArgoCdUpdate::new(options(&server))
        .run(&ctx, by_selector())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Terminal);
    assert!(
        err.to_string().contains(
            "found 3 Application(s) matching the selector in namespace `argocd`, but none is \
             authorized for Stage `test` in project `kargo-demo`"
        ),
        "{err}"
    );

    // selector returns no apps
    let server = MockServer::start().await;
    serve_apps(&server, &[]).await;
    let err = ArgoCdUpdate::new(options(&server))
        .run(&ctx, by_selector())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("no Argo CD Applications found matching selector `environment=staging`"),
        "{err}"
    );
}

#[tokio::test]
async fn name_and_selector_entries_are_resolved_in_order() {
    let server = MockServer::start().await;
    serve_apps(
        &server,
        &[
            named("app1", finished("test.01", "Succeeded", "abc123")),
            named("app2", finished("test.01", "Succeeded", "abc123")),
        ],
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/applications/app-by-name"))
        .and(query_param("appNamespace", "apps"))
        .respond_with(ok(&{
            let mut app = named("app-by-name", finished("test.01", "Succeeded", "abc123"));
            app["metadata"]["namespace"] = json!("apps");
            app
        }))
        .mount(&server)
        .await;
    let mut config = by_selector();
    config["apps"]
        .as_array_mut()
        .unwrap()
        .insert(0, json!({"name": "app-by-name", "namespace": "apps"}));
    let (_dir, ctx) = context();
    let outcome = ArgoCdUpdate::new(options(&server))
        .run(&ctx, config)
        .await
        .unwrap();
    assert_eq!(outcome.status, StepStatus::Succeeded);
    assert_eq!(
        outcome.output["apps"],
        json!([
            {"name": "app-by-name", "namespace": "apps"},
            {"name": "app1", "namespace": "argocd"},
            {"name": "app2", "namespace": "argocd"},
        ])
    );
}

#[tokio::test]
async fn a_missing_application_and_failing_requests_are_errors_naming_them() {
    // name-based selection app not found
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "error": "applications.argoproj.io \"nonexistent-app\" not found",
            "code": 5,
            "message": "applications.argoproj.io \"nonexistent-app\" not found",
        })))
        .mount(&server)
        .await;
    let (_dir, ctx) = context();
    let config = json!({"apps": [{"name": "nonexistent-app"}]});
    let err = ArgoCdUpdate::new(options(&server))
        .run(&ctx, config.clone())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Terminal);
    assert!(
        err.to_string()
            .contains("getting Application `nonexistent-app` in namespace `argocd`")
            && err.to_string().contains("(no such Application)"),
        "{err}"
    );
    let err = ArgoCdWait::new(options(&server))
        .run(&ctx, config)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("(no such Application)"), "{err}");

    // error listing applications
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(500).set_body_json(json!({"message": "something went wrong"})),
        )
        .mount(&server)
        .await;
    let err = ArgoCdUpdate::new(options(&server))
        .run(&ctx, by_selector())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Retryable);
    assert!(
        err.to_string()
            .contains("listing Applications in namespace `argocd`")
            && err.to_string().contains("something went wrong"),
        "{err}"
    );

    // error updating the spec, error syncing: each names the Application.
    for (failing, expected) in [
        ("PUT", "updating the spec of Application `my-app`"),
        ("POST", "syncing Application `my-app`"),
    ] {
        let server = MockServer::start().await;
        Mock::given(method(failing))
            .respond_with(
                ResponseTemplate::new(503)
                    .set_body_json(json!({"message": "sync failed for my-app"})),
            )
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(ok(&app(git_source(), json!({}))))
            .mount(&server)
            .await;
        Mock::given(any())
            .respond_with(ok(&json!({})))
            .mount(&server)
            .await;
        let config = json!({"apps": [{"name": "my-app", "sources": [
            {"repoURL": REPO, "desiredRevision": "abc123", "updateTargetRevision": true},
        ]}]});
        let err = ArgoCdUpdate::new(options(&server))
            .run(&ctx, config)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Retryable, "{failing}");
        assert!(
            err.to_string().contains(expected)
                && err.to_string().contains("sync failed for my-app"),
            "{failing}: {err}"
        );
    }
}

#[tokio::test]
async fn argocd_wait_reports_every_application_and_stops_on_an_error_condition() {
    // multiple apps, one not ready returns Running
    let server = MockServer::start().await;
    let ready = named("app-a", finished("test.01", "Succeeded", "abc123"));
    let mut progressing = named("app-b", finished("test.01", "Succeeded", "abc123"));
    progressing["status"]["health"]["status"] = json!("Progressing");
    serve_apps(&server, &[ready, progressing]).await;
    let (_dir, ctx) = context();
    let config = json!({"apps": [{"name": "app-a"}, {"name": "app-b"}]});
    let outcome = ArgoCdWait::new(options(&server))
        .run(&ctx, config.clone())
        .await
        .unwrap();
    assert_eq!(outcome.status, StepStatus::Running);
    assert!(
        outcome
            .message
            .unwrap()
            .contains("`app-b`: health is \"Progressing\"")
    );
    assert_eq!(
        outcome.output["apps"],
        json!([{"name": "app-a", "namespace": "argocd"}, {"name": "app-b", "namespace": "argocd"}])
    );
    assert_eq!(
        outcome.output["healthStatus"],
        json!({"argocd/app-a": "Healthy", "argocd/app-b": "Progressing"})
    );

    // An error condition ends the step.
    let server = MockServer::start().await;
    let mut broken = named("app-a", finished("test.01", "Succeeded", "abc123"));
    broken["status"]["conditions"] = json!([{"type": "ComparisonError", "message": "bad condition", "lastTransitionTime": "2026-01-01T10:00:00Z"}]);
    serve_apps(&server, &[broken]).await;
    let err = ArgoCdWait::new(options(&server))
        .run(&ctx, json!({"apps": [{"name": "app-a"}]}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Terminal);
    assert!(err.to_string().contains("bad condition"), "{err}");
}
