//! Tests against real HTTP servers on 127.0.0.1 (wiremock, through
//! `kargo_test_support::http`).
//! Those that evaluate expressions need the expression evaluator of
//! kargo-core.
//!
//! Every case of Kargo's `pkg/promotion/runner/builtin/http_requester_test.go`
//! is here, in the `kargo_*` tests at the end (each names the Kargo table it
//! ports and the tests above that already covered some of its cases). Not
//! ported: `getClient`'s checks of Go's transport fields (no such object
//! here; `insecureSkipTLSVerify` is only passed to the client) and the
//! `text/yaml` value of `responseContentType`, which Kargo's own schema
//! refuses before the step runs.

use std::time::Duration;

use kargo_core::Workspace;
use kargo_core::model::StepStatus;
use kargo_core::step::{ErrorKind, Step, StepContext, StepOutcome};
use serde_json::{Value, json};

use super::{Config, Http, Method};
use kargo_test_support::http::{header_values, scripted, target, until_close};
use wiremock::{MockServer, ResponseTemplate};

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

// ---------------------------------------------------------------------------
// Case by case, Kargo's `pkg/promotion/runner/builtin/http_requester_test.go`.
// Cases already covered above are named in the comment of the nearest table.
// ---------------------------------------------------------------------------

/// Runs `config` (with `url` set to the server) and returns the outcome.
async fn run_against(
    server: &MockServer,
    mut config: Value,
) -> Result<StepOutcome, kargo_core::step::StepError> {
    let (_dir, ctx) = context();
    config["url"] = json!(format!("{}/", server.uri()));
    run(&ctx, config).await
}

/// Kargo's `convert` table: each invalid config is refused before any
/// request, naming the field. ("url not specified" and "invalid method"
/// are also in `unknown_keys_and_bad_methods_are_rejected`.)
#[tokio::test]
async fn kargo_convert_cases_refuse_invalid_configs_naming_the_field() {
    let (_dir, ctx) = context();
    let url = "http://127.0.0.1:1/";
    let cases = [
        ("url not specified", json!({}), "url"),
        ("url is empty string", json!({"url": ""}), "url"),
        (
            "invalid method",
            json!({"url": url, "method": "invalid"}),
            "invalid",
        ),
        (
            "header name not specified",
            json!({"url": url, "headers": [{"value": "v"}]}),
            "name",
        ),
        (
            "header name is empty string",
            json!({"url": url, "headers": [{"name": "", "value": "v"}]}),
            "headers[].name",
        ),
        (
            "header value not specified",
            json!({"url": url, "headers": [{"name": "n"}]}),
            "value",
        ),
        (
            "header value is empty string",
            json!({"url": url, "headers": [{"name": "n", "value": ""}]}),
            "headers[].value",
        ),
        (
            "query param name not specified",
            json!({"url": url, "queryParams": [{"value": "v"}]}),
            "name",
        ),
        (
            "query param name is empty string",
            json!({"url": url, "queryParams": [{"name": "", "value": "v"}]}),
            "queryParams[].name",
        ),
        (
            "query param value not specified",
            json!({"url": url, "queryParams": [{"name": "n"}]}),
            "value",
        ),
        (
            "query param value is empty string",
            json!({"url": url, "queryParams": [{"name": "n", "value": ""}]}),
            "queryParams[].value",
        ),
        (
            "invalid timeout",
            json!({"url": url, "timeout": "invalid"}),
            "invalid",
        ),
        (
            "invalid pollInterval",
            json!({"url": url, "pollInterval": "invalid"}),
            "invalid",
        ),
        (
            "invalid response content type",
            json!({"url": url, "responseContentType": "invalid"}),
            "invalid",
        ),
        (
            "output name not specified",
            json!({"url": url, "outputs": [{"fromExpression": "1"}]}),
            "name",
        ),
        (
            "output name is empty string",
            json!({"url": url, "outputs": [{"name": "", "fromExpression": "1"}]}),
            "outputs[]",
        ),
        (
            "output fromExpression not specified",
            json!({"url": url, "outputs": [{"name": "o"}]}),
            "fromExpression",
        ),
        (
            "output fromExpression is empty string",
            json!({"url": url, "outputs": [{"name": "o", "fromExpression": ""}]}),
            "fromExpression",
        ),
        (
            "proxy url has no scheme",
            json!({"url": url, "proxy": "proxy.example.com:3000"}),
            "proxy",
        ),
        (
            "body and bodyFromFile are mutually exclusive",
            json!({"url": url, "body": "{}", "bodyFromFile": "payload.json"}),
            "bodyFromFile",
        ),
    ];
    for (name, config, field) in cases {
        let err = run(&ctx, config).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Failed, "{name}: {err}");
        assert!(err.to_string().contains(field), "{name}: {err}");
    }
}

/// Kargo's "valid kitchen sink" config is accepted as it stands.
#[test]
fn kargo_convert_kitchen_sink_is_valid() {
    let config: Config = serde_json::from_value(json!({
        "method": "GET",
        "url": "https://example.com",
        "headers": [{"name": "Accept", "value": "application/json"}],
        "queryParams": [{"name": "foo", "value": "bar"}],
        "insecureSkipTLSVerify": true,
        "timeout": "30s",
        "pollInterval": "20s",
        "successExpression": "response.status == 200",
        "failureExpression": "response.status == 404",
        "proxy": "https://proxy.example.com:3000",
        "errorExpression": "response.body?.error ?? response.body?.errorMessage",
        "outputs": [
            {"name": "fact1", "fromExpression": "response.body.facts[0]"},
            {"name": "fact2", "fromExpression": "response.body.facts[1]"},
        ],
    }))
    .unwrap();
    assert!(config.insecure_skip_tls_verify);
    assert_eq!(config.outputs.len(), 2);
    assert_eq!(
        config.proxy.as_deref(),
        Some("https://proxy.example.com:3000")
    );
}

/// Kargo's `run` table, the succeeding cases: the outputs each produces.
/// (Undefined criteria with a 2xx or other status are covered by
/// `without_expressions_*`.)
#[tokio::test]
async fn kargo_run_cases_that_succeed_give_their_outputs() {
    let status = json!({"name": "status", "fromExpression": "response.status"});
    let body = json!({"name": "body", "fromExpression": "response.body"});
    let cases = [
        (
            "success and not failed; no body",
            ResponseTemplate::new(200),
            json!({"successExpression": "true", "outputs": [
                status,
                {"name": "meaning", "fromExpression": "response.body.theMeaningOfLife"},
            ]}),
            json!({"status": 200, "meaning": null}),
        ),
        (
            "unknown content-type with invalid JSON leaves body empty",
            ResponseTemplate::new(200)
                .append_header("Content-Type", "text/html")
                .set_body_bytes("<html>hello</html>"),
            json!({"successExpression": "true", "outputs": [status, body]}),
            json!({"status": 200, "body": {}}),
        ),
        (
            "success and not failed with json body",
            ResponseTemplate::new(200).set_body_json(json!({"theMeaningOfLife": 42})),
            json!({"successExpression": "true", "outputs": [
                {"name": "meaning", "fromExpression": "response.body.theMeaningOfLife"},
            ]}),
            json!({"meaning": 42}),
        ),
        (
            "success and not failed with json body and response is array",
            ResponseTemplate::new(200).set_body_json(json!([{"theMeaningOfLife": 42}])),
            json!({"successExpression": "true", "outputs": [
                {"name": "meaning", "fromExpression": "response.body[0].theMeaningOfLife"},
            ]}),
            json!({"meaning": 42}),
        ),
        (
            "text/plain response with numeric content",
            ResponseTemplate::new(200)
                .append_header("Content-Type", "text/plain; charset=utf-8")
                .set_body_bytes("1"),
            json!({"successExpression": "response.body == \"1\"", "outputs": [body]}),
            json!({"body": "1"}),
        ),
        (
            "text/plain response with word content",
            ResponseTemplate::new(200)
                .append_header("Content-Type", "text/plain; charset=utf-8")
                .set_body_bytes("one"),
            json!({"successExpression": "response.body == \"one\"", "outputs": [body]}),
            json!({"body": "one"}),
        ),
        (
            "YAML response with application/yaml content-type",
            ResponseTemplate::new(200)
                .append_header("Content-Type", "application/yaml")
                .set_body_bytes("status: ok\ncount: 42\n"),
            json!({"successExpression": "response.body.status == \"ok\"", "outputs": [
                {"name": "status", "fromExpression": "response.body.status"},
                {"name": "count", "fromExpression": "response.body.count"},
            ]}),
            json!({"status": "ok", "count": 42}),
        ),
        (
            "responseContentType config override forces YAML parsing",
            ResponseTemplate::new(200)
                .append_header("Content-Type", "text/plain")
                .set_body_bytes("key: value\n"),
            json!({
                "responseContentType": "application/yaml",
                "successExpression": "response.body.key == \"value\"",
                "outputs": [{"name": "key", "fromExpression": "response.body.key"}],
            }),
            json!({"key": "value"}),
        ),
        (
            "responseContentType config override forces text/plain parsing",
            ResponseTemplate::new(200)
                .append_header("Content-Type", "application/json")
                .set_body_bytes(r#"{"foo": "bar"}"#),
            json!({
                "responseContentType": "text/plain",
                "successExpression": r#"response.body == "{\"foo\": \"bar\"}""#,
                "outputs": [body],
            }),
            json!({"body": r#"{"foo": "bar"}"#}),
        ),
    ];
    for (name, reply, config, want) in cases {
        let server = scripted([reply]).await;
        let outcome = run_against(&server, config)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(outcome.status, StepStatus::Succeeded, "{name}");
        assert_eq!(Value::Object(outcome.output), want, "{name}");
    }
}

/// Kargo's `run` table, the failing cases: the message, and whether the
/// error expression's value is appended. ("failed with errorExpression"
/// and its null coalescing are also covered above.)
#[tokio::test]
async fn kargo_run_cases_that_fail_name_the_status_and_the_error() {
    let not_found = |body: Value| ResponseTemplate::new(404).set_body_json(body);
    let on_404 = "response.status == 404";
    let coalesce = "response.body?.error ?? response.body?.errorMessage";
    let cases = [
        (
            "failed and not success",
            ResponseTemplate::new(404),
            json!({"failureExpression": on_404}),
            "HTTP (404) response met failure criteria",
        ),
        (
            "failed with errorExpression",
            not_found(json!({"error": "resource not found"})),
            json!({"failureExpression": on_404, "errorExpression": "response.body.error"}),
            r#"HTTP (404) response met failure criteria: "resource not found""#,
        ),
        (
            "failed with errorExpression null coalescing",
            not_found(json!({"errorMessage": "something went wrong"})),
            json!({"failureExpression": on_404, "errorExpression": coalesce}),
            r#"HTTP (404) response met failure criteria: "something went wrong""#,
        ),
        (
            "failed with errorExpression evaluating to nil",
            not_found(json!({})),
            json!({"failureExpression": on_404, "errorExpression": coalesce}),
            "HTTP (404) response met failure criteria",
        ),
        (
            "failed with errorExpression non-string result",
            not_found(json!({"error": 42})),
            json!({"failureExpression": on_404, "errorExpression": "response.body.error"}),
            "HTTP (404) response met failure criteria",
        ),
        (
            "failed with errorExpression eval error",
            ResponseTemplate::new(200),
            json!({"failureExpression": "true", "errorExpression": "invalid()"}),
            "HTTP (200) response met failure criteria",
        ),
        (
            "success AND failed",
            ResponseTemplate::new(200),
            json!({
                "successExpression": "response.status == 200",
                "failureExpression": "response.status == 200",
            }),
            "HTTP (200) response met failure criteria",
        ),
    ];
    for (name, reply, config, want) in cases {
        let server = scripted([reply]).await;
        let err = run_against(&server, config).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Failed, "{name}: {err}");
        assert_eq!(err.to_string(), want, "{name}");
    }
}

/// Kargo's "failed with errorExpression compile error": an error
/// expression that does not parse ends the step `Errored`, naming it.
#[tokio::test]
async fn kargo_error_expression_that_does_not_parse_errors_the_step() {
    let server = scripted([ResponseTemplate::new(200)]).await;
    let err = run_against(
        &server,
        json!({"failureExpression": "true", "errorExpression": "(1 + 2"}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Terminal, "{err}");
    assert!(
        err.to_string().contains("error compiling error expression"),
        "{err}"
    );
    assert!(err.to_string().contains("(1 + 2"), "{err}");
}

/// Kargo's "neither success nor failed" (502, default and explicit poll
/// interval) and "ignored errorExpression": the step keeps running and the
/// error expression is not used.
#[tokio::test]
async fn kargo_neither_criterion_met_keeps_running_and_ignores_the_error_expression() {
    let server =
        scripted([ResponseTemplate::new(502).set_body_json(json!({"error": "should not appear"}))])
            .await;
    let base = json!({
        "successExpression": "response.status == 200",
        "failureExpression": "response.status == 404",
        "errorExpression": "response.body.error",
    });
    let outcome = run_against(&server, base.clone()).await.unwrap();
    assert_eq!(outcome.status, StepStatus::Running);
    assert_eq!(outcome.retry_after, Some(super::DEFAULT_POLL_INTERVAL));
    let mut config = base;
    config["pollInterval"] = json!("15s");
    let outcome = run_against(&server, config).await.unwrap();
    assert_eq!(outcome.status, StepStatus::Running);
    assert_eq!(outcome.retry_after, Some(Duration::from_secs(15)));
    assert!(
        !format!("{:?}", outcome.message).contains("should not appear"),
        "{:?}",
        outcome.message
    );
}

/// Kargo's `evaluateSuccessCriteria` and `evaluateFailureCriteria`
/// tables: a criterion that does not parse ends the step `Errored`; one
/// that fails to evaluate or gives a non-boolean may be retried; `true`
/// and `false` decide. (No expression at all: `without_expressions_*`.)
#[tokio::test]
async fn kargo_criteria_cases_for_both_expressions() {
    let server = scripted([ResponseTemplate::new(200)]).await;
    for key in ["successExpression", "failureExpression"] {
        let which = &key[..key.len() - "Expression".len()];
        let err = run_against(&server, json!({key: "(1 + 2"}))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Terminal, "{key}: {err}");
        assert!(
            err.to_string()
                .contains(&format!("error compiling {which} expression")),
            "{err}"
        );
        let err = run_against(&server, json!({key: "invalid()"}))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Retryable, "{key}: {err}");
        assert!(
            err.to_string()
                .contains(&format!("error evaluating {which} expression")),
            "{err}"
        );
        let err = run_against(&server, json!({key: "\"foo\""}))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Retryable, "{key}: {err}");
        assert!(
            err.to_string().contains(&format!("{which} expression")),
            "{err}"
        );
        assert!(
            err.to_string().contains("did not evaluate to a boolean"),
            "{err}"
        );
    }
    let outcome = run_against(&server, json!({"successExpression": "true"}))
        .await
        .unwrap();
    assert_eq!(outcome.status, StepStatus::Succeeded);
    let outcome = run_against(&server, json!({"successExpression": "false"}))
        .await
        .unwrap();
    assert_eq!(outcome.status, StepStatus::Running);
    let err = run_against(&server, json!({"failureExpression": "true"}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Failed);
    let outcome = run_against(&server, json!({"failureExpression": "false"}))
        .await
        .unwrap();
    assert_eq!(outcome.status, StepStatus::Running);
}

/// Kargo's `buildOutputs` table: none, one that does not parse (`Errored`),
/// one that fails to evaluate (retried), and literal values.
#[tokio::test]
async fn kargo_build_outputs_cases() {
    let server = scripted([ResponseTemplate::new(200)]).await;
    let outcome = run_against(&server, json!({"successExpression": "true"}))
        .await
        .unwrap();
    assert!(outcome.output.is_empty());

    let output = |e: &str| json!({"successExpression": "true", "outputs": [{"name": "fake-output", "fromExpression": e}]});
    let err = run_against(&server, output("(1 + 2")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Terminal, "{err}");
    assert!(err.to_string().contains("error compiling"), "{err}");
    assert!(err.to_string().contains("fake-output"), "{err}");
    let err = run_against(&server, output("invalid()")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Retryable, "{err}");
    assert!(err.to_string().contains("error evaluating"), "{err}");
    assert!(err.to_string().contains("fake-output"), "{err}");

    let outcome = run_against(
        &server,
        json!({"successExpression": "true", "outputs": [
            {"name": "string-output", "fromExpression": "\"foo\""},
            {"name": "int-output", "fromExpression": "42"},
        ]}),
    )
    .await
    .unwrap();
    assert_eq!(
        Value::Object(outcome.output),
        json!({"string-output": "foo", "int-output": 42})
    );
}

/// Kargo's `buildExprEnv` and `determineResponseParseMode` tables, through
/// a real response: the `response.body` each content type and body give.
/// (Content-Length over the limit: `responses_over_the_cap_are_refused`.)
#[tokio::test]
async fn kargo_build_expr_env_cases_give_the_parsed_body() {
    let typed = |content_type: &str, body: &str| {
        ResponseTemplate::new(200)
            .append_header("Content-Type", content_type)
            .set_body_bytes(body.to_owned())
    };
    let cases = [
        (
            "without body",
            typed("application/json", ""),
            None,
            json!({}),
        ),
        (
            "with body",
            typed("application/json", r#"{"foo": "bar"}"#),
            None,
            json!({"foo": "bar"}),
        ),
        (
            "with body as an array",
            typed(
                "application/json",
                r#"[{"foo1": "bar1"}, {"foo2": "bar2"}]"#,
            ),
            None,
            json!([{"foo1": "bar1"}, {"foo2": "bar2"}]),
        ),
        (
            "JSON string",
            typed("application/json", r#""foo""#),
            None,
            json!("foo"),
        ),
        (
            "JSON number",
            typed("application/json", "42"),
            None,
            json!(42),
        ),
        (
            "JSON boolean",
            typed("application/json", "true"),
            None,
            json!(true),
        ),
        (
            "JSON null",
            typed("application/json", "null"),
            None,
            Value::Null,
        ),
        (
            "APPLICATION/JSON",
            typed("APPLICATION/JSON", r#"{"foo": "bar"}"#),
            None,
            json!({"foo": "bar"}),
        ),
        (
            "Application/Json",
            typed("Application/Json", r#"{"foo": "bar"}"#),
            None,
            json!({"foo": "bar"}),
        ),
        (
            "text/html, not JSON",
            typed("text/html", "<html>hello</html>"),
            None,
            json!({}),
        ),
        (
            "text/html, JSON",
            typed("text/html", r#"{"a": 1}"#),
            None,
            json!({"a": 1}),
        ),
        (
            "unknown/type, JSON",
            typed("unknown/type", r#"{"a": 1}"#),
            None,
            json!({"a": 1}),
        ),
        (
            "text/plain with JSON-like content stays as string",
            typed("text/plain", r#"{"key": "value"}"#),
            None,
            json!(r#"{"key": "value"}"#),
        ),
        (
            "TEXT/PLAIN",
            typed("TEXT/PLAIN", r#"{"a": 1}"#),
            None,
            json!(r#"{"a": 1}"#),
        ),
        (
            "no content-type, not JSON",
            ResponseTemplate::new(200).set_body_bytes("hello world"),
            None,
            json!({}),
        ),
        (
            "no content-type, JSON",
            ResponseTemplate::new(200).set_body_bytes(r#"{"foo": "bar"}"#),
            None,
            json!({"foo": "bar"}),
        ),
        (
            "empty content-type, JSON",
            typed("", r#"{"foo": "bar"}"#),
            None,
            json!({"foo": "bar"}),
        ),
        (
            "text/plain numeric",
            typed("text/plain; charset=utf-8", "1"),
            None,
            json!("1"),
        ),
        (
            "text/plain float",
            typed("text/plain; charset=utf-8", "3.14"),
            None,
            json!("3.14"),
        ),
        (
            "text/plain word",
            typed("text/plain; charset=utf-8", "one"),
            None,
            json!("one"),
        ),
        (
            "text/plain sentence",
            typed("text/plain; charset=utf-8", "this is not json"),
            None,
            json!("this is not json"),
        ),
        (
            "application/yaml",
            typed("application/yaml", "foo: bar\nbaz: 42\n"),
            None,
            json!({"foo": "bar", "baz": 42}),
        ),
        (
            "text/yaml",
            typed("text/yaml", "items:\n  - one\n  - two\n"),
            None,
            json!({"items": ["one", "two"]}),
        ),
        (
            "application/x-yaml",
            typed("application/x-yaml", "key: value\n"),
            None,
            json!({"key": "value"}),
        ),
        (
            "APPLICATION/YAML",
            typed("APPLICATION/YAML", "key: value\n"),
            None,
            json!({"key": "value"}),
        ),
        (
            "TEXT/YAML",
            typed("TEXT/YAML", "key: value\n"),
            None,
            json!({"key": "value"}),
        ),
        (
            "override forces JSON parsing",
            typed("text/plain", r#"{"foo": "bar"}"#),
            Some("application/json"),
            json!({"foo": "bar"}),
        ),
        (
            "override forces YAML parsing",
            typed("text/plain", "foo: bar\n"),
            Some("application/yaml"),
            json!({"foo": "bar"}),
        ),
        (
            "override forces text/plain parsing",
            typed("application/json", r#"{"foo": "bar"}"#),
            Some("text/plain"),
            json!(r#"{"foo": "bar"}"#),
        ),
        (
            "unknown content-type with valid JSON falls back to JSON",
            typed("application/octet-stream", r#"{"success": true}"#),
            None,
            json!({"success": true}),
        ),
    ];
    for (name, reply, forced, want) in cases {
        let server = scripted([reply]).await;
        let mut config = json!({
            "successExpression": "true",
            "outputs": [{"name": "body", "fromExpression": "response.body"}],
        });
        if let Some(forced) = forced {
            config["responseContentType"] = json!(forced);
        }
        let outcome = run_against(&server, config)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(outcome.output["body"], want, "{name}");
    }
}

/// Kargo's `buildExprEnv` "without body": the status is a number, the
/// headers map names to their values, and `header()` reads one.
#[tokio::test]
async fn kargo_build_expr_env_exposes_status_headers_and_header_function() {
    let server =
        scripted([ResponseTemplate::new(200).append_header("Content-Type", "application/json")])
            .await;
    let outcome = run_against(
        &server,
        json!({"successExpression": "true", "outputs": [
            {"name": "status", "fromExpression": "response.status"},
            {"name": "type", "fromExpression": "response.header('Content-Type')"},
            {"name": "types", "fromExpression": "response.headers['Content-Type']"},
            {"name": "empty", "fromExpression": "len(response.body) == 0"},
        ]}),
    )
    .await
    .unwrap();
    assert_eq!(
        Value::Object(outcome.output),
        json!({"status": 200, "type": "application/json", "types": ["application/json"], "empty": true})
    );
}

/// Kargo's "invalid JSON body" and "invalid YAML body returns error": a
/// body that does not parse as its declared type is an error saying so.
#[tokio::test]
async fn kargo_bodies_that_do_not_parse_as_their_type_are_errors() {
    for (content_type, body, want) in [
        (
            "application/json",
            r#"{"foo":"#,
            "failed to parse JSON response",
        ),
        (
            "application/yaml",
            "foo: [bar\n",
            "failed to parse YAML response",
        ),
    ] {
        let server = scripted([ResponseTemplate::new(200)
            .append_header("Content-Type", content_type)
            .set_body_bytes(body)])
        .await;
        let err = run_against(&server, json!({"successExpression": "true"}))
            .await
            .unwrap_err();
        assert!(err.to_string().contains(want), "{content_type}: {err}");
    }
}

/// Kargo's `buildRequest` "body from file" (any bytes, sent as they are)
/// and "body from file rejects oversize". ("request options": see
/// `query_params_and_headers_are_sent`; "stays inside work directory": see
/// `body_from_file_is_read_inside_the_work_directory`.)
#[tokio::test]
async fn kargo_body_from_file_sends_raw_bytes_and_refuses_oversize_files() {
    let server = scripted([ResponseTemplate::new(200)]).await;
    let (dir, ctx) = context();
    std::fs::write(dir.path().join("payload.json"), [0x00, 0xff, 0x01, 0x7f]).unwrap();
    std::fs::write(dir.path().join("payload.bin"), [0x01; 17]).unwrap();
    let step = Http::with_options(super::Options {
        max_response_bytes: 16,
        ..Default::default()
    });
    step.run(
        &ctx,
        json!({"method": "POST", "url": format!("{}/", server.uri()), "bodyFromFile": "payload.json"}),
    )
    .await
    .unwrap();
    assert_eq!(
        server.received_requests().await.unwrap()[0].body,
        [0x00, 0xff, 0x01, 0x7f]
    );

    let err = step
        .run(
            &ctx,
            json!({"method": "POST", "url": format!("{}/", server.uri()), "bodyFromFile": "payload.bin"}),
        )
        .await
        .unwrap_err();
    // Kargo fails the step when it cannot build the request (here: the
    // body file is too large).
    assert_eq!(err.kind(), ErrorKind::Failed, "{err}");
    assert!(err.to_string().contains("payload.bin"), "{err}");
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "nothing sent for the oversize file"
    );
}

/// Kargo's `proxy` table: a proxy URL that does not parse is refused, and
/// a configured proxy gets the request (in absolute form, for the backend).
#[tokio::test]
async fn kargo_proxy_cases() {
    let (_dir, ctx) = context();
    let backend = "http://backend.invalid:8080/status";
    let err = run(
        &ctx,
        json!({"url": backend, "proxy": "http://[invalid-url"}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Failed, "{err}");
    assert!(err.to_string().contains("proxy"), "{err}");

    let proxy =
        scripted([ResponseTemplate::new(200).set_body_json(json!({"reachedBackend": true}))]).await;
    let outcome = run(
        &ctx,
        json!({
            "url": backend,
            "proxy": proxy.uri(),
            "successExpression": "response.status == 200",
            "outputs": [{"name": "reachedBackend", "fromExpression": "response.body.reachedBackend"}],
        }),
    )
    .await
    .unwrap();
    assert_eq!(outcome.status, StepStatus::Succeeded);
    assert_eq!(outcome.output["reachedBackend"], json!(true));
    assert_eq!(
        proxy.received_requests().await.unwrap()[0].url.as_str(),
        backend
    );
}
