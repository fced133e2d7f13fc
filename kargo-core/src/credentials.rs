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
