use async_trait::async_trait;
use kargo_core::step::{Capabilities, Step, StepContext, StepError, StepOutcome, parse_config};
use serde_json::Value;

use super::{Config, KIND, TOUCHES};
use crate::terraform::{Terraform, VarArgs, command_failed};

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
                    return Err(StepError::terminal(format!(
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

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_touches(TOUCHES)
    }
}
