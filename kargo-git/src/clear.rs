//! Removing every file from a working tree.

use std::path::{Path, PathBuf};

use crate::cli::{self, Git};

/// The error returned by [`clear()`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A git command failed.
    #[error("clearing {path}: {source}")]
    Git {
        /// The working tree.
        path: PathBuf,
        /// The failed command.
        source: cli::Error,
    },
}

impl From<Error> for kargo_core::Error {
    fn from(e: Error) -> Self {
        kargo_core::Error::generic("git-clear", e)
    }
}

/// Removes every tracked and untracked (not ignored) file of the working
/// tree at `path`, leaving `.git` alone, and stages the removals, as Kargo's
/// `git-clear` does. Blocking.
pub fn clear(path: &Path) -> Result<(), Error> {
    let err = |source| Error::Git {
        path: path.to_owned(),
        source,
    };
    let git = Git::new(path);
    git.run(["add", "--all", "."]).map_err(err)?;
    git.run(["rm", "-r", "-f", "-q", "--ignore-unmatch", "--", "."])
        .map_err(err)?;
    Ok(())
}
