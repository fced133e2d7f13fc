//! Warehouse discovery: run every subscription's [`Source`], take the
//! newest artifact of each, and assemble Freight as Kargo does.
//!
//! ```no_run
//! use kargo_core::manifest::Manifests;
//! use kargo_sources::warehouse::{Sources, discover};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let manifests = Manifests::load("manifests/")?;
//! let sources = Sources::builtin();
//! let freight = discover(&sources, manifests.warehouses()).await?;
//! println!("{}", serde_json::to_string_pretty(&freight)?);
//! # Ok(()) }
//! ```

use std::sync::Arc;

use kargo_core::model::{Freight, FreightCreationPolicy, RepoSubscription, Warehouse};
use kargo_core::{Error, Result};
use tracing::Instrument;

use crate::source::{DiscoverOptions, Discovered, DynSource, Source};

/// The sources a Warehouse's subscriptions are dispatched to, by the
/// subscription types each declares in its
/// [`Capabilities`](crate::Capabilities); the first that handles a
/// subscription wins.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    sources: Vec<Arc<DynSource>>,
}

impl Sources {
    /// No sources at all.
    pub fn new() -> Self {
        Sources::default()
    }

    /// The built-in sources of the enabled features, with default
    /// settings: `image` and `oci` (feature `oci`), `chart` (feature
    /// `helm`), `git` (feature `git`, caching repositories in
    /// [`RepoCache::from_env`](kargo_git::RepoCache::from_env)).
    pub fn builtin() -> Self {
        Sources::builtin_with_credentials(Arc::new(kargo_core::credentials::NoCredentials))
    }

    /// [`Sources::builtin`], whose registries and repositories get their
    /// credentials from `provider`.
    pub fn builtin_with_credentials(
        provider: Arc<dyn kargo_core::credentials::CredentialsProvider>,
    ) -> Self {
        let sources = Sources::new();
        #[cfg(feature = "oci")]
        let sources = sources.with_oci(
            crate::oci::ImageSource::builder()
                .with_credentials(provider.clone())
                .build(),
        );
        #[cfg(feature = "git")]
        let sources = sources.with(
            crate::git::GitSource::builder()
                .with_credentials(provider)
                .build(),
        );
        #[cfg(not(any(feature = "oci", feature = "git")))]
        drop(provider);
        sources
    }

    /// Adds the `image` source, an `oci` artifact source and (feature
    /// `helm`) a `chart` source, all sharing its settings, clients and cache.
    #[cfg(feature = "oci")]
    pub fn with_oci(self, images: crate::oci::ImageSource) -> Self {
        let artifacts = images.artifacts();
        #[cfg(feature = "helm")]
        let charts = images.charts();
        let sources = self.with(images).with(artifacts);
        #[cfg(feature = "helm")]
        let sources = sources.with(charts);
        sources
    }

    /// Adds a source; it is asked after the ones added before it.
    pub fn with(mut self, source: impl Source) -> Self {
        self.sources.push(Arc::new(source));
        self
    }

    /// Adds a shared source.
    pub fn with_arc(mut self, source: Arc<DynSource>) -> Self {
        self.sources.push(source);
        self
    }

    /// The source that handles `subscription`, if any.
    pub fn source_for(&self, subscription: &RepoSubscription) -> Option<&DynSource> {
        self.sources
            .iter()
            .find(|s| s.capabilities().handles(subscription))
            .map(|s| s.as_ref())
    }

    /// Runs every subscription of `warehouse` and assembles Freight from
    /// the newest artifact of each, then evaluates the Warehouse's
    /// `freightCreationCriteria` for it (see
    /// [`WarehouseDiscovery::freight_to_create`]). Stops at the first
    /// failing subscription; the error names it. A criteria expression
    /// that fails or gives no bool is [`Error::Invalid`] naming the
    /// Warehouse.
    pub async fn discover_warehouse(
        &self,
        warehouse: &Warehouse,
        options: DiscoverOptions,
    ) -> Result<WarehouseDiscovery> {
        let name = &warehouse.metadata.name;
        let options = if options.project.is_empty() {
            options.with_project(warehouse.metadata.namespace.clone())
        } else {
            options
        };
        let mut results = Vec::with_capacity(warehouse.spec.subscriptions.len());
        for subscription in &warehouse.spec.subscriptions {
            let label = label(subscription);
            let source = self
                .source_for(subscription)
                .ok_or_else(|| Error::Unsupported {
                    operation: format!("Warehouse \"{name}\": {label}"),
                    implementer: "kargo-sources (no source registered for this subscription type)",
                })?;
            let span =
                tracing::info_span!("subscription", warehouse = %name, subscription = %label);
            let discovered = source
                .discover(subscription, options.clone())
                .instrument(span)
                .await?;
            tracing::debug!(subscription = %label, found = discovered.len(), "discovered");
            results.push(SubscriptionResult {
                subscription: label,
                discovered,
            });
        }
        let missing: Vec<String> = results
            .iter()
            .filter(|r| r.discovered.is_empty())
            .map(|r| r.subscription.clone())
            .collect();
        let freight = if results.is_empty() || !missing.is_empty() {
            None
        } else {
            Some(assemble(warehouse, &results))
        };
        let criteria_satisfied = match &freight {
            Some(freight) => criteria_satisfied(warehouse, &results, freight)?,
            None => true,
        };
        Ok(WarehouseDiscovery {
            warehouse: name.clone(),
            freight_creation_policy: warehouse.spec.freight_creation_policy,
            results,
            missing,
            freight,
            criteria_satisfied,
        })
    }
}

/// `image subscription "name" (repoURL)` and the like.
fn label(subscription: &RepoSubscription) -> String {
    use kargo_core::model::SubscriptionSource as S;
    let repo = match &subscription.source {
        S::Git(g) => g.repo_url.clone(),
        S::Image(i) => i.repo_url.clone(),
        S::Chart(c) if c.name.is_empty() => c.repo_url.clone(),
        S::Chart(c) => format!("{} {}", c.repo_url, c.name),
        S::Generic(g) => g
            .config
            .as_ref()
            .and_then(|c| c.get("repoURL"))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned(),
    };
    let kind = subscription.source.type_key();
    match (subscription.name.is_empty(), repo.is_empty()) {
        (true, _) => format!("{kind} subscription {repo}"),
        (false, true) => format!("{kind} subscription \"{}\"", subscription.name),
        (false, false) => format!("{kind} subscription \"{}\" ({repo})", subscription.name),
    }
}

/// Whether `freightCreationCriteria.expression` holds for the Freight
/// about to be created, as Kargo decides it: true without an expression,
/// or when no git, image or chart subscription found anything; otherwise
/// the expression must give a bool (or text Go's `strconv.ParseBool`
/// reads). `imageFrom`, `commitFrom` and `chartFrom` see that Freight.
fn criteria_satisfied(
    warehouse: &Warehouse,
    results: &[SubscriptionResult],
    freight: &Freight,
) -> Result<bool> {
    let Some(criteria) = &warehouse.spec.freight_creation_criteria else {
        return Ok(true);
    };
    let expression = criteria.expression.trim();
    if expression.is_empty() {
        return Ok(true);
    }
    let typed = results
        .iter()
        .any(|r| !r.discovered.is_empty() && !matches!(r.discovered, Discovered::Artifacts(_)));
    if !typed {
        return Ok(true);
    }
    let invalid = |reason: String| {
        Error::Invalid(format!(
            "Warehouse \"{}\": freightCreationCriteria.expression: {reason}",
            warehouse.metadata.name
        ))
    };
    let scope = kargo_core::expr::Scope {
        freight: Arc::new(kargo_core::model::FreightCollection::new(vec![
            freight.clone(),
        ])),
        ..Default::default()
    };
    let value = kargo_core::expr::Evaluator::new()
        .eval_expression(expression, &scope)
        .map_err(|e| invalid(e.to_string()))?;
    let text = match value {
        serde_json::Value::Bool(b) => return Ok(b),
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => "<nil>".to_owned(),
        other => other.to_string(),
    };
    crate::source::go_parse_bool(&text).ok_or_else(|| invalid(format!("`{text}` is not a bool")))
}

/// Freight from the newest artifact of every result, named by its ID.
fn assemble(warehouse: &Warehouse, results: &[SubscriptionResult]) -> Freight {
    let mut freight = Freight {
        api_version: Some(kargo_core::model::API_VERSION.to_owned()),
        kind: Some("Freight".to_owned()),
        origin: kargo_core::model::FreightOrigin::warehouse(warehouse.metadata.name.clone()),
        ..Default::default()
    };
    freight.metadata.namespace = warehouse.metadata.namespace.clone();
    for result in results {
        if let Some(entry) = result.discovered.latest() {
            entry.add_to(&mut freight);
        }
    }
    freight.with_generated_name()
}

/// What discovering one Warehouse found: a report of every subscription's
/// result, and the Freight they make.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct WarehouseDiscovery {
    /// The Warehouse's name.
    pub warehouse: String,
    /// Its `freightCreationPolicy` (discovery assembles Freight either
    /// way; whether to keep it automatically is the caller's decision).
    pub freight_creation_policy: FreightCreationPolicy,
    /// Every subscription's result, in the Warehouse's order.
    pub results: Vec<SubscriptionResult>,
    /// The subscriptions that found nothing; Freight needs one artifact
    /// from each, so `freight` is `None` when any is listed.
    pub missing: Vec<String>,
    /// Freight from the newest artifact of every subscription.
    pub freight: Option<Freight>,
    /// Whether the Warehouse's `freightCreationCriteria` hold for
    /// `freight` (true without criteria or without Freight).
    pub criteria_satisfied: bool,
}

impl WarehouseDiscovery {
    /// The Freight to create now, as Kargo's Warehouse controller decides:
    /// there is Freight, the policy is `Automatic`, and the criteria hold.
    /// With `Manual`, Freight is only created on request (from
    /// [`freight`](Self::freight)).
    pub fn freight_to_create(&self) -> Option<&Freight> {
        self.freight.as_ref().filter(|_| {
            self.freight_creation_policy == FreightCreationPolicy::Automatic
                && self.criteria_satisfied
        })
    }
}

/// One subscription's result.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SubscriptionResult {
    /// `image subscription "name" (repoURL)` and the like.
    pub subscription: String,
    /// What it found, newest first.
    pub discovered: Discovered,
}

/// Discovers every Warehouse in `warehouses` and returns one piece of
/// Freight per Warehouse, in order: what `kargo discover` prints.
///
/// A Warehouse without subscriptions, or one with a subscription that found
/// nothing, is an [`Error::Precondition`] naming the Warehouse and the
/// subscription (Kargo marks such a Warehouse unhealthy and creates no
/// Freight).
pub async fn discover<'a>(
    sources: &Sources,
    warehouses: impl IntoIterator<Item = &'a Warehouse>,
) -> Result<Vec<Freight>> {
    let mut out = Vec::new();
    for warehouse in warehouses {
        let found = sources
            .discover_warehouse(warehouse, DiscoverOptions::default())
            .await?;
        match found.freight {
            Some(f) => out.push(f),
            None if found.results.is_empty() => {
                return Err(Error::Precondition(format!(
                    "Warehouse \"{}\" has no subscriptions",
                    found.warehouse
                )));
            }
            None => {
                return Err(Error::Precondition(format!(
                    "Warehouse \"{}\": no artifacts discovered for {}",
                    found.warehouse,
                    found.missing.join(", ")
                )));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    //! Cases from Kargo's `pkg/expressions/function/functions_test.go`
    //! (`Test_get{Commit,Image,Chart,Artifact}FromDiscoveredArtifacts`):
    //! the functions a Warehouse's `freightCreationCriteria.expression`
    //! calls see the newest artifact of each subscription. kargo-rs
    //! evaluates them on the Freight about to be created, which is made of
    //! exactly those artifacts.

    use serde_json::json;

    use super::{SubscriptionResult, assemble, criteria_satisfied};
    use crate::source::{
        ArtifactDiscovery, ChartDiscovery, Discovered, DiscoveredCommit, DiscoveredImage,
        GitDiscovery, ImageDiscovery,
    };
    use kargo_core::model::{ArtifactReference, Warehouse};

    /// What Kargo's rows discover: two commits, two images, two charts
    /// of two repositories each, and a generic subscription's artifacts.
    fn discovered() -> Vec<SubscriptionResult> {
        let commit = |tag: &str, subject: &str| DiscoveredCommit {
            id: format!("{tag}-sha"),
            tag: tag.into(),
            subject: subject.into(),
            ..Default::default()
        };
        let chart = |repo: &str, name: &str, versions: &[&str]| ChartDiscovery {
            repo_url: repo.into(),
            name: name.into(),
            versions: versions.iter().map(|v| (*v).to_owned()).collect(),
            ..Default::default()
        };
        let version = |v: &str| ArtifactReference {
            subscription_name: "fake-sub".into(),
            version: v.into(),
            ..Default::default()
        };
        [
            Discovered::Commits(GitDiscovery {
                repo_url: "https://example.com/repo.git".into(),
                commits: vec![commit("def456", "Newest"), commit("abc123", "Older")],
                ..Default::default()
            }),
            Discovered::Images(ImageDiscovery {
                repo_url: "docker.io/example/repo".into(),
                references: ["v1.0.0", "v1.1.0"]
                    .into_iter()
                    .map(|tag| DiscoveredImage {
                        tag: tag.into(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }),
            Discovered::Charts(chart(
                "oci://ghcr.io/other/chart-repo",
                "",
                &["v1.0.0", "v1.1.0", "v2.0.0"],
            )),
            Discovered::Charts(chart(
                "oci://ghcr.io/akuity/kargo-charts/kargo",
                "",
                &["v2.3.0", "v2.2.0", "v2.1.0"],
            )),
            Discovered::Charts(chart(
                "https://charts.example.com",
                "kargo",
                &["v2.3.0", "v2.2.0", "v2.1.0"],
            )),
            Discovered::Artifacts(ArtifactDiscovery {
                subscription_name: "fake-sub".into(),
                artifact_references: vec![version("v1.0.0"), version("v1.1.0")],
            }),
        ]
        .into_iter()
        .map(|discovered| SubscriptionResult {
            subscription: String::new(),
            discovered,
        })
        .collect()
    }

    /// Whether `expression` holds for what [`discovered`] found.
    fn criteria(expression: &str) -> kargo_core::Result<bool> {
        let warehouse: Warehouse = serde_json::from_value(json!({
            "metadata": {"name": "wh"},
            "spec": {"freightCreationCriteria": {"expression": expression}},
        }))
        .unwrap();
        let results = discovered();
        let freight = assemble(&warehouse, &results);
        criteria_satisfied(&warehouse, &results, &freight)
    }

    #[test]
    fn the_lookups_see_the_newest_artifact_of_each_subscription() {
        for (case, expression) in [
            (
                "Test_getCommitFromDiscoveredArtifacts / success",
                "commitFrom('https://example.com/repo.git').Tag == 'def456'",
            ),
            (
                "a DiscoveredCommit's Subject",
                "commitFrom('https://example.com/repo.git').Subject == 'Newest'",
            ),
            (
                "Test_getImageFromDiscoveredArtifacts / success",
                "imageFrom('docker.io/example/repo').Tag == 'v1.0.0'",
            ),
            (
                "Test_getChartFromDiscoveredArtifacts / success with repo URL only",
                "chartFrom('oci://ghcr.io/akuity/kargo-charts/kargo').Version == 'v2.3.0'",
            ),
            (
                "Test_getChartFromDiscoveredArtifacts / success with repo URL and name",
                "chartFrom('https://charts.example.com', 'kargo').Version == 'v2.3.0'",
            ),
            (
                "Test_getArtifactFromDiscoveredArtifacts / success",
                "artifactFrom('fake-sub').Version == 'v1.0.0'",
            ),
            (
                "Test_getArtifactFromDiscoveredArtifacts / requested artifact not found",
                "artifactFrom('wrong-sub') == nil",
            ),
            (
                "no commits found (nor images, charts) in that repository",
                "commitFrom('https://example.com/other.git') == nil && \
                 imageFrom('docker.io/example/other') == nil && \
                 chartFrom('oci://ghcr.io/example/other') == nil",
            ),
        ] {
            assert!(criteria(expression).unwrap(), "{case}: `{expression}`");
        }
        assert!(
            !criteria("imageFrom('docker.io/example/repo').Tag == 'v1.1.0'").unwrap(),
            "only the newest image is seen"
        );
    }

    #[test]
    fn bad_arguments_are_errors_naming_the_criteria() {
        for (case, expression) in [
            (
                "Test_getCommitFromDiscoveredArtifacts / wrong number of args",
                "commitFrom('one', 'two', 'three') == nil",
            ),
            (
                "Test_getCommitFromDiscoveredArtifacts / invalid arg type",
                "commitFrom(1) == nil",
            ),
            (
                "Test_getImageFromDiscoveredArtifacts / invalid arg type",
                "imageFrom(1) == nil",
            ),
            (
                "Test_getChartFromDiscoveredArtifacts / wrong number of args",
                "chartFrom() == nil",
            ),
            (
                "Test_getChartFromDiscoveredArtifacts / 2nd arg type invalid",
                "chartFrom('oci://ghcr.io/akuity/kargo-charts/kargo', 2) == nil",
            ),
            (
                "Test_getArtifactFromDiscoveredArtifacts / invalid arg type",
                "artifactFrom(1) == nil",
            ),
            (
                "a DiscoveredCommit's CreatorDate, which Freight does not keep",
                "commitFrom('https://example.com/repo.git').CreatorDate != nil",
            ),
        ] {
            let err = criteria(expression).unwrap_err().to_string();
            assert!(
                err.contains("Warehouse \"wh\": freightCreationCriteria.expression"),
                "{case}: {err}"
            );
        }
    }
}
