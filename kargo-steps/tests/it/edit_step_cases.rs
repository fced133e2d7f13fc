//! Cases from Kargo's tests of its file-edit steps
//! (`pkg/promotion/runner/builtin/{yaml_merger,toml_parser,toml_updater,
//! yaml_updater,json_updater,yaml_parser,json_parser}_test.go`) that the
//! other modules do not already hold: the config checks (`Test_*_convert`),
//! and the run, read and commit-message cases, each table naming the Kargo
//! test it comes from.

use serde_json::{Value, json};

use crate::{ConvertCase, check_convert_cases, read, run, setup};

// yaml_merger_test.go

/// Kargo: yaml_merger_test.go, `Test_yamlMerger_convert` (all six cases).
#[tokio::test]
async fn kargo_yaml_merger_convert() {
    check_convert_cases(
        "yaml-merge",
        vec![
            (
                "inFiles not specified",
                json!({"outFile": "valid.yaml"}),
                Some("missing field `inFiles`"),
            ),
            (
                "inFiles field is an empty array",
                json!({"inFiles": [], "outFile": "valid.yaml"}),
                Some("`inFiles` must have at least one item"),
            ),
            // Kargo's schema does not check the items; neither do we (the
            // step then fails to read the work dir as a file).
            (
                "inFiles contains empty string",
                json!({"inFiles": [""], "outFile": "valid.yaml"}),
                None,
            ),
            (
                "outFile not specified",
                json!({"inFiles": ["valid.yaml"]}),
                Some("missing field `outFile`"),
            ),
            (
                "outFile is empty string",
                json!({"inFiles": ["valid.yaml"], "outFile": ""}),
                Some("`outFile` must not be empty"),
            ),
            (
                "valid configuration",
                json!({"inFiles": ["valid.yaml"], "outFile": "valid.yaml"}),
                None,
            ),
        ],
    )
    .await;
}

/// Kargo: yaml_merger_test.go, `Test_YAMLMerger_run` (all three cases).
#[tokio::test]
async fn kargo_yaml_merger_run() {
    let (dir, ctx) = setup(&[
        ("invalid.yaml", ":"),
        ("base.yaml", "version: 1.0.0"),
        ("overlay.yaml", "version: 2.0.0"),
    ]);
    // "input file not found with ignoreMissingFiles false"
    let err = run(
        &ctx,
        "yaml-merge",
        json!({"inFiles": ["non-existent.yaml"], "outFile": "merged.yaml", "ignoreMissingFiles": false}),
    )
    .await
    .unwrap_err();
    assert!(err.contains("non-existent.yaml"), "{err}");
    // "error merging files"
    let err = run(
        &ctx,
        "yaml-merge",
        json!({"inFiles": ["invalid.yaml"], "outFile": "merged.yaml"}),
    )
    .await
    .unwrap_err();
    assert!(
        err.contains("cannot merge `invalid.yaml` into `merged.yaml`"),
        "{err}"
    );
    assert!(!dir.path().join("merged.yaml").exists());
    // "successful merge": the missing third file is skipped.
    let outcome = run(
        &ctx,
        "yaml-merge",
        json!({
            "inFiles": ["base.yaml", "overlay.yaml", "non-existent.yaml"],
            "outFile": "merged.yaml",
            "ignoreMissingFiles": true,
        }),
    )
    .await
    .unwrap();
    assert_eq!(
        outcome.output["commitMessage"],
        "Merged 2 YAML files to merged.yaml\n- base.yaml\n- overlay.yaml"
    );
    assert_eq!(read(dir.path(), "merged.yaml"), "version: 2.0.0");
}

// The parsers: toml_parser_test.go, yaml_parser_test.go, json_parser_test.go.
// Their run and extractValues cases are in `parse_steps`.

/// The nine `Test_*Parser_convert` cases, the same in Kargo's three parser
/// tests, for the parse step `kind` reading `file`.
fn parser_convert_cases(file: &str) -> Vec<ConvertCase> {
    let output = json!([{"name": "output1", "fromExpression": "app.version"}]);
    vec![
        (
            "path not specified",
            json!({"outputs": output}),
            Some("missing field `path`"),
        ),
        (
            "path is empty string",
            json!({"path": "", "outputs": output}),
            Some("`path` must not be empty"),
        ),
        (
            "outputs field is missing",
            json!({"path": file}),
            Some("missing field `outputs`"),
        ),
        (
            "outputs field is an empty array",
            json!({"path": file, "outputs": []}),
            Some("`outputs` must have at least one item"),
        ),
        (
            "name is not specified",
            json!({"path": file, "outputs": [{"fromExpression": "app.version"}]}),
            Some("missing field `name`"),
        ),
        (
            "name is empty",
            json!({"path": file, "outputs": [{"name": "", "fromExpression": "app.version"}]}),
            Some("`outputs[0].name` must not be empty"),
        ),
        (
            "fromExpression is not specified",
            json!({"path": file, "outputs": [{"name": "output1"}]}),
            Some("missing field `fromExpression`"),
        ),
        (
            "fromExpression is empty",
            json!({"path": file, "outputs": [{"name": "output1", "fromExpression": ""}]}),
            Some("`outputs[0].fromExpression` must not be empty"),
        ),
        (
            "valid configuration",
            json!({"path": file, "outputs": output}),
            None,
        ),
    ]
}

/// Runs parse step `kind` on `file` holding each case's text, with the
/// whole document (`$env`) as output `doc`: the document as the step read
/// it, or the error. `(Kargo case, text, Ok(document) | Err(text the error
/// holds))`.
async fn read_and_parse_cases(kind: &str, file: &str, cases: &[(&str, &str, Result<Value, &str>)]) {
    for (case, text, want) in cases {
        let (_dir, ctx) = setup(&[(file, text)]);
        let got = run(
            &ctx,
            kind,
            json!({"path": file, "outputs": [{"name": "doc", "fromExpression": "$env"}]}),
        )
        .await;
        match (want, got) {
            (Ok(want), Ok(outcome)) => assert_eq!(&outcome.output["doc"], want, "{kind} / {case}"),
            (Err(text), Err(e)) => {
                assert!(e.contains(file) && e.contains(text), "{kind} / {case}: {e}");
            }
            (want, got) => panic!("{kind} / {case}: want {want:?}, got {got:?}"),
        }
    }
}

/// Kargo: toml_parser_test.go, `Test_tomlParser_convert` (all nine cases).
#[tokio::test]
async fn kargo_toml_parser_convert() {
    check_convert_cases("toml-parse", parser_convert_cases("valid.toml")).await;
}

/// Kargo: toml_parser_test.go, `Test_tomlParser_readAndParseTOML` (all
/// three cases): TOML's integers stay integers.
#[tokio::test]
async fn kargo_toml_parser_read_and_parse() {
    read_and_parse_cases(
        "toml-parse",
        "test.toml",
        &[
            (
                "valid TOML with nested structure",
                "title = \"example\"\nnum = 42\nflag = true\nitems = [1, 2]\n[app]\nversion = \"1.2.3\"\n",
                Ok(json!({"title": "example", "num": 42, "flag": true, "items": [1, 2], "app": {"version": "1.2.3"}})),
            ),
            ("invalid TOML syntax", "title = \n", Err("cannot parse")),
            ("empty TOML file", "", Err("is empty")),
        ],
    )
    .await;
}

// The updaters: toml_updater_test.go, yaml_updater_test.go,
// json_updater_test.go.

/// The eight `Test_*Updater_convert` cases, the same in Kargo's three
/// updater tests. Kargo's configs leave out the fields a case is not
/// about, and its assertion picks that case's problem out of the list;
/// ours give those fields, as the first problem is the one reported.
fn updater_convert_cases() -> Vec<ConvertCase> {
    let update = json!([{"key": "fake-key", "value": "fake-value"}]);
    vec![
        (
            "path is not specified",
            json!({"updates": update}),
            Some("missing field `path`"),
        ),
        (
            "path is empty",
            json!({"path": "", "updates": update}),
            Some("`path` must not be empty"),
        ),
        (
            "updates is null",
            json!({"path": "fake-path"}),
            Some("missing field `updates`"),
        ),
        (
            "updates is empty",
            json!({"path": "fake-path", "updates": []}),
            Some("`updates` must have at least one item"),
        ),
        (
            "key not specified",
            json!({"path": "fake-path", "updates": [{"value": 1}]}),
            Some("missing field `key`"),
        ),
        (
            "key is empty",
            json!({"path": "fake-path", "updates": [{"key": "", "value": 1}]}),
            Some("`updates[0].key` must not be empty"),
        ),
        (
            "value not specified",
            json!({"path": "fake-path", "updates": [{"key": "fake-key"}]}),
            Some("missing field `value`"),
        ),
        (
            "valid config",
            json!({"path": "fake-path", "updates": [
                {"key": "package.version", "value": "1.2.3"},
                {"key": "features.enabled", "value": true},
                {"key": "yet-another-fake-key", "value": 5},
            ]}),
            None,
        ),
    ]
}

/// What an update case expects: the file's text afterwards and the
/// commit message, or a text the error holds (the file then unchanged).
type UpdateWant<'a> = Result<(&'a str, &'a str), &'a str>;

/// Runs update step `kind` on `file` holding each case's text (`None`: no
/// file). `(Kargo case, text, updates, want)`.
async fn update_cases(
    kind: &str,
    file: &str,
    cases: &[(&str, Option<&str>, Value, UpdateWant<'_>)],
) {
    for (case, text, updates, want) in cases {
        let files: Vec<(&str, &str)> = text.iter().map(|t| (file, *t)).collect();
        let (dir, ctx) = setup(&files);
        let got = run(&ctx, kind, json!({"path": file, "updates": updates})).await;
        match (want, got) {
            (Ok((after, message)), Ok(outcome)) => {
                assert_eq!(read(dir.path(), file), *after, "{kind} / {case}");
                assert_eq!(outcome.output["commitMessage"], *message, "{kind} / {case}");
            }
            (Err(wanted), Err(e)) => {
                assert!(e.contains(wanted), "{kind} / {case}: {e}");
                match text {
                    Some(text) => assert_eq!(read(dir.path(), file), *text, "{kind} / {case}"),
                    None => assert!(!dir.path().join(file).exists(), "{kind} / {case}"),
                }
            }
            (want, got) => panic!("{kind} / {case}: want {want:?}, got {got:?}"),
        }
    }
}

/// Kargo: toml_updater_test.go, `Test_tomlUpdater_convert` (all eight
/// cases).
#[tokio::test]
async fn kargo_toml_updater_convert() {
    check_convert_cases("toml-update", updater_convert_cases()).await;
}

/// Kargo: toml_updater_test.go, `Test_tomlUpdater_run` and
/// `Test_tomlUpdater_updateFile`. Kargo's "no updates provided" and
/// "empty changes" call the step past its schema check, which refuses an
/// empty `updates`; so does ours, when it runs.
#[tokio::test]
async fn kargo_toml_updater_run_and_update_file() {
    update_cases(
        "toml-update",
        "config.toml",
        &[
            (
                "successful run with updates",
                Some("threshold = 1\n\n[package]\nversion = \"1.0.0\"\n\n[features]\nnewFeature = false\n"),
                json!([
                    {"key": "package.version", "value": "1.0.1"},
                    {"key": "features.newFeature", "value": true},
                    {"key": "threshold", "value": 100},
                ]),
                Ok((
                    "threshold = 100\n\n[package]\nversion = '1.0.1'\n\n[features]\nnewFeature = true\n",
                    "Updated config.toml\n\n- package.version: '1.0.1'\n- features.newFeature: true\n- threshold: 100",
                )),
            ),
            (
                "successful update",
                Some("title = \"value\"\n"),
                json!([{"key": "title", "value": "newvalue"}]),
                Ok(("title = 'newvalue'\n", "Updated config.toml\n\n- title: 'newvalue'")),
            ),
            (
                "failed to update file / file does not exist",
                None,
                json!([{"key": "package.version", "value": "1.0.1"}]),
                Err("config.toml"),
            ),
            (
                "no updates provided / empty changes",
                Some("[package]\nversion = \"1.0.0\"\n"),
                json!([]),
                Err("`updates`"),
            ),
        ],
    )
    .await;
}

/// Kargo: yaml_updater_test.go, `Test_yamlUpdater_convert` (all eight
/// cases).
#[tokio::test]
async fn kargo_yaml_updater_convert() {
    check_convert_cases("yaml-update", updater_convert_cases()).await;
}

/// Kargo: yaml_updater_test.go, `Test_yamlUpdater_run` and
/// `Test_yamlUpdater_updateValuesFile` ("empty changes" as for TOML).
#[tokio::test]
async fn kargo_yaml_updater_run_and_update_values_file() {
    update_cases(
        "yaml-update",
        "values.yaml",
        &[
            (
                "successful run with updates",
                Some("\nimage:\n  tag: oldtag\n  numStr: \"5\"\n  realNum: 5\n"),
                json!([
                    {"key": "image.tag", "value": "fake-tag"},
                    {"key": "image.numStr", "value": "42"},
                    {"key": "image.realNum", "value": 42},
                ]),
                Ok((
                    "\nimage:\n  tag: fake-tag\n  numStr: \"42\"\n  realNum: 42\n",
                    "Updated values.yaml\n\n- image.tag: fake-tag\n- image.numStr: \"42\"\n- image.realNum: 42",
                )),
            ),
            (
                "successful update",
                Some("key: value\n"),
                json!([{"key": "key", "value": "newvalue"}]),
                Ok(("key: newvalue\n", "Updated values.yaml\n\n- key: newvalue")),
            ),
            (
                "failed to update file / file does not exist",
                None,
                json!([{"key": "image.tag", "value": "fake-tag"}]),
                Err("values.yaml"),
            ),
            (
                "empty changes",
                Some("key: value\n"),
                json!([]),
                Err("`updates`"),
            ),
        ],
    )
    .await;
}

/// Kargo: json_updater_test.go, `Test_jsonUpdater_convert` (all eight
/// cases).
#[tokio::test]
async fn kargo_json_updater_convert() {
    check_convert_cases("json-update", updater_convert_cases()).await;
}

/// Kargo: json_updater_test.go, `Test_jsonUpdater_run` and
/// `Test_jsonUpdater_updateValuesFile` ("no updates provided" and "empty
/// changes" as for TOML). Kargo's sjson appends a new key without
/// spacing (`"threshold":100`), and into an empty file
/// `{"app":{"version":"1.0.1"}}`; ours takes the layout of the object the
/// key joins. Kargo compares the documents, we compare the bytes.
#[tokio::test]
async fn kargo_json_updater_run_and_update_values_file() {
    update_cases(
        "json-update",
        "config.json",
        &[
            (
                "successful run with updates",
                Some("{\n  \"app\": {\n    \"version\": \"1.0.0\"\n  },\n  \"features\": {\n    \"newFeature\": false\n  }\n}"),
                json!([
                    {"key": "app.version", "value": "1.0.1"},
                    {"key": "features.newFeature", "value": true},
                    {"key": "threshold", "value": 100},
                ]),
                Ok((
                    "{\n  \"app\": {\n    \"version\": \"1.0.1\"\n  },\n  \"features\": {\n    \"newFeature\": true\n  },\n  \"threshold\": 100\n}",
                    "Updated config.json\n\n- app.version: \"1.0.1\"\n- features.newFeature: true\n- threshold: 100",
                )),
            ),
            (
                "failed to update file / file does not exist",
                None,
                json!([{"key": "app.version", "value": "1.0.1"}]),
                Err("config.json"),
            ),
            (
                "no updates provided / empty changes",
                Some("{\"key\": \"value\"}"),
                json!([]),
                Err("`updates`"),
            ),
            (
                "handle empty JSON file",
                Some(""),
                json!([{"key": "app.version", "value": "1.0.1"}]),
                Ok(("{\"app\": {\"version\": \"1.0.1\"}}", "Updated config.json\n\n- app.version: \"1.0.1\"")),
            ),
            (
                "add new key to JSON",
                Some("{\"settings\": {}}"),
                json!([{"key": "settings.newKey", "value": "added"}]),
                Ok(("{\"settings\": {\"newKey\": \"added\"}}", "Updated config.json\n\n- settings.newKey: \"added\"")),
            ),
            (
                "update numeric value",
                Some("{\"threshold\": 10}"),
                json!([{"key": "threshold", "value": 425}]),
                Ok(("{\"threshold\": 425}", "Updated config.json\n\n- threshold: 425")),
            ),
            (
                "update boolean value to false",
                Some("{\"features\": {\"existingFeature\": true}}"),
                json!([{"key": "features.existingFeature", "value": false}]),
                Ok(("{\"features\": {\"existingFeature\": false}}", "Updated config.json\n\n- features.existingFeature: false")),
            ),
            (
                "successful update",
                Some("{\"key\": \"value\"}"),
                json!([{"key": "key", "value": "newvalue"}]),
                Ok(("{\"key\": \"newvalue\"}", "Updated config.json\n\n- key: \"newvalue\"")),
            ),
            (
                "preserve formatting after update",
                Some("{\n\t\"key\": \"value\",\n\t\"nested\": {\n\t\t\"key1\": \"value1\",\n\t\t\"key2\": \"value2\"\n\t}\n}"),
                json!([{"key": "key", "value": "newvalue"}]),
                Ok((
                    "{\n\t\"key\": \"newvalue\",\n\t\"nested\": {\n\t\t\"key1\": \"value1\",\n\t\t\"key2\": \"value2\"\n\t}\n}",
                    "Updated config.json\n\n- key: \"newvalue\"",
                )),
            ),
        ],
    )
    .await;
}

/// Kargo: yaml_parser_test.go, `Test_yamlParser_convert` (all nine cases).
#[tokio::test]
async fn kargo_yaml_parser_convert() {
    check_convert_cases("yaml-parse", parser_convert_cases("valid.yaml")).await;
}

/// Kargo: yaml_parser_test.go, `Test_yamlParser_readAndParseYAML` (all
/// six cases). Kargo's numbers come out as Go's `float64`; ours keep
/// YAML's integers (`42`), the same JSON number.
#[tokio::test]
async fn kargo_yaml_parser_read_and_parse() {
    read_and_parse_cases(
        "yaml-parse",
        "test.yaml",
        &[
            (
                "Valid YAML with map root",
                "\nkey: value\nnum: 42\nflag: true\n",
                Ok(json!({"key": "value", "num": 42, "flag": true})),
            ),
            (
                "Valid YAML with root list",
                "\n- item1\n- item2\n- item3\n",
                Ok(json!(["item1", "item2", "item3"])),
            ),
            (
                "Valid YAML with nested structure",
                "\napp:\n  name: test-app\n  version: 1.2.3\n  config:\n    debug: false\n    port: 8080\nitems:\n  - name: first\n    value: 100\n  - name: second\n    value: 200\n",
                Ok(json!({
                    "app": {"name": "test-app", "version": "1.2.3", "config": {"debug": false, "port": 8080}},
                    "items": [{"name": "first", "value": 100}, {"name": "second", "value": 200}],
                })),
            ),
            (
                "Valid YAML with scalar root",
                "simple string value\n",
                Ok(json!("simple string value")),
            ),
            (
                "Invalid YAML syntax",
                "key: : value\n  num: 42",
                Err("cannot parse"),
            ),
            ("Empty YAML file", "", Err("is empty")),
            // `Test_yamlParser_run`'s last case, whose `10.0` stays a float
            // (`parse_steps` has the rest of that table).
            (
                "valid YAML, valid expressions, valid path",
                "\napp:\n  version: \"2.0.1\"\nfeatures:\n  enabled: true\nconfig:\n  threshold: 10.0\n",
                Ok(json!({"app": {"version": "2.0.1"}, "features": {"enabled": true}, "config": {"threshold": 10.0}})),
            ),
        ],
    )
    .await;
}

/// Kargo: json_parser_test.go, `Test_jsonParser_convert` (all nine cases).
#[tokio::test]
async fn kargo_json_parser_convert() {
    check_convert_cases("json-parse", parser_convert_cases("valid.json")).await;
}

/// Kargo: json_parser_test.go, `Test_jsonParser_readAndParseJSON` (all six
/// cases; numbers as for YAML).
#[tokio::test]
async fn kargo_json_parser_read_and_parse() {
    read_and_parse_cases(
        "json-parse",
        "test.json",
        &[
            (
                "Valid JSON with map root",
                "{\n\t\"key\": \"value\",\n\t\"num\": 42,\n\t\"flag\": true\n}",
                Ok(json!({"key": "value", "num": 42, "flag": true})),
            ),
            (
                "Valid JSON with nested structure",
                r#"{"app": {"name": "test-app", "version": "1.2.3", "config": {"debug": false, "port": 8080}},
                    "items": [{"name": "first", "value": 100}, {"name": "second", "value": 200}]}"#,
                Ok(json!({
                    "app": {"name": "test-app", "version": "1.2.3", "config": {"debug": false, "port": 8080}},
                    "items": [{"name": "first", "value": 100}, {"name": "second", "value": 200}],
                })),
            ),
            (
                "Valid JSON with array values",
                r#"{"numbers": [1, 2, 3, 4, 5], "strings": ["hello", "world"], "mixed": [true, 42, "text", null]}"#,
                Ok(json!({"numbers": [1, 2, 3, 4, 5], "strings": ["hello", "world"], "mixed": [true, 42, "text", null]})),
            ),
            (
                "Valid JSON with null values",
                r#"{"nullValue": null, "emptyString": "", "zeroNumber": 0}"#,
                Ok(json!({"nullValue": null, "emptyString": "", "zeroNumber": 0})),
            ),
            (
                "Invalid JSON syntax",
                r#"{key: "value"}"#,
                Err("cannot parse"),
            ),
            ("Empty JSON file", "", Err("is empty")),
        ],
    )
    .await;
}
