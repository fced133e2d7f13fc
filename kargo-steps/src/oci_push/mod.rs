//! `oci-push`: copies or retags an OCI artifact (a container image, a
//! multi-platform index, a Helm chart) to a destination tag.
//!
//! The source manifest is read from `srcRef`; its blobs (config and layers,
//! of every child of an index) are copied to `destRef`'s repository unless
//! they are there already (a retag within one repository copies nothing;
//! within one registry blobs are mounted when the registry allows it);
//! then the manifests are pushed and `destRef`'s tag points at the result.
//! Without `annotations` the pushed manifest is byte for byte the source's,
//! so the digest is kept.
//!
//! `annotations` are added to (or replace those of) the destination
//! manifest; keys prefixed `manifest:` (or unprefixed) go to each image
//! manifest, keys prefixed `index:` to the index (ignored for a single
//! image). Annotating changes the digest.
//!
//! Credentials come from the step context's credentials provider, looked up
//! per side: image credentials for `registry/repository`, Helm credentials
//! for `oci://registry/repository`. Registries on loopback addresses, and
//! those listed in [`Options::plain_http`], are spoken to over plain HTTP.
//!
//! A copy across repositories larger than [`Options::max_size`] (1 GiB of
//! compressed config and layers, Kargo's limit) fails without retries; a
//! limit of 0 refuses every copy across repositories (a retag within one
//! repository still works) and `u64::MAX` lifts the limit.
//! [`OciPush::from_env`] reads the limit from Kargo's variable
//! `MAX_OCI_PUSH_ARTIFACT_SIZE` (bytes; negative: no limit).
//! Outputs: `image` (`registry/repository:tag`), `digest`, `tag`.

mod step;

use std::collections::BTreeMap;

use kargo_core::step::Touches;
use serde::{Deserialize, Serialize};

use crate::schema::Check::NonEmpty;
use crate::schema::Rule;

pub use step::OciPush;

/// The step kind.
pub const KIND: &str = "oci-push";

/// Kargo's schema rules for the config, checked before the promotion
/// starts (see [`schema`](crate::schema)).
const RULES: &[Rule] = &[("srcRef", NonEmpty), ("destRef", NonEmpty)];

/// Where in the work directory the step reads and writes. It copies between
/// registries only.
const TOUCHES: Touches = Touches::Nothing;

/// The largest copy across repositories by default (Kargo's limit).
pub const DEFAULT_MAX_SIZE: u64 = 1 << 30;

/// The environment variable [`OciPush::from_env`] reads the size limit
/// from (Kargo's).
pub const MAX_SIZE_VAR: &str = "MAX_OCI_PUSH_ARTIFACT_SIZE";

/// The `oci-push` step's config (Kargo's `OCIPushConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The source: `registry/repository:tag` or `…@sha256:…`, optionally
    /// prefixed with `oci://`.
    pub src_ref: String,
    /// The destination with its tag: `registry/repository:tag`, optionally
    /// prefixed with `oci://`.
    pub dest_ref: String,
    /// Annotations to set on the destination (`index:` / `manifest:`
    /// prefixes scope them).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Skip TLS certificate verification for both registries.
    #[serde(
        default,
        rename = "insecureSkipTLSVerify",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub insecure_skip_tls_verify: bool,
}

/// Host settings for `oci-push`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// The largest copy across repositories, in compressed bytes (0: no
    /// copy across repositories; `u64::MAX`: no limit).
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
