//! Amazon ECR: `GetAuthorizationToken` with an access key from a Secret or
//! from the ambient AWS identity.

mod ambient;
pub(crate) mod sigv4;

use std::fmt;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use kargo_core::credentials::{CredentialSecret, Credentials};
use serde_json::Value;

pub(crate) use ambient::Ambient;

use crate::cache::{TokenCache, key};
use crate::env::Environment;
use crate::error::{Error, Origin};
use crate::http;

/// ECR tokens live 12 hours; without an expiry they are kept 10 (Kargo).
const DEFAULT_TTL: Duration = Duration::from_secs(10 * 3600);

/// An AWS access key, perhaps temporary. `Debug` shows the key ID's first
/// four characters only.
#[derive(Clone)]
pub(crate) struct AwsKey {
    pub(crate) id: String,
    pub(crate) secret: String,
    pub(crate) session_token: Option<String>,
}

impl fmt::Debug for AwsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsKey")
            .field("id", &self.id.chars().take(4).collect::<String>())
            .finish_non_exhaustive()
    }
}

/// Which ECR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// `<account>.dkr.ecr.<region>.amazonaws.com`.
    Private,
    /// `public.ecr.aws`, whose tokens come from us-east-1.
    Public,
}

/// The text of the first `<tag>` element of `xml`, entities decoded.
pub(crate) fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(
        xml[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// A number of seconds since the epoch (ECR's `expiresAt`).
fn epoch_seconds(v: &Value) -> Option<SystemTime> {
    let secs = v.as_f64().filter(|s| s.is_finite() && *s >= 0.0)?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs_f64(secs))
}

/// The endpoint of AWS service `service` (`ecr`, `sts`) in `region`:
/// `AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL`, else AWS's.
pub(crate) fn endpoint(env: &Environment, service: &str, region: &str) -> String {
    let specific = format!(
        "AWS_ENDPOINT_URL_{}",
        service.to_ascii_uppercase().replace('-', "_")
    );
    if let Some(url) = env.first(&[&specific, "AWS_ENDPOINT_URL"]) {
        return url.trim_end_matches('/').to_owned();
    }
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    match (service, region) {
        ("sts", "") => format!("https://sts.{suffix}"),
        ("sts", _) => format!("https://sts.{region}.{suffix}"),
        _ => format!("https://api.{service}.{region}.{suffix}"),
    }
}

/// ECR tokens, cached per registry kind, region and key.
#[derive(Debug)]
pub(crate) struct Ecr {
    tokens: TokenCache<Credentials>,
}

impl Ecr {
    pub(crate) fn new(clock: crate::Clock) -> Self {
        Ecr {
            tokens: TokenCache::new(clock),
        }
    }

    /// The key of a Kargo ECR Secret.
    pub(crate) fn secret_key(
        origin: &Origin,
        secret: &CredentialSecret,
    ) -> Result<(AwsKey, String), Error> {
        let field = |name: &str| {
            secret
                .field(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| origin.invalid(format!("field {name} is empty or missing")))
        };
        Ok((
            AwsKey {
                id: field("awsAccessKeyID")?,
                secret: field("awsSecretAccessKey")?,
                session_token: None,
            },
            field("awsRegion")?,
        ))
    }

    /// Registry credentials (`AWS` and the token's password) for `flavor`
    /// in `region`, obtained with `key`.
    pub(crate) async fn token(
        &self,
        http: &reqwest::Client,
        env: &Environment,
        origin: &Origin,
        flavor: Flavor,
        region: &str,
        aws: &AwsKey,
    ) -> Result<Credentials, Error> {
        let region = match flavor {
            Flavor::Private => region,
            Flavor::Public => "us-east-1",
        };
        let cache_key = key(&[
            "ecr",
            &format!("{flavor:?}"),
            region,
            &aws.id,
            &aws.secret,
            aws.session_token.as_deref().unwrap_or_default(),
        ]);
        self.tokens
            .get(cache_key, DEFAULT_TTL, || {
                self.fetch(http, env, origin, flavor, region, aws)
            })
            .await
    }

    async fn fetch(
        &self,
        http: &reqwest::Client,
        env: &Environment,
        origin: &Origin,
        flavor: Flavor,
        region: &str,
        aws: &AwsKey,
    ) -> Result<(Credentials, Option<SystemTime>), Error> {
        let (service, target, operation) = match flavor {
            Flavor::Private => (
                "ecr",
                "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken",
                "ECR GetAuthorizationToken",
            ),
            Flavor::Public => (
                "ecr-public",
                "SpencerFrontendService.GetAuthorizationToken",
                "ECR Public GetAuthorizationToken",
            ),
        };
        let url = endpoint(env, service, region);
        let parsed = reqwest::Url::parse(&url)
            .map_err(|e| origin.invalid(format!("endpoint {url} is not a URL: {e}")))?;
        let host = match (parsed.host_str(), parsed.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => return Err(origin.invalid(format!("endpoint {url} has no host"))),
        };
        let body = b"{}";
        let content_type = "application/x-amz-json-1.1";
        let signed = sigv4::sign(
            &sigv4::Params {
                access_key_id: &aws.id,
                secret_access_key: &aws.secret,
                session_token: aws.session_token.as_deref(),
                region,
                service,
                time: SystemTime::now(),
            },
            "POST",
            parsed.path(),
            "",
            &[
                ("host", &host),
                ("content-type", content_type),
                ("x-amz-target", target),
            ],
            body,
        );
        let mut request = http
            .post(parsed)
            .header("content-type", content_type)
            .header("x-amz-target", target)
            .body(body.to_vec());
        for (name, value) in signed.headers {
            request = request.header(name, value);
        }
        let answer: Value = http::send_json(origin, operation, request).await?;
        let data = answer.get("authorizationData");
        // Private ECR answers a list, ECR Public one object.
        let data = data
            .and_then(|d| d.as_array().and_then(|a| a.first()))
            .or(data)
            .ok_or_else(|| origin.failed(operation, "the answer has no authorizationData"))?;
        let token = data
            .get("authorizationToken")
            .and_then(Value::as_str)
            .ok_or_else(|| origin.failed(operation, "the answer has no authorizationToken"))?;
        let expiry = data.get("expiresAt").and_then(epoch_seconds);
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(token.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| origin.failed(operation, "the authorizationToken is not base64 text"))?;
        let (user, password) = decoded.split_once(':').ok_or_else(|| {
            origin.failed(operation, "the authorizationToken is not user:password")
        })?;
        tracing::debug!(registry = %origin.registry, via = %origin.via, "obtained an ECR authorization token");
        Ok((Credentials::new(user, password), expiry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_follow_region_partition_and_overrides() {
        let none = Environment::default();
        assert_eq!(
            endpoint(&none, "ecr", "us-west-2"),
            "https://api.ecr.us-west-2.amazonaws.com"
        );
        assert_eq!(
            endpoint(&none, "ecr", "cn-north-1"),
            "https://api.ecr.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            endpoint(&none, "ecr-public", "us-east-1"),
            "https://api.ecr-public.us-east-1.amazonaws.com"
        );
        assert_eq!(
            endpoint(&none, "sts", "eu-west-1"),
            "https://sts.eu-west-1.amazonaws.com"
        );
        assert_eq!(endpoint(&none, "sts", ""), "https://sts.amazonaws.com");
        let env = Environment::from_vars([
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1/"),
            ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:2"),
        ]);
        assert_eq!(endpoint(&env, "ecr", "us-west-2"), "http://127.0.0.1:1");
        assert_eq!(endpoint(&env, "sts", "us-west-2"), "http://127.0.0.1:2");
    }

    #[test]
    fn xml_text_decodes_entities() {
        let xml =
            "<R><Credentials><SecretAccessKey>a&amp;b&lt;</SecretAccessKey></Credentials></R>";
        assert_eq!(xml_text(xml, "SecretAccessKey").as_deref(), Some("a&b<"));
        assert_eq!(xml_text(xml, "SessionToken"), None);
    }
}
