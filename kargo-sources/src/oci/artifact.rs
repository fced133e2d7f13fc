//! OCI artifacts of any media type, through a generic `oci` subscription.
//!
//! Kargo represents what a generic subscription finds as
//! `ArtifactReference`s (`artifactType`, `subscriptionName`, `version`,
//! `metadata`) under the Freight's `artifacts`, and a generic subscription
//! must be named. This source writes:
//!
//! ```yaml
//! subscriptions:
//! - name: policies
//!   oci:
//!     config:
//!       repoURL: ghcr.io/acme/policies      # or oci-layout://DIR
//!       artifactType: application/vnd.acme.policy.v1+tar   # optional filter
//!       selectionStrategy: SemVer           # Lexical, Digest, NewestBuild
//!       constraint: ^1.0.0
//!     discoveryLimit: 5
//! ```
//!
//! and yields, newest first,
//!
//! ```yaml
//! artifactType: application/vnd.acme.policy.v1+tar
//! subscriptionName: policies
//! version: 1.2.0@sha256:…          # tag@digest: a re-pushed tag is a new version
//! metadata:
//!   repoURL: ghcr.io/acme/policies
//!   tag: 1.2.0
//!   digest: sha256:…
//!   mediaType: application/vnd.oci.image.manifest.v1+json
//!   createdAt: 2026-01-01T00:00:00Z   # when known
//!   annotations: {…}                  # when any
//! ```
//!
//! The artifact type is the manifest's `artifactType`, else its config's
//! media type (the image-spec's rule), else the index's media type. The
//! selection fields mean what they mean for `image` subscriptions.

use std::sync::Arc;

use async_trait::async_trait;
use kargo_core::model::{
    ArtifactReference, ImageSelectionStrategy, RepoSubscription, SubscriptionSource,
};
use serde::{Deserialize, Serialize};

use super::{Core, Error, Query, describe};
use crate::source::{
    ArtifactDiscovery, Capabilities, DiscoverOptions, Discovered, Source, unsupported,
};

/// The generic subscription type [`ArtifactSource`] handles.
pub const KIND: &str = "oci";

fn default_true() -> bool {
    true
}

/// The `config` of an `oci` subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The repository (required): a registry repository, or
    /// `oci-layout://DIR`.
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// How to pick the newest version. Defaults to `SemVer`.
    #[serde(default)]
    pub selection_strategy: ImageSelectionStrategy,
    /// A semver range (`SemVer`), or the tag to follow (`Digest`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub constraint: String,
    /// With `SemVer`, only tags with major, minor and patch. Defaults to true.
    #[serde(default = "default_true")]
    pub strict_semvers: bool,
    /// Regular expressions of which tags must match one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_tags_regexes: Vec<String>,
    /// Regular expressions of tags to ignore.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_tags_regexes: Vec<String>,
    /// Only artifacts of this type.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub artifact_type: String,
    /// `os/arch[/variant]` an index must hold.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub platform: String,
    /// Skip TLS certificate verification. Use with great caution.
    #[serde(rename = "insecureSkipTLSVerify", default)]
    pub insecure_skip_tls_verify: bool,
}

/// Discovers OCI artifacts for generic `oci` subscriptions.
#[derive(Debug, Clone)]
pub struct ArtifactSource {
    core: Arc<Core>,
}

impl Default for ArtifactSource {
    fn default() -> Self {
        super::Builder::default().build_artifacts()
    }
}

impl ArtifactSource {
    pub(super) fn from_core(core: Arc<Core>) -> Self {
        ArtifactSource { core }
    }

    async fn discover_artifacts(
        &self,
        name: &str,
        config: &Config,
        limit: u32,
        options: &DiscoverOptions,
    ) -> Result<ArtifactDiscovery, Error> {
        if name.is_empty() {
            return Err(Error::invalid(
                "name",
                "a generic subscription must be named",
            ));
        }
        let q = Query {
            repo_url: &config.repo_url,
            strategy: config.selection_strategy,
            constraint: &config.constraint,
            strict_semvers: config.strict_semvers,
            allow: &config.allow_tags_regexes,
            ignore: &config.ignore_tags_regexes,
            platform: &config.platform,
            artifact_type: (!config.artifact_type.is_empty()).then(|| config.artifact_type.clone()),
            insecure_skip_tls_verify: config.insecure_skip_tls_verify,
            discovery_limit: limit,
            images_only: false,
        };
        let selected = self.core.run(&q, options).await?;
        Ok(ArtifactDiscovery {
            subscription_name: name.to_owned(),
            artifact_references: selected
                .into_iter()
                .map(|s| {
                    let mut metadata = serde_json::json!({
                        "repoURL": config.repo_url,
                        "tag": s.tag,
                        "digest": s.meta.digest,
                        "mediaType": s.meta.media_type,
                    });
                    if let Some(t) = s.meta.created {
                        metadata["createdAt"] = serde_json::Value::String(t.to_string());
                    }
                    if !s.meta.annotations.is_empty() {
                        metadata["annotations"] = serde_json::json!(s.meta.annotations);
                    }
                    ArtifactReference {
                        artifact_type: s.meta.artifact_type,
                        subscription_name: name.to_owned(),
                        version: format!("{}@{}", s.tag, s.meta.digest),
                        metadata: Some(metadata),
                    }
                })
                .collect(),
        })
    }
}

#[async_trait]
impl Source for ArtifactSource {
    fn capabilities(&self) -> Capabilities {
        super::registry_capabilities(KIND)
    }

    async fn discover(
        &self,
        subscription: &RepoSubscription,
        options: DiscoverOptions,
    ) -> kargo_core::Result<Discovered> {
        let SubscriptionSource::Generic(generic) = &subscription.source else {
            return Err(unsupported(
                subscription.source.type_key(),
                "ArtifactSource",
            ));
        };
        if generic.subscription_type != KIND {
            return Err(unsupported(&generic.subscription_type, "ArtifactSource"));
        }
        let label = |repo: &str| describe(KIND, &subscription.name, repo);
        let config: Config =
            serde_json::from_value(generic.config.clone().unwrap_or(serde_json::Value::Null))
                .map_err(|e| {
                    Error::invalid("config", e.to_string()).in_subscription(label("(no repoURL)"))
                })?;
        self.discover_artifacts(
            &subscription.name,
            &config,
            generic.discovery_limit,
            &options,
        )
        .await
        .map(Discovered::Artifacts)
        .map_err(|e| e.in_subscription(label(&config.repo_url)).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_rejects_unknown_fields() {
        let err = serde_json::from_value::<Config>(serde_json::json!({
            "repoURL": "ghcr.io/acme/policies", "imageSelectionStrategy": "SemVer"
        }))
        .expect_err("unknown field");
        assert!(err.to_string().contains("imageSelectionStrategy"), "{err}");
    }

    #[tokio::test]
    async fn unnamed_subscription_is_invalid() {
        let sub: RepoSubscription = serde_json::from_value(serde_json::json!({
            "oci": {"config": {"repoURL": "ghcr.io/acme/policies"}}
        }))
        .expect("valid subscription");
        let err = ArtifactSource::default()
            .discover(&sub, DiscoverOptions::default())
            .await
            .expect_err("unnamed");
        assert!(err.to_string().contains("must be named"), "{err}");
    }
}
