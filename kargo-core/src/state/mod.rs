//! The [`StateStore`] trait: where a pipeline keeps Freight, Stage status
//! and Promotions, and the [`InMemoryStore`].
//!
//! Kargo keeps this state in Kubernetes resources (`Freight.status`,
//! `Stage.status`, `Promotion`); kargo-rs keeps it in a store, with the
//! same shapes and field names where Kargo has them.
//!
//! # Why a few coarse operations
//! Each method is one transaction that applies one of Kargo's state
//! transitions completely: finishing a promotion moves the Stage's Freight
//! history, the incoming and outgoing Freight's `currentlyIn` and the
//! outgoing Freight's soak in one step. So a crash leaves either the old or
//! the new state, never a mix, and the rules live in one place
//! ([`crate::pipeline`]) rather than in every implementation.
//!
//! # Several replicas
//! A store shared by several host replicas (PostgreSQL) implements the
//! same trait. Replicas take promotions with
//! [`StateStore::claim_promotion`] instead of
//! [`StateStore::start_promotion`]: a claim gives the promotion a
//! [`Lease`] (owner and expiry), renewed by every
//! [`save_promotion_state_opts`](StateStore::save_promotion_state_opts)
//! ([`LeasedCheckpoint`]) and by [`keep_promotion_lease`] while a step
//! runs, so that a `Running` promotion whose owner died is claimed again
//! once its lease expired and resumed from its saved state. Named leases
//! ([`StateStore::acquire_lease`], [`discovery_lease_key`]) let one
//! replica at a time discover a Warehouse, and [`StateStore::watch`]
//! wakes replicas on new Freight, approvals, promotions and aborts.
//! Aborting a `Running` promotion goes through the store
//! ([`StateStore::abort_promotion`] records the request), because the
//! replica running it may not be the one asked. Resources posted to an
//! API are kept in the store too ([`StateStore::put_resource`]), so every
//! replica loads the same manifests. The in-memory
//! and SQLite stores implement all of it for the processes that share
//! them (their changes are seen in-process only).

mod changes;
mod lease;
mod memory;
mod types;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

pub use changes::{Change, ChangeFeed, Changes};
pub use lease::{LeasedCheckpoint, discovery_lease_key, keep_promotion_lease};
pub use memory::InMemoryStore;
pub use types::{
    AbortRequest, AutoPromotionHold, Claim, FreightCollectionRecord, FreightQuery,
    FreightReference, Lease, MAX_HISTORY, NewPromotion, PromotionQuery, PromotionRecord,
    PutFreight, SaveOptions, StageState, VerificationPhase, VerificationRecord, collection_id,
};
pub use types::{DiscoveryOutcome, WarehouseState};
pub use types::{ResourceKey, ResourceWrite, StoredResource};

use crate::Result;
use crate::checkpoint::Checkpoint;
use crate::model::PromotionState;
use crate::model::{Freight, FreightStatus};
use crate::step::StepStore;
use crate::time::Timestamp;

/// A change to a Freight's status, applied inside the store's transaction.
pub type StatusUpdate<'a> = &'a (dyn Fn(&mut FreightStatus) + Send + Sync);

/// A trait object for [`StateStore`].
pub type DynStateStore = dyn StateStore;

/// Keeps a pipeline's state: Freight with its status, each Stage's Freight
/// history, verifications and auto-promotion holds, and Promotions with
/// their saved [`PromotionState`].
///
/// # Contract
/// - Every method is atomic: it applies all of its change or none, and
///   changes are durable when it returns `Ok` (for a persistent store).
/// - Freight is immutable once stored, except for its alias and status.
///   [`put_freight`](StateStore::put_freight) names it by its
///   [ID](Freight::id) when unnamed and gives it a unique alias when it has
///   none; an alias used by other Freight is [`Error::AlreadyExists`].
/// - At most one promotion per Stage is `Running`. Promotions are queued
///   `Pending` and started oldest first by
///   [`start_promotion`](StateStore::start_promotion).
/// - [`save_promotion_state`](StateStore::save_promotion_state) is the
///   engine's [`Checkpoint`] (see [`StateStoreExt::checkpoint`]); after a
///   crash, the `Running` promotion is resumed from the state saved last.
/// - [`finish_promotion`](StateStore::finish_promotion) is idempotent, so
///   a host that crashed after the last checkpoint simply calls it again.
/// - Unknown Freight or Promotions are [`Error::NotFound`]; a transition
///   the current state does not allow is [`Error::Precondition`].
/// - Times come from the caller, never from the store's clock.
///
/// # Wrappers
/// `Arc<T>` and `Box<T>` are stores too, so `Arc<dyn StateStore>`
/// can be passed wherever a store is expected.
///
/// [`Error::AlreadyExists`]: crate::Error::AlreadyExists
/// [`Error::NotFound`]: crate::Error::NotFound
/// [`Error::Precondition`]: crate::Error::Precondition
///
/// # Examples
/// ```
/// use kargo_core::model::{Freight, FreightOrigin};
/// use kargo_core::state::{InMemoryStore, StateStore, StateStoreExt};
/// use kargo_core::time::Timestamp;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = InMemoryStore::new();
/// let freight = Freight { origin: FreightOrigin::warehouse("app"), ..Default::default() };
/// let put = store.put_freight(freight).await.unwrap();
/// assert!(put.created);
/// let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
/// store.approve_freight(&put.freight.metadata.name, "prod", now).await.unwrap();
/// let again = store.get_freight(&put.freight.alias).await.unwrap().unwrap();
/// assert!(again.is_approved_for("prod"));
/// # });
/// ```
#[async_trait]
pub trait StateStore: Send + Sync + Debug + 'static {
    /// Stores `freight` unless Freight of the same name is stored already
    /// (then the stored one is returned unchanged, with `created: false`).
    async fn put_freight(&self, freight: Freight) -> Result<PutFreight>;

    /// The Freight named or aliased `name`.
    async fn get_freight(&self, name: &str) -> Result<Option<Freight>>;

    /// The Freight matching `query`, oldest first (by
    /// [`discovered_at`](crate::pipeline::discovered_at), then name).
    async fn list_freight(&self, query: &FreightQuery) -> Result<Vec<Freight>>;

    /// Applies `update` to the status of the Freight named `name` and
    /// returns the Freight as stored afterwards.
    async fn update_freight_status(&self, name: &str, update: StatusUpdate<'_>) -> Result<Freight>;

    /// Gives the Freight named `name` the alias `alias` (checked with
    /// [`alias::validate`](crate::pipeline::alias::validate)).
    async fn set_freight_alias(&self, name: &str, alias: &str) -> Result<Freight>;

    /// The state of the Stage named `stage`; empty when nothing happened
    /// in it yet.
    async fn get_stage(&self, stage: &str) -> Result<StageState>;

    /// Sets each of `values` in the metadata of the Stage named `stage`
    /// (Kargo's `StageStatus.UpsertMetadata`: a key given replaces its old
    /// value whole, other keys stay) and returns the Stage's state
    /// afterwards. A Stage with no state yet gets one.
    async fn upsert_stage_metadata(
        &self,
        stage: &str,
        values: &BTreeMap<String, Value>,
    ) -> Result<StageState>;

    /// Records a verification of the Stage's current Freight: inserts it
    /// into (or, by `id`, updates it in) the current collection's
    /// verification history. When it is `Successful`, every Freight of the
    /// collection is marked verified in the Stage at its `finishTime`.
    /// A Stage without current Freight is a precondition failure.
    async fn record_verification(
        &self,
        stage: &str,
        verification: VerificationRecord,
    ) -> Result<StageState>;

    /// The discovery state of the Warehouse named `warehouse`; empty when
    /// it was never discovered.
    async fn get_warehouse(&self, warehouse: &str) -> Result<WarehouseState>;

    /// Records one discovery of the Warehouse named `warehouse` at `at`
    /// ([`rules::record_discovery`]) and returns its state afterwards.
    async fn record_discovery(
        &self,
        warehouse: &str,
        outcome: &DiscoveryOutcome,
        at: Timestamp,
    ) -> Result<WarehouseState>;

    /// Queues a promotion (`Pending`), and applies its
    /// [hold intent](crate::pipeline::hold_intent) to the Stage's
    /// auto-promotion holds. The Freight must exist; whether it is
    /// available to the Stage is the caller's check.
    async fn create_promotion(&self, new: NewPromotion) -> Result<PromotionRecord>;

    /// Starts the oldest `Pending` promotion of `stage` at `now` and returns
    /// it, or `None` when one is `Running` already or none is queued.
    async fn start_promotion(&self, stage: &str, now: Timestamp)
    -> Result<Option<PromotionRecord>>;

    /// Saves the state of the `Running` promotion `name`.
    async fn save_promotion_state(&self, name: &str, state: &PromotionState) -> Result<()>;

    /// Finishes the promotion `name` with the terminal phase of its saved
    /// state at `now`. When it succeeded, its Freight becomes the Stage's
    /// current Freight of its origin ([`pipeline::record_promotion`]: the
    /// outgoing Freight's soak is recorded) and a new collection heads the
    /// Stage's Freight history. Finishing a finished promotion returns it
    /// unchanged.
    ///
    /// [`pipeline::record_promotion`]: crate::pipeline::record_promotion
    async fn finish_promotion(&self, name: &str, now: Timestamp) -> Result<PromotionRecord>;

    /// Asks to abort the promotion `name` for `request.actor`
    /// ([`rules::apply_abort`]): a queued (`Pending`) one ends `Aborted`
    /// at `request.at` and is never started; a `Running` one keeps running
    /// with the request recorded in [`PromotionRecord::abort`], and the
    /// host running it (this process or another replica) finishes it
    /// `Aborted` at its next step boundary ([`rules::abort_state`]).
    /// Asking again, or for an `Aborted` promotion, changes nothing; a
    /// promotion that finished otherwise is [`Error::Precondition`].
    /// Watchers are told ([`Change::aborted`]). Holds the promotion placed
    /// on auto-promotion stay. Returns the promotion as stored afterwards.
    ///
    /// The default implementation answers [`Error::Unsupported`]; every
    /// store of this family implements it.
    ///
    /// [`Error::Unsupported`]: crate::Error::Unsupported
    /// [`Error::Precondition`]: crate::Error::Precondition
    async fn abort_promotion(&self, name: &str, request: &AbortRequest) -> Result<PromotionRecord> {
        let _ = (name, request);
        Err(unsupported("abort_promotion"))
    }

    /// The promotion named `name`.
    async fn get_promotion(&self, name: &str) -> Result<Option<PromotionRecord>>;

    /// The promotions matching `query`, oldest first.
    async fn list_promotions(&self, query: &PromotionQuery) -> Result<Vec<PromotionRecord>>;

    /// Claims a promotion for `claim.lease.owner`, oldest first, in
    /// `claim.stage` or any Stage: a `Running` promotion whose lease
    /// expired at `claim.now` or is held by the same owner already (to be
    /// resumed from its saved state), or else the oldest `Pending`
    /// promotion of a Stage where none runs, which starts at `claim.now`.
    /// The promotion gets `claim.lease`. `None` when there is nothing to
    /// claim. Replicas racing for the same promotion get it once.
    ///
    /// A `Running` promotion without a lease (started with
    /// [`start_promotion`](StateStore::start_promotion)) is never claimed.
    /// The default says the store does not support claims.
    async fn claim_promotion(&self, claim: &Claim) -> Result<Option<PromotionRecord>> {
        let _ = claim;
        Err(unsupported("claim_promotion"))
    }

    /// [`save_promotion_state`](StateStore::save_promotion_state) with
    /// options: with a lease, the state is saved only while the lease's
    /// owner holds the promotion ([`Error::Precondition`] once another
    /// owner claimed it), and the lease is renewed to its `until`.
    ///
    /// The default saves without a lease and says leases are unsupported.
    ///
    /// [`Error::Precondition`]: crate::Error::Precondition
    async fn save_promotion_state_opts(
        &self,
        name: &str,
        state: &PromotionState,
        opts: &SaveOptions,
    ) -> Result<()> {
        match opts.lease {
            None => self.save_promotion_state(name, state).await,
            Some(_) => Err(unsupported("leased saves")),
        }
    }

    /// Renews the lease on the `Running` promotion `name` to
    /// `lease.until`, while `lease.owner` holds it
    /// ([`Error::Precondition`] otherwise). Hosts call it while a long step
    /// runs ([`keep_promotion_lease`]).
    ///
    /// [`Error::Precondition`]: crate::Error::Precondition
    async fn renew_promotion_lease(&self, name: &str, lease: &Lease) -> Result<()> {
        let _ = (name, lease);
        Err(unsupported("renew_promotion_lease"))
    }

    /// Takes or renews the named lease `key` for `lease.owner` until
    /// `lease.until` when it is free, expired at `now`, or held by the
    /// same owner; `false` when another owner holds it. Used so that one
    /// replica at a time discovers a Warehouse ([`discovery_lease_key`]).
    async fn acquire_lease(&self, key: &str, lease: &Lease, now: Timestamp) -> Result<bool> {
        let _ = (key, lease, now);
        Err(unsupported("acquire_lease"))
    }

    /// Gives up the named lease `key` when `owner` holds it (otherwise
    /// does nothing).
    async fn release_lease(&self, key: &str, owner: &str) -> Result<()> {
        let _ = (key, owner);
        Err(unsupported("release_lease"))
    }

    /// The Kargo resources kept in the store (posted to an API rather
    /// than read from files), ordered by [`ResourceKey`].
    ///
    /// The default says the store does not keep resources.
    async fn list_resources(&self) -> Result<Vec<StoredResource>> {
        Err(unsupported("list_resources"))
    }

    /// Stores `resource` as `write` says ([`ResourceWrite`]) and returns
    /// whether it was new. Which documents are valid is the caller's
    /// check; the store keeps what it is given. Watchers are told
    /// ([`Change::ResourcesChanged`]).
    ///
    /// The default says the store does not keep resources.
    async fn put_resource(&self, resource: &StoredResource, write: ResourceWrite) -> Result<bool> {
        let _ = (resource, write);
        Err(unsupported("put_resource"))
    }

    /// Deletes the stored resource `key` and returns it, or `None` when
    /// none was stored. Watchers are told when one was deleted.
    ///
    /// The default says the store does not keep resources.
    async fn delete_resource(&self, key: &ResourceKey) -> Result<Option<StoredResource>> {
        let _ = key;
        Err(unsupported("delete_resource"))
    }

    /// The changes made from now on ([`Change`]): new Freight, approvals,
    /// queued, finished and abort-requested promotions, stored resources,
    /// by this process and, for a store shared by replicas, by the others
    /// too.
    async fn watch(&self) -> Result<Changes> {
        Err(unsupported("watch"))
    }
}

/// The error of a default method the store does not override.
fn unsupported(operation: &str) -> crate::Error {
    crate::Error::Unsupported {
        operation: operation.to_owned(),
        implementer: "this StateStore",
    }
}

/// Conveniences over any [`StateStore`].
#[async_trait]
pub trait StateStoreExt: StateStore {
    /// Approves the Freight named or aliased `freight` for `stage` at `at`
    /// (Kargo's manual approval: the Freight becomes available to the
    /// Stage whatever its upstream Stages say).
    async fn approve_freight(&self, freight: &str, stage: &str, at: Timestamp) -> Result<Freight> {
        let name = self.resolve_freight(freight).await?;
        let stage = stage.to_owned();
        self.update_freight_status(&name, &move |s| s.add_approved_stage(&stage, at))
            .await
    }

    /// Marks the Freight named or aliased `freight` verified in `stage`
    /// at `at` (what a control-flow Stage does with available Freight).
    async fn mark_verified(&self, freight: &str, stage: &str, at: Timestamp) -> Result<Freight> {
        let name = self.resolve_freight(freight).await?;
        let stage = stage.to_owned();
        self.update_freight_status(&name, &move |s| s.add_verified_stage(&stage, at))
            .await
    }

    /// Sets each of `values` in the metadata of the Freight named or
    /// aliased `freight` (Kargo's `FreightStatus.UpsertMetadata`: a key
    /// given replaces its old value whole, other keys stay).
    async fn upsert_freight_metadata(
        &self,
        freight: &str,
        values: &BTreeMap<String, Value>,
    ) -> Result<Freight> {
        self.update_freight_status(freight, &|s| {
            rules::upsert_metadata(&mut s.metadata, values)
        })
        .await
    }

    /// The name of the Freight named or aliased `freight`.
    async fn resolve_freight(&self, freight: &str) -> Result<String> {
        self.get_freight(freight)
            .await?
            .map(|f| f.metadata.name)
            .ok_or_else(|| crate::Error::NotFound {
                what: "Freight",
                name: freight.to_owned(),
            })
    }

    /// The `Running` promotion of `stage`, if any (to resume after a restart).
    async fn running_promotion(&self, stage: &str) -> Result<Option<PromotionRecord>> {
        let query = PromotionQuery::stage(stage);
        Ok(self
            .list_promotions(&query)
            .await?
            .into_iter()
            .find(|p| p.phase == crate::model::PromotionPhase::Running))
    }

    /// A [`LeasedCheckpoint`]: saves the state of promotion `promotion`
    /// while `owner` holds it, renewing its lease for `duration`.
    fn leased_checkpoint(
        &self,
        promotion: impl Into<String>,
        owner: impl Into<String>,
        duration: std::time::Duration,
    ) -> LeasedCheckpoint<'_, Self>
    where
        Self: Sized,
    {
        LeasedCheckpoint::new(self, promotion, owner, duration)
    }

    /// A [`Checkpoint`] that saves the state of promotion `promotion` here.
    fn checkpoint(&self, promotion: impl Into<String>) -> StoreCheckpoint<'_, Self>
    where
        Self: Sized,
    {
        StoreCheckpoint {
            store: self,
            promotion: promotion.into(),
        }
    }
}

impl<T: StateStore + ?Sized> StateStoreExt for T {}

/// Every store is what steps see of it.
#[async_trait]
impl<T: StateStore + ?Sized> StepStore for T {
    async fn freight(&self, name: &str) -> Result<Option<Freight>> {
        self.get_freight(name).await
    }

    async fn stage_metadata(&self, stage: &str) -> Result<BTreeMap<String, Value>> {
        Ok(self.get_stage(stage).await?.metadata)
    }

    async fn set_stage_metadata(
        &self,
        stage: &str,
        values: &BTreeMap<String, Value>,
    ) -> Result<()> {
        self.upsert_stage_metadata(stage, values).await.map(drop)
    }

    async fn set_freight_metadata(
        &self,
        freight: &str,
        values: &BTreeMap<String, Value>,
    ) -> Result<()> {
        self.upsert_freight_metadata(freight, values)
            .await
            .map(drop)
    }

    async fn alias_freight(&self, name: &str, alias: &str) -> Result<Freight> {
        self.set_freight_alias(name, alias).await
    }
}

/// The engine's [`Checkpoint`] for a promotion kept in a [`StateStore`]:
/// every save goes to [`StateStore::save_promotion_state`].
#[derive(Debug)]
pub struct StoreCheckpoint<'a, S: ?Sized> {
    store: &'a S,
    promotion: String,
}

impl<'a, S: StateStore + ?Sized> StoreCheckpoint<'a, S> {
    /// A checkpoint for promotion `promotion` in `store` (also usable with
    /// a `dyn StateStore`).
    pub fn new(store: &'a S, promotion: impl Into<String>) -> Self {
        StoreCheckpoint {
            store,
            promotion: promotion.into(),
        }
    }
}

#[async_trait]
impl<S: StateStore + ?Sized> Checkpoint for StoreCheckpoint<'_, S> {
    async fn save(&self, state: &PromotionState) -> Result<()> {
        self.store
            .save_promotion_state(&self.promotion, state)
            .await
    }
}

macro_rules! forward_state_store {
    ($($ty:ty),*) => {$(
        #[async_trait]
        #[deny(clippy::missing_trait_methods)]
        impl<T: StateStore + ?Sized> StateStore for $ty {
            async fn put_freight(&self, freight: Freight) -> Result<PutFreight> {
                (**self).put_freight(freight).await
            }
            async fn get_freight(&self, name: &str) -> Result<Option<Freight>> {
                (**self).get_freight(name).await
            }
            async fn list_freight(&self, query: &FreightQuery) -> Result<Vec<Freight>> {
                (**self).list_freight(query).await
            }
            async fn update_freight_status(
                &self,
                name: &str,
                update: StatusUpdate<'_>,
            ) -> Result<Freight> {
                (**self).update_freight_status(name, update).await
            }
            async fn set_freight_alias(&self, name: &str, alias: &str) -> Result<Freight> {
                (**self).set_freight_alias(name, alias).await
            }
            async fn get_stage(&self, stage: &str) -> Result<StageState> {
                (**self).get_stage(stage).await
            }
            async fn upsert_stage_metadata(
                &self,
                stage: &str,
                values: &BTreeMap<String, Value>,
            ) -> Result<StageState> {
                (**self).upsert_stage_metadata(stage, values).await
            }
            async fn record_verification(
                &self,
                stage: &str,
                verification: VerificationRecord,
            ) -> Result<StageState> {
                (**self).record_verification(stage, verification).await
            }
            async fn get_warehouse(&self, warehouse: &str) -> Result<WarehouseState> {
                (**self).get_warehouse(warehouse).await
            }
            async fn record_discovery(
                &self,
                warehouse: &str,
                outcome: &DiscoveryOutcome,
                at: Timestamp,
            ) -> Result<WarehouseState> {
                (**self).record_discovery(warehouse, outcome, at).await
            }
            async fn create_promotion(&self, new: NewPromotion) -> Result<PromotionRecord> {
                (**self).create_promotion(new).await
            }
            async fn start_promotion(
                &self,
                stage: &str,
                now: Timestamp,
            ) -> Result<Option<PromotionRecord>> {
                (**self).start_promotion(stage, now).await
            }
            async fn save_promotion_state(&self, name: &str, state: &PromotionState) -> Result<()> {
                (**self).save_promotion_state(name, state).await
            }
            async fn finish_promotion(&self, name: &str, now: Timestamp) -> Result<PromotionRecord> {
                (**self).finish_promotion(name, now).await
            }
            async fn abort_promotion(
                &self,
                name: &str,
                request: &AbortRequest,
            ) -> Result<PromotionRecord> {
                (**self).abort_promotion(name, request).await
            }
            async fn get_promotion(&self, name: &str) -> Result<Option<PromotionRecord>> {
                (**self).get_promotion(name).await
            }
            async fn list_promotions(&self, query: &PromotionQuery) -> Result<Vec<PromotionRecord>> {
                (**self).list_promotions(query).await
            }
            async fn claim_promotion(&self, claim: &Claim) -> Result<Option<PromotionRecord>> {
                (**self).claim_promotion(claim).await
            }
            async fn save_promotion_state_opts(
                &self,
                name: &str,
                state: &PromotionState,
                opts: &SaveOptions,
            ) -> Result<()> {
                (**self).save_promotion_state_opts(name, state, opts).await
            }
            async fn renew_promotion_lease(&self, name: &str, lease: &Lease) -> Result<()> {
                (**self).renew_promotion_lease(name, lease).await
            }
            async fn acquire_lease(&self, key: &str, lease: &Lease, now: Timestamp) -> Result<bool> {
                (**self).acquire_lease(key, lease, now).await
            }
            async fn release_lease(&self, key: &str, owner: &str) -> Result<()> {
                (**self).release_lease(key, owner).await
            }
            async fn list_resources(&self) -> Result<Vec<StoredResource>> {
                (**self).list_resources().await
            }
            async fn put_resource(
                &self,
                resource: &StoredResource,
                write: ResourceWrite,
            ) -> Result<bool> {
                (**self).put_resource(resource, write).await
            }
            async fn delete_resource(&self, key: &ResourceKey) -> Result<Option<StoredResource>> {
                (**self).delete_resource(key).await
            }
            async fn watch(&self) -> Result<Changes> {
                (**self).watch().await
            }
        }
    )*};
}

forward_state_store!(Arc<T>, Box<T>);

pub mod rules;
