//! Functions a host adds to one evaluation: [`Functions`], carried by
//! [`Scope::functions`](super::Scope::functions).
//!
//! Kargo's expression environments are maps that hold data and Go
//! functions side by side: a generic webhook receiver's environment has
//! `normalizeGit(url)` at the top and `request.header(name)` inside the
//! `request` object, bound to the request being handled. A [`Functions`]
//! table gives kargo-rs the same: each function is a plain Rust closure
//! over JSON values, registered under a name that is either a top-level
//! name (`normalizeGit`) or one object's method (`request.header`). The
//! table travels with the [`Scope`](super::Scope), so the same
//! [`Evaluator`](super::Evaluator) serves promotions and requests alike,
//! and an expression that never calls a host function sees no difference.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr, Rest, Serde};
use minijinja::{Error, ErrorKind, State, Value as MjValue};
use serde_json::Value;

/// The signature of a host function: its arguments as JSON, its result as
/// JSON or a message saying what is wrong.
type Call = dyn Fn(&[Value]) -> Result<Value, String> + Send + Sync;

/// One function a host adds to an evaluation. Cheap to clone.
#[derive(Clone)]
pub struct HostFunction {
    call: Arc<Call>,
}

impl fmt::Debug for HostFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HostFunction")
    }
}

impl HostFunction {
    /// A function that `call`s with its arguments as JSON values. An `Err`
    /// fails the evaluation with the message, prefixed with the function's
    /// name.
    pub fn new(call: impl Fn(&[Value]) -> Result<Value, String> + Send + Sync + 'static) -> Self {
        HostFunction {
            call: Arc::new(call),
        }
    }

    /// Calls the function.
    pub fn call(&self, args: &[Value]) -> Result<Value, String> {
        (self.call)(args)
    }
}

/// Host functions by name, for [`Scope::functions`](super::Scope::functions).
///
/// A name is either a top-level name (`normalizeGit`: called as
/// `normalizeGit(x)`) or `object.method` (`request.header`: called as
/// `request.header(x)`), which puts the function into the top-level
/// object `object`, beside the fields that [`Scope::extra`]'s entry
/// `object` holds when it is a JSON object (`request.body`). A field and a
/// method of the same name: the method wins when called, the field when
/// read.
///
/// Like [`Scope::extra`], a table cannot take the names `ctx`, `vars`,
/// `outputs`, `task` or those of the built-in functions: such entries are
/// left out of the evaluation.
///
/// [`Scope::extra`]: super::Scope::extra
///
/// ```
/// use kargo_core::expr::{Evaluator, Functions, Scope};
/// use serde_json::{Value, json};
///
/// let mut scope = Scope::default();
/// scope.extra.insert("request".into(), json!({"body": {"ref": "main"}}));
/// scope.functions = Functions::new()
///     .with("shout", |args: &[Value]| {
///         Ok(json!(args[0].as_str().unwrap_or("").to_uppercase()))
///     })
///     .with("request.header", |_: &[Value]| Ok(json!("push")));
/// let eval = Evaluator::new();
/// let when = "request.header('X-Event') == 'push' && request.body.ref == 'main'";
/// assert_eq!(eval.eval_expression(when, &scope).unwrap(), json!(true));
/// assert_eq!(
///     eval.eval_template("${{ shout(request.body.ref) }}", &scope).unwrap(),
///     json!("MAIN"),
/// );
/// ```
#[derive(Clone, Default)]
pub struct Functions {
    by_name: BTreeMap<String, HostFunction>,
}

impl fmt::Debug for Functions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.by_name.keys()).finish()
    }
}

impl Functions {
    /// An empty table.
    pub fn new() -> Self {
        Functions::default()
    }

    /// The table with `call` added as `name` (replacing any function of
    /// that name).
    pub fn with(
        mut self,
        name: impl Into<String>,
        call: impl Fn(&[Value]) -> Result<Value, String> + Send + Sync + 'static,
    ) -> Self {
        self.insert(name, HostFunction::new(call));
        self
    }

    /// Adds `function` as `name` (replacing any function of that name).
    pub fn insert(&mut self, name: impl Into<String>, function: HostFunction) {
        self.by_name.insert(name.into(), function);
    }

    /// The function registered as `name`.
    pub fn get(&self, name: &str) -> Option<&HostFunction> {
        self.by_name.get(name)
    }

    /// The names of the functions, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// The top-level values the table adds to an evaluation: each
    /// top-level function, and each object holding methods (with the
    /// fields of `fields(object)`). `taken(name)` tells names the table
    /// cannot take.
    pub(super) fn values(
        &self,
        fields: impl Fn(&str) -> Option<BTreeMap<String, MjValue>>,
        taken: impl Fn(&str) -> bool,
    ) -> Vec<(String, MjValue)> {
        let mut top = Vec::new();
        let mut objects: BTreeMap<&str, BTreeMap<String, HostFunction>> = BTreeMap::new();
        for (name, function) in &self.by_name {
            match name.split_once('.') {
                Some((object, method)) if !object.is_empty() && !method.is_empty() => {
                    objects
                        .entry(object)
                        .or_default()
                        .insert(method.to_owned(), function.clone());
                }
                _ => top.push((name.clone(), as_value(name.clone(), function.clone()))),
            }
        }
        let mut values: Vec<(String, MjValue)> =
            top.into_iter().filter(|(name, _)| !taken(name)).collect();
        for (object, methods) in objects {
            if taken(object) {
                continue;
            }
            let namespace = Namespace {
                name: object.to_owned(),
                fields: fields(object).unwrap_or_default(),
                methods,
            };
            values.push((object.to_owned(), MjValue::from_object(namespace)));
        }
        values
    }
}

/// A host function as a minijinja function named `name`.
fn as_value(name: String, function: HostFunction) -> MjValue {
    MjValue::from_function(move |args: Rest<MjValue>| call(&name, &function, &args))
}

fn call(name: &str, function: &HostFunction, args: &[MjValue]) -> Result<MjValue, Error> {
    let mut json = Vec::with_capacity(args.len());
    for arg in args {
        json.push(super::functions::json_of(arg)?);
    }
    let out = function
        .call(&json)
        .map_err(|m| Error::new(ErrorKind::InvalidOperation, format!("{name}(): {m}")))?;
    Ok(MjValue::from(Serde(out)))
}

/// A top-level object with data fields and host methods (`request`).
#[derive(Debug)]
pub(super) struct Namespace {
    name: String,
    fields: BTreeMap<String, MjValue>,
    methods: BTreeMap<String, HostFunction>,
}

impl Namespace {
    /// Calls method `method`, if the object has one by that name.
    pub(super) fn call_host(
        &self,
        method: &str,
        args: &[MjValue],
    ) -> Option<Result<MjValue, Error>> {
        let function = self.methods.get(method)?;
        Some(call(&format!("{}.{method}", self.name), function, args))
    }
}

impl Object for Namespace {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        let key = key.as_str()?;
        if let Some(field) = self.fields.get(key) {
            return Some(field.clone());
        }
        let function = self.methods.get(key)?.clone();
        Some(as_value(format!("{}.{key}", self.name), function))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut keys: Vec<MjValue> = self
            .fields
            .keys()
            .map(|k| MjValue::from(k.as_str()))
            .collect();
        keys.extend(
            self.methods
                .keys()
                .filter(|k| !self.fields.contains_key(*k))
                .map(|k| MjValue::from(k.as_str())),
        );
        Enumerator::Values(keys)
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[MjValue],
    ) -> Result<MjValue, Error> {
        self.call_host(method, args)
            .unwrap_or_else(|| Err(Error::from(ErrorKind::UnknownMethod)))
    }
}
