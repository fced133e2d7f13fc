//! `git-commit`: commits every change in a working tree.

mod step;

use kargo_core::step::Touches;
use serde::{Deserialize, Serialize};

use super::Author;
use crate::schema::Check::NonEmpty;
use crate::schema::Rule;

pub use step::GitCommit;

/// The step kind.
pub const KIND: &str = "git-commit";

/// Kargo's schema rules for the config, checked before the promotion
/// starts (see [`schema`](crate::schema)).
const RULES: &[Rule] = &[
    ("path", NonEmpty),
    ("message", NonEmpty),
    ("author.name", NonEmpty),
];

/// Where in the work directory the step reads and writes. It commits what
/// changed in a working tree; it needs no file there.
const TOUCHES: Touches = Touches::Nothing;

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
