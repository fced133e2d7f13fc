//! `copy`: copies a file, or a directory tree, inside the work dir.
//!
//! As in Kargo: a directory's contents are copied into `outPath`
//! (created when missing, existing files overwritten), `.git` is never
//! copied, symbolic links are skipped, and `ignore` holds `.gitignore`-style
//! patterns (relative to `inPath`) of files to leave out. File modes are
//! kept, and every file is written atomically.

mod step;

use kargo_core::step::Touches;
use serde::{Deserialize, Serialize};

use crate::schema::Check::NonEmpty;
use crate::schema::Rule;

/// The step kind.
pub const KIND: &str = "copy";

/// Kargo's schema rules for the config, checked before the promotion
/// starts (see [`schema`](crate::schema)).
const RULES: &[Rule] = &[
    ("inPath", NonEmpty),
    ("outPath", NonEmpty),
    ("ignore", NonEmpty),
];

/// Where in the work directory the step reads and writes.
const TOUCHES: Touches = Touches::Fields(&["inPath", "outPath"]);

/// The `copy` config (Kargo's `CopyConfig`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The file or directory to copy, relative to the work dir.
    pub in_path: String,
    /// The destination, relative to the work dir.
    pub out_path: String,
    /// Newline-separated `.gitignore` patterns of paths not to copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<String>,
}

/// The `copy` step.
#[derive(Debug, Clone, Copy, Default)]
pub struct Copy;
