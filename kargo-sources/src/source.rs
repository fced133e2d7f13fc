//! The [`Source`] trait, what it returns, and its extension trait.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use kargo_core::Result;
use kargo_core::model::{ArtifactReference, Chart, Freight, GitCommit, Image, RepoSubscription};
use kargo_core::time::Timestamp;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

/// Discovers the artifacts of one kind of Warehouse subscription.
///
/// # Contract
/// - [`discover`](Source::discover) returns what the subscription selects,
///   **newest first** as its selection strategy orders them, at most the
///   subscription's `discoveryLimit` entries. Finding nothing is not an
///   error: it is an empty [`Discovered`].
/// - A subscription the source does not handle (see
///   [`Capabilities::subscription_types`]) is
///   [`Error::Unsupported`](kargo_core::Error::Unsupported).
/// - Invalid subscriptions (a bad regex, constraint, platform or limit)
///   are [`Error::Invalid`](kargo_core::Error::Invalid), unreachable or
///   refusing repositories [`Error::Generic`](kargo_core::Error::Generic);
///   every message names the subscription's repository.
/// - Discovery only reads. Sources may cache immutable facts (metadata by
///   digest) between calls, never a tag's meaning.
/// - Sources are shared: they take `&self` and are `Send + Sync`.
///
/// # Examples
/// ```
/// use kargo_sources::{DynSource, Source};
///
/// fn describe(source: &DynSource) -> String {
///     source.capabilities().subscription_types.join(", ")
/// }
/// ```
#[async_trait]
pub trait Source: Send + Sync + Debug + 'static {
    /// What this source supports.
    fn capabilities(&self) -> Capabilities;

    /// Discovers the artifacts `subscription` selects.
    async fn discover(
        &self,
        subscription: &RepoSubscription,
        options: DiscoverOptions,
    ) -> Result<Discovered>;
}

/// A [`Source`] as a trait object.
pub type DynSource = dyn Source;

/// Convenience methods for every [`Source`].
pub trait SourceExt: Source {
    /// The newest artifact `subscription` selects, as a Freight entry, or
    /// `None` when it selects nothing.
    fn latest(
        &self,
        subscription: &RepoSubscription,
    ) -> impl Future<Output = Result<Option<FreightEntry>>> + Send {
        async move {
            let found = self
                .discover(subscription, DiscoverOptions::default())
                .await?;
            Ok(found.latest())
        }
    }
}

impl<T: Source + ?Sized> SourceExt for T {}

macro_rules! forward_source {
    ($($ty:ty),*) => {$(
        #[async_trait]
        impl<T: Source + ?Sized> Source for $ty {
            fn capabilities(&self) -> Capabilities {
                (**self).capabilities()
            }

            async fn discover(
                &self,
                subscription: &RepoSubscription,
                options: DiscoverOptions,
            ) -> Result<Discovered> {
                (**self).discover(subscription, options).await
            }
        }
    )*};
}

forward_source!(Box<T>, Arc<T>);

/// What a [`Source`] supports; engines and tests branch on this, never on
/// the type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// The subscription keys it handles (`image`, `git`, `chart`, or a
    /// generic subscription type such as `oci`).
    pub subscription_types: Vec<&'static str>,
    /// The image selection strategies it implements.
    pub strategies: Vec<&'static str>,
    /// Whether it resolves `platform` through image indexes.
    pub platforms: bool,
    /// Whether it reads OCI image-layout directories (`oci-layout://`).
    pub layout_directories: bool,
}

impl Capabilities {
    /// Whether `subscription` is of a type this source handles.
    pub fn handles(&self, subscription: &RepoSubscription) -> bool {
        self.subscription_types
            .contains(&subscription.source.type_key())
    }
}

/// Per-call settings of [`Source::discover`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct DiscoverOptions {
    /// The project (namespace) the Warehouse belongs to, for credentials.
    pub project: String,
    /// Stops discovery early (with an error) when cancelled.
    pub cancel: Option<CancellationToken>,
}

impl DiscoverOptions {
    /// Options for a Warehouse in `project`.
    pub fn with_project(mut self, project: impl Into<String>) -> Self {
        self.project = project.into();
        self
    }

    /// Discovery stops when `token` is cancelled.
    pub fn with_cancellation(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Whether the cancellation token, if any, was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(|c| c.is_cancelled())
    }
}

/// What one subscription discovered, in Kargo's discovery-result shapes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Discovered {
    /// Images of an image subscription (Kargo's `ImageDiscoveryResult`).
    Images(ImageDiscovery),
    /// Artifacts of a generic subscription (Kargo's `DiscoveryResult`).
    Artifacts(ArtifactDiscovery),
    /// Versions of a chart subscription (Kargo's `ChartDiscoveryResult`).
    Charts(ChartDiscovery),
    /// Commits of a git subscription (Kargo's `GitDiscoveryResult`).
    Commits(GitDiscovery),
}

impl Discovered {
    /// How many artifacts were found.
    pub fn len(&self) -> usize {
        match self {
            Discovered::Images(d) => d.references.len(),
            Discovered::Artifacts(d) => d.artifact_references.len(),
            Discovered::Charts(d) => d.versions.len(),
            Discovered::Commits(d) => d.commits.len(),
        }
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The newest artifact as a Freight entry, as Kargo builds Freight
    /// from the first discovered reference.
    pub fn latest(&self) -> Option<FreightEntry> {
        match self {
            Discovered::Images(d) => d.references.first().map(|r| {
                FreightEntry::Image(Image {
                    repo_url: d.repo_url.clone(),
                    tag: r.tag.clone(),
                    digest: r.digest.clone(),
                    annotations: r.annotations.clone(),
                    subscription_name: d.subscription_name.clone(),
                })
            }),
            Discovered::Artifacts(d) => d
                .artifact_references
                .first()
                .cloned()
                .map(FreightEntry::Artifact),
            Discovered::Charts(d) => d.versions.first().map(|v| {
                FreightEntry::Chart(Chart {
                    repo_url: d.repo_url.clone(),
                    name: d.name.clone(),
                    version: v.clone(),
                    subscription_name: d.subscription_name.clone(),
                })
            }),
            Discovered::Commits(d) => d.commits.first().map(|c| {
                FreightEntry::Commit(GitCommit {
                    repo_url: d.repo_url.clone(),
                    id: c.id.clone(),
                    branch: c.branch.clone(),
                    tag: c.tag.clone(),
                    message: c.subject.clone(),
                    author: c.author.clone(),
                    committer: c.committer.clone(),
                    subscription_name: d.subscription_name.clone(),
                })
            }),
        }
    }
}

/// The images an image subscription discovered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageDiscovery {
    /// The subscription's `repoURL`, as written.
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// The subscription's `platform`, if any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub platform: String,
    /// The images, newest first.
    pub references: Vec<DiscoveredImage>,
    /// The subscription's name, if any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subscription_name: String,
}

/// One discovered image (Kargo's `DiscoveredImageReference`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveredImage {
    /// The tag.
    pub tag: String,
    /// The digest of the manifest or index the tag points to.
    pub digest: String,
    /// Annotations of the index or manifest (and of the selected
    /// platform's entry when the subscription names a platform).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// When the image was built, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
}

/// The artifacts a generic subscription discovered (Kargo's
/// `DiscoveryResult`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactDiscovery {
    /// The subscription's name.
    #[serde(rename = "name")]
    pub subscription_name: String,
    /// The artifacts, newest first.
    pub artifact_references: Vec<ArtifactReference>,
}

/// The versions a chart subscription discovered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChartDiscovery {
    /// The subscription's `repoURL`, as written.
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// The chart's name (empty for `oci://` repositories).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The subscription's `semverConstraint`, if any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub semver_constraint: String,
    /// The versions, newest first.
    pub versions: Vec<String>,
    /// The subscription's name, if any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subscription_name: String,
}

/// The commits a git subscription discovered (Kargo's
/// `GitDiscoveryResult`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GitDiscovery {
    /// The subscription's `repoURL`, as written.
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// The commits, best first.
    pub commits: Vec<DiscoveredCommit>,
    /// The subscription's name, if any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subscription_name: String,
}

/// One discovered commit (Kargo's `DiscoveredCommit`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveredCommit {
    /// The commit's full sha.
    pub id: String,
    /// The subscription's `branch` (set by NewestFromBranch only, and
    /// empty when the subscription follows the default branch).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub branch: String,
    /// The tag that resolved to the commit (tag-based strategies).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tag: String,
    /// The first line of the commit message, cut to 80 bytes.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subject: String,
    /// `Name <email>` of the author.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    /// `Name <email>` of the committer.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub committer: String,
    /// The commit date, or an annotated tag's tagger date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_date: Option<Timestamp>,
}

/// How errors name a subscription: `image subscription "name" (repoURL)`.
#[cfg_attr(not(any(feature = "oci", feature = "git")), allow(dead_code))]
pub(crate) fn describe(kind: &str, name: &str, repo_url: &str) -> String {
    if name.is_empty() {
        format!("{kind} subscription {repo_url}")
    } else {
        format!("{kind} subscription \"{name}\" ({repo_url})")
    }
}

/// The error of `implementer` for a subscription of the `type_key` it
/// does not handle.
#[cfg_attr(not(any(feature = "oci", feature = "git")), allow(dead_code))]
pub(crate) fn unsupported(type_key: &str, implementer: &'static str) -> kargo_core::Error {
    kargo_core::Error::Unsupported {
        operation: format!("`{type_key}` subscriptions"),
        implementer,
    }
}

/// Go's `strconv.ParseBool`, which Kargo applies to expression results
/// that are not bools.
pub(crate) fn go_parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Checks a subscription's `discoveryLimit` (1 to 100, as Kargo's CRD
/// says); the error text says what is wrong.
#[cfg_attr(not(any(feature = "oci", feature = "git")), allow(dead_code))]
pub(crate) fn check_discovery_limit(limit: u32) -> Result<(), String> {
    if (1..=100).contains(&limit) {
        Ok(())
    } else {
        Err(format!("{limit} is outside 1..=100"))
    }
}

/// One artifact version, ready to go into Freight.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FreightEntry {
    /// An image (`freight.images`).
    Image(Image),
    /// A generic artifact (`freight.artifacts`).
    Artifact(ArtifactReference),
    /// A Helm chart (`freight.charts`).
    Chart(Chart),
    /// A git commit (`freight.commits`).
    Commit(GitCommit),
}

impl FreightEntry {
    /// Adds the entry to `freight`.
    pub fn add_to(self, freight: &mut Freight) {
        match self {
            FreightEntry::Image(i) => freight.images.push(i),
            FreightEntry::Artifact(a) => freight.artifacts.push(a),
            FreightEntry::Chart(c) => freight.charts.push(c),
            FreightEntry::Commit(c) => freight.commits.push(c),
        }
    }
}
