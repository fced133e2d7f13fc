//! Tagging the commit a working tree is on.

use std::path::{Path, PathBuf};

use crate::cli::{self, Git};

/// What [`tag()`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outcome {
    /// The commit tagged.
    pub commit: String,
}

/// The error returned by [`tag()`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The tag exists and `force` is off.
    #[error("tag {tag:?} already exists in {path}")]
    Exists {
        /// The working tree.
        path: PathBuf,
        /// The tag.
        tag: String,
    },
    /// A git command failed.
    #[error("tagging in {path}: {source}")]
    Git {
        /// The working tree.
        path: PathBuf,
        /// The failed command.
        source: cli::Error,
    },
}

impl From<Error> for kargo_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Exists { tag, .. } => kargo_core::Error::AlreadyExists {
                what: "tag",
                name: tag,
            },
            other => kargo_core::Error::generic("git-tag", other),
        }
    }
}

/// Creates the annotated tag `name` with `message` on `HEAD` of the
/// working tree at `path`; `force` replaces an existing tag. Blocking.
pub fn tag(path: &Path, name: &str, message: &str, force: bool) -> Result<Outcome, Error> {
    let err = |source| Error::Git {
        path: path.to_owned(),
        source,
    };
    let git = Git::new(path);
    let exists = git
        .status(["rev-parse", "-q", "--verify", &format!("refs/tags/{name}")])
        .map_err(err)?;
    if exists && !force {
        return Err(Error::Exists {
            path: path.to_owned(),
            tag: name.to_owned(),
        });
    }
    let mut args = vec!["tag", "-a", "-m", message];
    if force {
        args.push("-f");
    }
    args.extend(["--", name]);
    git.run(&args).map_err(err)?;
    let commit = git.run(["rev-parse", "HEAD"]).map_err(err)?;
    Ok(Outcome { commit })
}
