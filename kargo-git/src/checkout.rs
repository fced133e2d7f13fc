//! Working trees of cached repositories.
//!
//! A checkout is a non-bare repository at the requested path whose object
//! store *borrows* the cached repository's objects (`objects/info/alternates`),
//! with `origin` pointing at the remote URL. Nothing is copied or downloaded:
//! writing the working tree is the only real work, and with `sparse` only
//! the named directories are written.
//!
//! kargo-git departs here from Kargo, which adds `git worktree` working
//! trees to a bare clone made for each promotion: a linked worktree holds its
//! branch exclusively (two promotions of the same branch could not share one
//! cache) and leaves bookkeeping in the shared repository that must be pruned
//! when a promotion's work directory goes away. A borrowing repository has
//! the speed of a worktree without either, and every later operation
//! (commit, rebase, push) touches only the promotion's own directory.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kargo_core::credentials::Credentials;

use crate::cache::Fetched;
use crate::cli::{self, Git, Identity};
use crate::worktree::{self, Cone};

/// What to check out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Revision {
    /// The remote's default branch.
    #[default]
    DefaultBranch,
    /// A branch (checked out as that local branch).
    Branch(String),
    /// A commit (checked out detached).
    Commit(String),
    /// A tag (checked out detached).
    Tag(String),
}

/// Settings for [`checkout()`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Options {
    /// What to check out.
    pub revision: Revision,
    /// Create the branch (an orphan with one empty commit, pushed to the
    /// remote) if the remote does not have it.
    pub create: bool,
    /// Directories to write; `None` writes everything.
    pub sparse: Option<Vec<String>>,
    /// The identity for commits made in this checkout (Kargo's default
    /// otherwise).
    pub author: Option<Identity>,
    /// Skip TLS verification for later fetches and pushes from this
    /// checkout (Kargo's `insecureSkipTLSVerify`).
    pub insecure_skip_tls_verify: bool,
    /// Initialise and update submodules, recursively (Kargo's
    /// `recurseSubmodules`). Each submodule gets the credentials
    /// [`Options::submodule_credentials`] finds for its own URL, never those
    /// of the superproject (unless both URLs are the same repository).
    pub recurse_submodules: bool,
    /// Finds credentials for a submodule's URL (none by default).
    pub submodule_credentials: Option<CredentialLookup>,
}

/// A synchronous credentials lookup by URL, for the submodules of a
/// checkout (their URLs are known only once the superproject is written).
/// `Debug` shows nothing of what it holds; two lookups are equal when they
/// are the same one.
#[derive(Clone)]
pub struct CredentialLookup(Arc<LookupFn>);

/// The function behind a [`CredentialLookup`].
type LookupFn = dyn Fn(&str) -> Option<Credentials> + Send + Sync;

impl CredentialLookup {
    /// A lookup calling `f` with each submodule URL.
    pub fn new(f: impl Fn(&str) -> Option<Credentials> + Send + Sync + 'static) -> Self {
        CredentialLookup(Arc::new(f))
    }

    fn get(&self, url: &str) -> Option<Credentials> {
        (self.0)(url)
    }
}

impl std::fmt::Debug for CredentialLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CredentialLookup")
    }
}

impl PartialEq for CredentialLookup {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for CredentialLookup {}

impl Options {
    /// Checks out `revision`.
    pub fn new(revision: Revision) -> Self {
        Options {
            revision,
            ..Options::default()
        }
    }

    /// Sets [`Options::create`].
    pub fn with_create(mut self, create: bool) -> Self {
        self.create = create;
        self
    }

    /// Sets [`Options::sparse`].
    pub fn with_sparse(mut self, sparse: Option<Vec<String>>) -> Self {
        self.sparse = sparse;
        self
    }

    /// Sets [`Options::insecure_skip_tls_verify`].
    pub fn with_insecure_skip_tls_verify(mut self, skip: bool) -> Self {
        self.insecure_skip_tls_verify = skip;
        self
    }

    /// Sets [`Options::recurse_submodules`].
    pub fn with_recurse_submodules(mut self, recurse: bool) -> Self {
        self.recurse_submodules = recurse;
        self
    }

    /// Sets [`Options::submodule_credentials`].
    pub fn with_submodule_credentials(mut self, lookup: Option<CredentialLookup>) -> Self {
        self.submodule_credentials = lookup;
        self
    }

    /// Sets [`Options::author`].
    pub fn with_author(mut self, author: Option<Identity>) -> Self {
        self.author = author;
        self
    }
}

/// What [`checkout()`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outcome {
    /// The commit checked out (full hex id).
    pub commit: String,
    /// The local branch, unless the checkout is detached.
    pub branch: Option<String>,
    /// Whether the branch was created on the remote.
    pub created: bool,
}

/// The error returned by [`checkout()`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The target directory exists and is not empty.
    #[error("cannot check out {url} into {path}: the directory is not empty")]
    NotEmpty {
        /// The repository URL.
        url: String,
        /// The target directory.
        path: PathBuf,
    },
    /// The branch does not exist on the remote and `create` is off.
    #[error(
        "remote branch {branch:?} of {url} does not exist; set create=true to create it at checkout"
    )]
    BranchNotFound {
        /// The repository URL.
        url: String,
        /// The branch.
        branch: String,
    },
    /// The remote has no default branch (an empty repository).
    #[error("{url} has no default branch; name a branch, commit or tag")]
    NoDefaultBranch {
        /// The repository URL.
        url: String,
    },
    /// The tag does not exist on the remote.
    #[error("tag {tag:?} not found in {url}")]
    TagNotFound {
        /// The repository URL.
        url: String,
        /// The tag.
        tag: String,
    },
    /// The commit is not in the repository.
    #[error("commit {commit:?} not found in {url}")]
    CommitNotFound {
        /// The repository URL.
        url: String,
        /// The commit.
        commit: String,
    },
    /// A sparse path is absolute, empty or climbs out of the repository.
    #[error("sparse path {path:?} must be a relative directory inside the repository")]
    InvalidSparsePath {
        /// The path.
        path: String,
    },
    /// Writing the checkout failed.
    #[error("cannot prepare the checkout of {url} in {path}: {source}")]
    Io {
        /// The repository URL.
        url: String,
        /// The target directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A git command failed.
    #[error("checking out {url} into {path}: {source}")]
    Git {
        /// The repository URL.
        url: String,
        /// The target directory.
        path: PathBuf,
        /// The failed command.
        source: Box<cli::Error>,
    },
    /// Creating a missing branch failed while pushing it.
    #[error(transparent)]
    Push(#[from] Box<crate::push::Error>),
}

impl Error {
    /// Whether running the checkout again later may succeed: a git command
    /// (which may fetch) or writing the files failed, or pushing a new
    /// branch failed for a reason [`push::Error::is_retryable`](crate::push::Error::is_retryable)
    /// counts. A missing branch, tag or commit, or a directory in the way,
    /// stays as it is.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Git { .. } | Error::Io { .. } => true,
            Error::Push(e) => e.is_retryable(),
            _ => false,
        }
    }
}

impl From<Error> for kargo_core::Error {
    /// A missing branch is a precondition (`create` would make it), a
    /// missing tag or commit is not found, a bad sparse path is invalid
    /// input; the rest is generic, temporary when
    /// [`Error::is_retryable`] says so.
    fn from(e: Error) -> Self {
        match e {
            Error::BranchNotFound { .. } => kargo_core::Error::Precondition(e.to_string()),
            Error::TagNotFound { ref tag, ref url } => kargo_core::Error::NotFound {
                what: "tag",
                name: format!("{tag:?} in {url}"),
            },
            Error::CommitNotFound {
                ref commit,
                ref url,
            } => kargo_core::Error::NotFound {
                what: "commit",
                name: format!("{commit:?} in {url}"),
            },
            Error::InvalidSparsePath { .. } => kargo_core::Error::Invalid(e.to_string()),
            other => {
                let status = kargo_core::ErrorStatus::temporary_if(other.is_retryable());
                kargo_core::Error::with_status("git-checkout", status, other)
            }
        }
    }
}

/// Writes a working tree of `fetched` (a cached repository) at `path`,
/// which must not exist, be empty, or be an earlier checkout made by this
/// function (recognised by a marker file in `.git`, and made again: a
/// checkout cut short by a crash, or never recorded as done, is never
/// trusted and never refused). A failed checkout leaves `path` as it was
/// before (missing or empty), with no partial `.git`. Blocking.
///
/// `credentials` (for the repository's URL only) are used when `create`
/// has to push a new branch, and by a checkout of a blobless cache to fetch
/// the file contents it writes. Credentials in the URL itself serve the
/// same way when `credentials` is `None`. Neither is ever written into the
/// checkout: its `origin` is the URL without user information, and git
/// gets credentials per command.
pub fn checkout(
    fetched: &Fetched,
    path: &Path,
    options: &Options,
    credentials: Option<&Credentials>,
) -> Result<Outcome, Error> {
    let (origin, in_url) = cli::split_credentials(&fetched.url);
    let credentials = credentials.or(in_url.as_ref());
    let shown = cli::redact_url(&fetched.url);
    let url = shown.as_str();
    let io = |source| Error::Io {
        url: url.to_owned(),
        path: path.to_owned(),
        source,
    };
    let existed = path.exists();
    if existed && fs::read_dir(path).map_err(io)?.next().is_some() {
        // A checkout kargo-rs made (perhaps cut short by a crash, perhaps
        // complete but never recorded) is made again, never trusted.
        if !path.join(MARKER).is_file() {
            return Err(Error::NotEmpty {
                url: url.to_owned(),
                path: path.to_owned(),
            });
        }
        tracing::debug!(path = %path.display(), "redoing an earlier checkout");
        empty_dir(path).map_err(io)?;
    }
    let result = checkout_into(fetched, path, options, credentials, &origin, url);
    if result.is_err() {
        // A failed checkout leaves the directory as it was: gone, or empty.
        let undone = if existed {
            empty_dir(path)
        } else {
            fs::remove_dir_all(path)
        };
        if let Err(e) = undone.or_else(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Ok(()),
            _ => Err(e),
        }) {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove a failed checkout");
        }
    }
    result
}

/// The file inside `.git` that marks a checkout as kargo-rs's own, written
/// before anything else: a directory holding it may be emptied and checked
/// out again.
const MARKER: &str = ".git/kargo-rs-checkout";

/// Removes everything inside `dir`, keeping `dir`.
fn empty_dir(dir: &Path) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            fs::remove_dir_all(entry.path())?;
        } else {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// [`checkout()`] into `path`, which is missing or empty.
fn checkout_into(
    fetched: &Fetched,
    path: &Path,
    options: &Options,
    credentials: Option<&Credentials>,
    origin: &str,
    url: &str,
) -> Result<Outcome, Error> {
    let io = |source| Error::Io {
        url: url.to_owned(),
        path: path.to_owned(),
        source,
    };
    let git_err = |source| Error::Git {
        url: url.to_owned(),
        path: path.to_owned(),
        source: Box::new(source),
    };
    let cone = match &options.sparse {
        Some(dirs) => Some(Cone::new(&cone_dirs(dirs)?)),
        None => None,
    };
    let sparse = cone.as_ref().map(Cone::patterns);

    // The branch to end up on, and the commit to start from.
    let (branch, start) = match &options.revision {
        Revision::DefaultBranch => {
            let branch = fetched
                .default_branch
                .clone()
                .ok_or_else(|| Error::NoDefaultBranch {
                    url: url.to_owned(),
                })?;
            let start = fetched.branch(&branch).map(str::to_owned);
            if start.is_none() && !options.create {
                return Err(Error::NoDefaultBranch {
                    url: url.to_owned(),
                });
            }
            (Some(branch), start)
        }
        Revision::Branch(branch) => {
            let start = fetched.branch(branch).map(str::to_owned);
            if start.is_none() && !options.create {
                return Err(Error::BranchNotFound {
                    url: url.to_owned(),
                    branch: branch.clone(),
                });
            }
            (Some(branch.clone()), start)
        }
        Revision::Tag(tag) => {
            if !fetched.refs.contains_key(&format!("refs/tags/{tag}")) {
                return Err(Error::TagNotFound {
                    url: url.to_owned(),
                    tag: tag.clone(),
                });
            }
            (None, fetched.refs.get(&format!("refs/tags/{tag}")).cloned())
        }
        Revision::Commit(commit) => (None, Some(commit.clone())),
    };

    // A repository that borrows the cache's objects. Nothing reads it
    // before this function returns, so its files are written in place, and
    // only the directories git cannot do without are made now: creating
    // files and directories is most of what a checkout costs.
    fs::create_dir_all(path).map_err(io)?;
    let git_dir = path.join(".git");
    fs::create_dir_all(git_dir.join("objects/info")).map_err(io)?;
    fs::write(path.join(MARKER), format!("{}\n", cli::redact_url(origin))).map_err(io)?;
    fs::create_dir_all(git_dir.join("refs/heads")).map_err(io)?;
    let objects = fetched.objects_dir();
    let objects = objects.canonicalize().unwrap_or(objects);
    fs::write(
        git_dir.join("objects/info/alternates"),
        format!("{}\n", objects.display()),
    )
    .map_err(io)?;
    // A shallow cache makes a shallow checkout: git must know where the
    // history it can see ends.
    let shallow = fetched.repo_dir.join("shallow");
    if shallow.is_file() {
        fs::copy(&shallow, git_dir.join("shallow")).map_err(io)?;
    }
    let author = options.author.clone().unwrap_or_else(Identity::kargo);
    // A checkout of a blobless cache is a partial clone itself: git fetches
    // the file contents it writes from `origin` (format version 1 is what
    // git requires for the extension). A checkout lives for one promotion:
    // no reflogs, whose files and directories every commit and push would
    // otherwise create.
    let mut config = format!(
        "[core]\n\trepositoryformatversion = {}\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = false\n",
        u8::from(fetched.partial)
    );
    if let Some(patterns) = &sparse {
        config.push_str(
            "\tsparseCheckout = true\n\tsparseCheckoutCone = true\n[index]\n\tsparse = true\n",
        );
        fs::create_dir_all(git_dir.join("info")).map_err(io)?;
        fs::write(git_dir.join("info/sparse-checkout"), patterns).map_err(io)?;
    }
    let _ = write!(
        config,
        "[remote \"origin\"]\n\turl = {}\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n[user]\n\tname = {}\n\temail = {}\n",
        quote_config(origin),
        quote_config(&author.name),
        quote_config(&author.email),
    );
    if fetched.partial {
        config.push_str(
            "[remote \"origin\"]\n\tpromisor = true\n\tpartialclonefilter = blob:none\n[extensions]\n\tpartialClone = origin\n",
        );
    }
    if options.insecure_skip_tls_verify {
        config.push_str("[http]\n\tsslVerify = false\n");
    }
    // A checkout lives for one promotion and holds a handful of objects of
    // its own: no automatic maintenance, which git would otherwise start
    // as a separate process after every commit, rebase and merge.
    config.push_str("[gc]\n\tauto = 0\n[maintenance]\n\tauto = false\n");
    fs::write(git_dir.join("config"), config).map_err(io)?;
    let initial = branch.as_deref().unwrap_or("main");
    fs::write(git_dir.join("HEAD"), format!("ref: refs/heads/{initial}\n")).map_err(io)?;

    // Credentials serve the fetches of file contents a partial checkout
    // makes while writing its working tree, and those of submodules.
    let mut git = Git::new(path)
        .with_credentials(
            &git_dir,
            origin,
            credentials.filter(|_| fetched.partial || options.recurse_submodules),
        )
        .map_err(git_err)?;
    let Some(start) = start else {
        // A branch that the remote does not have: an orphan with one empty
        // commit, pushed so that the branch exists from now on.
        let branch = branch.expect("only branches can be missing on the remote");
        git.identity(&author)
            .run(["commit", "-q", "--allow-empty", "-m", "Initial commit"])
            .map_err(git_err)?;
        crate::push::push_blocking(
            path,
            &crate::push::Options::default()
                .with_target(crate::push::Target::Branch(Some(branch.clone()))),
            credentials,
        )
        .map_err(Box::new)?;
        let commit = Git::new(path).run(["rev-parse", "HEAD"]).map_err(git_err)?;
        return Ok(Outcome {
            commit,
            branch: Some(branch),
            created: true,
        });
    };

    let is_full_id = start.len() == 40 && start.bytes().all(|b| b.is_ascii_hexdigit());
    let commit = if branch.is_some() && is_full_id {
        // A branch tip as the remote advertised it.
        Ok(start.clone())
    } else {
        git.run([
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{start}^{{commit}}"),
        ])
    };
    let commit = commit.map_err(|_| match &options.revision {
        Revision::Tag(tag) => Error::TagNotFound {
            url: url.to_owned(),
            tag: tag.clone(),
        },
        Revision::Commit(c) => Error::CommitNotFound {
            url: url.to_owned(),
            commit: c.clone(),
        },
        _ => Error::CommitNotFound {
            url: url.to_owned(),
            commit: start.clone(),
        },
    })?;
    match &branch {
        Some(branch) => {
            // The remote-tracking branch in `packed-refs` (no directories).
            fs::write(
                git_dir.join("packed-refs"),
                format!("# pack-refs with: peeled fully-peeled sorted \n{commit} refs/remotes/origin/{branch}\n"),
            )
            .map_err(io)?;
            let local = git_dir.join("refs/heads").join(branch);
            if let Some(parent) = local.parent() {
                fs::create_dir_all(parent).map_err(io)?;
            }
            fs::write(local, format!("{commit}\n")).map_err(io)?;
        }
        None => {
            fs::write(git_dir.join("HEAD"), format!("{commit}\n")).map_err(io)?;
        }
    }
    // Writes the index and the (possibly sparse) working tree: in-process
    // when the cache holds every file's contents and nothing needs git's
    // filters, and otherwise with git.
    let written = if fetched.partial {
        worktree::Outcome::NeedsGit("a blobless cache fetches contents through git")
    } else {
        worktree::write(&fetched.repo_dir, &commit, path, cone.as_ref()).map_err(io)?
    };
    if let worktree::Outcome::NeedsGit(reason) = written {
        tracing::debug!(path = %path.display(), reason, "checking out with git");
        git.run(["read-tree", "-u", "--reset", "HEAD"])
            .map_err(git_err)?;
    }
    if options.recurse_submodules {
        // `init` writes each submodule's URL, relative ones resolved
        // against `origin`, into the configuration: each gets the
        // credentials for its own URL.
        git.run(["submodule", "init", "--quiet"]).map_err(git_err)?;
        if let Some(lookup) = &options.submodule_credentials {
            let listed = git
                .run(["config", "--get-regexp", r"^submodule\..*\.url$"])
                .unwrap_or_default();
            for url in listed
                .lines()
                .filter_map(|l| l.split_once(' ').map(|(_, u)| u))
            {
                let found = lookup.get(url);
                git = git
                    .with_credentials(&git_dir, url, found.as_ref())
                    .map_err(git_err)?;
            }
        }
        git.run(["submodule", "update", "--init", "--recursive", "--quiet"])
            .map_err(git_err)?;
    }
    Ok(Outcome {
        commit,
        branch,
        created: false,
    })
}

fn quote_config(value: &str) -> String {
    let escaped = value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', " ");
    format!("\"{escaped}\"")
}

/// The path components of each sparse directory, checked to stay inside
/// the repository and to hold no pattern characters.
fn cone_dirs(dirs: &[String]) -> Result<Vec<Vec<String>>, Error> {
    dirs.iter()
        .map(|dir| {
            let parts: Vec<String> = dir
                .split('/')
                .filter(|p| !p.is_empty() && *p != ".")
                .map(str::to_owned)
                .collect();
            let invalid = parts.is_empty()
                || dir.starts_with('/')
                || parts
                    .iter()
                    .any(|p| p == ".." || p.contains(['*', '?', '[', '\\', '\n']));
            if invalid {
                return Err(Error::InvalidSparsePath { path: dir.clone() });
            }
            Ok(parts)
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cone_patterns_include_parents_of_nested_directories() {
        let dirs = cone_dirs(&["a/b".to_owned(), "c".to_owned(), "a/d/".to_owned()]).unwrap();
        let p = Cone::new(&dirs).patterns();
        assert_eq!(p, "/*\n!/*/\n/a/\n!/a/*/\n/a/b/\n/a/d/\n/c/\n");
        // A directory listed in full is not also a parent.
        let dirs = cone_dirs(&["a".to_owned(), "a/b/c".to_owned()]).unwrap();
        assert_eq!(Cone::new(&dirs).patterns(), "/*\n!/*/\n/a/\n");
    }

    #[test]
    fn sparse_paths_must_stay_inside() {
        assert!(cone_dirs(&["../x".to_owned()]).is_err());
        assert!(cone_dirs(&["/x".to_owned()]).is_err());
        assert!(cone_dirs(&["a/*".to_owned()]).is_err());
    }
}
