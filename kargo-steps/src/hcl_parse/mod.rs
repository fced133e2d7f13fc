//! `hcl-parse`: reads a HCL file and evaluates expressions against it.
//!
//! Each `fromExpression` is a bare expression (no `${{ }}`) evaluated with
//! the document's top-level keys as variables (`image.tag`), and the whole
//! document as `outputs`. The step's output holds one entry per `name`.

pub use crate::edit::{EditError as Error, ParseOutput};

/// The step kind.
pub const KIND: &str = "hcl-parse";

/// The `hcl-parse` config (not in Kargo; same shape as `yaml-parse`): `path`,
/// the HCL file relative to the work dir, and `outputs`, the values to
/// extract.
pub type Config = crate::file_edit::ParseConfig;

/// The `hcl-parse` step.
pub type HclParse = crate::file_edit::ParseStep<crate::file_edit::Hcl>;

/// Reads a HCL text as JSON, as the step sees its file.
pub fn read(src: &str) -> Result<serde_json::Value, Error> {
    crate::edit::hcl::read(src)
}
