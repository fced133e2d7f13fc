//! The hub's incremental reads: after each change, read only through
//! what the controller's events name, the snapshot must equal a whole
//! read of the project, and the watch events must carry every object
//! that changed (a promotion changes its Stage, the Freight that enters
//! it and the Freight that leaves it, which no event names).

use std::collections::BTreeMap;
use std::sync::Arc;

use kargo_core::manifest::Manifests;
use kargo_core::model::{Freight, FreightOrigin, Image};
use kargo_core::state::{InMemoryStore, StateStore};
use kargo_runtime::{Controller, Event, Events, FreightChoice, PromoteRequest};
use kargo_server::hub::{ChangeType, Hub, WatchEvent};
use kargo_server::metrics::Metrics;
use kargo_server::objects::{Kind, Snapshot};
use kargo_server::touched::Touched;
use serde_json::Value;
use tokio::sync::broadcast;

/// A Warehouse and dev → staging, each promotion one `compose-output`
/// step (no git: the test is about what the store holds afterwards).
const MANIFESTS: &str = "\
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata: {name: app, namespace: demo}
spec: {subscriptions: [{image: {repoURL: registry.example.com/app}}]}
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: dev, namespace: demo}
spec:
  requestedFreight: [{origin: {kind: Warehouse, name: app}, sources: {direct: true}}]
  promotionTemplate: {spec: {steps: [{uses: compose-output, as: out, config: {stage: dev}}]}}
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: staging, namespace: demo}
spec:
  requestedFreight: [{origin: {kind: Warehouse, name: app}, sources: {stages: [dev]}}]
  promotionTemplate: {spec: {steps: [{uses: compose-output, as: out, config: {stage: staging}}]}}
";

/// Freight of the image tag `v{n}` (`n` one hex digit).
fn image(n: &str) -> Freight {
    Freight {
        origin: FreightOrigin::warehouse("app"),
        images: vec![Image {
            repo_url: "registry.example.com/app".into(),
            tag: format!("v{n}"),
            digest: format!("sha256:{}", n.repeat(64)),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// A hub over an in-memory store holding two pieces of Freight, whose
/// background loop does not run: the test reads what each change names.
struct Project {
    controller: Controller,
    hub: Arc<Hub>,
    events: Events,
    changes: broadcast::Receiver<Arc<WatchEvent>>,
    v1: String,
    v2: String,
}

impl Project {
    async fn new() -> Project {
        let store = Arc::new(InMemoryStore::new());
        let v1 = store.put_freight(image("1"));
        let v1 = v1.await.unwrap().freight.metadata.name;
        let v2 = store.put_freight(image("2"));
        let v2 = v2.await.unwrap().freight.metadata.name;
        let mut registry = kargo_core::step::StepRegistry::new();
        kargo_steps::register_builtins(&mut registry);
        let controller = Controller::builder()
            .manifests(Manifests::from_yaml_str(MANIFESTS, "test").unwrap(), "test")
            .registry(Arc::new(registry))
            .store(store)
            .build()
            .unwrap();
        let events = controller.subscribe();
        let metrics = Arc::new(Metrics::new());
        let hub = Hub::new("demo".into(), controller.clone(), metrics)
            .await
            .unwrap();
        let (_, changes) = hub.subscribe();
        Project {
            controller,
            hub,
            events,
            changes,
            v1,
            v2,
        }
    }

    /// Reads what the events since the last call name (and `extra`, as
    /// an API write names what it wrote); returns the watch events sent.
    async fn settle(&mut self, extra: Touched) -> Vec<Arc<WatchEvent>> {
        let mut touched = extra;
        while let Some(event) = self.events.try_next() {
            assert!(!matches!(event, Event::Missed), "no event is missed");
            let named = Touched::of_event(&event);
            assert!(!named.is_everything(), "{event:?} names its objects");
            touched.merge(named);
        }
        self.hub.refresh_touched(touched).await.unwrap();
        let mut sent = Vec::new();
        while let Ok(change) = self.changes.try_recv() {
            sent.push(change);
        }
        self.assert_whole().await;
        sent
    }

    /// The hub's snapshot is what a whole read of the project makes,
    /// object for object and list for list.
    async fn assert_whole(&self) {
        let snapshot = self.hub.snapshot();
        let whole = Snapshot::read(&self.controller, "demo").await.unwrap();
        for kind in Kind::ALL {
            let objects = |s: &Snapshot| -> BTreeMap<String, Value> {
                s.of(kind)
                    .map(|(n, o)| (n.clone(), (**o).clone()))
                    .collect()
            };
            assert_eq!(objects(&snapshot), objects(&whole), "{kind:?}");
            assert_eq!(snapshot.list_json(kind), whole.list_json(kind), "{kind:?}");
        }
        assert_eq!(
            snapshot.freight_records().collect::<Vec<_>>(),
            whole.freight_records().collect::<Vec<_>>()
        );
    }

    async fn promote(&mut self, stage: &str, freight: &str) -> Vec<Arc<WatchEvent>> {
        let request = PromoteRequest::new(stage, FreightChoice::Named(freight.into()), "alice");
        self.controller.promote(&request).await.unwrap();
        let mut sent = self.settle(Touched::none()).await;
        self.controller.run_stage(stage).await.unwrap();
        sent.extend(self.settle(Touched::none()).await);
        sent
    }

    fn object(&self, kind: Kind, name: &str) -> Value {
        (**self.hub.snapshot().get(kind, name).unwrap()).clone()
    }
}

/// The last object sent for `kind` `name`, and how.
fn last_sent<'a>(sent: &'a [Arc<WatchEvent>], kind: Kind, name: &str) -> Option<&'a WatchEvent> {
    sent.iter()
        .rev()
        .find(|e| e.kind == kind && e.name == name)
        .map(|e| &**e)
}

fn currently_in(freight: &Value) -> Vec<String> {
    freight
        .pointer("/status/currentlyIn")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_promotion_read_incrementally_changes_its_stage_and_both_pieces_of_freight() {
    let mut project = Project::new().await;
    let (v1, v2) = (project.v1.clone(), project.v2.clone());

    let sent = project.promote("dev", &v1).await;
    let dev = last_sent(&sent, Kind::Stage, "dev").expect("dev was sent");
    assert_eq!(dev.object["status"]["freightSummary"], v1.as_str());
    let freight = last_sent(&sent, Kind::Freight, &v1).expect("v1 was sent");
    assert_eq!(freight.change, ChangeType::Modified);
    assert_eq!(currently_in(&freight.object), ["dev"]);
    assert!(
        sent.iter()
            .any(|e| e.kind == Kind::Promotion && e.change == ChangeType::Added)
    );

    // v2 replaces v1 in dev: the events name v2 only, v1 leaves dev all
    // the same.
    let sent = project.promote("dev", &v2).await;
    let left = last_sent(&sent, Kind::Freight, &v1).expect("v1 was sent as it left dev");
    assert!(currently_in(&left.object).is_empty(), "{:#}", left.object);
    assert_eq!(currently_in(&project.object(Kind::Freight, &v2)), ["dev"]);
    assert_eq!(
        project.object(Kind::Stage, "dev")["status"]["freightSummary"],
        v2.as_str()
    );
    // Nothing happened to staging, so nothing was sent for it.
    assert!(last_sent(&sent, Kind::Stage, "staging").is_none());

    // On to staging, then an approval and an alias, as the API makes them.
    project.promote("staging", &v2).await;
    assert_eq!(
        currently_in(&project.object(Kind::Freight, &v2)),
        ["dev", "staging"]
    );
    project
        .controller
        .approve(&v1, "staging", "alice")
        .await
        .unwrap();
    let sent = project.settle(Touched::none()).await;
    let approved = last_sent(&sent, Kind::Freight, &v1).expect("v1 was sent approved");
    assert!(
        approved
            .object
            .pointer("/status/approvedFor/staging")
            .is_some()
    );
    let old_alias = project.object(Kind::Freight, &v1)["alias"]
        .as_str()
        .unwrap()
        .to_owned();
    project
        .controller
        .store()
        .set_freight_alias(&v1, "first-one")
        .await
        .unwrap();
    // Named by the alias it had (as a step's event may name it): read by
    // its name all the same, not taken for gone.
    let sent = project.settle(Touched::freight(&old_alias)).await;
    assert_eq!(
        last_sent(&sent, Kind::Freight, &v1).unwrap().object["alias"],
        "first-one"
    );
    assert_eq!(
        project.hub.snapshot().freight_id("first-one"),
        Some(v1.as_str())
    );
}

#[tokio::test]
async fn a_list_is_made_again_only_for_the_kind_that_changed() {
    let mut project = Project::new().await;
    let before = project.hub.snapshot();
    let stages = before.list_json(Kind::Stage);
    let warehouses = before.list_gzip(Kind::Warehouse).unwrap();
    let v1 = project.v1.clone();
    project
        .controller
        .store()
        .set_freight_alias(&v1, "renamed")
        .await
        .unwrap();
    project.settle(Touched::freight(&v1)).await;
    let after = project.hub.snapshot();
    assert!(!Arc::ptr_eq(&before, &after), "a new snapshot");
    // The same bytes, not made again: the Stages and Warehouses did not
    // change; the Freight list did.
    assert_eq!(after.list_json(Kind::Stage).as_ptr(), stages.as_ptr());
    assert_eq!(
        after.list_gzip(Kind::Warehouse).unwrap().as_ptr(),
        warehouses.as_ptr()
    );
    let freight: Value = serde_json::from_slice(&after.list_json(Kind::Freight)).unwrap();
    assert!(
        freight["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["alias"] == "renamed")
    );
}
