//! Where manifests and blobs come from: a registry (through oci-client) or
//! an OCI image-layout directory. Both answer the same three questions.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use oci_client::Reference;
use oci_client::client::{Client, ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{
    IMAGE_MANIFEST_LIST_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE, OCI_IMAGE_INDEX_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE,
};
use oci_client::secrets::RegistryAuth;
use sha2::{Digest as _, Sha256};

use super::Error;

/// The manifest media types discovery asks for.
const ACCEPTED: &[&str] = &[
    OCI_IMAGE_INDEX_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE,
    IMAGE_MANIFEST_LIST_MEDIA_TYPE,
    IMAGE_MANIFEST_MEDIA_TYPE,
];

/// A repository of manifests and blobs.
#[async_trait]
pub(crate) trait Repository: Send + Sync {
    /// A stable key for caches (registry + repository, or the directory).
    fn key(&self) -> &str;
    /// Every tag.
    async fn tags(&self) -> Result<Vec<String>, Error>;
    /// The manifest (or index) a tag or digest names, with its digest;
    /// `None` when there is none.
    async fn manifest(&self, reference: &str) -> Result<Option<(Vec<u8>, String)>, Error>;
    /// A blob's content.
    async fn blob(&self, digest: &str) -> Result<Vec<u8>, Error>;
}

/// A repository in a registry.
pub(crate) struct Remote {
    pub(crate) client: Client,
    pub(crate) reference: Reference,
    pub(crate) auth: RegistryAuth,
    pub(crate) page_size: usize,
    pub(crate) max_pages: usize,
    pub(crate) url: String,
    pub(crate) key: String,
    pub(crate) retries: u32,
    pub(crate) backoff: std::time::Duration,
    /// Requests in flight to this repository's registry, shared by every
    /// repository of the registry (see `Options::max_requests_per_registry`).
    pub(crate) limit: std::sync::Arc<tokio::sync::Semaphore>,
}

/// The longest pause between retries of a registry request.
const MAX_PAUSE: std::time::Duration = std::time::Duration::from_secs(30);

/// Whether a failure may go away by itself: 429, 5xx, a timeout.
pub(crate) fn is_transient(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::ServerError { code, .. } => *code == 429 || *code >= 500,
        OciDistributionError::RequestError(e) => e.is_timeout(),
        e => registry_codes(e).any(|c| matches!(c, OciErrorCode::Toomanyrequests)),
    }
}

impl Remote {
    /// A client for `registry`: plain HTTP when `plain_http`, certificate
    /// checks off when `skip_tls_verify`.
    pub(crate) fn client(registry: &str, plain_http: bool, skip_tls_verify: bool) -> Client {
        let protocol = if plain_http {
            ClientProtocol::HttpsExcept(vec![registry.to_owned()])
        } else {
            ClientProtocol::Https
        };
        Client::new(ClientConfig {
            protocol,
            accept_invalid_certificates: skip_tls_verify,
            read_timeout: Some(std::time::Duration::from_secs(30)),
            connect_timeout: Some(std::time::Duration::from_secs(10)),
            ..Default::default()
        })
    }

    /// Runs `op`, again after a growing pause when it fails transiently,
    /// at most `retries` more times.
    async fn retrying<T, Fut>(
        &self,
        mut op: impl FnMut() -> Fut + Send,
    ) -> Result<T, OciDistributionError>
    where
        Fut: Future<Output = Result<T, OciDistributionError>> + Send,
    {
        let backoff = kargo_core::retry::Backoff::exponential(self.backoff, MAX_PAUSE);
        kargo_core::retry::retry(
            backoff.delays().take(self.retries as usize),
            || {
                // Futures are lazy: the request starts once a permit is held.
                let request = op();
                async {
                    // A closed semaphore never happens (it is never
                    // closed); then the request just goes unlimited.
                    let _permit = self.limit.acquire().await.ok();
                    request.await
                }
            },
            |e, pause| {
                let transient = is_transient(e);
                if transient {
                    tracing::debug!(url = %self.url, ?pause, error = %e, "transient registry failure; retrying");
                }
                transient
            },
        )
        .await
    }

    fn at(&self, reference: &str) -> Reference {
        let registry = self.reference.registry().to_owned();
        let repository = self.reference.repository().to_owned();
        if reference.contains(':') && reference.starts_with("sha") {
            Reference::with_digest(registry, repository, reference.to_owned())
        } else {
            Reference::with_tag(registry, repository, reference.to_owned())
        }
    }

    fn error(&self, what: String, source: OciDistributionError) -> Error {
        if matches!(source, OciDistributionError::UnauthorizedError { .. })
            || matches!(
                &source,
                OciDistributionError::ServerError {
                    code: 401 | 403,
                    ..
                }
            )
            || matches!(&source, OciDistributionError::AuthenticationFailure(_))
            || registry_codes(&source)
                .any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied))
        {
            return Error::Unauthorized {
                url: self.url.clone(),
                source,
            };
        }
        Error::Registry {
            url: self.url.clone(),
            what,
            source,
        }
    }
}

fn registry_codes(e: &OciDistributionError) -> impl Iterator<Item = &OciErrorCode> {
    let errors = match e {
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.as_slice(),
        _ => &[],
    };
    errors.iter().map(|e| &e.code)
}

fn is_not_found(e: &OciDistributionError) -> bool {
    matches!(e, OciDistributionError::ImageManifestNotFoundError(_))
        || matches!(e, OciDistributionError::ServerError { code: 404, .. })
        || registry_codes(e).any(|c| {
            matches!(
                c,
                OciErrorCode::ManifestUnknown | OciErrorCode::NotFound | OciErrorCode::NameUnknown
            )
        })
}

#[async_trait]
impl Repository for Remote {
    fn key(&self) -> &str {
        &self.key
    }

    /// Lists tags page by page (`n`, `last`), and stops when a page is
    /// short, brings nothing new, or the page budget is spent: a server
    /// that ignores `n` or `last` cannot make this loop forever.
    async fn tags(&self) -> Result<Vec<String>, Error> {
        let mut tags: Vec<String> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut last: Option<String> = None;
        for page in 0.. {
            if page >= self.max_pages {
                tracing::warn!(url = %self.url, pages = page, "tag listing stopped at the page limit");
                break;
            }
            let response = self
                .retrying(|| {
                    self.client.list_tags(
                        &self.reference,
                        &self.auth,
                        Some(self.page_size),
                        last.as_deref(),
                    )
                })
                .await
                .map_err(|e| self.error("listing tags".into(), e))?;
            let got = response.tags.len();
            let mut new = 0usize;
            for tag in response.tags {
                if seen.insert(tag.clone()) {
                    tags.push(tag);
                    new += 1;
                }
            }
            tracing::trace!(url = %self.url, page, got, new, "tag page");
            if got < self.page_size || new == 0 {
                if new == 0 && got > 0 {
                    tracing::debug!(url = %self.url, "registry repeated a page of tags; stopping");
                }
                break;
            }
            let next = tags.last().cloned();
            if next == last {
                break;
            }
            last = next;
        }
        Ok(tags)
    }

    async fn manifest(&self, reference: &str) -> Result<Option<(Vec<u8>, String)>, Error> {
        let at = self.at(reference);
        match self
            .retrying(|| self.client.pull_manifest_raw(&at, &self.auth, ACCEPTED))
            .await
        {
            Ok((bytes, digest)) => Ok(Some((bytes.to_vec(), digest))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(self.error(format!("getting the manifest of `{reference}`"), e)),
        }
    }

    async fn blob(&self, digest: &str) -> Result<Vec<u8>, Error> {
        let at = self.at(digest);
        self.retrying(|| async {
            let mut out = Vec::new();
            self.client
                .pull_blob(&at, digest, &mut out)
                .await
                .map(|()| out)
        })
        .await
        .map_err(|e| self.error(format!("getting blob {digest}"), e))
    }
}

/// An OCI image-layout directory (`oci-layout`, `index.json`, `blobs/`):
/// its tags are the `org.opencontainers.image.ref.name` annotations of
/// `index.json`'s entries.
pub(crate) struct Layout {
    pub(crate) root: PathBuf,
    pub(crate) key: String,
}

/// The annotation that names a tag in an image layout's `index.json`.
pub(crate) const REF_NAME: &str = "org.opencontainers.image.ref.name";

#[derive(serde::Deserialize)]
struct LayoutIndex {
    #[serde(default)]
    manifests: Vec<LayoutEntry>,
}

#[derive(serde::Deserialize)]
struct LayoutEntry {
    digest: String,
    #[serde(default)]
    annotations: std::collections::BTreeMap<String, String>,
}

impl Layout {
    pub(crate) fn new(root: PathBuf) -> Self {
        let key = format!("oci-layout://{}", root.display());
        Layout { root, key }
    }

    async fn read(&self, path: &Path) -> Result<Vec<u8>, Error> {
        tokio::fs::read(path).await.map_err(|source| Error::Layout {
            path: path.to_owned(),
            source: Box::new(source),
        })
    }

    async fn index(&self) -> Result<LayoutIndex, Error> {
        let marker = self.root.join("oci-layout");
        if !tokio::fs::try_exists(&marker).await.unwrap_or(false) {
            return Err(Error::Layout {
                path: marker,
                source: "not an OCI image layout: the `oci-layout` file is missing".into(),
            });
        }
        let path = self.root.join("index.json");
        let bytes = self.read(&path).await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Layout {
            path,
            source: Box::new(e),
        })
    }

    fn blob_path(&self, digest: &str) -> Result<PathBuf, Error> {
        let (algorithm, hex) = digest.split_once(':').unwrap_or(("", ""));
        let valid = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
        if !valid(algorithm) || !valid(hex) {
            return Err(Error::Layout {
                path: self.root.clone(),
                source: format!("invalid digest `{digest}`").into(),
            });
        }
        Ok(self.root.join("blobs").join(algorithm).join(hex))
    }
}

#[async_trait]
impl Repository for Layout {
    fn key(&self) -> &str {
        &self.key
    }

    async fn tags(&self) -> Result<Vec<String>, Error> {
        let mut seen = HashSet::new();
        Ok(self
            .index()
            .await?
            .manifests
            .into_iter()
            .filter_map(|m| m.annotations.get(REF_NAME).cloned())
            .filter(|t| seen.insert(t.clone()))
            .collect())
    }

    async fn manifest(&self, reference: &str) -> Result<Option<(Vec<u8>, String)>, Error> {
        let digest = if reference.starts_with("sha256:") {
            reference.to_owned()
        } else {
            match self
                .index()
                .await?
                .manifests
                .into_iter()
                .find(|m| m.annotations.get(REF_NAME).map(String::as_str) == Some(reference))
            {
                Some(m) => m.digest,
                None => return Ok(None),
            }
        };
        let path = self.blob_path(&digest)?;
        if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(None);
        }
        Ok(Some((self.blob(&digest).await?, digest)))
    }

    async fn blob(&self, digest: &str) -> Result<Vec<u8>, Error> {
        let path = self.blob_path(digest)?;
        let bytes = self.read(&path).await?;
        if let Some(hex) = digest.strip_prefix("sha256:") {
            let actual = hex::encode(Sha256::digest(&bytes));
            if actual != hex {
                return Err(Error::Layout {
                    path,
                    source: format!("content does not match its digest (sha256:{actual})").into(),
                });
            }
        }
        Ok(bytes)
    }
}
