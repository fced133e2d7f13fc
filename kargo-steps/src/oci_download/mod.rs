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
