//! Kargo's expression functions and the objects they return.

use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr, Rest};
use minijinja::{Environment, Error, ErrorKind, State, Value as MjValue};
use serde_json::Value;

use super::Scope;
use super::template::{go_json, go_quote, to_json};
use crate::model::{
    ArtifactReference, Chart, Freight, FreightCollection, FreightOrigin, GitCommit, Image,
    StepStatus,
};

/// Name of the helper the translation of `a ?? b` calls.
pub(super) const COALESCE_FN: &str = "__kargo_coalesce";
/// Name of the helper the translation of `a?.b` and `a?.[k]` calls.
pub(super) const OPTIONAL_FN: &str = "__kargo_optional";
/// Name of the helper the translation of `response.header(name)` calls.
pub(super) const HEADER_FN: &str = "__kargo_header";
/// Name of the helper the translation of `a.b` and `a[k]` calls.
pub(super) const FETCH_FN: &str = "__kargo_fetch";

/// The functions [`scope_functions`] adds for each evaluation.
pub(super) const SCOPE_FUNCTIONS: &[&str] = &[
    "imageFrom",
    "commitFrom",
    "chartFrom",
    "artifactFrom",
    "success",
    "failure",
    "freightMetadata",
    "stageMetadata",
    "status",
];

/// Functions of Kargo's expression reference that kargo-rs does not
/// provide, and why: templates calling them are refused when loaded
/// (`secret` is a promotion step's only: see [`SECRET_FN`]).
pub(super) const KARGO_ONLY: &[(&str, &str)] = &[
    (
        "secret",
        "it reads a Secret of the project, which only promotion steps' expressions can",
    ),
    (
        "sharedSecret",
        "it reads a Kubernetes Secret of the shared namespace",
    ),
    (
        "configMap",
        "it reads a Kubernetes ConfigMap of the project",
    ),
    (
        "sharedConfigMap",
        "it reads a Kubernetes ConfigMap of the shared namespace",
    ),
    (
        "freightStatus",
        "kargo-rs keeps no Kubernetes Freight status to read",
    ),
];

/// The methods of a semantic version (`semverParse(v).Major()`), as
/// Masterminds' `Version` has them: the only methods a value has, so a
/// template calling any other (a Go time's `.Year()`) is refused when it is
/// loaded.
pub(super) const SEMVER_METHODS: &[&str] = &[
    "Major",
    "Minor",
    "Patch",
    "Prerelease",
    "Metadata",
    "Original",
    "String",
    "IncMajor",
    "IncMinor",
    "IncPatch",
];

/// The name of Kargo's `secret(name)`. It is no built-in: the engine adds
/// it to a promotion step's [`Scope::functions`](super::Scope::functions)
/// ([`secret_function`]), so other expressions (a webhook receiver's) keep
/// refusing it by name, as Kargo's do not have it.
pub const SECRET_FN: &str = "secret";

/// Kargo's `secret(name)` over `view`: the data of the project's Secret
/// `name` as a map of strings, as loaded into the view
/// ([`MetadataKey::Secret`](super::MetadataKey::Secret)). Where Kargo
/// answers an empty map for a Secret that does not exist, kargo-rs knows
/// only the Secrets it was given, so one it was not given is an error
/// naming it. A name not loaded yet reads as an empty map (and is recorded
/// as a miss for the engine to load).
pub fn secret_function(view: Option<Arc<super::MetadataView>>) -> super::HostFunction {
    super::HostFunction::new(move |args: &[Value]| {
        let name = match args {
            [Value::String(name)] if !name.is_empty() => name,
            [Value::String(_)] => return Err("the name must not be empty".into()),
            [other] => return Err(format!("the name must be a string, got {other}")),
            _ => return Err(format!("expects 1 argument, got {}", args.len())),
        };
        let view = view
            .as_ref()
            .ok_or("the host runs this promotion without Secrets")?;
        match view.lookup(super::MetadataKey::Secret(name.clone())) {
            None => Ok(Value::Object(serde_json::Map::new())),
            Some(Value::Null) => Err(format!(
                "no Secret `{name}` was given to kargo-rs: pass it with --credentials \
                 (a Kubernetes Secret of the project, such as one labelled \
                 kargo.akuity.io/cred-type: generic)"
            )),
            Some(data) => Ok(data),
        }
    })
}

/// Name of the helper the translation of `a + b` calls on the sum, which
/// refuses a string or list over [`MAX_VALUE_BYTES`](super::MAX_VALUE_BYTES).
pub(super) const SIZED_FN: &str = "__kargo_sized";

/// The error for a value over the size limit, which `what` would make.
fn too_large(what: &str, size: usize) -> Error {
    fail(format!(
        "{what} would be {size} bytes, more than the limit of {} bytes",
        super::MAX_VALUE_BYTES
    ))
}

/// Refuses a string (by bytes) or list (8 bytes an item at least) larger
/// than the limit.
fn check_size(what: &str, value: &MjValue) -> Result<(), Error> {
    let size = match value.as_str() {
        Some(s) => s.len(),
        None if value.kind() == minijinja::value::ValueKind::Seq => {
            value.len().unwrap_or(0).saturating_mul(8)
        }
        None => 0,
    };
    if size > super::MAX_VALUE_BYTES {
        return Err(too_large(what, size));
    }
    Ok(())
}

fn fail(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

fn arity(name: &str, args: &[MjValue], min: usize, max: usize) -> Result<(), Error> {
    if args.len() < min || args.len() > max {
        let expected = if min == max {
            format!("{min}")
        } else {
            format!("{min}-{max}")
        };
        return Err(fail(format!(
            "{name}() expects {expected} argument(s), got {}",
            args.len()
        )));
    }
    Ok(())
}

fn string_arg<'a>(name: &str, which: &str, v: &'a MjValue) -> Result<&'a str, Error> {
    v.as_str().ok_or_else(|| {
        fail(format!(
            "{name}(): {which} argument must be a string, got {}",
            v.kind()
        ))
    })
}

/// The most values a function converts to JSON (`quote`, `asJSON`...).
const FUNCTION_JSON_BUDGET: u64 = super::DEFAULT_FUEL;

pub(super) fn json_of(v: &MjValue) -> Result<Value, Error> {
    let mut budget = FUNCTION_JSON_BUDGET;
    to_json(v, &mut String::new(), &mut budget).map_err(fail)
}

/// Registers the functions that do not depend on the scope.
pub(super) fn register_static(env: &mut Environment<'static>) {
    env.add_function("quote", |args: Rest<MjValue>| -> Result<String, Error> {
        arity("quote", &args, 1, 1)?;
        match args[0].as_str() {
            Some(s) => Ok(go_quote(s)),
            None => Ok(format!("\"{}\"", go_json(&json_of(&args[0])?, None))),
        }
    });
    env.add_function(
        "unsafeQuote",
        |args: Rest<MjValue>| -> Result<String, Error> {
            arity("unsafeQuote", &args, 1, 1)?;
            Ok(format!("\"{}\"", go_json(&json_of(&args[0])?, None)))
        },
    );
    env.add_function("asJSON", |args: Rest<MjValue>| -> Result<String, Error> {
        arity("asJSON", &args, 1, 1)?;
        Ok(format!(
            "\"{}\n\"",
            go_json(&json_of(&args[0])?, Some("  "))
        ))
    });
    env.add_function("asYAML", |args: Rest<MjValue>| -> Result<String, Error> {
        arity("asYAML", &args, 1, 1)?;
        Ok(format!("\"{}\"", yaml_of(&json_of(&args[0])?)?))
    });
    env.add_function("toJSON", |args: Rest<MjValue>| -> Result<String, Error> {
        arity("toJSON", &args, 1, 1)?;
        Ok(go_json(&json_of(&args[0])?, Some("  ")))
    });
    env.add_function(
        "warehouse",
        |args: Rest<MjValue>| -> Result<MjValue, Error> {
            arity("warehouse", &args, 1, 1)?;
            let name = string_arg("warehouse", "the", &args[0])?;
            if name.is_empty() {
                return Err(fail("warehouse(): the name must not be empty"));
            }
            Ok(KargoObject::Origin(FreightOrigin::warehouse(name)).into_value())
        },
    );
    env.add_function("always", |args: Rest<MjValue>| -> Result<bool, Error> {
        arity("always", &args, 0, 0)?;
        Ok(true)
    });
    env.add_function(
        "semverParse",
        |args: Rest<MjValue>| -> Result<MjValue, Error> {
            arity("semverParse", &args, 1, 1)?;
            let s = string_arg("semverParse", "the", &args[0])?;
            let v = SemVer::parse(s).map_err(|e| fail(format!("semverParse(): {e}")))?;
            Ok(MjValue::from_object(v))
        },
    );
    env.add_function(
        "semverDiff",
        |args: Rest<MjValue>| -> Result<&'static str, Error> {
            arity("semverDiff", &args, 2, 2)?;
            let a = string_arg("semverDiff", "first", &args[0])?;
            let b = string_arg("semverDiff", "second", &args[1])?;
            Ok(semver_diff(a, b))
        },
    );
    register_expr_lang_builtins(env);
    env.add_function(COALESCE_FN, |a: MjValue, b: MjValue| {
        if a.is_undefined() || a.is_none() {
            b
        } else {
            a
        }
    });
    env.add_function(FETCH_FN, fetch);
    env.add_function(HEADER_FN, header);
    env.add_function(OPTIONAL_FN, |obj: MjValue, key: MjValue| {
        if obj.is_undefined() || obj.is_none() {
            return MjValue::from(());
        }
        match obj.get_item(&key) {
            Ok(v) if !v.is_undefined() => v,
            _ => MjValue::from(()),
        }
    });
}

/// `x.header(name)`: a host object's own `header` method when `x` has one
/// (a generic webhook receiver's `request.header(name)`, see
/// [`Functions`](super::Functions)); otherwise the http step's
/// `response.header(name)`: Go's `Header.Get`, the first value of the
/// header named `name` in any case, or `""`.
fn header(response: MjValue, args: Rest<MjValue>) -> Result<MjValue, Error> {
    if let Some(namespace) = response.downcast_object_ref::<super::host::Namespace>()
        && let Some(result) = namespace.call_host("header", &args)
    {
        return result;
    }
    arity("header", &args, 1, 1)?;
    let name = string_arg("header", "the", &args[0])?;
    let headers = response
        .get_attr("headers")
        .ok()
        .filter(|h| h.kind() == minijinja::value::ValueKind::Map)
        .ok_or_else(|| fail("header(): only an http response has headers"))?;
    let iter = headers.try_iter()?;
    for key in iter {
        if key.as_str().is_some_and(|k| k.eq_ignore_ascii_case(name)) {
            let values = headers.get_item(&key)?;
            return Ok(values
                .get_item(&MjValue::from(0))
                .ok()
                .filter(|v| !v.is_undefined())
                .unwrap_or_else(|| MjValue::from("")));
        }
    }
    Ok(MjValue::from(""))
}

/// `obj.key` / `obj[key]` as expr-lang evaluates them: a key a map does
/// not hold is nil; fetching from nil, an index out of range, or a field
/// an object does not have is an error naming the path (`shown`).
fn fetch(obj: MjValue, key: MjValue, shown: String) -> Result<MjValue, Error> {
    if obj.is_undefined() {
        return Err(fail(format!(
            "cannot fetch `{key}`: `{shown}` is undefined"
        )));
    }
    if obj.is_none() {
        return Err(fail(format!(
            "cannot fetch `{key}` from `{shown}`: it is nil"
        )));
    }
    let got = obj.get_item(&key).ok().filter(|v| !v.is_undefined());
    if got.is_none()
        && let Some(object) = obj.downcast_object_ref::<KargoObject>()
    {
        // A Go struct, not a map: expr-lang refuses a field it lacks.
        return Err(fail(format!(
            "cannot fetch `{key}` from `{shown}`: {} has no such field (it has {})",
            object.type_name(),
            object.fields().join(", ")
        )));
    }
    match (got, obj.kind()) {
        (Some(v), _) => Ok(v),
        (None, minijinja::value::ValueKind::Map) => Ok(MjValue::from(())),
        (None, minijinja::value::ValueKind::Seq) => Err(fail(format!(
            "index {key} is out of range for `{shown}` ({} items)",
            obj.len().unwrap_or(0)
        ))),
        (None, kind) => Err(fail(format!(
            "cannot fetch `{key}` from `{shown}`, a {kind}"
        ))),
    }
}

/// YAML laid out like Go's yaml.v3 writes it (four-space indents, lists
/// indented under their key, keys sorted).
fn yaml_of(value: &Value) -> Result<String, Error> {
    let mut options = serde_saphyr::SerializerOptions::default();
    options.indent_step = 4;
    options.compact_list_indent = false;
    serde_saphyr::to_string_with_options(value, options).map_err(|e| fail(format!("asYAML(): {e}")))
}

/// A few of expr-lang's built-in functions, for expressions written for
/// Kargo. (minijinja's own functions and filters stay available too.)
fn register_expr_lang_builtins(env: &mut Environment<'static>) {
    env.add_function("hasPrefix", |s: String, p: String| s.starts_with(&p));
    env.add_function("hasSuffix", |s: String, p: String| s.ends_with(&p));
    env.add_function("upper", |s: String| s.to_uppercase());
    env.add_function("lower", |s: String| s.to_lowercase());
    env.add_function("trim", |s: String| s.trim().to_owned());
    env.add_function("trimPrefix", |s: String, p: String| {
        s.strip_prefix(p.as_str()).unwrap_or(&s).to_owned()
    });
    env.add_function("trimSuffix", |s: String, p: String| {
        s.strip_suffix(p.as_str()).unwrap_or(&s).to_owned()
    });
    env.add_function("split", |s: String, sep: String| -> Vec<String> {
        s.split(sep.as_str()).map(str::to_owned).collect()
    });
    env.add_function(SIZED_FN, |value: MjValue| -> Result<MjValue, Error> {
        check_size("the sum", &value)?;
        Ok(value)
    });
    env.add_function(
        "replace",
        |s: String, old: String, new: String| -> Result<String, Error> {
            // Counted before anything is built: each replacement may grow
            // the string.
            let count = if old.is_empty() {
                s.chars().count() + 1
            } else {
                s.matches(old.as_str()).count()
            };
            let size = s.len().saturating_add(count.saturating_mul(new.len()));
            if size > super::MAX_VALUE_BYTES {
                return Err(too_large("replace()", size));
            }
            Ok(s.replace(old.as_str(), &new))
        },
    );
    env.add_function(
        "join",
        |items: Vec<MjValue>, sep: Option<String>| -> Result<String, Error> {
            let sep = sep.as_deref().unwrap_or("");
            let mut out = String::new();
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(sep);
                }
                out.push_str(&super::template::to_text(&json_of(item)?));
                if out.len() > super::MAX_VALUE_BYTES {
                    return Err(too_large("join()", out.len()));
                }
            }
            Ok(out)
        },
    );
    env.add_function("len", |v: MjValue| -> Result<usize, Error> {
        if let Some(s) = v.as_str() {
            return Ok(s.chars().count());
        }
        v.len()
            .ok_or_else(|| fail(format!("len(): cannot take the length of a {}", v.kind())))
    });
    env.add_function("string", |v: MjValue| -> Result<String, Error> {
        Ok(super::template::to_text(&json_of(&v)?))
    });
    env.add_function("int", |v: MjValue| -> Result<i64, Error> {
        if let Some(s) = v.as_str() {
            return s
                .trim()
                .parse::<i64>()
                .map_err(|e| fail(format!("int(): cannot parse {s:?}: {e}")));
        }
        match json_of(&v)? {
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().map(|f| f.trunc() as i64))
                .ok_or_else(|| fail("int(): number out of range")),
            other => Err(fail(format!("int(): cannot convert {other}"))),
        }
    });
    env.add_function("float", |v: MjValue| -> Result<f64, Error> {
        if let Some(s) = v.as_str() {
            return s
                .trim()
                .parse::<f64>()
                .map_err(|e| fail(format!("float(): cannot parse {s:?}: {e}")));
        }
        match json_of(&v)? {
            Value::Number(n) => n
                .as_f64()
                .ok_or_else(|| fail("float(): number out of range")),
            other => Err(fail(format!("float(): cannot convert {other}"))),
        }
    });
    env.add_function("fromJSON", |s: String| -> Result<MjValue, Error> {
        let v: Value = serde_json::from_str(&s).map_err(|e| fail(format!("fromJSON(): {e}")))?;
        Ok(MjValue::from(minijinja::value::Serde(&v)))
    });
}

/// What the scope-dependent functions need, shared by their closures.
#[derive(Debug)]
struct ScopeData {
    freight: Arc<FreightCollection>,
    step_statuses: BTreeMap<String, StepStatus>,
    namespace: Option<String>,
    failed: bool,
}

/// The functions that depend on the scope, as values to put into the
/// expression's context.
pub(super) fn scope_functions(scope: &Scope) -> Vec<(&'static str, MjValue)> {
    let data = Arc::new(ScopeData {
        freight: scope.freight.clone(),
        step_statuses: scope.step_statuses.clone(),
        namespace: scope.namespace.clone(),
        failed: scope.failed,
    });
    let mut fns = Vec::new();
    let d = data.clone();
    fns.push((
        "imageFrom",
        MjValue::from_function(move |args: Rest<MjValue>| image_from(&d.freight, &args)),
    ));
    let d = data.clone();
    fns.push((
        "commitFrom",
        MjValue::from_function(move |args: Rest<MjValue>| commit_from(&d.freight, &args)),
    ));
    let d = data.clone();
    fns.push((
        "chartFrom",
        MjValue::from_function(move |args: Rest<MjValue>| chart_from(&d.freight, &args)),
    ));
    let d = data.clone();
    fns.push((
        "artifactFrom",
        MjValue::from_function(move |args: Rest<MjValue>| artifact_from(&d.freight, &args)),
    ));
    let d = data.clone();
    fns.push((
        "success",
        MjValue::from_function(move |args: Rest<MjValue>| -> Result<bool, Error> {
            arity("success", &args, 0, 0)?;
            Ok(!d.failed)
        }),
    ));
    let d = data.clone();
    fns.push((
        "failure",
        MjValue::from_function(move |args: Rest<MjValue>| -> Result<bool, Error> {
            arity("failure", &args, 0, 0)?;
            Ok(d.failed)
        }),
    ));
    for (name, stage) in [("freightMetadata", false), ("stageMetadata", true)] {
        let view = scope.metadata.clone();
        fns.push((
            name,
            MjValue::from_function(move |args: Rest<MjValue>| -> Result<MjValue, Error> {
                arity(name, &args, 1, 1)?;
                let key = string_arg(name, "the", &args[0])?;
                if key.is_empty() {
                    return Err(fail(format!("{name}(): the name must not be empty")));
                }
                let view = view.as_ref().ok_or_else(|| {
                    fail(format!(
                        "{name}(): no state store: the host runs this promotion without one"
                    ))
                })?;
                let key = if stage {
                    super::MetadataKey::Stage(key.to_owned())
                } else {
                    super::MetadataKey::Freight(key.to_owned())
                };
                Ok(MjValue::from(minijinja::value::Serde(view.get(key))))
            }),
        ));
    }
    let d = data;
    fns.push((
        "status",
        MjValue::from_function(move |args: Rest<MjValue>| -> Result<&'static str, Error> {
            arity("status", &args, 1, 1)?;
            let alias = string_arg("status", "the", &args[0])?;
            if alias.is_empty() {
                return Err(fail("status(): the alias must not be empty"));
            }
            // As in Kargo, a step sees the statuses of its own namespace only:
            // inside task `t`, `status("x")` is the status of `t::x`.
            let key = match &d.namespace {
                Some(ns) => format!("{ns}::{alias}"),
                None => alias.to_owned(),
            };
            Ok(d.step_statuses.get(&key).map_or("", |s| s.as_str()))
        }),
    ));
    fns
}

/// The origin argument of the freight lookups: an object from
/// `warehouse()` or a map with `kind` and `name`.
fn origin_arg(name: &str, which: &str, v: &MjValue) -> Result<FreightOrigin, Error> {
    if let Some(KargoObject::Origin(o)) = v.downcast_object_ref::<KargoObject>() {
        return Ok(o.clone());
    }
    if let Ok(Value::Object(map)) = json_of(v) {
        let kind = map.get("kind").or_else(|| map.get("Kind"));
        let oname = map.get("name").or_else(|| map.get("Name"));
        if let (Some(Value::String(kind)), Some(Value::String(oname))) = (kind, oname)
            && kind == "Warehouse"
        {
            return Ok(FreightOrigin::warehouse(oname.clone()));
        }
    }
    Err(fail(format!(
        "{name}(): {which} argument must be a Freight origin such as warehouse(\"name\"), got {}",
        v.kind()
    )))
}

/// Finds the one artifact `pick` selects. With an origin, only Freight from
/// that origin is searched; without one, more than one piece of Freight
/// holding a match is ambiguous. No match gives `None`.
fn find<'a, T>(
    freight: &'a FreightCollection,
    origin: Option<&FreightOrigin>,
    what: &str,
    pick: impl Fn(&'a Freight) -> Option<&'a T>,
) -> Result<Option<&'a T>, Error> {
    if let Some(origin) = origin {
        return Ok(freight.by_origin(origin).and_then(pick));
    }
    let mut found: Vec<(&Freight, &T)> = Vec::new();
    for f in &freight.items {
        if let Some(t) = pick(f) {
            found.push((f, t));
        }
    }
    match found.as_slice() {
        [] => Ok(None),
        [(_, t)] => Ok(Some(*t)),
        many => {
            let origins: Vec<String> = many.iter().map(|(f, _)| f.origin.to_string()).collect();
            Err(fail(format!(
                "ambiguous: Freight from {} each hold {what}; pass an origin, e.g. warehouse(\"{}\")",
                origins.join(", "),
                many[0].0.origin.name
            )))
        }
    }
}

fn none_or(v: Option<KargoObject>) -> MjValue {
    v.map_or(MjValue::from(()), KargoObject::into_value)
}

fn image_from(freight: &FreightCollection, args: &[MjValue]) -> Result<MjValue, Error> {
    arity("imageFrom", args, 1, 2)?;
    let url = string_arg("imageFrom", "first", &args[0])?;
    let origin = args
        .get(1)
        .map(|v| origin_arg("imageFrom", "second", v))
        .transpose()?;
    let what = format!("an image from repository {url}");
    let found = find(freight, origin.as_ref(), &what, |f| {
        f.images.iter().find(|i| i.repo_url == url)
    })?;
    Ok(none_or(found.cloned().map(KargoObject::Image)))
}

fn commit_from(freight: &FreightCollection, args: &[MjValue]) -> Result<MjValue, Error> {
    arity("commitFrom", args, 1, 2)?;
    let url = string_arg("commitFrom", "first", &args[0])?;
    let origin = args
        .get(1)
        .map(|v| origin_arg("commitFrom", "second", v))
        .transpose()?;
    let wanted = crate::urls::normalize_git(url);
    let what = format!("a commit from repository {wanted}");
    let found = find(freight, origin.as_ref(), &what, |f| {
        f.commits
            .iter()
            .find(|c| crate::urls::normalize_git(&c.repo_url) == wanted)
    })?;
    Ok(none_or(found.cloned().map(KargoObject::Commit)))
}

fn chart_from(freight: &FreightCollection, args: &[MjValue]) -> Result<MjValue, Error> {
    arity("chartFrom", args, 1, 3)?;
    let url = string_arg("chartFrom", "first", &args[0])?;
    let (name, origin) = match args {
        [_] => ("", None),
        [_, second] => match second.as_str() {
            Some(name) => (name, None),
            None => ("", Some(origin_arg("chartFrom", "second", second)?)),
        },
        [_, second, third] => (
            string_arg("chartFrom", "second", second)?,
            Some(origin_arg("chartFrom", "third", third)?),
        ),
        _ => return Err(fail("chartFrom() expects 1-3 arguments")),
    };
    let what = if name.is_empty() {
        format!("a chart from repository {url}")
    } else {
        format!("chart {name:?} from repository {url}")
    };
    let found = find(freight, origin.as_ref(), &what, |f| {
        f.charts
            .iter()
            .find(|c| c.repo_url == url && c.name == name)
    })?;
    Ok(none_or(found.cloned().map(KargoObject::Chart)))
}

/// `artifactFrom(subscriptionName[, origin])`: the artifact a generic
/// subscription of that name found.
fn artifact_from(freight: &FreightCollection, args: &[MjValue]) -> Result<MjValue, Error> {
    arity("artifactFrom", args, 1, 2)?;
    let name = string_arg("artifactFrom", "first", &args[0])?;
    let origin = args
        .get(1)
        .map(|v| origin_arg("artifactFrom", "second", v))
        .transpose()?;
    let what = format!("an artifact of subscription {name:?}");
    let found = find(freight, origin.as_ref(), &what, |f| {
        f.artifacts.iter().find(|a| a.subscription_name == name)
    })?;
    Ok(none_or(found.cloned().map(KargoObject::Artifact)))
}

/// Objects Kargo's functions return. Fields are reachable by Kargo's Go
/// names (`Tag`, `RepoURL`) and by their JSON names (`tag`, `repoURL`);
/// written out (e.g. by `${{ imageFrom(x) }}`) they are Kargo's JSON.
#[derive(Debug, Clone)]
pub(super) enum KargoObject {
    Image(Image),
    Commit(GitCommit),
    Chart(Chart),
    Artifact(ArtifactReference),
    Origin(FreightOrigin),
}

impl KargoObject {
    fn into_value(self) -> MjValue {
        MjValue::from_object(self)
    }

    /// Kargo's Go type name, for messages.
    fn type_name(&self) -> &'static str {
        match self {
            KargoObject::Image(_) => "an Image",
            KargoObject::Commit(_) => "a GitCommit",
            KargoObject::Chart(_) => "a Chart",
            KargoObject::Artifact(_) => "an ArtifactReference",
            KargoObject::Origin(_) => "a FreightOrigin",
        }
    }

    fn fields(&self) -> &'static [&'static str] {
        match self {
            KargoObject::Image(_) => &["RepoURL", "Tag", "Digest", "Annotations"],
            KargoObject::Commit(_) => &[
                "RepoURL",
                "ID",
                "Branch",
                "Tag",
                "Message",
                "Author",
                "Committer",
            ],
            KargoObject::Chart(_) => &["RepoURL", "Name", "Version"],
            KargoObject::Artifact(_) => {
                &["ArtifactType", "SubscriptionName", "Version", "Metadata"]
            }
            KargoObject::Origin(_) => &["Kind", "Name"],
        }
    }

    fn field(&self, key: &str) -> Option<MjValue> {
        let s = |v: &String| Some(MjValue::from(v.as_str()));
        match self {
            KargoObject::Image(i) => match key {
                "RepoURL" | "repoURL" => s(&i.repo_url),
                "Tag" | "tag" => s(&i.tag),
                "Digest" | "digest" => s(&i.digest),
                "Annotations" | "annotations" => Some(MjValue::from_object(i.annotations.clone())),
                _ => None,
            },
            KargoObject::Commit(c) => match key {
                "RepoURL" | "repoURL" => s(&c.repo_url),
                "ID" | "id" => s(&c.id),
                "Branch" | "branch" => s(&c.branch),
                "Tag" | "tag" => s(&c.tag),
                // `Subject` is what a Warehouse's freightCreationCriteria
                // call the same first line (Kargo's DiscoveredCommit).
                "Message" | "message" | "Subject" | "subject" => s(&c.message),
                "Author" | "author" => s(&c.author),
                "Committer" | "committer" => s(&c.committer),
                _ => None,
            },
            KargoObject::Chart(c) => match key {
                "RepoURL" | "repoURL" => s(&c.repo_url),
                "Name" | "name" => s(&c.name),
                "Version" | "version" => s(&c.version),
                _ => None,
            },
            KargoObject::Artifact(a) => match key {
                "ArtifactType" | "artifactType" => s(&a.artifact_type),
                "SubscriptionName" | "subscriptionName" => s(&a.subscription_name),
                "Version" | "version" => s(&a.version),
                // An artifact without metadata has an empty map, as in Kargo.
                "Metadata" | "metadata" => Some(match &a.metadata {
                    Some(metadata) => MjValue::from(minijinja::value::Serde(metadata)),
                    None => MjValue::from_object(BTreeMap::<String, MjValue>::new()),
                }),
                _ => None,
            },
            KargoObject::Origin(o) => match key {
                "Kind" | "kind" => Some(MjValue::from(o.kind.to_string())),
                "Name" | "name" => s(&o.name),
                _ => None,
            },
        }
    }

    fn json(&self) -> Value {
        let r = match self {
            KargoObject::Image(i) => serde_json::to_value(i),
            KargoObject::Commit(c) => serde_json::to_value(c),
            KargoObject::Chart(c) => serde_json::to_value(c),
            KargoObject::Artifact(a) => serde_json::to_value(a),
            KargoObject::Origin(o) => serde_json::to_value(o),
        };
        r.unwrap_or(Value::Null)
    }
}

impl Object for KargoObject {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        self.field(key.as_str()?)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(self.fields())
    }
}

/// The JSON of an object returned by a freight lookup or `warehouse()`.
pub(super) fn as_plain_json(v: &MjValue) -> Option<Value> {
    v.downcast_object_ref::<KargoObject>()
        .map(KargoObject::json)
}

/// The text of a version from `semverParse()`.
pub(super) fn semver_text(v: &MjValue) -> Option<String> {
    v.downcast_object_ref::<SemVer>().map(SemVer::to_string)
}

/// A semantic version as Kargo's `semverParse()` returns it (the Go
/// library Masterminds/semver): a `v` prefix is allowed, missing minor and
/// patch numbers are zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SemVer(crate::semver::Version);

impl std::fmt::Display for SemVer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl SemVer {
    pub(super) fn parse(s: &str) -> Result<SemVer, crate::semver::InvalidVersion> {
        crate::semver::Version::parse(s, false).map(SemVer)
    }

    fn method(&self, name: &str) -> Result<MjValue, Error> {
        let v = &self.0;
        let overflow = || fail(format!("semver {name}(): the version number overflows"));
        let inc = |n: u64| n.checked_add(1).ok_or_else(overflow);
        let release =
            |major, minor, patch| MjValue::from_object(SemVer(v.release(major, minor, patch)));
        Ok(match name {
            "Major" => MjValue::from(v.major()),
            "Minor" => MjValue::from(v.minor()),
            "Patch" => MjValue::from(v.patch()),
            "Prerelease" => MjValue::from(v.prerelease()),
            "Metadata" => MjValue::from(v.metadata()),
            "Original" => MjValue::from(v.original()),
            "String" => MjValue::from(v.to_string()),
            "IncMajor" => release(inc(v.major())?, 0, 0),
            "IncMinor" => release(v.major(), inc(v.minor())?, 0),
            "IncPatch" => {
                // A prerelease is followed by its own release, as in Masterminds/semver.
                let patch = if v.prerelease().is_empty() {
                    inc(v.patch())?
                } else {
                    v.patch()
                };
                release(v.major(), v.minor(), patch)
            }
            _ => {
                return Err(Error::new(
                    ErrorKind::UnknownMethod,
                    format!("a semantic version has no method {name}"),
                ));
            }
        })
    }
}

impl Object for SemVer {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        match key.as_str()? {
            name @ ("Major" | "Minor" | "Patch" | "Prerelease" | "Metadata" | "Original") => {
                self.method(name).ok()
            }
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[MjValue],
    ) -> Result<MjValue, Error> {
        if !args.is_empty() {
            return Err(fail(format!("semver {method}() takes no arguments")));
        }
        self.method(method)
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

/// Kargo's `semverDiff`: the most significant component in which two
/// versions differ (`Major`, `Minor`, `Patch`, `Metadata`), `None` when
/// none does, `Incomparable` when either is not a version. Prereleases are
/// not compared, as in Kargo.
pub(super) fn semver_diff(a: &str, b: &str) -> &'static str {
    let (Ok(SemVer(a)), Ok(SemVer(b))) = (SemVer::parse(a), SemVer::parse(b)) else {
        return "Incomparable";
    };
    if a.major() != b.major() {
        "Major"
    } else if a.minor() != b.minor() {
        "Minor"
    } else if a.patch() != b.patch() {
        "Patch"
    } else if a.metadata() != b.metadata() {
        "Metadata"
    } else {
        "None"
    }
}
