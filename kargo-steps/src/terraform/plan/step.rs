use async_trait::async_trait;
use kargo_core::step::{Capabilities, Step, StepContext, StepError, StepOutcome, parse_config};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Config, KIND, TOUCHES};
use crate::terraform::{Error, Terraform, VarArgs, command_failed, text};

/// What a plan changes, read from `terraform show -json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Summary {
    /// Resources to add (a replacement counts here and in `destroy`).
    pub add: u64,
    /// Resources to change in place.
    pub change: u64,
    /// Resources to destroy.
    pub destroy: u64,
    /// Outputs that change, with their action (`create`, `update`,
    /// `delete`), by name.
    pub outputs: std::collections::BTreeMap<String, String>,
}

impl Summary {
    /// Reads the summary from the JSON of `terraform show -json PLANFILE`.
    pub fn from_show_json(show: &Value) -> Summary {
        let mut summary = Summary::default();
        let changes = show.get("resource_changes").and_then(Value::as_array);
        for change in changes.into_iter().flatten() {
            let actions: Vec<&str> = change
                .pointer("/change/actions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            for action in actions {
                match action {
                    "create" => summary.add += 1,
                    "update" => summary.change += 1,
                    "delete" => summary.destroy += 1,
                    _ => {}
                }
            }
        }
        let outputs = show.get("output_changes").and_then(Value::as_object);
        for (name, change) in outputs.into_iter().flatten() {
            let actions: Vec<&str> = change
                .get("actions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let action = match actions.as_slice() {
                ["create"] => "create",
                ["update"] => "update",
                ["delete"] => "delete",
                [] | ["no-op"] | ["read"] => continue,
                _ => "update",
            };
            summary.outputs.insert(name.clone(), action.to_owned());
        }
        summary
    }

    /// Whether the plan changes nothing.
    pub fn is_empty(&self) -> bool {
        self.add == 0 && self.change == 0 && self.destroy == 0 && self.outputs.is_empty()
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} to add, {} to change, {} to destroy",
            self.add, self.change, self.destroy
        )?;
        if !self.outputs.is_empty() {
            let names: Vec<&str> = self.outputs.keys().map(String::as_str).collect();
            write!(f, "; outputs changing: {}", names.join(", "))?;
        }
        Ok(())
    }
}

/// The `tf-plan` step.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct TfPlan;

impl TfPlan {
    /// The step.
    pub fn new() -> Self {
        TfPlan
    }

    /// Runs the step with a typed config.
    pub async fn plan(&self, ctx: &StepContext, config: Config) -> Result<StepOutcome, StepError> {
        let tf = Terraform::new(ctx, &config.dir, config.binary.as_deref(), &config.env).await?;
        let vars = VarArgs::new(ctx, &config.vars)?;
        if let Some(failed) = tf.init().await? {
            return Ok(failed);
        }

        // The plan goes to a temporary file first: beside `out` (so that the
        // final rename is atomic), or in the system's temp dir.
        let target = config
            .out
            .as_deref()
            .map(|out| ctx.workspace.resolve(out))
            .transpose()?;
        let temp = match &target {
            Some(target) => {
                let parent = target.parent().unwrap_or(ctx.workspace.root());
                std::fs::create_dir_all(parent)
                    .and_then(|()| {
                        tempfile::Builder::new()
                            .prefix(".kargo-plan-")
                            .tempfile_in(parent)
                    })
                    .map_err(|source| Error::Io {
                        what: "cannot create the plan file beside",
                        path: config.out.clone().unwrap_or_default(),
                        source,
                    })?
            }
            None => tempfile::Builder::new()
                .prefix("kargo-plan-")
                .suffix(".tfplan")
                .tempfile()
                .map_err(|source| Error::Io {
                    what: "cannot create a temporary plan file in",
                    path: std::env::temp_dir().display().to_string(),
                    source,
                })?,
        };

        let mut out_arg = std::ffi::OsString::from("-out=");
        out_arg.push(temp.path());
        let mut args = vec![
            "-input=false".into(),
            "-no-color".into(),
            "-detailed-exitcode".into(),
            out_arg,
        ];
        args.extend(vars.args.iter().cloned());
        let planned = tf.run("plan", args).await?;
        let has_changes = match planned.code {
            Some(0) => false,
            Some(2) => true,
            _ => return Ok(command_failed("plan", &config.dir, &planned)),
        };

        let shown = tf
            .run(
                "show",
                vec!["-json".into(), "-no-color".into(), temp.path().into()],
            )
            .await?;
        if !shown.success() {
            return Ok(command_failed("show", &config.dir, &shown));
        }
        let show: Value = serde_json::from_str(&shown.stdout).map_err(|e| {
            StepError::terminal(format!(
                "terraform show -json printed no JSON for the plan of `{}`",
                config.dir
            ))
            .with_source(e)
        })?;
        let summary = Summary::from_show_json(&show);

        if let (Some(target), Some(out)) = (&target, &config.out) {
            temp.persist(target).map_err(|e| Error::Io {
                what: "cannot save the plan file",
                path: out.clone(),
                source: e.error,
            })?;
        }

        let plan = planned.stdout.trim_start_matches('\n').to_owned();
        let truncated = text::truncate_for_pr(&plan, text::PR_BODY_LIMIT);
        let mut output = Map::new();
        output.insert("plan".into(), plan.into());
        output.insert("planTruncated".into(), truncated.into());
        output.insert(
            "summary".into(),
            serde_json::to_value(&summary).unwrap_or_default(),
        );
        let outcome = if has_changes {
            StepOutcome::succeeded().with_message(format!("Plan: {summary}"))
        } else {
            StepOutcome::skipped().with_message("No changes.")
        };
        Ok(outcome.with_outputs(output))
    }
}

#[async_trait]
impl Step for TfPlan {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        self.plan(ctx, config).await
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_touches(TOUCHES)
    }
}
