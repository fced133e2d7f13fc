use super::*;

/// Merges the texts; an error comes back as `ERROR: ...` so snapshots show it.
fn merged(texts: &[&str]) -> String {
    merge(texts).unwrap_or_else(|e| format!("ERROR: {e}"))
}

#[test]
fn helm_values_are_layered_keeping_the_base_s_comments() {
    let base = "\
# Default values for my-chart.
replicaCount: 1

image:
  repository: registry.example.com/app # upstream
  tag: v1.0.0 # bumped by Kargo
  pullPolicy: IfNotPresent

ingress:
  enabled: false
  hosts:
    - chart.local

resources: {}
";
    let qa = "\
replicaCount: 2
image:
  tag: v1.1.0
ingress:
  enabled: true
  hosts:
    - qa.example.com
    - qa-alt.example.com
";
    let cluster = "\
image:
  pullPolicy: null
resources:
  limits:
    cpu: 500m
podAnnotations:
  team: payments
";
    insta::assert_snapshot!(merged(&[base, qa, cluster]), @r"
    # Default values for my-chart.
    replicaCount: 2

    image:
      repository: registry.example.com/app # upstream
      tag: v1.1.0 # bumped by Kargo

    ingress:
      enabled: true
      hosts:
        - qa.example.com
        - qa-alt.example.com

    resources: {limits: {cpu: 500m}}
    podAnnotations:
      team: payments
    ");
}

#[test]
fn keys_with_dots_and_digits_are_keys() {
    let base = "annotations:\n  example.com/version: \"1\"\nports:\n  \"8080\": http\n";
    let patch = "annotations:\n  example.com/version: \"2\"\nports:\n  \"8080\": web\n";
    insta::assert_snapshot!(merged(&[base, patch]), @r#"
    annotations:
      example.com/version: "2"
    ports:
      "8080": web
    "#);
}

#[test]
fn a_value_of_another_kind_replaces_the_old_one() {
    let base = "a:\n  b: 1\nc: [1, 2]\nd: x\n";
    let patch = "a: flat\nc:\n  nested: true\nd:\n  - y\n";
    insta::assert_snapshot!(merged(&[base, patch]), @r#"
    a: flat
    c: {nested: true}
    d: ["y"]
    "#);
}

#[test]
fn empty_files_add_nothing_and_non_mappings_replace() {
    assert_eq!(merged(&[]), "");
    assert_eq!(merged(&["", "  \n"]), "");
    assert_eq!(merged(&["", "a: 1\n", "\n"]), "a: 1\n");
    assert_eq!(merged(&["a: 1\n", "- x\n- y\n"]), "- x\n- y\n");
    assert_eq!(merged(&["- x\n", "a: 1\n"]), "a: 1\n");
    // Laying a file over itself changes nothing.
    let same = "# c\na:\n  b: [1, 2] # flow\n";
    assert_eq!(merged(&[same, same]), same);
}

#[test]
fn broken_yaml_is_an_error_naming_its_text() {
    let out = merged(&["a: 1\n", "a: [1\n"]);
    assert!(out.starts_with("ERROR: "), "{out}");
    assert!(matches!(
        merge_each(&["", "a: 1\n", "a: [1\n"]),
        Err((2, _))
    ));
    // Alone, or first, it is parsed too.
    assert!(matches!(merge_each(&["a: [1\n"]), Err((0, _))));
    // Kargo's `yaml_merger_test.go` "error merging files": `:` alone.
    assert!(
        matches!(merge_each(&[":"]), Err((0, _))),
        "{:?}",
        merge_each(&[":"])
    );
    assert!(matches!(merge_each(&["a: 1\n", ":\n"]), Err((1, _))));
    assert!(matches!(merge_each(&["a: [1\n", "b: 2\n"]), Err((0, _))));
}

#[test]
fn commit_messages_follow_kargo() {
    assert_eq!(commit_message(&[], "out.yaml"), None);
    assert_eq!(
        commit_message(&["a.yaml".into()], "out.yaml").as_deref(),
        Some("Wrote a.yaml to out.yaml")
    );
    assert_eq!(
        commit_message(&["a.yaml".into(), "b.yaml".into()], "out.yaml").as_deref(),
        Some("Merged 2 YAML files to out.yaml\n- a.yaml\n- b.yaml")
    );
}

/// The changes read from compact documents are the ones the merge read
/// from `serde_json` trees (the same removals and updates, in the same
/// order), on the fixture laid over variants of itself and the other way.
#[test]
fn changes_from_documents_are_the_json_trees_changes() {
    use serde_json::{Map, Value, json};
    fn json_changes(
        path: &mut Vec<String>,
        over: &Map<String, Value>,
        under: &Map<String, Value>,
        removals: &mut Vec<String>,
        updates: &mut Vec<Update>,
    ) {
        for (key, value) in over {
            path.push(key.clone());
            match (value, under.get(key)) {
                (Value::Null, Some(_)) => removals.push(key_of(path)),
                (Value::Null, None) => {}
                (Value::Object(o), Some(Value::Object(u))) => {
                    json_changes(path, o, u, removals, updates);
                }
                (value, Some(old)) if value == old => {}
                (value, _) => updates.push(Update::new(key_of(path), value.clone())),
            }
            path.pop();
        }
    }
    let fixture = include_str!("../../tests/fixtures/values.yaml");
    let base = yaml::read(fixture).unwrap();
    // Variants: every top-level value nulled, changed, or nested deeper.
    let mut overlays = vec![base.clone(), json!({"new": {"a": [1, 2]}, "other": null})];
    for (key, value) in base.as_object().unwrap() {
        overlays.push(json!({ key: null }));
        overlays.push(json!({ key: "changed" }));
        overlays.push(json!({ key: { "extra": 1.5, "n": 1 } }));
        overlays.push(json!({ key: value, "x.y": true }));
    }
    for over in &overlays {
        for (over, under) in [(over, &base), (&base, over)] {
            let text = |v: &Value| serde_json::to_string(v).unwrap();
            let (over_doc, under_doc) = (
                yaml::read_document(&text(over)).unwrap(),
                yaml::read_document(&text(under)).unwrap(),
            );
            let mut got = (Vec::new(), Vec::new());
            changes(
                &mut Vec::new(),
                over_doc.root(),
                under_doc.root(),
                &mut got.0,
                &mut got.1,
            );
            let mut want = (Vec::new(), Vec::new());
            json_changes(
                &mut Vec::new(),
                over.as_object().unwrap(),
                under.as_object().unwrap(),
                &mut want.0,
                &mut want.1,
            );
            assert_eq!(got, want, "{over} over {under}");
        }
    }
}
