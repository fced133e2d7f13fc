//! Credentials for repositories and registries, looked up by URL.

use std::fmt;

use async_trait::async_trait;

use crate::Result;

/// What a credential is for; Kargo keeps one kind per secret type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CredentialType {
    /// Git repositories.
    Git,
    /// Container image registries.
    Image,
    /// Helm chart repositories.
    Helm,
    /// Anything else (HTTP endpoints, forge APIs).
    Generic,
}

/// A username and a secret. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name (may be empty for token-only auth).
    pub username: String,
    /// The password or token.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Finds credentials for a URL.
///
/// # Contract
/// - `Ok(None)` means "no credentials: try anonymously"; an `Err` means the
///   lookup itself failed and the caller should not proceed anonymously.
/// - Implementations never log secrets.
#[async_trait]
pub trait CredentialsProvider: Send + Sync + fmt::Debug + 'static {
    /// The credentials of `kind` for `url`, if any.
    async fn get(&self, kind: CredentialType, url: &str) -> Result<Option<Credentials>>;
}

/// A provider that has no credentials at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCredentials;

#[async_trait]
impl CredentialsProvider for NoCredentials {
    async fn get(&self, _kind: CredentialType, _url: &str) -> Result<Option<Credentials>> {
        Ok(None)
    }
}

/// Credentials for fixed URLs or URL patterns, like Kargo's credential
/// secrets (`repoURL`, or `repoURLPattern` with `repoURLIsRegex`).
///
/// Exact URLs match after normalisation (case of scheme and host, a
/// trailing `/` or `.git` ignored); patterns are regular expressions
/// matched against the whole URL as given. Entries are tried in the order
/// they were added, exact ones first.
///
/// ```
/// # use kargo_core::credentials::*;
/// # tokio_test_block_on(async {
/// let provider = StaticCredentials::new()
///     .with_url(CredentialType::Git, "https://example.com/org/repo", Credentials::new("u", "p"))
///     .with_pattern(CredentialType::Git, r"^https://example\.com/other/.*$", Credentials::new("v", "q"))
///     .unwrap();
/// let found = provider.get(CredentialType::Git, "https://EXAMPLE.com/org/repo.git").await.unwrap();
/// assert_eq!(found.unwrap().username, "u");
/// assert!(provider.get(CredentialType::Image, "https://example.com/org/repo").await.unwrap().is_none());
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Clone, Default)]
pub struct StaticCredentials {
    exact: Vec<(CredentialType, String, Credentials)>,
    patterns: Vec<(CredentialType, regex_lite::Regex, Credentials)>,
}

impl fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticCredentials")
            .field(
                "urls",
                &self.exact.iter().map(|(_, u, _)| u).collect::<Vec<_>>(),
            )
            .field(
                "patterns",
                &self
                    .patterns
                    .iter()
                    .map(|(_, r, _)| r.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Credentials {
    /// A username and a password or token.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }
}

impl StaticCredentials {
    /// A provider with no entries.
    pub fn new() -> Self {
        StaticCredentials::default()
    }

    /// Adds credentials for one URL.
    pub fn with_url(
        mut self,
        kind: CredentialType,
        url: impl AsRef<str>,
        credentials: Credentials,
    ) -> Self {
        self.exact
            .push((kind, normalize_url(url.as_ref()), credentials));
        self
    }

    /// Adds credentials for every URL matching `pattern` (a regular
    /// expression); fails if the pattern is invalid.
    pub fn with_pattern(
        mut self,
        kind: CredentialType,
        pattern: &str,
        credentials: Credentials,
    ) -> Result<Self> {
        let regex = regex_lite::Regex::new(pattern).map_err(|e| {
            crate::Error::Invalid(format!("invalid credentials URL pattern {pattern:?}: {e}"))
        })?;
        self.patterns.push((kind, regex, credentials));
        Ok(self)
    }
}

#[async_trait]
impl CredentialsProvider for StaticCredentials {
    async fn get(&self, kind: CredentialType, url: &str) -> Result<Option<Credentials>> {
        let normalized = normalize_url(url);
        let exact = self
            .exact
            .iter()
            .find(|(k, u, _)| *k == kind && *u == normalized)
            .map(|(_, _, c)| c);
        let found = exact.or_else(|| {
            self.patterns
                .iter()
                .find(|(k, r, _)| *k == kind && r.is_match(url))
                .map(|(_, _, c)| c)
        });
        Ok(found.cloned())
    }
}

/// The label that marks a Kubernetes Secret as Kargo credentials, and says
/// for what.
pub const CRED_TYPE_LABEL: &str = "kargo.akuity.io/cred-type";

/// A Kubernetes Secret, as far as credentials need it. Any other top-level
/// field than a Secret's is refused (a misplaced `repoURL:` would otherwise
/// be ignored).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Secret {
    #[serde(rename = "apiVersion", default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    metadata: SecretMetadata,
    /// Base64-encoded values.
    #[serde(default)]
    data: std::collections::BTreeMap<String, String>,
    /// Plain values (they win over `data`, as in Kubernetes).
    #[serde(rename = "stringData", default)]
    string_data: std::collections::BTreeMap<String, String>,
    /// The Secret's type (`Opaque`); not used.
    #[serde(rename = "type", default)]
    _type: Option<String>,
    /// Whether the Secret is immutable; not used.
    #[serde(rename = "immutable", default)]
    _immutable: Option<bool>,
}

#[derive(serde::Deserialize, Default)]
struct SecretMetadata {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    labels: std::collections::BTreeMap<String, String>,
}

impl StaticCredentials {
    /// Adds the credentials of Kargo credential Secrets: the Kubernetes
    /// `v1` `Secret` documents of `yaml` (one or several), each labelled
    /// [`CRED_TYPE_LABEL`] `git`, `image`, `helm` or `generic`, holding
    /// `repoURL` (a regular expression when `repoURLIsRegex` is `"true"`;
    /// the older `repoURLPattern` is read too), `username` and `password`
    /// in `stringData` or base64-encoded in `data`. `source` names the
    /// input in errors, which name the document but never a secret.
    pub fn with_secrets(mut self, yaml: &str, source: &str) -> Result<Self> {
        let invalid = |what: String| crate::Error::Invalid(format!("{source}: {what}"));
        // Only where: a YAML error's message or snippet may quote a secret.
        let secrets: Vec<Secret> = serde_saphyr::from_multiple(yaml).map_err(|e| {
            // A field's name is never a secret: name an unknown one.
            let text = e.to_string();
            let unknown = text
                .split_once("unknown field `")
                .and_then(|(_, rest)| rest.split_once('`'))
                .map(|(field, _)| format!(": unknown field `{field}`"))
                .unwrap_or_default();
            invalid(match e.location() {
                Some(at) => format!(
                    "not Kubernetes Secrets in YAML (line {}, column {}){unknown}",
                    at.line(),
                    at.column()
                ),
                None => format!("not Kubernetes Secrets in YAML{unknown}"),
            })
        })?;
        for (n, secret) in secrets.into_iter().enumerate() {
            let name = secret
                .metadata
                .name
                .clone()
                .unwrap_or_else(|| format!("document {}", n + 1));
            let invalid = |what: &str| invalid(format!("Secret {name}: {what}"));
            if secret.api_version.as_deref() != Some("v1")
                || secret.kind.as_deref() != Some("Secret")
            {
                return Err(invalid("not a v1 Secret"));
            }
            let kind = match secret
                .metadata
                .labels
                .get(CRED_TYPE_LABEL)
                .map(String::as_str)
            {
                Some("git") => CredentialType::Git,
                Some("image") => CredentialType::Image,
                Some("helm") => CredentialType::Helm,
                Some("generic") => CredentialType::Generic,
                Some(other) => {
                    return Err(invalid(&format!(
                        "label {CRED_TYPE_LABEL} is {other:?}, not git, image, helm or generic"
                    )));
                }
                None => return Err(invalid(&format!("no {CRED_TYPE_LABEL} label"))),
            };
            let field = |key: &str| -> Result<Option<String>> {
                if let Some(value) = secret.string_data.get(key) {
                    return Ok(Some(value.clone()));
                }
                let Some(encoded) = secret.data.get(key) else {
                    return Ok(None);
                };
                use base64::Engine as _;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .map_err(|_| invalid(&format!("data.{key} is not base64")))?;
                String::from_utf8(bytes)
                    .map(Some)
                    .map_err(|_| invalid(&format!("data.{key} is not UTF-8 text")))
            };
            let credentials = Credentials::new(
                field("username")?.unwrap_or_default(),
                field("password")?.ok_or_else(|| invalid("no password"))?,
            );
            let is_regex = field("repoURLIsRegex")?.is_some_and(|v| v.trim() == "true");
            self = match (field("repoURL")?, field("repoURLPattern")?) {
                (Some(url), _) if !is_regex => self.with_url(kind, url, credentials),
                (Some(pattern), _) | (None, Some(pattern)) => self
                    .with_pattern(kind, &pattern, credentials)
                    .map_err(|e| invalid(&e.to_string()))?,
                (None, None) => return Err(invalid("no repoURL")),
            };
        }
        Ok(self)
    }
}

/// Lower-cases scheme and host and drops a trailing `/` and `.git`.
fn normalize_url(url: &str) -> String {
    let url = url.trim();
    let url = url.trim_end_matches('/');
    let url = url.strip_suffix(".git").unwrap_or(url);
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
            let path = if path.is_empty() {
                String::new()
            } else {
                format!("/{path}")
            };
            format!(
                "{}://{}{}",
                scheme.to_ascii_lowercase(),
                host.to_ascii_lowercase(),
                path
            )
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn lookup(p: &StaticCredentials, kind: CredentialType, url: &str) -> Option<Credentials> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(p.get(kind, url))
            .unwrap()
    }

    #[test]
    fn kargo_credential_secrets_are_read_from_string_data_and_data() {
        let yaml = r#"
apiVersion: v1
kind: Secret
metadata:
  name: gitops
  labels:
    kargo.akuity.io/cred-type: git
stringData:
  repoURL: https://git.example.com/org/gitops.git
  username: kargo
  password: s3cret
---
apiVersion: v1
kind: Secret
metadata:
  name: registry
  labels:
    kargo.akuity.io/cred-type: image
data:
  repoURL: Z2hjclwuaW8vYWNtZS8uKg==
  repoURLIsRegex: dHJ1ZQ==
  username: dXNlcg==
  password: dG9rZW4=
"#;
        let p = StaticCredentials::new()
            .with_secrets(yaml, "creds.yaml")
            .unwrap();
        let git = lookup(
            &p,
            CredentialType::Git,
            "https://GIT.example.com/org/gitops",
        )
        .unwrap();
        assert_eq!(
            (git.username.as_str(), git.password.as_str()),
            ("kargo", "s3cret")
        );
        // `ghcr\.io/acme/.*`, decoded from `data`.
        let image = lookup(&p, CredentialType::Image, "ghcr.io/acme/app").unwrap();
        assert_eq!(
            (image.username.as_str(), image.password.as_str()),
            ("user", "token")
        );
        assert!(lookup(&p, CredentialType::Image, "ghcr.io/other/app").is_none());
        assert!(
            lookup(
                &p,
                CredentialType::Helm,
                "https://git.example.com/org/gitops"
            )
            .is_none()
        );
    }

    #[test]
    fn bad_secrets_are_errors_naming_the_secret_and_never_the_password() {
        let secret = |labels: &str, data: &str| {
            format!(
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s1\n{labels}stringData:\n{data}"
            )
        };
        let label = "  labels:\n    kargo.akuity.io/cred-type: git\n";
        let cases = [
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s1\n".to_owned(),
                "not a v1 Secret",
            ),
            (
                secret("", "  repoURL: https://x\n  password: hunter2\n"),
                "no kargo.akuity.io/cred-type label",
            ),
            (
                secret(
                    "  labels:\n    kargo.akuity.io/cred-type: ssh\n",
                    "  repoURL: https://x\n  password: hunter2\n",
                ),
                "not git, image, helm or generic",
            ),
            (secret(label, "  repoURL: https://x\n"), "no password"),
            (secret(label, "  password: hunter2\n"), "no repoURL"),
            (
                secret(
                    label,
                    "  repoURL: '('\n  repoURLIsRegex: 'true'\n  password: hunter2\n",
                ),
                "invalid credentials URL pattern",
            ),
        ];
        for (yaml, expected) in cases {
            let err = StaticCredentials::new()
                .with_secrets(&yaml, "creds.yaml")
                .unwrap_err()
                .to_string();
            assert!(err.contains("creds.yaml"), "{err}");
            assert!(err.contains("s1"), "{err}");
            assert!(err.contains(expected), "{expected:?} in {err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
        let misplaced = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s1\nrepoURL: https://x\nstringData:\n  password: hunter2\n";
        let err = StaticCredentials::new()
            .with_secrets(misplaced, "creds.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("creds.yaml: not Kubernetes Secrets"), "{err}");
        assert!(err.contains("unknown field `repoURL`"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        for broken in [
            "apiVersion: v1\nkind: Secret\nstringData: {password: hunter2\n",
            "apiVersion: v1\nkind: Secret\nstringData: hunter2\n",
        ] {
            let err = StaticCredentials::new()
                .with_secrets(broken, "creds.yaml")
                .unwrap_err()
                .to_string();
            assert!(err.contains("creds.yaml: not Kubernetes Secrets"), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }
}
