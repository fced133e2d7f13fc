//! One project's objects at one moment: read whole from the state store
//! ([`Snapshot::read`]), or made from the one before by reading again
//! only what a change touched ([`Snapshot::update`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use kargo_core::model::Freight;
use kargo_core::state::{FreightQuery, PromotionQuery, PromotionRecord};
use kargo_runtime::Controller;
use serde_json::Value;

use super::{
    FreightIndex, Kind, StageView, created, freight_object, list_json, promotion_object,
    warehouse_object,
};
use crate::touched::Touched;

/// The objects of one kind, by name; shared by the snapshots that did
/// not change them.
type Objects = Arc<BTreeMap<String, Arc<Value>>>;

/// One project's resources at one moment, as the API shows them.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// The objects of each kind (indexed by [`Kind`]).
    objects: [Objects; Kind::ALL.len()],
    /// Freight names by alias.
    aliases: HashMap<String, String>,
    /// The Freight as stored, by name.
    freight_records: BTreeMap<String, Arc<Freight>>,
    /// Each kind's whole list, made when first asked for.
    lists: [Lists; Kind::ALL.len()],
}

/// A kind's whole list as JSON, plain and gzipped.
#[derive(Debug, Default)]
struct Lists {
    json: OnceLock<Bytes>,
    /// `None` when it could not be compressed (then it is sent plain).
    gzip: OnceLock<Option<Bytes>>,
}

impl Snapshot {
    /// The objects of `kind`, by name.
    pub fn of(&self, kind: Kind) -> impl Iterator<Item = (&String, &Arc<Value>)> {
        self.objects[kind as usize].iter()
    }

    /// The object of `kind` named `name`.
    pub fn get(&self, kind: Kind, name: &str) -> Option<&Arc<Value>> {
        self.objects[kind as usize].get(name)
    }

    /// The Freight as stored, by name.
    pub fn freight_records(&self) -> impl Iterator<Item = &Freight> {
        self.freight_records.values().map(|f| &**f)
    }

    /// The objects of `kind` in the order a list shows them: Promotions
    /// newest first (as Kargo lists them), the others by name.
    pub fn listed(&self, kind: Kind) -> Vec<&Arc<Value>> {
        let mut items: Vec<&Arc<Value>> = self.of(kind).map(|(_, o)| o).collect();
        if kind == Kind::Promotion {
            items.sort_by(|a, b| created(b).cmp(&created(a)));
        }
        items
    }

    /// The Kubernetes list of every object of `kind` (`StageList`, ...)
    /// as JSON: serialized once per snapshot, however often it is asked
    /// for.
    pub fn list_json(&self, kind: Kind) -> Bytes {
        self.lists[kind as usize]
            .json
            .get_or_init(|| list_json(kind, self.listed(kind).into_iter()))
            .clone()
    }

    /// [`Snapshot::list_json`] compressed with gzip, made once per
    /// snapshot too; `None` if it could not be compressed.
    pub fn list_gzip(&self, kind: Kind) -> Option<Bytes> {
        self.lists[kind as usize]
            .gzip
            .get_or_init(|| gzip(&self.list_json(kind)))
            .clone()
    }

    /// The name (ID) of the Freight named, or aliased, `name_or_alias`.
    pub fn freight_id<'a>(&'a self, name_or_alias: &'a str) -> Option<&'a str> {
        if self.freight_records.contains_key(name_or_alias) {
            return Some(name_or_alias);
        }
        self.aliases.get(name_or_alias).map(String::as_str)
    }

    /// Takes the lists of `kind` made for `before`, whose objects of that
    /// kind are the same.
    pub fn keep_lists(&self, before: &Snapshot, kind: Kind) {
        let (from, to) = (&before.lists[kind as usize], &self.lists[kind as usize]);
        if let Some(json) = from.json.get() {
            let _ = to.json.set(json.clone());
        }
        if let Some(gzip) = from.gzip.get() {
            let _ = to.gzip.set(gzip.clone());
        }
    }

    /// Reads the project's state through `controller` and builds every
    /// object, in namespace `project`.
    pub async fn read(controller: &Controller, project: &str) -> kargo_core::Result<Snapshot> {
        let store = controller.store();
        let view = controller.project();
        let freight = store.list_freight(&FreightQuery::all()).await?;
        let promotions = store.list_promotions(&PromotionQuery::all()).await?;
        let index = FreightIndex::new(&freight, None);
        let mut by_stage: HashMap<&str, Vec<&PromotionRecord>> = HashMap::new();
        for p in &promotions {
            by_stage.entry(p.stage.as_str()).or_default().push(p);
        }

        let mut snapshot = Snapshot::default();
        for stage in view.graph().stages() {
            let name = &stage.metadata.name;
            let state = store.get_stage(name).await?;
            let view = StageView {
                stage,
                state: &state,
                promotions: by_stage.get(name.as_str()).map_or(&[], Vec::as_slice),
                freight: &index,
                auto_promotion: view.auto_promotion_enabled(name),
            };
            snapshot.put(Kind::Stage, name, view.object(project));
        }
        for warehouse in view.manifests().warehouses() {
            let name = &warehouse.metadata.name;
            let state = store.get_warehouse(name).await?;
            snapshot.put(
                Kind::Warehouse,
                name,
                warehouse_object(warehouse, &state, project),
            );
        }
        for p in &promotions {
            let object = promotion_object(p, index.get(&p.freight), project);
            snapshot.put(Kind::Promotion, &p.name, object);
        }
        drop(index);
        for f in freight {
            snapshot.put_freight(f, project);
        }
        Ok(snapshot)
    }

    /// The snapshot after the objects `touched` names changed: they are
    /// read again, and the others kept. A Stage brings its Promotions,
    /// the Freight that enters or leaves it and the Freight of its
    /// unfinished Promotions; new Freight brings its Warehouse. Returns
    /// it with the objects read (kind and name: changed, unchanged or
    /// gone). A Stage or Warehouse the manifests do not have is skipped:
    /// only reloaded manifests change those, and they touch everything.
    pub async fn update(
        &self,
        controller: &Controller,
        project: &str,
        touched: &Touched,
    ) -> kargo_core::Result<(Snapshot, Vec<(Kind, String)>)> {
        let store = controller.store();
        let view = controller.project();
        let mut next = self.share();
        let mut read = Vec::new();

        let mut freight_names: BTreeSet<String> = touched.freight_names().clone();
        let mut stages = Vec::new();
        for name in touched.stages() {
            let Some(stage) = view.graph().stage(name) else {
                continue;
            };
            let state = store.get_stage(name).await?;
            let promotions = store.list_promotions(&PromotionQuery::stage(name)).await?;
            let before = self.get(Kind::Stage, name).map(|o| current_freight(o));
            freight_names.extend(before.into_iter().flatten());
            if let Some(current) = state.current() {
                freight_names.extend(current.items.values().map(|r| r.name.clone()));
            }
            for p in &promotions {
                if !self
                    .get(Kind::Promotion, &p.name)
                    .is_some_and(|o| is_finished(o))
                {
                    freight_names.insert(p.freight.clone());
                }
            }
            stages.push((stage, state, promotions));
        }

        let mut fresh: BTreeMap<String, Freight> = BTreeMap::new();
        let mut gone = BTreeSet::new();
        for name in &freight_names {
            // By its ID when known (an alias may have changed since),
            // else as named (the store knows new names and aliases).
            let id = self.freight_id(name).unwrap_or(name);
            match store.get_freight(id).await? {
                Some(f) => {
                    fresh.insert(f.metadata.name.clone(), f);
                }
                None if self.freight_records.contains_key(id) => {
                    gone.insert(id.to_owned());
                }
                None => {}
            }
        }
        gone.retain(|id: &String| !fresh.contains_key(id));
        let mut warehouses = touched.warehouses().clone();
        warehouses.extend(
            fresh
                .values()
                .filter(|f| !self.freight_records.contains_key(&f.metadata.name))
                .map(|f| f.origin.name.clone()),
        );

        let index = FreightIndex::new(fresh.values(), Some(&self.freight_records));
        for (stage, state, promotions) in &stages {
            let name = &stage.metadata.name;
            let mine: Vec<&PromotionRecord> = promotions.iter().collect();
            let object = StageView {
                stage,
                state,
                promotions: &mine,
                freight: &index,
                auto_promotion: view.auto_promotion_enabled(name),
            }
            .object(project);
            next.put(Kind::Stage, name, object);
            read.push((Kind::Stage, name.clone()));
            // The Stage's promotions as stored now: those no longer
            // stored are gone.
            let stored: BTreeSet<&str> = promotions.iter().map(|p| p.name.as_str()).collect();
            let vanished: Vec<String> = self
                .of(Kind::Promotion)
                .filter(|(p, o)| {
                    o.pointer("/spec/stage").and_then(Value::as_str) == Some(name.as_str())
                        && !stored.contains(p.as_str())
                })
                .map(|(p, _)| p.clone())
                .collect();
            for p in vanished {
                next.remove(Kind::Promotion, &p);
                read.push((Kind::Promotion, p));
            }
            for p in promotions {
                let object = promotion_object(p, index.get(&p.freight), project);
                next.put(Kind::Promotion, &p.name, object);
                read.push((Kind::Promotion, p.name.clone()));
            }
        }
        for name in &warehouses {
            let Some(warehouse) = view.manifests().warehouse(name) else {
                continue;
            };
            let state = store.get_warehouse(name).await?;
            next.put(
                Kind::Warehouse,
                name,
                warehouse_object(warehouse, &state, project),
            );
            read.push((Kind::Warehouse, name.clone()));
        }
        drop(index);
        for (name, f) in fresh {
            next.put_freight(f, project);
            read.push((Kind::Freight, name));
        }
        for name in gone {
            next.remove_freight(&name);
            read.push((Kind::Freight, name));
        }
        Ok((next, read))
    }

    /// A snapshot with the same objects (shared until changed) and no
    /// lists made yet.
    fn share(&self) -> Snapshot {
        Snapshot {
            objects: self.objects.clone(),
            aliases: self.aliases.clone(),
            freight_records: self.freight_records.clone(),
            lists: Default::default(),
        }
    }

    /// Sets the object of `kind` named `name`; an equal object is kept as
    /// it was.
    fn put(&mut self, kind: Kind, name: &str, object: Value) {
        let objects = &mut self.objects[kind as usize];
        if objects.get(name).is_some_and(|o| **o == object) {
            return;
        }
        Arc::make_mut(objects).insert(name.to_owned(), Arc::new(object));
    }

    fn remove(&mut self, kind: Kind, name: &str) {
        if self.objects[kind as usize].contains_key(name) {
            Arc::make_mut(&mut self.objects[kind as usize]).remove(name);
        }
    }

    /// Sets the Freight `f`: its record, its alias and its object.
    fn put_freight(&mut self, f: Freight, project: &str) {
        let name = f.metadata.name.clone();
        if let Some(old) = self.freight_records.get(&name)
            && self.aliases.get(&old.alias) == Some(&name)
        {
            self.aliases.remove(&old.alias);
        }
        if !f.alias.is_empty() {
            self.aliases.insert(f.alias.clone(), name.clone());
        }
        self.put(Kind::Freight, &name, freight_object(&f, project));
        self.freight_records.insert(name, Arc::new(f));
    }

    fn remove_freight(&mut self, name: &str) {
        if let Some(old) = self.freight_records.remove(name)
            && self.aliases.get(&old.alias).is_some_and(|n| n == name)
        {
            self.aliases.remove(&old.alias);
        }
        self.remove(Kind::Freight, name);
    }
}

/// The names of the Freight a Stage object holds now.
fn current_freight(stage: &Value) -> Vec<String> {
    stage
        .pointer("/status/freightHistory/0/items")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|items| items.values())
        .filter_map(|r| r.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

/// Whether a Promotion object is in a terminal phase.
fn is_finished(promotion: &Value) -> bool {
    matches!(
        promotion.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed" | "Errored" | "Aborted")
    )
}

/// `body` compressed with gzip, at the fastest level: a list is
/// compressed again after each change, and the fastest level already
/// shrinks Kubernetes-shaped JSON about tenfold.
fn gzip(body: &[u8]) -> Option<Bytes> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 8),
        flate2::Compression::fast(),
    );
    encoder.write_all(body).ok()?;
    encoder.finish().ok().map(Bytes::from)
}
