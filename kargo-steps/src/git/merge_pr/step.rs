use async_trait::async_trait;
use kargo_core::duration::GoDuration;
use kargo_core::step::{Capabilities, Step, StepContext, StepError, StepOutcome, parse_config};
use kargo_git::provider::MergeOutcome;
use serde_json::Value;

use super::{Config, DEFAULT_POLL_INTERVAL, KIND, RULES, TOUCHES};
use crate::git::pr::{Providers, error};
use crate::schema;

/// The `git-merge-pr` step. Output: `commit`, the merge commit. Merging a
/// merged pull request reports its merge commit again; a closed one, or a
/// conflict, fails.
///
/// As in Kargo, an error merging fails the step (`Failed`: a person must
/// look at the pull request), unless it is temporary (an unreachable or
/// rate-limiting forge), which is retried.
#[derive(Debug, Clone, Default)]
pub struct GitMergePr {
    providers: Providers,
}

impl GitMergePr {
    /// The step, building providers with `providers`.
    pub fn new(providers: Providers) -> Self {
        GitMergePr { providers }
    }
}

#[async_trait]
impl Step for GitMergePr {
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
        match provider
            .merge(config.pr_number, config.merge_method)
            .await
            .map_err(|e| {
                if e.is_retryable() {
                    error(KIND, e)
                } else {
                    StepError::failed(KIND).with_source(e)
                }
            })? {
            MergeOutcome::Merged(pr) => {
                let commit = pr.merge_commit.ok_or_else(|| {
                    StepError::retryable(format!(
                        "{KIND}: pull request #{} is merged but the provider names no merge commit yet",
                        pr.number
                    ))
                })?;
                Ok(StepOutcome::succeeded().with_output("commit", commit))
            }
            MergeOutcome::NotReady { reason } if config.wait => {
                let poll = config
                    .poll_interval
                    .map_or(DEFAULT_POLL_INTERVAL, GoDuration::as_duration);
                Ok(StepOutcome::running(poll).with_message(format!(
                    "pull request #{} cannot be merged yet: {reason}",
                    config.pr_number
                )))
            }
            MergeOutcome::NotReady { reason } => Ok(StepOutcome::failed(format!(
                "pull request #{} is not ready to merge and wait is disabled: {reason}",
                config.pr_number
            ))),
            _ => Err(StepError::terminal(format!(
                "{KIND}: unexpected merge outcome"
            ))),
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
    use kargo_git::provider::{MergeMethod, ProviderKind};

    use super::*;

    #[test]
    fn kargos_documented_example_deserializes() {
        let config: Config = serde_json::from_value(serde_json::json!({
            "repoURL": "https://github.com/example/repo.git",
            "prNumber": 42,
            "mergeMethod": "squash",
            "wait": true
        }))
        .unwrap();
        assert!(config.wait);
        assert_eq!(config.merge_method, Some(MergeMethod::Squash));
        assert_eq!(config.provider, None);
    }

    #[test]
    fn provider_and_merge_method_are_read_by_name() {
        let config: Config = parse_config(
            KIND,
            serde_json::json!({"repoURL": "x", "prNumber": 1, "provider": "forgejo",
                "mergeMethod": "rebaseMerge"}),
        )
        .unwrap();
        assert_eq!(config.provider, Some(ProviderKind::Gitea));
        assert_eq!(config.merge_method, Some(MergeMethod::RebaseMerge));
        let unset: Config = parse_config(
            KIND,
            serde_json::json!({"repoURL": "x", "prNumber": 1, "provider": "", "mergeMethod": ""}),
        )
        .unwrap();
        assert_eq!((unset.provider, unset.merge_method), (None, None));
        for (key, value, want) in [
            (
                "provider",
                "gitbucket",
                "unknown git provider \"gitbucket\"",
            ),
            ("mergeMethod", "octopus", "unknown merge method \"octopus\""),
        ] {
            let err = parse_config::<Config>(
                KIND,
                serde_json::json!({"repoURL": "x", "prNumber": 1, key: value}),
            )
            .unwrap_err()
            .to_string();
            assert!(err.contains(key) && err.contains(want), "{err}");
        }
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = parse_config::<Config>(
            KIND,
            serde_json::json!({"repoURL": "x", "prNumber": 1, "method": "squash"}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("method"), "{err}");
    }

    /// Kargo: git_pr_merger_test.go, `Test_gitPRMerger_convert`. ("prNumber
    /// is less than 1" there leaves out `repoURL` too; here it is given.)
    #[test]
    fn kargos_convert_cases() {
        use serde_json::json;
        const URL: &str = "https://github.com/example/repo.git";
        crate::testing::convert_cases::<Config>(
            &GitMergePr::default(),
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
                    "valid with wait enabled",
                    json!({"repoURL": URL, "prNumber": 42, "provider": "github", "wait": true}),
                    None,
                ),
                (
                    "valid with merge method",
                    json!({"repoURL": URL, "prNumber": 42, "provider": "github", "mergeMethod": "squash"}),
                    None,
                ),
                (
                    "pollInterval is not a valid duration",
                    json!({"repoURL": URL, "prNumber": 42, "pollInterval": "soon"}),
                    Some("at `pollInterval`"),
                ),
                (
                    "valid with pollInterval",
                    json!({"repoURL": URL, "prNumber": 42, "wait": true, "pollInterval": "30s"}),
                    None,
                ),
            ],
        );
    }
}
