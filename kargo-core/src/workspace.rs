//! The shared work directory of a promotion, and the rule that every path a
//! step is given stays inside it.

use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

/// The largest file a step reads when the host sets no other limit:
/// 64 MiB. See [`Workspace::with_max_file_bytes`] and
/// [`MAX_FILE_BYTES_ENV`].
pub const DEFAULT_MAX_FILE_BYTES: u64 = 64 << 20;

/// The environment variable that changes the default file size limit of
/// every [`Workspace::new`] (a number of bytes), for hosts such as the
/// `kargo` command that set no limit of their own. A value that is not a
/// number is ignored (with a warning).
pub const MAX_FILE_BYTES_ENV: &str = "KARGO_MAX_FILE_BYTES";

fn default_max_file_bytes() -> u64 {
    match std::env::var(MAX_FILE_BYTES_ENV) {
        Ok(value) => value.trim().parse().unwrap_or_else(|_| {
            tracing::warn!(variable = MAX_FILE_BYTES_ENV, %value, "not a number of bytes; ignored");
            DEFAULT_MAX_FILE_BYTES
        }),
        Err(_) => DEFAULT_MAX_FILE_BYTES,
    }
}

/// The work directory that every step of one promotion shares.
///
/// Step configs name paths relative to it. [`Workspace::resolve`] turns such
/// a path into an absolute one and refuses any path that would leave the
/// workspace: absolute paths, `..` components that climb above the root, and
/// symbolic links (anywhere along the path) that point outside it.
///
/// It also bounds what a step reads: [`Workspace::read_file`] reads only
/// regular files (a FIFO or a device would block or never end) of at most
/// [`Workspace::max_file_bytes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    root: PathBuf,
    max_file_bytes: u64,
}

/// A file a step cannot read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The path is not a regular file (a directory, FIFO, socket or device).
    #[error("cannot read `{path}`: not a regular file ({what})")]
    NotRegular {
        /// The path as configured.
        path: String,
        /// What it is instead.
        what: &'static str,
    },
    /// The file is larger than the limit.
    #[error(
        "cannot read `{path}`: the file is larger than the limit of {limit} bytes \
         (change it with the host's file size limit, see the README's Limits)"
    )]
    TooLarge {
        /// The path as configured.
        path: String,
        /// The limit, in bytes.
        limit: u64,
    },
    /// The file could not be read.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The path as configured.
        path: String,
        /// The I/O error.
        source: io::Error,
    },
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
    /// canonicalized so that later symlink checks compare real paths. Its
    /// file size limit is [`MAX_FILE_BYTES_ENV`] when set, else
    /// [`DEFAULT_MAX_FILE_BYTES`].
    pub fn new(root: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Workspace {
            root: root.as_ref().canonicalize()?,
            max_file_bytes: default_max_file_bytes(),
        })
    }

    /// Sets the largest file, in bytes, a step reads through
    /// [`Workspace::read_file`] (default [`DEFAULT_MAX_FILE_BYTES`]).
    pub fn with_max_file_bytes(mut self, limit: u64) -> Self {
        self.max_file_bytes = limit;
        self
    }

    /// The largest file, in bytes, a step reads.
    pub fn max_file_bytes(&self) -> u64 {
        self.max_file_bytes
    }

    /// Reads the file at `abs` (a path [`Workspace::resolve`] returned;
    /// `shown` is the path as configured, for errors): only a regular file
    /// of at most [`Workspace::max_file_bytes`], never more than that many
    /// bytes even if it grows while being read. Blocking.
    pub fn read_file(&self, abs: &Path, shown: &str) -> Result<Vec<u8>, ReadError> {
        let (file, size) = self.open_regular(abs, shown)?;
        if size > self.max_file_bytes {
            return Err(self.too_large(shown));
        }
        let io = |source| ReadError::Io {
            path: shown.to_owned(),
            source,
        };
        let capacity = usize::try_from(size).unwrap_or(usize::MAX);
        let mut bytes = Vec::with_capacity(capacity);
        file.take(self.max_file_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > self.max_file_bytes {
            return Err(self.too_large(shown));
        }
        Ok(bytes)
    }

    /// Opens the regular file at `abs` for a reader that streams it
    /// (copies, archives), after the regular-file check of
    /// [`Workspace::read_file`] but without its size limit: what streams
    /// holds little in memory. Returns it with its size.
    pub fn open_regular(&self, abs: &Path, shown: &str) -> Result<(std::fs::File, u64), ReadError> {
        let io = |source| ReadError::Io {
            path: shown.to_owned(),
            source,
        };
        // Checked before opening: opening a FIFO for reading blocks until
        // someone writes to it.
        let meta = std::fs::metadata(abs).map_err(io)?;
        check_regular(&meta, shown)?;
        let file = std::fs::File::open(abs).map_err(io)?;
        // And again on what was opened, should the path have changed.
        let meta = file.metadata().map_err(io)?;
        check_regular(&meta, shown)?;
        Ok((file, meta.len()))
    }

    fn too_large(&self, shown: &str) -> ReadError {
        ReadError::TooLarge {
            path: shown.to_owned(),
            limit: self.max_file_bytes,
        }
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

/// Refuses anything but a regular file, naming what it is.
fn check_regular(meta: &std::fs::Metadata, shown: &str) -> Result<(), ReadError> {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    let what = if kind.is_file() {
        return Ok(());
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() || kind.is_char_device() {
        "a device"
    } else {
        "a special file"
    };
    Err(ReadError::NotRegular {
        path: shown.to_owned(),
        what,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_under_the_limit_are_read() {
        let (dir, ws) = ws();
        let ws = ws.with_max_file_bytes(8);
        std::fs::write(dir.path().join("small"), "12345678").unwrap();
        std::fs::write(dir.path().join("big"), "123456789").unwrap();
        let small = ws.resolve("small").unwrap();
        assert_eq!(ws.read_file(&small, "small").unwrap(), b"12345678");
        let err = ws
            .read_file(&ws.resolve("big").unwrap(), "big")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot read `big`: the file is larger than the limit of 8 bytes \
             (change it with the host's file size limit, see the README's Limits)"
        );
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // A FIFO nobody writes to would block a reader forever.
        let err = ws.read_file(&fifo, "fifo").unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot read `fifo`: not a regular file (a FIFO)"
        );
        let err = ws.read_file(dir.path(), ".").unwrap_err();
        assert!(
            matches!(
                err,
                ReadError::NotRegular {
                    what: "a directory",
                    ..
                }
            ),
            "{err}"
        );
    }

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
