//! What `kustomize-build` and `helm-template` share: finding the renderer
//! binary (a host setting, then an environment variable, then `PATH`),
//! running it as a cancellable child process, and writing what it rendered
//! into the work directory atomically.

pub(crate) mod manifests;

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use kargo_core::Workspace;
use kargo_core::step::{StepContext, StepError};
use tracing::Instrument;

use kargo_core::process::{self, Cap, Caps, Interrupted};

/// The environment variable naming the `helm` binary (read by
/// `helm-template`, and passed to kustomize's Helm plugin).
pub(crate) const HELM_ENV_VAR: &str = "KARGO_HELM";

/// The most rendered output kept; more is an error rather than a cut-off
/// manifest.
pub(crate) const STDOUT_CAP: usize = 64 * 1024 * 1024;
/// How much of standard error is kept (its end).
const STDERR_CAP: usize = 64 * 1024;
/// The most of standard error shown in a step message, in characters.
const MESSAGE_LIMIT: usize = 4 * 1024;

/// A renderer binary: its name on `PATH` and the environment variable
/// that may name it instead.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tool {
    /// The step kind, for messages.
    pub(crate) kind: &'static str,
    /// The binary's name on `PATH` (`kustomize`).
    pub(crate) name: &'static str,
    /// The environment variable (`KARGO_KUSTOMIZE`).
    pub(crate) env_var: &'static str,
}

impl Tool {
    /// Finds the binary: `setting` (the host's option) when given, else
    /// the environment variable, else the name on `PATH`. A place that is
    /// set but holds no executable is an error naming it, and so is
    /// finding nothing (a terminal error: retrying cannot help).
    pub(crate) fn locate(
        &self,
        setting: Option<&Path>,
        env: &dyn Fn(&str) -> Option<OsString>,
    ) -> Result<PathBuf, StepError> {
        let searched = match setting.filter(|p| !p.as_os_str().is_empty()) {
            Some(path) => {
                let path_var = env("PATH").unwrap_or_default();
                crate::binary::find(path.as_os_str(), &path_var).ok_or_else(|| {
                    format!(
                        "the host's binary setting `{}`{}",
                        path.display(),
                        crate::binary::on_path(path.as_os_str(), &path_var)
                    )
                })
            }
            None => crate::binary::locate_from_env(
                "the host's binary setting (not set), ",
                self.env_var,
                &[self.name],
                env,
            ),
        };
        searched.map_err(|searched| {
            StepError::terminal(format!(
                "{}: no `{}` binary found (it is not bundled: install it, or name it with {}); searched {searched}",
                self.kind, self.name, self.env_var
            ))
        })
    }
}

/// The process environment, read at the time of the call.
pub(crate) fn process_env(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

/// One command line to run.
#[derive(Debug)]
pub(crate) struct Invocation {
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<OsString>,
    pub(crate) cwd: PathBuf,
    /// Added to the inherited environment.
    pub(crate) env: Vec<(OsString, OsString)>,
}

/// Runs `inv` for `tool` to completion and returns its standard output.
/// `what` names the command in messages (`kustomize build`); the
/// arguments are never logged (`--set` values may be secrets).
///
/// A non-zero exit is a retryable error (Kargo's `Errored`, retried up to
/// the step's error threshold) carrying the end of standard error: the
/// exit does not say why, and the tools fetch over the network (`helm
/// dependency build`), so it may be temporary. A binary that cannot be
/// started is terminal; cancelling the step kills the process group.
pub(crate) async fn run(
    ctx: &StepContext,
    tool: &Tool,
    what: &str,
    inv: Invocation,
) -> Result<String, StepError> {
    let mut cmd = tokio::process::Command::new(&inv.program);
    cmd.args(&inv.args)
        .current_dir(&inv.cwd)
        .envs(inv.env.iter().map(|(k, v)| (k, v)));
    let caps = Caps {
        stdout: Cap::head(STDOUT_CAP),
        stderr: Cap::tail(STDERR_CAP),
    };
    let span = tracing::info_span!("render", kind = tool.kind, command = what);
    let kind = tool.kind;
    let finished = process::run(cmd, None, caps, ctx.cancel.cancelled())
        .instrument(span)
        .await
        .map_err(|e| match e {
            Interrupted::Stopped => StepError::terminal(format!("{kind}: `{what}` was cancelled")),
            Interrupted::Spawn(source) => {
                StepError::terminal(format!("{kind}: cannot run `{}`", inv.program.display()))
                    .with_source(source)
            }
        })?;
    if finished.code != Some(0) {
        let code = finished
            .code
            .map_or_else(|| "a signal".to_owned(), |c| format!("exit code {c}"));
        let detail = match finished.stderr.trim() {
            "" => "(nothing on standard error)".to_owned(),
            text => tail_chars(text, MESSAGE_LIMIT),
        };
        return Err(StepError::retryable(format!(
            "{kind}: `{what}` failed ({code}): {detail}"
        )));
    }
    if finished.stdout_truncated {
        return Err(StepError::terminal(format!(
            "{kind}: `{what}` printed more than {} MiB; nothing was written",
            STDOUT_CAP / (1024 * 1024)
        )));
    }
    Ok(finished.stdout)
}

/// The last `limit` characters of `text`, marked when cut.
fn tail_chars(text: &str, limit: usize) -> String {
    let count = text.chars().count();
    if count <= limit {
        return text.to_owned();
    }
    let tail: String = text.chars().skip(count - limit).collect();
    format!("[...] {tail}")
}

/// Whether `out_path` names a file (it ends with `.yaml` or `.yml`), as
/// Kargo decides; otherwise it names a directory. A trailing `/` names a
/// directory (`out.yaml/`), as Go's `filepath.Ext` sees no extension there.
pub(crate) fn out_path_is_file(out_path: &str) -> bool {
    !out_path.ends_with('/')
        && Path::new(out_path)
            .extension()
            .is_some_and(|ext| ext == "yaml" || ext == "yml")
}

/// Writes `files` (paths relative to `out_path`, contents) under
/// `out_path` in the work directory, each atomically, creating
/// directories. Every destination is resolved through the workspace (no
/// symlink leads out of it) before anything is written. Blocking: call it
/// through [`crate::edit::blocking`].
pub(crate) fn write_files(
    workspace: &Workspace,
    kind: &str,
    out_path: &str,
    files: Vec<(PathBuf, Vec<u8>)>,
) -> Result<(), StepError> {
    let root = workspace.resolve(out_path)?;
    let mut resolved = Vec::with_capacity(files.len());
    for (rel, contents) in files {
        let shown = Path::new(out_path).join(&rel);
        resolved.push((workspace.resolve(&shown)?, shown, contents));
    }
    let write_error = |shown: &Path, e: std::io::Error| {
        StepError::terminal(format!("{kind}: cannot write `{}`", shown.display())).with_source(e)
    };
    std::fs::create_dir_all(&root).map_err(|e| write_error(Path::new(out_path), e))?;
    for (abs, shown, contents) in resolved {
        if let Some(dir) = abs.parent() {
            std::fs::create_dir_all(dir).map_err(|e| write_error(&shown, e))?;
        }
        crate::fs::write_atomic(&abs, &contents, None).map_err(|e| write_error(&shown, e))?;
    }
    Ok(())
}

/// Writes `contents` to the file `out_path` in the work directory,
/// atomically, creating its directory. Blocking: call it through
/// [`crate::edit::blocking`].
pub(crate) fn write_file(
    workspace: &Workspace,
    kind: &str,
    out_path: &str,
    contents: &[u8],
) -> Result<(), StepError> {
    let abs = workspace.resolve(out_path)?;
    let write_error = |e: std::io::Error| {
        StepError::terminal(format!("{kind}: cannot write `{out_path}`")).with_source(e)
    };
    if let Some(dir) = abs.parent() {
        std::fs::create_dir_all(dir).map_err(write_error)?;
    }
    crate::fs::write_atomic(&abs, contents, None).map_err(write_error)
}

/// Resolves the config's `path` (named `field` in messages) inside the
/// work directory; it must be a directory.
pub(crate) fn resolve_dir(
    ctx: &StepContext,
    kind: &str,
    field: &str,
    path: &str,
) -> Result<PathBuf, StepError> {
    let abs = ctx.workspace.resolve(path)?;
    if !abs.is_dir() {
        return Err(StepError::terminal(format!(
            "{kind}: `{field}` `{path}` is not a directory in the work directory"
        )));
    }
    Ok(abs)
}

/// `--flag value` as two arguments.
pub(crate) fn flag(args: &mut Vec<OsString>, name: &str, value: impl AsRef<OsStr>) {
    args.push(name.into());
    args.push(value.as_ref().to_owned());
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    const TOOL: Tool = Tool {
        kind: "kustomize-build",
        name: "kustomize",
        env_var: "KARGO_KUSTOMIZE",
    };

    fn bin_dir(names: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for name in names {
            let p = dir.path().join(name);
            std::fs::write(&p, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        dir
    }

    fn env_of(pairs: Vec<(&'static str, OsString)>) -> impl Fn(&str) -> Option<OsString> {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn the_host_setting_comes_before_the_env_var_and_path() {
        let bin = bin_dir(&["kustomize", "kz", "mine"]);
        let env = env_of(vec![
            ("PATH", bin.path().into()),
            ("KARGO_KUSTOMIZE", "kz".into()),
        ]);
        assert_eq!(
            TOOL.locate(Some(Path::new("mine")), &env).unwrap(),
            bin.path().join("mine")
        );
        assert_eq!(TOOL.locate(None, &env).unwrap(), bin.path().join("kz"));
        let env = env_of(vec![("PATH", bin.path().into())]);
        assert_eq!(
            TOOL.locate(None, &env).unwrap(),
            bin.path().join("kustomize")
        );
    }

    #[test]
    fn a_missing_binary_is_a_terminal_error_naming_every_place_searched() {
        let bin = bin_dir(&[]);
        let env = env_of(vec![("PATH", bin.path().into())]);
        let err = TOOL.locate(None, &env).unwrap_err();
        assert_eq!(err.kind(), kargo_core::step::ErrorKind::Terminal);
        let msg = err.to_string();
        for word in [
            "kustomize-build: no `kustomize` binary found",
            "host's binary setting (not set)",
            "KARGO_KUSTOMIZE (not set)",
            "`kustomize` on PATH",
            &bin.path().display().to_string(),
        ] {
            assert!(msg.contains(word), "{word} missing from: {msg}");
        }
        let env = env_of(vec![
            ("PATH", bin.path().into()),
            ("KARGO_KUSTOMIZE", "/no/such/kustomize".into()),
        ]);
        let msg = TOOL.locate(None, &env).unwrap_err().to_string();
        assert!(
            msg.contains("KARGO_KUSTOMIZE=`/no/such/kustomize`"),
            "{msg}"
        );
        let msg = TOOL
            .locate(Some(Path::new("/no/such/kz")), &env)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("host's binary setting `/no/such/kz`"), "{msg}");
    }

    #[test]
    fn out_paths_ending_in_yaml_or_yml_are_files() {
        assert!(out_path_is_file("./out/manifests.yaml"));
        assert!(out_path_is_file("out.yml"));
        assert!(!out_path_is_file("./out"));
        assert!(!out_path_is_file("./out.json"));
        assert!(!out_path_is_file("./out.yaml.d/"));
        // Kargo's other cases, and a trailing slash as Go's filepath.Ext
        // reads it.
        assert!(!out_path_is_file("output/"));
        assert!(!out_path_is_file("output.txt"));
        assert!(!out_path_is_file("output.yaml/"));
        assert!(!out_path_is_file("output.yml/"));
    }

    #[test]
    fn a_long_stderr_keeps_its_end() {
        let text = format!("{}the reason", "x".repeat(10_000));
        let shown = tail_chars(&text, 20);
        assert_eq!(shown, "[...] xxxxxxxxxxthe reason");
    }
}
