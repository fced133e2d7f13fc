//! Google Artifact Registry (and Container Registry): a service-account
//! key is exchanged for an OAuth access token through the JWT bearer grant
//! (RFC 7523), and the token is the password of user `oauth2accesstoken`.

use std::time::{Duration, SystemTime};

use aws_lc_rs::{rand, signature};
use base64::Engine as _;
use kargo_core::credentials::Credentials;
use serde::Deserialize;

use crate::cache::{TokenCache, key};
use crate::error::{Error, Origin};
use crate::http;

/// The user name registries expect with an access token.
pub(crate) const ACCESS_TOKEN_USER: &str = "oauth2accesstoken";

/// Google's token endpoint, when the key names none.
const TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// The scope requested (see the crate docs on why not read-only).
const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// How long an assertion is valid (Google's maximum); the token it buys
/// lives as long.
const LIFETIME: Duration = Duration::from_secs(3600);

/// Without an `expires_in`, tokens are kept 40 minutes (Kargo).
const DEFAULT_TTL: Duration = Duration::from_secs(40 * 60);

/// The fields of a service-account key that the grant needs.
#[derive(Deserialize)]
struct ServiceAccountKey {
    client_email: String,
    private_key: String,
    #[serde(default)]
    private_key_id: Option<String>,
    #[serde(default)]
    token_uri: Option<String>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Access tokens, cached per key.
#[derive(Debug)]
pub(crate) struct Gar {
    tokens: TokenCache<Credentials>,
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The DER body of a PEM block.
fn pem_der(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----"))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

impl Gar {
    pub(crate) fn new(clock: crate::Clock) -> Self {
        Gar {
            tokens: TokenCache::new(clock),
        }
    }

    /// Registry credentials for the base64-encoded service-account key
    /// `encoded` (a Secret's `gcpServiceAccountKey`).
    pub(crate) async fn token(
        &self,
        http: &reqwest::Client,
        origin: &Origin,
        encoded: &str,
    ) -> Result<Credentials, Error> {
        self.tokens
            .get(key(&["gar", encoded.trim()]), DEFAULT_TTL, || {
                self.fetch(http, origin, encoded)
            })
            .await
    }

    async fn fetch(
        &self,
        http: &reqwest::Client,
        origin: &Origin,
        encoded: &str,
    ) -> Result<(Credentials, Option<SystemTime>), Error> {
        const OPERATION: &str = "Google OAuth JWT bearer grant";
        let field = "field gcpServiceAccountKey";
        let json = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| origin.invalid(format!("{field} is not base64")))?;
        // serde_json's message names a field or a position, never a value.
        let sa: ServiceAccountKey = serde_json::from_slice(&json).map_err(|e| {
            origin.invalid(format!("{field} is not a service-account key in JSON: {e}"))
        })?;
        let der = pem_der(&sa.private_key)
            .ok_or_else(|| origin.invalid(format!("{field}: private_key is not PEM")))?;
        let pair = signature::RsaKeyPair::from_pkcs8(&der)
            .map_err(|_| origin.invalid(format!("{field}: private_key is not a PKCS#8 RSA key")))?;
        let token_uri = sa.token_uri.as_deref().unwrap_or(TOKEN_URI);
        let iat = self
            .tokens
            .now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
        if let Some(kid) = &sa.private_key_id {
            header["kid"] = kid.clone().into();
        }
        let claims = serde_json::json!({
            "iss": sa.client_email,
            "scope": SCOPE,
            "aud": token_uri,
            "iat": iat,
            "exp": iat + LIFETIME.as_secs(),
        });
        let signing_input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let mut sig = vec![0; pair.public_modulus_len()];
        pair.sign(
            &signature::RSA_PKCS1_SHA256,
            &rand::SystemRandom::new(),
            signing_input.as_bytes(),
            &mut sig,
        )
        .map_err(|_| origin.invalid(format!("{field}: signing with private_key failed")))?;
        let assertion = format!("{signing_input}.{}", b64url(&sig));
        let body = http::form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", &assertion),
        ]);
        let request = http
            .post(token_uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        let answer: TokenAnswer = http::send_json(origin, OPERATION, request).await?;
        let expiry = answer
            .expires_in
            .map(|s| self.tokens.now() + Duration::from_secs(s));
        tracing::debug!(registry = %origin.registry, via = %origin.via, "obtained a Google access token");
        Ok((
            Credentials::new(ACCESS_TOKEN_USER, answer.access_token),
            expiry,
        ))
    }
}
