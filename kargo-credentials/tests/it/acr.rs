//! Azure Container Registry with an ambient identity, against fakes of
//! Entra ID's token endpoint and the registry's `/oauth2/exchange` and
//! `/oauth2/token`, whose requests and answers follow Azure's ACR
//! token-exchange documentation. The registry is reached through an alias
//! (the fake's loopback address stands for `myregistry.azurecr.io`).

use std::time::Duration;

use base64::Engine as _;
use kargo_core::credentials::Credentials;
use kargo_credentials::{CloudCredentials, Environment};
use serde_json::json;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{ManualClock, image, image_error, secrets};

const T0: u64 = 1_800_000_000;
const NO_SECRETS: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: other\n  labels:\n    kargo.akuity.io/cred-type: image\nstringData:\n  repoURL: ghcr.io/acme/app\n  username: u\n  password: p\n";

/// A JWT whose payload holds `exp` (ACR's tokens are JWTs).
fn jwt(exp: u64, tag: &str) -> String {
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    format!(
        "{}.{}.sig-{tag}",
        b64(json!({"alg": "RS256"})),
        b64(json!({"exp": exp, "tag": tag}))
    )
}

async fn count(server: &MockServer, p: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == p)
        .count()
}

#[tokio::test]
async fn workload_identity_goes_through_entra_id_exchange_and_token_with_expiry_and_refresh() {
    let server = MockServer::start().await;
    let registry_host = server.address().to_string();
    let refresh = jwt(T0 + 3 * 3600, "refresh");
    let access = jwt(T0 + 75 * 60, "access");
    Mock::given(method("POST"))
        .and(path("/tenant-1/oauth2/v2.0/token"))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains("client_id=client-1"))
        .and(body_string_contains("scope=https%3A%2F%2Fcontainerregistry.azure.net%2F.default"))
        .and(body_string_contains(
            "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer",
        ))
        .and(body_string_contains("client_assertion=federated-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": "entra-token"
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth2/exchange"))
        .and(body_string_contains("grant_type=access_token"))
        .and(body_string_contains("service=myregistry.azurecr.io"))
        .and(body_string_contains("tenant=tenant-1"))
        .and(body_string_contains("access_token=entra-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"refresh_token": refresh})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("service=myregistry.azurecr.io"))
        .and(body_string_contains(
            "scope=repository%3Ateam%2Fapp%3Apull%2Cpush",
        ))
        .and(body_string_contains(format!("refresh_token={refresh}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"access_token": access})))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("azure-identity-token");
    std::fs::write(&token_file, "federated-token\n").unwrap();
    let clock = ManualClock::at(T0);
    let provider = CloudCredentials::builder(secrets(NO_SECRETS))
        .with_environment(Environment::from_vars([
            ("AZURE_TENANT_ID", "tenant-1"),
            ("AZURE_CLIENT_ID", "client-1"),
            ("AZURE_FEDERATED_TOKEN_FILE", token_file.to_str().unwrap()),
            ("AZURE_AUTHORITY_HOST", &server.uri()),
        ]))
        .with_registry_alias(&registry_host, "myregistry.azurecr.io")
        .with_clock(clock.clock())
        .build();
    let url = format!("{registry_host}/team/app");
    let bearer = Some(Credentials::new("", access.clone()));

    assert_eq!(image(&provider, &url).await, bearer);
    assert_eq!(image(&provider, &url).await, bearer);
    let counts = async || {
        [
            count(&server, "/tenant-1/oauth2/v2.0/token").await,
            count(&server, "/oauth2/exchange").await,
            count(&server, "/oauth2/token").await,
        ]
    };
    assert_eq!(counts().await, [1, 1, 1]);
    // The access token lives 75 minutes: at 71 a new one is asked for with
    // the cached refresh token.
    clock.advance(Duration::from_secs(71 * 60));
    assert_eq!(image(&provider, &url).await, bearer);
    assert_eq!(counts().await, [1, 1, 2]);
    // The refresh token lives three hours: at 2 h 56 min everything is
    // asked for again.
    clock.advance(Duration::from_secs(105 * 60));
    assert_eq!(image(&provider, &url).await, bearer);
    assert_eq!(counts().await, [2, 2, 3]);
    // Unmatched, the fakes answer 404: no request went astray.
    assert!(server.received_requests().await.unwrap().iter().all(|r| {
        [
            "/tenant-1/oauth2/v2.0/token",
            "/oauth2/exchange",
            "/oauth2/token",
        ]
        .contains(&r.url.path())
    }));
}

#[tokio::test]
async fn a_service_principal_refused_by_entra_id_is_an_error_with_its_code() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/tenant-1/oauth2/v2.0/token"))
        .and(body_string_contains("client_secret=sp-password"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided.",
            "error_codes": [7000215]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let provider = CloudCredentials::builder(secrets(NO_SECRETS))
        .with_environment(Environment::from_vars([
            ("AZURE_TENANT_ID", "tenant-1"),
            ("AZURE_CLIENT_ID", "client-1"),
            ("AZURE_CLIENT_SECRET", "sp-password"),
            ("AZURE_AUTHORITY_HOST", &server.uri()),
        ]))
        .build();
    let err = image_error(
        &provider,
        "myregistry.azurecr.io/team/app",
        &["sp-password"],
    )
    .await;
    assert_eq!(
        err,
        "registry credentials: registry myregistry.azurecr.io, Azure service principal (client client-1): \
         Entra ID token request was refused: invalid_client (HTTP 401)"
    );
    // Without an Azure identity, ACR is reached anonymously.
    let none = CloudCredentials::builder(secrets(NO_SECRETS)).build();
    assert_eq!(image(&none, "myregistry.azurecr.io/team/app").await, None);
}
