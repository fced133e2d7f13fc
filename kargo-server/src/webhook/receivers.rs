//! Building the receivers of every project, their paths, and finding the
//! one a request is for.

use std::collections::BTreeMap;
use std::fmt;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{SHA256, digest};
use axum::http::{HeaderMap, StatusCode};
use kargo_core::model::ProjectConfig;

use super::config::WebhookReceiverConfig;
use super::{
    Delivery, MAX_BODY_BYTES, ReceiverDetails, ReceiverError, ReceiverKind, Rejection, auth,
    payload,
};

/// Finds a Secret's fields: `(project, secret name) -> fields`, `None`
/// when the project has no such Secret.
pub type SecretLookup<'a> = dyn Fn(&str, &str) -> Option<BTreeMap<String, String>> + 'a;

/// One receiver, ready to check requests: its project, name, kind and
/// secret.
///
/// `Debug` shows the project, name and kind; never the secret, nor the path
/// (for kinds that only check the path, the path is the credential).
#[derive(Clone)]
pub struct Receiver {
    project: String,
    config: WebhookReceiverConfig,
    kind: ReceiverKind,
    pub(super) secret: auth::SecretValue,
    details: ReceiverDetails,
    path_digest: [u8; 32],
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("project", &self.project)
            .field("name", &self.config.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Receiver {
    /// The project the receiver belongs to: the Warehouses and promotions
    /// its deliveries concern are this project's.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// The receiver's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The receiver's kind.
    pub fn kind(&self) -> ReceiverKind {
        self.kind
    }

    /// Its name, path and URL.
    pub fn details(&self) -> &ReceiverDetails {
        &self.details
    }

    /// Its config as written (after checking).
    pub fn config(&self) -> &WebhookReceiverConfig {
        &self.config
    }

    /// Checks a request sent to the receiver's path and reads what it asks
    /// for.
    ///
    /// The request's proof of the secret (see the [module docs](super) for
    /// each kind) is checked first, in constant time: a missing one is
    /// refused with 401, a wrong one with 403, before anything else of the
    /// request is looked at. Then the event is read: an unsupported event
    /// type or an unusable payload is refused with 400 (Gitea's and
    /// Artifactory's unsupported events with 501, as in Kargo), a body over
    /// [`MAX_BODY_BYTES`] with 413. Replays are caught by a
    /// [`ReplayGuard`](super::ReplayGuard), not here.
    pub fn handle(&self, headers: &HeaderMap, body: &[u8]) -> Result<Delivery, Rejection> {
        self.handle_query("", headers, body)
    }

    /// [`handle`](Self::handle) for a request whose URL has the query
    /// `query` (without `?`), which a `generic` receiver's expressions
    /// read with `request.params(key)`; the other kinds ignore it.
    pub fn handle_query(
        &self,
        query: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Delivery, Rejection> {
        if body.len() > MAX_BODY_BYTES {
            return Err(Rejection::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body exceeds the limit of {MAX_BODY_BYTES} bytes"),
            ));
        }
        auth::authenticate(self, headers, body)?;
        payload::refuse_form_encoding(headers)?;
        match self.kind {
            ReceiverKind::GitHub => super::github::handle(headers, body),
            ReceiverKind::GitLab => super::gitlab::handle(headers, body),
            ReceiverKind::Gitea => super::gitea::handle(headers, body),
            ReceiverKind::Bitbucket => super::bitbucket::handle(headers, body),
            ReceiverKind::Azure => super::azure::handle(headers, body),
            ReceiverKind::Quay => super::quay::handle(body),
            ReceiverKind::DockerHub => super::dockerhub::handle(body),
            ReceiverKind::Artifactory => {
                let virtual_repo = self
                    .config
                    .artifactory
                    .as_ref()
                    .map_or("", |c| c.virtual_repo_name.as_str());
                super::artifactory::handle(body, virtual_repo)
            }
            ReceiverKind::Harbor => super::harbor::handle(body),
            ReceiverKind::Generic => super::generic::handle(query, headers, body),
        }
    }
}

/// Every project's receivers, looked up by request path.
#[derive(Debug, Clone, Default)]
pub struct Receivers {
    receivers: Vec<Receiver>,
}

impl Receivers {
    /// Builds the receivers of `configs`' `spec.webhookReceivers`.
    ///
    /// A ProjectConfig's project is its `metadata.namespace`, or its name
    /// when it has no namespace. `secrets(project, name)` returns the
    /// fields of the project's Secret `name` (e.g. from
    /// [`StaticCredentials::named_secret`](kargo_core::credentials::StaticCredentials::named_secret)).
    /// `base_url` is where the server is reached, like
    /// `http://127.0.0.1:8080/webhooks`; its path, if any, is the base path
    /// of every receiver's path (Kargo's `EXTERNAL_WEBHOOK_SERVER_BASE_URL`).
    ///
    /// A receiver that cannot be set up (bad config, missing Secret or
    /// field, a path already taken) is left out and reported in the
    /// returned errors; the others work. A bad base URL leaves every one out.
    pub fn build(
        configs: &[ProjectConfig],
        secrets: &SecretLookup<'_>,
        base_url: &str,
    ) -> (Receivers, Vec<ReceiverError>) {
        let mut errors = Vec::new();
        let (origin, base_path) = match split_base_url(base_url) {
            Ok(parts) => parts,
            Err(reason) => {
                errors.push(ReceiverError::BaseUrl {
                    base_url: base_url.to_owned(),
                    reason,
                });
                return (Receivers::default(), errors);
            }
        };
        let mut receivers: Vec<Receiver> = Vec::new();
        for project_config in configs {
            let meta = &project_config.metadata;
            let project = if meta.namespace.is_empty() {
                meta.name.clone()
            } else {
                meta.namespace.clone()
            };
            let mut names: BTreeMap<String, usize> = BTreeMap::new();
            for (i, value) in project_config.spec.webhook_receivers.iter().enumerate() {
                let label = match value.get("name").and_then(|n| n.as_str()) {
                    Some(name) => format!("webhookReceivers[{i}] ({name})"),
                    None => format!("webhookReceivers[{i}]"),
                };
                let invalid = |message: String| ReceiverError::Invalid {
                    project: project.clone(),
                    receiver: label.clone(),
                    message,
                };
                let config = match WebhookReceiverConfig::parse(value) {
                    Ok(config) => config,
                    Err(message) => {
                        errors.push(invalid(message));
                        continue;
                    }
                };
                if let Some(first) = names.insert(config.name.clone(), i) {
                    errors.push(invalid(format!(
                        "name: {:?} is already the name of webhookReceivers[{first}]",
                        config.name
                    )));
                    continue;
                }
                match Receiver::new(&project, config, secrets, &origin, &base_path) {
                    Ok(receiver) => {
                        let taken = receivers.iter().find(|r| {
                            verify_slices_are_equal(&r.path_digest, &receiver.path_digest).is_ok()
                        });
                        if let Some(other) = taken {
                            errors.push(ReceiverError::PathTaken {
                                project: project.clone(),
                                receiver: receiver.config.name.clone(),
                                other_project: other.project.clone(),
                                other_receiver: other.config.name.clone(),
                            });
                        } else {
                            receivers.push(receiver);
                        }
                    }
                    Err(e) => errors.push(e),
                }
            }
        }
        (Receivers { receivers }, errors)
    }

    /// The details (name, path, URL) of `project`'s receivers, in the
    /// order of its config: what Kargo shows in
    /// `ProjectConfig.status.webhookReceivers`.
    pub fn details(&self, project: &str) -> Vec<ReceiverDetails> {
        self.receivers
            .iter()
            .filter(|r| r.project == project)
            .map(|r| r.details.clone())
            .collect()
    }

    /// The receiver listening on `path` (a request's path, without query),
    /// if any. Every receiver's path is compared, in constant time, so the
    /// time taken tells nothing about how close `path` came to one.
    pub fn find(&self, path: &str) -> Option<&Receiver> {
        let wanted = sha256(path.as_bytes());
        let mut found = None;
        for receiver in &self.receivers {
            if verify_slices_are_equal(&receiver.path_digest, &wanted).is_ok() {
                found = Some(receiver);
            }
        }
        found
    }

    /// Every receiver, project by project in the order built.
    pub fn iter(&self) -> impl Iterator<Item = &Receiver> {
        self.receivers.iter()
    }

    /// How many receivers there are.
    pub fn len(&self) -> usize {
        self.receivers.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.receivers.is_empty()
    }
}

impl Receiver {
    fn new(
        project: &str,
        config: WebhookReceiverConfig,
        secrets: &SecretLookup<'_>,
        origin: &str,
        base_path: &str,
    ) -> Result<Receiver, ReceiverError> {
        let Some(kind) = config.kind() else {
            // `parse` accepted it, so it has exactly one kind.
            return Err(ReceiverError::Invalid {
                project: project.to_owned(),
                receiver: config.name.clone(),
                message: "needs exactly one kind".into(),
            });
        };
        let secret_name = config.secret_name().to_owned();
        let Some(fields) = secrets(project, &secret_name) else {
            return Err(ReceiverError::SecretNotFound {
                project: project.to_owned(),
                receiver: config.name.clone(),
                secret: secret_name,
            });
        };
        let key = kind.secret_key();
        let Some(secret) = fields.get(key) else {
            return Err(ReceiverError::SecretFieldMissing {
                project: project.to_owned(),
                receiver: config.name.clone(),
                secret: secret_name,
                key: key.to_owned(),
            });
        };
        if secret.is_empty() {
            return Err(ReceiverError::SecretFieldEmpty {
                project: project.to_owned(),
                receiver: config.name.clone(),
                secret: secret_name,
                key: key.to_owned(),
            });
        }
        let path = webhook_path(base_path, project, kind, &config.name, secret);
        let details = ReceiverDetails {
            name: config.name.clone(),
            url: format!("{origin}{path}"),
            path,
        };
        Ok(Receiver {
            project: project.to_owned(),
            kind,
            path_digest: sha256(details.path.as_bytes()),
            details,
            config,
            secret: auth::SecretValue::new(secret.clone()),
        })
    }
}

/// Kargo's receiver path (its `buildWebhookPath`): the base path, the
/// kind, and the lowercase hex SHA-256 of `project + name + secret`,
/// joined with single slashes.
///
/// Changing this changes URLs users have registered with their services.
pub(super) fn webhook_path(
    base_path: &str,
    project: &str,
    kind: ReceiverKind,
    name: &str,
    secret: &str,
) -> String {
    let hash = hex::encode(sha256(format!("{project}{name}{secret}").as_bytes()));
    let mut path = String::new();
    for segment in clean_segments(base_path) {
        path.push('/');
        path.push_str(segment);
    }
    format!("{path}/{kind}/{hash}")
}

/// The segments of a slash-separated path, cleaned as Go's `path.Join`
/// cleans (what Kargo's `url.JoinPath` does to the base path): empty and
/// `.` segments dropped, `..` removing the one before.
fn clean_segments(path: &str) -> Vec<&str> {
    let mut kept: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                kept.pop();
            }
            other => kept.push(other),
        }
    }
    kept
}

/// Splits `http(s)://authority[/path]` into its origin and path.
fn split_base_url(base_url: &str) -> Result<(String, String), String> {
    let Some((scheme, rest)) = base_url.split_once("://") else {
        return Err("not an absolute URL (http://host[:port][/path])".into());
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(format!("scheme {scheme:?} is not http or https"));
    }
    if rest.contains(['?', '#']) {
        return Err("a base URL has no query or fragment".into());
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err("no host".into());
    }
    if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("spaces or control characters".into());
    }
    Ok((format!("{scheme}://{authority}"), path.to_owned()))
}

pub(super) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}
