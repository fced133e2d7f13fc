//! `helm-update-chart` and `kustomize-set-image` run through the registry
//! on Kargo's documented examples.

use kargo_core::Workspace;
use kargo_core::step::{StepContext, StepOutcome, StepRegistry};
use serde_json::{Value, json};

fn setup(files: &[(&str, &str)]) -> (tempfile::TempDir, StepContext) {
    let dir = tempfile::tempdir().unwrap();
    for (path, contents) in files {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, contents).unwrap();
    }
    let ctx = StepContext::new(Workspace::new(dir.path()).unwrap());
    (dir, ctx)
}

async fn run(ctx: &StepContext, kind: &str, config: Value) -> Result<StepOutcome, String> {
    let mut registry = StepRegistry::new();
    kargo_steps::register_builtins(&mut registry);
    let step = registry.get(kind).expect("step is registered");
    step.run(ctx, config).await.map_err(|e| e.to_string())
}

fn read(dir: &tempfile::TempDir, path: &str) -> String {
    std::fs::read_to_string(dir.path().join(path)).unwrap()
}

/// Kargo's "Classic Chart Repository" Chart.yaml.
const CLASSIC_CHART: &str = "apiVersion: v2
name: example
type: application
version: 0.1.0
appVersion: 0.1.0
dependencies:
- repository: https://example-chart-repo
  name: some-chart
  version: 1.2.3
";

#[test]
fn helm_update_chart_documented_examples_deserialize_and_unknown_keys_are_rejected() {
    use kargo_steps::helm_update_chart::Config;
    for config in [
        json!({"path": "./src/charts/my-chart", "charts": [{"repository": "https://example-chart-repo", "name": "some-chart", "version": "1.3.0"}]}),
        json!({"path": "./src/charts/my-chart", "charts": [{"repository": "oci://example-chart-registry", "name": "some-chart", "version": "1.3.0"}]}),
        json!({"path": "./src/charts/my-chart"}),
    ] {
        serde_json::from_value::<Config>(config).unwrap();
    }
    let extra = json!({"path": "x", "charts": [{"repository": "r", "name": "n", "version": "1", "alias": "a"}]});
    assert!(serde_json::from_value::<Config>(extra).is_err());
    assert!(serde_json::from_value::<Config>(json!({"path": "x", "bogus": 1})).is_err());
}

#[tokio::test]
async fn helm_update_chart_runs_the_documented_examples() {
    let oci_chart =
        CLASSIC_CHART.replace("https://example-chart-repo", "oci://example-chart-registry");
    let (dir, ctx) = setup(&[
        ("src/charts/my-chart/Chart.yaml", CLASSIC_CHART),
        ("src/charts/oci-chart/Chart.yaml", &oci_chart),
        (
            "src/charts/oci-chart/Chart.lock",
            "dependencies: []\ndigest: sha256:0\n",
        ),
    ]);
    let out = run(
        &ctx,
        "helm-update-chart",
        json!({"path": "./src/charts/my-chart", "charts": [{"repository": "https://example-chart-repo", "name": "some-chart", "version": "1.3.0"}]}),
    )
    .await
    .unwrap();
    assert_eq!(
        read(&dir, "src/charts/my-chart/Chart.yaml"),
        CLASSIC_CHART.replace("version: 1.2.3", "version: 1.3.0")
    );
    assert_eq!(
        out.output["commitMessage"],
        "Updated chart dependencies for ./src/charts/my-chart\n\n- some-chart: 1.2.3 -> 1.3.0"
    );

    run(
        &ctx,
        "helm-update-chart",
        json!({"path": "./src/charts/oci-chart", "charts": [{"repository": "oci://example-chart-registry", "name": "some-chart", "version": "1.3.0"}]}),
    )
    .await
    .unwrap();
    assert!(read(&dir, "src/charts/oci-chart/Chart.yaml").contains("version: 1.3.0"));
    assert_eq!(
        read(&dir, "src/charts/oci-chart/Chart.lock"),
        "dependencies: []\ndigest: sha256:0\n",
        "Chart.lock is left for Helm"
    );

    // Running again changes nothing and has no commit message.
    let again = run(
        &ctx,
        "helm-update-chart",
        json!({"path": "./src/charts/my-chart", "charts": [{"repository": "https://example-chart-repo", "name": "some-chart", "version": "1.3.0"}]}),
    )
    .await
    .unwrap();
    assert!(again.output.get("commitMessage").is_none());

    // The SemVer-range example needs Helm and the repositories.
    let err = run(
        &ctx,
        "helm-update-chart",
        json!({"path": "./src/charts/my-chart"}),
    )
    .await
    .expect_err("no charts");
    assert!(err.contains("`charts` is required"), "{err}");
}

#[tokio::test]
async fn helm_update_chart_errors_name_the_file_and_leave_it_alone() {
    let (dir, ctx) = setup(&[("chart/Chart.yaml", CLASSIC_CHART)]);
    let err = run(
        &ctx,
        "helm-update-chart",
        json!({"path": "chart", "charts": [{"repository": "https://other", "name": "some-chart", "version": "2"}]}),
    )
    .await
    .expect_err("no such dependency");
    assert!(
        err.contains("helm-update-chart: cannot update `chart/Chart.yaml`: key `dependencies`: no dependency matches repository \"https://other\" and name \"some-chart\""),
        "{err}"
    );
    assert_eq!(read(&dir, "chart/Chart.yaml"), CLASSIC_CHART);
    let err = run(
        &ctx,
        "helm-update-chart",
        json!({"path": "missing", "charts": [{"repository": "r", "name": "n", "version": "1"}]}),
    )
    .await
    .expect_err("no Chart.yaml");
    assert!(err.contains("cannot read `missing/Chart.yaml`"), "{err}");
    let err = run(
        &ctx,
        "helm-update-chart",
        json!({"path": "chart", "charts": []}),
    )
    .await
    .expect_err("empty charts");
    assert!(err.contains("`charts` needs at least one entry"), "{err}");
    let err = run(
        &ctx,
        "helm-update-chart",
        json!({"path": "../elsewhere", "charts": [{"repository": "r", "name": "n", "version": "1"}]}),
    )
    .await
    .expect_err("outside the work dir");
    assert!(err.contains("../elsewhere"), "{err}");
}
