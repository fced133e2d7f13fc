//! A promotion through a pull request on the local provider, end to end
//! through the `kargo` binary: plan with Terraform, push the values change
//! to a generated branch, open a pull request whose description holds the
//! plan, wait (exit 3), let a person merge it with `kargo pr merge`, and run
//! the promotion again: it resumes from its saved state and succeeds with
//! the merge commit.
//!
//! Needs a Terraform binary (`KARGO_TERRAFORM`, see
//! scripts/install-terraform.sh) and the git CLI.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Output, git, kargo_bin, write};

/// `kargo` with its git cache (and the local provider's working
/// repositories) inside the test's directory.
fn kargo(root: &Path, args: &[&str]) -> Output {
    let out = Command::new(kargo_bin())
        .args(args)
        .current_dir(root)
        .env("KARGO_GIT_CACHE", root.join("cache"))
        .env_remove("KARGO_LOG")
        .output()
        .unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

const MAIN_TF: &str = r#"
variable "replicas" {
  type = number
}

output "replicas" {
  value = var.replicas
}
"#;

const STEPS: &str = r#"
vars:
- name: repoURL
- name: replicas
  value: "3"
steps:
- uses: tf-plan
  as: plan
  config:
    dir: infra
    vars:
    - name: replicas
      value: ${{ vars.replicas }}
- uses: git-clone
  as: clone
  config:
    repoURL: ${{ vars.repoURL }}
    checkout:
    - branch: main
      path: ./out
- uses: yaml-update
  as: edit
  config:
    path: ./out/values.yaml
    updates:
    - key: replicas
      value: ${{ vars.replicas }}
- uses: git-commit
  as: commit
  config:
    path: ./out
    message: Scale to ${{ vars.replicas }} replicas
- uses: git-push
  as: push
  config:
    path: ./out
    generateTargetBranch: true
- uses: git-open-pr
  as: open-pr
  config:
    repoURL: ${{ vars.repoURL }}
    provider: local
    sourceBranch: ${{ outputs.push.branch }}
    targetBranch: main
    title: Scale prod to ${{ vars.replicas }}
    description: |
      Terraform plan:
      ${{ outputs.plan.planTruncated }}
- uses: git-wait-for-pr
  as: wait-for-pr
  config:
    repoURL: ${{ vars.repoURL }}
    provider: local
    prNumber: ${{ outputs['open-pr'].pr.id }}
    pollInterval: 10s
"#;

fn require_terraform() {
    let set = std::env::var_os("KARGO_TERRAFORM").is_some_and(|t| PathBuf::from(t).is_file());
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path)
            .any(|d| d.join("terraform").is_file() || d.join("tofu").is_file())
    });
    assert!(
        set || on_path,
        "this test needs Terraform: run scripts/install-terraform.sh and set KARGO_TERRAFORM to the path it prints"
    );
}

/// A bare repository whose `main` holds `values.yaml`.
fn repo(root: &Path) -> PathBuf {
    let bare = kargo_test_support::git::init_bare(&root.join("deploy.git"));
    let seed = root.join("seed");
    std::fs::create_dir_all(&seed).unwrap();
    git(&seed, &["init", "-q", "--initial-branch=main"]);
    write(
        &seed,
        "values.yaml",
        "# prod\nreplicas: 2 # scaled by kargo\n",
    );
    git(&seed, &["add", "-A"]);
    git(&seed, &["commit", "-q", "-m", "seed"]);
    git(&seed, &["push", "-q", bare.to_str().unwrap(), "main"]);
    bare
}

#[test]
fn promotion_waits_for_the_pull_request_then_resumes_with_the_merge_commit() {
    require_terraform();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let bare = repo(root);
    let url = format!("file://{}", bare.display());
    let wd = root.join("wd");
    write(&wd, "infra/main.tf", MAIN_TF);
    let steps = write(root, "steps.yaml", STEPS);
    let run_args = [
        "run",
        "--steps",
        steps.to_str().unwrap(),
        "--workdir",
        wd.to_str().unwrap(),
        "--stage",
        "prod",
        "--var",
        &format!("repoURL={url}"),
    ];

    // 1. The promotion opens the pull request and waits.
    let out = kargo(root, &run_args);
    assert_eq!(out.code, 3, "{out:?}");
    let json = out.json();
    assert_eq!(json["phase"], "Running");
    assert_eq!(out.step_status("open-pr"), "Succeeded");
    assert_eq!(out.step_status("wait-for-pr"), "Running");
    assert_eq!(json["state"]["open-pr"]["pr"]["id"], 1);
    let branch = json["state"]["push"]["branch"].as_str().unwrap().to_owned();
    assert!(branch.starts_with("kargo/promotion/prod."), "{branch}");
    assert!(wd.join(".kargo/promotion.json").is_file());
    let main_before = git(&bare, &["rev-parse", "main"]);

    // 2. A person reviews: the description holds the plan.
    let listed = kargo(root, &["pr", "list", "--repo", &url]);
    assert_eq!(listed.code, 0, "{listed:?}");
    let prs: serde_json::Value = serde_json::from_str(listed.stdout.trim()).unwrap();
    let pr = &prs[0];
    assert_eq!(prs.as_array().unwrap().len(), 1, "{prs}");
    assert_eq!(pr["id"], 1);
    assert_eq!(pr["state"], "open");
    assert_eq!(pr["title"], "Scale prod to 3");
    assert_eq!(pr["sourceBranch"], branch.as_str());
    assert_eq!(pr["targetBranch"], "main");
    assert_eq!(pr["url"], format!("{url}#pull/1"));
    let description = pr["description"].as_str().unwrap();
    assert!(
        description.starts_with("Terraform plan:\n"),
        "{description}"
    );
    assert!(description.contains("replicas = 3"), "{description}");

    // Running again before the merge still waits.
    let out = kargo(root, &run_args);
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(out.step_status("wait-for-pr"), "Running");

    // 3. The person approves and merges.
    let approved = kargo(root, &["pr", "approve", "--repo", &url, "1"]);
    assert_eq!(approved.code, 0, "{approved:?}");
    assert_eq!(
        approved.json()["approvedBy"],
        serde_json::json!(["Kargo <no-reply@kargo.io>"])
    );
    let merged = kargo(root, &["pr", "merge", "--repo", &url, "1"]);
    assert_eq!(merged.code, 0, "{merged:?}");
    let sha = merged.stdout.trim().to_owned();
    assert_eq!(sha.len(), 40, "{merged:?}");
    assert_eq!(git(&bare, &["rev-parse", "main"]), sha);
    assert_eq!(git(&bare, &["rev-parse", "main^1"]), main_before);
    assert_eq!(
        git(&bare, &["show", "main:values.yaml"]),
        "# prod\nreplicas: 3 # scaled by kargo"
    );

    // 4. The same command resumes from the saved state and succeeds.
    let out = kargo(root, &run_args);
    assert_eq!(out.code, 0, "{out:?}");
    let json = out.json();
    assert_eq!(json["phase"], "Succeeded");
    assert_eq!(out.step_status("wait-for-pr"), "Succeeded");
    assert_eq!(json["state"]["wait-for-pr"]["commit"], sha.as_str());
    assert_eq!(json["state"]["wait-for-pr"]["pr"]["merged"], true);
    assert_eq!(
        json["state"]["push"]["branch"],
        branch.as_str(),
        "resumed, not rerun"
    );
    assert!(!wd.join(".kargo/promotion.json").exists());

    let shown = kargo(root, &["pr", "show", "--repo", &url, "1"]);
    assert_eq!(shown.json()["state"], "merged");
    assert_eq!(shown.json()["mergeCommit"], sha.as_str());
}

#[test]
fn pr_commands_report_unknown_pull_requests_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let bare = repo(root);
    let url = format!("file://{}", bare.display());
    let listed = kargo(root, &["pr", "list", "--repo", &url]);
    assert_eq!((listed.code, listed.stdout.trim()), (0, "[]"), "{listed:?}");

    for action in ["show", "approve", "merge", "close"] {
        let out = kargo(root, &["pr", action, "--repo", &url, "4"]);
        assert_eq!(out.code, 2, "{action}: {out:?}");
        assert_eq!(out.stderr.trim().lines().count(), 1, "{action}: {out:?}");
        assert!(out.stderr.contains("pull request #4"), "{action}: {out:?}");
        assert!(out.stdout.is_empty());
    }
    let out = kargo(root, &["pr", "show", "--repo", &url]);
    assert_eq!(out.code, 2, "{out:?}");
    let out = kargo(
        root,
        &["pr", "close", "--repo", &url, "1", "--method", "squash"],
    );
    assert_eq!(out.code, 2, "{out:?}");

    // A closed pull request cannot be merged: exit 1, nothing changes.
    let seed = root.join("seed");
    git(&seed, &["checkout", "-q", "-b", "change"]);
    write(&seed, "values.yaml", "replicas: 5\n");
    git(&seed, &["commit", "-q", "-am", "five"]);
    git(&seed, &["push", "-q", bare.to_str().unwrap(), "change"]);
    let provider =
        kargo_git::provider::local::LocalProvider::new(&url).with_work_root(root.join("cache"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(kargo_git::provider::GitProvider::open(
        &provider,
        &kargo_git::provider::NewPullRequest::new("change", "main", "Five"),
    ))
    .unwrap();
    let closed = kargo(root, &["pr", "close", "--repo", &url, "1"]);
    assert_eq!(closed.code, 0, "{closed:?}");
    assert_eq!(closed.json()["state"], "closed");
    let main = git(&bare, &["rev-parse", "main"]);
    let out = kargo(
        root,
        &["pr", "merge", "--repo", &url, "1", "--method", "squash"],
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("closed"), "{out:?}");
    assert_eq!(git(&bare, &["rev-parse", "main"]), main);
}
