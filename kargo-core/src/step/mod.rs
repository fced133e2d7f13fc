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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The step's input is wrong (bad config, a file it cannot edit): the
    /// step ends `Failed` and is not retried (Kargo's terminal error with a
    /// `Failed` status).
    Failed,
    /// Running the step again cannot help, for a technical reason: the step
    /// ends `Errored` and is not retried.
    Terminal,
    /// Running the step again may help (network, lock contention). The
    /// engine retries up to the step's error threshold.
    Retryable,
}

/// A step's failure. Its [`ErrorKind`] decides whether the engine retries.
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

    /// Terminal or retryable.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether the engine may run the step again.
    pub fn is_retryable(&self) -> bool {
        self.kind == ErrorKind::Retryable
    }

    /// The message, without the source chain.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
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
    fn from(e: crate::workspace::ReadError) -> Self {
        StepError::failed(e.to_string())
    }
}

impl From<crate::workspace::PathError> for StepError {
    fn from(e: crate::workspace::PathError) -> Self {
        StepError::failed(e.to_string())
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
