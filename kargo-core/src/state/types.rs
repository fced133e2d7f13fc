//! The values a [`StateStore`](super::StateStore) keeps.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use crate::model::PromotionState;
use crate::model::{ExpressionVariable, Freight, FreightOrigin, PromotionPhase, PromotionStep};
use crate::pipeline::HoldIntent;
use crate::time::Timestamp;

/// How many entries a Stage's Freight history and a collection's
/// verification history keep (Kargo keeps ten).
pub const MAX_HISTORY: usize = 10;

/// The outcome of [`put_freight`](super::StateStore::put_freight).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PutFreight {
    /// The Freight as stored.
    pub freight: Freight,
    /// Whether it was new.
    pub created: bool,
}

impl PutFreight {
    /// Newly stored `freight`.
    pub fn new(freight: Freight) -> Self {
        PutFreight {
            freight,
            created: true,
        }
    }

    /// `freight`, stored before.
    pub fn existing(freight: Freight) -> Self {
        PutFreight {
            freight,
            created: false,
        }
    }
}

/// Which Freight [`list_freight`](super::StateStore::list_freight) returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FreightQuery {
    /// Only Freight from this origin (Warehouse).
    pub origin: Option<FreightOrigin>,
}

impl FreightQuery {
    /// All Freight.
    pub fn all() -> Self {
        FreightQuery::default()
    }

    /// The Freight from Warehouse `name`.
    pub fn warehouse(name: impl Into<String>) -> Self {
        FreightQuery {
            origin: Some(FreightOrigin::warehouse(name)),
        }
    }
}

/// Which promotions [`list_promotions`](super::StateStore::list_promotions)
/// returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PromotionQuery {
    /// Only promotions into this Stage.
    pub stage: Option<String>,
    /// Only promotions of this Freight (by name).
    pub freight: Option<String>,
}

impl PromotionQuery {
    /// All promotions.
    pub fn all() -> Self {
        PromotionQuery::default()
    }

    /// The promotions into `stage`.
    pub fn stage(stage: impl Into<String>) -> Self {
        PromotionQuery {
            stage: Some(stage.into()),
            freight: None,
        }
    }

    /// Narrows to promotions of the Freight named `freight`.
    pub fn with_freight(mut self, freight: impl Into<String>) -> Self {
        self.freight = Some(freight.into());
        self
    }

    /// Whether `p` matches.
    pub fn matches(&self, p: &PromotionRecord) -> bool {
        self.stage.as_ref().is_none_or(|s| *s == p.stage)
            && self.freight.as_ref().is_none_or(|f| *f == p.freight)
    }
}

/// A promotion to queue with [`create_promotion`](super::StateStore::create_promotion).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct NewPromotion {
    /// The Stage to promote into.
    pub stage: String,
    /// The Freight to promote (name or alias).
    pub freight: String,
    /// Who asked: a person, or e.g. `controller:auto-promotion`.
    pub actor: String,
    /// What the promotion says about auto-promotion of its origin.
    pub hold: Option<HoldIntent>,
    /// The steps to run, already inflated (Kargo copies them from the
    /// Stage's promotion template into the Promotion when it is created,
    /// so a resumed promotion runs the steps it started with).
    pub steps: Vec<PromotionStep>,
    /// The promotion variables.
    pub vars: Vec<ExpressionVariable>,
    /// When it was asked for.
    pub created_at: Option<Timestamp>,
    /// Whether it moves the Stage back to older Freight (see
    /// [`PromotionRecord::rollback`]).
    pub rollback: bool,
}

impl NewPromotion {
    /// A promotion of `freight` into `stage`.
    pub fn new(stage: impl Into<String>, freight: impl Into<String>) -> Self {
        NewPromotion {
            stage: stage.into(),
            freight: freight.into(),
            ..Default::default()
        }
    }

    /// Sets the actor.
    pub fn with_actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = actor.into();
        self
    }

    /// Sets the hold intent.
    pub fn with_hold(mut self, hold: Option<HoldIntent>) -> Self {
        self.hold = hold;
        self
    }

    /// Sets the steps and variables.
    pub fn with_steps(mut self, steps: Vec<PromotionStep>, vars: Vec<ExpressionVariable>) -> Self {
        self.steps = steps;
        self.vars = vars;
        self
    }

    /// Sets the creation time.
    pub fn with_created_at(mut self, at: Timestamp) -> Self {
        self.created_at = Some(at);
        self
    }

    /// Marks it a rollback (or not).
    pub fn with_rollback(mut self, rollback: bool) -> Self {
        self.rollback = rollback;
        self
    }
}

/// A promotion as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PromotionRecord {
    /// Its name: `<stage>.<sequence>.<freight prefix>`; names sort in
    /// creation order.
    pub name: String,
    /// The Stage.
    pub stage: String,
    /// The Freight's name.
    pub freight: String,
    /// The Freight's origin.
    pub origin: FreightOrigin,
    /// Who asked for it.
    #[serde(default)]
    pub actor: String,
    /// Its hold intent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<HoldIntent>,
    /// Whether it is a rollback: it moves the Stage back to Freight older
    /// than the Freight of the same origin the Stage had when it was
    /// created (Kargo's `kargo.akuity.io/rollback` annotation, which steps
    /// read as `ctx.meta.promotion.rollback`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rollback: bool,
    /// `Pending` while queued, `Running` once started, then the terminal
    /// phase it finished with.
    pub phase: PromotionPhase,
    /// The steps it runs.
    #[serde(default)]
    pub steps: Vec<PromotionStep>,
    /// Its variables.
    #[serde(default)]
    pub vars: Vec<ExpressionVariable>,
    /// The engine's state, as saved last.
    #[serde(default)]
    pub state: PromotionState,
    /// When it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// When it was started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    /// While it runs under a claim: the replica running it and until when
    /// (see [`claim_promotion`](super::StateStore::claim_promotion)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
    /// Who asked to abort it and when, once someone did (see
    /// [`abort_promotion`](super::StateStore::abort_promotion)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort: Option<AbortRequest>,
}

impl PromotionRecord {
    /// Whether it waits: it is `Running` and its current step returned
    /// `Running` (e.g. `git-wait-for-pr` on an open pull request), so
    /// nobody runs a step of it right now.
    pub fn is_waiting(&self) -> bool {
        self.phase == PromotionPhase::Running
            && !self.state.phase.is_terminal()
            && self
                .state
                .steps
                .get(self.state.current_step)
                .is_some_and(|s| s.status == Some(crate::model::StepStatus::Running))
    }
}

/// A request to abort a promotion (Kargo's `AbortPromotionRequest`): who
/// asked, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AbortRequest {
    /// Who asked (a person, a token's name, or a controller).
    pub actor: String,
    /// When, on the caller's clock.
    pub at: Timestamp,
}

impl AbortRequest {
    /// `actor`'s request at `at`.
    pub fn new(actor: impl Into<String>, at: Timestamp) -> Self {
        AbortRequest {
            actor: actor.into(),
            at,
        }
    }
}

/// A Kargo resource kept in the store (one posted to the API rather than
/// read from manifest files): its identity and its document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct StoredResource {
    /// Its identity.
    #[serde(flatten)]
    pub key: ResourceKey,
    /// The whole document, as Kargo writes it (`apiVersion`, `kind`,
    /// `metadata`, `spec`).
    pub doc: serde_json::Value,
}

impl StoredResource {
    /// The document `doc` under `key`.
    pub fn new(key: ResourceKey, doc: serde_json::Value) -> Self {
        StoredResource { key, doc }
    }
}

/// Which resource: kind, namespace (empty for cluster-scoped kinds) and
/// name. Keys order by kind, then namespace, then name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ResourceKey {
    /// The kind, as manifests write it (`Stage`).
    pub kind: String,
    /// The namespace (Kargo project); empty for cluster-scoped kinds.
    #[serde(default)]
    pub namespace: String,
    /// The name.
    pub name: String,
}

impl ResourceKey {
    /// The key of `kind` `namespace`/`name`.
    pub fn new(
        kind: impl Into<String>,
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        ResourceKey {
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl std::fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {}", self.kind, self.name)
        } else {
            write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// How [`put_resource`](super::StateStore::put_resource) treats a
/// resource that is (or is not) stored already.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ResourceWrite {
    /// Store it only when no resource with its key is stored
    /// ([`Error::AlreadyExists`](crate::Error::AlreadyExists) otherwise).
    #[default]
    Create,
    /// Replace the stored one
    /// ([`Error::NotFound`](crate::Error::NotFound) when there is none).
    Update,
    /// Store it whether or not one is stored.
    Upsert,
}

/// A reference to a piece of Freight in a Stage's collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FreightReference {
    /// The Freight's name.
    pub name: String,
    /// Its origin.
    pub origin: FreightOrigin,
}

/// The Freight a Stage held at one time, one piece per origin, with the
/// verifications of that set (Kargo's `FreightCollection`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FreightCollectionRecord {
    /// [`collection_id`] of the Freight names.
    pub id: String,
    /// The Freight by origin (`Warehouse/name`).
    pub items: BTreeMap<String, FreightReference>,
    /// Verifications, newest first, at most [`MAX_HISTORY`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verification_history: Vec<VerificationRecord>,
    /// The promotion that made this the Stage's Freight.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub promotion: String,
    /// When it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promoted_at: Option<Timestamp>,
}

impl FreightCollectionRecord {
    /// The Freight of `origin`, if any.
    pub fn freight_of(&self, origin: &FreightOrigin) -> Option<&str> {
        self.items.get(&origin.to_string()).map(|r| r.name.as_str())
    }

    /// Whether the collection holds the Freight named `name`.
    pub fn includes(&self, name: &str) -> bool {
        self.items.values().any(|r| r.name == name)
    }

    /// Puts `freight` in for its origin and recomputes the ID (Kargo's
    /// `UpdateOrPush`).
    pub fn update_or_push(&mut self, freight: FreightReference) {
        self.items.insert(freight.origin.to_string(), freight);
        self.id = collection_id(self.items.values().map(|r| r.name.as_str()));
    }

    /// The newest verification, if any.
    pub fn current_verification(&self) -> Option<&VerificationRecord> {
        self.verification_history.first()
    }
}

/// Kargo's ID of a Freight collection: the hex SHA-1 of the sorted Freight
/// names joined by `,`.
pub fn collection_id<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let mut names: Vec<&str> = names.into_iter().collect();
    names.sort_unstable();
    hex::encode(Sha1::digest(names.join(",").as_bytes()))
}

/// The phase of a verification (Kargo's `VerificationPhase`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VerificationPhase {
    /// Not started.
    #[default]
    Pending,
    /// In progress.
    Running,
    /// Passed.
    Successful,
    /// Did not pass.
    Failed,
    /// Could not be carried out.
    Error,
    /// Stopped.
    Aborted,
    /// Neither passed nor failed.
    Inconclusive,
}

impl VerificationPhase {
    /// Whether the verification is over.
    pub fn is_terminal(self) -> bool {
        !matches!(
            self,
            VerificationPhase::Pending | VerificationPhase::Running
        )
    }
}

/// One verification of a Stage's Freight (Kargo's `VerificationInfo`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct VerificationRecord {
    /// Its ID, unique within the Stage.
    pub id: String,
    /// Who started it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub actor: String,
    /// Its phase.
    pub phase: VerificationPhase,
    /// Why it is in its phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When it started.
    #[serde(default, rename = "startTime", skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    /// When it finished.
    #[serde(
        default,
        rename = "finishTime",
        skip_serializing_if = "Option::is_none"
    )]
    pub finished_at: Option<Timestamp>,
}

impl VerificationRecord {
    /// A verification `id` in `phase`.
    pub fn new(id: impl Into<String>, phase: VerificationPhase) -> Self {
        VerificationRecord {
            id: id.into(),
            phase,
            ..Default::default()
        }
    }

    /// A verification that passed at `at` (what a Stage without
    /// verification records right after a promotion, as Kargo does).
    pub fn succeeded(id: impl Into<String>, at: Timestamp) -> Self {
        VerificationRecord {
            started_at: Some(at),
            finished_at: Some(at),
            ..VerificationRecord::new(id, VerificationPhase::Successful)
        }
    }

    /// Sets the message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Sets the actor.
    pub fn with_actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = actor.into();
        self
    }

    /// Sets the start and finish times.
    pub fn with_times(mut self, started: Option<Timestamp>, finished: Option<Timestamp>) -> Self {
        self.started_at = started;
        self.finished_at = finished;
        self
    }
}

/// A hold on auto-promotion of one origin into a Stage (Kargo's
/// `AutoPromotionHold`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutoPromotionHold {
    /// The Freight the person promoted.
    pub freight_name: String,
    /// The origin held.
    pub origin: FreightOrigin,
    /// The promotion that placed the hold.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub promotion_name: String,
    /// Who placed it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub actor: String,
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
}

/// What a Stage holds and did (the parts of Kargo's `StageStatus` a
/// pipeline needs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct StageState {
    /// The Stage's name.
    pub name: String,
    /// The Freight collections it held, current first, at most
    /// [`MAX_HISTORY`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub freight_history: Vec<FreightCollectionRecord>,
    /// The last promotion that finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_promotion: Option<String>,
    /// Auto-promotion holds by origin (`Warehouse/name`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub auto_promotion_holds: BTreeMap<String, AutoPromotionHold>,
    /// Metadata set by steps (`set-metadata`), Kargo's
    /// `Stage.status.metadata`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, serde_json::Value>,
}

impl StageState {
    /// An empty state for `name`.
    pub fn new(name: impl Into<String>) -> Self {
        StageState {
            name: name.into(),
            ..Default::default()
        }
    }

    /// The current Freight collection.
    pub fn current(&self) -> Option<&FreightCollectionRecord> {
        self.freight_history.first()
    }

    /// The current Freight of `origin`.
    pub fn current_freight(&self, origin: &FreightOrigin) -> Option<&str> {
        self.current().and_then(|c| c.freight_of(origin))
    }

    /// Whether auto-promotion of `origin` is held.
    pub fn is_held(&self, origin: &FreightOrigin) -> bool {
        self.auto_promotion_holds.contains_key(&origin.to_string())
    }

    /// Whether the current Freight's newest verification passed.
    pub fn is_verified(&self) -> bool {
        self.current()
            .and_then(FreightCollectionRecord::current_verification)
            .is_some_and(|v| v.phase == VerificationPhase::Successful)
    }
}

/// Who holds something shared by several host replicas (a promotion, a
/// Warehouse's discovery), and until when.
///
/// Kargo leaves this to Kubernetes (one controller per shard); kargo-rs
/// keeps leases in the store. A lease is free once `until` has passed; its
/// owner may renew it before or after that, as long as no other owner
/// took it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lease {
    /// The replica that holds it (a stable, unique id per replica).
    pub owner: String,
    /// When it expires.
    pub until: Timestamp,
}

impl Lease {
    /// A lease held by `owner` for `duration` from `now`.
    pub fn new(owner: impl Into<String>, now: Timestamp, duration: std::time::Duration) -> Self {
        let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
        Lease {
            owner: owner.into(),
            until: Timestamp::from_unix_millis(now.unix_millis().saturating_add(millis)),
        }
    }

    /// Whether it has expired at `now`.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.until <= now
    }
}

/// What [`claim_promotion`](super::StateStore::claim_promotion) asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Claim {
    /// Only promotions into this Stage; any Stage when `None`.
    pub stage: Option<String>,
    /// The lease the claimed promotion gets.
    pub lease: Lease,
    /// The caller's time: leases that ended before it are free.
    pub now: Timestamp,
}

impl Claim {
    /// A claim by `owner` at `now` for a lease of `duration`, in any Stage.
    pub fn new(owner: impl Into<String>, now: Timestamp, duration: std::time::Duration) -> Self {
        Claim {
            stage: None,
            lease: Lease::new(owner, now, duration),
            now,
        }
    }

    /// Narrows the claim to promotions into `stage`.
    pub fn in_stage(mut self, stage: impl Into<String>) -> Self {
        self.stage = Some(stage.into());
        self
    }
}

/// Options of [`save_promotion_state_opts`](super::StateStore::save_promotion_state_opts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SaveOptions {
    /// Save only while this lease's owner holds the promotion, and renew
    /// the lease to its `until`.
    pub lease: Option<Lease>,
}

impl SaveOptions {
    /// Saves under `lease` (see [`SaveOptions::lease`]).
    pub fn leased(lease: Lease) -> Self {
        SaveOptions { lease: Some(lease) }
    }
}

/// What a Warehouse's discovery did (the parts of Kargo's
/// `WarehouseStatus` a pipeline shows): kept so that a failure leaves a
/// trace a person and an API client can read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct WarehouseState {
    /// The Warehouse's name.
    pub name: String,
    /// When discovery last ran, whatever its outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_discovery: Option<Timestamp>,
    /// When discovery last succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success: Option<Timestamp>,
    /// The Freight the last successful discovery found (Kargo's
    /// `lastFreightID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_freight_id: Option<String>,
    /// Why the last discovery failed; `None` once one succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How many discoveries in a row failed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub consecutive_failures: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl WarehouseState {
    /// An empty state for `name`.
    pub fn new(name: impl Into<String>) -> Self {
        WarehouseState {
            name: name.into(),
            ..Default::default()
        }
    }

    /// Whether the last discovery failed.
    pub fn is_failing(&self) -> bool {
        self.error.is_some()
    }
}

/// The outcome of one discovery of a Warehouse, as
/// [`record_discovery`](super::StateStore::record_discovery) records it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiscoveryOutcome {
    /// The subscriptions answered; the Freight they make, if any.
    Succeeded {
        /// The ID of the Freight the discovered artifacts make.
        freight: Option<String>,
    },
    /// Discovery failed, for this reason.
    Failed {
        /// Why, for people.
        message: String,
    },
}
