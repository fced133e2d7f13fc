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
//! An entry that would land outside `outPath` fails the step with an
//! error naming it, where Kargo skips it silently: an absolute path, a
//! `..` component, a symbolic link whose target is absolute or resolves
//! outside `outPath`, or an entry below a symbolic link. Leading `./` and
//! `.` components are dropped (after `stripComponents`, which counts them,
//! as GNU tar does).
//!
//! # Atomicity
//! The archive is extracted into a temporary directory next to `outPath`,
//! which then takes `outPath`'s place (the old one is moved aside first
//! and removed last). A failed extraction leaves `outPath` as it was.
//!
//! Output: none.

mod step;

use serde::{Deserialize, Serialize};

/// The step kind.
pub const KIND: &str = "untar";

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
