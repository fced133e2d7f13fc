//! The local pull-request provider on real repositories: the conformance
//! suite over `file://` and over smart HTTP with basic auth, records seen by
//! every clone, concurrent changes, and what each merge method writes.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kargo_core::credentials::Credentials;
use kargo_git::conformance::git_provider::{self, Case};
use kargo_git::provider::local::LocalProvider;
use kargo_git::provider::{
    DynGitProvider, Error, GitProvider, ListOptions, MergeMethod, MergeOutcome, NewPullRequest,
    StateFilter,
};
use kargo_test_support::git::{bare_repo, file_url, git};
use kargo_test_support::git_server::HttpServer;

/// A bare repository with `main` and the branches [`Case::default`] names.
fn fixture(root: &Path) -> PathBuf {
    let bare = bare_repo(root, "deploy", &[("values.yaml", "image: v1\n")]);
    let work = root.join("fixture-work");
    git(
        root,
        &[
            "clone",
            "-q",
            bare.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    let branch = |name: &str, commits: &[(&str, &str)]| {
        git(&work, &["checkout", "-q", "-B", name, "origin/main"]);
        for (file, content) in commits {
            std::fs::write(work.join(file), content).unwrap();
            git(&work, &["add", "-A"]);
            git(&work, &["commit", "-q", "-m", &format!("add {file}")]);
        }
        git(&work, &["push", "-q", "origin", name]);
    };
    branch("feature/merge", &[("merged.txt", "merged\n")]);
    branch("feature/close", &[("closed.txt", "closed\n")]);
    branch("feature/squash", &[("s1.txt", "1\n"), ("s2.txt", "2\n")]);
    branch("feature/rebase", &[("r1.txt", "1\n"), ("r2.txt", "2\n")]);
    branch("feature/conflict", &[("merged.txt", "something else\n")]);
    bare
}

fn provider(root: &Path, url: &str, work: &str) -> LocalProvider {
    LocalProvider::new(url).with_work_root(root.join(work))
}

fn rev(bare: &Path, rev: &str) -> String {
    git(bare, &["rev-parse", rev])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_over_a_file_url_also_through_box_and_arc() {
    let dir = tempfile::tempdir().unwrap();
    let bare = fixture(dir.path());
    let local = provider(dir.path(), &file_url(&bare), "work");
    git_provider::all(&local, &Case::default()).await;

    // Boxed and shared, on a fresh repository each.
    let dir = tempfile::tempdir().unwrap();
    let bare = fixture(dir.path());
    let boxed: Box<DynGitProvider> = Box::new(provider(dir.path(), &file_url(&bare), "work"));
    git_provider::all(&boxed, &Case::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let bare = fixture(dir.path());
    let shared: Arc<DynGitProvider> = Arc::new(provider(dir.path(), bare.to_str().unwrap(), "w"));
    git_provider::all(&shared, &Case::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_over_smart_http_with_basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    let served = dir.path().join("served");
    std::fs::create_dir_all(&served).unwrap();
    fixture(&served);
    let server = HttpServer::start(&served, "kargo", "s3cret-token");
    let url = format!("http://127.0.0.1:{}/deploy.git", server.port);
    let local = provider(dir.path(), &url, "work")
        .with_credentials(Some(Credentials::new("kargo", "s3cret-token")));
    git_provider::all(&local, &Case::default()).await;

    let anonymous = provider(dir.path(), &url, "anonymous");
    let err = anonymous.get(1).await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    let wrong = provider(dir.path(), &url, "wrong")
        .with_credentials(Some(Credentials::new("kargo", "not-the-token")));
    let err = wrong.list(&ListOptions::default()).await.unwrap_err();
    assert!(
        !format!("{err} {err:?}").contains("not-the-token"),
        "{err:?}"
    );
}

#[tokio::test]
async fn records_live_in_the_repository_and_every_clone_sees_them() {
    let dir = tempfile::tempdir().unwrap();
    let bare = fixture(dir.path());
    let url = file_url(&bare);
    let alice = provider(dir.path(), &url, "alice");
    let opened = alice
        .open(&NewPullRequest::new("feature/merge", "main", "Promote").with_description("plan"))
        .await
        .unwrap();
    assert_eq!(opened.pr.number, 1);
    assert_eq!(opened.pr.url, format!("{url}#pull/1"));
    assert!(git(&bare, &["for-each-ref", "refs/kargo/pulls/"]).contains("refs/kargo/pulls/1"));

    // Another host (its own working repository) sees and merges it.
    let bob = provider(dir.path(), &url, "bob");
    let listed = bob.list(&ListOptions::default()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].description, "plan");
    let MergeOutcome::Merged(merged) = bob.merge(1, None).await.unwrap() else {
        panic!("not merged");
    };
    let commit = merged.merge_commit.unwrap();
    assert_eq!(rev(&bare, "main"), commit);
    assert_eq!(
        git(&bare, &["log", "-1", "--format=%P", "main"])
            .split(' ')
            .count(),
        2,
        "a merge commit has two parents"
    );
    let seen = alice.get(1).await.unwrap();
    assert_eq!(seen.merge_commit.as_deref(), Some(commit.as_str()));
    // The record's history is the audit log.
    let log = git(&bare, &["log", "--format=%s", "refs/kargo/pulls/1"]);
    assert_eq!(
        log,
        "pull request #1: merged (merge)\npull request #1: opened"
    );
}

#[tokio::test]
async fn squash_writes_one_commit_and_rebase_keeps_authors() {
    let dir = tempfile::tempdir().unwrap();
    let bare = fixture(dir.path());
    let local = provider(dir.path(), &file_url(&bare), "work");
    let main_before = rev(&bare, "main");
    let pr = local
        .open(&NewPullRequest::new("feature/squash", "main", "Squash me").with_description("why"))
        .await
        .unwrap()
        .pr;
    local
        .merge(pr.number, Some(MergeMethod::Squash))
        .await
        .unwrap();
    assert_eq!(
        git(&bare, &["log", "-1", "--format=%P", "main"]),
        main_before
    );
    assert_eq!(
        git(&bare, &["log", "-1", "--format=%B", "main"]),
        "Squash me (#1)\n\nwhy"
    );
    assert_eq!(git(&bare, &["show", "main:s2.txt"]), "2");

    // Main moved, so rebase replays both commits with their author.
    let pr = local
        .open(&NewPullRequest::new("feature/rebase", "main", "Rebase me"))
        .await
        .unwrap()
        .pr;
    let squashed = rev(&bare, "main");
    local
        .merge(pr.number, Some(MergeMethod::Rebase))
        .await
        .unwrap();
    assert_eq!(rev(&bare, "main~2"), squashed);
    assert_eq!(
        git(&bare, &["log", "-2", "--format=%an|%cn|%s", "main"]),
        "Fixture|Kargo|add r2.txt\nFixture|Kargo|add r1.txt"
    );
}

#[tokio::test]
async fn fast_forward_needs_an_untouched_target_and_rebase_merge_joins_the_replayed_commits() {
    let dir = tempfile::tempdir().unwrap();
    let bare = fixture(dir.path());
    let local = provider(dir.path(), &file_url(&bare), "work");
    let open = |source: &'static str| {
        let local = &local;
        async move {
            local
                .open(&NewPullRequest::new(source, "main", source))
                .await
                .unwrap()
                .pr
                .number
        }
    };
    // main has not moved since feature/squash branched: it moves there.
    let squash_head = rev(&bare, "feature/squash");
    let number = open("feature/squash").await;
    let merged = match local
        .merge(number, Some(MergeMethod::FastForward))
        .await
        .unwrap()
    {
        MergeOutcome::Merged(pr) => pr,
        other => panic!("{other:?}"),
    };
    assert_eq!(rev(&bare, "main"), squash_head);
    assert_eq!(merged.merge_commit.as_deref(), Some(squash_head.as_str()));

    // Now main has moved on from feature/merge's base: a conflict, and
    // nothing changes.
    let number = open("feature/merge").await;
    let record = rev(&bare, &format!("refs/kargo/pulls/{number}"));
    let err = local
        .merge(number, Some(MergeMethod::FastForward))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    assert!(
        err.to_string().contains("cannot be fast-forwarded"),
        "{err}"
    );
    assert_eq!(rev(&bare, "main"), squash_head);
    assert_eq!(rev(&bare, &format!("refs/kargo/pulls/{number}")), record);

    // Rebase-merge: both commits replayed onto main, then a merge commit.
    let number = open("feature/rebase").await;
    local
        .merge(number, Some(MergeMethod::RebaseMerge))
        .await
        .unwrap();
    let parents = git(&bare, &["log", "-1", "--format=%P", "main"]);
    let parents: Vec<&str> = parents.split(' ').collect();
    assert_eq!(parents.len(), 2, "{parents:?}");
    assert_eq!(parents[0], squash_head);
    assert_eq!(rev(&bare, &format!("{}~2", parents[1])), squash_head);
    assert_eq!(
        git(&bare, &["log", "-2", "--format=%an|%s", parents[1]]),
        "Fixture|add r2.txt\nFixture|add r1.txt"
    );
    assert_eq!(
        git(&bare, &["ls-tree", "--name-only", "main"]),
        "r1.txt\nr2.txt\ns1.txt\ns2.txt\nvalues.yaml"
    );
}

#[tokio::test]
async fn a_conflicting_merge_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bare = fixture(dir.path());
    let local = provider(dir.path(), &file_url(&bare), "work");
    let first = local
        .open(&NewPullRequest::new("feature/merge", "main", "First"))
        .await
        .unwrap();
    local.merge(first.pr.number, None).await.unwrap();
    let second = local
        .open(&NewPullRequest::new("feature/conflict", "main", "Second"))
        .await
        .unwrap();
    let main = rev(&bare, "main");
    let record = rev(&bare, "refs/kargo/pulls/2");
    for method in [
        MergeMethod::Merge,
        MergeMethod::Squash,
        MergeMethod::Rebase,
        MergeMethod::RebaseMerge,
    ] {
        let err = local
            .merge(second.pr.number, Some(method))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("merged.txt"), "{err}");
    }
    assert_eq!(rev(&bare, "main"), main);
    assert_eq!(rev(&bare, "refs/kargo/pulls/2"), record);
}

#[tokio::test]
async fn branches_without_changes_or_missing_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bare = fixture(dir.path());
    git(&bare, &["branch", "same", "main"]);
    let local = provider(dir.path(), &file_url(&bare), "work");
    let err = local
        .open(&NewPullRequest::new("same", "main", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NothingToMerge { .. }), "{err:?}");
    let err = local
        .open(&NewPullRequest::new("feature/merge", "nope", "x"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("\"nope\" does not exist"), "{err}");
    // A missing branch is not bad input: the step ends Errored, as in Kargo.
    assert!(matches!(err, Error::MissingBranch { .. }), "{err:?}");
    assert!(!kargo_core::Error::from(err).is_invalid());
    assert_eq!(git(&bare, &["for-each-ref", "refs/kargo/"]), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_hosts_get_distinct_numbers_and_reuse_one_pull_request() {
    let dir = tempfile::tempdir().unwrap();
    let bare = fixture(dir.path());
    let url = file_url(&bare);
    // Four hosts (own working repositories, so only the remote's
    // compare-and-swap keeps them apart) open PRs at once: two for the
    // same branches, three for others.
    let branches = [
        "feature/merge",
        "feature/merge",
        "feature/close",
        "feature/squash",
        "feature/rebase",
    ];
    let tasks: Vec<_> = branches
        .iter()
        .enumerate()
        .map(|(i, branch)| {
            let p = provider(dir.path(), &url, &format!("host-{i}"));
            let new = NewPullRequest::new(*branch, "main", format!("from {branch}"));
            tokio::spawn(async move { p.open(&new).await.unwrap().pr })
        })
        .collect();
    let mut prs = Vec::new();
    for task in tasks {
        prs.push(task.await.unwrap());
    }
    assert_eq!(prs[0].number, prs[1].number, "one PR for the same branches");
    let mut numbers: Vec<u64> = prs.iter().map(|p| p.number).collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers, vec![1, 2, 3, 4]);
    let all = provider(dir.path(), &url, "reader")
        .list(&ListOptions::default().with_state(StateFilter::All))
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
}
