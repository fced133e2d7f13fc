//! `untar`: extracts a tar file, gzipped or not (detected from its first
//! bytes), into a directory.
//!
//! As in Kargo: `outPath` is replaced by the archive's contents;
//! `stripComponents` drops leading path components (entries with no more
//! components are skipped); `ignore` holds `.gitignore`-style patterns,
//! relative to `outPath`, of entries not to extract; regular files,
//! directories and symbolic links are extracted, other entry types
//! (hard links, devices, FIFOs) are skipped. A file larger than
//! [`MAX_FILE_SIZE`] or contents larger than [`MAX_TOTAL_SIZE`] fail the
//! step.
//!
//! # Safety
//! As in Kargo, an unsafe entry is skipped, never written: a name (after
//! `stripComponents`) that is absolute, holds `..` or a `\`, or starts with
//! `./` (Kargo's rule: use `stripComponents: 1` for archives made with
//! `tar -C dir .`), and a symbolic link whose target is any of those.
//! kargo-rs also skips a link that would resolve outside `outPath` and an
//! entry below a symbolic link. Each skipped entry is listed in the output.
//!
//! # Atomicity
//! The archive is extracted into a temporary directory next to `outPath`,
//! which then takes `outPath`'s place (the old one is moved aside first
//! and removed last). A failed extraction leaves `outPath` as it was.
//!
//! Output: `skipped`, the unsafe entries left out, as `[{name, reason}]`
//! (empty when there were none).

mod step;

use kargo_core::step::Touches;
use serde::{Deserialize, Serialize};

use crate::schema::Check::NonEmpty;
use crate::schema::Rule;

/// The step kind.
pub const KIND: &str = "untar";

/// Kargo's schema rules for the config, checked before the promotion
/// starts (see [`schema`](crate::schema)).
const RULES: &[Rule] = &[
    ("inPath", NonEmpty),
    ("outPath", NonEmpty),
    ("ignore", NonEmpty),
];

/// Where in the work directory the step reads and writes.
const TOUCHES: Touches = Touches::Fields(&["inPath", "outPath"]);

/// The largest file extracted (Kargo's limit: 50 MiB).
pub const MAX_FILE_SIZE: u64 = 50 * 1024 * 1024;

/// The most file content extracted in all (Kargo's limit: 100 MiB).
pub const MAX_TOTAL_SIZE: u64 = 100 * 1024 * 1024;

/// The `untar` config (Kargo's `UntarConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The tar file, relative to the work dir.
    pub in_path: String,
    /// The directory to extract into (replaced when it exists), relative
    /// to the work dir.
    pub out_path: String,
    /// How many leading path components to drop from entry names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strip_components: Option<u32>,
    /// Newline-separated `.gitignore` patterns of entries not to extract.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<String>,
}

/// The `untar` step.
#[derive(Debug, Clone, Copy, Default)]
pub struct Untar;
