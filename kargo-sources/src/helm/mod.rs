//! Helm charts: `chart` subscriptions with Kargo's fields and rules.
//!
//! - A classic repository (`repoURL: https://…`, `name` required): the
//!   versions of `entries[name]` in `{repoURL}/index.yaml`, read as loose
//!   semantic versions (`v1.2`, `1.2.3-rc.1`); basic credentials of type
//!   `Helm` when the credentials provider has some.
//! - An OCI repository (`repoURL: oci://registry/path/chart`, no `name`):
//!   the repository's tags that are strict semantic versions once `_` is
//!   read as `+` (Helm's spelling of build metadata in tags), through the
//!   same registry clients as [`oci`](crate::oci) (plain HTTP on loopback,
//!   basic or bearer credentials, paginated tag lists).
//!
//! Then, as Kargo: `semverConstraint` filters, versions sort newest first
//! (equal precedence by their text, greatest first), and at most
//! `discoveryLimit` are kept.
//!
//! The same client serves the `helm-update-chart` step, which resolves a
//! chart's dependencies as Helm does: [`ChartSource::index`],
//! [`ChartSource::oci_versions`], and the archives through
//! [`ChartSource::download`] and [`ChartSource::pull`].

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use kargo_core::credentials::CredentialType;
use kargo_core::model::{ChartSubscription, RepoSubscription, SubscriptionSource};
use serde::Deserialize;

use crate::oci::{Core, describe};
use crate::source::{
    Capabilities, ChartDiscovery, DiscoverOptions, Discovered, Source, unsupported,
};
use kargo_core::semver::{Constraint, Version};

/// The subscription key [`ChartSource`] handles.
pub const KIND: &str = "chart";

/// The error of chart discovery.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A subscription field is unusable.
    #[error("invalid `{field}`: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The repository index could not be fetched.
    #[error("chart repository index {url}: {source}")]
    Http {
        /// The index URL.
        url: String,
        /// What reqwest reported.
        source: reqwest::Error,
    },
    /// The repository answered with an unexpected status.
    #[error("chart repository index {url}: HTTP {status}")]
    Status {
        /// The index URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The index is not a Helm repository index.
    #[error("chart repository index {url}: {reason}")]
    Index {
        /// The index URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The credentials provider failed.
    #[error("looking up credentials: {0}")]
    Credentials(#[source] kargo_core::Error),
    /// An OCI registry failure.
    #[error(transparent)]
    Oci(#[from] crate::oci::Error),
    /// A chart archive could not be had: missing, too large, or not a
    /// chart.
    #[error("chart {url}: {reason}")]
    Chart {
        /// The archive's URL or the OCI reference.
        url: String,
        /// Why.
        reason: String,
    },
    /// An error, with the subscription it happened in.
    #[error("{subscription}: {source}")]
    Subscription {
        /// `chart subscription "name" (repoURL)`, or similar.
        subscription: String,
        /// The error.
        source: Box<Error>,
    },
}

impl Error {
    fn invalid(field: &'static str, reason: impl Into<String>) -> Error {
        Error::Invalid {
            field,
            reason: reason.into(),
        }
    }

    /// Whether the failure may pass on another attempt: the repository
    /// was unreachable, timed out, or answered 429 or 5xx, or the
    /// credentials provider failed temporarily.
    pub fn is_temporary(&self) -> bool {
        match self {
            Error::Http { source, .. } => {
                source.is_connect()
                    || source.is_timeout()
                    || source.is_request()
                    || source.is_body()
            }
            Error::Status { status, .. } => *status == 429 || *status >= 500,
            Error::Oci(e) => e.is_temporary(),
            Error::Credentials(e) => e.is_temporary(),
            Error::Subscription { source, .. } => source.is_temporary(),
            _ => false,
        }
    }

    fn is_invalid(&self) -> bool {
        match self {
            Error::Invalid { .. } => true,
            Error::Oci(crate::oci::Error::Invalid { .. }) => true,
            Error::Subscription { source, .. } => source.is_invalid(),
            _ => false,
        }
    }
}

impl From<Error> for kargo_core::Error {
    fn from(e: Error) -> Self {
        if e.is_invalid() {
            kargo_core::Error::Invalid(e.to_string())
        } else {
            let status = kargo_core::ErrorStatus::temporary_if(e.is_temporary());
            kargo_core::Error::with_status(KIND, status, e)
        }
    }
}

/// Discovers Helm chart versions for `chart` subscriptions.
#[derive(Debug, Clone)]
pub struct ChartSource {
    core: Arc<Core>,
}

impl Default for ChartSource {
    fn default() -> Self {
        crate::oci::Builder::default().build_charts()
    }
}

/// A classic chart repository's `index.yaml`, as far as choosing and
/// fetching chart versions reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct RepositoryIndex {
    /// The versions of each chart, by chart name, in the index's order.
    #[serde(default)]
    pub entries: BTreeMap<String, Vec<IndexEntry>>,
}

/// One chart version listed in a [`RepositoryIndex`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct IndexEntry {
    /// The version, as written.
    #[serde(default)]
    pub version: String,
    /// Where its archive is: absolute URLs, or paths relative to the
    /// repository URL. An entry without any cannot be fetched.
    #[serde(default)]
    pub urls: Vec<String>,
}

/// The media type of a Helm chart archive layer in an OCI manifest.
pub const CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

/// The older media type of chart layers, which Helm still reads.
const LEGACY_CHART_LAYER: &str = "application/tar+gzip";

/// A relative chart URL of an index, resolved as Helm does: joined to the
/// repository URL's path (`charts/a-1.0.0.tgz` under
/// `https://example.com/repo` is `https://example.com/repo/charts/a-1.0.0.tgz`).
fn resolve_chart_url(repo_url: &str, url: &str) -> Option<reqwest::Url> {
    if let Ok(absolute) = reqwest::Url::parse(url) {
        return Some(absolute);
    }
    let mut base = reqwest::Url::parse(repo_url).ok()?;
    let (rel, query) = match url.split_once('?') {
        Some((rel, query)) => (rel, Some(query)),
        None => (url, None),
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in base.path().split('/').chain(rel.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let joined = format!("/{}", parts.join("/"));
    base.set_path(&joined);
    if query.is_some() {
        base.set_query(query);
    }
    Some(base)
}

/// The subscription's `semverConstraint`, compiled; `None` without one.
fn constraint_of(sub: &ChartSubscription) -> Result<Option<Constraint>, Error> {
    if sub.semver_constraint.is_empty() {
        return Ok(None);
    }
    Constraint::parse(&sub.semver_constraint)
        .map(Some)
        .map_err(|e| Error::invalid("semverConstraint", e.to_string()))
}

/// Whether a push of one of `versions` could change what `subscription`
/// selects: Kargo's `MatchesVersion`, which its webhook receivers ask
/// before refreshing a Warehouse: a semantic version (a `v` prefix and
/// missing parts allowed) satisfying `semverConstraint`, if any. Reads no
/// repository. A constraint that does not parse is an error naming the
/// field.
///
/// ```
/// use kargo_core::model::ChartSubscription;
///
/// let mut sub = ChartSubscription::default();
/// sub.repo_url = "oci://ghcr.io/acme/charts/app".into();
/// sub.semver_constraint = "<2".into();
/// assert!(kargo_sources::helm::version_matches(&sub, &["1.4.0"]).unwrap());
/// assert!(!kargo_sources::helm::version_matches(&sub, &["2.0.0", "latest"]).unwrap());
/// ```
pub fn version_matches<S: AsRef<str>>(
    subscription: &ChartSubscription,
    versions: &[S],
) -> Result<bool, Error> {
    let constraint = constraint_of(subscription)?;
    Ok(versions.iter().any(|v| {
        Version::parse(v.as_ref(), false)
            .is_ok_and(|v| constraint.as_ref().is_none_or(|c| c.matches(&v)))
    }))
}

impl ChartSource {
    pub(crate) fn from_core(core: Arc<Core>) -> Self {
        ChartSource { core }
    }

    /// A GET of `url` with the Helm credentials the provider has for
    /// `repo_url` (sent only when `url` is on the repository's host), the
    /// body read whole up to `max_bytes`; past them, the error is
    /// `too_large()`.
    async fn get(
        &self,
        repo_url: &str,
        url: &str,
        insecure_skip_tls_verify: bool,
        max_bytes: u64,
        too_large: impl FnOnce() -> Error,
    ) -> Result<Vec<u8>, Error> {
        let http = |source| Error::Http {
            url: url.to_owned(),
            source,
        };
        let client = reqwest::Client::builder()
            .tls_danger_accept_invalid_certs(insecure_skip_tls_verify)
            .connect_timeout(std::time::Duration::from_secs(10))
            .read_timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(http)?;
        let mut request = client.get(url);
        let same_host = match (reqwest::Url::parse(repo_url), reqwest::Url::parse(url)) {
            (Ok(a), Ok(b)) => a.scheme() == b.scheme() && a.authority() == b.authority(),
            _ => false,
        };
        if same_host
            && let Some(c) = self
                .core
                .options
                .credentials
                .get(CredentialType::Helm, repo_url)
                .await
                .map_err(Error::Credentials)?
        {
            request = request.basic_auth(c.username, Some(c.password));
        }
        let mut response = request.send().await.map_err(http)?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(Error::Status {
                url: url.to_owned(),
                status: response.status().as_u16(),
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(http)? {
            if (body.len() + chunk.len()) as u64 > max_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// Reads the index of the classic chart repository `repo_url`
    /// (`{repo_url}/index.yaml`), with the Helm credentials the provider
    /// has for `repo_url`. An index larger than
    /// [`Options::max_index_bytes`](crate::oci::Options::max_index_bytes)
    /// is an [`Error::Index`] naming its URL and the limit.
    pub async fn index(
        &self,
        repo_url: &str,
        insecure_skip_tls_verify: bool,
    ) -> Result<RepositoryIndex, Error> {
        let url = format!("{}/index.yaml", repo_url.trim_end_matches('/'));
        let max_bytes = self.core.options.max_index_bytes;
        let too_large = || Error::Index {
            url: url.clone(),
            reason: format!(
                "larger than the limit of {max_bytes} bytes \
                 (raise it with the sources' `max_index_bytes` option)"
            ),
        };
        let body = self
            .get(
                repo_url,
                &url,
                insecure_skip_tls_verify,
                max_bytes,
                too_large,
            )
            .await?;
        let text = String::from_utf8(body).map_err(|_| Error::Index {
            url: url.clone(),
            reason: "not UTF-8".into(),
        })?;
        serde_saphyr::from_str(&text).map_err(|e| Error::Index {
            url,
            reason: e.to_string(),
        })
    }

    /// Downloads a chart archive listed in the index of `repo_url`: `url`
    /// as the index writes it (absolute, or relative to `repo_url`). The
    /// repository's credentials go only to its own host, as Helm sends
    /// them; more than `max_bytes` is an error.
    pub async fn download(
        &self,
        repo_url: &str,
        url: &str,
        insecure_skip_tls_verify: bool,
        max_bytes: u64,
    ) -> Result<Vec<u8>, Error> {
        let resolved = resolve_chart_url(repo_url, url).ok_or_else(|| Error::Chart {
            url: url.to_owned(),
            reason: format!("not a URL, nor a path under `{repo_url}`"),
        })?;
        let too_large = || Error::Chart {
            url: resolved.to_string(),
            reason: format!("larger than the limit of {max_bytes} bytes"),
        };
        self.get(
            repo_url,
            resolved.as_str(),
            insecure_skip_tls_verify,
            max_bytes,
            too_large,
        )
        .await
    }

    /// The versions of the OCI chart `repo_url`
    /// (`oci://registry/path/chart`): its tags that are strict semantic
    /// versions once `_` is read as `+`, in the registry's order.
    pub async fn oci_versions(
        &self,
        repo_url: &str,
        insecure_skip_tls_verify: bool,
    ) -> Result<Vec<Version>, Error> {
        let path = oci_path(repo_url)?;
        let repo = self
            .core
            .repository(path, insecure_skip_tls_verify, CredentialType::Helm)
            .await?;
        Ok(repo
            .tags()
            .await?
            .iter()
            .filter(|t| !t.starts_with('v'))
            .filter_map(|t| Version::parse(&t.replace('_', "+"), true).ok())
            .collect())
    }

    /// Pulls the archive of the OCI chart `repo_url`
    /// (`oci://registry/path/chart`) at `version` (a `+` is looked up as
    /// `_`, Helm's spelling in tags): the chart layer of its manifest,
    /// at most `max_bytes`.
    pub async fn pull(
        &self,
        repo_url: &str,
        version: &str,
        insecure_skip_tls_verify: bool,
        max_bytes: u64,
    ) -> Result<Vec<u8>, Error> {
        let path = oci_path(repo_url)?;
        let shown = format!("{repo_url}:{version}");
        let chart_error = |reason: String| Error::Chart {
            url: shown.clone(),
            reason,
        };
        let repo = self
            .core
            .repository(path, insecure_skip_tls_verify, CredentialType::Helm)
            .await?;
        let tag = version.replace('+', "_");
        let Some((manifest, _)) = repo.manifest(&tag).await? else {
            return Err(chart_error("no such tag".into()));
        };
        let manifest: serde_json::Value = serde_json::from_slice(&manifest)
            .map_err(|e| chart_error(format!("the manifest is not JSON: {e}")))?;
        let layers = manifest
            .get("layers")
            .and_then(serde_json::Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let layer_of = |media_type: &str| {
            layers.iter().find(|l| {
                l.get("mediaType").and_then(serde_json::Value::as_str) == Some(media_type)
            })
        };
        let layer = layer_of(CHART_LAYER)
            .or_else(|| layer_of(LEGACY_CHART_LAYER))
            .ok_or_else(|| chart_error(format!("the manifest has no `{CHART_LAYER}` layer")))?;
        let digest = layer
            .get("digest")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| chart_error("the chart layer has no digest".into()))?;
        let size = layer
            .get("size")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        if size > max_bytes {
            return Err(chart_error(format!(
                "the chart layer ({size} bytes) is larger than the limit of {max_bytes} bytes"
            )));
        }
        let blob = repo.blob(digest).await?;
        if blob.len() as u64 > max_bytes {
            return Err(chart_error(format!(
                "the chart layer is larger than the limit of {max_bytes} bytes"
            )));
        }
        Ok(blob)
    }

    async fn versions_http(&self, sub: &ChartSubscription) -> Result<Vec<Version>, Error> {
        let index = self
            .index(&sub.repo_url, sub.insecure_skip_tls_verify)
            .await?;
        Ok(index
            .entries
            .get(&sub.name)
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|e| Version::parse(&e.version, false).ok())
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn discover_chart(
        &self,
        name: &str,
        sub: &ChartSubscription,
    ) -> Result<ChartDiscovery, Error> {
        crate::source::check_discovery_limit(sub.discovery_limit)
            .map_err(|reason| Error::invalid("discoveryLimit", reason))?;
        let constraint = constraint_of(sub)?;
        let mut versions = if sub.repo_url.starts_with("oci://") {
            if !sub.name.is_empty() {
                return Err(Error::invalid(
                    "name",
                    "must be empty for an oci:// repository",
                ));
            }
            self.oci_versions(&sub.repo_url, sub.insecure_skip_tls_verify)
                .await?
        } else if sub.repo_url.starts_with("http://") || sub.repo_url.starts_with("https://") {
            if sub.name.is_empty() {
                return Err(Error::invalid(
                    "name",
                    "is required for a classic chart repository",
                ));
            }
            self.versions_http(sub).await?
        } else {
            return Err(Error::invalid(
                "repoURL",
                format!("`{}` is neither oci:// nor http(s)://", sub.repo_url),
            ));
        };
        versions.retain(|v| constraint.as_ref().is_none_or(|c| c.matches(v)));
        versions.sort_by(|a, b| b.cmp(a));
        versions.truncate(sub.discovery_limit as usize);
        Ok(ChartDiscovery {
            repo_url: sub.repo_url.clone(),
            name: sub.name.clone(),
            semver_constraint: sub.semver_constraint.clone(),
            versions: versions.iter().map(|v| v.original().to_owned()).collect(),
            subscription_name: name.to_owned(),
        })
    }
}

/// The registry path of an `oci://` chart URL.
fn oci_path(repo_url: &str) -> Result<&str, Error> {
    repo_url
        .strip_prefix("oci://")
        .ok_or_else(|| Error::invalid("repoURL", format!("`{repo_url}` is not an oci:// URL")))
}

#[async_trait]
impl Source for ChartSource {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            subscription_types: vec![KIND],
            strategies: vec!["SemVer"],
            platforms: false,
            layout_directories: false,
        }
    }

    async fn discover(
        &self,
        subscription: &RepoSubscription,
        _options: DiscoverOptions,
    ) -> kargo_core::Result<Discovered> {
        let SubscriptionSource::Chart(sub) = &subscription.source else {
            return Err(unsupported(subscription.source.type_key(), "ChartSource"));
        };
        let repo = if sub.name.is_empty() {
            sub.repo_url.clone()
        } else {
            format!("{} {}", sub.repo_url, sub.name)
        };
        self.discover_chart(&subscription.name, sub)
            .await
            .map(Discovered::Charts)
            .map_err(|e| {
                Error::Subscription {
                    subscription: describe(KIND, &subscription.name, &repo),
                    source: Box::new(e),
                }
                .into()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_chart_urls_join_the_repository_path_as_helm_joins_them() {
        let resolve = |repo: &str, url: &str| resolve_chart_url(repo, url).map(|u| u.to_string());
        for (repo, url, want) in [
            (
                "https://example.com/repo",
                "charts/a-1.0.0.tgz",
                "https://example.com/repo/charts/a-1.0.0.tgz",
            ),
            (
                "https://example.com/repo/",
                "a-1.0.0.tgz",
                "https://example.com/repo/a-1.0.0.tgz",
            ),
            (
                "https://example.com/repo",
                "../other/a-1.0.0.tgz",
                "https://example.com/other/a-1.0.0.tgz",
            ),
            (
                "http://127.0.0.1:8080",
                "a-1.0.0.tgz?token=x",
                "http://127.0.0.1:8080/a-1.0.0.tgz?token=x",
            ),
            (
                "https://example.com/repo",
                "https://cdn.example.com/a-1.0.0.tgz",
                "https://cdn.example.com/a-1.0.0.tgz",
            ),
        ] {
            assert_eq!(resolve(repo, url).as_deref(), Some(want), "{repo} + {url}");
        }
        assert_eq!(resolve("not a url", "a.tgz"), None);
    }

    #[test]
    fn only_unreachable_or_overloaded_repositories_are_temporary() {
        let status = |status| Error::Status {
            url: "u".into(),
            status,
        };
        assert!(status(503).is_temporary());
        assert!(status(429).is_temporary());
        assert!(!status(404).is_temporary());
        assert!(!status(401).is_temporary());
        // kargo-core's error keeps the status for the layers above.
        assert!(kargo_core::Error::from(status(502)).is_temporary());
        assert!(!kargo_core::Error::from(status(404)).is_temporary());
        let lookup = |e| Error::Credentials(e).is_temporary();
        assert!(lookup(kargo_core::Error::temporary(
            "registry credentials",
            std::io::Error::other("503")
        )));
        assert!(!lookup(kargo_core::Error::Invalid("bad Secret".into())));
        assert!(
            !Error::Index {
                url: "u".into(),
                reason: "r".into()
            }
            .is_temporary()
        );
    }
}
