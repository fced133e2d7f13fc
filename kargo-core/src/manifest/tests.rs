use std::path::PathBuf;

use super::*;
use crate::model::{AutoPromotionSelectionPolicy, SubscriptionSource};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/manifests")
}

#[test]
fn loads_a_directory_tree_of_kargo_manifests() {
    let manifests = Manifests::load(fixtures()).expect("fixtures load");

    assert!(manifests.project("kargo-demo").is_some());
    assert!(manifests.project_config("kargo-demo").is_some());

    let warehouse = manifests.warehouse("kargo-demo").expect("Warehouse");
    assert_eq!(
        warehouse.spec.interval.map(|i| i.to_string()).as_deref(),
        Some("10m0s")
    );
    let types: Vec<&str> = warehouse
        .spec
        .subscriptions
        .iter()
        .map(|s| s.source.type_key())
        .collect();
    assert_eq!(types, ["image", "git", "chart"]);
    assert_eq!(warehouse.spec.subscriptions[2].name, "charts");
    let SubscriptionSource::Image(image) = &warehouse.spec.subscriptions[0].source else {
        panic!("image subscription expected");
    };
    assert_eq!(image.discovery_limit, 5);
    assert!(warehouse.status.is_some());

    let test = manifests.stage("test").expect("Stage test");
    let template = test.spec.promotion_template.as_ref().expect("template");
    let uses: Vec<&str> = template
        .spec
        .steps
        .iter()
        .map(|s| s.uses.as_str())
        .collect();
    assert_eq!(
        uses,
        [
            "git-clone",
            "git-clear",
            "yaml-update",
            "git-commit",
            "git-push"
        ]
    );
    let update = &template.spec.steps[2];
    assert_eq!(update.alias, "update-image");
    let config = update.config.as_ref().expect("config");
    assert_eq!(
        config["updates"][0]["value"],
        "${{ imageFrom(vars.imageRepo).Tag }}"
    );
    assert_eq!(
        test.metadata.labels.get("tier").map(String::as_str),
        Some("test")
    );
    assert!(
        test.spec
            .verification
            .as_ref()
            .is_some_and(|v| v.analysis_templates[0].name == "kargo-demo")
    );

    let uat = manifests.stage("uat").expect("Stage uat");
    let sources = &uat.spec.requested_freight[0].sources;
    assert_eq!(sources.stages, ["test"]);
    assert_eq!(
        sources.required_soak_time.map(|d| d.to_string()).as_deref(),
        Some("1h0m0s")
    );
    assert_eq!(
        sources
            .auto_promotion_options
            .as_ref()
            .map(|o| o.selection_policy),
        Some(AutoPromotionSelectionPolicy::MatchUpstream)
    );
    let steps = &uat
        .spec
        .promotion_template
        .as_ref()
        .expect("template")
        .spec
        .steps;
    assert_eq!(
        steps[0].task.as_ref().map(|t| t.name.as_str()),
        Some("update-and-push")
    );
    assert_eq!(steps[1].retry.as_ref().map(|r| r.error_threshold), Some(3));

    // Both Stages auto-promote by the ProjectConfig's policies.
    assert_eq!(manifests.auto_promotion_enabled(test), Ok(true));
    assert_eq!(manifests.auto_promotion_enabled(uat), Ok(true));

    let task = manifests
        .promotion_task("update-and-push")
        .expect("PromotionTask");
    let required: Vec<&str> = task
        .spec
        .vars
        .iter()
        .filter(|v| v.value.is_none())
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(required, ["gitRepo", "imageTag"]);
    assert!(manifests.cluster_promotion_task("notify").is_some());

    // Freight without a name is named by its ID:
    // sha1('Warehouse/kargo-demo:public.ecr.aws/nginx/nginx:1.27.0@sha256:1111')
    let freight = manifests
        .freight_named("e58eaa0d5a179376d81f6c9e80e177819569963d")
        .expect("Freight by ID");
    assert_eq!(freight.alias, "fancy-fox");
    assert!(manifests.freight_named("fancy-fox").is_some());

    // The Argo CD Application, the unknown Kargo kind, notes.txt and the
    // hidden directory were skipped.
    assert_eq!(manifests.len(), 8);
    assert!(manifests.stage("hidden").is_none());
}

#[test]
fn resources_round_trip_through_json_with_kargo_field_names() {
    fn round_trip<T>(items: &[T])
    where
        T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        for item in items {
            let json = serde_json::to_string(item).expect("serializes");
            let back: T = serde_json::from_str(&json).expect("deserializes");
            assert_eq!(&back, item, "{json}");
        }
    }
    let manifests = Manifests::load(fixtures()).expect("fixtures load");
    round_trip(manifests.projects());
    round_trip(manifests.project_configs());
    round_trip(manifests.warehouses());
    round_trip(manifests.stages());
    round_trip(manifests.promotion_tasks());
    round_trip(manifests.cluster_promotion_tasks());
    round_trip(manifests.freight());

    let warehouse = serde_json::to_value(manifests.warehouse("kargo-demo").expect("Warehouse"))
        .expect("serializes");
    assert_eq!(
        warehouse["spec"]["subscriptions"][0]["image"]["repoURL"],
        "public.ecr.aws/nginx/nginx"
    );
    assert_eq!(warehouse["spec"]["interval"], "10m0s");
    let stage = serde_json::to_value(manifests.stage("uat").expect("Stage")).expect("serializes");
    assert_eq!(
        stage["spec"]["requestedFreight"][0]["sources"]["requiredSoakTime"],
        "1h0m0s"
    );
    assert_eq!(
        stage["spec"]["promotionTemplate"]["spec"]["steps"][1]["continueOnError"],
        true
    );
}

#[test]
fn directory_files_are_read_in_sorted_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stage = |name: &str| {
        format!(
            "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata:\n  name: {name}\nspec:\n  requestedFreight: []\n"
        )
    };
    std::fs::create_dir_all(dir.path().join("b/nested")).expect("mkdir");
    std::fs::write(dir.path().join("b/nested/z.yml"), stage("three")).expect("write");
    std::fs::write(dir.path().join("c.yaml"), stage("four")).expect("write");
    std::fs::write(dir.path().join("a.YAML"), stage("one")).expect("write");
    std::fs::write(dir.path().join("b/a.json"), r#"{"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Stage", "metadata": {"name": "two"}, "spec": {"requestedFreight": []}}"#).expect("write");

    let manifests = Manifests::load(dir.path()).expect("loads");
    let names: Vec<&str> = manifests
        .stages()
        .iter()
        .map(|s| s.metadata.name.as_str())
        .collect();
    assert_eq!(names, ["one", "two", "three", "four"]);
    let origin = manifests
        .origin_of(Kind::Stage, "", "three")
        .expect("origin recorded");
    assert!(origin.ends_with("z.yml (document 1)"), "{origin}");
}

#[test]
fn a_single_file_is_loaded_by_path() {
    let manifests = Manifests::load(fixtures().join("tasks/promotion-task.yaml")).expect("loads");
    assert_eq!(manifests.len(), 2);
    assert_eq!(manifests.promotion_tasks().len(), 1);
    assert_eq!(manifests.cluster_promotion_tasks().len(), 1);
}

#[test]
fn multi_document_text_skips_empty_and_foreign_documents() {
    let text = r#"
---
# only a comment
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: not-kargo
data:
  a: b
---
apiVersion: kargo.akuity.io/v1alpha1
kind: ClusterAnalysisTemplate
metadata:
  name: unknown-kind
---
- a list, not a resource
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: w
spec:
  subscriptions:
  - image:
      repoURL: ghcr.io/acme/app
...
"#;
    let manifests = Manifests::from_yaml_str(text, "mixed.yaml").expect("loads");
    assert_eq!(manifests.len(), 1);
    assert!(manifests.warehouse("w").is_some());
    assert_eq!(
        manifests.origin_of(Kind::Warehouse, "", "w"),
        Some("mixed.yaml (document 5)")
    );
}

#[test]
fn malformed_manifest_error_names_file_document_resource_and_field() {
    let text = r#"apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: fine
spec:
  subscriptions: []
---
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: broken
spec:
  requestedFreight:
  - origin:
      kind: Warehouse
      name: fine
    sources:
      direct: true
      requiredSoakTim: 1h
"#;
    let err = Manifests::from_yaml_str(text, "stages/broken.yaml").expect_err("must fail");
    let Error::Parse(ref parse) = err else {
        panic!("parse error expected, got {err:?}");
    };
    let ParseError {
        source_name,
        document,
        kind,
        name,
        line,
        ..
    } = parse.as_ref();
    assert_eq!(source_name, "stages/broken.yaml");
    assert_eq!(
        *document, 3,
        "documents are counted from 1, the empty one included"
    );
    assert_eq!(*kind, Some(Kind::Stage));
    assert_eq!(name.as_deref(), Some("broken"));
    assert_eq!(*line, Some(20));
    let message = err.to_string();
    assert!(
        message.starts_with(
            "stages/broken.yaml: document 3 (Stage \"broken\"), \
             field spec.requestedFreight[0].sources.requiredSoakTim: "
        ),
        "{message}"
    );
    assert!(message.contains("requiredSoakTim"), "{message}");
    assert!(message.contains("line 20"), "{message}");

    // Mapped into the crate error as invalid input, message intact.
    let core: crate::Error = err.into();
    assert!(matches!(core, crate::Error::Invalid(ref m) if m.contains("requiredSoakTim")));
}

#[test]
fn wrong_value_type_is_reported_with_its_line() {
    let text = "apiVersion: kargo.akuity.io/v1alpha1\nkind: PromotionTask\nmetadata:\n  name: t\nspec:\n  steps:\n  - uses: fail\n    continueOnError: [yes]\n";
    let err = Manifests::from_yaml_str(text, "t.yaml").expect_err("must fail");
    let message = err.to_string();
    assert!(
        message.starts_with(
            "t.yaml: document 1 (PromotionTask \"t\"), field spec.steps[0].continueOnError: "
        ),
        "{message}"
    );
    assert!(message.contains("line 8"), "{message}");
}

#[test]
fn yaml_syntax_error_names_file_and_document() {
    let text = "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\n---\nmetadata: [\n";
    let err = Manifests::from_yaml_str(text, "bad.yaml").expect_err("must fail");
    let message = err.to_string();
    assert!(message.starts_with("bad.yaml: document 2: "), "{message}");
}

#[test]
fn missing_name_is_an_error() {
    let text = "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nspec:\n  requestedFreight: []\n";
    let err = Manifests::from_yaml_str(text, "x.yaml").expect_err("must fail");
    assert!(err.to_string().contains("metadata.name"), "{err}");
}

#[test]
fn duplicate_names_per_kind_name_both_files() {
    let stage = "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata:\n  name: dev\n  namespace: demo\nspec:\n  requestedFreight: []\n";
    let warehouse = "apiVersion: kargo.akuity.io/v1alpha1\nkind: Warehouse\nmetadata:\n  name: dev\n  namespace: demo\nspec:\n  subscriptions: []\n";
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("a.yaml"),
        format!("{stage}---\n{warehouse}"),
    )
    .expect("write");
    std::fs::write(dir.path().join("b.yaml"), stage).expect("write");

    let err = Manifests::load(dir.path()).expect_err("duplicate");
    let Error::Duplicate {
        kind,
        ref name,
        ref first,
        ref second,
    } = err
    else {
        panic!("duplicate error expected, got {err:?}");
    };
    assert_eq!(kind, Kind::Stage);
    assert_eq!(name, "demo/dev");
    assert!(first.ends_with("a.yaml (document 1)"), "{first}");
    assert!(second.ends_with("b.yaml (document 1)"), "{second}");

    // Within one text, too.
    let err = Manifests::from_yaml_str(&format!("{stage}---\n{stage}"), "twice.yaml")
        .expect_err("duplicate");
    assert_eq!(
        err.to_string(),
        "Stage \"demo/dev\" is defined twice: in twice.yaml (document 1) and in twice.yaml (document 2)"
    );

    // The same name in another kind is fine.
    let mut both = Manifests::from_yaml_str(stage, "one.yaml").expect("loads");
    both.add_yaml_str(warehouse, "two.yaml")
        .expect("different kinds");
    assert_eq!(both.len(), 2);
    // A failing text adds nothing.
    assert!(
        both.add_yaml_str(&format!("{warehouse}---\n{stage}"), "three.yaml")
            .is_err()
    );
    assert_eq!(both.len(), 2);
    // Merging collections checks duplicates too.
    let again = Manifests::from_yaml_str(stage, "four.yaml").expect("loads");
    let err = both.extend(again).expect_err("duplicate");
    assert!(err.to_string().contains("one.yaml"), "{err}");
    assert!(err.to_string().contains("four.yaml"), "{err}");
}

#[test]
fn legacy_project_policies_apply_without_a_project_config() {
    let text = "\
apiVersion: kargo.akuity.io/v1alpha1
kind: Project
metadata:
  name: demo
spec:
  promotionPolicies:
  - stage: dev
    autoPromotionEnabled: true
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: dev
  namespace: demo
spec:
  requestedFreight: []
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: prod
  namespace: demo
spec:
  requestedFreight: []
";
    let manifests = Manifests::from_yaml_str(text, "legacy.yaml").expect("loads");
    let dev = manifests.stage("dev").expect("dev");
    let prod = manifests.stage("prod").expect("prod");
    assert_eq!(manifests.auto_promotion_enabled(dev), Ok(true));
    assert_eq!(manifests.auto_promotion_enabled(prod), Ok(false));
}

#[test]
fn missing_path_maps_to_not_found() {
    let err = Manifests::load(fixtures().join("no-such-dir")).expect_err("missing");
    assert!(matches!(err, Error::Io { .. }));
    let core: crate::Error = err.into();
    assert!(matches!(core, crate::Error::NotFound { .. }), "{core:?}");
}

#[test]
fn kinds_parse_and_display() {
    for kind in Kind::ALL {
        assert_eq!(kind.as_str().parse::<Kind>(), Ok(kind));
    }
    assert!("Target".parse::<Kind>().is_err());
}
