//! `helm-update-chart` against real chart repositories: a classic one
//! (`index.yaml` and archives served over HTTP by kargo-test-support's
//! file server) and an OCI one (the real `docker-registry`), with chart
//! archives built as Helm packages them. Kargo's cases from
//! `helm_chart_updater_test.go` and `dependency_manager_test.go`, in our
//! own code.

use std::path::Path;
use std::sync::Arc;

use kargo_core::credentials::{CredentialType, Credentials, StaticCredentials};
use kargo_core::step::{ErrorKind, Step, StepContext, StepError, StepOutcome};
use kargo_steps::HelmUpdateChart;
use kargo_test_support::charts::{chart_archive, write_repository};
use kargo_test_support::git_server::HttpServer;
use kargo_test_support::registry::{Content, Registry};
use oci_client::secrets::RegistryAuth;
use serde_json::{Value, json};

use crate::{read, setup};

/// A classic chart repository served over HTTP.
struct HttpRepo {
    dir: tempfile::TempDir,
    server: HttpServer,
}

impl HttpRepo {
    fn start(charts: &[(&str, &str)]) -> HttpRepo {
        HttpRepo::start_with(charts, None)
    }

    fn start_with(charts: &[(&str, &str)], user: Option<(&str, &str)>) -> HttpRepo {
        let dir = tempfile::tempdir().unwrap();
        write_repository(dir.path(), charts);
        let server = HttpServer::files(dir.path(), user);
        HttpRepo { dir, server }
    }

    fn url(&self) -> String {
        self.server.base()
    }
}

/// A registry holding chart `name` at each of `tags`.
async fn oci_repo(name: &str, tags: &[&str]) -> Registry {
    let registry = Registry::start(None);
    let mut content = Content::default();
    for tag in tags {
        content.add_chart(tag, chart_archive(name, tag));
    }
    content
        .push(&registry.addr, name, &RegistryAuth::Anonymous)
        .await;
    registry
}

async fn run_step(ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
    HelmUpdateChart.run(ctx, config).await
}

/// The files in `charts/`, sorted.
fn archives(dir: &Path, chart: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join(chart).join("charts"))
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A `Chart.lock` with the repository URLs, the digest (it covers the
/// URLs, whose ports change) and the time made stable.
fn redact(lock: &str, urls: &[(&str, &str)]) -> String {
    let mut out = lock.to_owned();
    for (url, name) in urls {
        out = out.replace(url, name);
    }
    out.lines()
        .map(|l| {
            if l.starts_with("generated: \"") && l.ends_with("Z\"") {
                "generated: <now>"
            } else if l.starts_with("digest: sha256:") {
                "digest: <digest>"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Helm's digest, computed here from its recipe (`resolver.HashReq`):
/// SHA-256 of Go's JSON of `[requirements, locked]`, each dependency
/// `{"name", "version", "repository"}` in that order (enough for these
/// tests' plain names and URLs).
fn helm_digest(requirements: &[(&str, &str, &str)], locked: &[(&str, &str, &str)]) -> String {
    let list = |deps: &[(&str, &str, &str)]| {
        deps.iter()
            .map(|(name, version, repository)| {
                format!(r#"{{"name":"{name}","version":"{version}","repository":"{repository}"}}"#)
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    kargo_test_support::registry::sha256(
        format!("[[{}],[{}]]", list(requirements), list(locked)).as_bytes(),
    )
}

/// The `digest:` of a `Chart.lock`.
fn digest_of(lock: &str) -> &str {
    lock.lines()
        .find_map(|l| l.strip_prefix("digest: "))
        .unwrap_or_default()
}

fn message(out: &StepOutcome) -> Option<&str> {
    out.output.get("commitMessage").and_then(Value::as_str)
}

/// Everything under the chart directory, for "nothing changed" checks.
fn snapshot_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().display().to_string();
                files.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn kargos_config_table_is_checked_field_by_field() {
    use kargo_steps::helm_update_chart::Config;
    // Kargo's Test_helmChartUpdater_convert cases.
    let parse = |config: Value| -> Result<(), String> {
        HelmUpdateChart
            .check_config(&config)
            .map_err(|e| e.to_string())?;
        serde_json::from_value::<Config>(config)
            .map(drop)
            .map_err(|e| e.to_string())
    };
    let refused = [
        (json!({}), "path"),
        (json!({"path": ""}), "path"),
        (json!({"path": "p", "charts": []}), "charts"),
        (json!({"path": "p", "charts": [{}]}), "repository"),
        (
            json!({"path": "p", "charts": [{"repository": "", "name": "n", "version": "v"}]}),
            "charts[0].repository",
        ),
        (
            json!({"path": "p", "charts": [{"repository": "r", "version": "v"}]}),
            "name",
        ),
        (
            json!({"path": "p", "charts": [{"repository": "r", "name": "", "version": "v"}]}),
            "charts[0].name",
        ),
        (
            json!({"path": "p", "charts": [{"repository": "r", "name": "n"}]}),
            "version",
        ),
        (
            json!({"path": "p", "charts": [{"repository": "r", "name": "n", "version": ""}]}),
            "charts[0].version",
        ),
        (
            json!({"path": "p", "charts": [{"repository": "r", "name": "n", "version": "1", "alias": "a"}]}),
            "alias",
        ),
    ];
    for (config, field) in refused {
        let err = parse(config.clone()).expect_err(&config.to_string());
        assert!(err.contains(field), "{config}: {err}");
    }
    for config in [
        json!({"path": "fake-path"}),
        json!({"path": "fake-path", "charts": [{"repository": "fake-repository", "name": "fake-chart", "version": "fake-version"}]}),
        json!({"path": "./src/charts/my-chart", "charts": [{"repository": "oci://example-chart-registry", "name": "some-chart", "version": "1.3.0"}]}),
    ] {
        parse(config.clone()).unwrap_or_else(|e| panic!("{config}: {e}"));
    }
}

#[tokio::test]
async fn a_pinned_version_from_an_http_repository_is_written_locked_and_downloaded() {
    // Kargo's "successful run with HTTP repository".
    let repo = HttpRepo::start(&[("examplechart", "0.1.0")]);
    let chart_yaml = format!(
        "apiVersion: v2\nname: test-chart\nversion: 0.1.0\ndependencies:\n- name: examplechart\n  version: '>=0.0.1'\n  repository: {}\n",
        repo.url()
    );
    let (dir, ctx) = setup(&[("testchart/Chart.yaml", &chart_yaml)]);
    let out = run_step(
        &ctx,
        json!({"path": "testchart", "charts": [{"repository": repo.url(), "name": "examplechart", "version": "0.1.0"}]}),
    )
    .await
    .unwrap();
    assert_eq!(
        message(&out),
        Some("Updated chart dependencies for testchart\n\n- examplechart: 0.1.0")
    );
    assert_eq!(
        read(dir.path(), "testchart/Chart.yaml"),
        chart_yaml.replace("'>=0.0.1'", "'0.1.0'"),
        "the version is written with the quoting it had"
    );
    assert_eq!(
        archives(dir.path(), "testchart"),
        ["examplechart-0.1.0.tgz"]
    );
    assert_eq!(
        std::fs::read(dir.path().join("testchart/charts/examplechart-0.1.0.tgz")).unwrap(),
        std::fs::read(repo.dir.path().join("examplechart-0.1.0.tgz")).unwrap(),
        "the archive is the repository's"
    );
    let lock = read(dir.path(), "testchart/Chart.lock");
    let url = repo.url();
    assert_eq!(
        digest_of(&lock),
        helm_digest(
            &[("examplechart", "0.1.0", &url)],
            &[("examplechart", "0.1.0", &url)]
        )
    );
    insta::assert_snapshot!(
        redact(&lock, &[(&url, "<HTTP_REPO>")]),
        @r"
    dependencies:
    - name: examplechart
      repository: <HTTP_REPO>
      version: 0.1.0
    digest: <digest>
    generated: <now>
    "
    );
}

#[tokio::test]
async fn a_range_resolves_to_the_newest_version_and_replaces_the_old_lock_and_archive() {
    // Kargo's "successful run with SemVer range" and "update with existing
    // Chart.lock": no `charts`, the range in Chart.yaml decides.
    let repo = HttpRepo::start(&[
        ("examplechart", "0.0.9"),
        ("examplechart", "0.1.0"),
        ("examplechart", "0.2.0"),
        ("examplechart", "1.0.0"),
        ("examplechart", "0.3.0-rc.1"),
        ("other", "9.9.9"),
    ]);
    let chart_yaml = format!(
        "apiVersion: v2\nname: test-chart\nversion: 1.0.0\ndependencies:\n- name: examplechart # the app\n  repository: {}\n  version: 0.*\n",
        repo.url()
    );
    let old_lock = format!(
        "# This is an existing Chart.lock file\ndependencies:\n- name: examplechart\n  repository: {}\n  version: 0.0.9\ndigest: sha256:old-digest-should-be-replaced\ngenerated: \"2023-01-01T00:00:00Z\"\n",
        repo.url()
    );
    let (dir, ctx) = setup(&[
        ("test-chart/Chart.yaml", &chart_yaml),
        ("test-chart/Chart.lock", &old_lock),
        ("test-chart/charts/README.md", "not a chart, kept\n"),
    ]);
    std::fs::write(
        dir.path().join("test-chart/charts/examplechart-0.0.9.tgz"),
        chart_archive("examplechart", "0.0.9"),
    )
    .unwrap();
    let out = run_step(&ctx, json!({"path": "test-chart"})).await.unwrap();
    assert_eq!(
        message(&out),
        Some("Updated chart dependencies for test-chart\n\n- examplechart: 0.0.9 -> 0.2.0")
    );
    assert_eq!(
        read(dir.path(), "test-chart/Chart.yaml"),
        chart_yaml,
        "ranges are kept"
    );
    assert_eq!(
        archives(dir.path(), "test-chart"),
        ["README.md", "examplechart-0.2.0.tgz"],
        "the old archive is removed, other files stay"
    );
    let lock = read(dir.path(), "test-chart/Chart.lock");
    assert!(!lock.contains("old-digest-should-be-replaced"));
    assert!(
        !dir.path().join("test-chart").read_dir().unwrap().any(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".kargo-write-")
        }),
        "no temporary file is left behind"
    );
    let url = repo.url();
    assert_eq!(
        digest_of(&lock),
        helm_digest(
            &[("examplechart", "0.*", &url)],
            &[("examplechart", "0.2.0", &url)]
        )
    );
    insta::assert_snapshot!(redact(&lock, &[(&url, "<HTTP_REPO>")]), @r"
    dependencies:
    - name: examplechart
      repository: <HTTP_REPO>
      version: 0.2.0
    digest: <digest>
    generated: <now>
    ");

    // Run again: nothing to change, nothing written.
    let before = snapshot_of(&dir.path().join("test-chart"));
    let again = run_step(&ctx, json!({"path": "test-chart"})).await.unwrap();
    assert_eq!(message(&again), None);
    let after = snapshot_of(&dir.path().join("test-chart"));
    assert_eq!(
        before.iter().find(|f| f.0 == "Chart.lock"),
        after.iter().find(|f| f.0 == "Chart.lock"),
        "the lock keeps its time when its digest did not change"
    );
}

#[tokio::test]
async fn an_oci_range_resolves_to_the_newest_tag_in_the_registry() {
    let registry = oci_repo(
        "demo",
        &["0.1.0", "1.0.0", "1.2.0", "1.3.0-rc.1", "2.0.0", "latest"],
    )
    .await;
    let oci = format!("oci://{}", registry.addr);
    let chart_yaml = format!(
        "apiVersion: v2\nname: umbrella\nversion: 1.0.0\ndependencies:\n- name: demo\n  repository: {oci}\n  version: ^1.0.0\n"
    );
    let (dir, ctx) = setup(&[("umbrella/Chart.yaml", &chart_yaml)]);
    let out = run_step(&ctx, json!({"path": "umbrella"})).await.unwrap();
    assert_eq!(
        message(&out),
        Some("Updated chart dependencies for umbrella\n\n- demo: 1.2.0")
    );
    assert_eq!(archives(dir.path(), "umbrella"), ["demo-1.2.0.tgz"]);
    assert_eq!(
        std::fs::read(dir.path().join("umbrella/charts/demo-1.2.0.tgz")).unwrap(),
        chart_archive("demo", "1.2.0"),
        "the chart layer, as pushed"
    );
    let lock = read(dir.path(), "umbrella/Chart.lock");
    assert_eq!(
        digest_of(&lock),
        helm_digest(&[("demo", "^1.0.0", &oci)], &[("demo", "1.2.0", &oci)])
    );
    insta::assert_snapshot!(
        redact(&lock, &[(&oci, "oci://<OCI_HOST>")]),
        @r"
    dependencies:
    - name: demo
      repository: oci://<OCI_HOST>
      version: 1.2.0
    digest: <digest>
    generated: <now>
    "
    );

    // `charts` pins another version: Chart.yaml, the archive and the lock
    // follow, the old archive goes.
    let out = run_step(
        &ctx,
        json!({"path": "umbrella", "charts": [{"repository": oci, "name": "demo", "version": "2.0.0"}]}),
    )
    .await
    .unwrap();
    assert_eq!(
        message(&out),
        Some("Updated chart dependencies for umbrella\n\n- demo: 1.2.0 -> 2.0.0")
    );
    assert!(read(dir.path(), "umbrella/Chart.yaml").contains("version: 2.0.0\n"));
    assert_eq!(archives(dir.path(), "umbrella"), ["demo-2.0.0.tgz"]);
    assert!(read(dir.path(), "umbrella/Chart.lock").contains("version: 2.0.0"));
}

#[tokio::test]
async fn http_and_oci_dependencies_together_are_both_added() {
    // Kargo's "update with HTTP and OCI repositories".
    let repo = HttpRepo::start(&[("examplechart", "0.1.0")]);
    let registry = oci_repo("demo", &["0.1.0"]).await;
    let oci = format!("oci://{}", registry.addr);
    let chart_yaml = format!(
        "apiVersion: v2\nname: test-chart\nversion: 1.0.0\ndependencies:\n- name: examplechart\n  repository: {}\n  version: 0.1.*\n- name: demo\n  repository: {oci}\n  version: '*'\n",
        repo.url()
    );
    let (dir, ctx) = setup(&[("test-chart/Chart.yaml", &chart_yaml)]);
    let out = run_step(&ctx, json!({"path": "test-chart"})).await.unwrap();
    assert_eq!(
        message(&out),
        Some("Updated chart dependencies for test-chart\n\n- demo: 0.1.0\n- examplechart: 0.1.0")
    );
    assert_eq!(
        archives(dir.path(), "test-chart"),
        ["demo-0.1.0.tgz", "examplechart-0.1.0.tgz"]
    );
}

#[tokio::test]
async fn local_dependencies_are_packaged_or_checked_and_removals_are_listed() {
    let repo = HttpRepo::start(&[("gone", "1.0.0")]);
    let chart_yaml = "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n- name: lib\n  repository: file://../lib\n  version: ~1.2.0\n- name: vendored\n  version: '>=1'\n";
    let old_lock = format!(
        "dependencies:\n- name: gone\n  repository: {}\n  version: 1.0.0\n- name: vendored\n  repository: \"\"\n  version: '>=1'\ndigest: sha256:0\ngenerated: \"2023-01-01T00:00:00Z\"\n",
        repo.url()
    );
    let (dir, ctx) = setup(&[
        ("app/Chart.yaml", chart_yaml),
        ("app/Chart.lock", &old_lock),
        (
            "app/charts/vendored/Chart.yaml",
            "apiVersion: v2\nname: vendored\nversion: 1.5.0\n",
        ),
        (
            "lib/Chart.yaml",
            "apiVersion: v2\nname: lib\nversion: 1.2.3\n",
        ),
        ("lib/templates/a.yaml", "a: 1\n"),
    ]);
    std::fs::write(
        dir.path().join("app/charts/gone-1.0.0.tgz"),
        chart_archive("gone", "1.0.0"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("app/charts/vendored-0.9.0.tgz"),
        chart_archive("vendored", "0.9.0"),
    )
    .unwrap();
    let out = run_step(&ctx, json!({"path": "app"})).await.unwrap();
    assert_eq!(
        message(&out),
        Some("Updated chart dependencies for app\n\n- gone: removed\n- lib: 1.2.3")
    );
    assert_eq!(
        archives(dir.path(), "app"),
        ["lib-1.2.3.tgz", "vendored", "vendored-0.9.0.tgz"],
        "a removed dependency's archive goes; a vendored chart's archive stays"
    );
    insta::assert_snapshot!(read(dir.path(), "app/Chart.lock").lines().take(7).collect::<Vec<_>>().join("\n"), @r#"
    dependencies:
    - name: lib
      repository: file://../lib
      version: 1.2.3
    - name: vendored
      repository: ""
      version: '>=1'
    "#);

    // A vendored chart outside its range fails, as Helm's check does.
    std::fs::write(
        dir.path().join("app/charts/vendored/Chart.yaml"),
        "apiVersion: v2\nname: vendored\nversion: 0.5.0\n",
    )
    .unwrap();
    let err = run_step(&ctx, json!({"path": "app"})).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Terminal);
    assert!(
        err.to_string()
            .contains("dependency vendored at version 0.5.0 does not satisfy the constraint >=1"),
        "{err}"
    );
}

#[tokio::test]
async fn file_dependencies_must_stay_inside_the_work_dir() {
    // Kargo's validateLocalDependency cases.
    let outside = tempfile::tempdir().unwrap();
    kargo_test_support::write(
        outside.path(),
        "lib/Chart.yaml",
        "name: lib\nversion: 1.0.0\n",
    );
    let (dir, ctx) = setup(&[
        ("valid-dep/Chart.yaml", "name: valid-dep\nversion: 1.0.0\n"),
        ("chart/Chart.yaml", "name: chart\nversion: 1.0.0\n"),
    ]);
    std::os::unix::fs::symlink(dir.path().join("valid-dep"), dir.path().join("symlink-dep"))
        .unwrap();
    std::os::unix::fs::symlink(outside.path().join("lib"), dir.path().join("escape")).unwrap();
    let with = |repository: &str| {
        format!(
            "apiVersion: v2\nname: chart\nversion: 1.0.0\ndependencies:\n- name: valid-dep\n  repository: {repository}\n  version: 1.0.0\n"
        )
    };
    for (repository, ok, needle) in [
        ("file://../valid-dep", true, ""),
        ("file://../symlink-dep", true, ""),
        ("file://../escape", false, "escape"),
        ("file://../../outside-dep", false, "outside-dep"),
        (
            "file://../non-existent-dep",
            false,
            "no chart (Chart.yaml) in chart/../non-existent-dep",
        ),
        (
            "file:///absolute-dep",
            false,
            "dependency path \"/absolute-dep\" must be relative",
        ),
    ] {
        std::fs::write(dir.path().join("chart/Chart.yaml"), with(repository)).unwrap();
        let result = run_step(&ctx, json!({"path": "chart"})).await;
        match (ok, result) {
            (true, Ok(_)) => {}
            (false, Err(e)) => {
                assert_eq!(e.kind(), ErrorKind::Terminal, "{repository}: {e}");
                assert!(e.to_string().contains(needle), "{repository}: {e}");
            }
            (_, other) => panic!("{repository}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn failures_name_the_chart_and_leave_every_file_as_it_was() {
    let repo = HttpRepo::start(&[("examplechart", "0.1.0")]);
    let registry = oci_repo("demo", &["0.1.0"]).await;
    let oci = format!("oci://{}", registry.addr);
    let chart_yaml = format!(
        "apiVersion: v2\nname: test-chart\nversion: 1.0.0\ndependencies:\n- name: examplechart\n  repository: {}\n  version: 0.1.0 # pinned\n- name: demo\n  repository: {oci}\n  version: 0.1.0\n",
        repo.url()
    );
    let old_lock = "dependencies: []\ndigest: sha256:0\ngenerated: \"2023-01-01T00:00:00Z\"\n";
    let (dir, ctx) = setup(&[("c/Chart.yaml", &chart_yaml), ("c/Chart.lock", old_lock)]);
    let before = snapshot_of(&dir.path().join("c"));
    let cases = [
        // Kargo's processDependencyUpdates: name and repository mismatches.
        (
            json!({"path": "c", "charts": [{"repository": repo.url(), "name": "postgresql", "version": "12.0.0"}]}),
            format!("no dependency matches repository \"{}\" and name \"postgresql\"", repo.url()),
        ),
        (
            json!({"path": "c", "charts": [{"repository": "https://different-repo.com", "name": "examplechart", "version": "18.0.0"}]}),
            "no dependency matches repository \"https://different-repo.com\" and name \"examplechart\"".to_owned(),
        ),
        // A range nothing satisfies, in either kind of repository.
        (
            json!({"path": "c", "charts": [{"repository": repo.url(), "name": "examplechart", "version": "^5.0.0"}]}),
            format!("can't get a valid version for 1 subchart(s): \"examplechart\" (repository \"{}\", version \"^5.0.0\")", repo.url()),
        ),
        (
            json!({"path": "c", "charts": [{"repository": oci, "name": "demo", "version": "~0.2"}]}),
            format!("\"demo\" (repository \"{oci}\", version \"~0.2\")"),
        ),
        // An exact OCI version that is not there.
        (
            json!({"path": "c", "charts": [{"repository": oci, "name": "demo", "version": "0.9.0"}]}),
            format!("could not download {oci}/demo:0.9.0"),
        ),
        (
            json!({"path": "c", "charts": [{"repository": repo.url(), "name": "examplechart", "version": "not a range"}]}),
            "dependency \"examplechart\" has an invalid version/constraint format".to_owned(),
        ),
    ];
    for (config, needle) in cases {
        let err = run_step(&ctx, config.clone())
            .await
            .expect_err(&config.to_string());
        // Only the malformed version is the config's fault (`Failed`); the
        // rest is what the chart and its repositories hold (`Errored`).
        let want = if needle.contains("invalid version") {
            ErrorKind::Failed
        } else {
            ErrorKind::Terminal
        };
        assert_eq!(err.kind(), want, "{config}: {err}");
        assert!(
            err.to_string().contains(&needle),
            "{config}:\n{err}\nwants: {needle}"
        );
        assert!(err.to_string().starts_with("helm-update-chart: "), "{err}");
        assert_eq!(
            snapshot_of(&dir.path().join("c")),
            before,
            "{config}: files changed"
        );
    }

    // A chart the index does not list.
    std::fs::write(
        dir.path().join("c/Chart.yaml"),
        chart_yaml.replace("name: examplechart", "name: examplechart2"),
    )
    .unwrap();
    let err = run_step(&ctx, json!({"path": "c"})).await.unwrap_err();
    assert!(
        err.to_string().contains(&format!(
            "examplechart2 chart not found in repo {}",
            repo.url()
        )),
        "{err}"
    );
}

/// A chart of Helm's apiVersion v1 keeps its dependencies in
/// `requirements.yaml` and locks them in `requirements.lock`. Kargo's step
/// runs Helm, which writes `requirements.lock`, then reads a `Chart.lock`
/// that is not there and fails; kargo-rs refuses such a chart up front,
/// naming the file, and writes nothing (not even with a reachable
/// repository and a satisfiable version).
#[tokio::test]
async fn an_api_version_v1_chart_is_refused_naming_its_requirements() {
    let repo = HttpRepo::start(&[("examplechart", "0.1.0")]);
    let requirements = format!(
        "dependencies:\n- name: examplechart\n  repository: {}\n  version: 0.1.0\n",
        repo.url()
    );
    let v1 = "apiVersion: v1\nname: legacy\nversion: 1.0.0\n";
    let v1_listing = format!("{v1}{requirements}");
    let (dir, ctx) = setup(&[
        ("with-requirements/Chart.yaml", v1),
        ("with-requirements/requirements.yaml", &requirements),
        (
            "lock-only/Chart.yaml",
            "apiVersion: v2\nname: c\nversion: 1.0.0\n",
        ),
        (
            "lock-only/requirements.lock",
            "dependencies: []\ndigest: sha256:0\n",
        ),
        ("listing/Chart.yaml", &v1_listing),
    ]);
    for (chart, config, file) in [
        (
            "with-requirements",
            json!({"path": "with-requirements"}),
            "with-requirements/requirements.yaml",
        ),
        (
            "with-requirements",
            json!({"path": "with-requirements", "charts": [
                {"repository": repo.url(), "name": "examplechart", "version": "0.1.0"}
            ]}),
            "with-requirements/requirements.yaml",
        ),
        (
            "lock-only",
            json!({"path": "lock-only/"}),
            "lock-only/requirements.lock",
        ),
        ("listing", json!({"path": "listing"}), "listing/Chart.yaml"),
    ] {
        let before = snapshot_of(&dir.path().join(chart));
        let err = run_step(&ctx, config.clone()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Terminal, "{config}: {err}");
        assert!(
            err.to_string().starts_with(&format!(
                "helm-update-chart: `{file}`: charts of apiVersion v1"
            )) && err
                .to_string()
                .contains("move them into Chart.yaml with `apiVersion: v2`"),
            "{config}: {err}"
        );
        assert_eq!(
            snapshot_of(&dir.path().join(chart)),
            before,
            "{config}: files changed"
        );
        assert!(!dir.path().join(chart).join("charts").exists());
    }
}

#[tokio::test]
async fn an_unreachable_repository_is_a_retryable_error() {
    let closed = format!("http://127.0.0.1:{}", kargo_test_support::free_port());
    let chart_yaml = format!(
        "apiVersion: v2\nname: c\nversion: 1.0.0\ndependencies:\n- name: x\n  repository: {closed}\n  version: ^1\n"
    );
    let (dir, ctx) = setup(&[("c/Chart.yaml", &chart_yaml)]);
    let err = run_step(&ctx, json!({"path": "c"})).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Retryable, "{err}");
    assert!(
        err.to_string().contains(&format!(
            "cannot read the index of chart repository {closed}"
        )),
        "{err}"
    );

    let closed_oci = format!("oci://127.0.0.1:{}", kargo_test_support::free_port());
    std::fs::write(
        dir.path().join("c/Chart.yaml"),
        chart_yaml.replace(&closed, &closed_oci),
    )
    .unwrap();
    let err = run_step(&ctx, json!({"path": "c"})).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Retryable, "{err}");
    assert!(
        err.to_string().contains(&format!(
            "could not retrieve list of tags for repository {closed_oci}"
        )),
        "{err}"
    );
    assert_eq!(archives(dir.path(), "c"), Vec::<String>::new());
    assert!(!dir.path().join("c/Chart.lock").exists());
}

#[tokio::test]
async fn repository_credentials_come_from_the_credentials_provider() {
    let repo = HttpRepo::start_with(&[("private", "1.0.0")], Some(("helm", "s3cret")));
    let chart_yaml = format!(
        "apiVersion: v2\nname: c\nversion: 1.0.0\ndependencies:\n- name: private\n  repository: {}\n  version: 1.0.0\n",
        repo.url()
    );
    let (dir, ctx) = setup(&[("c/Chart.yaml", &chart_yaml)]);
    let err = run_step(&ctx, json!({"path": "c"})).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Terminal, "{err}");
    assert!(err.to_string().contains("HTTP 401"), "{err}");
    assert!(!err.to_string().contains("s3cret"));

    let credentials = StaticCredentials::new().with_url(
        CredentialType::Helm,
        repo.url(),
        Credentials::new("helm", "s3cret"),
    );
    let ctx = ctx.with_credentials(Arc::new(credentials));
    run_step(&ctx, json!({"path": "c"})).await.unwrap();
    assert_eq!(archives(dir.path(), "c"), ["private-1.0.0.tgz"]);
    assert!(repo.server.saw_credentials("helm", "s3cret"));
}
