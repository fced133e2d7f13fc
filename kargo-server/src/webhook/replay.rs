//! Refusing a delivery received before.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::{Mutex, PoisonError};

use axum::http::{HeaderMap, StatusCode};

use super::receivers::{Receiver, Receivers, sha256};
use super::{Delivery, ReceiverKind, Rejection, auth, payload};

/// Remembers the last deliveries each receiver accepted and refuses a
/// repeat with 403, so that a captured request cannot be sent again.
///
/// A delivery is known by
/// - its signature, for the kinds that sign the body (`github`, `gitea`,
///   `bitbucket`, `artifactory`): a signature cannot be reused on another
///   body, and the same body signed again is the same delivery;
/// - the delivery ID the service sends, where it sends one: GitHub's
///   `X-GitHub-Delivery`, Gitea's `X-Gitea-Delivery`, GitLab's
///   `X-Gitlab-Event-UUID`, Bitbucket's `X-Request-UUID` (Cloud) or
///   `X-Request-Id` (Server).
///
/// - the body itself, for the kinds whose every payload carries an event
///   ID or a timestamp (Azure's `id`, Docker Hub's `pushed_at`, Harbor's
///   `occur_at`), so that two distinct events never share a body.
///
/// Quay and generic receivers are not guarded: a Quay payload has neither,
/// and pushing the same tag again sends the same body.
///
/// Only deliveries [`Receiver::handle`] accepted are remembered, so
/// unauthenticated requests can neither fill nor flush the memory. It
/// holds the last `capacity` deliveries per receiver (as 32-byte digests),
/// in memory: a restart forgets them. A redelivery started from the
/// service's own UI reuses the ID and the body, so it is refused too, as
/// is a service's retry of a delivery that was accepted but whose refresh
/// then failed (the Warehouse's next scheduled discovery makes up for it).
///
/// The server keeps one guard for all receivers (it is `Sync`).
///
/// # Example
/// ```
/// # use std::collections::BTreeMap;
/// # use axum::http::{HeaderMap, StatusCode};
/// # use kargo_core::model::ProjectConfig;
/// use kargo_server::webhook::{Receivers, ReplayGuard};
/// # let configs: Vec<ProjectConfig> = vec![serde_json::from_value(serde_json::json!({
/// #     "metadata": {"name": "demo", "namespace": "demo"},
/// #     "spec": {"webhookReceivers": [{"name": "gl", "gitlab": {"secretRef": {"name": "s"}}}]},
/// # })).unwrap()];
/// # let secrets = |_: &str, _: &str| Some(BTreeMap::from([("secret-token".to_owned(), "t0ken".to_owned())]));
/// let (receivers, errors) = Receivers::build(&configs, &secrets, "http://127.0.0.1:8080/webhooks");
/// assert!(errors.is_empty());
/// let receiver = receivers.iter().next().unwrap();
/// let guard = ReplayGuard::default();
/// let mut headers = HeaderMap::new();
/// headers.insert("x-gitlab-token", "t0ken".parse().unwrap());
/// headers.insert("x-gitlab-event", "Tag Push Hook".parse().unwrap());
/// headers.insert("x-gitlab-event-uuid", "13792a34-cac6-4fda-95a8-c58e00a3954e".parse().unwrap());
/// let body = br#"{"ref": "refs/tags/v1.0.0", "repository": {"git_http_url": "https://gitlab.com/acme/demo.git"}}"#;
/// assert!(guard.handle(receiver, &headers, body).is_ok());
/// let again = guard.handle(receiver, &headers, body).unwrap_err();
/// assert_eq!(again.status, StatusCode::FORBIDDEN);
/// ```
pub struct ReplayGuard {
    capacity: usize,
    seen: Mutex<HashMap<(String, String), Seen>>,
}

impl fmt::Debug for ReplayGuard {
    /// The capacity and how many deliveries each receiver has remembered,
    /// not the digests.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let counts: BTreeMap<String, usize> = seen
            .iter()
            .map(|((project, name), s)| (format!("{project}/{name}"), s.order.len()))
            .collect();
        f.debug_struct("ReplayGuard")
            .field("capacity", &self.capacity)
            .field("remembered", &counts)
            .finish()
    }
}

/// What one receiver accepted, oldest first.
#[derive(Debug, Default)]
struct Seen {
    order: VecDeque<[u8; 32]>,
    keys: HashSet<[u8; 32]>,
}

impl Default for ReplayGuard {
    fn default() -> Self {
        ReplayGuard::new(ReplayGuard::DEFAULT_CAPACITY)
    }
}

impl ReplayGuard {
    /// How many deliveries per receiver [`ReplayGuard::default`] remembers.
    pub const DEFAULT_CAPACITY: usize = 1024;

    /// A guard remembering the last `capacity` deliveries (at least one)
    /// of each receiver.
    pub fn new(capacity: usize) -> Self {
        ReplayGuard {
            capacity: capacity.max(1),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// [`Receiver::handle`], then refuses the delivery with 403 if the
    /// receiver accepted it before; otherwise remembers it.
    pub fn handle(
        &self,
        receiver: &Receiver,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Delivery, Rejection> {
        self.handle_query(receiver, "", headers, body)
    }

    /// [`handle`](Self::handle) for a request whose URL has the query
    /// `query` (see [`Receiver::handle_query`]).
    pub fn handle_query(
        &self,
        receiver: &Receiver,
        query: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Delivery, Rejection> {
        let delivery = receiver.handle_query(query, headers, body)?;
        let keys = replay_keys(receiver.kind(), headers, body);
        if keys.is_empty() {
            return Ok(delivery);
        }
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = seen
            .entry((receiver.project().to_owned(), receiver.name().to_owned()))
            .or_default();
        if keys.iter().any(|k| entry.keys.contains(k)) {
            return Err(Rejection::new(
                StatusCode::FORBIDDEN,
                "this delivery was received before (replayed signature or delivery ID)",
            ));
        }
        for key in keys {
            if entry.keys.insert(key) {
                entry.order.push_back(key);
            }
        }
        while entry.order.len() > self.capacity {
            if let Some(oldest) = entry.order.pop_front() {
                entry.keys.remove(&oldest);
            }
        }
        Ok(delivery)
    }

    /// Forgets the deliveries of receivers that are not in `receivers`
    /// any more (after the configs were reloaded).
    pub fn retain(&self, receivers: &Receivers) {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.retain(|(project, name), _| {
            receivers
                .iter()
                .any(|r| r.project() == project && r.name() == name)
        });
    }
}

/// The headers carrying a service's delivery ID.
fn delivery_id_headers(kind: ReceiverKind) -> &'static [&'static str] {
    match kind {
        ReceiverKind::GitHub => &["x-github-delivery"],
        ReceiverKind::Gitea => &["x-gitea-delivery"],
        ReceiverKind::GitLab => &["x-gitlab-event-uuid"],
        ReceiverKind::Bitbucket => &["x-request-uuid", "x-request-id"],
        _ => &[],
    }
}

/// Whether every payload of `kind` is unique (it carries an event ID or
/// a timestamp), so that its body identifies the delivery.
fn body_is_unique(kind: ReceiverKind) -> bool {
    matches!(
        kind,
        ReceiverKind::Azure | ReceiverKind::DockerHub | ReceiverKind::Harbor
    )
}

/// What identifies a delivery of a receiver of `kind`: digests of its
/// signature, of its delivery IDs and, where it is unique, of its body.
fn replay_keys(kind: ReceiverKind, headers: &HeaderMap, body: &[u8]) -> Vec<[u8; 32]> {
    let mut keys = Vec::new();
    if body_is_unique(kind) {
        let mut input = b"body\0".to_vec();
        input.extend_from_slice(body);
        keys.push(sha256(&input));
    }
    if let Some(mac) = auth::mac_of(kind, headers) {
        let mut input = b"mac\0".to_vec();
        input.extend_from_slice(&mac);
        keys.push(sha256(&input));
    }
    for header in delivery_id_headers(kind) {
        if let Some(id) = payload::header(headers, header).filter(|id| !id.is_empty()) {
            keys.push(sha256(format!("id\0{header}\0{id}").as_bytes()));
        }
    }
    keys
}
