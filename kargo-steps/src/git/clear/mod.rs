//! `git-clear`: removes every file from a working tree.

mod step;

use serde::{Deserialize, Serialize};

pub use step::GitClear;

/// The step kind.
pub const KIND: &str = "git-clear";

/// The `git-clear` step's config (Kargo's `GitClearConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The working tree, relative to the work directory.
    pub path: String,
}
