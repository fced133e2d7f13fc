//! `github-push` against the fake GitHub of kargo-test-support: a
//! wiremock server on one port serving the smart-HTTP git protocol over
//! real bare repositories and GitHub's git-data, refs and compare
//! endpoints computed from them (GitHub cannot run here). The working
//! tree's remote is `http://127.0.0.1:PORT/acme/deploy.git`, so the step
//! derives the API base as it does for GitHub Enterprise
//! (`http://127.0.0.1:PORT/api/v3`). Every test asserts on the real bare
//! repository the push went to.
//!
//! The cases are those of Kargo's `github_pusher_test.go` and
//! `github_push_integration_test.go` (target missing, local ahead,
//! diverged, behind; with and without force; verified commits), for the
//! commits kargo-rs makes, which are never signed.
#![cfg(feature = "git")]
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kargo_core::Workspace;
use kargo_core::credentials::{CredentialSecret, CredentialType, Credentials, StaticCredentials};
use kargo_core::retry::Backoff;
use kargo_core::step::{ErrorKind, Step, StepContext, StepError, StepOutcome};
use kargo_git::provider::rest::{RestOptions, Retry};
use kargo_git::push::IntegrationPolicy;
use kargo_steps::git::GitHubPush;
use kargo_test_support::git::{command, run};
use kargo_test_support::github::{APP, FakeGitHub};
use serde_json::{Value, json};

const TOKEN: &str = "ghs_t0ken-never-shown";
const REPO: &str = "acme/deploy";
const PROMOTION: &str = "prod.01abc";
const SOMEONE: (&str, &str) = ("Someone Else", "someone@else.com");
const KARGO: (&str, &str) = ("Kargo", "no-reply@kargo.io");
const REMOTE: (&str, &str) = ("Remote Author", "remote@author.com");

/// A fake GitHub holding `acme/deploy` (`main`: one commit), a checkout of
/// it at `out` in the work directory, and a step context with a token for
/// the repository.
struct World {
    _tmp: tempfile::TempDir,
    hub: FakeGitHub,
    url: String,
    bare: PathBuf,
    out: PathBuf,
    ctx: StepContext,
}

impl World {
    async fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let hub = FakeGitHub::start(&tmp.path().join("github"), TOKEN).await;
        let bare = hub.create_repo(REPO, &[("values.yaml", "tag: v1\n")]);
        let url = hub.repo_url(REPO);
        let wd = tmp.path().join("wd");
        std::fs::create_dir_all(&wd).unwrap();
        let out = wd.join("out");
        let with_token = url.replace("http://", &format!("http://kargo:{TOKEN}@"));
        git(&wd, KARGO, &["clone", "-q", &with_token, "out"]);
        git(&out, KARGO, &["remote", "set-url", "origin", &url]);
        // Who rebases and merges, as git-clone writes it.
        git(&out, KARGO, &["config", "user.name", KARGO.0]);
        git(&out, KARGO, &["config", "user.email", KARGO.1]);
        let credentials = StaticCredentials::new().with_url(
            CredentialType::Git,
            &url,
            Credentials::new("kargo", TOKEN),
        );
        let ctx = StepContext::new(Workspace::new(&wd).unwrap())
            .with_names("demo", "prod", PROMOTION)
            .with_credentials(Arc::new(credentials));
        World {
            _tmp: tmp,
            hub,
            url,
            bare,
            out,
            ctx,
        }
    }

    /// Commits a new file in the checkout as `who`; returns the commit.
    fn commit(&self, who: (&str, &str), name: &str) -> String {
        std::fs::write(self.out.join(name), format!("{name} by {}\n", who.0)).unwrap();
        git(&self.out, who, &["add", "-A"]);
        git(
            &self.out,
            who,
            &["commit", "-q", "-m", &format!("add {name}")],
        );
        git(&self.out, who, &["rev-parse", "HEAD"])
    }

    /// Commits A (by someone else) and B (by Kargo) in the checkout, as
    /// Kargo's integration test does.
    fn commit_a_and_b(&self) -> [String; 2] {
        [self.commit(SOMEONE, "a.txt"), self.commit(KARGO, "b.txt")]
    }

    /// Creates `branch` on the remote at `at` (a commit the remote has),
    /// as another client's push would.
    fn remote_branch(&self, branch: &str, at: &str) {
        bare_git(
            &self.bare,
            &["update-ref", &format!("refs/heads/{branch}"), at],
        );
    }

    /// Adds a commit by someone else on the remote's `branch`; returns it.
    fn remote_commit(&self, branch: &str, file: &str) -> String {
        let tip = bare_git(&self.bare, &["rev-parse", &format!("refs/heads/{branch}")]);
        let commit = self.loose_remote_commit(&tip, file);
        self.remote_branch(branch, &commit);
        commit
    }

    /// A commit on top of `parent` adding `file`, made in the remote
    /// repository but on no branch.
    fn loose_remote_commit(&self, parent: &str, file: &str) -> String {
        let blob = {
            let mut cmd = command(&self.bare, REMOTE);
            cmd.args(["hash-object", "-w", "--stdin"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped());
            let mut child = cmd.spawn().unwrap();
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"remote change\n")
                .unwrap();
            let out = child.wait_with_output().unwrap();
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        };
        let listing = bare_git(&self.bare, &["ls-tree", parent]);
        let tree = {
            let mut cmd = command(&self.bare, REMOTE);
            cmd.arg("mktree")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped());
            let mut child = cmd.spawn().unwrap();
            use std::io::Write;
            let entries = format!("{listing}\n100644 blob {blob}\t{file}\n");
            child
                .stdin
                .take()
                .unwrap()
                .write_all(entries.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        };
        run(
            command(&self.bare, REMOTE),
            &[
                "commit-tree",
                &tree,
                "-p",
                parent,
                "-m",
                &format!("remote: add {file}"),
            ],
        )
    }

    /// The remote's `branch` head.
    fn head(&self, branch: &str) -> String {
        bare_git(&self.bare, &["rev-parse", &format!("refs/heads/{branch}")])
    }

    /// `(tree, author, message)` of each commit in `range` of the remote,
    /// oldest first.
    fn remote_log(&self, range: &str) -> Vec<(String, String, String)> {
        log(&self.bare, range)
    }

    /// Whether the remote still has a staging ref.
    fn staging_refs(&self) -> String {
        bare_git(&self.bare, &["for-each-ref", "refs/kargo/"])
    }

    async fn requests(&self, verb: &str, tail: &str) -> Vec<Value> {
        let path = format!("/api/v3/repos/{REPO}/{tail}");
        self.hub
            .api_requests()
            .await
            .into_iter()
            .filter(|(m, p, _)| m == verb && p == &path)
            .map(|(_, _, body)| body)
            .collect()
    }

    async fn push(&self, step: &GitHubPush, config: Value) -> Result<StepOutcome, StepError> {
        step.run(&self.ctx, config).await
    }
}

fn git(dir: &Path, who: (&str, &str), args: &[&str]) -> String {
    run(command(dir, who), args)
}

fn bare_git(bare: &Path, args: &[&str]) -> String {
    run(command(bare, REMOTE), args)
}

fn log(dir: &Path, range: &str) -> Vec<(String, String, String)> {
    let out = run(
        command(dir, REMOTE),
        &[
            "log",
            "--reverse",
            "--format=%T%x00%an <%ae>%x00%B%x01",
            range,
        ],
    );
    out.split('\x01')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            let f: Vec<&str> = c.splitn(3, '\0').collect();
            (f[0].to_owned(), f[1].to_owned(), f[2].trim().to_owned())
        })
        .collect()
}

/// The step with waits short enough for tests.
fn step() -> GitHubPush {
    GitHubPush::new()
        .with_backoff(Backoff::exponential(
            Duration::from_millis(1),
            Duration::from_millis(5),
        ))
        .with_rest_options(RestOptions::default().with_retry(Retry::new(
            2,
            Duration::from_millis(1),
            Duration::from_millis(10),
        )))
}

fn out(outcome: &StepOutcome, key: &str) -> String {
    outcome.output[key].as_str().unwrap().to_owned()
}

// ------------------------------------------------------ target missing

/// Kargo's case03: a new branch, nothing signed. The branch holds the two
/// local commits with their trees, authors and messages; it was created
/// (POST git/refs) and the staging ref is gone; the local branch is the
/// remote one.
#[tokio::test]
async fn a_generated_branch_receives_the_local_commits_through_the_api() {
    let w = World::new().await;
    let main = w.head("main");
    w.commit_a_and_b();
    let local = log(&w.out, "origin/main..HEAD");

    let outcome = w
        .push(
            &step(),
            json!({"path": "out", "generateTargetBranch": true}),
        )
        .await
        .unwrap();

    let branch = format!("kargo/promotion/{PROMOTION}");
    assert_eq!(out(&outcome, "branch"), branch);
    let head = w.head(&branch);
    assert_eq!(out(&outcome, "commit"), head);
    // The repository's web URL, as kargo_git::push::commit_url makes it
    // for GitHub (scheme and port kept).
    assert_eq!(
        out(&outcome, "commitURL"),
        format!("{}/{REPO}/commit/{head}", w.hub.uri())
    );
    assert_eq!(w.remote_log(&format!("{main}..{head}")), local);
    assert_eq!(local[0].1, "Someone Else <someone@else.com>");
    assert_eq!(w.head("main"), main, "main is untouched");
    assert_eq!(w.staging_refs(), "");
    assert_eq!(git(&w.out, KARGO, &["rev-parse", "HEAD"]), head);
    assert_eq!(w.requests("POST", "git/commits").await.len(), 2);
    let created = w.requests("POST", "git/refs").await;
    assert_eq!(
        created,
        [json!({"ref": format!("refs/heads/{branch}"), "sha": head})]
    );
    assert_eq!(
        w.requests("DELETE", &format!("git/refs/kargo/staging/{PROMOTION}"))
            .await
            .len(),
        1
    );
    for (_, _, body) in w.hub.api_requests().await {
        assert!(!body.to_string().contains(TOKEN));
    }
}

/// Kargo's case04: with GITHUB_PUSH_VERIFY_UNTRUSTED_COMMITS, GitHub
/// authors and signs every commit; the original author is kept in a
/// `Co-authored-by` trailer.
#[tokio::test]
async fn verifying_untrusted_commits_lets_github_author_and_sign_them() {
    let w = World::new().await;
    let main = w.head("main");
    let [a, b] = w.commit_a_and_b();
    let local = log(&w.out, "origin/main..HEAD");

    let outcome = w
        .push(
            &step().with_verify_untrusted_commits(true),
            json!({"path": "out", "generateTargetBranch": true}),
        )
        .await
        .unwrap();

    let head = out(&outcome, "commit");
    let remote = w.remote_log(&format!("{main}..{head}"));
    assert_eq!(remote.len(), 2);
    let app = format!("{} <{}>", APP.0, APP.1);
    for ((tree, author, message), (local_tree, _, local_message)) in remote.iter().zip(&local) {
        assert_eq!(tree, local_tree);
        assert_eq!(author, &app);
        assert!(message.starts_with(local_message.as_str()), "{message}");
    }
    assert!(
        remote[0]
            .2
            .ends_with("Co-authored-by: Someone Else <someone@else.com>")
    );
    assert!(
        remote[1]
            .2
            .ends_with("Co-authored-by: Kargo <no-reply@kargo.io>")
    );
    let created = bare_git(&w.bare, &["rev-list", &format!("{main}..{head}")]);
    for sha in created.lines() {
        assert!(w.hub.is_verified(sha), "{sha}");
        assert!(sha != a && sha != b, "new commits, new ids");
    }
    assert_eq!(git(&w.out, KARGO, &["rev-parse", "HEAD"]), head);
}

// ------------------------------------------------------ local ahead

/// Kargo's case05/case07: the target exists at an older commit; it moves
/// forward (PATCH, not forced) onto the two replayed commits.
#[tokio::test]
async fn a_target_behind_the_local_branch_moves_forward() {
    let w = World::new().await;
    let main = w.head("main");
    w.remote_branch("env/prod", &main);
    w.commit_a_and_b();
    let local = log(&w.out, "origin/main..HEAD");

    let outcome = w
        .push(&step(), json!({"path": "out", "targetBranch": "env/prod"}))
        .await
        .unwrap();

    assert_eq!(out(&outcome, "branch"), "env/prod");
    let head = w.head("env/prod");
    assert_eq!(out(&outcome, "commit"), head);
    assert_eq!(w.remote_log(&format!("{main}..{head}")), local);
    assert_eq!(
        w.requests("PATCH", "git/refs/heads/env/prod").await,
        [json!({"sha": head, "force": false})]
    );
    assert!(w.requests("POST", "git/refs").await.is_empty());
    assert_eq!(w.staging_refs(), "");
}

/// Without `targetBranch`, the branch checked out is the target.
#[tokio::test]
async fn the_branch_checked_out_is_the_default_target() {
    let w = World::new().await;
    let main = w.head("main");
    w.commit_a_and_b();
    let outcome = w.push(&step(), json!({"path": "out"})).await.unwrap();
    assert_eq!(out(&outcome, "branch"), "main");
    assert_eq!(w.head("main"), out(&outcome, "commit"));
    assert_eq!(w.remote_log(&format!("{main}..main")).len(), 2);
}

// ------------------------------------------------------ diverged

/// Kargo's case10/case15: the target gained a commit the local branch
/// lacks; `AlwaysRebase` rebases A and B onto it, and those two are
/// replayed on top of the remote's commit.
#[tokio::test]
async fn a_diverged_target_is_rebased_onto() {
    let w = World::new().await;
    let main = w.head("main");
    w.remote_branch("env/prod", &main);
    let theirs = w.remote_commit("env/prod", "remote.txt");
    w.commit_a_and_b();

    let outcome = w
        .push(
            &step().with_policy(IntegrationPolicy::AlwaysRebase),
            json!({"path": "out", "targetBranch": "env/prod"}),
        )
        .await
        .unwrap();

    let head = w.head("env/prod");
    assert_eq!(out(&outcome, "commit"), head);
    let replayed = w.remote_log(&format!("{theirs}..{head}"));
    let messages: Vec<&str> = replayed.iter().map(|c| c.2.as_str()).collect();
    assert_eq!(messages, ["add a.txt", "add b.txt"]);
    assert_eq!(replayed[0].1, "Someone Else <someone@else.com>");
    let files = bare_git(&w.bare, &["ls-tree", "--name-only", &head]);
    assert_eq!(files, "a.txt\nb.txt\nremote.txt\nvalues.yaml");
    assert_eq!(w.requests("POST", "git/commits").await.len(), 2);
}

/// Kargo's case09 (without signing): `AlwaysMerge` merges the target into
/// the local branch, and the merge is replayed with its second parent,
/// the remote's commit, kept.
#[tokio::test]
async fn a_diverged_target_is_merged_and_the_merge_replayed() {
    let w = World::new().await;
    let main = w.head("main");
    w.remote_branch("env/prod", &main);
    let theirs = w.remote_commit("env/prod", "remote.txt");
    w.commit_a_and_b();

    w.push(
        &step().with_policy(IntegrationPolicy::AlwaysMerge),
        json!({"path": "out", "targetBranch": "env/prod"}),
    )
    .await
    .unwrap();

    let head = w.head("env/prod");
    let created = w.requests("POST", "git/commits").await;
    assert_eq!(created.len(), 3, "A, B and the merge");
    let parents = bare_git(&w.bare, &["rev-list", "--parents", "-n1", &head]);
    let parents: Vec<&str> = parents.split(' ').skip(1).collect();
    assert_eq!(parents.len(), 2);
    assert_eq!(parents[1], theirs, "the remote's commit stays a parent");
    assert_eq!(
        bare_git(&w.bare, &["log", "-1", "--format=%s", parents[0]]),
        "add b.txt"
    );
    assert!(
        bare_git(&w.bare, &["merge-base", "--is-ancestor", &theirs, &head]).is_empty(),
        "fast-forward from the remote's head"
    );
}

/// Kargo's case11/case14: with `force` nothing is integrated; the target's
/// own commit is dropped and the branch is the merge base plus A and B.
#[tokio::test]
async fn force_replaces_a_diverged_target() {
    let w = World::new().await;
    let main = w.head("main");
    w.remote_branch("env/prod", &main);
    let theirs = w.remote_commit("env/prod", "remote.txt");
    w.commit_a_and_b();
    let local = log(&w.out, "origin/main..HEAD");

    w.push(
        &step(),
        json!({"path": "out", "targetBranch": "env/prod", "force": true}),
    )
    .await
    .unwrap();

    let head = w.head("env/prod");
    assert_eq!(w.remote_log(&format!("{main}..{head}")), local);
    let contains = command(&w.bare, REMOTE)
        .args(["merge-base", "--is-ancestor", &theirs, &head])
        .status()
        .unwrap();
    assert!(!contains.success(), "the remote's commit is gone");
    assert_eq!(
        w.requests("PATCH", "git/refs/heads/env/prod").await,
        [json!({"sha": head, "force": true})]
    );
}

// ------------------------------------------------------ local behind

/// The target holds A, B and a later remote commit; the local branch holds
/// A and B.
async fn behind_world() -> (World, String) {
    let w = World::new().await;
    let [_, b] = w.commit_a_and_b();
    let with_token = w.url.replace("http://", &format!("http://kargo:{TOKEN}@"));
    git(
        &w.out,
        KARGO,
        &["push", "-q", &with_token, "HEAD:refs/heads/env/prod"],
    );
    let theirs = w.remote_commit("env/prod", "remote.txt");
    assert_ne!(theirs, b);
    (w, theirs)
}

/// Kargo's case17/case18/case20/case21: integrating brings the target's
/// commit in; the branches are identical and nothing is created.
#[tokio::test]
async fn a_target_ahead_of_the_local_branch_needs_nothing() {
    for policy in [
        IntegrationPolicy::AlwaysRebase,
        IntegrationPolicy::RebaseOrMerge,
        IntegrationPolicy::AlwaysMerge,
    ] {
        let (w, theirs) = behind_world().await;
        let outcome = w
            .push(
                &step().with_policy(policy),
                json!({"path": "out", "targetBranch": "env/prod"}),
            )
            .await
            .unwrap();
        assert_eq!(w.head("env/prod"), theirs, "{policy:?}");
        assert_eq!(out(&outcome, "commit"), theirs, "{policy:?}");
        assert!(w.requests("POST", "git/commits").await.is_empty());
        assert!(
            w.requests("PATCH", "git/refs/heads/env/prod")
                .await
                .is_empty()
        );
        assert_eq!(w.staging_refs(), "");
    }
}

/// Kargo's case19/case22: with `force`, the target moves back to the local
/// head, and nothing is created.
#[tokio::test]
async fn force_moves_a_target_ahead_of_the_local_branch_back() {
    let (w, _) = behind_world().await;
    let local = git(&w.out, KARGO, &["rev-parse", "HEAD"]);
    let outcome = w
        .push(
            &step(),
            json!({"path": "out", "targetBranch": "env/prod", "force": true}),
        )
        .await
        .unwrap();
    assert_eq!(w.head("env/prod"), local);
    assert_eq!(out(&outcome, "commit"), local);
    assert!(w.requests("POST", "git/commits").await.is_empty());
}

// ------------------------------------------------------ races and errors

/// Another push lands between the comparison and the ref update: GitHub
/// answers 422 (not a fast-forward), and the next attempt integrates the
/// new commit and succeeds. Nothing is lost.
#[tokio::test]
async fn a_branch_that_moved_meanwhile_is_integrated_and_pushed_again() {
    let w = World::new().await;
    let main = w.head("main");
    w.remote_branch("env/prod", &main);
    let theirs = w.loose_remote_commit(&main, "concurrent.txt");
    w.commit_a_and_b();
    w.hub.before_next_ref_update(move |bare| {
        run(
            command(bare, REMOTE),
            &["update-ref", "refs/heads/env/prod", &theirs],
        );
    });

    let outcome = w
        .push(&step(), json!({"path": "out", "targetBranch": "env/prod"}))
        .await
        .unwrap();

    let head = w.head("env/prod");
    assert_eq!(out(&outcome, "commit"), head);
    let messages: Vec<String> = w
        .remote_log(&format!("{main}..{head}"))
        .into_iter()
        .map(|c| c.2)
        .collect();
    assert_eq!(
        messages,
        ["remote: add concurrent.txt", "add a.txt", "add b.txt"]
    );
    assert_eq!(
        w.requests("PATCH", "git/refs/heads/env/prod").await.len(),
        2
    );
    assert_eq!(w.staging_refs(), "");
}

/// An API error fails the step naming it and what it was doing; the
/// target branch is as it was and the staging ref is gone.
#[tokio::test]
async fn an_api_error_names_the_step_and_leaves_the_branch_as_it_was() {
    let w = World::new().await;
    let main = w.head("main");
    w.remote_branch("env/prod", &main);
    w.commit_a_and_b();
    w.hub
        .fail_once("POST", "git/commits$", 422, "Tree SHA does not exist")
        .await;

    let err = w
        .push(&step(), json!({"path": "out", "targetBranch": "env/prod"}))
        .await
        .unwrap_err();

    let text = err.to_string();
    assert!(
        text.starts_with("github-push: creating commit 1 of 2"),
        "{text}"
    );
    assert!(
        text.contains("HTTP 422") && text.contains("Tree SHA does not exist"),
        "{text}"
    );
    assert!(!text.contains(TOKEN), "{text}");
    assert_eq!(err.kind(), ErrorKind::Terminal);
    assert_eq!(w.head("env/prod"), main);
    assert_eq!(w.staging_refs(), "");
}

/// Kargo's "error integrating remote changes": the target changed the file
/// the local branch adds; the step fails without retries and nothing moves.
#[tokio::test]
async fn a_conflict_fails_the_step_and_changes_nothing() {
    let w = World::new().await;
    let main = w.head("main");
    w.remote_branch("env/prod", &main);
    let theirs = w.remote_commit("env/prod", "a.txt");
    w.commit_a_and_b();
    let err = w
        .push(&step(), json!({"path": "out", "targetBranch": "env/prod"}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("conflict"), "{err}");
    assert_eq!(err.kind(), ErrorKind::Failed);
    assert_eq!(w.head("env/prod"), theirs);
    assert!(w.requests("POST", "git/commits").await.is_empty());
    assert_eq!(w.staging_refs(), "");
}

/// Kargo's "unexpected comparison status": a status GitHub does not
/// document is an Errored step, not retried, and nothing moves.
#[tokio::test]
async fn an_unknown_comparison_status_is_terminal() {
    let w = World::new().await;
    let main = w.head("main");
    w.commit_a_and_b();
    wiremock::Mock::given(wiremock::matchers::path_regex("/compare/"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({
            "status": "sideways", "merge_base_commit": {"sha": main},
            "ahead_by": 2, "behind_by": 0, "total_commits": 2, "commits": []
        })))
        .with_priority(1)
        .mount(w.hub.server())
        .await;
    let err = w.push(&step(), json!({"path": "out"})).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("unexpected comparison status \"sideways\""),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::Terminal);
    assert_eq!(w.head("main"), main);
    assert_eq!(w.staging_refs(), "");
}

/// A 5xx is retried by the API client; the push goes through.
#[tokio::test]
async fn a_server_error_is_retried() {
    let w = World::new().await;
    w.commit_a_and_b();
    w.hub
        .fail_once("GET", "compare/", 502, "Server Error")
        .await;
    w.push(&step(), json!({"path": "out"})).await.unwrap();
    assert_eq!(w.head("main"), git(&w.out, KARGO, &["rev-parse", "HEAD"]));
}

/// GITHUB_PUSH_MAX_REVISIONS caps the commits one push creates: over it,
/// the step is Errored without retries and nothing moves.
#[tokio::test]
async fn more_commits_than_allowed_is_terminal() {
    let w = World::new().await;
    let main = w.head("main");
    w.commit_a_and_b();
    let err = w
        .push(&step().with_max_revisions(1), json!({"path": "out"}))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("holds 2 commits, more than the 1"),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::Terminal);
    assert_eq!(w.head("main"), main);
    assert!(w.requests("POST", "git/commits").await.is_empty());
    assert_eq!(w.staging_refs(), "");
}

/// More commits than one page of the compare API holds: every page is
/// read (page=1, 2, 3 of 2 commits each), and all five commits are
/// replayed; none is dropped past the first page, as Kargo's single page
/// of 250 would.
#[tokio::test]
async fn every_page_of_the_comparison_is_replayed() {
    let w = World::new().await;
    let main = w.head("main");
    for name in ["1.txt", "2.txt", "3.txt", "4.txt", "5.txt"] {
        w.commit(KARGO, name);
    }
    let local = log(&w.out, "origin/main..HEAD");
    assert_eq!(local.len(), 5);

    w.push(
        &step().with_compare_page_size(2),
        json!({"path": "out", "targetBranch": "main"}),
    )
    .await
    .unwrap();

    let head = w.head("main");
    assert_eq!(w.remote_log(&format!("{main}..{head}")), local);
    assert_eq!(w.requests("POST", "git/commits").await.len(), 5);
    let pages: Vec<String> = w
        .hub
        .server()
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path().contains("/compare/"))
        .map(|r| r.url.query().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        pages,
        [
            "per_page=2&page=1",
            "per_page=2&page=2",
            "per_page=2&page=3"
        ]
    );
}

/// A page that lists no commits before the comparison's `total_commits`
/// are all read fails the push; it never replays a shorter range.
#[tokio::test]
async fn a_comparison_short_of_its_commits_fails_and_moves_nothing() {
    let w = World::new().await;
    let main = w.head("main");
    w.commit_a_and_b();
    // Page 2 of a two-commit range, one commit a page, is empty here.
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path_regex("/compare/"))
        .and(wiremock::matchers::query_param("page", "2"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({
            "status": "ahead",
            "merge_base_commit": {"sha": main},
            "total_commits": 2,
            "commits": [],
        })))
        .with_priority(1)
        .mount(w.hub.server())
        .await;

    let err = w
        .push(
            &step().with_compare_page_size(1),
            json!({"path": "out", "targetBranch": "main"}),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("comparing")
            && format!("{err:?}")
                .contains("page 2 of the comparison is empty after 1 of its 2 commits"),
        "{err} {err:?}"
    );
    assert_eq!(w.head("main"), main);
    assert!(w.requests("POST", "git/commits").await.is_empty());
    assert_eq!(w.staging_refs(), "");
}

/// A wrong token: git's push to the staging ref is refused; the step is
/// Errored, and the token never shows.
#[tokio::test]
async fn a_refused_token_is_an_error_without_the_token() {
    let w = World::new().await;
    w.commit_a_and_b();
    let ctx = w
        .ctx
        .clone()
        .with_credentials(Arc::new(StaticCredentials::new().with_url(
            CredentialType::Git,
            &w.url,
            Credentials::new("kargo", "wrong-s3cret"),
        )));
    let err = step().run(&ctx, json!({"path": "out"})).await.unwrap_err();
    assert!(err.to_string().contains("authentication failed"), "{err}");
    assert!(!err.to_string().contains("wrong-s3cret"), "{err}");
    assert!(!err.is_retryable());
}

/// Kargo's `Test_githubPusher_run` cases: credentials that cannot
/// authenticate to the API fail the step before anything is pushed.
#[tokio::test]
async fn credentials_without_a_token_fail_the_step() {
    let w = World::new().await;
    w.commit_a_and_b();
    let cases: [(StaticCredentials, &str); 3] = [
        (StaticCredentials::new(), "no credentials found for"),
        (
            StaticCredentials::new().with_secret_url(
                CredentialType::Git,
                &w.url,
                CredentialSecret::new(
                    "ssh",
                    [("sshPrivateKey", "-----BEGIN OPENSSH PRIVATE KEY-----")],
                ),
            ),
            "found an SSH key",
        ),
        (
            StaticCredentials::new().with_url(
                CredentialType::Git,
                &w.url,
                Credentials::new("kargo", ""),
            ),
            "missing a password/token",
        ),
    ];
    for (credentials, want) in cases {
        let ctx = w.ctx.clone().with_credentials(Arc::new(credentials));
        let err = step().run(&ctx, json!({"path": "out"})).await.unwrap_err();
        assert!(err.to_string().contains(want), "{want}: {err}");
        assert_eq!(err.kind(), ErrorKind::Failed, "{want}");
    }
    assert!(w.hub.api_requests().await.is_empty());
}

/// Kargo's `Test_githubPusher_run` "fails at URL parsing" and "error
/// loading work tree" (`Errored`: terminal, the config is fine), and the
/// config rules of its schema (`Failed`).
#[tokio::test]
async fn bad_input_fails_the_step_naming_it() {
    let w = World::new().await;
    let not_github = format!("{}/acme/sub/deploy.git", w.hub.uri());
    git(&w.out, KARGO, &["remote", "set-url", "origin", &not_github]);
    let ctx = w
        .ctx
        .clone()
        .with_credentials(Arc::new(StaticCredentials::new().with_url(
            CredentialType::Git,
            &not_github,
            Credentials::new("kargo", TOKEN),
        )));
    let err = step().run(&ctx, json!({"path": "out"})).await.unwrap_err();
    assert!(
        err.to_string().contains("expected HOST/OWNER/REPO"),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::Terminal);
    let err = step()
        .run(&w.ctx, json!({"path": "nowhere"}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is not a working tree"), "{err}");
    assert_eq!(err.kind(), ErrorKind::Terminal);

    for (config, want) in [
        (
            json!({"path": "out", "generateTargetBranch": true, "targetBranch": "x"}),
            "mutually exclusive",
        ),
        (
            json!({"path": "out", "maxAttempts": 0}),
            "maxAttempts must be at least 1",
        ),
        (
            json!({"path": "out", "maxAttempts": 2_147_483_648_u64}),
            "maxAttempts must be at most 2147483647",
        ),
        (json!({"path": "out", "tag": "v1"}), "tag"),
    ] {
        let err = step().run(&w.ctx, config.clone()).await.unwrap_err();
        assert!(err.to_string().contains(want), "{config}: {err}");
        assert_eq!(err.kind(), ErrorKind::Failed, "{config}");
    }
    let err = step().check_config(&json!({"path": ""})).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid github-push config: `path` must not be empty"
    );
    assert_eq!(err.kind(), ErrorKind::Failed);
}

/// The built-ins, as `kargo run` registers them, include it.
#[tokio::test]
async fn it_is_a_built_in_step() {
    let w = World::new().await;
    w.commit_a_and_b();
    let outcome = crate::run(&w.ctx, "github-push", json!({"path": "out"}))
        .await
        .unwrap();
    assert_eq!(outcome.output["branch"], json!("main"));
    assert_eq!(w.head("main"), out(&outcome, "commit"));
}
