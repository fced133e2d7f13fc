//! Out-of-process custom steps: a step kind declared in configuration that
//! runs a command (any language) instead of Rust code.
//!
//! A host registers one with [`ProcessStep::new`], or reads a declaration
//! file with [`Declarations::load`] and registers every step it declares:
//!
//! ```yaml
//! steps:
//! - name: notify                  # the kind: `uses: notify`
//!   command: [./notify.sh, --channel, ops]
//!   env: [SLACK_WEBHOOK]          # host variables passed through
//!   timeout: 2m                   # default 5m
//! ```
//!
//! A relative program path with a `/` resolves against the declaration
//! file's directory; a bare name is looked up on `PATH`.
//!
//! # Protocol
//! - **Input.** The step's config, expressions evaluated, is written as one
//!   JSON object to the command's standard input (`{}` without config).
//! - **Working directory.** The promotion's work directory.
//! - **Environment.** Cleared, then: `PATH`, the variables the declaration
//!   lists (when the host has them), and `KARGO_STEP` (the kind),
//!   `KARGO_ALIAS`, `KARGO_PROJECT`, `KARGO_STAGE`, `KARGO_PROMOTION`,
//!   `KARGO_ATTEMPT` (0 on the first run), `KARGO_WORKDIR` and
//!   `KARGO_OUTPUT` (a file outside the work directory the command may
//!   write its result to).
//! - **Result.** The contents of `KARGO_OUTPUT` when the command wrote
//!   it, else its standard output; empty means success without outputs.
//!   Otherwise it is one JSON object, every field optional:
//!   `{"status": "Succeeded" | "Skipped" | "Running" | "Failed",
//!   "outputs": {...}, "message": "...", "retryAfter": "30s"}`.
//!   `outputs` become `outputs.<alias>` for later steps. `Running` asks to
//!   be run again after `retryAfter` (default 10s), up to the step's
//!   `retry.timeout`; the command is then run again with the same input,
//!   so it must be idempotent.
//! - **Exit status.** 0: the result above. 75 (`EX_TEMPFAIL`): a retryable
//!   error (the engine retries up to `retry.errorThreshold`). Anything else,
//!   or a signal: the step fails with the end of standard error in its
//!   message. Past the timeout the command's whole process group is killed
//!   and the step fails with a retryable error.

mod declare;
mod step;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use declare::{Declaration, Declarations, Error};

/// The time a command may run when its declaration sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// How long a `Running` result waits when it sets no `retryAfter`.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(10);

/// The exit code that makes a failure retryable (`EX_TEMPFAIL`).
pub const EXIT_RETRYABLE: i32 = 75;

/// Variables always passed to the command besides the `KARGO_*` ones.
pub const ALWAYS_PASSED: &[&str] = &["PATH"];

/// A step that runs a command; see the [module](self) for the protocol.
#[derive(Clone, PartialEq, Eq)]
pub struct ProcessStep {
    kind: String,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<String>,
    timeout: Duration,
}

impl fmt::Debug for ProcessStep {
    // Arguments may carry tokens: they are counted, not shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessStep")
            .field("kind", &self.kind)
            .field("program", &self.program)
            .field("args", &self.args.len())
            .field("env", &self.env)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl ProcessStep {
    /// A step of kind `kind` running `program` (a path, or a name looked up
    /// on `PATH`) with no arguments, only `PATH` from the host environment
    /// and the default timeout.
    pub fn new(kind: impl Into<String>, program: impl Into<PathBuf>) -> Self {
        ProcessStep {
            kind: kind.into(),
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Adds arguments.
    pub fn with_args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Passes the host's variable `name` through to the command (when set).
    pub fn with_env(mut self, name: impl Into<String>) -> Self {
        self.env.push(name.into());
        self
    }

    /// Sets the time the command may run.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The step kind it is registered under.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The program it runs.
    pub fn program(&self) -> &std::path::Path {
        &self.program
    }
}

/// What the command reports (standard output or `KARGO_OUTPUT`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Report {
    /// The step's status (default `Succeeded`).
    #[serde(default)]
    pub status: ReportStatus,
    /// The step's outputs.
    #[serde(default)]
    pub outputs: serde_json::Map<String, serde_json::Value>,
    /// A message for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// For `Running`: when to run the command again (a Go duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<kargo_core::duration::GoDuration>,
}

/// The statuses a command may report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ReportStatus {
    /// Done.
    #[default]
    Succeeded,
    /// Nothing to do.
    Skipped,
    /// Not done yet: run again after `retryAfter`.
    Running,
    /// Done, unsuccessfully (not retried).
    Failed,
}
