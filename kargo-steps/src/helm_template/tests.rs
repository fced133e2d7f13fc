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

// Kargo's `helm_template_runner_test.go`, case by case. Kargo links Helm
// and tests its own calls into it; kargo-rs runs `helm`, which cannot be
// installed where these tests run, so a shell script stands in for it. The
// cases become: the arguments the step gives `helm`, and what it does with
// what `helm` prints or writes. Rendering itself is Helm's.

use std::os::unix::fs::PermissionsExt;

use kargo_core::Workspace;
use kargo_core::step::{ErrorKind, Step, StepContext, StepError, StepOutcome};
use serde_json::{Value, json};

/// The stand-in `helm`: records its arguments (one per line, a call ending
/// with `--`); exits with `code` and `stderr` when those files exist; for
/// `helm template` prints `stdout`, or with `--output-dir` copies the
/// `tree` directory there (under the release name with `--release-name`),
/// as Helm writes its layout.
const STAND_IN: &str = r#"#!/bin/sh
here=$(dirname "$0")
{ printf '%s\n' "$@"; echo '--'; } >> "$here/argv"
if [ -f "$here/code" ]; then cat "$here/stderr" >&2; exit "$(cat "$here/code")"; fi
[ "$1" = template ] || exit 0
release=$2; out=""; named=""; prev=""
for a in "$@"; do
  [ "$prev" = --output-dir ] && out=$a
  [ "$a" = --release-name ] && named=1
  prev=$a
done
if [ -z "$out" ]; then cat "$here/stdout"; exit 0; fi
[ -n "$named" ] && out="$out/$release"
[ -d "$here/tree" ] || exit 0
mkdir -p "$out" && cp -R "$here/tree/." "$out/" && echo "wrote $out"
"#;

/// Kargo's test chart (its templates are Helm's business here).
const CHART: (&str, &str) = (
    "charts/test-chart/Chart.yaml",
    "apiVersion: v1\nname: test-chart\nversion: 0.1.0\n",
);

/// What Helm prints for Kargo's `successful run` chart.
const RENDERED: &str = "---
# Source: test-chart/templates/test.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: test-release-configmap
  namespace: test-namespace
data:
  value: value
";

/// A work directory, the stand-in and a step using it; the project is
/// Kargo's `test-project`.
struct Harness {
    _dir: tempfile::TempDir,
    tool: PathBuf,
    ctx: StepContext,
    step: HelmTemplate,
}

impl Harness {
    fn new(files: &[(&str, &str)]) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let (work, tool) = (dir.path().join("work"), dir.path().join("tool"));
        std::fs::create_dir(&work).unwrap();
        std::fs::create_dir(&tool).unwrap();
        let bin = tool.join("helm");
        std::fs::write(&bin, STAND_IN).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(tool.join("stdout"), "").unwrap();
        let ctx = StepContext::new(Workspace::new(&work).unwrap()).with_names(
            "test-project",
            "test",
            "p1",
        );
        let h = Harness {
            _dir: dir,
            tool,
            ctx,
            step: HelmTemplate::with_options(Options::default().with_binary(bin)),
        };
        h.write(files);
        h
    }

    fn work(&self) -> &Path {
        self.ctx.workspace.root()
    }

    /// Writes `files` into the work directory.
    fn write(&self, files: &[(&str, &str)]) {
        write_all(self.work(), files);
    }

    /// What `helm template` prints.
    fn prints(self, stdout: &str) -> Self {
        std::fs::write(self.tool.join("stdout"), stdout).unwrap();
        self
    }

    /// What `helm template --output-dir` writes there.
    fn renders(self, files: &[(&str, &str)]) -> Self {
        write_all(&self.tool.join("tree"), files);
        self
    }

    /// Makes every `helm` call fail.
    fn fails(self, code: i32, stderr: &str) -> Self {
        std::fs::write(self.tool.join("code"), code.to_string()).unwrap();
        std::fs::write(self.tool.join("stderr"), stderr).unwrap();
        self
    }

    /// Runs the step as the engine does: the config check before the
    /// promotion, then the run.
    async fn run(&self, config: Value) -> Result<StepOutcome, StepError> {
        self.step.check_config(&config)?;
        self.step.run(&self.ctx, config).await
    }

    /// Every `helm` call's arguments, the work directory shown as `WORK`
    /// and Helm's output directory (which must be outside the work
    /// directory) as `OUT`; none when `helm` never ran.
    fn calls(&self) -> Vec<Vec<String>> {
        let Ok(text) = std::fs::read_to_string(self.tool.join("argv")) else {
            return Vec::new();
        };
        let work = self.work().display().to_string();
        let mut calls = vec![Vec::new()];
        let mut prev = String::new();
        for line in text.lines() {
            if line == "--" {
                calls.push(Vec::new());
                continue;
            }
            let arg = if prev == "--output-dir" {
                assert!(!line.starts_with(&work), "renders outside: {line}");
                "OUT".to_owned()
            } else {
                line.replace(&work, "WORK")
            };
            prev = line.to_owned();
            calls.last_mut().unwrap().push(arg);
        }
        calls.pop();
        calls
    }

    /// The one `helm template` call's arguments.
    fn template_args(&self) -> Vec<String> {
        let mut calls = self.calls();
        assert_eq!(calls.len(), 1, "{calls:?}");
        let args = calls.remove(0);
        assert_eq!(args[0], "template");
        args
    }

    fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.work().join(path)).unwrap()
    }

    /// The files under `dir` in the work directory, sorted.
    fn list(&self, dir: &str) -> Vec<String> {
        let mut out: Vec<String> = collect_tree(&self.work().join(dir))
            .unwrap()
            .into_iter()
            .map(|(p, _)| p.display().to_string())
            .collect();
        out.sort();
        out
    }
}

fn write_all(root: &Path, files: &[(&str, &str)]) {
    for (path, contents) in files {
        let full = root.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, contents).unwrap();
    }
}

/// `template test-release WORK/charts/test-chart --namespace NS`, then
/// `more`.
fn template_call(namespace: &str, more: &[&str]) -> Vec<String> {
    let mut args = vec![
        "template",
        "test-release",
        "WORK/charts/test-chart",
        "--namespace",
        namespace,
    ];
    args.extend_from_slice(more);
    args.into_iter().map(str::to_owned).collect()
}

/// Kargo's `convert` cases (its schema) with relative paths, as kargo-rs
/// refuses absolute ones. Each broken config fails the step (`Failed`)
/// naming the field, when the engine checks it before the promotion
/// (`early`) or else when the step runs; the valid ones get past every
/// check and stop at the missing chart.
#[tokio::test]
async fn kargo_s_schema_cases_fail_the_step_naming_the_field() {
    let h = Harness::new(&[]);
    let base = json!({"outPath": "output/path", "path": "chart/path", "releaseName": "my-release"});
    let with = |extra: Value| {
        let mut c = base.clone();
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        c
    };
    // (Kargo's case, config, field named, caught before the promotion)
    let broken: Vec<(&str, Value, &str, bool)> = vec![
        // With several required fields missing, the first is named (Kargo
        // lists them all).
        (
            "outPath not specified",
            json!({}),
            "missing field `path`",
            false,
        ),
        (
            "outPath is empty string",
            json!({"outPath": ""}),
            "outPath",
            true,
        ),
        ("path not specified", json!({"outPath": "o"}), "path", false),
        (
            "path is empty string",
            json!({"outPath": "o", "path": ""}),
            "path",
            true,
        ),
        (
            "releaseName not specified",
            json!({"outPath": "o", "path": "p"}),
            "releaseName",
            false,
        ),
        (
            "releaseName is empty string",
            json!({"outPath": "o", "path": "p", "releaseName": ""}),
            "releaseName",
            true,
        ),
        (
            "all required fields missing",
            json!({"namespace": "default"}),
            "missing field `path`",
            false,
        ),
        (
            "valuesFiles contains empty string",
            with(json!({"valuesFiles": ["values.yaml", ""]})),
            "valuesFiles[1]",
            true,
        ),
        (
            "setValues key not specified",
            with(json!({"setValues": [{"value": "some-value"}]})),
            "key",
            false,
        ),
        (
            "setValues key is empty string",
            with(json!({"setValues": [{"key": "", "value": "some-value"}]})),
            "setValues[0].key",
            true,
        ),
        (
            "setValues value not specified",
            with(json!({"setValues": [{"key": "image.tag"}]})),
            "value",
            false,
        ),
        (
            "apiVersions contains empty string",
            with(json!({"apiVersions": ["v1", ""]})),
            "apiVersions[1]",
            true,
        ),
    ];
    for (case, config, field, early) in broken {
        let checked = h.step.check_config(&config);
        assert_eq!(checked.is_err(), early, "{case}: {checked:?}");
        let err = h.step.run(&h.ctx, config).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Failed, "{case}: {err}");
        assert!(err.to_string().contains(field), "{case}: {err}");
        if let Err(early) = checked {
            assert!(early.to_string().contains(field), "{case}: {early}");
        }
    }
    let valid = [
        ("valid minimal config", base.clone()),
        (
            "valid config with optional boolean fields",
            with(json!({"useReleaseName": true, "buildDependencies": true,
                         "includeCRDs": true, "disableHooks": true, "skipTests": true})),
        ),
        (
            "valid config with namespace and kubeVersion",
            with(json!({"namespace": "production", "kubeVersion": "1.28.0"})),
        ),
        (
            "valid config with valuesFiles",
            with(json!({"valuesFiles": ["values.yaml", "values-prod.yaml"]})),
        ),
        (
            "valid config with setValues",
            with(
                json!({"setValues": [{"key": "image.tag", "value": "v1.2.3"},
                {"key": "replicaCount", "value": "3"}, {"key": "service.type", "value": ""}]}),
            ),
        ),
        (
            "valid config with setValues using literal",
            with(
                json!({"setValues": [{"key": "image.tag", "value": "v1.2.3", "literal": true},
                {"key": "replicaCount", "value": "3"}]}),
            ),
        ),
        (
            "valid config with apiVersions",
            with(json!({"apiVersions": ["v1", "apps/v1", "networking.k8s.io/v1"]})),
        ),
        (
            "valid kitchen sink",
            json!({
                "outPath": "output/manifests", "path": "path/to/helm/chart",
                "releaseName": "my-application", "useReleaseName": true,
                "namespace": "production",
                "valuesFiles": ["values.yaml", "values-prod.yaml", "secrets.yaml"],
                "setValues": [{"key": "image.repository", "value": "myregistry.com/myapp"},
                    {"key": "image.tag", "value": "v2.1.0"}, {"key": "ingress.enabled", "value": "true"}],
                "buildDependencies": true, "includeCRDs": true, "disableHooks": false,
                "skipTests": true, "kubeVersion": "1.29.0",
                "apiVersions": ["v1", "apps/v1", "networking.k8s.io/v1", "cert-manager.io/v1"]
            }),
        ),
    ];
    for (case, config) in valid {
        let err = h.run(config).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Terminal, "{case}: {err}");
        assert!(
            err.to_string()
                .contains("is not a chart directory or archive"),
            "{case}: {err}"
        );
    }
    assert!(h.calls().is_empty(), "helm never ran");
}

/// Kargo's `run` cases that succeed, writing one file: the arguments (values
/// files in order, then `--set` / `--set-literal`; the namespace given) and
/// the file holding exactly what Helm printed.
#[tokio::test]
async fn kargo_s_successful_runs_to_a_file() {
    let cases: Vec<(&str, Value, &[&str])> = vec![
        (
            "successful run",
            json!({"valuesFiles": ["values.yaml"]}),
            &["--values", "WORK/values.yaml"],
        ),
        (
            "successful run with multiple values",
            json!({"valuesFiles": ["values1.yaml", "values2.yaml"]}),
            &[
                "--values",
                "WORK/values1.yaml",
                "--values",
                "WORK/values2.yaml",
            ],
        ),
        (
            "successful run with set values",
            json!({"valuesFiles": ["values.yaml"], "setValues": [{"key": "key2", "value": "value2"}]}),
            &["--values", "WORK/values.yaml", "--set", "key2=value2"],
        ),
        (
            "successful run with literal set values",
            json!({"setValues": [{"key": "literalKey", "value": "foo,bar,baz", "literal": true},
                                 {"key": "normalKey", "value": "normal-string", "literal": false}]}),
            &[
                "--set-literal",
                "literalKey=foo,bar,baz",
                "--set",
                "normalKey=normal-string",
            ],
        ),
    ];
    for (case, extra, values) in cases {
        let h = Harness::new(&[
            CHART,
            ("values.yaml", "key: value"),
            ("values1.yaml", "key1: value1"),
            ("values2.yaml", "key2: value2"),
        ])
        .prints(RENDERED);
        let mut config = json!({"path": "charts/test-chart", "outPath": "output.yaml",
            "releaseName": "test-release", "namespace": "test-namespace"});
        config
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let outcome = h.run(config).await.unwrap();
        assert_eq!(outcome, StepOutcome::succeeded(), "{case}");
        assert_eq!(
            h.template_args(),
            template_call("test-namespace", values),
            "{case}"
        );
        assert_eq!(h.read("output.yaml"), RENDERED, "{case}");
    }
}

/// Kargo's `flat layout` run and its `writeOutput` flat case: one file per
/// resource, hooks included (Helm prints them after the manifests), named
/// `[group-]kind[-namespace]-name.yaml`, holding the document trimmed.
#[tokio::test]
async fn kargo_s_flat_layout_runs() {
    let printed = "---
# Source: test-chart/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: test-configmap
  namespace: test-namespace
data:
  value: value
---
# Source: test-chart/templates/configmap.yaml
apiVersion: v1
kind: Secret
metadata:
  name: test-secret
  namespace: test-namespace
data:
  secret: dGVzdA==
---
# Source: test-chart/templates/hook1.yaml
apiVersion: v1
kind: Job
metadata:
  name: test-job
  namespace: test-namespace
";
    let h = Harness::new(&[CHART, ("values.yaml", "key: value")]).prints(printed);
    h.run(
        json!({"path": "charts/test-chart", "valuesFiles": ["values.yaml"], "outPath": "output",
        "outLayout": "flat", "releaseName": "test-release", "namespace": "test-namespace"}),
    )
    .await
    .unwrap();
    assert_eq!(
        h.template_args(),
        template_call("test-namespace", &["--values", "WORK/values.yaml"]),
        "no --output-dir: the flat files come from what Helm prints"
    );
    assert_eq!(
        h.list("output"),
        [
            "configmap-test-namespace-test-configmap.yaml",
            "job-test-namespace-test-job.yaml",
            "secret-test-namespace-test-secret.yaml"
        ]
    );
    insta::assert_snapshot!(
        h.read("output/secret-test-namespace-test-secret.yaml"),
        "the Secret's file",
        @r"
    # Source: test-chart/templates/configmap.yaml
    apiVersion: v1
    kind: Secret
    metadata:
      name: test-secret
      namespace: test-namespace
    data:
      secret: dGVzdA==
    "
    );
}

/// Kargo's `helm layout` and `UseReleaseName` runs and `writeOutput` hook
/// cases: Helm writes its layout (hooks included) with `--output-dir`, and
/// the files are moved into `outPath`, under the release name with
/// `useReleaseName`.
#[tokio::test]
async fn kargo_s_helm_layout_runs() {
    let hook = "---\n# Source: hook1.yaml\nhook1: content\n";
    for (case, use_release_name, root) in [
        (
            "successful run with output directory (helm layout)",
            false,
            "output",
        ),
        (
            "successful run with UseReleaseName",
            true,
            "output/test-release",
        ),
    ] {
        let h = Harness::new(&[CHART, ("values.yaml", "key: value")]).renders(&[
            ("test-chart/templates/test.yaml", RENDERED),
            ("hook1.yaml", hook),
        ]);
        h.run(json!({"path": "charts/test-chart", "valuesFiles": ["values.yaml"], "outPath": "output/",
            "releaseName": "test-release", "namespace": "test-namespace",
            "useReleaseName": use_release_name}))
            .await
            .unwrap();
        let mut more = vec!["--values", "WORK/values.yaml", "--output-dir", "OUT"];
        if use_release_name {
            more.push("--release-name");
        }
        assert_eq!(
            h.template_args(),
            template_call("test-namespace", &more),
            "{case}"
        );
        assert_eq!(
            h.read(&format!("{root}/test-chart/templates/test.yaml")),
            RENDERED,
            "{case}"
        );
        assert_eq!(h.read(&format!("{root}/hook1.yaml")), hook, "{case}");
    }
}

/// Kargo's `append to existing hook file` case, where kargo-rs differs on
/// purpose: Kargo appends a hook to a file an earlier run left, so the
/// file grows with every promotion; here Helm's fresh file replaces it.
/// Files Helm does not write are left alone, as in Kargo.
#[tokio::test]
async fn a_hook_file_from_an_earlier_run_is_replaced_not_appended_to() {
    let hook = "---\n# Source: hook1.yaml\nnew content\n";
    let h = Harness::new(&[
        CHART,
        ("output/hook1.yaml", "existing content\n"),
        ("output/other.yaml", "kept\n"),
    ])
    .renders(&[("hook1.yaml", hook)]);
    h.run(json!({"path": "charts/test-chart", "outPath": "output", "releaseName": "test-release"}))
        .await
        .unwrap();
    assert_eq!(h.read("output/hook1.yaml"), hook);
    assert_eq!(h.read("output/other.yaml"), "kept\n");
}

/// Kargo's `writeOutput` cases for a file: what Helm prints (manifests,
/// then hooks, each with its `# Source`) is the file, in a directory
/// created when missing.
#[tokio::test]
async fn kargo_s_write_to_file_cases() {
    let printed = "main: manifest\n---\n# Source: hook1.yaml\nhook1: content\n---\n# Source: hook2.yaml\nhook2: content\n";
    for (case, out_path) in [
        (
            "successful write to file / write hooks to single file",
            "output.yaml",
        ),
        ("write to non-existent directory", "subdir/output.yml"),
    ] {
        let h = Harness::new(&[CHART]).prints(printed);
        h.run(json!({"path": "charts/test-chart", "outPath": out_path, "releaseName": "test-release"}))
            .await
            .unwrap();
        assert_eq!(h.read(out_path), printed, "{case}");
    }
}

/// Kargo's `newInstallAction` cases: the release namespace (the project by
/// default), and Helm's output directory only for a directory `outPath`
/// in the `helm` layout (the default).
#[tokio::test]
async fn kargo_s_install_action_cases() {
    let cases: Vec<(&str, Value, &[&str])> = vec![
        (
            "default values / project used as default namespace",
            json!({"outPath": "output.yaml"}),
            &["--namespace", "test-project"],
        ),
        (
            "output directory with helm layout",
            json!({"outPath": "output/", "outLayout": "helm"}),
            &["--namespace", "test-project", "--output-dir", "OUT"],
        ),
        (
            "output directory, layout not given",
            json!({"outPath": "output"}),
            &["--namespace", "test-project", "--output-dir", "OUT"],
        ),
        (
            "output directory with flat layout",
            json!({"outPath": "output/", "outLayout": "flat"}),
            &["--namespace", "test-project"],
        ),
        (
            "output file (YML), helm layout",
            json!({"outPath": "output.yml", "outLayout": "helm", "useReleaseName": true}),
            &["--namespace", "test-project"],
        ),
        (
            "custom values",
            json!({"outPath": "output.yaml", "namespace": "custom-namespace", "includeCRDs": true,
                   "apiVersions": ["v1", "v2"], "kubeVersion": "1.20.0", "disableHooks": true}),
            &[
                "--namespace",
                "custom-namespace",
                "--include-crds",
                "--no-hooks",
                "--kube-version",
                "1.20.0",
                "--api-versions",
                "v1",
                "--api-versions",
                "v2",
            ],
        ),
        (
            "skip test hooks",
            json!({"outPath": "output", "skipTests": true}),
            &[
                "--namespace",
                "test-project",
                "--skip-tests",
                "--output-dir",
                "OUT",
            ],
        ),
    ];
    for (case, mut config, more) in cases {
        let h = Harness::new(&[CHART]);
        let c = config.as_object_mut().unwrap();
        c.insert("path".into(), "charts/test-chart".into());
        c.insert("releaseName".into(), "test-release".into());
        h.run(config).await.unwrap();
        let mut expected = vec!["template", "test-release", "WORK/charts/test-chart"];
        expected.extend_from_slice(more);
        assert_eq!(h.template_args(), expected, "{case}");
    }
}

/// Kargo's `composeValues` cases: the values files that exist, in order
/// (a missing one skipped only with `ignoreMissingValueFiles`), then the
/// set values. Helm merges them as Kargo's in-process Helm does: files in
/// order, then every `--set`, then every `--set-literal`.
#[tokio::test]
async fn kargo_s_compose_values_cases() {
    let set = |k: &str, v: &str, literal: bool| json!({"key": k, "value": v, "literal": literal});
    let cases: Vec<(&str, Value, &[&str])> = vec![
        (
            "successful composition",
            json!({"valuesFiles": ["values1.yaml", "values2.yaml"], "setValues": [set("key3", "value3", false)]}),
            &[
                "--values",
                "WORK/values1.yaml",
                "--values",
                "WORK/values2.yaml",
                "--set",
                "key3=value3",
            ],
        ),
        (
            "successful composition with no files",
            json!({"valuesFiles": [], "setValues": [set("key3", "value3", false)]}),
            &["--set", "key3=value3"],
        ),
        (
            "successful composition with no set values",
            json!({"valuesFiles": ["values1.yaml", "values2.yaml"], "setValues": []}),
            &[
                "--values",
                "WORK/values1.yaml",
                "--values",
                "WORK/values2.yaml",
            ],
        ),
        (
            "ignore missing value files - file missing",
            json!({"valuesFiles": ["non_existent.yaml"], "ignoreMissingValueFiles": true,
                   "setValues": [set("key1", "value1", false)]}),
            &["--set", "key1=value1"],
        ),
        (
            "ignore missing value files - file exists",
            json!({"valuesFiles": ["values.yaml"], "ignoreMissingValueFiles": true}),
            &["--values", "WORK/values.yaml"],
        ),
        (
            "ignore missing value files - mixed existing and missing",
            json!({"valuesFiles": ["values.yaml", "missing.yaml"], "ignoreMissingValueFiles": true}),
            &["--values", "WORK/values.yaml"],
        ),
        (
            "composition with literal values",
            json!({"setValues": [set("normalKey", "normalValue", false), set("literalKey", "foo,bar,baz", true)]}),
            &[
                "--set",
                "normalKey=normalValue",
                "--set-literal",
                "literalKey=foo,bar,baz",
            ],
        ),
        (
            "composition with only literal values",
            json!({"setValues": [set("key1", "foo,bar,baz", true), set("key2", "baz,bar,foo", true)]}),
            &[
                "--set-literal",
                "key1=foo,bar,baz",
                "--set-literal",
                "key2=baz,bar,foo",
            ],
        ),
    ];
    for (case, mut config, values) in cases {
        let h = Harness::new(&[
            CHART,
            ("values.yaml", "key1: value1"),
            ("values1.yaml", "key1: value1"),
            ("values2.yaml", "key2: value2"),
        ]);
        let c = config.as_object_mut().unwrap();
        c.insert("path".into(), "charts/test-chart".into());
        c.insert("outPath".into(), "output.yaml".into());
        c.insert("releaseName".into(), "test-release".into());
        h.run(config).await.unwrap();
        assert_eq!(
            h.template_args(),
            template_call("test-project", values),
            "{case}"
        );
    }
}

/// Kargo's failing `run` cases (and `composeValues`' `file not found`,
/// `loadChart`'s `chart not found`, `newInstallAction`'s `KubeVersion
/// parsing error`): the step fails before Helm runs when the config or
/// the work directory shows the fault, and no output is written.
#[tokio::test]
async fn kargo_s_failing_runs_write_nothing() {
    let cases: Vec<(&str, Value, ErrorKind, &str)> = vec![
        (
            "missing values file",
            json!({"path": "charts/test-chart", "valuesFiles": ["non-existent.yaml"]}),
            ErrorKind::Terminal,
            "`valuesFiles[0]` `non-existent.yaml` is not a file",
        ),
        (
            "invalid chart",
            json!({"path": "./"}),
            ErrorKind::Terminal,
            "`path` `./` is a directory without a `Chart.yaml`",
        ),
        (
            "chart not found",
            json!({"path": "nonexistent.tgz"}),
            ErrorKind::Terminal,
            "`path` `nonexistent.tgz` is not a chart directory or archive",
        ),
        (
            "Helm action initialization error",
            json!({"path": "charts/test-chart", "kubeVersion": "invalid"}),
            ErrorKind::Failed,
            "`kubeVersion` `invalid` is not a Kubernetes version",
        ),
    ];
    for (case, mut config, kind, message) in cases {
        let h = Harness::new(&[CHART]).prints(RENDERED);
        let c = config.as_object_mut().unwrap();
        c.insert("outPath".into(), "output.yaml".into());
        c.insert("releaseName".into(), "test-release".into());
        let err = h.run(config).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{case}: {err}");
        assert!(err.to_string().contains(message), "{case}: {err}");
        assert!(h.calls().is_empty(), "{case}: helm never ran");
        assert!(!h.work().join("output.yaml").exists(), "{case}");
    }
}

/// Kargo's `template rendering error` run and `checkDependencies` `with
/// dependencies` case: `helm template` finds both (it checks the chart's
/// dependencies before rendering, as Kargo does) and its error ends the
/// step, retried as Kargo's `Errored`, with nothing written.
#[tokio::test]
async fn helm_s_own_errors_end_the_step_with_its_message() {
    for (case, stderr) in [
        (
            "template rendering error",
            "Error: parse error at (test-chart/templates/test.yaml:7): unexpected \"}\" in operand",
        ),
        (
            "with dependencies",
            "Error: An error occurred while checking for chart dependencies. You may need to run `helm dependency build` to fetch missing dependencies: found in Chart.yaml, but missing in charts/ directory: dep1",
        ),
    ] {
        for out_path in ["output.yaml", "output"] {
            let h = Harness::new(&[CHART])
                .prints(RENDERED)
                .renders(&[("test-chart/templates/test.yaml", RENDERED)])
                .fails(1, stderr);
            let err = h
                .run(json!({"path": "charts/test-chart", "outPath": out_path, "releaseName": "test-release"}))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Retryable, "{case}: {err}");
            assert!(
                err.to_string()
                    .contains("`helm template` failed (exit code 1): Error: "),
                "{case}: {err}"
            );
            assert!(err.to_string().ends_with(stderr), "{case}: {err}");
            assert!(!h.work().join(out_path).exists(), "{case}: {out_path}");
        }
    }
}

/// Kargo's `invalid output path` case: `outPath` names a file, but a
/// directory is there. Writing fails and the directory is left as it was.
#[tokio::test]
async fn an_output_file_that_is_a_directory_fails_the_write() {
    let h = Harness::new(&[CHART, ("output.yaml/foo", "")]).prints(RENDERED);
    let err = h
        .run(json!({"path": "./charts/test-chart/", "outPath": "output.yaml", "releaseName": "r"}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Terminal, "{err}");
    assert!(
        err.to_string()
            .starts_with("helm-template: cannot write `output.yaml`"),
        "{err}"
    );
    assert_eq!(
        h.list("."),
        ["charts/test-chart/Chart.yaml", "output.yaml/foo"],
        "no temporary file left behind"
    );
}

/// Kargo's `flat layout rejects manifest metadata that would escape output
/// dir` case: a file name made from rendered metadata that is not a plain
/// name fails the step, and no file is written (inside `outPath` either).
#[tokio::test]
async fn a_flat_file_name_leaving_the_output_dir_is_refused() {
    let printed = "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\n---\napiVersion: v1\nkind: ../outside/marker\nmetadata:\n  name: written\ndata:\n  key: value\n";
    let h = Harness::new(&[CHART, ("outside/.keep", "")]).prints(printed);
    let err = h
        .run(json!({"path": "charts/test-chart", "outPath": "output", "outLayout": "flat", "releaseName": "r"}))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("unsafe generated resource file name `../outside/marker-written.yaml`"),
        "{err}"
    );
    assert_eq!(h.list("outside"), [".keep"]);
    assert!(!h.work().join("output").exists());
}

/// Kargo's `loadChart` `successful load` case: a chart archive is a chart
/// too; Helm gets its path.
#[tokio::test]
async fn a_chart_archive_is_passed_to_helm() {
    let h = Harness::new(&[("charts/demo-0.1.0.tgz", "an archive")]).prints(RENDERED);
    h.run(json!({"path": "charts/demo-0.1.0.tgz", "outPath": "out.yaml", "releaseName": "demo"}))
        .await
        .unwrap();
    assert_eq!(
        h.template_args(),
        [
            "template",
            "demo",
            "WORK/charts/demo-0.1.0.tgz",
            "--namespace",
            "test-project"
        ]
    );
    assert_eq!(h.read("out.yaml"), RENDERED);
}

/// `kubeVersion` as Helm reads it (Kargo's `ParseKubeVersion`).
#[test]
fn kube_versions_are_read_as_helm_reads_them() {
    for good in [
        "",
        "1",
        "1.20",
        "1.20.0",
        "v1.29.0",
        "1.30.0-rc.1",
        "1.30.0-rc-1+build.7",
        "v1.28.3+k3s1",
    ] {
        assert_eq!(check_kube_version(good), Ok(()), "{good:?}");
    }
    for bad in [
        "invalid",
        "v",
        "1.",
        ".1",
        "1.2.3.4",
        "1.x",
        "1.2-",
        "1.2-rc..1",
        "1.2+",
        "vv1.2",
        " 1.2",
    ] {
        assert!(check_kube_version(bad).is_err(), "{bad:?}");
    }
}

/// Kargo's `generateResourceFilename` and `extractObjectMetadata` cases:
/// the flat layout's file name and the identity it is made of.
#[test]
fn kargo_s_resource_file_name_cases() {
    let cases = [
        (
            "simple ConfigMap",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: test-config\n  namespace: default\ndata:\n  key: value",
            Some("configmap-default-test-config.yaml"),
        ),
        (
            "resource with API group",
            "\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: test-deployment\n  namespace: prod\nspec:\n  replicas: 3",
            Some("apps-deployment-prod-test-deployment.yaml"),
        ),
        (
            "cluster-scoped resource",
            "apiVersion: v1\nkind: ClusterRole\nmetadata:\n  name: test-cluster-role\nrules: []",
            Some("clusterrole-test-cluster-role.yaml"),
        ),
        (
            "resource with complex API group",
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: test-netpol\n  namespace: kube-system\nspec: {}",
            Some("networking_k8s_io-networkpolicy-kube-system-test-netpol.yaml"),
        ),
        ("invalid YAML", "invalid: yaml: content: [", None),
        (
            "missing kind",
            "apiVersion: v1\nmetadata:\n  name: test-resource",
            None,
        ),
        (
            "missing name",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: default",
            None,
        ),
    ];
    for (case, resource, expected) in cases {
        let name = Meta::of(resource).and_then(|m| flat_name(&m));
        assert_eq!(name.as_deref(), expected, "{case}");
    }
    // extractObjectMetadata: the identity read.
    let meta = Meta::of(cases[1].1).unwrap();
    assert_eq!(
        (
            meta.api_version.as_str(),
            meta.kind.as_str(),
            meta.namespace.as_str(),
            meta.name.as_str()
        ),
        ("apps/v1", "Deployment", "prod", "test-deployment")
    );
    let meta = Meta::of(cases[2].1).unwrap();
    assert_eq!(
        (meta.kind.as_str(), meta.namespace.as_str()),
        ("ClusterRole", "")
    );
    assert!(Meta::of(cases[4].1).is_none());
}

/// Kargo's `outLayoutIsFlat` / `outLayoutIsHelm` cases: no layout is the
/// `helm` layout.
#[test]
fn no_layout_is_the_helm_layout() {
    assert_eq!(OutLayout::default(), OutLayout::Helm);
    for (layout, expected) in [
        (None, OutLayout::Helm),
        (Some("helm"), OutLayout::Helm),
        (Some("flat"), OutLayout::Flat),
    ] {
        let mut c = json!({"path": "p", "outPath": "o", "releaseName": "r"});
        if let Some(layout) = layout {
            c["outLayout"] = layout.into();
        }
        assert_eq!(
            config(c).out_layout.unwrap_or_default(),
            expected,
            "{layout:?}"
        );
    }
}
