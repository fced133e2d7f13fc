//! Every kind of webhook receiver over real HTTP, table-driven: one server
//! with one receiver of each kind, each kind's Warehouse subscribed to a
//! repository of its own in a real registry (`docker-registry` on a
//! loopback port), a bare git repository, or (Docker Hub, which cannot run
//! here) an OCI image layout standing in for `docker.io/acme/dockerhub`.
//!
//! Every repository gets a new tag or commit before the table runs. For
//! each kind, a forged and a missing proof are refused (403 and 401; 404
//! for the kinds whose only proof is the path) and find nothing; the valid
//! request, shaped after the service's documentation and Kargo's receiver
//! tests, makes exactly its Warehouse find the new artifact (its Freight
//! goes from one to two) while the Warehouses of the kinds not yet sent,
//! and a decoy subscribed by no receiver, keep theirs; then its replay is
//! refused (Quay and generic receivers are not guarded: see
//! `ReplayGuard`). A Warehouse following tags of GitHub's repository is
//! left alone by the push to `main`, and refreshed by the tag's push.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::hmac;
use kargo_core::credentials::{SecretsOptions, StaticCredentials};
use kargo_sources::git::GitSource;
use kargo_sources::oci::ImageSource;
use kargo_sources::warehouse::Sources;
use oci_client::secrets::RegistryAuth;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::registry::{Content, Registry, Seed};
use super::*;

/// The `secret` field (GitHub, Gitea, Bitbucket, Azure, Quay, Docker Hub,
/// generic).
const SECRET: &str = "hooks-s3cret-value";
/// The `secret-token` field (GitLab, Artifactory).
const TOKEN: &str = "hooks-t0ken-value";
/// The `auth-header` field (Harbor).
const AUTH_HEADER: &str = "Basic aGFyYm9yOmhvb2tz";

/// How a request proves it knows the secret.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Proof {
    /// A header carrying a signature, token or value: a wrong one gets
    /// 403, none 401.
    Header,
    /// Only the path: a path made with another secret, or none, is 404.
    Path,
}

/// Request headers, in order.
type Headers = Vec<(String, String)>;

/// What a kind's valid request looks like, and how it is proven.
struct Case {
    kind: &'static str,
    proof: Proof,
    /// Whether a second identical delivery is refused.
    replay_refused: bool,
    /// Headers and body of the valid request (`Proof::Header` kinds: the
    /// proof not yet added).
    request: fn(&Env) -> (Headers, Vec<u8>),
    /// The proof headers for `body` made with `secret`.
    prove: fn(&[u8], &str) -> Headers,
}

/// What the payloads need to know about the world.
struct Env {
    /// The registry's `127.0.0.1:PORT`.
    registry: String,
    /// `file://` URLs of the bare repositories, by kind.
    git: BTreeMap<&'static str, String>,
}

fn pairs(items: &[(&str, &str)]) -> Headers {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    hex::encode(hmac::sign(&key, body).as_ref())
}

fn no_proof(_: &[u8], _: &str) -> Headers {
    Vec::new()
}

fn json_body(value: Value) -> Vec<u8> {
    serde_json::to_vec(&value).unwrap()
}

const GIT_KINDS: [&str; 4] = ["github", "gitlab", "gitea", "bitbucket"];

fn cases() -> Vec<Case> {
    vec![
        Case {
            kind: "github",
            proof: Proof::Header,
            replay_refused: true,
            // GitHub's push event (docs: webhook events and payloads).
            request: |env| {
                let url = &env.git["github"];
                let headers = pairs(&[
                    ("x-github-event", "push"),
                    ("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
                    ("content-type", "application/json"),
                ]);
                let body = json_body(json!({
                    "ref": "refs/heads/main",
                    "before": "0000000000000000000000000000000000000000",
                    "after": "1111111111111111111111111111111111111111",
                    "repository": {"full_name": "acme/github", "clone_url": url, "ssh_url": ""},
                    "pusher": {"name": "ann"},
                    "commits": [{"id": "1111111", "added": ["README"], "modified": [], "removed": []}],
                    "head_commit": {"id": "1111111"},
                }));
                (headers, body)
            },
            prove: |body, secret| {
                pairs(&[(
                    "x-hub-signature-256",
                    &format!("sha256={}", hmac_hex(secret, body)),
                )])
            },
        },
        Case {
            kind: "gitlab",
            proof: Proof::Header,
            replay_refused: true,
            // GitLab's Push Hook (docs: webhook events).
            request: |env| {
                let url = &env.git["gitlab"];
                let headers = pairs(&[
                    ("x-gitlab-event", "Push Hook"),
                    (
                        "x-gitlab-event-uuid",
                        "4d5b0a4c-1f3e-4b8e-9d52-7a0e3c1b2f60",
                    ),
                    ("content-type", "application/json"),
                ]);
                let body = json_body(json!({
                    "object_kind": "push",
                    "event_name": "push",
                    "ref": "refs/heads/main",
                    "total_commits_count": 1,
                    "commits": [{"id": "b6568db1", "added": ["README"], "modified": [], "removed": []}],
                    "repository": {"name": "gitlab", "git_http_url": url, "git_ssh_url": ""},
                }));
                (headers, body)
            },
            prove: |_, secret| pairs(&[("x-gitlab-token", secret)]),
        },
        Case {
            kind: "gitea",
            proof: Proof::Header,
            replay_refused: true,
            // Gitea's push event (docs: webhooks).
            request: |env| {
                let url = &env.git["gitea"];
                let headers = pairs(&[
                    ("x-gitea-event", "push"),
                    ("x-gitea-delivery", "f6266f16-1bf3-46a5-9ea4-602e06ead473"),
                    ("content-type", "application/json"),
                ]);
                let body = json_body(json!({
                    "ref": "refs/heads/main",
                    "before": "28e1879d029cb852e4844d9c718537df08844e03",
                    "after": "bffeb74224043ba2feb48d137756c8a9331c449a",
                    "total_commits": 1,
                    "commits": [{"id": "bffeb742", "added": ["README"], "modified": [], "removed": []}],
                    "repository": {"full_name": "acme/gitea", "clone_url": url, "ssh_url": ""},
                }));
                (headers, body)
            },
            prove: |body, secret| {
                pairs(&[(
                    "x-hub-signature-256",
                    &format!("sha256={}", hmac_hex(secret, body)),
                )])
            },
        },
        Case {
            kind: "bitbucket",
            proof: Proof::Header,
            replay_refused: true,
            // Bitbucket Cloud's repo:push (docs: event payloads).
            request: |env| {
                let url = &env.git["bitbucket"];
                let headers = pairs(&[
                    ("x-event-key", "repo:push"),
                    ("x-request-uuid", "a3c9e0a2-5b0b-4c41-9f6e-0d8f1c7b6e11"),
                    ("content-type", "application/json"),
                ]);
                let body = json_body(json!({
                    "push": {"changes": [{"new": {"type": "branch", "name": "main"}, "old": {"type": "branch", "name": "main"}}]},
                    "repository": {"full_name": "acme/bitbucket", "links": {"html": {"href": url}}},
                    "actor": {"display_name": "Ann"},
                }));
                (headers, body)
            },
            prove: |body, secret| {
                pairs(&[(
                    "x-hub-signature",
                    &format!("sha256={}", hmac_hex(secret, body)),
                )])
            },
        },
        Case {
            kind: "azure",
            proof: Proof::Path,
            replay_refused: true,
            // Azure Container Registry's push event (docs: ACR webhook reference).
            request: |env| {
                let headers = pairs(&[
                    ("user-agent", "AzureContainerRegistry/1.0"),
                    ("content-type", "application/json"),
                ]);
                let body = json_body(json!({
                    "id": "cb8c3971-9adc-488b-bdd8-43cbb4974ff5",
                    "timestamp": "2026-01-02T00:00:00Z",
                    "action": "push",
                    "target": {
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "size": 708,
                        "digest": "sha256:b0ba",
                        "repository": "azure",
                        "tag": "v1.0.1",
                    },
                    "request": {"id": "3cbb6949", "host": env.registry, "method": "PUT", "useragent": "oras"},
                }));
                (headers, body)
            },
            prove: no_proof,
        },
        Case {
            kind: "quay",
            proof: Proof::Path,
            replay_refused: false,
            // Quay's repository push notification (docs: notifications).
            request: |env| {
                let body = json_body(json!({
                    "name": "quay",
                    "repository": "acme/quay",
                    "namespace": "acme",
                    "docker_url": format!("{}/quay", env.registry),
                    "homepage": "https://quay.io/repository/acme/quay",
                    "updated_tags": ["v1.0.1"],
                }));
                (pairs(&[("content-type", "application/json")]), body)
            },
            prove: no_proof,
        },
        Case {
            kind: "dockerhub",
            proof: Proof::Path,
            replay_refused: true,
            // Docker Hub's push webhook (docs: repository webhooks).
            request: |_| {
                let body = json_body(json!({
                    "callback_url": "https://registry.hub.docker.com/u/acme/dockerhub/hook/2141b5bi5i5b02bec211i4eeih0242eg11000a/",
                    "push_data": {"pushed_at": 1_767_312_000, "pusher": "acme", "tag": "v1.0.1"},
                    "repository": {
                        "repo_name": "acme/dockerhub",
                        "namespace": "acme",
                        "name": "dockerhub",
                        "repo_url": "https://registry.hub.docker.com/u/acme/dockerhub/",
                        "is_private": false,
                    },
                }));
                (pairs(&[("content-type", "application/json")]), body)
            },
            prove: no_proof,
        },
        Case {
            kind: "artifactory",
            proof: Proof::Header,
            replay_refused: true,
            // JFrog's docker "pushed" event (docs: webhooks, Docker domain).
            request: |env| {
                let body = json_body(json!({
                    "domain": "docker",
                    "event_type": "pushed",
                    "data": {
                        "repo_key": "docker-local",
                        "path": "artifactory/v1.0.1/manifest.json",
                        "name": "manifest.json",
                        "sha256": "0e0c1ac5e1f2a5a8b1c3e3d0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0",
                        "size": 1,
                        "image_name": "artifactory",
                        "image_type": "docker",
                        "tag": "v1.0.1",
                    },
                    "subscription_key": "kargo",
                    "jpd_origin": format!("http://{}", env.registry),
                    "source": "jfrog/ann@example.com",
                }));
                (pairs(&[("content-type", "application/json")]), body)
            },
            prove: |body, secret| pairs(&[("x-jfrog-event-auth", &hmac_hex(secret, body))]),
        },
        Case {
            kind: "harbor",
            proof: Proof::Header,
            replay_refused: true,
            // Harbor's PUSH_ARTIFACT (docs: webhook payload format).
            request: |env| {
                let body = json_body(json!({
                    "type": "PUSH_ARTIFACT",
                    "occur_at": 1_767_312_000,
                    "operator": "ci",
                    "event_data": {
                        "resources": [{"digest": "sha256:b0ba", "tag": "v1.0.1", "resource_url": format!("{}/harbor:v1.0.1", env.registry)}],
                        "repository": {"name": "harbor", "namespace": "library", "repo_full_name": "library/harbor", "repo_type": "private"},
                    },
                }));
                (pairs(&[("content-type", "application/json")]), body)
            },
            prove: |_, secret| pairs(&[("authorization", secret)]),
        },
        Case {
            kind: "generic",
            proof: Proof::Path,
            replay_refused: false,
            // Any service: the receiver's actions read what they need.
            request: |env| {
                let headers = pairs(&[
                    ("x-event-type", "push"),
                    ("content-type", "application/json"),
                ]);
                let body = json_body(json!({
                    "image": format!("{}/generic", env.registry),
                    "tag": "v1.0.1",
                }));
                (headers, body)
            },
            prove: no_proof,
        },
    ]
}

/// The secret each kind's proof is made with.
fn secret_of(kind: &str) -> &'static str {
    match kind {
        "gitlab" | "artifactory" => TOKEN,
        "harbor" => AUTH_HEADER,
        _ => SECRET,
    }
}

/// The manifests: one receiver of each kind, one Warehouse per kind
/// (`wh-KIND`), `wh-generic-plain` on the generic kind's repository
/// without the label its action selects, and `wh-decoy`.
fn manifests(env: &Env) -> String {
    let registry = &env.registry;
    let mut receivers = String::new();
    for case in cases() {
        if case.kind == "generic" {
            continue;
        }
        receivers.push_str(&format!(
            "  - {{name: {0}, {0}: {{secretRef: {{name: hooks}}}}}}\n",
            case.kind
        ));
    }
    let mut warehouses = String::new();
    let mut warehouse = |name: &str, labels: &str, subscription: String| {
        warehouses.push_str(&format!(
            "---\napiVersion: kargo.akuity.io/v1alpha1\nkind: Warehouse\n\
             metadata: {{name: {name}, namespace: demo{labels}}}\n\
             spec:\n  subscriptions: [{subscription}]\n"
        ));
    };
    for kind in GIT_KINDS {
        warehouse(
            &format!("wh-{kind}"),
            "",
            format!("{{git: {{repoURL: \"{}\", branch: main}}}}", env.git[kind]),
        );
    }
    // On GitHub's repository too, but following semantic version tags: a
    // push to a branch does not concern it.
    warehouse(
        "wh-github-tags",
        "",
        format!(
            "{{git: {{repoURL: \"{}\", commitSelectionStrategy: SemVer}}}}",
            env.git["github"]
        ),
    );
    for kind in ["azure", "quay", "harbor", "decoy"] {
        warehouse(
            &format!("wh-{kind}"),
            "",
            format!("{{image: {{repoURL: \"{registry}/{kind}\"}}}}"),
        );
    }
    warehouse(
        "wh-artifactory",
        "",
        format!("{{image: {{repoURL: \"{registry}/docker-local/artifactory\"}}}}"),
    );
    warehouse(
        "wh-dockerhub",
        "",
        "{image: {repoURL: \"docker.io/acme/dockerhub\"}}".to_owned(),
    );
    warehouse(
        "wh-generic",
        ", labels: {hooked: \"yes\"}",
        format!("{{image: {{repoURL: \"{registry}/generic\"}}}}"),
    );
    warehouse(
        "wh-generic-plain",
        "",
        format!("{{image: {{repoURL: \"{registry}/generic\"}}}}"),
    );
    format!(
        r#"apiVersion: kargo.akuity.io/v1alpha1
kind: ProjectConfig
metadata: {{name: demo, namespace: demo}}
spec:
  webhookReceivers:
{receivers}  - name: generic
    generic:
      secretRef: {{name: hooks}}
      actions:
      - action: Refresh
        whenExpression: "request.header('X-Event-Type') == 'push'"
        parameters: {{label: "yes"}}
        targetSelectionCriteria:
        - kind: Warehouse
          labelSelector:
            matchLabels: {{hooked: "${{{{ params.label }}}}"}}
          indexSelector:
            matchIndices:
            - key: subscribedURLs
              operator: Equals
              value: "${{{{ normalizeImage(request.body.image) }}}}"
{warehouses}"#
    )
}

fn secrets() -> Arc<StaticCredentials> {
    let yaml = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: hooks, namespace: demo}}\n\
         stringData: {{secret: {SECRET}, secret-token: {TOKEN}, auth-header: '{AUTH_HEADER}'}}\n"
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

/// A bare repository `NAME.git` in `dir` with one commit on `main`; its
/// `file://` URL.
fn bare_repo(dir: &Path, name: &str) -> String {
    let bare = dir.join(format!("{name}.git"));
    std::fs::create_dir_all(&bare).unwrap();
    kargo_test_support::git(&bare, &["init", "-q", "--bare", "--initial-branch=main"]);
    let seed = dir.join(format!("{name}-seed"));
    kargo_test_support::write(&seed, "README", "one\n");
    kargo_test_support::git(&seed, &["init", "-q", "--initial-branch=main"]);
    kargo_test_support::git(&seed, &["add", "-A"]);
    kargo_test_support::git(&seed, &["commit", "-q", "-m", "one"]);
    kargo_test_support::git(&seed, &["push", "-q", bare.to_str().unwrap(), "main"]);
    format!("file://{}", bare.display())
}

/// A second commit on `NAME.git`'s `main`, tagged `v1.0.0`.
fn commit_again(dir: &Path, name: &str) {
    let seed = dir.join(format!("{name}-seed"));
    kargo_test_support::write(&seed, "README", "two\n");
    kargo_test_support::git(&seed, &["commit", "-q", "-am", "two"]);
    kargo_test_support::git(&seed, &["tag", "v1.0.0"]);
    let bare = dir.join(format!("{name}.git"));
    kargo_test_support::git(
        &seed,
        &["push", "-q", "--tags", bare.to_str().unwrap(), "main"],
    );
}

/// Pushes `tags` of small images to `registry`'s repository `repo`.
async fn push_tags(registry: &str, repo: &str, tags: &[(&str, &str)]) {
    let seeds: Vec<Seed> = tags
        .iter()
        .map(|(tag, created)| Seed::new(tag).created(created))
        .collect();
    Content::from_seeds(&seeds)
        .push(registry, repo, &RegistryAuth::Anonymous)
        .await;
}

const V1: (&str, &str) = ("v1.0.0", "2026-01-01T00:00:00Z");
const V2: (&str, &str) = ("v1.0.1", "2026-01-02T00:00:00Z");

/// The registry repositories, by Warehouse.
const IMAGE_REPOS: [(&str, &str); 6] = [
    ("wh-azure", "azure"),
    ("wh-quay", "quay"),
    ("wh-harbor", "harbor"),
    ("wh-decoy", "decoy"),
    ("wh-artifactory", "docker-local/artifactory"),
    ("wh-generic", "generic"),
];

/// How many pieces of Freight Warehouse `warehouse` has.
async fn freight_of(server: &TestServer, warehouse: &str) -> usize {
    let (status, f) = server
        .get(
            &format!("/v1beta1/projects/demo/freight?origins={warehouse}"),
            Some(VIEWER),
        )
        .await;
    assert_eq!(status, 200, "{f}");
    f["groups"][""]["items"].as_array().map_or(0, Vec::len)
}

/// Waits (at most 30 s) until `warehouse` has `n` pieces of Freight.
async fn wait_for_freight(server: &TestServer, warehouse: &str, n: usize) {
    server
        .wait_for(
            &format!("/v1beta1/projects/demo/freight?origins={warehouse}"),
            Some(VIEWER),
            |f| {
                f["groups"][""]["items"]
                    .as_array()
                    .is_some_and(|i| i.len() == n)
            },
        )
        .await;
}

/// `sha256(project + name + secret)`: Kargo's receiver path hash.
fn path_hash(name: &str, secret: &str) -> String {
    hex::encode(Sha256::digest(format!("demo{name}{secret}").as_bytes()))
}

async fn post(
    server: &TestServer,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> (u16, Value) {
    let mut request = server.client.post(server.url(path)).body(body.to_vec());
    for (k, v) in headers {
        request = request.header(k, v);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn every_kind_refreshes_exactly_its_warehouse_and_refuses_forged_missing_and_replayed_requests()
 {
    let registry = Registry::start(None);
    let world = PipelineWorld::new(&[V1], "");
    let dir = world.path("repos");
    let mut git = BTreeMap::new();
    for kind in GIT_KINDS {
        git.insert(kind, bare_repo(&dir, kind));
    }
    let env = Env {
        registry: registry.addr.clone(),
        git,
    };
    for (_, repo) in IMAGE_REPOS {
        push_tags(&env.registry, repo, &[V1]).await;
    }
    let hub_layout = world.path("dockerhub-layout");
    kargo_test_support::layout_with_tags(&hub_layout, &[V1]);
    kargo_test_support::write(world.dir.path(), "manifests/project.yaml", &manifests(&env));
    std::fs::remove_file(world.path("manifests/stages.yaml")).unwrap();

    // Docker Hub cannot be reached from here: its repository is read from
    // an image layout instead.
    let sources = Sources::new()
        .with_oci(
            ImageSource::builder()
                .with_layout("docker.io/acme/dockerhub", &hub_layout)
                .build(),
        )
        .with(GitSource::builder().build());
    let store = sqlite(&world).await;
    let server = TestServer::start_with(
        &world,
        store,
        true,
        |c| c.sources(sources),
        |b| b.secrets(secrets()),
    )
    .await;
    let (status, config) = server
        .get("/v1beta1/projects/demo/config", Some(VIEWER))
        .await;
    assert_eq!(status, 200, "{config}");
    let paths: BTreeMap<String, String> = config["status"]["webhookReceivers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                r["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(paths.len(), 10, "{config:#}");

    // The first pass finds one artifact everywhere.
    let mut warehouses: Vec<String> = IMAGE_REPOS.iter().map(|(w, _)| (*w).to_owned()).collect();
    warehouses.extend(GIT_KINDS.iter().map(|k| format!("wh-{k}")));
    warehouses.extend(["wh-dockerhub".to_owned(), "wh-generic-plain".to_owned()]);
    for w in &warehouses {
        wait_for_freight(&server, w, 1).await;
    }
    // The tag-following Warehouse found no tag.
    server
        .wait_for(
            "/v1beta1/projects/demo/warehouses/wh-github-tags",
            Some(VIEWER),
            |w| {
                w.pointer("/status/discoveredArtifacts/discoveredAt")
                    .is_some()
            },
        )
        .await;
    assert_eq!(freight_of(&server, "wh-github-tags").await, 0);
    let mut baseline: BTreeMap<String, usize> = warehouses.iter().map(|w| (w.clone(), 1)).collect();
    baseline.insert("wh-github-tags".into(), 0);
    // Then every repository gets a second one, which only a refresh finds.
    for (_, repo) in IMAGE_REPOS {
        push_tags(&env.registry, repo, &[V1, V2]).await;
    }
    kargo_test_support::layout_with_tags(&hub_layout, &[V1, V2]);
    for kind in GIT_KINDS {
        commit_again(&dir, kind);
    }

    let mut pending: Vec<String> = baseline.keys().cloned().collect();
    for case in cases() {
        let kind = case.kind;
        let own = format!("wh-{kind}");
        let path = &paths[kind];
        assert!(path.starts_with(&format!("/webhooks/{kind}/")), "{path}");
        let (headers, body) = (case.request)(&env);

        // Forged and missing proofs.
        match case.proof {
            Proof::Header => {
                let mut forged = headers.clone();
                forged.extend((case.prove)(&body, "not-the-secret"));
                let (status, answer) = post(&server, path, &forged, &body).await;
                assert_eq!(status, 403, "{kind} forged: {answer}");
                let (status, answer) = post(&server, path, &headers, &body).await;
                assert_eq!(status, 401, "{kind} missing: {answer}");
            }
            Proof::Path => {
                let forged = format!("/webhooks/{kind}/{}", path_hash(kind, "not-the-secret"));
                let (status, _) = post(&server, &forged, &headers, &body).await;
                assert_eq!(status, 404, "{kind} forged path");
                let (status, _) =
                    post(&server, &format!("/webhooks/{kind}"), &headers, &body).await;
                assert_eq!(status, 404, "{kind} missing path");
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            freight_of(&server, &own).await,
            1,
            "{kind}: a refused request refreshed {own}"
        );

        // The valid request.
        let mut valid = headers.clone();
        valid.extend((case.prove)(&body, secret_of(kind)));
        let (status, answer) = post(&server, path, &valid, &body).await;
        assert_eq!(status, 200, "{kind}: {answer}");
        wait_for_freight(&server, &own, 2).await;
        pending.retain(|w| *w != own);
        tokio::time::sleep(Duration::from_millis(300)).await;
        for other in &pending {
            assert_eq!(
                freight_of(&server, other).await,
                baseline[other],
                "{kind}'s request refreshed {other} too"
            );
        }

        // The same delivery again.
        let (status, answer) = post(&server, path, &valid, &body).await;
        let expected = if case.replay_refused { 403 } else { 200 };
        assert_eq!(status, expected, "{kind} replayed: {answer}");
        if kind == "generic" {
            // Kargo's answer: one result per action, naming what it selected.
            assert_eq!(
                answer["results"][0]["selectedTargets"],
                json!([{"namespace": "demo", "name": "wh-generic", "success": true}]),
                "{answer}"
            );
            assert_eq!(answer["results"][0]["result"], "Success", "{answer}");
        }
    }
    assert_eq!(pending, ["wh-decoy", "wh-generic-plain", "wh-github-tags"]);

    // GitHub's push of the tag concerns the tag-following Warehouse, and
    // only it.
    let body = json_body(json!({
        "ref": "refs/tags/v1.0.0",
        "repository": {"full_name": "acme/github", "clone_url": env.git["github"], "ssh_url": ""},
        "commits": [],
    }));
    let mut tag_push = pairs(&[
        ("x-github-event", "push"),
        ("x-github-delivery", "5f0f9bce-4b7d-11f0-8d5e-1a2b3c4d5e6f"),
        ("content-type", "application/json"),
    ]);
    tag_push.push((
        "x-hub-signature-256".to_owned(),
        format!("sha256={}", hmac_hex(SECRET, &body)),
    ));
    let (status, answer) = post(&server, &paths["github"], &tag_push, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["msg"], "refreshing 1 Warehouse(s)", "{answer}");
    wait_for_freight(&server, "wh-github-tags", 1).await;

    // A generic request its action's whenExpression does not match.
    let mut headers = pairs(&[
        ("x-event-type", "ping"),
        ("content-type", "application/json"),
    ]);
    let (status, answer) = post(&server, &paths["generic"], &headers, b"{}").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["results"][0]["result"], "NotApplicable", "{answer}");
    assert_eq!(answer["results"][0]["matchedWhenExpression"], false);
    // A body that is not JSON.
    headers[0].1 = "push".into();
    let (status, _) = post(&server, &paths["generic"], &headers, b"not json").await;
    assert_eq!(status, 400);

    let metrics = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for case in cases() {
        let accepted = (if case.replay_refused { 1 } else { 2 })
            + usize::from(matches!(case.kind, "generic" | "github"));
        let line = format!(
            "kargo_webhook_requests_total{{receiver=\"demo/{}\",outcome=\"accepted\"}} {accepted}",
            case.kind
        );
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
    }
    server.stop().await;
    drop(registry);
}
