use std::collections::BTreeMap;

use async_trait::async_trait;
use kargo_core::step::{Capabilities, Step, StepContext, StepError, StepOutcome, parse_config};
use serde_json::{Map, Value};

use super::{Config, KIND, MAX_SIZE_VAR, Options, RULES, TOUCHES};
use crate::oci::{self, Endpoint, INDEX_TYPES, MANIFEST_TYPES, cancellable, registry_error};
use crate::schema;

/// The `oci-push` step (see the [module](super)).
///
/// Idempotent: pushing the same source to the same tag again gives the
/// same digest.
#[derive(Debug, Clone, Default)]
pub struct OciPush {
    options: Options,
    /// Why the environment [`OciPush::from_env`] read is unusable.
    env_error: Option<String>,
}

impl OciPush {
    /// The step with default [`Options`].
    pub fn new() -> Self {
        OciPush::default()
    }

    /// The step with `options`.
    pub fn with_options(options: Options) -> Self {
        OciPush {
            options,
            env_error: None,
        }
    }

    /// The step with the size limit of Kargo's environment variable
    /// [`MAX_OCI_PUSH_ARTIFACT_SIZE`](super::MAX_SIZE_VAR): bytes, 0 to
    /// refuse copies across repositories, negative for no limit; unset or
    /// empty, the default. A value that is not a number makes every run
    /// fail, naming the variable.
    pub fn from_env() -> Self {
        Self::from_var(std::env::var(MAX_SIZE_VAR).ok())
    }

    fn from_var(value: Option<String>) -> Self {
        let mut step = OciPush::new();
        match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            None => {}
            Some(v) => match v.parse::<i64>() {
                Ok(n) => step.options.max_size = u64::try_from(n).unwrap_or(u64::MAX),
                Err(_) => {
                    step.env_error = Some(format!("{MAX_SIZE_VAR}={v:?} is not a number of bytes"))
                }
            },
        }
        step
    }
}

/// Annotations split by the part of the artifact they go to.
#[derive(Debug, Default)]
struct Scopes {
    index: BTreeMap<String, String>,
    manifest: BTreeMap<String, String>,
}

fn scopes(annotations: &BTreeMap<String, String>) -> Scopes {
    let mut scopes = Scopes::default();
    for (key, value) in annotations {
        if let Some(key) = key.strip_prefix("index:") {
            scopes.index.insert(key.to_owned(), value.clone());
        } else {
            let key = key.strip_prefix("manifest:").unwrap_or(key);
            scopes.manifest.insert(key.to_owned(), value.clone());
        }
    }
    scopes
}

/// A manifest with its digest, media type and parsed form.
struct Manifest {
    bytes: Vec<u8>,
    digest: String,
    media_type: String,
    value: Value,
}

impl Manifest {
    async fn fetch(
        ctx: &StepContext,
        from: &Endpoint,
        at: &oci_client::Reference,
    ) -> Result<Self, StepError> {
        let (bytes, digest, media_type) = from.manifest(ctx, KIND, at).await?;
        let value = serde_json::from_slice(&bytes).map_err(|e| {
            StepError::terminal(format!(
                "{KIND}: the manifest of `{}` is not JSON",
                at.whole()
            ))
            .with_source(e)
        })?;
        Ok(Manifest {
            bytes,
            digest,
            media_type,
            value,
        })
    }

    /// The blobs an image manifest references: `(digest, size)` of its
    /// config and layers.
    fn blobs(&self) -> Vec<(String, u64)> {
        let config = self.value.get("config").into_iter();
        let layers = self
            .value
            .get("layers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        config
            .chain(layers)
            .filter_map(|d| {
                let digest = d.get("digest")?.as_str()?.to_owned();
                let size = d.get("size").and_then(Value::as_u64).unwrap_or(0);
                Some((digest, size))
            })
            .collect()
    }

    /// Adds `annotations`; the bytes and digest change only when some
    /// annotation is new or different.
    fn annotate(&mut self, annotations: &BTreeMap<String, String>) -> Result<(), StepError> {
        if annotations.is_empty() {
            return Ok(());
        }
        let Value::Object(root) = &mut self.value else {
            return Err(StepError::terminal(format!(
                "{KIND}: manifest {} is not a JSON object",
                self.digest
            )));
        };
        let existing = root
            .entry("annotations")
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(existing) = existing else {
            return Err(StepError::terminal(format!(
                "{KIND}: manifest {} has annotations that are not an object",
                self.digest
            )));
        };
        let mut changed = false;
        for (key, value) in annotations {
            if existing.get(key).and_then(Value::as_str) != Some(value) {
                existing.insert(key.clone(), Value::String(value.clone()));
                changed = true;
            }
        }
        if changed {
            self.bytes = serde_json::to_vec(&self.value).map_err(|e| {
                StepError::terminal(format!("{KIND}: cannot encode a manifest")).with_source(e)
            })?;
            self.digest = oci::sha256(&self.bytes);
        }
        Ok(())
    }

    async fn push(
        &self,
        ctx: &StepContext,
        to: &Endpoint,
        at: &oci_client::Reference,
    ) -> Result<(), StepError> {
        let content_type = self.media_type.parse().map_err(|_| {
            StepError::terminal(format!(
                "{KIND}: media type `{}` is not a valid header value",
                self.media_type
            ))
        })?;
        cancellable(
            ctx,
            KIND,
            to.client
                .push_manifest_raw(at, self.bytes.clone(), content_type),
        )
        .await?
        .map_err(|e| {
            registry_error(
                KIND,
                &format!("pushing the manifest to `{}`", at.whole()),
                e,
            )
        })?;
        Ok(())
    }
}

/// Copies the blobs `blobs` from `from` to `to` unless `to` has them.
async fn copy_blobs(
    ctx: &StepContext,
    from: &Endpoint,
    to: &Endpoint,
    blobs: &[(String, u64)],
    cap: u64,
) -> Result<(), StepError> {
    let same_registry = from.reference.resolve_registry() == to.reference.resolve_registry();
    for (digest, _) in blobs {
        let at = to.at(digest);
        let exists = cancellable(ctx, KIND, to.client.blob_exists(&at, digest))
            .await?
            .map_err(|e| {
                registry_error(
                    KIND,
                    &format!("checking blob {digest} in `{}`", to.repository),
                    e,
                )
            })?;
        if exists {
            continue;
        }
        if same_registry {
            let mounted = cancellable(
                ctx,
                KIND,
                to.client.mount_blob(&to.reference, &from.reference, digest),
            )
            .await?;
            if mounted.is_ok() {
                tracing::debug!(%digest, to = %to.repository, "blob mounted");
                continue;
            }
        }
        let bytes = from.blob(ctx, KIND, digest, cap).await?;
        cancellable(ctx, KIND, to.client.push_blob(&to.reference, bytes, digest))
            .await?
            .map_err(|e| {
                registry_error(
                    KIND,
                    &format!("pushing blob {digest} to `{}`", to.repository),
                    e,
                )
            })?;
        tracing::debug!(%digest, to = %to.repository, "blob copied");
    }
    Ok(())
}

impl OciPush {
    fn check_size(&self, children: &[Manifest]) -> Result<(), StepError> {
        if self.options.max_size == 0 {
            return Err(StepError::terminal(format!(
                "{KIND}: cross-repository push is disabled (size limit 0)"
            )));
        }
        let total: u64 = children
            .iter()
            .flat_map(Manifest::blobs)
            .map(|(_, size)| size)
            .sum();
        if total > self.options.max_size {
            return Err(StepError::terminal(format!(
                "{KIND}: the artifact's compressed size ({total} bytes) exceeds the limit of {} bytes",
                self.options.max_size
            )));
        }
        Ok(())
    }
}

#[async_trait]
impl Step for OciPush {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        if let Some(e) = &self.env_error {
            return Err(StepError::terminal(format!("{KIND}: {e}")));
        }
        let (src_ref, src_cred) = oci::parse(KIND, "srcRef", &config.src_ref)?;
        let (dst_ref, dst_cred) = oci::parse(KIND, "destRef", &config.dest_ref)?;
        let tag = match (dst_ref.tag(), dst_ref.digest()) {
            (Some(tag), None) => tag.to_owned(),
            _ => {
                return Err(StepError::failed(format!(
                    "invalid {KIND} config: `destRef` `{}` must end with a tag, not a digest",
                    config.dest_ref
                )));
            }
        };
        let skip_tls = config.insecure_skip_tls_verify;
        let plain = &self.options.plain_http;
        let src = oci::connect(
            ctx,
            KIND,
            &config.src_ref,
            src_ref,
            src_cred,
            skip_tls,
            plain,
        )
        .await?;
        let dst = oci::connect(
            ctx,
            KIND,
            &config.dest_ref,
            dst_ref,
            dst_cred,
            skip_tls,
            plain,
        )
        .await?;
        let same_repository = src.repository == dst.repository;
        let scopes = scopes(&config.annotations);

        let mut top = Manifest::fetch(ctx, &src, &src.reference).await?;
        let is_index = INDEX_TYPES.contains(&top.media_type.as_str());
        if !is_index && !MANIFEST_TYPES.contains(&top.media_type.as_str()) {
            return Err(StepError::terminal(format!(
                "{KIND}: `{}` has unsupported media type `{}`",
                config.src_ref, top.media_type
            )));
        }
        let mut children = Vec::new();
        if is_index {
            let digests: Vec<String> = top
                .value
                .get("manifests")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|d| d.get("digest")?.as_str().map(str::to_owned))
                .collect();
            for digest in digests {
                let child = Manifest::fetch(ctx, &src, &src.at(&digest)).await?;
                if INDEX_TYPES.contains(&child.media_type.as_str()) {
                    return Err(StepError::terminal(format!(
                        "{KIND}: `{}` nests index {digest}; nested indexes are not supported",
                        config.src_ref
                    )));
                }
                children.push(child);
            }
        }
        if !same_repository {
            self.check_size(if is_index {
                &children
            } else {
                std::slice::from_ref(&top)
            })?;
        }
        dst.authorize_push(ctx, KIND).await?;

        if is_index {
            let mut replaced = BTreeMap::new();
            for child in &mut children {
                if !same_repository {
                    copy_blobs(ctx, &src, &dst, &child.blobs(), self.options.max_size).await?;
                }
                let old = child.digest.clone();
                child.annotate(&scopes.manifest)?;
                if !same_repository || child.digest != old {
                    child.push(ctx, &dst, &dst.at(&child.digest)).await?;
                }
                if child.digest != old {
                    replaced.insert(old, (child.digest.clone(), child.bytes.len()));
                }
            }
            if !replaced.is_empty() {
                let entries = top.value.get_mut("manifests").and_then(Value::as_array_mut);
                for entry in entries.into_iter().flatten() {
                    let old = entry
                        .get("digest")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    if let Some((digest, size)) = old.and_then(|d| replaced.get(&d)) {
                        entry["digest"] = Value::String(digest.clone());
                        entry["size"] = Value::from(*size);
                    }
                }
                top.bytes = serde_json::to_vec(&top.value).map_err(|e| {
                    StepError::terminal(format!("{KIND}: cannot encode the index")).with_source(e)
                })?;
                top.digest = oci::sha256(&top.bytes);
            }
            top.annotate(&scopes.index)?;
        } else {
            if !same_repository {
                copy_blobs(ctx, &src, &dst, &top.blobs(), self.options.max_size).await?;
            }
            top.annotate(&scopes.manifest)?;
        }
        top.push(ctx, &dst, &dst.at(&tag)).await?;

        let image = format!(
            "{}/{}:{tag}",
            dst.reference.registry(),
            dst.reference.repository()
        );
        tracing::debug!(%image, digest = %top.digest, "pushed");
        Ok(StepOutcome::succeeded()
            .with_output("image", image)
            .with_output("digest", top.digest.clone())
            .with_output("tag", tag))
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_touches(TOUCHES)
    }

    fn check_config(&self, config: &Value) -> Result<(), StepError> {
        schema::check(KIND, RULES, config)
    }
}

#[cfg(test)]
mod unit {
    use kargo_core::credentials::CredentialType;
    use kargo_core::step::ErrorKind;
    use serde_json::json;

    use super::*;
    use crate::oci::testing::{Answer, context};

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Kargo: oci_pusher_test.go, Test_parseAnnotationScopes (every case).
    #[test]
    fn annotation_keys_go_to_their_scope() {
        type Pairs = &'static [(&'static str, &'static str)];
        let cases: [(&str, Pairs, Pairs, Pairs); 5] = [
            ("nil annotations", &[], &[], &[]),
            (
                "unprefixed go to manifest",
                &[("foo", "bar")],
                &[],
                &[("foo", "bar")],
            ),
            (
                "index prefix",
                &[("index:foo", "bar")],
                &[("foo", "bar")],
                &[],
            ),
            (
                "manifest prefix",
                &[("manifest:foo", "bar")],
                &[],
                &[("foo", "bar")],
            ),
            (
                "mixed scopes",
                &[("index:a", "1"), ("manifest:b", "2"), ("c", "3")],
                &[("a", "1")],
                &[("b", "2"), ("c", "3")],
            ),
        ];
        for (name, annotations, index, manifest) in cases {
            let s = scopes(&map(annotations));
            assert_eq!(s.index, map(index), "{name}");
            assert_eq!(s.manifest, map(manifest), "{name}");
        }
    }

    /// Kargo: oci_pusher_test.go, Test_ociPusherConfig (every case), and a
    /// value that is not a number.
    #[test]
    fn kargos_environment_sets_the_size_limit() {
        let limit = |v: Option<&str>| {
            let step = OciPush::from_var(v.map(str::to_owned));
            assert!(step.env_error.is_none(), "{v:?}");
            step.options.max_size
        };
        assert_eq!(limit(None), 1 << 30, "unset returns default 1 GiB");
        assert_eq!(limit(Some("0")), 0, "zero blocks cross-repo pushes");
        assert_eq!(limit(Some("-1")), u64::MAX, "negative one disables limit");
        assert_eq!(limit(Some("536870912")), 536_870_912, "custom value");
        let bad = OciPush::from_var(Some("1GiB".into()));
        assert!(bad.env_error.unwrap().contains(MAX_SIZE_VAR));
    }

    /// Kargo: oci_pusher_test.go, Test_ociPusher_validate (every case):
    /// required fields, and the valid configs, which deserialize, pass the
    /// schema rules and hold usable references.
    #[tokio::test]
    async fn kargo_validate_cases() {
        let (_dir, ctx, _) = context(Answer::Nothing);
        for (name, config, field) in [
            (
                "srcRef is not specified",
                json!({"destRef": "registry.example.com/image:newtag"}),
                "srcRef",
            ),
            (
                "destRef is not specified",
                json!({"srcRef": "registry.example.com/image:tag"}),
                "destRef",
            ),
        ] {
            let err = OciPush::new().run(&ctx, config).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Failed, "{name}: {err}");
            assert!(err.to_string().contains(field), "{name}: {err}");
        }
        let valid = [
            json!({"srcRef": "registry.example.com/image:tag", "destRef": "registry.example.com/image:newtag"}),
            json!({"srcRef": "oci://registry.example.com/chart:1.0.0", "destRef": "oci://registry.example.com/chart:2.0.0"}),
            json!({"srcRef": "an.internal.registry.com:5050/myrepo/myimage:latest", "destRef": "an.internal.registry.com:5050/myrepo/myimage:newtag"}),
            json!({"srcRef": "oci://registry.example.com:5050/chart:1.0.0", "destRef": "oci://registry.example.com:5050/chart:2.0.0"}),
            json!({
                "srcRef": "registry.example.com/image:tag",
                "destRef": "registry.example.com/image:newtag",
                "insecureSkipTLSVerify": true,
                "annotations": {"org.opencontainers.image.source": "https://github.com/example/repo"},
            }),
        ];
        for value in valid {
            OciPush::new().check_config(&value).unwrap();
            let config: Config = serde_json::from_value(value).unwrap();
            crate::oci::parse(KIND, "srcRef", &config.src_ref).unwrap();
            crate::oci::parse(KIND, "destRef", &config.dest_ref).unwrap();
        }
    }

    /// Kargo: oci_pusher_test.go, Test_ociPusher_run_credentialError
    /// ("source credential error"), and Test_ociPusher_run ("invalid
    /// source reference", "invalid destination reference"), which fail
    /// before any lookup.
    #[tokio::test]
    async fn kargo_credential_and_reference_errors() {
        let (_dir, ctx, recorder) = context(Answer::Fails);
        let err = OciPush::new()
            .run(
                &ctx,
                json!({"srcRef": "registry.example.com/image:tag", "destRef": "registry.example.com/image:newtag"}),
            )
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("cannot look up credentials"),
            "{err}"
        );
        assert_eq!(
            recorder.asked(),
            [(CredentialType::Image, "registry.example.com/image".into())]
        );
        for (src, dest, field) in [
            ("invalid::ref", "registry.example.com/image:copy", "srcRef"),
            ("registry.example.com/image:tag", "invalid::ref", "destRef"),
        ] {
            let err = OciPush::new()
                .run(&ctx, json!({"srcRef": src, "destRef": dest}))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Failed, "{err}");
            assert!(err.to_string().contains(&format!("`{field}`")), "{err}");
        }
        assert_eq!(recorder.asked().len(), 1, "no lookup for bad references");
    }

    #[tokio::test]
    async fn an_unusable_environment_fails_every_run() {
        let (_dir, ctx, _) = context(Answer::Nothing);
        let err = OciPush::from_var(Some("lots".into()))
            .run(
                &ctx,
                json!({"srcRef": "registry.example.com/image:tag", "destRef": "registry.example.com/image:newtag"}),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Terminal);
        assert!(err.to_string().contains(MAX_SIZE_VAR), "{err}");
    }
}
