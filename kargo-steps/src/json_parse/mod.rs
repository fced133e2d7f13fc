//! `json-parse`: reads a JSON file and evaluates expressions against it.
//!
//! Each `fromExpression` is a bare expression (no `${{ }}`) evaluated with
//! the document's top-level keys as variables (`image.tag`), and the whole
//! document as `outputs`. The step's output holds one entry per `name`.

pub use crate::edit::{EditError as Error, ParseOutput};

/// The step kind.
pub const KIND: &str = "json-parse";

/// The `json-parse` config (JSONParseConfig): `path`, the JSON file relative
/// to the work dir, and `outputs`, the values to extract.
pub type Config = crate::file_edit::ParseConfig;

/// The `json-parse` step.
pub type JsonParse = crate::file_edit::ParseStep<crate::file_edit::Json>;

/// Reads a JSON text as JSON, as the step sees its file.
pub fn read(src: &str) -> Result<serde_json::Value, Error> {
    crate::edit::json::read(src)
}
