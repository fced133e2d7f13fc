//! `toml-update`: sets values in a TOML file, touching only what changes.
//!
//! Keys use the sjson path syntax Kargo documents (`image.tag`,
//! `example\.com/version`, `containers.0.image`). Comments and formatting are kept (toml_edit); a replaced value keeps its trailing comment and a literal string stays literal. A missing nested key becomes a `[a.b]` table. The edited text is
//! parsed again and must hold the new values with every other value
//! unchanged, or the step fails and the file stays as it was.
//!
//! Output: `commitMessage`.

mod step;

use serde::{Deserialize, Serialize};

pub use crate::edit::Update;

/// The step kind.
pub const KIND: &str = "toml-update";

/// The `toml-update` config (TOMLUpdateConfig).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The TOML file, relative to the work dir.
    pub path: String,
    /// The keys to set, in order.
    pub updates: Vec<Update>,
}

/// The `toml-update` step.
#[derive(Debug, Clone, Copy, Default)]
pub struct TomlUpdate;
