use super::*;

fn config(value: serde_json::Value) -> Config {
    serde_json::from_value(value).unwrap()
}

#[test]
fn arguments_carry_every_setting_in_helm_s_flags() {
    let c = config(serde_json::json!({
        "path": "./charts/app",
        "outPath": "./out",
        "releaseName": "app",
        "useReleaseName": true,
        "namespace": "ignored-here",
        "setValues": [
            {"key": "image.tag", "value": "v1.2.3"},
            {"key": "note", "value": "a,b", "literal": true}
        ],
        "includeCRDs": true,
        "disableHooks": true,
        "skipTests": true,
        "kubeVersion": "1.29.0",
        "apiVersions": ["v1", "apps/v1"]
    }));
    let got = args(&Resolved {
        config: &c,
        chart: "/w/charts/app".into(),
        namespace: "prod",
        values_files: vec!["/w/base.yaml".into(), "/w/qa.yaml".into()],
        output_dir: Some(Path::new("/tmp/r")),
    });
    assert_eq!(
        got,
        [
            "template",
            "app",
            "/w/charts/app",
            "--namespace",
            "prod",
            "--values",
            "/w/base.yaml",
            "--values",
            "/w/qa.yaml",
            "--set",
            "image.tag=v1.2.3",
            "--set-literal",
            "note=a,b",
            "--include-crds",
            "--no-hooks",
            "--skip-tests",
            "--kube-version",
            "1.29.0",
            "--api-versions",
            "v1",
            "--api-versions",
            "apps/v1",
            "--output-dir",
            "/tmp/r",
            "--release-name"
        ]
    );
}

#[test]
fn without_an_output_dir_use_release_name_adds_nothing() {
    let c = config(serde_json::json!({
        "path": "c", "outPath": "o.yaml", "releaseName": "r", "useReleaseName": true
    }));
    let got = args(&Resolved {
        config: &c,
        chart: "/w/c".into(),
        namespace: "default",
        values_files: vec![],
        output_dir: None,
    });
    assert_eq!(got, ["template", "r", "/w/c", "--namespace", "default"]);
}

#[test]
fn flat_files_are_named_group_kind_namespace_name_and_trimmed() {
    let stream = "---
# Source: app/templates/svc.yaml
apiVersion: v1
kind: Service
metadata:
  name: web
---
# Source: app/templates/ing.yaml
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: Web
  namespace: Prod
---
# Source: app/templates/notes.yaml
# only a comment
---
# Source: app/templates/list.yaml
- not a resource
";
    let files = flat_files(stream).unwrap();
    let names: Vec<String> = files.iter().map(|(p, _)| p.display().to_string()).collect();
    assert_eq!(
        names,
        [
            "service-web.yaml",
            "networking_k8s_io-ingress-prod-web.yaml",
            "resource-0.yaml",
            "resource-1.yaml"
        ]
    );
    insta::assert_snapshot!(
        String::from_utf8(files[0].1.clone()).unwrap(),
        "a flat file: the document with its Source comment, trimmed as Kargo writes it",
        @r"
    # Source: app/templates/svc.yaml
    apiVersion: v1
    kind: Service
    metadata:
      name: web
    "
    );
    assert!(!files[0].1.ends_with(b"\n"));
}

#[test]
fn kargo_documented_examples_deserialize_and_unknown_keys_are_rejected() {
    // Kargo's first example leaves out `releaseName`, which its schema
    // requires; the second has it.
    let example = serde_json::json!({
        "path": "./src/charts/my-chart",
        "valuesFiles": ["./src/charts/my-chart/test-values.yaml"],
        "outPath": "./out",
        "releaseName": "my-chart"
    });
    let c = config(example);
    assert_eq!(c.release_name, "my-chart");
    assert_eq!(c.out_layout, None);
    let full = config(serde_json::json!({
        "path": "p", "outPath": "o", "outLayout": "flat", "releaseName": "r",
        "ignoreMissingValueFiles": true, "buildDependencies": true, "includeCRDs": true
    }));
    assert_eq!(full.out_layout, Some(OutLayout::Flat));
    assert!(full.include_crds && full.build_dependencies && full.ignore_missing_value_files);
    for bad in [
        serde_json::json!({"path": "p", "outPath": "o", "releaseName": "r", "bogus": 1}),
        serde_json::json!({"path": "p", "outPath": "o", "releaseName": "r", "includeCrds": true}),
        serde_json::json!({"path": "p", "outPath": "o", "releaseName": "r", "outLayout": "tree"}),
        serde_json::json!({"path": "p", "outPath": "o", "releaseName": "r", "setValues": [{"key": "k"}]}),
        serde_json::json!({"path": "p", "outPath": "o"}),
    ] {
        assert!(
            serde_json::from_value::<Config>(bad.clone()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn set_values_are_redacted_in_debug_output() {
    let set = SetValue {
        key: "password".into(),
        value: "hunter2".into(),
        literal: false,
    };
    let shown = format!("{set:?}");
    assert!(
        shown.contains("password") && !shown.contains("hunter2"),
        "{shown}"
    );
}
