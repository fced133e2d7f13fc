//! Tests of the Terraform steps. Those that run Terraform use the real
//! binary found as the steps find it (`KARGO_TERRAFORM`, else `tofu` or
//! `terraform` on PATH); `scripts/install-terraform.sh` installs one. A
//! missing binary fails these tests, it never skips them.

use std::path::{Path, PathBuf};

use kargo_core::Workspace;
use kargo_core::model::StepStatus;
use kargo_core::step::{Step, StepContext, StepError, StepOutcome, StepRegistry};
use serde_json::{Value, json};

use super::*;

/// The root module of the tests: a variable, a local, a plain output (a
/// function URL) and a sensitive one. No resources, so no provider and no
/// network.
const MAIN_TF: &str = r#"
variable "name" {
  type    = string
  default = "world"
}

variable "secret" {
  type      = string
  default   = "hunter2-not-for-logs"
  sensitive = true
}

locals {
  url = "https://${var.name}.functions.example.com/run"
}

output "function_url" {
  value = local.url
}

output "token" {
  value     = var.secret
  sensitive = true
}
"#;

const SECRET: &str = "hunter2-not-for-logs";

/// Fails (never skips) when there is no Terraform binary to test with.
fn require_terraform() -> PathBuf {
    let dir = tempfile::tempdir().expect("temp dir");
    let ws = Workspace::new(dir.path()).expect("workspace");
    match binary::locate(&ws, None, &|k| std::env::var_os(k)) {
        Ok(path) => path,
        Err(e) => panic!(
            "these tests need a Terraform binary: run scripts/install-terraform.sh and set \
             KARGO_TERRAFORM to the path it prints (or put terraform on PATH). {e}"
        ),
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    ctx: StepContext,
}

impl Fixture {
    /// A work dir with `infra/main.tf`.
    fn new(main_tf: &str) -> Fixture {
        require_terraform();
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("infra")).expect("mkdir");
        std::fs::write(dir.path().join("infra/main.tf"), main_tf).expect("write main.tf");
        let ctx = StepContext::new(Workspace::new(dir.path()).expect("workspace"));
        Fixture { dir, ctx }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    async fn run(&self, step: &dyn Step, config: Value) -> Result<StepOutcome, StepError> {
        step.run(&self.ctx, config).await
    }

    async fn ok(&self, step: &dyn Step, config: Value) -> StepOutcome {
        match self.run(step, config.clone()).await {
            Ok(outcome) => outcome,
            Err(e) => panic!("step failed with {config}: {e}"),
        }
    }
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn terraform_plan_with_changes_succeeds_and_names_the_changed_output() {
    let f = Fixture::new(MAIN_TF);
    let outcome = f
        .ok(
            &TfPlan::new(),
            json!({
                "dir": "infra",
                "out": "plans/app.tfplan",
                "vars": [{"name": "name", "value": "fn1"}],
            }),
        )
        .await;
    assert_eq!(outcome.status, StepStatus::Succeeded, "{outcome:?}");
    let plan = outcome.output["plan"].as_str().expect("plan text");
    assert!(plan.contains("function_url"), "{plan}");
    assert!(
        plan.contains("https://fn1.functions.example.com/run"),
        "{plan}"
    );
    assert!(!plan.contains('\u{1b}'), "ANSI escapes in {plan}");
    assert!(!plan.contains(SECRET), "{plan}");
    assert_eq!(outcome.output["planTruncated"].as_str(), Some(plan));
    assert_eq!(
        outcome.output["summary"],
        json!({"add": 0, "change": 0, "destroy": 0,
               "outputs": {"function_url": "create", "token": "create"}})
    );
    assert!(
        outcome
            .message
            .as_deref()
            .is_some_and(|m| m.contains("function_url")),
        "{outcome:?}"
    );
    // The plan file is where `out` says, and no temporary file is left.
    assert!(f.path("plans/app.tfplan").is_file());
    assert_eq!(entries(&f.path("plans")), ["app.tfplan"]);
    assert!(
        !serde_json::to_string(&outcome.output)
            .unwrap()
            .contains(SECRET)
    );
}

#[tokio::test]
async fn terraform_plan_without_changes_is_skipped() {
    let f = Fixture::new(MAIN_TF);
    f.ok(&TfApply::new(), json!({"dir": "infra"})).await;
    let outcome = f
        .ok(
            &TfPlan::new(),
            json!({"dir": "infra", "out": "again.tfplan"}),
        )
        .await;
    assert_eq!(outcome.status, StepStatus::Skipped, "{outcome:?}");
    assert_eq!(
        outcome.output["summary"],
        json!({"add": 0, "change": 0, "destroy": 0, "outputs": {}})
    );
    assert!(
        outcome.output["plan"]
            .as_str()
            .unwrap()
            .contains("No changes"),
        "{outcome:?}"
    );
    // Still saved, so that a following tf-apply of it works (and does nothing).
    assert!(f.path("again.tfplan").is_file());
    let applied = f
        .ok(
            &TfApply::new(),
            json!({"dir": "infra", "plan": "again.tfplan"}),
        )
        .await;
    assert_eq!(applied.status, StepStatus::Succeeded, "{applied:?}");
}

#[tokio::test]
async fn terraform_apply_of_the_saved_plan_then_output_returns_the_value() {
    let f = Fixture::new(MAIN_TF);
    let planned = f
        .ok(
            &TfPlan::new(),
            json!({
                "dir": "infra",
                "out": "infra/app.tfplan",
                "vars": [{"name": "name", "value": "checkout"}],
            }),
        )
        .await;
    assert_eq!(planned.status, StepStatus::Succeeded);
    let applied = f
        .ok(
            &TfApply::new(),
            json!({"dir": "infra", "plan": "infra/app.tfplan"}),
        )
        .await;
    assert_eq!(applied.status, StepStatus::Succeeded, "{applied:?}");
    let result = applied.output["result"].as_str().expect("result");
    assert!(result.contains("Apply complete!"), "{result}");
    assert!(!result.contains(SECRET), "{result}");
    // Local backend: the state sits in the module's directory, ready to be
    // committed.
    assert!(f.path("infra/terraform.tfstate").is_file());

    let output = f
        .ok(
            &TfOutput::new(),
            json!({"dir": "infra", "name": "function_url"}),
        )
        .await;
    assert_eq!(output.status, StepStatus::Succeeded, "{output:?}");
    assert_eq!(
        Value::Object(output.output),
        json!({"function_url": "https://checkout.functions.example.com/run"})
    );
}

#[tokio::test]
async fn terraform_output_redacts_sensitive_values_unless_asked() {
    let f = Fixture::new(MAIN_TF);
    f.ok(&TfApply::new(), json!({"dir": "infra"})).await;

    let all = f
        .ok(
            &TfOutput::new(),
            json!({"dir": "infra", "out": "out/tf.json"}),
        )
        .await;
    assert_eq!(
        Value::Object(all.output.clone()),
        json!({
            "function_url": "https://world.functions.example.com/run",
            "token": output::REDACTED,
        })
    );
    assert!(!format!("{all:?}").contains(SECRET));
    let written = std::fs::read_to_string(f.path("out/tf.json")).expect("out file");
    assert!(!written.contains(SECRET), "{written}");
    assert_eq!(
        serde_json::from_str::<Value>(&written).unwrap(),
        Value::Object(all.output)
    );
    assert_eq!(entries(&f.path("out")), ["tf.json"]);

    let one = f
        .ok(
            &TfOutput::new(),
            json!({"dir": "infra", "name": "token", "sensitive": true}),
        )
        .await;
    assert_eq!(Value::Object(one.output), json!({"token": SECRET}));
}

#[tokio::test]
async fn terraform_output_reads_a_given_state_file() {
    let f = Fixture::new(MAIN_TF);
    f.ok(
        &TfApply::new(),
        json!({"dir": "infra", "vars": [{"name": "name", "value": "st"}]}),
    )
    .await;
    std::fs::create_dir(f.path("elsewhere")).unwrap();
    std::fs::rename(
        f.path("infra/terraform.tfstate"),
        f.path("elsewhere/prod.tfstate"),
    )
    .unwrap();
    let out = f
        .ok(
            &TfOutput::new(),
            json!({"dir": "infra", "state": "elsewhere/prod.tfstate", "name": "function_url"}),
        )
        .await;
    assert_eq!(
        Value::Object(out.output),
        json!({"function_url": "https://st.functions.example.com/run"})
    );
    let err = f
        .run(
            &TfOutput::new(),
            json!({"dir": "infra", "state": "elsewhere/prod.tfstate", "name": "nope"}),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("`nope` not found") && err.to_string().contains("function_url"),
        "{err}"
    );
}

#[tokio::test]
async fn terraform_vars_files_and_values_apply_in_order() {
    let f = Fixture::new(MAIN_TF);
    std::fs::write(f.path("a.tfvars"), "name = \"from-file\"\n").unwrap();
    let applied = f
        .ok(
            &TfApply::new(),
            json!({
                "dir": "infra",
                "vars": [{"name": "name", "value": "first"}, {"file": "a.tfvars"}],
                "env": [{"name": "TF_LOG", "value": ""}],
            }),
        )
        .await;
    assert!(
        applied.output["result"]
            .as_str()
            .unwrap()
            .contains("https://from-file.functions.example.com/run"),
        "{applied:?}"
    );
    let applied = f
        .ok(
            &TfApply::new(),
            json!({
                "dir": "infra",
                "vars": [{"file": "a.tfvars"}, {"name": "name", "value": "last"}],
            }),
        )
        .await;
    assert!(
        applied.output["result"]
            .as_str()
            .unwrap()
            .contains("https://last.functions.example.com/run"),
        "{applied:?}"
    );
}

#[tokio::test]
async fn terraform_broken_hcl_fails_with_terraforms_own_error() {
    let f = Fixture::new("output \"x\" {\n  value = \n}\n");
    let outcome = f
        .ok(&TfPlan::new(), json!({"dir": "infra", "out": "x.tfplan"}))
        .await;
    assert_eq!(outcome.status, StepStatus::Failed, "{outcome:?}");
    let message = outcome.message.unwrap_or_default();
    assert!(message.contains("Invalid expression"), "{message}");
    assert!(message.contains("main.tf line 2"), "{message}");
    assert!(!f.path("x.tfplan").exists());
    assert_eq!(entries(f.dir.path()), ["infra"]);
}

#[tokio::test]
async fn terraform_stale_saved_plan_fails() {
    let f = Fixture::new(MAIN_TF);
    f.ok(&TfApply::new(), json!({"dir": "infra"})).await;
    f.ok(
        &TfPlan::new(),
        json!({"dir": "infra", "out": "p1", "vars": [{"name": "name", "value": "p1"}]}),
    )
    .await;
    f.ok(
        &TfApply::new(),
        json!({"dir": "infra", "vars": [{"name": "name", "value": "moved"}]}),
    )
    .await;
    let outcome = f
        .ok(&TfApply::new(), json!({"dir": "infra", "plan": "p1"}))
        .await;
    assert_eq!(outcome.status, StepStatus::Failed, "{outcome:?}");
    assert!(
        outcome.message.as_deref().unwrap_or("").contains("stale"),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn terraform_missing_binary_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("infra")).unwrap();
    let ctx = StepContext::new(Workspace::new(dir.path()).unwrap());
    let err = TfPlan::new()
        .run(
            &ctx,
            json!({"dir": "infra", "binary": "no-such-terraform-binary"}),
        )
        .await
        .unwrap_err();
    assert!(!err.is_retryable());
    let msg = err.to_string();
    assert!(msg.contains("no Terraform binary found"), "{msg}");
    assert!(msg.contains("no-such-terraform-binary"), "{msg}");
}

#[tokio::test]
async fn terraform_cancelled_step_stops() {
    let f = Fixture::new(MAIN_TF);
    f.ctx.cancel.cancel();
    let err = f
        .run(&TfPlan::new(), json!({"dir": "infra"}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cancelled"), "{err}");
}

#[tokio::test]
async fn terraform_paths_stay_in_the_work_dir() {
    let f = Fixture::new(MAIN_TF);
    for config in [
        json!({"dir": "../infra"}),
        json!({"dir": "infra", "out": "/tmp/x.tfplan"}),
        json!({"dir": "infra", "vars": [{"file": "../secrets.tfvars"}]}),
    ] {
        let err = f.run(&TfPlan::new(), config.clone()).await.unwrap_err();
        assert!(!err.is_retryable(), "{config}: {err}");
        assert!(
            err.to_string().contains("work directory"),
            "{config}: {err}"
        );
    }
    let err = f
        .run(
            &TfOutput::new(),
            json!({"dir": "infra", "out": "../o.json"}),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("leaves the work directory"),
        "{err}"
    );
}

// Configs: Kargo-style examples deserialize, unknown keys are rejected.

#[test]
fn terraform_documented_configs_deserialize() {
    let plan: plan::Config = serde_json::from_value(json!({
        "dir": "infra/prod",
        "out": "infra/prod/app.tfplan",
        "vars": [{"file": "infra/prod/prod.tfvars"}, {"name": "image_tag", "value": "1.2.3"},
                 {"name": "replicas", "value": 3}],
        "env": [{"name": "AWS_REGION", "value": "eu-west-1"}, {"name": "TF_LOG_LEVEL", "value": 1}],
        "binary": "tofu",
    }))
    .unwrap();
    assert_eq!(plan.vars[0], Var::File("infra/prod/prod.tfvars".into()));
    assert_eq!(
        plan.vars[2],
        Var::Value {
            name: "replicas".into(),
            value: json!(3)
        }
    );
    assert_eq!(plan.env[1], EnvVar::new("TF_LOG_LEVEL", "1"));
    let back = serde_json::to_value(&plan).unwrap();
    assert_eq!(serde_json::from_value::<plan::Config>(back).unwrap(), plan);

    let apply: apply::Config =
        serde_json::from_value(json!({"dir": "infra/prod", "plan": "infra/prod/app.tfplan"}))
            .unwrap();
    assert_eq!(apply.plan.as_deref(), Some("infra/prod/app.tfplan"));
    let output: output::Config = serde_json::from_value(json!({
        "dir": "infra/prod", "name": "function_url", "out": "out.json",
        "state": "infra/prod/terraform.tfstate", "sensitive": false,
    }))
    .unwrap();
    assert_eq!(output.name.as_deref(), Some("function_url"));
}

#[tokio::test]
async fn terraform_unknown_or_mixed_config_keys_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = StepContext::new(Workspace::new(dir.path()).unwrap());
    let cases: [(&dyn Step, Value, &str); 6] = [
        (
            &TfPlan::new(),
            json!({"dir": "x", "outPath": "p"}),
            "outPath",
        ),
        (
            &TfApply::new(),
            json!({"dir": "x", "planFile": "p"}),
            "planFile",
        ),
        (
            &TfOutput::new(),
            json!({"dir": "x", "names": ["a"]}),
            "names",
        ),
        (
            &TfPlan::new(),
            json!({"dir": "x", "vars": [{"file": "a", "name": "b", "value": 1}]}),
            "either",
        ),
        (
            &TfPlan::new(),
            json!({"dir": "x", "vars": [{"name": "b", "valu": 1}]}),
            "valu",
        ),
        (
            &TfApply::new(),
            json!({"dir": "x", "plan": "p", "vars": [{"name": "b", "value": 1}]}),
            "exclude",
        ),
    ];
    for (step, config, word) in cases {
        let err = step.run(&ctx, config.clone()).await.unwrap_err();
        assert!(!err.is_retryable(), "{config}");
        assert!(err.to_string().contains(word), "{config}: {err}");
    }
}

#[test]
fn terraform_config_debug_hides_values() {
    let mut config = plan::Config::new("infra");
    config.vars.push(Var::Value {
        name: "db_password".into(),
        value: json!("pa55"),
    });
    config.env.push(EnvVar::new("AWS_SECRET_ACCESS_KEY", "k3y"));
    let debug = format!("{config:?}");
    assert!(debug.contains("db_password") && debug.contains("AWS_SECRET_ACCESS_KEY"));
    assert!(!debug.contains("pa55") && !debug.contains("k3y"), "{debug}");
}

#[test]
fn terraform_summary_counts_resources_like_terraforms_plan_line() {
    let show = json!({
        "resource_changes": [
            {"change": {"actions": ["create"]}},
            {"change": {"actions": ["create"]}},
            {"change": {"actions": ["update"]}},
            {"change": {"actions": ["delete", "create"]}},
            {"change": {"actions": ["create", "delete"]}},
            {"change": {"actions": ["delete"]}},
            {"change": {"actions": ["no-op"]}},
            {"change": {"actions": ["read"]}},
        ],
        "output_changes": {
            "a": {"actions": ["create"]},
            "b": {"actions": ["no-op"]},
            "c": {"actions": ["update"]},
            "d": {"actions": ["delete"]},
        }
    });
    let summary = plan::Summary::from_show_json(&show);
    assert_eq!((summary.add, summary.change, summary.destroy), (4, 1, 3));
    assert_eq!(
        serde_json::to_value(&summary.outputs).unwrap(),
        json!({"a": "create", "c": "update", "d": "delete"})
    );
    assert_eq!(
        summary.to_string(),
        "4 to add, 1 to change, 3 to destroy; outputs changing: a, c, d"
    );
}

#[test]
fn terraform_steps_are_registered_as_builtins() {
    let mut registry = StepRegistry::new();
    crate::register_builtins(&mut registry);
    for kind in [plan::KIND, apply::KIND, output::KIND] {
        assert!(registry.get(kind).is_some(), "{kind}");
    }
}
