//! The repository cache: one bare repository per remote URL, fetched into
//! with gix and shared by every promotion of a process and by several
//! processes.
//!
//! # Layout and locking
//! Under the cache root, a remote `https://host/org/repo.git` lives in
//! `host-org-repo-<hash>.git`, where `<hash>` is derived from the full URL,
//! so two URLs never share a repository. Branches and tags are mirrored
//! (`+refs/heads/*:refs/heads/*`, `+refs/tags/*:refs/tags/*`) and the
//! repository's `HEAD` follows the remote's default branch.
//!
//! Creating and fetching into a cached repository holds an exclusive file
//! lock on `<name>.lock` next to it, so promotions in one process (each
//! opens its own lock file handle) and in other processes take turns. The
//! object store only ever grows: checkouts borrow its objects (see
//! [`checkout`](crate::checkout)), so the cache is never garbage-collected
//! by kargo-git.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use gix::remote::Direction;
use kargo_core::credentials::Credentials;
use kargo_core::fs::{Durability, WriteOptions};

use crate::blocking::maybe_spawn_blocking;

/// Settings for one fetch into the cache.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Skip TLS certificate verification (Kargo's `insecureSkipTLSVerify`).
    pub insecure_skip_tls_verify: bool,
    /// Make the first fetch into a new cached repository shallow, with this
    /// many commits per branch. Later fetches bring only new commits, and
    /// checkouts of a shallow cache are shallow too. `None` (the default)
    /// fetches full history.
    pub depth: Option<std::num::NonZeroU32>,
    /// Make a new cached repository a blobless partial clone
    /// (`--filter=blob:none`) when the server allows filters: commits and
    /// trees only, file contents fetched by checkouts as they need them.
    /// A server that does not allow filters sends everything. Fetches
    /// into an existing cached repository keep what it is.
    pub blobless: bool,
}

impl Options {
    /// Sets [`Options::blobless`].
    pub fn with_blobless(mut self, blobless: bool) -> Self {
        self.blobless = blobless;
        self
    }

    /// Sets [`Options::depth`].
    pub fn with_depth(mut self, depth: Option<std::num::NonZeroU32>) -> Self {
        self.depth = depth;
        self
    }

    /// Sets [`Options::insecure_skip_tls_verify`].
    pub fn with_insecure_skip_tls_verify(mut self, skip: bool) -> Self {
        self.insecure_skip_tls_verify = skip;
        self
    }
}

/// The error returned by [`RepoCache::fetch()`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The cache directory or lock could not be used.
    #[error("repository cache {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The remote refused the credentials, or asked for credentials when
    /// there were none.
    #[error("authentication failed for {url}{}", if *.had_credentials { "" } else { " (no credentials configured)" })]
    Authentication {
        /// The repository URL (as configured; never with a secret).
        url: String,
        /// Whether credentials were offered.
        had_credentials: bool,
    },
    /// The fetch failed (network, protocol, repository).
    #[error("cannot fetch {url}: {message}")]
    Fetch {
        /// The repository URL.
        url: String,
        /// What gix reported, secrets removed.
        message: String,
    },
    /// The fetch was interrupted by cancellation.
    #[error("fetching {url} was cancelled")]
    Cancelled {
        /// The repository URL.
        url: String,
    },
}

impl Error {
    /// Whether trying again later may help.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Fetch { .. } | Error::Io { .. })
    }
}

impl From<Error> for kargo_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Authentication { .. } => kargo_core::Error::Precondition(e.to_string()),
            other => {
                let status = kargo_core::ErrorStatus::temporary_if(other.is_retryable());
                kargo_core::Error::with_status("git-cache", status, other)
            }
        }
    }
}

/// What a fetch found on the remote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Fetched {
    /// The remote URL.
    pub url: String,
    /// The cached bare repository.
    pub repo_dir: PathBuf,
    /// The remote's default branch (short name), if it advertised one.
    pub default_branch: Option<String>,
    /// Every branch and tag the remote has now (full name -> object id;
    /// for annotated tags, the tag object).
    pub refs: BTreeMap<String, String>,
    /// Whether the cached repository is a blobless partial clone, whose
    /// checkouts fetch the file contents they write from the remote.
    pub partial: bool,
}

impl Fetched {
    /// The commit a branch points at on the remote.
    pub fn branch(&self, branch: &str) -> Option<&str> {
        self.refs
            .get(&format!("refs/heads/{branch}"))
            .map(String::as_str)
    }

    /// The object directory checkouts borrow objects from.
    pub fn objects_dir(&self) -> PathBuf {
        self.repo_dir.join("objects")
    }
}

/// A directory of cached bare repositories, one per remote URL.
///
/// Cheap to clone; share one per host (or per process).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoCache {
    root: PathBuf,
}

impl RepoCache {
    /// A cache rooted at `root` (created on first use).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RepoCache { root: root.into() }
    }

    /// The cache configured by the environment: `KARGO_GIT_CACHE`, else
    /// `$XDG_CACHE_HOME/kargo-rs/git`, else `$HOME/.cache/kargo-rs/git`,
    /// else `kargo-rs-git-cache` in the temporary directory.
    pub fn from_env() -> Self {
        let root = std::env::var_os("KARGO_GIT_CACHE")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("kargo-rs/git"))
            })
            .or_else(|| {
                std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".cache/kargo-rs/git"))
            })
            .unwrap_or_else(|| std::env::temp_dir().join("kargo-rs-git-cache"));
        RepoCache::new(root)
    }

    /// The cache root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The bare repository that caches `url`.
    pub fn repo_dir(&self, url: &str) -> PathBuf {
        self.root.join(format!("{}.git", dir_name(url)))
    }

    /// Creates the cached repository for `url` if needed and fetches every
    /// branch and tag into it. Blocking work runs off the executor; setting
    /// `interrupt` stops the transfer.
    pub async fn fetch(
        &self,
        url: &str,
        credentials: Option<Credentials>,
        options: &Options,
        interrupt: Arc<AtomicBool>,
    ) -> Result<Fetched, Error> {
        let this = self.clone();
        let url = url.to_owned();
        let options = options.clone();
        maybe_spawn_blocking(move || {
            this.fetch_blocking(&url, credentials.as_ref(), &options, &interrupt)
        })
        .await
    }

    /// The blocking form of [`RepoCache::fetch`].
    pub fn fetch_blocking(
        &self,
        url: &str,
        credentials: Option<&Credentials>,
        options: &Options,
        interrupt: &AtomicBool,
    ) -> Result<Fetched, Error> {
        let _span =
            tracing::debug_span!("git-cache fetch", url = %crate::cli::redact_url(url)).entered();
        self.locked(url, |repo_dir| {
            self.fetch_locked(url, repo_dir, credentials, options, interrupt)
        })
    }

    /// Lists the remote's branches, tags and default branch without
    /// fetching anything (what `git ls-remote` does): one round trip, no
    /// objects transferred, the cached repository's refs untouched. Compare
    /// the result with [`Fetched::refs`] of the last fetch to know whether a
    /// fetch would bring anything new.
    pub async fn ls_remote(
        &self,
        url: &str,
        credentials: Option<Credentials>,
        options: &Options,
        interrupt: Arc<AtomicBool>,
    ) -> Result<RemoteRefs, Error> {
        let this = self.clone();
        let url = url.to_owned();
        let options = options.clone();
        maybe_spawn_blocking(move || {
            this.ls_remote_blocking(&url, credentials.as_ref(), &options, &interrupt)
        })
        .await
    }

    /// The blocking form of [`RepoCache::ls_remote`].
    pub fn ls_remote_blocking(
        &self,
        url: &str,
        credentials: Option<&Credentials>,
        options: &Options,
        interrupt: &AtomicBool,
    ) -> Result<RemoteRefs, Error> {
        let shown = crate::cli::redact_url(url);
        let _span = tracing::debug_span!("git-cache ls-remote", url = %shown).entered();
        let fetch_err = |message: String| Error::Fetch {
            url: shown.clone(),
            message: crate::cli::scrub_secret(message.replace(url, &shown), credentials),
        };
        // gix talks to a remote through a repository; the cached one is
        // created (empty) if needed, under the lock, and left as it is.
        let repo_dir = self.locked(url, |repo_dir| {
            if !repo_dir.join("HEAD").is_file() {
                init_bare(repo_dir).map_err(|e| fetch_err(e.to_string()))?;
            }
            Ok(repo_dir.to_owned())
        })?;
        let (remote_url, in_url) = crate::cli::split_credentials(url);
        let credentials = credentials.or(in_url.as_ref());
        let repo = open_repo(&repo_dir, options).map_err(|e| fetch_err(chain(&e)))?;
        let remote = mirror_remote(&repo, &remote_url).map_err(|e| fetch_err(chain(e.as_ref())))?;
        let auth = Auth::new(&remote_url, credentials);
        let options = ref_map_options().map_err(fetch_err)?;
        let listed = remote
            .connect(Direction::Fetch)
            .map_err(|e| fetch_err(chain(&e)))
            .map(|c| c.with_credentials(auth.callback()))
            .and_then(|c| {
                c.ref_map(gix::progress::Discard, options)
                    .map_err(|e| fetch_err(chain(&e)))
            });
        let (ref_map, _handshake) = match listed {
            Ok(listed) => listed,
            Err(e) => return Err(auth.explain(e, url, &shown, interrupt)),
        };
        let (refs, default_branch) = advertised(&ref_map.remote_refs);
        tracing::debug!(url = %shown, refs = refs.len(), "listed");
        Ok(RemoteRefs {
            url: url.to_owned(),
            default_branch,
            refs,
        })
    }

    /// Runs `f` on the cached repository's directory while holding its
    /// lock file.
    fn locked<T>(&self, url: &str, f: impl FnOnce(&Path) -> Result<T, Error>) -> Result<T, Error> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| Error::Io { path, source }
        };
        fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        let repo_dir = self.repo_dir(url);
        let lock_path = repo_dir.with_extension("lock");
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        lock.lock().map_err(io(&lock_path))?;
        // Whoever writes to the cached repository holds this lock; a git
        // lock file found now was left by a process that died holding it.
        clear_stale_locks(&repo_dir);
        let result = f(&repo_dir);
        // Dropping the handle releases the lock.
        drop(lock);
        result
    }

    fn fetch_locked(
        &self,
        url: &str,
        repo_dir: &Path,
        credentials: Option<&Credentials>,
        options: &Options,
        interrupt: &AtomicBool,
    ) -> Result<Fetched, Error> {
        let shown = crate::cli::redact_url(url);
        let fetch_err = |message: String| Error::Fetch {
            url: shown.clone(),
            message: crate::cli::scrub_secret(message.replace(url, &shown), credentials),
        };
        if !repo_dir.join("HEAD").is_file() {
            init_bare(repo_dir).map_err(|e| fetch_err(e.to_string()))?;
        }
        // Credentials in the URL serve this fetch only, as if they had been
        // passed: the repository's configuration never holds them.
        let (remote_url, in_url) = crate::cli::split_credentials(url);
        let credentials = credentials.or(in_url.as_ref());
        let mut repo = open_repo(repo_dir, options).map_err(|e| fetch_err(chain(&e)))?;
        // Nothing fetched yet (a new repository, or one `ls_remote` made):
        // this fetch decides whether the cache is shallow or blobless.
        let mut first = repo
            .references()
            .ok()
            .and_then(|refs| refs.all().ok().map(|mut all| all.next().is_none()))
            .unwrap_or(true);
        if first && options.blobless {
            // gix cannot ask for a filter: the first fetch of a blobless
            // cache is the git CLI's; later ones are gix's, and bring only
            // what is new.
            fetch_blobless(repo_dir, &remote_url, credentials, options).map_err(|e| {
                if e.is_authentication() {
                    Error::Authentication {
                        url: shown.clone(),
                        had_credentials: credentials.is_some(),
                    }
                } else {
                    fetch_err(e.to_string())
                }
            })?;
            repo = open_repo(repo_dir, options).map_err(|e| fetch_err(chain(&e)))?;
            // That fetch was the first, at the requested depth.
            first = false;
        }
        let partial = repo
            .config_snapshot()
            .string("extensions.partialClone")
            .is_some();
        let remote = mirror_remote(&repo, &remote_url).map_err(|e| fetch_err(chain(e.as_ref())))?;
        let auth = Auth::new(&remote_url, credentials);
        let ref_map_options = ref_map_options().map_err(fetch_err)?;
        let outcome = remote
            .connect(Direction::Fetch)
            .map_err(|e| fetch_err(chain(&e)))
            .map(|c| c.with_credentials(auth.callback()))
            .and_then(|c| {
                c.prepare_fetch(gix::progress::Discard, ref_map_options)
                    .map_err(|e| fetch_err(chain(&e)))
            })
            .and_then(|prepare| {
                let prepare = match options.depth {
                    Some(depth) if first => {
                        prepare.with_shallow(gix::remote::fetch::Shallow::DepthAtRemote(depth))
                    }
                    _ => prepare,
                };
                prepare
                    .receive(gix::progress::Discard, interrupt)
                    .map_err(|e| fetch_err(chain(&e)))
            });
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(e) => return Err(auth.explain(e, url, &shown, interrupt)),
        };

        consolidate_packs(repo_dir, partial);
        let (refs, default_branch) = advertised(&outcome.ref_map.remote_refs);
        if let Some(branch) = &default_branch {
            // The cache's HEAD follows the remote's default branch.
            let head = format!("ref: refs/heads/{branch}\n");
            let path = repo_dir.join("HEAD");
            if fs::read(&path).ok().as_deref() != Some(head.as_bytes()) {
                write_unsynced(&path, head.as_bytes())
                    .map_err(|source| Error::Io { path, source })?;
            }
        }
        tracing::debug!(url = %shown, refs = refs.len(), "fetched");
        Ok(Fetched {
            url: url.to_owned(),
            repo_dir: repo_dir.to_owned(),
            default_branch,
            refs,
            partial,
        })
    }
}

/// Removes the lock files git and gix leave behind when killed while
/// updating a repository (`config.lock`, `HEAD.lock`, `packed-refs.lock`,
/// `shallow.lock`, `refs/**/*.lock`), which would make every later fetch
/// fail. Only called under the cache's own file lock, which every writer
/// holds: a live writer is waited for there, so what is found here is
/// stale. Failures are logged; the fetch then reports its own error.
fn clear_stale_locks(repo_dir: &Path) {
    let mut stack = vec![repo_dir.join("refs")];
    let mut found: Vec<PathBuf> = ["config", "HEAD", "packed-refs", "shallow", "index"]
        .iter()
        .map(|name| repo_dir.join(format!("{name}.lock")))
        .filter(|p| p.is_file())
        .collect();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(t) if t.is_file() && path.extension().is_some_and(|e| e == "lock") => {
                    found.push(path);
                }
                _ => {}
            }
        }
    }
    for path in found {
        match fs::remove_file(&path) {
            Ok(()) => {
                tracing::warn!(lock = %path.display(), "removed a stale lock left by a dead process")
            }
            Err(e) => {
                tracing::warn!(lock = %path.display(), error = %e, "cannot remove a stale lock")
            }
        }
    }
}

/// More packs than this in a cached repository are rolled into fewer after
/// a fetch. Every fetch that brings something writes a pack, and every
/// object lookup (the cache's, and its checkouts' through `alternates`)
/// searches the packs one by one.
const PACK_LIMIT: usize = 16;

/// Rolls the cached repository's packs into fewer when it holds more than
/// [`PACK_LIMIT`]. A full cache runs `git repack --geometric=2`, which
/// merges only packs small against the others, so the cost follows what
/// recent fetches brought, not the size of the repository. git cannot
/// repack a partial clone geometrically, so a blobless cache runs `git
/// repack -A` instead: the objects of its promisor packs go into one
/// promisor pack, the others into one pack. That costs more, but only
/// every [`PACK_LIMIT`] fetches. Nothing is pruned (`-A` leaves what no
/// ref reaches as loose objects, for checkouts that may still borrow it).
/// A failure leaves the packs as they were and is only logged: the cache
/// still works.
fn consolidate_packs(repo_dir: &Path, partial: bool) {
    let packs = fs::read_dir(repo_dir.join("objects/pack")).map_or(0, |dir| {
        dir.filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "pack"))
            .count()
    });
    if packs <= PACK_LIMIT {
        return;
    }
    // A bare repository writes a bitmap on `-A` by default, and a partial
    // clone cannot have one.
    let how: &[&str] = if partial {
        &["-A", "--no-write-bitmap-index"]
    } else {
        &["--geometric=2"]
    };
    let args = ["repack", "-d", "-q"].iter().chain(how);
    match crate::cli::Git::new(repo_dir).run(args) {
        Ok(_) => tracing::debug!(repo = %repo_dir.display(), packs, "packs consolidated"),
        Err(e) => tracing::warn!(repo = %repo_dir.display(), error = %e, "repack failed"),
    }
}

/// The first fetch into the new, empty cached repository `repo_dir`, with
/// the git CLI: every branch and tag, without file contents. The repository
/// is marked a partial clone of `origin` first, as git requires for a
/// filter; a server that does not allow filters sends everything.
fn fetch_blobless(
    repo_dir: &Path,
    url: &str,
    credentials: Option<&Credentials>,
    options: &Options,
) -> Result<(), crate::cli::Error> {
    let git = crate::cli::Git::new(repo_dir).with_credentials(repo_dir, url, credentials)?;
    for (key, value) in [
        ("core.repositoryFormatVersion", "1"),
        ("extensions.partialClone", "origin"),
        ("remote.origin.url", url),
        ("remote.origin.promisor", "true"),
        ("remote.origin.partialCloneFilter", "blob:none"),
    ] {
        git.run(["config", key, value])?;
    }
    let mut args = vec![];
    if options.insecure_skip_tls_verify {
        args.extend(["-c", "http.sslVerify=false"]);
    }
    let depth = options.depth.map(|d| format!("--depth={d}"));
    args.extend(["fetch", "-q", "--no-tags", "--filter=blob:none"]);
    if let Some(depth) = &depth {
        args.push(depth);
    }
    args.extend([
        "origin",
        "+refs/heads/*:refs/heads/*",
        "+refs/tags/*:refs/tags/*",
    ]);
    git.run(args).map(drop)
}

/// What [`RepoCache::ls_remote()`] found on the remote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RemoteRefs {
    /// The remote URL.
    pub url: String,
    /// The remote's default branch (short name), if it advertised one.
    pub default_branch: Option<String>,
    /// Every branch and tag (full name -> object id; for annotated tags,
    /// the tag object), as in [`Fetched::refs`].
    pub refs: BTreeMap<String, String>,
}

/// Opens a cached repository for talking to its remote: isolated from the
/// user's configuration, never prompting for credentials.
fn open_repo(repo_dir: &Path, options: &Options) -> gix::Result<gix::Repository> {
    let mut overrides = vec!["gitoxide.credentials.terminalPrompt=false".to_owned()];
    if options.insecure_skip_tls_verify {
        overrides.push("http.sslVerify=false".to_owned());
    }
    let open = gix::open::Options::isolated().config_overrides(overrides);
    gix::open_opts(repo_dir, open)
}

/// The anonymous remote at `url` that mirrors branches and tags.
fn mirror_remote<'repo>(
    repo: &'repo gix::Repository,
    url: &str,
) -> Result<gix::Remote<'repo>, Box<dyn std::error::Error + Send + Sync>> {
    Ok(repo
        .remote_at(url)?
        .with_refspecs(
            ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"],
            Direction::Fetch,
        )?
        .with_fetch_tags(gix::remote::fetch::Tags::None))
}

/// Asks for `HEAD` too, so the remote names its default branch.
fn ref_map_options() -> Result<gix::remote::ref_map::Options, String> {
    let head_spec = gix::refspec::parse("HEAD".into(), gix::refspec::parse::Operation::Fetch)
        .map(|s| s.to_owned())
        .map_err(|e| chain(&e))?;
    Ok(gix::remote::ref_map::Options {
        extra_refspecs: vec![head_spec],
        ..Default::default()
    })
}

/// Branches and tags (full name -> object id) and the default branch, from
/// what the remote advertised.
fn advertised(
    remote_refs: &[gix::protocol::handshake::Ref],
) -> (BTreeMap<String, String>, Option<String>) {
    let mut refs = BTreeMap::new();
    let mut default_branch = None;
    for r in remote_refs {
        let (name, target, _peeled) = r.unpack();
        let name = name.to_string();
        if name == "HEAD" {
            if let gix::protocol::handshake::Ref::Symbolic { target, .. }
            | gix::protocol::handshake::Ref::Unborn { target, .. } = r
            {
                default_branch = target
                    .to_string()
                    .strip_prefix("refs/heads/")
                    .map(str::to_owned);
            }
            continue;
        }
        if let Some(target) = target
            && (name.starts_with("refs/heads/") || name.starts_with("refs/tags/"))
        {
            refs.insert(name, target.to_string());
        }
    }
    (refs, default_branch)
}

/// Credentials handed to gix when the remote asks, remembering whether it
/// asked and whether it rejected them. They are handed over only for a
/// request to the URL they are for (see [`crate::cli`], "Credential
/// scoping"), whatever redirects led there.
struct Auth {
    scope: String,
    credentials: Option<Credentials>,
    asked: AtomicU32,
    rejected: AtomicBool,
}

impl Auth {
    fn new(url: &str, credentials: Option<&Credentials>) -> Self {
        Auth {
            scope: crate::cli::credential_scope(url),
            credentials: credentials.cloned(),
            asked: AtomicU32::new(0),
            rejected: AtomicBool::new(false),
        }
    }

    /// Whether a request gix describes by `ctx` goes to the URL the
    /// credentials are for.
    fn in_scope(&self, ctx: &gix::credentials::protocol::Context) -> bool {
        let asked = match &ctx.url {
            Some(url) => url.to_string(),
            None => format!(
                "{}://{}/{}",
                ctx.protocol.as_deref().unwrap_or_default(),
                ctx.host.as_deref().unwrap_or_default(),
                ctx.path
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            ),
        };
        crate::cli::credential_scope(&asked) == self.scope
    }

    fn callback(
        &self,
    ) -> impl FnMut(
        gix::credentials::helper::Action,
    ) -> gix::Result<Option<gix::credentials::protocol::Outcome>>
    + '_ {
        move |action| {
            use gix::credentials::helper::Action;
            match action {
                Action::Get(ctx) => {
                    self.asked.fetch_add(1, Ordering::SeqCst);
                    let scoped = self.credentials.as_ref().filter(|_| self.in_scope(&ctx));
                    Ok(scoped.map(|c| gix::credentials::protocol::Outcome {
                        identity: gix::sec::identity::Account {
                            username: c.username.clone(),
                            password: c.password.clone(),
                            oauth_refresh_token: None,
                        },
                        next: ctx.into(),
                    }))
                }
                Action::Store(_) => Ok(None),
                Action::Erase(_) => {
                    self.rejected.store(true, Ordering::SeqCst);
                    Ok(None)
                }
            }
        }
    }

    /// The error to report for a failed exchange: cancellation, rejected
    /// or missing credentials, or `error` itself.
    fn explain(&self, error: Error, url: &str, shown: &str, interrupt: &AtomicBool) -> Error {
        if interrupt.load(Ordering::SeqCst) {
            return Error::Cancelled {
                url: url.to_owned(),
            };
        }
        let was_asked = self.asked.load(Ordering::SeqCst) > 0;
        if self.rejected.load(Ordering::SeqCst) || (was_asked && self.credentials.is_none()) {
            return Error::Authentication {
                url: shown.to_owned(),
                had_credentials: self.credentials.is_some(),
            };
        }
        error
    }
}

/// An error and its sources, one line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(source) = next {
        let text = source.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = source.source();
    }
    out
}

fn init_bare(repo_dir: &Path) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let parent = repo_dir.parent().ok_or("cache directory has no parent")?;
    // Initialise next to the final place and rename, so that a crash never
    // leaves a half-made repository under the final name.
    let tmp = tempfile::Builder::new()
        .prefix(".init-")
        .tempdir_in(parent)?;
    let path = tmp.path().join("repo.git");
    gix::ThreadSafeRepository::init_opts(
        &path,
        gix::create::Kind::Bare,
        gix::create::Options::default(),
        gix::open::Options::isolated(),
    )?;
    if repo_dir.exists() {
        fs::remove_dir_all(repo_dir)?;
    }
    fs::rename(&path, repo_dir)?;
    Ok(())
}

/// Writes a file of git's that can be written again (new objects, an
/// index, `HEAD`) all at once, without waiting for the disk, as git's
/// default `core.fsync` writes the same files: see
/// [`kargo_core::fs`'s durability](kargo_core::fs#durability).
pub(crate) fn write_unsynced(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let options = WriteOptions::default().with_durability(Durability::Unsynced);
    kargo_core::fs::write_atomic_opts(path, &mut { contents }, &options)
}

/// A readable, collision-free directory name for a URL: see
/// [`RepoUrl::cache_dir_name`](kargo_core::urls::RepoUrl::cache_dir_name).
pub(crate) fn dir_name(url: &str) -> String {
    kargo_core::urls::RepoUrl::cache_dir_name_for(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_names_are_readable_unique_and_secret_free() {
        let a = dir_name("https://user:s3cret@example.com/org/repo.git");
        assert!(a.starts_with("example.com-org-repo-"), "{a}");
        assert!(!a.contains("s3cret"));
        assert_ne!(
            dir_name("https://example.com/a"),
            dir_name("https://example.com/a/")
        );
    }
}
