//! Running a child process: in its own process group, with optional
//! standard input, capped capture of its output, and a stop signal (or
//! dropping the future) killing the whole group, grandchildren included.
//!
//! The one runner of kargo-rs: the Terraform and render steps,
//! out-of-process custom steps and verification commands all go through
//! [`run`]. (kargo-git runs `git` itself, synchronously, on the blocking
//! pool.)
//!
//! ```
//! use kargo_core::process::{self, Cap, Caps};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let mut cmd = tokio::process::Command::new("sh");
//! cmd.args(["-c", "cat; echo done >&2"]);
//! let caps = Caps { stdout: Cap::head(1024), stderr: Cap::tail(1024) };
//! let out = process::run(cmd, Some(b"hello".to_vec()), caps, std::future::pending())
//!     .await
//!     .unwrap();
//! assert_eq!((out.code, out.stdout.as_str(), out.stderr.as_str()), (Some(0), "hello", "done\n"));
//! # });
//! ```

use std::future::Future;
use std::io;
use std::process::Stdio;

use rustix::process::{Pid, Signal, kill_process_group};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// How much of one output stream is kept, and which end of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cap {
    /// Bytes kept at most.
    pub bytes: usize,
    /// Keep the last bytes rather than the first ones (the end of a
    /// failing program's output usually says why).
    pub tail: bool,
}

impl Cap {
    /// The first `bytes` bytes.
    pub const fn head(bytes: usize) -> Cap {
        Cap { bytes, tail: false }
    }

    /// The last `bytes` bytes.
    pub const fn tail(bytes: usize) -> Cap {
        Cap { bytes, tail: true }
    }
}

/// What to keep of a process's output: beyond its cap, a stream is read
/// to its end and dropped, so a program that prints endlessly costs no
/// memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Standard output.
    pub stdout: Cap,
    /// Standard error.
    pub stderr: Cap,
}

/// What a finished process printed and how it exited.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Finished {
    /// The exit code; `None` when a signal ended the process.
    pub code: Option<i32>,
    /// Standard output, lossily decoded, capped.
    pub stdout: String,
    /// Whether standard output went beyond its cap (and `stdout` says, at
    /// the end it was cut, how much was dropped).
    pub stdout_truncated: bool,
    /// Standard error, lossily decoded, capped.
    pub stderr: String,
}

/// How a run ended without the process finishing on its own: one of two
/// ways, so callers match both.
#[derive(Debug)]
pub enum Interrupted {
    /// The process could not be started or waited for.
    Spawn(io::Error),
    /// `stop` completed first; the process group was killed.
    Stopped,
}

/// Runs `cmd` to completion with `stdin` written to its standard input
/// (standard input is empty without it), or until `stop` completes; then
/// the process group is killed. Dropping the returned future also kills the
/// group. `cmd`'s stdio and process group are set here.
pub async fn run(
    mut cmd: tokio::process::Command,
    stdin: Option<Vec<u8>>,
    caps: Caps,
    stop: impl Future<Output = ()>,
) -> Result<Finished, Interrupted> {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .process_group(0)
    .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(Interrupted::Spawn)?;
    // The child leads its own group: its pid is the group id.
    let mut group = GroupGuard(child.id().and_then(|id| Pid::from_raw(id as i32)));
    let input = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();

    let finished = {
        let feed = async move {
            if let (Some(mut pipe), Some(bytes)) = (input, stdin) {
                // A process that exits without reading its input closes
                // the pipe: that is its business, not an error.
                let _ = pipe.write_all(&bytes).await;
                let _ = pipe.shutdown().await;
            }
        };
        let work = async {
            tokio::join!(
                feed,
                read_capped(stdout, caps.stdout),
                read_capped(stderr, caps.stderr),
                child.wait(),
            )
        };
        tokio::select! {
            done = work => Some(done),
            () = stop => None,
        }
    };
    let Some(((), stdout, stderr, status)) = finished else {
        group.kill();
        // Reap the leader; the rest of the group dies with SIGKILL.
        let _ = child.wait().await;
        return Err(Interrupted::Stopped);
    };
    let status = status.map_err(Interrupted::Spawn)?;
    // The leader has exited and been reaped; its group id may be reused.
    group.disarm();
    let (stdout, stdout_dropped) = stdout;
    Ok(Finished {
        code: status.code(),
        stdout,
        stdout_truncated: stdout_dropped > 0,
        stderr: stderr.0,
    })
}

/// Kills the process group when dropped, unless disarmed.
#[derive(Debug)]
struct GroupGuard(Option<Pid>);

impl GroupGuard {
    fn kill(&mut self) {
        if let Some(pgid) = self.0.take() {
            // ESRCH (group already gone) is fine.
            let _ = kill_process_group(pgid, Signal::KILL);
        }
    }

    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads `reader` to its end, keeping what `cap` says, and notes how many
/// bytes were dropped (in the text, and as the count returned with it).
/// Read errors end the capture quietly: what was read is still worth
/// showing.
async fn read_capped<R: AsyncRead + Unpin>(reader: Option<R>, cap: Cap) -> (String, u64) {
    let Cap { bytes: cap, tail } = cap;
    let Some(mut reader) = reader else {
        return (String::new(), 0);
    };
    let mut kept = Vec::new();
    let mut dropped: u64 = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) if tail => {
                kept.extend_from_slice(&buf[..n]);
                if kept.len() > cap {
                    let excess = kept.len() - cap;
                    kept.drain(..excess);
                    dropped += excess as u64;
                }
            }
            Ok(n) => {
                let room = cap.saturating_sub(kept.len());
                let take = n.min(room);
                kept.extend_from_slice(&buf[..take]);
                dropped += (n - take) as u64;
            }
        }
    }
    let text = String::from_utf8_lossy(&kept).into_owned();
    let text = match (dropped, tail) {
        (0, _) => text,
        (n, true) => format!("[... {n} earlier bytes of output dropped]\n{text}"),
        (n, false) => format!("{text}\n[... {n} more bytes of output dropped]\n"),
    };
    (text, dropped)
}

/// Watching processes from tests: their pid files and whether they are
/// gone.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod testing {
    use std::path::Path;
    use std::time::Duration;

    /// Waits for the pid a script wrote to `path` (`echo $! > path`).
    pub(crate) async fn pid_in(path: &Path) -> i32 {
        loop {
            if let Ok(text) = std::fs::read_to_string(path)
                && let Ok(pid) = text.trim().parse()
            {
                return pid;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Whether `pid` runs: neither gone nor a zombie waiting to be reaped.
    fn alive(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            !stat
                .rsplit_once(") ")
                .is_some_and(|(_, s)| s.starts_with('Z'))
        })
    }

    /// Waits until `pid` no longer runs (a SIGKILL takes effect when the
    /// process is next scheduled), failing if it still runs after a
    /// minute.
    pub(crate) async fn assert_gone(pid: i32) {
        for _ in 0..6000 {
            if !alive(pid) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("process {pid} still runs");
    }

    /// Kills `pid` (a test's leftover) if it still runs.
    pub(crate) fn reap(pid: i32) {
        if let Some(pid) = rustix::process::Pid::from_raw(pid) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::testing::{assert_gone, pid_in, reap};
    use super::*;

    const CAPS: Caps = Caps {
        stdout: Cap::head(1024),
        stderr: Cap::tail(16),
    };

    fn sh(script: &str) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new("/bin/sh");
        cmd.arg("-c").arg(script);
        cmd
    }

    #[tokio::test]
    async fn stdin_reaches_the_process_and_stdout_comes_back() {
        let out = run(
            sh("cat; echo done >&2"),
            Some(b"{\"a\":1}".to_vec()),
            CAPS,
            std::future::pending(),
        )
        .await
        .unwrap();
        assert_eq!(out.code, Some(0));
        assert_eq!(out.stdout, "{\"a\":1}");
        assert_eq!(out.stderr, "done\n");
    }

    #[tokio::test]
    async fn a_stderr_tail_keeps_the_last_bytes() {
        let out = run(
            sh("echo first line that is long >&2; echo last words >&2; exit 4"),
            None,
            CAPS,
            std::future::pending(),
        )
        .await
        .unwrap();
        assert_eq!(out.code, Some(4));
        assert!(out.stderr.ends_with("last words\n"), "{}", out.stderr);
        assert!(out.stderr.starts_with("[... "), "{}", out.stderr);
        assert!(!out.stderr.contains("first"), "{}", out.stderr);
    }

    #[tokio::test]
    async fn a_process_that_ignores_its_input_is_not_an_error() {
        let big = vec![b'x'; 4 << 20];
        let out = run(sh("exit 0"), Some(big), CAPS, std::future::pending())
            .await
            .unwrap();
        assert_eq!(out.code, Some(0));
    }

    #[tokio::test]
    async fn stopping_kills_the_whole_group_grandchildren_included() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("sleep.pid");
        // The shell starts a grandchild that outlives any patience and
        // waits for it.
        let script = format!("sleep 1000 & echo $! > {}; wait", pid_file.display());
        let stop = async {
            // The timeout fires once the grandchild runs.
            pid_in(&pid_file).await;
        };
        let err = run(sh(&script), None, CAPS, stop).await.unwrap_err();
        assert!(matches!(err, Interrupted::Stopped), "{err:?}");
        let grandchild = pid_in(&pid_file).await;
        assert_gone(grandchild).await;
        reap(grandchild);
    }

    #[tokio::test]
    async fn long_output_is_capped_to_its_tail() {
        let caps = Caps {
            stdout: Cap::tail(64),
            stderr: Cap::head(64),
        };
        // 50 MB of `y` lines, then the line that says why.
        let script = "yes | head -c 50000000; echo last; yes e | head -c 1000 >&2; exit 2";
        let out = run(sh(script), None, caps, std::future::pending())
            .await
            .unwrap();
        assert_eq!(out.code, Some(2));
        assert!(out.stdout_truncated);
        assert!(out.stdout.ends_with("y\nlast\n"), "{}", out.stdout);
        assert!(
            out.stdout.starts_with("[... 49999941 earlier bytes"),
            "{}",
            out.stdout
        );
        assert!(out.stderr.starts_with("e\ne\n"), "{}", out.stderr);
        assert!(
            out.stderr
                .ends_with("[... 936 more bytes of output dropped]\n"),
            "{}",
            out.stderr
        );
    }
}
