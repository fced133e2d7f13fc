//! Running the git CLI with an isolated configuration.
//!
//! Every command runs with `GIT_CONFIG_GLOBAL=/dev/null` and
//! `GIT_CONFIG_NOSYSTEM=1`, so the user's and the system's git
//! configuration (credential helpers, hooks paths, URL rewrites, signing)
//! has no effect, and with `GIT_TERMINAL_PROMPT=0` so git never waits for a
//! person. Credentials reach git only through an askpass helper that reads
//! them from the child's environment: they are never part of a command line,
//! a URL or a repository's configuration, and they are scrubbed from any
//! output kept in an error.
//!
//! # Credential scoping
//! Each set of credentials is for one repository URL, as Kargo's credential
//! lookup matches them ([`normalize_git`]: case, user information, one
//! trailing `/` and `.git` aside). git names the URL it wants credentials
//! for in its prompt (with `credential.useHttpPath`, set on every command,
//! the prompt holds the repository's path); the helper answers only a
//! prompt whose URL is one the credentials are for, and fails otherwise.
//! git asks per request: a submodule elsewhere, or a redirect to another
//! host or repository, gets no credentials meant for the first URL.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use kargo_core::credentials::Credentials;
use kargo_core::urls::{normalize_git, percent_decode};

/// The askpass helper: answers git's username and password prompts
/// (`Username for 'URL': `) from environment variables set on the git
/// process only, and only when the prompt's URL, normalised as
/// [`normalize_git`] does, is `KARGO_GIT_URL_<n>` for some `n`.
const ASKPASS_SCRIPT: &str = r#"#!/bin/sh
url=${1#*\'}
url=${url%\'*}
case "$url" in
  *://*) ;;
  *) exit 1 ;;
esac
scheme=${url%%://*}
rest=${url#*://}
authority=${rest%%/*}
path=${rest#"$authority"}
authority=${authority##*@}
url=$(printf '%s://%s%s' "$scheme" "$authority" "$path" | tr 'A-Z' 'a-z')
url=${url%/}
url=${url%.git}
i=0
while eval "[ -n \"\${KARGO_GIT_URL_$i+set}\" ]"; do
  eval "want=\$KARGO_GIT_URL_$i"
  if [ "$url" = "$want" ]; then
    case "$1" in
      [Uu]sername*) eval "printf '%s\\n' \"\$KARGO_GIT_USERNAME_$i\"" ;;
      *) eval "printf '%s\\n' \"\$KARGO_GIT_PASSWORD_$i\"" ;;
    esac
    exit 0
  fi
  i=$((i + 1))
done
exit 1
"#;

/// The helper's file name; a new name whenever its protocol changes, so an
/// older helper left in a checkout is never used.
const ASKPASS_FILE: &str = "kargo-askpass-scoped.sh";

/// A git command that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// git could not be started.
    #[error("cannot run `git {args}`: {source}")]
    Spawn {
        /// The arguments.
        args: String,
        /// Why it could not start.
        source: std::io::Error,
    },
    /// git ran and exited unsuccessfully.
    #[error("`git {args}` failed ({status}): {stderr}")]
    Failed {
        /// The arguments.
        args: String,
        /// The exit status, as text.
        status: String,
        /// Its standard error, secrets removed.
        stderr: String,
        /// Its standard output, secrets removed.
        stdout: String,
    },
    /// The askpass helper could not be written.
    #[error("cannot write the askpass helper in {path}: {source}")]
    Askpass {
        /// Where it was written.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl Error {
    /// The standard error of a failed command ("" otherwise).
    pub fn stderr(&self) -> &str {
        match self {
            Error::Failed { stderr, .. } => stderr,
            _ => "",
        }
    }

    /// Whether git failed because the remote refused the credentials, or
    /// needed some and got none.
    pub(crate) fn is_authentication(&self) -> bool {
        let stderr = self.stderr();
        [
            "Authentication failed",
            "could not read Username",
            "could not read Password",
            "The requested URL returned error: 401",
            "The requested URL returned error: 403",
        ]
        .iter()
        .any(|sign| stderr.contains(sign))
    }

    /// The standard output of a failed command ("" otherwise).
    pub fn stdout(&self) -> &str {
        match self {
            Error::Failed { stdout, .. } => stdout,
            _ => "",
        }
    }
}

/// A commit identity.
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    /// The name.
    pub name: String,
    /// The e-mail address.
    pub email: String,
}

impl Identity {
    /// Kargo's identity for commits when none is configured.
    pub fn kargo() -> Self {
        Identity {
            name: "Kargo".to_owned(),
            email: "no-reply@kargo.io".to_owned(),
        }
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} <{}>", self.name, self.email)
    }
}

/// Builds and runs one isolated git command in a repository.
pub(crate) struct Git<'a> {
    dir: &'a Path,
    /// Credentials, each with the normalised URL it is for.
    credentials: Vec<(String, Credentials)>,
    askpass: Option<PathBuf>,
    env: Vec<(&'static str, String)>,
}

impl<'a> Git<'a> {
    /// A git command running in `dir` (a work tree or a bare repository).
    pub(crate) fn new(dir: &'a Path) -> Self {
        Git {
            dir,
            credentials: Vec::new(),
            askpass: None,
            env: Vec::new(),
        }
    }

    /// Makes `credentials` available to git, for requests to `url` only
    /// (see the module docs), through the askpass helper, which is written
    /// once into `git_dir`. Called again, it adds credentials for another
    /// URL.
    pub(crate) fn with_credentials(
        mut self,
        git_dir: &Path,
        url: &str,
        credentials: Option<&Credentials>,
    ) -> Result<Self, Error> {
        if let Some(credentials) = credentials {
            if self.askpass.is_none() {
                self.askpass = Some(ensure_askpass(git_dir)?);
            }
            self.credentials
                .push((credential_scope(url), credentials.clone()));
        }
        Ok(self)
    }

    /// The directory git runs in.
    pub(crate) fn dir(&self) -> &Path {
        self.dir
    }

    /// Sets an environment variable on the git process.
    pub(crate) fn env(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.env.push((key, value.into()));
        self
    }

    /// Sets author and committer.
    pub(crate) fn identity(self, identity: &Identity) -> Self {
        self.env("GIT_AUTHOR_NAME", identity.name.clone())
            .env("GIT_AUTHOR_EMAIL", identity.email.clone())
            .env("GIT_COMMITTER_NAME", identity.name.clone())
            .env("GIT_COMMITTER_EMAIL", identity.email.clone())
    }

    fn command<I, S>(&self, args: I) -> (Command, String)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new("git");
        let mut shown = Vec::new();
        for arg in args {
            // A URL argument may carry a password: never show it.
            shown.push(redact_url(&arg.as_ref().to_string_lossy()));
            cmd.arg(arg.as_ref());
        }
        cmd.current_dir(self.dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_OPTIONAL_LOCKS", "0")
            .env("LC_ALL", "C")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE")
            .env_remove("GIT_ASKPASS")
            .env_remove("SSH_ASKPASS")
            .stdin(Stdio::null());
        match &self.askpass {
            Some(askpass) if !self.credentials.is_empty() => {
                // The prompt names the repository's path, not only its
                // host, so the helper can tell repositories apart; the
                // variables reach git's own child processes (submodules).
                cmd.env("GIT_ASKPASS", askpass)
                    .env("GIT_CONFIG_COUNT", "1")
                    .env("GIT_CONFIG_KEY_0", "credential.useHttpPath")
                    .env("GIT_CONFIG_VALUE_0", "true");
                for (n, (scope, credentials)) in self.credentials.iter().enumerate() {
                    cmd.env(format!("KARGO_GIT_URL_{n}"), scope)
                        .env(format!("KARGO_GIT_USERNAME_{n}"), &credentials.username)
                        .env(format!("KARGO_GIT_PASSWORD_{n}"), &credentials.password);
                }
            }
            _ => {
                // No credentials: make sure git cannot find any by itself.
                cmd.env("GIT_ASKPASS", "/bin/false");
            }
        }
        for (key, value) in &self.env {
            cmd.env(key, value);
        }
        (cmd, shown.join(" "))
    }

    /// Runs git and returns its standard output (trimmed) on success.
    pub(crate) fn run<I, S>(&self, args: I) -> Result<String, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let output = self.output(args)?;
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// Runs git and returns whether it exited successfully, failing only if
    /// it could not be started.
    pub(crate) fn status<I, S>(&self, args: I) -> Result<bool, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let (mut cmd, args) = self.command(args);
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let status = cmd
            .status()
            .map_err(|source| Error::Spawn { args, source })?;
        Ok(status.success())
    }

    /// Runs git, returning its output on success and a scrubbed
    /// [`Error::Failed`] otherwise.
    pub(crate) fn output<I, S>(&self, args: I) -> Result<Output, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let (mut cmd, args) = self.command(args);
        tracing::trace!(dir = %self.dir.display(), %args, "git");
        let output = cmd.output().map_err(|source| Error::Spawn {
            args: args.clone(),
            source,
        })?;
        if output.status.success() {
            return Ok(output);
        }
        Err(Error::Failed {
            args,
            status: output.status.to_string(),
            stderr: self.scrub(&output.stderr),
            stdout: self.scrub(&output.stdout),
        })
    }

    fn scrub(&self, bytes: &[u8]) -> String {
        let text = String::from_utf8_lossy(bytes).trim().to_owned();
        self.credentials
            .iter()
            .fold(text, |text, (_, c)| scrub_secret(text, Some(c)))
    }
}

/// The commit `HEAD` of the working tree at `path` points at: read from the
/// ref files when they are loose (the usual case right after a commit),
/// from `git rev-parse` otherwise.
pub(crate) fn head_commit(path: &Path) -> Result<String, Error> {
    let git_dir = path.join(".git");
    let read = |p: PathBuf| std::fs::read_to_string(p).ok().map(|s| s.trim().to_owned());
    let is_id = |s: &str| s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some(head) = read(git_dir.join("HEAD")) {
        match head.strip_prefix("ref: ") {
            Some(name) if name.starts_with("refs/") && !name.contains("..") => {
                if let Some(id) = read(git_dir.join(name)).filter(|id| is_id(id)) {
                    return Ok(id);
                }
            }
            None if is_id(&head) => return Ok(head),
            _ => {}
        }
    }
    Git::new(path).run(["rev-parse", "HEAD"])
}

/// `url` as errors and logs show it: kargo-core's one redaction
/// (`https://user:secret@host/r` -> `https://user:***@host/r`).
pub use kargo_core::urls::redact_url;

/// The form of `url` credentials are matched in: Kargo's normalised Git
/// URL, which has no user information.
pub(crate) fn credential_scope(url: &str) -> String {
    normalize_git(url)
}

/// Splits the user information off `url`: the URL without it, and the
/// credentials it held (percent-decoded) when it had a password. A
/// repository's configuration only ever gets the first; the second is
/// passed per command.
pub fn split_credentials(url: &str) -> (String, Option<Credentials>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_owned(), None);
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return (url.to_owned(), None);
    };
    let clean = format!("{scheme}://{host}{path}");
    let credentials = userinfo
        .split_once(':')
        .map(|(user, password)| Credentials::new(percent_decode(user), percent_decode(password)));
    (clean, credentials)
}

/// Removes a secret from a text, should a lower layer ever have echoed it.
pub(crate) fn scrub_secret(text: String, credentials: Option<&Credentials>) -> String {
    match credentials {
        Some(c) if !c.password.is_empty() && text.contains(&c.password) => {
            text.replace(&c.password, "<redacted>")
        }
        _ => text,
    }
}

fn ensure_askpass(git_dir: &Path) -> Result<PathBuf, Error> {
    use std::os::unix::fs::PermissionsExt;
    let path = git_dir.join(ASKPASS_FILE);
    if path.is_file() {
        return Ok(path);
    }
    let err = |source| Error::Askpass {
        path: git_dir.to_owned(),
        source,
    };
    let mut tmp = tempfile::NamedTempFile::new_in(git_dir).map_err(err)?;
    std::io::Write::write_all(&mut tmp, ASKPASS_SCRIPT.as_bytes()).map_err(err)?;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o700)).map_err(err)?;
    tmp.persist(&path).map_err(|e| err(e.error))?;
    Ok(path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::split_credentials;

    #[test]
    fn credentials_are_split_off_urls_and_decoded() {
        let (url, creds) = split_credentials("https://u%40x:p%3As@example.com/r.git");
        assert_eq!(url, "https://example.com/r.git");
        let creds = creds.unwrap();
        assert_eq!(
            (creds.username.as_str(), creds.password.as_str()),
            ("u@x", "p:s")
        );
        let (url, creds) = split_credentials("https://u@example.com/r");
        assert_eq!((url.as_str(), creds), ("https://example.com/r", None));
        let (url, creds) = split_credentials("file:///tmp/r.git");
        assert_eq!((url.as_str(), creds), ("file:///tmp/r.git", None));
    }
}
