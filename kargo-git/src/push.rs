//! Pushing a working tree's branch or a tag, integrating concurrent remote
//! changes and retrying.
//!
//! gix cannot push, so this runs the git CLI (see [`crate::cli`] for the
//! isolation and credential rules). A push to a branch:
//! 1. fetches the remote branch (if it exists) and integrates it into the
//!    local branch by the [`IntegrationPolicy`] (every attempt, the first
//!    included, as Kargo does);
//! 2. pushes `HEAD` to the branch;
//! 3. when the remote rejects the push because it moved in the meantime
//!    (another process pushed first), waits with exponential backoff and
//!    starts over, up to `max_attempts` times.
//!
//! Pushes to one (repository, branch) from one process are serialised, so
//! only pushes from other processes or hosts ever need a retry. A conflict
//! while integrating is never resolved by force: the local operation is
//! aborted and [`Error::MergeConflict`] returned, and the remote keeps what
//! it had.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use kargo_core::credentials::Credentials;
use tokio_util::sync::CancellationToken;

use crate::blocking::{block_on, maybe_spawn_blocking};
use crate::cli::{self, Git};

/// Where to push.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// A branch; `None` is the branch currently checked out.
    Branch(Option<String>),
    /// A tag that exists locally.
    Tag(String),
}

impl Default for Target {
    fn default() -> Self {
        Target::Branch(None)
    }
}

/// How remote changes are integrated into the local branch before a push
/// (Kargo's push integration policies).
///
/// kargo-git never signs commits, so rebasing can never strip or forge a
/// signature: `RebaseOrMerge` and `RebaseOrFail` always rebase, and differ
/// from `AlwaysRebase` only in name. A conflict fails the push under every
/// policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum IntegrationPolicy {
    /// Do not integrate (the push fails if the remote moved).
    None,
    /// Rebase the local commits onto the remote branch.
    #[default]
    AlwaysRebase,
    /// Rebase when that is safe for signatures, merge otherwise.
    RebaseOrMerge,
    /// Rebase when that is safe for signatures, fail otherwise.
    RebaseOrFail,
    /// Merge the remote branch with a merge commit.
    AlwaysMerge,
}

impl std::str::FromStr for IntegrationPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "None" => IntegrationPolicy::None,
            "AlwaysRebase" => IntegrationPolicy::AlwaysRebase,
            "RebaseOrMerge" => IntegrationPolicy::RebaseOrMerge,
            "RebaseOrFail" => IntegrationPolicy::RebaseOrFail,
            "AlwaysMerge" => IntegrationPolicy::AlwaysMerge,
            other => return Err(format!("unknown push integration policy {other:?}")),
        })
    }
}

/// Waiting between attempts: kargo-core's one backoff. Its default is
/// Kargo's for pushes: 1 s, ×1.5, at most 30 s, jitter 0.5.
pub use kargo_core::retry::Backoff;

/// The settings every way of pushing shares: git's ([`push()`]) and
/// GitHub's API ([`github_push::push`](crate::provider::github_push::push)).
/// Each one's options hold them as `common`, with the same `with_*` setters.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Common {
    /// Overwrite the remote branch (no integration).
    pub force: bool,
    /// Attempts in all, the first included (Kargo's default: 10).
    pub max_attempts: u32,
    /// How remote changes are integrated (ignored when forcing).
    pub policy: IntegrationPolicy,
    /// Waiting between attempts.
    pub backoff: Backoff,
}

impl Default for Common {
    fn default() -> Self {
        Common {
            force: false,
            max_attempts: 10,
            policy: IntegrationPolicy::default(),
            backoff: Backoff::default(),
        }
    }
}

/// The `with_*` setters of [`Common`]'s fields, for an options type that
/// holds them as `common`.
macro_rules! common_setters {
    () => {
        /// Sets [`Common::force`](crate::push::Common::force).
        pub fn with_force(mut self, force: bool) -> Self {
            self.common.force = force;
            self
        }

        /// Sets [`Common::max_attempts`](crate::push::Common::max_attempts)
        /// (at least 1).
        pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
            self.common.max_attempts = max_attempts.max(1);
            self
        }

        /// Sets [`Common::policy`](crate::push::Common::policy).
        pub fn with_policy(mut self, policy: crate::push::IntegrationPolicy) -> Self {
            self.common.policy = policy;
            self
        }

        /// Sets [`Common::backoff`](crate::push::Common::backoff).
        pub fn with_backoff(mut self, backoff: crate::push::Backoff) -> Self {
            self.common.backoff = backoff;
            self
        }
    };
}
pub(crate) use common_setters;

/// Settings for [`push()`].
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Options {
    /// What to push.
    pub target: Target,
    /// Force, attempts, integration and backoff.
    pub common: Common,
}

impl Options {
    /// Sets [`Options::target`].
    pub fn with_target(mut self, target: Target) -> Self {
        self.target = target;
        self
    }

    common_setters!();
}

/// What [`push()`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outcome {
    /// The remote URL.
    pub url: String,
    /// The branch pushed to (None for a tag).
    pub branch: Option<String>,
    /// The tag pushed (None for a branch).
    pub tag: Option<String>,
    /// The commit at `HEAD` after the push.
    pub commit: String,
    /// How many attempts it took.
    pub attempts: u32,
}

/// The error returned by [`push()`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The path is not a checkout with an `origin` remote.
    #[error("{path} is not a working tree with an origin remote")]
    NotARepository {
        /// The path.
        path: PathBuf,
    },
    /// No target branch was given and `HEAD` is detached.
    #[error("{path}: no target branch given and HEAD is not on a branch")]
    DetachedHead {
        /// The working tree.
        path: PathBuf,
    },
    /// Integrating the remote's changes conflicted. Nothing was pushed;
    /// the local branch is as it was before the attempt.
    #[error(
        "cannot integrate the changes on branch {branch:?} of {url}: they conflict with the local commits; nothing was pushed"
    )]
    MergeConflict {
        /// The remote URL.
        url: String,
        /// The branch.
        branch: String,
    },
    /// The remote kept rejecting the push because it moved concurrently.
    #[error(
        "push to branch {branch:?} of {url} was rejected {attempts} times (the remote kept moving)"
    )]
    Rejected {
        /// The remote URL.
        url: String,
        /// The branch.
        branch: String,
        /// Attempts made.
        attempts: u32,
    },
    /// A ref the push must update is locked on the remote, attempt after
    /// attempt (a lock file left by a process that died on the server).
    #[error(
        "push to {reference} of {url} failed: the ref is locked on the remote ({detail}); a lock file left there needs removing"
    )]
    RefLocked {
        /// The remote URL.
        url: String,
        /// The ref (`refs/heads/main`).
        reference: String,
        /// What the remote said.
        detail: String,
    },
    /// The remote refused the credentials (or needed some and got none).
    #[error("authentication failed for {url}")]
    Authentication {
        /// The remote URL.
        url: String,
    },
    /// A git command failed.
    #[error("pushing to {url}: {source}")]
    Git {
        /// The remote URL.
        url: String,
        /// The failed command.
        source: Box<cli::Error>,
    },
    /// Reading the working tree failed.
    #[error("{path}: {source}")]
    Local {
        /// The working tree.
        path: PathBuf,
        /// The failed command.
        source: Box<cli::Error>,
    },
    /// The push was cancelled between attempts.
    #[error("push to {url} cancelled")]
    Cancelled {
        /// The remote URL.
        url: String,
    },
}

impl Error {
    /// Whether running the push again later may succeed (network trouble,
    /// a remote that kept moving). Conflicts and bad credentials are not.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Rejected { .. } | Error::Git { .. })
    }
}

impl From<Error> for kargo_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::MergeConflict { .. } | Error::DetachedHead { .. } => {
                kargo_core::Error::Precondition(e.to_string())
            }
            other => {
                let status = kargo_core::ErrorStatus::temporary_if(other.is_retryable());
                kargo_core::Error::with_status("git-push", status, other)
            }
        }
    }
}

enum AttemptError {
    /// The remote moved, or a ref it had to update was locked (`Some`:
    /// what the remote said about the lock).
    Rejected(Option<String>),
    Failed(Box<Error>),
}

/// How many pushes in a row may find the same ref locked on the remote
/// before the lock is reported: a concurrent push holds a ref's lock for
/// milliseconds, so one that outlasts this many attempts (and the waits
/// between them) is left over from a dead process.
const LOCKED_ATTEMPTS: u32 = 3;

/// The remote URL (password redacted) and current branch of the working
/// tree at `path`.
pub fn remote_and_branch(path: &Path) -> Result<(String, Option<String>), Error> {
    let not_a_repo = || Error::NotARepository {
        path: path.to_owned(),
    };
    // Read in-process (gix and the HEAD file) rather than by starting git.
    let repo = gix::open_opts(path, gix::open::Options::isolated()).map_err(|_| not_a_repo())?;
    let url = repo
        .config_snapshot()
        .string("remote.origin.url")
        .map(|u| u.to_string())
        .filter(|u| !u.is_empty())
        .ok_or_else(not_a_repo)?;
    let url = cli::redact_url(&url);
    let head = std::fs::read_to_string(path.join(".git/HEAD")).unwrap_or_default();
    let branch = head
        .trim()
        .strip_prefix("ref: refs/heads/")
        .filter(|b| !b.is_empty())
        .map(str::to_owned);
    Ok((url, branch))
}

fn push_locks() -> &'static Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>> {
    static LOCKS: OnceLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    LOCKS.get_or_init(Mutex::default)
}

/// The in-process lock of pushes to `target` (`refs/heads/main`) of the
/// repository at `url`, shared by every way of pushing (`git-push`,
/// `github-push`).
pub(crate) fn lock_for(url: &str, target: &str) -> Arc<tokio::sync::Mutex<()>> {
    let mut locks = push_locks()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    locks.retain(|_, lock| Arc::strong_count(lock) > 1);
    Arc::clone(locks.entry(format!("{url}\n{target}")).or_default())
}

/// Pushes the working tree at `path` as `options` say, serialised with
/// every other push to the same (repository, branch) in this process.
pub async fn push(
    path: &Path,
    options: &Options,
    credentials: Option<Credentials>,
    cancel: &CancellationToken,
) -> Result<Outcome, Error> {
    let owned = path.to_owned();
    let (url, current) = maybe_spawn_blocking(move || remote_and_branch(&owned)).await?;
    let target = resolve_target(path, &options.target, current)?;
    let lock = lock_for(&url, &target.key());
    let _guard = lock.lock().await;
    let common = &options.common;
    let mut attempt = 1;
    let mut integrate_first = false;
    let mut locked = LockStreak::default();
    loop {
        let (path, url2, target2, common2, creds) = (
            path.to_owned(),
            url.clone(),
            target.clone(),
            common.clone(),
            credentials.clone(),
        );
        let result = maybe_spawn_blocking(move || {
            attempt_push(
                &path,
                &url2,
                &target2,
                &common2,
                creds.as_ref(),
                integrate_first,
            )
        })
        .await;
        match result {
            Ok(commit) => {
                tracing::info!(
                    remote = %crate::cli::redact_url(&url),
                    target = %target.key(),
                    attempts = attempt,
                    "pushed {}",
                    commit.get(..7).unwrap_or(&commit)
                );
                return Ok(target.outcome(url, commit, attempt));
            }
            Err(AttemptError::Failed(e)) => return Err(*e),
            Err(AttemptError::Rejected(lock)) if locked.still(lock.as_deref()) => {
                return Err(target.locked(url, locked.detail()));
            }
            Err(AttemptError::Rejected(_)) if !integrate_first => {
                // The optimistic push found the remote moved: integrate
                // and push again at once (this is the first real attempt).
                integrate_first = true;
            }
            Err(AttemptError::Rejected(_)) if attempt >= common.max_attempts => {
                return Err(target.rejected(url, attempt));
            }
            Err(AttemptError::Rejected(_)) => {
                let wait = common.backoff.delay(attempt);
                tracing::debug!(%url, attempt, ?wait, "push rejected; integrating and retrying");
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = cancel.cancelled() => return Err(Error::Cancelled { url }),
                }
                attempt += 1;
            }
        }
    }
}

/// The blocking form of [`push()`] (never cancelled): it runs [`push()`]
/// to completion on a runtime of its own, serialised like it with the
/// other pushes of this process to the same (repository, branch).
pub fn push_blocking(
    path: &Path,
    options: &Options,
    credentials: Option<&Credentials>,
) -> Result<Outcome, Error> {
    let cancel = CancellationToken::new();
    block_on(push(path, options, credentials.cloned(), &cancel))
}

/// Consecutive pushes that found a ref locked on the remote.
#[derive(Default)]
struct LockStreak {
    count: u32,
    detail: String,
}

impl LockStreak {
    /// Records one rejection (`lock`: what the remote said about a locked
    /// ref, if that was the reason); true once the ref has been locked
    /// [`LOCKED_ATTEMPTS`] times in a row.
    fn still(&mut self, lock: Option<&str>) -> bool {
        match lock {
            Some(detail) => {
                self.count += 1;
                self.detail = detail.to_owned();
            }
            None => self.count = 0,
        }
        self.count >= LOCKED_ATTEMPTS
    }

    fn detail(&self) -> String {
        self.detail.clone()
    }
}

#[derive(Debug, Clone)]
enum Resolved {
    Branch(String),
    Tag(String),
}

impl Resolved {
    fn key(&self) -> String {
        match self {
            Resolved::Branch(b) => format!("refs/heads/{b}"),
            Resolved::Tag(t) => format!("refs/tags/{t}"),
        }
    }

    fn outcome(&self, url: String, commit: String, attempts: u32) -> Outcome {
        let (branch, tag) = match self {
            Resolved::Branch(b) => (Some(b.clone()), None),
            Resolved::Tag(t) => (None, Some(t.clone())),
        };
        Outcome {
            url,
            branch,
            tag,
            commit,
            attempts,
        }
    }

    fn locked(&self, url: String, detail: String) -> Error {
        Error::RefLocked {
            url,
            reference: self.key(),
            detail,
        }
    }

    fn rejected(&self, url: String, attempts: u32) -> Error {
        let (Resolved::Branch(branch) | Resolved::Tag(branch)) = self;
        Error::Rejected {
            url,
            branch: branch.clone(),
            attempts,
        }
    }
}

fn resolve_target(
    path: &Path,
    target: &Target,
    current: Option<String>,
) -> Result<Resolved, Error> {
    match target {
        Target::Branch(Some(b)) => Ok(Resolved::Branch(b.clone())),
        Target::Branch(None) => current
            .map(Resolved::Branch)
            .ok_or_else(|| Error::DetachedHead {
                path: path.to_owned(),
            }),
        Target::Tag(t) => Ok(Resolved::Tag(t.clone())),
    }
}

fn attempt_push(
    path: &Path,
    url: &str,
    target: &Resolved,
    options: &Common,
    credentials: Option<&Credentials>,
    integrate_first: bool,
) -> Result<String, AttemptError> {
    let failed = |source: cli::Error| AttemptError::Failed(Box::new(classify(url, source)));
    let git_dir = path.join(".git");
    let git = Git::new(path)
        .with_credentials(&git_dir, url, credentials)
        .map_err(failed)?;
    let refspec = match target {
        Resolved::Tag(tag) => format!("refs/tags/{tag}:refs/tags/{tag}"),
        Resolved::Branch(branch) => {
            if integrate_first && options.policy != IntegrationPolicy::None && !options.force {
                integrate(&git, url, branch, options.policy)?;
            }
            format!("HEAD:refs/heads/{branch}")
        }
    };
    let mut args = vec!["push", "--porcelain", "--no-verify"];
    if options.force {
        args.push("--force");
    }
    args.extend(["origin", refspec.as_str()]);
    match git.output(&args) {
        Ok(_) => {}
        Err(e) if is_rejection(e.stdout()) => {
            return Err(AttemptError::Rejected(lock_detail(e.stderr(), e.stdout())));
        }
        Err(e) => return Err(failed(e)),
    }
    cli::head_commit(path).map_err(|source| {
        AttemptError::Failed(Box::new(Error::Local {
            path: path.to_owned(),
            source: Box::new(source),
        }))
    })
}

/// Fetches `branch` from the `origin` of the working tree at `path` and
/// integrates it into the local branch by `policy` (Kargo's
/// `IntegrateRemoteChanges`): nothing to do when the remote lacks the
/// branch or the local branch already contains it; a conflict aborts the
/// rebase or merge and is [`Error::MergeConflict`].
pub fn integrate_remote_changes(
    path: &Path,
    branch: &str,
    policy: IntegrationPolicy,
    credentials: Option<&Credentials>,
) -> Result<(), Error> {
    let (url, _) = remote_and_branch(path)?;
    let git = Git::new(path)
        .with_credentials(&path.join(".git"), &url, credentials)
        .map_err(|source| classify(&url, source))?;
    match integrate(&git, &url, branch, policy) {
        Ok(()) => Ok(()),
        Err(AttemptError::Failed(e)) => Err(*e),
        Err(AttemptError::Rejected(_)) => Err(Error::Rejected {
            url,
            branch: branch.to_owned(),
            attempts: 1,
        }),
    }
}

/// Fetches the remote branch and integrates it by `policy`.
fn integrate(
    git: &Git<'_>,
    url: &str,
    branch: &str,
    policy: IntegrationPolicy,
) -> Result<(), AttemptError> {
    let failed = |source: cli::Error| AttemptError::Failed(Box::new(classify(url, source)));
    let tracking = format!("refs/remotes/origin/{branch}");
    let fetched = git.output([
        "fetch",
        "-q",
        "--no-tags",
        "origin",
        &format!("+refs/heads/{branch}:{tracking}"),
    ]);
    if let Err(e) = fetched {
        // A branch the remote does not have yet: nothing to integrate.
        match git.output([
            "ls-remote",
            "--exit-code",
            "--heads",
            "origin",
            &format!("refs/heads/{branch}"),
        ]) {
            Err(cli::Error::Failed { status, .. }) if status.contains("exit status: 2") => {
                return Ok(());
            }
            Err(other) => return Err(failed(other)),
            Ok(_) => return Err(failed(e)),
        }
    }
    if git
        .status(["merge-base", "--is-ancestor", &tracking, "HEAD"])
        .map_err(failed)?
    {
        return Ok(());
    }
    let conflict = || {
        AttemptError::Failed(Box::new(Error::MergeConflict {
            url: url.to_owned(),
            branch: branch.to_owned(),
        }))
    };
    match policy {
        IntegrationPolicy::None => Ok(()),
        IntegrationPolicy::AlwaysRebase
        | IntegrationPolicy::RebaseOrMerge
        | IntegrationPolicy::RebaseOrFail => {
            if let Err(e) = git.output(["rebase", "-q", "--no-autostash", &tracking]) {
                let in_progress = ["rebase-merge", "rebase-apply"]
                    .iter()
                    .any(|d| Path::new(&git_dir_of(git)).join(d).exists());
                if in_progress {
                    let _ = git.status(["rebase", "--abort"]);
                    return Err(conflict());
                }
                return Err(failed(e));
            }
            Ok(())
        }
        IntegrationPolicy::AlwaysMerge => {
            if let Err(e) = git.output(["merge", "-q", "--no-edit", &tracking]) {
                if git
                    .status(["rev-parse", "-q", "--verify", "MERGE_HEAD"])
                    .unwrap_or(false)
                {
                    let _ = git.status(["merge", "--abort"]);
                    return Err(conflict());
                }
                return Err(failed(e));
            }
            Ok(())
        }
    }
}

fn git_dir_of(git: &Git<'_>) -> PathBuf {
    git.dir().join(".git")
}

/// Whether `git push --porcelain` output says the remote refused the
/// update because the branch moved (or was being updated) concurrently.
pub(crate) fn is_rejection(porcelain: &str) -> bool {
    porcelain.lines().any(|line| {
        let mut fields = line.split('\t');
        let (Some(flag), Some(_refs), Some(summary)) =
            (fields.next(), fields.next(), fields.next())
        else {
            return false;
        };
        flag == "!"
            && (summary.starts_with("[rejected]")
                || (summary.starts_with("[remote rejected]")
                    && (summary.contains("lock") || summary.contains("failed to update ref"))))
    })
}

/// What the remote said about a ref it could not lock, when that is why
/// the push was rejected: its `cannot lock ref` line (which names the ref
/// and the lock file), else the porcelain summary; `None` when the ref
/// only moved under the push.
fn lock_detail(stderr: &str, porcelain: &str) -> Option<String> {
    // `cannot lock ref '…': is at X but expected Y` is another push that
    // moved the ref first: ordinary contention, rebased and retried, not a
    // lock left behind.
    if stderr.contains("but expected") {
        return None;
    }
    let said = stderr
        .lines()
        .map(|l| l.trim_start_matches("remote:").trim())
        .find(|l| l.contains("cannot lock ref"));
    let summary = porcelain
        .lines()
        .filter_map(|l| l.split('\t').nth(2))
        .find(|s| s.starts_with("[remote rejected]") && s.contains("lock"));
    said.or(summary)
        .map(|s| s.trim_start_matches("error: ").to_owned())
}

/// Turns a failed git command into the error callers act on.
pub(crate) fn classify(url: &str, source: cli::Error) -> Error {
    if source.is_authentication() {
        return Error::Authentication {
            url: url.to_owned(),
        };
    }
    Error::Git {
        url: url.to_owned(),
        source: Box::new(source),
    }
}

/// The web URL of `commit` in the repository at `repo_url`, on the forge
/// `provider` names (any name [`ProviderKind`](crate::provider::ProviderKind)
/// reads) or, without one, on the forge its host suggests
/// ([`RepoUrl::forge`](kargo_core::urls::RepoUrl::forge)). `None` for a
/// local repository, the `local` provider or a host of no known kind.
pub fn commit_url(repo_url: &str, provider: Option<&str>, commit: &str) -> Option<String> {
    let url = kargo_core::urls::RepoUrl::parse(repo_url).ok()?;
    let forge = match provider {
        Some(name) => name
            .parse::<crate::provider::ProviderKind>()
            .ok()?
            .forge()?,
        None => url.forge()?,
    };
    url.commit_url(forge, commit)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn porcelain_rejections_are_recognised() {
        assert!(is_rejection(
            "To x\n!\tHEAD:refs/heads/main\t[rejected] (fetch first)\nDone"
        ));
        assert!(is_rejection(
            "!\tHEAD:refs/heads/main\t[remote rejected] (failed to update ref)"
        ));
        assert!(!is_rejection(
            "!\tHEAD:refs/heads/main\t[remote rejected] (pre-receive hook declined)"
        ));
        assert!(!is_rejection("*\tHEAD:refs/heads/main\t[new branch]"));
    }

    #[test]
    fn commit_urls_follow_the_provider() {
        assert_eq!(
            commit_url("https://github.com/o/r.git", None, "abc").as_deref(),
            Some("https://github.com/o/r/commit/abc")
        );
        assert_eq!(
            commit_url("git@gitlab.com:g/r.git", None, "abc").as_deref(),
            Some("https://gitlab.com/g/r/-/commit/abc")
        );
        assert_eq!(
            commit_url("https://git.example.com/o/r", Some("gitea"), "abc").as_deref(),
            Some("https://git.example.com/o/r/commit/abc")
        );
        assert_eq!(commit_url("https://git.example.com/o/r", None, "abc"), None);
        // An http:// forge on its own port keeps both; ssh ports are git's.
        // (The former copy wrote https://git.example.com/o/r/commit/abc.)
        assert_eq!(
            commit_url("http://git.example.com:3000/o/r.git", Some("gitea"), "abc").as_deref(),
            Some("http://git.example.com:3000/o/r/commit/abc")
        );
        assert_eq!(
            commit_url("ssh://git@gitlab.com:2222/g/r.git", None, "abc").as_deref(),
            Some("https://gitlab.com/g/r/-/commit/abc")
        );
        // A repository named `r.git` keeps its name. (The former copy cut
        // every `.git`.)
        assert_eq!(
            commit_url("https://github.com/o/r.git.git", None, "abc").as_deref(),
            Some("https://github.com/o/r.git/commit/abc")
        );
        assert_eq!(commit_url("file:///tmp/r.git", None, "abc"), None);
        // Azure DevOps over ssh links to the repository's web page. (The
        // former copy wrote https://ssh.dev.azure.com/v3/org/p/r/commit/abc
        // with the provider named, and nothing without.)
        for provider in [None, Some("azure")] {
            assert_eq!(
                commit_url("git@ssh.dev.azure.com:v3/org/p/r", provider, "abc").as_deref(),
                Some("https://dev.azure.com/org/p/_git/r/commit/abc"),
                "{provider:?}"
            );
        }
        // Hosts the providers are inferred from get links too, and every
        // provider name reads. (The former copy knew six hosts and not
        // `forgejo`.)
        assert_eq!(
            commit_url("https://gitlab.example.com/g/r", None, "abc").as_deref(),
            Some("https://gitlab.example.com/g/r/-/commit/abc")
        );
        assert_eq!(
            commit_url("https://git.example.com/o/r", Some("forgejo"), "abc").as_deref(),
            Some("https://git.example.com/o/r/commit/abc")
        );
        assert_eq!(
            commit_url("https://github.com/o/r", Some("local"), "abc"),
            None
        );
        assert_eq!(
            commit_url("https://github.com/o/r", Some("nope"), "abc"),
            None
        );
    }

    #[test]
    fn pushes_back_off_as_kargo_does() {
        let b = Options::default().common.backoff.with_jitter(0.0);
        assert_eq!(b.delay(1), Duration::from_secs(1));
        assert_eq!(b.delay(2), Duration::from_millis(1500));
        assert_eq!(b.delay(30), Duration::from_secs(30));
    }
}
