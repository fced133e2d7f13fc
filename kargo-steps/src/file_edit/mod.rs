//! The file-edit steps, once: a [`ParseStep`] and an [`UpdateStep`] over a
//! [`Format`]. Each kind keeps its own module, name and docs
//! ([`yaml_parse`](crate::yaml_parse), [`yaml_update`](crate::yaml_update),
//! `json-*`, `toml-*`, `hcl-*`): there, the step is this module's generic
//! step for that format, and its config this module's config, so a
//! format's parse and update steps read, write, check and report as every
//! other format's do.
//!
//! | kind | step | format |
//! |---|---|---|
//! | `yaml-parse`, `yaml-update` | [`YamlParse`](crate::YamlParse), [`YamlUpdate`](crate::YamlUpdate) | [`Yaml`] |
//! | `json-parse`, `json-update` | [`JsonParse`](crate::JsonParse), [`JsonUpdate`](crate::JsonUpdate) | [`Json`] |
//! | `toml-parse`, `toml-update` | [`TomlParse`](crate::TomlParse), [`TomlUpdate`](crate::TomlUpdate) | [`Toml`] |
//! | `hcl-parse`, `hcl-update` | [`HclParse`](crate::HclParse), [`HclUpdate`](crate::HclUpdate) | [`Hcl`] |

mod step;

use std::fmt;
use std::marker::PhantomData;

use kargo_core::expr::Document;
use kargo_core::step::Touches;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::edit;
use crate::schema::Check::NonEmpty;
use crate::schema::Rule;

pub use crate::edit::{EditError, ParseOutput, Update};

/// A file format the file-edit steps read and edit.
///
/// # Contract
/// - [`read`](Self::read) gives the document a parse step's expressions
///   see (`$env`); a text that does not parse is an error.
/// - [`update`](Self::update) applies every update or none: its result
///   differs from the text only where values changed, and has been read
///   again and checked; an error names the key.
/// - [`commit_value`](Self::commit_value) writes a value as the update
///   step's `commitMessage` lists it (`- image.tag: v2`).
pub trait Format: fmt::Debug + Send + Sync + 'static {
    /// The parse step's kind (`yaml-parse`).
    const PARSE_KIND: &'static str;
    /// The update step's kind (`yaml-update`).
    const UPDATE_KIND: &'static str;

    /// Reads a text, as the parse step reads its file.
    fn read(src: &str) -> Result<Document, EditError>;

    /// Applies `updates` to a text, as the update step does to its file.
    fn update(src: &str, updates: &[Update]) -> Result<String, EditError>;

    /// A value as the update step's commit message writes it.
    fn commit_value(value: &Value) -> String;
}

/// YAML (`yaml-parse`, `yaml-update`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Yaml;

impl Format for Yaml {
    const PARSE_KIND: &'static str = crate::yaml_parse::KIND;
    const UPDATE_KIND: &'static str = crate::yaml_update::KIND;

    fn read(src: &str) -> Result<Document, EditError> {
        edit::yaml::read_document(src)
    }

    fn update(src: &str, updates: &[Update]) -> Result<String, EditError> {
        edit::yaml::update_existing(src, updates)
    }

    /// Kargo's `QuoteIfNecessary`: strings that read as a number, a
    /// boolean or JSON are quoted.
    fn commit_value(value: &Value) -> String {
        match value {
            Value::String(s) => {
                let looks_typed = s.parse::<f64>().is_ok()
                    || matches!(
                        s.as_str(),
                        "1" | "t"
                            | "T"
                            | "TRUE"
                            | "true"
                            | "True"
                            | "0"
                            | "f"
                            | "F"
                            | "FALSE"
                            | "false"
                            | "False"
                    )
                    || serde_json::from_str::<Value>(s).is_ok();
                if looks_typed {
                    edit::go_quote(s)
                } else {
                    s.clone()
                }
            }
            other => edit::go_format(other),
        }
    }
}

/// JSON (`json-parse`, `json-update`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

impl Format for Json {
    const PARSE_KIND: &'static str = crate::json_parse::KIND;
    const UPDATE_KIND: &'static str = crate::json_update::KIND;

    fn read(src: &str) -> Result<Document, EditError> {
        edit::json::read_document(src)
    }

    fn update(src: &str, updates: &[Update]) -> Result<String, EditError> {
        edit::json::update(src, updates)
    }

    fn commit_value(value: &Value) -> String {
        edit::quoted_commit_value(value)
    }
}

/// TOML (`toml-parse`, `toml-update`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Toml;

impl Format for Toml {
    const PARSE_KIND: &'static str = crate::toml_parse::KIND;
    const UPDATE_KIND: &'static str = crate::toml_update::KIND;

    fn read(src: &str) -> Result<Document, EditError> {
        edit::toml::read_document(src)
    }

    fn update(src: &str, updates: &[Update]) -> Result<String, EditError> {
        edit::toml::update(src, updates)
    }

    /// The value as written into the file, or Go's `%v` for one that
    /// cannot be (the step then fails anyway).
    fn commit_value(value: &Value) -> String {
        edit::toml::value_text("", value).unwrap_or_else(|_| edit::go_format(value))
    }
}

/// HCL, for Terraform's `.tf` and `.tfvars` (`hcl-parse`, `hcl-update`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Hcl;

impl Format for Hcl {
    const PARSE_KIND: &'static str = crate::hcl_parse::KIND;
    const UPDATE_KIND: &'static str = crate::hcl_update::KIND;

    fn read(src: &str) -> Result<Document, EditError> {
        edit::hcl::read_document(src)
    }

    fn update(src: &str, updates: &[Update]) -> Result<String, EditError> {
        edit::hcl::update(src, updates)
    }

    fn commit_value(value: &Value) -> String {
        edit::quoted_commit_value(value)
    }
}

/// Kargo's schema rules for a parse step's config (the same for every
/// format), checked before the promotion starts (see
/// [`schema`](crate::schema)).
const PARSE_RULES: &[Rule] = &[
    ("path", NonEmpty),
    ("outputs", NonEmpty),
    ("outputs[].name", NonEmpty),
    ("outputs[].fromExpression", NonEmpty),
];

/// Kargo's schema rules for an update step's config (the same for every
/// format).
const UPDATE_RULES: &[Rule] = &[
    ("path", NonEmpty),
    ("updates", NonEmpty),
    ("updates[].key", NonEmpty),
];

/// Where in the work directory a parse or update step reads and writes:
/// the one file at `path`.
const TOUCHES: Touches = Touches::Fields(&["path"]);

/// A parse step's config: Kargo's `YAMLParseConfig` (and its JSON and
/// TOML twins).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct ParseConfig {
    /// The file, relative to the work dir.
    pub path: String,
    /// The values to extract.
    pub outputs: Vec<ParseOutput>,
}

/// An update step's config: Kargo's `YAMLUpdateConfig` (and its JSON and
/// TOML twins).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct UpdateConfig {
    /// The file, relative to the work dir.
    pub path: String,
    /// The keys to set, in order.
    pub updates: Vec<Update>,
}

/// The parse step of format `F`: reads the file and evaluates each
/// `fromExpression` against it (see [`yaml_parse`](crate::yaml_parse)).
#[derive(Debug, Clone, Copy, Default)]
pub struct ParseStep<F>(PhantomData<F>);

impl<F> ParseStep<F> {
    /// The step.
    pub const fn new() -> Self {
        ParseStep(PhantomData)
    }
}

/// The update step of format `F`: sets values in the file, touching only
/// what changes (see [`yaml_update`](crate::yaml_update)).
#[derive(Debug, Clone, Copy, Default)]
pub struct UpdateStep<F>(PhantomData<F>);

impl<F> UpdateStep<F> {
    /// The step.
    pub const fn new() -> Self {
        UpdateStep(PhantomData)
    }
}
