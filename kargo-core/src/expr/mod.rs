//! Kargo's expressions: `${{ ... }}` (and `${% ... %}`) inside string values
//! of step configs, `if` conditions and variables.
//!
//! # Templates
//! Only string values are evaluated, never object keys. A string without
//! `${{` or `${%` is left exactly as it is (so `"42"` stays a string). A
//! string may hold several expressions with literal text around them; use
//! `${% %}` when the expression itself contains `}}`. Each expression's
//! result becomes text (strings as they are, anything else as JSON, maps
//! with sorted keys, as Kargo writes them), the pieces are joined, and the
//! whole is coerced as Kargo does:
//!
//! 1. one trailing newline is set aside (YAML `|` blocks end with one);
//! 2. text surrounded by double quotes is the string between them (this is
//!    what `quote()` is for), with the newline put back;
//! 3. a number, as Go's `strconv.ParseFloat` reads one (`42`, `1.5`, `1e3`);
//! 4. a bool, as Go's `strconv.ParseBool` reads one (`true`, `T`, `False`...);
//! 5. any JSON value (`{"a":1}`, `[1,2]`, `null`);
//! 6. otherwise the text itself, with the newline put back.
//!
//! # The language
//! Kargo evaluates expr-lang; kargo-rs evaluates with minijinja's
//! expression engine behind a translation of expr-lang syntax. Supported:
//! literals (numbers, `'…'`/`"…"`/`` `raw` `` strings, `true`, `false`,
//! `nil`, lists, maps with bare or quoted keys), member access
//! (`outputs.foo.bar`, `outputs['step-1'].x`), indexes and slices, calls,
//! `+ - * / % **`, comparisons, `&&`/`and`, `||`/`or`, `!`/`not`, `in`,
//! `not in`, `contains`, `startsWith`, `endsWith`, ranges `a..b`,
//! `c ? a : b`, `??` (nil coalescing) and `?.` (optional chaining), with
//! expr-lang's operator precedence. `+` joins strings and lists. A pipe
//! `x | f(args)` applies minijinja's filter `f`. Not supported: `matches`,
//! closures and predicates (`filter(xs, # > 1)`, `.field` shorthand),
//! `let`, methods on strings (but a date's, see below).
//!
//! As in expr-lang, a key a map does not hold is `nil`
//! (`outputs.a.missing == nil` is true); fetching from `nil`, an index out
//! of range and a field a value does not have are errors naming the path.
//! An unknown top-level name is an error too (`null` is `nil`).
//! Every evaluation runs on a fuel budget ([`Evaluator::with_fuel`]), so a
//! runaway expression stops with an error instead of hanging.
//!
//! # Variables
//! `ctx`, `vars`, `outputs`, `task` (`task.outputs`, inside a task only)
//! and the entries of [`Scope::extra`] (which cannot shadow the names
//! above or the functions below). A host adds functions of its own, at the
//! top level or as methods of an object (`request.header(name)`), with
//! [`Scope::functions`] (see [`Functions`]).
//!
//! # Functions
//! Kargo's: `warehouse(name)`, `imageFrom(repoURL[, origin])`,
//! `commitFrom(repoURL[, origin])`, `chartFrom(repoURL[, name][, origin])`,
//! `artifactFrom(subscriptionName[, origin])`, `quote(v)`, `unsafeQuote(v)`, `asJSON(v)`, `asYAML(v)`, `success()`, `failure()`,
//! `always()`, `status(alias)`, `semverParse(v)` (methods `Major()`,
//! `Minor()`, `Patch()`, `Prerelease()`, `Metadata()`, `String()`,
//! `Original()`, `IncMajor()`, `IncMinor()`, `IncPatch()`) and
//! `semverDiff(a, b)`, `freightMetadata(name)`, `stageMetadata(name)`
//! (the metadata object, `nil` when there is none). From expr-lang's
//! built-ins: `date(text)` (the layouts `2006-01-02`,
//! `2006-01-02 15:04:05` and RFC 3339), `len`, `upper`, `lower`,
//! `trim`, `trimPrefix`, `trimSuffix`, `split`, `join`, `replace`,
//! `hasPrefix`, `hasSuffix`, `string`, `int`, `float`, `toJSON`,
//! `fromJSON`. minijinja's global functions (`range`, `dict`) and filters
//! are there too.
//!
//! Dates are RFC 3339 text in UTC (`date()`'s result, a git
//! `expressionFilter`'s `commitDate`): they compare as text, and have Go's
//! `time.Time` methods `Year()`, `Month()`, `Day()`, `Hour()`, `Minute()`,
//! `Second()`, `YearDay()`, `Weekday()`, `Unix()`, `UnixMilli()`,
//! `IsZero()`, `After(d)`, `Before(d)`, `Equal(d)` and `Compare(d)`, read
//! in UTC.
//!
//! The freight lookups return `nil` when nothing matches; without an
//! origin, a match in more than one piece of Freight is an error. Their
//! objects expose Kargo's Go field names (`imageFrom(u).Tag`, `.Digest`,
//! `.RepoURL`, `.Annotations`; `commitFrom(u).ID`, `.Branch`, `.Tag`,
//! `.Message` (also `.Subject`), `.Author`, `.Committer`; `chartFrom(u, n).Name`,
//! `.Version`; `artifactFrom(s).ArtifactType`, `.SubscriptionName`,
//! `.Version`, `.Metadata`) and write out as Kargo's JSON.
//!
//! [`Evaluator::check_template`] and [`Evaluator::check_config`] find, before
//! anything runs, expressions that do not parse and calls of functions
//! kargo-rs does not have; [`crate::engine::inflate_tasks`] uses them so a
//! template is refused when it is loaded.
//!
//! # Departures from Kargo
//! - An unknown top-level name (`${{ output.x }}` for `outputs.x`) is an
//!   error; expr-lang reads it as `nil` and Kargo writes `null` into the
//!   config. `nil` and `null` themselves are `nil`.
//! - `NaN` and infinities coerce to strings (Kargo fails when it writes
//!   the config); integers keep full precision (Go reads every number as a
//!   float).
//! - The freight lookups search the Freight in [`Scope::freight`], not the
//!   Warehouses' subscriptions: "ambiguous" means more than one piece of
//!   Freight holds a match, and `chartFrom` returns `nil` where Kargo
//!   reports a chart no requested Warehouse subscribes to.
//! - `freightStatus`, `configMap`, `secret` and their shared variants are
//!   not provided (they read Kubernetes objects); templates calling them
//!   are refused when loaded, naming the function.
//! - `freightMetadata(name)` and `stageMetadata(name)` read what
//!   [`Scope::metadata`] holds: the engine loads it from the promotion's
//!   state store before it evaluates a step (so metadata set by an
//!   earlier step is seen); without a store they fail.
//!
//! # Examples
//! ```
//! use kargo_core::expr::{Evaluator, Scope};
//! use serde_json::json;
//!
//! let mut scope = Scope::default();
//! scope.vars.insert("replicas".into(), json!(3));
//! scope.ctx = json!({"stage": "prod"});
//! let eval = Evaluator::new();
//! let config = json!({
//!     "branch": "stage/${{ ctx.stage }}",
//!     "replicas": "${{ vars.replicas + 1 }}",
//!     "label": "${{ quote(vars.replicas) }}",
//! });
//! assert_eq!(
//!     eval.eval_config(&config, &scope).unwrap(),
//!     json!({"branch": "stage/prod", "replicas": 4, "label": "3"}),
//! );
//! ```

mod dates;
pub mod document;
mod functions;
mod host;
mod metadata;
mod template;
mod translate;

pub use document::Document;
pub use functions::{SECRET_FN, secret_function};
pub use host::{Functions, HostFunction};
pub use metadata::{MetadataKey, MetadataView};

use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::value::Serde;
use minijinja::{Environment, ErrorKind, UndefinedBehavior, Value as MjValue};
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
    /// Statuses of the steps run so far, by alias (for `status(alias)`).
    /// As in Kargo, a step sees its own namespace only: inside task
    /// `task-1`, `status("x")` reads `task-1::x`; outside a task, `x`.
    pub step_statuses: BTreeMap<String, StepStatus>,
    /// The task namespace (`task-1` for steps inflated as `task-1::x`).
    pub namespace: Option<String>,
    /// Whether an earlier step that was not `continueOnError` failed
    /// (`success()` / `failure()`).
    pub failed: bool,
    /// Extra top-level variables, e.g. `response` for the http step. The
    /// entry `$env`, when present and [`document`](Self::document) is not
    /// set, is what `$env` reads, as [`document`](Self::document) would.
    pub extra: Map<String, Value>,
    /// A parse step's document, which may be a map, a list or a scalar:
    /// what `$env` reads. With it set, a bare name other than `ctx`,
    /// `vars`, `outputs`, `task` and the functions is read from it, as
    /// expr-lang reads names when Kargo runs it on the document. It is
    /// never converted as a whole: an expression makes values only of what
    /// it reads (see [`Document`]).
    pub document: Option<Document>,
    /// What `freightMetadata(name)` and `stageMetadata(name)` read; `None`
    /// when the promotion runs without a state store (they then fail).
    pub metadata: Option<Arc<MetadataView>>,
    /// Functions the host adds to this evaluation, top-level or as methods
    /// of an object of [`extra`](Self::extra) (a generic webhook
    /// receiver's `normalizeGit()` and `request.header()`): see
    /// [`Functions`].
    pub functions: Functions,
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

impl ExprError {
    fn new(expression: &str, message: impl Into<String>) -> Self {
        ExprError {
            expression: expression.to_owned(),
            message: message.into(),
        }
    }
}

/// The fuel an evaluation gets from [`Evaluator::new`]: ample for real
/// expressions (a typical one uses well under a hundred units), small
/// enough to stop a runaway one within milliseconds.
pub const DEFAULT_FUEL: u64 = 200_000;

/// The largest string (in bytes) an expression, a function in it, or a
/// whole templated string may produce: 8 MiB. A sum (`+`), `replace()` or
/// `join()` that would go over it fails with an error, so an expression
/// that doubles a string again and again stops long before memory runs out.
pub const MAX_VALUE_BYTES: usize = 8 << 20;

/// The most `${{ }}` expressions one string may hold: 10,000. Each is
/// compiled and run with its own fuel; the limit bounds the work of one
/// string.
pub const MAX_EXPRESSIONS_PER_STRING: usize = 10_000;

/// What `$env` translates to. [`Scope::extra`]'s `$env` entry, when set,
/// is its value (a parse step's whole document); otherwise it is the map
/// of every top-level variable, as in expr-lang.
const ENV_VAR: &str = "__kargo_env";

/// Config keys whose string values steps evaluate as bare expressions.
const BARE_EXPRESSION_KEYS: &[&str] = &[
    "fromExpression",
    "successExpression",
    "failureExpression",
    "errorExpression",
];

/// Names that [`Scope::extra`] cannot take (nor the functions of
/// `functions::SCOPE_FUNCTIONS`).
const RESERVED: &[&str] = &["ctx", "vars", "outputs", "task"];

/// Evaluates expressions; cheap to share (`Arc`) across promotions.
///
/// An `Evaluator` holds no per-evaluation state: everything an expression
/// sees comes from the [`Scope`] passed to each call.
#[derive(Debug)]
pub struct Evaluator {
    env: Environment<'static>,
    fuel: u64,
}

impl Default for Evaluator {
    fn default() -> Self {
        Evaluator::new()
    }
}

impl Evaluator {
    /// An evaluator with the default fuel limit ([`DEFAULT_FUEL`]).
    pub fn new() -> Self {
        Evaluator::with_fuel(DEFAULT_FUEL)
    }

    /// An evaluator whose every expression may use at most `fuel` units
    /// (roughly: one per instruction, plus the items a function or filter
    /// visits). An expression that needs more fails.
    pub fn with_fuel(fuel: u64) -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(fuel));
        functions::register_static(&mut env);
        dates::register(&mut env);
        Evaluator { env, fuel }
    }

    /// The fuel limit of each expression.
    pub fn fuel(&self) -> u64 {
        self.fuel
    }

    /// Evaluates every string in `config` that holds an expression,
    /// recursively, and returns the result. Keys and non-string values are
    /// left as they are; key order is kept.
    pub fn eval_config(&self, config: &Value, scope: &Scope) -> Result<Value, ExprError> {
        let mut ctx = None;
        self.walk(config, scope, &mut ctx)
    }

    fn walk(
        &self,
        value: &Value,
        scope: &Scope,
        ctx: &mut Option<MjValue>,
    ) -> Result<Value, ExprError> {
        Ok(match value {
            Value::String(s) if template::has_expression(s) => {
                let ctx = ctx.get_or_insert_with(|| self.context(scope));
                self.template(s, ctx)?
            }
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| self.walk(v, scope, ctx))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => {
                let mut out = Map::with_capacity(map.len());
                for (k, v) in map {
                    out.insert(k.clone(), self.walk(v, scope, ctx)?);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }

    /// Evaluates a string that may hold `${{ }}` expressions, with Kargo's
    /// coercion of the result (see the [module docs](self)).
    pub fn eval_template(&self, template: &str, scope: &Scope) -> Result<Value, ExprError> {
        if !template::has_expression(template) {
            return Ok(Value::String(template.to_owned()));
        }
        self.template(template, &self.context(scope))
    }

    /// Evaluates a bare expression (no delimiters), e.g. an http step's
    /// `successExpression`, and returns its value as JSON, uncoerced.
    ///
    /// With a document set ([`Scope::document`], a parse step's),
    /// names other than `ctx`, `vars`, `outputs`, `task` and functions are
    /// read from that document as expr-lang reads them when Kargo runs it
    /// on the document: a name the document lacks is `nil`.
    pub fn eval_expression(&self, expression: &str, scope: &Scope) -> Result<Value, ExprError> {
        let mut results = self.eval_expressions(&[expression], scope);
        results.remove(0)
    }

    /// [`eval_expression`](Self::eval_expression) for several expressions
    /// in one scope, converted once for all of them; one result per
    /// expression, in order.
    pub fn eval_expressions(
        &self,
        expressions: &[&str],
        scope: &Scope,
    ) -> Vec<Result<Value, ExprError>> {
        let doc_mode = scope.document.is_some() || scope.extra.contains_key("$env");
        let context = self.context(scope);
        expressions
            .iter()
            .map(|expression| {
                self.expression_in(expression, &context, doc_mode)
                    .map(|(value, _)| value)
                    .map_err(|m| ExprError::new(expression, m))
            })
            .collect()
    }

    /// Checks that a bare expression parses, without evaluating it (what
    /// Kargo's `expr.Compile` catches up front, e.g. for a Warehouse's
    /// `expressionFilter`). Unknown variables are only found when it runs.
    pub fn check_expression(&self, expression: &str) -> Result<(), ExprError> {
        let translated = translate::translate(expression)
            .map_err(|m| ExprError::new(expression, format!("syntax error: {m}")))?;
        self.env
            .compile_expression_owned(translated)
            .map(drop)
            .map_err(|e| ExprError::new(expression, self.describe(&e)))
    }

    /// Checks, without evaluating, that a string's `${{ }}` expressions
    /// parse and call only functions kargo-rs has. A function of Kargo's
    /// reference that kargo-rs does not provide (`secret`, `configMap`,
    /// `freightStatus`...) is refused here, by name, so a template fails
    /// when it is loaded rather than halfway through a promotion.
    pub fn check_template(&self, template: &str) -> Result<(), ExprError> {
        self.check_template_with(template, &Functions::new())
    }

    /// [`check_template`](Self::check_template), for a scope whose
    /// [`Scope::functions`] will be `functions`: calls of them are known.
    pub fn check_template_with(
        &self,
        template: &str,
        functions: &Functions,
    ) -> Result<(), ExprError> {
        if !template::has_expression(template) {
            return Ok(());
        }
        for piece in template::split(template).map_err(|m| ExprError::new(template, m))? {
            if let template::Piece::Expr(e) = piece {
                self.check_calls(e, functions)
                    .map_err(|m| ExprError::new(template, m))?;
            }
        }
        Ok(())
    }

    /// [`check_template`](Self::check_template) for a bare expression
    /// (`fromExpression`, `successExpression`).
    pub fn check_bare_expression(&self, expression: &str) -> Result<(), ExprError> {
        self.check_bare_expression_with(expression, &Functions::new())
    }

    /// [`check_bare_expression`](Self::check_bare_expression), for a scope
    /// whose [`Scope::functions`] will be `functions` (a generic webhook
    /// receiver's `whenExpression`).
    pub fn check_bare_expression_with(
        &self,
        expression: &str,
        functions: &Functions,
    ) -> Result<(), ExprError> {
        self.check_calls(expression, functions)
            .map_err(|m| ExprError::new(expression, m))
    }

    /// Checks every string of a step config as [`check_template`] does;
    /// the values of the keys Kargo evaluates as bare expressions
    /// (`fromExpression`, `successExpression`, `failureExpression`) are
    /// checked as expressions.
    ///
    /// [`check_template`]: Self::check_template
    pub fn check_config(&self, config: &Value) -> Result<(), ExprError> {
        self.check_config_with(config, &Functions::new())
    }

    /// [`check_config`](Self::check_config), for a scope whose
    /// [`Scope::functions`] will be `functions` (a promotion step's, with
    /// `secret()`).
    pub fn check_config_with(
        &self,
        config: &Value,
        functions: &Functions,
    ) -> Result<(), ExprError> {
        match config {
            Value::String(s) => self.check_template_with(s, functions),
            Value::Array(items) => items
                .iter()
                .try_for_each(|v| self.check_config_with(v, functions)),
            Value::Object(map) => map.iter().try_for_each(|(k, v)| match v {
                Value::String(s) if BARE_EXPRESSION_KEYS.contains(&k.as_str()) => {
                    if template::has_expression(s) {
                        self.check_template_with(s, functions)
                    } else {
                        self.check_bare_expression_with(s, functions)
                    }
                }
                other => self.check_config_with(other, functions),
            }),
            _ => Ok(()),
        }
    }

    fn check_calls(&self, expression: &str, host: &Functions) -> Result<(), String> {
        let (translated, calls) = translate::translate_with_calls(expression)
            .map_err(|m| format!("syntax error: {m}"))?;
        for name in calls {
            if let Some(method) = name.strip_prefix('.') {
                let known = functions::SEMVER_METHODS.contains(&method)
                    || dates::TIME_METHODS.contains(&method)
                    || host
                        .names()
                        .any(|host_name| host_name.split_once('.').map(|(_, m)| m) == Some(method));
                if !known {
                    return Err(format!(
                        "method `.{method}()` is not supported by kargo-rs: values have no \
                         methods but a semantic version's and a date's ({})",
                        dates::TIME_METHODS.join(", ")
                    ));
                }
                continue;
            }
            let known = self.env.globals().any(|(global, _)| global == name)
                || functions::SCOPE_FUNCTIONS.contains(&name.as_str())
                || (!name.contains('.') && host.get(&name).is_some());
            if !known {
                let why = match functions::KARGO_ONLY
                    .iter()
                    .find(|(kargo, _)| *kargo == name)
                {
                    Some((_, why)) => {
                        format!("function `{name}()` is not supported by kargo-rs: {why}")
                    }
                    None => format!("unknown function `{name}()`"),
                };
                return Err(why);
            }
        }
        self.env
            .compile_expression_owned(translated)
            .map(drop)
            .map_err(|e| self.describe(&e))
    }

    fn template(&self, template: &str, ctx: &MjValue) -> Result<Value, ExprError> {
        let pieces = template::split(template).map_err(|m| ExprError::new(template, m))?;
        let expressions = pieces
            .iter()
            .filter(|p| matches!(p, template::Piece::Expr(_)))
            .count();
        if expressions > MAX_EXPRESSIONS_PER_STRING {
            return Err(ExprError::new(
                template,
                format!(
                    "the string holds {expressions} expressions, more than the limit of \
                     {MAX_EXPRESSIONS_PER_STRING}"
                ),
            ));
        }
        let single = pieces.len() == 1;
        let mut text = String::new();
        for piece in pieces {
            match piece {
                template::Piece::Text(t) => text.push_str(t),
                template::Piece::Expr(e) => {
                    let (value, is_string) = self.expression(e, ctx).map_err(|m| {
                        let m = if single {
                            m
                        } else {
                            format!("in `{}`: {m}", e.trim())
                        };
                        ExprError::new(template, m)
                    })?;
                    // Strings count as they are; anything else (even a
                    // version, which Go writes as a JSON string) as JSON.
                    match value {
                        Value::String(s) if is_string => text.push_str(&s),
                        other => text.push_str(&template::go_json(&other, None)),
                    }
                    if text.len() > MAX_VALUE_BYTES {
                        return Err(ExprError::new(
                            template,
                            format!("the result is more than the limit of {MAX_VALUE_BYTES} bytes"),
                        ));
                    }
                }
            }
        }
        Ok(template::coerce(text))
    }

    /// Evaluates one expression: its value as JSON, and whether it was a
    /// string.
    fn expression(&self, source: &str, ctx: &MjValue) -> Result<(Value, bool), String> {
        self.expression_in(source, ctx, false)
    }

    /// [`expression`](Self::expression), reading unknown names from `$env`
    /// when `doc_mode` is set.
    fn expression_in(
        &self,
        source: &str,
        ctx: &MjValue,
        doc_mode: bool,
    ) -> Result<(Value, bool), String> {
        let translated =
            translate::translate_in(source, doc_mode).map_err(|m| format!("syntax error: {m}"))?;
        let compiled = self
            .env
            .compile_expression_owned(translated.clone())
            .map_err(|e| self.describe(&e))?;
        let value = compiled.eval(ctx.clone()).map_err(|e| self.describe(&e))?;
        if value.is_undefined() {
            // Strict mode names an undefined value when it is used, not when
            // it is returned: use it once to get that message.
            let probe = self
                .env
                .compile_expression_owned(format!("({translated}) ~ ''"))
                .and_then(|p| p.eval(ctx.clone()));
            return Err(match probe {
                Err(e) => self.describe(&e),
                Ok(_) => "the value is undefined".into(),
            });
        }
        let is_string = value.kind() == minijinja::value::ValueKind::String;
        let mut budget = self.fuel;
        let json = template::to_json(&value, &mut String::new(), &mut budget).map_err(|m| {
            if budget == 0 {
                format!("{m} (more than {} values)", self.fuel)
            } else {
                m
            }
        })?;
        Ok((json, is_string))
    }

    fn describe(&self, err: &minijinja::Error) -> String {
        if err.kind() == ErrorKind::OutOfFuel {
            return format!(
                "evaluation stopped: the expression used up its fuel limit of {} units",
                self.fuel
            );
        }
        let text = err.to_string();
        let text = match text.find(" (in <expression>") {
            Some(i) => &text[..i],
            None => text.as_str(),
        };
        // Our functions' own messages say what failed; minijinja's kind
        // name in front of them adds nothing.
        text.strip_prefix("invalid operation: ")
            .unwrap_or(text)
            .to_owned()
    }

    /// The variables and scope-bound functions an expression sees.
    fn context(&self, scope: &Scope) -> MjValue {
        let mut vars: BTreeMap<String, MjValue> = BTreeMap::new();
        for (k, v) in &scope.extra {
            let taken = RESERVED.contains(&k.as_str())
                || functions::SCOPE_FUNCTIONS.contains(&k.as_str())
                || self.env.globals().any(|(name, _)| name == k);
            if !taken {
                vars.insert(k.clone(), MjValue::from(Serde(v)));
            }
        }
        vars.insert("ctx".into(), MjValue::from(Serde(&scope.ctx)));
        vars.insert("vars".into(), MjValue::from(Serde(&scope.vars)));
        vars.insert("outputs".into(), MjValue::from(Serde(&scope.outputs)));
        if let Some(task_outputs) = &scope.task_outputs {
            let task = BTreeMap::from([("outputs", MjValue::from(Serde(task_outputs)))]);
            vars.insert("task".into(), MjValue::from_object(task));
        }
        let env = match (&scope.document, scope.extra.get("$env")) {
            (Some(document), _) => document.to_minijinja(),
            (None, Some(root)) => Document::from_json(root).to_minijinja(),
            (None, None) => MjValue::from_object(vars.clone()),
        };
        vars.remove("$env");
        vars.insert(ENV_VAR.into(), env);
        for (name, f) in functions::scope_functions(scope) {
            vars.insert(name.into(), f);
        }
        if !scope.functions.is_empty() {
            let fields = |object: &str| match scope.extra.get(object) {
                Some(Value::Object(map)) => Some(
                    map.iter()
                        .map(|(k, v)| (k.clone(), MjValue::from(Serde(v))))
                        .collect(),
                ),
                _ => None,
            };
            let taken = |name: &str| {
                RESERVED.contains(&name)
                    || name == ENV_VAR
                    || functions::SCOPE_FUNCTIONS.contains(&name)
                    || self.env.globals().any(|(global, _)| global == name)
            };
            for (name, value) in scope.functions.values(fields, taken) {
                vars.insert(name, value);
            }
        }
        MjValue::from_object(vars)
    }
}

#[cfg(test)]
mod functions_tests;
#[cfg(test)]
mod tests;
