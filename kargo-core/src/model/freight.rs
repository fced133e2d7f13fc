use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use super::ObjectMeta;
use crate::urls::{go_path_join, normalize_chart, normalize_git};

/// An immutable bundle of artifact versions, discovered by a Warehouse (or
/// brought in directly) and promoted through Stages.
///
/// Its name is its [`id`](Freight::id): a hash of the origin and of every
/// artifact version it holds, computed exactly as Kargo does, so the same
/// Freight has the same ID here and in Kargo.
///
/// A Freight document with a top-level field Kargo's Freight does not have
/// (a typo such as `image:`) is refused, naming the field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
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

impl Freight {
    /// The Freight's ID, computed exactly as Kargo's `GenerateFreightID`.
    ///
    /// Each artifact contributes one part:
    /// - a commit: `normalize_git(repoURL)[:tag]:id[:subscriptionName]`;
    /// - an image: `repoURL:tag@digest[:subscriptionName]` (the URL as written);
    /// - a chart: `join(normalize_chart(repoURL), name):version[:subscriptionName]`,
    ///   joined and cleaned as Go's `path.Join` does;
    /// - an artifact: `artifactType:subscriptionName:version`.
    ///
    /// The parts are sorted bytewise and joined with `|`; the ID is the
    /// lowercase hex SHA-1 of `"{origin}:{parts}"`, e.g. of
    /// `Warehouse/w:ghcr.io/acme/app:v1@sha256:…`. The alias, metadata and
    /// status play no part, and neither does the order of the artifacts.
    ///
    /// ```
    /// use kargo_core::model::{Freight, FreightOrigin, Image};
    ///
    /// let freight = Freight {
    ///     origin: FreightOrigin::warehouse("w"),
    ///     images: vec![Image {
    ///         repo_url: "nginx".into(),
    ///         tag: "1.27".into(),
    ///         digest: "sha256:abc".into(),
    ///         ..Default::default()
    ///     }],
    ///     ..Default::default()
    /// };
    /// // sha1("Warehouse/w:nginx:1.27@sha256:abc")
    /// assert_eq!(freight.id(), "15fb8ccab8de56daa2e9541c35c25a1728c2d51c");
    /// ```
    pub fn id(&self) -> String {
        let mut parts: Vec<String> = Vec::with_capacity(
            self.commits.len() + self.images.len() + self.charts.len() + self.artifacts.len(),
        );
        parts.extend(self.commits.iter().map(GitCommit::id_part));
        parts.extend(self.images.iter().map(Image::id_part));
        parts.extend(self.charts.iter().map(Chart::id_part));
        parts.extend(self.artifacts.iter().map(ArtifactReference::id_part));
        parts.sort_unstable();
        let input = format!("{}:{}", self.origin, parts.join("|"));
        hex::encode(Sha1::digest(input.as_bytes()))
    }

    /// Sets `metadata.name` to the Freight's [`id`](Freight::id), as Kargo
    /// names every piece of Freight.
    pub fn set_generated_name(&mut self) {
        self.metadata.name = self.id();
    }

    /// This Freight, named by its [`id`](Freight::id).
    #[must_use]
    pub fn with_generated_name(mut self) -> Self {
        self.set_generated_name();
        self
    }

    /// The Freight's name: `metadata.name`, or its [`id`](Freight::id)
    /// when the name is empty.
    pub fn name(&self) -> String {
        if self.metadata.name.is_empty() {
            self.id()
        } else {
            self.metadata.name.clone()
        }
    }
}

/// Appends `:{subscription}` when the subscription is named.
fn with_subscription(base: String, subscription: &str) -> String {
    if subscription.is_empty() {
        base
    } else {
        format!("{base}:{subscription}")
    }
}

impl GitCommit {
    fn id_part(&self) -> String {
        let repo = normalize_git(&self.repo_url);
        let base = if self.tag.is_empty() {
            format!("{repo}:{}", self.id)
        } else {
            format!("{repo}:{}:{}", self.tag, self.id)
        };
        with_subscription(base, &self.subscription_name)
    }
}

impl Image {
    fn id_part(&self) -> String {
        let base = format!("{}:{}@{}", self.repo_url, self.tag, self.digest);
        with_subscription(base, &self.subscription_name)
    }
}

impl Chart {
    fn id_part(&self) -> String {
        let path = go_path_join(&normalize_chart(&self.repo_url), &self.name);
        with_subscription(format!("{path}:{}", self.version), &self.subscription_name)
    }
}

impl ArtifactReference {
    fn id_part(&self) -> String {
        format!(
            "{}:{}:{}",
            self.artifact_type, self.subscription_name, self.version
        )
    }
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
#[serde(deny_unknown_fields)]
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

#[cfg(test)]
mod tests {
    use super::*;

    // Every expected ID below is the SHA-1 of the documented input string,
    // computed outside this code with `printf '%s' 'INPUT' | sha1sum`.

    fn freight() -> Freight {
        Freight {
            origin: FreightOrigin::warehouse("w"),
            ..Default::default()
        }
    }

    fn image(repo_url: &str) -> Image {
        Image {
            repo_url: repo_url.into(),
            tag: "v1.2.3".into(),
            digest: "sha256:1111".into(),
            ..Default::default()
        }
    }

    fn commit(repo_url: &str, tag: &str) -> GitCommit {
        GitCommit {
            repo_url: repo_url.into(),
            id: "abc123".into(),
            tag: tag.into(),
            // Not part of the ID.
            message: "ignored".into(),
            branch: "main".into(),
            ..Default::default()
        }
    }

    fn chart(repo_url: &str, name: &str, version: &str) -> Chart {
        Chart {
            repo_url: repo_url.into(),
            name: name.into(),
            version: version.into(),
            ..Default::default()
        }
    }

    fn id_with(fill: impl FnOnce(&mut Freight)) -> String {
        let mut f = freight();
        fill(&mut f);
        f.id()
    }

    #[test]
    fn image_id_uses_repo_tag_and_digest_as_written() {
        // 'Warehouse/w:ghcr.io/acme/guestbook:v1.2.3@sha256:1111'
        assert_eq!(
            id_with(|f| f.images.push(image("ghcr.io/acme/guestbook"))),
            "b23d33d96d2402df7182659a8a3b0ec19084c86d"
        );
        // Image URLs are not normalized:
        // 'Warehouse/w:GHCR.io/Acme/Guestbook:v1.2.3@sha256:1111'
        assert_eq!(
            id_with(|f| f.images.push(image("GHCR.io/Acme/Guestbook"))),
            "14f8ba2f976de58e7d950bbd869289c276dd9305"
        );
    }

    #[test]
    fn commit_id_without_tag_normalizes_the_url() {
        // 'Warehouse/w:https://github.com/acme/app:abc123'
        let want = "cc510169aea7b5575fdc3aa53d2607cac36e8a2c";
        for url in [
            "https://github.com/acme/app",
            "https://github.com/acme/app.git",
            "https://github.com/acme/app/",
            "https://github.com/acme/app.git/",
            "https://user:token@github.com/acme/app",
            "HTTPS://GitHub.com/Acme/App",
            "https://User:Pass@GitHub.com/Acme/App.git/",
        ] {
            assert_eq!(id_with(|f| f.commits.push(commit(url, ""))), want, "{url}");
        }
        // 'Warehouse/w:http://localhost:8080/acme/app:abc123'
        assert_eq!(
            id_with(|f| f
                .commits
                .push(commit("http://LocalHost:8080/acme/app.git", ""))),
            "e450c1bab03265cbbb8c179ec3b02c2f3c167c71"
        );
    }

    #[test]
    fn commit_id_with_tag_puts_the_tag_before_the_sha() {
        // 'Warehouse/w:https://github.com/acme/app:v1.0.0:abc123'
        assert_eq!(
            id_with(|f| f
                .commits
                .push(commit("https://github.com/acme/app.git", "v1.0.0"))),
            "f8a421fa39e91e6fa3fb543964d1f24039ceb1b5"
        );
    }

    #[test]
    fn commit_id_turns_scp_addresses_into_ssh_urls() {
        // 'Warehouse/w:ssh://git@github.com/acme/app:abc123'
        let want = "65540a6ee2f0db1c4415ebb3b2e6b94bb49f42b0";
        for url in [
            "git@github.com:acme/app.git",
            "git@GitHub.com:Acme/App/",
            "ssh://git@github.com/acme/app.git",
        ] {
            assert_eq!(id_with(|f| f.commits.push(commit(url, ""))), want, "{url}");
        }
    }

    #[test]
    fn chart_id_joins_repository_and_name_like_go() {
        // An HTTP repository: Go's path.Join collapses `//`.
        // 'Warehouse/w:https:/charts.example.com/nginx:1.0.0'
        let want = "ea02edb899be6a6baaf45897d40fc4de0003584a";
        for url in ["https://charts.example.com", "https://Charts.Example.com/"] {
            assert_eq!(
                id_with(|f| f.charts.push(chart(url, "nginx", "1.0.0"))),
                want,
                "{url}"
            );
        }
        // An OCI repository has no name.
        // 'Warehouse/w:ghcr.io/acme/charts/nginx:1.0.0'
        assert_eq!(
            id_with(|f| f
                .charts
                .push(chart("oci://GHCR.io/acme/charts/nginx", "", "1.0.0"))),
            "b6e1f06979e7068c2e56c4d5bb4762d93cf824dd"
        );
        // Docker Hub spellings fold into one.
        // 'Warehouse/w:bitnamicharts/nginx:18.1.0'
        for url in [
            "oci://registry-1.docker.io/bitnamicharts/nginx",
            "oci://docker.io/bitnamicharts/nginx",
        ] {
            assert_eq!(
                id_with(|f| f.charts.push(chart(url, "", "18.1.0"))),
                "970b608a102927447ae1e1e83e8c69ccd6c3f36f",
                "{url}"
            );
        }
    }

    #[test]
    fn artifact_id_is_type_subscription_version() {
        // 'Warehouse/w:application/vnd.acme.bundle:bundles:v3'
        assert_eq!(
            id_with(|f| f.artifacts.push(ArtifactReference {
                artifact_type: "application/vnd.acme.bundle".into(),
                subscription_name: "bundles".into(),
                version: "v3".into(),
                metadata: Some(serde_json::json!({"ignored": true})),
            })),
            "84d40970700caf5475faa1e2168f8b75732eb7ac"
        );
    }

    #[test]
    fn subscription_names_are_appended() {
        // 'Warehouse/w:ghcr.io/acme/guestbook:v1.2.3@sha256:1111:frontend'
        assert_eq!(
            id_with(|f| f.images.push(Image {
                subscription_name: "frontend".into(),
                ..image("ghcr.io/acme/guestbook")
            })),
            "64452fea5a86ae7797c8337661642557d28aab2e"
        );
        // 'Warehouse/w:https://github.com/acme/app:v1.0.0:abc123:config'
        assert_eq!(
            id_with(|f| f.commits.push(GitCommit {
                subscription_name: "config".into(),
                ..commit("https://github.com/acme/app.git", "v1.0.0")
            })),
            "dad616b0ff48381d8f48ebc8fa2d9f676579af3e"
        );
        // 'Warehouse/w:ghcr.io/acme/charts/nginx:1.0.0:charts'
        assert_eq!(
            id_with(|f| f.charts.push(Chart {
                subscription_name: "charts".into(),
                ..chart("oci://ghcr.io/acme/charts/nginx", "", "1.0.0")
            })),
            "a23096e92608e91de284aca51a421fafb759f40b"
        );
    }

    #[test]
    fn parts_are_sorted_so_order_does_not_matter() {
        // 'Warehouse/w:ghcr.io/acme/guestbook:v1.2.3@sha256:1111|https://github.com/acme/app:abc123|https:/charts.example.com/nginx:1.0.0'
        let want = "5a2829aaf488fc8f6db4ab53412af64ea2411737";
        let a = id_with(|f| {
            f.charts
                .push(chart("https://charts.example.com", "nginx", "1.0.0"));
            f.commits.push(commit("https://github.com/acme/app", ""));
            f.images.push(image("ghcr.io/acme/guestbook"));
        });
        assert_eq!(a, want);
    }

    #[test]
    fn origin_is_part_of_the_id() {
        // 'Warehouse/w:'
        assert_eq!(freight().id(), "27fe6a4d90176761691f906e1a4775e8ed991924");
        // 'Warehouse/other:ghcr.io/acme/guestbook:v1.2.3@sha256:1111'
        let mut other = Freight {
            origin: FreightOrigin::warehouse("other"),
            ..Default::default()
        };
        other.images.push(image("ghcr.io/acme/guestbook"));
        assert_eq!(other.id(), "7ab8d25100a5495b2f6d96caed4830634feb27f3");
    }

    #[test]
    fn generated_name_is_the_id() {
        let f = freight().with_generated_name();
        assert_eq!(f.metadata.name, "27fe6a4d90176761691f906e1a4775e8ed991924");
        assert_eq!(f.name(), f.metadata.name);
        // Alias and status do not change the ID.
        let mut g = f.clone();
        g.alias = "fancy-fox".into();
        g.status.metadata.insert("k".into(), serde_json::json!(1));
        assert_eq!(g.id(), f.id());
    }

    // Kargo's `TestGenerateFreightID` (pkg/api/freight_test.go), with a
    // Warehouse origin: kargo-rs's origin kind is a closed enum, so Kargo's
    // `fake-kind` cannot be written (and Kargo refuses any kind but
    // Warehouse when it parses an origin).
    // 'Warehouse/fake-name:fake-chart-repo/fake-chart:fake-chart-version|fake-image-repo:fake-image-tag@|ssh://fake-git-repo:fake-commit-id'
    #[test]
    fn kargo_generate_freight_id_is_stable_and_follows_every_part() {
        let mut f = Freight {
            origin: FreightOrigin::warehouse("fake-name"),
            commits: vec![GitCommit {
                repo_url: "fake-git-repo".into(),
                id: "fake-commit-id".into(),
                ..Default::default()
            }],
            images: vec![Image {
                repo_url: "fake-image-repo".into(),
                tag: "fake-image-tag".into(),
                ..Default::default()
            }],
            charts: vec![chart("fake-chart-repo", "fake-chart", "fake-chart-version")],
            ..Default::default()
        };
        let id = f.id();
        // A bare word is an SCP-style host to Kargo's NormalizeGit, so the
        // commit's part is `ssh://fake-git-repo:fake-commit-id`.
        assert_eq!(id, "30b440ecd009dc114e676113566b118de99f7c2d");
        for _ in 0..100 {
            assert_eq!(f.id(), id);
        }
        f.commits[0].id = "a-different-fake-commit".into();
        assert_eq!(f.id(), "79d45f908e1e43933ba300a5ae32c408594a8bd2");
    }

    // Kargo's `TestSubscriptionNameAffectsFreightID`: a named subscription
    // gives a distinct ID, the same name the same ID. The origin is the
    // default one, `Warehouse/` (Kargo's test leaves it empty, `/`).
    #[test]
    fn kargo_subscription_name_affects_freight_id() {
        let sha = "abc123def456abc123def456abc123def456abc123";
        let with_commit = |sub: &str| Freight {
            commits: vec![GitCommit {
                repo_url: "https://github.com/example/repo".into(),
                id: sha.into(),
                subscription_name: sub.into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        // 'Warehouse/:https://github.com/example/repo:abc123…abc123'
        assert_eq!(
            with_commit("").id(),
            "451a00942ffc082953e87349349406397c8f2510"
        );
        // … + ':my-sub'
        assert_eq!(
            with_commit("my-sub").id(),
            "9c9c47772927028a0eaeae46d5c8236c81fa615a"
        );
        assert_eq!(with_commit("my-sub").id(), with_commit("my-sub").id());

        let with_image = |sub: &str| Freight {
            images: vec![Image {
                repo_url: "example.com/myimage".into(),
                tag: "v1.2.3".into(),
                digest: "sha256:deadbeef".into(),
                subscription_name: sub.into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        // 'Warehouse/:example.com/myimage:v1.2.3@sha256:deadbeef', then + ':img-sub'
        assert_eq!(
            with_image("").id(),
            "81b2cf7e52ff7a93cc99ac0f782c6773b9032fae"
        );
        assert_eq!(
            with_image("img-sub").id(),
            "d916d9d9a399a04004fbd2109ff659d2fb9270a5"
        );

        let with_chart = |sub: &str| Freight {
            charts: vec![Chart {
                subscription_name: sub.into(),
                ..chart("https://charts.example.com", "mychart", "1.0.0")
            }],
            ..Default::default()
        };
        // 'Warehouse/:https:/charts.example.com/mychart:1.0.0', then + ':chart-sub'
        assert_eq!(
            with_chart("").id(),
            "0f1246517ae6e944d920aa07556c24cf2ba3aea7"
        );
        assert_eq!(
            with_chart("chart-sub").id(),
            "15991375b11233af30fa47dca4f88b706323d51b"
        );
    }

    #[test]
    fn freight_document_round_trips_with_kargo_field_names() {
        let yaml = r#"
apiVersion: kargo.akuity.io/v1alpha1
kind: Freight
metadata:
  name: 27fe6a4d90176761691f906e1a4775e8ed991924
  namespace: demo
alias: fancy-fox
origin:
  kind: Warehouse
  name: w
images:
- repoURL: ghcr.io/acme/guestbook
  tag: v1.2.3
  digest: sha256:1111
  subscriptionName: frontend
commits:
- repoURL: https://github.com/acme/app.git
  id: abc123
  tag: v1.0.0
  subscriptionName: config
"#;
        let f: Freight = serde_saphyr::from_str(yaml).expect("valid Freight");
        assert_eq!(f.images[0].repo_url, "ghcr.io/acme/guestbook");
        assert_eq!(f.commits[0].subscription_name, "config");
        let json = serde_json::to_value(&f).expect("serializes");
        assert_eq!(json["images"][0]["repoURL"], "ghcr.io/acme/guestbook");
        assert_eq!(json["commits"][0]["subscriptionName"], "config");
    }

    #[test]
    fn unknown_top_level_fields_of_a_freight_document_are_named() {
        let yaml = "apiVersion: kargo.akuity.io/v1alpha1\nkind: Freight\nimage:\n- repoURL: x\n";
        let err = serde_saphyr::from_str::<Freight>(yaml)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `image`"), "{err}");
    }
}
