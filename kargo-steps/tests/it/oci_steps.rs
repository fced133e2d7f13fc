//! `oci-push` and `oci-download` against a real `docker-registry` on
//! 127.0.0.1 (kargo-test-support's registry fixture).

use std::sync::Arc;

use kargo_core::Workspace;
use kargo_core::credentials::{CredentialType, Credentials, StaticCredentials};
use kargo_core::model::StepStatus;
use kargo_core::step::{ErrorKind, Step, StepContext};
use kargo_steps::{OciDownload, OciPush};
use kargo_test_support::registry::{Content, INDEX, MANIFEST, Registry, Seed, sha256};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde_json::{Value, json};

const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
const HELM_CHART: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
const PROVENANCE: &str = "application/vnd.cncf.helm.chart.provenance.v1.prov";

fn context() -> (tempfile::TempDir, StepContext) {
    let dir = tempfile::tempdir().unwrap();
    let ctx = StepContext::new(Workspace::new(dir.path()).unwrap());
    (dir, ctx)
}

/// Reads a manifest back from the registry: (bytes as JSON, digest).
async fn pull(addr: &str, repo: &str, reference: &str, auth: &RegistryAuth) -> (Value, String) {
    let client = Client::new(ClientConfig {
        protocol: ClientProtocol::HttpsExcept(vec![addr.to_owned()]),
        ..Default::default()
    });
    let at = if reference.starts_with("sha256:") {
        Reference::with_digest(addr.into(), repo.into(), reference.into())
    } else {
        Reference::with_tag(addr.into(), repo.into(), reference.into())
    };
    let (bytes, digest) = client
        .pull_manifest_raw(&at, auth, &[INDEX, MANIFEST])
        .await
        .unwrap_or_else(|e| panic!("pull {repo}:{reference}: {e}"));
    (serde_json::from_slice(&bytes).unwrap(), digest)
}

/// A Helm chart as `helm push` stores it: config, chart layer, provenance.
fn chart(tag: &str) -> (Content, Vec<u8>) {
    let mut content = Content::default();
    let chart = format!("chart tarball {tag}").into_bytes();
    let blob = |content: &mut Content, bytes: Vec<u8>| {
        let digest = sha256(&bytes);
        let size = bytes.len();
        content.blobs.insert(digest.clone(), bytes);
        (digest, size)
    };
    let (config, config_size) = blob(&mut content, b"{\"name\":\"my-app\"}".to_vec());
    let (prov, prov_size) = blob(&mut content, b"provenance".to_vec());
    let (layer, layer_size) = blob(&mut content, chart.clone());
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": HELM_CONFIG, "digest": config, "size": config_size},
        "layers": [
            {"mediaType": PROVENANCE, "digest": prov, "size": prov_size},
            {"mediaType": HELM_CHART, "digest": layer, "size": layer_size},
        ],
    })
    .to_string()
    .into_bytes();
    let digest = sha256(&manifest);
    content
        .tagged
        .push((tag.to_owned(), digest, manifest, MANIFEST));
    (content, chart)
}

const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// An artifact tagged `tag` whose layers are `layers` (media type, bytes).
fn artifact(content: &mut Content, tag: &str, layers: &[(&str, &[u8])]) {
    let mut blob = |bytes: &[u8]| {
        let digest = sha256(bytes);
        content.blobs.insert(digest.clone(), bytes.to_vec());
        json!({"digest": digest, "size": bytes.len()})
    };
    let mut config = blob(b"{}");
    config["mediaType"] = json!("application/vnd.oci.image.config.v1+json");
    let layers: Vec<Value> = layers
        .iter()
        .map(|(media_type, bytes)| {
            let mut layer = blob(bytes);
            layer["mediaType"] = json!(media_type);
            layer
        })
        .collect();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": config,
        "layers": layers,
    })
    .to_string()
    .into_bytes();
    let digest = sha256(&manifest);
    content
        .tagged
        .push((tag.to_owned(), digest, manifest, MANIFEST));
}

/// Kargo: oci_downloader_test.go, Test_ociDownloader_extractLayerToFile,
/// Test_ociDownloader_findTargetLayer, Test_ociDownloader_writeLayerToFile,
/// Test_ociDownloader_createTempFile, Test_ociDownloader_copyLayerToFile
/// and Test_ociDownloader_prepareOutputPath: the layer chosen, empty
/// layers, artifacts without layers, nested output paths created, new
/// files readable by their owner only.
#[tokio::test]
async fn kargo_oci_downloader_layer_cases() {
    use std::os::unix::fs::PermissionsExt as _;

    let registry = Registry::start(None);
    let mut content = Content::default();
    artifact(
        &mut content,
        "two",
        &[(DOCKER_LAYER, b"layer1"), (OCI_LAYER, b"layer2")],
    );
    artifact(&mut content, "empty", &[(DOCKER_LAYER, b"")]);
    artifact(&mut content, "bare", &[]);
    content
        .push(&registry.addr, "test/artifact", &RegistryAuth::Anonymous)
        .await;
    let at = |tag: &str| format!("{}/test/artifact:{tag}", registry.addr);
    let (dir, ctx) = context();
    let cases = [
        // no specific media type returns first layer
        ("two", None, "first.tar", Ok("layer1")),
        // specific media type found
        ("two", Some(OCI_LAYER), "output/file.tar", Ok("layer2")),
        // empty layer, in a nested directory created for it
        ("empty", None, "deep/nested/output/file.tar", Ok("")),
        // specific media type not found
        (
            "two",
            Some("application/x-none"),
            "none/file.tar",
            Err("no layer with media type `application/x-none`"),
        ),
        // no layers
        ("bare", None, "bare/file.tar", Err("has no layers")),
    ];
    for (tag, media_type, out_path, expected) in cases {
        let mut config = json!({"imageRef": at(tag), "outPath": out_path});
        if let Some(media_type) = media_type {
            config["mediaType"] = json!(media_type);
        }
        let result = OciDownload::new().run(&ctx, config).await;
        let path = dir.path().join(out_path);
        match expected {
            Ok(bytes) => {
                result.unwrap_or_else(|e| panic!("{tag} {out_path}: {e}"));
                assert_eq!(std::fs::read_to_string(&path).unwrap(), bytes);
                let mode = std::fs::metadata(&path).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "{out_path}");
            }
            Err(message) => {
                let err = result.unwrap_err();
                assert_eq!(err.kind(), ErrorKind::Terminal, "{err}");
                assert!(err.to_string().contains(message), "{err}");
                assert!(!path.parent().unwrap().exists(), "{out_path}");
            }
        }
    }
}

#[tokio::test]
async fn kargos_retag_example_keeps_the_digest() {
    let registry = Registry::start(None);
    let content = Content::from_seeds(&[Seed::new("1.0.0")]);
    content
        .push(&registry.addr, "myapp", &RegistryAuth::Anonymous)
        .await;
    let digest = content.digest_of("1.0.0");
    let (_dir, ctx) = context();
    let addr = &registry.addr;
    // Kargo's "Retagging an Image with a Release Version" example, with the
    // expression already evaluated to the image's digest.
    let config: Value = serde_saphyr::from_str(&format!(
        "srcRef: {addr}/myapp@{digest}\ndestRef: {addr}/myapp:v1.2.3\n"
    ))
    .unwrap();
    let outcome = OciPush::new().run(&ctx, config).await.unwrap();
    assert_eq!(outcome.status, StepStatus::Succeeded);
    assert_eq!(outcome.output["image"], format!("{addr}/myapp:v1.2.3"));
    assert_eq!(outcome.output["digest"], digest);
    assert_eq!(outcome.output["tag"], "v1.2.3");
    let (_, pushed) = pull(addr, "myapp", "v1.2.3", &RegistryAuth::Anonymous).await;
    assert_eq!(pushed, digest, "a retag pushes the same bytes");
}

#[tokio::test]
async fn an_index_is_copied_to_another_repository_with_scoped_annotations() {
    let registry = Registry::start(None);
    let content =
        Content::from_seeds(&[Seed::new("2.0.0").platforms(&["linux/amd64", "linux/arm64"])]);
    content
        .push(&registry.addr, "sandbox/app", &RegistryAuth::Anonymous)
        .await;
    let (_dir, ctx) = context();
    let addr = &registry.addr;
    let outcome = OciPush::new()
        .run(
            &ctx,
            json!({
                "srcRef": format!("{addr}/sandbox/app:2.0.0"),
                "destRef": format!("{addr}/prod/app:2.0.0"),
                "annotations": {
                    "org.opencontainers.image.source": "https://github.com/example/app",
                    "index:org.opencontainers.image.revision": "abc123",
                    "manifest:org.opencontainers.image.description": "my app image",
                },
            }),
        )
        .await
        .unwrap();
    let (index, digest) = pull(addr, "prod/app", "2.0.0", &RegistryAuth::Anonymous).await;
    assert_eq!(outcome.output["digest"], digest);
    assert_ne!(
        digest,
        content.digest_of("2.0.0"),
        "annotations change the digest"
    );
    assert_eq!(
        index["annotations"],
        json!({"org.opencontainers.image.revision": "abc123"})
    );
    let children = index["manifests"].as_array().unwrap();
    assert_eq!(children.len(), 2);
    for child in children {
        let (manifest, _) = pull(
            addr,
            "prod/app",
            child["digest"].as_str().unwrap(),
            &RegistryAuth::Anonymous,
        )
        .await;
        assert_eq!(
            manifest["annotations"],
            json!({
                "org.opencontainers.image.description": "my app image",
                "org.opencontainers.image.source": "https://github.com/example/app",
            })
        );
        assert_eq!(
            child["platform"]["os"], "linux",
            "entries keep their platform"
        );
    }
    // The blobs arrived: the copy is downloadable from the new repository.
    let (_dir2, ctx2) = context();
    OciDownload::new()
        .run(
            &ctx2,
            json!({"imageRef": format!("{addr}/prod/app:2.0.0"), "outPath": "layer.tar"}),
        )
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(ctx2.workspace.root().join("layer.tar")).unwrap(),
        "layer of 2.0.0 for linux/amd64",
        "an index downloads its linux/amd64 image"
    );
}

#[tokio::test]
async fn credentials_come_from_the_provider_and_401_ends_the_step() {
    let registry = Registry::start(Some(("kargo", "s3cret-pass")));
    let auth = RegistryAuth::Basic("kargo".into(), "s3cret-pass".into());
    let (content, _) = chart("1.0.0");
    content.push(&registry.addr, "charts/my-app", &auth).await;
    let addr = &registry.addr;
    let config = json!({
        "imageRef": format!("oci://{addr}/charts/my-app:1.0.0"),
        "outPath": "./charts/my-app-1.0.0.tgz",
    });

    let (dir, ctx) = context();
    let err = OciDownload::new()
        .run(&ctx, config.clone())
        .await
        .unwrap_err();
    // The config was usable; the registry refused (Kargo: `Errored`).
    assert_eq!(err.kind(), ErrorKind::Terminal, "{err}");
    assert!(err.to_string().contains("access denied"), "{err}");
    assert!(!dir.path().join("charts").exists(), "nothing written");

    // `oci://` looks up Helm credentials; image credentials would not do.
    let creds = StaticCredentials::new().with_url(
        CredentialType::Helm,
        format!("oci://{addr}/charts/my-app"),
        Credentials::new("kargo", "s3cret-pass"),
    );
    let ctx = ctx.with_credentials(Arc::new(creds));
    let outcome = OciDownload::new().run(&ctx, config).await.unwrap();
    assert_eq!(outcome.status, StepStatus::Succeeded);
    assert_eq!(
        std::fs::read(dir.path().join("charts/my-app-1.0.0.tgz")).unwrap(),
        b"provenance",
        "without mediaType, the first layer"
    );
    assert!(!format!("{err:?}").contains("s3cret-pass"));
}

#[tokio::test]
async fn oci_download_picks_the_layer_by_media_type_and_respects_allow_overwrite() {
    let registry = Registry::start(None);
    let (content, bytes) = chart("1.0.0");
    content
        .push(&registry.addr, "charts/my-app", &RegistryAuth::Anonymous)
        .await;
    let (dir, ctx) = context();
    let image_ref = format!("{}/charts/my-app:1.0.0", registry.addr);
    // Kargo's "Downloading with a Specific Media Type" example.
    let config: Value = serde_saphyr::from_str(&format!(
        "imageRef: {image_ref}\noutPath: ./artifacts/chart.tgz\nmediaType: {HELM_CHART}\n"
    ))
    .unwrap();
    OciDownload::new().run(&ctx, config.clone()).await.unwrap();
    let out = dir.path().join("artifacts/chart.tgz");
    assert_eq!(std::fs::read(&out).unwrap(), bytes);

    std::fs::write(&out, "local edit").unwrap();
    let err = OciDownload::new()
        .run(&ctx, config.clone())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Terminal);
    assert!(err.to_string().contains("already exists"), "{err}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "local edit");

    let mut overwrite = config.clone();
    overwrite["allowOverwrite"] = json!(true);
    OciDownload::new().run(&ctx, overwrite).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), bytes);

    let missing = json!({"imageRef": image_ref, "outPath": "x", "mediaType": "application/x-none"});
    let err = OciDownload::new().run(&ctx, missing).await.unwrap_err();
    assert!(
        err.to_string().contains("no layer with media type"),
        "{err}"
    );
    let unknown_tag =
        json!({"imageRef": format!("{}/charts/my-app:9.9.9", registry.addr), "outPath": "y"});
    let err = OciDownload::new().run(&ctx, unknown_tag).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Terminal);
    assert!(err.to_string().contains("not found"), "{err}");
    assert!(!dir.path().join("y").exists());

    let mut small = kargo_steps::oci_download::Options::default();
    small.max_size = 5;
    let err = OciDownload::with_options(small)
        .run(&ctx, json!({"imageRef": image_ref, "outPath": "big.tgz"}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Terminal);
    assert!(
        err.to_string().contains("exceeds the limit of 5 bytes"),
        "{err}"
    );
    assert!(!dir.path().join("big.tgz").exists());
}

#[tokio::test]
async fn oversized_copies_fail_without_retries() {
    let registry = Registry::start(None);
    Content::from_seeds(&[Seed::new("1.0.0")])
        .push(&registry.addr, "a", &RegistryAuth::Anonymous)
        .await;
    let (_dir, ctx) = context();
    let mut options = kargo_steps::oci_push::Options::default();
    options.max_size = 10;
    let addr = &registry.addr;
    let err = OciPush::with_options(options.clone())
        .run(
            &ctx,
            json!({"srcRef": format!("{addr}/a:1.0.0"), "destRef": format!("{addr}/b:1.0.0")}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Terminal);
    assert!(
        err.to_string().contains("exceeds the limit of 10 bytes"),
        "{err}"
    );
    // A retag in place transfers nothing: the limit does not apply.
    OciPush::with_options(options)
        .run(
            &ctx,
            json!({"srcRef": format!("{addr}/a:1.0.0"), "destRef": format!("{addr}/a:stable")}),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn unknown_fields_bad_references_and_unreachable_registries_are_errors() {
    let (_dir, ctx) = context();
    let err = OciPush::new()
        .run(
            &ctx,
            json!({"srcRef": "r.example/a:1", "destRef": "r.example/b:1", "tags": ["x"]}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Failed);
    assert!(err.to_string().contains("unknown field `tags`"), "{err}");
    let err = OciDownload::new()
        .run(
            &ctx,
            json!({"imageRef": "r.example/a:1", "outPath": "x", "path": "y"}),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unknown field `path`"), "{err}");

    let err = OciPush::new()
        .run(
            &ctx,
            json!({"srcRef": "r.example/a:1", "destRef": "r.example/b@sha256:0123456789012345678901234567890123456789012345678901234567890123"}),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("`destRef`"), "{err}");

    // A loopback port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = OciDownload::new()
        .run(
            &ctx,
            json!({"imageRef": format!("127.0.0.1:{port}/a:1"), "outPath": "x"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Retryable, "{err}");
    assert!(err.to_string().contains("127.0.0.1"), "{err}");
}

/// `oci-push` and `oci-download` reach an ECR registry with Kargo's ECR
/// Secrets (image, and Helm for `oci://`): the key is exchanged by moto's
/// ECR, a real `docker-registry` standing in for the ECR host (a registry
/// alias) accepts the token moto issues, and both Secrets, holding the
/// same key, share one token.
#[tokio::test]
async fn ecr_secrets_reach_the_registry_for_oci_push_and_oci_download() {
    use kargo_credentials::{CloudCredentials, Environment};
    use kargo_test_support::moto::Moto;

    let moto = Moto::start();
    moto.start_recording().await;
    let registry = Registry::start(Some(("AWS", "123456789012-auth-token")));
    let auth = RegistryAuth::Basic("AWS".into(), "123456789012-auth-token".into());
    let addr = &registry.addr;
    let content = Content::from_seeds(&[Seed::new("1.0.0")]);
    content.push(addr, "lambda/fn", &auth).await;
    let (chart, chart_bytes) = chart("1.0.0");
    chart.push(addr, "charts/my-app", &auth).await;
    let secret = |name: &str, kind: &str, url: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  labels:\n    kargo.akuity.io/cred-type: {kind}\nstringData:\n  repoURL: {url}\n  awsRegion: us-west-2\n  awsAccessKeyID: AKIDKARGOSTEPS\n  awsSecretAccessKey: steps-secret-key\n"
        )
    };
    let yaml = format!(
        "{}---\n{}",
        secret("ecr-images", "image", &format!("{addr}/lambda/fn")),
        secret("ecr-charts", "helm", &format!("oci://{addr}/charts/my-app"))
    );
    let secrets = StaticCredentials::new()
        .with_secrets(&yaml, "creds.yaml")
        .unwrap();
    // moto's tokens expire at 2015-01-01T00:00:00Z: the caches run a day before.
    let day_before =
        std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_419_984_000);
    let provider = CloudCredentials::builder(Arc::new(secrets))
        .with_environment(Environment::from_vars([(
            "AWS_ENDPOINT_URL",
            moto.url.as_str(),
        )]))
        .with_registry_alias(addr, "123456789012.dkr.ecr.us-west-2.amazonaws.com")
        .with_clock(Arc::new(move || day_before))
        .build();
    let (dir, ctx) = context();
    let ctx = ctx.with_credentials(Arc::new(provider));

    let push = json!({"srcRef": format!("{addr}/lambda/fn:1.0.0"), "destRef": format!("{addr}/lambda/fn:prod")});
    let outcome = OciPush::new().run(&ctx, push).await.unwrap();
    assert_eq!(outcome.status, StepStatus::Succeeded);
    let (_, pushed) = pull(addr, "lambda/fn", "prod", &auth).await;
    assert_eq!(pushed, content.digest_of("1.0.0"));

    let download = json!({
        "imageRef": format!("oci://{addr}/charts/my-app:1.0.0"),
        "outPath": "chart.tgz",
        "mediaType": HELM_CHART,
    });
    let outcome = OciDownload::new().run(&ctx, download).await.unwrap();
    assert_eq!(outcome.status, StepStatus::Succeeded);
    assert_eq!(
        std::fs::read(dir.path().join("chart.tgz")).unwrap(),
        chart_bytes
    );

    let calls: Vec<String> = moto.recorded().await.into_iter().map(|(a, _)| a).collect();
    assert_eq!(
        calls,
        ["AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"]
    );
}

/// The annotations of `value` (a manifest or index), empty when it has none.
fn annotations(value: &Value) -> Value {
    value.get("annotations").cloned().unwrap_or(json!({}))
}

/// Kargo: oci_pusher_test.go, Test_ociPusher_run (the cases that reach the
/// registry), Test_ociPusher_run_noAnnotationsMutation,
/// Test_ociPusher_run_scopedAnnotationsOnImage and
/// Test_ociPusher_run_ociManifestAnnotations, within one registry.
#[tokio::test]
async fn kargo_oci_pusher_run_cases() {
    let registry = Registry::start(None);
    let addr = &registry.addr;
    let anonymous = &RegistryAuth::Anonymous;
    let image = Content::from_seeds(&[Seed::new("v1.0.0")]);
    image.push(addr, "test/image", anonymous).await;
    let index =
        Content::from_seeds(&[Seed::new("v1.0.0").platforms(&["linux/amd64", "linux/arm64"])]);
    index.push(addr, "test/multiarch", anonymous).await;
    let annotated = Content::from_seeds(&[Seed::new("v1").annotation("existing", "annotation")]);
    annotated.push(addr, "test/annotated", anonymous).await;
    let src_digest = image.digest_of("v1.0.0");
    let index_digest = index.digest_of("v1.0.0");
    let (_dir, ctx) = context();
    let push = |src: String, dest: &str, annotations: Value| {
        let ctx = &ctx;
        let mut config = json!({"srcRef": src, "destRef": format!("{addr}/{dest}")});
        if annotations != json!(null) {
            config["annotations"] = annotations;
        }
        async move { OciPush::new().run(ctx, config).await }
    };

    // push single image to new tag
    let out = push(
        format!("{addr}/test/image:v1.0.0"),
        "test/image:v2.0.0",
        json!(null),
    )
    .await
    .unwrap();
    assert_eq!(out.status, StepStatus::Succeeded);
    assert_eq!(out.output["image"], format!("{addr}/test/image:v2.0.0"));
    assert_eq!(out.output["digest"], src_digest);
    assert_eq!(out.output["tag"], "v2.0.0");
    assert_eq!(
        pull(addr, "test/image", "v2.0.0", anonymous).await.1,
        src_digest
    );

    // push image by digest
    let out = push(
        format!("{addr}/test/image@{src_digest}"),
        "test/image:pinned",
        json!(null),
    )
    .await
    .unwrap();
    assert_eq!(
        (&out.output["digest"], &out.output["tag"]),
        (&json!(src_digest), &json!("pinned"))
    );

    // push image index
    let out = push(
        format!("{addr}/test/multiarch:v1.0.0"),
        "test/multiarch:v2.0.0",
        json!(null),
    )
    .await
    .unwrap();
    assert_eq!(out.output["digest"], index_digest);
    assert_eq!(out.output["tag"], "v2.0.0");
    let (pushed, _) = pull(addr, "test/multiarch", "v2.0.0", anonymous).await;
    assert_eq!(pushed["mediaType"], INDEX);

    // push with annotations (an OCI image manifest)
    push(
        format!("{addr}/test/image:v1.0.0"),
        "test/image:annotated",
        json!({"org.opencontainers.image.source": "https://github.com/example"}),
    )
    .await
    .unwrap();
    let (pushed, _) = pull(addr, "test/image", "annotated", anonymous).await;
    assert_eq!(pushed["mediaType"], MANIFEST);
    assert_eq!(
        annotations(&pushed)["org.opencontainers.image.source"],
        "https://github.com/example"
    );

    // push index with unprefixed annotations goes to child manifests;
    // push index with scoped annotations
    for (tag, given, on_index, on_children) in [
        (
            "annotated",
            json!({"io.kargo.test": "true"}),
            json!({}),
            json!({"io.kargo.test": "true"}),
        ),
        (
            "scoped",
            json!({
                "index:io.kargo.index-only": "idx",
                "manifest:io.kargo.manifest-only": "mfst",
                "io.kargo.default": "both",
            }),
            json!({"io.kargo.index-only": "idx"}),
            json!({"io.kargo.manifest-only": "mfst", "io.kargo.default": "both"}),
        ),
    ] {
        push(
            format!("{addr}/test/multiarch:v1.0.0"),
            &format!("test/multiarch:{tag}"),
            given,
        )
        .await
        .unwrap();
        let (pushed, _) = pull(addr, "test/multiarch", tag, anonymous).await;
        assert_eq!(annotations(&pushed), on_index, "{tag}");
        let children = pushed["manifests"].as_array().unwrap();
        assert_eq!(children.len(), 2);
        for child in children {
            let digest = child["digest"].as_str().unwrap();
            let (manifest, _) = pull(addr, "test/multiarch", digest, anonymous).await;
            assert_eq!(annotations(&manifest), on_children, "{tag}");
        }
    }

    // cross-repo push
    push(
        format!("{addr}/test/image:v1.0.0"),
        "other/repo:latest",
        json!(null),
    )
    .await
    .unwrap();
    assert_eq!(
        pull(addr, "other/repo", "latest", anonymous).await.1,
        src_digest
    );

    // source not found
    let err = push(
        format!("{addr}/nonexistent/image:v1.0.0"),
        "test/image:copy",
        json!(null),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Terminal, "{err}");
    assert!(err.to_string().contains("not found"), "{err}");

    // no annotations: the source's own are kept, and so is the digest
    let out = push(
        format!("{addr}/test/annotated:v1"),
        "test/annotated:v2",
        json!(null),
    )
    .await
    .unwrap();
    assert_eq!(out.output["digest"], annotated.digest_of("v1"));
    let (pushed, _) = pull(addr, "test/annotated", "v2", anonymous).await;
    assert_eq!(annotations(&pushed), json!({"existing": "annotation"}));

    // scoped annotations on a single image: `index:` ones are ignored
    push(
        format!("{addr}/test/annotated:v1"),
        "test/annotated:scoped",
        json!({
            "index:ignored.key": "ignored",
            "manifest:explicit": "yes",
            "unprefixed": "also-yes",
        }),
    )
    .await
    .unwrap();
    let (pushed, _) = pull(addr, "test/annotated", "scoped", anonymous).await;
    assert_eq!(
        annotations(&pushed),
        json!({"existing": "annotation", "explicit": "yes", "unprefixed": "also-yes"})
    );
}

/// The compressed size of what `tag` of `repo` references: config and
/// layers of the image, or of every image of the index.
async fn artifact_size(addr: &str, repo: &str, tag: &str) -> u64 {
    let (top, _) = pull(addr, repo, tag, &RegistryAuth::Anonymous).await;
    let mut images = Vec::new();
    match top["manifests"].as_array() {
        Some(entries) => {
            for entry in entries {
                let digest = entry["digest"].as_str().unwrap();
                images.push(pull(addr, repo, digest, &RegistryAuth::Anonymous).await.0);
            }
        }
        None => images.push(top),
    }
    images
        .iter()
        .flat_map(|m| std::iter::once(&m["config"]).chain(m["layers"].as_array().unwrap()))
        .map(|d| d["size"].as_u64().unwrap())
        .sum()
}

/// Kargo: oci_pusher_test.go, Test_imageSize, Test_indexSize,
/// Test_ociPusher_push_sizeLimitExceeded (both cases),
/// Test_ociPusher_push_sizeLimitZero (both cases) and
/// Test_ociPusher_push_sizeLimitDisabled: the limit is compared with the
/// compressed size of config and layers (of every image of an index).
#[tokio::test]
async fn kargo_oci_pusher_size_limits() {
    let registry = Registry::start(None);
    let addr = &registry.addr;
    let anonymous = &RegistryAuth::Anonymous;
    Content::from_seeds(&[Seed::new("v1")])
        .push(addr, "test/big", anonymous)
        .await;
    Content::from_seeds(&[Seed::new("v1").platforms(&["linux/amd64", "linux/arm64"])])
        .push(addr, "test/bigidx", anonymous)
        .await;
    let (_dir, ctx) = context();
    let push = |max_size: u64, src: &str, dest: &str| {
        let mut options = kargo_steps::oci_push::Options::default();
        options.max_size = max_size;
        let config =
            json!({"srcRef": format!("{addr}/{src}"), "destRef": format!("{addr}/{dest}")});
        let ctx = &ctx;
        async move { OciPush::with_options(options).run(ctx, config).await }
    };
    for repo in ["test/big", "test/bigidx"] {
        let size = artifact_size(addr, repo, "v1").await;
        assert!(size > 0);
        let err = push(size - 1, &format!("{repo}:v1"), &format!("{repo}-dst:v1"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Terminal, "{err}");
        assert!(
            err.to_string().contains(&format!(
                "({size} bytes) exceeds the limit of {} bytes",
                size - 1
            )),
            "{err}"
        );
        push(size, &format!("{repo}:v1"), &format!("{repo}-dst:v1"))
            .await
            .unwrap();
    }
    // A limit of 0: no copy across repositories, a retag still works.
    let err = push(0, "test/big:v1", "other/repo:v1").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Terminal, "{err}");
    assert!(
        err.to_string()
            .contains("cross-repository push is disabled"),
        "{err}"
    );
    push(0, "test/big:v1", "test/big:v2").await.unwrap();
    // No limit.
    push(u64::MAX, "test/big:v1", "other/repo:v1")
        .await
        .unwrap();
}
