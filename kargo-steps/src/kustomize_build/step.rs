use async_trait::async_trait;
use kargo_core::step::{Capabilities, Step, StepContext, StepError, StepOutcome, parse_config};
use serde_json::Value;

use super::{Config, KIND, KustomizeBuild, RULES, TOOL, TOUCHES, args, files};
use crate::edit::blocking;
use crate::render::{self, HELM_ENV_VAR, Invocation, process_env};
use crate::schema;

#[async_trait]
impl Step for KustomizeBuild {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        for (field, value) in [("path", &config.path), ("outPath", &config.out_path)] {
            if value.is_empty() {
                return Err(StepError::failed(format!(
                    "invalid {KIND} config: `{field}` is empty"
                )));
            }
        }
        let dir = render::resolve_dir(ctx, KIND, "path", &config.path)?;
        // Checked before anything runs.
        ctx.workspace.resolve(&config.out_path)?;
        let program = TOOL.locate(self.options.binary.as_deref(), &process_env)?;
        let helm = self
            .options
            .helm_binary
            .clone()
            .map(Into::into)
            .or_else(|| process_env(HELM_ENV_VAR).filter(|v| !v.is_empty()));
        let stdout = render::run(
            ctx,
            &TOOL,
            "kustomize build",
            Invocation {
                program,
                args: args(&config, &dir, helm.as_deref()),
                cwd: ctx.workspace.root().to_owned(),
                env: Vec::new(),
            },
        )
        .await?;
        let workspace = ctx.workspace.clone();
        blocking(move || {
            let out_path = &config.out_path;
            if render::out_path_is_file(out_path) {
                return render::write_file(&workspace, KIND, out_path, stdout.as_bytes());
            }
            let format = config.output_format.unwrap_or_default();
            let files = files(&stdout, format).map_err(|e| {
                StepError::terminal(format!("{KIND}: cannot write `{out_path}`: {e}"))
            })?;
            render::write_files(&workspace, KIND, out_path, files)
        })
        .await?;
        Ok(StepOutcome::succeeded())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_touches(TOUCHES)
    }

    fn check_config(&self, config: &Value) -> Result<(), StepError> {
        schema::check(KIND, RULES, config)
    }
}
