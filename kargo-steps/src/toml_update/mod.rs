//! `toml-update`: sets values in a TOML file, touching only what changes.
//!
//! Keys use the sjson path syntax Kargo documents (`image.tag`,
//! `example\.com/version`, `containers.0.image`). Comments and formatting are kept (toml_edit); a replaced value keeps its trailing comment and is written as Kargo writes it (`'v2'`, `123.0`). As in Kargo, only existing scalar keys change: a missing key, or one holding a table or an array, fails the step naming the key. The edited text is
//! parsed again and must hold the new values with every other value
//! unchanged, or the step fails and the file stays as it was.
//!
//! Output: `commitMessage`.

pub use crate::edit::{EditError as Error, Update};

/// The step kind.
pub const KIND: &str = "toml-update";

/// The `toml-update` config (TOMLUpdateConfig): `path`, the TOML file
/// relative to the work dir, and `updates`, the keys to set, in order.
pub type Config = crate::file_edit::UpdateConfig;

/// The `toml-update` step.
pub type TomlUpdate = crate::file_edit::UpdateStep<crate::file_edit::Toml>;

/// Applies `updates` to a TOML text, as the step does to its file: the
/// result differs from `src` only where values changed, and has been
/// parsed again and checked. Only existing scalar keys can be set.
///
/// ```
/// use kargo_steps::toml_update::{Update, edit};
///
/// let out = edit("[image]\ntag = \"v1\" # pinned\n", &[Update::new("image.tag", "v2")]).unwrap();
/// assert_eq!(out, "[image]\ntag = 'v2' # pinned\n");
/// assert!(edit("[image]\ntag = \"v1\"\n", &[Update::new("image.tga", "v2")]).is_err());
/// ```
pub fn edit(src: &str, updates: &[Update]) -> Result<String, Error> {
    crate::edit::toml::update(src, updates)
}
