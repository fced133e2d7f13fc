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
//! binary found on the host; `process` (default) adds `ProcessStep`
//! (module `process_step`), out-of-process custom steps declared in
//! configuration; `oci` (default) adds `oci-push` and `oci-download`
//! (registries through oci-client); `argocd` (default) adds
//! `argocd-update` and `argocd-wait` (Argo CD's REST API, server from
//! `ARGOCD_SERVER`; see module `argocd`); `kustomize` (default) adds
//! `kustomize-build` and `helm` (default) adds `helm-template`, which run
//! the `kustomize` and `helm` binaries found on the host (modules
//! `kustomize_build` and `helm_template`); `helm` also adds
//! `helm-update-chart` (module `helm_update_chart`), which reads chart
//! repositories through kargo-sources' Helm client.
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

#[cfg(feature = "argocd")]
pub mod argocd;
#[cfg(any(feature = "terraform", feature = "kustomize", feature = "helm"))]
mod binary;
pub mod compose_output;
pub mod fail;
pub mod file_write;
pub mod fs;
#[cfg(feature = "git")]
pub mod git;
#[cfg(feature = "helm")]
pub mod helm_template;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "http")]
pub mod http_download;
#[cfg(feature = "kustomize")]
pub mod kustomize_build;
#[cfg(feature = "oci")]
mod oci;
#[cfg(feature = "oci")]
pub mod oci_download;
#[cfg(feature = "oci")]
pub mod oci_push;
#[cfg(feature = "process")]
pub mod process_step;
#[cfg(any(feature = "kustomize", feature = "helm"))]
mod render;

#[cfg(feature = "argocd")]
pub use argocd::{ArgoCdUpdate, ArgoCdWait};
pub use compose_output::ComposeOutput;
pub use fail::Fail;
pub use file_write::FileWrite;
#[cfg(feature = "helm")]
pub use helm_template::HelmTemplate;
#[cfg(feature = "http")]
pub use http::Http;
#[cfg(feature = "http")]
pub use http_download::HttpDownload;
#[cfg(feature = "oci")]
pub use oci_download::OciDownload;
#[cfg(feature = "oci")]
pub use oci_push::OciPush;
#[cfg(feature = "process")]
pub use process_step::ProcessStep;

mod edit;

pub mod copy;
pub mod delete;
pub mod file_edit;
pub mod hcl_parse;
pub mod hcl_update;
#[cfg(feature = "helm")]
pub mod helm_update_chart;
pub mod json_parse;
pub mod json_update;
pub mod kustomize_set_image;
pub mod schema;
pub mod set_freight_alias;
pub mod set_metadata;
mod store;
pub mod tar;
pub mod toml_parse;
pub mod toml_update;
pub mod untar;
pub mod yaml_merge;
pub mod yaml_parse;
pub mod yaml_update;

pub use copy::Copy;
pub use delete::Delete;
pub use hcl_parse::HclParse;
pub use hcl_update::HclUpdate;
#[cfg(feature = "helm")]
pub use helm_update_chart::HelmUpdateChart;
pub use json_parse::JsonParse;
pub use json_update::JsonUpdate;
#[cfg(feature = "kustomize")]
pub use kustomize_build::KustomizeBuild;
pub use kustomize_set_image::KustomizeSetImage;
pub use set_freight_alias::SetFreightAlias;
pub use set_metadata::SetMetadata;
use store::store_error;
pub use tar::Tar;
pub use toml_parse::TomlParse;
pub use toml_update::TomlUpdate;
pub use untar::Untar;
pub use yaml_merge::YamlMerge;
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
        let allowed = http::internal_addresses_from_env();
        let options = http::Options {
            allowed_internal_addresses: allowed.clone(),
            ..Default::default()
        };
        registry.replace(http::KIND, Http::with_options(options));
        let options = http_download::Options {
            allowed_internal_addresses: allowed,
            ..Default::default()
        };
        registry.replace(http_download::KIND, HttpDownload::with_options(options));
    }
    #[cfg(feature = "terraform")]
    terraform::register(registry);
    #[cfg(feature = "argocd")]
    argocd::register(registry);
    #[cfg(feature = "oci")]
    {
        registry.replace(oci_push::KIND, OciPush::new());
        registry.replace(oci_download::KIND, OciDownload::new());
    }
    register_file_steps(registry);
    register_manifest_and_state_steps(registry);
    schema::register(registry);
}

/// Registers the file steps: `yaml-update`, `yaml-parse`, `yaml-merge`, `json-update`,
/// `json-parse`, `toml-update`, `toml-parse`, `hcl-update`, `hcl-parse`,
/// `copy` and `delete`.
fn register_file_steps(registry: &mut StepRegistry) {
    registry.replace(yaml_update::KIND, YamlUpdate::new());
    registry.replace(yaml_parse::KIND, YamlParse::new());
    registry.replace(yaml_merge::KIND, YamlMerge);
    registry.replace(json_update::KIND, JsonUpdate::new());
    registry.replace(json_parse::KIND, JsonParse::new());
    registry.replace(toml_update::KIND, TomlUpdate::new());
    registry.replace(toml_parse::KIND, TomlParse::new());
    registry.replace(hcl_update::KIND, HclUpdate::new());
    registry.replace(hcl_parse::KIND, HclParse::new());
    registry.replace(copy::KIND, Copy);
    registry.replace(delete::KIND, Delete);
}

/// Registers `kustomize-set-image`, `tar`, `untar`, `set-metadata` and
/// `set-freight-alias`, and (with their features) `kustomize-build`,
/// `helm-template` and `helm-update-chart`.
fn register_manifest_and_state_steps(registry: &mut StepRegistry) {
    #[cfg(feature = "helm")]
    registry.replace(helm_update_chart::KIND, HelmUpdateChart);
    registry.replace(kustomize_set_image::KIND, KustomizeSetImage);
    #[cfg(feature = "kustomize")]
    registry.replace(kustomize_build::KIND, KustomizeBuild::new());
    #[cfg(feature = "helm")]
    registry.replace(helm_template::KIND, HelmTemplate::new());
    registry.replace(tar::KIND, Tar);
    registry.replace(untar::KIND, Untar);
    registry.replace(set_metadata::KIND, SetMetadata);
    registry.replace(set_freight_alias::KIND, SetFreightAlias);
}
