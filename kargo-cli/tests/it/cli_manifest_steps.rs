//! `kargo run` with kustomize-set-image, helm-update-chart (against a
//! chart repository served over HTTP), tar/untar,
//! set-freight-alias and set-metadata on a small layout, as a user runs a
//! Kargo promotion template.

use crate::support::{kargo, write};

const FREIGHT: &str = r#"apiVersion: kargo.akuity.io/v1alpha1
kind: Freight
metadata:
  name: f1
alias: wonky-wombat
origin: {kind: Warehouse, name: guestbook}
images:
- repoURL: ghcr.io/acme/guestbook
  tag: v1.2.3
  digest: sha256:abc
charts:
- repoURL: https://charts.example.com
  name: redis
  version: 18.2.0
"#;

const STEPS: &str = r#"vars:
- name: image
  value: ghcr.io/acme/guestbook
- name: chartRepo
  value: https://charts.example.com
steps:
- uses: kustomize-set-image
  as: image
  config:
    path: ./app/overlays/${{ ctx.stage }}
    images:
    - image: ${{ vars.image }}
      tag: ${{ imageFrom(vars.image).Tag }}
- uses: helm-update-chart
  as: chart
  config:
    path: ./app/chart
    charts:
    - repository: ${{ vars.chartRepo }}
      name: redis
      version: ${{ chartFrom(vars.chartRepo, "redis").Version }}
- uses: tar
  config:
    inPath: ./app
    outPath: ./out/app.tgz
    gzip: true
- uses: untar
  config:
    inPath: ./out/app.tgz
    outPath: ./out/app
- uses: set-freight-alias
  config:
    name: ${{ ctx.targetFreight.name }}
    alias: ${{ imageFrom(vars.image).Tag }}
- uses: set-metadata
  config:
    updates:
    - kind: Stage
      name: ${{ ctx.stage }}
      values: {image: "${{ imageFrom(vars.image).Tag }}"}
    - kind: Freight
      name: v1.2.3
      values: {promotedTo: "${{ ctx.stage }}"}
"#;

#[test]
fn a_template_with_the_manifest_and_state_steps_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    write(
        &work,
        "app/overlays/dev/kustomization.yaml",
        "resources:\n- ../../base # shared\nimages:\n- name: ghcr.io/acme/guestbook\n  newTag: v1.0.0 # promoted by Kargo\n",
    );
    // A classic chart repository served over HTTP, with real archives.
    let charts = tempfile::tempdir().unwrap();
    kargo_test_support::charts::write_repository(
        charts.path(),
        &[("redis", "17.0.0"), ("redis", "18.2.0")],
    );
    let server = kargo_test_support::git_server::HttpServer::files(charts.path(), None);
    let chart_repo = server.base();
    write(
        &work,
        "app/chart/Chart.yaml",
        &format!(
            "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- name: redis\n  repository: {chart_repo}\n  version: 17.0.0 # cache\n"
        ),
    );
    write(
        &work,
        "app/chart/Chart.lock",
        &format!(
            "dependencies:\n- name: redis\n  repository: {chart_repo}\n  version: 17.0.0\ndigest: sha256:0\ngenerated: \"2024-01-01T00:00:00Z\"\n"
        ),
    );
    let freight = write(
        dir.path(),
        "freight.yaml",
        &FREIGHT.replace("https://charts.example.com", &chart_repo),
    );
    let steps = write(
        dir.path(),
        "steps.yaml",
        &STEPS.replace("https://charts.example.com", &chart_repo),
    );
    let out = kargo(
        dir.path(),
        &[
            "run",
            "--steps",
            steps.to_str().unwrap(),
            "--workdir",
            work.to_str().unwrap(),
            "--freight",
            freight.to_str().unwrap(),
            "--stage",
            "dev",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let json = out.json();
    assert_eq!(json["phase"], "Succeeded", "{json}");
    assert_eq!(
        json["state"]["image"]["commitMessage"],
        "Updated ./app/overlays/dev to use new image\n\n- ghcr.io/acme/guestbook:v1.2.3"
    );
    assert_eq!(
        json["state"]["chart"]["commitMessage"],
        "Updated chart dependencies for ./app/chart\n\n- redis: 17.0.0 -> 18.2.0"
    );
    let read = |p: &str| std::fs::read_to_string(work.join(p)).unwrap();
    let kustomization = "resources:\n- ../../base # shared\nimages:\n- name: ghcr.io/acme/guestbook\n  newTag: v1.2.3 # promoted by Kargo\n";
    assert_eq!(read("app/overlays/dev/kustomization.yaml"), kustomization);
    assert_eq!(
        read("out/app/overlays/dev/kustomization.yaml"),
        kustomization
    );
    assert!(read("out/app/chart/Chart.yaml").contains("version: 18.2.0 # cache"));
    assert!(read("out/app/chart/Chart.lock").contains("  version: 18.2.0\n"));
    assert!(work.join("out/app/chart/charts/redis-18.2.0.tgz").is_file());
}

#[test]
fn a_hostile_archive_entry_is_skipped_and_listed_never_written_outside() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    write(&work, "inside/ok.txt", "ok");
    // `tar` refuses to add `..` paths itself; -P keeps them and --transform
    // renames the entry.
    let status = std::process::Command::new("tar")
        .args([
            "-cf",
            "evil.tar",
            "-P",
            "--transform=s,^inside,../escaped,",
            "inside/ok.txt",
        ])
        .current_dir(&work)
        .status()
        .expect("the system's tar runs");
    assert!(status.success());
    let steps = write(
        dir.path(),
        "steps.yaml",
        "steps:\n- uses: untar\n  as: x\n  config:\n    inPath: evil.tar\n    outPath: out\n",
    );
    let out = kargo(
        dir.path(),
        &[
            "run",
            "--steps",
            steps.to_str().unwrap(),
            "--workdir",
            work.to_str().unwrap(),
        ],
    );
    // As Kargo: the unsafe entry is skipped; kargo-rs lists it.
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.json()["state"]["x"]["skipped"][0]["name"],
        "../escaped/ok.txt",
        "{out:?}"
    );
    assert!(work.join("out").is_dir());
    assert!(!dir.path().join("escaped").exists());
    assert!(!work.join("escaped").exists());
}
