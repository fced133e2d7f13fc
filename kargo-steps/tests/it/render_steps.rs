//! `kustomize-build` and `helm-template` against a stand-in executable.
//!
//! Neither `kustomize` nor `helm` can be installed where these tests run,
//! so [`StandIn`], a small shell script, stands in for both. What the
//! steps build (argv) and do with the output (files) is real.

use std::path::{Path, PathBuf};

use kargo_core::Workspace;
use kargo_core::step::{ErrorKind, Step, StepContext, StepError, StepOutcome, StepRegistry};
use kargo_steps::{HelmTemplate, KustomizeBuild, helm_template, kustomize_build};
use kargo_test_support::stand_in::StandIn;
use serde_json::{Value, json};

/// Two resources in two namespaces and a cluster-scoped one, as
/// `kustomize build` prints them.
const MANIFESTS: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: qa
data:
  mode: fast
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: prod
spec:
  replicas: 2
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: reader
";

struct Fixture {
    _dir: tempfile::TempDir,
    work: PathBuf,
    stand_in: StandIn,
    ctx: StepContext,
}

impl Fixture {
    /// A work dir holding `files`, and the stand-in printing `stdout`.
    fn new(files: &[(&str, &str)], stdout: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        std::fs::create_dir(&work).unwrap();
        for (path, contents) in files {
            kargo_test_support::write(&work, path, contents);
        }
        let stand_in = StandIn::create(&dir.path().join("tool"), stdout);
        let ctx = StepContext::new(Workspace::new(&work).unwrap()).with_names("shop", "qa", "p1");
        Fixture {
            work: ctx.workspace.root().to_owned(),
            _dir: dir,
            stand_in,
            ctx,
        }
    }

    fn tool(&self, name: &str) -> PathBuf {
        self.stand_in.file(name)
    }

    /// Makes the stand-in fail with `code` and `stderr`.
    fn fail_with(&self, code: i32, stderr: &str) {
        self.stand_in.fail_with(code, stderr);
    }

    /// Every recorded call's argv, the work dir shown as `WORK`.
    fn argv(&self) -> String {
        self.stand_in.argv(&self.work)
    }

    fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.work.join(path)).unwrap()
    }

    /// The files under `dir` in the work dir, sorted.
    fn list(&self, dir: &str) -> Vec<String> {
        let root = self.work.join(dir);
        let mut out = Vec::new();
        let mut pending = vec![root.clone()];
        while let Some(d) = pending.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    out.push(path.strip_prefix(&root).unwrap().display().to_string());
                }
            }
        }
        out.sort();
        out
    }

    fn kustomize(&self) -> KustomizeBuild {
        KustomizeBuild::with_options(
            kustomize_build::Options::default().with_binary(self.stand_in.bin()),
        )
    }

    fn helm(&self) -> HelmTemplate {
        HelmTemplate::with_options(
            helm_template::Options::default().with_binary(self.stand_in.bin()),
        )
    }
}

async fn run(step: &dyn Step, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
    // As the engine does: the early schema check, then the run.
    step.check_config(&config)?;
    step.run(ctx, config).await
}

const KUSTOMIZATION: (&str, &str) = ("src/stages/qa/kustomization.yaml", "resources: []\n");
const CHART: (&str, &str) = (
    "charts/app/Chart.yaml",
    "apiVersion: v2\nname: app\nversion: 0.1.0\n",
);

#[tokio::test]
async fn kustomize_build_writes_the_stream_to_a_file() {
    let f = Fixture::new(&[KUSTOMIZATION], MANIFESTS);
    let outcome = run(
        &f.kustomize(),
        &f.ctx,
        json!({"path": "./src/stages/qa", "outPath": "./out/manifests.yaml",
               "plugin": {"helm": {"apiVersions": ["v1"], "kubeVersion": "1.30.0"}}}),
    )
    .await
    .unwrap();
    assert_eq!(outcome, StepOutcome::succeeded());
    insta::assert_snapshot!(f.argv(), "kustomize build's argv", @r"
    build
    WORK/src/stages/qa
    --enable-helm
    --helm-api-versions
    v1
    --helm-kube-version
    1.30.0
    --
    ");
    assert_eq!(f.read("out/manifests.yaml"), MANIFESTS);
}

#[tokio::test]
async fn kustomize_build_writes_one_file_per_resource_in_either_naming() {
    let f = Fixture::new(&[KUSTOMIZATION], MANIFESTS);
    let step = f.kustomize();
    run(
        &step,
        &f.ctx,
        json!({"path": "src/stages/qa", "outPath": "kargo"}),
    )
    .await
    .unwrap();
    assert_eq!(
        f.list("kargo"),
        [
            "clusterrole-reader.yaml",
            "prod-deployment-web.yaml",
            "qa-configmap-settings.yaml"
        ]
    );
    run(
        &step,
        &f.ctx,
        json!({"path": "src/stages/qa", "outPath": "kz", "outputFormat": "kustomize"}),
    )
    .await
    .unwrap();
    assert_eq!(
        f.list("kz"),
        [
            "prod_apps_v1_deployment_web.yaml",
            "qa_v1_configmap_settings.yaml",
            "rbac.authorization.k8s.io_v1_clusterrole_reader.yaml"
        ]
    );
    insta::assert_snapshot!(f.read("kz/qa_v1_configmap_settings.yaml"), "one resource's file", @r"
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: settings
      namespace: qa
    data:
      mode: fast
    ");
}

#[tokio::test]
async fn a_failing_binary_shows_its_stderr_and_leaves_files_as_they_were() {
    let f = Fixture::new(
        &[KUSTOMIZATION, CHART, ("out/manifests.yaml", "old\n")],
        "partial: output\n",
    );
    let noise = "x".repeat(100_000);
    f.fail_with(
        1,
        &format!("{noise}\nError: accumulating resources: missing.yaml: no such file\n"),
    );
    let err = run(
        &f.kustomize(),
        &f.ctx,
        json!({"path": "src/stages/qa", "outPath": "out/manifests.yaml"}),
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert_eq!(err.kind(), ErrorKind::Retryable, "Kargo's Errored: {msg}");
    assert!(
        msg.starts_with("kustomize-build: `kustomize build` failed (exit code 1): [...] "),
        "{}",
        &msg[..200]
    );
    assert!(
        msg.ends_with("Error: accumulating resources: missing.yaml: no such file"),
        "{msg}"
    );
    assert!(msg.len() < 5000, "stderr is capped: {} bytes", msg.len());
    assert_eq!(f.read("out/manifests.yaml"), "old\n");

    let err = run(
        &f.helm(),
        &f.ctx.clone(),
        json!({"path": "charts/app", "outPath": "h", "releaseName": "r"}),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("`helm template` failed (exit code 1)"),
        "{err}"
    );
    assert!(
        !f.work.join("h").exists(),
        "nothing written for a failed render"
    );
}

#[tokio::test]
async fn a_missing_binary_is_a_terminal_error_saying_where_it_looked() {
    let f = Fixture::new(&[KUSTOMIZATION, CHART], "");
    let step = KustomizeBuild::with_options(
        kustomize_build::Options::default().with_binary("/nowhere/kustomize"),
    );
    let err = run(
        &step,
        &f.ctx,
        json!({"path": "src/stages/qa", "outPath": "o.yaml"}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Terminal);
    assert_eq!(
        err.to_string(),
        "kustomize-build: no `kustomize` binary found (it is not bundled: install it, or name it with KARGO_KUSTOMIZE); searched the host's binary setting `/nowhere/kustomize`"
    );
    let step = HelmTemplate::with_options(
        helm_template::Options::default().with_binary("no-such-helm-binary"),
    );
    let err = run(
        &step,
        &f.ctx,
        json!({"path": "charts/app", "outPath": "o.yaml", "releaseName": "r"}),
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("helm-template: no `helm` binary found (it is not bundled: install it, or name it with KARGO_HELM); searched the host's binary setting `no-such-helm-binary` on PATH `"),
        "{msg}"
    );
    assert!(!f.work.join("o.yaml").exists());
}

#[tokio::test]
async fn helm_template_passes_kargo_s_settings_and_writes_the_stream_to_a_file() {
    let stream = "---\n# Source: app/templates/svc.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n";
    let f = Fixture::new(
        &[
            CHART,
            ("values/base.yaml", "a: 1\n"),
            ("values/qa.yaml", "a: 2\n"),
        ],
        stream,
    );
    run(
        &f.helm(),
        &f.ctx,
        json!({
            "path": "./charts/app",
            "outPath": "./out/app.yaml",
            "releaseName": "app",
            "valuesFiles": ["values/base.yaml", "values/qa.yaml", "values/optional.yaml"],
            "ignoreMissingValueFiles": true,
            "setValues": [{"key": "image.tag", "value": "v2"}, {"key": "raw", "value": "a,b", "literal": true}],
            "buildDependencies": true,
            "includeCRDs": true,
            "skipTests": true,
            "kubeVersion": "1.30.0",
            "apiVersions": ["monitoring.coreos.com/v1"]
        }),
    )
    .await
    .unwrap();
    insta::assert_snapshot!(f.argv(), "helm dependency build, then helm template; namespace = project", @r"
    dependency
    build
    WORK/charts/app
    --
    template
    app
    WORK/charts/app
    --namespace
    shop
    --values
    WORK/values/base.yaml
    --values
    WORK/values/qa.yaml
    --set
    image.tag=v2
    --set-literal
    raw=a,b
    --include-crds
    --skip-tests
    --kube-version
    1.30.0
    --api-versions
    monitoring.coreos.com/v1
    --
    ");
    assert_eq!(f.read("out/app.yaml"), stream);
    // Helm's homes are private and temporary, outside the work dir.
    let env = std::fs::read_to_string(f.tool("env")).unwrap();
    let homes: Vec<&str> = env.lines().collect();
    assert_eq!(homes.len(), 6, "{env}");
    for line in homes {
        let (_, dir) = line.split_once('=').unwrap();
        assert!(!Path::new(dir).starts_with(&f.work), "{line}");
        assert!(!Path::new(dir).exists(), "{line} is removed after the step");
    }
}

#[tokio::test]
async fn helm_template_lays_out_a_directory_as_helm_or_flat() {
    let stream = "---\n# Source: app/templates/svc.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n---\n# Source: app/templates/dep.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: qa\n";
    let f = Fixture::new(&[CHART, ("out/app/templates/old.yaml", "kept\n")], stream);
    run(
        &f.helm(),
        &f.ctx,
        json!({"path": "charts/app", "outPath": "out", "releaseName": "app", "namespace": "edge", "useReleaseName": true}),
    )
    .await
    .unwrap();
    let argv = f.argv();
    assert!(argv.contains("--namespace\nedge\n"), "{argv}");
    assert!(argv.contains("--output-dir\n/"), "{argv}");
    assert!(argv.contains("--release-name\n--\n"), "{argv}");
    assert!(
        !argv.contains("WORK/out"),
        "helm renders outside the work dir first: {argv}"
    );
    assert_eq!(
        f.list("out"),
        ["app/templates/old.yaml", "app/templates/svc.yaml"]
    );
    insta::assert_snapshot!(f.read("out/app/templates/svc.yaml"), "helm's own file, moved in", @r"
    ---
    # Source: app/templates/svc.yaml
    kind: Service
    ");

    run(
        &f.helm(),
        &f.ctx,
        json!({"path": "charts/app", "outPath": "flat", "outLayout": "flat", "releaseName": "app"}),
    )
    .await
    .unwrap();
    assert_eq!(
        f.list("flat"),
        ["apps-deployment-qa-web.yaml", "service-web.yaml"]
    );
    insta::assert_snapshot!(f.read("flat/apps-deployment-qa-web.yaml"), "a flat file", @r"
    # Source: app/templates/dep.yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      namespace: qa
    ");
}

#[tokio::test]
async fn config_errors_name_the_field_and_run_nothing() {
    let f = Fixture::new(&[CHART, KUSTOMIZATION], "");
    let mut registry = StepRegistry::new();
    kargo_steps::register_builtins(&mut registry);
    let helm = registry.get(helm_template::KIND).unwrap();
    let kustomize = registry.get(kustomize_build::KIND).unwrap();
    let cases: Vec<(&dyn Step, Value, &str)> = vec![
        (
            &*helm,
            json!({"path": "charts/app", "outPath": "o", "releaseName": ""}),
            "releaseName",
        ),
        (
            &*helm,
            json!({"path": "charts/app", "outPath": "o", "releaseName": "r", "outLayout": "tree"}),
            "outLayout",
        ),
        (
            &*helm,
            json!({"path": "charts/app", "outPath": "o", "releaseName": "r", "valuesFile": ["x"]}),
            "valuesFile",
        ),
        (
            &*kustomize,
            json!({"path": "src/stages/qa", "outPath": "o", "outputFormat": "yaml"}),
            "outputFormat",
        ),
        (&*kustomize, json!({"outPath": "o"}), "path"),
    ];
    for (step, config, field) in cases {
        let err = run(step, &f.ctx, config.clone()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Failed, "{config}");
        assert!(
            err.to_string().contains(field),
            "{field} missing from: {err}"
        );
    }
    // Checked when the step runs, before the binary does.
    let (helm, kustomize) = (f.helm(), f.kustomize());
    // A path leaving the work directory is a config fault (`Failed`); a
    // file or directory the work directory lacks is not (`Errored`).
    let cases: Vec<(&dyn Step, Value, &str, ErrorKind)> = vec![
        (
            &helm as &dyn Step,
            json!({"path": "charts/app", "outPath": "o", "releaseName": "r", "valuesFiles": ["values/missing.yaml"]}),
            "`valuesFiles[0]` `values/missing.yaml` is not a file",
            ErrorKind::Terminal,
        ),
        (
            &helm,
            json!({"path": "charts/nope", "outPath": "o", "releaseName": "r"}),
            "`path` `charts/nope` is not a chart directory or archive",
            ErrorKind::Terminal,
        ),
        (
            &kustomize,
            json!({"path": "src/stages/qa", "outPath": "../escape.yaml"}),
            "../escape.yaml",
            ErrorKind::Failed,
        ),
        (
            &kustomize,
            json!({"path": "../..", "outPath": "o.yaml"}),
            "../..",
            ErrorKind::Failed,
        ),
    ];
    for (step, config, expected, kind) in cases {
        let err = step.run(&f.ctx, config.clone()).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{config}");
        assert!(
            err.to_string().contains(expected),
            "{expected} missing from: {err}"
        );
    }
    assert!(!f.tool("argv").exists(), "the binary never ran");
}
