use async_trait::async_trait;
use kargo_core::step::{
    Capabilities, Step, StepContext, StepError, StepOutcome, StepResultExt, parse_config,
};
use kargo_git::{maybe_spawn_blocking, tag};
use serde_json::Value;

use super::{Config, KIND, RULES, TOUCHES};
use crate::git::working_tree;
use crate::schema;

/// The `git-tag` step: an annotated tag on `HEAD` (push it with
/// `git-push` and `tag`). Output: `commit`, the tagged commit.
#[derive(Debug, Clone, Copy, Default)]
pub struct GitTag;

#[async_trait]
impl Step for GitTag {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        if config.tag.is_empty() || config.message.is_empty() {
            return Err(StepError::failed(format!(
                "invalid {KIND} config: `tag` and `message` are required"
            )));
        }
        let dir = working_tree(ctx, KIND, &config.path)?;
        let Config {
            tag: name,
            message,
            force,
            ..
        } = config;
        let outcome = maybe_spawn_blocking(move || tag::tag(&dir, &name, &message, force))
            .await
            .step_context(KIND)?;
        Ok(StepOutcome::succeeded().with_output("commit", outcome.commit))
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
        let config: Config = serde_json::from_value(
            serde_json::json!({"path": "./out", "tag": "v1.0.0", "message": "Release v1.0.0"}),
        )
        .unwrap();
        assert!(!config.force);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = parse_config::<Config>(
            KIND,
            serde_json::json!({"path": "x", "tag": "t", "message": "m", "sign": true}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("sign"), "{err}");
    }

    /// Kargo: git_tagger_test.go, `Test_gitTagger_convert`. ("message not
    /// specified" there also leaves out `tag`; here only `message` is
    /// missing, so the error is about it.)
    #[test]
    fn kargos_convert_cases() {
        use serde_json::json;
        crate::testing::convert_cases::<Config>(
            &GitTag,
            KIND,
            |_| Ok(()),
            vec![
                (
                    "path not specified",
                    json!({"tag": "v1.0.0", "message": "hello"}),
                    Some("missing field `path`"),
                ),
                (
                    "path is empty string",
                    json!({"path": "", "tag": "v1.0.0", "message": "hello"}),
                    Some("`path` must not be empty"),
                ),
                (
                    "tag not specified",
                    json!({"path": "foo", "message": "hello"}),
                    Some("missing field `tag`"),
                ),
                (
                    "tag is empty string",
                    json!({"path": "foo", "tag": "", "message": "hello"}),
                    Some("`tag` must not be empty"),
                ),
                (
                    "message not specified",
                    json!({"path": "foo", "tag": "v1.0.0"}),
                    Some("missing field `message`"),
                ),
                (
                    "message is empty string",
                    json!({"path": "foo", "tag": "v1.0.0", "message": ""}),
                    Some("`message` must not be empty"),
                ),
                (
                    "valid config",
                    json!({"path": "foo", "tag": "v1.0.0", "message": "hello"}),
                    None,
                ),
                (
                    "valid config with force",
                    json!({"path": "foo", "tag": "v1.0.0", "message": "hello", "force": true}),
                    None,
                ),
            ],
        );
    }
}
