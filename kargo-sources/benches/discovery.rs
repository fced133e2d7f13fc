//! Discovery speed (the Speed section of the Warehouse issue), on loopback
//! and local repositories:
//! - **semver_5000_tags**: an image repository of 5,000 tags in the real
//!   `docker-registry`, SemVer selection with the default `discoveryLimit`
//!   (20). Target: at most 300 ms, and only the tag-list requests plus at
//!   most `discoveryLimit` manifest (and config) requests; the counts are
//!   printed.
//! - **newest_build_again**: NewestBuild over 30 images, a second
//!   discovery of unchanged digests (no config is read again; counted).
//! - **git_include_paths_50k** against **git_log_paths_50k**:
//!   NewestFromBranch with `includePaths` on a 50,000-commit repository
//!   (made with `git fast-import`), against `git log --max-count=20 --
//!   PATHS` on the same cached clone. Target: no slower.
//!
//! The seeded registry storage and the generated repository are kept under
//! the target directory, so only the first run pays for them.
//! Run: `cargo bench -p kargo-sources --bench discovery`.
#![allow(clippy::unwrap_used, missing_docs, dead_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use kargo_core::model::RepoSubscription;
use kargo_git::RepoCache;
use kargo_sources::git::GitSource;
use kargo_sources::oci::ImageSource;
use kargo_sources::{DiscoverOptions, Source};
use kargo_test_support::registry::{Content, CountingProxy, MANIFEST, Registry, Seed};
use oci_client::secrets::RegistryAuth;
use serde_json::json;

const TAGS: usize = 5_000;
const COMMITS: usize = 50_000;
/// Every this many commits touches the watched directory.
const TARGET_EVERY: usize = 1_000;

fn bench_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

fn sub(value: serde_json::Value) -> RepoSubscription {
    serde_json::from_value(value).unwrap()
}

/// Seeds `app` with 5,000 tags of one image (`1.X.Y`) and `builds` with
/// 30 images of distinct build times, once.
async fn seed(registry: &Registry, marker: &Path) {
    if marker.exists() {
        return;
    }
    Content::from_seeds(&[Seed::new("1.0.0")])
        .push(&registry.addr, "app", &RegistryAuth::Anonymous)
        .await;
    let seeds: Vec<Seed> = (0..30)
        .map(|i| Seed::new(&format!("b{i}")).created(&format!("2024-01-{:02}T00:00:00Z", i + 1)))
        .collect();
    Content::from_seeds(&seeds)
        .push(&registry.addr, "builds", &RegistryAuth::Anonymous)
        .await;
    let client = reqwest::Client::new();
    let base = format!("http://{}/v2/app/manifests", registry.addr);
    let manifest = client
        .get(format!("{base}/1.0.0"))
        .header("Accept", MANIFEST)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    use futures_util::StreamExt as _;
    futures_util::stream::iter(0..TAGS)
        .map(|i| {
            let (client, manifest) = (client.clone(), manifest.clone());
            let url = format!("{base}/1.{}.{}", i / 100, i % 100);
            async move {
                let status = client
                    .put(url)
                    .header("Content-Type", MANIFEST)
                    .body(manifest)
                    .send()
                    .await
                    .unwrap()
                    .status();
                assert!(status.is_success(), "{status}");
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
    std::fs::write(marker, "seeded\n").unwrap();
}

fn registry_benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let data = bench_dir("bench-registry");
    std::fs::create_dir_all(&data).unwrap();
    let registry = Registry::start_in(&data);
    rt.block_on(seed(&registry, &data.join("seeded")));
    let proxy = rt.block_on(CountingProxy::start(&registry.addr));
    let source = ImageSource::default();

    let semver = sub(json!({"image": {"repoURL": format!("{}/app", proxy.addr)}}));
    let started = Instant::now();
    let found = rt
        .block_on(source.discover(&semver, DiscoverOptions::default()))
        .unwrap();
    let first = started.elapsed();
    let seen = proxy.take();
    println!(
        "semver_5000_tags: first discovery {first:?}, {} found; requests: {} tag lists, {} manifests, {} blobs, {} /v2/ probes",
        found.len(),
        CountingProxy::count(&seen, "/tags/list"),
        CountingProxy::count(&seen, "/manifests/"),
        CountingProxy::count(&seen, "/blobs/"),
        seen.iter().filter(|r| r.ends_with("/v2/")).count(),
    );
    c.bench_function("semver_5000_tags", |b| {
        b.iter(|| {
            rt.block_on(source.discover(&semver, DiscoverOptions::default()))
                .unwrap()
        })
    });

    let newest = sub(json!({"image": {
        "repoURL": format!("{}/builds", proxy.addr),
        "imageSelectionStrategy": "NewestBuild",
    }}));
    let fresh = ImageSource::default();
    proxy.take();
    rt.block_on(fresh.discover(&newest, DiscoverOptions::default()))
        .unwrap();
    let cold = proxy.take();
    rt.block_on(fresh.discover(&newest, DiscoverOptions::default()))
        .unwrap();
    let warm = proxy.take();
    println!(
        "newest_build: first discovery {} config reads, second discovery {} config reads ({} manifests)",
        CountingProxy::count(&cold, "/blobs/"),
        CountingProxy::count(&warm, "/blobs/"),
        CountingProxy::count(&warm, "/manifests/"),
    );
    c.bench_function("newest_build_again", |b| {
        b.iter(|| {
            rt.block_on(fresh.discover(&newest, DiscoverOptions::default()))
                .unwrap()
        })
    });
}

/// A bare repository of [`COMMITS`] commits on `main` over 1,000 files in
/// 100 directories; every [`TARGET_EVERY`]th commit changes
/// `apps/target/values.yaml`, the others one file elsewhere. Made once.
fn big_repo() -> PathBuf {
    let repo = bench_dir(&format!("bench-git-{COMMITS}.git"));
    if repo.join("kargo-bench-done").exists() {
        return repo;
    }
    let _ = std::fs::remove_dir_all(&repo);
    std::fs::create_dir_all(&repo).unwrap();
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args(args)
            .current_dir(&repo)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q", "--bare", "--initial-branch=main"]);
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(&repo)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut out = std::io::BufWriter::new(child.stdin.take().unwrap());
        let file = |out: &mut std::io::BufWriter<_>, path: &str, content: &str| {
            write!(
                out,
                "M 100644 inline {path}\ndata {}\n{content}\n",
                content.len()
            )
            .unwrap();
        };
        for i in 0..COMMITS {
            let time = 1_600_000_000 + i * 60;
            let msg = format!("change {i}");
            write!(
                out,
                "commit refs/heads/main\nauthor Bench <bench@example.com> {time} +0000\ncommitter Bench <bench@example.com> {time} +0000\ndata {}\n{msg}\n",
                msg.len()
            )
            .unwrap();
            if i == 0 {
                for d in 0..100 {
                    for f in 0..10 {
                        file(&mut out, &format!("d{d}/f{f}.txt"), "0");
                    }
                }
                file(&mut out, "apps/target/values.yaml", "0");
            } else if i % TARGET_EVERY == 0 {
                file(&mut out, "apps/target/values.yaml", &i.to_string());
            } else {
                let path = format!("d{}/f{}.txt", i % 100, (i / 100) % 10);
                file(&mut out, &path, &i.to_string());
            }
            out.write_all(b"\n").unwrap();
        }
        out.flush().unwrap();
    }
    assert!(child.wait().unwrap().success(), "git fast-import");
    git(&["gc", "-q"]);
    std::fs::write(repo.join("kargo-bench-done"), "").unwrap();
    repo
}

fn git_benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let origin = big_repo();
    println!("git: repository ready in {:?}", started.elapsed());
    let url = format!("file://{}", origin.display());
    let cache = RepoCache::new(bench_dir("bench-git-cache"));
    let subscription = sub(json!({"git": {"repoURL": url, "includePaths": ["apps/target"]}}));
    // Warm the cache (and check the answer once).
    let warm = GitSource::builder().with_cache(cache.clone()).build();
    let found = rt
        .block_on(warm.discover(&subscription, DiscoverOptions::default()))
        .unwrap();
    assert_eq!(found.len(), 20);
    let clone = cache.repo_dir(&url);
    let log = || {
        let out = Command::new("git")
            .args(["log", "--max-count=20", "--format=%H", "--", "apps/target"])
            .current_dir(&clone)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap();
        assert!(out.status.success());
        out.stdout
    };
    assert_eq!(String::from_utf8_lossy(&log()).lines().count(), 20);

    let mut group = c.benchmark_group("git_50k");
    group.sample_size(10);
    group.bench_function("git_include_paths_50k", |b| {
        b.iter(|| {
            // A fresh source each time: no remembered result, so the
            // history is walked (the cache is current, so nothing is fetched).
            let source = GitSource::builder().with_cache(cache.clone()).build();
            rt.block_on(source.discover(&subscription, DiscoverOptions::default()))
                .unwrap()
        })
    });
    group.bench_function("git_log_paths_50k", |b| b.iter(log));
    group.finish();
}

criterion_group!(benches, registry_benches, git_benches);
criterion_main!(benches);
