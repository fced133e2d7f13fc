use async_trait::async_trait;
use kargo_core::step::{Capabilities, Step, StepContext, StepError, StepOutcome, parse_config};
use kargo_git::provider::{Error, NewPullRequest};
use serde_json::Value;

use super::{Config, KIND, RULES, TOUCHES};
use crate::git::non_empty;
use crate::git::pr::{Providers, error, pr_ref};
use crate::schema;

/// The `git-open-pr` step. Output: `pr: {id, url}`. Skipped when the source
/// branch has no changes for the target (as in Kargo); when an open pull
/// request for the same branches exists, it is reused.
#[derive(Debug, Clone, Default)]
pub struct GitOpenPr {
    providers: Providers,
}

impl GitOpenPr {
    /// The step, building providers with `providers`.
    pub fn new(providers: Providers) -> Self {
        GitOpenPr { providers }
    }
}

#[async_trait]
impl Step for GitOpenPr {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        validate(&config)?;
        let provider = self
            .providers
            .get(
                ctx,
                KIND,
                &config.repo_url,
                config.provider,
                config.insecure_skip_tls_verify,
            )
            .await?;
        // Without a title the provider derives one (the local provider from
        // the head commit's message, as Kargo does).
        let title = non_empty(&config.title).unwrap_or_default();
        let new = NewPullRequest::new(&config.source_branch, &config.target_branch, title)
            .with_description(config.description.clone().unwrap_or_default())
            .with_labels(config.labels.clone());
        match provider.open(&new).await {
            Ok(opened) => {
                let mut outcome = StepOutcome::succeeded().with_output("pr", pr_ref(&opened.pr));
                if opened.reused {
                    outcome = outcome
                        .with_message(format!("reused open pull request #{}", opened.pr.number));
                }
                Ok(outcome)
            }
            Err(e @ Error::NothingToMerge { .. }) => {
                Ok(StepOutcome::skipped().with_message(e.to_string()))
            }
            Err(e) => Err(error(KIND, e)),
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_touches(TOUCHES)
    }

    fn check_config(&self, config: &Value) -> Result<(), StepError> {
        schema::check(KIND, RULES, config)
    }
}

/// The checks of a parsed config (an expression may have evaluated to an
/// empty branch name).
fn validate(config: &Config) -> Result<(), StepError> {
    if config.source_branch.is_empty() || config.target_branch.is_empty() {
        return Err(StepError::failed(format!(
            "invalid {KIND} config: `sourceBranch` and `targetBranch` are required"
        )));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn kargos_documented_example_deserializes() {
        let config: Config = serde_json::from_value(serde_json::json!({
            "repoURL": "https://github.com/example/repo.git",
            "createTargetBranch": true,
            "sourceBranch": "kargo/promotion/p1",
            "targetBranch": "stage/prod",
            "title": "Deploy to prod",
            "labels": ["infra", "needs-review"]
        }))
        .unwrap();
        assert_eq!(config.labels, ["infra", "needs-review"]);
        assert_eq!(config.repo_url, "https://github.com/example/repo.git");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = parse_config::<Config>(
            KIND,
            serde_json::json!({"repoURL": "x", "sourceBranch": "a", "targetBranch": "b", "draft": true}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("draft"), "{err}");
    }

    /// Kargo: git_pr_opener_test.go, `Test_gitPROpener_convert`. (Kargo's
    /// "targetBranch not specified" is an empty config, which lacks
    /// `repoURL` first; here only `targetBranch` is missing.)
    #[test]
    fn kargos_convert_cases() {
        use serde_json::json;
        let valid = |extra: Value| {
            let mut config = json!({"provider": "github",
                "repoURL": "https://github.com/example/repo.git",
                "sourceBranch": "fake-branch", "targetBranch": "another-fake-branch"});
            config
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            config
        };
        crate::testing::convert_cases::<Config>(
            &GitOpenPr::default(),
            KIND,
            validate,
            vec![
                (
                    "repoURL not specified",
                    json!({}),
                    Some("missing field `repoURL`"),
                ),
                (
                    "repoURL is empty string",
                    json!({"repoURL": ""}),
                    Some("`repoURL` must not be empty"),
                ),
                (
                    "targetBranch not specified",
                    json!({"repoURL": "https://github.com/example/repo.git", "sourceBranch": "a"}),
                    Some("missing field `targetBranch`"),
                ),
                (
                    "targetBranch is empty string",
                    json!({"targetBranch": ""}),
                    Some("`targetBranch` must not be empty"),
                ),
                (
                    "sourceBranch is empty string",
                    json!({"sourceBranch": ""}),
                    Some("`sourceBranch` must not be empty"),
                ),
                (
                    "provider is an invalid value",
                    json!({"provider": "bogus"}),
                    Some("`provider` is `bogus`; it must be one of"),
                ),
                (
                    "valid without explicit provider",
                    json!({"repoURL": "https://github.com/example/repo.git",
                        "sourceBranch": "fake-branch", "targetBranch": "another-fake-branch"}),
                    None,
                ),
                ("valid with explicit provider", valid(json!({})), None),
                (
                    "valid with custom title",
                    valid(json!({"title": "custom title"})),
                    None,
                ),
                (
                    "invalid with empty title",
                    valid(json!({"title": ""})),
                    Some("`title` must not be empty"),
                ),
                (
                    "valid with custom description",
                    valid(json!({"description": "custom description"})),
                    None,
                ),
                (
                    "invalid with empty description",
                    valid(json!({"description": ""})),
                    Some("`description` must not be empty"),
                ),
            ],
        );
    }
}
