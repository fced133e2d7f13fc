//! The HTTP plumbing shared by `http` and `http-download`: building the
//! request, refusing link-local addresses, sending with cancellation, and
//! reading bodies under a size cap. Messages never include header or query
//! values, nor URL credentials.

use std::error::Error as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use kargo_core::duration::GoDuration;
use kargo_core::step::{StepContext, StepError};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, Response, Url};

use super::{Header, QueryParam};

/// What to send.
pub(crate) struct Request<'a> {
    pub(crate) kind: &'static str,
    pub(crate) method: reqwest::Method,
    pub(crate) url: &'a str,
    pub(crate) headers: &'a [Header],
    pub(crate) query_params: &'a [QueryParam],
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) timeout: Duration,
    pub(crate) insecure_skip_tls_verify: bool,
    pub(crate) proxy: Option<&'a str>,
    /// Which internal addresses may be reached.
    pub(crate) addresses: AddressPolicy,
}

/// `url` as messages and logs show it: kargo-core's one redaction (the
/// password and query values become `***`).
pub(crate) use kargo_core::urls::redact_url;

/// AWS's IPv6 instance metadata endpoint.
const AWS_METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);

/// Alibaba Cloud's metadata endpoint.
const ALIBABA_METADATA: Ipv4Addr = Ipv4Addr::new(100, 100, 100, 200);

/// Whether `ip` is an internal metadata endpoint the HTTP steps refuse:
/// link-local (169.254.0.0/16, fe80::/10, where most clouds answer),
/// AWS's `fd00:ec2::254`, Alibaba's `100.100.100.200`, or an IPv4 one of
/// these written as IPv6 (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`,
/// or NAT64 `64:ff9b::a.b.c.d`).
pub(crate) fn is_metadata_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local() || v4 == ALIBABA_METADATA,
        IpAddr::V6(v6) => {
            (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6 == AWS_METADATA_V6
                || embedded_v4(v6).is_some_and(|v4| is_metadata_address(IpAddr::V4(v4)))
        }
    }
}

/// The IPv4 address an IPv6 address stands for, in the forms that reach
/// it: IPv4-mapped, IPv4-compatible (deprecated, but routed by some
/// stacks), and NAT64's well-known prefix.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let tail = Ipv4Addr::new(
        (s[6] >> 8) as u8,
        (s[6] & 0xff) as u8,
        (s[7] >> 8) as u8,
        (s[7] & 0xff) as u8,
    );
    let nat64 = s[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    let compatible = s[..6] == [0; 6] && s[6] != 0;
    v6.to_ipv4_mapped()
        .or_else(|| (nat64 || compatible).then_some(tail))
}

/// Which internal addresses a host lets the HTTP steps reach: none by
/// default; each address named in [`Options::allowed_internal_addresses`]
/// (and its IPv4/IPv6 forms) is allowed.
///
/// [`Options::allowed_internal_addresses`]: super::Options::allowed_internal_addresses
#[derive(Debug, Clone, Default)]
pub(crate) struct AddressPolicy {
    allowed: Arc<[IpAddr]>,
}

impl AddressPolicy {
    pub(crate) fn new(allowed: &[IpAddr]) -> Self {
        AddressPolicy {
            allowed: allowed.into(),
        }
    }

    /// Whether a connection to `ip` is refused.
    fn refuses(&self, ip: IpAddr) -> bool {
        let same = |a: IpAddr| match (a, ip) {
            (IpAddr::V4(a4), IpAddr::V6(v6)) => embedded_v4(v6) == Some(a4),
            _ => a == ip,
        };
        is_metadata_address(ip) && !self.allowed.iter().any(|&a| same(a))
    }

    /// Refuses a URL whose host is an internal IP literal (names are
    /// checked by [`SafeResolver`] once resolved).
    fn check_host(&self, url: &Url) -> Result<(), String> {
        let host = url.host_str().unwrap_or_default();
        let Ok(ip) = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        else {
            return Ok(());
        };
        if self.refuses(ip) {
            return Err(refusal(&ip.to_string()));
        }
        Ok(())
    }

    /// The addresses a name resolved to that may be reached, or an error
    /// when none may.
    fn filter(&self, host: &str, resolved: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, String> {
        let any = !resolved.is_empty();
        let safe: Vec<SocketAddr> = resolved
            .into_iter()
            .filter(|addr| !self.refuses(addr.ip()))
            .collect();
        if safe.is_empty() && any {
            return Err(format!(
                "{} (host `{host}` resolves only to such addresses)",
                refusal(host)
            ));
        }
        Ok(safe)
    }
}

fn refusal(host: &str) -> String {
    format!(
        "connections to link-local and cloud metadata addresses are not permitted \
         (host `{host}`); a host that needs one allows it in the step's options \
         (see the README, \"Network access of the http steps\")"
    )
}

/// Resolves names with the system resolver and drops internal addresses,
/// so that a name pointing at a cloud metadata endpoint is refused, for
/// the first request and on every redirect hop alike.
#[derive(Debug)]
struct SafeResolver(AddressPolicy);

impl Resolve for SafeResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let addrs: Addrs = Box::new(policy.filter(&host, resolved)?.into_iter());
            Ok(addrs)
        })
    }
}

fn build_client(req: &Request<'_>) -> Result<Client, StepError> {
    let kind = req.kind;
    let policy = req.addresses.clone();
    let redirects = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= 10 {
            return attempt.error("stopped after 10 redirects");
        }
        match policy.check_host(attempt.url()) {
            Ok(()) => attempt.follow(),
            Err(e) => attempt.error(e),
        }
    });
    let mut builder = Client::builder()
        .timeout(req.timeout)
        .redirect(redirects)
        .dns_resolver(Arc::new(SafeResolver(req.addresses.clone())))
        .tls_danger_accept_invalid_certs(req.insecure_skip_tls_verify);
    if let Some(proxy) = req.proxy.filter(|p| !p.is_empty()) {
        let shown = redact_url(proxy);
        let parsed = Url::parse(proxy)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| {
                StepError::failed(format!(
                    "invalid {kind} config: `proxy` `{shown}` must be an http:// or https:// URL"
                ))
            })?;
        req.addresses
            .check_host(&parsed)
            .map_err(|e| StepError::failed(format!("{kind}: proxy: {e}")))?;
        let proxy = reqwest::Proxy::all(parsed).map_err(|e| {
            StepError::failed(format!("invalid {kind} config: `proxy` `{shown}`"))
                .with_source(e.without_url())
        })?;
        builder = builder.proxy(proxy);
    }
    builder.build().map_err(|e| {
        StepError::terminal(format!("{kind}: cannot create an HTTP client")).with_source(e)
    })
}

fn header_map(kind: &str, headers: &[Header]) -> Result<HeaderMap, StepError> {
    let mut map = HeaderMap::new();
    for header in headers {
        let name = HeaderName::from_bytes(header.name.as_bytes()).map_err(|_| {
            StepError::failed(format!(
                "invalid {kind} config: header name `{}` is not a valid HTTP header name",
                header.name
            ))
        })?;
        // The value may be a secret: it is named by its header only.
        let mut value = HeaderValue::from_str(&header.value).map_err(|_| {
            StepError::failed(format!(
                "invalid {kind} config: the value of header `{}` is not a valid HTTP header value",
                header.name
            ))
        })?;
        value.set_sensitive(true);
        map.append(name, value);
    }
    Ok(map)
}

/// Checks what Kargo's schema requires of headers and query parameters:
/// non-empty names and values.
pub(crate) fn validate_pairs(
    kind: &str,
    headers: &[Header],
    query_params: &[QueryParam],
) -> Result<(), StepError> {
    let pairs = headers
        .iter()
        .map(|h| ("headers", &h.name, &h.value))
        .chain(
            query_params
                .iter()
                .map(|q| ("queryParams", &q.name, &q.value)),
        );
    for (field, name, value) in pairs {
        if name.is_empty() {
            return Err(StepError::failed(format!(
                "invalid {kind} config: `{field}[].name` is empty"
            )));
        }
        if value.is_empty() {
            return Err(StepError::failed(format!(
                "invalid {kind} config: `{field}[].value` of `{name}` is empty"
            )));
        }
    }
    Ok(())
}

/// Builds and sends the request; returns the response with its body unread.
/// Stops when the step is cancelled.
pub(crate) async fn send(ctx: &StepContext, req: Request<'_>) -> Result<Response, StepError> {
    let kind = req.kind;
    let shown = redact_url(req.url);
    let mut url = Url::parse(req.url).map_err(|e| {
        StepError::failed(format!("invalid {kind} config: `url` `{shown}`")).with_source(e)
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(StepError::failed(format!(
            "invalid {kind} config: `url` `{shown}` must be an http:// or https:// URL"
        )));
    }
    req.addresses
        .check_host(&url)
        .map_err(|e| StepError::failed(format!("{kind}: {e}")))?;
    if !req.query_params.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for param in req.query_params {
            pairs.append_pair(&param.name, &param.value);
        }
    }
    let headers = header_map(kind, req.headers)?;
    let client = build_client(&req)?;
    let mut builder = client.request(req.method.clone(), url).headers(headers);
    if let Some(body) = req.body {
        builder = builder.body(body);
    }
    tracing::debug!(method = %req.method, url = %shown, "sending HTTP request");
    let response = tokio::select! {
        r = builder.send() => r,
        () = ctx.cancel.cancelled() => return Err(cancelled(kind, &shown)),
    };
    response.map_err(|e| request_error(kind, &shown, req.timeout, e))
}

/// Reads the next piece of a response body. Stops when the step is
/// cancelled.
pub(crate) async fn next_chunk(
    ctx: &StepContext,
    kind: &'static str,
    shown_url: &str,
    timeout: Duration,
    response: &mut Response,
) -> Result<Option<impl AsRef<[u8]> + use<>>, StepError> {
    tokio::select! {
        r = response.chunk() => r.map_err(|e| request_error(kind, shown_url, timeout, e)),
        () = ctx.cancel.cancelled() => Err(cancelled(kind, shown_url)),
    }
}

/// Reads a whole body of at most `cap` bytes.
pub(crate) async fn read_body(
    ctx: &StepContext,
    kind: &'static str,
    shown_url: &str,
    timeout: Duration,
    mut response: Response,
    cap: u64,
) -> Result<Vec<u8>, StepError> {
    if let Some(len) = response.content_length().filter(|&len| len > cap) {
        return Err(too_large(kind, shown_url, len, cap));
    }
    let mut body = Vec::new();
    while let Some(chunk) = next_chunk(ctx, kind, shown_url, timeout, &mut response).await? {
        let chunk = chunk.as_ref();
        if (body.len() + chunk.len()) as u64 > cap {
            return Err(too_large(
                kind,
                shown_url,
                (body.len() + chunk.len()) as u64,
                cap,
            ));
        }
        body.extend_from_slice(chunk);
    }
    Ok(body)
}

fn too_large(kind: &str, shown_url: &str, size: u64, cap: u64) -> StepError {
    StepError::failed(format!(
        "{kind}: response from {shown_url} exceeds the limit of {cap} bytes (at least {size} bytes)"
    ))
}

fn cancelled(kind: &str, shown_url: &str) -> StepError {
    StepError::terminal(format!("{kind}: request to {shown_url} was cancelled"))
}

/// A send or read failure: retryable, described without the URL reqwest
/// would print (it may hold query values).
fn request_error(kind: &str, shown_url: &str, timeout: Duration, e: reqwest::Error) -> StepError {
    if e.is_timeout() {
        return StepError::retryable(format!(
            "{kind}: request to {shown_url} timed out after {}",
            GoDuration::new(timeout)
        ));
    }
    let e = e.without_url();
    let mut reason = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        reason.push_str(": ");
        reason.push_str(&s.to_string());
        source = s.source();
    }
    StepError::retryable(format!("{kind}: request to {shown_url} failed: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_urls_keep_no_secret() {
        for url in [
            "https://user:pw@example.com/a/b?token=secret#x",
            "not a url://user:pw@host/x?token=secret",
        ] {
            let shown = redact_url(url);
            assert!(
                !shown.contains("pw") && !shown.contains("secret"),
                "{shown}"
            );
        }
    }

    #[test]
    fn metadata_addresses_are_recognised_in_every_form() {
        for ip in [
            "169.254.169.254",
            "169.254.170.2",
            "fe80::1",
            "fe80::a9fe:a9fe",
            "::ffff:169.254.1.1",
            "::169.254.169.254",
            "64:ff9b::169.254.169.254",
            "fd00:ec2::254",
            "100.100.100.200",
            "::ffff:100.100.100.200",
        ] {
            assert!(is_metadata_address(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "100.100.100.201",
            "::1",
            "fd00::1",
            "fd00:ec2::253",
            "::",
        ] {
            assert!(!is_metadata_address(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn urls_and_resolved_names_are_refused_unless_allowed() {
        let strict = AddressPolicy::default();
        for url in [
            "http://[fe80::1]:8080/",
            "http://169.254.169.254/latest/meta-data",
            "http://2852039166/",
            "http://[fd00:ec2::254]/latest/meta-data",
            "http://100.100.100.200/latest/meta-data",
            "http://[::ffff:100.100.100.200]/",
        ] {
            let err = strict.check_host(&Url::parse(url).unwrap()).unwrap_err();
            assert!(err.contains("not permitted"), "{url}: {err}");
        }
        assert!(
            strict
                .check_host(&Url::parse("http://127.0.0.1:1/").unwrap())
                .is_ok()
        );
        // A name resolving to metadata addresses only is refused; one with
        // another address keeps that one.
        let aws: SocketAddr = "[fd00:ec2::254]:80".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let err = strict.filter("metadata.example", vec![aws]).unwrap_err();
        assert!(err.contains("metadata.example"), "{err}");
        assert_eq!(
            strict.filter("mixed.example", vec![aws, local]).unwrap(),
            vec![local]
        );
        // Allowing an address allows it in each of its forms, and only it.
        let allowing = AddressPolicy::new(&["100.100.100.200".parse().unwrap()]);
        for url in [
            "http://100.100.100.200/",
            "http://[::ffff:100.100.100.200]/",
        ] {
            assert!(
                allowing.check_host(&Url::parse(url).unwrap()).is_ok(),
                "{url}"
            );
        }
        assert!(
            allowing
                .check_host(&Url::parse("http://169.254.169.254/").unwrap())
                .is_err()
        );
    }
}
