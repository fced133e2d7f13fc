//! `git-merge-pr`: merges a pull request.

mod step;

use std::time::Duration;

use kargo_core::duration::GoDuration;
use kargo_core::step::Touches;
use kargo_git::provider::{MergeMethod, ProviderKind};
use serde::{Deserialize, Serialize};

use crate::git::PROVIDERS;
use crate::schema::Check::{NonEmpty, OneOf};
use crate::schema::Rule;

pub use step::GitMergePr;

/// The step kind.
pub const KIND: &str = "git-merge-pr";

/// Kargo's schema rules for the config, checked before the promotion
/// starts (see [`schema`](crate::schema)).
const RULES: &[Rule] = &[
    ("repoURL", NonEmpty),
    ("mergeMethod", NonEmpty),
    ("provider", OneOf(PROVIDERS)),
];

/// Where in the work directory the step reads and writes. It talks to the
/// forge only.
const TOUCHES: Touches = Touches::Nothing;

/// Kargo's default poll interval while waiting to merge.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(10);

/// The `git-merge-pr` step's config (Kargo's `GitMergePRConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The repository.
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// `local`, `github`, `gitlab`, `gitea` (or `forgejo`), `azure` or
    /// `bitbucket` (inferred from the host when unset).
    #[serde(
        default,
        deserialize_with = "super::optional_name",
        skip_serializing_if = "Option::is_none"
    )]
    pub provider: Option<ProviderKind>,
    /// Skip TLS certificate verification.
    #[serde(default, rename = "insecureSkipTLSVerify")]
    pub insecure_skip_tls_verify: bool,
    /// The pull request.
    pub pr_number: u64,
    /// `merge`, `squash`, `rebase`, `rebase-merge` or `fast-forward`, or a
    /// provider's own name from Kargo's table (`noFastForward`,
    /// `rebaseMerge`, `merge_commit`, `fast_forward`, `fast-forward-only`);
    /// default: the provider's. A method the provider lacks fails the step.
    #[serde(
        default,
        deserialize_with = "super::optional_name",
        skip_serializing_if = "Option::is_none"
    )]
    pub merge_method: Option<MergeMethod>,
    /// Wait (`Running`) rather than fail while the pull request cannot be
    /// merged yet.
    #[serde(default)]
    pub wait: bool,
    /// With `wait`, how long before trying again (default 10s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval: Option<GoDuration>,
}
