//! Writing a commit's few new objects as one pack.
//!
//! Loose objects cost two new inodes each (the file and, mostly, its
//! fan-out directory), and creating inodes is the slow part of a commit on
//! most file systems. A pack of the same objects, with its index, is two
//! files. The layout is git's pack format version 2 (whole objects, no
//! deltas) and pack index version 2, as `gitformat-pack(5)` describes.

use std::io::Write as _;
use std::path::Path;

use sha1::{Digest, Sha1};

use crate::cache::write_unsynced;

/// The pack type number of an object kind.
fn type_number(kind: gix::objs::Kind) -> u8 {
    match kind {
        gix::objs::Kind::Commit => 1,
        gix::objs::Kind::Tree => 2,
        gix::objs::Kind::Blob => 3,
        gix::objs::Kind::Tag => 4,
    }
}

/// A pack and its index.
struct Encoded {
    pack: Vec<u8>,
    index: Vec<u8>,
    /// The pack's checksum, which names both files.
    checksum: String,
}

fn encode(objects: &[(gix::ObjectId, gix::objs::Kind, &[u8])]) -> std::io::Result<Encoded> {
    let mut sorted: Vec<_> = objects.iter().collect();
    sorted.sort_by_key(|(id, ..)| *id);
    let count = u32::try_from(sorted.len()).map_err(std::io::Error::other)?;

    let mut pack = Vec::new();
    pack.extend_from_slice(b"PACK");
    pack.extend_from_slice(&2u32.to_be_bytes());
    pack.extend_from_slice(&count.to_be_bytes());
    let mut offsets = Vec::with_capacity(sorted.len());
    let mut crcs = Vec::with_capacity(sorted.len());
    for (_, kind, data) in &sorted {
        let start = pack.len();
        offsets.push(u32::try_from(start).map_err(std::io::Error::other)?);
        // Type and size: four bits of size in the first byte, seven in
        // each next one, low bits first.
        let mut size = data.len();
        let mut byte = (type_number(*kind) << 4) | (size & 0x0f) as u8;
        size >>= 4;
        while size > 0 {
            pack.push(byte | 0x80);
            byte = (size & 0x7f) as u8;
            size >>= 7;
        }
        pack.push(byte);
        let mut deflate = gix::zlib::stream::deflate::Write::new(
            std::mem::take(&mut pack),
            gix::zlib::Compression::BEST_SPEED,
        );
        deflate.write_all(data)?;
        deflate.flush()?;
        pack = deflate.into_inner();
        crcs.push(crc32fast::hash(&pack[start..]));
    }
    let pack_checksum = Sha1::digest(&pack);
    pack.extend_from_slice(&pack_checksum);

    let mut index = Vec::new();
    index.extend_from_slice(b"\xfftOc");
    index.extend_from_slice(&2u32.to_be_bytes());
    // Fan-out: how many ids start with each byte value or a lower one.
    let mut fan_out = [0u32; 256];
    for (id, ..) in &sorted {
        fan_out[usize::from(id.as_bytes()[0])] += 1;
    }
    let mut up_to = 0u32;
    for n in fan_out {
        up_to += n;
        index.extend_from_slice(&up_to.to_be_bytes());
    }
    for (id, ..) in &sorted {
        index.extend_from_slice(id.as_bytes());
    }
    for crc in &crcs {
        index.extend_from_slice(&crc.to_be_bytes());
    }
    for offset in &offsets {
        // Small packs only: every offset fits below 2^31.
        if *offset >= 0x8000_0000 {
            return Err(std::io::Error::other("pack too large for 32-bit offsets"));
        }
        index.extend_from_slice(&offset.to_be_bytes());
    }
    index.extend_from_slice(&pack_checksum);
    let index_checksum = Sha1::digest(&index);
    index.extend_from_slice(&index_checksum);
    Ok(Encoded {
        pack,
        index,
        checksum: hex::encode(pack_checksum),
    })
}

/// Writes `objects` as one pack into the object directory `objects_dir`:
/// the pack first, then its index, so that git never sees an index whose
/// pack is missing.
pub(crate) fn write(
    objects_dir: &Path,
    objects: &[(gix::ObjectId, gix::objs::Kind, &[u8])],
) -> std::io::Result<()> {
    let encoded = encode(objects)?;
    let dir = objects_dir.join("pack");
    std::fs::create_dir_all(&dir)?;
    let name = format!("pack-{}", encoded.checksum);
    write_unsynced(&dir.join(format!("{name}.pack")), &encoded.pack)?;
    write_unsynced(&dir.join(format!("{name}.idx")), &encoded.index)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn git_verifies_the_pack_and_reads_every_object() {
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| crate::cli::Git::new(dir.path()).run(args).unwrap();
        git(&["init", "-q", "--bare"]);
        // Sizes around the header's byte boundaries.
        let blobs: Vec<Vec<u8>> = [0usize, 15, 16, 2047, 2048, 100_000]
            .iter()
            .map(|n| (0..*n).map(|i| (i % 251) as u8).collect())
            .collect();
        let objects: Vec<_> = blobs
            .iter()
            .map(|b| {
                let id = gix::objs::compute_hash(gix::hash::Kind::Sha1, gix::objs::Kind::Blob, b)
                    .unwrap();
                (id, gix::objs::Kind::Blob, b.as_slice())
            })
            .collect();
        write(&dir.path().join("objects"), &objects).unwrap();
        let packs: Vec<_> = std::fs::read_dir(dir.path().join("objects/pack"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "idx"))
            .collect();
        assert_eq!(packs.len(), 1);
        let listed = git(&["verify-pack", "-v", packs[0].to_str().unwrap()]);
        for (id, _, data) in &objects {
            assert!(listed.contains(&id.to_string()), "{listed}");
            let size = git(&["cat-file", "-s", &id.to_string()]);
            assert_eq!(size.trim(), data.len().to_string());
        }
    }
}
