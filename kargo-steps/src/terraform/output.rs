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

use async_trait::async_trait;
use kargo_core::step::{Step, StepContext, StepError, StepOutcome, parse_config};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{EnvVar, Error, Terraform, command_failed};

/// The step kind.
pub const KIND: &str = "tf-output";

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

/// The `tf-output` step.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct TfOutput;

impl TfOutput {
    /// The step.
    pub fn new() -> Self {
        TfOutput
    }

    /// Runs the step with a typed config.
    pub async fn output(
        &self,
        ctx: &StepContext,
        config: Config,
    ) -> Result<StepOutcome, StepError> {
        let state = match &config.state {
            Some(state) => {
                let path = ctx.workspace.resolve(state)?;
                if !path.is_file() {
                    return Err(StepError::failed(format!(
                        "state file `{state}` not found in the work directory"
                    )));
                }
                Some(path)
            }
            None => None,
        };
        let out_path = config
            .out
            .as_deref()
            .map(|out| ctx.workspace.resolve(out))
            .transpose()?;
        let tf = Terraform::new(ctx, &config.dir, config.binary.as_deref(), &config.env).await?;
        let mut args = vec!["-json".into(), "-no-color".into()];
        match state {
            Some(state) => {
                let mut arg = std::ffi::OsString::from("-state=");
                arg.push(state);
                args.push(arg);
            }
            None => {
                if let Some(failed) = tf.init().await? {
                    return Ok(failed);
                }
            }
        }
        let read = tf.run("output", args).await?;
        if !read.success() {
            return Ok(command_failed("output", &config.dir, &read));
        }
        let all: Map<String, Value> = serde_json::from_str(read.stdout.trim()).map_err(|e| {
            StepError::terminal(format!(
                "terraform output -json printed no JSON object for `{}`: {e}",
                config.dir
            ))
        })?;

        let mut outputs = Map::new();
        let mut redacted = 0usize;
        let mut take = |name: &String, entry: &Value| {
            let sensitive = entry.get("sensitive").and_then(Value::as_bool) == Some(true);
            let value = if sensitive && !config.sensitive {
                redacted += 1;
                Value::String(REDACTED.to_owned())
            } else {
                entry.get("value").cloned().unwrap_or(Value::Null)
            };
            outputs.insert(name.clone(), value);
        };
        match &config.name {
            Some(name) => match all.get(name) {
                Some(entry) => take(name, entry),
                None => {
                    let known: Vec<&str> = all.keys().map(String::as_str).collect();
                    return Err(StepError::failed(format!(
                        "Terraform output `{name}` not found in `{}`; outputs there: {}",
                        config.dir,
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    )));
                }
            },
            None => all.iter().for_each(|(name, entry)| take(name, entry)),
        }

        if let (Some(path), Some(out)) = (&out_path, &config.out) {
            write_json_atomically(path, &outputs).map_err(|source| Error::Io {
                what: "cannot write the outputs to",
                path: out.clone(),
                source,
            })?;
        }
        let mut message = format!("{} output(s) read", outputs.len());
        if redacted > 0 {
            message.push_str(&format!(", {redacted} sensitive value(s) redacted"));
        }
        Ok(StepOutcome::succeeded()
            .with_message(message)
            .with_outputs(outputs))
    }
}

/// Writes `value` as pretty JSON to `path` (atomically), creating its
/// parent directories.
fn write_json_atomically(
    path: &std::path::Path,
    value: &Map<String, Value>,
) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut json = serde_json::to_vec_pretty(value)?;
    json.push(b'\n');
    crate::fs::write_atomic(path, &json, None)
}

#[async_trait]
impl Step for TfOutput {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        self.output(ctx, config).await
    }
}
