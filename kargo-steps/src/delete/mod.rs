//! `delete`: removes files or directories inside the work dir.
//!
//! Exactly one of `path` and `paths` is given. With `pathsAreGlobs`, each
//! entry is a glob (`out/**/*.tmp`) matched against paths relative to the
//! work dir. With `strict`, a path that does not exist, or a glob that
//! matches nothing, fails the step (before anything is deleted).

mod step;

use kargo_core::step::Touches;
use serde::{Deserialize, Serialize};

use crate::schema::Check::NonEmpty;
use crate::schema::Rule;

/// The step kind.
pub const KIND: &str = "delete";

/// Kargo's schema rules for the config, checked before the promotion
/// starts (see [`schema`](crate::schema)).
const RULES: &[Rule] = &[
    ("path", NonEmpty),
    ("paths", NonEmpty),
    ("paths[]", NonEmpty),
];

/// Where in the work directory the step reads and writes.
const TOUCHES: Touches = Touches::Fields(&["path", "paths"]);

/// The `delete` config (Kargo's `DeleteConfig`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// One path (or glob) to delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Several paths (or globs) to delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
    /// Treat `path`/`paths` as glob patterns.
    #[serde(default)]
    pub paths_are_globs: bool,
    /// Fail when a path does not exist or a glob matches nothing.
    #[serde(default)]
    pub strict: bool,
}

/// The `delete` step.
#[derive(Debug, Clone, Copy, Default)]
pub struct Delete;
