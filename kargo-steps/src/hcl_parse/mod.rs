//! `hcl-parse`: reads a HCL file and evaluates expressions against it.
//!
//! Each `fromExpression` is a bare expression (no `${{ }}`) evaluated with
//! the document's top-level keys as variables (`image.tag`), and the whole
//! document as `outputs`. The step's output holds one entry per `name`.

mod step;

use serde::{Deserialize, Serialize};

pub use crate::edit::{EditError as Error, ParseOutput};

/// The step kind.
pub const KIND: &str = "hcl-parse";

/// The `hcl-parse` config (not in Kargo; same shape as `yaml-parse`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The HCL file, relative to the work dir.
    pub path: String,
    /// The values to extract.
    pub outputs: Vec<ParseOutput>,
}

/// The `hcl-parse` step.
#[derive(Debug, Clone, Copy, Default)]
pub struct HclParse;

/// Reads a HCL text as JSON, as the step sees its file.
pub fn read(src: &str) -> Result<serde_json::Value, Error> {
    crate::edit::hcl::read(src)
}
