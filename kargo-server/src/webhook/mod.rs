//! Kargo's webhook receivers: inbound webhooks from Git forges and
//! registries that make Warehouses look for new artifacts at once, and
//! wake promotions waiting on a pull request.
//!
//! A project declares its receivers in `ProjectConfig.spec.webhookReceivers`,
//! each of one kind (`github`, `gitlab`, `gitea`, `bitbucket`, `azure`,
//! `quay`, `dockerhub`, `artifactory`, `harbor`, `generic`) with a
//! `secretRef` to a Secret of the project. [`Receivers::build`] reads them
//! all, finds their Secrets and gives each receiver Kargo's path,
//! `{base path}/{kind}/{sha256 hex of project + receiver name + secret}`,
//! so a path published by Kargo keeps working here. The server then looks
//! a request's path up with [`Receivers::find`] and hands the request to
//! [`Receiver::handle`] (through a [`ReplayGuard`]), which checks it and
//! says what to do in a [`Delivery`]: refresh the Warehouses a push
//! concerns ([`warehouse_wants`] tells which), wake the
//! promotions waiting on a pull request, run a generic receiver's actions
//! ([`run_generic`]), or nothing.
//!
//! This module does not serve HTTP itself; it holds no routes.
//!
//! # Authentication, per kind
//! | kind | Secret field | the request proves it knows the secret by |
//! |---|---|---|
//! | `github` | `secret` | `X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body>` |
//! | `gitea` | `secret` | `X-Hub-Signature-256` as GitHub's (or Gitea's own `X-Gitea-Signature`, bare hex) |
//! | `bitbucket` | `secret` | `X-Hub-Signature: sha256=<HMAC>` (or `sha1=`) |
//! | `artifactory` | `secret-token` | `X-Jfrog-Event-Auth: <hex HMAC-SHA256 of the body>` |
//! | `gitlab` | `secret-token` | `X-Gitlab-Token: <the token>` |
//! | `harbor` | `auth-header` | `Authorization: <the header value>` |
//! | `azure`, `quay`, `dockerhub`, `generic` | `secret` | nothing: the secret is only in the path, which is hard to guess |
//!
//! Every comparison of a secret runs in constant time, and so does the
//! path lookup (for the last four kinds the path *is* the credential).
//! A request without the proof is refused with 401, one with a wrong proof
//! with 403, and the signature is checked before anything in the request is
//! read. Neither a secret nor the path appears in a message or in `Debug`.
//!
//! # Departures from Kargo
//! - Kargo answers 401 to a wrong signature as well as to a missing one;
//!   here a wrong one gets 403, as the issue for `kargo serve` asks.
//! - Kargo looks at the event type before it checks the signature; here
//!   nothing of an unauthenticated request is read.
//! - A repeated delivery (same signature, delivery ID or, for payloads that
//!   are unique, body) is refused with 403 by the [`ReplayGuard`]; Kargo has
//!   no such guard.
//! - As in Kargo, only the Warehouses whose subscription would select the
//!   pushed ref, tag or version (and, for Git, whose path filters pass one
//!   of the changed files) are refreshed ([`warehouse_wants`]). Where Kargo
//!   answers 500 because a subscription does not compile, the Warehouse is
//!   refreshed here, and its discovery reports the error.
//! - Gitea pushes yield the repository's SSH URL too, not only its clone
//!   URL; Bitbucket Cloud's repository URL is normalised as every other one.
//! - A body sent form-encoded (GitHub's `application/x-www-form-urlencoded`
//!   option) is refused with 415 and a hint, instead of a bare 400.
//! - Bitbucket Server's `diagnostics:ping` test event is answered as a ping.
//! - A receiver whose secret is empty is not set up.
//! - A `generic` receiver's expressions are checked when it is set up (an
//!   expression that does not parse, or calls a function the receiver does
//!   not provide, leaves the receiver out, naming the field); Kargo finds
//!   them when a request comes. Its `whenExpression`s and templates are
//!   evaluated by kargo-core's expression engine, with its departures.
//! - A generic action's `indexSelector` with `NotEquals` selects the
//!   Warehouses none of whose subscriptions has that URL (Kargo's cache
//!   cannot list by a non-exact field selector, and reports an error);
//!   the `receiverPaths` index selects nothing and reports an error, as
//!   Warehouses and Promotions have no such index.

use std::fmt;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

pub mod config;

mod artifactory;
mod auth;
mod azure;
mod bitbucket;
mod dockerhub;
mod generic;
mod gitea;
mod github;
mod gitlab;
mod harbor;
mod payload;
mod quay;
mod receivers;
mod replay;
mod subscribe;

#[cfg(test)]
mod tests;

pub use generic::{
    ActionResult, GenericRequest, GenericTarget, GenericTargets, SelectedTarget, TargetKind,
    run as run_generic,
};
pub use receivers::{Receiver, Receivers, SecretLookup};
pub use replay::ReplayGuard;
pub use subscribe::{warehouse_subscribes, warehouse_wants};

/// The largest request body a receiver reads: 2 MiB, as in Kargo. A larger
/// body is refused with 413; a server should stop reading there.
pub const MAX_BODY_BYTES: usize = 2 << 20;

/// The default base path under which `kargo serve` publishes receivers.
pub const DEFAULT_BASE_PATH: &str = "/webhooks";

/// The kind of a receiver: which service's requests it understands.
///
/// Its [`Display`](fmt::Display) form is Kargo's name for it, the key in
/// the receiver's config and the first segment of its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ReceiverKind {
    /// GitHub: pushes, GitHub Packages (ghcr.io) pushes, closed pull requests.
    GitHub,
    /// GitLab: pushes, tag pushes, closed or merged merge requests.
    GitLab,
    /// Gitea: pushes, closed pull requests.
    Gitea,
    /// Bitbucket Cloud and Bitbucket Server (Data Center): pushes, merged or
    /// declined pull requests.
    Bitbucket,
    /// Azure Container Registry image pushes and Azure DevOps pushes and
    /// pull requests (one receiver for both, as in Kargo).
    Azure,
    /// Quay.io repository pushes.
    Quay,
    /// Docker Hub repository pushes.
    DockerHub,
    /// JFrog Artifactory Docker (and OCI Helm chart) pushes.
    Artifactory,
    /// Harbor artifact pushes.
    Harbor,
    /// Kargo's generic receiver (user-defined actions).
    Generic,
}

impl ReceiverKind {
    /// Every kind, in Kargo's order of the config's keys.
    pub const ALL: [ReceiverKind; 10] = [
        ReceiverKind::Bitbucket,
        ReceiverKind::DockerHub,
        ReceiverKind::GitHub,
        ReceiverKind::GitLab,
        ReceiverKind::Harbor,
        ReceiverKind::Quay,
        ReceiverKind::Artifactory,
        ReceiverKind::Azure,
        ReceiverKind::Gitea,
        ReceiverKind::Generic,
    ];

    /// Kargo's name: `github`, `gitlab`, `gitea`, `bitbucket`, `azure`,
    /// `quay`, `dockerhub`, `artifactory`, `harbor` or `generic`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiverKind::GitHub => "github",
            ReceiverKind::GitLab => "gitlab",
            ReceiverKind::Gitea => "gitea",
            ReceiverKind::Bitbucket => "bitbucket",
            ReceiverKind::Azure => "azure",
            ReceiverKind::Quay => "quay",
            ReceiverKind::DockerHub => "dockerhub",
            ReceiverKind::Artifactory => "artifactory",
            ReceiverKind::Harbor => "harbor",
            ReceiverKind::Generic => "generic",
        }
    }

    /// The field of the receiver's Secret that holds its secret.
    pub fn secret_key(self) -> &'static str {
        match self {
            ReceiverKind::GitLab | ReceiverKind::Artifactory => "secret-token",
            ReceiverKind::Harbor => "auth-header",
            _ => "secret",
        }
    }
}

impl fmt::Display for ReceiverKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a receiver listens, as Kargo's `WebhookReceiverDetails` (shown in
/// `ProjectConfig.status.webhookReceivers`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiverDetails {
    /// The receiver's name.
    pub name: String,
    /// The path of its endpoint: `{base path}/{kind}/{hash}`.
    pub path: String,
    /// The full URL of its endpoint: the base URL's origin and the path.
    pub url: String,
}

/// What an accepted request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// Refresh every Warehouse (of the receiver's project) subscribed to one
    /// of `repo_urls`: run its discovery now.
    Refresh {
        /// The repositories the event is about, normalised as Kargo
        /// normalises subscription URLs (Git, image or chart form, as the
        /// payload tells; both image and chart forms when it cannot tell),
        /// sorted, without duplicates or empty ones. May be empty (nothing
        /// to refresh).
        repo_urls: Vec<String>,
        /// The refs (`refs/heads/main`, `refs/tags/v1.2.0`), image tags or
        /// chart versions the event is about, sorted, without duplicates
        /// or empty ones. Kargo refreshes only the Warehouses whose
        /// subscription would select one of them; empty: no such filter.
        qualifiers: Vec<String>,
        /// The files a push changed, sorted and without duplicates, when
        /// the payload lists them all. Kargo also skips Git subscriptions
        /// whose include/exclude paths match none of them; empty: unknown,
        /// no such filter.
        changed_paths: Vec<String>,
    },
    /// A pull request was closed, merged or not: wake the promotions of the
    /// receiver's project waiting on it (a `git-wait-for-pr` step whose
    /// output `pr.url` is `url`).
    PullRequestClosed {
        /// The pull request's web URL, as the service gives it and as
        /// `git-open-pr` records it; Kargo matches promotions by it.
        url: String,
        /// Its number (id), when the payload has one.
        number: Option<u64>,
        /// Whether it was merged (false: closed, declined or abandoned).
        merged: bool,
    },
    /// A request to a `generic` receiver: run its actions
    /// ([`run_generic`]) on the project's Warehouses and Promotions.
    Generic(Box<GenericRequest>),
    /// A ping, or an event or action the receiver ignores: answer 200 with
    /// `reason`.
    Ignored {
        /// Why nothing is done, for the answer's message.
        reason: String,
    },
}

/// A request a receiver refuses: answer `status` with `message`.
///
/// The message never holds a secret; it may quote (shortened) values of the
/// request itself, such as an unsupported event type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct Rejection {
    /// 401 without credentials, 403 with wrong ones or a replayed delivery,
    /// 400 for an unusable payload or unsupported event, 413 for a body over
    /// [`MAX_BODY_BYTES`], 415 for a form-encoded body, 501 for events
    /// Kargo does not handle either.
    pub status: StatusCode,
    /// What is wrong, for the answer's `error` field.
    pub message: String,
}

impl Rejection {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Rejection {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Rejection::new(StatusCode::BAD_REQUEST, message)
    }
}

impl axum::response::IntoResponse for Rejection {
    /// Kargo's error answer: `{"error": message}` with the status.
    fn into_response(self) -> axum::response::Response {
        (
            self.status,
            axum::Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}

/// A receiver that could not be set up. Each names the project and the
/// receiver (by name, or by its index when it has none) and, for config
/// errors, the field; none holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiverError {
    /// The receiver's config is not Kargo's `WebhookReceiverConfig`.
    #[error("project {project}: {receiver}: {message}")]
    Invalid {
        /// The project.
        project: String,
        /// `webhookReceivers[i]`, with the name when there is one.
        receiver: String,
        /// What is wrong, naming the field.
        message: String,
    },
    /// The Secret the receiver's `secretRef` names does not exist in the project.
    #[error("project {project}: webhook receiver {receiver}: Secret {secret:?} not found")]
    SecretNotFound {
        /// The project.
        project: String,
        /// The receiver's name.
        receiver: String,
        /// The Secret's name.
        secret: String,
    },
    /// The Secret lacks the field this kind of receiver reads.
    #[error(
        "project {project}: webhook receiver {receiver}: Secret {secret:?} has no {key:?} field"
    )]
    SecretFieldMissing {
        /// The project.
        project: String,
        /// The receiver's name.
        receiver: String,
        /// The Secret's name.
        secret: String,
        /// The missing field (`secret`, `secret-token` or `auth-header`).
        key: String,
    },
    /// The Secret's field is empty: anyone could sign with it or compute
    /// the path (Kargo accepts it; kargo-rs does not).
    #[error(
        "project {project}: webhook receiver {receiver}: Secret {secret:?} has an empty {key:?} field"
    )]
    SecretFieldEmpty {
        /// The project.
        project: String,
        /// The receiver's name.
        receiver: String,
        /// The Secret's name.
        secret: String,
        /// The empty field.
        key: String,
    },
    /// Two receivers would listen on the same path (the hash of
    /// `project + name + secret` cannot tell `ab`+`c` from `a`+`bc`).
    #[error(
        "project {project}: webhook receiver {receiver}: its path is already taken by receiver {other_receiver} of project {other_project}"
    )]
    PathTaken {
        /// The project of the receiver left out.
        project: String,
        /// The receiver left out.
        receiver: String,
        /// The project of the receiver that keeps the path.
        other_project: String,
        /// The receiver that keeps the path.
        other_receiver: String,
    },
    /// The base URL is not `http(s)://host[:port][/path]`.
    #[error("webhook base URL {base_url:?}: {reason}")]
    BaseUrl {
        /// The base URL as given.
        base_url: String,
        /// What is wrong.
        reason: String,
    },
}

impl ReceiverError {
    /// The project the error is about (none for a bad base URL).
    pub fn project(&self) -> Option<&str> {
        match self {
            ReceiverError::Invalid { project, .. }
            | ReceiverError::SecretNotFound { project, .. }
            | ReceiverError::SecretFieldMissing { project, .. }
            | ReceiverError::SecretFieldEmpty { project, .. }
            | ReceiverError::PathTaken { project, .. } => Some(project),
            ReceiverError::BaseUrl { .. } => None,
        }
    }
}
