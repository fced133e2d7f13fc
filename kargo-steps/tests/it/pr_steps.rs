//! The pull-request steps on the local provider, against a bare repository
//! made with the git CLI: open (and reuse), wait while open, merge, and the
//! closed-without-merging failure.
#![cfg(feature = "git")]
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use kargo_core::Workspace;
use kargo_core::model::StepStatus;
use kargo_core::step::{ErrorKind, Step, StepContext};
use kargo_git::provider::GitProvider;
use kargo_git::provider::local::LocalProvider;
use kargo_steps::git::pr::Providers;
use kargo_steps::git::{GitMergePr, GitOpenPr, GitWaitForPr};
use kargo_test_support::git;
use serde_json::json;

/// A bare repository with `main` and branches `promo-1`, `promo-2` that
/// each change `values.yaml`.
fn repo(root: &Path) -> String {
    let bare = kargo_test_support::git::init_bare(&root.join("remote.git"));
    let seed = root.join("seed");
    std::fs::create_dir_all(&seed).unwrap();
    git(&seed, &["init", "-q", "--initial-branch=main"]);
    std::fs::write(seed.join("values.yaml"), "tag: v1\n").unwrap();
    git(&seed, &["add", "-A"]);
    git(&seed, &["commit", "-q", "-m", "seed"]);
    for (branch, tag) in [("promo-1", "v2"), ("promo-2", "v3")] {
        git(&seed, &["checkout", "-q", "-B", branch, "main"]);
        std::fs::write(seed.join("values.yaml"), format!("tag: {tag}\n")).unwrap();
        git(&seed, &["commit", "-q", "-am", &format!("promote {tag}")]);
    }
    git(
        &seed,
        &[
            "push",
            "-q",
            bare.to_str().unwrap(),
            "main",
            "promo-1",
            "promo-2",
        ],
    );
    format!("file://{}", bare.display())
}

fn setup() -> (tempfile::TempDir, String, StepContext, Providers) {
    let tmp = tempfile::tempdir().unwrap();
    let url = repo(tmp.path());
    let wd = tmp.path().join("wd");
    std::fs::create_dir_all(&wd).unwrap();
    let ctx = StepContext::new(Workspace::new(&wd).unwrap());
    let providers = Providers::default().with_work_root(tmp.path().join("prs"));
    (tmp, url, ctx, providers)
}

#[tokio::test]
async fn open_reuses_then_wait_runs_until_merged() {
    let (tmp, url, ctx, providers) = setup();
    let open = GitOpenPr::new(providers.clone());
    let config = json!({
        "repoURL": url, "provider": "local", "sourceBranch": "promo-1", "targetBranch": "main",
        "title": "Promote v2", "description": "terraform plan: 1 to change", "labels": ["prod"]
    });
    let out = open.run(&ctx, config.clone()).await.unwrap();
    assert_eq!(out.status, StepStatus::Succeeded);
    assert_eq!(
        out.output["pr"],
        json!({"id": 1, "url": format!("{url}#pull/1")})
    );
    let again = open.run(&ctx, config).await.unwrap();
    assert_eq!(again.output["pr"]["id"], json!(1));
    assert_eq!(
        again.message.as_deref(),
        Some("reused open pull request #1")
    );

    let wait = GitWaitForPr::new(providers.clone());
    let config = json!({"repoURL": url, "prNumber": 1, "pollInterval": "15s"});
    let out = wait.run(&ctx, config.clone()).await.unwrap();
    assert_eq!(out.status, StepStatus::Running);
    assert_eq!(out.retry_after, Some(Duration::from_secs(15)));
    assert_eq!(out.output["pr"]["open"], json!(true));
    assert!(out.output.get("commit").is_none());

    // A person merges it elsewhere.
    let person = LocalProvider::new(&url).with_work_root(tmp.path().join("person"));
    person.merge(1, None).await.unwrap();
    let bare = tmp.path().join("remote.git");
    let merged = git(&bare, &["rev-parse", "main"]);

    let out = wait.run(&ctx, config).await.unwrap();
    assert_eq!(out.status, StepStatus::Succeeded);
    assert_eq!(out.output["commit"], json!(merged));
    assert_eq!(
        out.output["pr"],
        json!({"id": 1, "url": format!("{url}#pull/1"), "open": false, "merged": true})
    );
}

#[tokio::test]
async fn wait_fails_when_closed_without_merging() {
    let (tmp, url, ctx, providers) = setup();
    let out = GitOpenPr::new(providers.clone())
        .run(
            &ctx,
            json!({"repoURL": url, "sourceBranch": "promo-2", "targetBranch": "main"}),
        )
        .await
        .unwrap();
    let id = out.output["pr"]["id"].as_u64().unwrap();
    LocalProvider::new(&url)
        .with_work_root(tmp.path().join("person"))
        .close(id)
        .await
        .unwrap();
    let out = GitWaitForPr::new(providers)
        .run(&ctx, json!({"repoURL": url, "prNumber": id}))
        .await
        .unwrap();
    assert_eq!(out.status, StepStatus::Failed);
    assert!(out.message.unwrap().contains("closed without being merged"));
    // Kargo: git_pr_waiter_test.go, "PR is closed and not merged": the
    // pull request is in the output even so.
    assert_eq!(
        out.output["pr"],
        json!({"id": id, "url": format!("{url}#pull/{id}"), "open": false, "merged": false})
    );
    assert!(out.output.get("commit").is_none());
}

/// Kargo: git_pr_waiter_test.go, "PR is open" (no `pollInterval`: Kargo's
/// 30 seconds) and "error finding PR" (`Errored`, not retried).
#[tokio::test]
async fn wait_polls_every_30s_by_default_and_fails_for_a_missing_pr() {
    let (_tmp, url, ctx, providers) = setup();
    let out = GitOpenPr::new(providers.clone())
        .run(
            &ctx,
            json!({"repoURL": url, "sourceBranch": "promo-1", "targetBranch": "main"}),
        )
        .await
        .unwrap();
    let id = out.output["pr"]["id"].as_u64().unwrap();
    let wait = GitWaitForPr::new(providers);
    let out = wait
        .run(&ctx, json!({"repoURL": url, "prNumber": id}))
        .await
        .unwrap();
    assert_eq!(out.status, StepStatus::Running);
    assert_eq!(out.retry_after, Some(Duration::from_secs(30)));
    assert_eq!(
        out.output["pr"],
        json!({"id": id, "url": format!("{url}#pull/{id}"), "open": true, "merged": false})
    );
    let err = wait
        .run(&ctx, json!({"repoURL": url, "prNumber": 7}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("pull request #7"), "{err}");
    assert_eq!(err.kind(), ErrorKind::Terminal, "{err}");
}

#[tokio::test]
async fn merge_step_squashes_and_reports_the_commit_and_skips_empty_prs() {
    let (tmp, url, ctx, providers) = setup();
    let out = GitOpenPr::new(providers.clone())
        .run(
            &ctx,
            json!({"repoURL": url, "sourceBranch": "promo-1", "targetBranch": "main"}),
        )
        .await
        .unwrap();
    let id = out.output["pr"]["id"].as_u64().unwrap();
    let merge = GitMergePr::new(providers.clone());
    let config = json!({"repoURL": url, "prNumber": id, "mergeMethod": "squash"});
    let out = merge.run(&ctx, config.clone()).await.unwrap();
    let bare = tmp.path().join("remote.git");
    assert_eq!(
        out.output["commit"],
        json!(git(&bare, &["rev-parse", "main"]))
    );
    assert_eq!(
        git(&bare, &["log", "-1", "--format=%s", "main"]),
        "promote v2 (#1)"
    );
    // Merging again reports the same commit.
    let again = merge.run(&ctx, config).await.unwrap();
    assert_eq!(again.output["commit"], out.output["commit"]);

    // promo-1 is in main now: nothing to review, so Skipped.
    git(&bare, &["branch", "-f", "promo-3", "main"]);
    let out = GitOpenPr::new(providers.clone())
        .run(
            &ctx,
            json!({"repoURL": url, "sourceBranch": "promo-3", "targetBranch": "main"}),
        )
        .await
        .unwrap();
    assert_eq!(out.status, StepStatus::Skipped);

    let err = merge
        .run(
            &ctx,
            json!({"repoURL": url, "prNumber": 7, "mergeMethod": "octopus"}),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("octopus"), "{err}");
    let err = merge
        .run(&ctx, json!({"repoURL": url, "prNumber": 7}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("pull request #7"), "{err}");
    assert!(!err.is_retryable());
}
