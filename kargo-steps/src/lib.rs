//! The built-in promotion steps of kargo-rs.
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![forbid(unsafe_code)]

mod edit;

pub mod copy;
pub mod delete;
pub mod hcl_parse;
pub mod hcl_update;
pub mod json_parse;
pub mod json_update;
pub mod toml_parse;
pub mod toml_update;
pub mod yaml_parse;
pub mod yaml_update;

pub use copy::Copy;
pub use delete::Delete;
pub use hcl_parse::HclParse;
pub use hcl_update::HclUpdate;
pub use json_parse::JsonParse;
pub use json_update::JsonUpdate;
pub use toml_parse::TomlParse;
pub use toml_update::TomlUpdate;
pub use yaml_parse::YamlParse;
pub use yaml_update::YamlUpdate;

use kargo_core::step::StepRegistry;

/// Registers every built-in step in `registry`.
pub fn register_builtins(registry: &mut StepRegistry) {
    register_file_steps(registry);
}

/// Registers the file steps: `yaml-update`, `yaml-parse`, `json-update`,
/// `json-parse`, `toml-update`, `toml-parse`, `hcl-update`, `hcl-parse`,
/// `copy` and `delete`.
fn register_file_steps(registry: &mut StepRegistry) {
    registry.replace(yaml_update::KIND, YamlUpdate);
    registry.replace(yaml_parse::KIND, YamlParse);
    registry.replace(json_update::KIND, JsonUpdate);
    registry.replace(json_parse::KIND, JsonParse);
    registry.replace(toml_update::KIND, TomlUpdate);
    registry.replace(toml_parse::KIND, TomlParse);
    registry.replace(hcl_update::KIND, HclUpdate);
    registry.replace(hcl_parse::KIND, HclParse);
    registry.replace(copy::KIND, Copy);
    registry.replace(delete::KIND, Delete);
}
