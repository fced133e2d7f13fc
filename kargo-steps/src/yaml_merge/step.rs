use async_trait::async_trait;
use kargo_core::step::{Capabilities, Step, StepContext, StepError, StepOutcome, parse_config};
use serde_json::Value;

use super::{Config, KIND, RULES, TOUCHES, YamlMerge, commit_message, merge_each};
use crate::edit::{blocking, read_text};
use crate::schema;

#[async_trait]
impl Step for YamlMerge {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        if config.in_files.is_empty() {
            return Err(StepError::failed(format!(
                "invalid {KIND} config: `inFiles` needs at least one entry"
            )));
        }
        let inputs = config
            .in_files
            .iter()
            .map(|path| Ok((path.clone(), ctx.workspace.resolve(path)?)))
            .collect::<Result<Vec<_>, StepError>>()?;
        let out = ctx.workspace.resolve(&config.out_file)?;
        let (out_file, ignore_missing) = (config.out_file.clone(), config.ignore_missing_files);
        let workspace = ctx.workspace.clone();
        let merged = blocking(move || {
            let mut used = Vec::new();
            let mut texts = Vec::new();
            for (path, abs) in inputs {
                if ignore_missing && !abs.exists() {
                    continue;
                }
                texts.push(read_text(&workspace, &abs, &path)?);
                used.push(path);
            }
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            // The input that could not be merged is named.
            let text = merge_each(&refs).map_err(|(i, e)| {
                StepError::terminal(format!(
                    "{KIND}: cannot merge `{}` into `{out_file}`",
                    used[i]
                ))
                .with_source(e)
            })?;
            let write_error = |e: std::io::Error| {
                StepError::terminal(format!("{KIND}: cannot write `{out_file}`")).with_source(e)
            };
            if let Some(dir) = out.parent() {
                std::fs::create_dir_all(dir).map_err(write_error)?;
            }
            crate::fs::write_atomic(&out, text.as_bytes(), None).map_err(write_error)?;
            Ok(used)
        })
        .await?;
        let mut outcome = StepOutcome::succeeded();
        if let Some(message) = commit_message(&merged, &config.out_file) {
            outcome = outcome.with_output("commitMessage", message);
        }
        Ok(outcome)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_touches(TOUCHES)
    }

    fn check_config(&self, config: &Value) -> Result<(), StepError> {
        schema::check(KIND, RULES, config)
    }
}
