use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ObjectMeta;
use crate::duration::GoDuration;

/// A source of Freight: it subscribes to repositories of artifacts and
/// produces Freight from the newest versions it discovers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Warehouse {
    /// `kargo.akuity.io/v1alpha1`, when read from a manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `Warehouse`, when read from a manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Metadata; `metadata.name` names the Warehouse within its project.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// What to subscribe to and how to make Freight.
    pub spec: WarehouseSpec,
    /// The observed state, kept as written (kargo-rs keeps its own state in
    /// a state store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

/// The specification of a [`Warehouse`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WarehouseSpec {
    /// The shard the Warehouse belongs to; empty for the default shard.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub shard: String,
    /// How often to discover artifacts; [`WarehouseSpec::interval_or`]
    /// gives the host's default when unset (Kargo's is `5m0s`,
    /// [`DEFAULT_INTERVAL`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<GoDuration>,
    /// Whether discovered artifacts become Freight automatically. Defaults
    /// to `Automatic`.
    #[serde(default)]
    pub freight_creation_policy: FreightCreationPolicy,
    /// The subscriptions, at least one.
    #[serde(default)]
    pub subscriptions: Vec<RepoSubscription>,
    /// A condition new artifacts must meet before Freight is created from
    /// them automatically; ignored when the policy is `Manual`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freight_creation_criteria: Option<FreightCreationCriteria>,
}

/// Kargo's discovery interval for a Warehouse that names none.
pub const DEFAULT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(300);

impl WarehouseSpec {
    /// How often to discover: `spec.interval`, else `default`.
    pub fn interval_or(&self, default: std::time::Duration) -> std::time::Duration {
        self.interval.map_or(default, GoDuration::as_duration)
    }
}

/// How a Warehouse creates Freight.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FreightCreationPolicy {
    /// New Freight is created whenever new artifacts are discovered.
    #[default]
    Automatic,
    /// Freight is only created on request.
    Manual,
}

/// Criteria for creating Freight automatically.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FreightCreationCriteria {
    /// An expression that must evaluate to true for Freight to be created.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub expression: String,
}

/// One subscription of a Warehouse: a Git repository, an image repository,
/// a Helm chart repository, or a generic (typed by name) artifact source.
///
/// On the wire it is an object with an optional `name` and exactly one
/// other key, which names its type: `git`, `image`, `chart`, or any other
/// key for a generic subscription whose type is that key.
///
/// ```
/// use kargo_core::model::{RepoSubscription, SubscriptionSource};
///
/// let sub: RepoSubscription = serde_json::from_str(
///     r#"{"name": "app", "image": {"repoURL": "ghcr.io/acme/app"}}"#,
/// ).unwrap();
/// let SubscriptionSource::Image(image) = &sub.source else { panic!() };
/// assert_eq!(image.discovery_limit, 20);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RepoSubscription {
    /// The subscription's name: optional for Git, image and chart
    /// subscriptions, required for generic ones; recorded on what it finds.
    pub name: String,
    /// What the subscription is to.
    pub source: SubscriptionSource,
}

/// The typed part of a [`RepoSubscription`].
#[derive(Debug, Clone, PartialEq)]
pub enum SubscriptionSource {
    /// `git:` a Git repository.
    Git(GitSubscription),
    /// `image:` a container image repository.
    Image(ImageSubscription),
    /// `chart:` a Helm chart repository.
    Chart(ChartSubscription),
    /// Any other key: a generic subscription of that type.
    Generic(Subscription),
}

impl SubscriptionSource {
    /// The key naming the subscription's type (`git`, `image`, `chart`, or
    /// the generic subscription's type).
    pub fn type_key(&self) -> &str {
        match self {
            SubscriptionSource::Git(_) => "git",
            SubscriptionSource::Image(_) => "image",
            SubscriptionSource::Chart(_) => "chart",
            SubscriptionSource::Generic(s) => &s.subscription_type,
        }
    }
}

impl Serialize for RepoSubscription {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let len = if self.name.is_empty() { 1 } else { 2 };
        let mut map = serializer.serialize_map(Some(len))?;
        if !self.name.is_empty() {
            map.serialize_entry("name", &self.name)?;
        }
        match &self.source {
            SubscriptionSource::Git(s) => map.serialize_entry("git", s)?,
            SubscriptionSource::Image(s) => map.serialize_entry("image", s)?,
            SubscriptionSource::Chart(s) => map.serialize_entry("chart", s)?,
            SubscriptionSource::Generic(s) => map.serialize_entry(&s.subscription_type, s)?,
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for RepoSubscription {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SubscriptionVisitor;

        impl<'de> Visitor<'de> for SubscriptionVisitor {
            type Value = RepoSubscription;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a subscription: an optional `name` and one of `git`, `image`, `chart` or a generic subscription type")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut name: Option<String> = None;
                // The typed body is read after the loop, so that an error in
                // it can name the subscription (`name` may come later).
                let mut body: Option<(String, serde_json::Value)> = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "name" {
                        if name.is_some() {
                            return Err(de::Error::duplicate_field("name"));
                        }
                        name = Some(map.next_value()?);
                        continue;
                    }
                    if let Some((existing, _)) = &body {
                        return Err(de::Error::custom(format!(
                            "a subscription has exactly one type, but this one has `{existing}` and `{key}`"
                        )));
                    }
                    body = Some((key, map.next_value()?));
                }
                let (key, body) = body.ok_or_else(|| {
                    de::Error::custom(
                        "a subscription needs one key naming its type (`git`, `image`, `chart`, ...)",
                    )
                })?;
                let name = name.unwrap_or_default();
                let named = |e: serde_json::Error| {
                    let repo = body.get("repoURL").and_then(|v| v.as_str()).unwrap_or("");
                    let who = match (name.is_empty(), repo.is_empty()) {
                        (true, true) => format!("{key} subscription"),
                        (true, false) => format!("{key} subscription {repo}"),
                        (false, true) => format!("{key} subscription \"{name}\""),
                        (false, false) => format!("{key} subscription \"{name}\" ({repo})"),
                    };
                    de::Error::custom(format!("{who}: {e}"))
                };
                let source = match key.as_str() {
                    "git" => {
                        SubscriptionSource::Git(GitSubscription::deserialize(&body).map_err(named)?)
                    }
                    "image" => SubscriptionSource::Image(
                        ImageSubscription::deserialize(&body).map_err(named)?,
                    ),
                    "chart" => SubscriptionSource::Chart(
                        ChartSubscription::deserialize(&body).map_err(named)?,
                    ),
                    _ => {
                        let mut generic = Subscription::deserialize(&body).map_err(named)?;
                        generic.subscription_type = key;
                        SubscriptionSource::Generic(generic)
                    }
                };
                Ok(RepoSubscription { name, source })
            }
        }

        deserializer.deserialize_map(SubscriptionVisitor)
    }
}

fn default_discovery_limit() -> u32 {
    20
}

fn default_true() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// How a Git subscription picks the newest commit of interest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CommitSelectionStrategy {
    /// The newest commit of a branch (the default).
    #[default]
    NewestFromBranch,
    /// The commit of the tag with the greatest semantic version.
    SemVer,
    /// The commit of the lexically greatest tag.
    Lexical,
    /// The commit of the most recently created tag.
    NewestTag,
}

/// A subscription to a Git repository.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GitSubscription {
    /// The repository's URL (required). SSH and SCP-style URLs are
    /// deprecated in Kargo in favour of HTTPS.
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// How to pick the newest commit. Defaults to `NewestFromBranch`.
    #[serde(default)]
    pub commit_selection_strategy: CommitSelectionStrategy,
    /// The branch to follow with `NewestFromBranch`; empty for the default branch.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub branch: String,
    /// With `SemVer`, only consider tags with major, minor and patch.
    /// Defaults to true.
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub strict_semvers: bool,
    /// With `SemVer`, a constraint tags must satisfy.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub semver_constraint: String,
    /// A regular expression tags must match (deprecated: use `allowTagsRegexes`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub allow_tags: String,
    /// Regular expressions of which tags must match one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_tags_regexes: Vec<String>,
    /// Tags to ignore (deprecated: use `ignoreTagsRegexes`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_tags: Vec<String>,
    /// Regular expressions of tags to ignore.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_tags_regexes: Vec<String>,
    /// An expression over commit or tag metadata that selects candidates.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub expression_filter: String,
    /// Skip TLS certificate verification. Use with great caution.
    #[serde(
        rename = "insecureSkipTLSVerify",
        default,
        skip_serializing_if = "is_false"
    )]
    pub insecure_skip_tls_verify: bool,
    /// Clone without blobs (`--filter=blob:none`); the server must support it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blobless: Option<bool>,
    /// Path selectors: only changes under them produce new Freight.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_paths: Vec<String>,
    /// Path selectors: changes under them never produce new Freight.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_paths: Vec<String>,
    /// How many commits to discover, 1 to 100. Defaults to 20.
    #[serde(default = "default_discovery_limit")]
    pub discovery_limit: u32,
    /// Ignore commits older than this RFC 3339 time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}

impl Default for GitSubscription {
    fn default() -> Self {
        GitSubscription {
            repo_url: String::new(),
            commit_selection_strategy: CommitSelectionStrategy::default(),
            branch: String::new(),
            strict_semvers: true,
            semver_constraint: String::new(),
            allow_tags: String::new(),
            allow_tags_regexes: Vec::new(),
            ignore_tags: Vec::new(),
            ignore_tags_regexes: Vec::new(),
            expression_filter: String::new(),
            insecure_skip_tls_verify: false,
            blobless: None,
            include_paths: Vec::new(),
            exclude_paths: Vec::new(),
            discovery_limit: default_discovery_limit(),
            since: None,
        }
    }
}

/// How an image subscription picks the newest image.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ImageSelectionStrategy {
    /// The tag with the greatest semantic version (the default).
    #[default]
    SemVer,
    /// The current digest of one mutable tag (named by `constraint`).
    Digest,
    /// The lexically greatest tag.
    Lexical,
    /// The most recently built image.
    NewestBuild,
}

/// A subscription to a container image repository.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageSubscription {
    /// The image repository, without a tag (required).
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// How to pick the newest image. Defaults to `SemVer`.
    #[serde(default)]
    pub image_selection_strategy: ImageSelectionStrategy,
    /// With `SemVer`, only consider tags with major, minor and patch.
    /// Defaults to true.
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub strict_semvers: bool,
    /// A strategy-specific constraint (a semver range, or the tag to watch
    /// with `Digest`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub constraint: String,
    /// A regular expression tags must match (deprecated; Kargo fails
    /// discovery when it is set).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub allow_tags: String,
    /// Regular expressions of which tags must match one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_tags_regexes: Vec<String>,
    /// Tags to ignore (deprecated; Kargo fails discovery when it is set).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_tags: Vec<String>,
    /// Regular expressions of tags to ignore.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_tags_regexes: Vec<String>,
    /// `os/arch` the image must be built for.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub platform: String,
    /// Skip TLS certificate verification. Use with great caution.
    #[serde(
        rename = "insecureSkipTLSVerify",
        default,
        skip_serializing_if = "is_false"
    )]
    pub insecure_skip_tls_verify: bool,
    /// How many images to discover, 1 to 100. Defaults to 20.
    #[serde(default = "default_discovery_limit")]
    pub discovery_limit: u32,
    /// Cache image metadata by tag (faster, stale with mutable tags).
    /// Defaults to false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub cache_by_tag: bool,
}

impl Default for ImageSubscription {
    fn default() -> Self {
        ImageSubscription {
            repo_url: String::new(),
            image_selection_strategy: ImageSelectionStrategy::default(),
            strict_semvers: true,
            constraint: String::new(),
            allow_tags: String::new(),
            allow_tags_regexes: Vec::new(),
            ignore_tags: Vec::new(),
            ignore_tags_regexes: Vec::new(),
            platform: String::new(),
            insecure_skip_tls_verify: false,
            discovery_limit: default_discovery_limit(),
            cache_by_tag: false,
        }
    }
}

/// A subscription to a Helm chart repository.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChartSubscription {
    /// The repository: `http(s)://` for a classic repository, `oci://` for
    /// a repository in an OCI registry (required).
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// The chart's name in a classic repository; must be empty for OCI.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// A constraint versions must satisfy; none means the newest.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub semver_constraint: String,
    /// How many versions to discover, 1 to 100. Defaults to 20.
    #[serde(default = "default_discovery_limit")]
    pub discovery_limit: u32,
    /// Skip TLS certificate verification. Use with great caution.
    #[serde(
        rename = "insecureSkipTLSVerify",
        default,
        skip_serializing_if = "is_false"
    )]
    pub insecure_skip_tls_verify: bool,
}

impl Default for ChartSubscription {
    fn default() -> Self {
        ChartSubscription {
            repo_url: String::new(),
            name: String::new(),
            semver_constraint: String::new(),
            discovery_limit: default_discovery_limit(),
            insecure_skip_tls_verify: false,
        }
    }
}

/// A generic subscription, understood by a source registered for its type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Subscription {
    /// The subscription's type: the key it was written under.
    #[serde(default, skip_serializing)]
    pub subscription_type: String,
    /// Configuration for the source; a JSON object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
    /// How many artifacts to discover, 1 to 100. Defaults to 20.
    #[serde(default = "default_discovery_limit")]
    pub discovery_limit: u32,
}

impl Default for Subscription {
    fn default() -> Self {
        Subscription {
            subscription_type: String::new(),
            config: None,
            discovery_limit: default_discovery_limit(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_take_kargo_defaults() {
        let yaml = r#"
interval: 10m
subscriptions:
- image:
    repoURL: ghcr.io/acme/app
- git:
    repoURL: https://github.com/acme/app.git
- chart:
    repoURL: oci://ghcr.io/acme/charts/app
"#;
        let spec: WarehouseSpec = serde_saphyr::from_str(yaml).expect("valid spec");
        assert_eq!(spec.interval_or(DEFAULT_INTERVAL).as_secs(), 600);
        assert_eq!(
            spec.freight_creation_policy,
            FreightCreationPolicy::Automatic
        );
        let [image, git, chart] = &spec.subscriptions[..] else {
            panic!("three subscriptions expected")
        };
        let SubscriptionSource::Image(image) = &image.source else {
            panic!("image")
        };
        assert_eq!(
            image.image_selection_strategy,
            ImageSelectionStrategy::SemVer
        );
        assert!(image.strict_semvers);
        assert_eq!(image.discovery_limit, 20);
        assert!(!image.cache_by_tag);
        let SubscriptionSource::Git(git) = &git.source else {
            panic!("git")
        };
        assert_eq!(
            git.commit_selection_strategy,
            CommitSelectionStrategy::NewestFromBranch
        );
        assert!(git.strict_semvers);
        assert_eq!(git.discovery_limit, 20);
        let SubscriptionSource::Chart(chart) = &chart.source else {
            panic!("chart")
        };
        assert_eq!(chart.discovery_limit, 20);
    }

    #[test]
    fn interval_defaults_to_five_minutes() {
        let spec: WarehouseSpec =
            serde_saphyr::from_str("subscriptions: []\n").expect("valid spec");
        assert_eq!(spec.interval, None);
        assert_eq!(spec.interval_or(DEFAULT_INTERVAL).as_secs(), 300);
    }

    #[test]
    fn generic_subscription_takes_its_type_from_its_key() {
        let yaml = r#"
name: bundles
acme-bundle:
  config:
    url: https://example.com/bundles
  discoveryLimit: 5
"#;
        let sub: RepoSubscription = serde_saphyr::from_str(yaml).expect("valid subscription");
        assert_eq!(sub.name, "bundles");
        let SubscriptionSource::Generic(generic) = &sub.source else {
            panic!("generic")
        };
        assert_eq!(generic.subscription_type, "acme-bundle");
        assert_eq!(generic.discovery_limit, 5);
        let json = serde_json::to_value(&sub).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"name": "bundles", "acme-bundle": {
                "config": {"url": "https://example.com/bundles"}, "discoveryLimit": 5}})
        );
    }

    #[test]
    fn subscription_with_two_types_is_rejected() {
        let yaml = "git:\n  repoURL: https://x/y\nimage:\n  repoURL: z/y\n";
        let err = serde_saphyr::from_str::<RepoSubscription>(yaml).expect_err("two types");
        assert!(err.to_string().contains("exactly one type"), "{err}");
    }

    #[test]
    fn unknown_subscription_field_is_rejected() {
        let yaml = "image:\n  repoURL: ghcr.io/acme/app\n  semverConstraint: ^1\n";
        let err = serde_saphyr::from_str::<RepoSubscription>(yaml).expect_err("unknown field");
        assert!(err.to_string().contains("semverConstraint"), "{err}");
    }

    #[test]
    fn errors_in_a_subscription_name_it() {
        let yaml = "name: app\ngit:\n  repoURL: https://x/y\n  commitSelectionStrategy: Newest\n";
        let err = serde_saphyr::from_str::<RepoSubscription>(yaml).expect_err("unknown strategy");
        let msg = err.to_string();
        assert!(
            msg.contains("git subscription \"app\" (https://x/y)") && msg.contains("Newest"),
            "{msg}"
        );
    }

    #[test]
    fn git_subscription_reads_acronym_fields() {
        let yaml = "git:\n  repoURL: https://x/y\n  insecureSkipTLSVerify: true\n  commitSelectionStrategy: SemVer\n  strictSemvers: false\n";
        let sub: RepoSubscription = serde_saphyr::from_str(yaml).expect("valid");
        let SubscriptionSource::Git(git) = &sub.source else {
            panic!("git")
        };
        assert!(git.insecure_skip_tls_verify);
        assert!(!git.strict_semvers);
        let json = serde_json::to_value(&sub).expect("serializes");
        assert_eq!(json["git"]["insecureSkipTLSVerify"], true);
        assert_eq!(json["git"]["repoURL"], "https://x/y");
    }
}
