//! Committing everything that changed in a working tree.

use std::path::{Path, PathBuf};

use crate::cli::{self, Git, Identity};
use crate::snapshot;

/// What [`commit()`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outcome {
    /// The commit `HEAD` points at afterwards (the new one, or the old one
    /// when nothing changed).
    pub commit: String,
    /// Whether a commit was made; `false` when the working tree had no
    /// changes (Kargo then reports the step as Skipped).
    pub created: bool,
}

/// The error returned by [`commit()`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A git command failed.
    #[error("committing in {path}: {source}")]
    Git {
        /// The working tree.
        path: PathBuf,
        /// The failed command.
        source: cli::Error,
    },
}

impl From<Error> for kargo_core::Error {
    fn from(e: Error) -> Self {
        kargo_core::Error::generic("git-commit", e)
    }
}

/// Stages every change in the working tree at `path` (additions, edits,
/// deletions) and commits it with `message`, as `author` when given and
/// otherwise as the checkout's configured identity. Makes no commit when
/// nothing changed. Blocking.
pub fn commit(path: &Path, message: &str, author: Option<&Identity>) -> Result<Outcome, Error> {
    let err = |source| Error::Git {
        path: path.to_owned(),
        source,
    };
    match snapshot::commit(path, message, author) {
        snapshot::Outcome::Committed(commit) => {
            return Ok(Outcome {
                commit,
                created: true,
            });
        }
        snapshot::Outcome::Unchanged(commit) => {
            return Ok(Outcome {
                commit,
                created: false,
            });
        }
        snapshot::Outcome::NeedsGit(reason) => {
            tracing::debug!(path = %path.display(), reason, "committing with git");
        }
    }
    Git::new(path).run(["add", "--all", "."]).map_err(err)?;
    let mut git = Git::new(path);
    if let Some(author) = author {
        git = git.identity(author);
    }
    // Commit straight away; only when git refuses is it asked whether
    // there was anything to commit.
    if let Err(e) = git.run(["commit", "-q", "--no-verify", "-m", message]) {
        let unchanged = Git::new(path)
            .status(["diff", "--cached", "--quiet", "--exit-code"])
            .map_err(err)?;
        if !unchanged {
            return Err(err(e));
        }
        let commit = cli::head_commit(path).map_err(err)?;
        return Ok(Outcome {
            commit,
            created: false,
        });
    }
    let commit = cli::head_commit(path).map_err(err)?;
    Ok(Outcome {
        commit,
        created: true,
    })
}
