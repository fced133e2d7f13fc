//! `tf-apply`: `terraform init` and `terraform apply`.
//!
//! # Config
//! | field | | |
//! |---|---|---|
//! | `dir` | required | the Terraform root module, relative to the work directory |
//! | `plan` | optional | a plan file saved by `tf-plan`'s `out`: apply exactly that plan |
//! | `vars` | optional | without `plan`: `[{file} \| {name, value}]`, see the [module docs](super) |
//! | `env` | optional | `[{name, value}]` environment variables |
//! | `binary` | optional | the Terraform/OpenTofu binary, see the [module docs](super) |
//!
//! `plan` and `vars` exclude each other: a saved plan carries its variables.
//! Without `plan`, the step plans and applies in one go (`-auto-approve`).
//!
//! # Outputs
//! - `result`: what `terraform apply` printed, without ANSI escapes.
//!
//! # Status
//! `Succeeded`, or `Failed` with Terraform's error text (a stale plan, a
//! failing provider, broken HCL).

mod step;

use kargo_core::step::Touches;
use serde::{Deserialize, Serialize};

use super::{EnvVar, Var};

pub use step::TfApply;

/// The step kind.
pub const KIND: &str = "tf-apply";

/// Where in the work directory the step reads and writes. Not only its
/// config's paths: a root module reads the modules it calls (`../modules`).
const TOUCHES: Touches = Touches::Unknown;

/// The `tf-apply` config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The Terraform root module, relative to the work directory.
    pub dir: String,
    /// A saved plan file, relative to the work directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// Variables files and values, in order (not with `plan`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vars: Vec<Var>,
    /// Extra environment variables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// The binary to run (name or path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<String>,
}

impl Config {
    /// A config applying `dir`.
    pub fn new(dir: impl Into<String>) -> Self {
        Config {
            dir: dir.into(),
            plan: None,
            vars: Vec::new(),
            env: Vec::new(),
            binary: None,
        }
    }
}
