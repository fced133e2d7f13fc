//! Google Artifact Registry against a fake of Google's OAuth token
//! endpoint that checks what the real one checks of a JWT bearer grant
//! (RFC 7523): the grant type, the RS256 signature by the service
//! account's key, and the claims `iss`, `aud`, `scope`, `iat`, `exp`.

use std::sync::Mutex;
use std::time::Duration;

use aws_lc_rs::signature::{self, KeyPair as _};
use base64::Engine as _;
use kargo_core::credentials::{CredentialType, Credentials, CredentialsProvider as _};
use kargo_credentials::CloudCredentials;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::{ManualClock, image, image_error, secrets};

const KEY_PEM: &str = include_str!("../data/gar-test-key.pem");
const REPO: &str = "us-central1-docker.pkg.dev/acme/images/app";
const T0: u64 = 1_800_000_000;

/// The token endpoint: verifies each assertion, answers `ya29.N`.
struct TokenEndpoint {
    public_key: Vec<u8>,
    token_uri: String,
    now: ManualClock,
    issued: Mutex<u32>,
}

fn b64url(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .expect("base64url")
}

impl Respond for TokenEndpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let refuse = |why: &str| {
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": "invalid_grant", "error_description": why}))
        };
        let form: Vec<(String, String)> = url_pairs(&String::from_utf8_lossy(&request.body));
        let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        if field("grant_type").as_deref() != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
            return refuse("grant_type");
        }
        let assertion = field("assertion").unwrap_or_default();
        let parts: Vec<&str> = assertion.split('.').collect();
        if parts.len() != 3 {
            return refuse("not a JWT");
        }
        let header: Value = serde_json::from_slice(&b64url(parts[0])).unwrap();
        let claims: Value = serde_json::from_slice(&b64url(parts[1])).unwrap();
        let key = signature::UnparsedPublicKey::new(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            &self.public_key,
        );
        let signed = format!("{}.{}", parts[0], parts[1]);
        if header["alg"] != "RS256" || key.verify(signed.as_bytes(), &b64url(parts[2])).is_err() {
            return refuse("Invalid JWT Signature.");
        }
        let iat = claims["iat"].as_u64().unwrap_or_default();
        let ok = claims["iss"] == "kargo@acme.iam.gserviceaccount.com"
            && claims["aud"] == self.token_uri.as_str()
            && claims["scope"] == "https://www.googleapis.com/auth/cloud-platform"
            && header["kid"] == "key-1"
            && iat == self.now.now()
            && claims["exp"].as_u64() == Some(iat + 3600);
        if !ok {
            return refuse("claims");
        }
        let mut n = self.issued.lock().unwrap();
        *n += 1;
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": format!("ya29.{n}"),
            "expires_in": 3599,
            "token_type": "Bearer"
        }))
    }
}

fn url_pairs(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn gar_secret(token_uri: &str) -> String {
    let key = json!({
        "type": "service_account",
        "project_id": "acme",
        "private_key_id": "key-1",
        "private_key": KEY_PEM,
        "client_email": "kargo@acme.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": token_uri,
    });
    let encoded = base64::engine::general_purpose::STANDARD.encode(key.to_string());
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: gar-creds\n  labels:\n    kargo.akuity.io/cred-type: image\nstringData:\n  repoURL: us-central1-docker.pkg.dev/acme/images/.*\n  repoURLIsRegex: \"true\"\n  gcpServiceAccountKey: {encoded}\n"
    )
}

fn public_key() -> Vec<u8> {
    let body: String = KEY_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    let pair = signature::RsaKeyPair::from_pkcs8(&der).unwrap();
    pair.public_key().as_ref().to_vec()
}

#[tokio::test]
async fn a_service_account_key_buys_an_access_token_kept_about_an_hour() {
    let server = MockServer::start().await;
    let token_uri = format!("{}/token", server.uri());
    let clock = ManualClock::at(T0);
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(TokenEndpoint {
            public_key: public_key(),
            token_uri: token_uri.clone(),
            now: clock.clone(),
            issued: Mutex::new(0),
        })
        .mount(&server)
        .await;
    let provider = CloudCredentials::builder(secrets(&gar_secret(&token_uri)))
        .with_clock(clock.clock())
        .build();
    let token = |n: u32| Some(Credentials::new("oauth2accesstoken", format!("ya29.{n}")));

    assert_eq!(image(&provider, REPO).await, token(1));
    assert_eq!(
        image(&provider, "us-central1-docker.pkg.dev/acme/images/other").await,
        token(1)
    );
    clock.advance(Duration::from_secs(54 * 60));
    assert_eq!(image(&provider, REPO).await, token(1));
    // 56 minutes: within five minutes of the hour, so a new grant.
    clock.advance(Duration::from_secs(2 * 60));
    assert_eq!(image(&provider, REPO).await, token(2));
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn json_key_base64_passes_through_as_basic_credentials_and_refusals_name_the_code() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant",
            "error_description": "Invalid JWT Signature."
        })))
        .mount(&server)
        .await;
    let json_key = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: gar-json-key\n  labels:\n    kargo.akuity.io/cred-type: image\nstringData:\n  repoURL: europe-docker.pkg.dev/acme/images/app\n  username: _json_key_base64\n  password: eyJ0eXBlIjoic2VydmljZV9hY2NvdW50In0=\n";
    let yaml = format!(
        "{}---\n{json_key}",
        gar_secret(&format!("{}/token", server.uri()))
    );
    let provider = CloudCredentials::builder(secrets(&yaml)).build();
    assert_eq!(
        image(&provider, "europe-docker.pkg.dev/acme/images/app").await,
        Some(Credentials::new(
            "_json_key_base64",
            "eyJ0eXBlIjoic2VydmljZV9hY2NvdW50In0="
        ))
    );
    assert!(server.received_requests().await.unwrap().is_empty());

    let err = image_error(&provider, REPO, &["PRIVATE KEY", "MII"]).await;
    assert_eq!(
        err,
        "registry credentials: registry us-central1-docker.pkg.dev, Secret gar-creds: \
         Google OAuth JWT bearer grant was refused: invalid_grant (HTTP 400)"
    );
}

/// Whether a lookup may pass later travels with the error: an overloaded
/// or rate-limiting token endpoint is temporary, a refused grant is not.
#[tokio::test]
async fn an_overloaded_token_endpoint_is_temporary_and_a_refusal_is_not() {
    for (code, temporary) in [(503, true), (429, true), (400, false)] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(ResponseTemplate::new(code).set_body_json(json!({"error": "busy"})))
            .mount(&server)
            .await;
        let token_uri = format!("{}/token", server.uri());
        let provider = CloudCredentials::builder(secrets(&gar_secret(&token_uri))).build();
        let err = provider.get(CredentialType::Image, REPO).await.unwrap_err();
        assert_eq!(err.is_temporary(), temporary, "HTTP {code}: {err}");
        assert!(err.to_string().contains(&format!("HTTP {code}")), "{err}");
    }
}
