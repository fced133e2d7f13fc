//! `argocd-wait`: `Running` until Argo CD Applications meet the conditions
//! of `waitFor` (default: `health`, `sync`, `operation`), as Kargo decides:
//!
//! - `operation`: no operation requested or unfinished;
//! - `health`, `suspended`, `degraded` (any one suffices): the health is
//!   `Healthy`, `Suspended`, `Degraded`; health is trusted only once the
//!   Application was reconciled after its last operation finished (else a
//!   hard refresh is requested and the step waits);
//! - `sync`: the sync status is `Synced`.
//!
//! The step fails when an Application has a `ComparisonError` or
//! `InvalidSpecError` condition, or, waiting for `health`, when its health
//! turns `Degraded` from a state other than `Degraded` or `Unknown` seen by
//! an earlier run of the step. Output: `apps` (`{name, namespace}`) and
//! `healthStatus` (`namespace/name` to the health last seen).

mod step;

use kargo_core::step::Touches;
use serde::{Deserialize, Serialize};

use super::Selector;
use crate::schema::Check::{NonEmpty, OneOf};
use crate::schema::Rule;

pub use step::ArgoCdWait;

/// The step kind.
pub const KIND: &str = "argocd-wait";

/// Kargo's schema rules for the config, checked before the promotion
/// starts (see [`schema`](crate::schema)).
const RULES: &[Rule] = &[
    ("apps", NonEmpty),
    ("apps[].name", NonEmpty),
    ("apps[].namespace", NonEmpty),
    ("apps[].selector.matchExpressions[].key", NonEmpty),
    ("apps[].waitFor", NonEmpty),
    (
        "apps[].waitFor[]",
        OneOf(&["health", "sync", "operation", "suspended", "degraded"]),
    ),
];

/// Where in the work directory the step reads and writes. It talks to Argo
/// CD only.
const TOUCHES: Touches = Touches::Nothing;

/// The `argocd-wait` step's config (Kargo's `ArgoCDWaitConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The Applications to wait for (at least one).
    pub apps: Vec<AppWait>,
}

/// Which Applications to wait for, and for what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct AppWait {
    /// One Application by name (exclusive with `selector`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The namespace (default: the host's, usually `argocd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Applications by labels (exclusive with `name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<Selector>,
    /// The conditions (default `[health, sync, operation]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wait_for: Vec<WaitFor>,
}

/// A condition to wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum WaitFor {
    /// Health is `Healthy`.
    Health,
    /// Sync status is `Synced`.
    Sync,
    /// No operation is in progress.
    Operation,
    /// Health is `Suspended`.
    Suspended,
    /// Health is `Degraded`.
    Degraded,
}

/// The conditions when a config names none (those of `argocd app wait`).
pub const DEFAULT_WAIT_FOR: &[WaitFor] = &[WaitFor::Health, WaitFor::Sync, WaitFor::Operation];
