//! The [`Step`] trait, what a step is given ([`StepContext`]) and what it
//! returns ([`StepOutcome`], [`StepError`]), and the [`StepRegistry`].

mod context;
mod registry;
mod store;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};

pub use context::{LaterStep, StepContext};
pub use registry::StepRegistry;
pub use store::{DynStepStore, StepStore};

use crate::error::BoxError;
use crate::model::StepStatus;

/// A promotion step: one kind of work (`git-clone`, `yaml-update`, ...).
///
/// # Contract
/// - **Stateless.** A step is registered once and run for many promotions,
///   concurrently. Everything a run needs comes from the [`StepContext`]
///   and the config; everything it produces goes into the [`StepOutcome`].
///   The engine, not the step, persists outputs and progress.
/// - **Work directory.** A step reads and writes only inside
///   the workspace of its [`StepContext`]
///   ([`PromotionContext::workspace`](crate::engine::PromotionContext::workspace));
///   every path from its config goes through
///   [`Workspace::resolve`](crate::Workspace::resolve).
/// - **All or nothing.** A step that fails leaves the files it was editing
///   as they were (write a temp file, then rename).
/// - **Config.** `config` has had its expressions evaluated already. A step
///   parses it into its own `deny_unknown_fields` struct with Kargo's field
///   names, and answers an unusable config with [`StepError::failed`]
///   ([`parse_config`] does both).
/// - **Retries.** The engine owns retries: a step returns
///   [`StepError::retryable`] for failures that may pass (network,
///   conflicts) and the engine runs it again, on a later run of the
///   promotion after a backoff, up to the step's `retry.errorThreshold`. A step that waits for something (a pull
///   request, an HTTP condition) returns [`StepOutcome::running`] with a
///   retry-after; the engine runs it again later, up to `retry.timeout`.
///   A step run again after `Running` must pick up where it was, so steps
///   that wait must be idempotent.
/// - **Cancellation.** Long work checks [`StepContext::cancel`].
///
/// # Examples
/// ```
/// use async_trait::async_trait;
/// use kargo_core::step::{Step, StepContext, StepError, StepOutcome};
///
/// #[derive(Debug)]
/// struct Hello;
///
/// #[async_trait]
/// impl Step for Hello {
///     async fn run(&self, _ctx: &StepContext, config: serde_json::Value) -> Result<StepOutcome, StepError> {
///         let name = config.get("name").and_then(|v| v.as_str()).unwrap_or("world");
///         Ok(StepOutcome::succeeded().with_output("greeting", format!("hello, {name}")))
///     }
/// }
/// ```
#[async_trait]
pub trait Step: Send + Sync + fmt::Debug + 'static {
    /// Runs the step once with its (evaluated) config.
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError>;

    /// The retry policy used where the promotion does not set one.
    fn default_retry(&self) -> RetryDefaults {
        RetryDefaults::default()
    }

    /// What the step needs from the engine beyond running it.
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    /// Checks the config as written, before the promotion starts
    /// (expressions not yet evaluated): an error names the field that can
    /// never be valid, whatever the expressions give. The default accepts
    /// everything; `run` still checks the evaluated config.
    fn check_config(&self, config: &Value) -> Result<(), StepError> {
        let _ = config;
        Ok(())
    }
}

/// What a step declares about itself; the engine branches on this, never
/// on the step's type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Inside a task, the step's output is also merged into the output of
    /// the task's alias (Kargo's `compose-output` does this), so the
    /// promotion sees a task's results as `outputs.<task alias>`.
    pub task_output_propagation: bool,
    /// Where in the work directory the step reads and writes, by the
    /// fields of its config that name those paths. Steps that prepare the
    /// work directory for later ones go by it (`git-clone` checks out only
    /// what later steps touch).
    pub touches: Touches,
}

impl Capabilities {
    /// Declares task output propagation.
    pub fn with_task_output_propagation(mut self) -> Self {
        self.task_output_propagation = true;
        self
    }

    /// Declares where in the work directory the step reads and writes.
    pub fn with_touches(mut self, touches: Touches) -> Self {
        self.touches = touches;
        self
    }
}

/// Where in the work directory a step reads and writes (see
/// [`Capabilities::touches`]).
///
/// ```
/// use kargo_core::step::{Capabilities, Touches};
///
/// // A step reading `inFiles` (a list) and writing `outFile`.
/// let caps = Capabilities::default().with_touches(Touches::Fields(&["inFiles", "outFile"]));
/// assert_eq!(caps.touches, Touches::Fields(&["inFiles", "outFile"]));
/// assert_eq!(Capabilities::default().touches, Touches::Unknown);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Touches {
    /// Not declared: the step may read or write anything in the work
    /// directory. The default, so a step that says nothing is never given
    /// less than the whole work directory.
    #[default]
    Unknown,
    /// No file of the work directory (the step talks to remote services,
    /// or works on a repository's history, not its files).
    Nothing,
    /// Only the paths these top-level config fields name, and everything
    /// below them. Each field holds a path relative to the work directory
    /// (a file or a directory; a glob pattern stands for the directory
    /// before its first wildcard) or a list of such paths; the values may
    /// be expressions. A field the config leaves out names nothing.
    Fields(&'static [&'static str]),
}

/// A step as a trait object.
pub type DynStep = dyn Step;

/// Step-specific defaults for `retry`, used when the promotion leaves a
/// field unset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryDefaults {
    /// Default `retry.timeout` (None: no limit).
    pub timeout: Option<Duration>,
    /// Default `retry.errorThreshold` (None: 1).
    pub error_threshold: Option<u32>,
}

impl RetryDefaults {
    /// Defaults with the given timeout and error threshold.
    pub fn new(timeout: Option<Duration>, error_threshold: Option<u32>) -> Self {
        RetryDefaults {
            timeout,
            error_threshold,
        }
    }
}

macro_rules! forward_step {
    ($($ty:ty),*) => {$(
        #[async_trait]
        impl<T: Step + ?Sized> Step for $ty {
            async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
                (**self).run(ctx, config).await
            }
            fn default_retry(&self) -> RetryDefaults {
                (**self).default_retry()
            }
            fn capabilities(&self) -> Capabilities {
                (**self).capabilities()
            }
            fn check_config(&self, config: &Value) -> Result<(), StepError> {
                (**self).check_config(config)
            }
        }
    )*};
}
forward_step!(Box<T>, Arc<T>);

/// What one run of a step produced.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StepOutcome {
    /// `Succeeded`, `Skipped` (nothing to do), `Running` (not done yet) or
    /// `Failed` (done, unsuccessfully, not worth retrying).
    pub status: StepStatus,
    /// The step's output, readable by later steps as `outputs.<alias>`.
    pub output: Map<String, Value>,
    /// A message for people.
    pub message: Option<String>,
    /// For `Running`: when to run the step again.
    pub retry_after: Option<Duration>,
}

impl StepOutcome {
    /// A successful outcome with no output.
    pub fn succeeded() -> Self {
        StepOutcome::with_status(StepStatus::Succeeded)
    }

    /// An outcome saying there was nothing to do.
    pub fn skipped() -> Self {
        StepOutcome::with_status(StepStatus::Skipped)
    }

    /// An outcome saying the step waits; run it again after `retry_after`.
    pub fn running(retry_after: Duration) -> Self {
        StepOutcome {
            retry_after: Some(retry_after),
            ..StepOutcome::with_status(StepStatus::Running)
        }
    }

    /// An outcome saying the step finished unsuccessfully (not retried).
    pub fn failed(message: impl Into<String>) -> Self {
        StepOutcome::with_status(StepStatus::Failed).with_message(message)
    }

    fn with_status(status: StepStatus) -> Self {
        StepOutcome {
            status,
            output: Map::new(),
            message: None,
            retry_after: None,
        }
    }

    /// Adds one output value.
    pub fn with_output(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.output.insert(key.into(), value.into());
        self
    }

    /// Replaces the whole output.
    pub fn with_outputs(mut self, output: Map<String, Value>) -> Self {
        self.output = output;
        self
    }

    /// Sets the message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }
}

/// Whether a failure may pass when the step runs again, and how the step's
/// status shows it.
///
/// # The rule
/// One rule decides the kind of every step failure; steps follow it, and
/// [`StepError`]'s `From<kargo_core::Error>` applies it to the errors of
/// the layers below (which set [`ErrorStatus`](crate::ErrorStatus) where
/// they know the failure):
///
/// 1. **[`Failed`](ErrorKind::Failed): the config cannot be used.** It
///    does not parse into the step's config (an unknown, missing or
///    mistyped field), or a value in it, as written or as an expression
///    evaluated it, is malformed, out of range, names a path outside the
///    work directory or contradicts another field: the config alone shows
///    the fault, without looking at files, remotes or the host. This is
///    Kargo's schema validation and config conversion failing: status
///    `Failed` with a terminal error. A lower layer says so with
///    [`Error::Invalid`](crate::Error::Invalid) or
///    [`Error::UnknownConfigKey`](crate::Error::UnknownConfigKey). The few
///    states Kargo itself fails a step on because only a person can
///    resolve them (a merge conflict, a pull request that cannot be
///    merged, `github-push` without a token, `file-write` onto an
///    existing file without `overwrite`) are `Failed` too, and so is a
///    step's own verdict on its work (a custom step's command exiting
///    non-zero, as its protocol says); each step says so where it returns
///    them.
/// 2. **[`Retryable`](ErrorKind::Retryable): the failure is temporary**
///    ([`Error::is_temporary`](crate::Error::is_temporary)): the network
///    failed or timed out, a service answered 429 or 5xx, a lock or a
///    concurrent change was in the way. The engine runs the step again,
///    up to its `retry.errorThreshold` (Kargo's `Errored`, retried).
/// 3. **[`Terminal`](ErrorKind::Terminal): anything else.** The inputs
///    were usable but the work cannot be done (a missing key in the file
///    to edit, a branch that does not exist, refused credentials, a
///    command that exits non-zero); running the step again as it is
///    cannot help. The step ends `Errored`, not retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The step's config cannot be used (rule 1): the step ends `Failed`
    /// and is not retried (Kargo's terminal error with a `Failed` status).
    Failed,
    /// Running the step again cannot help (rule 3): the step ends
    /// `Errored` and is not retried.
    Terminal,
    /// Running the step again may help (rule 2). The engine retries up to
    /// the step's error threshold.
    Retryable,
}

impl ErrorKind {
    /// The kind the rule gives a lower layer's error: invalid input is
    /// `Failed`, a temporary error `Retryable`, anything else `Terminal`.
    pub fn of(error: &crate::Error) -> Self {
        if error.is_invalid() {
            ErrorKind::Failed
        } else if error.is_temporary() {
            ErrorKind::Retryable
        } else {
            ErrorKind::Terminal
        }
    }
}

/// A step's failure. Its [`ErrorKind`] decides whether the engine retries
/// (see [the rule](ErrorKind#the-rule)).
///
/// A step builds one from a sentence ([`StepError::failed`],
/// [`StepError::terminal`], [`StepError::retryable`]) when it found the
/// problem itself, and from a lower layer's error with `?` or
/// [`StepResultExt::step_context`], which keep that error as the source
/// and take the kind from it.
#[derive(Debug)]
pub struct StepError {
    kind: ErrorKind,
    message: String,
    source: Option<BoxError>,
}

impl StepError {
    /// A failure caused by the step's input (config, files): the step ends
    /// `Failed`, without retries.
    pub fn failed(message: impl Into<String>) -> Self {
        StepError {
            kind: ErrorKind::Failed,
            message: message.into(),
            source: None,
        }
    }

    /// A technical failure that retrying cannot fix: the step ends
    /// `Errored`, without retries.
    pub fn terminal(message: impl Into<String>) -> Self {
        StepError {
            kind: ErrorKind::Terminal,
            message: message.into(),
            source: None,
        }
    }

    /// A failure that may pass on another attempt.
    pub fn retryable(message: impl Into<String>) -> Self {
        StepError {
            kind: ErrorKind::Retryable,
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying error.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// A lower layer's error as a step error, its kind by [the
    /// rule](ErrorKind#the-rule) (through its `From<…> for
    /// kargo_core::Error`); add what the step was doing with
    /// [`context`](StepError::context).
    pub fn classify(e: impl Into<crate::Error>) -> Self {
        StepError::from(e.into())
    }

    /// Replaces the message with what the step was doing (naming the step
    /// kind and the file or field), keeping the kind and the source.
    pub fn context(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// Failed, terminal or retryable.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether the engine may run the step again.
    pub fn is_retryable(&self) -> bool {
        self.kind == ErrorKind::Retryable
    }

    /// The message, without the source chain (empty for an error
    /// converted from a lower layer's without a context).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(source) = &self.source {
            if !self.message.is_empty() {
                f.write_str(": ")?;
            }
            write!(f, "{source}")?;
        }
        Ok(())
    }
}

impl From<crate::Error> for StepError {
    /// Applies [the rule](ErrorKind#the-rule) ([`ErrorKind::of`]). The
    /// error is kept as the source: a [`Generic`](crate::Error::Generic)
    /// one's own source (the lower layer's error), with its component as
    /// the message; any other whole, with no message.
    fn from(e: crate::Error) -> Self {
        let kind = ErrorKind::of(&e);
        let (message, source) = match e {
            crate::Error::Generic {
                component, source, ..
            } => (component.to_owned(), source),
            other => (String::new(), Box::new(other) as BoxError),
        };
        StepError {
            kind,
            message,
            source: Some(source),
        }
    }
}

/// Turns a lower layer's error into a [`StepError`] by [the
/// rule](ErrorKind#the-rule), through its `From<…> for kargo_core::Error`.
///
/// ```
/// use kargo_core::step::{ErrorKind, StepError, StepResultExt};
///
/// let pushed: Result<(), kargo_core::Error> = Err(kargo_core::Error::temporary(
///     "git-push",
///     std::io::Error::other("connection reset"),
/// ));
/// let err: StepError = pushed.step_context("git-push: pushing to origin").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Retryable);
/// assert_eq!(err.to_string(), "git-push: pushing to origin: connection reset");
/// ```
pub trait StepResultExt<T> {
    /// The error as a [`StepError`] whose message is `message` (what the
    /// step was doing, naming its kind), its kind and source taken from
    /// the error.
    fn step_context(self, message: impl Into<String>) -> Result<T, StepError>;

    /// Like [`step_context`](StepResultExt::step_context), building the
    /// message only on an error.
    fn with_step_context<M: Into<String>>(
        self,
        message: impl FnOnce() -> M,
    ) -> Result<T, StepError>;
}

impl<T, E: Into<crate::Error>> StepResultExt<T> for Result<T, E> {
    fn step_context(self, message: impl Into<String>) -> Result<T, StepError> {
        self.map_err(|e| StepError::classify(e).context(message))
    }

    fn with_step_context<M: Into<String>>(
        self,
        message: impl FnOnce() -> M,
    ) -> Result<T, StepError> {
        self.map_err(|e| StepError::classify(e).context(message()))
    }
}

impl std::error::Error for StepError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<crate::workspace::ReadError> for StepError {
    /// A file the step cannot read is terminal (rule 3): the config named
    /// it, but what is wrong is the file (missing, a directory, too large).
    fn from(e: crate::workspace::ReadError) -> Self {
        StepError::terminal("").with_source(e)
    }
}

impl From<crate::workspace::PathError> for StepError {
    /// A path that is empty, absolute or leads outside the work directory
    /// is an unusable config value (rule 1); a file system that cannot be
    /// read while checking it is terminal (rule 3).
    fn from(e: crate::workspace::PathError) -> Self {
        match e {
            crate::workspace::PathError::Io { .. } => StepError::terminal("").with_source(e),
            e => StepError::failed("").with_source(e),
        }
    }
}

/// Parses a step's config into its typed form, with a
/// [`StepError::failed`] that names the step kind and the field at fault:
/// an unknown field (when the type says `deny_unknown_fields`), a missing
/// one, or one of the wrong type, by its path in the config
/// (``invalid yaml-update config at `updates[0].key`: invalid type: …``).
pub fn parse_config<T: serde::de::DeserializeOwned>(
    kind: &str,
    config: Value,
) -> Result<T, StepError> {
    // serde would read a list as the fields in order and complain about
    // the first one; a list is simply not a step's config.
    if config.is_array() {
        return Err(StepError::failed(format!(
            "invalid {kind} config: expected a mapping of fields (a struct), found a sequence"
        )));
    }
    serde_path_to_error::deserialize(config).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." {
            String::new()
        } else {
            format!(" at `{path}`")
        };
        StepError::failed(format!("invalid {kind} config{at}: {}", e.inner()))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::error::Error as _;

    use super::*;
    use crate::Error;

    fn reset() -> std::io::Error {
        std::io::Error::other("connection reset")
    }

    #[test]
    fn invalid_input_fails() {
        let err = StepError::from(Error::Invalid("`path` is empty".into()));
        assert_eq!(err.kind(), ErrorKind::Failed);
        assert_eq!(err.to_string(), "`path` is empty");
        let unknown = StepError::from(Error::UnknownConfigKey {
            component: "git-push",
            key: "remote".into(),
        });
        assert_eq!(unknown.kind(), ErrorKind::Failed);
    }

    #[test]
    fn a_temporary_error_is_retryable_and_keeps_its_source() {
        let err = StepError::from(Error::temporary("git-cache", reset()));
        assert_eq!(err.kind(), ErrorKind::Retryable);
        assert!(err.is_retryable());
        assert_eq!(err.to_string(), "git-cache: connection reset");
        let source = err.source().unwrap();
        assert!(
            source.downcast_ref::<std::io::Error>().is_some(),
            "{source:?}"
        );
    }

    #[test]
    fn anything_else_is_terminal() {
        let err = StepError::from(Error::generic("git-commit", reset()));
        assert_eq!(err.kind(), ErrorKind::Terminal);
        assert_eq!(err.to_string(), "git-commit: connection reset");
        for e in [
            Error::Precondition("merge conflict".into()),
            Error::NotFound {
                what: "branch",
                name: "main".into(),
            },
            Error::AlreadyExists {
                what: "tag",
                name: "v1".into(),
            },
        ] {
            let shown = e.to_string();
            let err = StepError::from(e);
            assert_eq!(err.kind(), ErrorKind::Terminal, "{shown}");
            assert_eq!(err.to_string(), shown);
            // The kargo-core error itself is the source.
            assert!(err.source().unwrap().downcast_ref::<Error>().is_some());
        }
    }

    #[test]
    fn a_context_replaces_the_message_and_keeps_the_rest() {
        let result: Result<(), Error> = Err(Error::NotFound {
            what: "branch",
            name: "main".into(),
        });
        let err = result
            .with_step_context(|| "git-clone: checking out".to_owned())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Terminal);
        assert_eq!(err.message(), "git-clone: checking out");
        assert_eq!(
            err.to_string(),
            "git-clone: checking out: branch not found: main"
        );

        let ok: Result<u8, Error> = Ok(1);
        assert_eq!(ok.step_context("unused").unwrap(), 1);
    }

    #[test]
    fn a_lower_error_converts_through_kargo_core() {
        #[derive(Debug, thiserror::Error)]
        #[error("registry answered 503")]
        struct Unavailable;
        impl From<Unavailable> for Error {
            fn from(e: Unavailable) -> Self {
                Error::temporary("registry", e)
            }
        }
        let err = Err::<(), _>(Unavailable)
            .step_context("oci-push: pushing")
            .unwrap_err();
        assert!(err.is_retryable());
        assert_eq!(err.to_string(), "oci-push: pushing: registry answered 503");
        assert!(
            err.source()
                .unwrap()
                .downcast_ref::<Unavailable>()
                .is_some()
        );
    }

    #[test]
    fn a_sentence_error_shows_its_message_and_source() {
        let err = StepError::terminal("git-push: reading the remote").with_source(reset());
        assert_eq!(
            err.to_string(),
            "git-push: reading the remote: connection reset"
        );
        assert_eq!(StepError::failed("bad").to_string(), "bad");
    }
}
