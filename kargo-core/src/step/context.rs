use std::ops::Deref;
use std::sync::Arc;

use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use crate::credentials::CredentialsProvider;
use crate::engine::PromotionContext;
use crate::expr::{Document, Evaluator, ExprError, Scope};
use crate::model::FreightCollection;
use crate::step::{Capabilities, DynStepStore, StepError, StepStore};
use crate::workspace::Workspace;

/// What a step run is given besides its config: where to work, what is
/// being promoted, credentials, cancellation and the expression scope.
///
/// Everything that belongs to the promotion rather than to the step (the
/// work directory, the names, the Freight, credentials, the store) is the
/// promotion's [`PromotionContext`], shared, not copied: the engine builds
/// one `StepContext` per step attempt around an `Arc` of it, and the
/// context reads as that [`PromotionContext`] through `Deref`
/// (`ctx.workspace`, `ctx.freight`, `ctx.credentials`...). Tests and hosts
/// that run a step on its own build one with [`StepContext::new`] and the
/// `with_*` methods.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StepContext {
    /// The promotion this step runs in: its work directory, names,
    /// variables, Freight, credentials and store.
    pub promotion_ctx: Arc<PromotionContext>,
    /// This step's alias (`task-1::step-2` inside a task).
    pub alias: String,
    /// How many times this step has been run before in this promotion
    /// (0 on the first attempt).
    pub attempt: u32,
    /// Cancelled when the promotion is aborted or the host shuts down (a
    /// child of the promotion's token).
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
}

impl Deref for StepContext {
    type Target = PromotionContext;

    /// The promotion's context: `ctx.workspace`, `ctx.project`,
    /// `ctx.stage`, `ctx.promotion`, `ctx.freight`, `ctx.credentials` and
    /// `ctx.store` read through it.
    fn deref(&self) -> &PromotionContext {
        &self.promotion_ctx
    }
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
    /// What the step registered under `uses` declares about itself (the
    /// default, which declares nothing, when no step is registered there).
    pub capabilities: Capabilities,
}

impl LaterStep {
    /// A later step of kind `uses` with `config`, declaring nothing.
    pub fn new(uses: impl Into<String>, config: Value) -> Self {
        LaterStep {
            uses: uses.into(),
            config,
            capabilities: Capabilities::default(),
        }
    }

    /// Sets what the step declares about itself.
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }
}

impl StepContext {
    /// A context for running a step in `workspace`, with no Freight, no
    /// credentials and empty names.
    pub fn new(workspace: Workspace) -> Self {
        StepContext::in_promotion(Arc::new(PromotionContext::new(workspace)))
    }

    /// A context for a step of the promotion `promotion`: its Freight in
    /// the scope, cancelled with it, everything else empty.
    pub fn in_promotion(promotion: Arc<PromotionContext>) -> Self {
        StepContext {
            alias: String::new(),
            attempt: 0,
            cancel: promotion.cancel.child_token(),
            evaluator: Arc::default(),
            scope: Scope {
                freight: Arc::clone(&promotion.freight),
                ..Scope::default()
            },
            later_steps: Arc::from(Vec::new()),
            promotion_ctx: promotion,
        }
    }

    /// The promotion's context, to change (copied first when shared).
    fn promotion_mut(&mut self) -> &mut PromotionContext {
        Arc::make_mut(&mut self.promotion_ctx)
    }

    /// Sets the project, stage and promotion names.
    pub fn with_names(
        mut self,
        project: impl Into<String>,
        stage: impl Into<String>,
        promotion: impl Into<String>,
    ) -> Self {
        let shared = self.promotion_mut();
        shared.project = project.into();
        shared.stage = stage.into();
        shared.promotion = promotion.into();
        self
    }

    /// Sets the Freight.
    pub fn with_freight(mut self, freight: Arc<FreightCollection>) -> Self {
        self.scope.freight = Arc::clone(&freight);
        self.promotion_mut().freight = freight;
        self
    }

    /// Sets the credentials provider.
    pub fn with_credentials(mut self, credentials: Arc<dyn CredentialsProvider>) -> Self {
        self.promotion_mut().credentials = credentials;
        self
    }

    /// Sets the cancellation token.
    pub fn with_cancel(mut self, cancel: CancellationToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// Sets the store (any [`StateStore`](crate::state::StateStore) is one).
    pub fn with_store(mut self, store: impl StepStore) -> Self {
        self.promotion_mut().store = Some(Arc::new(store));
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
