//! `git-merge-pr`: merges a pull request.

use std::time::Duration;

use async_trait::async_trait;
use kargo_core::duration::GoDuration;
use kargo_core::step::{Step, StepContext, StepError, StepOutcome, parse_config};
use kargo_git::provider::{MergeMethod, MergeOutcome, ProviderKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::pr::{Providers, error};

/// The step kind.
pub const KIND: &str = "git-merge-pr";

/// Kargo's default poll interval while waiting to merge.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(10);

/// The `git-merge-pr` step's config (Kargo's `GitMergePRConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The repository.
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// `local`, `github`, `gitlab`, `gitea` (or `forgejo`), `azure` or
    /// `bitbucket` (inferred from the host when unset).
    #[serde(
        default,
        deserialize_with = "super::optional_name",
        skip_serializing_if = "Option::is_none"
    )]
    pub provider: Option<ProviderKind>,
    /// Skip TLS certificate verification.
    #[serde(default, rename = "insecureSkipTLSVerify")]
    pub insecure_skip_tls_verify: bool,
    /// The pull request.
    pub pr_number: u64,
    /// `merge`, `squash`, `rebase`, `rebase-merge` or `fast-forward`, or a
    /// provider's own name from Kargo's table (`noFastForward`,
    /// `rebaseMerge`, `merge_commit`, `fast_forward`, `fast-forward-only`);
    /// default: the provider's. A method the provider lacks fails the step.
    #[serde(
        default,
        deserialize_with = "super::optional_name",
        skip_serializing_if = "Option::is_none"
    )]
    pub merge_method: Option<MergeMethod>,
    /// Wait (`Running`) rather than fail while the pull request cannot be
    /// merged yet.
    #[serde(default)]
    pub wait: bool,
    /// With `wait`, how long before trying again (default 10s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval: Option<GoDuration>,
}

/// The `git-merge-pr` step. Output: `commit`, the merge commit. Merging a
/// merged pull request reports its merge commit again; a closed one, or a
/// conflict, fails.
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
        if config.pr_number == 0 {
            return Err(StepError::failed(format!(
                "invalid {KIND} config: `prNumber` must be at least 1"
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
        match provider
            .merge(config.pr_number, config.merge_method)
            .await
            .map_err(|e| error(KIND, e))?
        {
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
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
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
}
