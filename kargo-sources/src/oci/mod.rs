//! Container images and OCI artifacts, from registries and from OCI
//! image-layout directories.
//!
//! - [`ImageSource`] handles `image` subscriptions with Kargo's fields and
//!   rules: `imageSelectionStrategy` (`SemVer`, the default; `Lexical`;
//!   `Digest`, which follows the mutable tag named by `constraint`;
//!   `NewestBuild`), `constraint`, `strictSemvers`, `allowTagsRegexes` /
//!   `ignoreTagsRegexes` (an ignore match wins), `platform`
//!   (`os/arch[/variant]`, resolved through image indexes) and
//!   `discoveryLimit` (1 to 100; applied after filtering).
//! - [`ArtifactSource`] handles generic `oci` subscriptions: any OCI
//!   artifact (a Lambda image, a policy bundle, a chart) becomes one of
//!   the Freight's `artifacts` (see [`artifact`]).
//!
//! # Where images come from
//! A `repoURL` names a registry repository (`ghcr.io/acme/app`,
//! `nginx`, `127.0.0.1:5000/app`) reached with oci-client: anonymously,
//! with basic credentials, or with a bearer token (a [`Credentials`] with
//! an empty user name; see [`registry_auth`]), through the registry's
//! token service when it asks for one.
//! Cloud registries (ECR, Google Artifact Registry, ACR) take short-lived
//! tokens: wrap the provider in `kargo_credentials::CloudCredentials`,
//! which exchanges Kargo's cloud-key Secrets or the ambient identity.
//! Loopback registries (`localhost`, `127.0.0.0/8`, `[::1]`) and those
//! named with [`Builder::with_plain_http`] are spoken to over plain HTTP;
//! `insecureSkipTLSVerify` turns certificate checks off.
//!
//! `oci-layout://DIR` names an [OCI image-layout directory] instead, whose
//! tags are the `org.opencontainers.image.ref.name` annotations of its
//! `index.json`; [`Builder::with_layout`] maps a registry `repoURL` onto a
//! directory, so the same Warehouse runs offline.
//!
//! # Departures from Kargo
//! - With `platform`, a single-platform image matches when its config's
//!   `os`/`architecture`/`variant` do (Kargo only matches image indexes).
//! - Tag listing is paginated (`n`, `last`) and stops when a page brings
//!   nothing new, so registries that ignore either cannot loop it.
//! - Requests failing with 429, 5xx or a timeout are retried with
//!   exponential backoff ([`Builder::with_retries`]); `Retry-After` is not
//!   honoured, as oci-client does not pass response headers on.
//! - At most [`Options::max_requests_per_registry`] requests are in flight
//!   to one registry at a time, across repositories and Warehouses.
//! - Metadata is cached by digest per source, so unchanged images cost one
//!   manifest request on later discoveries (Kargo's `cacheByTag` is not
//!   needed and is ignored).
//!
//! [OCI image-layout directory]: https://github.com/opencontainers/image-spec/blob/main/image-layout.md

pub mod artifact;
pub(crate) mod repo;
mod select;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use kargo_core::credentials::{CredentialType, Credentials, CredentialsProvider, NoCredentials};
use kargo_core::model::{
    ImageSelectionStrategy, ImageSubscription, RepoSubscription, SubscriptionSource,
};
use oci_client::Reference;
use oci_client::secrets::RegistryAuth;
use regex_lite::Regex;
use sha2::{Digest as _, Sha256};
use tracing::Instrument;

pub use artifact::ArtifactSource;
use repo::{Layout, Remote, Repository};
use select::{MetaCache, Platform, Selected, Selector};

use crate::source::{
    Capabilities, DiscoverOptions, Discovered, DiscoveredImage, ImageDiscovery, Source, unsupported,
};
use kargo_core::semver::Constraint;

/// The subscription key [`ImageSource`] handles.
pub const KIND: &str = "image";

/// The prefix of a `repoURL` naming an OCI image-layout directory.
pub const LAYOUT_SCHEME: &str = "oci-layout://";

/// The error of image and OCI artifact discovery.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A subscription field is unusable.
    #[error("invalid `{field}`: {reason}")]
    Invalid {
        /// The field, e.g. `constraint`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The registry refused the credentials (or asked for some).
    #[error("registry {url} refused access (check the credentials): {source}")]
    Unauthorized {
        /// The repository.
        url: String,
        /// What oci-client reported.
        source: oci_client::errors::OciDistributionError,
    },
    /// Any other registry failure: unreachable, 5xx, a bad answer.
    #[error("registry {url}: {what}: {source}")]
    Registry {
        /// The repository.
        url: String,
        /// What was being done.
        what: String,
        /// What oci-client reported.
        source: oci_client::errors::OciDistributionError,
    },
    /// An image-layout directory could not be read.
    #[error("OCI layout {path}: {source}")]
    Layout {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: kargo_core::BoxError,
    },
    /// A manifest or config that cannot be understood.
    #[error("manifest {digest}: {reason}")]
    Manifest {
        /// Its digest.
        digest: String,
        /// Why.
        reason: String,
    },
    /// A listed tag had no manifest when it was read.
    #[error("tag `{tag}` was listed but has no manifest")]
    TagVanished {
        /// The tag.
        tag: String,
    },
    /// The credentials provider failed.
    #[error("looking up credentials: {0}")]
    Credentials(#[source] kargo_core::Error),
    /// Discovery was cancelled.
    #[error("discovery was cancelled")]
    Cancelled,
    /// An error, with the subscription it happened in.
    #[error("{subscription}: {source}")]
    Subscription {
        /// `image subscription "name" (repoURL)`, or similar.
        subscription: String,
        /// The error.
        source: Box<Error>,
    },
}

impl Error {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Error {
        Error::Invalid {
            field,
            reason: reason.into(),
        }
    }

    pub(crate) fn in_subscription(self, subscription: String) -> Error {
        Error::Subscription {
            subscription,
            source: Box::new(self),
        }
    }

    /// Whether the failure may pass on another attempt: the registry was
    /// unreachable, timed out, or answered 429 or 5xx, or the credentials
    /// provider failed temporarily.
    pub fn is_temporary(&self) -> bool {
        match self.root() {
            Error::Credentials(e) => e.is_temporary(),
            Error::Registry { source, .. } => {
                matches!(
                    source,
                    oci_client::errors::OciDistributionError::RequestError(_)
                ) || repo::is_transient(source)
            }
            _ => false,
        }
    }

    fn root(&self) -> &Error {
        match self {
            Error::Subscription { source, .. } => source.root(),
            e => e,
        }
    }
}

impl From<Error> for kargo_core::Error {
    fn from(e: Error) -> Self {
        match e.root() {
            Error::Invalid { .. } => kargo_core::Error::Invalid(e.to_string()),
            _ => {
                let status = kargo_core::ErrorStatus::temporary_if(e.is_temporary());
                kargo_core::Error::with_status(KIND, status, e)
            }
        }
    }
}

/// Host settings of the OCI sources.
#[derive(Clone)]
#[non_exhaustive]
pub struct Options {
    /// Where registry credentials come from; none by default.
    pub credentials: Arc<dyn CredentialsProvider>,
    /// Registries (`host[:port]`) spoken to over plain HTTP, besides
    /// loopback ones.
    pub plain_http: Vec<String>,
    /// `repoURL` -> image-layout directory.
    pub layouts: BTreeMap<String, PathBuf>,
    /// Relative `oci-layout://` paths resolve against this directory (the
    /// process's current directory when unset).
    pub layout_base: Option<PathBuf>,
    /// Tags asked for per page (`n`). Defaults to 1000.
    pub page_size: usize,
    /// The most tag pages read from one repository. Defaults to 1000.
    pub max_tag_pages: usize,
    /// Retries of a registry request that failed with 429, 5xx or a
    /// timeout. Defaults to 3.
    pub retries: u32,
    /// The pause before the first retry, doubled before each next one.
    /// Defaults to 250 ms.
    pub retry_backoff: std::time::Duration,
    /// The most requests in flight to one registry (`host[:port]`) from
    /// this source and the sources sharing its settings, whatever the
    /// repository or Warehouse. Defaults to 16.
    pub max_requests_per_registry: usize,
    /// The largest `index.yaml` of a classic Helm chart repository read
    /// (feature `helm`); a larger one is an error naming its URL and this
    /// limit. Defaults to [`DEFAULT_MAX_INDEX_BYTES`].
    pub max_index_bytes: u64,
}

/// The default of [`Options::max_index_bytes`]: 128 MiB, several times the
/// largest public chart repository indexes.
pub const DEFAULT_MAX_INDEX_BYTES: u64 = 128 * 1024 * 1024;

impl Default for Options {
    fn default() -> Self {
        Options {
            credentials: Arc::new(NoCredentials),
            plain_http: Vec::new(),
            layouts: BTreeMap::new(),
            layout_base: None,
            page_size: 1000,
            max_tag_pages: 1000,
            retries: 3,
            retry_backoff: std::time::Duration::from_millis(250),
            max_requests_per_registry: 16,
            max_index_bytes: DEFAULT_MAX_INDEX_BYTES,
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("credentials", &self.credentials)
            .field("plain_http", &self.plain_http)
            .field("layouts", &self.layouts)
            .field("layout_base", &self.layout_base)
            .field("page_size", &self.page_size)
            .field("max_tag_pages", &self.max_tag_pages)
            .field("retries", &self.retries)
            .field("retry_backoff", &self.retry_backoff)
            .field("max_requests_per_registry", &self.max_requests_per_registry)
            .field("max_index_bytes", &self.max_index_bytes)
            .finish()
    }
}

/// Builds an [`ImageSource`] or an [`ArtifactSource`].
#[derive(Debug, Clone, Default)]
pub struct Builder {
    options: Options,
}

impl Builder {
    /// Registry credentials come from `provider`.
    pub fn with_credentials(mut self, provider: Arc<dyn CredentialsProvider>) -> Self {
        self.options.credentials = provider;
        self
    }

    /// Speak plain HTTP to `registry` (`host[:port]`).
    pub fn with_plain_http(mut self, registry: impl Into<String>) -> Self {
        self.options.plain_http.push(registry.into());
        self
    }

    /// Read `repo_url` from the image-layout directory `dir`.
    pub fn with_layout(mut self, repo_url: impl Into<String>, dir: impl Into<PathBuf>) -> Self {
        self.options.layouts.insert(repo_url.into(), dir.into());
        self
    }

    /// Resolve relative `oci-layout://` paths against `dir`.
    pub fn with_layout_base(mut self, dir: impl Into<PathBuf>) -> Self {
        self.options.layout_base = Some(dir.into());
        self
    }

    /// Ask for `n` tags per page (at least 1).
    pub fn with_page_size(mut self, n: usize) -> Self {
        self.options.page_size = n.max(1);
        self
    }

    /// Read at most `n` pages of tags from one repository (at least 1).
    pub fn with_max_tag_pages(mut self, n: usize) -> Self {
        self.options.max_tag_pages = n.max(1);
        self
    }

    /// Retry a request failing with 429, 5xx or a timeout `retries`
    /// times, pausing `backoff`, then twice as long each time.
    pub fn with_retries(mut self, retries: u32, backoff: std::time::Duration) -> Self {
        self.options.retries = retries;
        self.options.retry_backoff = backoff;
        self
    }

    /// Keep at most `n` requests in flight to one registry (at least 1).
    pub fn with_max_requests_per_registry(mut self, n: usize) -> Self {
        self.options.max_requests_per_registry = n.max(1);
        self
    }

    /// Read a classic chart repository's `index.yaml` only up to `bytes`
    /// (see [`Options::max_index_bytes`]).
    pub fn with_max_index_bytes(mut self, bytes: u64) -> Self {
        self.options.max_index_bytes = bytes;
        self
    }

    /// The options as set.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// An image source with these settings.
    pub fn build(self) -> ImageSource {
        ImageSource {
            core: Arc::new(Core::new(self.options)),
        }
    }

    /// A Helm chart source with these settings (for `oci://` charts).
    #[cfg(feature = "helm")]
    pub fn build_charts(self) -> crate::helm::ChartSource {
        crate::helm::ChartSource::from_core(Arc::new(Core::new(self.options)))
    }

    /// An OCI artifact source with these settings.
    pub fn build_artifacts(self) -> ArtifactSource {
        ArtifactSource::from_core(Arc::new(Core::new(self.options)))
    }
}

/// What both OCI sources share: settings, clients, the metadata cache.
pub(crate) struct Core {
    pub(crate) options: Options,
    clients: Mutex<HashMap<ClientKey, oci_client::Client>>,
    /// One request limit per registry.
    limits: Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
    cache: MetaCache,
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Which client serves a repository.
#[derive(PartialEq, Eq, Hash)]
struct ClientKey {
    registry: String,
    plain_http: bool,
    skip_tls_verify: bool,
    /// A hash of the credentials.
    identity: String,
}

/// What a selection is asked for, once parsed from a subscription.
struct Query<'a> {
    repo_url: &'a str,
    strategy: ImageSelectionStrategy,
    constraint: &'a str,
    strict_semvers: bool,
    allow: &'a [String],
    ignore: &'a [String],
    platform: &'a str,
    artifact_type: Option<String>,
    insecure_skip_tls_verify: bool,
    discovery_limit: u32,
    images_only: bool,
}

fn compile_all(field: &'static str, patterns: &[String]) -> Result<Vec<Regex>, Error> {
    patterns
        .iter()
        .map(|p| Regex::new(p).map_err(|e| Error::invalid(field, format!("`{p}`: {e}"))))
        .collect()
}

impl Core {
    fn new(options: Options) -> Self {
        Core {
            options,
            clients: Mutex::new(HashMap::new()),
            limits: Mutex::new(HashMap::new()),
            cache: MetaCache::default(),
        }
    }

    fn selector(q: &Query<'_>) -> Result<Selector, Error> {
        if q.repo_url.trim().is_empty() {
            return Err(Error::invalid("repoURL", "must not be empty"));
        }
        crate::source::check_discovery_limit(q.discovery_limit)
            .map_err(|reason| Error::invalid("discoveryLimit", reason))?;
        let constraint = match q.strategy {
            ImageSelectionStrategy::SemVer if !q.constraint.is_empty() => Some(
                Constraint::parse(q.constraint)
                    .map_err(|e| Error::invalid("constraint", e.to_string()))?,
            ),
            ImageSelectionStrategy::Digest if q.constraint.is_empty() => {
                return Err(Error::invalid(
                    "constraint",
                    "must name the tag to follow when imageSelectionStrategy is Digest",
                ));
            }
            _ => None,
        };
        let platform = if q.platform.is_empty() {
            None
        } else {
            Some(Platform::parse(q.platform).ok_or_else(|| {
                Error::invalid(
                    "platform",
                    format!("`{}` is not os/arch[/variant]", q.platform),
                )
            })?)
        };
        Ok(Selector {
            strategy: q.strategy,
            constraint,
            mutable_tag: q.constraint.to_owned(),
            strict_semvers: q.strict_semvers,
            allow: compile_all("allowTagsRegexes", q.allow)?,
            ignore: compile_all("ignoreTagsRegexes", q.ignore)?,
            platform,
            artifact_type: q.artifact_type.clone(),
            limit: q.discovery_limit as usize,
            images_only: q.images_only,
        })
    }

    fn layout_dir(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        match &self.options.layout_base {
            Some(base) if p.is_relative() => base.join(p),
            _ => p.to_owned(),
        }
    }

    /// The registry repository `repo_url` (`registry/path`, without
    /// `oci://`; or an image layout), with the credentials of `kind` the
    /// provider has for it.
    pub(crate) async fn repository(
        &self,
        repo_url: &str,
        skip_tls_verify: bool,
        kind: CredentialType,
    ) -> Result<Box<dyn Repository>, Error> {
        if let Some(path) = repo_url.strip_prefix(LAYOUT_SCHEME) {
            return Ok(Box::new(Layout::new(self.layout_dir(path))));
        }
        if let Some(dir) = self.options.layouts.get(repo_url) {
            return Ok(Box::new(Layout::new(dir.clone())));
        }
        let reference: Reference = repo_url
            .parse()
            .map_err(|e| Error::invalid("repoURL", format!("`{repo_url}`: {e}")))?;
        if reference.digest().is_some()
            || repo_url
                .rsplit('/')
                .next()
                .is_some_and(|last| last.contains(':'))
        {
            return Err(Error::invalid(
                "repoURL",
                format!("`{repo_url}` must not include a tag or digest"),
            ));
        }
        let registry = reference.resolve_registry().to_owned();
        let plain_http = kargo_core::urls::is_loopback_host(&registry)
            || self.options.plain_http.contains(&registry);
        // Helm credentials are looked up as Kargo looks them up: the chart
        // URL with its `oci://` (a pattern written for `oci://…` matches;
        // one written for the bare path still matches the normalised URL,
        // which drops `oci://`, and exact URLs compare normalised).
        let lookup = match kind {
            CredentialType::Helm => Cow::Owned(format!("oci://{repo_url}")),
            _ => Cow::Borrowed(repo_url),
        };
        let auth = registry_auth(
            self.options
                .credentials
                .get(kind, &lookup)
                .await
                .map_err(Error::Credentials)?,
        );
        // oci-client keeps the first credentials it sees per registry, so
        // clients are kept per credentials (by a hash; never the secret).
        let identity = match &auth {
            RegistryAuth::Anonymous => String::new(),
            RegistryAuth::Basic(user, password) => {
                hex::encode(Sha256::digest(format!("basic\0{user}\0{password}")))
            }
            RegistryAuth::Bearer(token) => hex::encode(Sha256::digest(format!("bearer\0{token}"))),
        };
        let client = {
            let mut clients = self
                .clients
                .lock()
                .map_err(|_| Error::invalid("repoURL", "client cache poisoned"))?;
            if clients.len() >= 1024 {
                clients.clear();
            }
            clients
                .entry(ClientKey {
                    registry: registry.clone(),
                    plain_http,
                    skip_tls_verify,
                    identity,
                })
                .or_insert_with(|| Remote::client(&registry, plain_http, skip_tls_verify))
                .clone()
        };
        let limit = self
            .limits
            .lock()
            .map_err(|_| Error::invalid("repoURL", "request limits poisoned"))?
            .entry(registry.clone())
            .or_insert_with(|| {
                Arc::new(tokio::sync::Semaphore::new(
                    self.options.max_requests_per_registry.max(1),
                ))
            })
            .clone();
        let scheme = if plain_http { "http" } else { "https" };
        let url = format!("{scheme}://{registry}/{}", reference.repository());
        Ok(Box::new(Remote {
            client,
            key: url.clone(),
            url,
            reference,
            auth,
            page_size: self.options.page_size,
            max_pages: self.options.max_tag_pages,
            retries: self.options.retries,
            backoff: self.options.retry_backoff,
            limit,
        }))
    }

    async fn run(&self, q: &Query<'_>, options: &DiscoverOptions) -> Result<Vec<Selected>, Error> {
        let selector = Core::selector(q)?;
        let repo = self
            .repository(
                q.repo_url,
                q.insecure_skip_tls_verify,
                CredentialType::Image,
            )
            .await?;
        let cancelled = || options.is_cancelled();
        let span = tracing::debug_span!("discover", repo = q.repo_url, strategy = ?q.strategy);
        selector
            .select(repo.as_ref(), &self.cache, &cancelled)
            .instrument(span)
            .await
    }
}

/// Discovers container images for `image` subscriptions.
///
/// ```no_run
/// use kargo_sources::{Source, SourceExt};
/// use kargo_sources::oci::ImageSource;
/// use kargo_core::model::RepoSubscription;
///
/// # async fn demo() -> kargo_core::Result<()> {
/// let source = ImageSource::builder().build();
/// let sub: RepoSubscription = serde_json::from_str(
///     r#"{"image": {"repoURL": "ghcr.io/acme/app", "constraint": "^1"}}"#,
/// ).unwrap();
/// let newest = source.latest(&sub).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ImageSource {
    core: Arc<Core>,
}

impl Default for ImageSource {
    fn default() -> Self {
        Builder::default().build()
    }
}

impl ImageSource {
    /// A builder with default [`Options`].
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A source sharing this one's settings and clients, for `chart`
    /// subscriptions.
    #[cfg(feature = "helm")]
    pub fn charts(&self) -> crate::helm::ChartSource {
        crate::helm::ChartSource::from_core(self.core.clone())
    }

    /// A source sharing this one's settings, clients and cache, for
    /// generic `oci` subscriptions.
    pub fn artifacts(&self) -> ArtifactSource {
        ArtifactSource::from_core(self.core.clone())
    }

    async fn discover_image(
        &self,
        name: &str,
        sub: &ImageSubscription,
        options: &DiscoverOptions,
    ) -> Result<ImageDiscovery, Error> {
        let q = image_query(sub)?;
        let selected = self.core.run(&q, options).await?;
        let platform = Platform::parse(&sub.platform);
        Ok(ImageDiscovery {
            repo_url: sub.repo_url.clone(),
            platform: sub.platform.clone(),
            subscription_name: name.to_owned(),
            references: selected
                .into_iter()
                .map(|s| DiscoveredImage {
                    annotations: s.meta.annotations_for(platform.as_ref()),
                    tag: s.tag,
                    digest: s.meta.digest,
                    created_at: s.meta.created,
                })
                .collect(),
        })
    }
}

/// What an image subscription asks the registry for.
fn image_query(sub: &ImageSubscription) -> Result<Query<'_>, Error> {
    if !sub.allow_tags.is_empty() {
        return Err(Error::invalid(
            "allowTags",
            "is no longer supported; use allowTagsRegexes",
        ));
    }
    if !sub.ignore_tags.is_empty() {
        return Err(Error::invalid(
            "ignoreTags",
            "is no longer supported; use ignoreTagsRegexes",
        ));
    }
    Ok(Query {
        repo_url: &sub.repo_url,
        strategy: sub.image_selection_strategy,
        constraint: &sub.constraint,
        strict_semvers: sub.strict_semvers,
        allow: &sub.allow_tags_regexes,
        ignore: &sub.ignore_tags_regexes,
        platform: &sub.platform,
        artifact_type: None,
        insecure_skip_tls_verify: sub.insecure_skip_tls_verify,
        discovery_limit: sub.discovery_limit,
        images_only: true,
    })
}

/// Whether a push of one of `tags` to the subscription's repository could
/// change what `subscription` selects: Kargo's `MatchesTag`, which its
/// webhook receivers ask before refreshing a Warehouse. The tag must pass
/// `allowTagsRegexes` and `ignoreTagsRegexes`; with `SemVer`, be a
/// version satisfying `constraint`; with `Digest`, be the followed tag.
/// Reads no registry. A subscription that does not compile is an error
/// naming the field.
///
/// ```
/// use kargo_core::model::{ImageSelectionStrategy, ImageSubscription};
///
/// let mut sub = ImageSubscription::default();
/// sub.repo_url = "ghcr.io/acme/app".into();
/// sub.image_selection_strategy = ImageSelectionStrategy::SemVer;
/// sub.constraint = "^1.0.0".into();
/// assert!(kargo_sources::oci::tag_matches(&sub, &["v1.2.0"]).unwrap());
/// assert!(!kargo_sources::oci::tag_matches(&sub, &["v2.0.0", "latest"]).unwrap());
/// ```
pub fn tag_matches<S: AsRef<str>>(
    subscription: &ImageSubscription,
    tags: &[S],
) -> Result<bool, Error> {
    let selector = Core::selector(&image_query(subscription)?)?;
    Ok(tags.iter().any(|t| selector.matches_tag(t.as_ref())))
}

/// How a registry is logged in to with the credentials `found`, as Kargo
/// decides it: none, or an empty username and password, is anonymous; a
/// password without a username is a bearer token; anything else is basic
/// auth. The OCI steps use the same rule.
///
/// ```
/// use kargo_core::credentials::Credentials;
/// use kargo_sources::oci::registry_auth;
/// use oci_client::secrets::RegistryAuth;
///
/// let token = Credentials { username: String::new(), password: "t0ken".into() };
/// assert!(matches!(registry_auth(Some(token)), RegistryAuth::Bearer(t) if t == "t0ken"));
/// let empty = Credentials { username: String::new(), password: String::new() };
/// assert!(matches!(registry_auth(Some(empty)), RegistryAuth::Anonymous));
/// ```
pub fn registry_auth(found: Option<Credentials>) -> RegistryAuth {
    match found {
        Some(c) if c.username.is_empty() && c.password.is_empty() => RegistryAuth::Anonymous,
        Some(c) if c.username.is_empty() => RegistryAuth::Bearer(c.password),
        Some(c) => RegistryAuth::Basic(c.username, c.password),
        None => RegistryAuth::Anonymous,
    }
}

pub(crate) use crate::source::describe;

/// What the sources of registry repositories support, for subscriptions
/// of `kind`: image selection, platforms, image-layout directories.
pub(crate) fn registry_capabilities(kind: &'static str) -> Capabilities {
    Capabilities {
        subscription_types: vec![kind],
        strategies: vec!["SemVer", "Lexical", "Digest", "NewestBuild"],
        platforms: true,
        layout_directories: true,
    }
}

#[async_trait]
impl Source for ImageSource {
    fn capabilities(&self) -> Capabilities {
        registry_capabilities(KIND)
    }

    async fn discover(
        &self,
        subscription: &RepoSubscription,
        options: DiscoverOptions,
    ) -> kargo_core::Result<Discovered> {
        let SubscriptionSource::Image(sub) = &subscription.source else {
            return Err(unsupported(subscription.source.type_key(), "ImageSource"));
        };
        self.discover_image(&subscription.name, sub, &options)
            .await
            .map(Discovered::Images)
            .map_err(|e| {
                e.in_subscription(describe(KIND, &subscription.name, &sub.repo_url))
                    .into()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_recognized() {
        for host in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:41234",
            "[::1]:5000",
            "::1",
        ] {
            assert!(kargo_core::urls::is_loopback_host(host), "{host}");
        }
        for host in ["ghcr.io", "10.0.0.1:5000", "localhost.example.com"] {
            assert!(!kargo_core::urls::is_loopback_host(host), "{host}");
        }
    }

    #[tokio::test]
    async fn invalid_fields_are_errors_naming_the_subscription() {
        let source = ImageSource::default();
        for (image, needle) in [
            (
                r#"{"repoURL": "x/y", "constraint": "not a range"}"#,
                "constraint",
            ),
            (
                r#"{"repoURL": "x/y", "allowTagsRegexes": ["("]}"#,
                "allowTagsRegexes",
            ),
            (r#"{"repoURL": "x/y", "platform": "linux"}"#, "platform"),
            (
                r#"{"repoURL": "x/y", "discoveryLimit": 101}"#,
                "discoveryLimit",
            ),
            (
                r#"{"repoURL": "x/y", "imageSelectionStrategy": "Digest"}"#,
                "constraint",
            ),
            (r#"{"repoURL": "x/y", "allowTags": "v.*"}"#, "allowTags"),
            (r#"{"repoURL": "x/y:1.0"}"#, "repoURL"),
        ] {
            let sub: RepoSubscription =
                serde_json::from_str(&format!(r#"{{"name": "app", "image": {image}}}"#))
                    .expect("valid JSON");
            let err = source
                .discover(&sub, DiscoverOptions::default())
                .await
                .expect_err(image);
            assert!(matches!(err, kargo_core::Error::Invalid(_)), "{err:?}");
            let msg = err.to_string();
            assert!(
                msg.contains(needle) && msg.contains("image subscription \"app\""),
                "{msg}"
            );
        }
    }

    #[tokio::test]
    async fn repositories_of_one_registry_share_one_request_limit() {
        let core = Core::new(
            Builder::default()
                .with_max_requests_per_registry(3)
                .options()
                .clone(),
        );
        for repo in ["127.0.0.1:5000/a", "127.0.0.1:5000/b", "127.0.0.1:5001/a"] {
            core.repository(repo, false, CredentialType::Image)
                .await
                .expect("repository");
        }
        let limits = core.limits.lock().expect("limits");
        assert_eq!(limits.len(), 2, "one limit per registry");
        let limit = &limits["127.0.0.1:5000"];
        assert_eq!(limit.available_permits(), 3);
        let held: Vec<_> = (0..3)
            .map(|_| limit.try_acquire().expect("permit"))
            .collect();
        assert!(limit.try_acquire().is_err(), "a fourth request waits");
        drop(held);
    }

    #[test]
    fn unknown_strategy_is_rejected_when_reading() {
        let err = serde_json::from_str::<RepoSubscription>(
            r#"{"image": {"repoURL": "x/y", "imageSelectionStrategy": "Newest"}}"#,
        )
        .expect_err("unknown strategy");
        assert!(err.to_string().contains("Newest"), "{err}");
    }
}
