//! The built-in promotion steps of kargo-rs.
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![forbid(unsafe_code)]

mod edit;

pub mod yaml_parse;
pub mod yaml_update;

pub use yaml_parse::YamlParse;
pub use yaml_update::YamlUpdate;

use kargo_core::step::StepRegistry;

/// Registers every built-in step in `registry`.
pub fn register_builtins(registry: &mut StepRegistry) {
    register_file_steps(registry);
}

/// Registers the file steps (`yaml-update`, `yaml-parse`, ...).
fn register_file_steps(registry: &mut StepRegistry) {
    registry.replace(yaml_update::KIND, YamlUpdate);
    registry.replace(yaml_parse::KIND, YamlParse);
}
