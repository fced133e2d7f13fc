//! Tests against real HTTP servers on 127.0.0.1 (wiremock, through
//! `kargo_test_support::http`).
//! Those that evaluate expressions need the expression evaluator of
//! kargo-core.

use std::time::Duration;

use kargo_core::Workspace;
use kargo_core::model::StepStatus;
use kargo_core::step::{ErrorKind, Step, StepContext, StepOutcome};
use serde_json::{Value, json};

use super::{Config, Http, Method};
use kargo_test_support::http::{header_values, scripted, target, until_close};
use wiremock::ResponseTemplate;

fn context() -> (tempfile::TempDir, StepContext) {
    let dir = tempfile::tempdir().unwrap();
    let ctx = StepContext::new(Workspace::new(dir.path()).unwrap());
    (dir, ctx)
}

async fn run(ctx: &StepContext, config: Value) -> Result<StepOutcome, kargo_core::step::StepError> {
    Http::new().run(ctx, config).await
}

#[tokio::test]
async fn success_expression_true_succeeds_with_outputs_from_expressions() {
    let server = scripted([ResponseTemplate::new(200)
        .set_body_json(json!({"ready": true, "facts": ["a", "b"]}))
        .append_header("X-Build", "42")])
    .await;
    let (_dir, ctx) = context();
    let outcome = run(
        &ctx,
        json!({
            "url": format!("{}/status", server.uri()),
            "successExpression": "response.status == 200 && response.body.ready",
            "failureExpression": "response.status == 404",
            "outputs": [
                {"name": "status", "fromExpression": "response.status"},
                {"name": "fact", "fromExpression": "response.body.facts[1]"},
                {"name": "build", "fromExpression": "response.headers['X-Build'][0]"},
            ],
        }),
    )
    .await
    .unwrap();
    assert_eq!(outcome.status, StepStatus::Succeeded);
    assert_eq!(
        Value::Object(outcome.output),
        json!({"status": 200, "fact": "b", "build": "42"})
    );
}

/// Kargo's `response.header(name)` (Go's `Header.Get`: any case, first
/// value, `""` when absent), and an empty body whose fields are nil.
#[tokio::test]
async fn header_function_and_nil_fields_of_an_empty_body() {
    let server = scripted([ResponseTemplate::new(204)
        .append_header("X-Build", "42")
        .append_header("X-Build", "43")])
    .await;
    let (_dir, ctx) = context();
    let outcome = run(
        &ctx,
        json!({
            "url": format!("{}/status", server.uri()),
            "successExpression": "response.status == 204 && response.body.ready == nil",
            "outputs": [
                {"name": "build", "fromExpression": "response.header('x-build')"},
                {"name": "none", "fromExpression": "response.header('X-Nope')"},
                {"name": "ready", "fromExpression": "response.body.ready"},
            ],
        }),
    )
    .await
    .unwrap();
    assert_eq!(outcome.status, StepStatus::Succeeded);
    assert_eq!(
        Value::Object(outcome.output),
        json!({"build": "42", "none": "", "ready": null})
    );
}

#[tokio::test]
async fn failure_expression_true_fails_with_the_error_expression_message() {
    let server = scripted([
        ResponseTemplate::new(404).set_body_json(json!({"message": "resource not found"}))
    ])
    .await;
    let (_dir, ctx) = context();
    let err = run(
        &ctx,
        json!({
            "url": format!("{}/data", server.uri()),
            "successExpression": "response.status == 200",
            "failureExpression": "response.status >= 400 && response.status < 500",
            "errorExpression": "response.body.message",
        }),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Failed);
    assert_eq!(
        err.to_string(),
        r#"HTTP (404) response met failure criteria: "resource not found""#
    );
}

#[tokio::test]
async fn error_expression_of_kargo_docs_coalesces_fields_and_falls_back() {
    let server = scripted([
        ResponseTemplate::new(403).set_body_json(json!({"error": "resource is disabled"})),
        ResponseTemplate::new(403).set_body_json(json!(["not", "an", "object"])),
    ])
    .await;
    let (_dir, ctx) = context();
    let config = json!({
        "url": format!("{}/data", server.uri()),
        "successExpression": "response.status == 200",
        "failureExpression": "response.status >= 400 && response.status < 500",
        "errorExpression": "response.body?.message ?? response.body?.error",
    });
    let err = run(&ctx, config.clone()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"HTTP (403) response met failure criteria: "resource is disabled""#
    );
    let err = run(&ctx, config).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Failed);
    assert_eq!(err.to_string(), "HTTP (403) response met failure criteria");
}

#[tokio::test]
async fn failure_without_error_expression_uses_the_default_message() {
    let server = scripted([ResponseTemplate::new(500)]).await;
    let (_dir, ctx) = context();
    let err = run(
        &ctx,
        json!({"url": format!("{}/", server.uri()), "failureExpression": "response.status == 500"}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Failed);
    assert_eq!(err.to_string(), "HTTP (500) response met failure criteria");
}

#[tokio::test]
async fn neither_expression_true_is_running_with_the_poll_interval() {
    let server =
        scripted([ResponseTemplate::new(200).set_body_json(json!({"phase": "Pending"}))]).await;
    let (_dir, ctx) = context();
    let config = json!({
        "url": format!("{}/", server.uri()),
        "successExpression": "response.body.phase == 'Done'",
        "failureExpression": "response.body.phase == 'Error'",
    });
    let outcome = run(&ctx, config.clone()).await.unwrap();
    assert_eq!(outcome.status, StepStatus::Running);
    assert_eq!(outcome.retry_after, Some(Duration::from_secs(30)));

    let mut config = config;
    config["pollInterval"] = json!("2m");
    let outcome = run(&ctx, config).await.unwrap();
    assert_eq!(outcome.status, StepStatus::Running);
    assert_eq!(outcome.retry_after, Some(Duration::from_secs(120)));
}

#[tokio::test]
async fn polling_reports_running_until_the_server_answers_200() {
    let server = scripted([
        ResponseTemplate::new(503),
        ResponseTemplate::new(503),
        ResponseTemplate::new(200).set_body_json(json!({"version": "v1.2.3"})),
    ])
    .await;
    let (_dir, ctx) = context();
    let config = json!({
        "url": format!("{}/health", server.uri()),
        "successExpression": "response.status == 200",
        "failureExpression": "response.status == 404",
        "pollInterval": "1s",
        "outputs": [{"name": "version", "fromExpression": "response.body.version"}],
    });
    for _ in 0..2 {
        let outcome = run(&ctx, config.clone()).await.unwrap();
        assert_eq!(outcome.status, StepStatus::Running);
        assert_eq!(outcome.retry_after, Some(Duration::from_secs(1)));
    }
    let outcome = run(&ctx, config).await.unwrap();
    assert_eq!(outcome.status, StepStatus::Succeeded);
    assert_eq!(outcome.output["version"], json!("v1.2.3"));
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn yaml_responses_are_parsed_for_expressions() {
    let server = scripted([ResponseTemplate::new(200)
        .append_header("Content-Type", "application/yaml")
        .set_body_bytes("version: \"2.0\"\nfeatures:\n  - name: a\n    enabled: true\n")])
    .await;
    let (_dir, ctx) = context();
    let outcome = run(
        &ctx,
        json!({
            "url": format!("{}/config.yaml", server.uri()),
            "successExpression": "response.status == 200",
            "outputs": [
                {"name": "version", "fromExpression": "response.body.version"},
                {"name": "features", "fromExpression": "response.body.features"},
            ],
        }),
    )
    .await
    .unwrap();
    assert_eq!(
        Value::Object(outcome.output),
        json!({"version": "2.0", "features": [{"name": "a", "enabled": true}]})
    );
}

#[tokio::test]
async fn without_expressions_2xx_succeeds() {
    let server = scripted([ResponseTemplate::new(204)]).await;
    let (_dir, ctx) = context();
    let outcome = run(&ctx, json!({"url": format!("{}/", server.uri())}))
        .await
        .unwrap();
    assert_eq!(outcome.status, StepStatus::Succeeded);
    assert!(outcome.output.is_empty());
}

#[tokio::test]
async fn without_expressions_other_statuses_fail_and_may_be_retried() {
    // Kargo: "non-2xx status codes fail but will be retried".
    let server = scripted([ResponseTemplate::new(503)]).await;
    let (_dir, ctx) = context();
    let err = run(&ctx, json!({"url": format!("{}/", server.uri())}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Retryable);
    assert!(err.to_string().starts_with("HTTP (503) response"), "{err}");
}

#[tokio::test]
async fn query_params_and_headers_are_sent() {
    let server = scripted([ResponseTemplate::new(200)]).await;
    let (_dir, ctx) = context();
    run(
        &ctx,
        json!({
            "method": "GET",
            "url": format!("{}/search?fixed=1", server.uri()),
            "queryParams": [
                {"name": "q", "value": "a b&c"},
                {"name": "q", "value": "second"},
            ],
            "headers": [
                {"name": "Authorization", "value": "Bearer s3cr3t"},
                {"name": "X-Many", "value": "one"},
                {"name": "X-Many", "value": "two"},
            ],
        }),
    )
    .await
    .unwrap();
    let request = &server.received_requests().await.unwrap()[0];
    assert_eq!(request.method, "GET");
    assert_eq!(target(request), "/search?fixed=1&q=a+b%26c&q=second");
    assert_eq!(header_values(request, "authorization"), ["Bearer s3cr3t"]);
    assert_eq!(header_values(request, "x-many"), ["one", "two"]);
}

#[tokio::test]
async fn post_sends_the_body() {
    let server = scripted([ResponseTemplate::new(201)]).await;
    let (_dir, ctx) = context();
    run(
        &ctx,
        json!({
            "method": "POST",
            "url": format!("{}/hooks", server.uri()),
            "headers": [{"name": "Content-Type", "value": "application/json"}],
            "body": "{\"text\":\"promoted\"}",
        }),
    )
    .await
    .unwrap();
    let request = &server.received_requests().await.unwrap()[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.body, br#"{"text":"promoted"}"#);
    assert_eq!(header_values(request, "content-type"), ["application/json"]);
}

#[tokio::test]
async fn body_from_file_is_read_inside_the_work_directory() {
    let server = scripted([ResponseTemplate::new(200)]).await;
    let (dir, ctx) = context();
    std::fs::create_dir(dir.path().join("out")).unwrap();
    std::fs::write(dir.path().join("out/payload.json"), "{\"a\":1}").unwrap();
    run(
        &ctx,
        json!({"method": "PUT", "url": format!("{}/", server.uri()), "bodyFromFile": "out/payload.json"}),
    )
    .await
    .unwrap();
    let request = &server.received_requests().await.unwrap()[0];
    assert_eq!(request.method, "PUT");
    assert_eq!(request.body, b"{\"a\":1}");

    for escaping in ["../payload.json", "/etc/passwd"] {
        let err = run(
            &ctx,
            json!({"method": "POST", "url": format!("{}/", server.uri()), "bodyFromFile": escaping}),
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Failed, "{escaping}: {err}");
    }
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "nothing sent for refused paths"
    );
}

#[tokio::test]
async fn body_and_body_from_file_are_exclusive() {
    let (_dir, ctx) = context();
    let err = run(
        &ctx,
        json!({"url": "http://127.0.0.1:1/", "body": "x", "bodyFromFile": "f"}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Failed);
    assert!(err.to_string().contains("mutually exclusive"), "{err}");
}

#[tokio::test]
async fn a_slow_server_times_out_with_a_retryable_error() {
    let server = scripted([ResponseTemplate::new(200).set_delay(Duration::from_secs(3))]).await;
    let (_dir, ctx) = context();
    let err = run(
        &ctx,
        json!({"url": format!("{}/slow", server.uri()), "timeout": "200ms"}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Retryable);
    assert!(err.to_string().contains("timed out after 200ms"), "{err}");
}

#[tokio::test]
async fn an_unreachable_url_is_a_retryable_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let (_dir, ctx) = context();
    let err = run(
        &ctx,
        json!({"url": format!("http://127.0.0.1:{port}/?token=s3cr3t")}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Retryable);
    let message = err.to_string();
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(
        !message.contains("s3cr3t"),
        "query values stay out: {message}"
    );
}

#[tokio::test]
async fn responses_over_the_cap_are_refused() {
    let big = vec![b'x'; 64];
    // Announced by Content-Length, and found out while streaming.
    let announced = scripted([ResponseTemplate::new(200).set_body_bytes(big.clone())]).await;
    let streamed = until_close(big);
    let (_dir, ctx) = context();
    let options = super::Options {
        max_response_bytes: 16,
        ..Default::default()
    };
    let step = Http::with_options(options);
    for base in [announced.uri(), streamed] {
        let err = step
            .run(&ctx, json!({"url": format!("{base}/big")}))
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("exceeds the limit of 16 bytes"),
            "{base}: {err}"
        );
    }
}

#[tokio::test]
async fn link_local_hosts_are_refused_without_a_request() {
    let (_dir, ctx) = context();
    let err = run(
        &ctx,
        json!({"url": "http://169.254.169.254/latest/meta-data"}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Failed);
    assert!(err.to_string().contains("link-local"), "{err}");
}

#[tokio::test]
async fn metadata_endpoints_are_refused_directly_and_on_every_redirect_hop() {
    let (_dir, ctx) = context();
    let targets = [
        "http://[fd00:ec2::254]/latest/meta-data",
        "http://100.100.100.200/latest/meta-data",
        "http://[fe80::a9fe:a9fe]/",
        "http://[::ffff:169.254.169.254]/",
    ];
    for target in targets {
        let err = run(&ctx, json!({"url": target})).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Failed, "{target}: {err}");
        assert!(err.to_string().contains("not permitted"), "{target}: {err}");
        // The second hop of a redirect chain is checked too.
        let server = scripted([
            ResponseTemplate::new(302).append_header("Location", "/next"),
            ResponseTemplate::new(302).append_header("Location", target),
        ])
        .await;
        let err = run(&ctx, json!({"url": format!("{}/start", server.uri())}))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not permitted"), "{target}: {err}");
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            2,
            "{target}"
        );
    }
}

#[tokio::test]
async fn an_allowed_internal_address_is_reached() {
    let (_dir, ctx) = context();
    let options = super::Options {
        allowed_internal_addresses: vec!["fd00:ec2::254".parse().unwrap()],
        ..Default::default()
    };
    let step = Http::with_options(options);
    let config = json!({"url": "http://[fd00:ec2::254]:9/", "timeout": "2s"});
    // Let through: the connection is tried (and fails: nothing answers here).
    let err = step.run(&ctx, config.clone()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Retryable, "{err}");
    assert!(!err.to_string().contains("not permitted"), "{err}");
    // Another endpoint stays refused.
    let err = step
        .run(&ctx, json!({"url": "http://100.100.100.200/"}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not permitted"), "{err}");
}

#[tokio::test]
async fn header_values_stay_out_of_errors_and_debug_output() {
    let (_dir, ctx) = context();
    let config = json!({
        "url": "http://user:pw@127.0.0.1:1/?token=q-secret",
        "headers": [{"name": "Authorization", "value": "Bearer s3cr3t\n"}],
    });
    let err = run(&ctx, config.clone()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Failed);
    assert!(err.to_string().contains("Authorization"), "{err}");
    assert!(!err.to_string().contains("s3cr3t"), "{err}");

    let parsed: Config = serde_json::from_value(config).unwrap();
    let debug = format!("{parsed:?}");
    for secret in ["s3cr3t", "q-secret", "pw@"] {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }
}

#[test]
fn kargo_documented_examples_deserialize() {
    // From Kargo's `http` step reference: basic, polling, Slack, YAML,
    // content-type override and error expression examples.
    let examples = [
        r#"
method: GET
url: https://www.catfacts.net/api/
outputs:
- name: status
  fromExpression: response.status
- name: fact1
  fromExpression: response.body.facts[0]
- name: fact2
  fromExpression: response.body.facts[1]
"#,
        r#"
method: GET
url: https://www.catfacts.net/api/
successExpression: response.status == 200
failureExpression: response.status == 404
outputs:
- name: status
  fromExpression: response.status
"#,
        r#"
method: POST
url: https://slack.com/api/chat.postMessage
headers:
- name: Authorization
  value: Bearer xoxb-token
- name: Content-Type
  value: application/json
body: |
  {"channel":"C123456","blocks":[]}
"#,
        r#"
url: https://api.example.com/data
responseContentType: application/yaml
outputs:
- name: value
  fromExpression: response.body.key
"#,
        r#"
url: https://api.example.com/data
successExpression: response.status == 200
failureExpression: response.status >= 400 && response.status < 500
errorExpression: response.body?.message ?? response.body?.error
"#,
        r#"
url: https://api.example.com/status
insecureSkipTLSVerify: true
proxy: http://proxy.example.com:3128
timeout: 30s
pollInterval: 1m
bodyFromFile: out/payload.json
queryParams:
- name: env
  value: prod
"#,
    ];
    for yaml in examples {
        let value: Value = serde_saphyr::from_str(yaml).unwrap();
        let config: Config =
            serde_json::from_value(value).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        assert!(config.url.starts_with("https://"));
    }
    let value: Value = serde_saphyr::from_str(examples[2]).unwrap();
    let config: Config = serde_json::from_value(value).unwrap();
    assert_eq!(config.method, Method::Post);
    assert_eq!(config.headers.len(), 2);
}

#[tokio::test]
async fn unknown_keys_and_bad_methods_are_rejected() {
    let (_dir, ctx) = context();
    for config in [
        json!({"url": "http://127.0.0.1:1/", "succesExpression": "true"}),
        json!({"url": "http://127.0.0.1:1/", "headers": [{"name": "a", "value": "b", "x": 1}]}),
        json!({"url": "http://127.0.0.1:1/", "method": "get"}),
        json!({"url": "http://127.0.0.1:1/", "responseContentType": "text/html"}),
        json!({"url": "http://127.0.0.1:1/", "timeout": "10"}),
        json!({"method": "GET"}),
    ] {
        let err = run(&ctx, config.clone()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Failed, "{config}");
        assert!(err.to_string().starts_with("invalid http config"), "{err}");
    }
}

#[tokio::test]
async fn in_a_promotion_polling_waits_then_feeds_its_outputs_to_the_next_step() {
    use std::sync::Arc;

    use kargo_core::engine::{
        Engine, NoCheckpoint, PromotionContext, PromotionState, TaskCatalog, inflate_tasks,
    };
    use kargo_core::model::{PromotionPhase, PromotionTemplateSpec};
    use kargo_core::step::StepRegistry;

    let server = scripted([
        ResponseTemplate::new(503).set_body_json(json!({"status": "starting"})),
        ResponseTemplate::new(503).set_body_json(json!({"status": "starting"})),
        ResponseTemplate::new(200)
            .set_body_json(json!({"status": "completed", "version": "v1.2.3"})),
    ])
    .await;
    // Kargo's documented pattern: `${{ }}` inside the success expression is
    // evaluated before the step runs, the rest by the step.
    let template = format!(
        r#"
vars:
- name: expectedStatus
  value: completed
steps:
- uses: http
  as: health
  config:
    url: {url}/status
    successExpression: response.body.status == '${{{{ vars.expectedStatus }}}}'
    failureExpression: response.body.status == 'failed'
    pollInterval: 1s
    outputs:
    - name: version
      fromExpression: response.body.version
- uses: file-write
  config:
    path: deployed.txt
    contents: ${{{{ outputs.health.version }}}}
"#,
        url = server.uri()
    );
    let spec: PromotionTemplateSpec = serde_saphyr::from_str(&template).unwrap();
    let steps = inflate_tasks(&spec.steps, &spec.vars, &TaskCatalog::new()).unwrap();
    let mut registry = StepRegistry::new();
    crate::register_builtins(&mut registry);
    let engine = Engine::new(Arc::new(registry));
    let dir = tempfile::tempdir().unwrap();
    let ctx = PromotionContext::new(Workspace::new(dir.path()).unwrap()).with_vars(spec.vars);

    let mut state = PromotionState::default();
    for _ in 0..2 {
        engine
            .resume(&ctx, &steps, &mut state, &NoCheckpoint)
            .await
            .unwrap();
        assert_eq!(state.phase, PromotionPhase::Running);
        assert_eq!(state.steps[0].status, Some(StepStatus::Running));
        assert_eq!(state.retry_after_ms, Some(1000));
    }
    engine
        .resume(&ctx, &steps, &mut state, &NoCheckpoint)
        .await
        .unwrap();
    assert_eq!(state.phase, PromotionPhase::Succeeded, "{state:?}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("deployed.txt")).unwrap(),
        "v1.2.3"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}
