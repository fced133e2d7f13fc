use std::collections::{BTreeMap, HashSet};

use crate::expr::{Evaluator, Functions, SECRET_FN};
use crate::model::{
    ExpressionVariable, PromotionStep, PromotionTaskReference, PromotionTemplateSpec,
};
use crate::{Error, Result};

/// The separator between a task's alias and the alias of a step inside it.
pub const ALIAS_SEPARATOR: &str = "::";

/// Finds the spec of a `PromotionTask` or `ClusterPromotionTask`.
pub trait TaskResolver {
    /// The spec of the task `reference` names, or `None` if there is none.
    fn resolve(&self, reference: &PromotionTaskReference) -> Option<&PromotionTemplateSpec>;
}

/// Tasks held in memory, by kind and name.
#[derive(Debug, Clone, Default)]
pub struct TaskCatalog {
    tasks: BTreeMap<(String, String), PromotionTemplateSpec>,
}

impl TaskCatalog {
    /// An empty catalog.
    pub fn new() -> Self {
        TaskCatalog::default()
    }

    /// Adds a `PromotionTask`.
    pub fn insert_task(&mut self, name: impl Into<String>, spec: PromotionTemplateSpec) {
        self.tasks
            .insert(("PromotionTask".into(), name.into()), spec);
    }

    /// Adds a `ClusterPromotionTask`.
    pub fn insert_cluster_task(&mut self, name: impl Into<String>, spec: PromotionTemplateSpec) {
        self.tasks
            .insert(("ClusterPromotionTask".into(), name.into()), spec);
    }
}

impl TaskResolver for TaskCatalog {
    fn resolve(&self, reference: &PromotionTaskReference) -> Option<&PromotionTemplateSpec> {
        let kind = reference.kind.as_deref().unwrap_or("PromotionTask");
        self.tasks.get(&(kind.to_owned(), reference.name.clone()))
    }
}

/// Replaces every step that references a task with the task's steps, as
/// Kargo does when it builds a promotion:
///
/// - every step gets its alias set (`step-N` by position when unset);
/// - a task step with alias `a` (default `task-N`) becomes the task's
///   steps, aliased `a::<inner alias>`;
/// - each inner step gets the task's variables: a task variable with a
///   default is used unless the promotion sets it; one without a default
///   must be set by the referencing step (or the promotion), else an error
///   names it; the referencing step's variables follow, then the inner
///   step's own.
///
/// Unknown tasks, unknown task kinds, tasks inside tasks, a step with both
/// or neither of `uses` and `task`, and duplicate aliases are errors.
pub fn inflate_tasks(
    steps: &[PromotionStep],
    promotion_vars: &[ExpressionVariable],
    tasks: &dyn TaskResolver,
) -> Result<Vec<PromotionStep>> {
    let mut out = Vec::with_capacity(steps.len());
    for (i, step) in steps.iter().enumerate() {
        let alias = step.alias_at(i);
        match (&step.task, step.uses.is_empty()) {
            (Some(_), false) => {
                return Err(Error::Invalid(format!(
                    "step `{alias}` sets both `uses` and `task`"
                )));
            }
            (None, true) => {
                return Err(Error::Invalid(format!(
                    "step `{alias}` sets neither `uses` nor `task`"
                )));
            }
            (None, false) => {
                let mut step = step.clone();
                step.alias = alias;
                out.push(step);
            }
            (Some(reference), true) => {
                out.extend(inflate_one(&alias, step, reference, promotion_vars, tasks)?);
            }
        }
    }
    let mut seen = HashSet::new();
    for step in &out {
        if !seen.insert(step.alias.as_str()) {
            return Err(Error::AlreadyExists {
                what: "step alias",
                name: step.alias.clone(),
            });
        }
    }
    for step in &out {
        check_expressions(step)?;
    }
    Ok(out)
}

/// Refuses a step whose `if`, variables or config hold an expression that
/// does not parse or calls a function kargo-rs does not have, naming the
/// step, where, and the function: templates fail when they are loaded,
/// never halfway through a promotion.
pub fn check_expressions(step: &PromotionStep) -> Result<()> {
    static CHECKER: std::sync::LazyLock<Evaluator> = std::sync::LazyLock::new(Evaluator::new);
    // The functions the engine adds to a step's scope (only their names
    // matter to a check).
    static FUNCTIONS: std::sync::LazyLock<Functions> = std::sync::LazyLock::new(|| {
        Functions::new().with(SECRET_FN, |_: &[serde_json::Value]| {
            Err("only checked".to_owned())
        })
    });
    let invalid = |what: &str, e: crate::expr::ExprError| {
        Error::Invalid(format!("step `{}`: {what}: {e}", step.alias))
    };
    if !step.if_.is_empty() {
        CHECKER
            .check_template_with(&step.if_, &FUNCTIONS)
            .map_err(|e| invalid("`if`", e))?;
    }
    for var in &step.vars {
        if let Some(value) = &var.value {
            CHECKER
                .check_template_with(value, &FUNCTIONS)
                .map_err(|e| invalid(&format!("variable `{}`", var.name), e))?;
        }
    }
    if let Some(config) = &step.config {
        CHECKER
            .check_config_with(config, &FUNCTIONS)
            .map_err(|e| invalid("config", e))?;
    }
    Ok(())
}

fn inflate_one(
    task_alias: &str,
    task_step: &PromotionStep,
    reference: &PromotionTaskReference,
    promotion_vars: &[ExpressionVariable],
    tasks: &dyn TaskResolver,
) -> Result<Vec<PromotionStep>> {
    let kind = reference.kind.as_deref().unwrap_or("PromotionTask");
    if !matches!(kind, "PromotionTask" | "ClusterPromotionTask") {
        return Err(Error::Invalid(format!(
            "step `{task_alias}`: unknown task kind `{kind}` (expected PromotionTask or ClusterPromotionTask)"
        )));
    }
    let spec = tasks.resolve(reference).ok_or_else(|| Error::NotFound {
        what: if kind == "PromotionTask" {
            "PromotionTask"
        } else {
            "ClusterPromotionTask"
        },
        name: reference.name.clone(),
    })?;

    let has_value = |vars: &[ExpressionVariable], name: &str| {
        vars.iter()
            .any(|v| v.name == name && v.value.as_deref().is_some_and(|s| !s.is_empty()))
    };
    let mut vars = Vec::new();
    for var in &spec.vars {
        if has_value(promotion_vars, &var.name) {
            continue;
        }
        if var.value.as_deref().is_some_and(|s| !s.is_empty()) {
            vars.push(var.clone());
        } else if !has_value(&task_step.vars, &var.name) {
            return Err(Error::Invalid(format!(
                "step `{task_alias}` uses task `{}`, which requires variable `{}`: set it in the step's `vars`",
                reference.name, var.name
            )));
        }
    }
    vars.extend(task_step.vars.iter().cloned());

    spec.steps
        .iter()
        .enumerate()
        .map(|(j, inner)| {
            if inner.task.is_some() {
                return Err(Error::Invalid(format!(
                    "task `{}`: step {} references another task; tasks cannot be nested",
                    reference.name,
                    j + 1
                )));
            }
            if inner.uses.is_empty() {
                return Err(Error::Invalid(format!(
                    "task `{}`: step {} has no `uses`",
                    reference.name,
                    j + 1
                )));
            }
            let mut step = inner.clone();
            step.alias = format!("{task_alias}{ALIAS_SEPARATOR}{}", inner.alias_at(j));
            step.vars = vars
                .iter()
                .cloned()
                .chain(inner.vars.iter().cloned())
                .collect();
            Ok(step)
        })
        .collect()
}

/// The task namespace of an alias: `task-1` for `task-1::step-2`.
pub(crate) fn alias_namespace(alias: &str) -> Option<&str> {
    let mut parts = alias.split(ALIAS_SEPARATOR);
    match (parts.next(), parts.next(), parts.next()) {
        (Some(ns), Some(_), None) => Some(ns),
        _ => None,
    }
}
