//! Kargo's expressions: `${{ ... }}` (and `${% ... %}`) inside string values
//! of step configs, `if` conditions and variables.
//!
//! API skeleton: the implementation lands with the expressions work.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::model::{FreightCollection, StepStatus};

/// Everything an expression can see.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// `ctx`: `{project, stage, promotion, targetFreight: {name, origin: {name}}, meta: {...}}`.
    pub ctx: Value,
    /// `vars`, already evaluated.
    pub vars: Map<String, Value>,
    /// `outputs`: the outputs of earlier steps by alias.
    pub outputs: Map<String, Value>,
    /// `task.outputs`: outputs of earlier steps of the same task, by the
    /// step's alias inside the task; `None` outside a task.
    pub task_outputs: Option<Map<String, Value>>,
    /// The Freight that `imageFrom`, `commitFrom` and `chartFrom` search.
    pub freight: Arc<FreightCollection>,
    /// Statuses of the steps run so far, by alias (for `status(alias)`;
    /// inside a task, aliases are looked up in the task's namespace first).
    pub step_statuses: BTreeMap<String, StepStatus>,
    /// The task namespace (`task-1` for steps inflated as `task-1::x`).
    pub namespace: Option<String>,
    /// Whether an earlier step that was not `continueOnError` failed
    /// (`success()` / `failure()`).
    pub failed: bool,
    /// Extra top-level variables, e.g. `response` for the http step.
    pub extra: Map<String, Value>,
}

/// An expression that could not be evaluated. The message quotes the expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expression `{expression}`: {message}")]
pub struct ExprError {
    /// The expression (or template) as written.
    pub expression: String,
    /// What failed.
    pub message: String,
}

/// Evaluates expressions; cheap to share (`Arc`) across promotions.
#[derive(Debug)]
pub struct Evaluator {
    _private: (),
}

impl Default for Evaluator {
    fn default() -> Self {
        Evaluator::new()
    }
}

impl Evaluator {
    /// An evaluator with the default fuel limit.
    pub fn new() -> Self {
        Evaluator { _private: () }
    }

    /// Evaluates every string in `config` that holds an expression,
    /// recursively, and returns the result.
    pub fn eval_config(&self, config: &Value, scope: &Scope) -> Result<Value, ExprError> {
        let _ = scope;
        Ok(config.clone())
    }

    /// Evaluates a string that may hold `${{ }}` expressions, with Kargo's
    /// coercion of the result.
    pub fn eval_template(&self, template: &str, scope: &Scope) -> Result<Value, ExprError> {
        let _ = scope;
        Ok(Value::String(template.to_owned()))
    }

    /// Evaluates a bare expression (no delimiters), e.g. an http step's
    /// `successExpression`.
    pub fn eval_expression(&self, expression: &str, scope: &Scope) -> Result<Value, ExprError> {
        let _ = scope;
        Err(ExprError {
            expression: expression.to_owned(),
            message: "not implemented".into(),
        })
    }
}
