//! `git-wait-for-pr`: waits until a pull request is merged or closed.

mod step;

use std::time::Duration;

use kargo_core::duration::GoDuration;
use kargo_git::provider::ProviderKind;
use serde::{Deserialize, Serialize};

pub use step::GitWaitForPr;

/// The step kind.
pub const KIND: &str = "git-wait-for-pr";

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
