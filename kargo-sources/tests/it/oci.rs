//! Image and OCI artifact discovery against a real registry
//! (`docker-registry`, started per test on 127.0.0.1) and against an OCI
//! image-layout directory holding the same content.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use kargo_core::credentials::{
    CredentialType, Credentials, CredentialsProvider, StaticCredentials,
};
use kargo_core::model::{RepoSubscription, Warehouse};
use kargo_sources::oci::ImageSource;
use kargo_sources::warehouse::{Sources, discover};
use kargo_sources::{DiscoverOptions, Discovered, DynSource, ImageDiscovery, Source};
use kargo_test_support::registry::{Content, CountingProxy, Registry, Seed, value};
use oci_client::secrets::RegistryAuth;
use serde_json::json;
use sha1::{Digest as _, Sha1};

const POLICY_CONFIG: &str = "application/vnd.acme.policy.config.v1+json";
const POLICY: &str = "application/vnd.acme.policy.v1";
const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";

/// 31 tags: strict and loose semvers, prereleases, two- and one-platform
/// indexes, distinct build times, annotations.
fn catalogue() -> Vec<Seed> {
    let mut seeds: Vec<Seed> = (0..20)
        .map(|i| Seed::new(&format!("1.0.{i}")).created(&format!("2024-01-{:02}T00:00:00Z", i + 1)))
        .collect();
    seeds.extend([
        Seed::new("1.2.0-rc.1").created("2024-02-01T00:00:00Z"),
        Seed::new("1.2.0").created("2024-02-02T00:00:00Z"),
        Seed::new("1.10.0")
            .created("2024-02-10T00:00:00Z")
            .annotation(
                "org.opencontainers.image.source",
                "https://github.com/acme/app",
            ),
        Seed::new("2.0.0")
            .created("2024-03-01T00:00:00Z")
            .platforms(&["linux/amd64", "linux/arm64/v8"])
            .annotation("org.opencontainers.image.description", "two platforms")
            .entry_annotation("com.acme.platform-note", "per-platform"),
        Seed::new("2.1.0-rc.1")
            .created("2024-03-15T00:00:00Z")
            .platforms(&["linux/amd64"]),
        Seed::new("2.1.0")
            .created("2024-04-01T00:00:00Z")
            .platforms(&["linux/amd64"]),
        Seed::new("3.0.0-alpha.1").created("2024-05-01T00:00:00Z"),
        Seed::new("v4").created("2024-04-15T00:00:00Z"),
        Seed::new("latest").created("2024-02-11T00:00:00.123456789Z"),
        Seed::new("sha-abc1234").created("2025-06-01T12:30:00Z"),
        // An image without a config time whose annotation says when it was built.
        Seed::new("zzz-old").annotation("org.opencontainers.image.created", "2023-01-01T00:00:00Z"),
    ]);
    assert_eq!(seeds.len(), 31);
    seeds
}

fn image_sub(repo_url: &str, fields: serde_json::Value) -> RepoSubscription {
    let mut image = json!({"repoURL": repo_url});
    image
        .as_object_mut()
        .expect("object")
        .extend(fields.as_object().expect("object").clone());
    serde_json::from_value(json!({"name": "app", "image": image})).expect("valid subscription")
}

async fn images(source: &DynSource, sub: &RepoSubscription) -> ImageDiscovery {
    match source.discover(sub, DiscoverOptions::default()).await {
        Ok(Discovered::Images(d)) => d,
        other => panic!("{sub:?}: {other:?}"),
    }
}

fn tags(d: &ImageDiscovery) -> Vec<&str> {
    d.references.iter().map(|r| r.tag.as_str()).collect()
}

/// One selection and the tags it must yield, newest first.
struct Case {
    what: &'static str,
    fields: serde_json::Value,
    want: &'static [&'static str],
}

fn cases() -> Vec<Case> {
    let c = |what, fields, want| Case { what, fields, want };
    vec![
        c(
            "SemVer by default: strict semvers only, prereleases count without a constraint",
            json!({"discoveryLimit": 1}),
            &["3.0.0-alpha.1"],
        ),
        c(
            "SemVer with a constraint leaves prereleases out",
            json!({"constraint": "^2", "discoveryLimit": 3}),
            &["2.1.0", "2.0.0"],
        ),
        c(
            "SemVer compares numerically",
            json!({"constraint": "^1", "discoveryLimit": 2}),
            &["1.10.0", "1.2.0"],
        ),
        c(
            "SemVer with strictSemvers false takes v4",
            json!({"strictSemvers": false, "discoveryLimit": 1}),
            &["v4"],
        ),
        c(
            "ignoreTagsRegexes",
            json!({"ignoreTagsRegexes": ["alpha", "rc"], "discoveryLimit": 1}),
            &["2.1.0"],
        ),
        c(
            "discoveryLimit keeps the newest",
            json!({"discoveryLimit": 5}),
            &["3.0.0-alpha.1", "2.1.0", "2.1.0-rc.1", "2.0.0", "1.10.0"],
        ),
        c(
            "Lexical",
            json!({"imageSelectionStrategy": "Lexical", "discoveryLimit": 1}),
            &["zzz-old"],
        ),
        c(
            "Lexical with allowTagsRegexes",
            json!({"imageSelectionStrategy": "Lexical", "allowTagsRegexes": ["^1\\.0\\."], "discoveryLimit": 3}),
            &["1.0.9", "1.0.8", "1.0.7"],
        ),
        c(
            "allow and ignore: an ignore match wins",
            json!({"imageSelectionStrategy": "Lexical", "allowTagsRegexes": ["^1\\.0\\.1"], "ignoreTagsRegexes": ["9$"], "discoveryLimit": 2}),
            &["1.0.18", "1.0.17"],
        ),
        c(
            "NewestBuild",
            json!({"imageSelectionStrategy": "NewestBuild", "discoveryLimit": 3}),
            &["sha-abc1234", "3.0.0-alpha.1", "v4"],
        ),
        c(
            "NewestBuild uses created annotations",
            json!({"imageSelectionStrategy": "NewestBuild", "allowTagsRegexes": ["^zzz|^1\\.0\\.0$"]}),
            &["1.0.0", "zzz-old"],
        ),
        c(
            "Digest follows a mutable tag",
            json!({"imageSelectionStrategy": "Digest", "constraint": "latest"}),
            &["latest"],
        ),
        c(
            "Digest of a missing tag finds nothing",
            json!({"imageSelectionStrategy": "Digest", "constraint": "nope"}),
            &[],
        ),
        c(
            "platform resolves through indexes",
            json!({"platform": "linux/arm64/v8"}),
            &["2.0.0"],
        ),
        c(
            "platform with NewestBuild",
            json!({"platform": "linux/arm64/v8", "imageSelectionStrategy": "NewestBuild"}),
            &["2.0.0"],
        ),
        c(
            "single-platform images match their config's platform",
            json!({"platform": "linux/amd64", "discoveryLimit": 2}),
            &["3.0.0-alpha.1", "2.1.0"],
        ),
        c(
            "no image for the platform",
            json!({"platform": "windows/amd64"}),
            &[],
        ),
    ]
}

/// Runs every case against `repo_url` and returns the discoveries.
async fn run_cases(source: &DynSource, repo_url: &str) -> Vec<ImageDiscovery> {
    let mut out = Vec::new();
    for case in cases() {
        let d = images(source, &image_sub(repo_url, case.fields.clone())).await;
        assert_eq!(tags(&d), case.want, "{}", case.what);
        out.push(d);
    }
    out
}

#[tokio::test]
async fn every_strategy_filter_and_platform_against_the_registry_and_a_layout() {
    let registry = Registry::start(None);
    let content = Content::from_seeds(&catalogue());
    content
        .push(&registry.addr, "acme/app", &RegistryAuth::Anonymous)
        .await;
    let layout = tempfile::tempdir().expect("tempdir");
    content.write_layout(layout.path());

    // Small pages: the 31 tags take five pages.
    let source = ImageSource::builder().with_page_size(7).build();
    let remote = run_cases(&source, &format!("{}/acme/app", registry.addr)).await;
    let local = run_cases(
        &source,
        &format!("oci-layout://{}", layout.path().display()),
    )
    .await;
    for (r, l) in remote.iter().zip(&local) {
        assert_eq!(
            r.references, l.references,
            "the layout gives the same picks"
        );
    }

    // Digests, times and annotations.
    let by_tag = |d: &ImageDiscovery, tag: &str| {
        d.references
            .iter()
            .find(|r| r.tag == tag)
            .cloned()
            .expect("tag present")
    };
    let d = images(
        &source,
        &image_sub(
            &format!("{}/acme/app", registry.addr),
            json!({"constraint": "^1", "discoveryLimit": 100}),
        ),
    )
    .await;
    assert_eq!(d.references.len(), 22, "1.0.0-1.0.19, 1.2.0, 1.10.0");
    let v = by_tag(&d, "1.10.0");
    assert_eq!(v.digest, content.digest_of("1.10.0"));
    assert_eq!(
        v.created_at.map(|t| t.to_string()).as_deref(),
        Some("2024-02-10T00:00:00Z")
    );
    assert_eq!(
        v.annotations["org.opencontainers.image.source"],
        "https://github.com/acme/app"
    );

    let arm = &remote[13].references[0];
    assert_eq!(
        arm.digest,
        content.digest_of("2.0.0"),
        "an index's digest, not the platform's"
    );
    assert_eq!(
        arm.created_at.map(|t| t.to_string()).as_deref(),
        Some("2024-03-01T00:00:00Z")
    );
    assert_eq!(
        arm.annotations["org.opencontainers.image.description"],
        "two platforms"
    );
    assert_eq!(arm.annotations["com.acme.platform-note"], "per-platform");
    let latest = &remote[11].references[0];
    assert_eq!(latest.digest, content.digest_of("latest"));
    assert_eq!(
        latest.created_at.map(|t| t.to_string()).as_deref(),
        Some("2024-02-11T00:00:00.123Z")
    );

    // The whole repository is listed, across pages.
    let all = images(
        &source,
        &image_sub(
            &format!("{}/acme/app", registry.addr),
            json!({"imageSelectionStrategy": "Lexical", "discoveryLimit": 100}),
        ),
    )
    .await;
    assert_eq!(all.references.len(), 31);
}

#[tokio::test]
async fn a_registry_url_can_be_served_from_a_layout_directory() {
    let layout = tempfile::tempdir().expect("tempdir");
    Content::from_seeds(&catalogue()).write_layout(layout.path());
    let source = ImageSource::builder()
        .with_layout("ghcr.io/acme/app", layout.path())
        .build();
    let d = images(
        &source,
        &image_sub("ghcr.io/acme/app", json!({"constraint": "^2"})),
    )
    .await;
    assert_eq!(d.repo_url, "ghcr.io/acme/app");
    assert_eq!(tags(&d)[0], "2.1.0");
}

#[derive(Debug)]
struct OneUser(&'static str, &'static str);

#[async_trait]
impl CredentialsProvider for OneUser {
    async fn get(
        &self,
        kind: CredentialType,
        _url: &str,
    ) -> kargo_core::Result<Option<Credentials>> {
        Ok((kind == CredentialType::Image).then(|| Credentials {
            username: self.0.into(),
            password: self.1.into(),
        }))
    }
}

#[tokio::test]
async fn basic_auth_with_htpasswd() {
    let registry = Registry::start(Some(("kargo", "s3cret-pass")));
    Content::from_seeds(&catalogue()[20..])
        .push(
            &registry.addr,
            "acme/app",
            &RegistryAuth::Basic("kargo".into(), "s3cret-pass".into()),
        )
        .await;
    let sub = image_sub(
        &format!("{}/acme/app", registry.addr),
        json!({"constraint": "^2"}),
    );

    let anonymous = ImageSource::default();
    let err = anonymous
        .discover(&sub, DiscoverOptions::default())
        .await
        .expect_err("401");
    let msg = err.to_string();
    assert!(
        msg.contains("image subscription \"app\"") && msg.contains("refused access"),
        "{msg}"
    );

    let wrong = ImageSource::builder()
        .with_credentials(Arc::new(OneUser("kargo", "wrong")))
        .build();
    let err = wrong
        .discover(&sub, DiscoverOptions::default())
        .await
        .expect_err("401");
    assert!(
        !format!("{err} {err:?}").contains("wrong"),
        "no secret in errors: {err:?}"
    );

    let right = ImageSource::builder()
        .with_credentials(Arc::new(OneUser("kargo", "s3cret-pass")))
        .build();
    let d = images(&right, &sub).await;
    assert_eq!(tags(&d), ["2.1.0", "2.0.0"]);
}

#[tokio::test]
async fn an_unreachable_registry_is_an_error_naming_the_subscription() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let sub = image_sub(&format!("127.0.0.1:{port}/acme/app"), json!({}));
    let err = ImageSource::default()
        .discover(&sub, DiscoverOptions::default())
        .await
        .expect_err("unreachable");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!(
            "image subscription \"app\" (127.0.0.1:{port}/acme/app)"
        )),
        "{msg}"
    );
}

/// A reply of a [`stub`] server: status, headers, body.
type Reply = (u16, Vec<(&'static str, String)>, String);

/// A tiny HTTP/1.1 server on 127.0.0.1 that answers each request with
/// `handler(request, own address)` and records every request it gets.
/// It stands in for registry behaviour `docker-registry` cannot show
/// (ignoring `n`/`last`, a token service).
async fn stub(
    handler: impl Fn(&str, &str) -> Reply + Send + Sync + 'static,
) -> (String, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (handler, log, own) = (Arc::new(handler), seen.clone(), addr.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let (handler, log, own) = (handler.clone(), log.clone(), own.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16384];
                loop {
                    let Ok(n) = stream.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    let request = String::from_utf8_lossy(&buf[..n]).to_string();
                    log.lock().expect("log").push(request.clone());
                    let (status, headers, body) = handler(&request, &own);
                    let mut response = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
                        body.len()
                    );
                    for (k, v) in headers {
                        response.push_str(&format!("{k}: {v}\r\n"));
                    }
                    response.push_str("\r\n");
                    response.push_str(&body);
                    if stream.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, seen)
}

fn count(seen: &Mutex<Vec<String>>, needle: &str) -> usize {
    seen.lock()
        .expect("log")
        .iter()
        .filter(|r| r.contains(needle))
        .count()
}

/// Answers every tag-list request with the same page, ignoring `n` and `last`.
async fn stubborn_registry(tags: Vec<String>) -> (String, Arc<Mutex<Vec<String>>>) {
    let body = json!({"name": "acme/app", "tags": tags}).to_string();
    stub(move |_, _| (200, Vec::new(), body.clone())).await
}

#[tokio::test]
async fn tag_pagination_ends_when_the_server_ignores_n_and_last() {
    let all: Vec<String> = (0..10).map(|i| format!("1.0.{i}")).collect();
    // Ignores `n`: ten tags when three were asked for, every time.
    let (addr, requests) = stubborn_registry(all.clone()).await;
    let source = ImageSource::builder().with_page_size(3).build();
    // Nothing passes the filter, so only tags are listed.
    let sub = image_sub(
        &format!("{addr}/acme/app"),
        json!({"allowTagsRegexes": ["^none$"]}),
    );
    let d = images(&source, &sub).await;
    assert!(d.references.is_empty());
    assert_eq!(
        count(&requests, "/tags/list"),
        2,
        "a repeated page ends the listing"
    );

    // Honours `n` but ignores `last`: the same first page forever.
    let (addr, requests) = stubborn_registry(all[..3].to_vec()).await;
    let sub = image_sub(
        &format!("{addr}/acme/app"),
        json!({"allowTagsRegexes": ["^none$"]}),
    );
    images(&source, &sub).await;
    assert_eq!(count(&requests, "/tags/list"), 2);
}

fn sha1_hex(s: &str) -> String {
    hex::encode(Sha1::digest(s.as_bytes()))
}

#[tokio::test]
async fn warehouse_discovery_assembles_freight_with_kargos_id() {
    let registry = Registry::start(None);
    let app = Content::from_seeds(&catalogue());
    app.push(&registry.addr, "acme/app", &RegistryAuth::Anonymous)
        .await;
    // A Lambda function shipped as an image, and a policy bundle artifact.
    let lambda = Content::from_seeds(&[
        Seed::new("1.0.0").created("2024-01-01T00:00:00Z"),
        Seed::new("1.1.0")
            .created("2024-02-01T00:00:00Z")
            .platforms(&["linux/arm64"]),
    ]);
    lambda
        .push(&registry.addr, "acme/lambda", &RegistryAuth::Anonymous)
        .await;
    let policies = Content::from_seeds(&[
        Seed::new("1.0.0").artifact(POLICY_CONFIG, POLICY),
        Seed::new("1.1.0")
            .artifact(POLICY_CONFIG, POLICY)
            .annotation("org.opencontainers.image.created", "2024-06-01T00:00:00Z"),
        Seed::new("1.2.0").artifact(HELM_CONFIG, ""),
    ]);
    let policy_dir = tempfile::tempdir().expect("tempdir");
    policies.write_layout(policy_dir.path());

    let yaml = format!(
        r#"
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: guestbook
  namespace: demo
spec:
  subscriptions:
  - image:
      repoURL: {addr}/acme/app
      constraint: ^2
  - name: lambda
    image:
      repoURL: {addr}/acme/lambda
      platform: linux/arm64
  - name: policies
    oci:
      config:
        repoURL: oci-layout://{dir}
        artifactType: {POLICY}
      discoveryLimit: 5
"#,
        addr = registry.addr,
        dir = policy_dir.path().display()
    );
    let warehouse: Warehouse = serde_saphyr::from_str(&yaml).expect("valid Warehouse");
    let sources = Sources::builtin();

    let found = sources
        .discover_warehouse(&warehouse, DiscoverOptions::default())
        .await
        .expect("discovers");
    assert_eq!(found.results.len(), 3);
    assert!(found.missing.is_empty());
    let Discovered::Artifacts(bundles) = &found.results[2].discovered else {
        panic!("artifacts")
    };
    let versions: Vec<_> = bundles
        .artifact_references
        .iter()
        .map(|a| a.version.clone())
        .collect();
    assert_eq!(
        versions,
        [
            format!("1.1.0@{}", policies.digest_of("1.1.0")),
            format!("1.0.0@{}", policies.digest_of("1.0.0"))
        ],
        "the chart-typed 1.2.0 is filtered out by artifactType"
    );

    let freight = discover(&sources, [&warehouse]).await.expect("discovers");
    let [f] = &freight[..] else {
        panic!("one Freight per Warehouse: {freight:?}")
    };
    assert_eq!(f.origin.to_string(), "Warehouse/guestbook");
    assert_eq!(f.metadata.namespace, "demo");
    assert_eq!(f.images.len(), 2);
    assert_eq!(f.images[0].repo_url, format!("{}/acme/app", registry.addr));
    assert_eq!(f.images[0].tag, "2.1.0");
    assert_eq!(f.images[0].subscription_name, "");
    assert_eq!(f.images[1].tag, "1.1.0");
    assert_eq!(f.images[1].subscription_name, "lambda");
    let artifact = &f.artifacts[0];
    assert_eq!(artifact.artifact_type, POLICY);
    assert_eq!(artifact.subscription_name, "policies");
    let meta = artifact.metadata.as_ref().expect("metadata");
    assert_eq!(meta["tag"], "1.1.0");
    assert_eq!(meta["createdAt"], "2024-06-01T00:00:00Z");

    // Kargo's ID recipe, computed here from the documented parts.
    let mut parts = [
        format!(
            "{}/acme/app:2.1.0@{}",
            registry.addr,
            app.digest_of("2.1.0")
        ),
        format!(
            "{}/acme/lambda:1.1.0@{}:lambda",
            registry.addr,
            lambda.digest_of("1.1.0")
        ),
        format!("{POLICY}:policies:1.1.0@{}", policies.digest_of("1.1.0")),
    ];
    parts.sort();
    let id = sha1_hex(&format!("Warehouse/guestbook:{}", parts.join("|")));
    assert_eq!(f.metadata.name, id);
    assert_eq!(f.id(), id);
    let doc = value(f);
    assert_eq!(doc["kind"], "Freight");
    assert_eq!(doc["images"][1]["subscriptionName"], "lambda");
    assert_eq!(doc["artifacts"][0]["subscriptionName"], "policies");
}

#[tokio::test]
async fn a_subscription_that_finds_nothing_blocks_freight() {
    let layout = tempfile::tempdir().expect("tempdir");
    Content::from_seeds(&catalogue()).write_layout(layout.path());
    let yaml = format!(
        "metadata: {{name: w}}\nspec:\n  subscriptions:\n  - image: {{repoURL: 'oci-layout://{}', constraint: '^9'}}\n",
        layout.path().display()
    );
    let warehouse: Warehouse = serde_saphyr::from_str(&yaml).expect("valid Warehouse");
    let err = discover(&Sources::builtin(), [&warehouse])
        .await
        .expect_err("nothing found");
    let msg = err.to_string();
    assert!(
        msg.contains("Warehouse \"w\"") && msg.contains("image subscription oci-layout://"),
        "{msg}"
    );

    // A subscription type no registered source handles.
    let other: Warehouse = serde_saphyr::from_str(
        "metadata: {name: g}\nspec:\n  subscriptions:\n  - name: site\n    s3: {config: {repoURL: 's3://bucket/site'}}\n",
    )
    .expect("valid Warehouse");
    let err = discover(&Sources::builtin(), [&other])
        .await
        .expect_err("no s3 source");
    assert!(
        matches!(err, kargo_core::Error::Unsupported { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("s3 subscription \"site\" (s3://bucket/site)"),
        "{err}"
    );

    // The built-in git source handles git subscriptions; an unreachable
    // repository is an error naming the subscription.
    let cache = tempfile::tempdir().expect("tempdir");
    let sources = Sources::builtin().with(
        kargo_sources::git::GitSource::builder()
            .with_cache(kargo_git::RepoCache::new(cache.path()))
            .build(),
    );
    assert!(sources.source_for(&git_sub()).is_some());
    let git: Warehouse = serde_saphyr::from_str(
        "metadata: {name: g}\nspec:\n  subscriptions:\n  - git: {repoURL: 'http://127.0.0.1:9/r.git'}\n",
    )
    .expect("valid Warehouse");
    let err = discover(
        &Sources::new().with(
            kargo_sources::git::GitSource::builder()
                .with_cache(kargo_git::RepoCache::new(cache.path()))
                .build(),
        ),
        [&git],
    )
    .await
    .expect_err("unreachable repository");
    assert!(
        err.to_string()
            .contains("git subscription http://127.0.0.1:9/r.git"),
        "{err}"
    );
}

fn git_sub() -> RepoSubscription {
    serde_json::from_value(json!({"git": {"repoURL": "https://example.com/r.git"}})).expect("valid")
}

#[tokio::test]
async fn conformance_through_box_and_arc() {
    use kargo_sources::conformance::source::{Case, all};
    let layout = tempfile::tempdir().expect("tempdir");
    Content::from_seeds(&catalogue()).write_layout(layout.path());
    let repo = format!("oci-layout://{}", layout.path().display());
    let case = Case {
        subscription: image_sub(&repo, json!({"constraint": "^1", "discoveryLimit": 4})),
        expected_len: 4,
        expected_latest: "1.10.0".into(),
        foreign: serde_json::from_value(json!({"git": {"repoURL": "https://example.com/r.git"}}))
            .expect("valid"),
    };
    let source = ImageSource::default();
    all(&source, &case).await;
    let boxed: Box<DynSource> = Box::new(source.clone());
    all(&boxed, &case).await;
    let arced: Arc<DynSource> = Arc::new(source.clone());
    all(&arced, &case).await;

    let policies = tempfile::tempdir().expect("tempdir");
    let content = Content::from_seeds(&[
        Seed::new("1.0.0").artifact(POLICY_CONFIG, POLICY),
        Seed::new("2.0.0").artifact(POLICY_CONFIG, POLICY),
    ]);
    content.write_layout(policies.path());
    let artifact_case = Case {
        subscription: serde_json::from_value(json!({"name": "p", "oci": {"config": {"repoURL": format!("oci-layout://{}", policies.path().display())}}})).expect("valid"),
        expected_len: 2,
        expected_latest: format!("2.0.0@{}", content.digest_of("2.0.0")),
        foreign: case.subscription.clone(),
    };
    all(&source.artifacts(), &artifact_case).await;
}

#[tokio::test]
async fn bearer_tokens_from_the_registry_token_service_and_given_directly() {
    // The distribution spec's token dance: 401 with a Bearer challenge, a
    // token from the realm for the basic credentials, then the token.
    let (addr, seen) = stub(|request, own| {
        let line = request.lines().next().unwrap_or_default().to_owned();
        let lower = request.to_ascii_lowercase();
        let challenge = vec![(
            "WWW-Authenticate",
            format!("Bearer realm=\"http://{own}/token\",service=\"stub\""),
        )];
        if line.starts_with("GET /token") {
            return if lower.contains("authorization: basic a2fyz286cznjcmv0") {
                (200, Vec::new(), json!({"token": "tok-123"}).to_string())
            } else {
                (401, Vec::new(), "{}".into())
            };
        }
        if lower.contains("authorization: bearer tok-123")
            || lower.contains("authorization: bearer direct-token")
        {
            return (
                200,
                Vec::new(),
                json!({"name": "acme/app", "tags": ["1.0.0"]}).to_string(),
            );
        }
        (
            401,
            challenge,
            json!({"errors": [{"code": "UNAUTHORIZED", "message": "auth"}]}).to_string(),
        )
    })
    .await;
    let sub = image_sub(
        &format!("{addr}/acme/app"),
        json!({"allowTagsRegexes": ["^none$"]}),
    );

    let basic = ImageSource::builder()
        .with_credentials(Arc::new(OneUser("kargo", "s3cret")))
        .build();
    images(&basic, &sub).await;
    assert_eq!(
        count(&seen, "GET /token"),
        1,
        "one token for the repository"
    );
    let listed = seen
        .lock()
        .expect("log")
        .iter()
        .filter(|r| r.contains("/tags/list"))
        .cloned()
        .collect::<Vec<_>>();
    assert!(
        listed
            .iter()
            .any(|r| r.to_ascii_lowercase().contains("bearer tok-123")),
        "{listed:?}"
    );

    // A token given directly (credentials without a user name).
    let direct = ImageSource::builder()
        .with_credentials(Arc::new(OneUser("", "direct-token")))
        .build();
    images(&direct, &sub).await;
    assert_eq!(count(&seen, "GET /token"), 1, "no token service round trip");
    assert!(count(&seen, "direct-token") >= 1);

    // No credentials: the token service refuses, and the error says so.
    let err = ImageSource::default()
        .discover(&sub, DiscoverOptions::default())
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("refused access"), "{err}");
}

fn chart_sub(fields: serde_json::Value) -> RepoSubscription {
    serde_json::from_value(json!({"name": "charts", "chart": fields})).expect("valid subscription")
}

async fn chart_versions(sources: &Sources, sub: &RepoSubscription) -> Vec<String> {
    let source = sources.source_for(sub).expect("a chart source");
    match source.discover(sub, DiscoverOptions::default()).await {
        Ok(Discovered::Charts(d)) => d.versions,
        other => panic!("{sub:?}: {other:?}"),
    }
}

#[tokio::test]
async fn chart_versions_from_a_classic_repository_and_from_the_registry() {
    // A classic repository served over HTTP, behind basic auth.
    let index = "apiVersion: v1\nentries:\n  nginx:\n  - version: 1.0.0\n  - version: 1.2.0\n  - version: 2.0.0-rc.1\n  - version: v1.10\n  - version: not-a-version\n  redis:\n  - version: 9.9.9\n";
    let (addr, seen) = stub(move |request, _| {
        let authorized = request
            .to_ascii_lowercase()
            .contains("authorization: basic a2fyz286cznjcmv0");
        if request.starts_with("GET /charts/index.yaml") && authorized {
            (200, Vec::new(), index.to_owned())
        } else {
            (401, Vec::new(), String::new())
        }
    })
    .await;
    let sources = Sources::new().with_oci(
        ImageSource::builder()
            .with_credentials(Arc::new(HelmUser))
            .build(),
    );
    let http = |fields: serde_json::Value| {
        let mut sub = json!({"repoURL": format!("http://{addr}/charts/"), "name": "nginx"});
        sub.as_object_mut()
            .expect("object")
            .extend(fields.as_object().expect("object").clone());
        chart_sub(sub)
    };
    assert_eq!(
        chart_versions(&sources, &http(json!({}))).await,
        ["2.0.0-rc.1", "v1.10", "1.2.0", "1.0.0"]
    );
    assert_eq!(
        chart_versions(
            &sources,
            &http(json!({"semverConstraint": "^1", "discoveryLimit": 2}))
        )
        .await,
        ["v1.10", "1.2.0"]
    );
    assert!(count(&seen, "GET /charts/index.yaml") >= 2);
    let anonymous = Sources::builtin();
    let err = anonymous
        .source_for(&http(json!({})))
        .expect("source")
        .discover(&http(json!({})), DiscoverOptions::default())
        .await
        .expect_err("401");
    assert!(
        err.to_string().contains("chart subscription \"charts\"")
            && err.to_string().contains("401"),
        "{err}"
    );

    // An OCI chart in the registry: strict semver tags, `_` read as `+`.
    let registry = Registry::start(None);
    Content::from_seeds(&[
        Seed::new("0.1.0").artifact(HELM_CONFIG, ""),
        Seed::new("0.2.0").artifact(HELM_CONFIG, ""),
        Seed::new("0.3.0_build.1").artifact(HELM_CONFIG, ""),
        Seed::new("v0.4.0").artifact(HELM_CONFIG, ""),
        Seed::new("0.5").artifact(HELM_CONFIG, ""),
        Seed::new("latest").artifact(HELM_CONFIG, ""),
    ])
    .push(&registry.addr, "charts/app", &RegistryAuth::Anonymous)
    .await;
    let repo_url = format!("oci://{}/charts/app", registry.addr);
    let oci = chart_sub(json!({"repoURL": repo_url}));
    assert_eq!(
        chart_versions(&anonymous, &oci).await,
        ["0.3.0+build.1", "0.2.0", "0.1.0"]
    );

    let warehouse: Warehouse = serde_json::from_value(json!({
        "metadata": {"name": "charts"},
        "spec": {"subscriptions": [{"chart": {"repoURL": repo_url, "semverConstraint": "<0.3"}}]}
    }))
    .expect("valid Warehouse");
    let freight = discover(&anonymous, [&warehouse]).await.expect("discovers");
    assert_eq!(freight[0].charts[0].version, "0.2.0");
    assert_eq!(freight[0].charts[0].repo_url, repo_url);
    // 'Warehouse/charts:' + normalized 'host/charts/app' + ':0.2.0'
    let id = sha1_hex(&format!(
        "Warehouse/charts:{}/charts/app:0.2.0",
        registry.addr
    ));
    assert_eq!(freight[0].metadata.name, id);

    // Bad input names the subscription.
    for (fields, needle) in [
        (
            json!({"repoURL": format!("http://{addr}/charts")}),
            "`name`",
        ),
        (json!({"repoURL": repo_url, "name": "app"}), "`name`"),
        (
            json!({"repoURL": repo_url, "semverConstraint": "^^1"}),
            "semverConstraint",
        ),
        (json!({"repoURL": "ftp://example.com"}), "repoURL"),
    ] {
        let sub = chart_sub(fields);
        let err = anonymous
            .source_for(&sub)
            .expect("source")
            .discover(&sub, DiscoverOptions::default())
            .await
            .expect_err(needle);
        assert!(matches!(err, kargo_core::Error::Invalid(_)), "{err:?}");
        assert!(
            err.to_string().contains(needle)
                && err.to_string().contains("chart subscription \"charts\""),
            "{err}"
        );
    }
}

#[derive(Debug)]
struct HelmUser;

#[async_trait]
impl CredentialsProvider for HelmUser {
    async fn get(
        &self,
        kind: CredentialType,
        _url: &str,
    ) -> kargo_core::Result<Option<Credentials>> {
        Ok((kind == CredentialType::Helm).then(|| Credentials {
            username: "kargo".into(),
            password: "s3cret".into(),
        }))
    }
}

#[tokio::test]
async fn a_second_discovery_reads_no_config_for_unchanged_digests() {
    let layout = tempfile::tempdir().expect("tempdir");
    let content = Content::from_seeds(&catalogue());
    content.write_layout(layout.path());
    let sub = image_sub(
        &format!("oci-layout://{}", layout.path().display()),
        json!({"imageSelectionStrategy": "NewestBuild", "discoveryLimit": 3}),
    );
    let source = ImageSource::default();
    let first = images(&source, &sub).await;
    // Configs and layers gone: only manifests are left to read.
    for digest in content.blobs.keys() {
        let hex = digest.strip_prefix("sha256:").expect("sha256");
        std::fs::remove_file(layout.path().join("blobs/sha256").join(hex)).expect("remove blob");
    }
    let second = images(&source, &sub).await;
    assert_eq!(first, second);
    assert_eq!(tags(&second), ["sha-abc1234", "3.0.0-alpha.1", "v4"]);
    // A fresh source has no cache and must read the configs.
    let err = ImageSource::default()
        .discover(&sub, DiscoverOptions::default())
        .await
        .expect_err("configs are gone");
    assert!(err.to_string().contains("OCI layout"), "{err}");
}

#[tokio::test]
async fn transient_registry_failures_are_retried() {
    let calls = Arc::new(Mutex::new(0usize));
    let counter = calls.clone();
    let (addr, seen) = stub(move |request, _| {
        if !request.contains("/tags/list") {
            return (200, Vec::new(), "{}".into());
        }
        let mut n = counter.lock().expect("counter");
        *n += 1;
        match *n {
            1 => (503, Vec::new(), "unavailable".into()),
            2 => (
                429,
                Vec::new(),
                json!({"errors": [{"code": "TOOMANYREQUESTS", "message": "slow down"}]})
                    .to_string(),
            ),
            _ => (
                200,
                Vec::new(),
                json!({"name": "acme/app", "tags": ["1.0.0"]}).to_string(),
            ),
        }
    })
    .await;
    let sub = image_sub(
        &format!("{addr}/acme/app"),
        json!({"allowTagsRegexes": ["^none$"]}),
    );
    let patient = ImageSource::builder()
        .with_retries(3, std::time::Duration::from_millis(10))
        .build();
    images(&patient, &sub).await;
    assert_eq!(count(&seen, "/tags/list"), 3);

    *calls.lock().expect("counter") = 0;
    let impatient = ImageSource::builder()
        .with_retries(0, std::time::Duration::from_millis(10))
        .build();
    let err = impatient
        .discover(&sub, DiscoverOptions::default())
        .await
        .expect_err("503");
    assert!(err.to_string().contains("503"), "{err}");
}

/// Request counts through a proxy in front of the real registry: SemVer
/// reads the tag list, then at most `discoveryLimit` manifests and their
/// configs (for `createdAt`), nothing for the other tags; NewestBuild reads
/// every candidate's config once, and a second discovery of unchanged
/// digests reads no config at all. (oci-client also sends a `GET /v2/`
/// auth probe before each request to a registry without auth.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_sends_only_the_requests_it_needs() {
    let registry = Registry::start(None);
    let mut seeds: Vec<Seed> = (0..40)
        .map(|i| Seed::new(&format!("1.{}.{}", i / 10, i % 10)))
        .collect();
    seeds.extend((0..6).map(|i| {
        Seed::new(&format!("build-{i}")).created(&format!("2024-0{}-01T00:00:00Z", i + 1))
    }));
    Content::from_seeds(&seeds)
        .push(&registry.addr, "app", &RegistryAuth::Anonymous)
        .await;
    let proxy = CountingProxy::start(&registry.addr).await;
    let repo = format!("{}/app", proxy.addr);
    let source = ImageSource::builder().with_page_size(20).build();

    let semver = images(&source, &image_sub(&repo, json!({"discoveryLimit": 5}))).await;
    assert_eq!(tags(&semver)[0], "1.3.9");
    let seen = proxy.take();
    let lists = CountingProxy::count(&seen, "/tags/list");
    let manifests = CountingProxy::count(&seen, "/manifests/");
    // 46 tags in pages of at least 20.
    assert!((1..=4).contains(&lists), "{seen:?}");
    assert!(manifests <= 5, "{seen:?}");
    assert!(CountingProxy::count(&seen, "/blobs/") <= 5, "{seen:?}");
    let other = seen.iter().filter(|r| {
        !(r.ends_with("/v2/")
            || r.contains("/tags/list")
            || r.contains("/manifests/1.3.")
            || r.contains("/blobs/"))
    });
    assert_eq!(other.count(), 0, "{seen:?}");

    let sub = image_sub(
        &repo,
        json!({"imageSelectionStrategy": "NewestBuild", "allowTagsRegexes": ["^build-"], "discoveryLimit": 3}),
    );
    let first = images(&source, &sub).await;
    assert_eq!(tags(&first), ["build-5", "build-4", "build-3"]);
    let seen = proxy.take();
    assert_eq!(CountingProxy::count(&seen, "/blobs/"), 6, "{seen:?}");
    let second = images(&source, &sub).await;
    assert_eq!(first, second);
    let seen = proxy.take();
    assert_eq!(CountingProxy::count(&seen, "/blobs/"), 0, "{seen:?}");
    assert_eq!(CountingProxy::count(&seen, "/manifests/"), 6, "{seen:?}");
}

/// Kargo looks up a Helm OCI chart's credentials with the chart URL as the
/// subscription writes it, `oci://` included (its chart subscriber and
/// dependency manager), and compares exact URLs normalised (without
/// `oci://`); patterns are tried on both spellings. A pattern written for
/// `oci://…` therefore matches, and so do the spellings kargo-rs matched
/// before (the bare path, as a pattern or an exact URL).
#[tokio::test]
async fn helm_oci_credentials_are_looked_up_with_oci_scheme_as_kargo_does() {
    let registry = Registry::start(Some(("kargo", "s3cret-pass")));
    Content::from_seeds(&[Seed::new("0.1.0").artifact(HELM_CONFIG, "")])
        .push(
            &registry.addr,
            "charts/app",
            &RegistryAuth::Basic("kargo".into(), "s3cret-pass".into()),
        )
        .await;
    let repo_url = format!("oci://{}/charts/app", registry.addr);
    let sub = chart_sub(json!({"repoURL": repo_url}));
    let escaped = registry.addr.replace('.', "\\.");
    let creds = || Credentials::new("kargo", "s3cret-pass");
    let with = |provider: StaticCredentials| {
        Sources::new().with_oci(
            ImageSource::builder()
                .with_credentials(Arc::new(provider))
                .build(),
        )
    };
    let pattern = |kind, re: &str| {
        StaticCredentials::new()
            .with_pattern(kind, re, creds())
            .expect("a valid pattern")
    };
    for (name, provider) in [
        (
            "a pattern for oci://",
            pattern(CredentialType::Helm, &format!("^oci://{escaped}/charts/")),
        ),
        (
            "a pattern for the bare path",
            pattern(CredentialType::Helm, &format!("^{escaped}/charts/")),
        ),
        (
            "the exact URL",
            StaticCredentials::new().with_url(CredentialType::Helm, &repo_url, creds()),
        ),
        (
            "the exact path without oci://",
            StaticCredentials::new().with_url(
                CredentialType::Helm,
                format!("{}/charts/app", registry.addr),
                creds(),
            ),
        ),
    ] {
        assert_eq!(
            chart_versions(&with(provider), &sub).await,
            ["0.1.0"],
            "{name}"
        );
    }
    // Image credentials are not Helm credentials.
    let image_only = with(pattern(CredentialType::Image, "^oci://"));
    let err = image_only
        .source_for(&sub)
        .expect("source")
        .discover(&sub, DiscoverOptions::default())
        .await
        .expect_err("no Helm credentials");
    assert!(
        err.to_string().contains("chart subscription \"charts\""),
        "{err}"
    );
}

/// Kargo's Test_httpSelector_Select (`pkg/helm/chart/http_selector_test.go`)
/// against a real static web server: a missing index, an index that is not
/// YAML, a chart the index does not list, and the versions newest first.
#[tokio::test]
async fn kargo_http_chart_selector_cases() {
    let root = tempfile::tempdir().expect("tempdir");
    let write = |dir: &str, body: &str| {
        let dir = root.path().join(dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("index.yaml"), body).expect("write index");
    };
    write("bad-repo", "this isn't yaml");
    write(
        "fake-repo",
        "entries:\n  fake-chart:\n    - version: 1.0.0\n    - version: 1.1.0\n    - version: 1.2.0\n",
    );
    let server = kargo_test_support::git_server::HttpServer::files(root.path(), None);
    let sources = Sources::builtin();
    let discover = |repo: &str, chart: &str| {
        let sub = chart_sub(json!({"repoURL": format!("{}/{repo}", server.base()), "name": chart}));
        let source = sources.source_for(&sub).expect("a chart source");
        async move { source.discover(&sub, DiscoverOptions::default()).await }
    };
    // "request for repo index returns non-200 status"
    let err = discover("non-existent-repo", "fake-chart")
        .await
        .expect_err("404");
    assert!(err.to_string().contains("HTTP 404"), "{err}");
    // "index isn't valid YAML"
    let err = discover("bad-repo", "fake-chart")
        .await
        .expect_err("not YAML");
    assert!(err.to_string().contains("bad-repo/index.yaml"), "{err}");
    // "no versions found": not an error.
    match discover("fake-repo", "non-existent-chart").await {
        Ok(Discovered::Charts(d)) => assert!(d.versions.is_empty(), "{d:?}"),
        other => panic!("{other:?}"),
    }
    // "success", and a trailing `/` on the repository URL changes nothing.
    for repo in ["fake-repo", "fake-repo/"] {
        match discover(repo, "fake-chart").await {
            Ok(Discovered::Charts(d)) => assert_eq!(d.versions, ["1.2.0", "1.1.0", "1.0.0"]),
            other => panic!("{other:?}"),
        }
    }
}

/// A classic repository's `index.yaml` is read up to the sources'
/// `max_index_bytes`: a larger one fails naming its URL and the limit,
/// before it is parsed; one within the limit is read as usual.
#[tokio::test]
async fn a_chart_index_over_the_size_limit_is_refused() {
    let root = tempfile::tempdir().expect("tempdir");
    let index = "entries:\n  app:\n    - version: 1.0.0\n    - version: 1.1.0\n";
    for (repo, body) in [
        ("small", index.to_owned()),
        ("big", format!("{index}# {}\n", "x".repeat(4096))),
    ] {
        std::fs::create_dir_all(root.path().join(repo)).expect("mkdir");
        std::fs::write(root.path().join(repo).join("index.yaml"), body).expect("write index");
    }
    let server = kargo_test_support::git_server::HttpServer::files(root.path(), None);
    let limit = 1024;
    let sources =
        Sources::new().with_oci(ImageSource::builder().with_max_index_bytes(limit).build());
    let sub = |repo: &str| {
        chart_sub(json!({"repoURL": format!("{}/{repo}", server.base()), "name": "app"}))
    };

    assert_eq!(
        chart_versions(&sources, &sub("small")).await,
        ["1.1.0", "1.0.0"]
    );
    let big = sub("big");
    let err = sources
        .source_for(&big)
        .expect("a chart source")
        .discover(&big, DiscoverOptions::default())
        .await
        .expect_err("over the limit");
    let message = err.to_string();
    assert!(
        message.contains(&format!("{}/big/index.yaml", server.base())),
        "{message}"
    );
    assert!(
        message.contains("larger than the limit of 1024 bytes"),
        "{message}"
    );
}
