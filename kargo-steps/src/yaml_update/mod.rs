//! `yaml-update`: sets the values of existing keys in a YAML file,
//! touching only their bytes.
//!
//! Keys use Kargo's syntax (`image.tag`, `example\.com/version`,
//! `containers.0.image`; `\:` is a literal colon, and any other escape is
//! refused). As Kargo documents, the step only changes the values of keys
//! that exist and hold a scalar (`key:` with no value counts): a missing
//! key, or one holding a mapping, a sequence or an alias, fails the step,
//! names the key and leaves the file byte-identical.
//!
//! Comments (end-of-line ones included), indentation, blank lines, document
//! markers, anchors, flow collections, CRLF line endings and the quote
//! style of the old value are kept. New strings are quoted when a YAML 1.1
//! reader such as Helm would read them as something else (`yes`, `on`,
//! `1.10`, `0755`, `~`); numbers are written as Kargo writes them (`123.0`
//! becomes `123`) and booleans plain. The edited text is parsed again and
//! must hold the new values and nothing else changed, or the step fails
//! and the file stays as it was.
//!
//! Output: `commitMessage`, as Kargo writes it.

pub use crate::edit::{EditError as Error, Update};

/// The step kind.
pub const KIND: &str = "yaml-update";

/// The `yaml-update` config (Kargo's `YAMLUpdateConfig`): `path`, the YAML
/// file relative to the work dir, and `updates`, the keys to set, in order.
pub type Config = crate::file_edit::UpdateConfig;

/// The `yaml-update` step.
pub type YamlUpdate = crate::file_edit::UpdateStep<crate::file_edit::Yaml>;

/// Applies `updates` to a YAML text, as the step does to its file: the
/// result differs from `src` only in the bytes of the changed values, and
/// has been parsed again and checked. A key that does not exist or does
/// not hold a scalar is an error naming it.
///
/// ```
/// use kargo_steps::yaml_update::{Update, edit};
///
/// let out = edit("image:\n  tag: v1 # pinned\n", &[Update::new("image.tag", "1.10")]).unwrap();
/// assert_eq!(out, "image:\n  tag: \"1.10\" # pinned\n");
/// assert!(edit("image:\n  tag: v1\n", &[Update::new("image.tga", "v2")]).is_err());
/// ```
pub fn edit(src: &str, updates: &[Update]) -> Result<String, Error> {
    crate::edit::yaml::update_existing(src, updates)
}
