use super::*;

const CHART: &str = r#"apiVersion: v2
name: example # the umbrella chart
type: application
version: 0.1.0
appVersion: "0.1.0"

dependencies:
  # Shared cache.
  - name: redis
    repository: https://charts.example.com   # classic repository
    version: "17.0.1" # pinned by Kargo
    condition: redis.enabled
  - name: some-chart
    repository: oci://example-chart-registry
    version: 1.2.3
  - name: redis
    alias: second-redis
    repository: https://mirror.example.com
    version: 17.0.1
"#;

fn run(charts: &[ChartUpdate]) -> String {
    match edit(CHART, charts) {
        Ok(out) => {
            let changes: Vec<String> = out
                .changes
                .iter()
                .map(|(k, v)| format!("# {k}: {v}"))
                .collect();
            format!(
                "{}{}",
                crate::edit::changed_lines(CHART, &out.text),
                changes.join("\n")
            )
        }
        Err(e) => format!("ERROR: {e}"),
    }
}

#[test]
fn versions_change_in_place_with_comments_and_quotes_kept() {
    let out = edit(
        CHART,
        &[
            ChartUpdate::new("https://charts.example.com", "redis", "18.2.0"),
            ChartUpdate::new("oci://example-chart-registry", "some-chart", "1.3.0"),
        ],
    )
    .unwrap();
    insta::assert_snapshot!(out.text, @r#"
    apiVersion: v2
    name: example # the umbrella chart
    type: application
    version: 0.1.0
    appVersion: "0.1.0"

    dependencies:
      # Shared cache.
      - name: redis
        repository: https://charts.example.com   # classic repository
        version: "18.2.0" # pinned by Kargo
        condition: redis.enabled
      - name: some-chart
        repository: oci://example-chart-registry
        version: 1.3.0
      - name: redis
        alias: second-redis
        repository: https://mirror.example.com
        version: 17.0.1
    "#);
    assert_eq!(
        commit_message("./src/charts/my-chart", &out.changes).unwrap(),
        "Updated chart dependencies for ./src/charts/my-chart\n\n\
         - redis: 17.0.1 -> 18.2.0\n- some-chart: 1.2.3 -> 1.3.0"
    );
}

#[test]
fn repository_and_name_must_both_match() {
    insta::assert_snapshot!(
        run(&[ChartUpdate::new("https://mirror.example.com", "redis", "18.0.0")]),
        "the second redis, told apart by its repository",
        @r"
     19 -    version: 17.0.1
     19 +    version: 18.0.0
    # redis: 17.0.1 -> 18.0.0
    "
    );
    insta::assert_snapshot!(
        run(&[ChartUpdate::new("https://charts.example.com/", "redis", "18.0.0")]),
        "a trailing slash is another repository",
        @r#"ERROR: key `dependencies`: no dependency matches repository "https://charts.example.com/" and name "redis""#
    );
    insta::assert_snapshot!(
        run(&[ChartUpdate::new("oci://example-chart-registry/some-chart", "some-chart", "2.0.0")]),
        "OCI: the registry goes in repository, as Helm wants it",
        @r#"ERROR: key `dependencies`: no dependency matches repository "oci://example-chart-registry/some-chart" and name "some-chart""#
    );
}

#[test]
fn an_unchanged_version_writes_nothing() {
    let out = edit(
        CHART,
        &[ChartUpdate::new(
            "oci://example-chart-registry",
            "some-chart",
            "1.2.3",
        )],
    )
    .unwrap();
    assert_eq!(out.text, CHART);
    assert!(out.changes.is_empty());
    assert_eq!(commit_message("x", &out.changes), None);
}

#[test]
fn a_chart_without_dependencies_matches_nothing() {
    let out = edit(
        "apiVersion: v2\nname: x\n",
        &[ChartUpdate::new("https://a", "b", "1")],
    );
    assert!(out.is_err());
    assert!(edit("dependencies: [", &[]).is_err(), "unparsable YAML");
}

#[test]
fn kargos_commit_message_table() {
    // Kargo's Test_helmChartUpdater_generateCommitMessage cases; Kargo's
    // lines come in Go's map order, ours sorted by name.
    let msg = |changes: &[(&str, &str)]| {
        let changes: BTreeMap<String, String> = changes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        commit_message("charts/mychart", &changes)
    };
    let head = "Updated chart dependencies for charts/mychart\n";
    for (changes, want) in [
        (&[][..], None),
        (
            &[("chart1", "1.0.0 -> 1.1.0")][..],
            Some("\n- chart1: 1.0.0 -> 1.1.0"),
        ),
        (
            &[
                ("chart1", "1.0.0 -> 1.1.0"),
                ("chart2", "2.0.0 -> 2.1.0"),
                ("chart3", "3.0.0 -> 3.1.0"),
            ][..],
            Some("\n- chart1: 1.0.0 -> 1.1.0\n- chart2: 2.0.0 -> 2.1.0\n- chart3: 3.0.0 -> 3.1.0"),
        ),
        (
            &[
                ("chart1", "1.0.0 -> 1.1.0"),
                ("chart2", ""),
                ("chart3", "3.0.0 -> 3.1.0"),
            ][..],
            Some("\n- chart1: 1.0.0 -> 1.1.0\n- chart2: removed\n- chart3: 3.0.0 -> 3.1.0"),
        ),
        (
            &[("chart1", ""), ("chart2", "")][..],
            Some("\n- chart1: removed\n- chart2: removed"),
        ),
        (
            &[("chart1", "1.0.0"), ("chart2", "2.0.0")][..],
            Some("\n- chart1: 1.0.0\n- chart2: 2.0.0"),
        ),
        (
            &[
                ("chart4", "4.0.0 -> 4.1.0"),
                ("chart3", "3.0.0"),
                ("chart2", ""),
                ("chart1", "1.0.0 -> 1.1.0"),
            ][..],
            Some(
                "\n- chart1: 1.0.0 -> 1.1.0\n- chart2: removed\n- chart3: 3.0.0\n- chart4: 4.0.0 -> 4.1.0",
            ),
        ),
    ] {
        assert_eq!(
            msg(changes),
            want.map(|lines| format!("{head}{lines}")),
            "{changes:?}"
        );
    }
}

#[test]
fn kargos_dependency_update_table() {
    // Kargo's TestEphemeralDependencyManager_processDependencyUpdates cases.
    const BITNAMI: &str = "https://charts.bitnami.com/bitnami";
    let chart = "name: test-chart\nversion: 1.0.0\ndependencies:\n  - name: redis\n    repository: https://charts.bitnami.com/bitnami\n    version: 17.0.0\n  - name: postgresql\n    repository: https://charts.bitnami.com/bitnami\n    version: 12.0.0\n  - name: mysql\n    repository: https://charts.bitnami.com/bitnami\n    version: 9.0.0\n";
    let versions = |text: &str| -> Vec<String> {
        let doc = crate::edit::yaml::read(text).unwrap();
        doc["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                format!(
                    "{}={}",
                    d["name"].as_str().unwrap(),
                    d["version"].as_str().unwrap()
                )
            })
            .collect()
    };
    let out = edit(chart, &[ChartUpdate::new(BITNAMI, "redis", "18.0.0")]).unwrap();
    assert_eq!(
        versions(&out.text),
        ["redis=18.0.0", "postgresql=12.0.0", "mysql=9.0.0"]
    );
    let out = edit(chart, &[ChartUpdate::new(BITNAMI, "redis", "17.0.0")]).unwrap();
    assert_eq!(out.text, chart, "no update when the version is the same");
    let out = edit(
        chart,
        &[
            ChartUpdate::new(BITNAMI, "redis", "18.0.0"),
            ChartUpdate::new(BITNAMI, "mysql", "10.0.0"),
        ],
    )
    .unwrap();
    assert_eq!(
        versions(&out.text),
        ["redis=18.0.0", "postgresql=12.0.0", "mysql=10.0.0"]
    );
    assert_eq!(
        edit(chart, &[]).unwrap().text,
        chart,
        "an empty list changes nothing"
    );
    for (update, why) in [
        (
            ChartUpdate::new(BITNAMI, "mariadb", "12.0.0"),
            "name mismatch",
        ),
        (
            ChartUpdate::new("https://different-repo.com", "redis", "18.0.0"),
            "repository mismatch",
        ),
    ] {
        let err = edit(chart, &[update]).unwrap_err().to_string();
        assert!(
            err.contains("no dependency matches repository"),
            "{why}: {err}"
        );
    }
    let err = edit(
        "name: test-chart\nversion: 1.0.0\n",
        &[ChartUpdate::new(BITNAMI, "redis", "17.0.0")],
    );
    assert!(err.is_err(), "a chart without dependencies matches nothing");
}
