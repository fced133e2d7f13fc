use async_trait::async_trait;
use kargo_core::step::{Capabilities, Step, StepContext, StepError, StepOutcome, parse_config};
use serde_json::{Map, Value};

use super::{Config, KIND, REDACTED, TOUCHES};
use crate::terraform::{Error, Terraform, command_failed};

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
                    return Err(StepError::terminal(format!(
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
                "terraform output -json printed no JSON object for `{}`",
                config.dir
            ))
            .with_source(e)
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
                    return Err(StepError::terminal(format!(
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

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_touches(TOUCHES)
    }
}
