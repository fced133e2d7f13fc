//! Kargo's resources as its API shows them: the manifests' Stages and
//! Warehouses with a `status` made from the state store, Freight, and
//! Promotions made from the store's records, each with `apiVersion`,
//! `kind`, `metadata`, `spec` and `status`; and a project's objects at
//! one moment ([`Snapshot`]).

mod snapshot;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kargo_core::model::{Freight, PromotionPhase, Stage, Warehouse};
use kargo_core::state::{FreightCollectionRecord, PromotionRecord, StageState, WarehouseState};
use serde_json::{Map, Value, json};

pub use snapshot::Snapshot;

/// When a Promotion was created, then its name (names sort in creation
/// order too).
fn created(p: &Value) -> (&str, &str) {
    (
        p.pointer("/metadata/creationTimestamp")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        p.pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default(),
    )
}

/// A Kubernetes list of `kind` holding `items`, as JSON, serialized
/// without copying them.
pub fn list_json<'a>(kind: Kind, items: impl Iterator<Item = &'a Arc<Value>>) -> bytes::Bytes {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct List<'a> {
        api_version: &'static str,
        kind: String,
        metadata: Map<String, Value>,
        items: Vec<&'a Value>,
    }
    let list = List {
        api_version: API_VERSION,
        kind: format!("{}List", kind.as_str()),
        metadata: Map::new(),
        items: items.map(|o| &**o).collect(),
    };
    // Values serialize to JSON without fail.
    serde_json::to_vec(&list).unwrap_or_default().into()
}

/// Kargo's API group and version.
pub const API_VERSION: &str = "kargo.akuity.io/v1alpha1";
/// The annotation naming who created a Promotion.
pub const CREATE_ACTOR: &str = "kargo.akuity.io/create-actor";
/// The annotation of a Promotion asked to abort and not stopped yet:
/// Kargo's `AbortPromotionRequest` as JSON, `{"action": "terminate",
/// "actor": ...}`.
pub const ABORT: &str = "kargo.akuity.io/abort";
/// The annotation of a rollback Promotion (`"true"`): one that moves its
/// Stage back to older Freight, which steps see as
/// `ctx.meta.promotion.rollback`.
pub const ROLLBACK: &str = "kargo.akuity.io/rollback";

/// The kinds of resource that can be watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Stages.
    Stage,
    /// Warehouses.
    Warehouse,
    /// Freight.
    Freight,
    /// Promotions.
    Promotion,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 4] = [Kind::Stage, Kind::Warehouse, Kind::Freight, Kind::Promotion];

    /// Kargo's kind name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Stage => "Stage",
            Kind::Warehouse => "Warehouse",
            Kind::Freight => "Freight",
            Kind::Promotion => "Promotion",
        }
    }
}

/// Kubernetes-shaped metadata: the resource's own, in `project`.
fn metadata(meta: &kargo_core::model::ObjectMeta, project: &str) -> Value {
    let mut meta = serde_json::to_value(meta).unwrap_or_else(|_| json!({}));
    if let Some(m) = meta.as_object_mut() {
        m.insert("namespace".to_owned(), Value::String(project.to_owned()));
    }
    meta
}

/// A resource read from the manifests, as the API shows it: the
/// manifest's own fields, `apiVersion`, `kind` and namespace set.
pub fn manifest_object<T: serde::Serialize>(resource: &T, kind: &str, project: &str) -> Value {
    let mut value = serde_json::to_value(resource).unwrap_or_else(|_| json!({}));
    if let Some(m) = value.as_object_mut() {
        m.insert(
            "apiVersion".to_owned(),
            Value::String(API_VERSION.to_owned()),
        );
        m.insert("kind".to_owned(), Value::String(kind.to_owned()));
        let meta = m
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert("namespace".to_owned(), Value::String(project.to_owned()));
        }
    }
    value
}

/// A list of `kind` objects (`StageList`, ...), as Kubernetes lists them.
pub fn list_object(kind: &str, items: Vec<Value>) -> Value {
    json!({
        "apiVersion": API_VERSION,
        "kind": format!("{kind}List"),
        "metadata": {},
        "items": items,
    })
}

/// A Freight reference as Kargo's Stage and Promotion status hold it:
/// name, origin and artifacts.
fn freight_reference(name: &str, freight: Option<&Freight>) -> Value {
    let mut reference = Map::new();
    reference.insert("name".to_owned(), Value::String(name.to_owned()));
    if let Some(f) = freight {
        // Only the artifacts: the Freight's status (every Stage it is in)
        // would make a reference as big as the pipeline.
        let mut put = |field: &str, value: serde_json::Result<Value>| match value {
            Ok(Value::Array(a)) if a.is_empty() => {}
            Ok(v) => {
                reference.insert(field.to_owned(), v);
            }
            Err(_) => {}
        };
        put("origin", serde_json::to_value(&f.origin));
        put("commits", serde_json::to_value(&f.commits));
        put("images", serde_json::to_value(&f.images));
        put("charts", serde_json::to_value(&f.charts));
        put("artifacts", serde_json::to_value(&f.artifacts));
    }
    Value::Object(reference)
}

/// Freight as the API shows it.
pub fn freight_object(freight: &Freight, project: &str) -> Value {
    let mut value = manifest_object(freight, "Freight", project);
    if let Some(m) = value.as_object_mut() {
        m.insert("metadata".to_owned(), metadata(&freight.metadata, project));
        m.entry("status").or_insert_with(|| json!({}));
    }
    value
}

/// The store's phase of a promotion as Kargo names it.
fn phase_name(phase: PromotionPhase) -> Value {
    Value::String(phase.as_str().to_owned())
}

/// A Promotion as the API shows it, from the store's record.
pub fn promotion_object(p: &PromotionRecord, freight: Option<&Freight>, project: &str) -> Value {
    let steps: Vec<Value> = p
        .state
        .steps
        .iter()
        .map(|s| {
            let mut step = Map::new();
            step.insert("alias".to_owned(), Value::String(s.alias.clone()));
            if let Some(at) = s.started_at {
                step.insert("startedAt".to_owned(), Value::String(at.to_string()));
            }
            if let Some(at) = s.finished_at {
                step.insert("finishedAt".to_owned(), Value::String(at.to_string()));
            }
            if s.error_count > 0 {
                step.insert("errorCount".to_owned(), json!(s.error_count));
            }
            if let Some(status) = s.status {
                step.insert(
                    "status".to_owned(),
                    serde_json::to_value(status).unwrap_or_default(),
                );
            }
            if let Some(message) = &s.message {
                step.insert("message".to_owned(), Value::String(message.clone()));
            }
            if s.continue_on_error {
                step.insert("continueOnError".to_owned(), Value::Bool(true));
            }
            Value::Object(step)
        })
        .collect();
    let mut status = Map::new();
    status.insert("phase".to_owned(), phase_name(p.phase));
    if let Some(message) = &p.state.message {
        status.insert("message".to_owned(), Value::String(message.clone()));
    }
    status.insert("freight".to_owned(), freight_reference(&p.freight, freight));
    if let Some(at) = p.started_at {
        status.insert("startedAt".to_owned(), Value::String(at.to_string()));
    }
    if let Some(at) = p.finished_at {
        status.insert("finishedAt".to_owned(), Value::String(at.to_string()));
    }
    status.insert("currentStep".to_owned(), json!(p.state.current_step));
    status.insert("stepExecutionMetadata".to_owned(), Value::Array(steps));
    status.insert("state".to_owned(), Value::Object(p.state.outputs.clone()));
    let mut meta = json!({"name": p.name, "namespace": project});
    if let Some(at) = p.created_at {
        meta["creationTimestamp"] = Value::String(at.to_string());
    }
    let mut annotations = Map::new();
    if !p.actor.is_empty() {
        annotations.insert(CREATE_ACTOR.to_owned(), Value::String(p.actor.clone()));
    }
    if p.rollback {
        annotations.insert(ROLLBACK.to_owned(), Value::String("true".to_owned()));
    }
    if let Some(abort) = p.abort.as_ref().filter(|_| !p.phase.is_terminal()) {
        let request = json!({"action": "terminate", "actor": abort.actor});
        annotations.insert(ABORT.to_owned(), Value::String(request.to_string()));
    }
    if !annotations.is_empty() {
        meta["annotations"] = Value::Object(annotations);
    }
    let mut spec = json!({
        "stage": p.stage,
        "freight": p.freight,
        "steps": p.steps,
    });
    if !p.vars.is_empty() {
        spec["vars"] = serde_json::to_value(&p.vars).unwrap_or_default();
    }
    json!({
        "apiVersion": API_VERSION,
        "kind": "Promotion",
        "metadata": meta,
        "spec": spec,
        "status": status,
    })
}

/// A Warehouse as the API shows it: the manifest with a status made from
/// its discoveries.
pub fn warehouse_object(warehouse: &Warehouse, state: &WarehouseState, project: &str) -> Value {
    let mut value = manifest_object(warehouse, "Warehouse", project);
    let mut status = Map::new();
    if let Some(id) = &state.last_freight_id {
        status.insert("lastFreightID".to_owned(), Value::String(id.clone()));
    }
    if let Some(at) = state.last_discovery {
        status.insert(
            "discoveredArtifacts".to_owned(),
            json!({"discoveredAt": at.to_string()}),
        );
    }
    let ready = match &state.error {
        Some(message) => condition("Ready", false, "DiscoveryFailed", message),
        None if state.last_success.is_some() => condition("Ready", true, "Synced", ""),
        None => condition("Ready", false, "Pending", "discovery has not run yet"),
    };
    status.insert("conditions".to_owned(), json!([ready]));
    value["status"] = Value::Object(status);
    value
}

/// A Kubernetes condition.
fn condition(kind: &str, ok: bool, reason: &str, message: &str) -> Value {
    let mut c = json!({
        "type": kind,
        "status": if ok { "True" } else { "False" },
        "reason": reason,
    });
    if !message.is_empty() {
        c["message"] = Value::String(message.to_owned());
    }
    c
}

/// The Freight that references are made from, by name: the records just
/// read first, then those known before.
struct FreightIndex<'a> {
    fresh: HashMap<&'a str, &'a Freight>,
    known: Option<&'a BTreeMap<String, Arc<Freight>>>,
}

impl<'a> FreightIndex<'a> {
    fn new(
        fresh: impl IntoIterator<Item = &'a Freight>,
        known: Option<&'a BTreeMap<String, Arc<Freight>>>,
    ) -> Self {
        FreightIndex {
            fresh: fresh
                .into_iter()
                .map(|f| (f.metadata.name.as_str(), f))
                .collect(),
            known,
        }
    }

    fn get(&self, name: &str) -> Option<&'a Freight> {
        self.fresh
            .get(name)
            .copied()
            .or_else(|| self.known?.get(name).map(|f| &**f))
    }
}

/// What a Stage object is made of.
struct StageView<'a> {
    stage: &'a Stage,
    state: &'a StageState,
    /// The Stage's promotions.
    promotions: &'a [&'a PromotionRecord],
    freight: &'a FreightIndex<'a>,
    auto_promotion: bool,
}

impl StageView<'_> {
    fn collection(&self, c: &FreightCollectionRecord) -> Value {
        let items: Map<String, Value> = c
            .items
            .iter()
            .map(|(origin, r)| {
                (
                    origin.clone(),
                    freight_reference(&r.name, self.freight.get(&r.name)),
                )
            })
            .collect();
        let mut value = json!({"id": c.id, "items": items});
        if !c.verification_history.is_empty() {
            value["verificationHistory"] =
                serde_json::to_value(&c.verification_history).unwrap_or_default();
        }
        value
    }

    fn promotion_reference(&self, p: &PromotionRecord) -> Value {
        let mut value = json!({
            "name": p.name,
            "freight": freight_reference(&p.freight, self.freight.get(&p.freight)),
        });
        if p.phase.is_terminal() {
            let mut status = json!({"phase": phase_name(p.phase)});
            if let Some(message) = &p.state.message {
                status["message"] = Value::String(message.clone());
            }
            value["status"] = status;
            if let Some(at) = p.finished_at {
                value["finishedAt"] = Value::String(at.to_string());
            }
        }
        value
    }

    fn object(&self, project: &str) -> Value {
        let mut value = manifest_object(self.stage, "Stage", project);
        let mut status = Map::new();
        let history: Vec<Value> = self
            .state
            .freight_history
            .iter()
            .map(|c| self.collection(c))
            .collect();
        let requested = self.stage.spec.requested_freight.len();
        let summary = match self.state.freight_history.first() {
            _ if self.stage.is_control_flow() => "N/A".to_owned(),
            Some(c) if requested == 1 && c.items.len() == 1 => c
                .items
                .values()
                .next()
                .map(|r| r.name.clone())
                .unwrap_or_default(),
            Some(c) => format!("{}/{requested} Fulfilled", c.items.len()),
            None => format!("0/{requested} Fulfilled"),
        };
        status.insert("freightHistory".to_owned(), Value::Array(history));
        status.insert("freightSummary".to_owned(), Value::String(summary));
        status.insert(
            "autoPromotionEnabled".to_owned(),
            Value::Bool(self.auto_promotion),
        );
        let mine = self.promotions.iter().copied();
        let running = mine.clone().find(|p| p.phase == PromotionPhase::Running);
        if let Some(p) = running {
            status.insert("currentPromotion".to_owned(), self.promotion_reference(p));
        }
        let last = self
            .state
            .last_promotion
            .as_ref()
            .and_then(|n| mine.clone().find(|p| p.name == *n));
        if let Some(p) = last {
            status.insert("lastPromotion".to_owned(), self.promotion_reference(p));
        }
        if !self.state.auto_promotion_holds.is_empty() {
            status.insert(
                "autoPromotionHolds".to_owned(),
                serde_json::to_value(&self.state.auto_promotion_holds).unwrap_or_default(),
            );
        }
        if !self.state.metadata.is_empty() {
            status.insert(
                "metadata".to_owned(),
                serde_json::to_value(&self.state.metadata).unwrap_or_default(),
            );
        }
        let verification = self
            .state
            .freight_history
            .first()
            .and_then(|c| c.current_verification());
        let mut conditions = vec![match running {
            Some(p) => condition(
                "Promoting",
                true,
                "ActivePromotion",
                &format!("Promotion {} is running", p.name),
            ),
            None => condition("Promoting", false, "NoActivePromotion", ""),
        }];
        if let Some(v) = verification {
            let phase = serde_json::to_value(v.phase)
                .ok()
                .and_then(|p| p.as_str().map(str::to_owned))
                .unwrap_or_default();
            conditions.push(condition(
                "Verified",
                v.phase == kargo_core::state::VerificationPhase::Successful,
                &phase,
                v.message.as_deref().unwrap_or_default(),
            ));
        }
        let failed = last.filter(|p| p.phase != PromotionPhase::Succeeded);
        conditions.push(match (running, failed) {
            (Some(_), _) => condition("Ready", false, "Promoting", ""),
            (None, Some(p)) => condition(
                "Ready",
                false,
                "LastPromotionFailed",
                p.state
                    .message
                    .as_deref()
                    .unwrap_or("the last promotion did not succeed"),
            ),
            (None, None) => condition("Ready", true, "Ready", ""),
        });
        status.insert("conditions".to_owned(), Value::Array(conditions));
        value["status"] = Value::Object(status);
        value
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A promotion of `phase` as the store keeps it, asked to abort by
    /// `ops` when `aborted`.
    fn record(phase: &str, aborted: bool) -> PromotionRecord {
        let mut value = json!({
            "name": "prod.000000000001.abc1234", "stage": "prod", "freight": "abc1234",
            "origin": {"kind": "Warehouse", "name": "app"}, "actor": "admin", "phase": phase,
        });
        if aborted {
            value["abort"] = json!({"actor": "ops", "at": "2026-01-01T00:00:00Z"});
        }
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_promotion_asked_to_abort_carries_kargos_annotation_until_it_stops() {
        let annotations = |p: &PromotionRecord| {
            promotion_object(p, None, "demo")["metadata"]["annotations"].clone()
        };
        let asked = annotations(&record("Running", true));
        assert_eq!(asked[CREATE_ACTOR], "admin");
        let request: Value = serde_json::from_str(asked[ABORT].as_str().unwrap()).unwrap();
        assert_eq!(request, json!({"action": "terminate", "actor": "ops"}));
        assert_eq!(
            annotations(&record("Running", false)),
            json!({ CREATE_ACTOR: "admin" })
        );
        assert_eq!(
            annotations(&record("Aborted", true)),
            json!({ CREATE_ACTOR: "admin" })
        );
    }
}
