//! A Warehouse on an Amazon ECR repository, with Kargo's ECR Secret: the
//! access key is exchanged for an authorization token by moto's ECR (a
//! real implementation of `GetAuthorizationToken`), and a real
//! `docker-registry` accepts that token as basic credentials, as ECR does.
//! The registry stands in for `123456789012.dkr.ecr.us-west-2.amazonaws.com`
//! through a registry alias; the repository URL is the registry's own.

use std::sync::Arc;

use kargo_core::credentials::{CredentialsProvider, StaticCredentials};
use kargo_core::model::Warehouse;
use kargo_credentials::{CloudCredentials, Environment};
use kargo_sources::warehouse::{Sources, discover};
use kargo_test_support::moto::Moto;
use oci_client::secrets::RegistryAuth;

use kargo_test_support::registry::{Content, Registry, Seed};

/// moto's token for account 123456789012 is `AWS:123456789012-auth-token`.
const MOTO_USER: &str = "AWS";
const MOTO_PASSWORD: &str = "123456789012-auth-token";

#[tokio::test]
async fn a_warehouse_discovers_an_ecr_image_with_one_token_fetched_and_reused() {
    let moto = Moto::start();
    moto.start_recording().await;
    let registry = Registry::start(Some((MOTO_USER, MOTO_PASSWORD)));
    let content = Content::from_seeds(&[
        Seed::new("1.0.0").created("2024-01-01T00:00:00Z"),
        Seed::new("1.1.0").created("2024-02-01T00:00:00Z"),
    ]);
    content
        .push(
            &registry.addr,
            "lambda/fn",
            &RegistryAuth::Basic(MOTO_USER.into(), MOTO_PASSWORD.into()),
        )
        .await;
    let repo_url = format!("{}/lambda/fn", registry.addr);
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: ecr-creds\n  namespace: demo\n  labels:\n    kargo.akuity.io/cred-type: image\nstringData:\n  repoURL: {repo_url}\n  awsRegion: us-west-2\n  awsAccessKeyID: AKIDKARGOEXAMPLE\n  awsSecretAccessKey: wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n"
    );
    let secrets = StaticCredentials::new()
        .with_secrets(&secret, "creds.yaml")
        .expect("valid Secret");
    // moto's tokens carry a fixed expiresAt of 2015-01-01T00:00:00Z: the
    // caches' clock runs on 2014-12-31 so that the token is worth keeping.
    let day_before =
        std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_419_984_000);
    let provider: Arc<dyn CredentialsProvider> = Arc::new(
        CloudCredentials::builder(Arc::new(secrets))
            .with_environment(Environment::from_vars([(
                "AWS_ENDPOINT_URL",
                moto.url.as_str(),
            )]))
            .with_registry_alias(
                &registry.addr,
                "123456789012.dkr.ecr.us-west-2.amazonaws.com",
            )
            .with_clock(Arc::new(move || day_before))
            .build(),
    );
    let warehouse: Warehouse = serde_saphyr::from_str(&format!(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Warehouse\nmetadata:\n  name: fn\n  namespace: demo\nspec:\n  subscriptions:\n  - image:\n      repoURL: {repo_url}\n"
    ))
    .expect("valid Warehouse");

    // Two Sources (as two pipeline passes would build them) share the
    // provider, so the second discovery reuses the token.
    for _ in 0..2 {
        let sources = Sources::builtin_with_credentials(provider.clone());
        let freight = discover(&sources, [&warehouse]).await.expect("discovers");
        assert_eq!(freight.len(), 1, "{freight:?}");
        assert_eq!(freight[0].images[0].tag, "1.1.0");
        assert_eq!(freight[0].images[0].digest, content.digest_of("1.1.0"));
    }
    let calls: Vec<String> = moto
        .recorded()
        .await
        .into_iter()
        .map(|(action, _)| action)
        .collect();
    assert_eq!(
        calls,
        ["AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"],
        "one token for both discoveries"
    );
}
