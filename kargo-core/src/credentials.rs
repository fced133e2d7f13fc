//! Credentials for repositories and registries, looked up by URL.

use std::fmt;

use async_trait::async_trait;

use crate::Result;

/// What a credential is for; Kargo keeps one kind per secret type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CredentialType {
    /// Git repositories.
    Git,
    /// Container image registries.
    Image,
    /// Helm chart repositories.
    Helm,
    /// Anything else (HTTP endpoints, forge APIs).
    Generic,
}

/// A username and a secret. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name (may be empty for token-only auth).
    pub username: String,
    /// The password or token.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Finds credentials for a URL.
///
/// # Contract
/// - `Ok(None)` means "no credentials: try anonymously"; an `Err` means the
///   lookup itself failed and the caller should not proceed anonymously.
/// - Implementations never log secrets.
#[async_trait]
pub trait CredentialsProvider: Send + Sync + fmt::Debug + 'static {
    /// The credentials of `kind` for `url`, if any.
    async fn get(&self, kind: CredentialType, url: &str) -> Result<Option<Credentials>>;
}

/// A provider that has no credentials at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCredentials;

#[async_trait]
impl CredentialsProvider for NoCredentials {
    async fn get(&self, _kind: CredentialType, _url: &str) -> Result<Option<Credentials>> {
        Ok(None)
    }
}

/// Credentials for fixed URLs or URL patterns, like Kargo's credential
/// secrets (`repoURL`, or `repoURLPattern` with `repoURLIsRegex`).
///
/// Exact URLs match after normalisation (case of scheme and host, a
/// trailing `/` or `.git` ignored); patterns are regular expressions
/// matched against the whole URL as given. Entries are tried in the order
/// they were added, exact ones first.
///
/// ```
/// # use kargo_core::credentials::*;
/// # tokio_test_block_on(async {
/// let provider = StaticCredentials::new()
///     .with_url(CredentialType::Git, "https://example.com/org/repo", Credentials::new("u", "p"))
///     .with_pattern(CredentialType::Git, r"^https://example\.com/other/.*$", Credentials::new("v", "q"))
///     .unwrap();
/// let found = provider.get(CredentialType::Git, "https://EXAMPLE.com/org/repo.git").await.unwrap();
/// assert_eq!(found.unwrap().username, "u");
/// assert!(provider.get(CredentialType::Image, "https://example.com/org/repo").await.unwrap().is_none());
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Clone, Default)]
pub struct StaticCredentials {
    exact: Vec<(CredentialType, String, Credentials)>,
    patterns: Vec<(CredentialType, regex_lite::Regex, Credentials)>,
}

impl fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticCredentials")
            .field(
                "urls",
                &self.exact.iter().map(|(_, u, _)| u).collect::<Vec<_>>(),
            )
            .field(
                "patterns",
                &self
                    .patterns
                    .iter()
                    .map(|(_, r, _)| r.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Credentials {
    /// A username and a password or token.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }
}

impl StaticCredentials {
    /// A provider with no entries.
    pub fn new() -> Self {
        StaticCredentials::default()
    }

    /// Adds credentials for one URL.
    pub fn with_url(
        mut self,
        kind: CredentialType,
        url: impl AsRef<str>,
        credentials: Credentials,
    ) -> Self {
        self.exact
            .push((kind, normalize_url(url.as_ref()), credentials));
        self
    }

    /// Adds credentials for every URL matching `pattern` (a regular
    /// expression); fails if the pattern is invalid.
    pub fn with_pattern(
        mut self,
        kind: CredentialType,
        pattern: &str,
        credentials: Credentials,
    ) -> Result<Self> {
        let regex = regex_lite::Regex::new(pattern).map_err(|e| {
            crate::Error::Invalid(format!("invalid credentials URL pattern {pattern:?}: {e}"))
        })?;
        self.patterns.push((kind, regex, credentials));
        Ok(self)
    }
}

#[async_trait]
impl CredentialsProvider for StaticCredentials {
    async fn get(&self, kind: CredentialType, url: &str) -> Result<Option<Credentials>> {
        let normalized = normalize_url(url);
        let exact = self
            .exact
            .iter()
            .find(|(k, u, _)| *k == kind && *u == normalized)
            .map(|(_, _, c)| c);
        let found = exact.or_else(|| {
            self.patterns
                .iter()
                .find(|(k, r, _)| *k == kind && r.is_match(url))
                .map(|(_, _, c)| c)
        });
        Ok(found.cloned())
    }
}

/// Lower-cases scheme and host and drops a trailing `/` and `.git`.
fn normalize_url(url: &str) -> String {
    let url = url.trim();
    let url = url.trim_end_matches('/');
    let url = url.strip_suffix(".git").unwrap_or(url);
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
            let path = if path.is_empty() {
                String::new()
            } else {
                format!("/{path}")
            };
            format!(
                "{}://{}{}",
                scheme.to_ascii_lowercase(),
                host.to_ascii_lowercase(),
                path
            )
        }
        None => url.to_owned(),
    }
}
