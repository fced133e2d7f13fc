//! Cases from Kargo's `pkg/expressions/function/functions_test.go`, case by
//! case, in kargo-rs's terms: each Go `Test_…` table is one test here, and
//! each row keeps its Go case name. Kargo calls the Go function directly
//! with `[]any` arguments; kargo-rs evaluates the same call as an
//! expression, so a Go `123` argument is the literal `123` and a
//! `kargoapi.FreightOrigin` is `warehouse("…")`.
//!
//! Not here, and why:
//! - `Test_get*FromDiscoveredArtifacts` (the functions a Warehouse's
//!   `freightCreationCriteria` see) are in kargo-sources' `warehouse`
//!   tests, where those expressions are evaluated.
//! - `Test_getConfigMap`, `Test_freightStatus` and the `sharedSecret`
//!   rows: kargo-rs has no Kubernetes objects to read, so these functions
//!   are refused when a template is loaded
//!   ([`kargo_only_functions_are_refused_when_loaded`]).
//! - The cache rows of `Test_getSecret` and
//!   `Test_getConfigMap_getSecret_no_cache_key_collision`: kargo-rs loads
//!   a step's Secrets once per step, into a view keyed by kind and name
//!   ([`MetadataKey`]), so there is no cache to hit or collide in.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use serde_json::{Value, json};

use super::{Evaluator, MetadataKey, MetadataView, Scope, secret_function};
use crate::model::{
    ArtifactReference, Chart, Freight, FreightCollection, FreightOrigin, GitCommit, Image,
    StepStatus,
};

/// What a row expects: a value, or an error whose message holds the text.
enum Want {
    Is(Value),
    Fails(&'static str),
}
use Want::{Fails, Is};

/// Evaluates each `(case, expression, want)` row against `scope`.
fn run_table(test: &str, scope: &Scope, rows: &[(&str, &str, Want)]) {
    let evaluator = Evaluator::new();
    for (case, expression, want) in rows {
        let got = evaluator.eval_expression(expression, scope);
        match (want, got) {
            (Is(want), Ok(got)) => assert_eq!(&got, want, "{test} / {case}: `{expression}`"),
            (Fails(part), Err(e)) => assert!(
                e.message.contains(part),
                "{test} / {case}: `{expression}`: {:?} does not mention {part:?}",
                e.message
            ),
            (Is(_), Err(e)) => panic!("{test} / {case}: `{expression}` failed: {e}"),
            (Fails(part), Ok(v)) => {
                panic!("{test} / {case}: `{expression}` gave {v}, expected an error ({part})")
            }
        }
    }
}

/// A scope whose Freight collection holds `freight`.
fn with_freight(freight: Vec<Freight>) -> Scope {
    Scope {
        freight: Arc::new(FreightCollection::new(freight)),
        ..Scope::default()
    }
}

/// Freight from Warehouse `fake-warehouse`, as Kargo's rows build it.
fn fake_freight() -> Freight {
    Freight {
        origin: FreightOrigin::warehouse("fake-warehouse"),
        ..Default::default()
    }
}

#[test]
fn warehouse() {
    run_table(
        "Test_warehouse",
        &Scope::default(),
        &[
            (
                "valid warehouse name",
                "warehouse('test-warehouse')",
                Is(json!({"kind": "Warehouse", "name": "test-warehouse"})),
            ),
            ("no arguments", "warehouse()", Fails("expects 1 argument")),
            (
                "too many arguments",
                "warehouse('test-warehouse', 'extra')",
                Fails("expects 1 argument"),
            ),
            (
                "invalid argument type",
                "warehouse(123)",
                Fails("argument must be a string"),
            ),
            (
                "empty string name",
                "warehouse('')",
                Fails("must not be empty"),
            ),
        ],
    );
}

#[test]
fn commit_from_freight() {
    let commit = |id: &str| GitCommit {
        repo_url: "https://github.com/example/repo".into(),
        id: id.into(),
        ..Default::default()
    };
    let url_only = with_freight(vec![Freight {
        commits: vec![commit("abc123")],
        ..fake_freight()
    }]);
    run_table(
        "Test_getCommitFromFreight",
        &url_only,
        &[(
            "repo URL only",
            "[commitFrom('https://github.com/example/repo').RepoURL, \
             commitFrom('https://github.com/example/repo').ID]",
            Is(json!(["https://github.com/example/repo", "abc123"])),
        )],
    );
    let with_origin = with_freight(vec![Freight {
        commits: vec![commit("def456")],
        ..fake_freight()
    }]);
    run_table(
        "Test_getCommitFromFreight",
        &with_origin,
        &[
            (
                "repo URL and origin",
                "commitFrom('https://github.com/example/repo', warehouse('fake-warehouse')).ID",
                Is(json!("def456")),
            ),
            (
                "no arguments",
                "commitFrom()",
                Fails("expects 1-2 argument"),
            ),
            (
                "too many arguments",
                "commitFrom('https://github.com/example/repo', warehouse('w'), 'extra')",
                Fails("expects 1-2 argument"),
            ),
            (
                "invalid first argument type",
                "commitFrom(123)",
                Fails("first argument must be a string"),
            ),
            (
                "invalid second argument type",
                "commitFrom('https://github.com/example/repo', 'invalid')",
                Fails("second argument must be a Freight origin"),
            ),
        ],
    );
}

#[test]
fn image_from_freight() {
    let scope = with_freight(vec![Freight {
        images: vec![Image {
            repo_url: "registry.example.com/app".into(),
            ..Default::default()
        }],
        ..fake_freight()
    }]);
    run_table(
        "Test_getImageFromFreight",
        &scope,
        &[
            (
                "repo URL only",
                "imageFrom('registry.example.com/app').RepoURL",
                Is(json!("registry.example.com/app")),
            ),
            (
                "repo URL and origin",
                "imageFrom('registry.example.com/app', warehouse('fake-warehouse')).RepoURL",
                Is(json!("registry.example.com/app")),
            ),
            ("no arguments", "imageFrom()", Fails("expects 1-2 argument")),
            (
                "too many arguments",
                "imageFrom('registry.example.com/app', warehouse('w'), 'extra')",
                Fails("expects 1-2 argument"),
            ),
            (
                "invalid first argument type",
                "imageFrom(123)",
                Fails("first argument must be a string"),
            ),
            (
                "invalid second argument type",
                "imageFrom('registry.example.com/app', 'invalid')",
                Fails("second argument must be a Freight origin"),
            ),
        ],
    );
}

#[test]
fn chart_from_freight() {
    let chart = |repo: &str, name: &str| Chart {
        repo_url: repo.into(),
        name: name.into(),
        ..Default::default()
    };
    let oci = with_freight(vec![Freight {
        charts: vec![chart("oci://registry.example.com/chart", "")],
        ..fake_freight()
    }]);
    run_table(
        "Test_getChartFromFreight",
        &oci,
        &[
            (
                "repo URL only",
                "chartFrom('oci://registry.example.com/chart').RepoURL",
                Is(json!("oci://registry.example.com/chart")),
            ),
            (
                "repo URL and origin",
                "chartFrom('oci://registry.example.com/chart', warehouse('fake-warehouse')).RepoURL",
                Is(json!("oci://registry.example.com/chart")),
            ),
        ],
    );
    let http = with_freight(vec![Freight {
        charts: vec![chart("https://charts.example.com", "fake-chart")],
        ..fake_freight()
    }]);
    run_table(
        "Test_getChartFromFreight",
        &http,
        &[
            (
                "repo URL and chart name",
                "[chartFrom('https://charts.example.com', 'fake-chart').RepoURL, \
                 chartFrom('https://charts.example.com', 'fake-chart').Name]",
                Is(json!(["https://charts.example.com", "fake-chart"])),
            ),
            (
                "repo URL, chart name, and origin",
                "chartFrom('https://charts.example.com', 'fake-chart', warehouse('fake-warehouse')).Name",
                Is(json!("fake-chart")),
            ),
            ("no arguments", "chartFrom()", Fails("expects 1-3 argument")),
            (
                "too many arguments",
                "chartFrom('url', 'name', warehouse('w'), 'extra')",
                Fails("expects 1-3 argument"),
            ),
            (
                "invalid first argument type",
                "chartFrom(123)",
                Fails("first argument must be a string"),
            ),
            // Kargo: "second argument must be string or FreightOrigin".
            (
                "invalid second argument type",
                "chartFrom('https://charts.example.com', 123)",
                Fails("second argument must be a Freight origin"),
            ),
            (
                "invalid third argument with string second argument",
                "chartFrom('https://charts.example.com', 'fake-chart', 'invalid')",
                Fails("third argument must be a Freight origin"),
            ),
            // Kargo: "when using three arguments, second argument must be string".
            (
                "invalid third argument with origin second argument",
                "chartFrom('https://charts.example.com', warehouse('w'), 'invalid')",
                Fails("second argument must be a string"),
            ),
        ],
    );
}

#[test]
fn artifact_from_freight() {
    let scope = with_freight(vec![Freight {
        artifacts: vec![ArtifactReference {
            subscription_name: "fake-sub".into(),
            version: "fake-version".into(),
            ..Default::default()
        }],
        ..fake_freight()
    }]);
    let rows = [
        (
            "subscription name only",
            "[artifactFrom('fake-sub').SubscriptionName, artifactFrom('fake-sub').Version]",
            Is(json!(["fake-sub", "fake-version"])),
        ),
        (
            "subscription name and origin",
            "artifactFrom('fake-sub', warehouse('fake-warehouse')).Version",
            Is(json!("fake-version")),
        ),
        (
            "no arguments",
            "artifactFrom()",
            Fails("expects 1-2 argument"),
        ),
        (
            "too many arguments",
            "artifactFrom('fake-sub', warehouse('w'), 'extra')",
            Fails("expects 1-2 argument"),
        ),
        (
            "invalid first argument type",
            "artifactFrom(123)",
            Fails("first argument must be a string"),
        ),
        (
            "invalid second argument type",
            "artifactFrom('fake-sub', 'invalid')",
            Fails("second argument must be a Freight origin"),
        ),
    ];
    run_table("Test_getArtifactFromFreight", &scope, &rows);
    // "success": no Freight holds the subscription's artifact: nil.
    run_table(
        "Test_getArtifactFromFreight",
        &Scope::default(),
        &[("success", "artifactFrom('fake-sub')", Is(Value::Null))],
    );
}

/// A looked-up object has the fields of its Go type only: a name it lacks
/// fails, as expr-lang fails fetching a missing field from a struct,
/// rather than reading as nil.
#[test]
fn a_field_a_kargo_object_lacks_is_an_error() {
    let scope = with_freight(vec![Freight {
        images: vec![Image {
            repo_url: "registry.example.com/app".into(),
            tag: "1.0.0".into(),
            ..Default::default()
        }],
        commits: vec![GitCommit {
            repo_url: "https://github.com/example/repo".into(),
            message: "Fix things".into(),
            ..Default::default()
        }],
        ..fake_freight()
    }]);
    run_table(
        "fields",
        &scope,
        &[
            (
                "a typo",
                "imageFrom('registry.example.com/app').Tga",
                Fails("an Image has no such field (it has RepoURL, Tag, Digest, Annotations)"),
            ),
            (
                "a map inside is still a map",
                "imageFrom('registry.example.com/app').Annotations.missing",
                Is(Value::Null),
            ),
            (
                "Subject, as freightCreationCriteria write it",
                "commitFrom('https://github.com/example/repo').Subject",
                Is(json!("Fix things")),
            ),
            (
                "optional chaining reads nil",
                "imageFrom('registry.example.com/app')?.Tga ?? 'none'",
                Is(json!("none")),
            ),
        ],
    );
}

/// `Test_getConfigMap`, `Test_freightStatus` and `sharedSecret`: functions
/// over Kubernetes objects kargo-rs does not have, refused by name before
/// anything runs.
#[test]
fn kargo_only_functions_are_refused_when_loaded() {
    let evaluator = Evaluator::new();
    for name in [
        "configMap",
        "sharedConfigMap",
        "sharedSecret",
        "freightStatus",
    ] {
        let e = evaluator
            .check_bare_expression(&format!("{name}('fake')"))
            .unwrap_err();
        assert!(
            e.message
                .starts_with(&format!("function `{name}()` is not supported by kargo-rs")),
            "{name}: {}",
            e.message
        );
    }
}

/// `Test_getSecret`: the argument rows and the Secret's data. Kargo
/// answers an empty map for a Secret that does not exist; kargo-rs fails,
/// naming it (README, "Where kargo-rs deliberately differs").
#[test]
fn secret() {
    let mut view = MetadataView::new();
    view.insert(
        MetadataKey::Secret("fake-secret".into()),
        json!({"foo": "bar"}),
    );
    view.insert(MetadataKey::Secret("not-given".into()), Value::Null);
    let secret = secret_function(Some(Arc::new(view)));
    let call = |args: &[Value]| secret.call(args);
    for (case, args, want) in [
        ("no arguments", vec![], "expects 1 argument, got 0"),
        (
            "too many arguments",
            vec![json!("fake-secret"), json!("extra")],
            "expects 1 argument, got 2",
        ),
        (
            "invalid argument type",
            vec![json!(123)],
            "must be a string",
        ),
        (
            "Secret not found",
            vec![json!("not-given")],
            "no Secret `not-given` was given to kargo-rs",
        ),
    ] {
        let e = call(&args).unwrap_err();
        assert!(e.contains(want), "{case}: {e}");
    }
    assert_eq!(
        call(&[json!("fake-secret")]).unwrap(),
        json!({"foo": "bar"}),
        "success"
    );
}

#[test]
fn status() {
    let scope = |alias_namespace: Option<&str>, statuses: &[(&str, StepStatus)]| Scope {
        namespace: alias_namespace.map(str::to_owned),
        step_statuses: statuses
            .iter()
            .map(|(alias, status)| ((*alias).to_owned(), *status))
            .collect(),
        ..Scope::default()
    };
    let top = scope(None, &[("step-1", StepStatus::Succeeded)]);
    run_table(
        "Test_getStatus",
        &top,
        &[
            ("no arguments", "status()", Fails("expects 1 argument")),
            (
                "too many arguments",
                "status('one', 'two')",
                Fails("expects 1 argument"),
            ),
            (
                "one empty argument",
                "status('')",
                Fails("must not be empty"),
            ),
            (
                "basic usage; no hit",
                "status('non-existent-step')",
                Is(json!("")),
            ),
            (
                "basic usage; hit",
                "status('step-1')",
                Is(json!("Succeeded")),
            ),
        ],
    );
    let misses = scope(
        Some("task-2"),
        &[
            ("step-1", StepStatus::Succeeded),
            ("task-1::step-2", StepStatus::Succeeded),
        ],
    );
    run_table(
        "Test_getStatus",
        &misses,
        &[
            (
                "used in a task; no alias match",
                "status('step-1')",
                Is(json!("")),
            ),
            (
                "used in a task; no namespace match",
                "status('step-2')",
                Is(json!("")),
            ),
        ],
    );
    let hit = scope(Some("task-2"), &[("task-2::step-1", StepStatus::Succeeded)]);
    run_table(
        "Test_getStatus",
        &hit,
        &[(
            "used in a task; hit",
            "status('step-1')",
            Is(json!("Succeeded")),
        )],
    );
}

/// `Test_freightMetadata` and `Test_stageMetadata`: the same rows for
/// both functions, over a view loaded as the engine loads it from the
/// state store (`null` for one without metadata or not found).
#[test]
fn freight_and_stage_metadata() {
    let mut view = MetadataView::new();
    let deployment = json!({"deployment-id": "abc123", "environment": "staging"});
    view.insert(
        MetadataKey::Freight("fake-freight".into()),
        json!({"deployment-config": deployment, "build-number": 42, "issue": "#1234"}),
    );
    view.insert(MetadataKey::Freight("bare-freight".into()), Value::Null);
    view.insert(MetadataKey::Freight("no-such-freight".into()), Value::Null);
    view.insert(
        MetadataKey::Stage("fake-stage".into()),
        json!({"deployment-config": deployment}),
    );
    view.insert(MetadataKey::Stage("bare-stage".into()), Value::Null);
    view.insert(MetadataKey::Stage("no-such-stage".into()), Value::Null);
    let scope = Scope {
        metadata: Some(Arc::new(view)),
        ..Scope::default()
    };
    for (function, test, name) in [
        ("freightMetadata", "Test_freightMetadata", "freight"),
        ("stageMetadata", "Test_stageMetadata", "stage"),
    ] {
        let call = |arg: &str| format!("{function}({arg})");
        let found = if name == "freight" {
            json!({"deployment-config": deployment, "build-number": 42, "issue": "#1234"})
        } else {
            json!({"deployment-config": deployment})
        };
        run_table(
            test,
            &scope,
            &[
                ("no arguments", &call(""), Fails("expects 1 argument")),
                (
                    "too many arguments",
                    &call(&format!("'fake-{name}', 'extra'")),
                    Fails("expects 1 argument"),
                ),
                (
                    "invalid argument type",
                    &call("123"),
                    Fails("argument must be a string"),
                ),
                ("empty name", &call("''"), Fails("must not be empty")),
                (
                    "not found",
                    &call(&format!("'no-such-{name}'")),
                    Is(Value::Null),
                ),
                (
                    "exists but no metadata",
                    &call(&format!("'bare-{name}'")),
                    Is(Value::Null),
                ),
                (
                    "successful metadata retrieval",
                    &call(&format!("'fake-{name}'")),
                    Is(found),
                ),
            ],
        );
    }
}

#[test]
fn semver_diff() {
    run_table(
        "Test_semverDiff",
        &Scope::default(),
        &[
            (
                "major version difference",
                "semverDiff('1.1.1', '2.2.2')",
                Is(json!("Major")),
            ),
            (
                "minor version difference",
                "semverDiff('1.1.1', '1.2.2')",
                Is(json!("Minor")),
            ),
            (
                "patch version difference",
                "semverDiff('1.1.1', '1.1.2')",
                Is(json!("Patch")),
            ),
            (
                "metadata difference",
                "semverDiff('1.1.1+build1', '1.1.1+build2')",
                Is(json!("Metadata")),
            ),
            (
                "no difference",
                "semverDiff('1.2.3', '1.2.3')",
                Is(json!("None")),
            ),
            (
                "invalid first version",
                "semverDiff('invalid', '1.0.0')",
                Is(json!("Incomparable")),
            ),
            (
                "invalid second version",
                "semverDiff('1.0.0', 'invalid')",
                Is(json!("Incomparable")),
            ),
            (
                "both versions invalid",
                "semverDiff('invalid1', 'invalid2')",
                Is(json!("Incomparable")),
            ),
            (
                "semver with prerelease",
                "semverDiff('1.0.0-alpha', '1.0.0-beta')",
                Is(json!("None")),
            ),
            (
                "complex semver with metadata and prerelease",
                "semverDiff('1.0.0-alpha.1+build.1', '1.0.0-alpha.1+build.2')",
                Is(json!("Metadata")),
            ),
            (
                "major difference with prerelease",
                "semverDiff('1.0.0-alpha', '2.0.0-alpha')",
                Is(json!("Major")),
            ),
            (
                "minor difference with prerelease",
                "semverDiff('1.1.0-alpha', '1.2.0-alpha')",
                Is(json!("Minor")),
            ),
            (
                "patch difference with prerelease",
                "semverDiff('1.1.1-alpha', '1.1.2-alpha')",
                Is(json!("Patch")),
            ),
            ("no arguments", "semverDiff()", Fails("expects 2 argument")),
            (
                "one argument",
                "semverDiff('1.0.0')",
                Fails("expects 2 argument"),
            ),
            (
                "too many arguments",
                "semverDiff('1.0.0', '2.0.0', '3.0.0')",
                Fails("expects 2 argument"),
            ),
            (
                "invalid first argument type",
                "semverDiff(123, '1.0.0')",
                Fails("first argument must be a string"),
            ),
            (
                "invalid second argument type",
                "semverDiff('1.0.0', 123)",
                Fails("second argument must be a string"),
            ),
            (
                "empty version strings",
                "semverDiff('', '')",
                Is(json!("Incomparable")),
            ),
            (
                "loose semver format",
                "semverDiff('v1.0.0', 'v2.0.0')",
                Is(json!("Major")),
            ),
        ],
    );
}

#[test]
fn semver_parse() {
    run_table(
        "Test_semverParse",
        &Scope::default(),
        &[
            ("no arguments", "semverParse()", Fails("expects 1 argument")),
            (
                "too many arguments",
                "semverParse('1.0.0', '2.0.0')",
                Fails("expects 1 argument"),
            ),
            (
                "invalid argument type",
                "semverParse(123)",
                Fails("argument must be a string"),
            ),
            (
                "invalid semver",
                "semverParse('invalid')",
                Fails("invalid semantic version"),
            ),
            (
                "success",
                "semverParse('1.2.3').String()",
                Is(json!("1.2.3")),
            ),
        ],
    );
}
