//! Azure Container Registry with an ambient Entra ID identity, as ACR's
//! token-exchange documentation describes: an Entra ID token for
//! `https://containerregistry.azure.net/.default` (a service principal's
//! secret, or a workload identity's federated token), exchanged at the
//! registry's `/oauth2/exchange` for an ACR refresh token, itself
//! exchanged at `/oauth2/token` for an access token to the repository.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use kargo_core::credentials::Credentials;
use serde::Deserialize;

use crate::cache::{TokenCache, key};
use crate::env::Environment;
use crate::error::{Error, Origin};
use crate::http;

const SCOPE: &str = "https://containerregistry.azure.net/.default";
const AUTHORITY: &str = "https://login.microsoftonline.com";
/// ACR refresh tokens live three hours; without a readable expiry they
/// are kept 150 minutes (Kargo).
const REFRESH_TTL: Duration = Duration::from_secs(150 * 60);
/// Access tokens without a readable expiry are kept this long.
const ACCESS_TTL: Duration = Duration::from_secs(20 * 60);
const AAD_TTL: Duration = Duration::from_secs(30 * 60);

#[derive(Deserialize)]
struct AadAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct RefreshAnswer {
    refresh_token: String,
}

#[derive(Deserialize)]
struct AccessAnswer {
    access_token: String,
}

/// The `exp` of a JWT, read without verifying it (only to know how long
/// to keep it).
fn jwt_expiry(token: &str) -> Option<SystemTime> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let exp = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()?
        .get("exp")?
        .as_u64()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(exp))
}

/// The ambient Entra ID identity: tenant, client, and its secret or
/// federated token file.
struct Identity<'a> {
    tenant: &'a str,
    client: &'a str,
    secret: Option<&'a str>,
    token_file: Option<&'a str>,
}

impl<'a> Identity<'a> {
    fn from_env(env: &'a Environment) -> Option<Self> {
        let id = Identity {
            tenant: env.get("AZURE_TENANT_ID")?,
            client: env.get("AZURE_CLIENT_ID")?,
            secret: env.get("AZURE_CLIENT_SECRET"),
            token_file: env.get("AZURE_FEDERATED_TOKEN_FILE"),
        };
        (id.secret.is_some() || id.token_file.is_some()).then_some(id)
    }

    fn source(&self) -> String {
        match self.token_file {
            Some(_) => format!("Azure workload identity (client {})", self.client),
            None => format!("Azure service principal (client {})", self.client),
        }
    }
}

/// Entra ID, refresh and access tokens, each cached.
#[derive(Debug)]
pub(crate) struct Acr {
    aad: TokenCache<String>,
    refresh: TokenCache<String>,
    access: TokenCache<Credentials>,
}

impl Acr {
    pub(crate) fn new(clock: crate::Clock) -> Self {
        Acr {
            aad: TokenCache::new(clock.clone()),
            refresh: TokenCache::new(clock.clone()),
            access: TokenCache::new(clock),
        }
    }

    /// A bearer token (a [`Credentials`] with an empty user name) for
    /// `repository` of `registry` (`<name>.azurecr.io`), reached at
    /// `base` (`https://<name>.azurecr.io`), or `None` without an ambient
    /// identity.
    pub(crate) async fn token(
        &self,
        http: &reqwest::Client,
        env: &Environment,
        origin: &Origin,
        base: &str,
        repository: &str,
    ) -> Result<Option<Credentials>, Error> {
        let Some(id) = Identity::from_env(env) else {
            return Ok(None);
        };
        let origin = origin.via(id.source());
        let registry = origin.registry.as_str();
        let access_key = key(&["acr-access", registry, repository, id.tenant, id.client]);
        let token = self
            .access
            .get(access_key, ACCESS_TTL, || async {
                let refresh = self.refresh_token(http, env, &origin, &id, base).await?;
                const OPERATION: &str = "ACR /oauth2/token";
                let scope = format!("repository:{repository}:pull,push");
                let body = http::form(&[
                    ("grant_type", "refresh_token"),
                    ("service", registry),
                    ("scope", &scope),
                    ("refresh_token", &refresh),
                ]);
                let request = http
                    .post(format!("{base}/oauth2/token"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body);
                let answer: AccessAnswer = http::send_json(&origin, OPERATION, request).await?;
                let expiry = jwt_expiry(&answer.access_token);
                Ok((Credentials::new("", answer.access_token), expiry))
            })
            .await?;
        Ok(Some(token))
    }

    async fn refresh_token(
        &self,
        http: &reqwest::Client,
        env: &Environment,
        origin: &Origin,
        id: &Identity<'_>,
        base: &str,
    ) -> Result<String, Error> {
        let registry = origin.registry.as_str();
        let refresh_key = key(&["acr-refresh", registry, id.tenant, id.client]);
        self.refresh
            .get(refresh_key, REFRESH_TTL, || async {
                let aad = self.aad_token(http, env, origin, id).await?;
                const OPERATION: &str = "ACR /oauth2/exchange";
                let body = http::form(&[
                    ("grant_type", "access_token"),
                    ("service", registry),
                    ("tenant", id.tenant),
                    ("access_token", &aad),
                ]);
                let request = http
                    .post(format!("{base}/oauth2/exchange"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body);
                let answer: RefreshAnswer = http::send_json(origin, OPERATION, request).await?;
                let expiry = jwt_expiry(&answer.refresh_token);
                tracing::debug!(registry, via = %origin.via, "obtained an ACR refresh token");
                Ok((answer.refresh_token, expiry))
            })
            .await
    }

    async fn aad_token(
        &self,
        http: &reqwest::Client,
        env: &Environment,
        origin: &Origin,
        id: &Identity<'_>,
    ) -> Result<String, Error> {
        self.aad
            .get(key(&["aad", id.tenant, id.client]), AAD_TTL, || async {
                const OPERATION: &str = "Entra ID token request";
                // Read each time: the federated token in the file is rotated.
                let assertion = match id.token_file {
                    Some(file) => Some(tokio::fs::read_to_string(file).await.map_err(|e| {
                        origin.invalid(format!(
                            "cannot read AZURE_FEDERATED_TOKEN_FILE {file}: {e}"
                        ))
                    })?),
                    None => None,
                };
                let mut pairs = vec![
                    ("grant_type", "client_credentials"),
                    ("client_id", id.client),
                    ("scope", SCOPE),
                ];
                match (&assertion, id.secret) {
                    (Some(assertion), _) => {
                        pairs.push((
                            "client_assertion_type",
                            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                        ));
                        pairs.push(("client_assertion", assertion.trim()));
                    }
                    (None, Some(secret)) => pairs.push(("client_secret", secret)),
                    (None, None) => {}
                }
                let authority = env
                    .get("AZURE_AUTHORITY_HOST")
                    .unwrap_or(AUTHORITY)
                    .trim_end_matches('/');
                let request = http
                    .post(format!("{authority}/{}/oauth2/v2.0/token", id.tenant))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(http::form(&pairs));
                let answer: AadAnswer = http::send_json(origin, OPERATION, request).await?;
                let expiry = answer
                    .expires_in
                    .map(|s| self.aad.now() + Duration::from_secs(s));
                Ok((answer.access_token, expiry))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_expiry_reads_exp_and_tolerates_junk() {
        let payload =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"exp":1700000000}"#);
        let t = jwt_expiry(&format!("h.{payload}.s")).unwrap();
        assert_eq!(
            t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(),
            1_700_000_000
        );
        assert!(jwt_expiry("not-a-jwt").is_none());
        assert!(jwt_expiry("a.!!.c").is_none());
    }
}
