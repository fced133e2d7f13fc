//! `oci-download`: saves one layer of an OCI artifact (a Helm chart, a
//! configuration bundle) to a file in the work directory.
//!
//! The layer is the first whose media type is `mediaType`, or the first
//! layer when `mediaType` is unset. For a multi-platform index the
//! `linux/amd64` image is read (the first entry when there is none), as
//! Kargo's client does. The layer is written to a temporary file next to
//! `outPath`, checked against its digest, and renamed over `outPath`, so
//! `outPath` holds the whole layer or what it held before. An existing file
//! is replaced only with `allowOverwrite: true`. Layers over
//! [`Options::max_size`] (100 MiB, Kargo's limit) fail the step. The step
//! has no outputs.
//!
//! Credentials come from the credentials provider: image credentials, or
//! Helm credentials for an `oci://` reference.

mod step;

use kargo_core::step::Touches;
use serde::{Deserialize, Serialize};

use crate::schema::Check::NonEmpty;
use crate::schema::Rule;

pub use step::OciDownload;

/// The step kind.
pub const KIND: &str = "oci-download";

/// Kargo's schema rules for the config, checked before the promotion
/// starts (see [`schema`](crate::schema)).
const RULES: &[Rule] = &[
    ("imageRef", NonEmpty),
    ("outPath", NonEmpty),
    ("mediaType", NonEmpty),
];

/// Where in the work directory the step reads and writes.
const TOUCHES: Touches = Touches::Fields(&["outPath"]);

/// The largest layer saved by default (Kargo's limit).
pub const DEFAULT_MAX_SIZE: u64 = 100 << 20;

/// The `oci-download` step's config (Kargo's `OCIDownloadConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The artifact: `registry/repository:tag` or `…@sha256:…`, optionally
    /// prefixed with `oci://`.
    pub image_ref: String,
    /// Where to save the layer, relative to the work directory.
    pub out_path: String,
    /// Whether an existing file at `outPath` may be replaced.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_overwrite: bool,
    /// The media type of the layer to save (default: the first layer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Skip TLS certificate verification.
    #[serde(
        default,
        rename = "insecureSkipTLSVerify",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub insecure_skip_tls_verify: bool,
}

/// Host settings for `oci-download`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// The largest layer saved, in bytes.
    pub max_size: u64,
    /// Registries (`host:port`) spoken to over plain HTTP besides loopback
    /// ones.
    pub plain_http: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_size: DEFAULT_MAX_SIZE,
            plain_http: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use kargo_core::credentials::CredentialType;
    use kargo_core::step::{ErrorKind, Step};
    use serde_json::{Value, json};

    use super::{Config, OciDownload};
    use crate::oci::testing::{Answer, context};

    /// Kargo: oci_downloader_test.go, Test_ociDownloader_validate (every
    /// case): required fields, and the valid configs, which deserialize,
    /// pass the schema rules and hold usable references.
    #[tokio::test]
    async fn kargo_validate_cases() {
        let (_dir, ctx, _) = context(Answer::Nothing);
        for (name, config, field) in [
            (
                "imageRef is not specified",
                json!({"outPath": "output/file.tar"}),
                "imageRef",
            ),
            (
                "outPath is not specified",
                json!({"imageRef": "registry.example.com/image:tag"}),
                "outPath",
            ),
        ] {
            let err = OciDownload::new().run(&ctx, config).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Failed, "{name}: {err}");
            assert!(err.to_string().contains(field), "{name}: {err}");
        }
        let valid = [
            json!({"imageRef": "registry.example.com/image:tag", "outPath": "output/file.tar"}),
            json!({"imageRef": "oci://registry.example.com/image:tag", "outPath": "output/file.tar"}),
            json!({"imageRef": "an.internal.registry.com:5050/myrepo/myimage:latest", "outPath": "output/file.tar"}),
            json!({"imageRef": "oci://registry.example.com:5050/image:tag", "outPath": "output/file.tar"}),
            json!({
                "imageRef": "registry.example.com/image:tag",
                "outPath": "output/file.tar",
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "insecureSkipTLSVerify": true,
            }),
        ];
        for value in valid {
            OciDownload::new().check_config(&value).unwrap();
            let config: Config = serde_json::from_value(value.clone()).unwrap();
            crate::oci::parse(super::KIND, "imageRef", &config.image_ref).unwrap();
        }
        // Kargo: Test_ociDownloader_prepareOutputPath, "path traversal
        // attempt": Kargo writes under the work directory instead
        // (`<workDir>/etc/passwd`); kargo-rs refuses the path.
        let err = OciDownload::new()
            .run(
                &ctx,
                json!({"imageRef": "registry.example.com/image:tag", "outPath": "../../../etc/passwd"}),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Failed, "{err}");
        let empty_media_type =
            json!({"imageRef": "r.example/i:t", "outPath": "f", "mediaType": ""});
        let err = OciDownload::new()
            .check_config(&empty_media_type)
            .unwrap_err();
        assert!(err.to_string().contains("mediaType"), "{err}");
    }

    /// Kargo: oci_downloader_test.go, Test_ociDownloader_resolveImage
    /// (every case): a bad reference fails the step before any lookup; a
    /// failing credentials lookup (Helm credentials at `oci://…` for a
    /// chart) ends it, and nothing is written.
    #[tokio::test]
    async fn kargo_resolve_image_cases() {
        let (dir, ctx, recorder) = context(Answer::Fails);
        let step = OciDownload::new();
        let run = |image_ref: &str| {
            let config: Value = json!({"imageRef": image_ref, "outPath": "out/file.tar"});
            step.run(&ctx, config)
        };
        let err = run("invalid::reference").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Failed, "{err}");
        assert!(err.to_string().contains("`imageRef`"), "{err}");
        assert!(recorder.asked().is_empty());

        let err = run("registry.example.com/image:tag").await.unwrap_err();
        assert!(
            err.to_string().contains("cannot look up credentials"),
            "{err}"
        );
        let err = run("oci://registry.example.com/chart:1.0.0")
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("credentials database error"),
            "{err}"
        );
        assert_eq!(
            recorder.asked(),
            [
                (CredentialType::Image, "registry.example.com/image".into()),
                (
                    CredentialType::Helm,
                    "oci://registry.example.com/chart".into()
                ),
            ]
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
