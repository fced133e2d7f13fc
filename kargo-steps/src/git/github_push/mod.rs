//! `github-push`: pushes a working tree's new commits to GitHub through
//! GitHub's API, so that GitHub creates (and can sign) them; a drop-in
//! replacement for `git-push` on GitHub and GitHub Enterprise.

mod step;

use kargo_core::step::Touches;
use serde::{Deserialize, Serialize};

use crate::schema::Check::NonEmpty;
use crate::schema::Rule;

pub use step::GitHubPush;

/// The step kind.
pub const KIND: &str = "github-push";

/// Kargo's schema rules for the config, checked before the promotion
/// starts (see [`schema`](crate::schema)).
const RULES: &[Rule] = &[("path", NonEmpty)];

/// Where in the work directory the step reads and writes. It pushes a
/// working tree's commits; it needs no file there.
const TOUCHES: Touches = Touches::Nothing;

/// The `github-push` step's config (Kargo's `GitHubPushConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The working tree, relative to the work directory.
    pub path: String,
    /// The branch to push to (default: the branch checked out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_branch: Option<String>,
    /// Push to `kargo/promotion/<promotion>` (force-pushed, as in Kargo).
    #[serde(default)]
    pub generate_target_branch: bool,
    /// Overwrite the remote branch's history.
    #[serde(default)]
    pub force: bool,
    /// Attempts in all when the remote keeps moving (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// Skip TLS certificate verification when talking to the API (GitHub
    /// Enterprise with a self-signed certificate).
    #[serde(default, rename = "insecureSkipTLSVerify")]
    pub insecure_skip_tls_verify: bool,
}
