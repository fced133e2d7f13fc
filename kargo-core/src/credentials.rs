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
/// - [`secret`](Self::secret) hands out the whole credential Secret that
///   matches, for providers that exchange its fields (a cloud key) for a
///   registry token; providers that keep no Secrets answer `Ok(None)`,
///   the default.
#[async_trait]
pub trait CredentialsProvider: Send + Sync + fmt::Debug + 'static {
    /// The credentials of `kind` for `url`, if any.
    async fn get(&self, kind: CredentialType, url: &str) -> Result<Option<Credentials>>;

    /// The credential Secret of `kind` whose `repoURL` matches `url`, if
    /// the provider keeps Secrets and one matches (Kargo's matching: the
    /// first exact match, else the first pattern).
    async fn secret(&self, kind: CredentialType, url: &str) -> Result<Option<CredentialSecret>> {
        let _ = (kind, url);
        Ok(None)
    }
}

/// A Kargo credential Secret: its name and its fields (`data` decoded and
/// `stringData`), whatever their shape: `username`/`password`, an AWS
/// access key (`awsRegion`, `awsAccessKeyID`, `awsSecretAccessKey`), a
/// Google service-account key (`gcpServiceAccountKey`).
///
/// `Debug` shows the name and the field names, never a value.
#[derive(Clone, PartialEq, Eq)]
pub struct CredentialSecret {
    name: String,
    fields: std::collections::BTreeMap<String, String>,
}

impl CredentialSecret {
    /// A Secret named `name` with `fields`.
    pub fn new(
        name: impl Into<String>,
        fields: impl IntoIterator<Item = (impl Into<String>, impl Into<String>)>,
    ) -> Self {
        CredentialSecret {
            name: name.into(),
            fields: fields
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The Secret's `metadata.name` (or `document N` when it had none).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value of field `key`, if the Secret has it.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    /// Every field, as `(key, value)` pairs in key order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The Secret's `username` and `password` (an empty user name when
    /// only a password is set), if it has a password.
    pub fn credentials(&self) -> Option<Credentials> {
        Some(Credentials::new(
            self.field("username").unwrap_or_default(),
            self.field("password")?,
        ))
    }
}

impl fmt::Debug for CredentialSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialSecret")
            .field("name", &self.name)
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The fields of an AWS access key in a credential Secret (Kargo's ECR
/// Secret); all three or none.
pub const AWS_KEY_FIELDS: [&str; 3] = ["awsRegion", "awsAccessKeyID", "awsSecretAccessKey"];

/// The field of a base64-encoded Google service-account key in a
/// credential Secret (Kargo's Google Artifact Registry Secret).
pub const GCP_KEY_FIELD: &str = "gcpServiceAccountKey";

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
/// Exact URLs match after Kargo's normalisation for the kind (for Git:
/// lowercased, without user information over HTTP(S) or `.git`, SCP-like
/// addresses as `ssh://` URLs; for images: Docker Hub's spellings folded;
/// trailing `/`s never matter); patterns are regular expressions matched against the
/// URL as given or as normalised. Entries are tried in the order they were
/// added, exact ones first.
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
    exact: Vec<(CredentialType, String, CredentialSecret)>,
    patterns: Vec<(CredentialType, regex_lite::Regex, CredentialSecret)>,
    /// Every Secret read by [`with_secrets`](Self::with_secrets), by
    /// namespace (empty: any project) and name, in the order read.
    named: Vec<(String, CredentialSecret)>,
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
            .field(
                "named",
                &self
                    .named
                    .iter()
                    .map(|(ns, s)| format!("{ns}/{}", s.name()))
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
        self,
        kind: CredentialType,
        url: impl AsRef<str>,
        credentials: Credentials,
    ) -> Self {
        let name = url.as_ref().to_owned();
        self.with_secret_url(kind, url, basic_secret(name, credentials))
    }

    /// Adds a credential Secret for one URL.
    pub fn with_secret_url(
        mut self,
        kind: CredentialType,
        url: impl AsRef<str>,
        secret: CredentialSecret,
    ) -> Self {
        self.exact
            .push((kind, normalize_for(kind, url.as_ref()), secret));
        self
    }

    /// Adds credentials for every URL matching `pattern` (a regular
    /// expression); fails if the pattern is invalid.
    pub fn with_pattern(
        self,
        kind: CredentialType,
        pattern: &str,
        credentials: Credentials,
    ) -> Result<Self> {
        self.with_secret_pattern(kind, pattern, basic_secret(pattern.to_owned(), credentials))
    }

    /// Adds a credential Secret for every URL matching `pattern` (a
    /// regular expression); fails if the pattern is invalid.
    pub fn with_secret_pattern(
        mut self,
        kind: CredentialType,
        pattern: &str,
        secret: CredentialSecret,
    ) -> Result<Self> {
        let regex = regex_lite::Regex::new(pattern).map_err(|e| {
            crate::Error::Invalid(format!("invalid credentials URL pattern {pattern:?}: {e}"))
        })?;
        self.patterns.push((kind, regex, secret));
        Ok(self)
    }

    /// The Secret of `kind` matching `url`: the first exact match, else
    /// the first pattern.
    pub fn find(&self, kind: CredentialType, url: &str) -> Option<&CredentialSecret> {
        let normalized = normalize_for(kind, url);
        let exact = self
            .exact
            .iter()
            .find(|(k, u, _)| *k == kind && *u == normalized)
            .map(|(_, _, s)| s);
        // A pattern cannot be normalised: as Kargo, try it on the URL as
        // given and as normalised.
        exact.or_else(|| {
            self.patterns
                .iter()
                .find(|(k, r, _)| *k == kind && (r.is_match(url) || r.is_match(&normalized)))
                .map(|(_, _, s)| s)
        })
    }

    /// The Secret named `name` for project `namespace`, among those read
    /// by [`with_secrets_opts`](Self::with_secrets_opts), whether or not it
    /// is labelled as credentials: a Secret whose `metadata.namespace` is
    /// `namespace` wins over one that has no namespace (which serves any
    /// project); among equals, the first read wins. This is how webhook
    /// receivers find their Secrets, which Kargo keeps as plain Secrets of
    /// the project without the [`CRED_TYPE_LABEL`] (read them with
    /// [`SecretsOptions::keep_unlabelled`]).
    ///
    /// ```
    /// # use kargo_core::credentials::StaticCredentials;
    /// # use kargo_core::credentials::SecretsOptions;
    /// let secrets = StaticCredentials::new().with_secrets_opts(r#"
    /// apiVersion: v1
    /// kind: Secret
    /// metadata: {name: gh-hook, namespace: demo}
    /// stringData: {secret: s3cret}
    /// "#, "secrets.yaml", SecretsOptions::default().keep_unlabelled()).unwrap();
    /// let hook = secrets.named_secret("demo", "gh-hook").unwrap();
    /// assert_eq!(hook.field("secret"), Some("s3cret"));
    /// assert!(secrets.named_secret("other", "gh-hook").is_none());
    /// ```
    pub fn named_secret(&self, namespace: &str, name: &str) -> Option<&CredentialSecret> {
        let named = |ns_matches: &dyn Fn(&str) -> bool| {
            self.named
                .iter()
                .find(|(ns, s)| ns_matches(ns) && s.name() == name)
                .map(|(_, s)| s)
        };
        named(&|ns| ns == namespace).or_else(|| named(&|ns| ns.is_empty()))
    }
}

/// A Secret holding `credentials` as `username` and `password`.
fn basic_secret(name: String, credentials: Credentials) -> CredentialSecret {
    CredentialSecret::new(
        name,
        [
            ("username", credentials.username),
            ("password", credentials.password),
        ],
    )
}

#[async_trait]
impl CredentialsProvider for StaticCredentials {
    async fn get(&self, kind: CredentialType, url: &str) -> Result<Option<Credentials>> {
        Ok(self.find(kind, url).and_then(CredentialSecret::credentials))
    }

    async fn secret(&self, kind: CredentialType, url: &str) -> Result<Option<CredentialSecret>> {
        Ok(self.find(kind, url).cloned())
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
    /// The project the Secret belongs to; none: any project.
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    labels: std::collections::BTreeMap<String, String>,
}

/// How [`StaticCredentials::with_secrets_opts`] reads Secrets.
///
/// ```
/// # use kargo_core::credentials::SecretsOptions;
/// let opts = SecretsOptions::default().keep_unlabelled();
/// assert!(opts.keeps_unlabelled());
/// assert!(!SecretsOptions::default().keeps_unlabelled());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SecretsOptions {
    keep_unlabelled: bool,
}

impl SecretsOptions {
    /// Keep a Secret without the [`CRED_TYPE_LABEL`] by name, for
    /// [`StaticCredentials::named_secret`], instead of refusing it. Such a
    /// Secret is no credential for any repository. Without this (the
    /// default), a missing label is an error: a file given as credentials
    /// holds credential Secrets only.
    pub fn keep_unlabelled(mut self) -> Self {
        self.keep_unlabelled = true;
        self
    }

    /// Whether Secrets without the label are kept.
    pub fn keeps_unlabelled(&self) -> bool {
        self.keep_unlabelled
    }
}

impl StaticCredentials {
    /// Adds the Kargo credential Secrets of `yaml`, refusing any Secret
    /// that is not one: [`with_secrets_opts`](Self::with_secrets_opts)
    /// with the default [`SecretsOptions`].
    pub fn with_secrets(self, yaml: &str, source: &str) -> Result<Self> {
        self.with_secrets_opts(yaml, source, SecretsOptions::default())
    }

    /// Adds the Kubernetes `v1` `Secret` documents of `yaml` (one or
    /// several), with their fields in `stringData` or base64-encoded in
    /// `data`.
    ///
    /// A Secret labelled [`CRED_TYPE_LABEL`] `git`, `image`, `helm` or
    /// `generic` is a Kargo credential Secret: it holds `repoURL` (a
    /// regular expression when `repoURLIsRegex` is `"true"`; the older
    /// `repoURLPattern` is read too) and either `username` and `password`,
    /// an AWS access key ([`AWS_KEY_FIELDS`], Kargo's ECR Secret) or a
    /// Google service-account key ([`GCP_KEY_FIELD`]). Every field is kept
    /// for [`CredentialsProvider::secret`]; [`CredentialsProvider::get`]
    /// answers with the username and password.
    ///
    /// A Secret without the label is refused, unless `opts` say
    /// [`keep_unlabelled`](SecretsOptions::keep_unlabelled): then it is no
    /// credential for any repository, only kept by name for
    /// [`named_secret`](Self::named_secret) (webhook receivers' Secrets are
    /// such). Every Secret read, labelled or not, can be found by name.
    ///
    /// `source` names the input in errors, which name the document but
    /// never a secret.
    pub fn with_secrets_opts(
        mut self,
        yaml: &str,
        source: &str,
        opts: SecretsOptions,
    ) -> Result<Self> {
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
                Some("git") => Some(CredentialType::Git),
                Some("image") => Some(CredentialType::Image),
                Some("helm") => Some(CredentialType::Helm),
                Some("generic") => Some(CredentialType::Generic),
                Some(other) => {
                    return Err(invalid(&format!(
                        "label {CRED_TYPE_LABEL} is {other:?}, not git, image, helm or generic"
                    )));
                }
                None if opts.keep_unlabelled => None,
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
            let keys: std::collections::BTreeSet<&String> = secret
                .data
                .keys()
                .chain(secret.string_data.keys())
                .collect();
            let mut fields = std::collections::BTreeMap::new();
            for key in keys {
                if let Some(value) = field(key)? {
                    fields.insert(key.clone(), value);
                }
            }
            let entry = CredentialSecret {
                name: name.clone(),
                fields,
            };
            let namespace = secret.metadata.namespace.clone().unwrap_or_default();
            self.named.push((namespace, entry.clone()));
            let Some(kind) = kind else {
                // Not credentials: kept by name only.
                continue;
            };
            let has = |key: &str| entry.fields.contains_key(key);
            let aws_fields = AWS_KEY_FIELDS.iter().filter(|k| has(k)).count();
            if aws_fields > 0 && aws_fields < AWS_KEY_FIELDS.len() {
                let missing: Vec<&str> =
                    AWS_KEY_FIELDS.iter().copied().filter(|k| !has(k)).collect();
                return Err(invalid(&format!(
                    "an AWS access key needs {}; {} missing",
                    AWS_KEY_FIELDS.join(", "),
                    missing.join(", ")
                )));
            }
            if !has("password") && aws_fields == 0 && !has(GCP_KEY_FIELD) {
                return Err(invalid(&format!(
                    "no password (nor {} or {GCP_KEY_FIELD})",
                    AWS_KEY_FIELDS.join(", ")
                )));
            }
            let is_regex = field("repoURLIsRegex")?.is_some_and(|v| v.trim() == "true");
            let (url, pattern) = (field("repoURL")?, field("repoURLPattern")?);
            self = match (url, pattern) {
                (Some(url), _) if !is_regex => self.with_secret_url(kind, url, entry),
                (Some(pattern), _) | (None, Some(pattern)) => self
                    .with_secret_pattern(kind, &pattern, entry)
                    .map_err(|e| invalid(&e.to_string()))?,
                (None, None) => return Err(invalid("no repoURL")),
            };
        }
        Ok(self)
    }
}

/// `url` as credentials of `kind` are matched, as Kargo's credentials
/// database normalises it: Git repositories with
/// [`normalize_git`](crate::urls::normalize_git), image repositories with
/// [`normalize_image`](crate::urls::normalize_image), chart repositories
/// with [`normalize_chart`](crate::urls::normalize_chart). Generic
/// endpoints (Argo CD servers, a kargo-rs use Kargo has not) have scheme
/// and host lowercased. Beyond Kargo, trailing `/`s never matter (so every
/// URL Kargo matches still matches).
fn normalize_for(kind: CredentialType, url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    match kind {
        CredentialType::Git => crate::urls::normalize_git(url),
        CredentialType::Image => crate::urls::normalize_image(url),
        CredentialType::Helm => crate::urls::normalize_chart(url),
        CredentialType::Generic => url::Url::parse(url)
            .map_or_else(|_| url.to_owned(), |u| u.as_str().to_owned())
            .trim_end_matches('/')
            .to_owned(),
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

    // The matching cases of Kargo's `TestGet`
    // (pkg/credentials/kubernetes/database_test.go). Namespaces play no
    // part here (one provider holds one project's Secrets); Kargo's refusal
    // to hand credentials to `http://` URLs is not kept (see the README).
    #[test]
    fn kargo_credentials_match_by_kind_normalised_url() {
        const GIT: &str = "https://github.com/akuity/kargo";
        // Could be mistaken for an SCP-like Git address.
        const IMAGE: &str = "my-registry.io:5000/image";
        let creds = |user: &str| Credentials::new(user, "fake-password");
        let who = |p: &StaticCredentials, kind, url: &str| {
            p.find(kind, url)
                .and_then(CredentialSecret::credentials)
                .map(|c| c.username)
        };
        let exact = StaticCredentials::new()
            .with_url(CredentialType::Git, GIT, creds("exact"))
            .with_url(CredentialType::Image, IMAGE, creds("exact"));
        let pattern = StaticCredentials::new()
            .with_pattern(CredentialType::Git, GIT, creds("pattern"))
            .unwrap()
            .with_pattern(CredentialType::Image, IMAGE, creds("pattern"))
            .unwrap()
            .with_pattern(CredentialType::Helm, "^oci://foo/bar", creds("chart"))
            .unwrap();
        let both = pattern
            .clone()
            .with_url(CredentialType::Git, GIT, creds("exact"));
        let cases = [
            (
                "git URL exact match",
                &exact,
                CredentialType::Git,
                GIT,
                Some("exact"),
            ),
            (
                "git URL pattern match",
                &pattern,
                CredentialType::Git,
                GIT,
                Some("pattern"),
            ),
            (
                "image URL exact match",
                &exact,
                CredentialType::Image,
                IMAGE,
                Some("exact"),
            ),
            (
                "image URL pattern match",
                &pattern,
                CredentialType::Image,
                IMAGE,
                Some("pattern"),
            ),
            (
                "precedence: exact match over pattern match",
                &both,
                CredentialType::Git,
                GIT,
                Some("exact"),
            ),
            (
                "no match",
                &both,
                CredentialType::Git,
                "http://github.com/no/secrets/should/match/this.git",
                None,
            ),
            (
                "regex normalization",
                &pattern,
                CredentialType::Helm,
                "oci://foo/bar/something",
                Some("chart"),
            ),
            // The kinds do not mix.
            (
                "an image secret is no git secret",
                &exact,
                CredentialType::Git,
                IMAGE,
                None,
            ),
        ];
        for (name, provider, kind, url, want) in cases {
            assert_eq!(who(provider, kind, url).as_deref(), want, "{name}");
        }
    }

    #[test]
    fn spellings_of_one_repository_share_its_credentials() {
        let git = StaticCredentials::new().with_url(
            CredentialType::Git,
            "https://github.com/acme/app",
            Credentials::new("bot", "pw"),
        );
        for url in [
            "https://github.com/acme/app.git",
            "https://someone@GitHub.com/Acme/App/",
            "HTTPS://github.com/acme/app.git/",
        ] {
            assert!(git.find(CredentialType::Git, url).is_some(), "{url}");
        }
        // SSH keeps its user: Kargo normalises an SCP-like address to ssh://.
        let ssh = StaticCredentials::new().with_url(
            CredentialType::Git,
            "ssh://git@github.com/acme/app.git",
            Credentials::new("git", "key"),
        );
        assert!(
            ssh.find(CredentialType::Git, "git@github.com:acme/app")
                .is_some()
        );
        assert!(
            ssh.find(CredentialType::Git, "ssh://github.com/acme/app")
                .is_none()
        );
        // A pattern is tried on the normalised URL too.
        let pattern = StaticCredentials::new()
            .with_pattern(
                CredentialType::Git,
                "^ssh://git@github\\.com/acme/",
                Credentials::new("git", "key"),
            )
            .unwrap();
        assert!(
            pattern
                .find(CredentialType::Git, "git@github.com:acme/app.git")
                .is_some()
        );
        // Docker Hub's spellings of one image repository.
        let image = StaticCredentials::new().with_url(
            CredentialType::Image,
            "docker.io/library/nginx",
            Credentials::new("u", "p"),
        );
        for url in [
            "nginx",
            "index.docker.io/library/nginx",
            "registry-1.docker.io/nginx",
            "nginx/",
        ] {
            assert!(image.find(CredentialType::Image, url).is_some(), "{url}");
        }
        // Generic endpoints: scheme and host case and a trailing `/`.
        let generic = StaticCredentials::new().with_url(
            CredentialType::Generic,
            "https://ArgoCD.example.com/",
            Credentials::new("admin", "pw"),
        );
        assert!(
            generic
                .find(CredentialType::Generic, "https://argocd.example.com")
                .is_some()
        );
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
    fn cloud_secrets_keep_every_field_and_have_no_basic_credentials() {
        let yaml = r#"
apiVersion: v1
kind: Secret
metadata:
  name: ecr
  labels:
    kargo.akuity.io/cred-type: image
stringData:
  repoURL: 123456789012.dkr.ecr.us-west-2.amazonaws.com/app
  awsRegion: us-west-2
  awsAccessKeyID: AKIDEXAMPLE
  awsSecretAccessKey: wJalrXUtnFEMI
---
apiVersion: v1
kind: Secret
metadata:
  name: gar
  labels:
    kargo.akuity.io/cred-type: helm
data:
  repoURL: b2NpOi8vdXMtZG9ja2VyXC5wa2dcLmRldi8uKg==
  repoURLIsRegex: dHJ1ZQ==
  gcpServiceAccountKey: e30=
"#;
        let p = StaticCredentials::new()
            .with_secrets(yaml, "creds.yaml")
            .unwrap();
        let url = "123456789012.dkr.ecr.us-west-2.amazonaws.com/app";
        assert!(lookup(&p, CredentialType::Image, url).is_none());
        let ecr = p.find(CredentialType::Image, url).unwrap();
        assert_eq!(ecr.name(), "ecr");
        assert_eq!(ecr.field("awsRegion"), Some("us-west-2"));
        assert_eq!(ecr.field("awsSecretAccessKey"), Some("wJalrXUtnFEMI"));
        let shown = format!("{ecr:?} {p:?}");
        assert!(shown.contains("awsAccessKeyID"), "{shown}");
        assert!(
            !shown.contains("AKIDEXAMPLE") && !shown.contains("wJalr"),
            "{shown}"
        );
        // `oci://us-docker\.pkg\.dev/.*`, decoded from `data`.
        let gar = p
            .find(CredentialType::Helm, "oci://us-docker.pkg.dev/p/charts/app")
            .unwrap();
        assert_eq!((gar.name(), gar.field(GCP_KEY_FIELD)), ("gar", Some("{}")));
    }

    #[test]
    fn unlabelled_secrets_are_kept_by_name_and_are_no_credentials() {
        let yaml = r#"
apiVersion: v1
kind: Secret
metadata:
  name: gh-hook
  namespace: demo
stringData:
  secret: s3cret
---
apiVersion: v1
kind: Secret
metadata:
  name: gh-hook
  namespace: other
data:
  secret: b3RoZXI=
---
apiVersion: v1
kind: Secret
metadata:
  name: shared-hook
type: Opaque
stringData:
  repoURL: https://git.example.com/org/gitops.git
  password: not-a-credential
---
apiVersion: v1
kind: Secret
metadata:
  name: shared-hook
  namespace: demo
stringData:
  token: project-one
---
apiVersion: v1
kind: Secret
metadata:
  name: gitops
  labels:
    kargo.akuity.io/cred-type: git
stringData:
  repoURL: https://git.example.com/org/gitops.git
  password: pw
"#;
        let keep = SecretsOptions::default().keep_unlabelled();
        let p = StaticCredentials::new()
            .with_secrets_opts(yaml, "secrets.yaml", keep)
            .unwrap();
        // By namespace, and decoded from `data`.
        let demo = p.named_secret("demo", "gh-hook").unwrap();
        assert_eq!(demo.field("secret"), Some("s3cret"));
        assert_eq!(
            p.named_secret("other", "gh-hook").unwrap().field("secret"),
            Some("other")
        );
        assert!(p.named_secret("third", "gh-hook").is_none());
        // A Secret without a namespace serves every project, but one of the
        // project itself wins.
        assert_eq!(
            p.named_secret("demo", "shared-hook")
                .unwrap()
                .field("token"),
            Some("project-one")
        );
        let shared = p.named_secret("third", "shared-hook").unwrap();
        assert_eq!(
            shared.fields().collect::<Vec<_>>(),
            vec![
                ("password", "not-a-credential"),
                ("repoURL", "https://git.example.com/org/gitops.git")
            ]
        );
        // Without the label a Secret is no credential, even with a
        // repoURL and a password; a labelled one is both.
        let git = lookup(
            &p,
            CredentialType::Git,
            "https://git.example.com/org/gitops",
        )
        .unwrap();
        assert_eq!(git.password, "pw");
        assert_eq!(
            p.named_secret("any", "gitops").unwrap().field("password"),
            Some("pw")
        );
        let shown = format!("{p:?}");
        assert!(shown.contains("demo/gh-hook"), "{shown}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("not-a-credential"),
            "{shown}"
        );
        // By default, a file of credentials holds only credential Secrets.
        let err = StaticCredentials::new()
            .with_secrets(yaml, "secrets.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Secret gh-hook: no kargo.akuity.io/cred-type label"),
            "{err}"
        );
        // An unlabelled Secret's `data` must still decode.
        let err = StaticCredentials::new()
            .with_secrets_opts(
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s1\ndata:\n  secret: '%%%'\n",
                "secrets.yaml",
                keep,
            )
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Secret s1: data.secret is not base64"),
            "{err}"
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
        let aws = secret(
            "  labels:\n    kargo.akuity.io/cred-type: image\n",
            "  repoURL: 123456789012.dkr.ecr.us-east-1.amazonaws.com/app\n  awsRegion: us-east-1\n  awsAccessKeyID: AKIDEXAMPLE\n",
        );
        let err = StaticCredentials::new()
            .with_secrets(&aws, "creds.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("Secret s1"), "{err}");
        assert!(err.contains("awsSecretAccessKey missing"), "{err}");
        assert!(!err.contains("AKIDEXAMPLE"), "{err}");
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
