//! Writing files all at once: the one atomic write of kargo-rs, used by
//! the steps for the files they produce and by kargo-git for the packs,
//! indexes and `HEAD` it writes itself.
//!
//! A write goes to a temporary file beside its target, is flushed, synced
//! to disk (`fsync`) unless asked not to, and is renamed over the target.
//! Readers see the old file or the new one, never a mix; a failed write
//! leaves the old file as it was and no temporary file behind; and a
//! process killed mid-write (`kill -9`) leaves one of the two as well.
//!
//! # Durability
//! The sync matters only when the machine itself stops (power loss, a
//! kernel crash): without it, the rename may reach the disk before the
//! data, and the file is found empty or partial after a reboot. The steps'
//! files are [`Durability::Synced`] (the default). kargo-git's own writes
//! are [`Durability::Unsynced`], as git's default (`core.fsync`) leaves
//! the same files (new objects, the index, `HEAD`) unsynced: they sit on
//! every checkout and commit, where a sync costs about 9 ms a file against
//! well under 1 ms for the write, and the four files of a checkout and an
//! in-process commit would nearly double a warm-cache promotion (measured with
//! `cargo bench -p kargo-core --bench atomic_write`; the README's
//! Benchmarks table has the numbers). The directory is not synced in
//! either case, so after a machine crash a write may be lost as a whole,
//! but a synced one is never seen in part.

use std::fs::Permissions;
use std::io::{self, Write};
use std::path::Path;

/// Whether a write waits for the disk before its rename (see the
/// [module docs](self#durability)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// Synced: after a machine crash the file is the old one or the new
    /// one (or, the directory not being synced, the old one again).
    #[default]
    Synced,
    /// Not synced: atomic for readers and for a killed process, but a
    /// machine crash may leave the file empty or partial. For files that
    /// can be written again, where the sync would cost more than a loss.
    Unsynced,
}

/// Settings for [`write_atomic_opts`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteOptions {
    /// The new file's permissions; `None` keeps the old file's mode when it
    /// exists, else gives the default of a new temporary file (`0600` on
    /// Unix).
    pub permissions: Option<Permissions>,
    /// Whether the data is synced before the rename.
    pub durability: Durability,
}

impl WriteOptions {
    /// Sets [`WriteOptions::permissions`].
    pub fn with_permissions(mut self, permissions: Option<Permissions>) -> Self {
        self.permissions = permissions;
        self
    }

    /// Sets [`WriteOptions::durability`].
    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }
}

/// Writes `contents` to `path` atomically and synced (see the
/// [module docs](self)), with `permissions` as [`WriteOptions::permissions`]
/// says.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("out.txt");
/// kargo_core::fs::write_atomic(&path, b"hello", None).unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"hello");
/// ```
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
    write_atomic_opts(
        path,
        reader,
        &WriteOptions::default().with_permissions(permissions),
    )
}

/// Writes what `reader` gives to `path` atomically, as `options` say.
pub fn write_atomic_opts(
    path: &Path,
    reader: &mut dyn io::Read,
    options: &WriteOptions,
) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let permissions = match &options.permissions {
        Some(p) => Some(p.clone()),
        None => match std::fs::metadata(path) {
            Ok(meta) => Some(meta.permissions()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        },
    };
    // Dropped on any error below: the temporary file goes with it.
    let mut tmp = tempfile::Builder::new()
        .prefix(".kargo-write-")
        .tempfile_in(dir)?;
    io::copy(reader, &mut tmp)?;
    tmp.flush()?;
    if options.durability == Durability::Synced {
        tmp.as_file().sync_all()?;
    }
    if let Some(permissions) = permissions {
        tmp.as_file().set_permissions(permissions)?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Read as _;
    use std::os::unix::fs::PermissionsExt;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

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
        assert_eq!(entries(dir.path()), ["f.txt"], "no temporary file is left");
    }

    #[test]
    fn given_permissions_win_over_the_old_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.sh");
        std::fs::write(&path, "old").unwrap();
        write_atomic(&path, b"new", Some(Permissions::from_mode(0o755))).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755);
    }

    #[test]
    fn unsynced_writes_are_atomic_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        std::fs::write(&path, "old").unwrap();
        let options = WriteOptions::default().with_durability(Durability::Unsynced);
        write_atomic_opts(&path, &mut &b"new"[..], &options).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(entries(dir.path()), ["index"]);
    }

    #[test]
    fn streams_from_a_reader() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        let mut reader = io::repeat(b'x').take(3 << 20);
        write_atomic_from(&path, &mut reader, None).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 3 << 20);
    }

    #[test]
    fn a_failing_reader_leaves_the_old_file_and_no_temporary() {
        struct Failing;
        impl io::Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("source broke"))
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.txt");
        std::fs::write(&path, "old").unwrap();
        let err = write_atomic_from(&path, &mut Failing, None).unwrap_err();
        assert_eq!(err.to_string(), "source broke");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(entries(dir.path()), ["f.txt"]);
    }

    #[test]
    fn fails_without_touching_anything_when_directory_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing/f.txt");
        assert!(write_atomic(&path, b"x", None).is_err());
        assert!(!dir.path().join("missing").exists());
    }
}
