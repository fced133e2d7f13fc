//! Promotions over git repositories: `kargo run` with the git steps, and
//! sixteen promotions pushing to one branch at once, half as tasks in this
//! process and half as `kargo run` processes.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use crate::support::{git, kargo_bin};
use kargo_core::Workspace;
use kargo_core::engine::{Engine, PromotionContext, TaskCatalog, inflate_tasks};
use kargo_core::model::{PromotionPhase, PromotionTemplateSpec};
use kargo_core::step::StepRegistry;

const VALUES: &str = "# image settings\nimage:\n  repository: registry.example.com/app\n  tag: v1 # promoted by kargo\n";

/// A bare repository with `env/{prod,dev}/values.yaml` on `main`.
fn sample_repo(root: &Path) -> PathBuf {
    let bare = kargo_test_support::git::init_bare(&root.join("sample.git"));
    let seed = root.join("seed");
    std::fs::create_dir_all(seed.join("env/prod")).unwrap();
    git(&seed, &["init", "-q", "--initial-branch=main"]);
    std::fs::write(seed.join("env/prod/values.yaml"), VALUES).unwrap();
    std::fs::create_dir_all(seed.join("env/dev")).unwrap();
    std::fs::write(seed.join("env/dev/values.yaml"), VALUES).unwrap();
    // One values file per concurrent promotion.
    for dir in ["proc", "task"] {
        std::fs::create_dir_all(seed.join(dir)).unwrap();
        for i in 0..8 {
            std::fs::write(seed.join(format!("{dir}/{i}.yaml")), VALUES).unwrap();
        }
    }
    git(&seed, &["add", "-A"]);
    git(&seed, &["commit", "-q", "-m", "seed"]);
    git(&seed, &["push", "-q", bare.to_str().unwrap(), "main"]);
    bare
}

/// The steps of `examples/git/steps.yaml` with its variables filled in
/// (so the test does not depend on expression evaluation).
fn steps_yaml(url: &str, file: &str, tag: &str) -> String {
    let example = std::fs::read_to_string(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).join("examples/git/steps.yaml"),
    )
    .unwrap();
    let steps = &example[example.find("steps:").unwrap()..];
    steps
        .replace("${{ vars.repoURL }}", url)
        .replace("${{ vars.branch }}", "main")
        .replace("${{ vars.file }}", file)
        .replace("${{ vars.tag }}", tag)
}

fn kargo_run(
    cache: &Path,
    workdir: &Path,
    url: &str,
    file: &str,
    tag: &str,
) -> std::process::Output {
    kargo_run_with(cache, workdir, url, file, tag, &[])
}

/// [`kargo_run`] with `extra` arguments for `kargo run`.
fn kargo_run_with(
    cache: &Path,
    workdir: &Path,
    url: &str,
    file: &str,
    tag: &str,
    extra: &[&str],
) -> std::process::Output {
    let steps = workdir.with_extension("steps.yaml");
    std::fs::write(&steps, steps_yaml(url, file, tag)).unwrap();
    Command::new(kargo_bin())
        .args(["run", "--steps", steps.to_str().unwrap(), "--workdir"])
        .arg(workdir)
        .args(extra)
        .env("KARGO_GIT_CACHE", cache)
        .env_remove("KARGO_LOG")
        .output()
        .unwrap()
}

#[test]
fn kargo_run_with_a_credentials_file_promotes_over_smart_http() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("srv");
    std::fs::create_dir_all(&root).unwrap();
    let bare = sample_repo(&root);
    let server = kargo_test_support::git_server::HttpServer::start(&root, "kargo", "t0ps3cret");
    let url = server.url("sample");
    let cache = tmp.path().join("cache");

    // Without credentials the server refuses the clone.
    let out = kargo_run(
        &cache,
        &tmp.path().join("wd0"),
        &url,
        "env/prod/values.yaml",
        "v2",
    );
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(shown.contains(&url), "{shown}");

    // A Kargo git credential Secret for the repository opens it for the
    // clone and the push.
    let creds = crate::support::credential_secret(tmp.path(), "creds.yaml", "git", &url);
    let out = kargo_run_with(
        &cache,
        &tmp.path().join("wd"),
        &url,
        "env/prod/values.yaml",
        "v2",
        &["--credentials", creds.to_str().unwrap()],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let json: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let pushed = json["state"]["push"]["commit"].as_str().unwrap();
    assert_eq!(git(&bare, &["rev-parse", "main"]), pushed);
    assert_eq!(
        git(&bare, &["show", "main:env/prod/values.yaml"]),
        VALUES.replace("tag: v1", "tag: v2").trim_end()
    );
    assert!(!stdout.contains("t0ps3cret") && !stderr.contains("t0ps3cret"));
}

/// `kargo run` with `github-push`: the built-in step pushes through the
/// (fake) GitHub's API, with the token of a `--credentials` Secret, and the
/// real repository behind it holds the promotion.
#[tokio::test]
async fn kargo_run_pushes_through_githubs_api() {
    let tmp = tempfile::tempdir().unwrap();
    let hub =
        kargo_test_support::github::FakeGitHub::start(&tmp.path().join("github"), "t0ps3cret")
            .await;
    let bare = hub.create_repo("acme/deploy", &[("env/prod/values.yaml", VALUES)]);
    let url = hub.repo_url("acme/deploy");
    let creds = crate::support::credential_secret(tmp.path(), "creds.yaml", "git", &url);
    let steps = tmp.path().join("steps.yaml");
    std::fs::write(
        &steps,
        format!(
            "steps:\n\
             - uses: git-clone\n  config: {{repoURL: \"{url}\", checkout: [{{branch: main, path: out}}]}}\n\
             - uses: yaml-update\n  config: {{path: out/env/prod/values.yaml, updates: [{{key: image.tag, value: v2}}]}}\n\
             - uses: git-commit\n  config: {{path: out, message: Promote v2}}\n\
             - uses: github-push\n  as: push\n  config: {{path: out}}\n"
        ),
    )
    .unwrap();
    let out = Command::new(kargo_bin())
        .args(["run", "--steps", steps.to_str().unwrap(), "--workdir"])
        .arg(tmp.path().join("wd"))
        .args(["--credentials", creds.to_str().unwrap()])
        .env("KARGO_GIT_CACHE", tmp.path().join("cache"))
        .env_remove("KARGO_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let json: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let pushed = json["state"]["push"]["commit"].as_str().unwrap();
    assert_eq!(json["state"]["push"]["branch"], "main");
    assert_eq!(git(&bare, &["rev-parse", "main"]), pushed);
    assert_eq!(
        git(&bare, &["show", "main:env/prod/values.yaml"]),
        VALUES.replace("tag: v1", "tag: v2").trim_end()
    );
    assert_eq!(git(&bare, &["for-each-ref", "refs/kargo/"]), "");
    let created = hub
        .api_requests()
        .await
        .into_iter()
        .filter(|(m, p, _)| m == "POST" && p.ends_with("/git/commits"))
        .count();
    assert_eq!(created, 1);
    assert!(!stdout.contains("t0ps3cret") && !stderr.contains("t0ps3cret"));
}

#[test]
fn kargo_run_clones_edits_commits_and_pushes() {
    let tmp = tempfile::tempdir().unwrap();
    let bare = sample_repo(tmp.path());
    let url = format!("file://{}", bare.display());
    let out = kargo_run(
        &tmp.path().join("cache"),
        &tmp.path().join("wd"),
        &url,
        "env/prod/values.yaml",
        "v2",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(json["phase"], "Succeeded");
    let pushed = json["state"]["push"]["commit"].as_str().unwrap();
    assert_eq!(json["state"]["commit"]["commit"].as_str().unwrap(), pushed);
    assert_eq!(json["state"]["push"]["branch"], "main");
    assert!(
        json["state"]["clone"]["commits"]["./out"].is_string(),
        "{json}"
    );
    assert_eq!(git(&bare, &["rev-parse", "main"]), pushed);
    assert_eq!(
        git(&bare, &["show", "main:env/prod/values.yaml"]),
        VALUES.replace("tag: v1", "tag: v2").trim_end()
    );
    // Only what the later steps touch was written (a sparse checkout
    // derived from file-write's path), and the rest of the tree survived.
    assert!(!tmp.path().join("wd/out/env/dev").exists());
    assert_eq!(
        git(&bare, &["show", "main:env/dev/values.yaml"]),
        VALUES.trim_end()
    );
    assert_eq!(
        git(&bare, &["log", "-1", "--format=%an <%ae> %s", "main"]),
        "Kargo <no-reply@kargo.io> Promote v2 (env/prod/values.yaml)"
    );

    // The same promotion again changes nothing: git-commit is Skipped and
    // the push has nothing new to send.
    let again = kargo_run(
        &tmp.path().join("cache"),
        &tmp.path().join("wd2"),
        &url,
        "env/prod/values.yaml",
        "v2",
    );
    let json: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&again.stdout).trim()).unwrap();
    assert_eq!(json["phase"], "Succeeded", "{json}");
    let commit_step = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["alias"] == "commit")
        .unwrap();
    assert_eq!(commit_step["status"], "Skipped");
    assert_eq!(git(&bare, &["rev-parse", "main"]), pushed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_promotions_all_land_in_a_linear_history() {
    const TASKS: usize = 8;
    const PROCESSES: usize = 8;
    let tmp = tempfile::tempdir().unwrap();
    let bare = sample_repo(tmp.path());
    let url = format!("file://{}", bare.display());
    let cache = tmp.path().join("cache");

    // Half of them as separate `kargo run` processes...
    let mut processes = Vec::new();
    for i in 0..PROCESSES {
        let (cache, wd, url) = (
            cache.clone(),
            tmp.path().join(format!("proc-{i}")),
            url.clone(),
        );
        processes.push(std::thread::spawn(move || {
            kargo_run(
                &cache,
                &wd,
                &url,
                &format!("proc/{i}.yaml"),
                &format!("p{i}"),
            )
        }));
    }

    // ...and half as promotions of one engine in this process.

    let mut registry = StepRegistry::new();
    kargo_steps::register_builtins(&mut registry);
    registry.replace(
        "git-clone",
        kargo_steps::git::GitClone::new(kargo_git::RepoCache::new(&cache)),
    );
    let engine = Arc::new(Engine::new(Arc::new(registry)));
    let mut tasks = Vec::new();
    for i in 0..TASKS {
        let wd = tmp.path().join(format!("task-{i}"));
        std::fs::create_dir_all(&wd).unwrap();
        let spec: PromotionTemplateSpec = serde_saphyr::from_str(&steps_yaml(
            &url,
            &format!("task/{i}.yaml"),
            &format!("t{i}"),
        ))
        .unwrap();
        let steps = inflate_tasks(&spec.steps, &[], &TaskCatalog::new()).unwrap();
        let ctx = PromotionContext::new(Workspace::new(&wd).unwrap()).with_names(
            "p",
            "prod",
            format!("prod.task{i}"),
        );
        let engine = Arc::clone(&engine);
        tasks.push(tokio::spawn(async move { engine.run(&ctx, &steps).await }));
    }
    for task in tasks {
        let state = task.await.unwrap().unwrap();
        assert_eq!(state.phase, PromotionPhase::Succeeded, "{state:?}");
    }
    for p in processes {
        let out = p.join().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let log = git(&bare, &["log", "--format=%s", "main"]);
    for i in 0..TASKS {
        assert!(
            log.contains(&format!("Promote t{i} (task/{i}.yaml)")),
            "task {i} lost:\n{log}"
        );
    }
    for i in 0..PROCESSES {
        assert!(
            log.contains(&format!("Promote p{i} (proc/{i}.yaml)")),
            "process {i} lost:\n{log}"
        );
    }
    assert_eq!(log.lines().count(), TASKS + PROCESSES + 1, "{log}");
    assert_eq!(
        git(&bare, &["rev-list", "--merges", "--count", "main"]),
        "0"
    );
    for i in 0..TASKS {
        let file = git(&bare, &["show", &format!("main:task/{i}.yaml")]);
        assert!(
            file.contains(&format!("tag: t{i} # promoted by kargo")),
            "{file}"
        );
    }
    for i in 0..PROCESSES {
        let file = git(&bare, &["show", &format!("main:proc/{i}.yaml")]);
        assert!(
            file.contains(&format!("tag: p{i} # promoted by kargo")),
            "{file}"
        );
    }
}
