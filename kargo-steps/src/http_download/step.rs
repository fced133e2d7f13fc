use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use kargo_core::duration::GoDuration;
use kargo_core::step::{Capabilities, Step, StepContext, StepError, StepOutcome, parse_config};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use super::{Config, DEFAULT_TIMEOUT, KIND, Options, RULES, TOUCHES};
use crate::http::client::{self, AddressPolicy, Request, redact_url};
use crate::schema;

/// The `http-download` step (see the [module](super)).
///
/// Idempotent with `allowOverwrite: true`; without it, a second run fails
/// because the file exists.
#[derive(Debug, Clone, Default)]
pub struct HttpDownload {
    options: Options,
}

impl HttpDownload {
    /// The step with default [`Options`].
    pub fn new() -> Self {
        HttpDownload::default()
    }

    /// The step with `options`.
    pub fn with_options(options: Options) -> Self {
        HttpDownload { options }
    }

    /// The step with a download size limit of `max_size` bytes.
    pub fn with_max_size(mut self, max_size: u64) -> Self {
        self.options.max_size = max_size;
        self
    }
}

fn validate(config: &Config) -> Result<(), StepError> {
    if config.url.is_empty() {
        return Err(StepError::failed(format!(
            "invalid {KIND} config: `url` is empty"
        )));
    }
    if config.out_path.is_empty() {
        return Err(StepError::failed(format!(
            "invalid {KIND} config: `outPath` is empty"
        )));
    }
    client::validate_pairs(KIND, &config.headers, &config.query_params)
}

/// The outermost ancestor of `dir` (itself included) that does not exist,
/// so that directories created for a failed download can be removed.
fn first_missing(dir: &Path) -> Option<PathBuf> {
    let mut missing = None;
    for ancestor in dir.ancestors() {
        if ancestor.exists() {
            break;
        }
        missing = Some(ancestor.to_path_buf());
    }
    missing
}

fn exists_error(out_path: &str) -> StepError {
    StepError::terminal(format!(
        "{KIND}: file already exists at `{out_path}` and overwrite is not allowed"
    ))
}

/// Streams `response` into a temporary file in `dir` and renames it to
/// `path`; returns the size. On error the temporary file is removed.
async fn save(
    ctx: &StepContext,
    config: &Config,
    cap: u64,
    timeout: std::time::Duration,
    mut response: reqwest::Response,
    dir: &Path,
    path: PathBuf,
) -> Result<u64, StepError> {
    let shown = redact_url(&config.url);
    let write_error = |e: io::Error| {
        StepError::terminal(format!("{KIND}: cannot write `{}`", config.out_path)).with_source(e)
    };
    let tmp = tempfile::Builder::new()
        .prefix(".kargo-download-")
        .tempfile_in(dir)
        .map_err(write_error)?;
    let mut file = tokio::fs::File::from_std(tmp.as_file().try_clone().map_err(write_error)?);
    let mut size = 0u64;
    while let Some(chunk) = client::next_chunk(ctx, KIND, &shown, timeout, &mut response).await? {
        let chunk = chunk.as_ref();
        size += chunk.len() as u64;
        if size > cap {
            return Err(StepError::terminal(format!(
                "{KIND}: download from {shown} exceeds the limit of {cap} bytes"
            )));
        }
        file.write_all(chunk).await.map_err(write_error)?;
    }
    file.flush().await.map_err(write_error)?;
    file.sync_all().await.map_err(write_error)?;
    drop(file);
    let allow_overwrite = config.allow_overwrite;
    let persisted = tokio::task::spawn_blocking(move || {
        if allow_overwrite {
            tmp.persist(&path)
        } else {
            tmp.persist_noclobber(&path)
        }
    })
    .await
    .map_err(|e| StepError::terminal(format!("{KIND}: writer task failed")).with_source(e))?;
    match persisted {
        Ok(_) => Ok(size),
        Err(e) if !allow_overwrite && e.error.kind() == io::ErrorKind::AlreadyExists => {
            Err(exists_error(&config.out_path))
        }
        Err(e) => Err(write_error(e.error)),
    }
}

#[async_trait]
impl Step for HttpDownload {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        validate(&config)?;
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
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .ok_or_else(|| StepError::failed(format!("{KIND}: `outPath` has no parent")))?;

        let timeout = config
            .timeout
            .map_or(DEFAULT_TIMEOUT, GoDuration::as_duration);
        let shown = redact_url(&config.url);
        let response = client::send(
            ctx,
            Request {
                kind: KIND,
                method: reqwest::Method::GET,
                url: &config.url,
                headers: &config.headers,
                query_params: &config.query_params,
                body: None,
                timeout,
                insecure_skip_tls_verify: config.insecure_skip_tls_verify,
                proxy: None,
                addresses: AddressPolicy::new(&self.options.allowed_internal_addresses),
            },
        )
        .await?;
        let status = response.status();
        if !status.is_success() {
            return Err(StepError::retryable(format!(
                "{KIND}: HTTP request to {shown} failed with status {}",
                status.as_u16()
            )));
        }
        let cap = self.options.max_size;
        if response.content_length().is_some_and(|len| len > cap) {
            return Err(StepError::terminal(format!(
                "{KIND}: download from {shown} exceeds the limit of {cap} bytes"
            )));
        }

        let created = first_missing(&dir);
        if created.is_some() {
            tokio::fs::create_dir_all(&dir).await.map_err(|e| {
                StepError::terminal(format!(
                    "{KIND}: cannot create the directory of `{}`",
                    config.out_path
                ))
                .with_source(e)
            })?;
        }
        match save(ctx, &config, cap, timeout, response, &dir, path).await {
            Ok(size) => {
                tracing::debug!(url = %shown, out_path = %config.out_path, size, "downloaded");
                Ok(StepOutcome::succeeded())
            }
            Err(e) => {
                if let Some(created) = created {
                    let _ = tokio::fs::remove_dir_all(created).await;
                }
                Err(e)
            }
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_touches(TOUCHES)
    }

    fn check_config(&self, config: &Value) -> Result<(), StepError> {
        schema::check(KIND, crate::http::PAIR_RULES, config)?;
        schema::check(KIND, RULES, config)
    }
}
