//! The ambient AWS identity, looked for in the AWS SDKs' order: the
//! environment variables, the shared credentials file, a web identity
//! token (IRSA) exchanged through STS `AssumeRoleWithWebIdentity`, and the
//! container credentials endpoint (EKS Pod Identity, ECS).

use std::time::{Duration, SystemTime};

use serde::Deserialize;

use super::{AwsKey, endpoint, xml_text};
use crate::cache::TokenCache;
use crate::env::Environment;
use crate::error::{Error, Origin};
use crate::http;

/// How long static ambient keys (environment, file) are kept before they
/// are looked up again, so an edited file is noticed.
const STATIC_TTL: Duration = Duration::from_secs(5 * 60);

/// The default container credentials host (ECS; a relative URI is
/// relative to it).
const CONTAINER_HOST: &str = "http://169.254.170.2";

/// The ambient AWS key and where it came from, cached (temporary keys
/// until shortly before they expire).
#[derive(Debug)]
pub(crate) struct Ambient {
    keys: TokenCache<Option<(AwsKey, String)>>,
}

/// The credentials the container endpoint answers.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ContainerCredentials {
    access_key_id: String,
    secret_access_key: String,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    expiration: Option<String>,
}

fn parse_time(s: &str) -> Option<SystemTime> {
    let t: kargo_core::time::Timestamp = s.trim().parse().ok()?;
    let millis = u64::try_from(t.unix_millis()).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_millis(millis))
}

/// The `[profile]` section of an AWS shared credentials file.
fn profile_key(text: &str, profile: &str) -> Option<Result<AwsKey, &'static str>> {
    let mut in_section = false;
    let (mut id, mut secret, mut token) = (None, None, None);
    let mut found = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_section = name.trim() == profile;
            found |= in_section;
            continue;
        }
        if !in_section {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = Some(v.trim().to_owned());
            match k.trim() {
                "aws_access_key_id" => id = v,
                "aws_secret_access_key" => secret = v,
                "aws_session_token" => token = v,
                _ => {}
            }
        }
    }
    if !found {
        return None;
    }
    Some(match (id, secret) {
        (Some(id), Some(secret)) => Ok(AwsKey {
            id,
            secret,
            session_token: token,
        }),
        (None, _) => Err("aws_access_key_id"),
        (_, None) => Err("aws_secret_access_key"),
    })
}

impl Ambient {
    pub(crate) fn new(clock: crate::Clock) -> Self {
        Ambient {
            keys: TokenCache::new(clock),
        }
    }

    /// The ambient key and its source's name, or `None` when there is no
    /// ambient AWS identity.
    pub(crate) async fn key(
        &self,
        http: &reqwest::Client,
        env: &Environment,
        origin: &Origin,
    ) -> Result<Option<(AwsKey, String)>, Error> {
        self.keys
            .get(crate::cache::key(&["aws-ambient"]), STATIC_TTL, || {
                find(http, env, origin)
            })
            .await
    }
}

type Found = (Option<(AwsKey, String)>, Option<SystemTime>);

async fn find(http: &reqwest::Client, env: &Environment, origin: &Origin) -> Result<Found, Error> {
    // 1. The environment variables.
    if let (Some(id), Some(secret)) = (
        env.get("AWS_ACCESS_KEY_ID"),
        env.get("AWS_SECRET_ACCESS_KEY"),
    ) {
        let key = AwsKey {
            id: id.to_owned(),
            secret: secret.to_owned(),
            session_token: env.get("AWS_SESSION_TOKEN").map(str::to_owned),
        };
        return Ok((Some((key, "AWS environment variables".into())), None));
    }
    // 2. The shared credentials file.
    let file = env
        .get("AWS_SHARED_CREDENTIALS_FILE")
        .map(std::path::PathBuf::from)
        .or_else(|| env.home_path(".aws/credentials"));
    let profile = env
        .first(&["AWS_PROFILE", "AWS_DEFAULT_PROFILE"])
        .unwrap_or("default");
    if let Some(path) = file
        && let Ok(text) = tokio::fs::read_to_string(&path).await
    {
        let via = format!(
            "AWS shared credentials file {} (profile {profile})",
            path.display()
        );
        match profile_key(&text, profile) {
            Some(Ok(key)) => return Ok((Some((key, via)), None)),
            Some(Err(missing)) => {
                return Err(origin
                    .via(via)
                    .invalid(format!("the profile has no {missing}")));
            }
            None => {}
        }
    }
    // 3. A web identity token (IRSA), exchanged through STS.
    if let (Some(token_file), Some(role)) = (
        env.get("AWS_WEB_IDENTITY_TOKEN_FILE"),
        env.get("AWS_ROLE_ARN"),
    ) {
        let origin = origin.via(format!("AWS web identity (role {role})"));
        let (key, expiry) = web_identity(http, env, &origin, token_file, role).await?;
        return Ok((Some((key, origin.via)), expiry));
    }
    // 4. The container credentials endpoint (EKS Pod Identity, ECS).
    let uri = env
        .get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        .map(str::to_owned)
        .or_else(|| {
            env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
                .map(|rel| format!("{CONTAINER_HOST}{rel}"))
        });
    if let Some(uri) = uri {
        let origin = origin.via("AWS container credentials (EKS Pod Identity)");
        let (key, expiry) = container(http, env, &origin, &uri).await?;
        return Ok((Some((key, origin.via)), expiry));
    }
    Ok((None, None))
}

async fn web_identity(
    http: &reqwest::Client,
    env: &Environment,
    origin: &Origin,
    token_file: &str,
    role: &str,
) -> Result<(AwsKey, Option<SystemTime>), Error> {
    const OPERATION: &str = "STS AssumeRoleWithWebIdentity";
    // Read each time: the token in the file is rotated.
    let token = tokio::fs::read_to_string(token_file).await.map_err(|e| {
        origin.invalid(format!(
            "cannot read AWS_WEB_IDENTITY_TOKEN_FILE {token_file}: {e}"
        ))
    })?;
    let region = env
        .first(&["AWS_REGION", "AWS_DEFAULT_REGION"])
        .unwrap_or("");
    let session = env.get("AWS_ROLE_SESSION_NAME").unwrap_or("kargo-rs");
    let body = http::form(&[
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", "2011-06-15"),
        ("RoleArn", role),
        ("RoleSessionName", session),
        ("WebIdentityToken", token.trim()),
    ]);
    let request = http
        .post(format!("{}/", endpoint(env, "sts", region)))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    let xml = http::send(origin, OPERATION, request).await?;
    let text = |tag: &str| {
        xml_text(&xml, tag)
            .ok_or_else(|| origin.failed(OPERATION, format!("the answer has no {tag}")))
    };
    let key = AwsKey {
        id: text("AccessKeyId")?,
        secret: text("SecretAccessKey")?,
        session_token: Some(text("SessionToken")?),
    };
    let expiry = xml_text(&xml, "Expiration").and_then(|e| parse_time(&e));
    tracing::debug!(via = %origin.via, "assumed an AWS role with a web identity token");
    Ok((key, expiry))
}

async fn container(
    http: &reqwest::Client,
    env: &Environment,
    origin: &Origin,
    uri: &str,
) -> Result<(AwsKey, Option<SystemTime>), Error> {
    const OPERATION: &str = "container credentials request";
    let authorization = match env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
        Some(file) => Some(tokio::fs::read_to_string(file).await.map_err(|e| {
            origin.invalid(format!(
                "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE {file}: {e}"
            ))
        })?),
        None => env
            .get("AWS_CONTAINER_AUTHORIZATION_TOKEN")
            .map(str::to_owned),
    };
    let mut request = http.get(uri);
    if let Some(auth) = authorization {
        request = request.header("authorization", auth.trim());
    }
    let answer: ContainerCredentials = http::send_json(origin, OPERATION, request).await?;
    let expiry = answer.expiration.as_deref().and_then(parse_time);
    Ok((
        AwsKey {
            id: answer.access_key_id,
            secret: answer.secret_access_key,
            session_token: answer.token,
        },
        expiry,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_credentials_profiles() {
        let text = "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = s1\n\n# comment\n[ci]\naws_access_key_id=AKIACI\naws_secret_access_key=s2\naws_session_token = t2\n[broken]\naws_access_key_id = AKIAX\n";
        let ci = profile_key(text, "ci").unwrap().unwrap();
        assert_eq!(
            (
                ci.id.as_str(),
                ci.secret.as_str(),
                ci.session_token.as_deref()
            ),
            ("AKIACI", "s2", Some("t2"))
        );
        assert_eq!(
            profile_key(text, "default").unwrap().unwrap().id,
            "AKIADEFAULT"
        );
        assert!(profile_key(text, "missing").is_none());
        assert_eq!(
            profile_key(text, "broken").unwrap().unwrap_err(),
            "aws_secret_access_key"
        );
    }

    #[test]
    fn sts_and_container_times_parse() {
        let t = parse_time("2026-12-06T11:32:59.224993Z").unwrap();
        assert_eq!(
            t.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_millis(),
            1_796_556_779_224
        );
        assert!(parse_time("tomorrow").is_none());
    }
}
