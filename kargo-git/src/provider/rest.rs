//! The REST client the forge providers share: token auth, JSON, retries of
//! 429 and 5xx honouring the rate-limit headers, and the mapping of 401,
//! 403 and 404 onto [`Error`].

use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;

use super::Error;

/// Settings shared by the REST providers.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct RestOptions {
    /// The API token (never logged, never in an error).
    pub token: Option<String>,
    /// The API base URL, when it is not the one derived from the
    /// repository URL (`https://api.github.com`, `https://HOST/api/v3`,
    /// `https://HOST/api/v4`, `https://HOST/api/v1`, Azure DevOps'
    /// organization `https://dev.azure.com/ORG`).
    pub api_base: Option<String>,
    /// Skip TLS certificate verification.
    pub insecure_skip_tls_verify: bool,
    /// How 429 and 5xx answers are retried.
    pub retry: Retry,
}

impl fmt::Debug for RestOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestOptions")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("api_base", &self.api_base)
            .field("insecure_skip_tls_verify", &self.insecure_skip_tls_verify)
            .field("retry", &self.retry)
            .finish()
    }
}

impl RestOptions {
    /// Sets [`RestOptions::token`].
    pub fn with_token(mut self, token: Option<String>) -> Self {
        self.token = token.filter(|t| !t.is_empty());
        self
    }

    /// Sets [`RestOptions::api_base`].
    pub fn with_api_base(mut self, base: impl Into<String>) -> Self {
        self.api_base = Some(base.into());
        self
    }

    /// Sets [`RestOptions::insecure_skip_tls_verify`].
    pub fn with_insecure_skip_tls_verify(mut self, skip: bool) -> Self {
        self.insecure_skip_tls_verify = skip;
        self
    }

    /// Sets [`RestOptions::retry`].
    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }
}

/// Retrying 429 and 5xx answers (and connection failures).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Retry {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The first wait when the server names none; doubled each attempt
    /// (up to `max_wait`).
    pub initial: Duration,
    /// The longest wait, also for a `Retry-After` or reset time further off
    /// (then the request fails rather than wait longer).
    pub max_wait: Duration,
}

impl Default for Retry {
    /// 5 attempts, from 1 s, waits of at most 60 s.
    fn default() -> Self {
        Retry {
            max_attempts: 5,
            initial: Duration::from_secs(1),
            max_wait: Duration::from_secs(60),
        }
    }
}

impl Retry {
    /// `max_attempts` attempts, waiting from `initial` up to `max_wait`.
    pub fn new(max_attempts: u32, initial: Duration, max_wait: Duration) -> Self {
        Retry {
            max_attempts: max_attempts.max(1),
            initial,
            max_wait,
        }
    }
}

/// How a provider puts its token on requests.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Auth {
    /// `Authorization: Bearer TOKEN` (GitHub).
    Bearer,
    /// `PRIVATE-TOKEN: TOKEN` (GitLab).
    PrivateToken,
    /// `Authorization: token TOKEN` (Gitea).
    Token,
    /// HTTP basic auth with an empty user name and the token as the
    /// password, `Authorization: Basic base64(":TOKEN")` (Azure DevOps
    /// personal access tokens).
    BasicToken,
}

/// A JSON API client bound to one repository.
pub(crate) struct Client {
    pub(crate) provider: &'static str,
    /// The repository, as errors name it.
    pub(crate) repo: String,
    pub(crate) base: String,
    http: reqwest::Client,
    retry: Retry,
    /// The token sent as the basic-auth password ([`Auth::BasicToken`]).
    basic_token: Option<String>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("provider", &self.provider)
            .field("repo", &self.repo)
            .field("base", &self.base)
            .finish()
    }
}

impl Client {
    pub(crate) fn new(
        provider: &'static str,
        repo: String,
        base: String,
        auth: Auth,
        options: &RestOptions,
    ) -> Result<Client, Error> {
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        let mut basic_token = None;
        if let Some(token) = &options.token {
            let header = match auth {
                Auth::Bearer => Some((reqwest::header::AUTHORIZATION, format!("Bearer {token}"))),
                Auth::Token => Some((reqwest::header::AUTHORIZATION, format!("token {token}"))),
                Auth::PrivateToken => Some((
                    reqwest::header::HeaderName::from_static("private-token"),
                    token.clone(),
                )),
                // Encoded by reqwest on each request, marked sensitive.
                Auth::BasicToken => {
                    basic_token = Some(token.clone());
                    None
                }
            };
            if let Some((name, value)) = header {
                let mut value = HeaderValue::from_str(&value).map_err(|_| {
                    Error::Invalid(format!("{provider}: the token is not a valid header value"))
                })?;
                value.set_sensitive(true);
                headers.insert(name, value);
            }
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("kargo-rs/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .danger_accept_invalid_certs(options.insecure_skip_tls_verify)
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| Error::Invalid(format!("{provider}: cannot build an HTTP client: {e}")))?;
        Ok(Client {
            provider,
            repo,
            base: base.trim_end_matches('/').to_owned(),
            http,
            retry: options.retry,
            basic_token,
        })
    }

    /// Sends one request (retrying 429, 5xx and connection failures) and
    /// returns the JSON body of a 2xx answer (`Null` when empty). Other
    /// answers become errors naming the repository and `pr`.
    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        pr: Option<u64>,
    ) -> Result<Value, Error> {
        let mut url = format!("{}{path}", self.base);
        for (i, (key, value)) in query.iter().enumerate() {
            let sep = if i == 0 { '?' } else { '&' };
            url.push_str(&format!("{sep}{key}={}", encode_segment(value)));
        }
        let mut attempt = 1;
        let mut backoff =
            kargo_core::retry::Backoff::exponential(self.retry.initial, self.retry.max_wait)
                .delays();
        loop {
            let mut request = self.http.request(method.clone(), &url);
            if let Some(token) = &self.basic_token {
                request = request.basic_auth("", Some(token));
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let failure = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    let text = response.text().await.unwrap_or_default();
                    if status.is_success() {
                        return Ok(if text.trim().is_empty() {
                            Value::Null
                        } else {
                            serde_json::from_str(&text).map_err(|e| {
                                self.unavailable(format!(
                                    "{method} {path}: the answer is not JSON: {e}"
                                ))
                            })?
                        });
                    }
                    let rate_limited = status.as_u16() == 429
                        || (status.as_u16() == 403
                            && header(&headers, "x-ratelimit-remaining") == Some("0"));
                    if !(rate_limited || status.is_server_error()) {
                        return Err(self.status_error(&method, path, status.as_u16(), &text, pr));
                    }
                    (
                        format!("{method} {path}: HTTP {}", status.as_u16()),
                        wait_from_headers(&headers),
                    )
                }
                Err(e) => (format!("{method} {path}: {}", without_url(&e)), None),
            };
            let (message, asked) = failure;
            if attempt >= self.retry.max_attempts {
                return Err(self.unavailable(format!("{message} (after {attempt} attempts)")));
            }
            let wait = match asked {
                Some(asked) => asked,
                None => backoff.next().unwrap_or(self.retry.max_wait),
            };
            if wait > self.retry.max_wait {
                return Err(self.unavailable(format!(
                    "{message}; the server asks to wait {}s, longer than the {}s allowed",
                    wait.as_secs(),
                    self.retry.max_wait.as_secs()
                )));
            }
            tracing::debug!(provider = self.provider, repo = %self.repo, %message, ?wait, attempt, "retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// [`call`](Self::call), its answer read as the typed answer `T` (see
    /// [`decode`](Self::decode)).
    pub(crate) async fn call_as<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        pr: Option<u64>,
    ) -> Result<T, Error> {
        let request = format!("{method} {path}");
        let answer = self.call(method, path, query, body, pr).await?;
        self.decode(&request, answer)
    }

    /// [`call_as`](Self::call_as) about pull request `number`, without a
    /// query.
    pub(crate) async fn pr_call_as<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        number: u64,
    ) -> Result<T, Error> {
        self.call_as(method, path, &[], body, Some(number)).await
    }

    /// [`list`](Self::list), each item read as the typed answer `T`; an
    /// error names the item (`at [3].head`).
    pub(crate) async fn list_as<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<T>, Error> {
        let items = self.list(path, query).await?;
        self.decode(&format!("GET {path}"), Value::Array(items))
    }

    /// Every page of a list (`page` / `per_page`), until a short page.
    pub(crate) async fn list(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<Value>, Error> {
        const PER_PAGE: usize = 100;
        const MAX_PAGES: usize = 100;
        let mut all = Vec::new();
        for page in 1..=MAX_PAGES {
            let mut q = query.to_vec();
            q.push(("per_page", PER_PAGE.to_string()));
            q.push(("page", page.to_string()));
            let Value::Array(items) = self
                .call(reqwest::Method::GET, path, &q, None, None)
                .await?
            else {
                return Err(self.unavailable(format!("GET {path}: expected a JSON array")));
            };
            let short = items.len() < PER_PAGE;
            all.extend(items);
            if short {
                break;
            }
        }
        Ok(all)
    }

    pub(crate) fn status_error(
        &self,
        method: &reqwest::Method,
        path: &str,
        status: u16,
        body: &str,
        pr: Option<u64>,
    ) -> Error {
        let (provider, repo) = (self.provider, self.repo.clone());
        match status {
            401 => Error::Unauthorized { provider, repo, pr },
            403 => Error::Forbidden { provider, repo, pr },
            404 => Error::NotFound { provider, repo, pr },
            _ => Error::Api {
                provider,
                repo,
                pr,
                request: format!("{method} {path}"),
                status,
                message: api_message(body),
            },
        }
    }

    pub(crate) fn unavailable(&self, message: String) -> Error {
        Error::Unavailable {
            provider: self.provider,
            repo: self.repo.clone(),
            message,
        }
    }

    /// An answer that lacks a field the provider needs.
    pub(crate) fn malformed(&self, what: &str) -> Error {
        self.unavailable(format!("unexpected answer: {what}"))
    }

    /// `value`, the answer to `request` (`GET /repos/o/r/pulls/1`), as the
    /// typed answer `T`: a missing or mistyped field is an error naming the
    /// provider, the request and where the field is (`at head: missing
    /// field ref`), never an empty string standing in for it.
    pub(crate) fn decode<T: serde::de::DeserializeOwned>(
        &self,
        request: &str,
        value: Value,
    ) -> Result<T, Error> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let at = e.path().to_string();
            let what = if at == "." {
                format!("{request}: {}", e.inner())
            } else {
                format!("{request}: at `{at}`: {}", e.inner())
            };
            self.malformed(&what)
        })
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// How long the server asks to wait: `Retry-After` (seconds), else
/// `X-RateLimit-Reset` / `RateLimit-Reset` (a Unix time, or seconds when
/// small, as the IETF draft has it).
pub(crate) fn wait_from_headers(headers: &HeaderMap) -> Option<Duration> {
    if let Some(secs) = header(headers, "retry-after").and_then(|v| v.parse::<u64>().ok()) {
        return Some(Duration::from_secs(secs));
    }
    let reset = header(headers, "x-ratelimit-reset")
        .or_else(|| header(headers, "ratelimit-reset"))
        .and_then(|v| v.parse::<u64>().ok())?;
    const UNIX_TIME_FLOOR: u64 = 1_000_000_000;
    if reset < UNIX_TIME_FLOOR {
        return Some(Duration::from_secs(reset));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Some(Duration::from_secs(reset.saturating_sub(now)))
}

/// The `message` of a JSON error body (GitHub, Gitea), GitLab's `message`
/// or `error`, Bitbucket's `error.message`, else the body's start.
fn api_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let message = parsed.as_ref().and_then(|v| {
        v.get("message")
            .or_else(|| v.get("error").map(|e| e.get("message").unwrap_or(e)))
            .map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_owned))
    });
    let mut message = message.unwrap_or_else(|| body.trim().to_owned());
    if let Some(errors) = parsed.as_ref().and_then(|v| v.get("errors")) {
        message = format!("{message} {errors}");
    }
    message.chars().take(300).collect()
}

/// A reqwest error without its URL (which holds no secret here, but may
/// hold a query).
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "");
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// `segment` percent-encoded for a URL path (GitLab's project path).
pub(crate) fn encode_segment(segment: &str) -> String {
    kargo_core::urls::percent_encode(segment)
}

/// An optional answer field, an empty string counting as absent.
pub(crate) fn non_empty(value: &Option<String>) -> Option<String> {
    value.clone().filter(|v| !v.is_empty())
}

/// The pull requests `options` matches, by number.
pub(crate) fn matching(
    options: &super::ListOptions,
    prs: impl IntoIterator<Item = super::PullRequest>,
) -> Vec<super::PullRequest> {
    let mut prs: Vec<_> = prs.into_iter().filter(|pr| options.matches(pr)).collect();
    prs.sort_by_key(|pr| pr.number);
    prs
}

/// The open pull request `provider` has from `new`'s source branch to its
/// target already, as [`Opened`] with `reused` set: what a forge's
/// [`GitProvider::open`](super::GitProvider::open) returns instead of
/// opening a second one.
pub(crate) async fn open_already<P: super::GitProvider + ?Sized>(
    provider: &P,
    new: &super::NewPullRequest,
) -> Result<Option<super::Opened>, Error> {
    let branches =
        super::ListOptions::default().with_branches(&new.source_branch, &new.target_branch);
    let existing = provider.list(&branches).await?;
    Ok(
        super::reusable(&existing, &new.source_branch, &new.target_branch).map(|pr| {
            super::Opened {
                pr: pr.clone(),
                reused: true,
            }
        }),
    )
}

/// [`Error::NothingToMerge`] for opening `new`: its source branch holds
/// nothing its target lacks.
pub(crate) fn nothing_to_merge(client: &Client, new: &super::NewPullRequest) -> Error {
    Error::NothingToMerge {
        provider: client.provider,
        repo: client.repo.clone(),
        source_branch: new.source_branch.clone(),
        target_branch: new.target_branch.clone(),
    }
}

/// [`Error::NotOpen`] for `pr`.
pub(crate) fn not_open(client: &Client, pr: &super::PullRequest, action: &'static str) -> Error {
    Error::NotOpen {
        provider: client.provider,
        repo: client.repo.clone(),
        pr: pr.number,
        state: pr.state.as_str(),
        action,
    }
}

/// [`Error::NotOpen`] for `action` unless `pr` is open.
pub(crate) fn check_open(
    client: &Client,
    pr: &super::PullRequest,
    action: &'static str,
) -> Result<(), Error> {
    if pr.is_open() {
        Ok(())
    } else {
        Err(not_open(client, pr, action))
    }
}

/// What merging `pr` comes to without asking the forge, by the
/// [`GitProvider`](super::GitProvider) contract: a merged pull request is
/// reported merged again, a closed one is [`Error::NotOpen`]; `None` when
/// it is open and the forge must merge it.
pub(crate) fn merge_settled(
    client: &Client,
    pr: &super::PullRequest,
) -> Option<Result<super::MergeOutcome, Error>> {
    match pr.state {
        super::PrState::Merged => Some(Ok(super::MergeOutcome::Merged(pr.clone()))),
        super::PrState::Closed => Some(Err(not_open(client, pr, "merged"))),
        super::PrState::Open => None,
    }
}

/// What closing `pr` comes to without asking the forge: a closed pull
/// request is returned as it is, a merged one cannot be closed
/// ([`Error::NotOpen`]); `None` when it is open and the forge must close it.
pub(crate) fn close_settled(
    client: &Client,
    pr: &super::PullRequest,
) -> Option<Result<super::PullRequest, Error>> {
    match pr.state {
        super::PrState::Closed => Some(Ok(pr.clone())),
        super::PrState::Merged => Some(Err(not_open(client, pr, "closed"))),
        super::PrState::Open => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn waits_come_from_retry_after_or_the_reset_headers() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(wait_from_headers(&h), Some(Duration::from_secs(7)));
        let mut h = HeaderMap::new();
        h.insert("ratelimit-reset", HeaderValue::from_static("3"));
        assert_eq!(wait_from_headers(&h), Some(Duration::from_secs(3)));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut h = HeaderMap::new();
        h.insert(
            "x-ratelimit-reset",
            HeaderValue::from_str(&(now + 30).to_string()).unwrap(),
        );
        let wait = wait_from_headers(&h).unwrap();
        assert!(
            wait <= Duration::from_secs(30) && wait >= Duration::from_secs(28),
            "{wait:?}"
        );
        assert_eq!(wait_from_headers(&HeaderMap::new()), None);
    }

    #[test]
    fn project_paths_are_encoded() {
        assert_eq!(
            encode_segment("group/sub group/app"),
            "group%2Fsub%20group%2Fapp"
        );
    }
}
