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

// Every case of Kargo's `kustomize_builder_test.go`, in the `kargo_*`
// tests below, each naming the Kargo test it ports. Kustomize cannot be
// installed here, so a stand-in executable prints what `kustomize build`
// would; the arguments the step passes and the files it writes are real.

mod kargo {
    use kargo_core::Workspace;
    use kargo_core::step::{ErrorKind, Step, StepContext, StepError, StepOutcome};
    use kargo_test_support::stand_in::StandIn;
    use serde_json::{Value, json};

    use super::*;

    const KUSTOMIZATION: &str = "apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- deployment.yaml
";

    const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: test-deployment
";

    /// A work dir holding Kargo's kustomization and Deployment, and the
    /// stand-in printing `stdout`.
    struct Fixture {
        _dir: tempfile::TempDir,
        stand_in: StandIn,
        ctx: StepContext,
    }

    impl Fixture {
        fn new(stdout: &str) -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let work = dir.path().join("work");
            kargo_test_support::write(&work, "kustomization.yaml", KUSTOMIZATION);
            kargo_test_support::write(&work, "deployment.yaml", DEPLOYMENT);
            let stand_in = StandIn::create(&dir.path().join("tool"), stdout);
            let ctx = StepContext::new(Workspace::new(&work).unwrap());
            Fixture {
                _dir: dir,
                stand_in,
                ctx,
            }
        }

        fn step(&self) -> KustomizeBuild {
            KustomizeBuild::with_options(Options::default().with_binary(self.stand_in.bin()))
        }

        /// As the engine runs a step: the early config check, then the run.
        async fn run(
            &self,
            step: &KustomizeBuild,
            config: Value,
        ) -> Result<StepOutcome, StepError> {
            step.check_config(&config)?;
            step.run(&self.ctx, config).await
        }

        fn path(&self, path: &str) -> PathBuf {
            self.ctx.workspace.root().join(path)
        }

        fn read(&self, path: &str) -> String {
            std::fs::read_to_string(self.path(path)).unwrap()
        }

        fn argv(&self) -> String {
            self.stand_in.argv(self.ctx.workspace.root())
        }
    }

    /// `Test_kustomizeBuilder_convert`, the invalid configs: each fails
    /// the step (`Failed`) naming the field, before Kustomize runs. Where
    /// both required fields are missing, Kargo names both, kargo-rs the
    /// first.
    #[tokio::test]
    async fn kargo_convert_invalid() {
        let f = Fixture::new("");
        let step = f.step();
        for (name, config, want) in [
            ("path not specified", json!({}), "missing field `path`"),
            (
                "path is empty string",
                json!({"path": ""}),
                "`path` must not be empty",
            ),
            (
                "outPath not specified",
                json!({"path": "/kustomization/path"}),
                "missing field `outPath`",
            ),
            (
                "outPath is empty string",
                json!({"path": "/kustomization/path", "outPath": ""}),
                "`outPath` must not be empty",
            ),
            (
                "both required fields missing",
                json!({"plugin": {}}),
                "missing field `path`",
            ),
            (
                "plugin.helm.apiVersions contains empty string",
                json!({"path": "/kustomization/path", "outPath": "/output/manifests.yaml",
                       "plugin": {"helm": {"apiVersions": ["v1", ""]}}}),
                "`plugin.helm.apiVersions[1]` must not be empty",
            ),
            (
                "invalid outputFormat",
                json!({"path": "/kustomization/path", "outPath": "/output/", "outputFormat": "invalid"}),
                "`outputFormat` is `invalid`; it must be one of `kargo`, `kustomize`",
            ),
        ] {
            let err = f.run(&step, config).await.expect_err(name);
            assert_eq!(err.kind(), ErrorKind::Failed, "{name}: {err}");
            assert!(err.to_string().contains(want), "{name}: {err}");
        }
        assert_eq!(f.argv(), "", "Kustomize never ran");
    }

    /// `Test_kustomizeBuilder_convert`, the valid configs: each passes the
    /// early check and becomes these `kustomize build` arguments.
    #[test]
    fn kargo_convert_valid() {
        const BASE: [&str; 3] = ["build", "/w/k", "--enable-helm"];
        let helm = |helm: Value| json!({"path": "/kustomization/path", "outPath": "/output/manifests.yaml", "plugin": {"helm": helm}});
        for (name, config, extra) in [
            (
                "valid minimal config",
                json!({"path": "/kustomization/path", "outPath": "/output/manifests.yaml"}),
                vec![],
            ),
            (
                "valid config with empty plugin",
                json!({"path": "/kustomization/path", "outPath": "/output/manifests.yaml", "plugin": {}}),
                vec![],
            ),
            (
                "valid config with empty helm plugin",
                helm(json!({})),
                vec![],
            ),
            (
                "valid config with helm kubeVersion only",
                helm(json!({"kubeVersion": "1.28.0"})),
                vec!["--helm-kube-version", "1.28.0"],
            ),
            (
                "valid config with helm apiVersions only",
                helm(json!({"apiVersions": ["v1", "apps/v1", "networking.k8s.io/v1"]})),
                vec![
                    "--helm-api-versions",
                    "v1",
                    "--helm-api-versions",
                    "apps/v1",
                    "--helm-api-versions",
                    "networking.k8s.io/v1",
                ],
            ),
            (
                "valid config with both helm fields",
                helm(json!({"kubeVersion": "1.29.0", "apiVersions": ["v1", "apps/v1"]})),
                vec![
                    "--helm-api-versions",
                    "v1",
                    "--helm-api-versions",
                    "apps/v1",
                    "--helm-kube-version",
                    "1.29.0",
                ],
            ),
            (
                "valid kitchen sink",
                helm(json!({"kubeVersion": "1.29.2", "apiVersions": [
                    "v1", "apps/v1", "networking.k8s.io/v1", "cert-manager.io/v1", "argoproj.io/v1alpha1"
                ]})),
                vec![
                    "--helm-api-versions",
                    "v1",
                    "--helm-api-versions",
                    "apps/v1",
                    "--helm-api-versions",
                    "networking.k8s.io/v1",
                    "--helm-api-versions",
                    "cert-manager.io/v1",
                    "--helm-api-versions",
                    "argoproj.io/v1alpha1",
                    "--helm-kube-version",
                    "1.29.2",
                ],
            ),
            (
                "valid config with kargo outputFormat",
                json!({"path": "/kustomization/path", "outPath": "/output/", "outputFormat": "kargo"}),
                vec![],
            ),
            (
                "valid config with kustomize outputFormat",
                json!({"path": "/kustomization/path", "outPath": "/output/", "outputFormat": "kustomize"}),
                vec![],
            ),
        ] {
            KustomizeBuild::new()
                .check_config(&config)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let parsed: Config = serde_json::from_value(config).expect(name);
            let want: Vec<&str> = BASE.into_iter().chain(extra).collect();
            assert_eq!(args(&parsed, Path::new("/w/k"), None), want, "{name}");
        }
    }

    /// `Test_kustomizeBuilder_run`, "successful build": the stream goes to
    /// the `.yaml` file as Kustomize printed it.
    #[tokio::test]
    async fn kargo_run_successful_build() {
        let f = Fixture::new(DEPLOYMENT);
        let outcome = f
            .run(&f.step(), json!({"path": ".", "outPath": "output.yaml"}))
            .await
            .unwrap();
        assert_eq!(outcome, StepOutcome::succeeded());
        assert_eq!(f.read("output.yaml"), DEPLOYMENT);
        assert_eq!(f.argv(), "build\nWORK/\n--enable-helm\n--\n");
    }

    /// `Test_kustomizeBuilder_run`, "successful build with
    /// HelmChartInflationGenerator": inflating the chart is Kustomize's
    /// (and Helm's) work, not the step's; the step turns the Helm plugin
    /// on and names the host's `helm` for it.
    #[tokio::test]
    async fn kargo_run_with_helm_chart_inflation() {
        let f = Fixture::new(DEPLOYMENT);
        let step = KustomizeBuild::with_options(
            Options::default()
                .with_binary(f.stand_in.bin())
                .with_helm_binary("/opt/helm/bin/helm"),
        );
        f.run(&step, json!({"path": ".", "outPath": "output.yaml"}))
            .await
            .unwrap();
        assert_eq!(
            f.argv(),
            "build\nWORK/\n--enable-helm\n--helm-command\n/opt/helm/bin/helm\n--\n"
        );
    }

    /// `Test_kustomizeBuilder_run`, "successful build with output
    /// directory" and "... with kargo output format" / "... with kustomize
    /// output format".
    #[tokio::test]
    async fn kargo_run_output_directory_in_each_format() {
        let f = Fixture::new(DEPLOYMENT);
        for (config, file) in [
            (
                json!({"path": ".", "outPath": "output/"}),
                "output/deployment-test-deployment.yaml",
            ),
            (
                json!({"path": ".", "outPath": "kargo/", "outputFormat": "kargo"}),
                "kargo/deployment-test-deployment.yaml",
            ),
            (
                json!({"path": ".", "outPath": "kustomize/", "outputFormat": "kustomize"}),
                "kustomize/apps_v1_deployment_test-deployment.yaml",
            ),
        ] {
            let outcome = f.run(&f.step(), config).await.unwrap();
            assert_eq!(outcome, StepOutcome::succeeded());
            assert_eq!(f.read(file), DEPLOYMENT, "{file}");
        }
    }

    /// `Test_kustomizeBuilder_run`, "output directory rejects resource
    /// metadata that would escape it": the step ends Errored and writes
    /// nothing at all.
    #[tokio::test]
    async fn kargo_run_rejects_a_file_name_escaping_the_output_directory() {
        let escaping = "apiVersion: v1\nkind: ../owned/marker\nmetadata:\n  name: written\n";
        let f = Fixture::new(&format!("{DEPLOYMENT}---\n{escaping}"));
        std::fs::create_dir(f.path("owned")).unwrap();
        let err = f
            .run(&f.step(), json!({"path": ".", "outPath": "output/"}))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Terminal);
        assert!(
            err.to_string()
                .contains("unsafe generated resource file name `../owned/marker-written.yaml`"),
            "{err}"
        );
        assert!(!f.path("owned/marker-written.yaml").exists());
        assert!(!f.path("output").exists(), "nothing written");
    }

    /// `Test_kustomizeBuilder_run`, "kustomization file not found": a
    /// `path` that is not a directory ends the step Errored before
    /// Kustomize runs.
    #[tokio::test]
    async fn kargo_run_kustomization_file_not_found() {
        let f = Fixture::new(DEPLOYMENT);
        let err = f
            .run(
                &f.step(),
                json!({"path": "invalid/", "outPath": "output.yaml"}),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Terminal);
        assert_eq!(
            err.to_string(),
            "kustomize-build: `path` `invalid/` is not a directory in the work directory"
        );
        assert!(!f.path("output.yaml").exists());
        assert_eq!(f.argv(), "");
    }

    /// `Test_kustomizeBuilder_run`, "invalid kustomization": Kustomize's
    /// error ends the step, showing its message, with nothing written.
    /// Kargo ends it Errored; a failing `kustomize` stays retryable here,
    /// since its exit cannot tell a bad file from an unreachable chart
    /// repository (README, "Where kargo-rs deliberately differs").
    #[tokio::test]
    async fn kargo_run_invalid_kustomization() {
        let f = Fixture::new("");
        std::fs::write(f.path("kustomization.yaml"), "invalid").unwrap();
        f.stand_in.fail_with(
            1,
            "Error: invalid Kustomization: json: cannot unmarshal string into Go value of type types.Kustomization\n",
        );
        let err = f
            .run(&f.step(), json!({"path": ".", "outPath": "output.yaml"}))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Retryable);
        assert!(
            err.to_string().contains("Error: invalid Kustomization"),
            "{err}"
        );
        assert!(!f.path("output.yaml").exists());
    }
}
