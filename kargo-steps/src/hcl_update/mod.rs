//! `hcl-update`: sets values in a HCL file, touching only what changes.
//!
//! Keys use the sjson path syntax Kargo documents (`image.tag`,
//! `example\.com/version`, `containers.0.image`). For Terraform `.tf` and `.tfvars` files: dotted keys reach attributes inside objects and blocks (`tags.version`, `resource.aws_lambda_function.fn.image_uri`); strings are quoted, numbers and booleans raw; comments and `=` alignment are kept; a missing attribute is added to its block or object, or appended at the end of the file. The edited text is
//! parsed again and must hold the new values with every other value
//! unchanged, or the step fails and the file stays as it was.
//!
//! Output: `commitMessage`.

pub use crate::edit::{EditError as Error, Update};

/// The step kind.
pub const KIND: &str = "hcl-update";

/// The `hcl-update` config (not in Kargo; same shape as `yaml-update`):
/// `path`, the HCL file relative to the work dir, and `updates`, the keys to
/// set, in order.
pub type Config = crate::file_edit::UpdateConfig;

/// The `hcl-update` step.
pub type HclUpdate = crate::file_edit::UpdateStep<crate::file_edit::Hcl>;

/// Applies `updates` to a HCL text, as the step does to its file: the
/// result differs from `src` only where values changed (and where keys
/// were created), and has been parsed again and checked.
///
/// ```
/// use kargo_steps::hcl_update::{Update, edit};
///
/// let out = edit("image_tag = \"v1\" # pinned\n", &[Update::new("image_tag", "v2")]).unwrap();
/// assert_eq!(out, "image_tag = \"v2\" # pinned\n");
/// ```
pub fn edit(src: &str, updates: &[Update]) -> Result<String, Error> {
    crate::edit::hcl::update(src, updates)
}
