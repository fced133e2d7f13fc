//! Amazon ECR against moto: Kargo's ECR Secret, and each ambient source.
//!
//! moto answers `GetAuthorizationToken` with the token
//! `base64("AWS:<account>-auth-token")` and a fixed `expiresAt` of
//! 2015-01-01T00:00:00Z, so these tests run the caches' clock on
//! 2014-12-31 for the token to be worth keeping.

use std::time::Duration;

use kargo_core::credentials::Credentials;
use kargo_credentials::{CloudCredentials, Environment};
use kargo_test_support::moto::Moto;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{ManualClock, image, image_error, secrets};

const REPO: &str = "123456789012.dkr.ecr.us-west-2.amazonaws.com/lambda/fn";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// 2014-12-31T00:00:00Z: a day before moto's tokens expire.
const DAY_BEFORE: u64 = 1_419_984_000;

fn ecr_secret(repo_url: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: ecr-creds\n  labels:\n    kargo.akuity.io/cred-type: image\nstringData:\n  repoURL: {repo_url}\n  awsRegion: us-west-2\n  awsAccessKeyID: AKIDSECRETKEY01\n  awsSecretAccessKey: {SECRET_KEY}\n"
    )
}

fn moto_token() -> Credentials {
    Credentials::new("AWS", "123456789012-auth-token")
}

fn get_token_calls(recorded: &[(String, String)]) -> Vec<&str> {
    recorded
        .iter()
        .filter(|(a, _)| a.ends_with("GetAuthorizationToken"))
        .map(|(_, auth)| auth.as_str())
        .collect()
}

#[tokio::test]
async fn a_secret_key_buys_one_token_reused_until_shortly_before_it_expires() {
    let moto = Moto::start();
    moto.start_recording().await;
    let clock = ManualClock::at(DAY_BEFORE);
    let provider = CloudCredentials::builder(secrets(&ecr_secret(REPO)))
        .with_environment(Environment::from_vars([(
            "AWS_ENDPOINT_URL",
            moto.url.as_str(),
        )]))
        .with_clock(clock.clock())
        .build();

    assert_eq!(image(&provider, REPO).await, Some(moto_token()));
    assert_eq!(
        image(&provider, &format!("{REPO}/")).await,
        Some(moto_token())
    );
    let recorded = moto.recorded().await;
    let calls = get_token_calls(&recorded);
    assert_eq!(calls.len(), 1, "{recorded:?}");
    // Signed with the Secret's key for the Secret's region.
    assert!(
        calls[0].starts_with("AWS4-HMAC-SHA256 Credential=AKIDSECRETKEY01/")
            && calls[0].contains("/us-west-2/ecr/aws4_request"),
        "{}",
        calls[0]
    );

    // 23 h 56 min later the token expires within the 5-minute margin.
    clock.advance(Duration::from_secs(23 * 3600 + 56 * 60));
    assert_eq!(image(&provider, REPO).await, Some(moto_token()));
    assert_eq!(get_token_calls(&moto.recorded().await).len(), 2);

    // Git lookups and other registries are not the provider's business.
    assert_eq!(image(&provider, "ghcr.io/acme/app").await, None);
}

#[tokio::test]
async fn ambient_keys_from_the_environment_and_the_shared_credentials_file() {
    let moto = Moto::start();
    moto.start_recording().await;
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".aws")).unwrap();
    std::fs::write(
        home.path().join(".aws/credentials"),
        "[default]\naws_access_key_id = AKIDDEFAULTFILE\naws_secret_access_key = s1\n[ci]\naws_access_key_id = AKIDCIPROFILE01\naws_secret_access_key = s2\naws_session_token = session-2\n",
    )
    .unwrap();
    let home_dir = home.path().to_str().unwrap();
    let cases = [
        (
            vec![
                ("AWS_ACCESS_KEY_ID", "AKIDENVIRONMENT"),
                ("AWS_SECRET_ACCESS_KEY", "s0"),
                ("HOME", home_dir),
            ],
            "AKIDENVIRONMENT",
        ),
        (vec![("HOME", home_dir)], "AKIDDEFAULTFILE"),
        (
            vec![("HOME", home_dir), ("AWS_PROFILE", "ci")],
            "AKIDCIPROFILE01",
        ),
    ];
    for (n, (vars, key_id)) in cases.into_iter().enumerate() {
        let mut vars = vars;
        vars.push(("AWS_ENDPOINT_URL", &moto.url));
        let provider = CloudCredentials::builder(secrets(&ecr_secret("unrelated.example.com/x")))
            .with_environment(Environment::from_vars(vars))
            .with_clock(ManualClock::at(DAY_BEFORE).clock())
            .build();
        // The region comes from the repository URL.
        let url = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/app";
        assert_eq!(image(&provider, url).await, Some(moto_token()));
        assert_eq!(image(&provider, url).await, Some(moto_token()));
        let recorded = moto.recorded().await;
        let calls = get_token_calls(&recorded);
        assert_eq!(calls.len(), n + 1, "{recorded:?}");
        let last = calls[n];
        assert!(
            last.contains(&format!("Credential={key_id}/"))
                && last.contains("/eu-central-1/ecr/aws4_request"),
            "{last}"
        );
        // The session token of the `ci` profile is signed too.
        assert_eq!(
            last.contains("x-amz-security-token"),
            key_id == "AKIDCIPROFILE01",
            "{last}"
        );
    }

    // Ambient credentials switched off, or none at all: anonymous.
    let off = CloudCredentials::builder(secrets(&ecr_secret("unrelated.example.com/x")))
        .with_environment(Environment::from_vars([("HOME", home_dir)]))
        .with_ambient(false)
        .build();
    assert_eq!(image(&off, REPO).await, None);
    let none = CloudCredentials::builder(secrets(&ecr_secret("unrelated.example.com/x"))).build();
    assert_eq!(image(&none, REPO).await, None);
}

#[tokio::test]
async fn a_web_identity_token_is_exchanged_through_sts_once() {
    let moto = Moto::start();
    moto.start_recording().await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(
        &token_file,
        "eyJhbGciOiJSUzI1NiJ9.projected-service-account-token.sig\n",
    )
    .unwrap();
    let provider = CloudCredentials::builder(secrets(&ecr_secret("unrelated.example.com/x")))
        .with_environment(Environment::from_vars([
            ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.to_str().unwrap()),
            ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/kargo"),
            ("AWS_REGION", "us-west-2"),
            ("AWS_ENDPOINT_URL", &moto.url),
        ]))
        .with_clock(ManualClock::at(DAY_BEFORE).clock())
        .build();
    assert_eq!(image(&provider, REPO).await, Some(moto_token()));
    assert_eq!(image(&provider, REPO).await, Some(moto_token()));
    let recorded = moto.recorded().await;
    let actions: Vec<&str> = recorded.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "AssumeRoleWithWebIdentity",
            "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"
        ],
        "{recorded:?}"
    );
    // STS is called unsigned; ECR with the temporary key STS issued
    // (moto's start with ASIA) and its session token.
    assert_eq!(recorded[0].1, "");
    assert!(
        recorded[1].1.contains("Credential=ASIA") && recorded[1].1.contains("x-amz-security-token"),
        "{}",
        recorded[1].1
    );
}

#[tokio::test]
async fn container_credentials_as_eks_pod_identity_serves_them() {
    let moto = Moto::start();
    moto.start_recording().await;
    let agent = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/credentials"))
        .and(header("authorization", "pod-identity-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "AccessKeyId": "ASIAPODIDENTITY1",
            "SecretAccessKey": "pod-secret",
            "Token": "pod-session",
            "AccountId": "123456789012",
            "Expiration": "2014-12-31T06:00:00Z"
        })))
        .expect(1)
        .mount(&agent)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("eks-pod-identity-token");
    std::fs::write(&token_file, "pod-identity-token\n").unwrap();
    let full_uri = format!("{}/v1/credentials", agent.uri());
    let provider = CloudCredentials::builder(secrets(&ecr_secret("unrelated.example.com/x")))
        .with_environment(Environment::from_vars([
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", full_uri.as_str()),
            (
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                token_file.to_str().unwrap(),
            ),
            ("AWS_ENDPOINT_URL", &moto.url),
        ]))
        .with_clock(ManualClock::at(DAY_BEFORE).clock())
        .build();
    assert_eq!(image(&provider, REPO).await, Some(moto_token()));
    assert_eq!(image(&provider, REPO).await, Some(moto_token()));
    let recorded = moto.recorded().await;
    let calls = get_token_calls(&recorded);
    assert_eq!(calls.len(), 1, "{recorded:?}");
    assert!(
        calls[0].contains("Credential=ASIAPODIDENTITY1/"),
        "{}",
        calls[0]
    );
}

#[tokio::test]
async fn a_refused_exchange_names_registry_secret_and_aws_error_code() {
    // moto accepts any key, so AWS's refusal is played by a fake that
    // answers as ECR does (JSON 1.1 error, x-amzn-ErrorType).
    let ecr = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header(
            "x-amz-target",
            "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken",
        ))
        .respond_with(
            ResponseTemplate::new(400)
                .insert_header("x-amzn-ErrorType", "UnrecognizedClientException:http://internal.amazon.com/coral/com.amazon.coral.service/")
                .set_body_json(serde_json::json!({
                    "__type": "UnrecognizedClientException",
                    "message": "The security token included in the request is invalid."
                })),
        )
        .expect(2)
        .mount(&ecr)
        .await;
    let provider = CloudCredentials::builder(secrets(&ecr_secret(REPO)))
        .with_environment(Environment::from_vars([("AWS_ENDPOINT_URL", ecr.uri())]))
        .build();
    let err = image_error(&provider, REPO, &[SECRET_KEY, "AKIDSECRETKEY01"]).await;
    assert_eq!(
        err,
        "registry credentials: registry 123456789012.dkr.ecr.us-west-2.amazonaws.com, Secret ecr-creds: \
         ECR GetAuthorizationToken was refused: UnrecognizedClientException (HTTP 400)"
    );
    // A failure is not cached: the next lookup asks again.
    image_error(&provider, REPO, &[SECRET_KEY]).await;
}
