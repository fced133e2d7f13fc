//! The local pull-request provider on a `file://` repository: what one
//! operation costs (each is a fetch, a few git commands and, for changes,
//! one atomic push).
//!
//! - `open_close`: open a pull request and close it (two record pushes);
//! - `open_merge`: open a pull request from a fresh branch and merge it
//!   (merge commit + record in one atomic push);
//! - `list_100`: list a repository holding 100 pull requests.
//!
//! Run: `cargo bench -p kargo-git --bench local_provider`.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use kargo_git::provider::local::LocalProvider;
use kargo_git::provider::{GitProvider, ListOptions, NewPullRequest, StateFilter};
use kargo_test_support::git;

/// A bare repository with `main` and a `seed` working clone.
fn repo(root: &Path) -> (String, std::path::PathBuf) {
    let bare = kargo_test_support::git::init_bare(&root.join("bench.git"));
    let seed = root.join("seed");
    std::fs::create_dir_all(&seed).unwrap();
    git(&seed, &["init", "-q", "--initial-branch=main"]);
    std::fs::write(seed.join("values.yaml"), "tag: v0\n").unwrap();
    git(&seed, &["add", "-A"]);
    git(&seed, &["commit", "-q", "-m", "seed"]);
    git(&seed, &["remote", "add", "origin", bare.to_str().unwrap()]);
    git(&seed, &["push", "-q", "origin", "main"]);
    (format!("file://{}", bare.display()), seed)
}

/// Pushes branch `name` with one new file.
fn branch(seed: &Path, name: &str) {
    git(seed, &["checkout", "-q", "-B", name, "main"]);
    std::fs::write(seed.join(format!("{name}.txt")), name).unwrap();
    git(seed, &["add", "-A"]);
    git(seed, &["commit", "-q", "-m", name]);
    git(seed, &["push", "-q", "origin", name]);
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (url, seed) = repo(dir.path());
    let provider = LocalProvider::new(&url).with_work_root(dir.path().join("work"));
    branch(&seed, "review");

    let mut group = c.benchmark_group("local_provider");
    group.sample_size(20);
    group.bench_function("open_close", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let pr = provider
                    .open(&NewPullRequest::new("review", "main", "Review"))
                    .await
                    .unwrap()
                    .pr;
                provider.close(pr.number).await.unwrap();
            })
        })
    });
    let n = AtomicU64::new(0);
    group.bench_function("open_merge", |b| {
        b.iter_batched(
            || {
                let name = format!("merge-{}", n.fetch_add(1, Ordering::SeqCst));
                branch(&seed, &name);
                name
            },
            |name| {
                runtime.block_on(async {
                    let pr = provider
                        .open(&NewPullRequest::new(&name, "main", "Merge"))
                        .await
                        .unwrap()
                        .pr;
                    provider.merge(pr.number, None).await.unwrap();
                })
            },
            criterion::BatchSize::PerIteration,
        )
    });
    // Top up to at least 100 pull requests, then list them.
    runtime.block_on(async {
        let all = ListOptions::default().with_state(StateFilter::All);
        while provider.list(&all).await.unwrap().len() < 100 {
            let pr = provider
                .open(&NewPullRequest::new("review", "main", "Filler"))
                .await
                .unwrap()
                .pr;
            provider.close(pr.number).await.unwrap();
        }
    });
    group.bench_function("list_100", |b| {
        b.iter(|| {
            runtime.block_on(async {
                provider
                    .list(&ListOptions::default().with_state(StateFilter::All))
                    .await
                    .unwrap()
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
