//! `git-tag`: tags the commit a working tree is on.

mod step;

use kargo_core::step::Touches;
use serde::{Deserialize, Serialize};

use crate::schema::Check::NonEmpty;
use crate::schema::Rule;

pub use step::GitTag;

/// The step kind.
pub const KIND: &str = "git-tag";

/// Kargo's schema rules for the config, checked before the promotion
/// starts (see [`schema`](crate::schema)).
const RULES: &[Rule] = &[("path", NonEmpty), ("tag", NonEmpty), ("message", NonEmpty)];

/// Where in the work directory the step reads and writes. It tags a working
/// tree's commit; it needs no file there.
const TOUCHES: Touches = Touches::Nothing;

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
