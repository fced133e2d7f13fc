//! `git-clear`: removes every file from a working tree.

mod step;

use kargo_core::step::Touches;
use serde::{Deserialize, Serialize};

use crate::schema::Check::NonEmpty;
use crate::schema::Rule;

pub use step::GitClear;

/// The step kind.
pub const KIND: &str = "git-clear";

/// Kargo's schema rules for the config, checked before the promotion
/// starts (see [`schema`](crate::schema)).
const RULES: &[Rule] = &[("path", NonEmpty)];

/// Where in the work directory the step reads and writes. It clears the
/// whole working tree at `path`, so a checkout there cannot be sparse.
const TOUCHES: Touches = Touches::Fields(&["path"]);

/// The `git-clear` step's config (Kargo's `GitClearConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The working tree, relative to the work directory.
    pub path: String,
}
