//! `kargo run` and `kargo freight-id` as a user drives them.

use crate::support::{kargo, write};

#[test]
fn the_hello_example_succeeds_and_prints_one_json_object() {
    let work = tempfile::tempdir().unwrap();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let wd = work.path().join("wd");
    let out = kargo(
        std::path::Path::new(root),
        &[
            "run",
            "--steps",
            "examples/hello/steps.yaml",
            "--workdir",
            wd.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let json = out.json();
    assert_eq!(json["phase"], "Succeeded");
    assert_eq!(json["steps"][0]["alias"], "write");
    assert_eq!(json["steps"][0]["uses"], "file-write");
    assert_eq!(json["steps"][0]["status"], "Succeeded");
    assert_eq!(json["state"]["summary"]["greeting"], "hello");
    assert_eq!(
        std::fs::read_to_string(wd.join("out/greeting.txt")).unwrap(),
        "hello from kargo-rs"
    );
    assert!(
        !wd.join(".kargo").exists(),
        "a finished promotion leaves no state file"
    );
}

#[test]
fn an_unknown_step_kind_is_unusable_input_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let steps = write(
        dir.path(),
        "steps.yaml",
        "steps:\n- uses: file-write\n- uses: yaml-updat\n  as: typo\n",
    );
    let wd = dir.path().join("wd");
    let out = kargo(
        dir.path(),
        &[
            "run",
            "--steps",
            steps.to_str().unwrap(),
            "--workdir",
            wd.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stdout.is_empty());
    assert_eq!(
        out.stderr.trim().lines().count(),
        1,
        "one line: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("unknown step kind `yaml-updat`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("typo"), "{}", out.stderr);
    assert!(
        !wd.exists(),
        "the work directory is not created for unusable input"
    );
}

#[test]
fn malformed_yaml_is_unusable_input_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let steps = write(dir.path(), "broken.yaml", "steps:\n- uses: [unclosed\n");
    let out = kargo(dir.path(), &["run", "--steps", steps.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("broken.yaml"), "{}", out.stderr);
}

#[test]
fn an_unknown_step_field_is_unusable_input_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let steps = write(dir.path(), "steps.yaml", "steps:\n- uses: fail\n  iff: x\n");
    let out = kargo(dir.path(), &["run", "--steps", steps.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("iff"), "{}", out.stderr);
}

#[test]
fn an_unknown_config_field_fails_the_step_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let steps = write(
        dir.path(),
        "steps.yaml",
        "steps:\n- uses: file-write\n  config: {path: a.txt, contents: x, overwrit: true}\n",
    );
    let out = kargo(dir.path(), &["run", "--steps", steps.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.json()["phase"], "Failed");
    assert_eq!(out.step_status("step-1"), "Failed");
    let message = out.step_message("step-1");
    assert!(message.contains("unknown field `overwrit`"), "{message}");
}

#[test]
fn paths_leaving_the_work_directory_fail_and_write_nothing_outside() {
    let dir = tempfile::tempdir().unwrap();
    let wd = dir.path().join("wd");
    std::fs::create_dir(&wd).unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), wd.join("escape")).unwrap();
    let absolute = outside.path().join("abs.txt");
    for path in ["../x.txt", absolute.to_str().unwrap(), "escape/x.txt"] {
        let steps = write(
            dir.path(),
            "steps.yaml",
            &format!("steps:\n- uses: file-write\n  config: {{path: '{path}', contents: x}}\n"),
        );
        let out = kargo(
            dir.path(),
            &[
                "run",
                "--steps",
                steps.to_str().unwrap(),
                "--workdir",
                wd.to_str().unwrap(),
            ],
        );
        assert_eq!(out.code, 1, "{path}: {out:?}");
        assert_eq!(out.step_status("step-1"), "Failed", "{path}");
        let message = out.step_message("step-1");
        assert!(message.contains(path), "{path}: {message}");
    }
    assert!(!dir.path().join("x.txt").exists());
    assert_eq!(
        std::fs::read_dir(outside.path()).unwrap().count(),
        0,
        "nothing written outside"
    );
}

#[test]
fn a_stage_manifest_runs_its_promotion_template_with_stage_vars() {
    let dir = tempfile::tempdir().unwrap();
    let stage = write(
        dir.path(),
        "stage.yaml",
        r#"apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata:
  name: dev
  namespace: guestbook
spec:
  vars:
  - name: env
    value: development
  requestedFreight:
  - origin: {kind: Warehouse, name: guestbook}
    sources: {direct: true}
  promotionTemplate:
    spec:
      steps:
      - uses: compose-output
        as: info
        config:
          env: ${{ vars.env }}
          stage: ${{ ctx.stage }}
          project: ${{ ctx.project }}
"#,
    );
    let out = kargo(dir.path(), &["run", "--steps", stage.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    let info = &out.json()["state"]["info"];
    assert_eq!(info["env"], "development");
    assert_eq!(info["stage"], "dev");
    assert_eq!(info["project"], "guestbook");
}

#[test]
fn command_line_vars_override_file_vars() {
    let dir = tempfile::tempdir().unwrap();
    let steps = write(
        dir.path(),
        "steps.yaml",
        "vars:\n- {name: tag, value: v1}\nsteps:\n- uses: compose-output\n  as: o\n  config: {tag: '${{ vars.tag }}'}\n",
    );
    let out = kargo(
        dir.path(),
        &["run", "--steps", steps.to_str().unwrap(), "--var", "tag=v2"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["state"]["o"]["tag"], "v2");
    let bad = kargo(
        dir.path(),
        &[
            "run",
            "--steps",
            steps.to_str().unwrap(),
            "--var",
            "novalue",
        ],
    );
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("NAME=VALUE"), "{}", bad.stderr);
}

#[test]
fn an_undefined_variable_errors_the_step_quoting_the_expression() {
    let dir = tempfile::tempdir().unwrap();
    let steps = write(
        dir.path(),
        "steps.yaml",
        "steps:\n- uses: compose-output\n  config: {x: '${{ vars.missing.deep }}'}\n",
    );
    let out = kargo(dir.path(), &["run", "--steps", steps.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.step_status("step-1"), "Errored");
    let message = out.step_message("step-1");
    // `vars.missing` is nil, as in expr-lang; fetching from it fails.
    assert!(
        message.contains("from `vars.missing`: it is nil"),
        "{message}"
    );
}

#[test]
fn a_failing_step_exits_1_and_skips_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let steps = write(
        dir.path(),
        "steps.yaml",
        "steps:\n- uses: fail\n  config: {message: stop here}\n- uses: compose-output\n  config: {a: b}\n",
    );
    let out = kargo(dir.path(), &["run", "--steps", steps.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.json()["phase"], "Failed");
    assert_eq!(out.step_message("step-1"), "failed: stop here");
    assert_eq!(out.step_status("step-2"), "Skipped");
}

#[test]
fn tasks_from_a_directory_are_inflated() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "tasks/promote.yaml",
        r#"apiVersion: kargo.akuity.io/v1alpha1
kind: PromotionTask
metadata:
  name: promote
spec:
  vars:
  - name: target
  steps:
  - uses: compose-output
    as: result
    config:
      target: ${{ vars.target }}
"#,
    );
    let steps = write(
        dir.path(),
        "steps.yaml",
        "steps:\n- task: {name: promote}\n  as: p\n  vars: [{name: target, value: prod}]\n",
    );
    let tasks = dir.path().join("tasks");
    let out = kargo(
        dir.path(),
        &[
            "run",
            "--steps",
            steps.to_str().unwrap(),
            "--tasks",
            tasks.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let json = out.json();
    assert_eq!(json["steps"][0]["alias"], "p::result");
    assert_eq!(json["state"]["p"]["target"], "prod");
}

#[test]
fn freight_id_prints_kargos_id() {
    let dir = tempfile::tempdir().unwrap();
    // sha1("Warehouse/guestbook:ghcr.io/acme/guestbook:v1.2.3@sha256:abc")
    let freight = write(
        dir.path(),
        "freight.yaml",
        r#"apiVersion: kargo.akuity.io/v1alpha1
kind: Freight
metadata:
  name: ignored-for-the-id
origin:
  kind: Warehouse
  name: guestbook
images:
- repoURL: ghcr.io/acme/guestbook
  tag: v1.2.3
  digest: sha256:abc
"#,
    );
    let out = kargo(dir.path(), &["freight-id", freight.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.stdout.trim(),
        "b6fd444302ff7dfd3105a02b58072b8dd7197341"
    );
}

#[test]
fn freight_documents_feed_image_from_and_commit_from() {
    let dir = tempfile::tempdir().unwrap();
    let freight = write(
        dir.path(),
        "freight.yaml",
        r#"apiVersion: kargo.akuity.io/v1alpha1
kind: Freight
metadata:
  name: f1
alias: wonky-wombat
origin: {kind: Warehouse, name: guestbook}
images:
- repoURL: ghcr.io/acme/guestbook
  tag: v1.2.3
  digest: sha256:abc
commits:
- repoURL: https://github.com/acme/policies.git
  id: 0123456789abcdef0123456789abcdef01234567
  branch: main
"#,
    );
    let steps = write(
        dir.path(),
        "steps.yaml",
        r#"steps:
- uses: compose-output
  as: o
  config:
    tag: ${{ imageFrom("ghcr.io/acme/guestbook").Tag }}
    digest: ${{ imageFrom("ghcr.io/acme/guestbook", warehouse("guestbook")).Digest }}
    commit: ${{ commitFrom("https://github.com/acme/policies.git").ID }}
    freight: ${{ ctx.targetFreight.name }}
    alias: ${{ ctx.targetFreight.alias }}
"#,
    );
    let out = kargo(
        dir.path(),
        &[
            "run",
            "--steps",
            steps.to_str().unwrap(),
            "--freight",
            freight.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let o = &out.json()["state"]["o"];
    assert_eq!(o["tag"], "v1.2.3");
    assert_eq!(o["digest"], "sha256:abc");
    assert_eq!(o["commit"], "0123456789abcdef0123456789abcdef01234567");
    assert_eq!(o["freight"], "f1");
    assert_eq!(o["alias"], "wonky-wombat");
}

#[test]
fn a_runaway_expression_errors_the_step() {
    let dir = tempfile::tempdir().unwrap();
    let steps = write(
        dir.path(),
        "steps.yaml",
        "steps:\n- uses: compose-output\n  config:\n    x: \"${{ range(100000000) | map('string') | join(',') | length }}\"\n",
    );
    let out = kargo(dir.path(), &["run", "--steps", steps.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.step_status("step-1"), "Errored");
}

#[test]
fn a_waiting_promotion_exits_3_saves_its_state_and_resumes() {
    let server = crate::support::http_server(vec![
        (503, r#"{"ready": false}"#),
        (200, r#"{"ready": true, "version": "v2"}"#),
    ]);
    let url = server.uri();
    let dir = tempfile::tempdir().unwrap();
    let wd = dir.path().join("wd");
    let steps = write(
        dir.path(),
        "steps.yaml",
        &format!(
            r#"steps:
- uses: file-write
  as: before
  config: {{path: before.txt, contents: once}}
- uses: http
  as: check
  config:
    url: {url}/health
    pollInterval: 10ms
    successExpression: response.status == 200
    outputs:
    - name: version
      fromExpression: response.body.version
- uses: compose-output
  as: after
  config:
    version: ${{{{ outputs.check.version }}}}
"#
        ),
    );
    let args = [
        "run",
        "--steps",
        steps.to_str().unwrap(),
        "--workdir",
        wd.to_str().unwrap(),
    ];
    let first = kargo(dir.path(), &args);
    assert_eq!(first.code, 3, "{first:?}");
    assert_eq!(first.json()["phase"], "Running");
    assert_eq!(first.step_status("check"), "Running");
    assert!(
        wd.join(".kargo/promotion.json").exists(),
        "the state is saved"
    );

    // Running it again resumes: `before` (file-write without overwrite)
    // would fail if it ran twice.
    let second = kargo(dir.path(), &args);
    assert_eq!(second.code, 0, "{second:?}");
    let json = second.json();
    assert_eq!(json["phase"], "Succeeded");
    assert_eq!(second.step_status("before"), "Succeeded");
    assert_eq!(json["state"]["after"]["version"], "v2");
    assert!(
        !wd.join(".kargo").exists(),
        "a finished promotion removes its state"
    );
}

/// A custom step `flaky` that fails with a retryable error (exit 75) on
/// its first `fails` attempts, then succeeds; each run is counted in
/// `runs`. Returns the steps file (a `flaky` step with `errorThreshold`,
/// then a file-write that must run once) and the declarations.
fn flaky_promotion(
    dir: &std::path::Path,
    fails: u32,
    threshold: u32,
) -> (std::path::PathBuf, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let script = write(
        dir,
        "steps/flaky.sh",
        &format!(
            "#!/bin/sh\necho run >> \"$KARGO_WORKDIR/../runs\"\nif [ \"$KARGO_ATTEMPT\" -lt {fails} ]; then echo 'the registry is busy' >&2; exit 75; fi\necho '{{\"outputs\": {{}}}}'\n"
        ),
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let declarations = write(
        dir,
        "steps/custom-steps.yaml",
        "steps:\n- name: flaky\n  command: [./flaky.sh]\n",
    );
    let steps = write(
        dir,
        "steps.yaml",
        &format!(
            "steps:\n- uses: flaky\n  as: flaky\n  retry: {{errorThreshold: {threshold}}}\n- uses: file-write\n  as: after\n  config: {{path: after.txt, contents: once}}\n"
        ),
    );
    (steps, declarations)
}

/// The runs `flaky_promotion`'s step made.
fn flaky_runs(dir: &std::path::Path) -> usize {
    std::fs::read_to_string(dir.join("runs"))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

#[test]
fn a_retryable_error_exits_3_and_running_again_retries_the_step_until_it_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let (steps, declarations) = flaky_promotion(dir.path(), 2, 3);
    let wd = dir.path().join("wd");
    let args = [
        "run",
        "--steps",
        steps.to_str().unwrap(),
        "--workdir",
        wd.to_str().unwrap(),
        "--custom-steps",
        declarations.to_str().unwrap(),
    ];
    let first = kargo(dir.path(), &args);
    assert_eq!(first.code, 3, "{first:?}");
    assert_eq!(first.json()["phase"], "Running");
    assert_eq!(first.step_status("flaky"), "Running");
    assert!(
        first
            .step_message("flaky")
            .ends_with("; step will be retried"),
        "{first:?}"
    );
    assert!(
        first
            .stderr
            .contains("run the same command again to retry it"),
        "{first:?}"
    );
    assert_eq!(flaky_runs(dir.path()), 1, "one attempt per run, no loop");
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(wd.join(".kargo/promotion.json")).unwrap()).unwrap();
    assert_eq!(saved["state"]["steps"][0]["errorCount"], 1);
    assert!(saved["state"]["retryAt"].is_string(), "{saved}");

    // Run again at once: the step is retried without waiting for its
    // backoff, the error count kept.
    let second = kargo(dir.path(), &args);
    assert_eq!(second.code, 3, "{second:?}");
    assert_eq!(flaky_runs(dir.path()), 2);
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(wd.join(".kargo/promotion.json")).unwrap()).unwrap();
    assert_eq!(saved["state"]["steps"][0]["errorCount"], 2);

    let third = kargo(dir.path(), &args);
    assert_eq!(third.code, 0, "{third:?}");
    assert_eq!(third.json()["phase"], "Succeeded");
    assert_eq!(third.step_status("after"), "Succeeded");
    assert_eq!(flaky_runs(dir.path()), 3);
    assert!(!wd.join(".kargo").exists(), "the state file is gone");
}

#[test]
fn running_again_fails_the_promotion_once_the_error_threshold_is_met() {
    let dir = tempfile::tempdir().unwrap();
    let (steps, declarations) = flaky_promotion(dir.path(), 99, 2);
    let wd = dir.path().join("wd");
    let args = [
        "run",
        "--steps",
        steps.to_str().unwrap(),
        "--workdir",
        wd.to_str().unwrap(),
        "--custom-steps",
        declarations.to_str().unwrap(),
    ];
    assert_eq!(kargo(dir.path(), &args).code, 3);
    let second = kargo(dir.path(), &args);
    assert_eq!(second.code, 1, "{second:?}");
    assert_eq!(second.json()["phase"], "Errored");
    assert_eq!(second.step_status("flaky"), "Errored");
    let message = second.step_message("flaky");
    assert!(
        message.starts_with("step `flaky` met error threshold of 2: "),
        "{message}"
    );
    assert_eq!(second.step_status("after"), "Skipped");
    assert_eq!(flaky_runs(dir.path()), 2);
}

#[test]
fn secret_reads_a_generic_secret_given_with_credentials_and_names_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = write(
        dir.path(),
        "secrets.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: slack\n  namespace: demo\n  labels:\n    kargo.akuity.io/cred-type: generic\nstringData:\n  token: xoxb-1\n",
    );
    let steps = write(
        dir.path(),
        "steps.yaml",
        "steps:\n- uses: compose-output\n  as: hook\n  config:\n    header: Bearer ${{ secret('slack').token }}\n",
    );
    let run = |steps: &std::path::Path| {
        kargo(
            dir.path(),
            &[
                "run",
                "--steps",
                steps.to_str().unwrap(),
                "--project",
                "demo",
                "--credentials",
                secrets.to_str().unwrap(),
            ],
        )
    };
    let out = run(&steps);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["state"]["hook"]["header"], "Bearer xoxb-1");

    let missing = write(
        dir.path(),
        "missing.yaml",
        "steps:\n- uses: compose-output\n  as: hook\n  config:\n    header: Bearer ${{ secret('github').token }}\n",
    );
    let out = run(&missing);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.step_status("hook"), "Errored");
    let message = out.step_message("hook");
    assert!(
        message.contains("no Secret `github` was given to kargo-rs: pass it with --credentials"),
        "{message}"
    );
    assert!(!out.stdout.contains("xoxb-1"), "{out:?}");
}
