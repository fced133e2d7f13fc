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

use async_trait::async_trait;
use kargo_core::step::{Step, StepContext, StepError, StepOutcome, parse_config};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{EnvVar, Terraform, Var, VarArgs, command_failed};

/// The step kind.
pub const KIND: &str = "tf-apply";

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

/// The `tf-apply` step.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct TfApply;

impl TfApply {
    /// The step.
    pub fn new() -> Self {
        TfApply
    }

    /// Runs the step with a typed config.
    pub async fn apply(&self, ctx: &StepContext, config: Config) -> Result<StepOutcome, StepError> {
        if config.plan.is_some() && !config.vars.is_empty() {
            return Err(StepError::failed(format!(
                "invalid {KIND} config: `plan` and `vars` exclude each other (a saved plan carries its variables)"
            )));
        }
        let plan = match &config.plan {
            Some(plan) => {
                let path = ctx.workspace.resolve(plan)?;
                if !path.is_file() {
                    return Err(StepError::failed(format!(
                        "plan file `{plan}` not found in the work directory"
                    )));
                }
                Some(path)
            }
            None => None,
        };
        let tf = Terraform::new(ctx, &config.dir, config.binary.as_deref(), &config.env).await?;
        let vars = VarArgs::new(ctx, &config.vars)?;
        if let Some(failed) = tf.init().await? {
            return Ok(failed);
        }
        let mut args = vec!["-input=false".into(), "-no-color".into()];
        match plan {
            Some(plan) => args.push(plan.into_os_string()),
            None => {
                args.push("-auto-approve".into());
                args.extend(vars.args.iter().cloned());
            }
        }
        let applied = tf.run("apply", args).await?;
        if !applied.success() {
            return Ok(command_failed("apply", &config.dir, &applied));
        }
        let result = applied.stdout.trim_start_matches('\n').to_owned();
        let message = result
            .lines()
            .find(|l| l.starts_with("Apply complete!"))
            .unwrap_or("Apply complete.")
            .to_owned();
        Ok(StepOutcome::succeeded()
            .with_message(message)
            .with_output("result", result))
    }
}

#[async_trait]
impl Step for TfApply {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        self.apply(ctx, config).await
    }
}
