//! Cases from Kargo's `pkg/promotion/runner/builtin/json_parser_test.go`,
//! `yaml_parser_test.go` and `toml_parser_test.go` (`Test_*Parser_run`,
//! `Test_*Parser_readAndParse*`, `Test_*Parser_extractValues`), case by
//! case, for the three kinds at once: each document is written in the
//! kind's own syntax, and the same outputs come out.

use serde_json::{Value, json};

use crate::{run, setup};

/// `{app: {version: 1.0.0}, features: {newFeature: true, enabled: true},
/// config: {threshold: 100}}` in each kind's syntax.
const DOCUMENTS: [(&str, &str, &str); 3] = [
    (
        "json-parse",
        "config.json",
        r#"{"app": {"version": "1.0.0"}, "features": {"newFeature": true, "enabled": true}, "config": {"threshold": 100}}"#,
    ),
    (
        "yaml-parse",
        "config.yaml",
        "app:\n  version: 1.0.0\nfeatures:\n  newFeature: true\n  enabled: true\nconfig:\n  threshold: 100\n",
    ),
    (
        "toml-parse",
        "config.toml",
        "[app]\nversion = \"1.0.0\"\n[features]\nnewFeature = true\nenabled = true\n[config]\nthreshold = 100\n",
    ),
];

fn outputs(pairs: &[(&str, &str)]) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|(name, from)| json!({"name": name, "fromExpression": from}))
            .collect(),
    )
}

#[tokio::test]
async fn kargo_parser_run_cases() {
    for (kind, file, document) in DOCUMENTS {
        let (dir, ctx) = setup(&[(file, document), ("empty", "")]);
        std::fs::create_dir(dir.path().join("config")).unwrap();
        // "successful run with outputs" / "valid …, valid expressions, valid path"
        let outcome = run(
            &ctx,
            kind,
            json!({"path": file, "outputs": outputs(&[
                ("appVersion", "app.version"),
                ("featureStatus", "features.newFeature"),
                ("isEnabled", "features.enabled"),
                ("threshold", "config.threshold"),
            ])}),
        )
        .await
        .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(
            Value::Object(outcome.output.clone().into_iter().collect()),
            json!({"appVersion": "1.0.0", "featureStatus": true, "isEnabled": true, "threshold": 100}),
            "{kind}"
        );
        let key = outputs(&[("key", "app.key")]);
        for (case, config, text) in [
            (
                "failed to extract outputs",
                json!({"path": file, "outputs": outputs(&[("invalidField", "nonexistent.path")])}),
                "nonexistent",
            ),
            ("no outputs provided", json!({"path": file}), "outputs"),
            (
                "handle empty file",
                json!({"path": "empty", "outputs": key}),
                "empty",
            ),
            ("path is empty", json!({"path": "", "outputs": key}), "path"),
            (
                "path is a directory instead of a file",
                json!({"path": "config", "outputs": key}),
                "config",
            ),
        ] {
            let err = run(&ctx, kind, config).await.unwrap_err();
            assert!(err.contains(text), "{kind} / {case}: {err}");
        }
    }
}

/// `Test_jsonParser_extractValues` and `Test_yamlParser_extractValues`:
/// expressions over a map root and a list root (`$env`).
#[tokio::test]
async fn kargo_parser_extract_values_cases() {
    let map = r#"{"key": "value", "number": 42, "nested": {"inner": "x"}, "array": [1, 2, 3]}"#;
    let list = r#"[{"name": "first"}, {"name": "second"}]"#;
    for kind in ["json-parse", "yaml-parse"] {
        // JSON is YAML, so the same texts serve both kinds.
        let (_dir, ctx) = setup(&[("map", map), ("list", list)]);
        for (case, path, expression, want) in [
            ("valid expression", "map", "key", json!("value")),
            (
                "root list - access by index",
                "list",
                "$env[0]",
                json!({"name": "first"}),
            ),
            ("root list - get length", "list", "len($env)", json!(2)),
            (
                "root list of objects - access nested property",
                "list",
                "$env[1].name",
                json!("second"),
            ),
            (
                "expression points to missing key",
                "map",
                "missingKey",
                Value::Null,
            ),
            (
                "expression evaluates to a nested object",
                "map",
                "nested",
                json!({"inner": "x"}),
            ),
            (
                "expression evaluates to an array",
                "map",
                "array",
                json!([1, 2, 3]),
            ),
            (
                "expression evaluates to a string",
                "map",
                "key",
                json!("value"),
            ),
            (
                "expression evaluates to an integer",
                "map",
                "number",
                json!(42),
            ),
        ] {
            let outcome = run(
                &ctx,
                kind,
                json!({"path": path, "outputs": outputs(&[("result", expression)])}),
            )
            .await
            .unwrap_or_else(|e| panic!("{kind} / {case}: {e}"));
            assert_eq!(
                outcome.output.get("result").cloned().unwrap_or(Value::Null),
                want,
                "{kind} / {case}"
            );
        }
        let err = run(
            &ctx,
            kind,
            json!({"path": "map", "outputs": outputs(&[("result", "(1 + 2")])}),
        )
        .await
        .unwrap_err();
        assert!(
            err.contains("(1 + 2"),
            "{kind} / expression compilation error: {err}"
        );
    }
}
