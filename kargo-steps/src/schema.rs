//! Early checks of step configs, derived from Kargo's JSON schemas
//! (`pkg/promotion/runner/builtin/schemas/*.json`): the `minLength: 1`,
//! `minItems: 1` and `enum` (or closed `pattern`) rules, which a config
//! written with literal values can break before anything runs. Required
//! fields, types and unknown fields are left to each step's config type
//! (`deny_unknown_fields`), which checks the evaluated config when the step
//! runs; a value that holds an expression is not checked here either.
//!
//! Each step keeps its kind's rules next to its config (a `const RULES`)
//! and applies them in its [`Step::check_config`](kargo_core::step::Step::check_config)
//! through [`check`], so the engine refuses a promotion with a broken
//! config before its first step, naming the field. A host's step can do
//! the same.
//!
//! ```
//! use kargo_steps::schema::{Check, Rule, check};
//!
//! const RULES: &[Rule] = &[
//!     ("path", Check::NonEmpty),
//!     ("items[].mode", Check::OneOf(&["fast", "safe"])),
//! ];
//! let config = serde_json::json!({"path": "a", "items": [{"mode": "slow"}]});
//! let err = check("my-step", RULES, &config).unwrap_err();
//! assert!(err.to_string().starts_with(
//!     "invalid my-step config: `items[0].mode` is `slow`; it must be one of `fast`, `safe`"
//! ));
//! ```

use kargo_core::step::StepError;
use serde_json::Value;

/// One rule: where (`a.b`, `list[].field`; `list[]` for the items
/// themselves) and what.
pub type Rule = (&'static str, Check);

/// What a rule asks of the value at its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Check {
    /// A string of at least one character or a list of at least one item
    /// (Kargo's `minLength: 1` / `minItems: 1`).
    NonEmpty,
    /// One of these strings (Kargo's `enum`, or a `pattern` listing them).
    OneOf(&'static [&'static str]),
}

use Check::{NonEmpty, OneOf};

/// Checks `config`, as written, against `rules`, the rules of step
/// `kind`. The error fails the step (it is the config's fault) and names
/// the field (``invalid yaml-update config: `updates[1].key` must not be
/// empty``).
pub fn check(kind: &str, rules: &[Rule], config: &Value) -> Result<(), StepError> {
    for (path, rule) in rules {
        let segments: Vec<&str> = path.split('.').collect();
        walk(config, &segments, String::new(), *rule)
            .map_err(|m| StepError::failed(format!("invalid {kind} config: {m}")))?;
    }
    Ok(())
}

/// Whether a config string holds an expression, whose value is only known
/// when the step runs.
pub(crate) fn holds_expression(s: &str) -> bool {
    s.contains("${{") || s.contains("${%")
}

fn walk(value: &Value, segments: &[&str], at: String, rule: Check) -> Result<(), String> {
    let Some((first, rest)) = segments.split_first() else {
        return apply(value, &at, rule);
    };
    let (name, each) = match first.strip_suffix("[]") {
        Some(name) => (name, true),
        None => (*first, false),
    };
    let Some(child) = value.get(name) else {
        return Ok(());
    };
    let field = if at.is_empty() {
        name.to_owned()
    } else {
        format!("{at}.{name}")
    };
    if !each {
        return walk(child, rest, field, rule);
    }
    match child {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| walk(item, rest, format!("{field}[{i}]"), rule)),
        // An expression (or a wrong type, which the step's config type
        // reports) cannot be checked here.
        _ => Ok(()),
    }
}

fn apply(value: &Value, field: &str, rule: Check) -> Result<(), String> {
    match (rule, value) {
        (NonEmpty, Value::String(s)) if s.is_empty() => Err(format!("`{field}` must not be empty")),
        (NonEmpty, Value::Array(items)) if items.is_empty() => {
            Err(format!("`{field}` must have at least one item"))
        }
        (OneOf(allowed), Value::String(s))
            if !holds_expression(s) && !allowed.contains(&s.as_str()) =>
        {
            Err(format!(
                "`{field}` is `{s}`; it must be one of {}",
                allowed
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use kargo_core::step::StepRegistry;
    use serde_json::json;

    use super::*;

    /// Checks `config` as the engine does, with the built-in step `kind`'s
    /// own rules (none for a kind not registered); the error without its
    /// `invalid <kind> config: ` prefix.
    fn check(kind: &str, config: &Value) -> Result<(), String> {
        let mut registry = StepRegistry::new();
        crate::register_builtins(&mut registry);
        let Some(step) = registry.get(kind) else {
            return Ok(());
        };
        step.check_config(config).map_err(|e| {
            let prefix = format!("invalid {kind} config: ");
            e.message()
                .strip_prefix(&prefix)
                .unwrap_or_else(|| panic!("{kind}: {e}"))
                .to_owned()
        })
    }

    /// Cases of Kargo's step tests (`*_test.go`, "... is empty" and
    /// "... must have at least 1 items"), one per rule kind.
    #[test]
    fn broken_literal_configs_name_the_field() {
        let cases = [
            (
                "yaml-update",
                json!({"path": "", "updates": [{"key": "a", "value": 1}]}),
                "`path` must not be empty",
            ),
            (
                "yaml-update",
                json!({"path": "v.yaml", "updates": []}),
                "`updates` must have at least one item",
            ),
            (
                "toml-update",
                json!({"path": "v", "updates": [{"key": "a", "value": 1}, {"key": "", "value": 1}]}),
                "`updates[1].key` must not be empty",
            ),
            (
                "json-parse",
                json!({"path": "v", "outputs": [{"name": "", "fromExpression": "a"}]}),
                "`outputs[0].name` must not be empty",
            ),
            (
                "git-clone",
                json!({"repoURL": "u", "checkout": [{"path": "p", "sparse": []}]}),
                "`checkout[0].sparse` must have at least one item",
            ),
            (
                "git-commit",
                json!({"path": "p", "message": "m", "author": {"name": ""}}),
                "`author.name` must not be empty",
            ),
            (
                "git-open-pr",
                json!({"repoURL": "u", "sourceBranch": "a", "targetBranch": "b", "provider": "gitbucket"}),
                "`provider` is `gitbucket`; it must be one of `azure`, `bitbucket`, `forgejo`, `gitea`, `github`, `gitlab`, `local`",
            ),
            (
                "argocd-wait",
                json!({"apps": [{"name": "a", "waitFor": ["healthy"]}]}),
                "`apps[0].waitFor[0]` is `healthy`",
            ),
            (
                "http",
                json!({"url": "u", "method": "get"}),
                "`method` is `get`",
            ),
            (
                "yaml-merge",
                json!({"inFiles": [], "outFile": "o"}),
                "`inFiles` must have at least one item",
            ),
            (
                "untar",
                json!({"inPath": "a", "outPath": ""}),
                "`outPath` must not be empty",
            ),
            (
                "delete",
                json!({"paths": ["a", ""]}),
                "`paths[1]` must not be empty",
            ),
        ];
        for (kind, config, want) in cases {
            let err = check(kind, &config).expect_err(kind);
            assert!(err.starts_with(want), "{kind}: {err}");
        }
    }

    #[test]
    fn expressions_and_valid_configs_pass() {
        for (kind, config) in [
            (
                "yaml-update",
                json!({"path": "${{ vars.path }}", "updates": "${{ vars.updates }}"}),
            ),
            (
                "git-open-pr",
                json!({"repoURL": "u", "sourceBranch": "a", "targetBranch": "b", "provider": "${{ vars.p }}"}),
            ),
            (
                "http",
                json!({"url": "u", "method": "POST", "headers": [{"name": "a", "value": "b"}]}),
            ),
            // The providers take forgejo, and local needs no forge.
            ("git-push", json!({"path": "p", "provider": "forgejo"})),
            ("git-push", json!({"path": "p", "provider": "local"})),
            ("no-such-kind", json!({"path": ""})),
        ] {
            check(kind, &config).unwrap_or_else(|e| panic!("{kind}: {e}"));
        }
    }
}
