//! [`CloudCredentials`]: the provider every registry client asks.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use kargo_core::credentials::{
    CredentialSecret, CredentialType, Credentials, CredentialsProvider, GCP_KEY_FIELD,
};

use crate::acr::Acr;
use crate::aws::{Ambient, Ecr, Flavor};
use crate::env::Environment;
use crate::error::Origin;
use crate::gar::Gar;

/// The time source of the token caches: `SystemTime::now` unless a test or
/// simulation gives another.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// A cloud registry, as a repository URL's host names it (Kargo's
/// patterns).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Registry {
    /// `<account>.dkr.ecr.<region>.amazonaws.com` (`.amazonaws.com.cn`).
    Ecr {
        /// The 12-digit account ID.
        account: String,
        /// The region, e.g. `us-west-2`.
        region: String,
    },
    /// `public.ecr.aws`.
    EcrPublic,
    /// `<location>-docker.pkg.dev`, or Container Registry's `[*.]gcr.io`.
    Gar,
    /// `<name>.azurecr.io`.
    Acr {
        /// The registry's name.
        name: String,
    },
}

impl Registry {
    /// The cloud registry `host` (`host[:port]`, lower case) names, if any.
    pub fn parse(host: &str) -> Option<Registry> {
        let host = host.to_ascii_lowercase();
        if host == "public.ecr.aws" {
            return Some(Registry::EcrPublic);
        }
        let ecr = host
            .strip_suffix(".amazonaws.com")
            .or_else(|| host.strip_suffix(".amazonaws.com.cn"))
            .and_then(|h| h.split_once(".dkr.ecr."));
        if let Some((account, region)) = ecr
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && !region.is_empty()
        {
            return Some(Registry::Ecr {
                account: account.to_owned(),
                region: region.to_owned(),
            });
        }
        if host.ends_with("-docker.pkg.dev") && host.len() > "-docker.pkg.dev".len()
            || host == "gcr.io"
            || host.ends_with(".gcr.io")
        {
            return Some(Registry::Gar);
        }
        if let Some(name) = host.strip_suffix(".azurecr.io")
            && !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Some(Registry::Acr {
                name: name.to_owned(),
            });
        }
        None
    }
}

/// A repository URL resolved to the cloud registry it belongs to.
struct Target {
    registry: Registry,
    /// The cloud registry's host.
    cloud_host: String,
    /// Where the registry is reached: the cloud host, or an alias.
    base: String,
    /// The repository path.
    repository: String,
}

/// Builds a [`CloudCredentials`].
pub struct Builder {
    inner: Arc<dyn CredentialsProvider>,
    env: Environment,
    clock: Clock,
    aliases: BTreeMap<String, String>,
    ambient: bool,
    timeout: Duration,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("inner", &self.inner)
            .field("env", &self.env)
            .field("aliases", &self.aliases)
            .field("ambient", &self.ambient)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// The ambient identity is read from the process's environment
    /// (`AWS_*`, `AZURE_*`, `HOME`), as it is now.
    pub fn from_env(mut self) -> Self {
        self.env = Environment::from_process();
        self
    }

    /// The ambient identity is read from `env` (tests, hosts that keep
    /// their own settings).
    pub fn with_environment(mut self, env: Environment) -> Self {
        self.env = env;
        self
    }

    /// Whether an ECR or ACR repository that no Secret matches is reached
    /// with the ambient identity (default: yes, as Kargo does when it runs
    /// with one).
    pub fn with_ambient(mut self, ambient: bool) -> Self {
        self.ambient = ambient;
        self
    }

    /// Repositories on `host` (`host[:port]`) get credentials as if they
    /// were on the cloud registry `cloud_host`: a pull-through mirror or a
    /// private endpoint in front of ECR, GAR or ACR (ACR's token
    /// endpoints are then reached at `host`).
    pub fn with_registry_alias(mut self, host: &str, cloud_host: &str) -> Self {
        self.aliases
            .insert(host.to_ascii_lowercase(), cloud_host.to_ascii_lowercase());
        self
    }

    /// The caches' clock.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The timeout of each request to a cloud (default 30 seconds).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The provider.
    pub fn build(self) -> CloudCredentials {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(self.timeout)
            .build()
            .unwrap_or_default();
        CloudCredentials {
            inner: self.inner,
            http,
            env: self.env,
            aliases: self.aliases,
            ambient: self.ambient,
            ecr: Ecr::new(self.clock.clone()),
            aws_ambient: Ambient::new(self.clock.clone()),
            gar: Gar::new(self.clock.clone()),
            acr: Acr::new(self.clock),
        }
    }
}

/// A [`CredentialsProvider`] that exchanges cloud identities for registry
/// tokens, and asks the provider it wraps for everything else.
///
/// # Contract
/// - Only image and Helm lookups whose URL names a cloud registry (see
///   [`Registry::parse`], and [`Builder::with_registry_alias`]) are
///   answered here. Git and generic lookups, and other registries, go to
///   the wrapped provider unchanged.
/// - A matching Secret with a cloud key (`awsAccessKeyID`,
///   `gcpServiceAccountKey`) is exchanged; one with `username` and
///   `password` is passed through (GAR's `_json_key_base64`, ACR repository
///   tokens and service principals). With no matching Secret, ECR and ACR
///   use the ambient identity when there is one, else the lookup answers
///   `None` (anonymous).
/// - Tokens are cached until five minutes before they expire; concurrent
///   lookups wait for one exchange.
/// - A failed exchange is an error (the caller must not go on
///   anonymously); it names the registry, the Secret and the cloud's code.
pub struct CloudCredentials {
    inner: Arc<dyn CredentialsProvider>,
    http: reqwest::Client,
    env: Environment,
    aliases: BTreeMap<String, String>,
    ambient: bool,
    ecr: Ecr,
    aws_ambient: Ambient,
    gar: Gar,
    acr: Acr,
}

impl std::fmt::Debug for CloudCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudCredentials")
            .field("inner", &self.inner)
            .field("aliases", &self.aliases)
            .field("ambient", &self.ambient)
            .finish_non_exhaustive()
    }
}

impl CloudCredentials {
    /// A builder around `inner`, the provider holding the credential
    /// Secrets; without [`Builder::from_env`] no ambient identity is seen.
    pub fn builder(inner: Arc<dyn CredentialsProvider>) -> Builder {
        Builder {
            inner,
            env: Environment::default(),
            clock: Arc::new(SystemTime::now),
            aliases: BTreeMap::new(),
            ambient: true,
            timeout: Duration::from_secs(30),
        }
    }

    fn target(&self, url: &str) -> Option<Target> {
        let rest = url.trim();
        let rest = rest.strip_prefix("oci://").unwrap_or(rest);
        let rest = rest
            .strip_prefix("https://")
            .or_else(|| rest.strip_prefix("http://"))
            .unwrap_or(rest);
        let (host, repository) = rest.split_once('/')?;
        let host = host.to_ascii_lowercase();
        let (cloud_host, base) = match self.aliases.get(&host) {
            Some(cloud) => {
                let scheme = if kargo_core::urls::is_loopback_host(&host) {
                    "http"
                } else {
                    "https"
                };
                (cloud.clone(), format!("{scheme}://{host}"))
            }
            None => (host.clone(), format!("https://{host}")),
        };
        Some(Target {
            registry: Registry::parse(&cloud_host)?,
            cloud_host,
            base,
            repository: repository.trim_end_matches('/').to_owned(),
        })
    }

    async fn exchange(
        &self,
        target: &Target,
        secret: Option<&CredentialSecret>,
    ) -> Result<Option<Credentials>, crate::Error> {
        let origin = Origin {
            registry: target.cloud_host.clone(),
            via: secret.map_or_else(String::new, |s| format!("Secret {}", s.name())),
        };
        let ecr = match &target.registry {
            Registry::Ecr { region, .. } => Some((Flavor::Private, region.as_str())),
            Registry::EcrPublic => Some((Flavor::Public, "us-east-1")),
            _ => None,
        };
        match (&target.registry, secret, ecr) {
            (_, Some(s), Some((flavor, _))) if s.field("awsAccessKeyID").is_some() => {
                let (key, region) = Ecr::secret_key(&origin, s)?;
                let token = self
                    .ecr
                    .token(&self.http, &self.env, &origin, flavor, &region, &key)
                    .await?;
                Ok(Some(token))
            }
            (Registry::Gar, Some(s), _) if s.field(GCP_KEY_FIELD).is_some() => {
                let encoded = s.field(GCP_KEY_FIELD).unwrap_or_default();
                Ok(Some(self.gar.token(&self.http, &origin, encoded).await?))
            }
            (_, Some(s), _) => Ok(s.credentials()),
            (_, None, Some((flavor, region))) if self.ambient => {
                let origin = origin.via("ambient AWS identity");
                let Some((key, via)) = self.aws_ambient.key(&self.http, &self.env, &origin).await?
                else {
                    return Ok(None);
                };
                let origin = origin.via(via);
                let token = self
                    .ecr
                    .token(&self.http, &self.env, &origin, flavor, region, &key)
                    .await?;
                Ok(Some(token))
            }
            (Registry::Acr { .. }, None, _) if self.ambient => {
                self.acr
                    .token(
                        &self.http,
                        &self.env,
                        &origin,
                        &target.base,
                        &target.repository,
                    )
                    .await
            }
            (_, None, _) => Ok(None),
        }
    }
}

#[async_trait]
impl CredentialsProvider for CloudCredentials {
    async fn get(
        &self,
        kind: CredentialType,
        url: &str,
    ) -> kargo_core::Result<Option<Credentials>> {
        if !matches!(kind, CredentialType::Image | CredentialType::Helm) {
            return self.inner.get(kind, url).await;
        }
        let Some(target) = self.target(url) else {
            return self.inner.get(kind, url).await;
        };
        let secret = self.inner.secret(kind, url).await?;
        if secret.is_none() {
            // A provider that keeps no Secrets may still have credentials.
            if let Some(found) = self.inner.get(kind, url).await? {
                return Ok(Some(found));
            }
        }
        Ok(self.exchange(&target, secret.as_ref()).await?)
    }

    async fn secret(
        &self,
        kind: CredentialType,
        url: &str,
    ) -> kargo_core::Result<Option<CredentialSecret>> {
        self.inner.secret(kind, url).await
    }

    async fn project_secret(
        &self,
        project: &str,
        name: &str,
    ) -> kargo_core::Result<Option<CredentialSecret>> {
        self.inner.project_secret(project, name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_are_recognised_by_kargos_host_patterns() {
        let ecr = |a: &str, r: &str| Registry::Ecr {
            account: a.into(),
            region: r.into(),
        };
        let cases = [
            (
                "123456789012.dkr.ecr.us-west-2.amazonaws.com",
                Some(ecr("123456789012", "us-west-2")),
            ),
            (
                "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
                Some(ecr("123456789012", "cn-north-1")),
            ),
            ("12345.dkr.ecr.us-west-2.amazonaws.com", None),
            ("public.ecr.aws", Some(Registry::EcrPublic)),
            ("us-central1-docker.pkg.dev", Some(Registry::Gar)),
            ("gcr.io", Some(Registry::Gar)),
            ("eu.gcr.io", Some(Registry::Gar)),
            ("docker.pkg.dev", None),
            (
                "myregistry.azurecr.io",
                Some(Registry::Acr {
                    name: "myregistry".into(),
                }),
            ),
            ("ghcr.io", None),
            ("127.0.0.1:5000", None),
        ];
        for (host, expected) in cases {
            assert_eq!(Registry::parse(host), expected, "{host}");
        }
    }

    #[test]
    fn targets_strip_schemes_and_follow_aliases() {
        let p = CloudCredentials::builder(Arc::new(kargo_core::credentials::NoCredentials))
            .with_registry_alias("127.0.0.1:5000", "myregistry.azurecr.io")
            .build();
        let t = p.target("oci://127.0.0.1:5000/charts/app").unwrap();
        assert_eq!(t.cloud_host, "myregistry.azurecr.io");
        assert_eq!(t.base, "http://127.0.0.1:5000");
        assert_eq!(t.repository, "charts/app");
        let t = p
            .target("123456789012.dkr.ecr.us-east-1.amazonaws.com/fn")
            .unwrap();
        assert_eq!(
            t.base,
            "https://123456789012.dkr.ecr.us-east-1.amazonaws.com"
        );
        assert!(p.target("ghcr.io/acme/app").is_none());
        assert!(
            p.target("123456789012.dkr.ecr.us-east-1.amazonaws.com")
                .is_none()
        );
    }
}
