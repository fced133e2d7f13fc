//! `tf-output`: Terraform's outputs as step outputs.
//!
//! # Config
//! | field | | |
//! |---|---|---|
//! | `dir` | required | the Terraform root module, relative to the work directory |
//! | `name` | optional | one output; all outputs when left out |
//! | `out` | optional | a JSON file (relative to the work directory) to write the outputs to |
//! | `state` | optional | a state file (relative to the work directory) to read instead of `dir`'s backend |
//! | `sensitive` | optional | `true` shows sensitive values; by default they are redacted |
//! | `env` | optional | `[{name, value}]` environment variables |
//! | `binary` | optional | the Terraform/OpenTofu binary, see the [module docs](super) |
//!
//! # Outputs
//! `{name: value}` for the one output `name`, or for every output. A
//! sensitive output's value is the string `"<sensitive>"` unless
//! `sensitive: true`. The `out` file holds the same object as JSON, written
//! atomically.
//!
//! # Status
//! `Succeeded`; `Failed` with Terraform's error text when Terraform cannot
//! read the outputs. An unknown `name` fails the step, listing the
//! outputs there are.
//!
//! Without `state` the step runs `init` first (a remote backend needs it);
//! with `state` it reads that file directly.

mod step;

use kargo_core::step::Touches;
use serde::{Deserialize, Serialize};

use super::EnvVar;

pub use step::TfOutput;

/// The step kind.
pub const KIND: &str = "tf-output";

/// Where in the work directory the step reads and writes. Not only its
/// config's paths: a root module reads the modules it calls (`../modules`).
const TOUCHES: Touches = Touches::Unknown;

/// What a redacted sensitive value reads.
pub const REDACTED: &str = "<sensitive>";

/// The `tf-output` config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The Terraform root module, relative to the work directory.
    pub dir: String,
    /// One output; all when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A JSON file to write the outputs to, relative to the work directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out: Option<String>,
    /// A state file to read, relative to the work directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Whether sensitive values are shown.
    #[serde(default)]
    pub sensitive: bool,
    /// Extra environment variables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// The binary to run (name or path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<String>,
}

impl Config {
    /// A config reading every output of `dir`.
    pub fn new(dir: impl Into<String>) -> Self {
        Config {
            dir: dir.into(),
            name: None,
            out: None,
            state: None,
            sensitive: false,
            env: Vec::new(),
            binary: None,
        }
    }
}
