//! yaml-merge of three generated files: a large values file, an overlay as
//! large (the same document with one service's tag changed, a key added to
//! it and another service's key set to null) and a small file adding a
//! top-level key, as `scripts/bench-memory.sh` merges them.
//!
//! Run with `cargo bench -p kargo-steps --no-default-features --bench yaml_merge`.
//!
//! Two sizes, about 0.5 MB and 2 MB, are measured with their byte
//! throughput: the merge reads and edits each file a fixed number of times,
//! so the time grows linearly with the size and both report about the
//! same MB/s. A throughput that drops at the larger size means some pass
//! became superlinear again.
#![allow(missing_docs)]

use std::fmt::Write as _;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kargo_steps::yaml_merge::merge;

/// One service entry of the generated values file, indented under
/// `services:`; `tag` and `ratio` may be overridden.
fn service(out: &mut String, i: usize, tag: &str, extra: Option<&str>, ratio: &str) {
    let name = format!("svc-{i:06}");
    let _ = write!(
        out,
        "  {name}:\n    enabled: {enabled}\n    replicas: {replicas}\n    image:\n      \
         repository: registry.example.com/team-{team:02}/{name}\n      tag: {tag}  # tag\n      \
         pullPolicy: IfNotPresent\n",
        enabled = !i.is_multiple_of(7),
        replicas = 1 + i % 5,
        team = i % 40,
    );
    if let Some(extra) = extra {
        let _ = writeln!(out, "      {extra}");
    }
    let _ = write!(
        out,
        "    resources:\n      limits:\n        cpu: {cpu}m\n        memory: {mem}Mi\n      \
         requests:\n        cpu: 50m\n        memory: 32Mi\n    ports: [8080, {port}]\n    \
         args: [--log-level=info, --shard={shard}, --metrics]\n    env:\n      \
         - name: REGION\n        value: {region}\n      - name: WEIGHT\n        \
         value: \"{weight}\"\n    labels:\n      app.kubernetes.io/name: {name}\n      \
         tier: {tier}\n    ratio: {ratio}\n",
        cpu = 100 + i % 900,
        mem = 64 * (1 + i % 8),
        port = 9090 + i % 10,
        shard = i % 16,
        region = ["eu-west-1", "us-east-2", "ap-south-1"][i % 3],
        weight = 0.5 + (i % 10) as f64 / 4.0,
        tier = ["web", "api", "batch"][i % 3],
    );
}

/// The base values file of at least `size` bytes and its overlay: the
/// same services, one in the middle with a new tag and digest, the last
/// with `ratio: null`.
fn base_and_overlay(size: usize) -> (String, String) {
    let head = "# Generated for the yaml-merge benchmark\nglobal:\n  \
                registry: registry.example.com\n  environment: bench\nservices:\n";
    let (mut base, mut one) = (String::from(head), String::new());
    service(&mut one, 0, "v0.0.0", None, "0.25");
    let count = size / one.len() + 1;
    let tag = |i: usize| format!("v{}.{}.{}", i % 3, i % 17, i % 101);
    let ratio = |i: usize| format!("{}", 0.25 + (i % 13) as f64 / 8.0);
    let mut overlay = String::from(head);
    for i in 0..count {
        service(&mut base, i, &tag(i), None, &ratio(i));
        if i == count / 2 {
            let digest = format!("digest: sha256:{}", "ab".repeat(32));
            service(&mut overlay, i, "v9.9.9", Some(&digest), &ratio(i));
        } else if i == count - 1 {
            service(&mut overlay, i, &tag(i), None, "null");
        } else {
            service(&mut overlay, i, &tag(i), None, &ratio(i));
        }
    }
    let summary = format!("summary:\n  count: {count}\n  generator: bench\n");
    base.push_str(&summary);
    overlay.push_str(&summary);
    (base, overlay)
}

fn bench(c: &mut Criterion) {
    let small = "summary:\n  merged: true\nextra:\n  note: merged by the benchmark\n";
    let mut group = c.benchmark_group("yaml_merge");
    group.sample_size(10);
    for (name, size) in [("0.5mb", 500_000), ("2mb", 2_000_000)] {
        let (base, overlay) = base_and_overlay(size);
        let merged = merge(&[&base, &overlay, small]).expect("the files merge");
        assert!(merged.contains("tag: v9.9.9  # tag") && merged.contains("extra:\n  note:"));
        assert_eq!(
            merged.matches("ratio:").count() + 1,
            base.matches("ratio:").count()
        );
        group.throughput(Throughput::Bytes((base.len() + overlay.len()) as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                merge(std::hint::black_box(&[&base, &overlay, small])).expect("the files merge")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
