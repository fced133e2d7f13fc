#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::template::{go_float, parse_go_float};
use super::{Document, Evaluator, ExprError, Scope};
use crate::model::{
    ArtifactReference, Chart, Freight, FreightCollection, FreightOrigin, GitCommit, Image,
    StepStatus,
};

fn image(repo: &str, tag: &str) -> Image {
    Image {
        repo_url: repo.into(),
        tag: tag.into(),
        digest: format!("sha256:{tag}"),
        ..Default::default()
    }
}

fn scope() -> Scope {
    let mut annotated = image("ghcr.io/acme/app", "1.2.3");
    annotated.annotations =
        BTreeMap::from([("org.opencontainers.image.revision".into(), "abc".into())]);
    let a = Freight {
        origin: FreightOrigin::warehouse("wh-a"),
        images: vec![annotated, image("ghcr.io/acme/both", "from-a")],
        commits: vec![GitCommit {
            repo_url: "https://github.com/acme/repo.git".into(),
            id: "c0ffee12".into(),
            branch: "main".into(),
            tag: "v1.0.0".into(),
            message: "Fix things".into(),
            author: "Ann <ann@example.com>".into(),
            ..Default::default()
        }],
        artifacts: vec![ArtifactReference {
            artifact_type: "application/vnd.acme.fn.v1".into(),
            subscription_name: "function".into(),
            version: "1.4.0@sha256:f1".into(),
            metadata: Some(json!({"tag": "1.4.0", "digest": "sha256:f1"})),
        }],
        charts: vec![
            Chart {
                repo_url: "oci://ghcr.io/acme/charts/app".into(),
                version: "0.1.0".into(),
                ..Default::default()
            },
            Chart {
                repo_url: "https://charts.acme.io".into(),
                name: "web".into(),
                version: "2.0.0".into(),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let b = Freight {
        origin: FreightOrigin::warehouse("wh-b"),
        images: vec![image("ghcr.io/acme/both", "from-b")],
        ..Default::default()
    };
    let mut s = Scope {
        ctx: json!({
            "project": "demo",
            "stage": "prod",
            "promotion": "p-1",
            "targetFreight": {"name": "f1", "origin": {"name": "wh-a"}},
        }),
        freight: Arc::new(FreightCollection::new(vec![a, b])),
        ..Default::default()
    };
    s.vars = json!({
        "repo": "ghcr.io/acme/app",
        "n": 3,
        "obj": {"b": 1, "a": [1, 2]},
        "empty": null,
    })
    .as_object()
    .cloned()
    .unwrap();
    s.outputs = json!({"step-1": {"x": 5}, "foo": {"bar": "baz"}})
        .as_object()
        .cloned()
        .unwrap();
    s.step_statuses = BTreeMap::from([
        ("step-1".into(), StepStatus::Succeeded),
        ("check".into(), StepStatus::Skipped),
        ("task-1::check".into(), StepStatus::Failed),
    ]);
    s
}

fn eval(template: &str) -> Value {
    Evaluator::new()
        .eval_template(template, &scope())
        .unwrap_or_else(|e| panic!("{template}: {e}"))
}

fn eval_err(template: &str) -> ExprError {
    match Evaluator::new().eval_template(template, &scope()) {
        Ok(v) => {
            let v: String = v.to_string().chars().take(200).collect();
            panic!("{template}: expected an error, got {v}")
        }
        Err(e) => e,
    }
}

// --- coercion -------------------------------------------------------------

#[test]
fn text_without_delimiters_is_returned_unchanged() {
    assert_eq!(eval("42"), json!("42"));
    assert_eq!(eval("true"), json!("true"));
    assert_eq!(eval("{\"a\": 1}"), json!("{\"a\": 1}"));
    assert_eq!(eval("$ {{ x }}"), json!("$ {{ x }}"));
}

#[test]
fn quoted_result_is_the_string_inside() {
    assert_eq!(eval("${{ quote(42) }}"), json!("42"));
    assert_eq!(eval("${{ quote(true) }}"), json!("true"));
    assert_eq!(eval("${{ quote('s') }}"), json!("s"));
    assert_eq!(eval(r#""${{ 42 }}""#), json!("42"));
    assert_eq!(eval("${{ quote({'a': 1}) }}"), json!("{\"a\":1}"));
}

#[test]
fn integer_result_is_a_number() {
    assert_eq!(eval("${{ 40 + 2 }}"), json!(42));
    assert_eq!(eval("${{ '42' }}"), json!(42));
    assert_eq!(eval("${{ vars.n }}"), json!(3));
    assert_eq!(
        eval("${{ 1 }}"),
        json!(1),
        "1 is a number before it is a bool"
    );
    assert_eq!(eval("${{ -7 }}"), json!(-7));
}

#[test]
fn float_result_is_a_number() {
    assert_eq!(eval("${{ 1.5 }}"), json!(1.5));
    assert_eq!(eval("${{ 7 / 2 }}"), json!(3.5));
    assert_eq!(
        eval("${{ 4 / 2 }}"),
        json!(2),
        "integral floats become integers"
    );
    assert_eq!(eval("${{ '1e3' }}"), json!(1000));
}

#[test]
fn bool_forms_of_go_parse_bool_are_bools() {
    for t in ["true", "True", "TRUE", "t", "T"] {
        assert_eq!(eval(&format!("${{{{ '{t}' }}}}")), json!(true), "{t}");
    }
    for f in ["false", "False", "FALSE", "f", "F"] {
        assert_eq!(eval(&format!("${{{{ '{f}' }}}}")), json!(false), "{f}");
    }
    assert_eq!(eval("${{ vars.n > 2 }}"), json!(true));
    assert_eq!(eval("${{ 'yes' }}"), json!("yes"));
}

#[test]
fn json_results_are_json_values() {
    assert_eq!(eval("${{ vars.obj }}"), json!({"a": [1, 2], "b": 1}));
    assert_eq!(eval("${% {'a': {'b': 1}} %}"), json!({"a": {"b": 1}}));
    assert_eq!(eval("${{ [1, 'x', nil] }}"), json!([1, "x", null]));
    assert_eq!(eval("${{ nil }}"), json!(null));
    assert_eq!(eval("${{ '[1.0, 2]' }}"), json!([1, 2]));
}

#[test]
fn other_results_are_strings() {
    assert_eq!(eval("${{ ctx.stage }}"), json!("prod"));
    assert_eq!(eval("${{ 'NaN' }}"), json!("NaN"));
    assert_eq!(eval("${{ '1e400' }}"), json!("1e400"));
    assert_eq!(eval("${{ '1_000' }}"), json!("1_000"));
}

#[test]
fn one_trailing_newline_is_kept_for_strings_only() {
    assert_eq!(eval("${{ ctx.stage }}\n"), json!("prod\n"));
    assert_eq!(eval("${{ 42 }}\n"), json!(42));
    assert_eq!(eval("${{ true }}\n"), json!(true));
    assert_eq!(eval("${{ quote('a') }}\n"), json!("a\n"));
    assert_eq!(eval("${{ ctx.stage }}\n\n"), json!("prod\n\n"));
}

#[test]
fn several_expressions_with_literal_text() {
    assert_eq!(
        eval("${{ ctx.project }}-${% ctx.stage %}/v${{ vars.n }}!"),
        json!("demo-prod/v3!")
    );
    assert_eq!(eval("${{ vars.n }}${{ vars.n }}"), json!(33));
    assert_eq!(eval("stage/${{ ctx.stage }}"), json!("stage/prod"));
}

#[test]
fn non_string_results_are_written_as_go_json_in_text() {
    assert_eq!(
        eval("x=${{ {'b': 1, 'a': '<&>'} }}"),
        json!(r#"x={"a":"\u003c\u0026\u003e","b":1}"#)
    );
    assert_eq!(eval("v${{ 1.0 }}"), json!("v1"));
    assert_eq!(eval("v${{ nil }}"), json!("vnull"));
    assert_eq!(eval("${{ true }} story"), json!("true story"));
}

#[test]
fn go_number_formats() {
    assert_eq!(go_float(1e21), "1e+21");
    assert_eq!(go_float(1.5e-7), "1.5e-7");
    assert_eq!(go_float(100.0), "100");
    assert_eq!(go_float(0.25), "0.25");
    assert_eq!(parse_go_float("0x1p-2"), serde_json::Number::from_f64(0.25));
    assert_eq!(parse_go_float(".5"), serde_json::Number::from_f64(0.5));
    assert_eq!(parse_go_float("+5"), Some(5.into()));
    assert_eq!(parse_go_float("007"), Some(7.into()));
    assert_eq!(parse_go_float("1_000"), None);
    assert_eq!(parse_go_float("Inf"), None);
    assert_eq!(parse_go_float(" 1"), None);
    assert_eq!(
        parse_go_float("18446744073709551615"),
        Some(u64::MAX.into())
    );
}

#[test]
fn unclosed_expression_is_an_error() {
    let e = eval_err("a ${{ ctx.stage");
    assert_eq!(e.expression, "a ${{ ctx.stage");
    assert_eq!(
        e.message,
        "unclosed expression: `${{` at byte 2 has no closing `}}`"
    );
    let e = eval_err("${% 1 }}");
    assert!(e.message.contains("no closing `%}`"), "{}", e.message);
}

// --- variables ------------------------------------------------------------

#[test]
fn outputs_by_index_and_by_member() {
    assert_eq!(eval("${{ outputs['step-1'].x }}"), json!(5));
    assert_eq!(eval("${{ outputs.foo.bar }}"), json!("baz"));
}

#[test]
fn task_outputs_and_extra_variables() {
    let mut s = scope();
    assert!(Evaluator::new().eval_template("${{ task }}", &s).is_err());
    s.task_outputs = Some(
        json!({"read": {"v": "1.0.1"}})
            .as_object()
            .cloned()
            .unwrap(),
    );
    s.extra.insert("response".into(), json!({"status": 200}));
    s.extra.insert("vars".into(), json!("shadow"));
    let ev = Evaluator::new();
    assert_eq!(
        ev.eval_template("${{ task.outputs.read.v }}", &s).unwrap(),
        json!("1.0.1")
    );
    assert_eq!(
        ev.eval_template("${{ response.status == 200 }}", &s)
            .unwrap(),
        json!(true)
    );
    assert_eq!(
        ev.eval_template("${{ vars.n }}", &s).unwrap(),
        json!(3),
        "extra cannot shadow vars"
    );
}

#[test]
fn an_unknown_variable_is_an_error_naming_it() {
    let e = eval_err("${{ nope }}");
    assert_eq!(e.expression, "${{ nope }}");
    assert_eq!(e.message, "undefined value: `nope` is undefined");
    let e = eval_err("at ${{ ctx.stage }} ${{ nope }}");
    assert_eq!(e.message, "in `nope`: undefined value: `nope` is undefined");
    let e = eval_err("${{ {'a': nope} }}");
    assert_eq!(e.message, "the result holds an undefined value at `.a`");
    let e = eval_err("${{ nope.x }}");
    assert_eq!(e.message, "cannot fetch `x`: `nope` is undefined");
}

/// expr-lang (and so Kargo): a key a map does not hold is nil; fetching
/// from nil is an error naming the path.
#[test]
fn a_missing_map_key_is_nil() {
    assert_eq!(eval("${{ outputs['step-1'].missing == nil }}"), json!(true));
    assert_eq!(eval("${{ outputs.nope == nil }}"), json!(true));
    assert_eq!(eval("${{ vars.missing }}"), json!(null));
    assert_eq!(eval("${{ vars['missing'] }}"), json!(null));
    assert_eq!(eval("${{ quote(vars.missing) }}"), json!("null"));
    let e = eval_err("${{ vars.missing.deep }}");
    assert_eq!(
        e.message,
        "cannot fetch `deep` from `vars.missing`: it is nil"
    );
    let e = eval_err("${{ outputs.nope.x == 1 }}");
    assert_eq!(e.message, "cannot fetch `x` from `outputs.nope`: it is nil");
    let e = eval_err("${{ [1, 2][5] }}");
    assert_eq!(e.message, "index 5 is out of range for `(…)` (2 items)");
    let e = eval_err("${{ ctx.stage.x }}");
    assert_eq!(e.message, "cannot fetch `x` from `ctx.stage`, a string");
}

/// Kargo's `pkg/expressions/json_templates_test.go`: `quote(null)` forces
/// null to a string (`null` is an unknown name, so nil, in expr-lang).
#[test]
fn quote_of_null_is_the_string_null() {
    assert_eq!(eval("${{ quote(null) }}"), json!("null"));
    assert_eq!(eval("${{ quote(nil) }}"), json!("null"));
    assert_eq!(eval("${{ null }}"), json!(null));
}

/// Every function of Kargo's expression reference either works or is
/// refused, by name, before anything runs.
#[test]
fn unsupported_functions_are_refused_when_checked() {
    let ev = Evaluator::new();
    for (name, _) in super::functions::KARGO_ONLY {
        let template = format!("${{{{ {name}('x').token }}}}");
        let e = ev.check_template(&template).unwrap_err();
        assert!(
            e.message
                .starts_with(&format!("function `{name}()` is not supported by kargo-rs")),
            "{}",
            e.message
        );
    }
    let e = ev.check_template("a ${{ nosuch(1) }} b").unwrap_err();
    assert_eq!(e.message, "unknown function `nosuch()`");
    let e = ev.check_template("${{ 1 + }}").unwrap_err();
    assert_eq!(e.message, "syntax error: unexpected end of expression");
    for ok in [
        "${{ quote(vars.x) }}",
        "${{ imageFrom('r').Tag + semverParse('1.0.0').IncMinor().String() }}",
        "${{ freightMetadata(ctx.targetFreight.name)?.a ?? status('x') }}",
        "${{ warehouse('w') }} ${{ success() && !failure() || always() }}",
        "${{ artifactFrom('s') }}${{ chartFrom('c') }}${{ commitFrom('g') }}",
        "${{ stageMetadata(ctx.stage) }}${{ semverDiff('1', '2') }}",
        "${{ asJSON(vars) + asYAML(vars) + unsafeQuote(1) }}",
        "no expression",
    ] {
        ev.check_template(ok)
            .unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    let config = json!({"outputs": [{"name": "a", "fromExpression": "secret('s').x"}], "b": ["${{ configMap('c') }}"]});
    let e = ev.check_config(&config).unwrap_err();
    assert!(e.message.contains("`secret()`"), "{}", e.message);
    let e = ev
        .check_config(&json!({"b": ["${{ configMap('c') }}"]}))
        .unwrap_err();
    assert!(e.message.contains("`configMap()`"), "{}", e.message);
}

#[test]
fn scope_function_names_are_listed() {
    let names: Vec<&str> = super::functions::scope_functions(&Scope::default())
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(names, super::functions::SCOPE_FUNCTIONS);
}

// --- translation ----------------------------------------------------------

#[test]
fn expr_lang_operators_work() {
    assert_eq!(
        eval("${{ vars.n > 2 && ctx.stage == 'prod' }}"),
        json!(true)
    );
    assert_eq!(
        eval("${{ vars.n > 5 || ctx.stage != 'prod' }}"),
        json!(false)
    );
    assert_eq!(eval("${{ !(vars.n > 2) }}"), json!(false));
    assert_eq!(eval("${{ !false && !!true }}"), json!(true));
    assert_eq!(eval("${{ vars.n > 5 ? 'big' : 'small' }}"), json!("small"));
    assert_eq!(
        eval("${{ vars.n > 1 ? vars.n > 2 ? 'a' : 'b' : 'c' }}"),
        json!("a")
    );
    assert_eq!(eval("${{ vars.empty == nil }}"), json!(true));
    assert_eq!(eval("${{ 'x-' + ctx.stage }}"), json!("x-prod"));
    assert_eq!(eval("${{ 2 in [1, 2] && 'stage' in ctx }}"), json!(true));
    assert_eq!(
        eval("${{ ctx.stage contains 'ro' && ctx.stage startsWith 'pr' }}"),
        json!(true)
    );
    assert_eq!(eval("${{ 1 + 2 * 3 }}"), json!(7));
    assert_eq!(eval("${{ vars.missing ?? 'dflt' }}"), json!("dflt"));
    assert_eq!(eval("${{ vars.empty ?? 'dflt' }}"), json!("dflt"));
    assert_eq!(eval("${{ outputs.missing.x ?? 'dflt' }}"), json!("dflt"));
    assert_eq!(eval("${{ nope ?? 'dflt' }}"), json!("dflt"));
    assert_eq!(eval("${{ outputs['step-1'].x ?? 0 }}"), json!(5));
    assert_eq!(eval("${{ vars?.missing?.deep }}"), json!(null));
    assert_eq!(eval("${{ {stage: ctx.stage} }}"), json!({"stage": "prod"}));
    assert_eq!(eval("${{ 1..3 }}"), json!([1, 2, 3]));
    assert_eq!(eval("${{ upper(ctx.stage) }}"), json!("PROD"));
    assert_eq!(eval("${{ ctx.stage | upper }}"), json!("PROD"));
}

#[test]
fn operators_inside_string_literals_are_left_alone() {
    assert_eq!(eval("${{ 'a && b || !c' }}"), json!("a && b || !c"));
    assert_eq!(eval(r#"${{ "x ? y : nil" }}"#), json!("x ? y : nil"));
    assert_eq!(
        eval("${{ ctx.stage == 'prod' ? 'is && prod' : '!no' }}"),
        json!("is && prod")
    );
}

// --- functions ------------------------------------------------------------

#[test]
fn artifact_from_finds_a_generic_subscriptions_artifact() {
    assert_eq!(
        eval("${{ artifactFrom('function').Version }}"),
        json!("1.4.0@sha256:f1")
    );
    assert_eq!(
        eval("${{ artifactFrom('function').Metadata.tag }}"),
        json!("1.4.0")
    );
    assert_eq!(
        eval("${{ artifactFrom('function', warehouse('wh-a')).ArtifactType }}"),
        json!("application/vnd.acme.fn.v1")
    );
    assert_eq!(
        eval("${{ artifactFrom('function') }}"),
        json!({
            "artifactType": "application/vnd.acme.fn.v1",
            "subscriptionName": "function",
            "version": "1.4.0@sha256:f1",
            "metadata": {"tag": "1.4.0", "digest": "sha256:f1"},
        })
    );
    assert_eq!(eval("${{ artifactFrom('nope') }}"), json!(null));
    assert_eq!(
        eval("${{ artifactFrom('function', warehouse('wh-b')) }}"),
        json!(null)
    );
}

#[test]
fn image_from_finds_the_image_and_exposes_go_fields() {
    assert_eq!(eval("${{ imageFrom(vars.repo).Tag }}"), json!("1.2.3"));
    assert_eq!(
        eval("${{ imageFrom(vars.repo).Digest }}"),
        json!("sha256:1.2.3")
    );
    assert_eq!(
        eval("${{ imageFrom(vars.repo).RepoURL }}"),
        json!("ghcr.io/acme/app")
    );
    assert_eq!(
        eval("${{ imageFrom(vars.repo).Annotations['org.opencontainers.image.revision'] }}"),
        json!("abc")
    );
    assert_eq!(
        eval("${{ imageFrom(vars.repo) }}"),
        json!({
            "repoURL": "ghcr.io/acme/app",
            "tag": "1.2.3",
            "digest": "sha256:1.2.3",
            "annotations": {"org.opencontainers.image.revision": "abc"},
        })
    );
}

#[test]
fn freight_lookups_without_origin_reject_ambiguity() {
    let e = eval_err("${{ imageFrom('ghcr.io/acme/both').Tag }}");
    assert!(e.message.contains("ambiguous"), "{}", e.message);
    assert!(
        e.message.contains("Warehouse/wh-a, Warehouse/wh-b"),
        "{}",
        e.message
    );
    assert_eq!(
        eval("${{ imageFrom('ghcr.io/acme/both', warehouse('wh-b')).Tag }}"),
        json!("from-b")
    );
    assert_eq!(
        eval("${{ imageFrom('ghcr.io/acme/both', warehouse('wh-a')).Tag }}"),
        json!("from-a")
    );
    assert_eq!(
        eval("${{ imageFrom(vars.repo, warehouse('wh-b')) }}"),
        json!(null)
    );
}

#[test]
fn freight_lookups_return_nil_without_a_match() {
    assert_eq!(eval("${{ imageFrom('nope') }}"), json!(null));
    assert_eq!(eval("${{ imageFrom('nope') == nil }}"), json!(true));
    assert_eq!(
        eval("${{ imageFrom('nope')?.Tag ?? 'latest' }}"),
        json!("latest")
    );
    assert!(
        Evaluator::new()
            .eval_template("${{ imageFrom('nope').Tag }}", &scope())
            .is_err()
    );
    assert_eq!(
        eval("${{ commitFrom('https://example.com/x.git') }}"),
        json!(null)
    );
}

#[test]
fn commit_from_normalises_git_urls() {
    assert_eq!(
        eval("${{ commitFrom('https://github.com/acme/repo.git').ID }}"),
        json!("c0ffee12")
    );
    assert_eq!(
        eval("${{ commitFrom('https://user@GitHub.com/acme/repo/').Tag }}"),
        json!("v1.0.0")
    );
    assert_eq!(
        eval("${{ commitFrom('https://github.com/acme/repo', warehouse('wh-a')).Branch }}"),
        json!("main")
    );
    assert_eq!(
        eval("${{ commitFrom('https://github.com/acme/repo').Message }}"),
        json!("Fix things")
    );
    assert_eq!(
        eval("${{ commitFrom('https://github.com/acme/repo').Author }}"),
        json!("Ann <ann@example.com>")
    );
}

#[test]
fn chart_from_matches_url_and_name() {
    assert_eq!(
        eval("${{ chartFrom('oci://ghcr.io/acme/charts/app').Version }}"),
        json!("0.1.0")
    );
    assert_eq!(
        eval("${{ chartFrom('oci://ghcr.io/acme/charts/app', warehouse('wh-a')).Version }}"),
        json!("0.1.0")
    );
    assert_eq!(
        eval("${{ chartFrom('https://charts.acme.io', 'web').Version }}"),
        json!("2.0.0")
    );
    assert_eq!(
        eval("${{ chartFrom('https://charts.acme.io', 'web').Name }}"),
        json!("web")
    );
    assert_eq!(
        eval("${{ chartFrom('https://charts.acme.io') }}"),
        json!(null)
    );
    assert_eq!(
        eval("${{ chartFrom('https://charts.acme.io', 'web', warehouse('wh-b')) }}"),
        json!(null)
    );
    let e = eval_err("${{ chartFrom('a', 'b', 'c') }}");
    assert!(
        e.message
            .contains("third argument must be a Freight origin"),
        "{}",
        e.message
    );
}

#[test]
fn warehouse_returns_an_origin() {
    assert_eq!(
        eval("${{ warehouse('w') }}"),
        json!({"kind": "Warehouse", "name": "w"})
    );
    assert_eq!(eval("${{ warehouse('w').Name }}"), json!("w"));
    assert!(
        eval_err("${{ warehouse('') }}")
            .message
            .contains("must not be empty")
    );
    let e = eval_err("${{ imageFrom(vars.repo, 'wh-a') }}");
    assert!(
        e.message
            .contains("second argument must be a Freight origin"),
        "{}",
        e.message
    );
}

#[test]
fn quote_and_unsafe_quote_and_as_json() {
    assert_eq!(eval("${{ unsafeQuote(40 + 2) }}"), json!("42"));
    assert_eq!(eval("${{ unsafeQuote('string') }}"), json!("\"string\""));
    assert_eq!(eval(r#"${{ quote('say "hi"') }}"#), json!(r#"say \"hi\""#));
    assert_eq!(
        eval("${{ asJSON({'b': [1], 'a': 1}) }}"),
        json!("{\n  \"a\": 1,\n  \"b\": [\n    1\n  ]\n}\n")
    );
}

#[test]
fn as_yaml_writes_yaml() {
    assert_eq!(
        eval("${% asYAML({'b': [1, 2], 'a': 'x', 'c': {'d': true}}) %}"),
        json!("a: x\nb:\n    - 1\n    - 2\nc:\n    d: true\n")
    );
}

#[test]
fn success_failure_always() {
    assert_eq!(eval("${{ success() }}"), json!(true));
    assert_eq!(eval("${{ failure() }}"), json!(false));
    assert_eq!(eval("${{ always() }}"), json!(true));
    let mut s = scope();
    s.failed = true;
    let ev = Evaluator::new();
    assert_eq!(
        ev.eval_template("${{ success() }}", &s).unwrap(),
        json!(false)
    );
    assert_eq!(
        ev.eval_template("${{ failure() }}", &s).unwrap(),
        json!(true)
    );
    assert_eq!(
        ev.eval_template("${{ always() }}", &s).unwrap(),
        json!(true)
    );
}

#[test]
fn status_reads_the_current_namespace() {
    assert_eq!(eval("${{ status('step-1') }}"), json!("Succeeded"));
    assert_eq!(eval("${{ status('check') }}"), json!("Skipped"));
    assert_eq!(eval("${{ status('nope') }}"), json!(""));
    let mut s = scope();
    s.namespace = Some("task-1".into());
    let ev = Evaluator::new();
    assert_eq!(
        ev.eval_template("${{ status('check') }}", &s).unwrap(),
        json!("Failed")
    );
    assert_eq!(
        ev.eval_template("${{ status('step-1') }}", &s).unwrap(),
        json!("")
    );
}

#[test]
fn semver_parse_methods() {
    assert_eq!(
        eval("${{ semverParse('v1.2.3-rc.1+b5').Major() }}"),
        json!(1)
    );
    assert_eq!(
        eval("${{ semverParse('v1.2.3-rc.1+b5').Minor() }}"),
        json!(2)
    );
    assert_eq!(
        eval("${{ semverParse('v1.2.3-rc.1+b5').Patch() }}"),
        json!(3)
    );
    assert_eq!(
        eval("${{ semverParse('v1.2.3-rc.1+b5').Prerelease() }}"),
        json!("rc.1")
    );
    assert_eq!(
        eval("${{ semverParse('v1.2.3-rc.1+b5').Metadata() }}"),
        json!("b5")
    );
    assert_eq!(
        eval("${{ semverParse('v1.2.3-rc.1+b5').String() }}"),
        json!("1.2.3-rc.1+b5")
    );
    assert_eq!(
        eval("${{ semverParse('v1.2.3').IncMinor().String() }}"),
        json!("1.3.0")
    );
    assert_eq!(
        eval("${{ semverParse('v1.2.3').IncMajor().Original() }}"),
        json!("v2.0.0")
    );
    assert_eq!(
        eval("${{ semverParse('1.2.3').IncPatch().String() }}"),
        json!("1.2.4")
    );
    assert_eq!(
        eval("${{ semverParse('1.2.3-rc.1').IncPatch().String() }}"),
        json!("1.2.3")
    );
    assert_eq!(eval("${{ semverParse('1.2') }}"), json!("1.2.0"));
    assert_eq!(eval("v=${{ semverParse('1.2') }}"), json!("v=\"1.2.0\""));
    let e = eval_err("${{ semverParse('one') }}");
    assert!(
        e.message.contains("invalid semantic version \"one\""),
        "{}",
        e.message
    );
    assert!(
        eval_err("${{ semverParse('1.2.3-01') }}")
            .message
            .contains("starts with 0")
    );
}

#[test]
fn semver_diff_values() {
    assert_eq!(eval("${{ semverDiff('1.2.3', '2.0.0') }}"), json!("Major"));
    assert_eq!(eval("${{ semverDiff('1.2.3', '1.3.0') }}"), json!("Minor"));
    assert_eq!(eval("${{ semverDiff('1.2.3', 'v1.2.4') }}"), json!("Patch"));
    assert_eq!(
        eval("${{ semverDiff('1.2.3+a', '1.2.3+b') }}"),
        json!("Metadata")
    );
    assert_eq!(eval("${{ semverDiff('1.2.3', 'v1.2.3') }}"), json!("None"));
    assert_eq!(
        eval("${{ semverDiff('1.2.3-rc.1', '1.2.3') }}"),
        json!("None")
    );
    assert_eq!(
        eval("${{ semverDiff('latest', '1.2.3') }}"),
        json!("Incomparable")
    );
}

// --- limits and errors ----------------------------------------------------

#[test]
fn runaway_expressions_run_out_of_fuel() {
    for t in [
        "${{ 'x' * 1000000000 }}",
        "${{ range(99999) | map('string') | join(',') }}",
        "${{ [range(99999) | list, range(99999) | list, range(99999) | list] }}",
    ] {
        let e = eval_err(t);
        assert_eq!(
            e.message, "evaluation stopped: the expression used up its fuel limit of 200000 units",
            "{t}"
        );
    }
    let e = eval_err("${{ (range(99999) | list) * 1000 }}");
    assert_eq!(
        e.message,
        "the result is too large to convert (more than 200000 values)"
    );
    let small = Evaluator::with_fuel(5);
    assert_eq!(small.fuel(), 5);
    let e = small
        .eval_template("${{ [1, 2, 3, 4, 5, 6, 7, 8] | join(',') }}", &scope())
        .unwrap_err();
    assert!(e.message.contains("fuel limit of 5 units"), "{}", e.message);
}

#[test]
fn values_over_the_size_limit_are_refused_before_they_are_built() {
    // Doubling a string 39 times would need 512 GiB.
    let mut doubled = "'x'".to_owned();
    for _ in 0..39 {
        doubled = format!("replace({doubled}, 'x', 'xx')");
    }
    let e = eval_err(&format!("${{{{ {doubled} }}}}"));
    assert_eq!(
        e.message,
        "replace() would be 12582912 bytes, more than the limit of 8388608 bytes"
    );
    // A sum of two large strings, and a join.
    let big = "y".repeat(5 << 20);
    let scope = Scope {
        extra: serde_json::Map::from_iter([("big".to_owned(), json!(big))]),
        ..scope()
    };
    let evaluator = Evaluator::new();
    let e = evaluator
        .eval_template("${{ big + big }}", &scope)
        .unwrap_err();
    assert_eq!(
        e.message,
        "the sum would be 10485760 bytes, more than the limit of 8388608 bytes"
    );
    let e = evaluator
        .eval_template("${{ join([big, big], '') }}", &scope)
        .unwrap_err();
    assert!(e.message.contains("join() would be"), "{}", e.message);
    // Many expressions each under the limit, together over it.
    let e = evaluator
        .eval_template("${{ big }}${{ big }}", &scope)
        .unwrap_err();
    assert_eq!(
        e.message,
        "the result is more than the limit of 8388608 bytes"
    );
    // Sums under the limit still work.
    assert_eq!(
        evaluator.eval_template("${{ 'a' + 'b' }}", &scope).unwrap(),
        json!("ab")
    );
    assert_eq!(
        evaluator.eval_template("${{ 1 + 2 }}", &scope).unwrap(),
        json!(3)
    );
}

#[test]
fn a_string_with_too_many_expressions_is_refused() {
    let many = "${{ 1 }}".repeat(super::MAX_EXPRESSIONS_PER_STRING + 1);
    let e = eval_err(&many);
    assert_eq!(
        e.message,
        "the string holds 10001 expressions, more than the limit of 10000"
    );
}

#[test]
fn syntax_errors_quote_the_expression() {
    let e = eval_err("${{ 1 + }}");
    assert_eq!(e.expression, "${{ 1 + }}");
    assert_eq!(e.message, "syntax error: unexpected end of expression");
    assert_eq!(
        e.to_string(),
        "expression `${{ 1 + }}`: syntax error: unexpected end of expression"
    );
    let e = eval_err("${{ vars.n > 1 ? 'a' }}");
    assert_eq!(
        e.message,
        "syntax error: expected `:`, found end of expression"
    );
    let e = eval_err("${{ vars.n vars }}");
    assert_eq!(e.message, "syntax error: unexpected `vars` at position 8");
}

#[test]
fn hostile_input_never_panics() {
    let ev = Evaluator::new();
    let s = scope();
    for t in [
        "${{ }}",
        "${{ ( }}",
        "${{ ] }}",
        "${{ 'a' * -1 }}",
        "${{ 1 / 0 }}",
        "${{ 99999999999999999999999999 }}",
        "${{ {1: 2} }}",
        "${{ range }}",
        "${{ imageFrom }}",
        "${{ [1, 2][5] }}",
        "${{ imageFrom() }}",
        "${{ imageFrom(1) }}",
        "${{ status() }}",
        "${{ semverParse('18446744073709551615.0.0').IncMajor() }}",
        "${{ '\\u{zz}' }}",
        "${{ 0x }}",
        "${{ a?. }}",
        "${{ #x }}",
        "${{ {a: } }}",
        "${{ `unterminated }}",
        "${{ \u{2028} }}",
    ] {
        let _ = ev.eval_template(t, &s);
    }
    let deep = format!("${{{{ {}1{} }}}}", "(".repeat(5000), ")".repeat(5000));
    assert!(ev.eval_template(&deep, &s).is_err());
    let deep = format!("${{{{ {}1 }}}}", "!".repeat(5000));
    assert!(ev.eval_template(&deep, &s).is_err());
    for long in [
        format!("${{{{ 1{} }}}}", " + 1".repeat(20_000)),
        format!("${{{{ nil{} }}}}", " ?? nil".repeat(20_000)),
        format!("${{{{ vars{} }}}}", "?.b".repeat(20_000)),
    ] {
        let e = ev.eval_template(&long, &s).unwrap_err();
        assert_eq!(e.message, "syntax error: expression nested too deeply");
    }
    // Just below the limit still works.
    let ok = format!("${{{{ 1{} }}}}", " + 1".repeat(60));
    assert_eq!(ev.eval_template(&ok, &s).unwrap(), json!(61));
    let ok = format!("${{{{ nil{} 7 }}}}", " ?? nil".repeat(60) + " ??");
    assert_eq!(ev.eval_template(&ok, &s).unwrap(), json!(7));
}

// --- eval_config / eval_expression ---------------------------------------

#[test]
fn eval_config_walks_values_and_leaves_keys_and_non_strings() {
    let config = json!({
        "z-${{ ctx.stage }}": "${{ ctx.stage }}",
        "a": [1, "${{ vars.n + 1 }}", {"deep": ["${{ quote(vars.n) }}", true, null]}],
        "n": 7,
        "plain": "42",
        "m": {"k": "v-${{ ctx.project }}"},
    });
    let out = Evaluator::new().eval_config(&config, &scope()).unwrap();
    assert_eq!(
        out,
        json!({
            "z-${{ ctx.stage }}": "prod",
            "a": [1, 4, {"deep": ["3", true, null]}],
            "n": 7,
            "plain": "42",
            "m": {"k": "v-demo"},
        })
    );
    let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["z-${{ ctx.stage }}", "a", "n", "plain", "m"],
        "key order is kept"
    );
    let e = Evaluator::new()
        .eval_config(&json!({"a": {"b": ["${{ nope }}"]}}), &scope())
        .unwrap_err();
    assert_eq!(e.expression, "${{ nope }}");
}

#[test]
fn eval_expression_returns_the_uncoerced_value() {
    let ev = Evaluator::new();
    let s = scope();
    assert_eq!(ev.eval_expression("vars.n + 1", &s).unwrap(), json!(4));
    assert_eq!(ev.eval_expression("'42'", &s).unwrap(), json!("42"));
    assert_eq!(
        ev.eval_expression("ctx.stage == 'prod' && success()", &s)
            .unwrap(),
        json!(true)
    );
    let e = ev.eval_expression("nope", &s).unwrap_err();
    assert_eq!(e.expression, "nope");
    assert_eq!(e.message, "undefined value: `nope` is undefined");
    assert_eq!(ev.eval_expression("vars.missing", &s).unwrap(), json!(null));
}

#[test]
fn evaluator_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Evaluator>();
}

/// Kargo's parse steps run expr-lang on the document: `$env` is its root,
/// whatever it is, and a name it lacks is nil (`json_parser_test.go`).
#[test]
fn env_is_the_document_root() {
    let ev = Evaluator::new();
    let with_doc = |doc: Value| {
        let mut s = Scope::default();
        if let Value::Object(map) = &doc {
            s.extra.extend(map.clone());
        }
        s.extra.insert("$env".into(), doc);
        s
    };
    let list = with_doc(json!(["first", {"name": "item2"}, 3]));
    assert_eq!(
        ev.eval_expression("$env[0]", &list).unwrap(),
        json!("first")
    );
    assert_eq!(
        ev.eval_expression("$env[1].name", &list).unwrap(),
        json!("item2")
    );
    assert_eq!(ev.eval_expression("len($env)", &list).unwrap(), json!(3));
    let scalar = with_doc(json!(42));
    assert_eq!(ev.eval_expression("$env + 1", &scalar).unwrap(), json!(43));
    let map = with_doc(json!({"key": "value", "nested": {"a": 1}}));
    assert_eq!(ev.eval_expression("key", &map).unwrap(), json!("value"));
    assert_eq!(ev.eval_expression("missingKey", &map).unwrap(), json!(null));
    assert_eq!(ev.eval_expression("true", &map).unwrap(), json!(true));
    assert_eq!(ev.eval_expression("$env.nested.a", &map).unwrap(), json!(1));
    let e = ev.eval_expression("nonexistent.path", &map).unwrap_err();
    assert_eq!(
        e.message,
        "cannot fetch `path` from `nonexistent`: it is nil"
    );
    // Outside a parse step, `$env` is the map of top-level variables.
    let s = scope();
    assert_eq!(
        ev.eval_expression("$env.ctx.stage", &s).unwrap(),
        json!("prod")
    );
}

/// A request-shaped scope: `request.body` data, `request.header()`,
/// `request.headers()` and `request.params()` methods, and a top-level
/// `normalizeGit()`, all bound to one request as a generic webhook
/// receiver binds them.
fn request_scope() -> Scope {
    let headers: BTreeMap<String, Vec<String>> = BTreeMap::from([
        ("x-event-type".into(), vec!["push".into()]),
        ("x-tag".into(), vec!["a".into(), "b".into()]),
    ]);
    let headers = Arc::new(headers);
    let (one, all) = (headers.clone(), headers);
    let mut scope = Scope::default();
    scope.extra.insert(
        "request".into(),
        json!({"body": {"repository": {"url": "https://GitHub.com/Acme/Repo.git"}, "n": 3}}),
    );
    scope.functions = super::Functions::new()
        .with("request.header", move |args: &[Value]| {
            let name = args
                .first()
                .and_then(Value::as_str)
                .ok_or("a header name")?;
            let values = one.get(&name.to_ascii_lowercase());
            Ok(json!(
                values.and_then(|v| v.first()).cloned().unwrap_or_default()
            ))
        })
        .with("request.headers", move |args: &[Value]| {
            let name = args
                .first()
                .and_then(Value::as_str)
                .ok_or("a header name")?;
            Ok(json!(
                all.get(&name.to_ascii_lowercase())
                    .cloned()
                    .unwrap_or_default()
            ))
        })
        .with("normalizeGit", |args: &[Value]| {
            let url = args.first().and_then(Value::as_str).ok_or("a URL")?;
            Ok(json!(crate::urls::normalize_git(url)))
        })
        .with("fails", |_: &[Value]| Err("no such thing".to_owned()))
        .with("ctx", |_: &[Value]| Ok(json!("shadowed")));
    scope
}

#[test]
fn host_functions_are_called_top_level_and_as_methods_beside_data() {
    let ev = Evaluator::new();
    let s = request_scope();
    let cases = [
        ("request.header('X-Event-Type') == 'push'", json!(true)),
        ("request.header('x-missing')", json!("")),
        ("request.headers('X-Tag')", json!(["a", "b"])),
        ("len(request.headers('none'))", json!(0)),
        ("request.body.n + 1", json!(4)),
        (
            "normalizeGit(request.body.repository.url)",
            json!("https://github.com/acme/repo"),
        ),
        // A name the table may not take keeps its meaning.
        ("ctx == nil", json!(true)),
    ];
    for (expression, expected) in cases {
        assert_eq!(
            ev.eval_expression(expression, &s).unwrap(),
            expected,
            "{expression}"
        );
    }
    assert_eq!(
        ev.eval_template("${{ normalizeGit(request.body.repository.url) }}", &s)
            .unwrap(),
        json!("https://github.com/acme/repo")
    );
    let e = ev.eval_expression("fails()", &s).unwrap_err();
    assert_eq!(e.message, "fails(): no such thing");
    let e = ev.eval_expression("request.header()", &s).unwrap_err();
    assert_eq!(e.message, "request.header(): a header name");
    // Without the table, the same names are unknown.
    let plain = Scope::default();
    assert!(ev.eval_expression("normalizeGit('x')", &plain).is_err());
}

#[test]
fn checks_know_the_host_functions_they_are_given() {
    let ev = Evaluator::new();
    let s = request_scope();
    let template = "${{ normalizeGit(request.body.url) }}";
    let e = ev.check_template(template).unwrap_err();
    assert_eq!(e.message, "unknown function `normalizeGit()`");
    ev.check_template_with(template, &s.functions).unwrap();
    ev.check_bare_expression_with("request.header('a') == normalizeGit('b')", &s.functions)
        .unwrap();
    let e = ev
        .check_bare_expression_with("normalizeImage('b')", &s.functions)
        .unwrap_err();
    assert_eq!(e.message, "unknown function `normalizeImage()`");
}

#[test]
fn an_http_response_header_is_still_read_from_its_headers() {
    let ev = Evaluator::new();
    let mut s = Scope::default();
    s.extra.insert(
        "response".into(),
        json!({"status": 200, "headers": {"Content-Type": ["text/plain"]}}),
    );
    assert_eq!(
        ev.eval_expression("response.header('content-type')", &s)
            .unwrap(),
        json!("text/plain")
    );
}

/// A parse step's document set as [`Scope::document`] reads as the same
/// values converted whole into minijinja's own (its top-level keys set as
/// [`Scope::extra`] variables): names, whole maps (keys sorted), lists,
/// numbers, missing keys.
#[test]
fn a_document_reads_as_the_same_json_does() {
    let ev = Evaluator::new();
    let json = json!({
        "b": {"z": [1, -2, 2.5, "s", null, true], "a": {"k": "v"}},
        "a": "top",
        "n": 18446744073709551615u64,
    });
    let lazy = Scope {
        document: Some(Document::from_json(&json)),
        ..Scope::default()
    };
    let eager = Scope {
        extra: json.as_object().unwrap().clone(),
        ..Scope::default()
    };
    for expression in [
        "a",
        "b",
        "b.z[2] * 2",
        "b.z[-1]",
        "len(b.z)",
        "b.a.k + '!'",
        "b['missing'] == nil",
        "n",
        "toJSON(b)",
        "'k' in b.a",
        "b.a == {'k': 'v'}",
    ] {
        assert_eq!(
            ev.eval_expression(expression, &lazy),
            ev.eval_expression(expression, &eager),
            "{expression}"
        );
    }
    let whole = ev.eval_expression("$env", &lazy).unwrap();
    assert_eq!(whole, json);
    assert_eq!(
        serde_json::to_string(&whole).unwrap(),
        r#"{"a":"top","b":{"a":{"k":"v"},"z":[1,-2,2.5,"s",null,true]},"n":18446744073709551615}"#
    );
}

/// A method call fails at load time unless some value can have it: a
/// Go time method kargo-rs's dates lack (`.Format()`) would otherwise pass
/// the check and fail at every discovery.
#[test]
fn a_method_no_value_has_is_refused_when_checked() {
    let ev = Evaluator::new();
    let e = ev
        .check_bare_expression("creatorDate.Format('2006') == '2023'")
        .unwrap_err();
    assert!(
        e.message
            .starts_with("method `.Format()` is not supported by kargo-rs"),
        "{}",
        e.message
    );
    assert!(e.message.contains("Year, Month, Day"), "{}", e.message);
    let e = ev
        .check_template("${{ commitDate.AddDate(0, 1, 0) }}")
        .unwrap_err();
    assert!(e.message.contains("`.AddDate()`"), "{}", e.message);
    // A date's methods pass.
    ev.check_bare_expression("creatorDate.Year() >= 2023 && commitDate.After(date('2025-01-01'))")
        .unwrap();
    // A semantic version's methods and a host object's methods pass.
    ev.check_bare_expression("semverParse('1.2.3').IncMinor().Major() == 1")
        .unwrap();
    assert_eq!(
        ev.eval_expression(
            "semverParse('1.2.3').IncMinor().String()",
            &Scope::default()
        )
        .unwrap(),
        json!("1.3.0")
    );
    let s = request_scope();
    ev.check_bare_expression_with("len(request.headers('x-tag')) == 2", &s.functions)
        .unwrap();
    assert!(
        ev.check_bare_expression("request.headers('x-tag')")
            .is_err()
    );
}

/// Dates are RFC 3339 text with the Go `time.Time` methods Kargo's git
/// `expressionFilter` docs and tests call (`creatorDate.Year() >= 2023`,
/// `commitDate.After(date('2025-01-01'))`), read in UTC; `date()` is
/// expr-lang's, for the layouts that carry a date.
#[test]
fn dates_have_go_time_methods() {
    let mut scope = Scope::default();
    scope
        .extra
        .insert("commitDate".into(), json!("2024-02-29T13:14:15Z"));
    scope
        .extra
        .insert("zero".into(), json!("0001-01-01T00:00:00Z"));
    scope.extra.insert("word".into(), json!("yesterday"));
    let ev = Evaluator::new();
    let eval = |e: &str| {
        ev.eval_expression(e, &scope)
            .unwrap_or_else(|err| panic!("{e}: {err}"))
    };
    for (expression, want) in [
        ("commitDate.Year()", json!(2024)),
        ("commitDate.Month()", json!(2)),
        ("commitDate.Day()", json!(29)),
        ("commitDate.Hour()", json!(13)),
        ("commitDate.Minute()", json!(14)),
        ("commitDate.Second()", json!(15)),
        ("commitDate.YearDay()", json!(60)),
        ("commitDate.Weekday()", json!(4)),
        ("commitDate.Unix()", json!(1_709_212_455)),
        ("commitDate.UnixMilli()", json!(1_709_212_455_000_i64)),
        ("commitDate.IsZero()", json!(false)),
        ("zero.IsZero()", json!(true)),
        ("zero.Year()", json!(1)),
        ("commitDate.Year() >= 2023", json!(true)),
        ("commitDate.After(date('2024-01-01'))", json!(true)),
        ("commitDate.Before(date('2024-01-01'))", json!(false)),
        ("commitDate.Equal(date('2024-02-29 13:14:15'))", json!(true)),
        ("commitDate.Equal('2024-02-29T14:14:15+01:00')", json!(true)),
        ("commitDate.Compare(date('2030-01-01'))", json!(-1)),
        ("date('2025-01-01')", json!("2025-01-01T00:00:00Z")),
        (
            "date('2025-01-01T10:00:00+02:00')",
            json!("2025-01-01T08:00:00Z"),
        ),
        ("date('2025-01-01').Weekday()", json!(3)),
        // Still text: compared as text, as before.
        ("commitDate >= '2024-02'", json!(true)),
        ("commitDate > date('2024-02-29')", json!(true)),
    ] {
        assert_eq!(eval(expression), want, "{expression}");
    }
    for (expression, part) in [
        ("date('01/02/2025')", "invalid date \"01/02/2025\""),
        (
            "date('2025-01-01', '2006-01-02')",
            "layout or time zone argument is not supported",
        ),
        ("date(1)", "must be a string"),
        ("word.Year()", "is a method of a date"),
        ("commitDate.After('soon')", "the argument must be a date"),
        ("commitDate.After()", "expects 1 argument"),
        ("commitDate.Year(1)", "takes no arguments"),
    ] {
        let e = ev.eval_expression(expression, &scope).unwrap_err();
        assert!(e.message.contains(part), "{expression}: {}", e.message);
    }
}
