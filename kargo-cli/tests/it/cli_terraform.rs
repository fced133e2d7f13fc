//! The Terraform steps through `kargo run`: plan, apply the saved plan, read
//! the outputs, and hand one (a function URL) on to the app's values.
//!
//! These tests run the real Terraform binary that the steps find
//! (`KARGO_TERRAFORM`, else `tofu` or `terraform` on PATH); without one they
//! fail, telling how to install it.

use std::path::{Path, PathBuf};

use crate::support::{kargo, write};

const MAIN_TF: &str = r#"
variable "function_name" {
  type = string
}

variable "api_key" {
  type      = string
  default   = "sk-live-never-print-me"
  sensitive = true
}

locals {
  function_url = "https://${var.function_name}.lambda-url.eu-west-1.on.aws/"
}

output "function_url" {
  value = local.function_url
}

output "api_key" {
  value     = var.api_key
  sensitive = true
}
"#;

const SECRET: &str = "sk-live-never-print-me";

/// Plan, apply the reviewed plan, read the outputs.
const STEPS: &str = r#"
steps:
- uses: tf-plan
  as: plan
  config:
    dir: infra
    out: infra/release.tfplan
    vars:
    - name: function_name
      value: checkout-v2
- uses: tf-apply
  as: apply
  config:
    dir: infra
    plan: infra/release.tfplan
- uses: tf-output
  as: tf
  config:
    dir: infra
    out: out/terraform.json
"#;

/// The same, with the Freight's value going in through `vars` and the
/// function URL coming out into the app's Helm values through an expression
/// and `yaml-update` (the seed's hand-off from Terraform to Kubernetes).
const HANDOFF_STEPS: &str = r#"
vars:
- name: function
  value: checkout-v2
steps:
- uses: tf-plan
  as: plan
  config:
    dir: infra
    out: infra/release.tfplan
    vars:
    - name: function_name
      value: ${{ vars.function }}
- uses: tf-apply
  as: apply
  config:
    dir: infra
    plan: infra/release.tfplan
- uses: tf-output
  as: tf
  config:
    dir: infra
    name: function_url
- uses: yaml-update
  as: values
  config:
    path: app/values.yaml
    updates:
    - key: checkout.functionUrl
      value: ${{ outputs.tf.function_url }}
"#;

/// The app's Helm values before the promotion.
const VALUES: &str = "# checkout service\nimage:\n  tag: v1.4.0 # pinned by the image warehouse\ncheckout:\n  functionUrl: https://old.example.com/ # set by Terraform\n  replicas: 2\n";

const URL: &str = "https://checkout-v2.lambda-url.eu-west-1.on.aws/";

/// Fails (never skips) when no Terraform binary can be found.
fn require_terraform() {
    let on_path = |name: &str| {
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
    };
    let found = match std::env::var_os("KARGO_TERRAFORM") {
        Some(tf) if !tf.is_empty() => {
            PathBuf::from(&tf).is_file() || on_path(&tf.to_string_lossy())
        }
        _ => on_path("tofu") || on_path("terraform"),
    };
    assert!(
        found,
        "these tests need a Terraform binary: run scripts/install-terraform.sh and set \
         KARGO_TERRAFORM to the path it prints (or put terraform on PATH)"
    );
}

fn workdir(main_tf: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    require_terraform();
    let dir = tempfile::tempdir().unwrap();
    let wd = dir.path().join("wd");
    write(&wd, "infra/main.tf", main_tf);
    let steps = write(dir.path(), "steps.yaml", STEPS);
    (dir, wd, steps)
}

fn run(dir: &Path, steps: &Path, wd: &Path) -> crate::support::Output {
    kargo(
        dir,
        &[
            "run",
            "--steps",
            steps.to_str().unwrap(),
            "--workdir",
            wd.to_str().unwrap(),
        ],
    )
}

#[test]
fn terraform_plan_apply_output_run_as_one_promotion() {
    let (dir, wd, steps) = workdir(MAIN_TF);
    let out = run(dir.path(), &steps, &wd);
    assert_eq!(out.code, 0, "{out:?}");
    let json = out.json();
    assert_eq!(json["phase"], "Succeeded", "{json}");
    for alias in ["plan", "apply", "tf"] {
        assert_eq!(out.step_status(alias), "Succeeded", "{alias}: {json}");
    }
    let url = URL;
    assert!(
        json["state"]["plan"]["plan"]
            .as_str()
            .unwrap()
            .contains("function_url"),
        "{json}"
    );
    assert_eq!(
        json["state"]["plan"]["summary"]["outputs"]["function_url"],
        "create"
    );
    assert_eq!(json["state"]["tf"]["function_url"], url);
    assert_eq!(json["state"]["tf"]["api_key"], "<sensitive>");
    // The sensitive output is redacted in the printed JSON and in `out`.
    assert!(!out.stdout.contains(SECRET), "{}", out.stdout);
    assert!(!out.stderr.contains(SECRET), "{}", out.stderr);
    let written = std::fs::read_to_string(wd.join("out/terraform.json")).unwrap();
    assert!(!written.contains(SECRET), "{written}");
    // The state stays in the module's directory, to be committed.
    assert!(wd.join("infra/terraform.tfstate").is_file());

    // Promoting the same Freight again: nothing to change, the plan step is
    // Skipped and the promotion still succeeds.
    let again = run(dir.path(), &steps, &wd);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(again.step_status("plan"), "Skipped", "{again:?}");
    assert_eq!(again.json()["state"]["tf"]["function_url"], url);
}

#[test]
fn terraform_output_flows_into_values_yaml_through_one_steps_file() {
    let (dir, wd, _) = workdir(MAIN_TF);
    write(&wd, "app/values.yaml", VALUES);
    let steps = write(dir.path(), "handoff.yaml", HANDOFF_STEPS);
    let out = run(dir.path(), &steps, &wd);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.step_status("values"), "Succeeded", "{out:?}");
    assert_eq!(out.json()["state"]["tf"]["function_url"], URL);
    // Only the function URL changed; comments and other keys are kept.
    assert_eq!(
        std::fs::read_to_string(wd.join("app/values.yaml")).unwrap(),
        VALUES.replace("https://old.example.com/", URL)
    );
    assert!(!out.stdout.contains(SECRET), "{}", out.stdout);
}

#[test]
fn terraform_sensitive_output_is_printed_only_when_asked_for() {
    let (dir, wd, _) = workdir(MAIN_TF);
    let steps = write(
        dir.path(),
        "sensitive.yaml",
        r#"
steps:
- uses: tf-apply
  config:
    dir: infra
    vars:
    - name: function_name
      value: f
- uses: tf-output
  as: hidden
  config: {dir: infra, name: api_key}
- uses: tf-output
  as: shown
  config: {dir: infra, name: api_key, sensitive: true}
"#,
    );
    let out = run(dir.path(), &steps, &wd);
    assert_eq!(out.code, 0, "{out:?}");
    let json = out.json();
    assert_eq!(json["state"]["hidden"]["api_key"], "<sensitive>");
    assert_eq!(json["state"]["shown"]["api_key"], SECRET);
}

#[test]
fn terraform_broken_hcl_fails_the_promotion_with_terraforms_error() {
    let (dir, wd, steps) = workdir("variable \"function_name\" {\n  type = \n}\n");
    let out = run(dir.path(), &steps, &wd);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.json()["phase"], "Failed");
    assert_eq!(out.step_status("plan"), "Failed");
    let message = out.step_message("plan");
    assert!(message.contains("Invalid expression"), "{message}");
    assert_eq!(out.step_status("apply"), "Skipped");
    assert!(!wd.join("infra/release.tfplan").exists());
    assert!(!wd.join("infra/terraform.tfstate").exists());
}

#[test]
fn terraform_missing_binary_is_a_clear_step_error() {
    let dir = tempfile::tempdir().unwrap();
    let wd = dir.path().join("wd");
    write(&wd, "infra/main.tf", MAIN_TF);
    let steps = write(
        dir.path(),
        "steps.yaml",
        "steps:\n- uses: tf-plan\n  as: plan\n  config: {dir: infra, binary: no-such-terraform}\n",
    );
    let out = run(dir.path(), &steps, &wd);
    assert_eq!(out.code, 1, "{out:?}");
    let message = out.step_message("plan");
    assert!(
        message.contains("no Terraform binary found") && message.contains("no-such-terraform"),
        "{message}"
    );
}
