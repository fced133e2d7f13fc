//! `toml-parse`: reads a TOML file and evaluates expressions against it.
//!
//! Each `fromExpression` is a bare expression (no `${{ }}`) evaluated with
//! the document's top-level keys as variables (`image.tag`), and the whole
//! document as `outputs`. The step's output holds one entry per `name`.

pub use crate::edit::{EditError as Error, ParseOutput};

/// The step kind.
pub const KIND: &str = "toml-parse";

/// The `toml-parse` config (TOMLParseConfig): `path`, the TOML file relative
/// to the work dir, and `outputs`, the values to extract.
pub type Config = crate::file_edit::ParseConfig;

/// The `toml-parse` step.
pub type TomlParse = crate::file_edit::ParseStep<crate::file_edit::Toml>;

/// Reads a TOML text as JSON, as the step sees its file.
pub fn read(src: &str) -> Result<serde_json::Value, Error> {
    crate::edit::toml::read(src)
}
