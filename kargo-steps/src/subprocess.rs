//! Running a child process for a step: in its own process group, with
//! optional standard input, capped capture of its output, and cancellation
//! (or dropping the future) killing the whole group. Shared by the
//! Terraform steps and out-of-process custom steps.

use std::future::Future;
use std::io;
use std::process::Stdio;

use rustix::process::{Pid, Signal, kill_process_group};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// What to keep of a finished process's output.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caps {
    /// Bytes of standard output kept (the first ones).
    pub(crate) stdout: usize,
    /// Bytes of standard error kept (the first ones, or the last ones with
    /// `stderr_tail`).
    pub(crate) stderr: usize,
    /// Keep the end of standard error rather than its beginning (the end
    /// of a failing program's output usually says why).
    pub(crate) stderr_tail: bool,
}

/// What a finished process printed and how it exited.
#[derive(Debug, Clone)]
pub(crate) struct Finished {
    /// The exit code; `None` when a signal ended the process.
    pub(crate) code: Option<i32>,
    /// Standard output, lossily decoded, capped.
    pub(crate) stdout: String,
    /// Whether standard output went beyond its cap (and `stdout` ends
    /// with a note saying how much was dropped).
    #[cfg_attr(not(any(feature = "kustomize", feature = "helm")), allow(dead_code))]
    pub(crate) stdout_truncated: bool,
    /// Standard error, lossily decoded, capped.
    pub(crate) stderr: String,
}

/// How a run ended without the process finishing on its own.
#[derive(Debug)]
pub(crate) enum Interrupted {
    /// The process could not be started or waited for.
    Spawn(io::Error),
    /// `stop` completed first; the process group was killed.
    Stopped,
}

/// Runs `cmd` to completion with `stdin` written to its standard input
/// (standard input is empty without it), or until `stop` completes; then
/// the process group is killed. Dropping the returned future also kills the
/// group. `cmd`'s stdio and process group are set here.
pub(crate) async fn run(
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
                read_capped(stdout, caps.stdout, false),
                read_capped(stderr, caps.stderr, caps.stderr_tail),
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

/// Reads `reader` to its end, keeping `cap` bytes (the first ones, or the
/// last ones with `tail`), and notes how many bytes were dropped (in the
/// text, and as the count returned with it). Read errors end the capture
/// quietly: what was read is still worth showing.
async fn read_capped<R: AsyncRead + Unpin>(
    reader: Option<R>,
    cap: usize,
    tail: bool,
) -> (String, u64) {
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

#[cfg(test)]
mod tests {
    use super::*;

    const CAPS: Caps = Caps {
        stdout: 1024,
        stderr: 16,
        stderr_tail: true,
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
}
