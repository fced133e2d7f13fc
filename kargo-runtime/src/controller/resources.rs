//! Kargo resources kept in the state store (posted to `kargo serve`'s
//! `/v1beta1/resources`), beside the manifests read from files: each
//! document checked before anything is stored, a result per document, and
//! the project loaded again after a change.

use std::collections::BTreeMap;

use kargo_core::manifest::{Kind, Manifests};
use kargo_core::model::API_VERSION;
use kargo_core::state::{ResourceKey, ResourceWrite, StoredResource};
use serde::Serialize;
use serde_json::Value;

use super::Controller;
use crate::event::Event;
use crate::project::Project;
use crate::{Error, Result};

/// How [`Controller::apply_resources`] treats a resource that is (or is
/// not) stored already: Kargo's `POST /v1beta1/resources` (create), `PUT`
/// (update) and `PUT ?upsert=true`.
pub type ApplyMode = ResourceWrite;

/// What became of one document given to
/// [`Controller::apply_resources`] or [`Controller::delete_resources`]
/// (Kargo's `CreateResourceResult`, `CreateOrUpdateResourceResult` and
/// `DeleteResourceResult`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
#[non_exhaustive]
pub enum ResourceOutcome {
    /// The resource was stored; it was new.
    Created {
        /// Which resource.
        key: ResourceKey,
        /// The document as stored.
        manifest: Value,
    },
    /// The resource replaced the one stored.
    Updated {
        /// Which resource.
        key: ResourceKey,
        /// The document as stored.
        manifest: Value,
    },
    /// The stored resource was deleted.
    Deleted {
        /// Which resource.
        key: ResourceKey,
        /// The document as it was stored.
        manifest: Value,
    },
    /// Nothing was changed for this document.
    Failed {
        /// Which resource, when the document says.
        #[serde(skip_serializing_if = "Option::is_none")]
        key: Option<ResourceKey>,
        /// Why, naming the resource and the field at fault.
        error: String,
    },
}

impl ResourceOutcome {
    /// The error, when nothing was changed.
    pub fn error(&self) -> Option<&str> {
        match self {
            ResourceOutcome::Failed { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The resource, when the document names one.
    pub fn key(&self) -> Option<&ResourceKey> {
        match self {
            ResourceOutcome::Created { key, .. }
            | ResourceOutcome::Updated { key, .. }
            | ResourceOutcome::Deleted { key, .. } => Some(key),
            ResourceOutcome::Failed { key, .. } => key.as_ref(),
        }
    }

    fn failed(key: Option<&ResourceKey>, error: impl Into<String>) -> Self {
        ResourceOutcome::Failed {
            key: key.cloned(),
            error: error.into(),
        }
    }
}

/// The documents of a YAML (or JSON) text, as a request body holds them:
/// empty documents are left out. A text that is not YAML is an
/// [`Error::Invalid`] naming the position.
pub fn documents_from_yaml(text: &str) -> Result<Vec<Value>> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| {
        let message = e.to_string();
        let first = message.lines().next().unwrap_or_default();
        Error::Invalid(format!(
            "not YAML or JSON: {}",
            first.strip_prefix("error: ").unwrap_or(first)
        ))
    })?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// A change to the stored resources that passed its own checks.
#[derive(Debug)]
enum Op {
    Put(StoredResource, Box<Manifests>),
    Delete(ResourceKey),
}

impl Op {
    fn key(&self) -> &ResourceKey {
        match self {
            Op::Put(resource, _) => &resource.key,
            Op::Delete(key) => key,
        }
    }
}

/// The stored resources, each parsed, by key.
type Parsed = BTreeMap<ResourceKey, Manifests>;

impl Controller {
    /// Stores Kargo resources (one JSON value per document, as
    /// [`documents_from_yaml`] reads them) beside the manifest files, as
    /// `mode` says. Every document is checked before anything is stored:
    /// a Kargo kind kargo-rs keeps as a manifest (not `Freight` or
    /// `Promotion`, which have their own operations), a name (and a
    /// namespace for namespaced kinds), its kind's schema, not a resource
    /// of the manifest files (a conflict), created only when new (`Create`)
    /// or replacing one stored (`Update`), and the project with it still
    /// valid ([`Project::new`]). Documents that depend on each other may
    /// come in any order. Returns one outcome per document, in order;
    /// those that failed changed nothing. Afterwards the controller (and,
    /// through the store's change feed, every replica) loads the project
    /// again.
    ///
    /// The outer error is a failure of the store.
    pub async fn apply_resources(
        &self,
        docs: Vec<Value>,
        mode: ApplyMode,
    ) -> Result<Vec<ResourceOutcome>> {
        let _changing = self.inner.resources_lock.lock().await;
        let (base, parsed) = self.snapshot().await?;
        let mut outcomes = vec![None; docs.len()];
        let mut ops = Vec::new();
        for (i, doc) in docs.into_iter().enumerate() {
            let key = key_of(&doc).ok();
            match self.check_put(doc, mode, &base, &parsed, &ops) {
                Ok(op) => ops.push((i, op)),
                Err(e) => outcomes[i] = Some(ResourceOutcome::failed(key.as_ref(), e)),
            }
        }
        self.commit(&base, parsed, ops, mode, &mut outcomes).await
    }

    /// Deletes the stored resources the documents name (by kind,
    /// namespace and name; the rest of a document is ignored), each
    /// checked first: stored (a resource of the manifest files cannot be
    /// deleted here), and the project without it still valid. Returns one
    /// outcome per document, in order, as
    /// [`apply_resources`](Controller::apply_resources) does.
    pub async fn delete_resources(&self, docs: Vec<Value>) -> Result<Vec<ResourceOutcome>> {
        let _changing = self.inner.resources_lock.lock().await;
        let (base, parsed) = self.snapshot().await?;
        let mut outcomes = vec![None; docs.len()];
        let mut ops = Vec::new();
        for (i, doc) in docs.iter().enumerate() {
            let checked = key_of(doc).and_then(|key| {
                not_in_files(&base, &key, "deleted")?;
                if !parsed.contains_key(&key) {
                    return Err(format!("{key} does not exist"));
                }
                if ops.iter().any(|(_, op): &(usize, Op)| *op.key() == key) {
                    return Err(format!("{key} is named twice in the request"));
                }
                Ok(key)
            });
            match checked {
                Ok(key) => ops.push((i, Op::Delete(key))),
                Err(e) => outcomes[i] = Some(ResourceOutcome::failed(key_of(doc).ok().as_ref(), e)),
            }
        }
        self.commit(&base, parsed, ops, ResourceWrite::Update, &mut outcomes)
            .await
    }

    /// Loads the resources kept in the store again when they changed
    /// since they were listed last (by this or another replica), and
    /// rebuilds the project from the manifest files and them. Returns
    /// what changed in the project (empty when nothing did). When the
    /// combination cannot be used (a stored resource conflicts with a
    /// file's, or the project is invalid), the controller keeps the
    /// project it had, reports it once ([`Event::ManifestsRejected`]) and
    /// returns the error. A store that does not keep resources has none.
    pub async fn reload_resources(&self) -> Result<Vec<String>> {
        let _loading = self.inner.resources_lock.lock().await;
        self.reload_resources_locked().await
    }

    /// The project as it stands, the stored resources loaded first if
    /// they never were (a store that cannot be read is an error; stored
    /// resources that cannot be used were reported and are left out).
    pub(crate) async fn current(&self) -> Result<std::sync::Arc<Project>> {
        let loaded = self
            .inner
            .stored
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_some();
        if !loaded {
            match self.reload_resources().await {
                Ok(_) => {}
                Err(e) if e.is_input() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.project())
    }

    /// The stored resources as listed last (none before the first load).
    pub(super) fn stored_resources(&self) -> Vec<StoredResource> {
        self.inner
            .stored
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_default()
    }

    /// A project of `base` and `stored`, checked.
    pub(super) fn compose(&self, base: &Manifests, stored: &[StoredResource]) -> Result<Project> {
        let mut parsed = Vec::with_capacity(stored.len());
        for resource in stored {
            parsed.push(parse(resource).map_err(Error::Invalid)?);
        }
        self.compose_parsed(base, parsed.iter())
            .map_err(Error::Invalid)
    }

    fn compose_parsed<'a>(
        &self,
        base: &Manifests,
        stored: impl Iterator<Item = &'a Manifests>,
    ) -> std::result::Result<Project, String> {
        let mut manifests = base.clone();
        let mut any = false;
        for part in stored {
            manifests.extend(part.clone()).map_err(|e| e.to_string())?;
            any = true;
        }
        let name = if any {
            format!("{} with the stored resources", self.inner.base_name)
        } else {
            self.inner.base_name.clone()
        };
        Project::new(manifests, &name, self.engine()).map_err(|e| e.to_string())
    }

    async fn reload_resources_locked(&self) -> Result<Vec<String>> {
        let listed = match self.inner.store.list_resources().await {
            Ok(listed) => listed,
            Err(kargo_core::Error::Unsupported { .. }) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        {
            let mut stored = self.inner.stored.write().unwrap_or_else(|e| e.into_inner());
            if stored.as_ref() == Some(&listed) {
                return Ok(Vec::new());
            }
            // Looked at, whatever comes of it: a set that cannot be used
            // is reported once, not on every pass.
            *stored = Some(listed.clone());
        }
        let base = self
            .inner
            .base
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match self.compose(&base, &listed) {
            Ok(project) => Ok(self.install(project, "the stored resources")),
            Err(e) => {
                tracing::error!(
                    "the stored resources cannot be used with the manifests, keeping the project loaded before: {e}"
                );
                self.emit(Event::ManifestsRejected {
                    message: e.to_string(),
                });
                Err(e)
            }
        }
    }

    /// The base manifests and the stored resources as the store holds
    /// them now, parsed.
    async fn snapshot(&self) -> Result<(Manifests, Parsed)> {
        let base = self
            .inner
            .base
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let listed = self.inner.store.list_resources().await?;
        let mut parsed = Parsed::new();
        for resource in &listed {
            // A stored resource that cannot be read any more (a schema
            // that became stricter) is there, to be replaced or deleted,
            // but adds nothing to the checks; the reload reports it.
            let manifests = parse(resource).unwrap_or_default();
            parsed.insert(resource.key.clone(), manifests);
        }
        Ok((base, parsed))
    }

    /// Checks one document to put, on its own and against what the
    /// request put before it.
    fn check_put(
        &self,
        doc: Value,
        mode: ApplyMode,
        base: &Manifests,
        stored: &Parsed,
        earlier: &[(usize, Op)],
    ) -> std::result::Result<Op, String> {
        let key = key_of(&doc)?;
        let kind: Kind = key.kind.parse().map_err(|e| format!("{e}"))?;
        if matches!(kind, Kind::Freight | Kind::Promotion) {
            return Err(format!(
                "{key}: {kind} resources are not kept as manifests (Freight comes from Warehouses, a Promotion from promote)"
            ));
        }
        not_in_files(base, &key, "changed")?;
        if earlier.iter().any(|(_, op)| *op.key() == key) {
            return Err(format!("{key} is given twice in the request"));
        }
        match (mode, stored.contains_key(&key)) {
            (ResourceWrite::Create, true) => return Err(format!("{key} already exists")),
            (ResourceWrite::Update, false) => return Err(format!("{key} does not exist")),
            _ => {}
        }
        let resource = StoredResource::new(key, doc);
        let manifests = parse(&resource)?;
        Ok(Op::Put(resource, Box::new(manifests)))
    }

    /// Accepts the changes that keep the project valid (in as many rounds
    /// as it takes, so that a Stage may come before the Warehouse it
    /// needs), stores them, fills in every outcome and reloads.
    async fn commit(
        &self,
        base: &Manifests,
        mut parsed: Parsed,
        ops: Vec<(usize, Op)>,
        mode: ApplyMode,
        outcomes: &mut [Option<ResourceOutcome>],
    ) -> Result<Vec<ResourceOutcome>> {
        let mut pending: Vec<(usize, Op, String)> = ops
            .into_iter()
            .map(|(i, op)| (i, op, String::new()))
            .collect();
        let mut accepted = Vec::new();
        loop {
            let mut progress = false;
            let mut rest = Vec::new();
            for (i, op, _) in pending {
                let mut trial = parsed.clone();
                apply(&mut trial, &op);
                match self.compose_parsed(base, trial.values()) {
                    Ok(_) => {
                        parsed = trial;
                        accepted.push((i, op));
                        progress = true;
                    }
                    Err(e) => rest.push((i, op, e)),
                }
            }
            pending = rest;
            if !progress || pending.is_empty() {
                break;
            }
        }
        for (i, op, e) in pending {
            let verb = if matches!(op, Op::Delete(_)) {
                "deleting it"
            } else {
                "with it"
            };
            outcomes[i] = Some(ResourceOutcome::failed(
                Some(op.key()),
                format!("{}: {verb}, the project is not valid: {e}", op.key()),
            ));
        }
        let mut changed = Vec::new();
        for (i, op) in accepted {
            let key = op.key().clone();
            let outcome = match op {
                Op::Put(resource, _) => {
                    match self.inner.store.put_resource(&resource, mode).await {
                        Ok(created) => {
                            let manifest = resource.doc;
                            if created {
                                ResourceOutcome::Created { key, manifest }
                            } else {
                                ResourceOutcome::Updated { key, manifest }
                            }
                        }
                        Err(e) => ResourceOutcome::failed(Some(&key), format!("{key}: {e}")),
                    }
                }
                Op::Delete(key) => match self.inner.store.delete_resource(&key).await {
                    Ok(Some(deleted)) => ResourceOutcome::Deleted {
                        key,
                        manifest: deleted.doc,
                    },
                    Ok(None) => {
                        ResourceOutcome::failed(Some(&key), format!("{key} does not exist"))
                    }
                    Err(e) => ResourceOutcome::failed(Some(&key), format!("{key}: {e}")),
                },
            };
            if outcome.error().is_none() {
                tracing::info!(resource = %outcome.key().map(ToString::to_string).unwrap_or_default(), "stored resource {}", describe(&outcome));
                changed.extend(outcome.key().cloned());
            }
            outcomes[i] = Some(outcome);
        }
        if !changed.is_empty() {
            self.emit(Event::ResourcesChanged { resources: changed });
            if let Err(e) = self.reload_resources_locked().await {
                // Checked above; another replica's change in between can
                // still make the whole invalid. Reported by the reload.
                tracing::warn!("the project was not reloaded after the change: {e}");
            }
        }
        Ok(outcomes
            .iter_mut()
            .map(|o| {
                o.take().unwrap_or_else(|| {
                    ResourceOutcome::failed(None, "not looked at (an internal error)")
                })
            })
            .collect())
    }
}

fn describe(outcome: &ResourceOutcome) -> &'static str {
    match outcome {
        ResourceOutcome::Created { .. } => "created",
        ResourceOutcome::Updated { .. } => "updated",
        ResourceOutcome::Deleted { .. } => "deleted",
        ResourceOutcome::Failed { .. } => "failed",
    }
}

fn apply(parsed: &mut Parsed, op: &Op) {
    match op {
        Op::Put(resource, manifests) => {
            parsed.insert(resource.key.clone(), (**manifests).clone());
        }
        Op::Delete(key) => {
            parsed.remove(key);
        }
    }
}

/// A conflict when the manifest files hold `key`.
fn not_in_files(
    base: &Manifests,
    key: &ResourceKey,
    verb: &str,
) -> std::result::Result<(), String> {
    let Ok(kind) = key.kind.parse::<Kind>() else {
        return Ok(());
    };
    match base.origin_of(kind, &key.namespace, &key.name) {
        Some(origin) => Err(format!(
            "{key} conflicts with the manifest files: it is defined in {origin}, so it can only be {verb} there"
        )),
        None => Ok(()),
    }
}

/// The resource a document names: a Kargo kind, `metadata.name`, and
/// `metadata.namespace` for namespaced kinds.
fn key_of(doc: &Value) -> std::result::Result<ResourceKey, String> {
    let Some(object) = doc.as_object() else {
        return Err("the document is not a mapping".into());
    };
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    if api_version != API_VERSION || kind.parse::<Kind>().is_err() {
        return Err(format!(
            "`{api_version}` `{kind}` is not a Kargo kind kargo-rs knows (apiVersion {API_VERSION}, kind one of {})",
            Kind::ALL.map(Kind::as_str).join(", ")
        ));
    }
    let metadata = object.get("metadata");
    let field = |name: &str| {
        metadata
            .and_then(|m| m.get(name))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let (name, namespace) = (field("name"), field("namespace"));
    if name.is_empty() {
        return Err(format!("{kind}: metadata.name is missing"));
    }
    let cluster_scoped = matches!(kind, "Project" | "ClusterPromotionTask");
    if namespace.is_empty() && !cluster_scoped {
        return Err(format!(
            "{kind} {name}: metadata.namespace (the Kargo project) is missing"
        ));
    }
    Ok(ResourceKey::new(kind, namespace, name))
}

/// `resource`'s document read as a manifest of its kind, or why not.
fn parse(resource: &StoredResource) -> std::result::Result<Manifests, String> {
    let text = serde_json::to_string_pretty(&resource.doc).map_err(|e| e.to_string())?;
    let source = format!("resource {}", resource.key);
    let manifests = Manifests::from_yaml_str(&text, &source).map_err(|e| e.to_string())?;
    if manifests.len() != 1 {
        return Err(format!("{source}: not a Kargo resource kargo-rs knows"));
    }
    Ok(manifests)
}
