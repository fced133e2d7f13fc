//! Out-of-process custom steps in `kargo run`: a shell script declared in a
//! `--custom-steps` file runs inside the promotion, and its outputs feed
//! the next step.

use std::os::unix::fs::PermissionsExt;

use crate::support::{kargo, write};

/// A custom step that "resolves" a release: reads its config from stdin,
/// checks a file the promotion wrote before it, and reports outputs.
const RESOLVE_SH: &str = r#"#!/bin/sh
set -eu
config=$(cat)
app=$(printf '%s' "$config" | sed -n 's/.*"app": *"\([^"]*\)".*/\1/p')
test -f out/ready.txt || { echo "out/ready.txt is missing" >&2; exit 2; }
printf '{"outputs": {"version": "2.4.%s", "app": "%s", "stage": "%s"}, "message": "resolved"}' \
  "$KARGO_ATTEMPT" "$app" "$KARGO_STAGE" > "$KARGO_OUTPUT"
"#;

fn setup() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let script = write(dir.path(), "steps/resolve.sh", RESOLVE_SH);
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let declarations = write(
        dir.path(),
        "steps/custom-steps.yaml",
        "steps:\n- name: resolve-release\n  command: [./resolve.sh]\n  timeout: 30s\n",
    );
    (dir, declarations)
}

#[test]
fn a_shell_script_step_runs_in_a_promotion_and_feeds_the_next_step() {
    let (dir, declarations) = setup();
    let steps = write(
        dir.path(),
        "promotion.yaml",
        r#"vars:
- name: app
  value: guestbook
steps:
- uses: file-write
  config:
    path: out/ready.txt
    contents: ready
- uses: resolve-release
  as: resolve
  config:
    app: ${{ vars.app }}
- uses: file-write
  config:
    path: out/version.txt
    contents: ${{ outputs.resolve.app }}@${{ outputs.resolve.version }} in ${{ outputs.resolve.stage }}
"#,
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
            "--stage",
            "staging",
            "--custom-steps",
            declarations.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let json = out.json();
    assert_eq!(json["phase"], "Succeeded");
    assert_eq!(out.step_status("resolve"), "Succeeded");
    assert_eq!(out.step_message("resolve"), "resolved");
    assert_eq!(json["state"]["resolve"]["version"], "2.4.0");
    assert_eq!(
        std::fs::read_to_string(wd.join("out/version.txt")).unwrap(),
        "guestbook@2.4.0 in staging"
    );
}

#[test]
fn a_failing_script_fails_the_promotion_with_its_stderr() {
    let (dir, declarations) = setup();
    // No out/ready.txt: the script exits 2 with a message on stderr.
    let steps = write(
        dir.path(),
        "promotion.yaml",
        "steps:\n- uses: resolve-release\n  as: resolve\n  config:\n    app: x\n",
    );
    let out = kargo(
        dir.path(),
        &[
            "run",
            "--steps",
            steps.to_str().unwrap(),
            "--custom-steps",
            declarations.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.json()["phase"], "Failed");
    let message = out.step_message("resolve");
    assert!(message.contains("exited with code 2"), "{message}");
    assert!(message.contains("out/ready.txt is missing"), "{message}");
}

#[test]
fn a_custom_step_without_its_declaration_file_is_unusable_input() {
    let (dir, _) = setup();
    let steps = write(
        dir.path(),
        "promotion.yaml",
        "steps:\n- uses: resolve-release\n",
    );
    let missing = dir.path().join("nope.yaml");
    let out = kargo(
        dir.path(),
        &[
            "run",
            "--steps",
            steps.to_str().unwrap(),
            "--custom-steps",
            missing.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stdout.is_empty());
    assert!(out.stderr.contains("nope.yaml"), "{}", out.stderr);
}

#[test]
fn a_script_reporting_running_makes_the_promotion_wait_and_resume() {
    let dir = tempfile::tempdir().unwrap();
    // Running on the first run (it leaves a marker), Succeeded on the next.
    let script = write(
        dir.path(),
        "steps/gate.sh",
        r#"#!/bin/sh
if [ ! -e gate-seen ]; then
  touch gate-seen
  echo '{"status": "Running", "retryAfter": "1s", "message": "waiting for the change window"}'
else
  echo "{\"outputs\": {\"attempt\": $KARGO_ATTEMPT}}"
fi
"#,
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let declarations = write(
        dir.path(),
        "steps/custom-steps.yaml",
        "steps:\n- name: change-window\n  command: [./gate.sh]\n",
    );
    let steps = write(
        dir.path(),
        "promotion.yaml",
        "steps:\n- uses: change-window\n  as: gate\n",
    );
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
    assert_eq!(first.step_message("gate"), "waiting for the change window");

    let second = kargo(dir.path(), &args);
    assert_eq!(second.code, 0, "{second:?}");
    assert_eq!(second.json()["phase"], "Succeeded");
    assert!(second.json()["state"]["gate"]["attempt"].is_number());
}
