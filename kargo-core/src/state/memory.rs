//! A [`StateStore`] in memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use serde_json::Value;

use super::rules;
use super::{
    AbortRequest, Change, ChangeFeed, Changes, Claim, DiscoveryOutcome, FreightQuery, Lease,
    NewPromotion, PromotionQuery, PromotionRecord, PutFreight, ResourceKey, ResourceWrite,
    SaveOptions, StageState, StateStore, StatusUpdate, StoredResource, VerificationRecord,
    WarehouseState,
};
use crate::Result;
use crate::model::PromotionState;
use crate::model::{Freight, PromotionPhase};
use crate::pipeline::{alias, discovered_at};
use crate::time::Timestamp;

/// A [`StateStore`] that keeps everything in memory, for tests and for
/// hosts that rebuild their state on start. Cheap to create; share it
/// through an `Arc`.
#[derive(Debug, Default)]
pub struct InMemoryStore {
    inner: Mutex<Inner>,
    feed: ChangeFeed,
}

#[derive(Debug, Default)]
struct Inner {
    freight: BTreeMap<String, Freight>,
    aliases: HashMap<String, String>,
    stages: BTreeMap<String, StageState>,
    warehouses: BTreeMap<String, WarehouseState>,
    promotions: BTreeMap<String, PromotionRecord>,
    leases: HashMap<String, Lease>,
    resources: BTreeMap<ResourceKey, StoredResource>,
    seq: u64,
}

impl InMemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        InMemoryStore::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-applied change:
        // every method mutates only after all its checks passed.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    fn resolve(&self, name: &str) -> Option<&str> {
        if let Some((k, _)) = self.freight.get_key_value(name) {
            return Some(k.as_str());
        }
        self.aliases.get(name).map(String::as_str)
    }

    fn stage_mut(&mut self, stage: &str) -> &mut StageState {
        self.stages
            .entry(stage.to_owned())
            .or_insert_with(|| StageState::new(stage))
    }
}

#[async_trait]
impl StateStore for InMemoryStore {
    async fn put_freight(&self, freight: Freight) -> Result<PutFreight> {
        let mut inner = self.lock();
        let name = rules::freight_name(&freight);
        if let Some(existing) = inner.freight.get(&name) {
            return Ok(PutFreight {
                freight: existing.clone(),
                created: false,
            });
        }
        let freight = rules::prepare_freight(freight, |a| {
            inner.aliases.contains_key(a) || inner.freight.contains_key(a)
        })?;
        inner
            .aliases
            .insert(freight.alias.clone(), freight.metadata.name.clone());
        inner
            .freight
            .insert(freight.metadata.name.clone(), freight.clone());
        self.feed.publish(Change::FreightCreated {
            freight: freight.metadata.name.clone(),
        });
        Ok(PutFreight {
            freight,
            created: true,
        })
    }

    async fn get_freight(&self, name: &str) -> Result<Option<Freight>> {
        let inner = self.lock();
        Ok(inner
            .resolve(name)
            .and_then(|n| inner.freight.get(n))
            .cloned())
    }

    async fn list_freight(&self, query: &FreightQuery) -> Result<Vec<Freight>> {
        let inner = self.lock();
        let mut out: Vec<Freight> = inner
            .freight
            .values()
            .filter(|f| query.origin.as_ref().is_none_or(|o| *o == f.origin))
            .cloned()
            .collect();
        out.sort_by(|a, b| {
            (discovered_at(a), &a.metadata.name).cmp(&(discovered_at(b), &b.metadata.name))
        });
        Ok(out)
    }

    async fn update_freight_status(&self, name: &str, update: StatusUpdate<'_>) -> Result<Freight> {
        let mut inner = self.lock();
        let key = inner
            .resolve(name)
            .map(str::to_owned)
            .ok_or_else(|| rules::freight_not_found(name))?;
        let freight = inner
            .freight
            .get_mut(&key)
            .expect("resolved names are stored");
        let before = freight.status.clone();
        update(&mut freight.status);
        self.feed
            .publish_all(Change::approvals(&key, &before, &freight.status));
        Ok(freight.clone())
    }

    async fn set_freight_alias(&self, name: &str, new_alias: &str) -> Result<Freight> {
        alias::validate(new_alias)?;
        let mut inner = self.lock();
        let key = inner
            .resolve(name)
            .map(str::to_owned)
            .ok_or_else(|| rules::freight_not_found(name))?;
        match inner.aliases.get(new_alias) {
            Some(owner) if *owner == key => {}
            Some(_) => return Err(rules::alias_exists(new_alias)),
            None if inner.freight.contains_key(new_alias) => {
                return Err(rules::alias_exists(new_alias));
            }
            None => {}
        }
        let freight = inner
            .freight
            .get_mut(&key)
            .expect("resolved names are stored");
        let old = std::mem::replace(&mut freight.alias, new_alias.to_owned());
        let freight = freight.clone();
        inner.aliases.remove(&old);
        inner.aliases.insert(new_alias.to_owned(), key);
        Ok(freight)
    }

    async fn get_stage(&self, stage: &str) -> Result<StageState> {
        let inner = self.lock();
        Ok(inner
            .stages
            .get(stage)
            .cloned()
            .unwrap_or_else(|| StageState::new(stage)))
    }

    async fn get_warehouse(&self, warehouse: &str) -> Result<WarehouseState> {
        let inner = self.lock();
        Ok(inner
            .warehouses
            .get(warehouse)
            .cloned()
            .unwrap_or_else(|| WarehouseState::new(warehouse)))
    }

    async fn record_discovery(
        &self,
        warehouse: &str,
        outcome: &DiscoveryOutcome,
        at: Timestamp,
    ) -> Result<WarehouseState> {
        let mut inner = self.lock();
        let state = inner
            .warehouses
            .entry(warehouse.to_owned())
            .or_insert_with(|| WarehouseState::new(warehouse));
        rules::record_discovery(state, outcome, at);
        Ok(state.clone())
    }

    async fn upsert_stage_metadata(
        &self,
        stage: &str,
        values: &BTreeMap<String, Value>,
    ) -> Result<StageState> {
        let mut inner = self.lock();
        let state = inner.stage_mut(stage);
        rules::upsert_metadata(&mut state.metadata, values);
        Ok(state.clone())
    }

    async fn record_verification(
        &self,
        stage: &str,
        verification: VerificationRecord,
    ) -> Result<StageState> {
        let mut inner = self.lock();
        let mut state = inner
            .stages
            .get(stage)
            .cloned()
            .unwrap_or_else(|| StageState::new(stage));
        let passed = rules::apply_verification(&mut state, verification)?;
        if let Some((names, at)) = passed {
            for name in names {
                if let Some(f) = inner.freight.get_mut(&name) {
                    f.status.add_verified_stage(stage, at);
                }
            }
        }
        inner.stages.insert(stage.to_owned(), state.clone());
        Ok(state)
    }

    async fn create_promotion(&self, new: NewPromotion) -> Result<PromotionRecord> {
        let mut inner = self.lock();
        let key = inner
            .resolve(&new.freight)
            .map(str::to_owned)
            .ok_or_else(|| rules::freight_not_found(&new.freight))?;
        inner.seq += 1;
        let name = rules::promotion_name(&new.stage, inner.seq, &key);
        let freight = &inner.freight[&key];
        let record = rules::new_promotion(name, new, freight);
        rules::apply_hold(inner.stage_mut(&record.stage), &record);
        inner.promotions.insert(record.name.clone(), record.clone());
        self.feed.publish(Change::PromotionCreated {
            promotion: record.name.clone(),
            stage: record.stage.clone(),
        });
        Ok(record)
    }

    async fn start_promotion(
        &self,
        stage: &str,
        now: Timestamp,
    ) -> Result<Option<PromotionRecord>> {
        let mut inner = self.lock();
        let mut of_stage = inner.promotions.values_mut().filter(|p| p.stage == stage);
        let mut next = None;
        for p in &mut of_stage {
            match p.phase {
                PromotionPhase::Running => return Ok(None),
                PromotionPhase::Pending if next.is_none() => next = Some(p),
                _ => {}
            }
        }
        Ok(next.map(|p| {
            p.phase = PromotionPhase::Running;
            p.started_at = Some(now);
            p.clone()
        }))
    }

    async fn save_promotion_state(&self, name: &str, state: &PromotionState) -> Result<()> {
        self.save_promotion_state_opts(name, state, &SaveOptions::default())
            .await
    }

    async fn finish_promotion(&self, name: &str, now: Timestamp) -> Result<PromotionRecord> {
        let mut inner = self.lock();
        let mut promo = inner
            .promotions
            .get(name)
            .cloned()
            .ok_or_else(|| rules::promotion_not_found(name))?;
        let mut stage = inner
            .stages
            .get(&promo.stage)
            .cloned()
            .unwrap_or_else(|| StageState::new(&promo.stage));
        let Some(finish) = rules::plan_finish(&promo, &stage)? else {
            return Ok(promo);
        };
        let mut incoming = inner.freight.get(&promo.freight).cloned();
        let mut outgoing = finish
            .outgoing
            .as_ref()
            .and_then(|n| inner.freight.get(n))
            .cloned();
        rules::apply_finish(
            &mut promo,
            &mut stage,
            incoming.as_mut(),
            outgoing.as_mut(),
            now,
        );
        for f in [incoming, outgoing].into_iter().flatten() {
            inner.freight.insert(f.metadata.name.clone(), f);
        }
        inner.stages.insert(stage.name.clone(), stage);
        inner.promotions.insert(promo.name.clone(), promo.clone());
        self.feed.publish(Change::finished(&promo));
        Ok(promo)
    }

    async fn abort_promotion(&self, name: &str, request: &AbortRequest) -> Result<PromotionRecord> {
        let mut inner = self.lock();
        let promo = inner
            .promotions
            .get_mut(name)
            .ok_or_else(|| rules::promotion_not_found(name))?;
        if rules::apply_abort(promo, request)? {
            self.feed.publish(Change::aborted(promo));
        }
        Ok(promo.clone())
    }

    async fn get_promotion(&self, name: &str) -> Result<Option<PromotionRecord>> {
        Ok(self.lock().promotions.get(name).cloned())
    }

    async fn list_promotions(&self, query: &PromotionQuery) -> Result<Vec<PromotionRecord>> {
        let mut out: Vec<PromotionRecord> = self
            .lock()
            .promotions
            .values()
            .filter(|p| query.matches(p))
            .cloned()
            .collect();
        out.sort_by_key(|p| rules::promotion_seq(&p.name));
        Ok(out)
    }

    async fn claim_promotion(&self, claim: &Claim) -> Result<Option<PromotionRecord>> {
        let mut inner = self.lock();
        let mut active: Vec<PromotionRecord> = inner
            .promotions
            .values()
            .filter(|p| claim.stage.as_ref().is_none_or(|s| *s == p.stage))
            .filter(|p| matches!(p.phase, PromotionPhase::Pending | PromotionPhase::Running))
            .cloned()
            .collect();
        active.sort_by_key(|p| rules::promotion_seq(&p.name));
        let Some(name) = rules::pick_claim(&active, claim).map(|p| p.name.clone()) else {
            return Ok(None);
        };
        let promo = inner
            .promotions
            .get_mut(&name)
            .expect("picked among the stored promotions");
        rules::apply_claim(promo, claim);
        Ok(Some(promo.clone()))
    }

    async fn save_promotion_state_opts(
        &self,
        name: &str,
        state: &PromotionState,
        opts: &SaveOptions,
    ) -> Result<()> {
        let mut inner = self.lock();
        let promo = inner
            .promotions
            .get_mut(name)
            .ok_or_else(|| rules::promotion_not_found(name))?;
        rules::check_save(promo, state)?;
        let mut saved = promo.clone();
        if let Some(lease) = &opts.lease {
            rules::renew_promotion_lease(&mut saved, lease)?;
        }
        saved.state = state.clone();
        *promo = saved;
        Ok(())
    }

    async fn renew_promotion_lease(&self, name: &str, lease: &Lease) -> Result<()> {
        let mut inner = self.lock();
        let promo = inner
            .promotions
            .get_mut(name)
            .ok_or_else(|| rules::promotion_not_found(name))?;
        rules::renew_promotion_lease(promo, lease)
    }

    async fn acquire_lease(&self, key: &str, lease: &Lease, now: Timestamp) -> Result<bool> {
        let mut inner = self.lock();
        if !rules::lease_available(inner.leases.get(key), lease, now) {
            return Ok(false);
        }
        inner.leases.insert(key.to_owned(), lease.clone());
        Ok(true)
    }

    async fn release_lease(&self, key: &str, owner: &str) -> Result<()> {
        let mut inner = self.lock();
        if inner.leases.get(key).is_some_and(|l| l.owner == owner) {
            inner.leases.remove(key);
        }
        Ok(())
    }

    async fn list_resources(&self) -> Result<Vec<StoredResource>> {
        Ok(self.lock().resources.values().cloned().collect())
    }

    async fn put_resource(&self, resource: &StoredResource, write: ResourceWrite) -> Result<bool> {
        let mut inner = self.lock();
        let exists = inner.resources.contains_key(&resource.key);
        rules::check_resource_write(&resource.key, write, exists)?;
        inner
            .resources
            .insert(resource.key.clone(), resource.clone());
        self.feed.publish(Change::resource(&resource.key));
        Ok(!exists)
    }

    async fn delete_resource(&self, key: &ResourceKey) -> Result<Option<StoredResource>> {
        let deleted = self.lock().resources.remove(key);
        if deleted.is_some() {
            self.feed.publish(Change::resource(key));
        }
        Ok(deleted)
    }

    async fn watch(&self) -> Result<Changes> {
        Ok(self.feed.subscribe())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;

    use super::*;
    use crate::conformance::state_store;
    use crate::engine::{Checkpoint, Engine, PromotionContext};
    use crate::model::{FreightOrigin, PromotionStep};
    use crate::state::{DynStateStore, StateStoreExt, StoreCheckpoint};
    use crate::step::{Step, StepContext, StepError, StepOutcome, StepRegistry};

    #[tokio::test]
    async fn in_memory_store_passes_the_conformance_suite() {
        state_store::run_all(&InMemoryStore::new()).await;
    }

    #[tokio::test]
    async fn boxed_store_passes_the_conformance_suite() {
        let store: Box<DynStateStore> = Box::new(InMemoryStore::new());
        state_store::run_all(&store).await;
    }

    #[tokio::test]
    async fn arc_store_passes_the_conformance_suite() {
        let store: Arc<DynStateStore> = Arc::new(InMemoryStore::new());
        state_store::run_all(&store).await;
        // An `Arc<dyn StateStore>` is itself a store.
        let again: Arc<DynStateStore> = Arc::new(store.clone());
        assert_eq!(
            again.get_stage("conf-move").await.expect("stage"),
            store.get_stage("conf-move").await.expect("stage")
        );
    }

    /// Counts how often each alias ran.
    #[derive(Debug, Default)]
    struct Count(Mutex<BTreeMap<String, u32>>);

    #[async_trait]
    impl Step for Count {
        async fn run(
            &self,
            ctx: &StepContext,
            _: serde_json::Value,
        ) -> Result<StepOutcome, StepError> {
            *self
                .0
                .lock()
                .expect("not poisoned")
                .entry(ctx.alias.clone())
                .or_default() += 1;
            Ok(StepOutcome::succeeded().with_output("n", 1))
        }
    }

    /// Writes `{"seen": <alias>}` into the Stage's metadata through the
    /// context's store.
    #[derive(Debug)]
    struct Mark;

    #[async_trait]
    impl Step for Mark {
        async fn run(
            &self,
            ctx: &StepContext,
            _: serde_json::Value,
        ) -> Result<StepOutcome, StepError> {
            let values = BTreeMap::from([("seen".to_owned(), ctx.alias.clone().into())]);
            ctx.store("mark")?
                .set_stage_metadata(&ctx.stage, &values)
                .await
                .map_err(|e| StepError::retryable(e.to_string()))?;
            Ok(StepOutcome::succeeded())
        }
    }

    #[tokio::test]
    async fn steps_reach_the_promotion_store_and_fail_clearly_without_one() {
        let mut registry = StepRegistry::new();
        registry.register("mark", Mark).expect("register");
        let engine = Engine::new(Arc::new(registry));
        let steps = [PromotionStep {
            uses: "mark".into(),
            alias: "m".into(),
            ..Default::default()
        }];
        let dir = tempfile::tempdir().expect("tempdir");
        let ctx = PromotionContext::new(crate::Workspace::new(dir.path()).expect("workspace"))
            .with_names("p", "dev", "promo");

        let without = engine.run(&ctx, &steps).await.expect("ran");
        assert_eq!(without.phase, PromotionPhase::Errored);
        let message = without.steps[0].message.clone().unwrap_or_default();
        assert!(message.contains("mark: no state store"), "{message}");

        let store: Arc<DynStateStore> = Arc::new(InMemoryStore::new());
        let with = engine
            .run(&ctx.clone().with_store(store.clone()), &steps)
            .await
            .expect("ran");
        assert_eq!(with.phase, PromotionPhase::Succeeded);
        let stage = store.get_stage("dev").await.expect("stage");
        assert_eq!(stage.metadata["seen"], "m");
    }

    /// Saves through the store, then "dies" (fails) right after save
    /// number `die_after`, as a process killed at a step boundary would.
    struct KilledAfter<'a> {
        inner: StoreCheckpoint<'a, DynStateStore>,
        saves: AtomicUsize,
        die_after: usize,
    }

    #[async_trait]
    impl Checkpoint for KilledAfter<'_> {
        async fn save(&self, state: &PromotionState) -> Result<()> {
            self.inner.save(state).await?;
            if self.saves.fetch_add(1, Ordering::SeqCst) + 1 == self.die_after {
                return Err(crate::Error::Precondition("killed".into()));
            }
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_promotion_killed_at_any_step_boundary_resumes_without_rerunning_steps() {
        let steps: Vec<PromotionStep> = (1..=4)
            .map(|i| PromotionStep {
                uses: "count".into(),
                alias: format!("s{i}"),
                ..Default::default()
            })
            .collect();
        for die_after in 1..=3 {
            let count = Arc::new(Count::default());
            let mut registry = StepRegistry::new();
            registry
                .register_arc("count", count.clone())
                .expect("register");
            let engine = Engine::new(Arc::new(registry));
            let dir = tempfile::tempdir().expect("tempdir");
            let ctx = PromotionContext::new(crate::Workspace::new(dir.path()).expect("workspace"));

            let store: Arc<DynStateStore> = Arc::new(InMemoryStore::new());
            let f = store
                .put_freight(crate::model::Freight {
                    origin: FreightOrigin::warehouse("app"),
                    ..Default::default()
                })
                .await
                .expect("put")
                .freight;
            let created = store
                .create_promotion(
                    NewPromotion::new("dev", &f.metadata.name).with_steps(steps.clone(), vec![]),
                )
                .await
                .expect("create");
            let started = store
                .start_promotion("dev", Timestamp::from_unix_millis(0))
                .await
                .expect("start")
                .expect("started");
            assert_eq!(started.name, created.name);

            // First run: killed right after the `die_after`-th save.
            let killed = KilledAfter {
                inner: StoreCheckpoint::new(store.as_ref(), started.name.clone()),
                saves: AtomicUsize::new(0),
                die_after,
            };
            let mut state = started.state.clone();
            engine
                .resume(&ctx, &started.steps, &mut state, &killed)
                .await
                .expect_err("killed");

            // Restart: only what the store kept survives.
            let running = store
                .running_promotion("dev")
                .await
                .expect("running")
                .expect("still running");
            let mut state = running.state.clone();
            let checkpoint = StoreCheckpoint::new(store.as_ref(), running.name.clone());
            engine
                .resume(&ctx, &running.steps, &mut state, &checkpoint)
                .await
                .expect("resumed");
            assert_eq!(state.phase, PromotionPhase::Succeeded);
            let calls = count.0.lock().expect("not poisoned").clone();
            for i in 1..=4 {
                assert_eq!(
                    calls.get(&format!("s{i}")),
                    Some(&1),
                    "s{i}, killed after save {die_after}"
                );
            }
            let done = store
                .finish_promotion(&running.name, Timestamp::from_unix_millis(1000))
                .await
                .expect("finish");
            assert_eq!(done.phase, PromotionPhase::Succeeded);
            assert_eq!(
                store
                    .get_stage("dev")
                    .await
                    .expect("stage")
                    .current_freight(&f.origin),
                Some(f.metadata.name.as_str())
            );
        }
    }
}
