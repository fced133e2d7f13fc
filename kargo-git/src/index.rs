//! Git's index file, written in-process for a fresh checkout.
//!
//! Format version 2, or 3 when an entry carries the skip-worktree flag, as
//! `gitformat-index(5)` lays it out. A sparse index — one where each
//! directory outside the sparse-checkout cone is a single entry pointing at
//! its tree — ends with the `sdir` extension that tells git so. gix can read
//! such an index but not make one, which is why this module exists.

use std::path::Path;

use sha1::{Digest, Sha1};

use crate::cache::write_unsynced;

/// The mode of a sparse-directory entry.
pub(crate) const SPARSE_DIRECTORY: u32 = 0o040000;

/// One entry of the index.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The path relative to the working tree, `/`-separated; a sparse
    /// directory's ends with `/`.
    pub(crate) path: Vec<u8>,
    /// `0o100644`, `0o100755`, `0o120000` or [`SPARSE_DIRECTORY`].
    pub(crate) mode: u32,
    /// The blob (or, for a sparse directory, the tree).
    pub(crate) id: gix::ObjectId,
    /// What the file looked like when it was written.
    pub(crate) stat: Stat,
}

impl Entry {
    /// A directory outside the cone, which the working tree leaves out.
    pub(crate) fn sparse_directory(mut path: Vec<u8>, tree: gix::ObjectId) -> Self {
        path.push(b'/');
        Entry {
            path,
            mode: SPARSE_DIRECTORY,
            id: tree,
            stat: Stat::default(),
        }
    }

    fn skips_worktree(&self) -> bool {
        self.mode == SPARSE_DIRECTORY
    }
}

/// The file-system facts git compares to tell whether a file changed.
pub(crate) type Stat = gix::index::entry::Stat;

/// The [`Stat`] of a file, from its `lstat` (Unix only).
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
pub(crate) fn stat_from(meta: &std::fs::Metadata) -> Option<Stat> {
    #[cfg(unix)]
    {
        use gix::index::entry::stat::Time;
        use std::os::unix::fs::MetadataExt;
        Some(Stat {
            mtime: Time {
                secs: meta.mtime() as u32,
                nsecs: meta.mtime_nsec() as u32,
            },
            ctime: Time {
                secs: meta.ctime() as u32,
                nsecs: meta.ctime_nsec() as u32,
            },
            dev: meta.dev() as u32,
            ino: meta.ino() as u32,
            uid: meta.uid(),
            gid: meta.gid(),
            size: meta.size() as u32,
        })
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

/// Serialises `entries` (in any order) as an index file, marked as holding
/// the tree of `commit` when one is given.
pub(crate) fn encode(mut entries: Vec<Entry>, commit: Option<&str>) -> std::io::Result<Vec<u8>> {
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let too_many = || std::io::Error::other("too many index entries");
    let count = u32::try_from(entries.len()).map_err(|_| too_many())?;
    let sparse = entries.iter().any(Entry::skips_worktree);
    let version: u32 = if sparse { 3 } else { 2 };
    let mut out = Vec::with_capacity(32 + entries.len() * 96);
    out.extend_from_slice(b"DIRC");
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    for entry in &entries {
        let start = out.len();
        let s = entry.stat;
        for field in [
            s.ctime.secs,
            s.ctime.nsecs,
            s.mtime.secs,
            s.mtime.nsecs,
            s.dev,
            s.ino,
            entry.mode,
            s.uid,
            s.gid,
            s.size,
        ] {
            out.extend_from_slice(&field.to_be_bytes());
        }
        out.extend_from_slice(entry.id.as_bytes());
        // Flags: extended (0x4000), stage 0, then the name's length, capped
        // at 0xFFF for longer names.
        let name_len = u16::try_from(entry.path.len().min(0xFFF)).unwrap_or(0xFFF);
        if entry.skips_worktree() {
            out.extend_from_slice(&(0x4000 | name_len).to_be_bytes());
            // Extended flags: skip-worktree.
            out.extend_from_slice(&0x4000u16.to_be_bytes());
        } else {
            out.extend_from_slice(&name_len.to_be_bytes());
        }
        out.extend_from_slice(&entry.path);
        // One to eight NULs: the name stays terminated and the entry's
        // length becomes a multiple of eight.
        let padding = 8 - (out.len() - start) % 8;
        out.resize(out.len() + padding, 0);
    }
    if sparse {
        out.extend_from_slice(b"sdir");
        out.extend_from_slice(&0u32.to_be_bytes());
    }
    if let Some(commit) = commit.filter(|c| c.len() == 40) {
        out.extend_from_slice(&holds_extension(commit));
    }
    let checksum = Sha1::digest(&out);
    out.extend_from_slice(&checksum);
    Ok(out)
}

/// Writes `entries` as the index of the repository at `git_dir` (all at
/// once, by rename), marked as holding the tree of `commit`: the index that
/// [`holds_tree_of()`] recognises until something else writes the index.
pub(crate) fn write(git_dir: &Path, entries: Vec<Entry>, commit: &str) -> std::io::Result<()> {
    write_unsynced(&git_dir.join("index"), &encode(entries, Some(commit))?)
}

/// The optional extension that records which commit's tree the index
/// holds. Its signature starts with a capital letter, which tells git it
/// may ignore it; git drops it whenever it writes the index itself.
const HOLDS: &[u8; 4] = b"KRGH";

/// The extension's length on disk: signature, size, a 40-digit id.
const HOLDS_LEN: usize = 4 + 4 + 40;

/// Whether the index of the repository at `git_dir` is the one [`write()`]
/// wrote for `head`: the exact tree of `head`, with nothing staged since.
pub(crate) fn holds_tree_of(git_dir: &Path, head: &str) -> bool {
    let Ok(mut file) = std::fs::File::open(git_dir.join("index")) else {
        return false;
    };
    let mut tail = [0u8; HOLDS_LEN + 20];
    let read = std::io::Seek::seek(&mut file, std::io::SeekFrom::End(-(tail.len() as i64)))
        .and_then(|_| std::io::Read::read_exact(&mut file, &mut tail));
    read.is_ok() && tail[..HOLDS_LEN] == holds_extension(head)[..]
}

fn holds_extension(commit: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(HOLDS_LEN);
    out.extend_from_slice(HOLDS);
    out.extend_from_slice(&40u32.to_be_bytes());
    out.extend_from_slice(commit.as_bytes());
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn id(byte: u8) -> gix::ObjectId {
        gix::ObjectId::from_bytes_or_panic(&[byte; 20])
    }

    #[test]
    fn gix_reads_back_a_sparse_index() {
        let file = Entry {
            path: b"a/values.yaml".to_vec(),
            mode: 0o100644,
            id: id(1),
            stat: Stat {
                size: 12,
                mtime: gix::index::entry::stat::Time {
                    secs: 1_700_000_000,
                    nsecs: 5,
                },
                ..Stat::default()
            },
        };
        let tool = Entry {
            path: b"a/run.sh".to_vec(),
            mode: 0o100755,
            id: id(2),
            stat: Stat::default(),
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        let commit = "0123456789012345678901234567890123456789";
        write(
            dir.path(),
            vec![Entry::sparse_directory(b"b".to_vec(), id(3)), file, tool],
            commit,
        )
        .unwrap();
        assert!(holds_tree_of(dir.path(), commit));
        assert!(!holds_tree_of(dir.path(), &commit.replace('0', "f")));
        let index = gix::index::File::at(
            &path,
            gix::hash::Kind::Sha1,
            false,
            gix::index::decode::Options::default(),
        )
        .unwrap();
        let state: &gix::index::State = &index;
        assert!(state.is_sparse());
        let entries: Vec<_> = state
            .entries()
            .iter()
            .map(|e| {
                (
                    e.path(state).to_string(),
                    e.mode.bits(),
                    e.id,
                    e.flags.contains(gix::index::entry::Flags::SKIP_WORKTREE),
                    e.stat.size,
                )
            })
            .collect();
        assert_eq!(
            entries,
            [
                ("a/run.sh".to_owned(), 0o100755, id(2), false, 0),
                ("a/values.yaml".to_owned(), 0o100644, id(1), false, 12),
                ("b/".to_owned(), 0o040000, id(3), true, 0),
            ]
        );
    }

    #[test]
    fn a_full_index_is_version_two_without_the_sparse_extension() {
        let bytes = encode(
            vec![Entry {
                path: b"x".to_vec(),
                mode: 0o100644,
                id: id(1),
                stat: Stat::default(),
            }],
            None,
        )
        .unwrap();
        assert_eq!(&bytes[4..8], &2u32.to_be_bytes());
        assert!(!bytes.windows(4).any(|w| w == b"sdir"));
        // Header, one 62-byte entry with a 1-byte name padded to 64, the
        // 20-byte checksum.
        assert_eq!(bytes.len(), 12 + 64 + 20);
    }
}
