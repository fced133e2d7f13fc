use std::io;
use std::path::Path;

use async_trait::async_trait;
use kargo_core::step::{Capabilities, Step, StepContext, StepError, StepOutcome, parse_config};
use serde_json::Value;

use super::{Config, KIND, Options, RULES, TOUCHES};
use crate::oci::{self, Endpoint, INDEX_TYPES};
use crate::schema;

/// The `oci-download` step (see the [module](super)).
///
/// Idempotent with `allowOverwrite: true`; without it, a second run fails
/// because the file exists.
#[derive(Debug, Clone, Default)]
pub struct OciDownload {
    options: Options,
}

impl OciDownload {
    /// The step with default [`Options`].
    pub fn new() -> Self {
        OciDownload::default()
    }

    /// The step with `options`.
    pub fn with_options(options: Options) -> Self {
        OciDownload { options }
    }
}

/// The image manifest to read: `value` itself, or for an index the
/// `linux/amd64` entry (else the first).
async fn image_manifest(
    ctx: &StepContext,
    from: &Endpoint,
    config: &Config,
) -> Result<Value, StepError> {
    let parse = |bytes: &[u8]| {
        serde_json::from_slice::<Value>(bytes).map_err(|e| {
            StepError::terminal(format!(
                "{KIND}: the manifest of `{}` is not JSON",
                config.image_ref
            ))
            .with_source(e)
        })
    };
    let (bytes, _, media_type) = from.manifest(ctx, KIND, &from.reference).await?;
    let value = parse(&bytes)?;
    if !INDEX_TYPES.contains(&media_type.as_str()) {
        return Ok(value);
    }
    let entries = value
        .get("manifests")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let is_default_platform = |entry: &Value| {
        let platform = entry.get("platform");
        let field = |name: &str| platform.and_then(|p| p.get(name)).and_then(Value::as_str);
        field("os") == Some("linux") && field("architecture") == Some("amd64")
    };
    let entry = entries
        .iter()
        .find(|e| is_default_platform(e))
        .or_else(|| entries.first())
        .ok_or_else(|| {
            StepError::terminal(format!(
                "{KIND}: the index `{}` has no manifests",
                config.image_ref
            ))
        })?;
    let digest = entry.get("digest").and_then(Value::as_str).ok_or_else(|| {
        StepError::terminal(format!(
            "{KIND}: an entry of the index `{}` has no digest",
            config.image_ref
        ))
    })?;
    let (bytes, _, _) = from.manifest(ctx, KIND, &from.at(digest)).await?;
    parse(&bytes)
}

fn exists_error(out_path: &str) -> StepError {
    StepError::terminal(format!(
        "{KIND}: file already exists at `{out_path}` and overwrite is not allowed"
    ))
}

#[async_trait]
impl Step for OciDownload {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        if config.out_path.is_empty() {
            return Err(StepError::failed(format!(
                "invalid {KIND} config: `outPath` is empty"
            )));
        }
        let path = ctx.workspace.resolve(&config.out_path)?;
        match tokio::fs::symlink_metadata(&path).await {
            Ok(meta) if meta.is_dir() => {
                return Err(StepError::terminal(format!(
                    "{KIND}: `outPath` `{}` is a directory",
                    config.out_path
                )));
            }
            Ok(_) if !config.allow_overwrite => return Err(exists_error(&config.out_path)),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(StepError::terminal(format!(
                    "{KIND}: cannot check `{}`",
                    config.out_path
                ))
                .with_source(e));
            }
        }
        let (reference, cred) = oci::parse(KIND, "imageRef", &config.image_ref)?;
        let from = oci::connect(
            ctx,
            KIND,
            &config.image_ref,
            reference,
            cred,
            config.insecure_skip_tls_verify,
            &self.options.plain_http,
        )
        .await?;
        let manifest = image_manifest(ctx, &from, &config).await?;
        let layers = manifest
            .get("layers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let wanted = config.media_type.as_deref().filter(|m| !m.is_empty());
        let layer = match wanted {
            Some(media_type) => layers
                .iter()
                .find(|l| l.get("mediaType").and_then(Value::as_str) == Some(media_type))
                .ok_or_else(|| {
                    StepError::terminal(format!(
                        "{KIND}: `{}` has no layer with media type `{media_type}`",
                        config.image_ref
                    ))
                })?,
            None => layers.first().ok_or_else(|| {
                StepError::terminal(format!("{KIND}: `{}` has no layers", config.image_ref))
            })?,
        };
        let digest = layer.get("digest").and_then(Value::as_str).ok_or_else(|| {
            StepError::terminal(format!(
                "{KIND}: a layer of `{}` has no digest",
                config.image_ref
            ))
        })?;
        let size = layer.get("size").and_then(Value::as_u64).unwrap_or(0);
        let cap = self.options.max_size;
        if size > cap {
            return Err(StepError::terminal(format!(
                "{KIND}: layer {digest} of `{}` ({size} bytes) exceeds the limit of {cap} bytes",
                config.image_ref
            )));
        }
        let bytes = from.blob(ctx, KIND, digest, cap).await?;

        let dir = path.parent().unwrap_or(Path::new(".")).to_owned();
        let out_path = config.out_path.clone();
        let size = bytes.len();
        crate::edit::blocking(move || {
            std::fs::create_dir_all(&dir)
                .and_then(|()| crate::fs::write_atomic(&path, &bytes, None))
                .map_err(|e| {
                    StepError::terminal(format!("{KIND}: cannot write `{out_path}`")).with_source(e)
                })
        })
        .await?;
        tracing::debug!(image = %config.image_ref, out_path = %config.out_path, size, "layer saved");
        Ok(StepOutcome::succeeded())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_touches(TOUCHES)
    }

    fn check_config(&self, config: &Value) -> Result<(), StepError> {
        schema::check(KIND, RULES, config)
    }
}
