//! The [`StateStore`] conformance suite.
//!
//! Every case uses its own Stage and Warehouse names, so all of them can
//! run against one store, in any order; [`run_all`] runs them in turn.
//!
//! The suite needs a Tokio runtime with its timer enabled (a hang guard
//! bounds the wait for watched changes).
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let store = kargo_core::state::InMemoryStore::new();
//! kargo_core::conformance::state_store::run_all(&store).await;
//! # });
//! ```

use crate::Error;
use crate::engine::Checkpoint;
use crate::engine::PromotionState;
use crate::model::{Freight, FreightOrigin, Image, PromotionPhase};
use crate::pipeline::HoldIntent;
use crate::state::{
    AbortRequest, Change, Changes, Claim, DiscoveryOutcome, FreightQuery, Lease, MAX_HISTORY,
    NewPromotion, PromotionQuery, PromotionRecord, ResourceKey, ResourceWrite, SaveOptions,
    StateStore, StateStoreExt, StoreCheckpoint, StoredResource, VerificationPhase,
    VerificationRecord,
};
use crate::time::Timestamp;

/// Runs every case against `store`.
pub async fn run_all(store: &dyn StateStore) {
    freight_put_get_list(store).await;
    freight_aliases(store).await;
    freight_status_updates(store).await;
    metadata_upserts(store).await;
    warehouse_discoveries(store).await;
    promotion_queue(store).await;
    promotion_abort(store).await;
    resources(store).await;
    promotion_state_checkpoints(store).await;
    promotion_success_moves_freight(store).await;
    promotion_failure_keeps_freight(store).await;
    verification_history(store).await;
    auto_promotion_holds(store).await;
    freight_history_is_bounded(store).await;
    named_leases(store).await;
    changes_are_watched(store).await;
    // Last: a claim in any Stage may take the other cases' queued promotions.
    promotion_claims(store).await;
}

/// How long the cases' leases last.
const MINUTE: std::time::Duration = std::time::Duration::from_secs(60);

fn t(s: &str) -> Timestamp {
    s.parse().expect("valid test timestamp")
}

/// Freight of Warehouse `warehouse` with image tag `tag`, discovered at `at`.
fn freight(warehouse: &str, tag: &str, at: &str) -> Freight {
    Freight {
        origin: FreightOrigin::warehouse(warehouse),
        discovered_at: Some(at.into()),
        images: vec![Image {
            repo_url: "ghcr.io/acme/app".into(),
            tag: tag.into(),
            digest: format!("sha256:{tag}"),
            ..Default::default()
        }],
        ..Default::default()
    }
}

async fn put(store: &dyn StateStore, f: Freight) -> Freight {
    store.put_freight(f).await.expect("put_freight").freight
}

/// The stored Freight named or aliased `name`.
async fn stored(store: &dyn StateStore, name: &str) -> Freight {
    store
        .get_freight(name)
        .await
        .expect("get_freight")
        .expect("the Freight is stored")
}

/// Queues a promotion of `freight` into `stage`.
async fn create(store: &dyn StateStore, stage: &str, freight: &str) -> PromotionRecord {
    store
        .create_promotion(NewPromotion::new(stage, freight))
        .await
        .expect("create_promotion")
}

/// Asserts that `result` is [`Error::NotFound`], for `why`.
fn not_found<T: std::fmt::Debug>(result: crate::Result<T>, why: &str) {
    let err = result.expect_err(why);
    assert!(matches!(err, Error::NotFound { .. }), "{why}: {err}");
}

/// Asserts that `result` is [`Error::AlreadyExists`], for `why`.
fn already_exists<T: std::fmt::Debug>(result: crate::Result<T>, why: &str) {
    let err = result.expect_err(why);
    assert!(matches!(err, Error::AlreadyExists { .. }), "{why}: {err}");
}

/// Asserts that `result` is refused with [`Error::Precondition`], for
/// `why`.
fn refused<T: std::fmt::Debug>(result: crate::Result<T>, why: &str) {
    let err = result.expect_err(why);
    assert!(matches!(err, Error::Precondition(_)), "{why}: {err}");
}

fn state_with(phase: PromotionPhase, current_step: usize) -> PromotionState {
    PromotionState {
        phase,
        current_step,
        ..Default::default()
    }
}

/// A queued promotion aborted ends `Aborted` at once and is never
/// started; the next one in the queue starts instead. A running one
/// records who asked and goes on until its host finishes it `Aborted`;
/// a promotion that finished otherwise is refused.
pub async fn promotion_abort(store: &dyn StateStore) {
    let stage = "conf-abort";
    let a = put(store, freight("conf-abort", "a", "2026-01-01T10:00:00Z")).await;
    let at = t("2026-01-01T12:00:00Z");
    let alice = AbortRequest::new("alice", at);
    let first = create(store, stage, &a.metadata.name).await;
    let second = create(store, stage, &a.metadata.name).await;
    let aborted = store
        .abort_promotion(&first.name, &alice)
        .await
        .expect("abort");
    assert_eq!(aborted.phase, PromotionPhase::Aborted);
    assert_eq!(aborted.finished_at, Some(at));
    assert_eq!(aborted.abort, Some(alice.clone()), "who asked is kept");
    assert!(
        aborted
            .state
            .message
            .as_deref()
            .is_some_and(|m| m.contains("alice")),
        "{:?}",
        aborted.state.message
    );
    let again = store
        .abort_promotion(
            &first.name,
            &AbortRequest::new("bob", t("2026-01-01T13:00:00Z")),
        )
        .await
        .expect("abort again");
    assert_eq!(again, aborted, "aborting twice changes nothing");
    let stored = store
        .get_promotion(&first.name)
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(stored, aborted);
    let started = store
        .start_promotion(stage, at)
        .await
        .expect("start")
        .expect("the next one starts");
    assert_eq!(started.name, second.name);

    // Running: the request is recorded, the promotion still runs and its
    // host can still save its state and finish it.
    let requested = store
        .abort_promotion(&second.name, &alice)
        .await
        .expect("abort a running promotion");
    assert_eq!(requested.phase, PromotionPhase::Running);
    assert_eq!(requested.abort, Some(alice.clone()));
    let later = store
        .abort_promotion(
            &second.name,
            &AbortRequest::new("bob", t("2026-01-01T12:30:00Z")),
        )
        .await
        .expect("asked again");
    assert_eq!(later.abort, Some(alice.clone()), "the first request stays");
    let mut state = state_with(PromotionPhase::Running, 1);
    crate::state::rules::abort_state(&mut state, &alice);
    assert_eq!(state.phase, PromotionPhase::Aborted);
    store
        .save_promotion_state(&second.name, &state)
        .await
        .expect("the host saves the aborted state");
    let done = store
        .finish_promotion(&second.name, at)
        .await
        .expect("and finishes it");
    assert_eq!(done.phase, PromotionPhase::Aborted);
    assert_eq!(done.state.message.as_deref(), Some("aborted by alice"));
    assert_eq!(done.abort, Some(alice.clone()));

    // Finished otherwise: refused.
    let third = create(store, stage, &a.metadata.name).await;
    store.start_promotion(stage, at).await.expect("start");
    store
        .save_promotion_state(&third.name, &state_with(PromotionPhase::Succeeded, 0))
        .await
        .expect("save");
    store
        .finish_promotion(&third.name, at)
        .await
        .expect("finish");
    refused(store.abort_promotion(&third.name, &alice).await, "finished");
    not_found(
        store.abort_promotion("conf-abort.nothing", &alice).await,
        "unknown",
    );
}

/// Resources are created once, replaced, listed in key order, deleted;
/// each write tells watchers.
pub async fn resources(store: &dyn StateStore) {
    let key = |kind: &str, name: &str| ResourceKey::new(kind, "conf-res", name);
    let doc = |kind: &str, name: &str, v: u32| {
        serde_json::json!({
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": kind,
            "metadata": {"name": name, "namespace": "conf-res"},
            "spec": {"v": v},
        })
    };
    let ours = |r: &StoredResource| r.key.namespace == "conf-res";
    let mut changes = store.watch().await.expect("watch");
    let stage = StoredResource::new(key("Stage", "dev"), doc("Stage", "dev", 1));
    assert!(
        store
            .put_resource(&stage, ResourceWrite::Create)
            .await
            .expect("create"),
        "new"
    );
    assert_eq!(
        next_change(&mut changes, |c| matches!(c, Change::ResourcesChanged { resource } if resource.namespace == "conf-res")).await,
        Change::ResourcesChanged {
            resource: key("Stage", "dev")
        }
    );
    already_exists(
        store.put_resource(&stage, ResourceWrite::Create).await,
        "created twice",
    );
    let missing = StoredResource::new(key("Stage", "prod"), doc("Stage", "prod", 1));
    not_found(
        store.put_resource(&missing, ResourceWrite::Update).await,
        "nothing to update",
    );

    let warehouse = StoredResource::new(key("Warehouse", "app"), doc("Warehouse", "app", 1));
    assert!(
        store
            .put_resource(&warehouse, ResourceWrite::Upsert)
            .await
            .expect("upsert creates")
    );
    let replaced = StoredResource::new(key("Stage", "dev"), doc("Stage", "dev", 2));
    assert!(
        !store
            .put_resource(&replaced, ResourceWrite::Update)
            .await
            .expect("update"),
        "replaced, not new"
    );
    let listed: Vec<StoredResource> = store
        .list_resources()
        .await
        .expect("list")
        .into_iter()
        .filter(ours)
        .collect();
    assert_eq!(listed, [replaced.clone(), warehouse.clone()], "key order");

    let deleted = store.delete_resource(&replaced.key).await.expect("delete");
    assert_eq!(deleted, Some(replaced.clone()));
    assert_eq!(
        store.delete_resource(&replaced.key).await.expect("again"),
        None,
        "gone"
    );
    store.delete_resource(&warehouse.key).await.expect("delete");
    assert!(!store.list_resources().await.expect("list").iter().any(ours));
}

/// Promotes `freight` into `stage` from queue to finish with `phase`.
async fn promote(
    store: &dyn StateStore,
    stage: &str,
    freight: &str,
    phase: PromotionPhase,
    at: Timestamp,
) -> String {
    store
        .create_promotion(NewPromotion::new(stage, freight).with_created_at(at))
        .await
        .expect("create_promotion");
    let started = store
        .start_promotion(stage, at)
        .await
        .expect("start_promotion")
        .expect("a queued promotion starts");
    store
        .save_promotion_state(&started.name, &state_with(phase, 0))
        .await
        .expect("save_promotion_state");
    let done = store
        .finish_promotion(&started.name, at)
        .await
        .expect("finish_promotion");
    assert_eq!(done.phase, phase, "finished phase");
    done.name
}

/// Whether `owner` acquires the named lease `key` for a minute at `at`.
async fn acquires(store: &dyn StateStore, key: &str, owner: &str, at: Timestamp) -> bool {
    store
        .acquire_lease(key, &Lease::new(owner, at, MINUTE), at)
        .await
        .expect("acquire_lease")
}

/// What `owner` claims in `stage` at `at`, for a minute.
async fn claim_in(
    store: &dyn StateStore,
    stage: &str,
    owner: &str,
    at: Timestamp,
) -> Option<PromotionRecord> {
    store
        .claim_promotion(&Claim::new(owner, at, MINUTE).in_stage(stage))
        .await
        .expect("claim_promotion")
}

/// Promotes `freight` into `stage` successfully at `at`.
async fn succeed(store: &dyn StateStore, stage: &str, freight: &str, at: &str) -> String {
    promote(store, stage, freight, PromotionPhase::Succeeded, t(at)).await
}

/// Freight is stored once under its ID, found by name or alias, and
/// listed per Warehouse, oldest first.
pub async fn freight_put_get_list(store: &dyn StateStore) {
    let w = "conf-put";
    let newer = freight(w, "v2", "2026-01-01T11:00:00Z");
    let older = freight(w, "v1", "2026-01-01T10:00:00Z");
    let put_newer = store.put_freight(newer.clone()).await.expect("put");
    assert!(put_newer.created);
    assert_eq!(
        put_newer.freight.metadata.name,
        newer.id(),
        "named by its ID"
    );
    assert!(!put_newer.freight.alias.is_empty(), "given an alias");
    let older = put(store, older).await;

    let mut again = newer.clone();
    again.alias = "renamed-on-rediscovery".into();
    let put_again = store.put_freight(again).await.expect("put again");
    assert!(!put_again.created, "stored once");
    assert_eq!(
        put_again.freight, put_newer.freight,
        "stored Freight unchanged"
    );

    let by_name = store.get_freight(&newer.id()).await.expect("get");
    assert_eq!(by_name.as_ref(), Some(&put_newer.freight));
    let by_alias = store
        .get_freight(&put_newer.freight.alias)
        .await
        .expect("get");
    assert_eq!(by_alias.as_ref(), Some(&put_newer.freight));
    assert_eq!(
        store.get_freight("conf-put-nothing").await.expect("get"),
        None
    );

    let listed = store
        .list_freight(&FreightQuery::warehouse(w))
        .await
        .expect("list");
    let names: Vec<_> = listed.iter().map(|f| f.metadata.name.as_str()).collect();
    assert_eq!(
        names,
        [older.metadata.name.as_str(), newer.id().as_str()],
        "oldest first"
    );
    let all = store
        .list_freight(&FreightQuery::all())
        .await
        .expect("list all");
    assert!(all.iter().any(|f| f.metadata.name == newer.id()));
}

/// Aliases are unique, valid and changeable.
pub async fn freight_aliases(store: &dyn StateStore) {
    let w = "conf-alias";
    let mut a = freight(w, "a", "2026-01-01T10:00:00Z");
    a.alias = "conf-alias-first".into();
    let a = put(store, a).await;
    assert_eq!(a.alias, "conf-alias-first", "a given alias is kept");

    let mut b = freight(w, "b", "2026-01-01T10:00:00Z");
    b.alias = "conf-alias-first".into();
    already_exists(store.put_freight(b.clone()).await, "alias taken");
    assert_eq!(
        store.get_freight(&b.id()).await.expect("get"),
        None,
        "nothing stored"
    );

    b.alias = "-bad alias".into();
    let err = store
        .put_freight(b.clone())
        .await
        .expect_err("invalid alias");
    assert!(matches!(err, Error::Invalid(_)), "{err}");

    b.alias = String::new();
    let b = put(store, b).await;
    assert_ne!(b.alias, a.alias);

    let renamed = store
        .set_freight_alias(&a.metadata.name, "conf-alias-renamed")
        .await
        .expect("rename");
    assert_eq!(renamed.alias, "conf-alias-renamed");
    assert_eq!(
        store.get_freight("conf-alias-first").await.expect("get"),
        None,
        "old alias freed"
    );
    assert_eq!(
        store
            .get_freight("conf-alias-renamed")
            .await
            .expect("get")
            .map(|f| f.metadata.name),
        Some(a.metadata.name.clone())
    );
    store
        .set_freight_alias("conf-alias-renamed", "conf-alias-renamed")
        .await
        .expect("its own alias again");
    already_exists(
        store
            .set_freight_alias(&b.metadata.name, "conf-alias-renamed")
            .await,
        "taken",
    );
    let err = store
        .set_freight_alias(&b.metadata.name, &a.metadata.name)
        .await
        .expect_err("another Freight's name");
    assert!(
        matches!(err, Error::AlreadyExists { .. } | Error::Invalid(_)),
        "{err}"
    );
    not_found(
        store
            .set_freight_alias("conf-alias-nothing", "conf-alias-x")
            .await,
        "unknown",
    );
}

/// Approvals, verifications and arbitrary status updates are stored.
pub async fn freight_status_updates(store: &dyn StateStore) {
    let f = put(store, freight("conf-status", "v1", "2026-01-01T10:00:00Z")).await;
    let at = t("2026-01-01T10:30:00Z");
    let approved = store
        .approve_freight(&f.alias, "conf-status-prod", at)
        .await
        .expect("approve");
    assert!(approved.is_approved_for("conf-status-prod"));
    store
        .mark_verified(&f.metadata.name, "conf-status-dev", at)
        .await
        .expect("verify");
    store
        .update_freight_status(&f.metadata.name, &|s| {
            s.metadata.insert("conf".into(), serde_json::json!(1));
        })
        .await
        .expect("update");
    let got = stored(store, &f.metadata.name).await;
    assert_eq!(
        got.status.approved_for["conf-status-prod"]
            .approved_at
            .as_deref(),
        Some("2026-01-01T10:30:00Z")
    );
    assert!(got.is_verified_in("conf-status-dev"));
    assert_eq!(got.status.metadata["conf"], 1);

    not_found(
        store.approve_freight("conf-status-nothing", "x", at).await,
        "unknown",
    );
    not_found(
        store
            .update_freight_status("conf-status-nothing", &|_| {})
            .await,
        "unknown",
    );
}

/// Freight and Stage metadata: each key set replaces its old value whole,
/// other keys stay; a Stage without state gets one; unknown Freight is
/// `NotFound`.
pub async fn metadata_upserts(store: &dyn StateStore) {
    use serde_json::json;
    let values = |v: serde_json::Value| -> std::collections::BTreeMap<String, serde_json::Value> {
        serde_json::from_value(v).expect("a map")
    };
    let stage = "conf-metadata";
    let first = store
        .upsert_stage_metadata(stage, &values(json!({"a": {"x": 1, "y": 2}, "b": "keep"})))
        .await
        .expect("upsert into a new stage");
    assert_eq!(first.name, stage);
    let second = store
        .upsert_stage_metadata(stage, &values(json!({"a": {"x": 3}, "c": [1, 2]})))
        .await
        .expect("upsert again");
    let want = values(json!({"a": {"x": 3}, "b": "keep", "c": [1, 2]}));
    assert_eq!(second.metadata, want);
    assert_eq!(store.get_stage(stage).await.expect("stage").metadata, want);
    assert!(
        store
            .get_stage("conf-metadata-other")
            .await
            .expect("stage")
            .metadata
            .is_empty()
    );

    let f = put(
        store,
        freight("conf-metadata", "v1", "2026-01-01T10:00:00Z"),
    )
    .await;
    store
        .upsert_freight_metadata(&f.alias, &values(json!({"k": {"deep": true}, "n": 1})))
        .await
        .expect("upsert by alias");
    let got = store
        .upsert_freight_metadata(&f.metadata.name, &values(json!({"k": "flat"})))
        .await
        .expect("upsert by name");
    assert_eq!(got.status.metadata, values(json!({"k": "flat", "n": 1})));
    let kept = stored(store, &f.metadata.name).await;
    assert_eq!(kept.status.metadata, got.status.metadata);
    not_found(
        store
            .upsert_freight_metadata("conf-metadata-nothing", &values(json!({"k": 1})))
            .await,
        "unknown freight",
    );
}

/// A Warehouse's discoveries are recorded: a failure keeps the last
/// Freight found and counts, a success clears the error.
pub async fn warehouse_discoveries(store: &dyn StateStore) {
    let name = "conf-warehouse";
    let empty = store
        .get_warehouse(name)
        .await
        .expect("get a new warehouse");
    assert_eq!(empty.name, name);
    assert!(empty.last_discovery.is_none() && !empty.is_failing());

    let found = DiscoveryOutcome::Succeeded {
        freight: Some("f1".into()),
    };
    store
        .record_discovery(name, &found, t("2026-01-01T10:00:00Z"))
        .await
        .expect("record a success");
    let failed = DiscoveryOutcome::Failed {
        message: "registry unreachable".into(),
    };
    for minute in ["05", "10"] {
        store
            .record_discovery(name, &failed, t(&format!("2026-01-01T10:{minute}:00Z")))
            .await
            .expect("record a failure");
    }
    let state = store.get_warehouse(name).await.expect("get");
    assert_eq!(state.error.as_deref(), Some("registry unreachable"));
    assert_eq!(state.consecutive_failures, 2);
    assert_eq!(state.last_freight_id.as_deref(), Some("f1"));
    assert_eq!(state.last_discovery, Some(t("2026-01-01T10:10:00Z")));
    assert_eq!(state.last_success, Some(t("2026-01-01T10:00:00Z")));

    let nothing_new = DiscoveryOutcome::Succeeded { freight: None };
    let healed = store
        .record_discovery(name, &nothing_new, t("2026-01-01T10:15:00Z"))
        .await
        .expect("record a success again");
    assert!(!healed.is_failing());
    assert_eq!(healed.consecutive_failures, 0);
    assert_eq!(healed.last_freight_id.as_deref(), Some("f1"));
    assert_eq!(store.get_warehouse(name).await.expect("get"), healed);
    assert!(
        store
            .get_warehouse("conf-warehouse-other")
            .await
            .expect("get another")
            .last_discovery
            .is_none()
    );
}

/// Promotions queue per Stage, start oldest first, and at most one per
/// Stage runs.
pub async fn promotion_queue(store: &dyn StateStore) {
    let (s1, s2) = ("conf-queue-a", "conf-queue-b");
    let a = put(store, freight("conf-queue", "a", "2026-01-01T10:00:00Z")).await;
    let b = put(store, freight("conf-queue", "b", "2026-01-01T11:00:00Z")).await;
    let at = t("2026-01-01T12:00:00Z");

    assert_eq!(
        store.start_promotion(s1, at).await.expect("start"),
        None,
        "nothing queued"
    );
    let p1 = store
        .create_promotion(NewPromotion::new(s1, &a.alias).with_actor("alice"))
        .await
        .expect("create");
    assert_eq!(p1.phase, PromotionPhase::Pending);
    assert_eq!(p1.freight, a.metadata.name, "alias resolved");
    assert_eq!(p1.origin, a.origin);
    assert_eq!(p1.actor, "alice");
    let p2 = create(store, s1, &b.metadata.name).await;
    let q = create(store, s2, &b.metadata.name).await;
    not_found(
        store
            .create_promotion(NewPromotion::new(s1, "conf-queue-nothing"))
            .await,
        "unknown Freight",
    );

    let listed = store
        .list_promotions(&PromotionQuery::stage(s1))
        .await
        .expect("list");
    let names: Vec<_> = listed.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, [p1.name.as_str(), p2.name.as_str()], "oldest first");
    let of_b = store
        .list_promotions(&PromotionQuery::stage(s1).with_freight(&b.metadata.name))
        .await
        .expect("list");
    assert_eq!(of_b.len(), 1);

    refused(
        store
            .save_promotion_state(&p1.name, &state_with(PromotionPhase::Running, 0))
            .await,
        "pending",
    );

    let started = store
        .start_promotion(s1, at)
        .await
        .expect("start")
        .expect("p1");
    assert_eq!(started.name, p1.name, "oldest first");
    assert_eq!(started.phase, PromotionPhase::Running);
    assert_eq!(started.started_at, Some(at));
    assert_eq!(
        store.start_promotion(s1, at).await.expect("start"),
        None,
        "one runs"
    );
    let other = store
        .start_promotion(s2, at)
        .await
        .expect("start")
        .expect("q");
    assert_eq!(other.name, q.name, "Stages are independent");
    assert_eq!(
        store
            .running_promotion(s1)
            .await
            .expect("running")
            .map(|p| p.name),
        Some(p1.name.clone())
    );

    refused(store.finish_promotion(&p1.name, at).await, "not terminal");
    refused(store.finish_promotion(&p2.name, at).await, "pending");
    not_found(
        store.finish_promotion("conf-queue-nothing", at).await,
        "unknown",
    );

    store
        .save_promotion_state(&p1.name, &state_with(PromotionPhase::Succeeded, 1))
        .await
        .expect("save");
    store.finish_promotion(&p1.name, at).await.expect("finish");
    let next = store
        .start_promotion(s1, at)
        .await
        .expect("start")
        .expect("p2");
    assert_eq!(next.name, p2.name);
}

/// The engine's checkpoint saves into the store; a restarted host finds
/// the running promotion with its last state.
pub async fn promotion_state_checkpoints(store: &dyn StateStore) {
    let stage = "conf-checkpoint";
    let f = put(
        store,
        freight("conf-checkpoint", "v1", "2026-01-01T10:00:00Z"),
    )
    .await;
    let at = t("2026-01-01T12:00:00Z");
    let created = create(store, stage, &f.metadata.name).await;
    store
        .start_promotion(stage, at)
        .await
        .expect("start")
        .expect("started");

    let checkpoint = StoreCheckpoint::new(store, created.name.clone());
    for step in 1..=3 {
        let mut state = state_with(PromotionPhase::Running, step);
        state
            .outputs
            .insert(format!("step-{step}"), serde_json::json!({"n": step}));
        checkpoint.save(&state).await.expect("checkpoint");
    }
    let running = store
        .running_promotion(stage)
        .await
        .expect("running")
        .expect("still running");
    assert_eq!(running.state.current_step, 3, "the last saved state");
    assert_eq!(running.state.outputs["step-3"]["n"], 3);
}

/// A successful promotion makes its Freight current, records the outgoing
/// Freight's soak, heads the Stage's history, and finishing is idempotent.
pub async fn promotion_success_moves_freight(store: &dyn StateStore) {
    let stage = "conf-move";
    let a = put(store, freight("conf-move", "a", "2026-01-01T09:00:00Z")).await;
    let b = put(store, freight("conf-move", "b", "2026-01-01T09:30:00Z")).await;

    let first = succeed(store, stage, &a.metadata.name, "2026-01-01T10:00:00Z").await;
    let got_a = stored(store, &a.metadata.name).await;
    assert_eq!(
        got_a.status.currently_in[stage].since.as_deref(),
        Some("2026-01-01T10:00:00Z")
    );
    let st = store.get_stage(stage).await.expect("stage");
    assert_eq!(
        st.current_freight(&a.origin),
        Some(a.metadata.name.as_str())
    );
    assert_eq!(st.last_promotion.as_deref(), Some(first.as_str()));
    assert_eq!(st.freight_history[0].promotion, first);

    store
        .record_verification(
            stage,
            VerificationRecord::succeeded("v1", t("2026-01-01T10:05:00Z")),
        )
        .await
        .expect("verify");
    let got_a = stored(store, &a.metadata.name).await;
    assert_eq!(
        got_a.status.verified_in[stage].verified_at.as_deref(),
        Some("2026-01-01T10:05:00Z")
    );

    let second = succeed(store, stage, &b.metadata.name, "2026-01-01T12:00:00Z").await;
    let got_a = stored(store, &a.metadata.name).await;
    assert!(!got_a.is_currently_in(stage), "outgoing Freight left");
    assert_eq!(
        got_a.status.verified_in[stage].longest_soak.as_deref(),
        Some("2h0m0s"),
        "its soak recorded"
    );
    let got_b = stored(store, &b.metadata.name).await;
    assert!(got_b.is_currently_in(stage));
    assert!(!got_b.is_verified_in(stage), "not verified yet");
    let st = store.get_stage(stage).await.expect("stage");
    assert_eq!(st.freight_history.len(), 2);
    assert_eq!(
        st.current_freight(&b.origin),
        Some(b.metadata.name.as_str())
    );
    assert_eq!(
        st.freight_history[1].freight_of(&a.origin),
        Some(a.metadata.name.as_str())
    );
    assert!(!st.is_verified(), "the new collection has no verification");

    // Finishing again changes nothing.
    let again = store
        .finish_promotion(&second, t("2026-01-01T13:00:00Z"))
        .await
        .expect("finish again");
    assert_eq!(again.finished_at, Some(t("2026-01-01T12:00:00Z")));
    assert_eq!(store.get_stage(stage).await.expect("stage"), st);

    // Rollback: promoting a again restarts its stay and keeps its record.
    succeed(store, stage, &a.metadata.name, "2026-01-01T14:00:00Z").await;
    let got_a = stored(store, &a.metadata.name).await;
    assert_eq!(
        got_a.status.currently_in[stage].since.as_deref(),
        Some("2026-01-01T14:00:00Z")
    );
    assert!(got_a.is_verified_in(stage), "verification kept");
    let got_b = stored(store, &b.metadata.name).await;
    assert!(!got_b.is_currently_in(stage));
    assert!(
        !got_b.status.verified_in.contains_key(stage),
        "b was never verified, so no soak is recorded"
    );
}

/// A promotion that did not succeed leaves the Stage's Freight alone.
pub async fn promotion_failure_keeps_freight(store: &dyn StateStore) {
    let stage = "conf-fail";
    let a = put(store, freight("conf-fail", "a", "2026-01-01T09:00:00Z")).await;
    let b = put(store, freight("conf-fail", "b", "2026-01-01T09:30:00Z")).await;
    succeed(store, stage, &a.metadata.name, "2026-01-01T10:00:00Z").await;
    for phase in [
        PromotionPhase::Failed,
        PromotionPhase::Errored,
        PromotionPhase::Aborted,
    ] {
        let name = promote(
            store,
            stage,
            &b.metadata.name,
            phase,
            t("2026-01-01T11:00:00Z"),
        )
        .await;
        let st = store.get_stage(stage).await.expect("stage");
        assert_eq!(
            st.current_freight(&a.origin),
            Some(a.metadata.name.as_str()),
            "{phase:?}"
        );
        assert_eq!(st.freight_history.len(), 1, "{phase:?}");
        assert_eq!(st.last_promotion.as_deref(), Some(name.as_str()));
        let got_b = stored(store, &b.metadata.name).await;
        assert!(!got_b.is_currently_in(stage), "{phase:?}");
    }
}

/// Verifications go to the current collection's history; only a
/// successful one marks the Freight verified.
pub async fn verification_history(store: &dyn StateStore) {
    let stage = "conf-verify";
    refused(
        store
            .record_verification(
                stage,
                VerificationRecord::new("v0", VerificationPhase::Running),
            )
            .await,
        "no Freight",
    );

    let a = put(store, freight("conf-verify", "a", "2026-01-01T09:00:00Z")).await;
    succeed(store, stage, &a.metadata.name, "2026-01-01T10:00:00Z").await;

    store
        .record_verification(
            stage,
            VerificationRecord::new("v1", VerificationPhase::Running),
        )
        .await
        .expect("running");
    let st = store
        .record_verification(
            stage,
            VerificationRecord::new("v1", VerificationPhase::Failed)
                .with_message("http check returned 500")
                .with_times(
                    Some(t("2026-01-01T10:01:00Z")),
                    Some(t("2026-01-01T10:02:00Z")),
                ),
        )
        .await
        .expect("failed");
    let history = &st.current().expect("current").verification_history;
    assert_eq!(history.len(), 1, "updated by id");
    assert_eq!(history[0].phase, VerificationPhase::Failed);
    assert_eq!(
        history[0].message.as_deref(),
        Some("http check returned 500")
    );
    assert!(!st.is_verified());
    let got = stored(store, &a.metadata.name).await;
    assert!(
        !got.is_verified_in(stage),
        "a failed verification verifies nothing"
    );

    refused(
        store
            .record_verification(
                stage,
                VerificationRecord::new("v2", VerificationPhase::Successful),
            )
            .await,
        "no finish time",
    );

    let st = store
        .record_verification(
            stage,
            VerificationRecord::succeeded("v2", t("2026-01-01T10:10:00Z")),
        )
        .await
        .expect("passed");
    assert!(st.is_verified());
    assert_eq!(
        st.current().expect("current").verification_history[0].id,
        "v2",
        "newest first"
    );
    let got = stored(store, &a.metadata.name).await;
    assert!(got.is_verified_in(stage));
}

/// A person's hold intent holds auto-promotion of the origin; a resume
/// intent releases it.
pub async fn auto_promotion_holds(store: &dyn StateStore) {
    let stage = "conf-hold";
    let a = put(store, freight("conf-hold", "a", "2026-01-01T09:00:00Z")).await;
    let held = store
        .create_promotion(
            NewPromotion::new(stage, &a.metadata.name)
                .with_actor("bob")
                .with_hold(Some(HoldIntent::Hold))
                .with_created_at(t("2026-01-01T10:00:00Z")),
        )
        .await
        .expect("create");
    let st = store.get_stage(stage).await.expect("stage");
    assert!(st.is_held(&a.origin));
    let hold = &st.auto_promotion_holds[&a.origin.to_string()];
    assert_eq!(hold.freight_name, a.metadata.name);
    assert_eq!(hold.promotion_name, held.name);
    assert_eq!(hold.actor, "bob");

    store
        .create_promotion(NewPromotion::new(stage, &a.metadata.name))
        .await
        .expect("no intent");
    assert!(
        store
            .get_stage(stage)
            .await
            .expect("stage")
            .is_held(&a.origin),
        "unchanged"
    );

    store
        .create_promotion(
            NewPromotion::new(stage, &a.metadata.name).with_hold(Some(HoldIntent::Resume)),
        )
        .await
        .expect("resume");
    assert!(
        !store
            .get_stage(stage)
            .await
            .expect("stage")
            .is_held(&a.origin)
    );
}

/// A Stage's Freight history keeps the newest [`MAX_HISTORY`] collections.
pub async fn freight_history_is_bounded(store: &dyn StateStore) {
    let stage = "conf-bounded";
    let mut last = String::new();
    for i in 0..MAX_HISTORY + 2 {
        let f = put(
            store,
            freight("conf-bounded", &format!("v{i}"), "2026-01-01T09:00:00Z"),
        )
        .await;
        succeed(store, stage, &f.metadata.name, "2026-01-01T10:00:00Z").await;
        last = f.metadata.name;
    }
    let st = store.get_stage(stage).await.expect("stage");
    assert_eq!(st.freight_history.len(), MAX_HISTORY);
    assert_eq!(
        st.current()
            .and_then(|c| c.items.values().next())
            .map(|r| r.name.as_str()),
        Some(last.as_str())
    );
}

/// Promotions are claimed with a lease: once, oldest first, one per Stage;
/// only the owner saves and renews; an expired lease lets another owner
/// take the promotion over with its saved state; finishing ends the lease.
pub async fn promotion_claims(store: &dyn StateStore) {
    let (sa, sb) = ("conf-claim-a", "conf-claim-b");
    let f = put(store, freight("conf-claim", "v1", "2026-01-01T10:00:00Z")).await;
    let t0 = t("2026-01-01T12:00:00Z");
    let p1 = create(store, sa, &f.metadata.name).await;
    let p2 = create(store, sa, &f.metadata.name).await;
    let p3 = create(store, sb, &f.metadata.name).await;

    let claimed = claim_in(store, sa, "r1", t0).await.expect("p1 is free");
    assert_eq!(claimed.name, p1.name, "oldest first");
    assert_eq!(claimed.phase, PromotionPhase::Running);
    assert_eq!(claimed.started_at, Some(t0));
    assert_eq!(claimed.lease, Some(Lease::new("r1", t0, MINUTE)));
    assert_eq!(
        claim_in(store, sa, "r2", t0).await,
        None,
        "p1 is leased and p2 waits for it"
    );
    let again = claim_in(store, sa, "r1", t0)
        .await
        .expect("its owner claims it again");
    assert_eq!(again.name, p1.name);

    let saved = state_with(PromotionPhase::Running, 2);
    let at = t("2026-01-01T12:00:30Z");
    refused(
        store
            .save_promotion_state_opts(
                &p1.name,
                &saved,
                &SaveOptions::leased(Lease::new("r2", at, MINUTE)),
            )
            .await,
        "r2 does not hold p1",
    );
    store
        .save_promotion_state_opts(
            &p1.name,
            &saved,
            &SaveOptions::leased(Lease::new("r1", at, MINUTE)),
        )
        .await
        .expect("r1 saves and renews");
    let got = store
        .get_promotion(&p1.name)
        .await
        .expect("get")
        .expect("p1");
    assert_eq!(got.state, saved);
    assert_eq!(got.lease, Some(Lease::new("r1", at, MINUTE)), "renewed");
    refused(
        store
            .renew_promotion_lease(&p1.name, &Lease::new("r2", at, MINUTE))
            .await,
        "r2 does not hold p1",
    );
    let renewed_at = t("2026-01-01T12:00:40Z");
    store
        .renew_promotion_lease(&p1.name, &Lease::new("r1", renewed_at, MINUTE))
        .await
        .expect("r1 renews");
    assert_eq!(
        claim_in(store, sa, "r2", t("2026-01-01T12:01:39Z")).await,
        None,
        "the renewed lease still holds"
    );

    // r1 dies; once its lease ended, r2 takes p1 over with its saved state.
    let later = t("2026-01-01T12:01:40Z");
    let taken = claim_in(store, sa, "r2", later)
        .await
        .expect("the lease expired");
    assert_eq!(taken.name, p1.name);
    assert_eq!(taken.state, saved, "resumed from the saved state");
    assert_eq!(taken.started_at, Some(t0), "started once");
    assert_eq!(taken.lease, Some(Lease::new("r2", later, MINUTE)));
    refused(
        store
            .save_promotion_state_opts(
                &p1.name,
                &state_with(PromotionPhase::Running, 3),
                &SaveOptions::leased(Lease::new("r1", later, MINUTE)),
            )
            .await,
        "r1 lost its lease",
    );
    assert_eq!(
        store
            .get_promotion(&p1.name)
            .await
            .expect("get")
            .expect("p1")
            .state,
        saved,
        "nothing saved by r1"
    );

    store
        .save_promotion_state_opts(
            &p1.name,
            &state_with(PromotionPhase::Succeeded, 3),
            &SaveOptions::leased(Lease::new("r2", later, MINUTE)),
        )
        .await
        .expect("r2 saves");
    let done = store
        .finish_promotion(&p1.name, later)
        .await
        .expect("finish");
    assert_eq!(done.lease, None, "a finished promotion has no lease");
    let next = claim_in(store, sa, "r1", later).await.expect("p2 is next");
    assert_eq!(next.name, p2.name);

    // Without a Stage, claims go over every Stage, one promotion each
    // (each claimant its own: an owner gets its own promotion back).
    let mut claimed = Vec::new();
    while let Some(p) = store
        .claim_promotion(&Claim::new(
            format!("conf-claim-any-{}", claimed.len()),
            later,
            MINUTE,
        ))
        .await
        .expect("claim")
    {
        assert!(claimed.len() < 1000, "claims end");
        claimed.push(p);
    }
    assert!(claimed.iter().any(|p| p.name == p3.name), "p3 claimed");
    assert!(!claimed.iter().any(|p| p.stage == sa), "p2 runs in {sa}");
    let mut stages: Vec<_> = claimed.iter().map(|p| p.stage.as_str()).collect();
    stages.sort_unstable();
    let before = stages.len();
    stages.dedup();
    assert_eq!(stages.len(), before, "at most one promotion per Stage");
}

/// A named lease is held by one owner at a time until it expires or is
/// released.
pub async fn named_leases(store: &dyn StateStore) {
    let key = crate::state::discovery_lease_key("conf-lease");
    let t0 = t("2026-01-01T12:00:00Z");
    assert!(acquires(store, &key, "r1", t0).await, "free");
    assert!(!acquires(store, &key, "r2", t0).await, "held by r1");
    assert!(
        acquires(store, &key, "r1", t0).await,
        "renewed by its owner"
    );
    store.release_lease(&key, "r2").await.expect("release");
    let later = t("2026-01-01T12:00:59Z");
    assert!(
        !acquires(store, &key, "r2", later).await,
        "releasing someone else's lease does nothing"
    );
    let expired = t("2026-01-01T12:01:00Z");
    assert!(acquires(store, &key, "r2", expired).await, "expired");
    store.release_lease(&key, "r2").await.expect("release");
    assert!(acquires(store, &key, "r1", expired).await, "released");
}

/// The next change about `what`, skipping unrelated ones; panics after
/// 30 s without it (a hang guard, not a timing assertion).
async fn next_change(
    changes: &mut Changes,
    what: impl Fn(&Change) -> bool + Send + Sync,
) -> Change {
    let wait = async {
        loop {
            match changes.next().await {
                Some(change) if what(&change) => return change,
                Some(_) => {}
                None => panic!("the store stopped sending changes"),
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), wait)
        .await
        .expect("the change arrives")
}

/// Watchers see new Freight, approvals, queued and finished promotions.
pub async fn changes_are_watched(store: &dyn StateStore) {
    let stage = "conf-watch";
    let mut changes = store.watch().await.expect("watch");
    let f = put(store, freight("conf-watch", "v1", "2026-01-01T10:00:00Z")).await;
    let name = f.metadata.name.clone();
    let is_ours = |c: &Change| match c {
        Change::FreightCreated { freight } | Change::FreightApproved { freight, .. } => {
            *freight == name
        }
        Change::PromotionCreated { stage: s, .. }
        | Change::PromotionFinished { stage: s, .. }
        | Change::PromotionAbortRequested { stage: s, .. } => s == stage,
        _ => false,
    };
    assert_eq!(
        next_change(&mut changes, is_ours).await,
        Change::FreightCreated {
            freight: name.clone()
        }
    );
    let at = t("2026-01-01T12:00:00Z");
    store
        .approve_freight(&f.alias, stage, at)
        .await
        .expect("approve");
    assert_eq!(
        next_change(&mut changes, is_ours).await,
        Change::FreightApproved {
            freight: name.clone(),
            stage: stage.into()
        }
    );
    let done = promote(store, stage, &name, PromotionPhase::Succeeded, at).await;
    assert_eq!(
        next_change(&mut changes, is_ours).await,
        Change::PromotionCreated {
            promotion: done.clone(),
            stage: stage.into()
        }
    );
    assert_eq!(
        next_change(&mut changes, is_ours).await,
        Change::PromotionFinished {
            promotion: done,
            stage: stage.into(),
            phase: PromotionPhase::Succeeded
        }
    );
    let running = create(store, stage, &name).await;
    store.start_promotion(stage, at).await.expect("start");
    store
        .abort_promotion(&running.name, &AbortRequest::new("alice", at))
        .await
        .expect("abort");
    next_change(&mut changes, is_ours).await; // created
    assert_eq!(
        next_change(&mut changes, is_ours).await,
        Change::PromotionAbortRequested {
            promotion: running.name.clone(),
            stage: stage.into()
        }
    );
    // Leave the Stage free for the claims case.
    let mut state = state_with(PromotionPhase::Running, 0);
    crate::state::rules::abort_state(&mut state, &AbortRequest::new("alice", at));
    store
        .save_promotion_state(&running.name, &state)
        .await
        .expect("save");
    store
        .finish_promotion(&running.name, at)
        .await
        .expect("finish");
}
