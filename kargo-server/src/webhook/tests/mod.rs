//! Tests of the webhook receivers: building, paths, lookup, secrets and
//! replays here; each kind's requests in `kinds.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use aws_lc_rs::hmac;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use kargo_core::credentials::{SecretsOptions, StaticCredentials};
use kargo_core::model::{ProjectConfig, Warehouse};
use serde_json::{Value, json};

use super::*;

mod kinds;
mod subscriptions;

const BASE_URL: &str = "http://127.0.0.1:8080/webhooks";

/// A ProjectConfig of `project` with `receivers`.
fn project_config(project: &str, receivers: Value) -> ProjectConfig {
    serde_json::from_value(json!({
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "ProjectConfig",
        "metadata": {"name": project, "namespace": project},
        "spec": {"webhookReceivers": receivers},
    }))
    .unwrap()
}

/// Secrets `(project, name) -> fields`.
type SecretTable = BTreeMap<(String, String), BTreeMap<String, String>>;

/// `(project, Secret name, fields)`.
type SecretEntry<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

fn secret_table(entries: &[SecretEntry<'_>]) -> SecretTable {
    entries
        .iter()
        .map(|(project, name, fields)| {
            (
                ((*project).to_owned(), (*name).to_owned()),
                fields
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            )
        })
        .collect()
}

fn build_with(
    configs: &[ProjectConfig],
    table: &SecretTable,
    base_url: &str,
) -> (Receivers, Vec<ReceiverError>) {
    let lookup =
        |project: &str, name: &str| table.get(&(project.to_owned(), name.to_owned())).cloned();
    Receivers::build(configs, &lookup, base_url)
}

/// One receiver of project `demo`, `kind`, named `name`, whose Secret
/// `hook-secret` holds `value` under the kind's key (plus `extra` settings).
fn receiver(kind: ReceiverKind, name: &str, value: &str, extra: Value) -> Receiver {
    let mut settings = json!({"secretRef": {"name": "hook-secret"}});
    if let (Value::Object(s), Value::Object(e)) = (&mut settings, extra) {
        s.extend(e);
    }
    let configs = [project_config(
        "demo",
        json!([{"name": name, kind.as_str(): settings}]),
    )];
    let table = secret_table(&[("demo", "hook-secret", &[(kind.secret_key(), value)])]);
    let (receivers, errors) = build_with(&configs, &table, BASE_URL);
    assert!(errors.is_empty(), "{errors:?}");
    receivers.iter().next().unwrap().clone()
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

fn hmac_hex(algorithm: hmac::Algorithm, secret: &str, body: &[u8]) -> String {
    hex::encode(hmac::sign(&hmac::Key::new(algorithm, secret.as_bytes()), body).as_ref())
}

fn sha256_hmac(secret: &str, body: &[u8]) -> String {
    hmac_hex(hmac::HMAC_SHA256, secret, body)
}

fn refresh(repo_urls: &[&str], qualifiers: &[&str], changed_paths: &[&str]) -> Delivery {
    let owned = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect();
    Delivery::Refresh {
        repo_urls: owned(repo_urls),
        qualifiers: owned(qualifiers),
        changed_paths: owned(changed_paths),
    }
}

fn closed(url: &str, number: Option<u64>, merged: bool) -> Delivery {
    Delivery::PullRequestClosed {
        url: url.to_owned(),
        number,
        merged,
    }
}

#[track_caller]
fn assert_ignored(result: Result<Delivery, Rejection>, reason_part: &str) {
    match result {
        Ok(Delivery::Ignored { reason }) => {
            assert!(
                reason.contains(reason_part),
                "{reason_part:?} in {reason:?}"
            )
        }
        other => panic!("expected Ignored({reason_part:?}), got {other:?}"),
    }
}

#[track_caller]
fn assert_rejected(result: Result<Delivery, Rejection>, status: StatusCode, message_part: &str) {
    match result {
        Err(rejection) => {
            assert_eq!(rejection.status, status, "{rejection:?}");
            assert!(
                rejection.message.contains(message_part),
                "{message_part:?} in {:?}",
                rejection.message
            );
        }
        Ok(delivery) => panic!("expected {status}, got {delivery:?}"),
    }
}

#[test]
fn the_path_is_kargos_recipe_under_the_base_path() {
    // printf 'demogh-hooks3cret' | sha256sum
    const HASH: &str = "acd1813f7404c82a569e9e5849861da9f56fd4eeb6aa4d859e62d490d4c2fdf4";
    let configs = [project_config(
        "demo",
        json!([{"name": "gh-hook", "github": {"secretRef": {"name": "gh"}}}]),
    )];
    let table = secret_table(&[("demo", "gh", &[("secret", "s3cret")])]);
    for (base_url, path) in [
        (BASE_URL, format!("/webhooks/github/{HASH}")),
        (
            "http://127.0.0.1:8080/webhooks/",
            format!("/webhooks/github/{HASH}"),
        ),
        ("https://kargo.example.com", format!("/github/{HASH}")),
        ("https://kargo.example.com/", format!("/github/{HASH}")),
        (
            "https://kargo.example.com//a/./b/../hooks",
            format!("/a/hooks/github/{HASH}"),
        ),
    ] {
        let (receivers, errors) = build_with(&configs, &table, base_url);
        assert!(errors.is_empty(), "{errors:?}");
        let origin = base_url
            .splitn(4, '/')
            .take(3)
            .collect::<Vec<_>>()
            .join("/");
        assert_eq!(
            receivers.details("demo"),
            vec![ReceiverDetails {
                name: "gh-hook".into(),
                url: format!("{origin}{path}"),
                path: path.clone(),
            }],
            "{base_url}"
        );
        let found = receivers.find(&path).unwrap();
        assert_eq!(
            (found.project(), found.name(), found.kind()),
            ("demo", "gh-hook", ReceiverKind::GitHub)
        );
    }
    // Quay's path: the secret is hashed the same way.
    // printf 'demoquay-hooksq' | sha256sum
    let quay = receiver(ReceiverKind::Quay, "quay-hook", "sq", json!({}));
    assert_eq!(
        quay.details().path,
        "/webhooks/quay/2e023cf565ea707a3ae96227856ed9506301f0be4a2dc302ba215b7586f7a510"
    );
}

#[test]
fn details_are_kargos_webhook_receiver_details_in_config_order() {
    let configs = [
        project_config(
            "demo",
            json!([
                {"name": "z-last", "quay": {"secretRef": {"name": "a"}}},
                {"name": "a-first", "gitlab": {"secretRef": {"name": "b"}}},
            ]),
        ),
        project_config(
            "other",
            json!([{"name": "hub", "dockerhub": {"secretRef": {"name": "a"}}}]),
        ),
    ];
    let table = secret_table(&[
        ("demo", "a", &[("secret", "one")]),
        ("demo", "b", &[("secret-token", "two")]),
        ("other", "a", &[("secret", "three")]),
    ]);
    let (receivers, errors) = build_with(&configs, &table, BASE_URL);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(receivers.len(), 3);
    let demo = receivers.details("demo");
    let names: Vec<&str> = demo.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["z-last", "a-first"]);
    assert!(demo[0].path.starts_with("/webhooks/quay/"));
    assert!(demo[1].path.starts_with("/webhooks/gitlab/"));
    assert_eq!(receivers.details("other").len(), 1);
    assert!(receivers.details("nobody").is_empty());
    let shown = serde_json::to_value(&demo[1]).unwrap();
    assert_eq!(
        shown,
        json!({"name": "a-first", "path": demo[1].path, "url": format!("http://127.0.0.1:8080{}", demo[1].path)})
    );
}

#[test]
fn find_matches_the_exact_path_only() {
    let r = receiver(ReceiverKind::GitHub, "gh", "s3cret", json!({}));
    let (receivers, _) = build_with(
        &[project_config(
            "demo",
            json!([{"name": "gh", "github": {"secretRef": {"name": "s"}}}]),
        )],
        &secret_table(&[("demo", "s", &[("secret", "s3cret")])]),
        BASE_URL,
    );
    let path = r.details().path.clone();
    assert!(receivers.find(&path).is_some());
    for near in [
        format!("{path}/"),
        path.to_uppercase(),
        path[..path.len() - 1].to_owned(),
        path.replace("/github/", "/gitlab/"),
        path.trim_start_matches("/webhooks").to_owned(),
        String::new(),
    ] {
        assert!(receivers.find(&near).is_none(), "{near}");
    }
}

#[test]
fn receivers_that_cannot_be_set_up_are_reported_and_left_out() {
    let configs = [
        project_config(
            "demo",
            json!([
                {"name": "ok", "github": {"secretRef": {"name": "gh"}}},
                {"name": "no-secret", "github": {"secretRef": {"name": "missing"}}},
                {"name": "no-field", "gitlab": {"secretRef": {"name": "gh"}}},
                {"name": "typo", "gitea": {"secretref": {"name": "gh"}}},
                {"name": "ok", "quay": {"secretRef": {"name": "gh"}}},
                {"github": {"secretRef": {"name": "gh"}}},
                {"name": "empty", "harbor": {"secretRef": {"name": "empty"}}},
            ]),
        ),
        // `ab` + `c` and `a` + `bc` hash alike.
        project_config(
            "ab",
            json!([{"name": "c", "quay": {"secretRef": {"name": "s"}}}]),
        ),
        project_config(
            "a",
            json!([{"name": "bc", "quay": {"secretRef": {"name": "s"}}}]),
        ),
    ];
    let table = secret_table(&[
        ("demo", "gh", &[("secret", "hunter2")]),
        ("demo", "empty", &[("auth-header", "")]),
        ("ab", "s", &[("secret", "hunter2")]),
        ("a", "s", &[("secret", "hunter2")]),
    ]);
    let (receivers, errors) = build_with(&configs, &table, BASE_URL);
    let kept: Vec<(&str, &str)> = receivers.iter().map(|r| (r.project(), r.name())).collect();
    assert_eq!(kept, [("demo", "ok"), ("ab", "c")]);
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let expected = [
        "project demo: webhook receiver no-secret: Secret \"missing\" not found",
        "project demo: webhook receiver no-field: Secret \"gh\" has no \"secret-token\" field",
        "project demo: webhookReceivers[3] (typo): gitea.secretref: unknown field `secretref`",
        "project demo: webhookReceivers[4] (ok): name: \"ok\" is already the name of webhookReceivers[0]",
        "project demo: webhookReceivers[5]: missing field `name`",
        "project demo: webhook receiver empty: Secret \"empty\" has an empty \"auth-header\" field",
        "project a: webhook receiver bc: its path is already taken by receiver c of project ab",
    ];
    assert_eq!(messages.len(), expected.len(), "{messages:#?}");
    for (message, expected) in messages.iter().zip(expected) {
        assert!(message.starts_with(expected), "{expected:?} vs {message:?}");
        assert!(!message.contains("hunter2"), "{message}");
    }
    assert_eq!(errors[0].project(), Some("demo"));
    assert_eq!(
        errors[1],
        ReceiverError::SecretFieldMissing {
            project: "demo".into(),
            receiver: "no-field".into(),
            secret: "gh".into(),
            key: "secret-token".into(),
        }
    );

    for bad in [
        "127.0.0.1:8080",
        "ftp://host/x",
        "http:///x",
        "http://host/x?y=1",
    ] {
        let (receivers, errors) = build_with(&configs, &table, bad);
        assert!(receivers.is_empty());
        assert!(
            matches!(&errors[..], [ReceiverError::BaseUrl { base_url, .. }] if base_url == bad),
            "{errors:?}"
        );
        assert_eq!(errors[0].project(), None);
    }
}

#[test]
fn secrets_come_from_named_kubernetes_secrets_without_the_cred_type_label() {
    let secrets = StaticCredentials::new()
        .with_secrets_opts(
            r#"
apiVersion: v1
kind: Secret
metadata:
  name: gh-hook
  namespace: demo
stringData:
  secret: s3cret
---
apiVersion: v1
kind: Secret
metadata:
  name: gh-hook
  namespace: other
data:
  secret: b3RoZXI=
"#,
            "secrets.yaml",
            SecretsOptions::default().keep_unlabelled(),
        )
        .unwrap();
    let lookup = |project: &str, name: &str| {
        secrets.named_secret(project, name).map(|s| {
            s.fields()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect::<BTreeMap<_, _>>()
        })
    };
    let configs = [
        project_config(
            "demo",
            json!([{"name": "gh-hook", "github": {"secretRef": {"name": "gh-hook"}}}]),
        ),
        project_config(
            "other",
            json!([{"name": "gh-hook", "github": {"secretRef": {"name": "gh-hook"}}}]),
        ),
        project_config(
            "third",
            json!([{"name": "gh-hook", "github": {"secretRef": {"name": "gh-hook"}}}]),
        ),
    ];
    let (receivers, errors) = Receivers::build(&configs, &lookup, BASE_URL);
    assert_eq!(receivers.len(), 2);
    assert!(
        matches!(&errors[..], [ReceiverError::SecretNotFound { project, .. }] if project == "third")
    );
    // The same path as in the recipe test: the secret is `s3cret`.
    let demo = &receivers.details("demo")[0];
    assert!(
        demo.path
            .ends_with("acd1813f7404c82a569e9e5849861da9f56fd4eeb6aa4d859e62d490d4c2fdf4")
    );
    // Each project's receiver checks its own secret.
    let body = br#"{"zen": "hi"}"#;
    let signed_with = |secret: &str| {
        headers(&[
            ("x-github-event", "ping"),
            (
                "x-hub-signature-256",
                &format!("sha256={}", sha256_hmac(secret, body)),
            ),
        ])
    };
    let demo = receivers.find(&demo.path).unwrap();
    let other = receivers.find(&receivers.details("other")[0].path).unwrap();
    assert!(demo.handle(&signed_with("s3cret"), body).is_ok());
    assert!(other.handle(&signed_with("other"), body).is_ok());
    assert_eq!(
        other
            .handle(&signed_with("s3cret"), body)
            .unwrap_err()
            .status,
        StatusCode::FORBIDDEN
    );
}

#[test]
fn debug_shows_neither_the_secret_nor_the_path() {
    for kind in ReceiverKind::ALL {
        let extra = if kind == ReceiverKind::Generic {
            json!({"actions": [{"action": "Refresh", "targetSelectionCriteria": [{"kind": "Warehouse", "name": "w"}]}]})
        } else {
            json!({})
        };
        let r = receiver(kind, "hook", "hunter2-secret", extra);
        let hash = r.details().path.rsplit('/').next().unwrap().to_owned();
        let shown = format!("{r:?}");
        assert!(shown.contains("hook") && shown.contains("demo"), "{shown}");
        assert!(
            !shown.contains("hunter2") && !shown.contains(&hash),
            "{shown}"
        );
    }
}

#[test]
fn oversized_bodies_are_refused_before_anything_else() {
    let r = receiver(ReceiverKind::Quay, "quay", "s", json!({}));
    let body = vec![b' '; MAX_BODY_BYTES + 1];
    assert_rejected(
        r.handle(&HeaderMap::new(), &body),
        StatusCode::PAYLOAD_TOO_LARGE,
        "limit",
    );
}

#[test]
fn form_encoded_bodies_are_refused_with_a_hint() {
    let r = receiver(ReceiverKind::GitHub, "gh", "s3cret", json!({}));
    let body = b"payload=%7B%7D";
    let h = headers(&[
        ("x-github-event", "push"),
        ("content-type", "application/x-www-form-urlencoded"),
        (
            "x-hub-signature-256",
            &format!("sha256={}", sha256_hmac("s3cret", body)),
        ),
    ]);
    assert_rejected(
        r.handle(&h, body),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "application/json",
    );
}

#[test]
fn rejections_answer_kargos_error_json() {
    use axum::response::IntoResponse;
    let response = Rejection::new(StatusCode::FORBIDDEN, "nope").into_response();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(axum::body::to_bytes(response.into_body(), 1024))
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        json!({"error": "nope"})
    );
}

#[test]
fn the_replay_guard_is_bounded_per_receiver_and_forgets_removed_receivers() {
    let gl = receiver(ReceiverKind::GitLab, "gl", "t0ken", json!({}));
    let body = br#"{"ref": "refs/tags/v1", "repository": {"git_http_url": "https://gitlab.com/acme/demo.git"}}"#;
    let with_id = |id: &str| {
        headers(&[
            ("x-gitlab-token", "t0ken"),
            ("x-gitlab-event", "Tag Push Hook"),
            ("x-gitlab-event-uuid", id),
        ])
    };
    let guard = ReplayGuard::new(2);
    assert!(guard.handle(&gl, &with_id("a"), body).is_ok());
    assert!(guard.handle(&gl, &with_id("b"), body).is_ok());
    assert_rejected(
        guard.handle(&gl, &with_id("b"), body),
        StatusCode::FORBIDDEN,
        "received before",
    );
    assert!(guard.handle(&gl, &with_id("c"), body).is_ok());
    // `a` was the oldest of three: forgotten.
    assert!(guard.handle(&gl, &with_id("a"), body).is_ok());
    // A refused request is not remembered: it cannot fill the memory.
    let wrong = headers(&[
        ("x-gitlab-token", "wrong"),
        ("x-gitlab-event", "Tag Push Hook"),
        ("x-gitlab-event-uuid", "d"),
    ]);
    assert_rejected(
        guard.handle(&gl, &wrong, body),
        StatusCode::FORBIDDEN,
        "X-Gitlab-Token",
    );
    assert!(guard.handle(&gl, &with_id("d"), body).is_ok());
    // Another receiver has its own memory.
    let other = receiver(ReceiverKind::GitLab, "gl-2", "t0ken", json!({}));
    assert!(guard.handle(&other, &with_id("d"), body).is_ok());
    // Without the receiver any more, its deliveries are forgotten.
    guard.retain(&Receivers::default());
    assert!(guard.handle(&gl, &with_id("d"), body).is_ok());
    // Deliveries without an ID are not guarded.
    let no_id = headers(&[
        ("x-gitlab-token", "t0ken"),
        ("x-gitlab-event", "Tag Push Hook"),
    ]);
    assert!(guard.handle(&gl, &no_id, body).is_ok());
    assert!(guard.handle(&gl, &no_id, body).is_ok());
}

/// A Warehouse of project `demo` with `subscriptions`.
fn warehouse(subscriptions: Value) -> Warehouse {
    serde_json::from_value(json!({
        "metadata": {"name": "w", "namespace": "demo"},
        "spec": {"subscriptions": subscriptions},
    }))
    .unwrap()
}
