//! kargo-git against real repositories: bare repositories on disk and a
//! smart-HTTP server with basic auth.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use kargo_core::credentials::Credentials;
use kargo_git::checkout::{self, Revision};
use kargo_git::push::{self, IntegrationPolicy};
use kargo_git::{RepoCache, cache, commit};
use kargo_test_support::git::{bare_repo, clone, file_url, git};
use kargo_test_support::git_server::HttpServer;
use tokio_util::sync::CancellationToken;

fn no_interrupt() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}

async fn fetch(cache: &RepoCache, url: &str) -> cache::Fetched {
    fetch_with(cache, url, None, &cache::Options::default())
        .await
        .expect("fetch")
}

async fn fetch_with(
    cache: &RepoCache,
    url: &str,
    credentials: Option<Credentials>,
    options: &cache::Options,
) -> Result<cache::Fetched, cache::Error> {
    cache.fetch(url, credentials, options, no_interrupt()).await
}

/// A bare repository `app` holding `files`, served over smart HTTP with
/// basic auth, and the credentials the server wants.
fn served(tmp: &Path, files: &[(&str, &str)]) -> (std::path::PathBuf, HttpServer, Credentials) {
    let root = tmp.join("srv");
    std::fs::create_dir_all(&root).unwrap();
    let bare = bare_repo(&root, "app", files);
    let server = HttpServer::start(&root, "kargo", "t0ps3cret");
    (bare, server, Credentials::new("kargo", "t0ps3cret"))
}

fn checkout_branch(fetched: &cache::Fetched, dir: &Path, branch: &str) -> checkout::Outcome {
    checkout::checkout(
        fetched,
        dir,
        &checkout::Options::new(Revision::Branch(branch.to_owned())),
        None,
    )
    .expect("checkout")
}

#[tokio::test]
async fn fetch_then_checkout_writes_the_branch_and_reuses_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(
        tmp.path(),
        "app",
        &[("a/x.yaml", "x: 1\n"), ("b/y.yaml", "y: 1\n")],
    );
    let cache = RepoCache::new(tmp.path().join("cache"));
    let url = file_url(&bare);
    let fetched = fetch(&cache, &url).await;
    assert_eq!(fetched.default_branch.as_deref(), Some("main"));
    let head = git(&bare, &["rev-parse", "main"]);
    assert_eq!(fetched.branch("main"), Some(head.as_str()));

    let dir = tmp.path().join("work/one");
    let out = checkout_branch(&fetched, &dir, "main");
    assert_eq!(out.commit, head);
    assert_eq!(
        std::fs::read_to_string(dir.join("a/x.yaml")).unwrap(),
        "x: 1\n"
    );
    assert_eq!(git(&dir, &["status", "--porcelain"]), "");
    assert_eq!(git(&dir, &["symbolic-ref", "--short", "HEAD"]), "main");

    // A second fetch of the same URL uses the same cached repository.
    let again = fetch(&cache, &url).await;
    assert_eq!(again.repo_dir, fetched.repo_dir);
    assert_eq!(
        std::fs::read_dir(cache.root())
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "git"))
            .count(),
        1
    );
}

#[tokio::test]
async fn checkout_of_tag_and_commit_is_detached() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path(), "app", &[("f", "1")]);
    let cache = RepoCache::new(tmp.path().join("cache"));
    let fetched = fetch(&cache, &file_url(&bare)).await;
    let head = git(&bare, &["rev-parse", "main"]);
    let t = checkout::checkout(
        &fetched,
        &tmp.path().join("t"),
        &checkout::Options::new(Revision::Tag("v1".into())),
        None,
    )
    .unwrap();
    assert_eq!(t.commit, head);
    assert_eq!(t.branch, None);
    let c = checkout::checkout(
        &fetched,
        &tmp.path().join("c"),
        &checkout::Options::new(Revision::Commit(head[..10].into())),
        None,
    )
    .unwrap();
    assert_eq!(c.commit, head);
    let missing = checkout::checkout(
        &fetched,
        &tmp.path().join("m"),
        &checkout::Options::new(Revision::Branch("nope".into())),
        None,
    )
    .unwrap_err();
    assert!(missing.to_string().contains("create=true"), "{missing}");
    // A missing branch is not worth another attempt.
    assert!(!missing.is_retryable());
    let core = kargo_core::Error::from(missing);
    assert!(matches!(core, kargo_core::Error::Precondition(_)), "{core}");
    assert!(core.to_string().contains("create=true"), "{core}");
    assert!(!core.is_temporary());
}

/// A remote nobody answers at may answer later: the fetch error is
/// temporary, in kargo-git's terms and in kargo-core's.
#[tokio::test]
async fn a_remote_that_does_not_answer_is_a_temporary_failure() {
    let tmp = tempfile::tempdir().unwrap();
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/app.git");
    let cache = RepoCache::new(tmp.path().join("cache"));
    let err = fetch_with(&cache, &url, None, &cache::Options::default())
        .await
        .unwrap_err();
    assert!(matches!(err, cache::Error::Fetch { .. }), "{err:?}");
    assert!(err.is_retryable());
    let core = kargo_core::Error::from(err);
    assert!(core.is_temporary(), "{core}");
    assert!(core.to_string().contains(&url), "{core}");
}

#[tokio::test]
async fn sparse_checkout_writes_only_the_named_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(
        tmp.path(),
        "app",
        &[
            ("README", "r"),
            ("env/prod/v.yaml", "p"),
            ("env/dev/v.yaml", "d"),
            ("other/o", "o"),
        ],
    );
    let cache = RepoCache::new(tmp.path().join("cache"));
    let fetched = fetch(&cache, &file_url(&bare)).await;
    let dir = tmp.path().join("w");
    checkout::checkout(
        &fetched,
        &dir,
        &checkout::Options::new(Revision::Branch("main".into()))
            .with_sparse(Some(vec!["env/prod".into()])),
        None,
    )
    .unwrap();
    assert!(dir.join("README").exists());
    assert!(dir.join("env/prod/v.yaml").exists());
    assert!(!dir.join("env/dev").exists());
    assert!(!dir.join("other").exists());
    // A checkout starts no background maintenance after its commits.
    assert_eq!(git(&dir, &["config", "--get", "maintenance.auto"]), "false");
    assert_eq!(git(&dir, &["config", "--get", "gc.auto"]), "0");
    // Committing in a sparse checkout keeps the files it did not write.
    std::fs::write(dir.join("env/prod/v.yaml"), "p2").unwrap();
    commit::commit(&dir, "edit", None).unwrap();
    assert_eq!(
        git(&dir, &["ls-tree", "-r", "--name-only", "HEAD"])
            .lines()
            .count(),
        4
    );
}

/// A bare repository whose `main` holds an executable, a symbolic link,
/// nested directories and `extra` files, all in one commit.
fn repo_with_modes(root: &Path, extra: &[(&str, &str)]) -> std::path::PathBuf {
    let mut files = vec![
        ("README", "r\n"),
        ("run.sh", "#!/bin/sh\n"),
        ("env/prod/v.yaml", "p: 1\n"),
        ("env/prod/deep/w.yaml", "w: 1\n"),
        ("env/dev/v.yaml", "d: 1\n"),
        ("env/prod/item", "i\n"),
        ("other/deep/o", "o\n"),
    ];
    files.extend_from_slice(extra);
    let bare = bare_repo(root, "modes", &files);
    let seed = root.join("modes-edit");
    clone(&bare, &seed);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(seed.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("v.yaml", seed.join("env/prod/link")).unwrap();
    git(&seed, &["add", "-A"]);
    git(&seed, &["commit", "-q", "-m", "modes"]);
    git(&seed, &["push", "-q", "origin", "main"]);
    bare
}

#[tokio::test]
async fn checkouts_written_in_process_are_what_git_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = repo_with_modes(tmp.path(), &[]);
    let cache = RepoCache::new(tmp.path().join("cache"));
    let fetched = fetch(&cache, &file_url(&bare)).await;
    for sparse in [None, Some(vec!["env/prod".to_owned()])] {
        let name = if sparse.is_some() { "sparse" } else { "full" };
        let dir = tmp.path().join(name);
        checkout::checkout(
            &fetched,
            &dir,
            &checkout::Options::new(Revision::Branch("main".into())).with_sparse(sparse.clone()),
            None,
        )
        .unwrap();
        // The same checkout made by git alone.
        let reference = tmp.path().join(format!("{name}-git"));
        let r = reference.to_str().unwrap();
        git(
            tmp.path(),
            &["clone", "-q", "--no-checkout", bare.to_str().unwrap(), r],
        );
        if sparse.is_some() {
            git(
                &reference,
                &[
                    "sparse-checkout",
                    "set",
                    "--cone",
                    "--sparse-index",
                    "env/prod",
                ],
            );
        }
        git(&reference, &["checkout", "-q", "main"]);
        let listing = |d: &Path| git(d, &["ls-files", "--sparse", "--stage"]);
        assert_eq!(listing(&dir), listing(&reference), "{name}");
        assert_eq!(git(&dir, &["status", "--porcelain"]), "", "{name}");
        let files = |d: &Path| {
            let mut found = Vec::new();
            let mut stack = vec![d.to_owned()];
            while let Some(at) = stack.pop() {
                for entry in std::fs::read_dir(&at).unwrap() {
                    let entry = entry.unwrap();
                    let rel = entry.path().strip_prefix(d).unwrap().display().to_string();
                    let meta = std::fs::symlink_metadata(entry.path()).unwrap();
                    if rel == ".git" {
                        continue;
                    } else if meta.is_dir() {
                        stack.push(entry.path());
                    } else {
                        use std::os::unix::fs::PermissionsExt;
                        found.push((
                            rel,
                            meta.permissions().mode(),
                            meta.file_type().is_symlink(),
                        ));
                    }
                }
            }
            found.sort();
            found
        };
        assert_eq!(files(&dir), files(&reference), "{name}");
        assert!(
            std::fs::symlink_metadata(dir.join("env/prod/link"))
                .unwrap()
                .is_symlink()
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("env/prod/link")).unwrap(),
            "p: 1\n"
        );
    }
    let sparse = git(&tmp.path().join("sparse"), &["ls-files", "--sparse"]);
    assert!(sparse.lines().any(|l| l == "other/"), "{sparse}");
}

#[tokio::test]
async fn checkouts_with_attributes_are_written_by_git() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = repo_with_modes(
        tmp.path(),
        &[
            (".gitattributes", "*.txt text eol=crlf\n"),
            ("notes.txt", "a\nb\n"),
        ],
    );
    let cache = RepoCache::new(tmp.path().join("cache"));
    let fetched = fetch(&cache, &file_url(&bare)).await;
    let dir = tmp.path().join("w");
    checkout_branch(&fetched, &dir, "main");
    assert_eq!(std::fs::read(dir.join("notes.txt")).unwrap(), b"a\r\nb\r\n");
    assert_eq!(git(&dir, &["status", "--porcelain"]), "");
}

/// Makes the same edits in `dir`: one file changed, one deleted, one
/// added, one made executable, a link pointed elsewhere, one touched only,
/// one turned into a directory.
fn edit_every_way(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(dir.join("env/prod/v.yaml"), "p: 2\n").unwrap();
    std::fs::remove_file(dir.join("env/prod/deep/w.yaml")).unwrap();
    std::fs::write(dir.join("env/prod/new.yaml"), "n: 1\n").unwrap();
    std::fs::set_permissions(dir.join("README"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::remove_file(dir.join("env/prod/link")).unwrap();
    std::os::unix::fs::symlink("new.yaml", dir.join("env/prod/link")).unwrap();
    let run = std::fs::read(dir.join("run.sh")).unwrap();
    std::fs::write(dir.join("run.sh"), run).unwrap();
    std::fs::remove_file(dir.join("env/prod/item")).unwrap();
    std::fs::create_dir(dir.join("env/prod/item")).unwrap();
    std::fs::write(dir.join("env/prod/item/inner.yaml"), "i: 2\n").unwrap();
}

#[tokio::test]
async fn commits_made_in_process_record_what_git_records() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = repo_with_modes(tmp.path(), &[]);
    let cache = RepoCache::new(tmp.path().join("cache"));
    let fetched = fetch(&cache, &file_url(&bare)).await;
    let reference = tmp.path().join("reference");
    clone(&bare, &reference);
    edit_every_way(&reference);
    git(&reference, &["add", "--all", "."]);
    let expected_tree = git(&reference, &["write-tree"]);
    for sparse in [None, Some(vec!["env/prod".to_owned()])] {
        let dir = tmp
            .path()
            .join(if sparse.is_some() { "sparse" } else { "full" });
        let before = checkout::checkout(
            &fetched,
            &dir,
            &checkout::Options::new(Revision::Branch("main".into())).with_sparse(sparse),
            None,
        )
        .unwrap()
        .commit;
        edit_every_way(&dir);
        let identity = kargo_git::Identity {
            name: "Promoter".into(),
            email: "promoter@example.com".into(),
        };
        let out = commit::commit(&dir, "\nPromote v2  \n\n\nto prod\n\n", Some(&identity)).unwrap();
        assert!(out.created);
        // Made without git: `git commit` would have left its message file,
        // and loose objects instead of one pack.
        assert!(!dir.join(".git/COMMIT_EDITMSG").exists());
        let counts = git(&dir, &["count-objects", "-v"]);
        assert!(counts.lines().any(|l| l == "count: 0"), "{counts}");
        assert!(counts.lines().any(|l| l == "packs: 1"), "{counts}");
        assert_eq!(git(&dir, &["rev-parse", "HEAD"]), out.commit);
        assert_eq!(git(&dir, &["rev-parse", "HEAD^{tree}"]), expected_tree);
        assert_eq!(git(&dir, &["rev-parse", "HEAD^"]), before);
        assert_eq!(git(&dir, &["symbolic-ref", "HEAD"]), "refs/heads/main");
        assert_eq!(
            git(&dir, &["log", "-1", "--format=%an <%ae>|%cn <%ce>|%B"]),
            "Promoter <promoter@example.com>|Promoter <promoter@example.com>|Promote v2\n\nto prod"
        );
        // Checkouts keep no reflogs.
        assert!(!dir.join(".git/logs").exists());
        assert_eq!(git(&dir, &["status", "--porcelain"]), "");
        git(&dir, &["fsck", "--no-progress", "--connectivity-only"]);
        // Nothing left to commit, and a second change commits on top.
        assert!(!commit::commit(&dir, "again", None).unwrap().created);
        std::fs::write(dir.join("env/prod/v.yaml"), "p: 3\n").unwrap();
        let second = commit::commit(&dir, "third", None).unwrap();
        assert!(second.created);
        assert_eq!(git(&dir, &["rev-parse", "HEAD^"]), out.commit);
        assert_eq!(
            git(&dir, &["log", "-1", "--format=%an <%ae>"]),
            "Kargo <no-reply@kargo.io>"
        );
        assert_eq!(git(&dir, &["show", "HEAD:env/prod/v.yaml"]), "p: 3");
        assert_eq!(git(&dir, &["status", "--porcelain"]), "");
    }
}

#[tokio::test]
async fn commits_git_must_judge_are_made_by_git() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = repo_with_modes(tmp.path(), &[(".gitignore", "*.tmp\n")]);
    let cache = RepoCache::new(tmp.path().join("cache"));
    let fetched = fetch(&cache, &file_url(&bare)).await;
    let dir = tmp.path().join("w");
    checkout_branch(&fetched, &dir, "main");
    std::fs::write(dir.join("scratch.tmp"), "ignored").unwrap();
    std::fs::write(dir.join("kept.yaml"), "k: 1\n").unwrap();
    let out = commit::commit(&dir, "with ignores", None).unwrap();
    assert!(out.created);
    assert!(dir.join(".git/COMMIT_EDITMSG").exists());
    let files = git(&dir, &["ls-tree", "-r", "--name-only", "HEAD"]);
    assert!(files.lines().any(|f| f == "kept.yaml"), "{files}");
    assert!(!files.lines().any(|f| f == "scratch.tmp"), "{files}");

    // A change staged with git since the checkout (the index then agrees
    // with the working tree, not with HEAD) is committed too.
    let plain = tmp.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let fetched = fetch(&cache, &file_url(&repo_with_modes(&plain, &[]))).await;
    let dir = tmp.path().join("staged");
    checkout_branch(&fetched, &dir, "main");
    std::fs::write(dir.join("env/prod/v.yaml"), "p: 9\n").unwrap();
    git(&dir, &["add", "env/prod/v.yaml"]);
    assert!(commit::commit(&dir, "staged", None).unwrap().created);
    assert_eq!(git(&dir, &["show", "HEAD:env/prod/v.yaml"]), "p: 9");

    // A new file outside a sparse checkout's cone: git refuses it, and
    // nothing is committed.
    let dir = tmp.path().join("cone");
    let head = checkout::checkout(
        &fetched,
        &dir,
        &checkout::Options::new(Revision::Branch("main".into()))
            .with_sparse(Some(vec!["env/prod".into()])),
        None,
    )
    .unwrap()
    .commit;
    std::fs::create_dir(dir.join("fresh")).unwrap();
    std::fs::write(dir.join("fresh/new.yaml"), "n: 1\n").unwrap();
    let err = commit::commit(&dir, "outside", None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("sparse-checkout"), "{err}");
    assert_eq!(git(&dir, &["rev-parse", "HEAD"]), head);
}

#[tokio::test]
async fn commit_without_changes_makes_no_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path(), "app", &[("f", "1")]);
    let cache = RepoCache::new(tmp.path().join("cache"));
    let fetched = fetch(&cache, &file_url(&bare)).await;
    let dir = tmp.path().join("w");
    let co = checkout_branch(&fetched, &dir, "main");
    let out = commit::commit(&dir, "nothing", None).unwrap();
    assert!(!out.created);
    assert_eq!(out.commit, co.commit);
    std::fs::write(dir.join("g"), "new").unwrap();
    let out = commit::commit(
        &dir,
        "add g",
        Some(&kargo_git::Identity {
            name: "A".into(),
            email: "a@example.com".into(),
        }),
    )
    .unwrap();
    assert!(out.created);
    assert_eq!(
        git(&dir, &["log", "-1", "--format=%an <%ae> %s"]),
        "A <a@example.com> add g"
    );
}

#[tokio::test]
async fn push_lands_the_commit_and_creates_missing_branches() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path(), "app", &[("f", "1")]);
    let cache = RepoCache::new(tmp.path().join("cache"));
    let fetched = fetch(&cache, &file_url(&bare)).await;
    let dir = tmp.path().join("w");
    checkout_branch(&fetched, &dir, "main");
    std::fs::write(dir.join("f"), "2").unwrap();
    let c = commit::commit(&dir, "two", None).unwrap();
    let out = push::push(
        &dir,
        &push::Options::default(),
        None,
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(out.branch.as_deref(), Some("main"));
    assert_eq!(out.commit, c.commit);
    assert_eq!(git(&bare, &["rev-parse", "main"]), c.commit);

    // To another branch.
    let out = push::push(
        &dir,
        &push::Options::default()
            .with_target(push::Target::Branch(Some("kargo/promotion/p1".into())))
            .with_force(true),
        None,
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(git(&bare, &["rev-parse", "kargo/promotion/p1"]), out.commit);

    // create=true on a missing branch: an orphan with an empty commit.
    let fetched = fetch(&cache, &file_url(&bare)).await;
    let o = checkout::checkout(
        &fetched,
        &tmp.path().join("o"),
        &checkout::Options::new(Revision::Branch("stage/prod".into())).with_create(true),
        None,
    )
    .unwrap();
    assert!(o.created);
    assert_eq!(git(&bare, &["rev-parse", "stage/prod"]), o.commit);
    assert_eq!(git(&bare, &["ls-tree", "stage/prod"]), "");
}

/// `n` promotions at once, each with its own checkout, committing a file
/// of its own and pushing to `main` of `bare` through one of `urls` (in
/// turn): every commit lands, in a linear history.
///
/// Pushes through one URL are serialised within a process; spellings of
/// one remote that differ (`127.0.0.1` and `localhost`) are not, so with
/// two of them the pushes race at the remote as separate processes' do.
async fn concurrent_pushes(n: usize, bare: &Path, urls: &[String], creds: Option<Credentials>) {
    let tmp = tempfile::tempdir().unwrap();
    let cache = RepoCache::new(tmp.path().join("cache"));
    let mut tasks = Vec::new();
    for i in 0..n {
        let (cache, url, creds) = (cache.clone(), urls[i % urls.len()].clone(), creds.clone());
        let dir = tmp.path().join(format!("w{i}"));
        tasks.push(tokio::spawn(async move {
            let fetched = fetch_with(&cache, &url, creds.clone(), &cache::Options::default())
                .await
                .unwrap();
            checkout_branch(&fetched, &dir, "main");
            std::fs::write(dir.join(format!("file-{i}")), format!("{i}\n")).unwrap();
            commit::commit(&dir, &format!("promotion {i}"), None).unwrap();
            push::push(
                &dir,
                &push::Options::default(),
                creds,
                &CancellationToken::new(),
            )
            .await
            .unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let log = git(bare, &["log", "--format=%s", "main"]);
    for i in 0..n {
        assert!(
            log.lines().any(|l| l == format!("promotion {i}")),
            "promotion {i} missing:\n{log}"
        );
    }
    assert_eq!(log.lines().count(), n + 1);
    assert_eq!(git(bare, &["rev-list", "--merges", "--count", "main"]), "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_pushes_to_one_branch_all_land_in_a_linear_history() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path(), "app", &[("README", "r")]);
    concurrent_pushes(10, &bare, &[file_url(&bare)], None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_pushes_over_smart_http_with_basic_auth_all_land() {
    let tmp = tempfile::tempdir().unwrap();
    let (bare, server, creds) = served(tmp.path(), &[("README", "r")]);
    let url = server.url("app");
    let other = url.replacen("127.0.0.1", "localhost", 1);
    assert_ne!(url, other);
    concurrent_pushes(8, &bare, &[url, other], Some(creds)).await;
}

#[tokio::test]
async fn conflicting_rebase_fails_under_rebase_or_fail_and_the_remote_keeps_the_first_change() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path(), "app", &[("values.yaml", "tag: v1\n")]);
    let cache = RepoCache::new(tmp.path().join("cache"));
    let fetched = fetch(&cache, &file_url(&bare)).await;
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    checkout_branch(&fetched, &a, "main");
    checkout_branch(&fetched, &b, "main");
    std::fs::write(a.join("values.yaml"), "tag: v2\n").unwrap();
    std::fs::write(b.join("values.yaml"), "tag: v3\n").unwrap();
    commit::commit(&a, "a", None).unwrap();
    let b_commit = commit::commit(&b, "b", None).unwrap();
    let opts = push::Options::default().with_policy(IntegrationPolicy::RebaseOrFail);
    let first = push::push(&a, &opts, None, &CancellationToken::new())
        .await
        .unwrap();
    let err = push::push(&b, &opts, None, &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(err, push::Error::MergeConflict { .. }), "{err}");
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("conflict"), "{err}");
    let core = kargo_core::Error::from(err);
    assert!(matches!(core, kargo_core::Error::Precondition(_)), "{core}");
    assert!(!core.is_temporary());
    assert_eq!(git(&bare, &["rev-parse", "main"]), first.commit);
    assert_eq!(git(&bare, &["show", "main:values.yaml"]), "tag: v2");
    // The local branch is back where it was, with no rebase in progress.
    assert_eq!(git(&b, &["rev-parse", "HEAD"]), b_commit.commit);
    assert!(!b.join(".git/rebase-merge").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smart_http_with_basic_auth_clones_and_pushes() {
    let tmp = tempfile::tempdir().unwrap();
    let (bare, server, creds) = served(tmp.path(), &[("f", "1")]);
    let url = server.url("app");
    let cache = RepoCache::new(tmp.path().join("cache"));
    let fetched = fetch_with(
        &cache,
        &url,
        Some(creds.clone()),
        &cache::Options::default(),
    )
    .await
    .unwrap();
    assert_eq!(fetched.default_branch.as_deref(), Some("main"));
    let dir = tmp.path().join("w");
    checkout_branch(&fetched, &dir, "main");
    std::fs::write(dir.join("f"), "2").unwrap();
    let c = commit::commit(&dir, "over http", None).unwrap();
    let out = push::push(
        &dir,
        &push::Options::default(),
        Some(creds.clone()),
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(out.commit, c.commit);
    assert_eq!(git(&bare, &["rev-parse", "main"]), c.commit);
    // No secret was written into the checkout's configuration.
    let config = std::fs::read_to_string(dir.join(".git/config")).unwrap();
    assert!(!config.contains("t0ps3cret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_name_the_url_and_not_the_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("srv");
    std::fs::create_dir_all(&root).unwrap();
    bare_repo(&root, "app", &[("f", "1")]);
    let server = HttpServer::start(&root, "kargo", "right-secret");
    let url = server.url("app");
    let wrong = Credentials {
        username: "kargo".into(),
        password: "wr0ng-s3cret".into(),
    };
    let cache = RepoCache::new(tmp.path().join("cache"));
    let err = fetch_with(
        &cache,
        &url,
        Some(wrong.clone()),
        &cache::Options::default(),
    )
    .await
    .unwrap_err();
    let shown = format!("{err} / {err:?}");
    assert!(
        matches!(err, cache::Error::Authentication { .. }),
        "{shown}"
    );
    assert!(shown.contains(&url), "{shown}");
    assert!(!shown.contains("wr0ng-s3cret"), "{shown}");
    let err = cache
        .fetch(&url, None, &cache::Options::default(), no_interrupt())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            cache::Error::Authentication {
                had_credentials: false,
                ..
            }
        ),
        "{err}"
    );

    // Push with wrong credentials from a checkout made with the right ones.
    let right = Credentials {
        username: "kargo".into(),
        password: "right-secret".into(),
    };
    let fetched = fetch_with(&cache, &url, Some(right), &cache::Options::default())
        .await
        .unwrap();
    let dir = tmp.path().join("w");
    checkout_branch(&fetched, &dir, "main");
    std::fs::write(dir.join("f"), "2").unwrap();
    commit::commit(&dir, "x", None).unwrap();
    let err = push::push(
        &dir,
        &push::Options::default(),
        Some(wrong),
        &CancellationToken::new(),
    )
    .await
    .unwrap_err();
    let shown = format!("{err} / {err:?}");
    assert!(matches!(err, push::Error::Authentication { .. }), "{shown}");
    assert!(shown.contains(&url), "{shown}");
    assert!(!shown.contains("wr0ng-s3cret"), "{shown}");
    // Refused credentials stay refused: not worth another attempt.
    assert!(!kargo_core::Error::from(err).is_temporary());
}

#[tokio::test]
async fn a_shallow_cache_gives_shallow_checkouts_that_still_push_and_rebase() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path(), "app", &[("f", "1")]);
    // More history on the remote.
    let seed = tmp.path().join("seed");
    clone(&bare, &seed);
    for i in 0..5 {
        std::fs::write(seed.join("f"), format!("{i}")).unwrap();
        git(&seed, &["commit", "-q", "-am", &format!("c{i}")]);
    }
    git(&seed, &["push", "-q", "origin", "main"]);

    let cache = RepoCache::new(tmp.path().join("cache"));
    let options = cache::Options::default().with_depth(std::num::NonZeroU32::new(1));
    let fetched = cache
        .fetch(&file_url(&bare), None, &options, no_interrupt())
        .await
        .unwrap();
    assert!(fetched.repo_dir.join("shallow").is_file());
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    checkout_branch(&fetched, &a, "main");
    checkout_branch(&fetched, &b, "main");
    assert_eq!(git(&a, &["rev-list", "--count", "HEAD"]), "1");
    std::fs::write(a.join("a.txt"), "a").unwrap();
    std::fs::write(b.join("b.txt"), "b").unwrap();
    commit::commit(&a, "a", None).unwrap();
    commit::commit(&b, "b", None).unwrap();
    push::push(
        &a,
        &push::Options::default(),
        None,
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    // b's push is rejected, rebased onto a's commit and pushed.
    let out = push::push(
        &b,
        &push::Options::default(),
        None,
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(out.attempts, 1);
    assert_eq!(
        git(&bare, &["log", "--format=%s", "-3", "main"]),
        "b\na\nc4"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ls_remote_lists_refs_without_fetching_objects() {
    let tmp = tempfile::tempdir().unwrap();
    let (bare, server, creds) = served(tmp.path(), &[("f", "1")]);
    let cache = RepoCache::new(tmp.path().join("cache"));
    for (url, creds) in [(file_url(&bare), None), (server.url("app"), Some(creds))] {
        let listed = cache
            .ls_remote(
                &url,
                creds.clone(),
                &cache::Options::default(),
                no_interrupt(),
            )
            .await
            .unwrap();
        assert_eq!(listed.default_branch.as_deref(), Some("main"));
        let main = git(&bare, &["rev-parse", "main"]);
        assert_eq!(listed.refs.get("refs/heads/main"), Some(&main));
        // The annotated tag is listed by its tag object.
        let tag = git(&bare, &["rev-parse", "refs/tags/v1"]);
        assert_eq!(listed.refs.get("refs/tags/v1"), Some(&tag));
        // Nothing was fetched: the cached repository has no such object.
        let cached = cache.repo_dir(&url);
        let out = std::process::Command::new("git")
            .args(["cat-file", "-e", &main])
            .current_dir(&cached)
            .status()
            .unwrap();
        assert!(!out.success(), "ls-remote must not fetch objects");
        // After a fetch, the refs agree.
        let fetched = cache
            .fetch(&url, creds, &cache::Options::default(), no_interrupt())
            .await
            .unwrap();
        assert_eq!(fetched.refs, listed.refs);
    }
    // Without credentials the HTTP remote is an authentication error.
    let err = cache
        .ls_remote(
            &server.url("app"),
            None,
            &cache::Options::default(),
            no_interrupt(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, cache::Error::Authentication { .. }), "{err}");
}

/// Whether `dir`'s repository (or one it borrows from) holds `id`, without
/// letting a partial clone fetch it.
fn holds(dir: &Path, id: &str) -> bool {
    std::process::Command::new("git")
        .args(["--no-lazy-fetch", "cat-file", "-e", id])
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .status()
        .unwrap()
        .success()
}

#[tokio::test]
async fn blobless_caches_hold_no_contents_and_checkouts_fetch_only_what_they_write() {
    let tmp = tempfile::tempdir().unwrap();
    let (bare, server, creds) = served(
        tmp.path(),
        &[
            ("README", "r"),
            ("env/prod/v.yaml", "p"),
            ("env/dev/v.yaml", "d"),
        ],
    );
    git(&bare, &["config", "uploadpack.allowFilter", "true"]);
    let blob = |path: &str| git(&bare, &["rev-parse", &format!("HEAD:{path}")]);
    let (prod, dev) = (blob("env/prod/v.yaml"), blob("env/dev/v.yaml"));
    let url = server.url("app");
    let cache = RepoCache::new(tmp.path().join("cache"));
    let fetched = fetch_with(
        &cache,
        &url,
        Some(creds.clone()),
        &cache::Options::default().with_blobless(true),
    )
    .await
    .unwrap();
    assert!(fetched.partial);
    // Commits and trees, no file contents.
    assert!(holds(&fetched.repo_dir, fetched.branch("main").unwrap()));
    assert!(!holds(&fetched.repo_dir, &prod));
    assert!(!holds(&fetched.repo_dir, &dev));
    let config = std::fs::read_to_string(fetched.repo_dir.join("config")).unwrap();
    assert!(!config.contains("t0ps3cret"), "{config}");

    // A sparse checkout fetches the contents of its directories only.
    let dir = tmp.path().join("w");
    checkout::checkout(
        &fetched,
        &dir,
        &checkout::Options::new(Revision::Branch("main".into()))
            .with_sparse(Some(vec!["env/prod".into()])),
        Some(&creds),
    )
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("env/prod/v.yaml")).unwrap(),
        "p"
    );
    assert!(holds(&dir, &prod));
    assert!(!holds(&dir, &dev));

    // Commit and push work as in any checkout.
    std::fs::write(dir.join("env/prod/v.yaml"), "p2").unwrap();
    commit::commit(&dir, "prod p2", None).unwrap();
    let pushed = push::push(
        &dir,
        &push::Options::default(),
        Some(creds.clone()),
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(git(&bare, &["rev-parse", "main"]), pushed.commit);
    assert_eq!(git(&bare, &["show", "main:env/prod/v.yaml"]), "p2");
    assert_eq!(git(&bare, &["show", "main:env/dev/v.yaml"]), "d");

    // Later fetches into the blobless cache (gix's) bring what is new.
    let again = fetch_with(&cache, &url, Some(creds), &cache::Options::default())
        .await
        .unwrap();
    assert!(again.partial);
    assert_eq!(again.branch("main"), Some(pushed.commit.as_str()));
}

#[tokio::test]
async fn blobless_against_a_server_without_filters_fetches_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path(), "app", &[("env/dev/v.yaml", "d")]);
    let dev = git(&bare, &["rev-parse", "HEAD:env/dev/v.yaml"]);
    let cache = RepoCache::new(tmp.path().join("cache"));
    let fetched = fetch_with(
        &cache,
        &file_url(&bare),
        None,
        &cache::Options::default().with_blobless(true),
    )
    .await
    .unwrap();
    assert!(holds(&fetched.repo_dir, &dev));
    let dir = tmp.path().join("w");
    checkout_branch(&fetched, &dir, "main");
    assert_eq!(
        std::fs::read_to_string(dir.join("env/dev/v.yaml")).unwrap(),
        "d"
    );
}

#[tokio::test]
async fn submodules_are_checked_out_recursively_with_their_own_credentials() {
    let tmp = tempfile::tempdir().unwrap();
    let (bare, server, creds) = served(tmp.path(), &[("README", "app\n")]);
    let root = bare.parent().unwrap();
    let lib = bare_repo(root, "lib", &[("lib.yaml", "lib: 1\n")]);
    // The superproject names the library by a URL relative to its own.
    let seed = tmp.path().join("seed");
    clone(&bare, &seed);
    git(
        &seed,
        &[
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "add",
            "-q",
            &file_url(&lib),
            "vendor/lib",
        ],
    );
    git(
        &seed,
        &[
            "config",
            "-f",
            ".gitmodules",
            "submodule.vendor/lib.url",
            "../lib.git",
        ],
    );
    git(&seed, &["commit", "-q", "-am", "vendor lib"]);
    git(&seed, &["push", "-q", "origin", "main"]);

    let url = server.url("app");
    let cache = RepoCache::new(tmp.path().join("cache"));
    let fetched = fetch_with(
        &cache,
        &url,
        Some(creds.clone()),
        &cache::Options::default(),
    )
    .await
    .unwrap();
    let options = checkout::Options::new(Revision::Branch("main".into()));
    let plain = tmp.path().join("plain");
    checkout::checkout(&fetched, &plain, &options, Some(&creds)).unwrap();
    assert!(!plain.join("vendor/lib/lib.yaml").exists());

    // The library's URL is another repository: it gets the credentials
    // looked up for it, here the same ones.
    let lib_url = server.url("lib");
    let lib_creds = creds.clone();
    let lookup =
        checkout::CredentialLookup::new(move |url| (url == lib_url).then(|| lib_creds.clone()));
    let dir = tmp.path().join("w");
    checkout::checkout(
        &fetched,
        &dir,
        &options
            .clone()
            .with_recurse_submodules(true)
            .with_submodule_credentials(Some(lookup)),
        Some(&creds),
    )
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("vendor/lib/lib.yaml")).unwrap(),
        "lib: 1\n"
    );
    assert_eq!(
        git(&dir.join("vendor/lib"), &["rev-parse", "HEAD"]),
        git(&lib, &["rev-parse", "main"])
    );
    // A change beside the submodule commits and leaves it as it was.
    std::fs::write(dir.join("README"), "app 2\n").unwrap();
    assert!(commit::commit(&dir, "edit", None).unwrap().created);
    assert_eq!(git(&dir, &["status", "--porcelain"]), "");

    // Without credentials the library cannot be fetched, and the error
    // names no secret.
    let err = checkout::checkout(
        &fetched,
        &tmp.path().join("anonymous"),
        &options.with_recurse_submodules(true),
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("submodule"), "{err}");
    assert!(!err.contains("t0ps3cret"), "{err}");
}

#[tokio::test]
async fn a_cache_fetched_many_times_keeps_few_packs_and_every_commit() {
    fetched_many_times_keeps_few_packs(false).await;
}

#[tokio::test]
async fn a_blobless_cache_fetched_many_times_keeps_few_packs_and_stays_partial() {
    fetched_many_times_keeps_few_packs(true).await;
}

/// Fetches 40 new commits one by one into a (blobless) cache and checks
/// that its packs were rolled up along the way and nothing was lost.
async fn fetched_many_times_keeps_few_packs(blobless: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path(), "app", &[("values.yaml", "tag: v0\n")]);
    git(&bare, &["config", "uploadpack.allowFilter", "true"]);
    let first_blob = git(&bare, &["rev-parse", "main:values.yaml"]);
    let url = file_url(&bare);
    let seed = tmp.path().join("seed");
    clone(&bare, &seed);
    let cache = RepoCache::new(tmp.path().join("cache"));
    let options = cache::Options::default().with_blobless(blobless);
    let packs = |ext: &str| {
        std::fs::read_dir(cache.repo_dir(&url).join("objects/pack"))
            .unwrap()
            .filter(|e| {
                let path = e.as_ref().unwrap().path();
                path.extension().is_some_and(|x| x == ext)
            })
            .count()
    };
    let fetched = fetch_with(&cache, &url, None, &options).await.unwrap();
    assert_eq!(fetched.partial, blobless);
    let mut most = 0;
    let mut dropped = String::new();
    for n in 1..=40 {
        std::fs::write(seed.join("values.yaml"), format!("tag: v{n}\n")).unwrap();
        git(&seed, &["commit", "-q", "-am", &format!("v{n}")]);
        git(&seed, &["push", "-q", "-f", "origin", "main"]);
        fetch_with(&cache, &url, None, &options).await.unwrap();
        most = most.max(packs("pack"));
        if n == 1 {
            // The remote drops v1 (the next push is forced): the cache
            // keeps it, for any checkout that may still be using it.
            dropped = git(&seed, &["rev-parse", "HEAD"]);
            git(&seed, &["reset", "-q", "--hard", "HEAD~1"]);
        }
    }
    // Each fetch wrote a pack; they were rolled up along the way.
    assert!(most <= 17, "{most} packs");
    let repo = cache.repo_dir(&url);
    assert_eq!(git(&repo, &["rev-list", "--count", "main"]), "40");
    assert!(holds(&repo, &dropped), "the rollup pruned {dropped}");
    git(&repo, &["fsck", "--no-progress", "--connectivity-only"]);
    // A blobless cache is still one: its promisor pack survived the
    // rollup, and what it never fetched is still missing.
    assert_eq!(packs("promisor") > 0, blobless);
    assert_eq!(!holds(&repo, &first_blob), blobless);
    let fetched = fetch_with(&cache, &url, None, &options).await.unwrap();
    assert_eq!(fetched.partial, blobless);
    let dir = tmp.path().join("w");
    checkout_branch(&fetched, &dir, "main");
    assert_eq!(
        std::fs::read_to_string(dir.join("values.yaml")).unwrap(),
        "tag: v40\n"
    );
}

#[tokio::test]
async fn stale_git_locks_left_in_the_cache_by_a_dead_process_are_cleared() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path(), "app", &[("f", "1")]);
    let url = file_url(&bare);
    let cache = RepoCache::new(tmp.path().join("cache"));
    let first = fetch(&cache, &url).await;
    // A fetch killed while updating refs and config leaves these behind.
    std::fs::write(first.repo_dir.join("refs/heads/main.lock"), "").unwrap();
    std::fs::write(first.repo_dir.join("config.lock"), "").unwrap();
    let seed = tmp.path().join("seed");
    clone(&bare, &seed);
    std::fs::write(seed.join("f"), "2").unwrap();
    git(&seed, &["commit", "-qam", "two"]);
    git(&seed, &["push", "-q", "origin", "main"]);
    let again = fetch(&cache, &url).await;
    assert_eq!(
        again.branch("main"),
        Some(git(&bare, &["rev-parse", "main"]).as_str())
    );
    assert!(!first.repo_dir.join("refs/heads/main.lock").exists());
    assert!(!first.repo_dir.join("config.lock").exists());
}

#[tokio::test]
async fn a_checkout_cut_short_is_redone_and_a_failed_one_leaves_no_git_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path(), "app", &[("f", "1"), ("dir/g", "2")]);
    let fetched = fetch(&RepoCache::new(tmp.path().join("cache")), &file_url(&bare)).await;
    let dir = tmp.path().join("w");
    checkout_branch(&fetched, &dir, "main");
    // As if killed half-way: files missing, junk left, the index gone.
    std::fs::remove_file(dir.join("f")).unwrap();
    std::fs::remove_file(dir.join(".git/index")).unwrap();
    std::fs::write(dir.join("junk"), "x").unwrap();
    let out = checkout_branch(&fetched, &dir, "main");
    assert_eq!(out.commit, git(&bare, &["rev-parse", "main"]));
    assert_eq!(std::fs::read_to_string(dir.join("f")).unwrap(), "1");
    assert!(!dir.join("junk").exists());
    assert_eq!(git(&dir, &["status", "--porcelain"]), "");

    // A directory kargo-rs did not make is still refused.
    let foreign = tmp.path().join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("mine.txt"), "keep").unwrap();
    let err = checkout::checkout(
        &fetched,
        &foreign,
        &checkout::Options::new(Revision::Branch("main".into())),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, checkout::Error::NotEmpty { .. }), "{err}");
    assert_eq!(
        std::fs::read_to_string(foreign.join("mine.txt")).unwrap(),
        "keep"
    );

    // A commit that does not exist: nothing is left behind.
    let missing = tmp.path().join("missing");
    let err = checkout::checkout(
        &fetched,
        &missing,
        &checkout::Options::new(Revision::Commit(
            "0123456789abcdef0123456789abcdef01234567".into(),
        )),
        None,
    )
    .unwrap_err();
    assert!(
        matches!(err, checkout::Error::CommitNotFound { .. }),
        "{err}"
    );
    assert!(!missing.exists());
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    checkout::checkout(
        &fetched,
        &empty,
        &checkout::Options::new(Revision::Commit(
            "0123456789abcdef0123456789abcdef01234567".into(),
        )),
        None,
    )
    .unwrap_err();
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
}

#[tokio::test]
async fn a_ref_locked_on_the_remote_is_named_in_the_error() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path(), "app", &[("f", "1")]);
    let fetched = fetch(&RepoCache::new(tmp.path().join("cache")), &file_url(&bare)).await;
    let dir = tmp.path().join("w");
    checkout_branch(&fetched, &dir, "main");
    std::fs::write(dir.join("f"), "2").unwrap();
    commit::commit(&dir, "two", None).unwrap();
    // A lock left on the server by a process that died there.
    std::fs::write(bare.join("refs/heads/main.lock"), "").unwrap();
    let options = push::Options::default().with_backoff(push::Backoff::starting_at(
        std::time::Duration::from_millis(10),
    ));
    let err = push::push(&dir, &options, None, &CancellationToken::new())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, push::Error::RefLocked { .. }), "{text}");
    assert!(
        text.contains("refs/heads/main") && text.contains("main.lock"),
        "{text}"
    );
    assert!(!err.is_retryable());
}
