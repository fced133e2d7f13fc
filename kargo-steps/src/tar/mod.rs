//! `tar`: archives a file or a directory into a tar file, gzipped on
//! request.
//!
//! As in Kargo: a directory's entries are stored relative to it (the
//! directory itself is not an entry; directories end with `/`), a single
//! file is stored under its base name, symbolic links are stored as links,
//! and `ignore` holds `.gitignore`-style patterns (relative to `inPath`);
//! without `ignore`, `.git` is left out. Entries are written in sorted
//! order, so the same tree gives the same entry list; an archive written
//! inside the tree it archives leaves itself out. A file larger than
//! [`MAX_FILE_SIZE`] or a tree larger than [`MAX_TOTAL_SIZE`] fails the
//! step. The archive is written to a temporary file next to `outPath` and
//! renamed over it, so a failed run leaves `outPath` as it was.
//!
//! Output: none.

mod step;

use kargo_core::step::Touches;
use serde::{Deserialize, Serialize};

use crate::schema::Check::NonEmpty;
use crate::schema::Rule;

/// The step kind.
pub const KIND: &str = "tar";

/// Kargo's schema rules for the config, checked before the promotion
/// starts (see [`schema`](crate::schema)).
const RULES: &[Rule] = &[
    ("inPath", NonEmpty),
    ("outPath", NonEmpty),
    ("ignore", NonEmpty),
];

/// Where in the work directory the step reads and writes.
const TOUCHES: Touches = Touches::Fields(&["inPath", "outPath"]);

/// The largest file the archive takes (Kargo's limit: 50 MiB).
pub const MAX_FILE_SIZE: u64 = 50 * 1024 * 1024;

/// The most file content the archive takes in all (Kargo's limit: 100 MiB).
pub const MAX_TOTAL_SIZE: u64 = 100 * 1024 * 1024;

/// The `tar` config (Kargo's `TarConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The file or directory to archive, relative to the work dir.
    pub in_path: String,
    /// The archive to write (replaced when it exists), relative to the
    /// work dir.
    pub out_path: String,
    /// Newline-separated `.gitignore` patterns of paths to leave out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<String>,
    /// Whether to gzip the archive (default: no).
    #[serde(default)]
    pub gzip: bool,
}

/// The `tar` step.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tar;
