//! Early checks of step configs, derived from Kargo's JSON schemas
//! (`pkg/promotion/runner/builtin/schemas/*.json`): the `minLength: 1`,
//! `minItems: 1` and `enum` (or closed `pattern`) rules, which a config
//! written with literal values can break before anything runs. Required
//! fields, types and unknown fields are left to each step's config type
//! (`deny_unknown_fields`), which checks the evaluated config when the step
//! runs; a value that holds an expression is not checked here either.
//!
//! [`register_builtins`](crate::register_builtins) wraps every built-in
//! step that has rules so that its [`Step::check_config`] applies them, and the engine refuses a promotion
//! with a broken config before its first step, naming the field.

use std::sync::Arc;

use async_trait::async_trait;
use kargo_core::step::{
    Capabilities, DynStep, RetryDefaults, Step, StepContext, StepError, StepOutcome, StepRegistry,
};
use serde_json::Value;

/// One rule: where (`a.b`, `list[].field`; `list[]` for the items
/// themselves) and what.
type Rule = (&'static str, Check);

/// What a rule asks of the value at its path.
#[derive(Debug, Clone, Copy)]
enum Check {
    /// A string of at least one character or a list of at least one item
    /// (Kargo's `minLength: 1` / `minItems: 1`).
    NonEmpty,
    /// One of these strings (Kargo's `enum`, or a `pattern` listing them).
    OneOf(&'static [&'static str]),
}

use Check::{NonEmpty, OneOf};

/// The provider names the git steps take: Kargo's five, `forgejo` and
/// kargo-rs's forge-less `local`, as the providers themselves list them.
#[cfg(feature = "git")]
const PROVIDERS: &[&str] = kargo_git::provider::ProviderKind::NAMES;
#[cfg(not(feature = "git"))]
const PROVIDERS: &[&str] = &[];
const PARSE: &[Rule] = &[
    ("path", NonEmpty),
    ("outputs", NonEmpty),
    ("outputs[].name", NonEmpty),
    ("outputs[].fromExpression", NonEmpty),
];
const UPDATE: &[Rule] = &[
    ("path", NonEmpty),
    ("updates", NonEmpty),
    ("updates[].key", NonEmpty),
];
const IN_OUT: &[Rule] = &[
    ("inPath", NonEmpty),
    ("outPath", NonEmpty),
    ("ignore", NonEmpty),
];
const PAIRS: &[Rule] = &[
    ("headers[].name", NonEmpty),
    ("headers[].value", NonEmpty),
    ("queryParams[].name", NonEmpty),
    ("queryParams[].value", NonEmpty),
];

/// The rules of each step kind, as Kargo's schema for it states them.
const RULES: &[(&str, &[&[Rule]])] = &[
    (
        "argocd-update",
        &[&[
            ("apps", NonEmpty),
            ("apps[].name", NonEmpty),
            ("apps[].namespace", NonEmpty),
            ("apps[].sources", NonEmpty),
            ("apps[].sources[].repoURL", NonEmpty),
            ("apps[].sources[].chart", NonEmpty),
            ("apps[].sources[].desiredRevision", NonEmpty),
            ("apps[].sources[].helm.images", NonEmpty),
            ("apps[].sources[].helm.images[].key", NonEmpty),
            ("apps[].sources[].kustomize.images", NonEmpty),
            ("apps[].sources[].kustomize.images[].repoURL", NonEmpty),
            ("apps[].sources[].kustomize.images[].newName", NonEmpty),
        ]],
    ),
    (
        "argocd-wait",
        &[&[
            ("apps", NonEmpty),
            ("apps[].name", NonEmpty),
            ("apps[].namespace", NonEmpty),
            ("apps[].waitFor", NonEmpty),
            (
                "apps[].waitFor[]",
                OneOf(&["health", "sync", "operation", "suspended", "degraded"]),
            ),
        ]],
    ),
    ("copy", &[IN_OUT]),
    (
        "delete",
        &[&[
            ("path", NonEmpty),
            ("paths", NonEmpty),
            ("paths[]", NonEmpty),
        ]],
    ),
    ("fail", &[&[("message", NonEmpty)]]),
    ("file-write", &[&[("path", NonEmpty)]]),
    ("git-clear", &[&[("path", NonEmpty)]]),
    (
        "git-clone",
        &[&[
            ("repoURL", NonEmpty),
            ("author.name", NonEmpty),
            ("checkout", NonEmpty),
            ("checkout[].path", NonEmpty),
            ("checkout[].sparse", NonEmpty),
            ("checkout[].sparse[]", NonEmpty),
        ]],
    ),
    (
        "git-commit",
        &[&[
            ("path", NonEmpty),
            ("message", NonEmpty),
            ("author.name", NonEmpty),
        ]],
    ),
    (
        "git-merge-pr",
        &[&[
            ("repoURL", NonEmpty),
            ("mergeMethod", NonEmpty),
            ("provider", OneOf(PROVIDERS)),
        ]],
    ),
    (
        "git-open-pr",
        &[&[
            ("repoURL", NonEmpty),
            ("sourceBranch", NonEmpty),
            ("targetBranch", NonEmpty),
            ("title", NonEmpty),
            ("description", NonEmpty),
            ("labels[]", NonEmpty),
            ("provider", OneOf(PROVIDERS)),
        ]],
    ),
    (
        "git-push",
        &[&[("path", NonEmpty), ("provider", OneOf(PROVIDERS))]],
    ),
    ("github-push", &[&[("path", NonEmpty)]]),
    (
        "git-tag",
        &[&[("path", NonEmpty), ("tag", NonEmpty), ("message", NonEmpty)]],
    ),
    (
        "git-wait-for-pr",
        &[&[("repoURL", NonEmpty), ("provider", OneOf(PROVIDERS))]],
    ),
    (
        "helm-template",
        &[&[
            ("path", NonEmpty),
            ("outPath", NonEmpty),
            ("outLayout", OneOf(&["helm", "flat"])),
            ("releaseName", NonEmpty),
            ("valuesFiles[]", NonEmpty),
            ("setValues[].key", NonEmpty),
            ("apiVersions[]", NonEmpty),
        ]],
    ),
    (
        "helm-update-chart",
        &[&[
            ("path", NonEmpty),
            ("charts", NonEmpty),
            ("charts[].repository", NonEmpty),
            ("charts[].name", NonEmpty),
            ("charts[].version", NonEmpty),
        ]],
    ),
    (
        "http",
        &[
            PAIRS,
            &[
                ("url", NonEmpty),
                ("bodyFromFile", NonEmpty),
                ("outputs[].name", NonEmpty),
                ("outputs[].fromExpression", NonEmpty),
                (
                    "method",
                    OneOf(&["DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"]),
                ),
                (
                    "responseContentType",
                    OneOf(&["application/json", "application/yaml", "text/plain"]),
                ),
            ],
        ],
    ),
    (
        "http-download",
        &[PAIRS, &[("url", NonEmpty), ("outPath", NonEmpty)]],
    ),
    ("json-parse", &[PARSE]),
    ("json-update", &[UPDATE]),
    (
        "kustomize-build",
        &[&[
            ("path", NonEmpty),
            ("outPath", NonEmpty),
            ("outputFormat", OneOf(&["kargo", "kustomize"])),
            ("plugin.helm.apiVersions[]", NonEmpty),
        ]],
    ),
    (
        "kustomize-set-image",
        &[&[("path", NonEmpty), ("images[].image", NonEmpty)]],
    ),
    (
        "oci-download",
        &[&[
            ("imageRef", NonEmpty),
            ("outPath", NonEmpty),
            ("mediaType", NonEmpty),
        ]],
    ),
    (
        "oci-push",
        &[&[("srcRef", NonEmpty), ("destRef", NonEmpty)]],
    ),
    (
        "set-freight-alias",
        &[&[("name", NonEmpty), ("alias", NonEmpty)]],
    ),
    (
        "set-metadata",
        &[&[
            ("updates", NonEmpty),
            ("updates[].name", NonEmpty),
            ("updates[].kind", OneOf(&["Stage", "Freight"])),
        ]],
    ),
    ("tar", &[IN_OUT]),
    ("toml-parse", &[PARSE]),
    ("toml-update", &[UPDATE]),
    ("untar", &[IN_OUT]),
    (
        "yaml-merge",
        &[&[("inFiles", NonEmpty), ("outFile", NonEmpty)]],
    ),
    ("yaml-parse", &[PARSE]),
    ("yaml-update", &[UPDATE]),
];

/// Checks `config` against the rules of step `kind` (none for a kind
/// without rules). The error names the field: `updates[1].key`.
pub fn check(kind: &str, config: &Value) -> Result<(), String> {
    let Some((_, groups)) = RULES.iter().find(|(k, _)| *k == kind) else {
        return Ok(());
    };
    for (path, rule) in groups.iter().flat_map(|g| g.iter()) {
        let segments: Vec<&str> = path.split('.').collect();
        walk(config, &segments, String::new(), *rule)?;
    }
    Ok(())
}

fn holds_expression(s: &str) -> bool {
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

/// A registered step with its kind's rules as [`Step::check_config`].
#[derive(Debug)]
struct Checked {
    kind: &'static str,
    inner: Arc<DynStep>,
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl Step for Checked {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        self.inner.run(ctx, config).await
    }

    fn default_retry(&self) -> RetryDefaults {
        self.inner.default_retry()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn check_config(&self, config: &Value) -> Result<(), StepError> {
        self.inner.check_config(config)?;
        check(self.kind, config)
            .map_err(|m| StepError::failed(format!("invalid {} config: {m}", self.kind)))
    }
}

/// Gives every registered built-in step that has rules its early check.
pub(crate) fn register(registry: &mut StepRegistry) {
    for (kind, _) in RULES {
        if let Some(inner) = registry.get(kind) {
            registry.replace(*kind, Checked { kind, inner });
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
