//! `tf-plan`: `terraform init` and `terraform plan`.
//!
//! # Config
//! | field | | |
//! |---|---|---|
//! | `dir` | required | the Terraform root module, relative to the work directory |
//! | `out` | optional | where to save the plan file (relative to the work directory), for `tf-apply`'s `plan` |
//! | `vars` | optional | `[{file} \| {name, value}]`, see the [module docs](super) |
//! | `env` | optional | `[{name, value}]` environment variables |
//! | `binary` | optional | the Terraform/OpenTofu binary, see the [module docs](super) |
//!
//! # Outputs
//! - `plan`: the whole plan text as Terraform printed it, without ANSI
//!   escapes.
//! - `planTruncated`: the same text fit for a pull-request body: at most
//!   65,536 characters (GitHub's limit). A longer plan keeps its beginning
//!   and its end (the `Plan:` line and the output changes) and says in
//!   between how many lines and characters were cut.
//! - `summary`: `{add, change, destroy, outputs}`, read from `show -json` of
//!   the saved plan: how many resources the plan adds, changes and destroys
//!   (a replacement counts as one add and one destroy, as in Terraform's
//!   `Plan:` line), and the outputs that change, as `{name: action}` with
//!   action `create`, `update` or `delete`. No values: they may be secret.
//!
//! # Status
//! `Succeeded` when the plan has changes (resources or outputs), `Skipped`
//! when it has none (`-detailed-exitcode`); `Failed` with Terraform's error
//! text when `init`, `plan` or `show` fails. The plan file is written to
//! `out` in both the `Succeeded` and the `Skipped` case (applying a plan
//! without changes does nothing), atomically, and only once the plan has
//! been made.

mod step;

use kargo_core::step::Touches;
use serde::{Deserialize, Serialize};

use super::{EnvVar, Var};

pub use step::{Summary, TfPlan};

/// The step kind.
pub const KIND: &str = "tf-plan";

/// Where in the work directory the step reads and writes. Not only its
/// config's paths: a root module reads the modules it calls (`../modules`).
const TOUCHES: Touches = Touches::Unknown;

/// The `tf-plan` config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The Terraform root module, relative to the work directory.
    pub dir: String,
    /// Where to save the plan file, relative to the work directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out: Option<String>,
    /// Variables files and values, in order.
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
    /// A config planning `dir`.
    pub fn new(dir: impl Into<String>) -> Self {
        Config {
            dir: dir.into(),
            out: None,
            vars: Vec::new(),
            env: Vec::new(),
            binary: None,
        }
    }
}
