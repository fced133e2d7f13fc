use super::*;

const STREAM: &str = "apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: Web
  namespace: shop
spec:
  replicas: 2
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: reader
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
";

fn names(stream: &str, format: OutputFormat) -> Vec<String> {
    files(stream, format)
        .unwrap()
        .into_iter()
        .map(|(p, _)| p.display().to_string())
        .collect()
}

#[test]
fn kargo_names_are_namespace_kind_name_in_lower_case() {
    assert_eq!(
        names(STREAM, OutputFormat::Kargo),
        [
            "namespace-shop.yaml",
            "shop-deployment-web.yaml",
            "clusterrole-reader.yaml",
            "configmap-settings.yaml"
        ]
    );
}

#[test]
fn kustomize_names_carry_the_namespace_only_across_several_namespaces() {
    // `shop` and the ConfigMap's `default`: two namespaces.
    assert_eq!(
        names(STREAM, OutputFormat::Kustomize),
        [
            "v1_namespace_shop.yaml",
            "shop_apps_v1_deployment_web.yaml",
            "rbac.authorization.k8s.io_v1_clusterrole_reader.yaml",
            "v1_configmap_settings.yaml"
        ]
    );
    // Without the ConfigMap, the Namespace (cluster-scoped) does not make
    // a second namespace.
    let one_ns = STREAM
        .split("---\napiVersion: v1\nkind: ConfigMap")
        .next()
        .unwrap();
    assert_eq!(
        names(one_ns, OutputFormat::Kustomize),
        [
            "v1_namespace_shop.yaml",
            "apps_v1_deployment_web.yaml",
            "rbac.authorization.k8s.io_v1_clusterrole_reader.yaml"
        ]
    );
}

#[test]
fn each_file_holds_its_resource_as_kustomize_printed_it() {
    let out = files(STREAM, OutputFormat::Kargo).unwrap();
    insta::assert_snapshot!(
        String::from_utf8(out[1].1.clone()).unwrap(),
        "the Deployment's file: its document, key order kept",
        @r"
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: Web
      namespace: shop
    spec:
      replicas: 2
    "
    );
}

#[test]
fn a_name_that_would_leave_the_directory_is_refused() {
    let stream = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ../../etc/x\n";
    let err = files(stream, OutputFormat::Kargo).unwrap_err();
    assert!(err.contains("unsafe generated resource file name"), "{err}");
}

#[test]
fn arguments_enable_helm_and_pass_the_plugin_settings() {
    let config: Config = serde_json::from_value(serde_json::json!({
        "path": "./src/stages/qa",
        "outPath": "./out",
        "plugin": {"helm": {"apiVersions": ["monitoring.coreos.com/v1", "v2"], "kubeVersion": "1.29.0"}}
    }))
    .unwrap();
    let got = args(
        &config,
        Path::new("/w/src/stages/qa"),
        Some(OsStr::new("/opt/helm")),
    );
    assert_eq!(
        got,
        [
            "build",
            "/w/src/stages/qa",
            "--enable-helm",
            "--helm-command",
            "/opt/helm",
            "--helm-api-versions",
            "monitoring.coreos.com/v1",
            "--helm-api-versions",
            "v2",
            "--helm-kube-version",
            "1.29.0"
        ]
    );
    let plain: Config =
        serde_json::from_value(serde_json::json!({"path": "a", "outPath": "b.yaml"})).unwrap();
    assert_eq!(
        args(&plain, Path::new("/w/a"), None),
        ["build", "/w/a", "--enable-helm"]
    );
}

#[test]
fn kargo_documented_examples_deserialize_and_unknown_keys_are_rejected() {
    for config in [
        serde_json::json!({"path": "./src/stages/test", "outPath": "./out/manifests.yaml"}),
        serde_json::json!({"path": "./src/stages/test", "outPath": "./out"}),
        serde_json::json!({"path": "./src/stages/test", "outPath": "./out", "outputFormat": "kustomize"}),
    ] {
        serde_json::from_value::<Config>(config).unwrap();
    }
    for bad in [
        serde_json::json!({"path": "a", "outPath": "b", "bogus": 1}),
        serde_json::json!({"path": "a", "outPath": "b", "outputFormat": "helm"}),
        serde_json::json!({"path": "a", "outPath": "b", "plugin": {"helm": {"version": "3"}}}),
        serde_json::json!({"path": "a"}),
    ] {
        assert!(
            serde_json::from_value::<Config>(bad.clone()).is_err(),
            "{bad}"
        );
    }
}
