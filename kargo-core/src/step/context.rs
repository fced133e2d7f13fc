use std::sync::Arc;

use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use crate::credentials::{CredentialsProvider, NoCredentials};
use crate::expr::{Document, Evaluator, ExprError, Scope};
use crate::model::FreightCollection;
use crate::step::{DynStepStore, StepError, StepStore};
use crate::workspace::Workspace;

/// What a step run is given besides its config: where to work, what is
/// being promoted, credentials, cancellation and the expression scope.
///
/// The engine builds one per step run; tests and hosts that run a step on
/// its own build one with [`StepContext::new`] and the `with_*` methods.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StepContext {
    /// The promotion's shared work directory.
    pub workspace: Workspace,
    /// The project the promotion belongs to.
    pub project: String,
    /// The stage being promoted.
    pub stage: String,
    /// The promotion's name.
    pub promotion: String,
    /// This step's alias (`task-1::step-2` inside a task).
    pub alias: String,
    /// How many times this step has been run before in this promotion
    /// (0 on the first attempt).
    pub attempt: u32,
    /// The Freight being promoted and the rest of the stage's Freight.
    pub freight: Arc<FreightCollection>,
    /// Credentials by URL.
    pub credentials: Arc<dyn CredentialsProvider>,
    /// Cancelled when the promotion is aborted or the host shuts down.
    pub cancel: CancellationToken,
    /// The evaluator that evaluated the config, for steps that evaluate
    /// expressions of their own (`successExpression`, `fromExpression`).
    pub evaluator: Arc<Evaluator>,
    /// The scope the config was evaluated in.
    pub scope: Scope,
    /// The steps after this one in the promotion, with their configs as
    /// written (not evaluated). Steps that prepare work for later ones use
    /// it, e.g. `git-clone` derives a sparse checkout from the paths later
    /// steps name.
    pub later_steps: Arc<[LaterStep]>,
    /// The store that keeps the pipeline's Freight and Stage state, for
    /// steps that change it (`set-metadata`, `set-freight-alias`); `None`
    /// when the host runs promotions without one. Reach it through
    /// [`StepContext::store`].
    pub store: Option<Arc<DynStepStore>>,
}

/// A step that runs later in the same promotion (see
/// [`StepContext::later_steps`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LaterStep {
    /// Its kind (`yaml-update`).
    pub uses: String,
    /// Its config, unevaluated (`Null` when it has none).
    pub config: Value,
}

impl LaterStep {
    /// A later step of kind `uses` with `config`.
    pub fn new(uses: impl Into<String>, config: Value) -> Self {
        LaterStep {
            uses: uses.into(),
            config,
        }
    }
}

impl StepContext {
    /// A context for running a step in `workspace`, with no Freight, no
    /// credentials and empty names.
    pub fn new(workspace: Workspace) -> Self {
        StepContext {
            workspace,
            project: String::new(),
            stage: String::new(),
            promotion: String::new(),
            alias: String::new(),
            attempt: 0,
            freight: Arc::default(),
            credentials: Arc::new(NoCredentials),
            cancel: CancellationToken::new(),
            evaluator: Arc::default(),
            scope: Scope::default(),
            later_steps: Arc::from(Vec::new()),
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

    /// Sets the Freight.
    pub fn with_freight(mut self, freight: Arc<FreightCollection>) -> Self {
        self.scope.freight = Arc::clone(&freight);
        self.freight = freight;
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

    /// Sets the store (any [`StateStore`](crate::state::StateStore) is one).
    pub fn with_store(mut self, store: impl StepStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// The state store, or a terminal error naming `step` (its kind) when
    /// the host runs promotions without one.
    pub fn store(&self, step: &str) -> Result<&DynStepStore, StepError> {
        self.store.as_deref().ok_or_else(|| {
            StepError::terminal(format!(
                "{step}: no state store: this step changes Freight or Stage state, \
                 so the host must run the promotion with a store \
                 (PromotionContext::with_store)"
            ))
        })
    }

    /// Evaluates a bare expression in this step's scope, with `extra`
    /// added as top-level variables (e.g. `response` for an HTTP check).
    pub fn eval_expression(
        &self,
        expression: &str,
        extra: Map<String, Value>,
    ) -> Result<Value, ExprError> {
        let mut scope = self.scope.clone();
        scope.extra.extend(extra);
        self.evaluator.eval_expression(expression, &scope)
    }

    /// Evaluates several bare expressions in one scope, with `extra` added
    /// as top-level variables: the scope's values are converted once for
    /// all of them. One result per expression, in order.
    pub fn eval_expressions(
        &self,
        expressions: &[&str],
        extra: Map<String, Value>,
    ) -> Vec<Result<Value, ExprError>> {
        let mut scope = self.scope.clone();
        scope.extra.extend(extra);
        self.evaluator.eval_expressions(expressions, &scope)
    }

    /// Evaluates several bare expressions on a parse step's document (see
    /// [`Scope::document`](crate::expr::Scope::document)): `$env` is the
    /// document and bare names are read from it. The document is shared,
    /// not copied, and only what the expressions read is converted. One
    /// result per expression, in order.
    pub fn eval_on_document(
        &self,
        expressions: &[&str],
        document: Document,
    ) -> Vec<Result<Value, ExprError>> {
        let mut scope = self.scope.clone();
        scope.document = Some(document);
        self.evaluator.eval_expressions(expressions, &scope)
    }
}
