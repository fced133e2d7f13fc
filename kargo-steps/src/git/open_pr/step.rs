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
        if config.source_branch.is_empty() || config.target_branch.is_empty() {
            return Err(StepError::failed(format!(
                "invalid {KIND} config: `sourceBranch` and `targetBranch` are required"
            )));
        }
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
}
