//! The promotion engine: runs a promotion's steps in order over one shared
//! work directory, with Kargo's rules for aliases, `if`, skipping after a
//! failure, `continueOnError`, retries, timeouts, tasks and outputs.
//!
//! The engine keeps everything about a running promotion in a
//! [`PromotionState`], a plain serializable value, and hands it to a
//! [`Checkpoint`] after every step. Running the same steps again with a
//! saved state resumes where it stopped: steps that finished are never run
//! again.

mod metadata;
mod run;
mod tasks;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use crate::checkpoint::{Checkpoint, NoCheckpoint};
pub use crate::model::{PromotionState, StepRecord};
pub use tasks::{ALIAS_SEPARATOR, TaskCatalog, TaskResolver, check_expressions, inflate_tasks};

use crate::Result;
use crate::credentials::{CredentialsProvider, NoCredentials};
use crate::expr::Evaluator;
use crate::model::{ExpressionVariable, FreightCollection, FreightOrigin, PromotionStep};
use crate::retry::Backoff;
use crate::step::{DynStepStore, StepRegistry, StepStore};
use crate::workspace::Workspace;

/// Runs promotions. Cheap to clone; share one per process.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use kargo_core::engine::{Engine, PromotionContext};
/// use kargo_core::model::PromotionStep;
/// use kargo_core::step::{Step, StepContext, StepError, StepOutcome, StepRegistry};
///
/// #[derive(Debug)]
/// struct Greet;
///
/// #[async_trait::async_trait]
/// impl Step for Greet {
///     async fn run(&self, _: &StepContext, _: serde_json::Value) -> Result<StepOutcome, StepError> {
///         Ok(StepOutcome::succeeded().with_output("greeting", "hello"))
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let mut registry = StepRegistry::new();
/// registry.register("greet", Greet).unwrap();
/// let engine = Engine::new(Arc::new(registry));
///
/// let dir = tempfile::tempdir().unwrap();
/// let ctx = PromotionContext::new(kargo_core::Workspace::new(dir.path()).unwrap());
/// let steps = vec![PromotionStep { uses: "greet".into(), ..Default::default() }];
/// let state = engine.run(&ctx, &steps).await.unwrap();
/// assert_eq!(state.phase, kargo_core::model::PromotionPhase::Succeeded);
/// assert_eq!(state.outputs["step-1"]["greeting"], "hello");
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct Engine {
    registry: Arc<StepRegistry>,
    evaluator: Arc<Evaluator>,
    options: EngineOptions,
}

/// Host settings of an [`Engine`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EngineOptions {
    /// The pauses between attempts of a step that failed with a
    /// retryable error, by its error count: from 500 ms, doubling, at most
    /// 30 s. The engine does not sleep them: it ends its call with the
    /// promotion `Running` and [`PromotionState::retry_at`] set, and the
    /// host runs it again then (the controller does; `kargo run` leaves it
    /// to the next run).
    pub retry_backoff: Backoff,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            retry_backoff: Backoff::exponential(
                Duration::from_millis(500),
                Duration::from_secs(30),
            ),
        }
    }
}

impl EngineOptions {
    /// Sets the first retry pause.
    pub fn with_retry_backoff(mut self, first: Duration) -> Self {
        self.retry_backoff.initial = first;
        self
    }
}

/// The target Freight of a promotion, as `ctx.targetFreight` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetFreight {
    /// The Freight's name (its ID).
    pub name: String,
    /// The Freight's alias.
    pub alias: String,
    /// Where it came from.
    pub origin: FreightOrigin,
}

/// Everything about one promotion that is not a step: names, variables,
/// Freight, the work directory, credentials and cancellation.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PromotionContext {
    /// The shared work directory.
    pub workspace: Workspace,
    /// The project.
    pub project: String,
    /// The stage.
    pub stage: String,
    /// The promotion's name.
    pub promotion: String,
    /// Who asked for the promotion (`ctx.meta.promotion.actor`).
    pub actor: String,
    /// Whether the promotion is a rollback (`ctx.meta.promotion.rollback`).
    pub rollback: bool,
    /// The base URL of the host's UI (`ctx.uiBaseUrl`), empty when it has none.
    pub ui_base_url: String,
    /// Promotion variables (stage variables, then template variables: later
    /// ones win). Step variables override them.
    pub vars: Vec<ExpressionVariable>,
    /// The Freight being promoted, and the stage's other Freight.
    pub freight: Arc<FreightCollection>,
    /// The Freight being promoted.
    pub target_freight: TargetFreight,
    /// Credentials for steps.
    pub credentials: Arc<dyn CredentialsProvider>,
    /// Cancels the promotion: the running step is told to stop and the
    /// promotion ends `Aborted`.
    pub cancel: CancellationToken,
    /// The state store steps reach through [`StepContext::store`]
    /// (`set-metadata`, `set-freight-alias`); `None` runs without one.
    ///
    /// [`StepContext::store`]: crate::step::StepContext::store
    pub store: Option<Arc<DynStepStore>>,
}

impl PromotionContext {
    /// A context for a promotion in `workspace` with empty names, no
    /// variables, no Freight and no credentials.
    pub fn new(workspace: Workspace) -> Self {
        PromotionContext {
            workspace,
            project: String::new(),
            stage: String::new(),
            promotion: String::new(),
            actor: String::new(),
            rollback: false,
            ui_base_url: String::new(),
            vars: Vec::new(),
            freight: Arc::default(),
            target_freight: TargetFreight::default(),
            credentials: Arc::new(NoCredentials),
            cancel: CancellationToken::new(),
            store: None,
        }
    }

    /// Sets the project, stage and promotion names.
    pub fn with_names(
        mut self,
        project: impl Into<String>,
        stage: impl Into<String>,
        promotion: impl Into<String>,
    ) -> Self {
        self.project = project.into();
        self.stage = stage.into();
        self.promotion = promotion.into();
        self
    }

    /// Sets who asked for the promotion and whether it is a rollback, as
    /// `ctx.meta.promotion` shows them.
    pub fn with_actor(mut self, actor: impl Into<String>, rollback: bool) -> Self {
        self.actor = actor.into();
        self.rollback = rollback;
        self
    }

    /// Sets `ctx.uiBaseUrl`.
    pub fn with_ui_base_url(mut self, url: impl Into<String>) -> Self {
        self.ui_base_url = url.into();
        self
    }

    /// Sets the promotion variables.
    pub fn with_vars(mut self, vars: Vec<ExpressionVariable>) -> Self {
        self.vars = vars;
        self
    }

    /// Sets the Freight; the first piece becomes the target Freight.
    pub fn with_freight(mut self, freight: FreightCollection) -> Self {
        if let Some(first) = freight.items.first() {
            self.target_freight = TargetFreight {
                name: first.metadata.name.clone(),
                alias: first.alias.clone(),
                origin: first.origin.clone(),
            };
        }
        self.freight = Arc::new(freight);
        self
    }

    /// Sets the credentials provider.
    pub fn with_credentials(mut self, credentials: Arc<dyn CredentialsProvider>) -> Self {
        self.credentials = credentials;
        self
    }

    /// Sets the cancellation token.
    pub fn with_cancel(mut self, cancel: CancellationToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// Sets the store the steps see (any
    /// [`StateStore`](crate::state::StateStore) is one).
    pub fn with_store(mut self, store: impl StepStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }
}

impl Engine {
    /// An engine running the steps of `registry`.
    pub fn new(registry: Arc<StepRegistry>) -> Self {
        Engine {
            registry,
            evaluator: Arc::new(Evaluator::new()),
            options: EngineOptions::default(),
        }
    }

    /// Replaces the options.
    pub fn with_options(mut self, options: EngineOptions) -> Self {
        self.options = options;
        self
    }

    /// Replaces the expression evaluator (e.g. one with a different fuel limit).
    pub fn with_evaluator(mut self, evaluator: Arc<Evaluator>) -> Self {
        self.evaluator = evaluator;
        self
    }

    /// The step registry.
    pub fn registry(&self) -> &StepRegistry {
        &self.registry
    }

    /// Runs `steps` (already inflated, see [`inflate_tasks`]) from the
    /// start until the promotion finishes or a step waits (`Running`,
    /// which a retryable error below the step's `retry.errorThreshold` is
    /// too: see [`resume`](Engine::resume)).
    pub async fn run(
        &self,
        ctx: &PromotionContext,
        steps: &[PromotionStep],
    ) -> Result<PromotionState> {
        let mut state = PromotionState::default();
        self.resume(ctx, steps, &mut state, &NoCheckpoint).await?;
        Ok(state)
    }
}
