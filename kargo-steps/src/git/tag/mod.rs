//! `git-tag`: tags the commit a working tree is on.

mod step;

use serde::{Deserialize, Serialize};

pub use step::GitTag;

/// The step kind.
pub const KIND: &str = "git-tag";

/// The `git-tag` step's config (Kargo's `GitTagConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The working tree, relative to the work directory.
    pub path: String,
    /// The tag to create.
    pub tag: String,
    /// The annotation message.
    pub message: String,
    /// Replace an existing tag of the same name.
    #[serde(default)]
    pub force: bool,
}
