//! What the pull-request steps (`git-open-pr`, `git-wait-for-pr`,
//! `git-merge-pr`) share: choosing the provider with the repository's
//! credentials, and turning provider errors into step errors.

use std::path::PathBuf;

use kargo_core::step::{StepContext, StepError};
use kargo_git::provider::{self, DynGitProvider, ProviderKind, PullRequest, SelectOptions};
use serde_json::{Value, json};

/// How the pull-request steps build their provider: host settings the
/// step config does not carry.
#[derive(Debug, Clone, Default)]
pub struct Providers {
    work_root: Option<PathBuf>,
}

impl Providers {
    /// Where the local provider keeps its working repositories (default:
    /// the repository cache of the environment, `KARGO_GIT_CACHE`).
    pub fn with_work_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.work_root = Some(root.into());
        self
    }

    /// The provider for `repo_url`, named by `provider` or inferred, with
    /// the Git credentials the context has for the URL.
    pub(crate) async fn get(
        &self,
        ctx: &StepContext,
        kind: &str,
        repo_url: &str,
        provider: Option<ProviderKind>,
        insecure_skip_tls_verify: bool,
    ) -> Result<Box<DynGitProvider>, StepError> {
        if repo_url.is_empty() {
            return Err(StepError::failed(format!(
                "invalid {kind} config: `repoURL` is empty"
            )));
        }
        let credentials = super::credentials(ctx, kind, repo_url).await?;
        let mut options = SelectOptions::default()
            .with_credentials(credentials)
            .with_insecure_skip_tls_verify(insecure_skip_tls_verify);
        if let Some(root) = &self.work_root {
            options = options.with_work_root(root);
        }
        provider::select_kind(repo_url, provider, options).map_err(|e| error(kind, e))
    }
}

/// Refuses a `prNumber` below 1 (Kargo's schema: `minimum: 1`), naming
/// the field.
pub(crate) fn check_pr_number(kind: &str, number: u64) -> Result<(), StepError> {
    if number == 0 {
        return Err(StepError::failed(format!(
            "invalid {kind} config: `prNumber` must be at least 1"
        )));
    }
    Ok(())
}

/// A provider error as a step error, by the rule: an unusable repository
/// URL fails the step, an unreachable or rate-limiting forge is
/// retryable, the rest (refused token, missing pull request) is terminal.
pub(crate) fn error(kind: &str, e: provider::Error) -> StepError {
    StepError::classify(e).context(kind)
}

/// `{id, url}`: the `pr` output of `git-open-pr`.
pub(crate) fn pr_ref(pr: &PullRequest) -> Value {
    json!({ "id": pr.number, "url": pr.url })
}
