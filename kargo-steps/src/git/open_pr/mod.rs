//! `git-open-pr`: opens a pull request from one branch into another, or
//! reuses the open one for the same branches.

mod step;

use kargo_git::provider::ProviderKind;
use serde::{Deserialize, Serialize};

pub use step::GitOpenPr;

/// The step kind.
pub const KIND: &str = "git-open-pr";

/// The `git-open-pr` step's config (Kargo's `GitOpenPRConfig`).
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
    /// The branch with the changes.
    pub source_branch: String,
    /// The branch to merge into (it must exist).
    pub target_branch: String,
    /// Deprecated in Kargo and a no-op there; accepted and ignored.
    #[serde(default)]
    pub create_target_branch: bool,
    /// The title (default: the source branch's head commit subject on the
    /// local provider, as in Kargo; `Promote <sourceBranch> into
    /// <targetBranch>` on the REST providers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Labels (providers without labels ignore them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}
