//! Running promotions under a lease, for hosts with several replicas
//! sharing one store (see [`StateStore::claim_promotion`]).

use std::time::Duration;

use async_trait::async_trait;

use super::{Lease, SaveOptions, StateStore};
use crate::checkpoint::Checkpoint;
use crate::model::PromotionState;
use crate::time::Timestamp;
use crate::{Error, Result};

/// The key of the lease that lets one replica at a time discover the
/// Warehouse `warehouse` (see [`StateStore::acquire_lease`]).
pub fn discovery_lease_key(warehouse: &str) -> String {
    format!("discovery/{warehouse}")
}

/// The engine's [`Checkpoint`] for a promotion claimed with
/// [`StateStore::claim_promotion`]: every save checks that `owner` still
/// holds the promotion and renews its lease for `duration` from the time
/// of the save. Once another replica took the promotion over, the save
/// fails with [`Error::Precondition`], and the engine stops before the
/// next step.
#[derive(Debug)]
pub struct LeasedCheckpoint<'a, S: ?Sized> {
    store: &'a S,
    promotion: String,
    owner: String,
    duration: Duration,
}

impl<'a, S: StateStore + ?Sized> LeasedCheckpoint<'a, S> {
    /// A checkpoint for promotion `promotion` in `store`, held by `owner`
    /// and renewed for `duration` on every save.
    pub fn new(
        store: &'a S,
        promotion: impl Into<String>,
        owner: impl Into<String>,
        duration: Duration,
    ) -> Self {
        LeasedCheckpoint {
            store,
            promotion: promotion.into(),
            owner: owner.into(),
            duration,
        }
    }
}

#[async_trait]
impl<S: StateStore + ?Sized> Checkpoint for LeasedCheckpoint<'_, S> {
    async fn save(&self, state: &PromotionState) -> Result<()> {
        let lease = Lease::new(&self.owner, Timestamp::now(), self.duration);
        self.store
            .save_promotion_state_opts(&self.promotion, state, &SaveOptions::leased(lease))
            .await
    }
}

/// Renews `owner`'s lease on promotion `promotion` every third of
/// `duration` while a step runs, and returns the error once the lease is
/// lost: another replica took it over, or it could not be renewed before
/// it expired (e.g. the database was unreachable). Run it next to the
/// engine (`tokio::select!`) and stop the promotion when it returns; it
/// never returns otherwise.
pub async fn keep_promotion_lease(
    store: &(impl StateStore + ?Sized),
    promotion: &str,
    owner: &str,
    duration: Duration,
) -> Error {
    let period = duration / 3;
    let mut held_until =
        Timestamp::now().unix_millis() + i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
    loop {
        tokio::time::sleep(period).await;
        let lease = Lease::new(owner, Timestamp::now(), duration);
        let until = lease.until.unix_millis();
        match store.renew_promotion_lease(promotion, &lease).await {
            Ok(()) => held_until = until,
            Err(
                e @ (Error::Precondition(_) | Error::NotFound { .. } | Error::Unsupported { .. }),
            ) => {
                return e;
            }
            Err(e) if Timestamp::now().unix_millis() >= held_until => return e,
            Err(e) => {
                tracing::warn!(promotion, error = %e, "cannot renew the promotion's lease yet")
            }
        }
    }
}
