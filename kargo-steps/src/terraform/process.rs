//! Running one Terraform command: own process group, capped capture,
//! cancellation that kills the whole group.

use std::ffi::OsString;
use std::future::Future;
use std::path::{Path, PathBuf};

use super::Error;
use super::text::strip_ansi;
use kargo_core::process::{self, Cap, Caps, Interrupted};

/// How much of standard output is kept (plan texts can be long).
pub(crate) const STDOUT_CAP: usize = 32 * 1024 * 1024;
/// How much of standard error is kept.
pub(crate) const STDERR_CAP: usize = 1024 * 1024;

/// One command line to run.
#[derive(Debug)]
pub(crate) struct Invocation<'a> {
    pub(crate) program: &'a Path,
    /// The Terraform subcommand, for logs and errors (`"plan"`).
    pub(crate) command: &'a str,
    pub(crate) args: Vec<OsString>,
    pub(crate) cwd: PathBuf,
    pub(crate) env: &'a [(String, String)],
}

/// What a finished command printed, ANSI-free, and how it exited.
#[derive(Debug, Clone)]
pub(crate) struct Output {
    /// The exit code; `None` when a signal ended the process.
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Output {
    pub(crate) fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// Runs `inv` to completion, or until `cancelled` completes; then the
/// process group is killed and [`Error::Cancelled`] returned. Dropping the
/// returned future also kills the group.
pub(crate) async fn run(
    inv: Invocation<'_>,
    cancelled: impl Future<Output = ()>,
) -> Result<Output, Error> {
    let mut cmd = tokio::process::Command::new(inv.program);
    cmd.arg(inv.command)
        .args(&inv.args)
        .current_dir(&inv.cwd)
        .envs(inv.env.iter().map(|(k, v)| (k, v)));
    tracing::debug!(program = %inv.program.display(), command = inv.command, "running terraform");
    let caps = Caps {
        stdout: Cap::head(STDOUT_CAP),
        stderr: Cap::head(STDERR_CAP),
    };
    match process::run(cmd, None, caps, cancelled).await {
        Ok(out) => Ok(Output {
            code: out.code,
            stdout: strip_ansi(&out.stdout),
            stderr: strip_ansi(&out.stderr),
        }),
        Err(Interrupted::Stopped) => Err(Error::Cancelled {
            command: inv.command.to_owned(),
        }),
        Err(Interrupted::Spawn(source)) => Err(Error::Spawn {
            program: inv.program.display().to_string(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    fn sh(script: &str) -> (PathBuf, Vec<OsString>) {
        // `sh -c SCRIPT`: the runner puts its `command` first.
        (PathBuf::from("/bin/sh"), vec![OsString::from(script)])
    }

    #[tokio::test]
    async fn captures_output_and_exit_code_without_ansi() {
        let (program, args) = sh("printf '\\033[31mred\\033[0m'; echo oops >&2; exit 3");
        let out = run(
            Invocation {
                program: &program,
                command: "-c",
                args,
                cwd: std::env::temp_dir(),
                env: &[],
            },
            std::future::pending(),
        )
        .await
        .unwrap();
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout, "red");
        assert_eq!(out.stderr, "oops\n");
    }

    #[tokio::test]
    async fn output_beyond_the_cap_is_dropped_with_a_note() {
        let (program, args) = sh("head -c 40000000 /dev/zero | tr '\\0' x");
        let out = run(
            Invocation {
                program: &program,
                command: "-c",
                args,
                cwd: std::env::temp_dir(),
                env: &[],
            },
            std::future::pending(),
        )
        .await
        .unwrap();
        assert!(out.stdout.len() < STDOUT_CAP + 100);
        assert!(out.stdout.ends_with("more bytes of output dropped]\n"));
    }

    #[tokio::test]
    async fn cancellation_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("grandchild.pid");
        // A grandchild that would outlive a plain kill of the leader.
        let script = format!("sleep 300 & echo $! > {}; wait", pidfile.display());
        let (program, args) = sh(&script);
        let pidfile2 = pidfile.clone();
        let cancel = async move {
            while !pidfile2.exists() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let started = Instant::now();
        let err = run(
            Invocation {
                program: &program,
                command: "-c",
                args,
                cwd: dir.path().to_owned(),
                env: &[],
            },
            cancel,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::Cancelled { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(60));
        let pid: u32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(gone(pid).await, "grandchild {pid} survived cancellation");
    }

    #[tokio::test]
    async fn dropping_the_future_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("grandchild.pid");
        let script = format!("sleep 300 & echo $! > {}; wait", pidfile.display());
        let (program, args) = sh(&script);
        let fut = run(
            Invocation {
                program: &program,
                command: "-c",
                args,
                cwd: dir.path().to_owned(),
                env: &[],
            },
            std::future::pending(),
        );
        // As a `retry.timeout` would: the engine drops the step's future
        // while the command still runs.
        {
            tokio::pin!(fut);
            tokio::select! {
                _ = &mut fut => panic!("the command finished before it was dropped"),
                () = async {
                    while !pidfile.exists() {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                } => {}
            }
        }
        let pid: u32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(gone(pid).await, "grandchild {pid} survived the drop");
    }

    /// Whether process `pid` is gone (or a zombie) within a few seconds.
    async fn gone(pid: u32) -> bool {
        for _ in 0..100 {
            match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                Err(_) => return true,
                Ok(stat) => {
                    // The state follows the command name in parentheses.
                    let state = stat.rsplit(')').next().unwrap_or("").trim_start();
                    if state.starts_with('Z') {
                        return true;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }
}
