//! The git steps run as the engine runs them, against bare repositories
//! made with the git CLI.
#![cfg(feature = "git")]
#![allow(clippy::unwrap_used)]

use std::path::Path;

use kargo_core::Workspace;
use kargo_core::model::StepStatus;
use kargo_core::step::{ErrorKind, Step, StepContext};
use kargo_git::RepoCache;
use kargo_steps::git::{GitClear, GitClone, GitCommit, GitPush, GitTag};
use kargo_test_support::git;
use serde_json::json;

fn bare_repo(root: &Path) -> std::path::PathBuf {
    let bare = kargo_test_support::git::init_bare(&root.join("remote.git"));
    let seed = root.join("seed");
    std::fs::create_dir_all(seed.join("env/prod")).unwrap();
    git(&seed, &["init", "-q", "--initial-branch=main"]);
    std::fs::write(seed.join("env/prod/values.yaml"), "tag: v1\n").unwrap();
    std::fs::write(seed.join("README.md"), "sample\n").unwrap();
    git(&seed, &["add", "-A"]);
    git(&seed, &["commit", "-q", "-m", "seed"]);
    git(&seed, &["push", "-q", bare.to_str().unwrap(), "main"]);
    bare
}

#[tokio::test]
async fn clone_commit_push_tag_and_clear_with_kargos_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = bare_repo(tmp.path());
    let url = format!("file://{}", bare.display());
    let wd = tmp.path().join("wd");
    std::fs::create_dir_all(&wd).unwrap();
    let ctx = StepContext::new(Workspace::new(&wd).unwrap()).with_names("p", "prod", "prod.01abc");
    let clone = GitClone::new(RepoCache::new(tmp.path().join("cache")));

    let out = clone
        .run(
            &ctx,
            json!({"repoURL": url, "checkout": [
            {"branch": "main", "path": "src", "as": "source"},
            {"branch": "stage/prod", "create": true, "path": "out"}
        ], "author": {"name": "Promoter", "email": "promoter@example.com"},
            "recurseSubmodules": true}),
        )
        .await
        .unwrap();
    let main = git(&bare, &["rev-parse", "main"]);
    assert_eq!(out.output["commits"]["source"], json!(main));
    assert_eq!(
        out.output["commits"]["out"],
        json!(git(&bare, &["rev-parse", "stage/prod"]))
    );

    // Nothing changed: Skipped, with the current commit as output.
    let out = GitCommit
        .run(&ctx, json!({"path": "src", "message": "noop"}))
        .await
        .unwrap();
    assert_eq!(out.status, StepStatus::Skipped);
    assert_eq!(out.output["commit"], json!(main));

    std::fs::write(wd.join("src/env/prod/values.yaml"), "tag: v2\n").unwrap();
    let out = GitCommit
        .run(&ctx, json!({"path": "src", "message": "Promote v2"}))
        .await
        .unwrap();
    assert_eq!(out.status, StepStatus::Succeeded);
    let commit = out.output["commit"].as_str().unwrap().to_owned();
    assert_eq!(
        git(&wd.join("src"), &["log", "-1", "--format=%an"]),
        "Promoter"
    );

    let out = GitPush::new()
        .run(&ctx, json!({"path": "src"}))
        .await
        .unwrap();
    assert_eq!(out.output["branch"], json!("main"));
    assert_eq!(out.output["commit"], json!(commit));
    assert!(out.output.get("commitURL").is_none());
    assert_eq!(git(&bare, &["rev-parse", "main"]), commit);

    let out = GitPush::new()
        .run(&ctx, json!({"path": "src", "generateTargetBranch": true}))
        .await
        .unwrap();
    assert_eq!(out.output["branch"], json!("kargo/promotion/prod.01abc"));
    assert_eq!(
        git(&bare, &["rev-parse", "kargo/promotion/prod.01abc"]),
        commit
    );

    let out = GitTag
        .run(&ctx, json!({"path": "src", "tag": "v2", "message": "v2"}))
        .await
        .unwrap();
    assert_eq!(out.output["commit"], json!(commit));
    GitPush::new()
        .run(&ctx, json!({"path": "src", "tag": "v2"}))
        .await
        .unwrap();
    assert_eq!(git(&bare, &["rev-parse", "v2^{commit}"]), commit);

    GitClear.run(&ctx, json!({"path": "src"})).await.unwrap();
    assert_eq!(
        std::fs::read_dir(wd.join("src")).unwrap().count(),
        1,
        "only .git is left"
    );
    let out = GitCommit
        .run(&ctx, json!({"path": "src", "message": "clear"}))
        .await
        .unwrap();
    assert_eq!(out.status, StepStatus::Succeeded);
    assert_eq!(git(&wd.join("src"), &["ls-tree", "HEAD"]), "");
}

#[tokio::test]
async fn bad_configs_fail_with_the_field_named() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = StepContext::new(Workspace::new(tmp.path()).unwrap());
    let clone = GitClone::new(RepoCache::new(tmp.path().join("cache")));
    let err = clone
        .run(&ctx, json!({"repoURL": "file:///nowhere", "checkout": [{"branch": "a", "tag": "b", "path": "x"}]}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("more than one"), "{err}");
    let err = clone
        .run(
            &ctx,
            json!({"repoURL": "file:///nowhere", "checkout": [{"branch": "a", "path": "../x"}]}),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("leaves the work directory"),
        "{err}"
    );
    let err = GitPush::new()
        .run(&ctx, json!({"path": "x", "targetBranch": "a", "tag": "b"}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("mutually exclusive"), "{err}");
}

/// A step of the host's own, registered next to the built-ins, that
/// declares the config field naming its path: `git-clone` checks out only
/// that path for it, although git-clone knows nothing of the step. Without
/// the declaration the same promotion gets a full checkout.
#[tokio::test]
async fn a_host_step_declaring_its_path_field_makes_git_clone_sparse() {
    use kargo_core::engine::{Engine, PromotionContext};
    use kargo_core::model::{PromotionPhase, PromotionStep};
    use kargo_core::step::{Capabilities, StepError, StepOutcome, StepRegistry, Touches};

    /// Writes `stamped` to the file its `target` names.
    #[derive(Debug)]
    struct Stamp {
        declares: bool,
    }

    #[async_trait::async_trait]
    impl Step for Stamp {
        async fn run(
            &self,
            ctx: &StepContext,
            config: serde_json::Value,
        ) -> Result<StepOutcome, StepError> {
            let target = config["target"].as_str().unwrap_or_default();
            let path = ctx.workspace.resolve(target)?;
            std::fs::write(&path, "stamped\n")
                .map_err(|e| StepError::terminal(format!("stamp: {e}")))?;
            Ok(StepOutcome::succeeded())
        }

        fn capabilities(&self) -> Capabilities {
            if self.declares {
                Capabilities::default().with_touches(Touches::Fields(&["target"]))
            } else {
                Capabilities::default()
            }
        }
    }

    for declares in [true, false] {
        let tmp = tempfile::tempdir().unwrap();
        let bare = kargo_test_support::git::bare_repo(
            tmp.path(),
            "remote",
            &[
                ("env/prod/values.yaml", "tag: v1\n"),
                ("env/dev/values.yaml", "tag: v1\n"),
            ],
        );
        let mut registry = StepRegistry::new();
        kargo_steps::register_builtins(&mut registry);
        registry.replace(
            "git-clone",
            GitClone::new(RepoCache::new(tmp.path().join("cache"))),
        );
        registry.register("stamp", Stamp { declares }).unwrap();
        let steps: Vec<PromotionStep> = serde_json::from_value(json!([
            {"uses": "git-clone", "config": {
                "repoURL": kargo_test_support::git::file_url(&bare),
                "checkout": [{"branch": "main", "path": "./out"}],
            }},
            {"uses": "stamp", "config": {"target": "./out/env/prod/values.yaml"}},
        ]))
        .unwrap();
        let wd = tmp.path().join("wd");
        std::fs::create_dir_all(&wd).unwrap();
        let ctx = PromotionContext::new(Workspace::new(&wd).unwrap());
        let state = Engine::new(std::sync::Arc::new(registry))
            .run(&ctx, &steps)
            .await
            .unwrap();
        assert_eq!(state.phase, PromotionPhase::Succeeded, "{:?}", state.steps);
        assert_eq!(
            std::fs::read_to_string(wd.join("out/env/prod/values.yaml")).unwrap(),
            "stamped\n"
        );
        assert_eq!(
            wd.join("out/env/dev/values.yaml").exists(),
            !declares,
            "declares: {declares}"
        );
    }
}

/// Kargo: git_tree_clearer_test.go, `Test_gitTreeOverwriter_run`: a
/// working tree with no commit yet loses a file nobody added, and keeps
/// `.git`.
#[tokio::test]
async fn clear_removes_files_never_added_from_a_tree_without_commits() {
    let (dir, ctx) = crate::setup(&[("master/original.txt", "foo")]);
    let tree = dir.path().join("master");
    git(&tree, &["init", "-q"]);
    let out = GitClear.run(&ctx, json!({"path": "master"})).await.unwrap();
    assert_eq!(out.status, StepStatus::Succeeded);
    assert!(!tree.join("original.txt").exists());
    assert!(tree.join(".git").exists());
}

/// A working tree at `path` under the work directory of `ctx`, on branch
/// `master` with one commit of `test.txt` (as Kargo's step tests make one),
/// and an identity configured (as `git-clone` configures one).
fn committed_tree(dir: &Path, path: &str) -> std::path::PathBuf {
    let tree = dir.join(path);
    std::fs::create_dir_all(&tree).unwrap();
    git(&tree, &["init", "-q", "--initial-branch=master"]);
    git(&tree, &["config", "user.name", "Kargo"]);
    git(&tree, &["config", "user.email", "no-reply@kargo.io"]);
    std::fs::write(tree.join("test.txt"), "foo").unwrap();
    git(&tree, &["add", "-A"]);
    git(&tree, &["commit", "-q", "-m", "Initial commit"]);
    tree
}

/// Kargo: git_tagger_test.go, `Test_gitTagger_run`: the tag names the
/// commit in `commit`; tagging again fails (`Errored`, not retried) unless
/// `force` moves the tag to the new commit.
#[tokio::test]
async fn tag_refuses_an_existing_tag_unless_forced() {
    let (dir, ctx) = crate::setup(&[]);
    let tree = committed_tree(dir.path(), "master");
    let config = json!({"path": "master", "tag": "v1.0.0", "message": "hello"});
    let out = GitTag.run(&ctx, config.clone()).await.unwrap();
    assert_eq!(out.status, StepStatus::Succeeded);
    let first = git(&tree, &["rev-parse", "HEAD"]);
    assert_eq!(out.output["commit"], json!(first));
    assert_eq!(git(&tree, &["rev-parse", "v1.0.0^{commit}"]), first);

    std::fs::write(tree.join("test.txt"), "bar").unwrap();
    git(&tree, &["commit", "-q", "-am", "Second commit"]);
    let second = git(&tree, &["rev-parse", "HEAD"]);
    let err = GitTag.run(&ctx, config.clone()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Terminal, "{err}");
    assert!(err.to_string().contains("v1.0.0"), "{err}");
    assert_eq!(git(&tree, &["rev-parse", "v1.0.0^{commit}"]), first);

    let mut forced = config;
    forced["force"] = json!(true);
    let out = GitTag.run(&ctx, forced).await.unwrap();
    assert_eq!(out.status, StepStatus::Succeeded);
    assert_eq!(out.output["commit"], json!(second));
    assert_eq!(git(&tree, &["rev-parse", "v1.0.0^{commit}"]), second);
}

/// Kargo: git_commiter_test.go, `Test_gitCommitter_run`: the first commit
/// of a tree without commits, with the message as given; run again with
/// nothing changed, `Skipped` with the same `commit`.
#[tokio::test]
async fn commit_makes_the_first_commit_then_skips() {
    let (dir, ctx) = crate::setup(&[("master/test.txt", "foo")]);
    let tree = dir.path().join("master");
    git(&tree, &["init", "-q", "--initial-branch=master"]);
    git(&tree, &["config", "user.name", "Kargo"]);
    git(&tree, &["config", "user.email", "no-reply@kargo.io"]);
    let out = GitCommit
        .run(&ctx, json!({"path": "master", "message": "Initial commit"}))
        .await
        .unwrap();
    assert_eq!(out.status, StepStatus::Succeeded);
    let head = git(&tree, &["rev-parse", "HEAD"]);
    assert_eq!(out.output["commit"], json!(head));
    assert_eq!(git(&tree, &["log", "-1", "--format=%B"]), "Initial commit");
    let out = GitCommit
        .run(&ctx, json!({"path": "master", "message": "No-Op commit"}))
        .await
        .unwrap();
    assert_eq!(out.status, StepStatus::Skipped);
    assert_eq!(out.output["commit"], json!(head));
}

/// Kargo: git_pusher_test.go, `Test_gitPusher_run`: over smart HTTP with
/// credentials, a commit pushed to the generated branch and then a tag,
/// each with `commit` and, the provider being named, `commitURL`.
#[tokio::test]
async fn push_to_the_generated_branch_and_a_tag_with_commit_urls() {
    use kargo_core::credentials::{CredentialType, Credentials, StaticCredentials};
    use kargo_test_support::git_server::HttpServer;

    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("srv");
    let bare = kargo_test_support::git::bare_repo(&root, "test", &[("README.md", "x\n")]);
    let server = HttpServer::start(&root, "kargo", "t0ps3cret");
    let url = server.url("test");
    let wd = tmp.path().join("wd");
    std::fs::create_dir_all(&wd).unwrap();
    let credentials = StaticCredentials::new().with_url(
        CredentialType::Git,
        &url,
        Credentials::new("kargo", "t0ps3cret"),
    );
    let ctx = StepContext::new(Workspace::new(&wd).unwrap())
        .with_names("fake-project", "fake-stage", "fake-promotion")
        .with_credentials(std::sync::Arc::new(credentials));
    GitClone::new(RepoCache::new(tmp.path().join("cache")))
        .run(
            &ctx,
            json!({"repoURL": url, "checkout": [{"branch": "main", "path": "master"}],
                "author": {"name": "Kargo", "email": "no-reply@kargo.io"}}),
        )
        .await
        .unwrap();
    std::fs::write(wd.join("master/test.txt"), "foo").unwrap();
    let commit = GitCommit
        .run(&ctx, json!({"path": "master", "message": "Initial commit"}))
        .await
        .unwrap()
        .output["commit"]
        .as_str()
        .unwrap()
        .to_owned();
    GitTag
        .run(
            &ctx,
            json!({"path": "master", "tag": "v1.0.0", "message": "hello"}),
        )
        .await
        .unwrap();
    let commit_url = format!("{}/test/commit/{commit}", server.base());

    let out = GitPush::new()
        .run(
            &ctx,
            json!({"path": "master", "generateTargetBranch": true, "provider": "gitea"}),
        )
        .await
        .unwrap();
    assert_eq!(
        out.output["branch"],
        json!("kargo/promotion/fake-promotion")
    );
    assert_eq!(out.output["commit"], json!(commit));
    assert_eq!(out.output["commitURL"], json!(commit_url));
    assert_eq!(
        git(&bare, &["rev-parse", "kargo/promotion/fake-promotion"]),
        commit
    );

    let out = GitPush::new()
        .run(
            &ctx,
            json!({"path": "master", "tag": "v1.0.0", "provider": "gitea"}),
        )
        .await
        .unwrap();
    assert_eq!(out.output["commit"], json!(commit));
    assert_eq!(out.output["commitURL"], json!(commit_url));
    assert_eq!(git(&bare, &["rev-parse", "v1.0.0^{commit}"]), commit);
}

/// Kargo: git_cloner_test.go, `Test_gitCloner_run`: a commit checked out
/// by its ID, and a branch the remote lacks created (`create`) as an
/// orphan holding nothing but `.git`; `commits` names both.
#[tokio::test]
async fn clone_checks_out_a_commit_and_creates_an_empty_orphan_branch() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = kargo_test_support::git::bare_repo(tmp.path(), "test", &[("test.txt", "foo")]);
    let commit = git(&bare, &["rev-parse", "main"]);
    let wd = tmp.path().join("wd");
    std::fs::create_dir_all(&wd).unwrap();
    let ctx = StepContext::new(Workspace::new(&wd).unwrap());
    let out = GitClone::new(RepoCache::new(tmp.path().join("cache")))
        .run(
            &ctx,
            json!({"repoURL": kargo_test_support::git::file_url(&bare), "checkout": [
                {"commit": commit, "path": "src"},
                {"branch": "stage/dev", "create": true, "path": "out"},
            ]}),
        )
        .await
        .unwrap();
    assert_eq!(out.status, StepStatus::Succeeded);
    assert_eq!(
        std::fs::read_to_string(wd.join("src/test.txt")).unwrap(),
        "foo"
    );
    let entries: Vec<_> = std::fs::read_dir(wd.join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, [".git"]);
    let out_commit = git(&wd.join("out"), &["rev-parse", "HEAD"]);
    assert_eq!(
        out.output["commits"],
        json!({"src": commit, "out": out_commit})
    );
}

/// Kargo: git_cloner_test.go, `Test_gitCloner_run_with_submodules`: a
/// commit checked out with `recurseSubmodules` brings the submodule's
/// files, fetched over smart HTTP with the credentials of the submodule's
/// own URL.
#[tokio::test]
async fn clone_recurses_into_submodules() {
    use kargo_core::credentials::{CredentialType, Credentials, StaticCredentials};
    use kargo_test_support::git_server::HttpServer;

    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("srv");
    let bare = kargo_test_support::git::bare_repo(&root, "main", &[("README.md", "x\n")]);
    let sub = kargo_test_support::git::bare_repo(&root, "sub", &[("sub.txt", "sub\n")]);
    let seed = tmp.path().join("seed");
    kargo_test_support::git::clone(&bare, &seed);
    let sub_url = kargo_test_support::git::file_url(&sub);
    git(
        &seed,
        &[
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "add",
            "-q",
            &sub_url,
            "sub",
        ],
    );
    // The superproject names the submodule relative to its own URL.
    git(
        &seed,
        &[
            "config",
            "-f",
            ".gitmodules",
            "submodule.sub.url",
            "../sub.git",
        ],
    );
    git(&seed, &["commit", "-q", "-am", "add submodule"]);
    git(&seed, &["push", "-q", "origin", "main"]);
    let commit = git(&bare, &["rev-parse", "main"]);

    let server = HttpServer::start(&root, "kargo", "t0ps3cret");
    let secret = || Credentials::new("kargo", "t0ps3cret");
    let credentials = StaticCredentials::new()
        .with_url(CredentialType::Git, server.url("main"), secret())
        .with_url(CredentialType::Git, server.url("sub"), secret());
    let wd = tmp.path().join("wd");
    std::fs::create_dir_all(&wd).unwrap();
    let ctx = StepContext::new(Workspace::new(&wd).unwrap())
        .with_credentials(std::sync::Arc::new(credentials));
    let out = GitClone::new(RepoCache::new(tmp.path().join("cache")))
        .run(
            &ctx,
            json!({"repoURL": server.url("main"), "recurseSubmodules": true,
                "checkout": [{"commit": commit, "path": "src"}]}),
        )
        .await
        .unwrap();
    assert_eq!(out.status, StepStatus::Succeeded);
    assert_eq!(
        std::fs::read_to_string(wd.join("src/sub/sub.txt")).unwrap(),
        "sub\n"
    );
}
