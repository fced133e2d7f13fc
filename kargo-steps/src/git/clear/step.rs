use async_trait::async_trait;
use kargo_core::step::{
    Capabilities, Step, StepContext, StepError, StepOutcome, StepResultExt, parse_config,
};
use kargo_git::{clear, maybe_spawn_blocking};
use serde_json::Value;

use super::{Config, KIND, RULES, TOUCHES};
use crate::git::working_tree;
use crate::schema;

/// The `git-clear` step: removes all files except `.git`, typically before
/// rendering fresh manifests into the tree. No output.
#[derive(Debug, Clone, Copy, Default)]
pub struct GitClear;

#[async_trait]
impl Step for GitClear {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        let dir = working_tree(ctx, KIND, &config.path)?;
        maybe_spawn_blocking(move || clear::clear(&dir))
            .await
            .step_context(KIND)?;
        Ok(StepOutcome::succeeded())
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
        let config: Config = serde_json::from_value(serde_json::json!({"path": "./out"})).unwrap();
        assert_eq!(config.path, "./out");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err =
            parse_config::<Config>(KIND, serde_json::json!({"path": "x", "keep": []})).unwrap_err();
        assert!(err.to_string().contains("keep"), "{err}");
    }

    /// Kargo: git_tree_clearer_test.go, `Test_gitTreeOverwriter_convert`.
    #[test]
    fn kargos_convert_cases() {
        use serde_json::json;
        crate::testing::convert_cases::<Config>(
            &GitClear,
            KIND,
            |_| Ok(()),
            vec![
                (
                    "path not specified",
                    json!({}),
                    Some("missing field `path`"),
                ),
                (
                    "path is empty string",
                    json!({"path": ""}),
                    Some("`path` must not be empty"),
                ),
                ("valid", json!({"path": "master"}), None),
            ],
        );
    }
}
