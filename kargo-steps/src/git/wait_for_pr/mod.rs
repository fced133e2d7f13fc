//! `git-wait-for-pr`: waits until a pull request is merged or closed.

mod step;

use std::time::Duration;

use kargo_core::duration::GoDuration;
use kargo_core::step::Touches;
use kargo_git::provider::ProviderKind;
use serde::{Deserialize, Serialize};

use crate::git::PROVIDERS;
use crate::schema::Check::{NonEmpty, OneOf};
use crate::schema::Rule;

pub use step::GitWaitForPr;

/// The step kind.
pub const KIND: &str = "git-wait-for-pr";

/// Kargo's schema rules for the config, checked before the promotion
/// starts (see [`schema`](crate::schema)).
const RULES: &[Rule] = &[("repoURL", NonEmpty), ("provider", OneOf(PROVIDERS))];

/// Where in the work directory the step reads and writes. It talks to the
/// forge only.
const TOUCHES: Touches = Touches::Nothing;

/// Kargo's default poll interval.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(30);

/// The `git-wait-for-pr` step's config (Kargo's `GitWaitForPRConfig`).
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
    /// How long to wait before looking again (default 30s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval: Option<GoDuration>,
}
