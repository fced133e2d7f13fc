//! The shared work directory of a promotion, and the rule that every path a
//! step is given stays inside it.

use std::io;
use std::path::{Component, Path, PathBuf};

/// The work directory that every step of one promotion shares.
///
/// Step configs name paths relative to it. [`Workspace::resolve`] turns such
/// a path into an absolute one and refuses any path that would leave the
/// workspace: absolute paths, `..` components that climb above the root, and
/// symbolic links (anywhere along the path) that point outside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    root: PathBuf,
}

/// A path that would leave the workspace, or that cannot be checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// The path is absolute.
    #[error("path `{path}` is absolute; paths must be relative to the work directory")]
    Absolute {
        /// The path as given.
        path: String,
    },
    /// The path climbs out of the workspace with `..` or through a symlink.
    #[error("path `{path}` leaves the work directory")]
    Escapes {
        /// The path as given.
        path: String,
    },
    /// The path is empty.
    #[error("path is empty")]
    Empty,
    /// The file system could not be read while checking the path.
    #[error("cannot check path `{path}`: {source}")]
    Io {
        /// The path as given.
        path: String,
        /// The I/O error.
        source: io::Error,
    },
}

impl Workspace {
    /// A workspace rooted at `root`, which must exist. The root is
    /// canonicalized so that later symlink checks compare real paths.
    pub fn new(root: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Workspace {
            root: root.as_ref().canonicalize()?,
        })
    }

    /// The (canonical) root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves `path` (relative to the root) to an absolute path inside
    /// the workspace. The target need not exist; each existing prefix of it
    /// is checked so that a symlink cannot lead outside.
    pub fn resolve(&self, path: impl AsRef<Path>) -> Result<PathBuf, PathError> {
        let given = path.as_ref();
        let shown = || given.display().to_string();
        if given.as_os_str().is_empty() {
            return Err(PathError::Empty);
        }
        if given.is_absolute() || given.has_root() {
            return Err(PathError::Absolute { path: shown() });
        }
        let mut lexical = PathBuf::new();
        for component in given.components() {
            match component {
                Component::Normal(part) => lexical.push(part),
                Component::CurDir => {}
                Component::ParentDir => {
                    if !lexical.pop() {
                        return Err(PathError::Escapes { path: shown() });
                    }
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Err(PathError::Absolute { path: shown() });
                }
            }
        }
        let full = self.root.join(&lexical);
        // Walk down the existing part of the path, resolving symlinks.
        let mut real = self.root.clone();
        for part in lexical.components() {
            let next = real.join(part);
            match std::fs::symlink_metadata(&next) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    let target = next.canonicalize().map_err(|source| PathError::Io {
                        path: shown(),
                        source,
                    });
                    match target {
                        Ok(target) if target.starts_with(&self.root) => real = target,
                        Ok(_) => return Err(PathError::Escapes { path: shown() }),
                        // A dangling link: where it points cannot be trusted.
                        Err(_) => return Err(PathError::Escapes { path: shown() }),
                    }
                }
                Ok(_) => real = next,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(full),
                Err(source) => {
                    return Err(PathError::Io {
                        path: shown(),
                        source,
                    });
                }
            }
        }
        Ok(full)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws() -> (tempfile::TempDir, Workspace) {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::new(dir.path()).unwrap();
        (dir, ws)
    }

    #[test]
    fn relative_paths_resolve_inside_root() {
        let (_dir, ws) = ws();
        let p = ws.resolve("a/./b/../c.yaml").unwrap();
        assert_eq!(p, ws.root().join("a/c.yaml"));
    }

    #[test]
    fn parent_components_above_root_are_rejected() {
        let (_dir, ws) = ws();
        assert!(matches!(ws.resolve("../x"), Err(PathError::Escapes { .. })));
        assert!(matches!(
            ws.resolve("a/../../x"),
            Err(PathError::Escapes { .. })
        ));
    }

    #[test]
    fn absolute_paths_are_rejected() {
        let (_dir, ws) = ws();
        assert!(matches!(
            ws.resolve("/etc/passwd"),
            Err(PathError::Absolute { .. })
        ));
    }

    #[test]
    fn symlinks_leading_outside_are_rejected() {
        let (dir, ws) = ws();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
        let err = ws.resolve("link/file.txt").unwrap_err();
        assert!(matches!(err, PathError::Escapes { .. }), "{err}");
    }

    #[test]
    fn symlinks_inside_the_workspace_are_followed() {
        let (dir, ws) = ws();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("link")).unwrap();
        assert_eq!(ws.resolve("link/f").unwrap(), ws.root().join("link/f"));
    }
}
