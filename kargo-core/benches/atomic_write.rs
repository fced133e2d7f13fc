//! What syncing costs the one atomic write ([`kargo_core::fs`]),
//! at the sizes the repository cache writes: a `HEAD` (about 40 bytes), a
//! working tree's index (64 KiB), a small and a larger pack (1 MiB,
//! 16 MiB).
//!
//! - `synced/SIZE`: [`Durability::Synced`] (temporary file, `fsync`,
//!   rename), the steps' writes;
//! - `unsynced/SIZE`: [`Durability::Unsynced`] (no `fsync`), kargo-git's.
//!
//! The files go to `KARGO_BENCH_DIR` (default: the system's temporary
//! directory); point it at the disk the cache lives on, since a tmpfs
//! syncs for free.
//!
//! Run: `cargo bench -p kargo-core --bench atomic_write`.
#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kargo_core::fs::{Durability, WriteOptions, write_atomic_opts};

fn atomic_write(c: &mut Criterion) {
    let root = std::env::var_os("KARGO_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    let dir = tempfile::tempdir_in(root).unwrap();
    let mut group = c.benchmark_group("atomic_write");
    group.sample_size(20);
    for (name, size) in [
        ("head_41B", 41),
        ("index_64KiB", 64 << 10),
        ("pack_1MiB", 1 << 20),
        ("pack_16MiB", 16 << 20),
    ] {
        let contents: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let path = dir.path().join(name);
        group.throughput(Throughput::Bytes(size as u64));
        for (label, durability) in [
            ("synced", Durability::Synced),
            ("unsynced", Durability::Unsynced),
        ] {
            let options = WriteOptions::default().with_durability(durability);
            group.bench_function(BenchmarkId::new(label, name), |b| {
                b.iter(|| write_atomic_opts(&path, &mut &contents[..], &options).unwrap());
            });
        }
    }
    group.finish();
}

criterion_group!(benches, atomic_write);
criterion_main!(benches);
