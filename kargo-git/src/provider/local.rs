//! The local provider: pull requests on a plain repository, with no forge.
//!
//! # Records
//! Pull request `N` lives in the repository itself, as the ref
//! `refs/kargo/pulls/N`. It points at a commit (of the empty tree) whose
//! message holds the record as one line of JSON; each change (opened,
//! approved, merged, closed) is a new commit on top of the last, so the
//! ref's history is the pull request's audit log. Every clone that fetches
//! `refs/kargo/*` sees them.
//!
//! # Concurrency
//! Every change is one `git push --atomic` with `--force-with-lease` on each
//! ref it touches: the record and, for a merge, the target branch. The
//! server applies all of it or nothing, and only if nobody moved those refs
//! since they were read (compare-and-swap); a lost race fetches again and
//! starts over, a bounded number of times. Within one host the provider's
//! working repository is also locked per remote.
//!
//! # Merging
//! The library merges, on a bare working repository (no checkout):
//! `merge` writes a merge commit (`git merge-tree` + `git commit-tree`),
//! `squash` one commit with the merged tree on top of the target, `rebase`
//! replays the source's commits onto the target (fast-forward when the
//! target has not moved). A conflict fails with
//! [`Error::Conflict`] before anything is pushed.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use kargo_core::credentials::Credentials;

use super::{
    Capabilities, Error, GitProvider, ListOptions, MergeMethod, MergeOutcome, NewPullRequest,
    Opened, PrState, PullRequest, reusable,
};
use crate::blocking::maybe_spawn_blocking;
use crate::cli::{self, Git, Identity};

const NAME: &str = "local";
/// Where the records live.
pub const PULLS_REF_PREFIX: &str = "refs/kargo/pulls/";
/// git's empty tree.
const EMPTY_TREE: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

/// Pull requests kept inside a plain git repository (see the module docs).
///
/// ```no_run
/// # async fn run() -> Result<(), kargo_git::provider::Error> {
/// use kargo_git::provider::{GitProvider, MergeMethod, NewPullRequest, local::LocalProvider};
///
/// let prs = LocalProvider::new("file:///srv/git/deploy.git");
/// let opened = prs.open(&NewPullRequest::new("release", "main", "Release")).await?;
/// prs.merge(opened.pr.number, Some(MergeMethod::Squash)).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct LocalProvider {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    url: String,
    shown: String,
    credentials: Option<Credentials>,
    work_root: PathBuf,
    identity: Identity,
    max_attempts: u32,
}

impl std::fmt::Debug for LocalProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalProvider")
            .field("url", &self.inner.shown)
            .field("credentials", &self.inner.credentials)
            .field("work_root", &self.inner.work_root)
            .field("identity", &self.inner.identity)
            .finish()
    }
}

impl LocalProvider {
    /// The pull requests of the repository at `url` (any URL or path git
    /// can fetch from and push to).
    pub fn new(url: impl Into<String>) -> Self {
        let url = url.into();
        LocalProvider {
            inner: Arc::new(Inner {
                shown: cli::redact_url(&url),
                url,
                credentials: None,
                work_root: crate::RepoCache::from_env().root().to_owned(),
                identity: Identity::kargo(),
                max_attempts: 10,
            }),
        }
    }

    fn update(mut self, f: impl FnOnce(&mut Inner)) -> Self {
        f(Arc::make_mut(&mut self.inner));
        self
    }

    /// Credentials git uses to fetch and push.
    pub fn with_credentials(self, credentials: Option<Credentials>) -> Self {
        self.update(|i| i.credentials = credentials)
    }

    /// Where the working repository is kept (default: the repository
    /// cache's root).
    pub fn with_work_root(self, root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        self.update(|i| i.work_root = root)
    }

    /// Who merge commits, approvals and records are by (default: Kargo).
    pub fn with_identity(self, identity: Identity) -> Self {
        self.update(|i| i.identity = identity)
    }

    /// How many times a change is tried when others keep changing the
    /// repository concurrently (default 10).
    pub fn with_max_attempts(self, attempts: u32) -> Self {
        self.update(|i| i.max_attempts = attempts.max(1))
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Session<'_>) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let inner = Arc::clone(&self.inner);
        maybe_spawn_blocking(move || Session::with(&inner, f)).await
    }
}

/// A locked working repository, fetched from the remote.
struct Session<'a> {
    inner: &'a Inner,
    dir: PathBuf,
}

/// The waits between attempts at a change that lost a race with another
/// process: short, since the other process is done by then, and jittered so
/// two losers do not meet again.
const CONTENDED: kargo_core::retry::Backoff = kargo_core::retry::Backoff::exponential(
    std::time::Duration::from_millis(20),
    std::time::Duration::from_millis(320),
)
.with_jitter(0.5);

/// What one attempt at a change produced.
enum Attempt<T> {
    Done(T),
    /// Pushing lost a race: fetch and try again.
    Retry,
}

impl<'a> Session<'a> {
    fn with<T>(
        inner: &'a Inner,
        f: impl FnOnce(&Session<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let io = |what: &str, path: &Path, e: std::io::Error| {
            inner.git_error(format!("{what} {}: {e}", path.display()))
        };
        fs::create_dir_all(&inner.work_root)
            .map_err(|e| io("cannot create", &inner.work_root, e))?;
        let dir = inner
            .work_root
            .join(format!("{}.pulls.git", crate::cache::dir_name(&inner.url)));
        let lock_path = dir.with_extension("lock");
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io("cannot open", &lock_path, e))?;
        lock.lock().map_err(|e| io("cannot lock", &lock_path, e))?;
        if !dir.join("HEAD").is_file() {
            Git::new(&inner.work_root)
                .run([
                    std::ffi::OsStr::new("init"),
                    "--bare".as_ref(),
                    "-q".as_ref(),
                    dir.as_os_str(),
                ])
                .map_err(|e| inner.git_error(e.to_string()))?;
        }
        let session = Session { inner, dir };
        let result = f(&session);
        drop(lock);
        result
    }

    fn git(&self) -> Result<Git<'_>, Error> {
        Git::new(&self.dir)
            .with_credentials(&self.dir, &self.inner.url, self.inner.credentials.as_ref())
            .map_err(|e| self.inner.git_error(e.to_string()))
            .map(|g| g.identity(&self.inner.identity))
    }

    fn run<I, S>(&self, args: I) -> Result<String, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.git()?
            .run(args)
            .map_err(|e| self.inner.git_error(e.to_string()))
    }

    /// Brings branches and records up to date with the remote.
    fn fetch(&self) -> Result<(), Error> {
        let git = self.git()?;
        let result = git.output([
            "fetch",
            "-q",
            "--prune",
            "--no-tags",
            "--update-head-ok",
            &self.inner.url,
            "+refs/heads/*:refs/heads/*",
            &format!("+{PULLS_REF_PREFIX}*:{PULLS_REF_PREFIX}*"),
        ]);
        result.map(|_| ()).map_err(|e| {
            let stderr = e.stderr();
            if stderr.contains("Authentication failed")
                || stderr.contains("could not read Username")
                || stderr.contains("returned error: 401")
            {
                Error::Unauthorized {
                    provider: NAME,
                    repo: self.inner.shown.clone(),
                    pr: None,
                }
            } else if stderr.contains("does not appear to be a git repository")
                || stderr.contains("not found")
            {
                Error::NotFound {
                    provider: NAME,
                    repo: self.inner.shown.clone(),
                    pr: None,
                }
            } else {
                self.inner.git_error(format!("cannot fetch: {e}"))
            }
        })
    }

    /// The commit a branch points at, if it exists.
    fn branch(&self, branch: &str) -> Result<Option<String>, Error> {
        let reference = format!("refs/heads/{branch}");
        match self.git()?.run([
            "rev-parse",
            "-q",
            "--verify",
            &format!("{reference}^{{commit}}"),
        ]) {
            Ok(id) => Ok(Some(id)),
            Err(cli::Error::Failed { .. }) => Ok(None),
            Err(e) => Err(self.inner.git_error(e.to_string())),
        }
    }

    /// Every record: (pull request, the record commit).
    fn records(&self) -> Result<Vec<(PullRequest, String)>, Error> {
        let out = self.run([
            "for-each-ref",
            "--format=%(refname)%09%(objectname)%09%(contents:body)",
            PULLS_REF_PREFIX,
        ])?;
        let mut records = Vec::new();
        for line in out.lines().filter(|l| !l.trim().is_empty()) {
            let mut fields = line.splitn(3, '\t');
            let (Some(name), Some(commit), Some(body)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let mut pr: PullRequest = serde_json::from_str(body.trim()).map_err(|e| {
                self.inner
                    .git_error(format!("record {name} is not a pull request: {e}"))
            })?;
            pr.url = self.inner.pr_url(pr.number);
            if pr.state == PrState::Open {
                pr.head_sha = self.branch(&pr.source_branch)?;
            }
            records.push((pr, commit.to_owned()));
        }
        records.sort_by_key(|(pr, _)| pr.number);
        Ok(records)
    }

    fn record(&self, number: u64) -> Result<(PullRequest, String), Error> {
        self.records()?
            .into_iter()
            .find(|(pr, _)| pr.number == number)
            .ok_or_else(|| Error::NotFound {
                provider: NAME,
                repo: self.inner.shown.clone(),
                pr: Some(number),
            })
    }

    /// A record commit for `pr` on top of `parent`.
    fn write_record(
        &self,
        pr: &PullRequest,
        event: &str,
        parent: Option<&str>,
    ) -> Result<String, Error> {
        let mut stored = pr.clone();
        stored.url = String::new();
        let json =
            serde_json::to_string(&stored).map_err(|e| self.inner.git_error(e.to_string()))?;
        let message = format!("pull request #{}: {event}\n\n{json}\n", pr.number);
        self.run(["hash-object", "-t", "tree", "-w", "/dev/null"])?;
        let mut args = vec!["commit-tree", EMPTY_TREE, "-m", message.as_str()];
        if let Some(parent) = parent {
            args.extend(["-p", parent]);
        }
        self.run(args)
    }

    /// Pushes `updates` (ref, expected old value or "" for none, new value)
    /// atomically; `false` when a lease failed (somebody was faster).
    fn push(&self, updates: &[(String, &str, &str)]) -> Result<bool, Error> {
        let mut args = vec![
            "push".to_owned(),
            "--porcelain".to_owned(),
            "--atomic".to_owned(),
            "--no-verify".to_owned(),
        ];
        for (reference, old, _) in updates {
            args.push(format!("--force-with-lease={reference}:{old}"));
        }
        args.push(self.inner.url.clone());
        for (reference, _, new) in updates {
            args.push(format!("{new}:{reference}"));
        }
        match self.git()?.output(&args) {
            Ok(_) => {}
            Err(e) if lost_race(&e) => return Ok(false),
            Err(e) => return Err(self.inner.git_error(format!("cannot push: {e}"))),
        }
        // Keep the working repository in step without another fetch.
        for (reference, _, new) in updates {
            self.run(["update-ref", reference, new])?;
        }
        Ok(true)
    }

    /// Runs `attempt` after a fresh fetch until it is done or the attempts
    /// run out, waiting [`CONTENDED`] between them.
    fn retrying<T>(
        &self,
        mut attempt: impl FnMut() -> Result<Attempt<T>, Error>,
    ) -> Result<T, Error> {
        let mut waits = CONTENDED.delays();
        for n in 1..=self.inner.max_attempts {
            self.fetch()?;
            match attempt()? {
                Attempt::Done(value) => return Ok(value),
                Attempt::Retry => {
                    tracing::debug!(repo = %self.inner.shown, attempt = n, "pull request change lost a race; retrying");
                    std::thread::sleep(waits.next().unwrap_or(CONTENDED.cap));
                }
            }
        }
        Err(Error::Contended {
            provider: NAME,
            repo: self.inner.shown.clone(),
            attempts: self.inner.max_attempts,
        })
    }

    fn open(&self, new: &NewPullRequest) -> Result<Opened, Error> {
        let invalid = |m: String| Error::Invalid(format!("{}: {m}", self.inner.shown));
        if new.source_branch.is_empty() || new.target_branch.is_empty() {
            return Err(invalid(
                "a pull request needs a source and a target branch".into(),
            ));
        }
        if new.source_branch == new.target_branch {
            return Err(invalid(format!(
                "source and target branch are both {:?}",
                new.source_branch
            )));
        }
        self.retrying(|| {
            let records = self.records()?;
            if let Some(pr) = reusable(
                records.iter().map(|(pr, _)| pr),
                &new.source_branch,
                &new.target_branch,
            ) {
                return Ok(Attempt::Done(Opened {
                    pr: pr.clone(),
                    reused: true,
                }));
            }
            let missing = |role, branch: &str| Error::MissingBranch {
                provider: NAME,
                repo: self.inner.shown.clone(),
                role,
                branch: branch.to_owned(),
            };
            let Some(head) = self.branch(&new.source_branch)? else {
                return Err(missing("source", &new.source_branch));
            };
            let Some(target) = self.branch(&new.target_branch)? else {
                return Err(missing("target", &new.target_branch));
            };
            if self.run(["rev-list", "--count", &format!("{target}..{head}")])? == "0" {
                return Err(Error::NothingToMerge {
                    provider: NAME,
                    repo: self.inner.shown.clone(),
                    source_branch: new.source_branch.clone(),
                    target_branch: new.target_branch.clone(),
                });
            }
            let number = records.last().map_or(1, |(pr, _)| pr.number + 1);
            let mut pr = PullRequest::new(
                number,
                self.inner.pr_url(number),
                &new.source_branch,
                &new.target_branch,
                PrState::Open,
            );
            pr.title = new.title.clone();
            pr.description = new.description.clone();
            if pr.title.is_empty() {
                // Kargo's default: the head commit's message.
                let message = self.run(["log", "-1", "--format=%B", &head])?;
                let (subject, body) = message.split_once('\n').unwrap_or((&message, ""));
                pr.title = subject.trim().to_owned();
                if pr.description.is_empty() {
                    pr.description = body.trim().to_owned();
                }
                if pr.title.is_empty() {
                    pr.title = new.fallback_title();
                }
            }
            pr.labels = new.labels.clone();
            pr.head_sha = Some(head);
            pr.created_at = Some(kargo_core::time::Timestamp::now().to_string());
            let commit = self.write_record(&pr, "opened", None)?;
            if self.push(&[(pull_ref(number), "", &commit)])? {
                Ok(Attempt::Done(Opened { pr, reused: false }))
            } else {
                Ok(Attempt::Retry)
            }
        })
    }

    fn merge(&self, number: u64, method: MergeMethod) -> Result<MergeOutcome, Error> {
        self.retrying(|| {
            let (mut pr, record) = self.record(number)?;
            match pr.state {
                PrState::Merged => return Ok(Attempt::Done(MergeOutcome::Merged(pr))),
                PrState::Closed => return Err(self.inner.not_open(&pr, "merged")),
                PrState::Open => {}
            }
            let missing = |b: &str| {
                self.inner.git_error(format!(
                    "pull request #{number}: branch {b:?} does not exist"
                ))
            };
            let source = self
                .branch(&pr.source_branch)?
                .ok_or_else(|| missing(&pr.source_branch))?;
            let target = self
                .branch(&pr.target_branch)?
                .ok_or_else(|| missing(&pr.target_branch))?;
            // A commit of `tree` joining `head` to the target branch.
            let merge_commit = |tree: &str, head: &str| {
                let message = format!(
                    "Merge pull request #{number} from {}\n\n{}",
                    pr.source_branch, pr.title
                );
                self.run([
                    "commit-tree",
                    tree,
                    "-p",
                    &target,
                    "-p",
                    head,
                    "-m",
                    &message,
                ])
            };
            let merged = match method {
                MergeMethod::Merge => {
                    let tree = self.merge_tree(&pr, &target, &source, None)?;
                    merge_commit(&tree, &source)?
                }
                MergeMethod::Squash => {
                    let tree = self.merge_tree(&pr, &target, &source, None)?;
                    let mut message = format!("{} (#{number})", pr.title);
                    if !pr.description.is_empty() {
                        message = format!("{message}\n\n{}", pr.description);
                    }
                    self.run(["commit-tree", &tree, "-p", &target, "-m", &message])?
                }
                MergeMethod::Rebase => self.rebase(&pr, &target, &source)?,
                MergeMethod::RebaseMerge => {
                    let rebased = self.rebase(&pr, &target, &source)?;
                    merge_commit(&format!("{rebased}^{{tree}}"), &rebased)?
                }
                MergeMethod::FastForward => {
                    if !self.is_ancestor(&target, &source)? {
                        return Err(Error::Conflict {
                            provider: NAME,
                            repo: self.inner.shown.clone(),
                            pr: number,
                            message: format!(
                                "{} has moved on from {}: it cannot be fast-forwarded",
                                pr.target_branch, pr.source_branch
                            ),
                        });
                    }
                    source.clone()
                }
            };
            pr.state = PrState::Merged;
            pr.merge_commit = Some(merged.clone());
            pr.head_sha = Some(source);
            let event = format!("merged ({method})");
            let commit = self.write_record(&pr, &event, Some(&record))?;
            let updates = [
                (
                    format!("refs/heads/{}", pr.target_branch),
                    target.as_str(),
                    merged.as_str(),
                ),
                (pull_ref(number), record.as_str(), commit.as_str()),
            ];
            Ok(if self.push(&updates)? {
                Attempt::Done(MergeOutcome::Merged(pr))
            } else {
                Attempt::Retry
            })
        })
    }

    /// The tree of `ours` merged with `theirs` (from `base` when given).
    fn merge_tree(
        &self,
        pr: &PullRequest,
        ours: &str,
        theirs: &str,
        base: Option<&str>,
    ) -> Result<String, Error> {
        let base_arg = base.map(|b| format!("--merge-base={b}"));
        let mut args = vec!["merge-tree", "--write-tree", "--name-only", "--no-messages"];
        if let Some(b) = &base_arg {
            args.push(b);
        }
        args.extend([ours, theirs]);
        match self.git()?.output(&args) {
            Ok(out) => Ok(String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned()),
            Err(cli::Error::Failed { status, stdout, .. })
                if status.ends_with("exit status: 1") =>
            {
                let files: Vec<&str> = stdout.lines().skip(1).filter(|l| !l.is_empty()).collect();
                Err(Error::Conflict {
                    provider: NAME,
                    repo: self.inner.shown.clone(),
                    pr: pr.number,
                    message: format!(
                        "{} conflicts with {} in {}",
                        pr.source_branch,
                        pr.target_branch,
                        files.join(", ")
                    ),
                })
            }
            Err(e) => Err(self.inner.git_error(e.to_string())),
        }
    }

    /// The source's commits replayed onto the target, one by one, authors kept.
    /// Whether `ancestor` is `commit` or one of its ancestors.
    fn is_ancestor(&self, ancestor: &str, commit: &str) -> Result<bool, Error> {
        self.git()?
            .status(["merge-base", "--is-ancestor", ancestor, commit])
            .map_err(|e| self.inner.git_error(e.to_string()))
    }

    fn rebase(&self, pr: &PullRequest, target: &str, source: &str) -> Result<String, Error> {
        if self.is_ancestor(target, source)? {
            return Ok(source.to_owned());
        }
        let commits = self.run([
            "rev-list",
            "--reverse",
            "--no-merges",
            &format!("{target}..{source}"),
        ])?;
        let mut base = target.to_owned();
        for commit in commits.lines().filter(|c| !c.is_empty()) {
            let tree = self.merge_tree(pr, &base, commit, Some(&format!("{commit}^")))?;
            let meta = self.run(["log", "-1", "--format=%an%x00%ae%x00%aI%x00%B", commit])?;
            let mut parts = meta.splitn(4, '\0');
            let (name, email, date, message) = (
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
            );
            base = self
                .git()?
                .env("GIT_AUTHOR_NAME", name)
                .env("GIT_AUTHOR_EMAIL", email)
                .env("GIT_AUTHOR_DATE", date)
                .run(["commit-tree", &tree, "-p", &base, "-m", message])
                .map_err(|e| self.inner.git_error(e.to_string()))?;
        }
        Ok(base)
    }

    /// Changes an open record with `change`; `action` names it for errors.
    fn change(
        &self,
        number: u64,
        action: &'static str,
        change: impl Fn(&mut PullRequest) -> bool,
    ) -> Result<PullRequest, Error> {
        self.retrying(|| {
            let (mut pr, record) = self.record(number)?;
            if pr.state != PrState::Open {
                if action == "closed" && pr.state == PrState::Closed {
                    return Ok(Attempt::Done(pr));
                }
                return Err(self.inner.not_open(&pr, action));
            }
            if !change(&mut pr) {
                return Ok(Attempt::Done(pr));
            }
            let commit = self.write_record(&pr, action, Some(&record))?;
            Ok(
                if self.push(&[(pull_ref(number), record.as_str(), commit.as_str())])? {
                    Attempt::Done(pr)
                } else {
                    Attempt::Retry
                },
            )
        })
    }
}

impl Inner {
    fn git_error(&self, message: String) -> Error {
        Error::Git {
            provider: NAME,
            repo: self.shown.clone(),
            message: cli::scrub_secret(
                message.replace(&self.url, &self.shown),
                self.credentials.as_ref(),
            ),
        }
    }

    fn pr_url(&self, number: u64) -> String {
        format!("{}#pull/{number}", self.shown)
    }

    fn not_open(&self, pr: &PullRequest, action: &'static str) -> Error {
        Error::NotOpen {
            provider: NAME,
            repo: self.shown.clone(),
            pr: pr.number,
            state: pr.state.as_str(),
            action,
        }
    }
}

/// Whether a push failed because a ref moved or appeared since it was read
/// (a lease failed, or the server's compare-and-swap did), rather than for
/// a reason another attempt cannot fix.
fn lost_race(e: &cli::Error) -> bool {
    crate::push::is_rejection(e.stdout())
        || e.stderr().contains("cannot lock ref")
        || e.stdout().contains("(atomic push failed)")
        || e.stdout().contains("(stale info)")
}

fn pull_ref(number: u64) -> String {
    format!("{PULLS_REF_PREFIX}{number}")
}

#[async_trait]
impl GitProvider for LocalProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::all()
    }

    async fn open(&self, new: &NewPullRequest) -> Result<Opened, Error> {
        let new = new.clone();
        self.blocking(move |s| s.open(&new)).await
    }

    async fn get(&self, number: u64) -> Result<PullRequest, Error> {
        self.blocking(move |s| {
            s.fetch()?;
            s.record(number).map(|(pr, _)| pr)
        })
        .await
    }

    async fn list(&self, options: &ListOptions) -> Result<Vec<PullRequest>, Error> {
        let options = options.clone();
        self.blocking(move |s| {
            s.fetch()?;
            Ok(s.records()?
                .into_iter()
                .map(|(pr, _)| pr)
                .filter(|pr| options.matches(pr))
                .collect())
        })
        .await
    }

    async fn merge(&self, number: u64, method: Option<MergeMethod>) -> Result<MergeOutcome, Error> {
        let method = method.unwrap_or(MergeMethod::Merge);
        self.blocking(move |s| s.merge(number, method)).await
    }

    async fn close(&self, number: u64) -> Result<PullRequest, Error> {
        self.blocking(move |s| {
            s.change(number, "closed", |pr| {
                pr.state = PrState::Closed;
                true
            })
        })
        .await
    }

    async fn approve(&self, number: u64) -> Result<PullRequest, Error> {
        let who = format!(
            "{} <{}>",
            self.inner.identity.name, self.inner.identity.email
        );
        self.blocking(move |s| {
            s.change(number, "approved", |pr| {
                if pr.approved_by.contains(&who) {
                    return false;
                }
                pr.approved_by.push(who.clone());
                true
            })
        })
        .await
    }
}
