//! `file-write`: writes a file inside the work directory.

mod step;

use kargo_core::step::Touches;
use serde::{Deserialize, Serialize};

use crate::schema::Check::NonEmpty;
use crate::schema::Rule;

pub use step::FileWrite;

/// The step kind.
pub const KIND: &str = "file-write";

/// Kargo's schema rules for the config, checked before the promotion
/// starts (see [`schema`](crate::schema)).
const RULES: &[Rule] = &[("path", NonEmpty)];

/// Where in the work directory the step reads and writes.
const TOUCHES: Touches = Touches::Fields(&["path"]);

/// The mode of a written file when the config gives none.
pub const DEFAULT_PERMISSIONS: u32 = 0o600;

/// The `file-write` step's config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The file to write, relative to the work directory.
    pub path: String,
    /// What to write.
    pub contents: String,
    /// An octal mode such as `"0644"` (default `0600`).
    #[serde(default)]
    pub permissions: Option<String>,
    /// Whether an existing file may be replaced.
    #[serde(default)]
    pub overwrite: bool,
}
