//! End-to-end git promotion benchmark (the Speed section of the git issue).
//!
//! Generates a repository of 10,000 files and 2,000 commits (with
//! `git fast-import`), serves it as a bare repository over `file://`, and
//! times one promotion — check out the branch, edit two files, commit,
//! push — four ways:
//! - **Kargo's git commands**: every git command Kargo's git-clone,
//!   git-commit and git-push steps run (clone `--bare`, `worktree add`,
//!   `add`, `status`, `commit`, `pull --rebase`, `push`, and the `config`,
//!   `rev-parse`, `branch` and `ls-remote` calls around them), with a
//!   per-repository `HOME` as Kargo sets it;
//! - **minimal git CLI**: only the six of them that do the work (`git clone
//!   --bare`, `git worktree add`, `git add`, `git commit`, `git pull
//!   --rebase`, `git push`), a lower bound for any git CLI pipeline of this
//!   shape;
//! - **kargo-rs, cold cache**: a fresh `RepoCache`, so the repository is
//!   fetched (gix) before the checkout;
//! - **kargo-rs, warm cache**: the cache already holds the repository and
//!   only fetches what is new.
//!
//! kargo-rs checks out sparsely (the directories of the two edited files),
//! as a promotion does when its later steps name the paths they touch.
//! Prints the median of each and the ratios against both git CLI pipelines.
//! Run: `cargo bench --bench git_promotion` (`KARGO_BENCH_RUNS=N` sets the
//! runs per variant, default 5; `KARGO_BENCH_FILES` and
//! `KARGO_BENCH_COMMITS` resize the repository; `KARGO_BENCH_PHASES=1`
//! prints the phases of each kargo-rs promotion).
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use kargo::git::checkout::{self, Revision};
use kargo::git::{RepoCache, cache, commit, push};
use kargo_test_support::git::{self as fixture, git};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn file_path(i: usize) -> String {
    format!(
        "apps/app-{:03}/env-{}/values-{i:05}.yaml",
        i / 100,
        (i / 10) % 10
    )
}

/// A bare repository with `files` files and `commits` commits on `main`.
fn generate(root: &Path, files: usize, commits: usize) -> PathBuf {
    let bare = kargo_test_support::git::init_bare(&root.join("big.git"));
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(&bare)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut w = std::io::BufWriter::new(child.stdin.take().unwrap());
    let mut seed: u64 = 42;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for c in 0..commits {
        let msg = format!("commit {c}");
        writeln!(w, "commit refs/heads/main").unwrap();
        writeln!(
            w,
            "committer Bench <bench@example.com> {} +0000",
            1_700_000_000 + c
        )
        .unwrap();
        writeln!(w, "data {}\n{msg}", msg.len()).unwrap();
        let changed: Vec<usize> = if c == 0 {
            (0..files).collect()
        } else {
            (0..5).map(|_| (next() as usize) % files).collect()
        };
        for i in changed {
            let body = format!(
                "app: app-{}\nreplicas: {}\nimage:\n  repository: registry.example.com/app-{}\n  tag: v{c}.{i}\n",
                i / 100,
                1 + i % 5,
                i / 100
            );
            writeln!(
                w,
                "M 100644 inline {}\ndata {}\n{body}",
                file_path(i),
                body.len()
            )
            .unwrap();
        }
        writeln!(w).unwrap();
    }
    drop(w);
    assert!(child.wait().unwrap().success());
    git(&bare, &["gc", "-q"]);
    bare
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn edit(dir: &Path, run: &str) {
    for i in [0usize, 5_000] {
        let p = dir.join(file_path(i.min(env_usize("KARGO_BENCH_FILES", 10_000) - 1)));
        let mut text = std::fs::read_to_string(&p).unwrap();
        text.push_str(&format!("# promoted by {run}\n"));
        std::fs::write(p, text).unwrap();
    }
}

/// The five git commands at the heart of Kargo's pipeline, and nothing
/// else: `git clone --bare`, `git worktree add`, `git add`, `git commit`,
/// `git pull --rebase`, `git push`.
fn minimal_cli(url: &str, work: &Path, run: &str) {
    let repo = work.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(
        work,
        &["clone", "-q", "--bare", url, repo.to_str().unwrap()],
    );
    let tree = work.join("tree");
    git(
        &repo,
        &["worktree", "add", "-q", tree.to_str().unwrap(), "main"],
    );
    edit(&tree, run);
    git(&tree, &["add", "-A"]);
    git(&tree, &["commit", "-q", "-m", run]);
    git(&tree, &["pull", "-q", "--rebase", "origin", "main"]);
    git(&tree, &["push", "-q", "origin", "HEAD:refs/heads/main"]);
}

/// Every git command Kargo's git-clone, git-commit and git-push steps run
/// for this promotion (default AlwaysRebase policy, no signing key, no
/// credentials), in their order, as read from Kargo's
/// `pkg/controller/git` and `pkg/promotion/runner/builtin`.
///
/// Kargo gives each cloned repository a home directory of its own, set as
/// `HOME` for every command so that `git config --global` writes there, and
/// keeps the repository's directories and URL in its config, which every
/// later step reads back (`LoadWorkTree`: seven `git config` reads, run
/// twice by git-push).
fn kargo_cli(url: &str, work: &Path, run: &str) {
    let home = work.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let repo = home.join("repo");
    let tree = work.join("tree");
    let (repo_s, home_s, tree_s) = (
        repo.to_str().unwrap(),
        home.to_str().unwrap(),
        tree.to_str().unwrap(),
    );
    let kargo = |dir: &Path, args: &[&str]| -> String {
        let mut cmd = Command::new("git");
        cmd.current_dir(dir)
            .env("HOME", &home)
            .env("GIT_CONFIG_NOSYSTEM", "1");
        fixture::run(cmd, args)
    };
    let load_work_tree = || {
        let repo_dir = kargo(&tree, &["config", "kargo.repoDir"]);
        kargo(&tree, &["config", "kargo.repoHomeDir"]);
        kargo(&tree, &["config", "kargo.originalURL"]);
        kargo(&tree, &["config", "remote.origin.url"]);
        let repo_dir = PathBuf::from(repo_dir);
        kargo(&repo_dir, &["config", "kargo.repoHomeDir"]);
        kargo(&repo_dir, &["config", "kargo.originalURL"]);
        kargo(&repo_dir, &["config", "remote.origin.url"]);
    };

    // git-clone: CloneBare, AddWorkTree, LastCommitID.
    kargo(&home, &["config", "--global", "init.defaultBranch", "main"]);
    kargo(&home, &["config", "--global", "user.name", "Kargo"]);
    kargo(
        &home,
        &["config", "--global", "user.email", "no-reply@kargo.io"],
    );
    kargo(&home, &["clone", "--bare", url, repo_s]);
    kargo(&repo, &["config", "kargo.repoDir", repo_s]);
    kargo(&repo, &["config", "kargo.repoHomeDir", home_s]);
    kargo(&repo, &["config", "kargo.originalURL", url]);
    kargo(&repo, &["worktree", "list", "--porcelain"]);
    kargo(&repo, &["worktree", "add", tree_s, "main"]);
    kargo(&tree, &["rev-parse", "HEAD"]);

    edit(&tree, run);

    // git-commit: LoadWorkTree, AddAll, HasDiffs, Commit, LastCommitID.
    load_work_tree();
    kargo(&tree, &["add", "."]);
    assert!(!kargo(&tree, &["status", "-s"]).is_empty());
    kargo(&tree, &["commit", "-m", run]);
    kargo(&tree, &["rev-parse", "HEAD"]);

    // git-push: LoadWorkTree twice, CurrentBranch, IntegrateRemoteChanges
    // (RemoteBranchExists, pull --rebase), push, LastCommitID.
    load_work_tree();
    load_work_tree();
    let branch = kargo(&tree, &["branch", "--show-current"]);
    kargo(
        &tree,
        &[
            "ls-remote",
            "--heads",
            "--exit-code",
            url,
            &format!("refs/heads/{branch}"),
        ],
    );
    kargo(&tree, &["pull", "--rebase", "origin", &branch]);
    kargo(&tree, &["push", "origin", &format!("HEAD:{branch}")]);
    kargo(&tree, &["rev-parse", "HEAD"]);
}

/// Runs one promotion; returns how long its `git push` took (a floor both
/// pipelines share: the remote's receive-pack does the same work for both).
async fn kargo_rs(cache: &RepoCache, url: &str, work: &Path, run: &str) -> Duration {
    let phases = std::env::var_os("KARGO_BENCH_PHASES").is_some();
    let mut t = Instant::now();
    let mut phase = |name: &str| {
        if phases {
            eprintln!("    {name:<8} {:.3?}", t.elapsed());
        }
        t = Instant::now();
    };
    let fetched = cache
        .fetch(
            url,
            None,
            &cache::Options::default(),
            Arc::new(AtomicBool::new(false)),
        )
        .await
        .unwrap();
    phase("fetch");
    let tree = work.join("tree");
    let files = env_usize("KARGO_BENCH_FILES", 10_000);
    let sparse: Vec<String> = [0usize, 5_000]
        .iter()
        .map(|i| {
            let p = file_path((*i).min(files - 1));
            p[..p.rfind('/').unwrap()].to_owned()
        })
        .collect();
    let options = checkout::Options::new(Revision::Branch("main".into())).with_sparse(Some(sparse));
    let t = tree.clone();
    kargo::git::maybe_spawn_blocking(move || checkout::checkout(&fetched, &t, &options, None))
        .await
        .unwrap();
    phase("checkout");
    edit(&tree, run);
    let (t, r) = (tree.clone(), run.to_owned());
    kargo::git::maybe_spawn_blocking(move || commit::commit(&t, &r, None))
        .await
        .unwrap();
    phase("commit");
    let pushing = Instant::now();
    push::push(
        &tree,
        &push::Options::default(),
        None,
        &tokio_util::sync::CancellationToken::new(),
    )
    .await
    .unwrap();
    let pushed = pushing.elapsed();
    phase("push");
    pushed
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test` runs benches in test
    // mode, where this end-to-end run is skipped.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runs = env_usize("KARGO_BENCH_RUNS", 5);
    let files = env_usize("KARGO_BENCH_FILES", 10_000);
    let commits = env_usize("KARGO_BENCH_COMMITS", 2_000);
    let tmp = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let bare = generate(tmp.path(), files, commits);
    let url = format!("file://{}", bare.display());
    eprintln!(
        "generated {files} files, {commits} commits in {:.1?}",
        t.elapsed()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    let mut kargo = Vec::new();
    let mut minimal = Vec::new();
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    let mut pushes = Vec::new();
    let warm_cache = RepoCache::new(tmp.path().join("warm-cache"));
    rt.block_on(kargo_rs(
        &warm_cache,
        &url,
        &tmp.path().join("warmup"),
        "warmup",
    ));
    let timed = |f: &dyn Fn(&Path), name: String| {
        let work = tmp.path().join(name);
        std::fs::create_dir_all(&work).unwrap();
        let t = Instant::now();
        f(&work);
        t.elapsed()
    };
    for n in 0..runs {
        kargo.push(timed(
            &|work| kargo_cli(&url, work, &format!("kargo {n}")),
            format!("kargo-{n}"),
        ));
        minimal.push(timed(
            &|work| minimal_cli(&url, work, &format!("minimal {n}")),
            format!("minimal-{n}"),
        ));
        let cache = RepoCache::new(tmp.path().join(format!("cold-cache-{n}")));
        cold.push(timed(
            &|work| {
                rt.block_on(kargo_rs(&cache, &url, work, &format!("cold {n}")));
            },
            format!("cold-{n}"),
        ));
        let work = tmp.path().join(format!("warm-{n}"));
        let t = Instant::now();
        pushes.push(rt.block_on(kargo_rs(&warm_cache, &url, &work, &format!("warm {n}"))));
        warm.push(t.elapsed());
        eprintln!(
            "run {n}: kargo {:.3?}  minimal {:.3?}  cold {:.3?}  warm {:.3?}",
            kargo[n], minimal[n], cold[n], warm[n]
        );
    }
    let (k, m) = (median(kargo), median(minimal));
    let (c, w, p) = (median(cold), median(warm), median(pushes));
    let ratios = |x: Duration| {
        format!(
            "{x:>10.3?}  {:.3}x Kargo  {:.3}x minimal",
            x.as_secs_f64() / k.as_secs_f64(),
            x.as_secs_f64() / m.as_secs_f64()
        )
    };
    println!("git promotion, {files} files, {commits} commits, {runs} runs (medians):");
    println!("  Kargo's git commands  {k:>10.3?}");
    println!("  minimal git CLI       {m:>10.3?}");
    println!("  kargo-rs cold cache   {}", ratios(c));
    println!("  kargo-rs warm cache   {}", ratios(w));
    println!(
        "  of which git push     {}  (the remote's work is the same for all)",
        ratios(p)
    );
}
