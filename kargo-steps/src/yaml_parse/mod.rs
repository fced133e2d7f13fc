//! `yaml-parse`: reads a YAML file and evaluates expressions against it.
//!
//! Each `fromExpression` is a bare expression (no `${{ }}`) evaluated with
//! the document's top-level keys as variables (`image.tag`), and the whole
//! document as `outputs`. The step's output holds one entry per `name`.

pub use crate::edit::{EditError as Error, ParseOutput};

/// The step kind.
pub const KIND: &str = "yaml-parse";

/// The `yaml-parse` config (Kargo's `YAMLParseConfig`): `path`, the YAML file
/// relative to the work dir, and `outputs`, the values to extract.
pub type Config = crate::file_edit::ParseConfig;

/// The `yaml-parse` step.
pub type YamlParse = crate::file_edit::ParseStep<crate::file_edit::Yaml>;

/// Reads a YAML text as JSON, as the step sees its file.
pub fn read(src: &str) -> Result<serde_json::Value, Error> {
    crate::edit::yaml::read(src)
}
