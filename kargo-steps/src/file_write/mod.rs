//! `file-write`: writes a file inside the work directory.

mod step;

use serde::{Deserialize, Serialize};

pub use step::FileWrite;

/// The step kind.
pub const KIND: &str = "file-write";

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
