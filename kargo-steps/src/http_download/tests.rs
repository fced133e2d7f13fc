//! Tests against real HTTP servers on 127.0.0.1 (wiremock, through
//! `kargo_test_support::http`).
//!
//! Every case of Kargo's `pkg/promotion/runner/builtin/http_downloader_test.go`
//! is here: the `kargo_*` tests at the end port the tables the tests above
//! did not already cover (each names its Kargo table). Not ported: the
//! checks of Go's transport fields (`insecureSkipTLSVerify` is only passed
//! to the client). A non-2xx status is retryable, where Kargo reports it
//! `Failed` with an error it also retries up to `retry.errorThreshold`.

use std::time::Duration;

use kargo_core::Workspace;
use kargo_core::model::StepStatus;
use kargo_core::step::{ErrorKind, Step, StepContext};
use serde_json::{Value, json};

use super::{Config, HttpDownload};
use kargo_test_support::http::{header_values, scripted, target, until_close};
use wiremock::ResponseTemplate;

fn context() -> (tempfile::TempDir, StepContext) {
    let dir = tempfile::tempdir().unwrap();
    let ctx = StepContext::new(Workspace::new(dir.path()).unwrap());
    (dir, ctx)
}

/// Every entry under `dir`, relative, sorted.
fn tree(dir: &std::path::Path) -> Vec<String> {
    fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            out.push(path.strip_prefix(root).unwrap().display().to_string());
            if path.is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[tokio::test]
async fn downloads_to_out_path_creating_directories() {
    let server = scripted([ResponseTemplate::new(200).set_body_bytes("chart bytes")]).await;
    let (dir, ctx) = context();
    let outcome = HttpDownload::new()
        .run(
            &ctx,
            json!({
                "url": format!("{}/charts/app.tgz", server.uri()),
                "outPath": "charts/app.tgz",
                "headers": [{"name": "Authorization", "value": "token s3cr3t"}],
                "queryParams": [{"name": "version", "value": "1.2.3"}],
            }),
        )
        .await
        .unwrap();
    assert_eq!(outcome.status, StepStatus::Succeeded);
    assert!(outcome.output.is_empty(), "http-download has no outputs");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("charts/app.tgz")).unwrap(),
        "chart bytes"
    );
    assert_eq!(
        tree(dir.path()),
        ["charts", "charts/app.tgz"],
        "no temp file left"
    );
    let request = &server.received_requests().await.unwrap()[0];
    assert_eq!(target(request), "/charts/app.tgz?version=1.2.3");
    assert_eq!(header_values(request, "authorization"), ["token s3cr3t"]);
}

#[tokio::test]
async fn an_existing_file_is_replaced_only_with_allow_overwrite() {
    let server = scripted([ResponseTemplate::new(200).set_body_bytes("new")]).await;
    let (dir, ctx) = context();
    let target = dir.path().join("app.yaml");
    std::fs::write(&target, "old").unwrap();
    let config = json!({"url": format!("{}/app.yaml", server.uri()), "outPath": "app.yaml"});

    let err = HttpDownload::new()
        .run(&ctx, config.clone())
        .await
        .unwrap_err();
    // Kargo: `Errored` with a terminal error; the config was usable.
    assert_eq!(err.kind(), ErrorKind::Terminal);
    assert!(err.to_string().contains("already exists"), "{err}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "nothing downloaded"
    );

    let mut config = config;
    config["allowOverwrite"] = json!(true);
    HttpDownload::new().run(&ctx, config).await.unwrap();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
    assert_eq!(tree(dir.path()), ["app.yaml"]);
}

#[tokio::test]
async fn downloads_over_the_size_cap_fail_and_leave_nothing() {
    let body = vec![b'x'; 4096];
    // Announced by Content-Length.
    let announced = scripted([ResponseTemplate::new(200).set_body_bytes(body.clone())]).await;
    // Found out while streaming.
    let streamed = until_close(body);
    let (dir, ctx) = context();
    std::fs::write(dir.path().join("keep.bin"), "old").unwrap();
    let step = HttpDownload::new().with_max_size(1000);
    for base in [announced.uri(), streamed] {
        for (out_path, overwrite) in [("new/dir/big.bin", false), ("keep.bin", true)] {
            let err = step
                .run(
                    &ctx,
                    json!({"url": format!("{base}/big"), "outPath": out_path, "allowOverwrite": overwrite}),
                )
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Terminal);
            assert!(
                err.to_string().contains("exceeds the limit of 1000 bytes"),
                "{base}: {err}"
            );
        }
    }
    assert_eq!(
        tree(dir.path()),
        ["keep.bin"],
        "no partial file, no new directory"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("keep.bin")).unwrap(),
        "old"
    );
}

#[tokio::test]
async fn paths_leaving_the_work_directory_are_refused() {
    let server = scripted([ResponseTemplate::new(200).set_body_bytes("x")]).await;
    let (dir, ctx) = context();
    for out_path in ["../escaped.txt", "/tmp/escaped.txt", "a/../../escaped.txt"] {
        let err = HttpDownload::new()
            .run(
                &ctx,
                json!({"url": format!("{}/", server.uri()), "outPath": out_path}),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Failed, "{out_path}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
    assert!(tree(dir.path()).is_empty());
}

#[tokio::test]
async fn error_statuses_and_unreachable_servers_are_retryable() {
    let server = scripted([ResponseTemplate::new(404)]).await;
    let (dir, ctx) = context();
    let err = HttpDownload::new()
        .run(
            &ctx,
            json!({"url": format!("{}/missing", server.uri()), "outPath": "f"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Retryable);
    assert!(err.to_string().contains("status 404"), "{err}");

    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let err = HttpDownload::new()
        .run(
            &ctx,
            json!({"url": format!("http://127.0.0.1:{port}/f"), "outPath": "f"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Retryable);
    assert!(tree(dir.path()).is_empty());
}

#[test]
fn kargo_documented_examples_deserialize() {
    // From Kargo's `http-download` step reference.
    let examples = [
        "url: https://example.com/config/app.yaml\noutPath: config/app.yaml\n",
        r#"
url: https://artifacts.example.com/releases/v1.2.3/app.tar.gz
outPath: artifacts/app.tar.gz
headers:
- name: Authorization
  value: Bearer token
allowOverwrite: true
timeout: 10m
"#,
        r#"
url: https://artifacts.example.com/releases/source.zip
outPath: releases/source.zip
queryParams:
- name: version
  value: 1.2.3
headers:
- name: Authorization
  value: token abc
allowOverwrite: false
timeout: 5m
insecureSkipTLSVerify: false
"#,
    ];
    for yaml in examples {
        let value: Value = serde_saphyr::from_str(yaml).unwrap();
        let config: Config =
            serde_json::from_value(value).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        assert!(!config.out_path.is_empty());
    }
}

#[tokio::test]
async fn unknown_keys_are_rejected() {
    let (_dir, ctx) = context();
    for config in [
        json!({"url": "http://127.0.0.1:1/", "outPath": "f", "overwrite": true}),
        json!({"url": "http://127.0.0.1:1/"}),
        json!({"url": "http://127.0.0.1:1/", "outPath": "f", "method": "POST"}),
    ] {
        let err = HttpDownload::new()
            .run(&ctx, config.clone())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Failed, "{config}");
        assert!(
            err.to_string().starts_with("invalid http-download config"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn timeouts_and_cancellation_leave_nothing_behind() {
    let server = scripted([ResponseTemplate::new(200)
        .set_body_bytes("late")
        .set_delay(Duration::from_secs(3))])
    .await;
    let (dir, ctx) = context();
    let err = HttpDownload::new()
        .run(
            &ctx,
            json!({"url": format!("{}/slow", server.uri()), "outPath": "a/f", "timeout": "200ms"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Retryable);
    assert!(err.to_string().contains("timed out after 200ms"), "{err}");

    let cancel = ctx.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        cancel.cancel();
    });
    let err = HttpDownload::new()
        .run(
            &ctx,
            json!({"url": format!("{}/slow", server.uri()), "outPath": "a/f"}),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cancelled"), "{err}");
    assert!(tree(dir.path()).is_empty());
}

#[tokio::test]
async fn metadata_endpoints_are_refused_on_redirect_and_nothing_is_written() {
    let (dir, ctx) = context();
    let server =
        scripted([ResponseTemplate::new(302)
            .append_header("Location", "http://100.100.100.200/chart.tgz")])
        .await;
    let err = HttpDownload::new()
        .run(
            &ctx,
            json!({"url": format!("{}/chart.tgz", server.uri()), "outPath": "chart.tgz"}),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not permitted"), "{err}");
    assert!(tree(dir.path()).is_empty(), "{:?}", tree(dir.path()));
}

/// Kargo: http_downloader_test.go, Test_httpDownloader_validate (every
/// invalid case): each fails the step, naming the field.
#[tokio::test]
async fn kargo_validate_cases_fail_naming_the_field() {
    let (dir, ctx) = context();
    let url = "https://example.com/file.txt";
    let cases = [
        ("url not specified", json!({"outPath": "f"}), "url"),
        (
            "url is empty string",
            json!({"url": "", "outPath": "f"}),
            "url",
        ),
        ("outPath not specified", json!({"url": url}), "outPath"),
        (
            "outPath is empty string",
            json!({"url": url, "outPath": ""}),
            "outPath",
        ),
        (
            "header name not specified",
            json!({"url": url, "outPath": "f", "headers": [{"value": "v"}]}),
            "name",
        ),
        (
            "header name is empty string",
            json!({"url": url, "outPath": "f", "headers": [{"name": "", "value": "v"}]}),
            "headers[].name",
        ),
        (
            "header value not specified",
            json!({"url": url, "outPath": "f", "headers": [{"name": "n"}]}),
            "value",
        ),
        (
            "header value is empty string",
            json!({"url": url, "outPath": "f", "headers": [{"name": "n", "value": ""}]}),
            "headers[].value",
        ),
        (
            "query param name not specified",
            json!({"url": url, "outPath": "f", "queryParams": [{"value": "v"}]}),
            "name",
        ),
        (
            "query param name is empty string",
            json!({"url": url, "outPath": "f", "queryParams": [{"name": "", "value": "v"}]}),
            "queryParams[].name",
        ),
        (
            "query param value not specified",
            json!({"url": url, "outPath": "f", "queryParams": [{"name": "n"}]}),
            "value",
        ),
        (
            "query param value is empty string",
            json!({"url": url, "outPath": "f", "queryParams": [{"name": "n", "value": ""}]}),
            "queryParams[].value",
        ),
        (
            "invalid timeout",
            json!({"url": url, "outPath": "f", "timeout": "invalid"}),
            "invalid",
        ),
    ];
    for (name, config, field) in cases {
        let err = HttpDownload::new()
            .run(&ctx, config.clone())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Failed, "{name}: {err}");
        assert!(err.to_string().contains(field), "{name}: {err}");
        // Those the schema rules catch are refused before the promotion too.
        if field.contains("[]") {
            let err = HttpDownload::new().check_config(&config).unwrap_err();
            let at = field.replace("[]", "[0]");
            assert!(err.to_string().contains(&at), "{name}: {err}");
        }
    }
    assert!(tree(dir.path()).is_empty());
}

/// Kargo: http_downloader_test.go, Test_httpDownloader_validate ("valid
/// kitchen sink") and Test_httpDownloader_buildHTTPClient ("with custom
/// timeout", "with insecureSkipTLSVerify"; the default timeout is
/// [`DEFAULT_TIMEOUT`](super::DEFAULT_TIMEOUT), 5m as in Kargo).
#[test]
fn kargo_kitchen_sink_is_valid() {
    let value = json!({
        "url": "https://example.com/file.txt",
        "outPath": "downloads/file.txt",
        "headers": [{"name": "Authorization", "value": "Bearer token123"}],
        "queryParams": [{"name": "version", "value": "latest"}],
        "insecureSkipTLSVerify": true,
        "timeout": "30s",
        "allowOverwrite": true,
    });
    HttpDownload::new().check_config(&value).unwrap();
    let config: Config = serde_json::from_value(value).unwrap();
    assert!(config.insecure_skip_tls_verify && config.allow_overwrite);
    assert_eq!(
        config.timeout.map(|t| t.as_duration()),
        Some(Duration::from_secs(30))
    );
    assert_eq!(super::DEFAULT_TIMEOUT, Duration::from_secs(300));
}

/// Kargo: http_downloader_test.go, Test_httpDownloader_buildRequest: a GET
/// whose query values are URL-encoded and whose headers are sent.
#[tokio::test]
async fn kargo_build_request_encodes_query_values() {
    let server = scripted([ResponseTemplate::new(200).set_body_bytes("x")]).await;
    let (_dir, ctx) = context();
    HttpDownload::new()
        .run(
            &ctx,
            json!({
                "url": format!("{}/file.txt", server.uri()),
                "outPath": "file.txt",
                "headers": [{"name": "Authorization", "value": "Bearer token123"}],
                "queryParams": [{"name": "version", "value": "some value"}],
            }),
        )
        .await
        .unwrap();
    let request = &server.received_requests().await.unwrap()[0];
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(target(request), "/file.txt?version=some+value");
    assert_eq!(header_values(request, "authorization"), ["Bearer token123"]);
}

/// Kargo: http_downloader_test.go, Test_httpDownloader_run ("successful
/// download with nested path") and Test_httpDownloader_downloadToFile
/// ("small file download", "empty file download", "file download at size
/// limit"), announced by Content-Length and streamed.
#[tokio::test]
async fn kargo_download_to_file_sizes_up_to_the_limit() {
    let cap = 1000;
    let (dir, ctx) = context();
    for (name, body) in [
        ("small", vec![b'a'; 100]),
        ("empty", Vec::new()),
        ("at the limit", vec![b'x'; cap]),
    ] {
        let announced = scripted([ResponseTemplate::new(200).set_body_bytes(body.clone())]).await;
        for (how, base) in [
            ("announced", announced.uri()),
            ("streamed", until_close(body.clone())),
        ] {
            let out_path = format!("nested/{how}/{}.bin", name.replace(' ', "-"));
            HttpDownload::new()
                .with_max_size(cap as u64)
                .run(
                    &ctx,
                    json!({"url": format!("{base}/f"), "outPath": out_path}),
                )
                .await
                .unwrap_or_else(|e| panic!("{name} {how}: {e}"));
            assert_eq!(
                std::fs::read(dir.path().join(&out_path)).unwrap(),
                body,
                "{name} {how}"
            );
        }
    }
}
