//! Kargo's generic receiver: user-defined actions run on any POST.
//!
//! Each action of the receiver's config runs when its `whenExpression` (a
//! bare expr-lang expression; empty: always) is true for the request, on
//! the resources its `targetSelectionCriteria` select: by kind
//! (`Warehouse` or `Promotion`), `name`, `labelSelector` and
//! `indexSelector` (`subscribedURLs`), all criteria of one entry ANDed,
//! the entries' selections joined. Names and selector values may be
//! `${{ }}` templates. Expressions see what Kargo's do:
//! `request.body` (the body as JSON, `nil` when empty),
//! `request.header(name)`, `request.headers(name)`, `request.params(key)`,
//! `normalizeGit(url)`, `normalizeImage(url)`, `normalizeChart(url)` and
//! `params` (the action's `parameters`). The answer is Kargo's:
//! `{"results": [...]}`, one result per action, 500 when one of them
//! failed.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, LazyLock};

use axum::http::HeaderMap;
use kargo_core::expr::{Evaluator, ExprError, Functions, Scope};
use kargo_core::model::{LabelSelector, Warehouse};
use kargo_core::urls::{normalize_chart, normalize_git, normalize_image};
use serde::Serialize;
use serde_json::{Value, json};

use super::config::{GenericAction, GenericConfig, TargetSelectionCriteria};
use super::{Delivery, Rejection, payload, subscribe};

/// One evaluator for every request: it keeps no per-evaluation state.
static EVALUATOR: LazyLock<Evaluator> = LazyLock::new(Evaluator::new);

/// Kargo's results of an action.
const RESULT_NOT_APPLICABLE: &str = "NotApplicable";
const RESULT_ERROR: &str = "Error";
const RESULT_SUCCESS: &str = "Success";
const RESULT_PARTIAL_SUCCESS: &str = "PartialSuccess";
const RESULT_FAILURE: &str = "Failure";

/// Kargo's summaries of an action that did not run.
const SUMMARY_NOT_MATCHED: &str = "Request did not match whenExpression";
const SUMMARY_MATCHING_ERROR: &str = "Error evaluating whenExpression";
const SUMMARY_SELECTION_ERROR: &str = "Error evaluating targetSelectionCriteria";

/// What an authenticated request to a generic receiver brings to its
/// actions' expressions: the body, the headers and the query.
///
/// `Debug` shows the header names, never their values (they may carry
/// credentials of the sending service).
#[derive(Clone, PartialEq, Eq)]
pub struct GenericRequest {
    /// The body as JSON; `null` for an empty body.
    body: Value,
    /// Header values by lowercase name, in the order received.
    headers: BTreeMap<String, Vec<String>>,
    /// Query parameters, decoded, in order.
    query: Vec<(String, String)>,
}

impl fmt::Debug for GenericRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GenericRequest")
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field(
                "query",
                &self.query.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// The kinds of resources a generic action selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum TargetKind {
    /// A Warehouse: refreshing it runs its discovery.
    Warehouse,
    /// A Promotion: refreshing it tries a running one's waiting step again.
    Promotion,
}

/// A resource a generic action may select.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenericTarget {
    /// Its name.
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its entries in Kargo's `subscribedURLs` index (Warehouses: each
    /// subscription's URL, normalised after its kind; empty otherwise).
    pub subscribed_urls: Vec<String>,
}

impl GenericTarget {
    /// A Warehouse as a target.
    pub fn warehouse(warehouse: &Warehouse) -> Self {
        GenericTarget {
            name: warehouse.metadata.name.clone(),
            labels: warehouse.metadata.labels.clone(),
            subscribed_urls: subscribe::subscribed_urls(warehouse),
        }
    }
}

/// Everything in the receiver's project that generic actions may select.
#[derive(Debug, Clone, Default)]
pub struct GenericTargets {
    /// The project's Warehouses.
    pub warehouses: Vec<GenericTarget>,
    /// The project's Promotions.
    pub promotions: Vec<GenericTarget>,
}

/// What one action did: Kargo's `actionResult`, the action's config inline.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionResult {
    /// The action as configured.
    #[serde(flatten)]
    pub action: GenericAction,
    /// Whether the request satisfied its `whenExpression`.
    pub matched_when_expression: bool,
    /// The resources it selected, in order of name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub selected_targets: Vec<SelectedTarget>,
    /// `Success`, `PartialSuccess`, `Failure`, `Error` or `NotApplicable`.
    pub result: &'static str,
    /// What happened, in a sentence.
    pub summary: String,
}

impl ActionResult {
    /// Whether Kargo answers 500 for this result: the action failed, in
    /// part or in whole.
    pub fn is_error(&self) -> bool {
        matches!(
            self.result,
            RESULT_ERROR | RESULT_FAILURE | RESULT_PARTIAL_SUCCESS
        )
    }
}

/// One resource an action selected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SelectedTarget {
    /// The resource's project.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Whether refreshing it succeeded.
    pub success: bool,
}

/// Reads a request to a generic receiver: the body must be JSON (or
/// empty), the query is decoded. Nothing runs yet: see [`run`].
pub(super) fn handle(query: &str, headers: &HeaderMap, body: &[u8]) -> Result<Delivery, Rejection> {
    // Kargo reads an empty body as no body, anything else must be JSON.
    let body = if body.is_empty() {
        Value::Null
    } else {
        payload::parse::<Value>(body)?
    };
    let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        if let Ok(value) = value.to_str() {
            by_name
                .entry(name.as_str().to_owned())
                .or_default()
                .push(value.to_owned());
        }
    }
    let query = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    Ok(Delivery::Generic(Box::new(GenericRequest {
        body,
        headers: by_name,
        query,
    })))
}

/// The functions Kargo's generic receiver adds to its expressions, bound
/// to `request`.
fn functions(request: &Arc<GenericRequest>) -> Functions {
    let text = |args: &[Value], what: &str| -> Result<String, String> {
        match args {
            [Value::String(s)] => Ok(s.clone()),
            [other] => Err(format!("the {what} must be a string, got {other}")),
            _ => Err(format!("expects 1 argument, got {}", args.len())),
        }
    };
    let (r1, r2, r3) = (request.clone(), request.clone(), request.clone());
    Functions::new()
        .with("normalizeGit", move |args: &[Value]| {
            Ok(json!(normalize_git(&text(args, "URL")?)))
        })
        .with("normalizeImage", move |args: &[Value]| {
            Ok(json!(normalize_image(&text(args, "URL")?)))
        })
        .with("normalizeChart", move |args: &[Value]| {
            Ok(json!(normalize_chart(&text(args, "URL")?)))
        })
        .with("request.header", move |args: &[Value]| {
            let name = text(args, "header name")?.to_ascii_lowercase();
            Ok(json!(
                r1.headers
                    .get(&name)
                    .and_then(|v| v.first())
                    .map_or("", String::as_str)
            ))
        })
        .with("request.headers", move |args: &[Value]| {
            let name = text(args, "header name")?.to_ascii_lowercase();
            Ok(json!(r2.headers.get(&name).cloned().unwrap_or_default()))
        })
        .with("request.params", move |args: &[Value]| {
            let key = text(args, "query parameter")?;
            Ok(json!(
                r3.query
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map_or("", |(_, v)| v.as_str())
            ))
        })
}

/// Checks, when the receiver is set up, that the expressions of `config`
/// parse and call only functions the receiver provides. The error names
/// the field (`generic.actions[0].whenExpression: …`).
pub(super) fn check(config: &GenericConfig) -> Result<(), String> {
    let functions = functions(&Arc::new(GenericRequest {
        body: Value::Null,
        headers: BTreeMap::new(),
        query: Vec::new(),
    }));
    let eval = &*EVALUATOR;
    let field = |at: String| move |e: ExprError| format!("{at}: {}", e.message);
    for (i, action) in config.actions.iter().enumerate() {
        let at = format!("generic.actions[{i}]");
        if !action.when_expression.is_empty() {
            eval.check_bare_expression_with(&action.when_expression, &functions)
                .map_err(field(format!("{at}.whenExpression")))?;
        }
        for (j, target) in action.target_selection_criteria.iter().enumerate() {
            let at = format!("{at}.targetSelectionCriteria[{j}]");
            eval.check_template_with(&target.name, &functions)
                .map_err(field(format!("{at}.name")))?;
            for (key, value) in &target.label_selector.match_labels {
                eval.check_template_with(value, &functions)
                    .map_err(field(format!("{at}.labelSelector.matchLabels.{key}")))?;
            }
            for (k, requirement) in target.label_selector.match_expressions.iter().enumerate() {
                for value in &requirement.values {
                    eval.check_template_with(value, &functions)
                        .map_err(field(format!("{at}.labelSelector.matchExpressions[{k}]")))?;
                }
            }
            for (k, index) in target.index_selector.match_indices.iter().enumerate() {
                eval.check_template_with(&index.value, &functions)
                    .map_err(field(format!("{at}.indexSelector.matchIndices[{k}].value")))?;
            }
        }
    }
    Ok(())
}

/// Runs `config`'s actions for `request` in `project`: selects each
/// action's targets among `targets` and has `refresh` refresh them
/// (`refresh(kind, name)` says whether it could). One result per action,
/// in order, as Kargo reports them.
pub fn run(
    config: &GenericConfig,
    project: &str,
    request: &GenericRequest,
    targets: &GenericTargets,
    refresh: &mut dyn FnMut(TargetKind, &str) -> bool,
) -> Vec<ActionResult> {
    let request = Arc::new(request.clone());
    let mut base = Scope {
        functions: functions(&request),
        ..Scope::default()
    };
    base.extra
        .insert("request".into(), json!({"body": request.body}));
    config
        .actions
        .iter()
        .map(|action| {
            let mut scope = base.clone();
            let params: serde_json::Map<String, Value> = action
                .parameters
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            scope.extra.insert("params".into(), Value::Object(params));
            run_action(action, project, &scope, targets, refresh)
        })
        .collect()
}

fn run_action(
    action: &GenericAction,
    project: &str,
    scope: &Scope,
    targets: &GenericTargets,
    refresh: &mut dyn FnMut(TargetKind, &str) -> bool,
) -> ActionResult {
    let mut result = ActionResult {
        action: action.clone(),
        matched_when_expression: false,
        selected_targets: Vec::new(),
        result: RESULT_ERROR,
        summary: String::new(),
    };
    match when_expression_met(&action.when_expression, scope) {
        Err(e) => {
            tracing::info!(error = %e, "generic webhook: cannot evaluate whenExpression");
            result.summary = SUMMARY_MATCHING_ERROR.into();
            return result;
        }
        Ok(false) => {
            result.result = RESULT_NOT_APPLICABLE;
            result.summary = SUMMARY_NOT_MATCHED.into();
            return result;
        }
        Ok(true) => result.matched_when_expression = true,
    }
    let mut selected: Vec<(TargetKind, &str)> = Vec::new();
    for criteria in &action.target_selection_criteria {
        match select(criteria, scope, targets) {
            Ok(found) => selected.extend(found),
            Err(e) => {
                tracing::info!(error = %e, "generic webhook: cannot select targets");
                result.summary = SUMMARY_SELECTION_ERROR.into();
                return result;
            }
        }
    }
    // Kargo sorts by namespace and name and drops duplicates; all targets
    // here are of one project.
    selected.sort_by(|a, b| a.1.cmp(b.1).then(a.0.cmp(&b.0)));
    selected.dedup();
    let mut refreshed = 0;
    for (kind, name) in &selected {
        let success = refresh(*kind, name);
        refreshed += usize::from(success);
        result.selected_targets.push(SelectedTarget {
            namespace: project.to_owned(),
            name: (*name).to_owned(),
            success,
        });
    }
    let total = selected.len();
    result.result = if refreshed == total {
        RESULT_SUCCESS
    } else if refreshed == 0 {
        RESULT_FAILURE
    } else {
        RESULT_PARTIAL_SUCCESS
    };
    result.summary = format!("Refreshed {refreshed} of {total} selected resources");
    result
}

/// Kargo's `whenExpressionMet`: empty is true, anything but a bool is an
/// error.
fn when_expression_met(expression: &str, scope: &Scope) -> Result<bool, String> {
    if expression.is_empty() {
        return Ok(true);
    }
    match EVALUATOR.eval_expression(expression, scope) {
        Ok(Value::Bool(met)) => Ok(met),
        Ok(other) => Err(format!(
            "whenExpression `{expression}` is {other}, not a bool"
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// A template evaluated to a string (Kargo's `evalAsString`).
fn eval_string(template: &str, scope: &Scope) -> Result<String, String> {
    match EVALUATOR.eval_template(template, scope) {
        Ok(Value::String(s)) => Ok(s),
        Ok(other) => Err(format!("`{template}` evaluated to {other}, not a string")),
        Err(e) => Err(e.to_string()),
    }
}

/// The targets one entry of `targetSelectionCriteria` selects.
fn select<'t>(
    criteria: &TargetSelectionCriteria,
    scope: &Scope,
    targets: &'t GenericTargets,
) -> Result<Vec<(TargetKind, &'t str)>, String> {
    let (kind, candidates) = match criteria.kind.as_str() {
        "Warehouse" => (TargetKind::Warehouse, &targets.warehouses),
        "Promotion" => (TargetKind::Promotion, &targets.promotions),
        other => return Err(format!("unsupported target kind {other:?}")),
    };
    let mut indices = Vec::new();
    for index in &criteria.index_selector.match_indices {
        if index.key != "subscribedURLs" || kind != TargetKind::Warehouse {
            return Err(format!(
                "index {:?} is not available for {:?}",
                index.key, criteria.kind
            ));
        }
        let equals = match index.operator.as_str() {
            "Equals" => true,
            "NotEquals" => false,
            other => return Err(format!("unsupported index operator {other:?}")),
        };
        indices.push((equals, eval_string(&index.value, scope)?));
    }
    let labels = evaluated_selector(&criteria.label_selector, scope)?;
    let name = if criteria.name.is_empty() {
        None
    } else {
        Some(eval_string(&criteria.name, scope)?)
    };
    let mut out = Vec::new();
    for target in candidates {
        let indexed = indices
            .iter()
            .all(|(equals, value)| target.subscribed_urls.iter().any(|u| u == value) == *equals);
        if !indexed || name.as_ref().is_some_and(|n| *n != target.name) {
            continue;
        }
        let labelled = labels.matches(&target.labels).map_err(|e| e.to_string())?;
        if labelled {
            out.push((kind, target.name.as_str()));
        }
    }
    Ok(out)
}

/// The label selector with its values evaluated.
fn evaluated_selector(selector: &LabelSelector, scope: &Scope) -> Result<LabelSelector, String> {
    let mut selector = selector.clone();
    for value in selector.match_labels.values_mut() {
        *value = eval_string(value, scope)?;
    }
    for requirement in &mut selector.match_expressions {
        for value in &mut requirement.values {
            *value = eval_string(value, scope)?;
        }
    }
    Ok(selector)
}
