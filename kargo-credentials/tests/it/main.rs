//! kargo-credentials against the clouds' token APIs: moto's server (a real
//! implementation of ECR and STS, started per test on 127.0.0.1) for
//! Amazon ECR, and wiremock fakes following Google's and Azure's
//! documented token endpoints, which cannot run here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod acr;
mod ecr;
mod gar;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use kargo_core::credentials::{
    CredentialType, Credentials, CredentialsProvider, StaticCredentials,
};
use kargo_credentials::Clock;

/// A clock the test moves by hand.
#[derive(Clone)]
pub(crate) struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    pub(crate) fn at(unix_secs: u64) -> Self {
        ManualClock(Arc::new(AtomicU64::new(unix_secs)))
    }

    pub(crate) fn clock(&self) -> Clock {
        let secs = self.0.clone();
        Arc::new(move || SystemTime::UNIX_EPOCH + Duration::from_secs(secs.load(Ordering::SeqCst)))
    }

    pub(crate) fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_secs(), Ordering::SeqCst);
    }

    pub(crate) fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The provider of the credential Secrets in `yaml`.
pub(crate) fn secrets(yaml: &str) -> Arc<StaticCredentials> {
    Arc::new(
        StaticCredentials::new()
            .with_secrets(yaml, "creds.yaml")
            .unwrap(),
    )
}

/// `provider`'s image credentials for `url`.
pub(crate) async fn image(provider: &dyn CredentialsProvider, url: &str) -> Option<Credentials> {
    provider.get(CredentialType::Image, url).await.unwrap()
}

/// `provider`'s error for an image lookup of `url`, as a string, checked
/// to hold none of `secrets`.
pub(crate) async fn image_error(
    provider: &dyn CredentialsProvider,
    url: &str,
    secrets: &[&str],
) -> String {
    let err = provider
        .get(CredentialType::Image, url)
        .await
        .expect_err("the exchange fails");
    let shown = format!("{err} {err:?}");
    for secret in secrets {
        assert!(!shown.contains(secret), "{secret:?} leaked into {shown}");
    }
    err.to_string()
}
