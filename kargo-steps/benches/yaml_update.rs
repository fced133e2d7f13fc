//! yaml-update of one scalar in a 1 MB Helm values file.
//!
//! Run with `cargo bench -p kargo-steps --bench yaml_update`.
//!
//! Measured on the 2-core development machine while other builds ran: about
//! 0.53 s per update with three parses, about 0.34 s after dropping one
//! (two full parses remain: locate, then verify). The target is
//! 20 ms. granit-parser alone takes 120-170 ms for this 1 MB input and
//! libyaml-safer 50-60 ms, so the target needs an editor that does not
//! parse the whole file twice; not reached yet.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use kargo_steps::yaml_update::{Update, edit};

/// A Helm values file of at least 1 MB: many services, each with comments,
/// quoted and plain scalars, flow and block collections.
fn helm_values() -> String {
    let mut out = String::from(
        "# Generated values for the benchmark.\nimage:\n  repository: ghcr.io/example/app # app image\n  tag: \"1.4.2\" # kargo\n",
    );
    let mut i = 0;
    while out.len() < 1024 * 1024 {
        out.push_str(&format!(
            "service{i}:\n  enabled: true # toggle\n  replicas: {r} # scaled\n  image:\n    repository: ghcr.io/example/svc{i} # image\n    tag: 'v1.{i}.0'\n  ports: [80, 443] # flow\n  env:\n    - name: LOG_LEVEL # level\n      value: info\n    - name: TIMEOUT\n      value: \"30\"\n  resources: {{limits: {{cpu: 500m, memory: 512Mi}}}}\n\n",
            r = i % 5
        ));
        i += 1;
    }
    out
}

fn bench(c: &mut Criterion) {
    let src = helm_values();
    let middle = "service2000.image.tag";
    let updates = [Update::new(middle, "v9.9.9")];
    assert!(edit(&src, &updates).is_ok());
    c.bench_function("yaml_update_1mb_one_scalar", |b| {
        b.iter(|| edit(std::hint::black_box(&src), &updates).expect("update applies"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
