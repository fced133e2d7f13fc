//! The git steps: `git-clone`, `git-commit`, `git-push`, `github-push`,
//! `git-clear`, `git-tag` and the pull-request steps `git-open-pr`,
//! `git-wait-for-pr` and `git-merge-pr`, with Kargo's config fields and
//! outputs, on top of kargo-git.

pub mod clear;
pub mod clone;
pub mod commit;
pub mod github_push;
pub mod merge_pr;
pub mod open_pr;
pub mod pr;
pub mod push;
pub mod tag;
pub mod wait_for_pr;

use std::fmt;

use kargo_core::credentials::{CredentialType, Credentials};
use kargo_core::step::{StepContext, StepError, StepResultExt};
use serde::{Deserialize, Serialize};

pub use clear::GitClear;
pub use clone::GitClone;
pub use commit::GitCommit;
pub use github_push::GitHubPush;
pub use merge_pr::GitMergePr;
pub use open_pr::GitOpenPr;
pub use push::GitPush;
pub use tag::GitTag;
pub use wait_for_pr::GitWaitForPr;

/// The provider names the git steps' `provider` takes (their schema rule):
/// Kargo's five, `forgejo` and kargo-rs's forge-less `local`, as the
/// providers themselves list them.
const PROVIDERS: &[&str] = kargo_git::provider::ProviderKind::NAMES;

/// Commit authorship in a step config (`author`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Author {
    /// The name.
    pub name: String,
    /// The e-mail address.
    pub email: String,
    /// A GPG signing key (not supported by kargo-rs; a config that sets
    /// it is rejected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<String>,
}

impl fmt::Debug for Author {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Author")
            .field("name", &self.name)
            .field("email", &self.email)
            .field(
                "signing_key",
                &self.signing_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Author {
    pub(crate) fn identity(&self, kind: &str) -> Result<kargo_git::Identity, StepError> {
        if self.signing_key.as_deref().is_some_and(|k| !k.is_empty()) {
            return Err(StepError::failed(format!(
                "{kind}: author.signingKey is not supported (kargo-rs does not sign commits)"
            )));
        }
        if self.name.is_empty() {
            return Err(StepError::failed(format!(
                "invalid {kind} config: `author.name` is empty"
            )));
        }
        if !is_email(&self.email) {
            return Err(StepError::failed(format!(
                "invalid {kind} config: `author.email` is not an e-mail address: {:?}",
                self.email
            )));
        }
        Ok(kargo_git::Identity {
            name: self.name.clone(),
            email: self.email.clone(),
        })
    }
}

/// Whether `s` reads as an e-mail address (`local@domain`, no spaces or
/// angle brackets), as Kargo's schema asks of `author.email` (its
/// `format: email`).
fn is_email(s: &str) -> bool {
    match s.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !s.chars().any(|c| c.is_whitespace() || c == '<' || c == '>')
        }
        None => false,
    }
}

/// Resolves a config path inside the work directory, naming the step in
/// the error.
pub(crate) fn resolve(
    ctx: &StepContext,
    kind: &str,
    path: &str,
) -> Result<std::path::PathBuf, StepError> {
    if path.is_empty() {
        return Err(StepError::failed(format!(
            "invalid {kind} config: `path` is empty"
        )));
    }
    ctx.workspace
        .resolve(path)
        .map_err(|e| StepError::from(e).context(kind))
}

/// Resolves the path of an existing working tree: a path that is not one
/// is terminal (the config is usable; the work directory lacks the clone).
pub(crate) fn working_tree(
    ctx: &StepContext,
    kind: &str,
    path: &str,
) -> Result<std::path::PathBuf, StepError> {
    let dir = resolve(ctx, kind, path)?;
    if !dir.join(".git").exists() {
        return Err(StepError::terminal(format!(
            "{kind}: `{path}` is not a working tree (clone it with git-clone first)"
        )));
    }
    Ok(dir)
}

/// The git credentials for `url`, a failed lookup a step error by the
/// rule (retryable when the provider failed temporarily).
pub(crate) async fn credentials(
    ctx: &StepContext,
    kind: &str,
    url: &str,
) -> Result<Option<Credentials>, StepError> {
    ctx.credentials
        .get(CredentialType::Git, url)
        .await
        .with_step_context(|| {
            let shown = kargo_git::cli::redact_url(url);
            format!("{kind}: cannot look up credentials for {shown}")
        })
}

/// A push error as a step error: a merge conflict fails the step, as
/// Kargo fails it (only a person can resolve it); the rest goes by the
/// rule (a remote that kept moving or could not be reached is retryable).
pub(crate) fn push_error(kind: &str, e: kargo_git::push::Error) -> StepError {
    match e {
        kargo_git::push::Error::MergeConflict { .. } => StepError::failed(kind).with_source(e),
        e => StepError::classify(e).context(kind),
    }
}

/// The environment variable naming the push integration policy of
/// `git-push` and `github-push` (Kargo's controller setting).
pub(crate) const POLICY_VAR: &str = "GIT_PUSH_INTEGRATION_POLICY";

/// The push integration policy [`POLICY_VAR`]'s `value` names (unset or
/// empty: the default, `AlwaysRebase`); the error names the variable.
pub(crate) fn policy_from(
    value: Option<String>,
) -> Result<kargo_git::push::IntegrationPolicy, String> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(kargo_git::push::IntegrationPolicy::default()),
        Some(v) => v.parse().map_err(|e| format!("{POLICY_VAR}: {e}")),
    }
}

/// Reads an optional name (`provider`, `mergeMethod`) through its
/// `FromStr`, so the config is refused naming the field when the name is
/// unknown; an empty string counts as unset, as in Kargo's schemas.
pub(crate) fn optional_name<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: fmt::Display,
{
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(name) if name.is_empty() => Ok(None),
        Some(name) => name.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

/// An empty string counts as unset, as in Kargo's schemas.
pub(crate) fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}
