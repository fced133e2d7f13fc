//! `argocd-update`: points Argo CD Applications at desired revisions (and
//! Helm parameters or Kustomize images), syncs them, and reports
//! `Running` until the sync this promotion started has completed.
//!
//! Per Application, as Kargo decides:
//! - an operation is running that this promotion did not start: wait for
//!   it (`Running`);
//! - no operation, or a finished one of someone else, or a finished one of
//!   this promotion whose synced revisions differ from the desired ones:
//!   update the sources, hard-refresh, start a sync (`Running`);
//! - this promotion's sync is still running: `Running`;
//! - it finished: `Succeeded`, or the step fails with Argo CD's message
//!   when the sync failed.
//!
//! The step is `Running` while any Application is, and fails on an
//! operation phase Argo CD does not have only when no Application has
//! another (Kargo sorts unknown phases last).
//!
//! An Application must carry the annotation
//! `kargo.akuity.io/authorized-stage: "<project>:<stage>"` (a comma
//! separated list) naming the promotion's project and stage. The whole
//! list must parse: a malformed entry or a glob (`*`, no longer supported
//! by Kargo) refuses the Application even when another entry matches. A
//! selector's Applications without it are skipped; when none has it, or
//! when any of them has no source that an update of `sources` targets,
//! the step fails before updating any.
//! Output: `apps`, the `{name, namespace}` of each Application resolved.

mod step;

use kargo_core::step::Touches;
use serde::{Deserialize, Serialize};

use super::Selector;
use crate::schema::Check::NonEmpty;
use crate::schema::Rule;

pub use step::ArgoCdUpdate;

/// The step kind.
pub const KIND: &str = "argocd-update";

/// Kargo's schema rules for the config, checked before the promotion
/// starts (see [`schema`](crate::schema)).
const RULES: &[Rule] = &[
    ("apps", NonEmpty),
    ("apps[].name", NonEmpty),
    ("apps[].namespace", NonEmpty),
    ("apps[].selector.matchExpressions[].key", NonEmpty),
    ("apps[].sources", NonEmpty),
    ("apps[].sources[].repoURL", NonEmpty),
    ("apps[].sources[].chart", NonEmpty),
    ("apps[].sources[].desiredRevision", NonEmpty),
    ("apps[].sources[].helm.images", NonEmpty),
    ("apps[].sources[].helm.images[].key", NonEmpty),
    ("apps[].sources[].kustomize.images", NonEmpty),
    ("apps[].sources[].kustomize.images[].repoURL", NonEmpty),
    ("apps[].sources[].kustomize.images[].newName", NonEmpty),
];

/// Where in the work directory the step reads and writes. It talks to Argo
/// CD only.
const TOUCHES: Touches = Touches::Nothing;

/// The `argocd-update` step's config (Kargo's `ArgoCDUpdateConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The Applications to update (at least one).
    pub apps: Vec<AppUpdate>,
}

/// Which Applications to update, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct AppUpdate {
    /// One Application by name (exclusive with `selector`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The namespace (default: the host's, usually `argocd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Applications by labels (exclusive with `name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<Selector>,
    /// Updates to the Applications' sources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceUpdate>,
}

/// An update of one `ApplicationSource`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct SourceUpdate {
    /// The source's `repoURL` (Git URLs compare normalised).
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// The source's `chart`, for Helm chart repositories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<String>,
    /// The revision the source must be observably synced to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_revision: Option<String>,
    /// Also set the source's `targetRevision` to `desiredRevision`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub update_target_revision: bool,
    /// Helm parameters to set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm: Option<HelmUpdates>,
    /// Kustomize images to set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kustomize: Option<KustomizeUpdates>,
}

/// Helm parameters to set on a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct HelmUpdates {
    /// The parameters.
    pub images: Vec<HelmImage>,
}

/// One Helm parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct HelmImage {
    /// The parameter name (`image.tag`).
    pub key: String,
    /// Its value.
    pub value: String,
}

/// Kustomize images to set on a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct KustomizeUpdates {
    /// The images.
    pub images: Vec<KustomizeImage>,
}

/// One Kustomize image override.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct KustomizeImage {
    /// The image repository.
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// A tag (exclusive with `digest`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// A digest (exclusive with `tag`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// A replacement image name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_name: Option<String>,
}
