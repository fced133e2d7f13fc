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
//! # Adding a step
//! A step kind is one directory module, `src/<kind_snake>/` (inside its
//! family where it has one, as `git/clone/`): its `mod.rs` holds the module
//! docs, `pub const KIND`, the config types, Kargo's schema rules for the
//! config (`const RULES`, checked by [`schema::check`]) and where in the
//! work directory the step reads and writes (`const TOUCHES`, a
//! [`Touches`](kargo_core::step::Touches)); its `step.rs` holds the
//! `impl Step`, whose `check_config` and `capabilities` return those two.
//! Besides the module, only its declaration (`pub mod`, and `pub use` of
//! the step) and one line of [`register_builtins`] name the kind: no table
//! elsewhere lists kinds. (`github-push`, the last step added before this
//! shape, also had to edit `git-clone`'s table of path fields and
//! `schema.rs`'s table of rules: four files of this crate, three outside
//! its own; the same step now needs its module's two files, the
//! declaration in `git/mod.rs` and the registration line in `lib.rs`.)
//! `git-clone`'s derived sparse checkouts go by the
//! later steps' declared touches, so a host's own step takes part the same
//! way (the test `a_host_step_declaring_its_path_field_makes_git_clone_sparse`
//! in `tests/it/git_steps.rs` runs one through the engine):
//!
//! ```
//! use kargo_core::step::{Capabilities, Step, StepContext, StepError, StepOutcome, Touches};
//! use kargo_steps::schema::{self, Check, Rule};
//! use serde_json::Value;
//!
//! /// Renders `template` into `outPath`.
//! #[derive(Debug)]
//! struct Render;
//!
//! const RULES: &[Rule] = &[("template", Check::NonEmpty), ("outPath", Check::NonEmpty)];
//!
//! #[async_trait::async_trait]
//! impl Step for Render {
//!     async fn run(&self, _ctx: &StepContext, _config: Value) -> Result<StepOutcome, StepError> {
//!         Ok(StepOutcome::succeeded())
//!     }
//!
//!     /// A `git-clone` before it checks out only these two paths for it.
//!     fn capabilities(&self) -> Capabilities {
//!         Capabilities::default().with_touches(Touches::Fields(&["template", "outPath"]))
//!     }
//!
//!     fn check_config(&self, config: &Value) -> Result<(), StepError> {
//!         schema::check("render", RULES, config)
//!     }
//! }
//!
//! let mut registry = kargo_core::step::StepRegistry::new();
//! kargo_steps::register_builtins(&mut registry);
//! registry.register("render", Render).unwrap();
//! let err = Render.check_config(&serde_json::json!({"template": ""})).unwrap_err();
//! assert_eq!(err.to_string(), "invalid render config: `template` must not be empty");
//! ```
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
pub mod tar;
#[cfg(all(test, any(feature = "git", feature = "argocd")))]
mod testing;
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
/// host registered under the same kind before: one line per step kind, the
/// only place built-ins are registered. Settings the host gives through the
/// environment (`KARGO_HTTP_ALLOWED_INTERNAL_ADDRESSES`, `ARGOCD_SERVER`,
/// `GIT_PUSH_INTEGRATION_POLICY`, `MAX_OCI_PUSH_ARTIFACT_SIZE`, ...) are read here, once.
pub fn register_builtins(registry: &mut StepRegistry) {
    #[cfg(feature = "http")]
    let internal_addresses = http::internal_addresses_from_env();
    #[cfg(feature = "argocd")]
    let argocd_options = argocd::Options::from_env();

    #[cfg(feature = "argocd")]
    registry.replace(
        argocd::update::KIND,
        ArgoCdUpdate::new(argocd_options.clone()),
    );
    #[cfg(feature = "argocd")]
    registry.replace(argocd::wait::KIND, ArgoCdWait::new(argocd_options));
    registry.replace(compose_output::KIND, ComposeOutput);
    registry.replace(copy::KIND, Copy);
    registry.replace(delete::KIND, Delete);
    registry.replace(fail::KIND, Fail);
    registry.replace(file_write::KIND, FileWrite);
    #[cfg(feature = "git")]
    registry.replace(git::clear::KIND, git::GitClear);
    #[cfg(feature = "git")]
    registry.replace(git::clone::KIND, git::GitClone::default());
    #[cfg(feature = "git")]
    registry.replace(git::commit::KIND, git::GitCommit);
    #[cfg(feature = "git")]
    registry.replace(git::github_push::KIND, git::GitHubPush::from_env());
    #[cfg(feature = "git")]
    registry.replace(git::merge_pr::KIND, git::GitMergePr::default());
    #[cfg(feature = "git")]
    registry.replace(git::open_pr::KIND, git::GitOpenPr::default());
    #[cfg(feature = "git")]
    registry.replace(git::push::KIND, git::GitPush::from_env());
    #[cfg(feature = "git")]
    registry.replace(git::tag::KIND, git::GitTag);
    #[cfg(feature = "git")]
    registry.replace(git::wait_for_pr::KIND, git::GitWaitForPr::default());
    registry.replace(hcl_parse::KIND, HclParse::new());
    registry.replace(hcl_update::KIND, HclUpdate::new());
    #[cfg(feature = "helm")]
    registry.replace(helm_template::KIND, HelmTemplate::new());
    #[cfg(feature = "helm")]
    registry.replace(helm_update_chart::KIND, HelmUpdateChart);
    #[cfg(feature = "http")]
    registry.replace(
        http::KIND,
        Http::with_options(http::Options {
            allowed_internal_addresses: internal_addresses.clone(),
            ..Default::default()
        }),
    );
    #[cfg(feature = "http")]
    registry.replace(
        http_download::KIND,
        HttpDownload::with_options(http_download::Options {
            allowed_internal_addresses: internal_addresses,
            ..Default::default()
        }),
    );
    registry.replace(json_parse::KIND, JsonParse::new());
    registry.replace(json_update::KIND, JsonUpdate::new());
    #[cfg(feature = "kustomize")]
    registry.replace(kustomize_build::KIND, KustomizeBuild::new());
    registry.replace(kustomize_set_image::KIND, KustomizeSetImage);
    #[cfg(feature = "oci")]
    registry.replace(oci_download::KIND, OciDownload::new());
    #[cfg(feature = "oci")]
    registry.replace(oci_push::KIND, OciPush::from_env());
    registry.replace(set_freight_alias::KIND, SetFreightAlias);
    registry.replace(set_metadata::KIND, SetMetadata);
    registry.replace(tar::KIND, Tar);
    #[cfg(feature = "terraform")]
    registry.replace(terraform::apply::KIND, TfApply::new());
    #[cfg(feature = "terraform")]
    registry.replace(terraform::output::KIND, TfOutput::new());
    #[cfg(feature = "terraform")]
    registry.replace(terraform::plan::KIND, TfPlan::new());
    registry.replace(toml_parse::KIND, TomlParse::new());
    registry.replace(toml_update::KIND, TomlUpdate::new());
    registry.replace(untar::KIND, Untar);
    registry.replace(yaml_merge::KIND, YamlMerge);
    registry.replace(yaml_parse::KIND, YamlParse::new());
    registry.replace(yaml_update::KIND, YamlUpdate::new());
}
