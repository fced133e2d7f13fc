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
        let author = validate(&config)?;
        let dir = working_tree(ctx, KIND, &config.path)?;
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

/// The checks of a parsed config the schema cannot make; the identity
/// `author` names, if any.
fn validate(config: &Config) -> Result<Option<kargo_git::Identity>, StepError> {
    if config.message.is_empty() {
        return Err(StepError::failed(format!(
            "invalid {KIND} config: `message` is empty"
        )));
    }
    config.author.as_ref().map(|a| a.identity(KIND)).transpose()
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

    /// Kargo: git_commiter_test.go, `Test_gitCommitter_convert`. One case
    /// differs on purpose: kargo-rs does not sign commits, so Kargo's
    /// "valid kitchen sink" (a `signingKey`) is refused rather than
    /// ignored; an empty `signingKey` is accepted, as in Kargo.
    #[test]
    fn kargos_convert_cases() {
        use serde_json::json;
        let author = |author: serde_json::Value| json!({"path": "foo", "message": "fake commit message", "author": author});
        crate::testing::convert_cases::<Config>(
            &GitCommit,
            KIND,
            |c| validate(c).map(|_| ()),
            vec![
                (
                    "path not specified",
                    json!({"message": "fake commit message"}),
                    Some("missing field `path`"),
                ),
                (
                    "path is empty string",
                    json!({"path": ""}),
                    Some("`path` must not be empty"),
                ),
                (
                    "message is not specified",
                    json!({"path": "foo"}),
                    Some("missing field `message`"),
                ),
                (
                    "message is empty string",
                    json!({"message": ""}),
                    Some("`message` must not be empty"),
                ),
                (
                    "author is not specified",
                    json!({"path": "foo", "message": "fake commit message"}),
                    None,
                ),
                (
                    "author email is not specified",
                    author(json!({"name": "Tony Stark"})),
                    Some("missing field `email`"),
                ),
                (
                    "author email is empty string",
                    author(json!({"name": "Tony Stark", "email": ""})),
                    Some("`author.email` is not an e-mail address"),
                ),
                (
                    "author email is not an address",
                    author(json!({"name": "Tony Stark", "email": "tony"})),
                    Some("`author.email` is not an e-mail address"),
                ),
                (
                    "author name is not specified",
                    author(json!({"email": "example@example.com"})),
                    Some("missing field `name`"),
                ),
                (
                    "author name is empty string",
                    author(json!({"name": "", "email": "example@example.com"})),
                    Some("`author.name` must not be empty"),
                ),
                (
                    "author signingKey is empty string",
                    author(
                        json!({"name": "Tony Stark", "email": "tony@starkindustries.com", "signingKey": ""}),
                    ),
                    None,
                ),
                (
                    "author signingKey is missing",
                    author(json!({"name": "Tony Stark", "email": "tony@starkindustries.com"})),
                    None,
                ),
                (
                    "valid kitchen sink (differs: signing is not supported)",
                    author(
                        json!({"name": "Tony Stark", "email": "tony@starkindustries.com", "signingKey": "valid-signing-key"}),
                    ),
                    Some("author.signingKey is not supported"),
                ),
            ],
        );
    }
}
