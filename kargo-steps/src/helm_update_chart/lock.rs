//! The dependencies of a chart as Helm reads them from `Chart.yaml`, the
//! `Chart.lock` Helm writes for them, and Helm's digest of both.
//!
//! Helm's digest (`resolver.HashReq`) is `sha256:` and the hex SHA-256 of
//! Go's `encoding/json` rendering of `[requirements, locked]`: two arrays
//! of Helm's `chart.Dependency` struct, fields in the struct's order
//! (`name`, `version`, `repository`, `condition`, `tags`, `enabled`,
//! `import-values`, `alias`), empty optional fields left out, strings
//! escaped as Go escapes them (`<`, `>` and `&` too). `Chart.lock` is that
//! struct marshalled by `sigs.k8s.io/yaml`: keys sorted, lists not
//! indented, strings quoted only where YAML 1.1 would read something else.

use std::collections::BTreeMap;

use kargo_core::expr::document::{NodeKind, NodeRef};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// One entry of `dependencies` in `Chart.yaml`, with the fields Helm's
/// digest covers.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Requirement {
    pub(super) name: String,
    pub(super) version: String,
    pub(super) repository: String,
    pub(super) condition: String,
    pub(super) tags: Vec<String>,
    pub(super) enabled: bool,
    pub(super) import_values: Vec<Value>,
    pub(super) alias: String,
}

/// One entry of `dependencies` in `Chart.lock`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Locked {
    pub(super) name: String,
    pub(super) repository: String,
    pub(super) version: String,
}

/// What is wrong with a `Chart.yaml` or `Chart.lock`, by the key at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Invalid {
    pub(super) key: String,
    pub(super) reason: String,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "key `{}`: {}", self.key, self.reason)
    }
}

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Invalid {
    Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

/// Helm's `sanitizeString`: white space becomes a space, other characters
/// that do not print are dropped.
fn sanitize(s: &str) -> String {
    s.chars()
        .filter_map(|c| {
            if c.is_whitespace() {
                Some(' ')
            } else if c.is_control() {
                None
            } else {
                Some(c)
            }
        })
        .collect()
}

/// A scalar as Go reads it from YAML through JSON into a string: strings
/// as they are, numbers and booleans as their text, null as empty; `None`
/// for a list or map.
fn scalar_text(node: NodeRef<'_>) -> Option<String> {
    match node.kind() {
        NodeKind::Seq(_) | NodeKind::Map(_) => None,
        NodeKind::Str(s) => Some(s.to_owned()),
        _ => match node.to_json() {
            Value::Number(n) => Some(crate::edit::number_text(&n)),
            Value::Bool(b) => Some(b.to_string()),
            _ => Some(String::new()),
        },
    }
}

/// A string field of a dependency (see [`scalar_text`]).
fn text(dep: NodeRef<'_>, field: &str, key: &str) -> Result<String, Invalid> {
    match dep.get(field) {
        None => Ok(String::new()),
        Some(node) => {
            scalar_text(node).ok_or_else(|| invalid(format!("{key}.{field}"), "must be a string"))
        }
    }
}

/// The `dependencies` of a `Chart.yaml` document, validated as Helm
/// validates them when it loads a chart; `None` when it has none (Helm
/// then has nothing to update).
pub(super) fn requirements(doc: NodeRef<'_>) -> Result<Option<Vec<Requirement>>, Invalid> {
    let deps = match doc.get("dependencies") {
        None => return Ok(None),
        Some(deps) => match deps.kind() {
            NodeKind::Null => return Ok(None),
            NodeKind::Seq(len) => (deps, len),
            _ => return Err(invalid("dependencies", "must be a list")),
        },
    };
    let (deps, len) = deps;
    let mut out: Vec<Requirement> = Vec::with_capacity(len);
    let mut keys: BTreeMap<String, ()> = BTreeMap::new();
    for (i, dep) in deps.items().enumerate() {
        let key = format!("dependencies.{i}");
        if !matches!(dep.kind(), NodeKind::Map(_)) {
            return Err(invalid(
                key,
                "must be a map (Helm refuses empty or null entries)",
            ));
        }
        let field = |name: &str| {
            dep.get(name)
                .filter(|n| !matches!(n.kind(), NodeKind::Null))
        };
        let tags = match field("tags") {
            None => Vec::new(),
            Some(tags) if matches!(tags.kind(), NodeKind::Seq(_)) => tags
                .items()
                .map(|t| match t.kind() {
                    NodeKind::Str(s) => Ok(sanitize(s)),
                    NodeKind::Null => {
                        Err(invalid(format!("{key}.tags"), "must be a list of strings"))
                    }
                    _ => scalar_text(t)
                        .ok_or_else(|| invalid(format!("{key}.tags"), "must be a list of strings")),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(invalid(format!("{key}.tags"), "must be a list")),
        };
        let enabled = match field("enabled").map(|n| n.kind()) {
            None => false,
            Some(NodeKind::Bool(b)) => b,
            Some(_) => return Err(invalid(format!("{key}.enabled"), "must be a boolean")),
        };
        let import_values = match field("import-values") {
            None => Vec::new(),
            Some(values) => match values.to_json() {
                Value::Array(values) => values,
                _ => return Err(invalid(format!("{key}.import-values"), "must be a list")),
            },
        };
        let req = Requirement {
            name: sanitize(&text(dep, "name", &key)?),
            version: sanitize(&text(dep, "version", &key)?),
            repository: sanitize(&text(dep, "repository", &key)?),
            condition: sanitize(&text(dep, "condition", &key)?),
            tags,
            enabled,
            import_values,
            alias: text(dep, "alias", &key)?,
        };
        if !req.alias.is_empty()
            && !req
                .alias
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(invalid(
                format!("{key}.alias"),
                format!(
                    "dependency {:?} has disallowed characters in the alias",
                    req.name
                ),
            ));
        }
        let unique = if req.alias.is_empty() {
            &req.name
        } else {
            &req.alias
        };
        if keys.insert(unique.clone(), ()).is_some() {
            return Err(invalid(
                "dependencies",
                format!("more than one dependency with name or alias {unique:?}"),
            ));
        }
        out.push(req);
    }
    Ok(Some(out))
}

/// What an existing `Chart.lock` says: its dependencies and its digest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct OldLock {
    pub(super) dependencies: Vec<Locked>,
    pub(super) digest: String,
}

/// Reads a `Chart.lock` document.
pub(super) fn old_lock(doc: NodeRef<'_>) -> Result<OldLock, Invalid> {
    let dependencies = match doc.get("dependencies").map(|d| (d, d.kind())) {
        None | Some((_, NodeKind::Null)) => Vec::new(),
        Some((deps, NodeKind::Seq(_))) => deps
            .items()
            .enumerate()
            .map(|(i, dep)| {
                let key = format!("dependencies.{i}");
                if !matches!(dep.kind(), NodeKind::Map(_)) {
                    return Err(invalid(key, "must be a map"));
                }
                Ok(Locked {
                    name: text(dep, "name", &key)?,
                    repository: text(dep, "repository", &key)?,
                    version: text(dep, "version", &key)?,
                })
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(invalid("dependencies", "must be a list")),
    };
    let digest = match doc.get("digest").map(|d| d.kind()) {
        Some(NodeKind::Str(s)) => s.to_owned(),
        _ => String::new(),
    };
    Ok(OldLock {
        dependencies,
        digest,
    })
}

/// Appends `s` as Go's `encoding/json` writes a string.
fn go_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A number as Go's `encoding/json` writes a `float64` (JSON numbers
/// decode into `float64` in an `interface{}`).
fn go_json_number(n: &serde_json::Number) -> String {
    let f = n.as_f64().unwrap_or(0.0);
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let sci = format!("{f:e}");
        let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        if exp < 0 {
            format!("{mantissa}e-{}", -exp)
        } else {
            format!("{mantissa}e+{exp:02}")
        }
    } else {
        format!("{f}")
    }
}

/// Appends `v` as Go's `encoding/json` writes an `interface{}` (maps
/// with sorted keys).
fn go_json_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&go_json_number(n)),
        Value::String(s) => go_json_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json_string(out, k);
                out.push(':');
                go_json_value(out, &map[k]);
            }
            out.push('}');
        }
    }
}

/// Appends one `chart.Dependency` as Go's `encoding/json` writes it.
fn go_json_dependency(out: &mut String, d: &Requirement) {
    out.push_str("{\"name\":");
    go_json_string(out, &d.name);
    if !d.version.is_empty() {
        out.push_str(",\"version\":");
        go_json_string(out, &d.version);
    }
    out.push_str(",\"repository\":");
    go_json_string(out, &d.repository);
    if !d.condition.is_empty() {
        out.push_str(",\"condition\":");
        go_json_string(out, &d.condition);
    }
    if !d.tags.is_empty() {
        out.push_str(",\"tags\":");
        go_json_value(
            out,
            &Value::Array(d.tags.iter().cloned().map(Value::String).collect()),
        );
    }
    if d.enabled {
        out.push_str(",\"enabled\":true");
    }
    if !d.import_values.is_empty() {
        out.push_str(",\"import-values\":");
        go_json_value(out, &Value::Array(d.import_values.clone()));
    }
    if !d.alias.is_empty() {
        out.push_str(",\"alias\":");
        go_json_string(out, &d.alias);
    }
    out.push('}');
}

impl From<&Locked> for Requirement {
    fn from(l: &Locked) -> Self {
        Requirement {
            name: l.name.clone(),
            version: l.version.clone(),
            repository: l.repository.clone(),
            ..Requirement::default()
        }
    }
}

/// Helm's digest of the requirements and what they were locked to. The
/// JSON is hashed as it is written, a dependency at a time.
pub(super) fn digest(requirements: &[Requirement], locked: &[Locked]) -> String {
    let mut hasher = Sha256::new();
    let mut json = String::from("[[");
    let mut write = |json: &mut String, i: usize, dependency: &Requirement| {
        if i > 0 {
            json.push(',');
        }
        go_json_dependency(json, dependency);
        hasher.update(json.as_bytes());
        json.clear();
    };
    for (i, r) in requirements.iter().enumerate() {
        write(&mut json, i, r);
    }
    json.push_str("],[");
    for (i, l) in locked.iter().enumerate() {
        write(&mut json, i, &Requirement::from(l));
    }
    json.push_str("]]");
    hasher.update(json.as_bytes());
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

/// Whether go-yaml (YAML 1.1) would read the plain scalar `s` as something
/// other than a string: null, a boolean, a number, a timestamp.
fn resolves_to_non_string(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "", "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
        "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
        ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
        ".NaN", ".NAN", "<<",
    ];
    if WORDS.contains(&s) {
        return true;
    }
    let plain: String = s.chars().filter(|&c| c != '_').collect();
    let unsigned = plain.strip_prefix(['+', '-']).unwrap_or(&plain);
    let all = |t: &str, f: fn(char) -> bool| !t.is_empty() && t.chars().all(f);
    let integer = all(unsigned, |c| c.is_ascii_digit())
        || unsigned
            .strip_prefix("0x")
            .is_some_and(|h| all(h, |c| c.is_ascii_hexdigit()))
        || unsigned
            .strip_prefix("0b")
            .is_some_and(|b| all(b, |c| c == '0' || c == '1'))
        || unsigned
            .strip_prefix("0o")
            .is_some_and(|o| all(o, |c| ('0'..='7').contains(&c)));
    // go-yaml's float: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
    let float = {
        let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
            Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
            None => (unsigned, None),
        };
        let mantissa_ok = match mantissa.split_once('.') {
            Some(("", frac)) => all(frac, |c| c.is_ascii_digit()),
            Some((int, frac)) => {
                all(int, |c| c.is_ascii_digit()) && frac.chars().all(|c| c.is_ascii_digit())
            }
            None => all(mantissa, |c| c.is_ascii_digit()),
        };
        let exponent_ok = exponent.is_none_or(|e| {
            all(e.strip_prefix(['+', '-']).unwrap_or(e), |c| {
                c.is_ascii_digit()
            })
        });
        mantissa_ok && exponent_ok
    };
    // A date or a date and time (`2024-01-02`, `2024-01-02T10:00:00Z`).
    let timestamp = s.len() >= 8
        && s.as_bytes()[..4].iter().all(u8::is_ascii_digit)
        && s.as_bytes()[4] == b'-'
        && s[5..]
            .chars()
            .take_while(|c| *c != 'T' && *c != 't' && *c != ' ')
            .all(|c| c.is_ascii_digit() || c == '-');
    integer || float || timestamp
}

/// Whether libyaml's emitter may write `s` as a plain scalar.
fn plain_allowed(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if s.starts_with(' ') || s.ends_with(' ') || s.ends_with(':') {
        return false;
    }
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        let next = s.chars().nth(1);
        // `-x`, `?x` and `:x` are plain when followed by a non-space.
        if !(matches!(first, '-' | '?' | ':') && next.is_some_and(|c| c != ' ')) {
            return false;
        }
    }
    !(s.contains(": ")
        || s.contains(" #")
        || s.chars().any(|c| c.is_control() || matches!(c, '\u{feff}')))
}

/// `s` as go-yaml writes a string value: plain when it reads back as the
/// same string, double-quoted when it would read as another type, single-
/// quoted when only its syntax forbids plain.
pub(super) fn yaml_scalar(s: &str) -> String {
    if resolves_to_non_string(s) {
        let mut out = String::new();
        go_json_string(&mut out, s);
        return out;
    }
    if plain_allowed(s) {
        return s.to_owned();
    }
    if s.chars().any(char::is_control) {
        let mut out = String::new();
        go_json_string(&mut out, s);
        return out;
    }
    format!("'{}'", s.replace('\'', "''"))
}

/// The text of a `Chart.lock`, as Helm writes it.
pub(super) fn render(locked: &[Locked], digest: &str, generated: &str) -> String {
    let mut out = String::from("dependencies:");
    if locked.is_empty() {
        out.push_str(" []\n");
    } else {
        out.push('\n');
        for l in locked {
            out.push_str(&format!("- name: {}\n", yaml_scalar(&l.name)));
            out.push_str(&format!("  repository: {}\n", yaml_scalar(&l.repository)));
            if !l.version.is_empty() {
                out.push_str(&format!("  version: {}\n", yaml_scalar(&l.version)));
            }
        }
    }
    out.push_str(&format!("digest: {}\n", yaml_scalar(digest)));
    out.push_str(&format!("generated: {}\n", yaml_scalar(generated)));
    out
}

/// Go's `time.RFC3339Nano` rendering of a UTC timestamp: the fraction
/// without trailing zeros.
pub(super) fn generated(now: kargo_core::time::Timestamp) -> String {
    let text = now.to_string();
    match text.split_once('.') {
        Some((head, frac)) => {
            let digits = frac.trim_end_matches('Z').trim_end_matches('0');
            if digits.is_empty() {
                format!("{head}Z")
            } else {
                format!("{head}.{digits}Z")
            }
        }
        None => text,
    }
}

/// Kargo's comparison of the locked versions before and after: by
/// dependency name, `old -> new` for a changed version, the version for an
/// addition, an empty string for a removal.
pub(super) fn compare(before: &[Locked], after: &[Locked]) -> BTreeMap<String, String> {
    let mut old: BTreeMap<&str, &str> = before
        .iter()
        .map(|d| (d.name.as_str(), d.version.as_str()))
        .collect();
    let mut changes = BTreeMap::new();
    for dep in after {
        match old.remove(dep.name.as_str()) {
            Some(version) if version != dep.version => {
                changes.insert(dep.name.clone(), format!("{version} -> {}", dep.version));
            }
            Some(_) => {}
            None => {
                changes.insert(dep.name.clone(), dep.version.clone());
            }
        }
    }
    for name in old.into_keys() {
        changes.insert(name.to_owned(), String::new());
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reqs(chart_yaml: &str) -> Vec<Requirement> {
        requirements(crate::edit::yaml::read_document(chart_yaml).unwrap().root())
            .unwrap()
            .unwrap()
    }

    fn locked(entries: &[(&str, &str, &str)]) -> Vec<Locked> {
        entries
            .iter()
            .map(|(name, repository, version)| Locked {
                name: (*name).into(),
                repository: (*repository).into(),
                version: (*version).into(),
            })
            .collect()
    }

    #[test]
    fn the_digest_is_the_one_helm_wrote_for_these_dependencies() {
        // Chart.lock files written by Helm 3 in published charts (Bitnami's
        // nginx in 2022, wordpress in 2025), for these dependencies.
        let req = reqs(
            "dependencies:\n- name: common\n  repository: https://charts.bitnami.com/bitnami\n  tags:\n  - bitnami-common\n  version: 2.x.x\n",
        );
        assert_eq!(
            digest(
                &req,
                &locked(&[("common", "https://charts.bitnami.com/bitnami", "2.2.2")])
            ),
            "sha256:49ca75cf23ba5eb7df4becef52580f98c8bd8194eb80368b9d7b875f6eefa8e5"
        );
        let oci = "oci://registry-1.docker.io/bitnamicharts";
        let req = reqs(&format!(
            "dependencies:
  - condition: memcached.enabled
    name: memcached
    repository: {oci}
    version: 7.x.x
  - condition: mariadb.enabled
    name: mariadb
    repository: {oci}
    version: 20.x.x
  - name: common
    repository: {oci}
    tags:
      - bitnami-common
    version: 2.x.x
"
        ));
        assert_eq!(
            digest(
                &req,
                &locked(&[
                    ("memcached", oci, "7.6.1"),
                    ("mariadb", oci, "20.2.2"),
                    ("common", oci, "2.29.1"),
                ])
            ),
            "sha256:3426d768d431843713b2527ff564792332f0019a69c03e605134725f10a65cc9"
        );
    }

    #[test]
    fn go_json_escapes_and_leaves_out_empty_fields_as_helm_does() {
        let req = reqs(
            "dependencies:\n- name: a\n  repository: https://x/?a=1&b=<2>\n  version: '>=1 <2'\n  enabled: true\n  alias: b\n  import-values:\n  - child: c\n    parent: p\n  - d\n  - 1.5\n  - 1e-7\n  - 100\n",
        );
        let mut out = String::new();
        go_json_dependency(&mut out, &req[0]);
        insta::assert_snapshot!(out, "keys in the struct's order, HTML characters escaped", @r#"{"name":"a","version":"\u003e=1 \u003c2","repository":"https://x/?a=1\u0026b=\u003c2\u003e","enabled":true,"import-values":[{"child":"c","parent":"p"},"d",1.5,1e-7,100],"alias":"b"}"#);
        let mut out = String::new();
        go_json_dependency(&mut out, &Requirement::from(&Locked::default()));
        assert_eq!(out, r#"{"name":"","repository":""}"#);
    }

    #[test]
    fn helm_refuses_duplicate_names_bad_aliases_and_null_entries() {
        let err = |yaml: &str| {
            requirements(crate::edit::yaml::read_document(yaml).unwrap().root())
                .unwrap_err()
                .to_string()
        };
        insta::assert_snapshot!(
            err("dependencies:\n- name: a\n- name: a\n"),
            @r#"key `dependencies`: more than one dependency with name or alias "a""#
        );
        insta::assert_snapshot!(
            err("dependencies:\n- name: a\n- name: a\n  alias: 'b c'\n"),
            @r#"key `dependencies.1.alias`: dependency "a" has disallowed characters in the alias"#
        );
        insta::assert_snapshot!(
            err("dependencies:\n- ~\n"),
            @"key `dependencies.0`: must be a map (Helm refuses empty or null entries)"
        );
        insta::assert_snapshot!(
            err("dependencies:\n- name: [a]\n"),
            @"key `dependencies.0.name`: must be a string"
        );
        assert_eq!(
            requirements(
                crate::edit::yaml::read_document("name: x\n")
                    .unwrap()
                    .root()
            )
            .unwrap(),
            None
        );
        let same_name_other_alias = reqs("dependencies:\n- name: a\n- name: a\n  alias: b\n");
        assert_eq!(same_name_other_alias.len(), 2);
    }

    #[test]
    fn a_lock_is_written_as_sigs_yaml_marshals_it() {
        let lock = render(
            &locked(&[
                ("examplechart", "http://127.0.0.1:8080", "0.1.0"),
                ("demo", "oci://127.0.0.1:5000", "1.0"),
                ("local", "", ">=1 <2"),
                ("yes", "file://../lib", "2024-01-01"),
            ]),
            "sha256:0123",
            "2025-01-27T09:57:11.574Z",
        );
        insta::assert_snapshot!(lock, @r#"
        dependencies:
        - name: examplechart
          repository: http://127.0.0.1:8080
          version: 0.1.0
        - name: demo
          repository: oci://127.0.0.1:5000
          version: "1.0"
        - name: local
          repository: ""
          version: '>=1 <2'
        - name: "yes"
          repository: file://../lib
          version: "2024-01-01"
        digest: sha256:0123
        generated: "2025-01-27T09:57:11.574Z"
        "#);
        assert_eq!(
            render(&[], "sha256:0", "2025-01-27T09:57:11Z"),
            "dependencies: []\ndigest: sha256:0\ngenerated: \"2025-01-27T09:57:11Z\"\n"
        );
    }

    #[test]
    fn yaml_scalars_are_quoted_only_where_yaml_1_1_needs_it() {
        for (s, want) in [
            ("1.2.3", "1.2.3"),
            ("v1.2.3", "v1.2.3"),
            ("1.2.3-rc.1+build.5", "1.2.3-rc.1+build.5"),
            ("1", "\"1\""),
            ("1.2", "\"1.2\""),
            ("0x1F", "\"0x1F\""),
            ("on", "\"on\""),
            ("null", "\"null\""),
            ("", "\"\""),
            ("^1.0.0", "^1.0.0"),
            ("~1.2", "~1.2"),
            (">=1.0.0", "'>=1.0.0'"),
            ("*", "'*'"),
            ("a: b", "'a: b'"),
            ("it's", "it's"),
            ("it's #1", "'it''s #1'"),
            ("x #y", "'x #y'"),
            ("-1", "\"-1\""),
            ("-rc", "-rc"),
        ] {
            assert_eq!(yaml_scalar(s), want, "{s:?}");
        }
    }

    #[test]
    fn the_generated_time_drops_trailing_zeros_as_go_does() {
        let at = |ms| generated(kargo_core::time::Timestamp::from_unix_millis(ms));
        assert_eq!(at(1_700_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(at(1_700_000_000_120), "2023-11-14T22:13:20.12Z");
        assert_eq!(at(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }

    #[test]
    fn changes_are_kargos_updates_additions_and_removals() {
        let before = locked(&[
            ("a", "r", "1.0.0"),
            ("b", "r", "2.0.0"),
            ("c", "r", "3.0.0"),
        ]);
        let after = locked(&[
            ("a", "r", "1.1.0"),
            ("c", "r", "3.0.0"),
            ("d", "r", "4.0.0"),
        ]);
        let changes = compare(&before, &after);
        assert_eq!(
            changes.into_iter().collect::<Vec<_>>(),
            [
                ("a".to_owned(), "1.0.0 -> 1.1.0".to_owned()),
                ("b".to_owned(), String::new()),
                ("d".to_owned(), "4.0.0".to_owned()),
            ]
        );
        assert!(compare(&after, &after).is_empty());
    }

    #[test]
    fn an_old_lock_is_read_for_its_versions_and_digest() {
        let doc = crate::edit::yaml::read_document(
            "dependencies:\n- name: a\n  repository: r\n  version: 1.0.0\ndigest: sha256:1\ngenerated: \"2020-01-01T00:00:00Z\"\n",
        )
        .unwrap();
        let lock = old_lock(doc.root()).unwrap();
        assert_eq!(lock.digest, "sha256:1");
        assert_eq!(lock.dependencies, locked(&[("a", "r", "1.0.0")]));
        assert!(
            old_lock(
                crate::edit::yaml::read_document("dependencies: 1\n")
                    .unwrap()
                    .root()
            )
            .is_err()
        );
    }
}
