//! `http`: sends one HTTP request and judges the response.
//!
//! The response is exposed to the config's expressions as `response`:
//!
//! | field | value |
//! |---|---|
//! | `response.status` | the status code, a number |
//! | `response.headers` | header name (canonical form, `Content-Type`) to the list of its values |
//! | `response.body` | the body: parsed JSON or YAML, a string for `text/plain`, `{}` when empty |
//!
//! The body is parsed by `responseContentType` when set, else by the
//! response's `Content-Type` (`application/json`; `application/yaml`,
//! `text/yaml`, `application/x-yaml`; `text/plain`); any other type is
//! parsed as JSON when it is valid JSON and ignored (`{}`) when not.
//! Bodies larger than [`Options::max_response_bytes`] (2 MiB) are refused.
//!
//! The outcome, as in Kargo:
//! - `failureExpression` true: the step fails without retries; the message
//!   is `HTTP (<status>) response met failure criteria`, followed by the
//!   value of `errorExpression` when that is a non-empty string.
//! - `successExpression` true: the step succeeds with `outputs` evaluated.
//! - neither expression set: a 2xx status succeeds; any other status is a
//!   retryable error (retried up to the step's `retry.errorThreshold`).
//! - otherwise the step is `Running` and asks to be run again after
//!   `pollInterval` (default 30s).
//!
//! Network errors and timeouts (default 10s per request) are retryable, and
//! so is an expression that fails on a response (an unknown function, a
//! criterion that is not a boolean); one that does not parse ends the step
//! `Errored`, as in Kargo.
//! Header and query parameter values never appear in the step's messages,
//! logs or `Debug` output, and URLs are shown there without credentials or
//! query. Connections to link-local
//! addresses (169.254.0.0/16, fe80::/10: cloud metadata endpoints) are
//! refused, as Kargo does, and so are AWS's IPv6 endpoint `fd00:ec2::254`
//! and Alibaba's `100.100.100.200` (kargo-rs refuses more than Kargo): in
//! the URL, in every redirect's `Location`, and among the addresses a name
//! resolves to. A host opts in to some of them with
//! [`Options::allowed_internal_addresses`].

pub(crate) mod client;
mod step;
#[cfg(test)]
mod tests;

use std::fmt;
use std::time::Duration;

use kargo_core::duration::GoDuration;
use kargo_core::step::Touches;
use serde::{Deserialize, Serialize};

use crate::schema::Check::{NonEmpty, OneOf};
use crate::schema::Rule;

pub use step::Http;

/// The step kind.
pub const KIND: &str = "http";

/// Kargo's schema rules for the config, checked before the promotion
/// starts (see [`schema`](crate::schema)).
const RULES: &[Rule] = &[
    ("url", NonEmpty),
    ("bodyFromFile", NonEmpty),
    ("outputs[].name", NonEmpty),
    ("outputs[].fromExpression", NonEmpty),
    (
        "method",
        OneOf(&["DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"]),
    ),
    (
        "responseContentType",
        OneOf(&["application/json", "application/yaml", "text/plain"]),
    ),
];

/// Where in the work directory the step reads and writes.
const TOUCHES: Touches = Touches::Fields(&["bodyFromFile"]);

/// Kargo's schema rules for the `headers` and `queryParams` of `http` and
/// `http-download`, checked before each step's own [`RULES`].
pub(crate) const PAIR_RULES: &[Rule] = &[
    ("headers[].name", NonEmpty),
    ("headers[].value", NonEmpty),
    ("queryParams[].name", NonEmpty),
    ("queryParams[].value", NonEmpty),
];

/// The request timeout when the config sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The polling interval when the config sets none.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(30);

/// The largest response body read (Kargo's limit), also the largest
/// `bodyFromFile`.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 2 << 20;

/// The `http` step's config (Kargo's `HTTPConfig`).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The request method (default `GET`).
    #[serde(default)]
    pub method: Method,
    /// The URL to send the request to.
    pub url: String,
    /// Headers to send; a name may repeat.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<Header>,
    /// Query parameters appended to the URL (values are URL-encoded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query_params: Vec<QueryParam>,
    /// The request body. Exclusive with `bodyFromFile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// A file in the work directory whose contents are the request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_from_file: Option<String>,
    /// Skip TLS certificate verification (not recommended).
    #[serde(
        default,
        rename = "insecureSkipTLSVerify",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub insecure_skip_tls_verify: bool,
    /// An `http://` or `https://` proxy to send the request through; without
    /// it the `HTTP(S)_PROXY` environment variables apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// The time one request may take (default 10s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<GoDuration>,
    /// How long to wait before polling again while neither expression is
    /// true (default 30s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval: Option<GoDuration>,
    /// Parse the response body as this type, whatever its `Content-Type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_content_type: Option<ContentType>,
    /// Outputs to take from a successful response.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<Output>,
    /// A bare expression over `response`: true means success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_expression: Option<String>,
    /// A bare expression over `response`: true means failure (no retries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_expression: Option<String>,
    /// A bare expression over `response` giving the message of a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_expression: Option<String>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("method", &self.method)
            .field("url", &client::redact_url(&self.url))
            .field("headers", &self.headers)
            .field("query_params", &self.query_params)
            .field("body", &self.body.as_ref().map(|b| Redacted(b.len())))
            .field("body_from_file", &self.body_from_file)
            .field("insecure_skip_tls_verify", &self.insecure_skip_tls_verify)
            .field("proxy", &self.proxy.as_deref().map(client::redact_url))
            .field("timeout", &self.timeout)
            .field("poll_interval", &self.poll_interval)
            .field("response_content_type", &self.response_content_type)
            .field("outputs", &self.outputs)
            .field("success_expression", &self.success_expression)
            .field("failure_expression", &self.failure_expression)
            .field("error_expression", &self.error_expression)
            .finish()
    }
}

/// Stands for a value left out of `Debug` output.
struct Redacted(usize);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes redacted>", self.0)
    }
}

/// The request methods Kargo allows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
#[non_exhaustive]
pub enum Method {
    /// `DELETE`
    Delete,
    /// `GET`
    #[default]
    Get,
    /// `HEAD`
    Head,
    /// `PATCH`
    Patch,
    /// `POST`
    Post,
    /// `PUT`
    Put,
}

impl From<Method> for reqwest::Method {
    fn from(m: Method) -> Self {
        match m {
            Method::Delete => reqwest::Method::DELETE,
            Method::Get => reqwest::Method::GET,
            Method::Head => reqwest::Method::HEAD,
            Method::Patch => reqwest::Method::PATCH,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
        }
    }
}

/// How to parse a response body (`responseContentType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ContentType {
    /// `application/json`
    #[serde(rename = "application/json")]
    Json,
    /// `application/yaml`
    #[serde(rename = "application/yaml")]
    Yaml,
    /// `text/plain`
    #[serde(rename = "text/plain")]
    Text,
}

/// A request header. Its value is left out of `Debug` output.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Header {
    /// The header name.
    pub name: String,
    /// The header value.
    pub value: String,
}

impl Header {
    /// A header.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Header {
            name: name.into(),
            value: value.into(),
        }
    }
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Header")
            .field("name", &self.name)
            .field("value", &Redacted(self.value.len()))
            .finish()
    }
}

/// A query parameter. Its value is left out of `Debug` output (tokens are
/// sometimes passed this way).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct QueryParam {
    /// The parameter name.
    pub name: String,
    /// The parameter value, unencoded.
    pub value: String,
}

impl QueryParam {
    /// A query parameter.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        QueryParam {
            name: name.into(),
            value: value.into(),
        }
    }
}

impl fmt::Debug for QueryParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueryParam")
            .field("name", &self.name)
            .field("value", &Redacted(self.value.len()))
            .finish()
    }
}

/// An output taken from a successful response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Output {
    /// The output's name under `outputs.<alias>`.
    pub name: String,
    /// A bare expression over `response`.
    pub from_expression: String,
}

/// The environment variable [`internal_addresses_from_env`] reads.
pub const ALLOWED_INTERNAL_ADDRESSES_ENV: &str = "KARGO_HTTP_ALLOWED_INTERNAL_ADDRESSES";

/// The internal addresses the `http` and `http-download` steps may reach,
/// from [`ALLOWED_INTERNAL_ADDRESSES_ENV`]: IP addresses separated by
/// commas or spaces (`169.254.169.254,fd00:ec2::254`). Unset or empty
/// means none. An entry that is not an IP address is logged and ignored:
/// it allows nothing. [`register_builtins`](crate::register_builtins)
/// gives the steps these.
pub fn internal_addresses_from_env() -> Vec<std::net::IpAddr> {
    let value = std::env::var(ALLOWED_INTERNAL_ADDRESSES_ENV).unwrap_or_default();
    value
        .split([',', ' '])
        .filter(|entry| !entry.is_empty())
        .filter_map(|entry| match entry.parse() {
            Ok(ip) => Some(ip),
            Err(_) => {
                tracing::warn!(
                    variable = ALLOWED_INTERNAL_ADDRESSES_ENV,
                    entry,
                    "not an IP address; ignored"
                );
                None
            }
        })
        .collect()
}

/// Host settings for the `http` step.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Internal addresses the step may reach all the same (none by
    /// default; see [`internal_addresses_from_env`]).
    /// Link-local addresses and the cloud metadata endpoints
    /// `fd00:ec2::254` and `100.100.100.200` are refused otherwise, on
    /// every redirect hop and after resolving names.
    pub allowed_internal_addresses: Vec<std::net::IpAddr>,
    /// The largest response body (and `bodyFromFile`) accepted, in bytes.
    pub max_response_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            allowed_internal_addresses: Vec::new(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}
