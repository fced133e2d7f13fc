//! `git-push`: pushes a working tree's branch (or a tag) to its remote.

mod step;

use kargo_core::step::Touches;
use kargo_git::provider::ProviderKind;
use serde::{Deserialize, Serialize};

use crate::git::PROVIDERS;
use crate::schema::Check::{NonEmpty, OneOf};
use crate::schema::Rule;

pub use step::GitPush;

/// The step kind.
pub const KIND: &str = "git-push";

/// Kargo's schema rules for the config, checked before the promotion
/// starts (see [`schema`](crate::schema)).
const RULES: &[Rule] = &[("path", NonEmpty), ("provider", OneOf(PROVIDERS))];

/// Where in the work directory the step reads and writes. It pushes a
/// working tree's commits; it needs no file there.
const TOUCHES: Touches = Touches::Nothing;

/// The `git-push` step's config (Kargo's `GitPushConfig`).
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
    /// Push this (local) tag instead of a branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Overwrite the remote branch.
    #[serde(default)]
    pub force: bool,
    /// Attempts in all when the remote keeps moving (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// The git provider, for `commitURL` (inferred from the host if unset;
    /// `local` names none, so there is no `commitURL`).
    #[serde(
        default,
        deserialize_with = "super::optional_name",
        skip_serializing_if = "Option::is_none"
    )]
    pub provider: Option<ProviderKind>,
}
