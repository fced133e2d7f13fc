//! The error every provider returns.

use std::fmt;

/// What an error is about: `pull request #N of REPO` or `repository REPO`.
struct Subject<'a>(Option<u64>, &'a str);

impl fmt::Display for Subject<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(n) => write!(f, "pull request #{n} of {}", self.1),
            None => write!(f, "repository {}", self.1),
        }
    }
}

/// The error returned by [`GitProvider`](super::GitProvider) operations.
///
/// Messages name the provider, the repository (as configured, passwords
/// redacted) and the pull request; never a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The provider refused the credentials, or needed some (HTTP 401).
    #[error("{provider}: not authorized for {} (HTTP 401: check the token)", Subject(*.pr, .repo))]
    Unauthorized {
        /// The provider.
        provider: &'static str,
        /// The repository.
        repo: String,
        /// The pull request, when one was named.
        pr: Option<u64>,
    },
    /// The credentials lack a permission (HTTP 403).
    #[error("{provider}: access denied to {} (HTTP 403: the token lacks a permission)", Subject(*.pr, .repo))]
    Forbidden {
        /// The provider.
        provider: &'static str,
        /// The repository.
        repo: String,
        /// The pull request, when one was named.
        pr: Option<u64>,
    },
    /// The repository or the pull request does not exist (or is hidden from
    /// these credentials).
    #[error("{provider}: {} not found", Subject(*.pr, .repo))]
    NotFound {
        /// The provider.
        provider: &'static str,
        /// The repository.
        repo: String,
        /// The pull request, when one was named.
        pr: Option<u64>,
    },
    /// A branch a pull request is to be opened from or into does not
    /// exist. Not bad input: the config is usable, the repository lacks
    /// the branch (a step ends `Errored`, as in Kargo).
    #[error("{provider}: {repo}: {role} branch {branch:?} does not exist")]
    MissingBranch {
        /// The provider.
        provider: &'static str,
        /// The repository.
        repo: String,
        /// `source` or `target`.
        role: &'static str,
        /// The branch.
        branch: String,
    },
    /// The pull request is not open (merging or closing a closed one).
    #[error("{provider}: pull request #{pr} of {repo} is {state} and cannot be {action}")]
    NotOpen {
        /// The provider.
        provider: &'static str,
        /// The repository.
        repo: String,
        /// The pull request.
        pr: u64,
        /// Its state (`closed`, `merged`).
        state: &'static str,
        /// What was asked (`merged`, `closed`, `approved`).
        action: &'static str,
    },
    /// Merging conflicts; nothing was changed.
    #[error(
        "{provider}: pull request #{pr} of {repo} cannot be merged: {message}; nothing was changed"
    )]
    Conflict {
        /// The provider.
        provider: &'static str,
        /// The repository.
        repo: String,
        /// The pull request.
        pr: u64,
        /// What conflicts.
        message: String,
    },
    /// The source branch has no commits the target lacks: there is nothing
    /// to review (Kargo's `git-open-pr` is then Skipped).
    #[error("{provider}: {repo}: branch {source_branch:?} has no changes for {target_branch:?}")]
    NothingToMerge {
        /// The provider.
        provider: &'static str,
        /// The repository.
        repo: String,
        /// The source branch.
        source_branch: String,
        /// The target branch.
        target_branch: String,
    },
    /// The provider does not offer the operation.
    #[error("{provider} does not support {operation}")]
    Unsupported {
        /// The provider.
        provider: &'static str,
        /// What was asked, e.g. `approve` or `merge method rebase`.
        operation: String,
    },
    /// Bad input: a branch that does not exist, a URL that names no
    /// repository, an unknown provider name.
    #[error("{0}")]
    Invalid(String),
    /// The API answered with an error status this crate has no variant for.
    #[error("{provider}: {request} for {} failed with HTTP {status}: {message}", Subject(*.pr, .repo))]
    Api {
        /// The provider.
        provider: &'static str,
        /// The repository.
        repo: String,
        /// The pull request, when one was named.
        pr: Option<u64>,
        /// The HTTP method and API path (no query, no secrets).
        request: String,
        /// The HTTP status.
        status: u16,
        /// The API's message.
        message: String,
    },
    /// The API could not be reached, or kept answering 429 or 5xx.
    #[error("{provider}: {repo}: {message}")]
    Unavailable {
        /// The provider.
        provider: &'static str,
        /// The repository.
        repo: String,
        /// What happened.
        message: String,
    },
    /// Another process kept changing the pull requests at the same time.
    #[error("{provider}: {repo} kept changing concurrently; gave up after {attempts} attempts")]
    Contended {
        /// The provider.
        provider: &'static str,
        /// The repository.
        repo: String,
        /// Attempts made.
        attempts: u32,
    },
    /// A git command or a record failed (local provider).
    #[error("{provider}: {repo}: {message}")]
    Git {
        /// The provider.
        provider: &'static str,
        /// The repository.
        repo: String,
        /// What failed, secrets removed.
        message: String,
    },
}

impl Error {
    /// Whether trying again later may help (network trouble, rate limits,
    /// concurrent changes).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Unavailable { .. } | Error::Contended { .. } | Error::Git { .. }
        )
    }
}

impl From<Error> for kargo_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound { .. } => kargo_core::Error::NotFound {
                what: "pull request",
                name: e.to_string(),
            },
            Error::MissingBranch { .. } => kargo_core::Error::NotFound {
                what: "branch",
                name: e.to_string(),
            },
            Error::Unsupported {
                provider,
                operation,
            } => kargo_core::Error::Unsupported {
                operation,
                implementer: provider,
            },
            Error::Invalid(message) => kargo_core::Error::Invalid(message),
            Error::NotOpen { .. } | Error::Conflict { .. } => {
                kargo_core::Error::Precondition(e.to_string())
            }
            other => {
                let status = kargo_core::ErrorStatus::temporary_if(other.is_retryable());
                kargo_core::Error::with_status("git-provider", status, other)
            }
        }
    }
}
