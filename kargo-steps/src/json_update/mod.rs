//! `json-update`: sets values in a JSON file, touching only what changes.
//!
//! Keys use the sjson path syntax Kargo documents (`image.tag`,
//! `example\.com/version`, `containers.0.image`). Key order, indentation and spacing are kept: only the value's bytes change. A missing key is appended to its object with the object's indentation. The edited text is
//! parsed again and must hold the new values with every other value
//! unchanged, or the step fails and the file stays as it was.
//!
//! Output: `commitMessage`.

pub use crate::edit::{EditError as Error, Update};

/// The step kind.
pub const KIND: &str = "json-update";

/// The `json-update` config (JSONUpdateConfig): `path`, the JSON file
/// relative to the work dir, and `updates`, the keys to set, in order.
pub type Config = crate::file_edit::UpdateConfig;

/// The `json-update` step.
pub type JsonUpdate = crate::file_edit::UpdateStep<crate::file_edit::Json>;

/// Applies `updates` to a JSON text, as the step does to its file: the
/// result differs from `src` only where values changed (and where keys
/// were created), and has been parsed again and checked.
///
/// ```
/// use kargo_steps::json_update::{Update, edit};
///
/// let out = edit("{\"image\": {\"tag\": \"v1\"}}\n", &[Update::new("image.tag", "v2")]).unwrap();
/// assert_eq!(out, "{\"image\": {\"tag\": \"v2\"}}\n");
/// ```
pub fn edit(src: &str, updates: &[Update]) -> Result<String, Error> {
    crate::edit::json::update(src, updates)
}
