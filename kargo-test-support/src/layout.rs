//! OCI image layouts written straight to disk (no registry).

use std::path::Path;

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::write;

/// The digest of `bytes`: `sha256:HEX`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Writes `bytes` as a blob of the layout and returns its descriptor.
pub fn blob(layout: &Path, media_type: &str, bytes: &[u8]) -> Value {
    let digest = sha256(bytes);
    let hex = digest.trim_start_matches("sha256:");
    let dir = layout.join("blobs/sha256");
    std::fs::create_dir_all(&dir).expect("create the blobs directory");
    std::fs::write(dir.join(hex), bytes).expect("write the blob");
    json!({"mediaType": media_type, "digest": digest, "size": bytes.len()})
}

/// An OCI image layout holding one small image per `(tag, created)`.
pub fn layout_with_tags(layout: &Path, tags: &[(&str, &str)]) {
    let mut manifests = Vec::new();
    for (tag, created) in tags {
        let config = json!({"created": created, "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": []}});
        let config = blob(
            layout,
            "application/vnd.oci.image.config.v1+json",
            config.to_string().as_bytes(),
        );
        let manifest = json!({"schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config, "layers": []});
        let mut descriptor = blob(
            layout,
            "application/vnd.oci.image.manifest.v1+json",
            manifest.to_string().as_bytes(),
        );
        descriptor["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        manifests.push(descriptor);
    }
    write(layout, "oci-layout", r#"{"imageLayoutVersion": "1.0.0"}"#);
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests});
    write(layout, "index.json", &index.to_string());
}
