use async_trait::async_trait;
use kargo_core::step::{
    Capabilities, RetryDefaults, Step, StepContext, StepError, StepOutcome, parse_config,
};
use kargo_core::urls::normalize_git;
use serde_json::{Map, Value, json};

use super::{AppUpdate, Config, KIND, RULES, SourceUpdate, TOUCHES};
use crate::argocd::client::{self, Api};
use crate::argocd::{AUTHORIZED_STAGE_ANNOTATION, AppView, Options, PROMOTION_INFO, app_ref};
use crate::schema;

/// The `argocd-update` step (see the [module](super)).
#[derive(Debug, Clone, Default)]
pub struct ArgoCdUpdate {
    options: Options,
}

impl ArgoCdUpdate {
    /// The step talking to the server of `options`.
    pub fn new(options: Options) -> Self {
        ArgoCdUpdate { options }
    }
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

fn validate(config: &Config) -> Result<(), StepError> {
    let invalid = |m: String| Err(StepError::failed(format!("invalid {KIND} config: {m}")));
    if config.apps.is_empty() {
        return invalid("`apps` is empty".into());
    }
    for (i, app) in config.apps.iter().enumerate() {
        crate::argocd::target(KIND, i, &app.name, &app.selector)?;
        for (j, source) in app.sources.iter().enumerate() {
            if source.repo_url.is_empty() {
                return invalid(format!("`apps[{i}].sources[{j}].repoURL` is empty"));
            }
            if source.update_target_revision && non_empty(&source.desired_revision).is_none() {
                return invalid(format!(
                    "`apps[{i}].sources[{j}]`: `updateTargetRevision` needs `desiredRevision`"
                ));
            }
            let images = source.kustomize.iter().flat_map(|k| &k.images);
            for image in images {
                if non_empty(&image.tag).is_some() && non_empty(&image.digest).is_some() {
                    return invalid(format!(
                        "`apps[{i}].sources[{j}].kustomize.images`: `tag` and `digest` of `{}` are exclusive",
                        image.repo_url
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The sources of an Application: `spec.sources`, else `[spec.source]`.
fn sources(app: &Value) -> Vec<Value> {
    match app.at("/spec/sources") {
        Some(Value::Array(sources)) if !sources.is_empty() => sources.clone(),
        _ => app.at("/spec/source").cloned().into_iter().collect(),
    }
}

/// Whether `update` targets `source`.
fn matches(update: &SourceUpdate, source: &Value) -> bool {
    let repo = source.str_at("/repoURL");
    let chart = source.str_at("/chart");
    let wanted_chart = update.chart.as_deref().unwrap_or_default();
    if !chart.is_empty() || !wanted_chart.is_empty() {
        repo == update.repo_url && chart == wanted_chart
    } else {
        normalize_git(repo) == normalize_git(&update.repo_url)
    }
}

/// The desired revision of each source (empty when none is desired).
fn desired_revisions(app_update: &AppUpdate, app: &Value) -> Vec<String> {
    sources(app)
        .iter()
        .map(|source| {
            app_update
                .sources
                .iter()
                .find(|u| matches(u, source))
                .and_then(|u| non_empty(&u.desired_revision))
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

/// Applies `update` to `source`.
fn apply(update: &SourceUpdate, source: &mut Value) {
    let Value::Object(source) = source else {
        return;
    };
    if let (true, Some(revision)) = (
        update.update_target_revision,
        non_empty(&update.desired_revision),
    ) {
        source.insert("targetRevision".into(), json!(revision));
    }
    if let Some(kustomize) = update.kustomize.as_ref().filter(|k| !k.images.is_empty()) {
        let images: Vec<Value> = kustomize
            .images
            .iter()
            .map(|image| {
                let mut s = image.repo_url.clone();
                if let Some(new_name) = non_empty(&image.new_name) {
                    s = format!("{s}={new_name}");
                }
                match (non_empty(&image.digest), non_empty(&image.tag)) {
                    (Some(digest), _) => format!("{s}@{digest}"),
                    (None, Some(tag)) => format!("{s}:{tag}"),
                    (None, None) => s,
                }
                .into()
            })
            .collect();
        let entry = source
            .entry("kustomize")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(k) = entry {
            k.insert("images".into(), Value::Array(images));
        }
    }
    if let Some(helm) = update.helm.as_ref().filter(|h| !h.images.is_empty()) {
        let entry = source
            .entry("helm")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(h) = entry {
            let params = h
                .entry("parameters")
                .or_insert_with(|| Value::Array(Vec::new()));
            if !params.is_array() {
                *params = Value::Array(Vec::new());
            }
            if let Value::Array(params) = params {
                for image in &helm.images {
                    let param = json!({"name": image.key, "value": image.value});
                    match params.iter_mut().find(|p| p.str_at("/name") == image.key) {
                        Some(existing) => *existing = param,
                        None => params.push(param),
                    }
                }
            }
        }
    }
}

/// The Application's sources with the updates applied; an update that
/// targets no source is an error.
fn desired_sources(app_update: &AppUpdate, app: &Value) -> Result<Vec<Value>, String> {
    let mut sources = sources(app);
    for update in &app_update.sources {
        let Some(source) = sources.iter_mut().find(|s| matches(update, s)) else {
            let chart = non_empty(&update.chart)
                .map(|c| format!(" and chart `{c}`"))
                .unwrap_or_default();
            return Err(format!(
                "no source of Argo CD Application `{}` in namespace `{}` matches the update for \
                 repoURL `{}`{chart}",
                app.name(),
                app.namespace(),
                update.repo_url
            ));
        };
        apply(update, source);
    }
    Ok(sources)
}

/// Whether the Application lets this stage update it.
fn authorized(ctx: &StepContext, app: &Value) -> Result<(), String> {
    let annotation = app
        .at("/metadata/annotations")
        .and_then(|a| a.get(AUTHORIZED_STAGE_ANNOTATION))
        .and_then(Value::as_str);
    let denied = || {
        format!(
            "Argo CD Application `{}` in namespace `{}` does not permit mutation by Kargo Stage \
             `{}` in project `{}` (annotation {AUTHORIZED_STAGE_ANNOTATION})",
            app.name(),
            app.namespace(),
            ctx.stage,
            ctx.project
        )
    };
    let annotation = annotation.ok_or_else(denied)?;
    let mut any = false;
    for entry in annotation
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let (project, stage) = entry
            .split_once(':')
            .map(|(p, s)| (p.trim(), s.trim()))
            .filter(|(p, s)| !p.is_empty() && !s.is_empty() && !p.contains('*') && !s.contains('*'))
            .ok_or_else(|| {
                format!(
                    "Argo CD Application `{}`: invalid {AUTHORIZED_STAGE_ANNOTATION} entry `{entry}` \
                     (expected <project>:<stage>)",
                    app.name()
                )
            })?;
        any = true;
        if project == ctx.project && stage == ctx.stage {
            return Ok(());
        }
    }
    if !any {
        return Err(format!(
            "Argo CD Application `{}`: {AUTHORIZED_STAGE_ANNOTATION} names no Stage",
            app.name()
        ));
    }
    Err(denied())
}

/// Argo CD's operation phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    // Ordered by precedence when aggregating, as Kargo sorts them.
    Failed,
    Running,
    Succeeded,
}

fn phase_of(text: &str) -> Option<Phase> {
    match text {
        "Running" | "Terminating" => Some(Phase::Running),
        "Failed" | "Error" => Some(Phase::Failed),
        "Succeeded" => Some(Phase::Succeeded),
        _ => None,
    }
}

/// What to do about one Application.
enum Decision {
    /// Start a sync.
    Update,
    /// Report this phase.
    Observe(Phase),
}

fn decide(ctx: &StepContext, app: &Value, desired: &[String]) -> Decision {
    let Some(state) = app.at("/status/operationState").filter(|s| !s.is_null()) else {
        return Decision::Update;
    };
    let phase = phase_of(state.str_at("/phase")).unwrap_or(Phase::Running);
    let completed = phase != Phase::Running;
    let info = state
        .at("/operation/info")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|i| i.str_at("/name") == PROMOTION_INFO);
    let ours = info.is_some_and(|i| i.str_at("/value") == ctx.promotion);
    if !ours {
        // Someone else's operation: let it finish, then start ours.
        return if completed {
            Decision::Update
        } else {
            Decision::Observe(Phase::Running)
        };
    }
    if !completed {
        return Decision::Observe(Phase::Running);
    }
    let Some(result) = state.at("/syncResult").filter(|r| !r.is_null()) else {
        return Decision::Update;
    };
    let observed: Vec<&str> = match result.at("/revisions").and_then(Value::as_array) {
        Some(revisions) if !revisions.is_empty() => revisions
            .iter()
            .map(|r| r.as_str().unwrap_or_default())
            .collect(),
        _ => vec![result.str_at("/revision")],
    };
    let mismatch = desired
        .iter()
        .enumerate()
        .any(|(i, want)| !want.is_empty() && observed.get(i).copied() != Some(want.as_str()));
    if mismatch {
        Decision::Update
    } else {
        Decision::Observe(phase)
    }
}

/// The sync request: this promotion's info, the Application's own sync
/// options and retry strategy.
fn sync_request(ctx: &StepContext, app: &Value) -> Value {
    let mut request = json!({
        "name": app.name(),
        "appNamespace": app.namespace(),
        "infos": [
            {"name": "Reason", "value": "Promotion triggered a sync of this Application resource."},
            {"name": PROMOTION_INFO, "value": ctx.promotion},
        ],
    });
    if let Some(options) = app
        .at("/spec/syncPolicy/syncOptions")
        .filter(|o| o.is_array())
    {
        request["syncOptions"] = json!({"items": options});
    }
    if let Some(retry) = app.at("/spec/syncPolicy/retry").filter(|r| r.is_object()) {
        request["retryStrategy"] = retry.clone();
    }
    request
}

impl ArgoCdUpdate {
    /// Updates, refreshes and syncs one Application.
    async fn start_sync(
        &self,
        ctx: &StepContext,
        api: &Api<'_>,
        app: &Value,
        desired: Vec<Value>,
    ) -> Result<(), StepError> {
        let (name, namespace) = (app.name(), app.namespace());
        let mut spec = app.at("/spec").cloned().unwrap_or_else(|| json!({}));
        let multi = matches!(spec.get("sources"), Some(Value::Array(s)) if !s.is_empty());
        let changed = if multi {
            spec["sources"] != Value::Array(desired.clone())
        } else {
            desired
                .first()
                .is_some_and(|d| spec.get("source") != Some(d))
        };
        if changed {
            if multi {
                spec["sources"] = Value::Array(desired);
            } else if let Some(source) = desired.into_iter().next() {
                spec["source"] = source;
            }
            api.update_spec(namespace, name, &spec).await?;
        }
        api.get(namespace, name, true).await?;
        api.sync(name, &sync_request(ctx, app)).await?;
        tracing::info!(app = name, namespace, "started an Argo CD sync");
        Ok(())
    }
}

#[async_trait]
impl Step for ArgoCdUpdate {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        validate(&config)?;
        let api = Api::connect(ctx, KIND, &self.options).await?;
        let mut resolved = Vec::new();
        let mut phases = Vec::new();
        for (i, app_update) in config.apps.iter().enumerate() {
            let target = crate::argocd::target(KIND, i, &app_update.name, &app_update.selector)?;
            let namespace = non_empty(&app_update.namespace).unwrap_or(&self.options.namespace);
            let found = client::resolve(&api, KIND, namespace, &target).await?;
            let total = found.len();
            let mut apps = Vec::new();
            let mut refused = Vec::new();
            for app in found {
                match authorized(ctx, &app) {
                    Ok(()) => apps.push(app),
                    Err(reason) => refused.push(reason),
                }
            }
            if apps.is_empty() {
                let reason = match target {
                    crate::argocd::Target::Name(_) => refused.join("; "),
                    crate::argocd::Target::Selector(_) => format!(
                        "found {total} Application(s) matching the selector in namespace \
                         `{namespace}`, but none is authorized for Stage `{}` in project `{}`",
                        ctx.stage, ctx.project
                    ),
                };
                return Err(StepError::terminal(format!("{KIND}: {reason}")));
            }
            for reason in &refused {
                tracing::info!(%reason, "skipping an unauthorized Application");
            }
            // Every update must apply to every Application before any is
            // changed.
            let mut plans = Vec::with_capacity(apps.len());
            let mut incompatible = Vec::new();
            for app in &apps {
                match desired_sources(app_update, app) {
                    Ok(desired) => plans.push(desired),
                    Err(e) => incompatible.push(e),
                }
            }
            if !incompatible.is_empty() {
                return Err(StepError::terminal(format!(
                    "{KIND}: {}; no Application was updated",
                    incompatible.join("; ")
                )));
            }
            for (app, desired) in apps.iter().zip(plans) {
                resolved.push(app_ref(app));
                let revisions = desired_revisions(app_update, app);
                match decide(ctx, app, &revisions) {
                    Decision::Update => {
                        self.start_sync(ctx, &api, app, desired).await?;
                        phases.push(Phase::Running);
                    }
                    Decision::Observe(Phase::Failed) => {
                        let message = app.str_at("/status/operationState/message");
                        return Err(StepError::terminal(format!(
                            "{KIND}: the sync of Argo CD Application `{}` in namespace `{}` failed: {message}",
                            app.name(),
                            app.namespace()
                        )));
                    }
                    Decision::Observe(phase) => phases.push(phase),
                }
            }
        }
        let mut output = Map::new();
        output.insert("apps".into(), Value::Array(resolved));
        match phases.iter().min() {
            Some(Phase::Running) => Ok(StepOutcome::running(self.options.poll_interval)
                .with_outputs(output)
                .with_message("waiting for Argo CD to finish syncing")),
            _ => Ok(StepOutcome::succeeded().with_outputs(output)),
        }
    }

    fn default_retry(&self) -> RetryDefaults {
        RetryDefaults::new(Some(std::time::Duration::from_secs(5 * 60)), None)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_touches(TOUCHES)
    }

    fn check_config(&self, config: &Value) -> Result<(), StepError> {
        schema::check(KIND, RULES, config)
    }
}
