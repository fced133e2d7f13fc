//! Registry plumbing shared by `oci-push` and `oci-download`: parsing
//! references (`oci://` for Helm charts), clients with credentials from the
//! [`CredentialsProvider`](kargo_core::credentials::CredentialsProvider),
//! cancellation, and one mapping of registry errors to step errors.
//! Messages never hold credentials.

use std::future::Future;
use std::time::Duration;

use kargo_core::credentials::CredentialType;
use kargo_core::step::{StepContext, StepError, StepResultExt};
use kargo_sources::oci::registry_auth;
use oci_client::client::{Client, ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Reference, RegistryOperation};
use sha2::{Digest as _, Sha256};

/// The prefix of Helm chart references; it selects Helm credentials.
pub(crate) const HELM_PREFIX: &str = "oci://";

/// OCI and Docker image index media types.
pub(crate) const INDEX_TYPES: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// OCI and Docker image manifest media types.
pub(crate) const MANIFEST_TYPES: &[&str] = &[
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// Every manifest type a step accepts.
pub(crate) const ACCEPTED: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// One side of a registry operation: where, and a client authenticated
/// for it.
pub(crate) struct Endpoint {
    pub(crate) reference: Reference,
    /// `registry/repository` without tag or digest, for comparisons.
    pub(crate) repository: String,
    pub(crate) client: Client,
    auth: RegistryAuth,
    /// The reference as the config wrote it, for messages.
    pub(crate) shown: String,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("reference", &self.shown)
            .finish_non_exhaustive()
    }
}

/// Parses `raw` (field `field` of step `kind`): `registry/repo:tag`,
/// `registry/repo@sha256:…`, either with an `oci://` prefix.
pub(crate) fn parse(
    kind: &str,
    field: &str,
    raw: &str,
) -> Result<(Reference, CredentialType), StepError> {
    let (rest, cred) = match raw.strip_prefix(HELM_PREFIX) {
        Some(rest) => (rest, CredentialType::Helm),
        None => (raw, CredentialType::Image),
    };
    let invalid =
        |why: String| StepError::failed(format!("invalid {kind} config: `{field}` `{raw}`: {why}"));
    let last = rest.rsplit('/').next().unwrap_or_default();
    if !rest.contains('/') || !(last.contains(':') || last.contains('@')) {
        return Err(invalid(
            "expected registry/repository:tag or registry/repository@digest".into(),
        ));
    }
    let reference: Reference = rest.parse().map_err(|e| invalid(format!("{e}")))?;
    Ok((reference, cred))
}

/// Whether `registry` (`host[:port]`) is spoken to over plain HTTP:
/// loopback hosts and those the host listed.
fn plain_http(registry: &str, listed: &[String]) -> bool {
    kargo_core::urls::is_loopback_host(registry) || listed.iter().any(|r| r == registry)
}

/// The client settings for `registry`: plain HTTP for loopback and listed
/// registries, certificates unchecked only when the config asks.
fn client_config(
    registry: &str,
    insecure_skip_tls_verify: bool,
    listed: &[String],
) -> ClientConfig {
    let protocol = if plain_http(registry, listed) {
        ClientProtocol::HttpsExcept(vec![registry.to_owned()])
    } else {
        ClientProtocol::Https
    };
    ClientConfig {
        protocol,
        accept_invalid_certificates: insecure_skip_tls_verify,
        read_timeout: Some(Duration::from_secs(60)),
        connect_timeout: Some(Duration::from_secs(10)),
        ..Default::default()
    }
}

/// A client for `reference`, with the credentials the provider has for it
/// (`oci://` references use Helm credentials, others image credentials).
pub(crate) async fn connect(
    ctx: &StepContext,
    kind: &str,
    raw: &str,
    reference: Reference,
    cred: CredentialType,
    insecure_skip_tls_verify: bool,
    plain_http_registries: &[String],
) -> Result<Endpoint, StepError> {
    let registry = reference.resolve_registry().to_owned();
    let repository = format!("{}/{}", reference.registry(), reference.repository());
    let lookup = match cred {
        CredentialType::Helm => format!("{HELM_PREFIX}{repository}"),
        _ => repository.clone(),
    };
    let found = ctx.credentials.get(cred, &lookup).await;
    let auth = registry_auth(
        found.with_step_context(|| format!("{kind}: cannot look up credentials for `{lookup}`"))?,
    );
    let client = Client::new(client_config(
        &registry,
        insecure_skip_tls_verify,
        plain_http_registries,
    ));
    client.store_auth_if_needed(&registry, &auth).await;
    Ok(Endpoint {
        reference,
        repository,
        client,
        auth,
        shown: raw.to_owned(),
    })
}

impl Endpoint {
    /// The same repository at `tag_or_digest`.
    pub(crate) fn at(&self, tag_or_digest: &str) -> Reference {
        let registry = self.reference.registry().to_owned();
        let repository = self.reference.repository().to_owned();
        if tag_or_digest.contains(':') {
            Reference::with_digest(registry, repository, tag_or_digest.to_owned())
        } else {
            Reference::with_tag(registry, repository, tag_or_digest.to_owned())
        }
    }

    /// Fetches a manifest: its bytes, digest and media type.
    pub(crate) async fn manifest(
        &self,
        ctx: &StepContext,
        kind: &str,
        at: &Reference,
    ) -> Result<(Vec<u8>, String, String), StepError> {
        let (bytes, digest) = cancellable(
            ctx,
            kind,
            self.client.pull_manifest_raw(at, &self.auth, ACCEPTED),
        )
        .await?
        .map_err(|e| {
            registry_error(
                kind,
                &format!("getting the manifest of `{}`", at.whole()),
                e,
            )
        })?;
        let media_type = media_type(&bytes).ok_or_else(|| {
            StepError::terminal(format!(
                "{kind}: the manifest of `{}` is not valid JSON with a known media type",
                at.whole()
            ))
        })?;
        Ok((bytes.to_vec(), digest, media_type))
    }

    /// Reads a blob whole, at most `cap` bytes (more is an error, whatever
    /// size the manifest announced); the client checks the digest.
    pub(crate) async fn blob(
        &self,
        ctx: &StepContext,
        kind: &str,
        digest: &str,
        cap: u64,
    ) -> Result<Vec<u8>, StepError> {
        let at = self.at(digest);
        let mut out = CappedBuffer {
            bytes: Vec::new(),
            cap,
        };
        cancellable(ctx, kind, self.client.pull_blob(&at, digest, &mut out))
            .await?
            .map_err(|e| {
                if out.bytes.len() as u64 >= cap {
                    return StepError::terminal(format!(
                        "{kind}: blob {digest} of `{}` exceeds the limit of {cap} bytes",
                        self.repository
                    ));
                }
                registry_error(
                    kind,
                    &format!("getting blob {digest} of `{}`", self.repository),
                    e,
                )
            })?;
        Ok(out.bytes)
    }

    /// Authenticates for pushing (so a missing permission shows up before
    /// any upload).
    pub(crate) async fn authorize_push(
        &self,
        ctx: &StepContext,
        kind: &str,
    ) -> Result<(), StepError> {
        cancellable(
            ctx,
            kind,
            self.client
                .auth(&self.reference, &self.auth, RegistryOperation::Push),
        )
        .await?
        .map(|_| ())
        .map_err(|e| {
            registry_error(
                kind,
                &format!("authenticating to push to `{}`", self.repository),
                e,
            )
        })
    }
}

/// An in-memory sink that refuses to grow past `cap` bytes.
struct CappedBuffer {
    bytes: Vec<u8>,
    cap: u64,
}

impl tokio::io::AsyncWrite for CappedBuffer {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if (self.bytes.len() + buf.len()) as u64 > self.cap {
            let cap = self.cap as usize;
            self.bytes.resize(cap, 0);
            return std::task::Poll::Ready(Err(std::io::Error::other(
                "blob exceeds the size limit",
            )));
        }
        self.bytes.extend_from_slice(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// The `mediaType` a manifest declares, or the one its shape implies.
pub(crate) fn media_type(bytes: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    match value.get("mediaType").and_then(|m| m.as_str()) {
        Some(m) => Some(m.to_owned()),
        None if value.get("manifests").is_some() => Some(INDEX_TYPES[0].to_owned()),
        None if value.get("layers").is_some() => Some(MANIFEST_TYPES[0].to_owned()),
        None => None,
    }
}

/// `sha256:<hex>` of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Runs `op` unless the step is cancelled first.
pub(crate) async fn cancellable<T>(
    ctx: &StepContext,
    kind: &str,
    op: impl Future<Output = T>,
) -> Result<T, StepError> {
    tokio::select! {
        r = op => Ok(r),
        () = ctx.cancel.cancelled() => Err(StepError::terminal(format!("{kind}: cancelled"))),
    }
}

fn registry_codes(e: &OciDistributionError) -> impl Iterator<Item = &OciErrorCode> {
    let errors = match e {
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.as_slice(),
        _ => &[],
    };
    errors.iter().map(|e| &e.code)
}

/// Maps a registry error by the rule: transient failures (network, 429,
/// 5xx) are retryable, anything else (denied access, unknown manifests or
/// blobs: the config was usable) is terminal.
pub(crate) fn registry_error(kind: &str, what: &str, e: OciDistributionError) -> StepError {
    let denied = matches!(
        e,
        OciDistributionError::UnauthorizedError { .. }
            | OciDistributionError::AuthenticationFailure(_)
            | OciDistributionError::ServerError {
                code: 401 | 403,
                ..
            }
    ) || registry_codes(&e)
        .any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied));
    if denied {
        return StepError::terminal(format!(
            "{kind}: {what}: access denied (401/403): check the registry credentials"
        ))
        .with_source(e);
    }
    let not_found = matches!(
        e,
        OciDistributionError::ImageManifestNotFoundError(_)
            | OciDistributionError::ServerError { code: 404, .. }
    ) || registry_codes(&e).any(|c| {
        matches!(
            c,
            OciErrorCode::ManifestUnknown
                | OciErrorCode::NotFound
                | OciErrorCode::NameUnknown
                | OciErrorCode::BlobUnknown
        )
    });
    if not_found {
        return StepError::terminal(format!("{kind}: {what}: not found")).with_source(e);
    }
    let transient = match &e {
        OciDistributionError::ServerError { code, .. } => *code == 429 || *code >= 500,
        OciDistributionError::RequestError(_) => true,
        e => registry_codes(e).any(|c| matches!(c, OciErrorCode::Toomanyrequests)),
    };
    if transient {
        StepError::retryable(format!("{kind}: {what}")).with_source(e)
    } else {
        StepError::terminal(format!("{kind}: {what}")).with_source(e)
    }
}

/// A credentials provider for the steps' unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::{Arc, Mutex};

    use kargo_core::Workspace;
    use kargo_core::credentials::{CredentialType, Credentials, CredentialsProvider};
    use kargo_core::step::StepContext;

    /// What a [`Recorder`] answers.
    #[derive(Debug, Clone)]
    pub(crate) enum Answer {
        /// No credentials.
        Nothing,
        /// These username and password.
        Found(&'static str, &'static str),
        /// A failing lookup.
        Fails,
    }

    /// A credentials provider that records the lookups it gets.
    #[derive(Debug)]
    pub(crate) struct Recorder {
        answer: Answer,
        asked: Mutex<Vec<(CredentialType, String)>>,
    }

    #[async_trait::async_trait]
    impl CredentialsProvider for Recorder {
        async fn get(
            &self,
            kind: CredentialType,
            url: &str,
        ) -> kargo_core::Result<Option<Credentials>> {
            self.asked
                .lock()
                .expect("not poisoned")
                .push((kind, url.to_owned()));
            match self.answer {
                Answer::Nothing => Ok(None),
                Answer::Found(user, password) => Ok(Some(Credentials::new(user, password))),
                Answer::Fails => Err(kargo_core::Error::generic(
                    "test credentials",
                    "credentials database error",
                )),
            }
        }
    }

    impl Recorder {
        /// A provider answering `answer`.
        pub(crate) fn new(answer: Answer) -> Self {
            Recorder {
                answer,
                asked: Mutex::default(),
            }
        }

        /// The lookups made so far.
        pub(crate) fn asked(&self) -> Vec<(CredentialType, String)> {
            self.asked.lock().expect("not poisoned").clone()
        }
    }

    /// A step context in a fresh work directory whose credentials
    /// provider answers `answer`; the directory lives as long as the
    /// returned guard.
    pub(crate) fn context(answer: Answer) -> (tempfile::TempDir, StepContext, Arc<Recorder>) {
        let dir = tempfile::tempdir().unwrap();
        let recorder = Arc::new(Recorder::new(answer));
        let ctx = StepContext::new(Workspace::new(dir.path()).unwrap())
            .with_credentials(recorder.clone());
        (dir, ctx, recorder)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kargo_core::Workspace;
    use kargo_core::step::ErrorKind;

    use super::testing::{Answer, Recorder};
    use super::*;

    /// Kargo: oci_common_test.go, Test_parseOCIReference (every case).
    #[test]
    fn references_need_a_tag_or_digest_and_oci_selects_helm_credentials() {
        let cases = [
            // standard registry reference
            (
                "registry.example.com/image:tag",
                CredentialType::Image,
                "registry.example.com/image:tag",
            ),
            // OCI Helm reference
            (
                "oci://registry.example.com/chart:1.0.0",
                CredentialType::Helm,
                "registry.example.com/chart:1.0.0",
            ),
            // OCI reference with port
            (
                "oci://localhost:5000/chart:latest",
                CredentialType::Helm,
                "localhost:5000/chart:latest",
            ),
            // standard registry reference with port
            (
                "an.internal.registry.com:5050/myrepo/myimage:latest",
                CredentialType::Image,
                "an.internal.registry.com:5050/myrepo/myimage:latest",
            ),
        ];
        for (raw, cred, whole) in cases {
            let (r, c) = parse("k", "imageRef", raw).unwrap();
            assert_eq!((c, r.whole().as_str()), (cred, whole), "{raw}");
        }
        let (r, c) = parse("k", "srcRef", "oci://127.0.0.1:5000/charts/app:1.0.0").unwrap();
        assert_eq!(c, CredentialType::Helm);
        assert_eq!(r.repository(), "charts/app");
        assert_eq!(r.tag(), Some("1.0.0"));
        let (r, c) = parse("k", "srcRef", "registry.example.com/app@sha256:0123456789012345678901234567890123456789012345678901234567890123").unwrap();
        assert_eq!(c, CredentialType::Image);
        assert!(r.digest().is_some());
        for bad in [
            // Kargo's "invalid reference"
            "invalid::reference",
            "app",
            "registry.example.com/app",
            "registry.example.com:5000/app",
            "a b/c:d",
        ] {
            let err = parse("k", "destRef", bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Failed, "{bad}");
            assert!(err.to_string().contains("`destRef`"), "{err}");
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn loopback_and_listed_registries_use_plain_http() {
        assert!(plain_http("127.0.0.1:5000", &[]));
        assert!(plain_http("localhost", &[]));
        assert!(!plain_http("registry.example.com", &[]));
        assert!(plain_http(
            "registry.lan:5000",
            &["registry.lan:5000".into()]
        ));
    }

    /// Kargo: oci_common_test.go, Test_ociHTTPTransport ("default TLS
    /// verification", "skip TLS verification").
    #[test]
    fn certificates_are_checked_unless_the_config_skips_verification() {
        let checked = client_config("registry.example.com", false, &[]);
        assert!(!checked.accept_invalid_certificates);
        assert!(matches!(checked.protocol, ClientProtocol::Https));
        let skipped = client_config("registry.example.com", true, &[]);
        assert!(skipped.accept_invalid_certificates);
        let local = client_config("127.0.0.1:5000", false, &[]);
        assert!(
            matches!(&local.protocol, ClientProtocol::HttpsExcept(r) if r == &["127.0.0.1:5000"])
        );
    }

    /// Connects to `raw` with a provider answering `answer`: the endpoint
    /// (or error) and the lookups made.
    async fn connect_with(
        raw: &str,
        answer: Answer,
    ) -> (Result<Endpoint, StepError>, Vec<(CredentialType, String)>) {
        let dir = tempfile::tempdir().unwrap();
        let recorder = Arc::new(Recorder::new(answer));
        let ctx = StepContext::new(Workspace::new(dir.path()).unwrap())
            .with_credentials(recorder.clone());
        let (reference, cred) = parse("k", "imageRef", raw).unwrap();
        let endpoint = connect(&ctx, "k", raw, reference, cred, false, &[]).await;
        let asked = recorder.asked();
        (endpoint, asked)
    }

    /// Kargo: oci_common_test.go, Test_ociAuthOption (every case) and
    /// Test_buildOCIRemoteOptions (every case): the lookup's type and URL,
    /// the auth used, and a failing lookup.
    #[tokio::test]
    async fn credentials_are_looked_up_by_type_and_repository() {
        let image = "registry.example.com/image:tag";
        let chart = "oci://registry.example.com/chart:1.0.0";
        let basic = |u: &str, p: &str| RegistryAuth::Basic(u.into(), p.into());
        let cases = [
            // no credentials for image
            (image, Answer::Nothing, RegistryAuth::Anonymous),
            // no credentials for Helm
            (chart, Answer::Nothing, RegistryAuth::Anonymous),
            // valid image credentials
            (image, Answer::Found("user", "pass"), basic("user", "pass")),
            // valid Helm credentials with OCI prefix
            (
                chart,
                Answer::Found("helm-user", "helm-pass"),
                basic("helm-user", "helm-pass"),
            ),
            // empty username and password
            (image, Answer::Found("", ""), RegistryAuth::Anonymous),
            // kargo-rs: a password alone is a token
            (
                image,
                Answer::Found("", "t0ken"),
                RegistryAuth::Bearer("t0ken".into()),
            ),
        ];
        for (raw, answer, auth) in cases {
            let (endpoint, asked) = connect_with(raw, answer.clone()).await;
            let endpoint = endpoint.unwrap();
            assert!(
                endpoint.auth == auth,
                "{raw} {answer:?}: {:?}",
                endpoint.auth
            );
            let expected = if raw.starts_with(HELM_PREFIX) {
                (CredentialType::Helm, "oci://registry.example.com/chart")
            } else {
                (CredentialType::Image, "registry.example.com/image")
            };
            assert_eq!(asked.len(), 1);
            assert_eq!((asked[0].0, asked[0].1.as_str()), expected);
        }
        for raw in [image, chart] {
            let (endpoint, asked) = connect_with(raw, Answer::Fails).await;
            let err = endpoint.unwrap_err();
            let message = err.to_string();
            assert!(message.contains("cannot look up credentials"), "{message}");
            assert!(message.contains(&asked[0].1), "{message}");
            assert!(message.contains("credentials database error"), "{message}");
        }
    }
}
