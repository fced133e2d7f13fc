//! Terraform steps: `tf-plan`, `tf-apply` and `tf-output`.
//!
//! Kargo ships these steps only in its paid platform; kargo-rs runs them in
//! the open against a Terraform (or OpenTofu) binary on the host.
//!
//! # The binary
//! Each step looks for the binary in this order, and stops at the first
//! place that is set:
//! 1. the config field `binary`: a bare name is looked up on `PATH`, a
//!    relative path is resolved inside the work directory, an absolute path
//!    is used as it is;
//! 2. the environment variable `KARGO_TERRAFORM` (a name or a path);
//! 3. `tofu` on `PATH`;
//! 4. `terraform` on `PATH`.
//!
//! A place that is set but holds no executable is an error (the search does
//! not fall through to the next place), and so is finding nothing; both
//! errors say what was searched. The binary's version (`version -json`) is
//! checked once per binary path and process; Terraform 1.0 or later (any
//! OpenTofu) is required.
//!
//! # Processes
//! Every Terraform command runs non-interactively (`-input=false`,
//! `-no-color`, `TF_IN_AUTOMATION=1`, `TF_INPUT=0`, `CHECKPOINT_DISABLE=1`)
//! in its own process group with the config's `dir` as working directory.
//! Cancelling the step ([`StepContext::cancel`]) or dropping its future (as
//! a `retry.timeout` does) kills the whole group, so provider plugins die
//! with Terraform. Standard output and error are captured up to a size cap
//! and cleaned of ANSI escape sequences.
//!
//! # Variables and environment
//! `vars` is a list of `{file}` (a `.tfvars` or `.tfvars.json` file inside
//! the work directory) and `{name, value}` entries, applied in order (later
//! entries win, as on Terraform's command line). Named values may be any
//! JSON value; they are handed to Terraform through a private temporary
//! `.tfvars.json` file, never on the command line. `env` adds
//! `{name, value}` environment variables to every Terraform command.
//!
//! # State
//! Terraform's default local backend keeps `terraform.tfstate` in `dir`, so
//! the state can live in the repository and be committed by a later
//! `git-commit` step.
//!
//! # Failures
//! A Terraform command that exits unsuccessfully (broken HCL, a failing
//! provider, a stale plan) makes the step `Failed`, with Terraform's own
//! error text in the message: that is the step's verdict. As for errors,
//! by the rule on [`ErrorKind`](kargo_core::step::ErrorKind): a config that
//! cannot be used or a path that leaves the work directory is a
//! [`StepError::failed`] (status `Failed`); a missing or too old binary, a
//! file the config names that is not in the work directory, and an I/O
//! error around the command (spawning it, temporary files) are
//! [`StepError::terminal`] (status `Errored`).
//!
//! [`StepContext::cancel`]: kargo_core::step::StepContext::cancel

pub mod apply;
mod binary;
pub mod output;
pub mod plan;
mod process;
mod text;

#[cfg(test)]
mod tests;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use kargo_core::step::{StepContext, StepError, StepOutcome};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::Instrument;

pub use apply::TfApply;
pub use output::TfOutput;
pub use plan::TfPlan;

/// One entry of a step's `vars`: a variables file, or one named value.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawVar", into = "RawVar")]
#[non_exhaustive]
pub enum Var {
    /// `{file}`: a `.tfvars` / `.tfvars.json` file, relative to the work
    /// directory.
    File(String),
    /// `{name, value}`: one variable. The value may be any JSON value.
    Value {
        /// The variable's name.
        name: String,
        /// Its value.
        value: Value,
    },
}

impl fmt::Debug for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Var::File(file) => f.debug_struct("File").field("file", file).finish(),
            // Values may be secrets.
            Var::Value { name, .. } => f
                .debug_struct("Value")
                .field("name", name)
                .field("value", &"<redacted>")
                .finish_non_exhaustive(),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVar {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<Value>,
}

impl TryFrom<RawVar> for Var {
    type Error = String;

    fn try_from(raw: RawVar) -> Result<Self, String> {
        match raw {
            RawVar {
                file: Some(file),
                name: None,
                value: None,
            } if !file.is_empty() => Ok(Var::File(file)),
            RawVar {
                file: None,
                name: Some(name),
                value,
            } if !name.is_empty() => match value {
                Some(value) => Ok(Var::Value { name, value }),
                None => Err(format!("var `{name}` has no `value`")),
            },
            _ => Err("each var is either `{file}` or `{name, value}`".to_owned()),
        }
    }
}

impl From<Var> for RawVar {
    fn from(var: Var) -> Self {
        match var {
            Var::File(file) => RawVar {
                file: Some(file),
                name: None,
                value: None,
            },
            Var::Value { name, value } => RawVar {
                file: None,
                name: Some(name),
                value: Some(value),
            },
        }
    }
}

/// One entry of a step's `env`: an environment variable for Terraform.
///
/// A number or boolean `value` (as an expression may produce) is passed as
/// its text.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct EnvVar {
    /// The variable's name.
    pub name: String,
    /// Its value.
    #[serde(deserialize_with = "scalar_string")]
    pub value: String,
}

impl EnvVar {
    /// An environment variable `name=value`.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        EnvVar {
            name: name.into(),
            value: value.into(),
        }
    }
}

impl fmt::Debug for EnvVar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values are often credentials.
        f.debug_struct("EnvVar")
            .field("name", &self.name)
            .field("value", &"<redacted>")
            .finish()
    }
}

fn scalar_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(serde::de::Error::custom(
            "an env value is a string, number or boolean",
        )),
    }
}

/// What can go wrong around a Terraform command (not Terraform's own
/// failures, which make the step `Failed`).
#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("no Terraform binary found; searched {searched}")]
    NotFound { searched: String },
    #[error("cannot run `{program}`: {source}")]
    Spawn { program: String, source: io::Error },
    #[error("`{program} version -json` did not report a version: {detail}")]
    Version { program: String, detail: String },
    #[error("`{program}` is version {version}; Terraform 1.0 or later is required")]
    TooOld { program: String, version: String },
    #[error("terraform {command} was cancelled")]
    Cancelled { command: String },
    #[error("{what} `{path}`: {source}")]
    Io {
        what: &'static str,
        path: String,
        source: io::Error,
    },
    #[error("{0}")]
    Config(String),
}

impl From<Error> for StepError {
    fn from(e: Error) -> Self {
        match e {
            // The config asks for something that cannot be (Failed).
            Error::Config(_) => StepError::failed("").with_source(e),
            // The host lacks a usable binary, the run was cancelled, or
            // the files around the command failed (Errored).
            Error::NotFound { .. }
            | Error::Version { .. }
            | Error::TooOld { .. }
            | Error::Cancelled { .. }
            | Error::Io { .. }
            | Error::Spawn { .. } => StepError::terminal("").with_source(e),
        }
    }
}

/// The environment every Terraform command gets, before the config's `env`.
const AUTOMATION_ENV: [(&str, &str); 3] = [
    ("TF_IN_AUTOMATION", "1"),
    ("TF_INPUT", "0"),
    ("CHECKPOINT_DISABLE", "1"),
];

/// Resolves the config's `dir` inside the work directory; it must be a
/// directory.
fn resolve_dir(ctx: &StepContext, dir: &str) -> Result<PathBuf, StepError> {
    let path = ctx.workspace.resolve(dir)?;
    if !path.is_dir() {
        return Err(StepError::terminal(format!(
            "`dir` `{dir}` is not a directory in the work directory"
        )));
    }
    Ok(path)
}

/// Checks the config's `env` entries and returns them with the automation
/// variables first (so that a config may override them).
fn command_env(env: &[EnvVar]) -> Result<Vec<(String, String)>, StepError> {
    let mut out: Vec<(String, String)> = AUTOMATION_ENV
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    for var in env {
        if var.name.is_empty() || var.name.contains(['=', '\0']) {
            return Err(StepError::failed(format!(
                "env name `{}` is not a valid environment variable name",
                var.name
            )));
        }
        out.push((var.name.clone(), var.value.clone()));
    }
    Ok(out)
}

/// The `-var-file` arguments for `vars`, and the temporary files that hold
/// the named values (kept alive until the command has run).
#[derive(Debug, Default)]
struct VarArgs {
    args: Vec<std::ffi::OsString>,
    _files: Vec<tempfile::NamedTempFile>,
}

impl VarArgs {
    fn new(ctx: &StepContext, vars: &[Var]) -> Result<Self, StepError> {
        let mut out = VarArgs::default();
        let mut pending = serde_json::Map::new();
        for var in vars {
            match var {
                Var::Value { name, value } => {
                    // A later value for the same name wins, as it would on
                    // the command line; keep it in order by flushing first.
                    if pending.contains_key(name) {
                        out.flush(&mut pending)?;
                    }
                    pending.insert(name.clone(), value.clone());
                }
                Var::File(file) => {
                    out.flush(&mut pending)?;
                    let path = ctx.workspace.resolve(file)?;
                    if !path.is_file() {
                        return Err(StepError::terminal(format!(
                            "vars file `{file}` not found in the work directory"
                        )));
                    }
                    out.push(&path);
                }
            }
        }
        out.flush(&mut pending)?;
        Ok(out)
    }

    fn push(&mut self, path: &Path) {
        let mut arg = std::ffi::OsString::from("-var-file=");
        arg.push(path);
        self.args.push(arg);
    }

    fn flush(&mut self, pending: &mut serde_json::Map<String, Value>) -> Result<(), StepError> {
        if pending.is_empty() {
            return Ok(());
        }
        let values = std::mem::take(pending);
        // Outside the work directory (it is often a Git checkout), readable
        // by this user only (tempfile creates files with mode 0600).
        let file = tempfile::Builder::new()
            .prefix("kargo-vars-")
            .suffix(".tfvars.json")
            .tempfile()
            .and_then(|mut file| {
                serde_json::to_writer(&mut file, &Value::Object(values))?;
                Ok(file)
            })
            .map_err(|source| Error::Io {
                what: "cannot write a temporary variables file in",
                path: std::env::temp_dir().display().to_string(),
                source,
            })?;
        self.push(file.path());
        self._files.push(file);
        Ok(())
    }
}

/// The `Failed` outcome for a Terraform command that exited unsuccessfully,
/// carrying Terraform's own error text.
fn command_failed(command: &str, dir: &str, out: &process::Output) -> StepOutcome {
    // Terraform writes diagnostics to stderr; some messages (init's
    // preamble) go to stdout.
    let detail = match (out.stderr.trim(), out.stdout.trim()) {
        ("", stdout) => stdout.to_owned(),
        (stderr, _) => stderr.to_owned(),
    };
    let detail = text::truncate_chars(&detail, MESSAGE_LIMIT);
    let code = out
        .code
        .map_or_else(|| "a signal".to_owned(), |c| format!("exit code {c}"));
    StepOutcome::failed(format!(
        "terraform {command} failed in `{dir}` ({code}): {detail}"
    ))
}

/// The longest error text carried in a step message, in characters.
const MESSAGE_LIMIT: usize = 16 * 1024;

/// A located binary, set up to run commands in one directory for one step.
#[derive(Debug)]
struct Terraform<'a> {
    ctx: &'a StepContext,
    binary: binary::Binary,
    /// The resolved working directory.
    cwd: PathBuf,
    /// The config's `dir`, for messages.
    dir: &'a str,
    env: Vec<(String, String)>,
}

impl<'a> Terraform<'a> {
    /// Resolves `dir`, checks `env`, and finds the binary (see the module
    /// docs for the search order).
    async fn new(
        ctx: &'a StepContext,
        dir: &'a str,
        configured: Option<&str>,
        env: &[EnvVar],
    ) -> Result<Self, StepError> {
        let cwd = resolve_dir(ctx, dir)?;
        let env = command_env(env)?;
        let path = binary::locate(&ctx.workspace, configured, &|k| std::env::var_os(k))?;
        let binary = binary::checked(path, &env).await?;
        Ok(Terraform {
            ctx,
            binary,
            cwd,
            dir,
            env,
        })
    }

    /// Runs `command args...`; cancelled with the step.
    async fn run(
        &self,
        command: &str,
        args: Vec<std::ffi::OsString>,
    ) -> Result<process::Output, StepError> {
        let span = tracing::info_span!(
            "terraform",
            command,
            dir = self.dir,
            version = %self.binary.version
        );
        let out = process::run(
            process::Invocation {
                program: &self.binary.path,
                command,
                args,
                cwd: self.cwd.clone(),
                env: &self.env,
            },
            self.ctx.cancel.cancelled(),
        )
        .instrument(span)
        .await?;
        Ok(out)
    }

    /// `init`, as every command needs an initialized directory. `None` when
    /// it succeeded, else the `Failed` outcome.
    async fn init(&self) -> Result<Option<StepOutcome>, StepError> {
        let out = self
            .run("init", vec!["-input=false".into(), "-no-color".into()])
            .await?;
        Ok((!out.success()).then(|| command_failed("init", self.dir, &out)))
    }
}
