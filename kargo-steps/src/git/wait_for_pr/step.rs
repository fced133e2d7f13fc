use async_trait::async_trait;
use kargo_core::duration::GoDuration;
use kargo_core::step::{Capabilities, Step, StepContext, StepError, StepOutcome, parse_config};
use serde_json::{Value, json};

use super::{Config, DEFAULT_POLL_INTERVAL, KIND, RULES, TOUCHES};
use crate::git::pr::{Providers, error};
use crate::schema;

/// The `git-wait-for-pr` step. Outputs: `pr: {id, url, open, merged}` and,
/// once merged, `commit` (the merge commit). While the pull request is
/// open the step is `Running` with `pollInterval` as its retry-after, so
/// the engine (or `kargo run` run again) looks again by itself; it
/// `Succeeded` once merged and `Failed` when closed without merging.
#[derive(Debug, Clone, Default)]
pub struct GitWaitForPr {
    providers: Providers,
}

impl GitWaitForPr {
    /// The step, building providers with `providers`.
    pub fn new(providers: Providers) -> Self {
        GitWaitForPr { providers }
    }
}

#[async_trait]
impl Step for GitWaitForPr {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        crate::git::pr::check_pr_number(KIND, config.pr_number)?;
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
        let pr = provider
            .get(config.pr_number)
            .await
            .map_err(|e| error(KIND, e))?;
        let output = json!({
            "id": pr.number,
            "url": pr.url,
            "open": pr.is_open(),
            "merged": pr.is_merged(),
        });
        let mut outcome = if pr.is_open() {
            let poll = config
                .poll_interval
                .map_or(DEFAULT_POLL_INTERVAL, GoDuration::as_duration);
            StepOutcome::running(poll).with_message(format!(
                "pull request #{} is open; waiting for it to be merged",
                pr.number
            ))
        } else if pr.is_merged() {
            StepOutcome::succeeded()
        } else {
            StepOutcome::failed(format!(
                "pull request #{} was closed without being merged",
                pr.number
            ))
        };
        outcome = outcome.with_output("pr", output);
        if let Some(commit) = pr.merge_commit.clone().filter(|_| pr.is_merged()) {
            outcome = outcome.with_output("commit", commit);
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn kargos_documented_example_deserializes() {
        let config: Config = serde_json::from_value(serde_json::json!({
            "repoURL": "https://github.com/example/repo.git",
            "prNumber": 42,
            "pollInterval": "2m"
        }))
        .unwrap();
        assert_eq!(config.pr_number, 42);
        assert_eq!(
            config.poll_interval.unwrap().as_duration(),
            Duration::from_secs(120)
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = parse_config::<Config>(
            KIND,
            serde_json::json!({"repoURL": "x", "prNumber": 1, "timeout": "5m"}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("timeout"), "{err}");
    }

    /// Kargo: git_pr_waiter_test.go, `Test_gitPRWaiter_convert`. ("prNumber
    /// is less than 1" there leaves out `repoURL` too; here it is given.)
    /// Kargo's `provider` takes five names; kargo-rs's also `forgejo` and
    /// `local`.
    #[test]
    fn kargos_convert_cases() {
        use serde_json::json;
        const URL: &str = "https://github.com/example/repo.git";
        crate::testing::convert_cases::<Config>(
            &GitWaitForPr::default(),
            KIND,
            |c| crate::git::pr::check_pr_number(KIND, c.pr_number),
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
                    "prNumber not specified",
                    json!({"repoURL": URL}),
                    Some("missing field `prNumber`"),
                ),
                (
                    "prNumber is less than 1",
                    json!({"repoURL": URL, "prNumber": 0}),
                    Some("`prNumber` must be at least 1"),
                ),
                (
                    "provider is an invalid value",
                    json!({"provider": "bogus"}),
                    Some("`provider` is `bogus`; it must be one of"),
                ),
                (
                    "valid without explicit provider",
                    json!({"repoURL": URL, "prNumber": 42}),
                    None,
                ),
                (
                    "valid with explicit provider",
                    json!({"repoURL": URL, "prNumber": 42, "provider": "github"}),
                    None,
                ),
                (
                    "pollInterval is not a valid duration",
                    json!({"repoURL": URL, "prNumber": 42, "pollInterval": "soon"}),
                    Some("at `pollInterval`"),
                ),
                (
                    "valid with pollInterval",
                    json!({"repoURL": URL, "prNumber": 42, "pollInterval": "1m"}),
                    None,
                ),
            ],
        );
    }
}
