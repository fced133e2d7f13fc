//! `http-download`: downloads a file into the work directory.
//!
//! The body is streamed into a temporary file next to `outPath` and renamed
//! over it once complete, so `outPath` holds either the whole download or
//! what it held before. An existing file is replaced only with
//! `allowOverwrite: true`. Downloads over [`Options::max_size`] (100 MiB,
//! Kargo's limit) fail and leave nothing behind. Parent directories are
//! created. The step has no outputs.
//!
//! A non-2xx status, network errors and timeouts (default 5m for the whole
//! download) are retryable; an unusable config, a path outside the work
//! directory, an existing file and an oversized download fail the step.
//! Header and query parameter values never appear in the step's messages,
//! logs or `Debug` output.

mod step;
#[cfg(test)]
mod tests;

use std::fmt;
use std::time::Duration;

use kargo_core::duration::GoDuration;
use kargo_core::step::Touches;
use serde::{Deserialize, Serialize};

use crate::schema::Check::NonEmpty;
use crate::schema::Rule;

pub use crate::http::{Header, QueryParam};
pub use step::HttpDownload;

/// The step kind.
pub const KIND: &str = "http-download";

/// Kargo's schema rules for the config, checked before the promotion
/// starts (see [`schema`](crate::schema)).
const RULES: &[Rule] = &[("url", NonEmpty), ("outPath", NonEmpty)];

/// Where in the work directory the step reads and writes.
const TOUCHES: Touches = Touches::Fields(&["outPath"]);

/// The download timeout when the config sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// The largest download accepted by default (Kargo's limit).
pub const DEFAULT_MAX_SIZE: u64 = 100 << 20;

/// The `http-download` step's config (Kargo's `HTTPDownloadConfig`).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The URL to download.
    pub url: String,
    /// Where to save the file, relative to the work directory.
    pub out_path: String,
    /// Whether an existing file at `outPath` may be replaced.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_overwrite: bool,
    /// Headers to send; a name may repeat.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<Header>,
    /// Query parameters appended to the URL (values are URL-encoded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query_params: Vec<QueryParam>,
    /// Skip TLS certificate verification (not recommended).
    #[serde(
        default,
        rename = "insecureSkipTLSVerify",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub insecure_skip_tls_verify: bool,
    /// The time the whole download may take (default 5m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<GoDuration>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("url", &crate::http::client::redact_url(&self.url))
            .field("out_path", &self.out_path)
            .field("allow_overwrite", &self.allow_overwrite)
            .field("headers", &self.headers)
            .field("query_params", &self.query_params)
            .field("insecure_skip_tls_verify", &self.insecure_skip_tls_verify)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Host settings for the `http-download` step.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Internal addresses the step may reach all the same (none by
    /// default; see [`internal_addresses_from_env`](crate::http::internal_addresses_from_env)).
    /// Link-local addresses and the cloud metadata endpoints
    /// `fd00:ec2::254` and `100.100.100.200` are refused otherwise, on
    /// every redirect hop and after resolving names.
    pub allowed_internal_addresses: Vec<std::net::IpAddr>,
    /// The largest download accepted, in bytes.
    pub max_size: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            allowed_internal_addresses: Vec::new(),
            max_size: DEFAULT_MAX_SIZE,
        }
    }
}
