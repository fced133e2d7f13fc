//! Pushing a working tree's new commits to GitHub through GitHub's API
//! (Kargo's `github-push`), so that GitHub creates them and, when it is
//! given no author, signs them: the commits show as verified without a
//! signing key tied to a user account.
//!
//! One attempt:
//! 1. integrates the remote branch into the local one by the
//!    [`IntegrationPolicy`] (as [`push()`](crate::push::push) does; skipped
//!    when forcing);
//! 2. force-pushes `HEAD` to a hidden staging ref
//!    (`refs/kargo/staging/<promotion>`), which puts every object on GitHub
//!    without a visible branch;
//! 3. compares the target branch (or, when it does not exist yet, the
//!    remote branch of the one checked out) with the local head, through
//!    the compare API: `identical` is done, `ahead` (and, when forcing,
//!    `behind` and `diverged`) goes on, `behind` and `diverged` without
//!    force try again after integrating once more;
//! 4. creates each commit the local branch has and the target lacks with
//!    the git-data API (same tree and message; parents mapped onto the
//!    commits created before it), at most [`Options::max_revisions`] of them,
//!    read from every page of the comparison
//!    ([`Options::compare_page_size`] a page);
//! 5. moves (or creates) the target branch onto the last one; GitHub's 422
//!    for a ref that moved meanwhile (not a fast-forward) tries again.
//!
//! After the attempts the staging ref is deleted, whatever happened, and
//! the local branch is reset onto the remote target branch, since the
//! created commits have new ids.
//!
//! # Trust and attribution
//! kargo-rs never signs commits, so every commit is untrusted in Kargo's
//! terms: it is created with its original author and committer (and
//! GitHub does not mark it verified), unless
//! [`Options::verify_untrusted_commits`] is set (Kargo's
//! `GITHUB_PUSH_VERIFY_UNTRUSTED_COMMITS`). Then author and committer are
//! left out, GitHub attributes and signs the commit, and a
//! `Co-authored-by` trailer keeps the original author.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use kargo_core::credentials::Credentials;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::rest::{Client, RestOptions, encode_segment};
use crate::blocking::maybe_spawn_blocking;
use crate::cli::{self, Git};
use crate::push::{self, IntegrationPolicy};

/// Where staging refs live: a namespace GitHub does not show as branches.
pub const STAGING_REF_PREFIX: &str = "refs/kargo/staging";

/// Settings for [`push()`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// The branch to push to; `None` is the branch checked out.
    pub target_branch: Option<String>,
    /// Force (the target branch's history is overwritten: no integration,
    /// and the branch may move backwards or drop commits), attempts,
    /// integration and backoff, as for a push through git.
    pub common: push::Common,
    /// The most commits one push may create (Kargo's
    /// `GITHUB_PUSH_MAX_REVISIONS`, default 10).
    pub max_revisions: usize,
    /// Commits asked for per page of GitHub's compare API (default 100,
    /// the most GitHub's list endpoints give per page); the push reads as
    /// many pages as the range holds commits.
    pub compare_page_size: usize,
    /// Let GitHub author and sign every commit (see the module docs).
    pub verify_untrusted_commits: bool,
    /// The staging ref (default `refs/kargo/staging/kargo-rs`; the step
    /// names it after the promotion).
    pub staging_ref: String,
    /// The API client's settings (its token comes from the credentials
    /// given to [`push()`]).
    pub rest: RestOptions,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            target_branch: None,
            common: push::Common::default(),
            max_revisions: 10,
            compare_page_size: 100,
            verify_untrusted_commits: false,
            staging_ref: format!("{STAGING_REF_PREFIX}/kargo-rs"),
            rest: RestOptions::default(),
        }
    }
}

impl Options {
    /// Sets [`Options::target_branch`].
    pub fn with_target_branch(mut self, branch: Option<String>) -> Self {
        self.target_branch = branch;
        self
    }

    push::common_setters!();

    /// Sets [`Options::max_revisions`].
    pub fn with_max_revisions(mut self, max_revisions: usize) -> Self {
        self.max_revisions = max_revisions;
        self
    }

    /// Sets [`Options::compare_page_size`] (at least 1).
    pub fn with_compare_page_size(mut self, size: usize) -> Self {
        self.compare_page_size = size.max(1);
        self
    }

    /// Sets [`Options::verify_untrusted_commits`].
    pub fn with_verify_untrusted_commits(mut self, verify: bool) -> Self {
        self.verify_untrusted_commits = verify;
        self
    }

    /// Sets [`Options::staging_ref`] to `refs/kargo/staging/<name>`.
    pub fn with_staging_name(mut self, name: &str) -> Self {
        self.staging_ref = format!("{STAGING_REF_PREFIX}/{name}");
        self
    }

    /// Sets [`Options::rest`].
    pub fn with_rest(mut self, rest: RestOptions) -> Self {
        self.rest = rest;
        self
    }
}

/// What [`push()`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outcome {
    /// The remote URL (password redacted).
    pub url: String,
    /// The branch pushed to.
    pub branch: String,
    /// The commit at the head of the branch (and of the local branch)
    /// after the push.
    pub commit: String,
    /// How many commits GitHub created.
    pub replayed: usize,
    /// How many attempts it took.
    pub attempts: u32,
}

/// The error returned by [`push()`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A local git operation failed: reading the working tree,
    /// integrating the remote branch (a conflict is
    /// [`push::Error::MergeConflict`]), the push to the staging ref, the
    /// final sync.
    #[error(transparent)]
    Git(#[from] push::Error),
    /// A GitHub API call failed.
    #[error("{action}: {source}")]
    Api {
        /// What was being done (`creating commit 2 of 3 (replaying abc1234)`).
        action: String,
        /// The API's error.
        source: super::Error,
    },
    /// The target branch holds commits the local branch lacks, and kept
    /// doing so after integrating (or the push does not integrate).
    #[error(
        "the local branch is behind branch {branch:?} of {url} and force is not set (after {attempts} attempts)"
    )]
    Behind {
        /// The remote URL.
        url: String,
        /// The target branch.
        branch: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The local branch and the target branch each hold commits the other
    /// lacks, and kept doing so after integrating.
    #[error(
        "the local branch and branch {branch:?} of {url} have diverged and force is not set (after {attempts} attempts)"
    )]
    Diverged {
        /// The remote URL.
        url: String,
        /// The target branch.
        branch: String,
        /// Attempts made.
        attempts: u32,
    },
    /// GitHub kept refusing to move the branch because it moved meanwhile.
    #[error(
        "branch {branch:?} of {url} kept moving while it was updated (not a fast-forward, {attempts} attempts): {message}"
    )]
    NotFastForward {
        /// The remote URL.
        url: String,
        /// The target branch.
        branch: String,
        /// GitHub's message.
        message: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The push would create more commits than allowed.
    #[error(
        "commit range {base}..{head} holds {count} commits, more than the {max} one push may create (GITHUB_PUSH_MAX_REVISIONS)"
    )]
    TooManyCommits {
        /// The merge base.
        base: String,
        /// The local head.
        head: String,
        /// Commits in the range.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The compare API answered a status this push does not know.
    #[error("unexpected comparison status {status:?} for {base}...{head}")]
    UnexpectedStatus {
        /// The status.
        status: String,
        /// The base commit.
        base: String,
        /// The head commit.
        head: String,
    },
    /// Neither the target branch nor the branch checked out exists on the
    /// remote, so there is nothing to compare the local commits with.
    #[error(
        "neither branch {branch:?} nor the checked-out branch {current:?} exists on {url}: nothing to compare the local commits with"
    )]
    NoBase {
        /// The remote URL.
        url: String,
        /// The target branch.
        branch: String,
        /// The branch checked out (empty when `HEAD` is detached).
        current: String,
    },
    /// The push was cancelled.
    #[error("push to {url} through GitHub's API cancelled")]
    Cancelled {
        /// The remote URL.
        url: String,
    },
}

impl Error {
    /// Whether running the push again later may help: the remote kept
    /// moving, GitHub was unreachable or rate limited, git failed for a
    /// reason [`push::Error::is_retryable`] counts.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Git(e) => e.is_retryable(),
            Error::Api { source, .. } => source.is_retryable(),
            Error::Behind { .. } | Error::Diverged { .. } | Error::NotFastForward { .. } => true,
            _ => false,
        }
    }

    /// Whether another attempt inside the same push may help: the target
    /// moved between integrating and updating it.
    fn retries_within(&self) -> bool {
        matches!(
            self,
            Error::Behind { .. } | Error::Diverged { .. } | Error::NotFastForward { .. }
        )
    }

    fn with_attempts(mut self, n: u32) -> Self {
        if let Error::Behind { attempts, .. }
        | Error::Diverged { attempts, .. }
        | Error::NotFastForward { attempts, .. } = &mut self
        {
            *attempts = n;
        }
        self
    }
}

impl From<Error> for kargo_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Git(e) => e.into(),
            other => {
                let status = kargo_core::ErrorStatus::temporary_if(other.is_retryable());
                kargo_core::Error::with_status("github-push", status, other)
            }
        }
    }
}

/// Pushes the working tree at `path` to GitHub through its API, as the
/// module docs describe, serialised with every other push to the same
/// (repository, branch) in this process. `credentials` are the
/// repository's: the password is both git's and the API's token.
pub async fn push(
    path: &Path,
    options: &Options,
    credentials: &Credentials,
    cancel: &CancellationToken,
) -> Result<Outcome, Error> {
    let owned = path.to_owned();
    let (url, current) = maybe_spawn_blocking(move || push::remote_and_branch(&owned)).await?;
    let rest = options
        .rest
        .clone()
        .with_token(Some(credentials.password.clone()));
    let (client, owner, repo) =
        super::github::api_client(&url, &rest).map_err(|source| Error::Api {
            action: "reading the repository URL".to_owned(),
            source,
        })?;
    let branch = match (&options.target_branch, &current) {
        (Some(branch), _) => branch.clone(),
        (None, Some(current)) => current.clone(),
        (None, None) => {
            return Err(push::Error::DetachedHead {
                path: path.to_owned(),
            }
            .into());
        }
    };
    let api = Api {
        client,
        prefix: format!("/repos/{owner}/{repo}"),
    };
    let run = Run {
        path: path.to_owned(),
        url: url.clone(),
        branch: branch.clone(),
        current: current.unwrap_or_default(),
        options,
        credentials,
        api: &api,
    };

    let lock = push::lock_for(&url, &format!("refs/heads/{branch}"));
    let _guard = lock.lock().await;
    let mut attempts = 0;
    let delays = options
        .common
        .backoff
        .delays()
        .take(options.common.max_attempts.saturating_sub(1) as usize);
    let attempted = kargo_core::retry::retry(
        delays,
        || {
            attempts += 1;
            run.attempt()
        },
        |e: &Error, wait| {
            let again = e.retries_within();
            if again {
                tracing::debug!(remote = %url, %branch, ?wait, "github-push: {e}; trying again");
            }
            again
        },
    );
    let result = tokio::select! {
        result = attempted => result,
        () = cancel.cancelled() => Err(Error::Cancelled { url: url.clone() }),
    };
    // The staging ref goes, whatever happened; failing to delete it only
    // leaves a hidden ref behind.
    let staging = options.staging_ref.trim_start_matches("refs/");
    if let Err(e) = api.delete_ref(staging).await {
        tracing::warn!(remote = %url, %staging, "github-push: cannot delete the staging ref: {e}");
    }
    let replayed = result.map_err(|e| e.with_attempts(attempts))?;

    // The created commits have new ids: the local branch becomes the
    // remote one.
    let (dir, remote, target, creds) = (
        path.to_owned(),
        url.clone(),
        branch.clone(),
        credentials.clone(),
    );
    let commit = maybe_spawn_blocking(move || sync_local(&dir, &remote, &target, &creds)).await?;
    tracing::info!(
        remote = %url,
        %branch,
        attempts,
        replayed,
        "pushed {} through GitHub's API",
        commit.get(..7).unwrap_or(&commit)
    );
    Ok(Outcome {
        url,
        branch,
        commit,
        replayed,
        attempts,
    })
}

/// What one [`push()`] works with.
struct Run<'a> {
    path: PathBuf,
    url: String,
    branch: String,
    /// The branch checked out ("" when detached).
    current: String,
    options: &'a Options,
    credentials: &'a Credentials,
    api: &'a Api,
}

impl Run<'_> {
    /// One attempt; returns how many commits GitHub created.
    async fn attempt(&self) -> Result<usize, Error> {
        let options = self.options;
        let force = options.common.force;
        let (path, branch, credentials) = (
            self.path.clone(),
            self.branch.clone(),
            self.credentials.clone(),
        );
        let policy = if force {
            IntegrationPolicy::None
        } else {
            options.common.policy
        };
        let (url, staging) = (self.url.clone(), options.staging_ref.clone());
        let source = maybe_spawn_blocking(move || -> Result<String, push::Error> {
            if policy != IntegrationPolicy::None {
                push::integrate_remote_changes(&path, &branch, policy, Some(&credentials))?;
            }
            push_staging(&path, &url, &staging, &credentials)?;
            cli::head_commit(&path).map_err(|source| push::Error::Local {
                path: path.clone(),
                source: Box::new(source),
            })
        })
        .await?;
        tracing::debug!(staging = %options.staging_ref, %source, "github-push: pushed the staging ref");

        let target = self.api.branch_head(&self.branch).await?;
        let base = match &target {
            Some(sha) => sha.clone(),
            None => {
                let current = match self.current.as_str() {
                    "" => None,
                    current => self.api.branch_head(current).await?,
                };
                current.ok_or_else(|| Error::NoBase {
                    url: self.url.clone(),
                    branch: self.branch.clone(),
                    current: self.current.clone(),
                })?
            }
        };
        let per_page = options.compare_page_size;
        let mut comparison = self.api.compare(&base, &source, per_page, 1).await?;
        match decide(&comparison.status, force) {
            Decision::Done => {
                // Nothing to create; a branch that does not exist yet is
                // created at the local head, as a git push would.
                if target.is_none() {
                    self.api.create_branch(&self.branch, &source).await?;
                }
                return Ok(0);
            }
            Decision::Replay => {}
            Decision::Behind => {
                return Err(Error::Behind {
                    url: self.url.clone(),
                    branch: self.branch.clone(),
                    attempts: 0,
                });
            }
            Decision::Diverged => {
                return Err(Error::Diverged {
                    url: self.url.clone(),
                    branch: self.branch.clone(),
                    attempts: 0,
                });
            }
            Decision::Unknown => {
                return Err(Error::UnexpectedStatus {
                    status: comparison.status,
                    base,
                    head: source,
                });
            }
        }
        let merge_base = comparison.merge_base_commit.sha.clone();
        let count = comparison.commits.len().max(comparison.total_commits);
        if count > options.max_revisions {
            return Err(Error::TooManyCommits {
                base: merge_base,
                head: source,
                count,
                max: options.max_revisions,
            });
        }
        self.api
            .compare_rest(&base, &source, per_page, &mut comparison)
            .await?;
        let head = self
            .replay(
                &comparison.commits,
                &merge_base,
                options.verify_untrusted_commits,
            )
            .await?;
        match target {
            None => self.api.create_branch(&self.branch, &head).await?,
            Some(_) => {
                self.api
                    .move_branch(&self.url, &self.branch, &head, force)
                    .await?
            }
        }
        Ok(comparison.commits.len())
    }

    /// Creates `commits` (oldest first) on GitHub on top of `merge_base`;
    /// returns the last one created (`merge_base` when there is none).
    async fn replay(
        &self,
        commits: &[RepositoryCommit],
        merge_base: &str,
        verify: bool,
    ) -> Result<String, Error> {
        let mut created: HashMap<&str, String> = HashMap::new();
        let mut last = merge_base.to_owned();
        for (i, original) in commits.iter().enumerate() {
            let mut new = replay_commit(&original.commit, verify);
            new.parents = resolve_parents(&original.parents, &created, &last);
            let sha = self
                .api
                .create_commit(&new)
                .await
                .map_err(|source| Error::Api {
                    action: format!(
                        "creating commit {} of {} (replaying {})",
                        i + 1,
                        commits.len(),
                        original.sha
                    ),
                    source,
                })?;
            tracing::debug!(original = %original.sha, new = %sha, "github-push: replayed a commit");
            created.insert(&original.sha, sha.clone());
            last = sha;
        }
        Ok(last)
    }
}

/// What a comparison's status asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    /// Nothing to push.
    Done,
    /// Create the local-only commits and move the branch.
    Replay,
    /// Behind without force: integrate and try again.
    Behind,
    /// Diverged without force: integrate and try again.
    Diverged,
    /// A status GitHub does not document.
    Unknown,
}

/// Kargo's reading of the compare API's `status` (base: the target, head:
/// the local branch). With force, `behind` moves the branch back to the
/// merge base (nothing to create) and `diverged` drops the target's own
/// commits.
fn decide(status: &str, force: bool) -> Decision {
    match (status, force) {
        ("identical", _) => Decision::Done,
        ("ahead", _) | ("behind" | "diverged", true) => Decision::Replay,
        ("behind", false) => Decision::Behind,
        ("diverged", false) => Decision::Diverged,
        _ => Decision::Unknown,
    }
}

/// The commit to create for `original`: its tree and message, and its
/// author and committer unless GitHub is to author and sign it (`verify`),
/// in which case a known author is kept in a `Co-authored-by` trailer.
fn replay_commit(original: &CommitData, verify: bool) -> NewCommit {
    let mut new = NewCommit {
        message: original.message.clone(),
        tree: original.tree.sha.clone(),
        parents: Vec::new(),
        author: None,
        committer: None,
    };
    if verify {
        // kargo-rs signs nothing, so no author is ever the signer: a known
        // author always gets the trailer.
        if let Some(Signature {
            name: Some(name),
            email: Some(email),
            ..
        }) = &original.author
            && !name.is_empty()
            && !email.is_empty()
        {
            new.message = format!("{}\n\nCo-authored-by: {name} <{email}>", new.message);
        }
    } else {
        new.author = original.author.clone();
        new.committer = original.committer.clone();
    }
    new
}

/// The parents of a replayed commit: the commit created before it (or the
/// merge base) for an ordinary commit; for a merge, each parent mapped onto
/// the commit created for it, or kept when it was not replayed (a parent
/// already on the target branch).
fn resolve_parents(
    parents: &[Sha],
    created: &HashMap<&str, String>,
    previous: &str,
) -> Vec<String> {
    if parents.len() <= 1 {
        return vec![previous.to_owned()];
    }
    parents
        .iter()
        .map(|p| created.get(p.sha.as_str()).unwrap_or(&p.sha).clone())
        .collect()
}

/// Force-pushes `HEAD` to `staging` on `origin`.
fn push_staging(
    path: &Path,
    url: &str,
    staging: &str,
    credentials: &Credentials,
) -> Result<(), push::Error> {
    let git = Git::new(path)
        .with_credentials(&path.join(".git"), url, Some(credentials))
        .map_err(|source| push::classify(url, source))?;
    let refspec = format!("HEAD:{staging}");
    git.output([
        "push",
        "--porcelain",
        "--no-verify",
        "--force",
        "origin",
        refspec.as_str(),
    ])
    .map_err(|source| push::classify(url, source))?;
    Ok(())
}

/// Fetches `branch` and resets the local branch onto it (Kargo's forced
/// pull); returns the new head.
fn sync_local(
    path: &Path,
    url: &str,
    branch: &str,
    credentials: &Credentials,
) -> Result<String, push::Error> {
    let git = Git::new(path)
        .with_credentials(&path.join(".git"), url, Some(credentials))
        .map_err(|source| push::classify(url, source))?;
    let tracking = format!("refs/remotes/origin/{branch}");
    git.output([
        "fetch",
        "-q",
        "--no-tags",
        "origin",
        &format!("+refs/heads/{branch}:{tracking}"),
    ])
    .map_err(|source| push::classify(url, source))?;
    git.output(["reset", "-q", "--hard", tracking.as_str()])
        .map_err(|source| push::Error::Local {
            path: path.to_owned(),
            source: Box::new(source),
        })?;
    cli::head_commit(path).map_err(|source| push::Error::Local {
        path: path.to_owned(),
        source: Box::new(source),
    })
}

/// GitHub's git-data and compare endpoints for one repository.
struct Api {
    client: Client,
    /// `/repos/OWNER/REPO`.
    prefix: String,
}

impl Api {
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, super::Error> {
        let path = format!("{}{path}", self.prefix);
        self.client.call(method, &path, query, body, None).await
    }

    /// The commit `branch` points at on GitHub, `None` when it does not
    /// exist.
    async fn branch_head(&self, branch: &str) -> Result<Option<String>, Error> {
        let path = format!("/git/ref/heads/{}", ref_path(branch));
        let action = || format!("reading branch {branch:?}");
        match self.call(Method::GET, &path, &[], None).await {
            Ok(answer) => {
                let reference: Reference = self
                    .client
                    .decode(&format!("GET {}{path}", self.prefix), answer)
                    .map_err(|source| Error::Api {
                        action: action(),
                        source,
                    })?;
                Ok(Some(reference.object.sha))
            }
            Err(super::Error::NotFound { .. }) => Ok(None),
            Err(source) => Err(Error::Api {
                action: action(),
                source,
            }),
        }
    }

    /// Page `page` of the comparison `base...head`, `per_page` commits a
    /// page (GitHub lists them oldest first).
    async fn compare(
        &self,
        base: &str,
        head: &str,
        per_page: usize,
        page: usize,
    ) -> Result<Comparison, Error> {
        let path = format!("/compare/{base}...{head}");
        let api = |source| Error::Api {
            action: format!("comparing {base}...{head}"),
            source,
        };
        let query = [
            ("per_page", per_page.to_string()),
            ("page", page.to_string()),
        ];
        let answer = self
            .call(Method::GET, &path, &query, None)
            .await
            .map_err(api)?;
        self.client
            .decode(&format!("GET {}{path}", self.prefix), answer)
            .map_err(api)
    }

    /// Adds the commits of the pages after the first to `comparison`,
    /// until it lists all its `total_commits`. A page that adds none
    /// before then is an error, never a silently shorter range.
    async fn compare_rest(
        &self,
        base: &str,
        head: &str,
        per_page: usize,
        comparison: &mut Comparison,
    ) -> Result<(), Error> {
        let mut page = 2;
        while comparison.commits.len() < comparison.total_commits {
            let more = self.compare(base, head, per_page, page).await?.commits;
            if more.is_empty() {
                return Err(Error::Api {
                    action: format!("comparing {base}...{head}"),
                    source: self.client.malformed(&format!(
                        "page {page} of the comparison is empty after {} of its {} commits",
                        comparison.commits.len(),
                        comparison.total_commits
                    )),
                });
            }
            comparison.commits.extend(more);
            page += 1;
        }
        Ok(())
    }

    async fn create_commit(&self, commit: &NewCommit) -> Result<String, super::Error> {
        let body = serde_json::to_value(commit).map_err(|e| {
            self.client
                .malformed(&format!("cannot write a commit request: {e}"))
        })?;
        let answer = self
            .call(Method::POST, "/git/commits", &[], Some(&body))
            .await?;
        let created: Sha = self
            .client
            .decode(&format!("POST {}/git/commits", self.prefix), answer)?;
        Ok(created.sha)
    }

    async fn create_branch(&self, branch: &str, sha: &str) -> Result<(), Error> {
        let body = serde_json::json!({ "ref": format!("refs/heads/{branch}"), "sha": sha });
        self.call(Method::POST, "/git/refs", &[], Some(&body))
            .await
            .map_err(|source| Error::Api {
                action: format!("creating branch {branch:?} at {sha}"),
                source,
            })?;
        Ok(())
    }

    /// Moves `branch` to `sha`; GitHub's 422 (the branch moved, so this is
    /// not a fast-forward) is [`Error::NotFastForward`], tried again.
    async fn move_branch(
        &self,
        url: &str,
        branch: &str,
        sha: &str,
        force: bool,
    ) -> Result<(), Error> {
        let body = serde_json::json!({ "sha": sha, "force": force });
        let path = format!("/git/refs/heads/{}", ref_path(branch));
        match self.call(Method::PATCH, &path, &[], Some(&body)).await {
            Ok(_) => Ok(()),
            Err(super::Error::Api {
                status: 422,
                message,
                ..
            }) => Err(Error::NotFastForward {
                url: url.to_owned(),
                branch: branch.to_owned(),
                message,
                attempts: 0,
            }),
            Err(source) => Err(Error::Api {
                action: format!("moving branch {branch:?} to {sha}"),
                source,
            }),
        }
    }

    /// Deletes `reference` (`kargo/staging/p`, without `refs/`).
    async fn delete_ref(&self, reference: &str) -> Result<(), super::Error> {
        let path = format!("/git/refs/{}", ref_path(reference));
        self.call(Method::DELETE, &path, &[], None).await?;
        Ok(())
    }
}

/// A ref name for a URL path: each segment percent-encoded, the `/`
/// between them kept (as GitHub's clients send them).
fn ref_path(name: &str) -> String {
    name.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

/// GitHub's "Get a reference" answer (the fields used).
#[derive(Debug, Deserialize)]
struct Reference {
    object: Sha,
}

/// An object named by its id: `{"sha": ...}`.
#[derive(Debug, Clone, Deserialize)]
struct Sha {
    sha: String,
}

/// GitHub's "Compare two commits" answer (the fields used).
#[derive(Debug, Deserialize)]
struct Comparison {
    status: String,
    merge_base_commit: Sha,
    #[serde(default)]
    total_commits: usize,
    #[serde(default)]
    commits: Vec<RepositoryCommit>,
}

/// One commit of a comparison.
#[derive(Debug, Deserialize)]
struct RepositoryCommit {
    sha: String,
    commit: CommitData,
    #[serde(default)]
    parents: Vec<Sha>,
}

/// The git data of a commit.
#[derive(Debug, Deserialize)]
struct CommitData {
    message: String,
    tree: Sha,
    #[serde(default)]
    author: Option<Signature>,
    #[serde(default)]
    committer: Option<Signature>,
}

/// An author or committer, as GitHub reads and writes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Signature {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    date: Option<String>,
}

/// "Create a commit"'s request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct NewCommit {
    message: String,
    tree: String,
    parents: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    author: Option<Signature>,
    #[serde(skip_serializing_if = "Option::is_none")]
    committer: Option<Signature>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn person(name: &str, email: &str) -> Option<Signature> {
        Some(Signature {
            name: Some(name.to_owned()),
            email: Some(email.to_owned()),
            date: Some("2026-01-02T03:04:05Z".to_owned()),
        })
    }

    fn data(message: &str, author: Option<Signature>) -> CommitData {
        CommitData {
            message: message.to_owned(),
            tree: Sha {
                sha: "tree-sha".to_owned(),
            },
            committer: author.clone(),
            author,
        }
    }

    fn shas(ids: &[&str]) -> Vec<Sha> {
        ids.iter()
            .map(|s| Sha {
                sha: (*s).to_owned(),
            })
            .collect()
    }

    /// Kargo's `Test_githubPusher_push` cases on the comparison status.
    #[test]
    fn comparison_statuses_are_read_as_kargo_reads_them() {
        for (status, force, want) in [
            ("identical", false, Decision::Done),
            ("identical", true, Decision::Done),
            ("ahead", false, Decision::Replay),
            ("behind", true, Decision::Replay),
            ("diverged", true, Decision::Replay),
            ("behind", false, Decision::Behind),
            ("diverged", false, Decision::Diverged),
            ("bogus", false, Decision::Unknown),
            ("bogus", true, Decision::Unknown),
        ] {
            assert_eq!(decide(status, force), want, "{status} force={force}");
        }
    }

    /// Kargo's `Test_githubPusher_buildReplayCommit`, for commits kargo-rs
    /// can make (never signed, so never trusted).
    #[test]
    fn untrusted_commits_keep_their_author_unless_github_is_to_verify_them() {
        let original = data("test", person("Sally", "sally@example.com"));
        let kept = replay_commit(&original, false);
        assert_eq!(kept.author, person("Sally", "sally@example.com"));
        assert_eq!(kept.committer, kept.author);
        assert_eq!(kept.message, "test");
        assert_eq!(kept.tree, "tree-sha");

        let verified = replay_commit(&original, true);
        assert_eq!((verified.author, verified.committer), (None, None));
        assert_eq!(
            verified.message,
            "test\n\nCo-authored-by: Sally <sally@example.com>"
        );

        // No author known: no trailer.
        let verified = replay_commit(&data("test", None), true);
        assert_eq!(verified.message, "test");
        let nameless = person("", "x@example.com");
        assert_eq!(replay_commit(&data("test", nameless), true).message, "test");
    }

    /// Kargo's `Test_githubPusher_resolveParents`.
    #[test]
    fn parents_are_the_previous_commit_or_the_mapped_merge_parents() {
        let created: HashMap<&str, String> = [("old-a", "new-a".to_owned())].into();
        assert_eq!(resolve_parents(&[], &created, "aaa111"), ["aaa111"]);
        assert_eq!(
            resolve_parents(&shas(&["parent-sha"]), &created, "aaa111"),
            ["aaa111"]
        );
        assert_eq!(
            resolve_parents(&shas(&["old-a", "old-b"]), &created, "aaa111"),
            ["new-a", "old-b"]
        );
    }

    #[test]
    fn commit_requests_have_githubs_shape() {
        let mut new = replay_commit(&data("m", person("A", "a@example.com")), false);
        new.parents = vec!["p".to_owned()];
        assert_eq!(
            serde_json::to_value(&new).unwrap(),
            serde_json::json!({
                "message": "m", "tree": "tree-sha", "parents": ["p"],
                "author": {"name": "A", "email": "a@example.com", "date": "2026-01-02T03:04:05Z"},
                "committer": {"name": "A", "email": "a@example.com", "date": "2026-01-02T03:04:05Z"},
            })
        );
        let verified = replay_commit(&data("m", None), true);
        let body = serde_json::to_value(&verified).unwrap();
        assert!(body.get("author").is_none() && body.get("committer").is_none());
    }

    #[test]
    fn ref_names_keep_their_slashes() {
        assert_eq!(ref_path("kargo/promotion/p 1"), "kargo/promotion/p%201");
    }
}
