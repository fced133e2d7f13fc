//! `git-commit`: commits every change in a working tree.

mod step;

use serde::{Deserialize, Serialize};

use super::Author;

pub use step::GitCommit;

/// The step kind.
pub const KIND: &str = "git-commit";

/// The `git-commit` step's config (Kargo's `GitCommitConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The working tree, relative to the work directory.
    pub path: String,
    /// The commit message.
    pub message: String,
    /// Authorship overriding the one set at `git-clone` (deprecated in
    /// Kargo).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<Author>,
}
