//! Locks between the processes of one host that share a store without
//! leases (a SQLite file): one OS file lock (`flock`) per task, held while
//! the task runs.
//!
//! The kernel drops a process's locks when it dies, a `kill -9` included,
//! so the next process takes over at once; leases (the replicas' way, over
//! PostgreSQL) would make it wait for the lease to run out. Lock files are
//! opened close-on-exec, so a `git` a step started does not keep one held
//! after its runner died.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;

use crate::{Error, Result};

/// The directory of the lock files, one per task key.
#[derive(Debug, Clone)]
pub(super) struct ProcessLocks {
    dir: PathBuf,
}

/// A task's lock, held until dropped.
#[derive(Debug)]
pub(super) struct ProcessLock {
    _file: File,
}

impl ProcessLocks {
    /// Locks kept in `dir` (created on first use).
    pub(super) fn new(dir: impl Into<PathBuf>) -> Self {
        ProcessLocks { dir: dir.into() }
    }

    /// The lock of task `key` (`stage/dev`, `discover/app`), or `None`
    /// while another process (or another controller of this one) holds
    /// it. Never waits.
    pub(super) fn try_lock(&self, key: &str) -> Result<Option<ProcessLock>> {
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let path = self.dir.join(file_name(key));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(ProcessLock { _file: file })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(Error::io(&path, e)),
        }
    }
}

/// `key` as a file name: percent-encoded (kargo-core's URL segment
/// encoding keeps no `/`), so distinct keys never share a file.
fn file_name(key: &str) -> String {
    format!("{}.lock", kargo_core::urls::percent_encode(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_refused_until_dropped_and_keys_do_not_collide() {
        let dir = tempfile::tempdir().expect("tempdir");
        let locks = ProcessLocks::new(dir.path().join("locks"));
        let held = locks.try_lock("stage/dev").expect("lock").expect("free");
        assert!(locks.try_lock("stage/dev").expect("lock").is_none(), "held");
        assert!(
            locks.try_lock("stage_dev").expect("lock").is_some(),
            "another key"
        );
        drop(held);
        assert!(locks.try_lock("stage/dev").expect("lock").is_some());
        assert_eq!(file_name("verify/dev"), "verify%2Fdev.lock");
    }
}
