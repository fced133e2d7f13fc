//! `git-open-pr`: opens a pull request from one branch into another, or
//! reuses the open one for the same branches.

mod step;

use kargo_core::step::Touches;
use kargo_git::provider::ProviderKind;
use serde::{Deserialize, Serialize};

use crate::git::PROVIDERS;
use crate::schema::Check::{NonEmpty, OneOf};
use crate::schema::Rule;

pub use step::GitOpenPr;

/// The step kind.
pub const KIND: &str = "git-open-pr";

/// Kargo's schema rules for the config, checked before the promotion
/// starts (see [`schema`](crate::schema)).
const RULES: &[Rule] = &[
    ("repoURL", NonEmpty),
    ("sourceBranch", NonEmpty),
    ("targetBranch", NonEmpty),
    ("title", NonEmpty),
    ("description", NonEmpty),
    ("labels[]", NonEmpty),
    ("provider", OneOf(PROVIDERS)),
];

/// Where in the work directory the step reads and writes. It talks to the
/// forge only.
const TOUCHES: Touches = Touches::Nothing;

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
