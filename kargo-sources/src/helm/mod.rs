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

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use kargo_core::credentials::CredentialType;
use kargo_core::model::{ChartSubscription, RepoSubscription, SubscriptionSource};
use serde::Deserialize;

use crate::oci::{Core, describe};
use crate::source::{Capabilities, ChartDiscovery, DiscoverOptions, Discovered, Source};
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
            kargo_core::Error::Generic {
                component: KIND,
                source: Box::new(e),
            }
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

#[derive(Deserialize)]
struct Index {
    #[serde(default)]
    entries: BTreeMap<String, Vec<IndexEntry>>,
}

#[derive(Deserialize)]
struct IndexEntry {
    #[serde(default)]
    version: String,
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

    async fn versions_http(&self, sub: &ChartSubscription) -> Result<Vec<Version>, Error> {
        let url = format!("{}/index.yaml", sub.repo_url.trim_end_matches('/'));
        let http = |source| Error::Http {
            url: url.clone(),
            source,
        };
        let client = reqwest::Client::builder()
            .tls_danger_accept_invalid_certs(sub.insecure_skip_tls_verify)
            .connect_timeout(std::time::Duration::from_secs(10))
            .read_timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(http)?;
        let mut request = client.get(&url);
        if let Some(c) = self
            .core
            .options
            .credentials
            .get(CredentialType::Helm, &sub.repo_url)
            .await
            .map_err(Error::Credentials)?
        {
            request = request.basic_auth(c.username, Some(c.password));
        }
        let response = request.send().await.map_err(http)?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(Error::Status {
                url: url.clone(),
                status: response.status().as_u16(),
            });
        }
        let text = response.text().await.map_err(http)?;
        let index: Index = serde_saphyr::from_str(&text).map_err(|e| Error::Index {
            url: url.clone(),
            reason: e.to_string(),
        })?;
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

    async fn versions_oci(
        &self,
        sub: &ChartSubscription,
        path: &str,
    ) -> Result<Vec<Version>, Error> {
        let repo = self
            .core
            .repository(path, sub.insecure_skip_tls_verify, CredentialType::Helm)
            .await?;
        Ok(repo
            .tags()
            .await?
            .iter()
            .filter(|t| !t.starts_with('v'))
            .filter_map(|t| Version::parse(&t.replace('_', "+"), true).ok())
            .collect())
    }

    async fn discover_chart(
        &self,
        name: &str,
        sub: &ChartSubscription,
    ) -> Result<ChartDiscovery, Error> {
        crate::source::check_discovery_limit(sub.discovery_limit)
            .map_err(|reason| Error::invalid("discoveryLimit", reason))?;
        let constraint = constraint_of(sub)?;
        let mut versions = if let Some(path) = sub.repo_url.strip_prefix("oci://") {
            if !sub.name.is_empty() {
                return Err(Error::invalid(
                    "name",
                    "must be empty for an oci:// repository",
                ));
            }
            self.versions_oci(sub, path).await?
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
            return Err(kargo_core::Error::Unsupported {
                operation: format!("`{}` subscriptions", subscription.source.type_key()),
                implementer: "ChartSource",
            });
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
