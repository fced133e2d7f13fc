//! File helpers shared by the steps.

use std::fs::Permissions;
use std::io::{self, Write};
use std::path::Path;

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use kargo_core::step::StepError;

/// Writes `contents` to `path` atomically: into a temporary file in the same
/// directory, flushed to disk, then renamed over `path`. Readers see the
/// old file or the new one, never a mix; on error the old file is intact.
///
/// The new file gets `permissions` when given, else the old file's mode
/// when it exists, else the default of a new file.
pub fn write_atomic(
    path: &Path,
    contents: &[u8],
    permissions: Option<Permissions>,
) -> io::Result<()> {
    write_atomic_from(path, &mut { contents }, permissions)
}

/// [`write_atomic`] with the contents streamed from `reader`, so that a
/// large file is never held in memory.
pub fn write_atomic_from(
    path: &Path,
    reader: &mut dyn io::Read,
    permissions: Option<Permissions>,
) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let permissions = match permissions {
        Some(p) => Some(p),
        None => match std::fs::metadata(path) {
            Ok(meta) => Some(meta.permissions()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        },
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".kargo-write-")
        .tempfile_in(dir)?;
    io::copy(reader, &mut tmp)?;
    tmp.flush()?;
    tmp.as_file().sync_all()?;
    if let Some(permissions) = permissions {
        tmp.as_file().set_permissions(permissions)?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// A `.gitignore`-style matcher rooted at `root`: the `always` patterns
/// plus every line of `rules` that is neither blank nor a `#` comment.
/// A bad pattern is an unusable config value (`Failed`), naming the step
/// `kind`.
pub(crate) fn ignore_matcher(
    kind: &str,
    root: &Path,
    always: &[&str],
    rules: Option<&str>,
) -> Result<Gitignore, StepError> {
    let mut builder = GitignoreBuilder::new(root);
    let lines = rules.unwrap_or_default().lines().filter(|line| {
        let trimmed = line.trim();
        !trimmed.is_empty() && !trimmed.starts_with('#')
    });
    for line in always.iter().copied().chain(lines) {
        builder.add_line(None, line).map_err(|e| {
            StepError::failed(format!("{kind}: invalid ignore pattern `{line}`")).with_source(e)
        })?;
    }
    builder
        .build()
        .map_err(|e| StepError::failed(format!("{kind}: invalid ignore patterns")).with_source(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn replaces_contents_and_keeps_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.txt");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, Permissions::from_mode(0o640)).unwrap();
        write_atomic(&path, b"new", None).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }

    #[test]
    fn fails_without_touching_anything_when_directory_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing/f.txt");
        assert!(write_atomic(&path, b"x", None).is_err());
        assert!(!dir.path().join("missing").exists());
    }
}
