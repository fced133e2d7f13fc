use async_trait::async_trait;
use kargo_core::step::{
    Capabilities, Step, StepContext, StepError, StepOutcome, StepResultExt, parse_config,
};
use kargo_git::{commit, maybe_spawn_blocking};
use serde_json::Value;

use super::{Config, KIND, RULES, TOUCHES};
use crate::git::working_tree;
use crate::schema;

/// The `git-commit` step. Output: `commit`, the commit `HEAD` points at.
/// As in Kargo, when nothing changed no commit is made and the step is
/// `Skipped`, with `commit` still set (to the unchanged `HEAD`).
#[derive(Debug, Clone, Copy, Default)]
pub struct GitCommit;

#[async_trait]
impl Step for GitCommit {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        if config.message.is_empty() {
            return Err(StepError::failed(format!(
                "invalid {KIND} config: `message` is empty"
            )));
        }
        let dir = working_tree(ctx, KIND, &config.path)?;
        let author = config
            .author
            .as_ref()
            .map(|a| a.identity(KIND))
            .transpose()?;
        let message = config.message;
        let outcome = maybe_spawn_blocking(move || commit::commit(&dir, &message, author.as_ref()))
            .await
            .step_context(KIND)?;
        let result = if outcome.created {
            StepOutcome::succeeded()
        } else {
            StepOutcome::skipped().with_message("nothing to commit")
        };
        Ok(result.with_output("commit", outcome.commit))
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_touches(TOUCHES)
    }

    fn check_config(&self, config: &Value) -> Result<(), StepError> {
        schema::check(KIND, RULES, config)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn kargos_documented_example_deserializes() {
        let config: Config = serde_json::from_value(serde_json::json!({
            "path": "./out",
            "message": "rendered updated manifests"
        }))
        .unwrap();
        assert_eq!(config.path, "./out");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = parse_config::<Config>(
            KIND,
            serde_json::json!({"path": "x", "message": "m", "messageFromSteps": []}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("messageFromSteps"), "{err}");
    }
}
