//! `kargo run` with `kustomize-build` and `helm-template`, the binaries
//! named by `KARGO_KUSTOMIZE` and `KARGO_HELM`. Neither `kustomize` nor
//! `helm` can be installed where these tests run: kargo-test-support's
//! stand-in serves for both, recording its argv and printing a canned
//! manifest.

use std::path::Path;
use std::process::Command;

use kargo_test_support::stand_in::StandIn;

use crate::support::{kargo_bin, write};

/// What the stand-in prints for both renderers.
const MANIFEST: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: qa\n";

const STEPS: &str = r#"steps:
- uses: kustomize-build
  as: kustomize
  config:
    path: ./app/overlays/${{ ctx.stage }}
    outPath: ./out/kustomize
- uses: helm-template
  as: helm
  config:
    path: ./app/chart
    releaseName: app
    outPath: ./out/helm.yaml
"#;

fn kargo_with(cwd: &Path, env: &[(&str, &Path)]) -> (i32, serde_json::Value, String) {
    let mut cmd = Command::new(kargo_bin());
    cmd.args([
        "run",
        "--steps",
        "steps.yaml",
        "--workdir",
        "work",
        "--stage",
        "qa",
        "--project",
        "shop",
    ])
    .current_dir(cwd)
    .env_remove("KARGO_LOG")
    .env_remove("KARGO_KUSTOMIZE")
    .env_remove("KARGO_HELM");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the kargo runner starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (
        out.status.code().unwrap_or(-1),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn setup() -> (tempfile::TempDir, StandIn) {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "steps.yaml", STEPS);
    write(
        dir.path(),
        "work/app/overlays/qa/kustomization.yaml",
        "resources: []\n",
    );
    write(
        dir.path(),
        "work/app/chart/Chart.yaml",
        "apiVersion: v2\nname: app\nversion: 0.1.0\n",
    );
    let stand_in = StandIn::create(&dir.path().join("tools"), MANIFEST);
    (dir, stand_in)
}

#[test]
fn kargo_run_renders_with_the_binaries_the_environment_names() {
    let (dir, stand_in) = setup();
    let bin = stand_in.bin();
    let (code, json, stderr) =
        kargo_with(dir.path(), &[("KARGO_KUSTOMIZE", bin), ("KARGO_HELM", bin)]);
    assert_eq!(code, 0, "{json}\n{stderr}");
    assert_eq!(json["phase"], "Succeeded");
    let work = dir.path().join("work");
    assert!(
        work.join("out/kustomize/qa-configmap-settings.yaml")
            .is_file(),
        "{json}"
    );
    assert_eq!(
        std::fs::read_to_string(work.join("out/helm.yaml")).unwrap(),
        MANIFEST
    );
    let argv = std::fs::read_to_string(stand_in.file("argv")).unwrap();
    // kustomize's Helm plugin runs the same `helm`; helm-template's
    // namespace defaults to the project.
    assert!(
        argv.contains(&format!("--helm-command\n{}\n", bin.display())),
        "{argv}"
    );
    assert!(argv.contains("template\napp\n"), "{argv}");
    assert!(argv.contains("--namespace\nshop\n"), "{argv}");
}

#[test]
fn kargo_run_reports_a_missing_binary_and_writes_nothing() {
    let (dir, _) = setup();
    let missing = dir.path().join("tools/no-kustomize");
    let (code, json, _) = kargo_with(dir.path(), &[("KARGO_KUSTOMIZE", &missing)]);
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["steps"][0]["status"], "Errored", "{json}");
    let message = json["steps"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("no `kustomize` binary found")
            && message.contains(&format!("KARGO_KUSTOMIZE=`{}`", missing.display())),
        "{message}"
    );
    assert!(!dir.path().join("work/out").exists());
}
