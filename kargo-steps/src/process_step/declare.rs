//! Declaration files: custom step kinds a host reads from configuration.

use std::path::{Path, PathBuf};

use kargo_core::duration::GoDuration;
use kargo_core::step::StepRegistry;
use serde::{Deserialize, Serialize};

use super::ProcessStep;

/// A declaration file's contents: `{steps: [{name, command, env, timeout}]}`
/// (YAML or JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Declarations {
    /// The declared step kinds.
    pub steps: Vec<Declaration>,
}

/// One declared step kind.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Declaration {
    /// The step kind (`uses:`).
    pub name: String,
    /// The program and its arguments.
    pub command: Vec<String>,
    /// Host environment variables passed through to the command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// The time the command may run (default 5m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<GoDuration>,
}

impl std::fmt::Debug for Declaration {
    // Arguments may carry tokens: only the program is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Declaration")
            .field("name", &self.name)
            .field("program", &self.command.first())
            .field("env", &self.env)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The error returned by [`Declarations::load`] and
/// [`Declarations::register`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read custom step declarations {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid YAML or JSON of the expected shape.
    #[error("{path}: invalid custom step declarations: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (it names the field).
        message: String,
    },
    /// A declaration is unusable.
    #[error("{path}: custom step `{name}`: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The declared kind.
        name: String,
        /// Why.
        reason: String,
    },
    /// A declared kind is already registered (a built-in or another
    /// declaration).
    #[error("custom step `{name}`: a step of this kind is already registered")]
    Taken {
        /// The declared kind.
        name: String,
    },
}

impl From<Error> for kargo_core::Error {
    fn from(e: Error) -> Self {
        kargo_core::Error::Invalid(e.to_string())
    }
}

impl Declarations {
    /// Reads a declaration file (YAML or JSON). Relative program paths
    /// containing a `/` are resolved against the file's directory.
    pub fn load(path: impl AsRef<Path>) -> Result<Vec<ProcessStep>, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        let declarations: Declarations =
            serde_saphyr::from_str(&text).map_err(|e| Error::Parse {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        let base = path.parent().unwrap_or(Path::new("."));
        declarations.into_steps(path, base)
    }

    /// The steps declared, with relative programs resolved against `base`;
    /// `file` names the source in errors.
    pub fn into_steps(self, file: &Path, base: &Path) -> Result<Vec<ProcessStep>, Error> {
        let mut seen = std::collections::BTreeSet::new();
        let mut steps = Vec::with_capacity(self.steps.len());
        for decl in self.steps {
            let invalid = |reason: &str| Error::Invalid {
                path: file.to_owned(),
                name: decl.name.clone(),
                reason: reason.to_owned(),
            };
            if decl.name.trim().is_empty() {
                return Err(invalid("`name` is empty"));
            }
            if !seen.insert(decl.name.clone()) {
                return Err(invalid("declared twice"));
            }
            let Some((program, args)) = decl.command.split_first() else {
                return Err(invalid("`command` is empty"));
            };
            if program.is_empty() {
                return Err(invalid("`command[0]` is empty"));
            }
            if decl
                .env
                .iter()
                .any(|name| name.is_empty() || name.contains('='))
            {
                return Err(invalid("`env` holds an empty name or one with `=`"));
            }
            let program = Path::new(program);
            let program = if program.is_relative() && program.components().count() > 1 {
                base.join(program)
            } else {
                program.to_owned()
            };
            let mut step =
                ProcessStep::new(decl.name.clone(), program).with_args(args.iter().cloned());
            for name in &decl.env {
                step = step.with_env(name.clone());
            }
            if let Some(timeout) = decl.timeout {
                step = step.with_timeout(timeout.as_duration());
            }
            steps.push(step);
        }
        Ok(steps)
    }

    /// Registers `steps` in `registry`; fails on a kind that is taken (a
    /// built-in or another declaration), registering none.
    pub fn register(steps: Vec<ProcessStep>, registry: &mut StepRegistry) -> Result<(), Error> {
        if let Some(taken) = steps.iter().find(|s| registry.get(s.kind()).is_some()) {
            return Err(Error::Taken {
                name: taken.kind().to_owned(),
            });
        }
        for step in steps {
            let kind = step.kind().to_owned();
            registry
                .register(kind.clone(), step)
                .map_err(|_| Error::Taken { name: kind })?;
        }
        Ok(())
    }
}
