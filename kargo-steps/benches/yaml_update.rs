//! yaml-update of one scalar in a 1 MB Helm values file, beside a Python
//! ruamel.yaml round trip of the same file measured in the same run.
//!
//! Run with `cargo bench -p kargo-steps --no-default-features --bench yaml_update`.
//! The ruamel.yaml comparison runs when `python3 -c 'import ruamel.yaml'`
//! works (`pip install ruamel.yaml`); otherwise it is reported as skipped.
//!
//! The target is 20 ms. A whole-document edit parses the file
//! twice (to plan, and to verify) at about 150 ms per megabyte; files from
//! 128 KiB on are planned and verified one top-level section at a time,
//! which this benchmark measures (`yaml_update_1mb_one_scalar`), next to
//! the whole-document path on a 100 KiB file for scale.
#![allow(missing_docs)]

use std::process::Command;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use kargo_steps::yaml_update::{Update, edit};

/// A Helm values file of at least `size` bytes: many services, each with
/// comments, quoted and plain scalars, flow and block collections.
fn helm_values(size: usize) -> String {
    let mut out = String::from(
        "# Generated values for the benchmark.\nimage:\n  repository: ghcr.io/example/app # app image\n  tag: \"1.4.2\" # kargo\n",
    );
    let mut i = 0;
    while out.len() < size {
        out.push_str(&format!(
            "service{i}:\n  enabled: true # toggle\n  replicas: {r} # scaled\n  image:\n    repository: ghcr.io/example/svc{i} # image\n    tag: 'v1.{i}.0'\n  ports: [80, 443] # flow\n  env:\n    - name: LOG_LEVEL # level\n      value: info\n    - name: TIMEOUT\n      value: \"30\"\n  resources: {{limits: {{cpu: 500m, memory: 512Mi}}}}\n\n",
            r = i % 5
        ));
        i += 1;
    }
    out
}

/// The same edit as a Python ruamel.yaml round trip (load, set, dump, in
/// its comment-keeping mode), timed inside Python; `None` when Python or
/// ruamel.yaml is missing.
fn ruamel_round_trip(src: &str) -> Option<f64> {
    let dir = tempfile::tempdir().ok()?;
    let path = dir.path().join("values.yaml");
    std::fs::write(&path, src).ok()?;
    let script = "import sys, time, io\n\
        from ruamel.yaml import YAML\n\
        yaml = YAML()\n\
        text = open(sys.argv[1]).read()\n\
        start = time.perf_counter()\n\
        doc = yaml.load(text)\n\
        doc['service2000']['image']['tag'] = 'v9.9.9'\n\
        out = io.StringIO()\n\
        yaml.dump(doc, out)\n\
        print(time.perf_counter() - start)\n";
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&path)
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8(output.stdout).ok()?.trim().parse().ok()
}

fn bench(c: &mut Criterion) {
    let src = helm_values(1024 * 1024);
    let updates = [Update::new("service2000.image.tag", "v9.9.9")];
    let edited = edit(&src, &updates).expect("update applies");
    assert_eq!(edited.len(), src.len() - "v1.2000.0".len() + "v9.9.9".len());
    c.bench_function("yaml_update_1mb_one_scalar", |b| {
        b.iter(|| edit(std::hint::black_box(&src), &updates).expect("update applies"))
    });

    let small = helm_values(100 * 1024);
    let small_updates = [Update::new("service200.image.tag", "v9.9.9")];
    c.bench_function("yaml_update_100kb_whole_document", |b| {
        b.iter(|| edit(std::hint::black_box(&small), &small_updates).expect("update applies"))
    });

    let start = Instant::now();
    edit(&src, &updates).expect("update applies");
    let ours = start.elapsed().as_secs_f64();
    match ruamel_round_trip(&src) {
        Some(theirs) => println!(
            "1 MB values file, one scalar: kargo-steps yaml-update {:.2} ms, \
             ruamel.yaml round trip {:.2} s ({:.0}x slower)",
            ours * 1e3,
            theirs,
            theirs / ours
        ),
        None => println!("ruamel.yaml comparison skipped: `python3 -c 'import ruamel.yaml'` fails"),
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
