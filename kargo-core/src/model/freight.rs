use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::ObjectMeta;

/// An immutable bundle of artifact versions, discovered by a Warehouse (or
/// brought in directly) and promoted through Stages.
///
/// Its name is its [`id`](Freight::id): a hash of the origin and of every
/// artifact version it holds, computed exactly as Kargo does, so the same
/// Freight has the same ID here and in Kargo.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Freight {
    /// `apiVersion`, when read from a manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `kind`, when read from a manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Metadata; `metadata.name` is the Freight's ID.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// A human-friendly, unique, changeable name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub alias: String,
    /// When the Freight was discovered (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovered_at: Option<String>,
    /// Where the Freight came from.
    #[serde(default)]
    pub origin: FreightOrigin,
    /// Git commits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commits: Vec<GitCommit>,
    /// Container images.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<Image>,
    /// Helm charts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub charts: Vec<Chart>,
    /// Other artifacts (generic subscriptions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<ArtifactReference>,
    /// Where the Freight is, and where it was verified and approved.
    #[serde(default, skip_serializing_if = "FreightStatus::is_empty")]
    pub status: FreightStatus,
}

/// The kind of resource Freight originates from. Kargo knows only `Warehouse`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum FreightOriginKind {
    /// A Warehouse.
    #[default]
    Warehouse,
}

impl fmt::Display for FreightOriginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FreightOriginKind::Warehouse => f.write_str("Warehouse"),
        }
    }
}

/// The resource a piece of Freight came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FreightOrigin {
    /// The origin's kind.
    pub kind: FreightOriginKind,
    /// The origin's name.
    pub name: String,
}

impl FreightOrigin {
    /// The origin `Warehouse/<name>`.
    pub fn warehouse(name: impl Into<String>) -> Self {
        FreightOrigin {
            kind: FreightOriginKind::Warehouse,
            name: name.into(),
        }
    }
}

impl fmt::Display for FreightOrigin {
    /// Formats as Kargo does: `Warehouse/name`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

/// A commit of a Git repository.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GitCommit {
    /// The repository's URL.
    #[serde(rename = "repoURL", default, skip_serializing_if = "String::is_empty")]
    pub repo_url: String,
    /// The commit's ID (full sha).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// The branch the commit was found on.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub branch: String,
    /// The tag the commit was found through.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tag: String,
    /// The commit message (its first line in Kargo).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The author.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    /// The committer.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub committer: String,
    /// The Warehouse subscription that found it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subscription_name: String,
}

/// A container image, by tag and digest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    /// The image repository, e.g. `ghcr.io/acme/guestbook`.
    #[serde(rename = "repoURL", default, skip_serializing_if = "String::is_empty")]
    pub repo_url: String,
    /// The tag.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tag: String,
    /// The manifest (or index) digest, `sha256:...`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
    /// Annotations of the image manifest.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The Warehouse subscription that found it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subscription_name: String,
}

/// A version of a Helm chart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Chart {
    /// The chart repository: an HTTP(S) URL, or `oci://...` (which then
    /// includes the chart's name).
    #[serde(rename = "repoURL", default, skip_serializing_if = "String::is_empty")]
    pub repo_url: String,
    /// The chart's name (empty for OCI repositories).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The chart's version.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// The Warehouse subscription that found it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subscription_name: String,
}

/// A version of an artifact found by a generic subscription.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactReference {
    /// The artifact's type, e.g. an OCI media type.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub artifact_type: String,
    /// The Warehouse subscription that found it.
    #[serde(default)]
    pub subscription_name: String,
    /// The artifact's version.
    #[serde(default)]
    pub version: String,
    /// Anything else the subscription recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}

/// Where Freight is, where it was verified, and what it is approved for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FreightStatus {
    /// Stages the Freight is currently in.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub currently_in: BTreeMap<String, CurrentStage>,
    /// Stages the Freight was verified in.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub verified_in: BTreeMap<String, VerifiedStage>,
    /// Stages the Freight was manually approved for.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub approved_for: BTreeMap<String, ApprovedStage>,
    /// Metadata set by steps (`set-metadata`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, serde_json::Value>,
}

impl FreightStatus {
    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.currently_in.is_empty()
            && self.verified_in.is_empty()
            && self.approved_for.is_empty()
            && self.metadata.is_empty()
    }
}

/// Since when Freight is in a Stage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CurrentStage {
    /// RFC 3339 time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}

/// When Freight was verified in a Stage, and its longest completed soak there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedStage {
    /// RFC 3339 time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<String>,
    /// Longest completed soak, as a Go duration string (`1h30m0s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longest_soak: Option<String>,
}

/// When Freight was approved for a Stage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovedStage {
    /// RFC 3339 time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<String>,
}

/// The Freight a promotion works with: the Freight being promoted plus any
/// other Freight the Stage currently holds (one per origin).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FreightCollection {
    /// The pieces of Freight, at most one per origin.
    pub items: Vec<Freight>,
}

impl FreightCollection {
    /// A collection of the given Freight.
    pub fn new(items: Vec<Freight>) -> Self {
        FreightCollection { items }
    }

    /// The Freight from `origin`, if any.
    pub fn by_origin(&self, origin: &FreightOrigin) -> Option<&Freight> {
        self.items.iter().find(|f| &f.origin == origin)
    }
}

impl Freight {
    /// The Freight's ID, computed as Kargo computes it: the lowercase hex
    /// SHA-1 of `"{origin}:{parts}"`, where the parts (one per commit,
    /// image, chart and artifact) are sorted and joined by `|`.
    pub fn id(&self) -> String {
        use sha1::{Digest, Sha1};
        let mut parts: Vec<String> = Vec::new();
        let with_sub = |base: String, sub: &str| {
            if sub.is_empty() {
                base
            } else {
                format!("{base}:{sub}")
            }
        };
        for c in &self.commits {
            let repo = crate::urls::normalize_git(&c.repo_url);
            let base = if c.tag.is_empty() {
                format!("{repo}:{}", c.id)
            } else {
                format!("{repo}:{}:{}", c.tag, c.id)
            };
            parts.push(with_sub(base, &c.subscription_name));
        }
        for i in &self.images {
            parts.push(with_sub(
                format!("{}:{}@{}", i.repo_url, i.tag, i.digest),
                &i.subscription_name,
            ));
        }
        for c in &self.charts {
            let repo = crate::urls::normalize_chart(&c.repo_url);
            let joined = crate::urls::path_join(&repo, &c.name);
            parts.push(with_sub(
                format!("{joined}:{}", c.version),
                &c.subscription_name,
            ));
        }
        for a in &self.artifacts {
            parts.push(format!(
                "{}:{}:{}",
                a.artifact_type, a.subscription_name, a.version
            ));
        }
        parts.sort();
        let digest = Sha1::digest(format!("{}:{}", self.origin, parts.join("|")).as_bytes());
        hex::encode(digest)
    }
}
