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

/// GitHub's "Get a pull request" answer for an open #`number` of
/// `acme/deploy`, with `extra` fields on top.
fn github_pr(number: u64, extra: serde_json::Value) -> serde_json::Value {
    let mut pr = json!({
        "number": number,
        "html_url": format!("https://github.example/acme/deploy/pull/{number}"),
        "state": "open",
        "title": "Promote v2",
        "body": "",
        "head": {"ref": "promo-1", "sha": "1".repeat(40)},
        "base": {"ref": "main", "sha": "0".repeat(40)},
        "merged": false,
        "merged_at": null,
        "merge_commit_sha": null,
        "mergeable": true,
        "mergeable_state": "clean",
    });
    pr.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    pr
}

/// A GitHub stand-in answering `GET .../pulls/{number}` with `answer`
/// (GitHub cannot run here), and the repository URL the step is given.
async fn github_answering(
    number: u64,
    answer: wiremock::ResponseTemplate,
) -> (wiremock::MockServer, String) {
    use wiremock::matchers::{method, path};
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(method("GET"))
        .and(path(format!("/api/v3/repos/acme/deploy/pulls/{number}")))
        .respond_with(answer)
        .mount(&server)
        .await;
    let url = format!("{}/acme/deploy", server.uri());
    (server, url)
}

/// Kargo: git_pr_merger_test.go, `Test_gitPRMerger_run`, against GitHub's
/// REST answers: a pull request not ready to merge (GitHub still working
/// out whether it can be) waits with `wait` (Kargo's 10 s, or
/// `pollInterval`) and fails without; a refused token fails the step; a
/// merged pull request gives its merge commit, the number asked for being
/// the one looked up. Where Kargo succeeds with an empty `commit` when the
/// forge names no merge commit, kargo-rs retries until it does.
#[tokio::test]
async fn merge_step_follows_the_forge_s_answers() {
    use wiremock::ResponseTemplate;
    let ctx = StepContext::new(Workspace::new(tempfile::tempdir().unwrap().keep()).unwrap());
    let merge = GitMergePr::default();
    let config = |url: &str, number: u64, extra: serde_json::Value| {
        let mut config = json!({"repoURL": url, "provider": "github", "prNumber": number});
        config
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        config
    };

    // "PR not ready to merge" with wait, with wait and pollInterval, without wait.
    let unknown = github_pr(42, json!({"mergeable": null, "mergeable_state": "unknown"}));
    let (_server, url) =
        github_answering(42, ResponseTemplate::new(200).set_body_json(unknown)).await;
    let out = merge
        .run(&ctx, config(&url, 42, json!({"wait": true})))
        .await
        .unwrap();
    assert_eq!(out.status, StepStatus::Running);
    assert_eq!(out.retry_after, Some(Duration::from_secs(10)));
    assert!(out.output.is_empty(), "{:?}", out.output);
    let out = merge
        .run(
            &ctx,
            config(&url, 42, json!({"wait": true, "pollInterval": "45s"})),
        )
        .await
        .unwrap();
    assert_eq!(out.status, StepStatus::Running);
    assert_eq!(out.retry_after, Some(Duration::from_secs(45)));
    let out = merge.run(&ctx, config(&url, 42, json!({}))).await.unwrap();
    assert_eq!(out.status, StepStatus::Failed);
    assert!(
        out.message
            .as_deref()
            .unwrap()
            .contains("not ready to merge and wait is disabled"),
        "{:?}",
        out.message
    );

    // "error during merge attempt": the token is refused.
    let (_server, url) = github_answering(
        42,
        ResponseTemplate::new(401).set_body_json(json!({"message": "Bad credentials"})),
    )
    .await;
    let err = merge
        .run(&ctx, config(&url, 42, json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Failed, "{err}");

    // "PR number validation" and "successful PR merge": #123, merged.
    let merged = github_pr(
        123,
        json!({"state": "closed", "merged": true, "merged_at": "2026-11-28T02:00:00Z",
            "merge_commit_sha": "commit456"}),
    );
    let (_server, url) = github_answering(
        123,
        ResponseTemplate::new(200).set_body_json(merged.clone()),
    )
    .await;
    let out = merge.run(&ctx, config(&url, 123, json!({}))).await.unwrap();
    assert_eq!(out.status, StepStatus::Succeeded);
    assert_eq!(out.output["commit"], json!("commit456"));

    // "successful merge with empty merge commit SHA": differs, retried.
    let mut no_sha = merged;
    no_sha["merge_commit_sha"] = serde_json::Value::Null;
    let (_server, url) =
        github_answering(123, ResponseTemplate::new(200).set_body_json(no_sha)).await;
    let err = merge
        .run(&ctx, config(&url, 123, json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Retryable, "{err}");
    assert!(err.to_string().contains("names no merge commit"), "{err}");
}

/// Kargo: git_pr_opener_test.go, `Test_gitPROpener_run`, "fail when
/// remote target branch does not exist": `Errored`, naming the branch.
/// (Its other two cases, a pull request opened and one skipped for want
/// of changes, are `open_reuses_then_wait_runs_until_merged` and
/// `merge_step_squashes_and_reports_the_commit_and_skips_empty_prs`.)
#[tokio::test]
async fn open_fails_when_the_target_branch_does_not_exist() {
    let (_tmp, url, ctx, providers) = setup();
    let err = GitOpenPr::new(providers)
        .run(
            &ctx,
            json!({"repoURL": url, "sourceBranch": "promo-1", "targetBranch": "target"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Terminal, "{err}");
    assert!(err.to_string().contains("\"target\""), "{err}");
}
