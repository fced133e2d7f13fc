//! Custom steps run real shell scripts written into a temporary directory.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kargo_core::Workspace;
use kargo_core::model::StepStatus;
use kargo_core::step::{ErrorKind, Step, StepContext, StepRegistry};
use serde_json::json;

use super::{Declarations, Error, ProcessStep};

struct Fixture {
    _dir: tempfile::TempDir,
    scripts: PathBuf,
    ctx: StepContext,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    let work = dir.path().join("work");
    std::fs::create_dir_all(&scripts).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    let ctx = StepContext::new(Workspace::new(&work).unwrap()).with_names("proj", "dev", "dev.1");
    Fixture {
        _dir: dir,
        scripts,
        ctx,
    }
}

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[tokio::test]
async fn config_goes_in_on_stdin_and_outputs_come_back_from_stdout() {
    let f = fixture();
    // Echoes the config back as an output, with its working directory.
    let program = script(
        &f.scripts,
        "echo.sh",
        r#"config=$(cat)
printf '{"outputs": {"config": %s, "cwd": "%s", "stage": "%s"}}' "$config" "$(pwd)" "$KARGO_STAGE"
"#,
    );
    let outcome = ProcessStep::new("echo", program)
        .run(&f.ctx, json!({"image": "app", "tag": "1.2.3"}))
        .await
        .unwrap();
    assert_eq!(outcome.status, StepStatus::Succeeded);
    assert_eq!(
        outcome.output["config"],
        json!({"image": "app", "tag": "1.2.3"})
    );
    let cwd = std::fs::canonicalize(f.ctx.workspace.root()).unwrap();
    assert_eq!(outcome.output["cwd"], json!(cwd.display().to_string()));
    assert_eq!(outcome.output["stage"], "dev");
}

#[tokio::test]
async fn a_result_in_kargo_output_wins_over_stdout() {
    let f = fixture();
    let program = script(
        &f.scripts,
        "file.sh",
        r#"echo "chatter that is not JSON"
echo '{"outputs": {"from": "file"}, "message": "wrote it"}' > "$KARGO_OUTPUT"
"#,
    );
    let outcome = ProcessStep::new("file", program)
        .run(&f.ctx, json!({}))
        .await
        .unwrap();
    assert_eq!(outcome.output["from"], "file");
    assert_eq!(outcome.message.as_deref(), Some("wrote it"));
}

#[tokio::test]
async fn a_command_reports_running_skipped_and_failed() {
    let f = fixture();
    let cases = [
        (
            r#"{"status": "Running", "retryAfter": "2s"}"#,
            StepStatus::Running,
        ),
        (r#"{"status": "Skipped"}"#, StepStatus::Skipped),
        (
            r#"{"status": "Failed", "message": "policy says no"}"#,
            StepStatus::Failed,
        ),
        ("", StepStatus::Succeeded),
    ];
    for (i, (report, status)) in cases.into_iter().enumerate() {
        let program = script(
            &f.scripts,
            &format!("s{i}.sh"),
            &format!("echo '{report}'\n"),
        );
        let outcome = ProcessStep::new("s", program)
            .run(&f.ctx, json!({}))
            .await
            .unwrap();
        assert_eq!(outcome.status, status, "{report}");
        if status == StepStatus::Running {
            assert_eq!(outcome.retry_after, Some(Duration::from_secs(2)));
        }
        if status == StepStatus::Failed {
            assert_eq!(outcome.message.as_deref(), Some("policy says no"));
        }
    }
}

#[tokio::test]
async fn a_non_zero_exit_fails_with_the_end_of_stderr() {
    let f = fixture();
    let program = script(
        &f.scripts,
        "fail.sh",
        "i=0; while [ $i -lt 500 ]; do echo \"noise $i\" >&2; i=$((i+1)); done\necho 'deploy refused: quota' >&2\nexit 3\n",
    );
    let err = ProcessStep::new("deploy", program)
        .run(&f.ctx, json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Failed);
    let message = err.to_string();
    assert!(message.contains("exited with code 3"), "{message}");
    assert!(message.ends_with("deploy refused: quota"), "{message}");
    assert!(!message.contains("noise 0\n"), "only the tail: {message}");
}

#[tokio::test]
async fn exit_75_is_retryable() {
    let f = fixture();
    let program = script(&f.scripts, "later.sh", "echo busy >&2; exit 75\n");
    let err = ProcessStep::new("later", program)
        .run(&f.ctx, json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Retryable, "{err}");
}

#[tokio::test]
async fn an_invalid_report_names_the_field() {
    let f = fixture();
    let program = script(&f.scripts, "bad.sh", "echo '{\"output\": {}}'\n");
    let err = ProcessStep::new("bad", program)
        .run(&f.ctx, json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Failed);
    assert!(err.to_string().contains("unknown field `output`"), "{err}");
}

#[tokio::test]
async fn the_environment_holds_only_path_listed_and_kargo_variables() {
    let f = fixture();
    let program = script(
        &f.scripts,
        "env.sh",
        r#"env | cut -d= -f1 | sort | tr '\n' ' ' > "$KARGO_WORKDIR/env.txt""#,
    );
    let outcome = ProcessStep::new("env", program)
        .with_env("HOME")
        .with_env("KARGO_TEST_UNSET_VARIABLE")
        .run(&f.ctx, json!({}))
        .await;
    outcome.unwrap();
    let names = std::fs::read_to_string(f.ctx.workspace.root().join("env.txt")).unwrap();
    let names: Vec<&str> = names
        .split_whitespace()
        .filter(|n| !["PWD", "SHLVL", "_", "OLDPWD"].contains(n))
        .collect();
    let home: &[&str] = if std::env::var_os("HOME").is_some() {
        &["HOME"]
    } else {
        &[]
    };
    let mut expected = [
        "KARGO_ALIAS",
        "KARGO_ATTEMPT",
        "KARGO_OUTPUT",
        "KARGO_PROJECT",
        "KARGO_PROMOTION",
        "KARGO_STAGE",
        "KARGO_STEP",
        "KARGO_WORKDIR",
        "PATH",
    ]
    .to_vec();
    expected.extend_from_slice(home);
    expected.sort();
    assert_eq!(
        names, expected,
        "only PATH, the listed HOME and KARGO_* reach the command"
    );
}

#[tokio::test]
async fn a_command_past_its_timeout_is_killed_and_retryable() {
    let f = fixture();
    let program = script(&f.scripts, "slow.sh", "sleep 30\n");
    let err = ProcessStep::new("slow", program)
        .with_timeout(Duration::from_millis(200))
        .run(&f.ctx, json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Retryable);
    assert!(err.to_string().contains("did not finish within"), "{err}");
}

#[tokio::test]
async fn a_missing_program_is_a_terminal_error() {
    let f = fixture();
    let err = ProcessStep::new("gone", f.scripts.join("missing.sh"))
        .run(&f.ctx, json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Terminal);
    assert!(err.to_string().contains("missing.sh"), "{err}");
}

#[test]
fn declarations_resolve_relative_programs_and_register() {
    let f = fixture();
    script(&f.scripts, "notify.sh", "exit 0\n");
    let file = f.scripts.join("steps.yaml");
    std::fs::write(
        &file,
        "steps:\n- name: notify\n  command: [./notify.sh, --channel, ops]\n  env: [SLACK_WEBHOOK]\n  timeout: 2m\n- name: lint\n  command: [true]\n",
    )
    .unwrap();
    let steps = Declarations::load(&file).unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0].program(), f.scripts.join("./notify.sh"));
    assert_eq!(steps[1].program(), Path::new("true"));
    assert_eq!(steps[0].timeout, Duration::from_secs(120));
    let mut registry = StepRegistry::new();
    Declarations::register(steps, &mut registry).unwrap();
    assert!(registry.get("notify").is_some() && registry.get("lint").is_some());
}

#[test]
fn bad_declarations_are_rejected_with_the_file_and_field() {
    let f = fixture();
    let cases = [
        (
            "steps:\n- name: a\n  command: [x]\n  timeout: 1m\n  shell: bash\n",
            "unknown field `shell`",
        ),
        ("steps:\n- name: a\n  command: []\n", "`command` is empty"),
        (
            "steps:\n- name: a\n  command: [x]\n- name: a\n  command: [y]\n",
            "declared twice",
        ),
    ];
    for (i, (text, expected)) in cases.into_iter().enumerate() {
        let file = f.scripts.join(format!("bad{i}.yaml"));
        std::fs::write(&file, text).unwrap();
        let err = Declarations::load(&file).unwrap_err().to_string();
        assert!(err.contains(expected), "{err}");
        assert!(err.contains(&format!("bad{i}.yaml")), "{err}");
    }
    let mut registry = StepRegistry::new();
    crate::register_builtins(&mut registry);
    let err =
        Declarations::register(vec![ProcessStep::new("fail", "true")], &mut registry).unwrap_err();
    assert!(matches!(err, Error::Taken { .. }), "{err}");
}

#[test]
fn debug_output_leaves_out_arguments() {
    let step = ProcessStep::new("x", "curl").with_args(["--token", "s3cr3t"]);
    assert!(!format!("{step:?}").contains("s3cr3t"));
}
