//! The built-in promotion steps of kargo-rs, named and configured as
//! Kargo's steps are, so Kargo promotion templates run unchanged.
//!
//! kargo-rs is a family of crates: `kargo-core` (model, engine, the `Step`
//! trait), `kargo-git`, `kargo-sources`, `kargo-steps` (this crate) and the
//! `kargo` facade. Hosts call [`register_builtins`] and add their own steps
//! to the same [`StepRegistry`].
//!
//! ```
//! let mut registry = kargo_core::step::StepRegistry::new();
//! kargo_steps::register_builtins(&mut registry);
//! assert!(registry.get("compose-output").is_some());
//! ```
//!
//! Feature flags: `http` (default) adds `http` and `http-download`;
//! `terraform` (default) adds `tf-plan`, `tf-apply` and
//! `tf-output` (module `terraform`), which run a Terraform or OpenTofu
//! binary found on the host.
//!
//! MSRV: Rust 1.95.
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![forbid(unsafe_code)]
#![warn(clippy::future_not_send)]

pub mod compose_output;
pub mod fail;
pub mod file_write;
pub mod fs;
#[cfg(feature = "git")]
pub mod git;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "http")]
pub mod http_download;
#[cfg(all(test, feature = "http"))]
mod test_support;

pub use compose_output::ComposeOutput;
pub use fail::Fail;
pub use file_write::FileWrite;
#[cfg(feature = "http")]
pub use http::Http;
#[cfg(feature = "http")]
pub use http_download::HttpDownload;

mod edit;

pub mod copy;
pub mod delete;
pub mod hcl_parse;
pub mod hcl_update;
pub mod json_parse;
pub mod json_update;
pub mod set_freight_alias;
pub mod set_metadata;
mod store;
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
pub use set_freight_alias::SetFreightAlias;
pub use set_metadata::SetMetadata;
use store::store_error;
pub use toml_parse::TomlParse;
pub use toml_update::TomlUpdate;
pub use yaml_parse::YamlParse;
pub use yaml_update::YamlUpdate;

use kargo_core::step::StepRegistry;

#[cfg(feature = "terraform")]
pub mod terraform;
#[cfg(feature = "terraform")]
pub use terraform::{TfApply, TfOutput, TfPlan};

/// Registers every built-in step in `registry`, replacing any step a
/// host registered under the same kind before.
pub fn register_builtins(registry: &mut StepRegistry) {
    registry.replace(compose_output::KIND, ComposeOutput);
    registry.replace(fail::KIND, Fail);
    registry.replace(file_write::KIND, FileWrite);
    #[cfg(feature = "git")]
    git::register(registry);
    #[cfg(feature = "http")]
    {
        registry.replace(http::KIND, Http::new());
        registry.replace(http_download::KIND, HttpDownload::new());
    }
    #[cfg(feature = "terraform")]
    terraform::register(registry);
    register_file_steps(registry);
    register_manifest_and_state_steps(registry);
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

/// Registers `set-metadata` and `set-freight-alias`.
fn register_manifest_and_state_steps(registry: &mut StepRegistry) {
    registry.replace(set_metadata::KIND, SetMetadata);
    registry.replace(set_freight_alias::KIND, SetFreightAlias);
}
