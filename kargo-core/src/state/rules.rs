//! The state transitions every store applies, on plain values, so that
//! an implementation only loads the values, calls these, and writes them
//! back in one transaction. Stores outside this crate use them too
//! (kargo-store); the in-memory store shows the intended use.

use super::types::{
    AbortRequest, AutoPromotionHold, Claim, FreightCollectionRecord, FreightReference, Lease,
    MAX_HISTORY, NewPromotion, PromotionRecord, ResourceKey, ResourceWrite, StageState,
    VerificationPhase, VerificationRecord,
};
use super::types::{DiscoveryOutcome, WarehouseState};
use crate::model::PromotionState;
use crate::model::{Freight, PromotionPhase, StepStatus};
use crate::pipeline::{HoldIntent, alias, record_promotion};
use crate::time::Timestamp;
use crate::{Error, Result};

/// The name `freight` is stored under: its own, or its ID when it has none.
pub fn freight_name(freight: &Freight) -> String {
    if freight.metadata.name.is_empty() {
        freight.id()
    } else {
        freight.metadata.name.clone()
    }
}

/// The alias new `freight`, stored under `name`, asks for first: its own,
/// or the first one generated from `name` (for a store that checks one
/// alias before it reads every name).
pub fn first_alias(freight: &Freight, name: &str) -> String {
    if freight.alias.is_empty() {
        alias::generate(name, |_| false)
    } else {
        freight.alias.clone()
    }
}

/// Names `freight` by its ID when unnamed, and checks or generates its alias.
///
/// `alias_taken` answers whether an alias (or a Freight name) is in use.
pub fn prepare_freight(
    mut freight: Freight,
    alias_taken: impl Fn(&str) -> bool,
) -> Result<Freight> {
    if freight.metadata.name.is_empty() {
        freight.set_generated_name();
    }
    if freight.alias.is_empty() {
        freight.alias = alias::generate(&freight.metadata.name, &alias_taken);
    } else {
        alias::validate(&freight.alias)?;
        if alias_taken(&freight.alias) {
            return Err(alias_exists(&freight.alias));
        }
    }
    Ok(freight)
}

/// The error for an alias in use.
pub fn alias_exists(alias: &str) -> Error {
    Error::AlreadyExists {
        what: "Freight alias",
        name: alias.to_owned(),
    }
}

/// The error for unknown Freight.
pub fn freight_not_found(name: &str) -> Error {
    Error::NotFound {
        what: "Freight",
        name: name.to_owned(),
    }
}

/// The error for an unknown promotion.
pub fn promotion_not_found(name: &str) -> Error {
    Error::NotFound {
        what: "Promotion",
        name: name.to_owned(),
    }
}

/// The name of the `seq`-th promotion: sorts in creation order.
pub fn promotion_name(stage: &str, seq: u64, freight: &str) -> String {
    let short = freight.get(..7).unwrap_or(freight);
    format!("{stage}.{seq:012}.{short}")
}

/// The creation sequence number in a promotion's name.
pub fn promotion_seq(name: &str) -> u64 {
    name.rsplit('.')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// A new `Pending` promotion record for `new`, of `freight`.
pub fn new_promotion(name: String, new: NewPromotion, freight: &Freight) -> PromotionRecord {
    PromotionRecord {
        name,
        stage: new.stage,
        freight: freight.metadata.name.clone(),
        origin: freight.origin.clone(),
        actor: new.actor,
        hold: new.hold,
        rollback: new.rollback,
        phase: PromotionPhase::Pending,
        steps: new.steps,
        vars: new.vars,
        state: PromotionState::default(),
        created_at: new.created_at,
        started_at: None,
        finished_at: None,
        lease: None,
        abort: None,
    }
}

/// Applies a new promotion's hold intent to its Stage.
pub fn apply_hold(stage: &mut StageState, promo: &PromotionRecord) {
    let key = promo.origin.to_string();
    match promo.hold {
        Some(HoldIntent::Hold) => {
            stage.auto_promotion_holds.insert(
                key,
                AutoPromotionHold {
                    freight_name: promo.freight.clone(),
                    origin: promo.origin.clone(),
                    promotion_name: promo.name.clone(),
                    actor: promo.actor.clone(),
                    created_at: promo.created_at,
                },
            );
        }
        Some(HoldIntent::Resume) => {
            stage.auto_promotion_holds.remove(&key);
        }
        None => {}
    }
}

/// Sets each of `values` in `metadata`, replacing a key's old value whole
/// (Kargo's `UpsertMetadata`, for Freight and Stage status alike).
pub fn upsert_metadata(
    metadata: &mut std::collections::BTreeMap<String, serde_json::Value>,
    values: &std::collections::BTreeMap<String, serde_json::Value>,
) {
    metadata.extend(values.iter().map(|(k, v)| (k.clone(), v.clone())));
}

/// Checks that `state` may be saved for `promo`.
pub fn check_save(promo: &PromotionRecord, _state: &PromotionState) -> Result<()> {
    if promo.phase != PromotionPhase::Running {
        return Err(Error::Precondition(format!(
            "promotion `{}` is {}, not Running: its state cannot be saved",
            promo.name,
            promo.phase.as_str()
        )));
    }
    Ok(())
}

/// Whether the `Running` promotion `promo` may be claimed by `claim`: it
/// runs under a lease that expired or that the claimant holds already
/// (a replica that restarted with the same owner id). A `Running`
/// promotion without a lease belongs to a host that does not use claims
/// and is never claimed.
pub fn running_claimable(promo: &PromotionRecord, claim: &Claim) -> bool {
    promo.phase == PromotionPhase::Running
        && promo
            .lease
            .as_ref()
            .is_some_and(|l| l.owner == claim.lease.owner || l.is_expired(claim.now))
}

/// The promotion `claim` takes among `active`, the `Pending` and
/// `Running` promotions in its scope, oldest first: the first `Running`
/// one that is [`running_claimable`], or the first `Pending` one of a
/// Stage where none runs and none older waits.
pub fn pick_claim<'a>(active: &'a [PromotionRecord], claim: &Claim) -> Option<&'a PromotionRecord> {
    let running: std::collections::HashSet<&str> = active
        .iter()
        .filter(|p| p.phase == PromotionPhase::Running)
        .map(|p| p.stage.as_str())
        .collect();
    let mut waiting = std::collections::HashSet::new();
    active.iter().find(|p| match p.phase {
        PromotionPhase::Running => running_claimable(p, claim),
        PromotionPhase::Pending => {
            !running.contains(p.stage.as_str()) && waiting.insert(p.stage.as_str())
        }
        _ => false,
    })
}

/// Claims `promo` (`Pending`, or `Running` and [`running_claimable`]) for
/// `claim`: a `Pending` one starts at `claim.now`; either gets the lease.
pub fn apply_claim(promo: &mut PromotionRecord, claim: &Claim) {
    if promo.phase == PromotionPhase::Pending {
        promo.phase = PromotionPhase::Running;
        promo.started_at = Some(claim.now);
    }
    promo.lease = Some(claim.lease.clone());
}

/// Checks that `lease.owner` holds the `Running` promotion `promo`, and
/// renews its lease to `lease.until`.
pub fn renew_promotion_lease(promo: &mut PromotionRecord, lease: &Lease) -> Result<()> {
    let held_by = promo.lease.as_ref().map(|l| l.owner.as_str());
    if promo.phase != PromotionPhase::Running || held_by != Some(lease.owner.as_str()) {
        return Err(Error::Precondition(format!(
            "promotion `{}` ({}) is not leased to `{}`{}: another replica may run it",
            promo.name,
            promo.phase.as_str(),
            lease.owner,
            held_by
                .map(|o| format!(" but to `{o}`"))
                .unwrap_or_default()
        )));
    }
    promo.lease = Some(lease.clone());
    Ok(())
}

/// Whether the named lease `current` may be taken by `wanted` at `now`:
/// it is free, expired, or held by the same owner.
pub fn lease_available(current: Option<&Lease>, wanted: &Lease, now: Timestamp) -> bool {
    current.is_none_or(|l| l.owner == wanted.owner || l.is_expired(now))
}

/// Applies `request` to abort `promo` and returns whether it changed:
/// - a `Pending` promotion ends `Aborted` at once, without running a step;
/// - a `Running` one records the request (the first one, if several
///   come); the host running it finishes it `Aborted` at its next step
///   boundary ([`abort_state`]);
/// - an `Aborted` one is left as it is (asking twice is harmless);
/// - a promotion that finished otherwise is a precondition failure.
pub fn apply_abort(promo: &mut PromotionRecord, request: &AbortRequest) -> Result<bool> {
    match promo.phase {
        PromotionPhase::Pending => {
            promo.phase = PromotionPhase::Aborted;
            promo.state.phase = PromotionPhase::Aborted;
            promo.state.message = Some(format!("aborted by {} before it started", request.actor));
            promo.finished_at = Some(request.at);
            promo.abort = Some(request.clone());
            Ok(true)
        }
        PromotionPhase::Running if promo.abort.is_none() => {
            promo.abort = Some(request.clone());
            Ok(true)
        }
        PromotionPhase::Running | PromotionPhase::Aborted => Ok(false),
        other => Err(Error::Precondition(format!(
            "promotion `{}` is {}: it finished and can no longer be aborted",
            promo.name,
            other.as_str()
        ))),
    }
}

/// Ends `state`, the saved state of a promotion whose abort was
/// requested, in phase `Aborted` with a message naming who asked: the
/// step that waits (if any) is marked `Aborted`; steps not started stay
/// unrecorded. The host then saves it and finishes the promotion.
pub fn abort_state(state: &mut PromotionState, request: &AbortRequest) {
    let message = format!("aborted by {}", request.actor);
    if let Some(step) = state.steps.get_mut(state.current_step)
        && step.status == Some(StepStatus::Running)
    {
        step.finish(StepStatus::Aborted, Some(message.clone()));
    }
    state.phase = PromotionPhase::Aborted;
    state.message = Some(message);
    state.retry_after_ms = None;
    state.retry_at = None;
}

/// The error for a resource that is not stored.
pub fn resource_not_found(key: &ResourceKey) -> Error {
    Error::NotFound {
        what: "resource",
        name: key.to_string(),
    }
}

/// The error for a resource stored already.
pub fn resource_exists(key: &ResourceKey) -> Error {
    Error::AlreadyExists {
        what: "resource",
        name: key.to_string(),
    }
}

/// Whether `write` may store the resource `key`, which `exists` or not:
/// creating one stored already, or updating a missing one, is refused.
pub fn check_resource_write(key: &ResourceKey, write: ResourceWrite, exists: bool) -> Result<()> {
    match (write, exists) {
        (ResourceWrite::Create, true) => Err(resource_exists(key)),
        (ResourceWrite::Update, false) => Err(resource_not_found(key)),
        _ => Ok(()),
    }
}

/// What finishing a promotion does, once the store loaded the promotion,
/// its Stage and the Freight involved.
#[derive(Debug)]
pub struct Finish {
    /// The outgoing Freight's name, when the promotion succeeded and the
    /// Stage held other Freight of the origin.
    pub outgoing: Option<String>,
}

/// The first half of finishing: checks the promotion and, when it
/// succeeded, tells which outgoing Freight the store must load.
pub fn plan_finish(promo: &PromotionRecord, stage: &StageState) -> Result<Option<Finish>> {
    if promo.phase.is_terminal() {
        return Ok(None);
    }
    if promo.phase != PromotionPhase::Running || !promo.state.phase.is_terminal() {
        return Err(Error::Precondition(format!(
            "promotion `{}` cannot finish: it is {} and its saved state is {}",
            promo.name,
            promo.phase.as_str(),
            promo.state.phase.as_str()
        )));
    }
    let outgoing = if promo.state.phase == PromotionPhase::Succeeded {
        stage
            .current_freight(&promo.origin)
            .filter(|name| *name != promo.freight)
            .map(str::to_owned)
    } else {
        None
    };
    Ok(Some(Finish { outgoing }))
}

/// The second half: applies the finish to the loaded values.
pub fn apply_finish(
    promo: &mut PromotionRecord,
    stage: &mut StageState,
    incoming: Option<&mut Freight>,
    outgoing: Option<&mut Freight>,
    now: Timestamp,
) {
    promo.phase = promo.state.phase;
    promo.finished_at = Some(now);
    promo.lease = None;
    stage.last_promotion = Some(promo.name.clone());
    if promo.phase != PromotionPhase::Succeeded {
        return;
    }
    if let Some(incoming) = incoming {
        record_promotion(
            &stage.name,
            &mut incoming.status,
            outgoing.map(|f| &mut f.status),
            now,
        );
    }
    let mut next = stage
        .current()
        .map(|c| FreightCollectionRecord {
            id: c.id.clone(),
            items: c.items.clone(),
            ..Default::default()
        })
        .unwrap_or_default();
    next.update_or_push(FreightReference {
        name: promo.freight.clone(),
        origin: promo.origin.clone(),
    });
    next.promotion = promo.name.clone();
    next.promoted_at = Some(now);
    stage.freight_history.insert(0, next);
    stage.freight_history.truncate(MAX_HISTORY);
}

/// Records `verification` in the Stage's current collection and returns
/// the Freight to mark verified, with the time, when it passed.
pub fn apply_verification(
    stage: &mut StageState,
    verification: VerificationRecord,
) -> Result<Option<(Vec<String>, Timestamp)>> {
    let name = stage.name.clone();
    let Some(current) = stage.freight_history.first_mut() else {
        return Err(Error::Precondition(format!(
            "Stage `{name}` has no Freight to verify"
        )));
    };
    let passed = if verification.phase == VerificationPhase::Successful {
        let at = verification.finished_at.ok_or_else(|| {
            Error::Precondition(format!(
                "verification `{}` of Stage `{name}` is Successful but has no finishTime",
                verification.id
            ))
        })?;
        Some((current.items.values().map(|r| r.name.clone()).collect(), at))
    } else {
        None
    };
    let history = &mut current.verification_history;
    match history.iter_mut().find(|v| v.id == verification.id) {
        Some(existing) => *existing = verification,
        None => {
            history.insert(0, verification);
            history.truncate(MAX_HISTORY);
        }
    }
    Ok(passed)
}

/// Records one discovery of a Warehouse at `at` in its state.
pub fn record_discovery(state: &mut WarehouseState, outcome: &DiscoveryOutcome, at: Timestamp) {
    state.last_discovery = Some(at);
    match outcome {
        DiscoveryOutcome::Succeeded { freight } => {
            state.last_success = Some(at);
            if freight.is_some() {
                state.last_freight_id.clone_from(freight);
            }
            state.error = None;
            state.consecutive_failures = 0;
        }
        DiscoveryOutcome::Failed { message } => {
            state.error = Some(message.clone());
            state.consecutive_failures = state.consecutive_failures.saturating_add(1);
        }
    }
}
