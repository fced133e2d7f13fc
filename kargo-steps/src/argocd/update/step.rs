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

/// The `(project, stage)` pairs an authorized-stage annotation names: a
/// comma separated list of `<project>:<stage>`, blanks around entries and
/// parts ignored. A malformed entry, a glob (`*`, which Kargo no longer
/// supports) or a list naming no Stage is an error.
fn authorized_stages(value: &str) -> Result<Vec<(&str, &str)>, String> {
    let mut stages = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (project, stage) = entry
            .split_once(':')
            .map(|(p, s)| (p.trim(), s.trim()))
            .filter(|(p, s)| !p.is_empty() && !s.is_empty())
            .ok_or_else(|| {
                format!("invalid authorized Stage `{entry}`: expected `<project>:<stage>`")
            })?;
        if project.contains('*') || stage.contains('*') {
            return Err(format!(
                "invalid authorized Stage `{entry}`: deprecated glob expressions are no \
                 longer supported"
            ));
        }
        stages.push((project, stage));
    }
    if stages.is_empty() {
        return Err(format!("no authorized Stages found in `{value}`"));
    }
    Ok(stages)
}

/// Whether the Application lets Stage `stage` of project `project` update
/// it: its annotation must parse as a whole and name that Stage.
fn authorized(project: &str, stage: &str, app: &Value) -> Result<(), String> {
    let denied = || {
        format!(
            "Argo CD Application `{}` in namespace `{}` does not permit mutation by Kargo Stage \
             `{stage}` in project `{project}` (annotation {AUTHORIZED_STAGE_ANNOTATION})",
            app.name(),
            app.namespace(),
        )
    };
    let annotation = app
        .at("/metadata/annotations")
        .and_then(|a| a.get(AUTHORIZED_STAGE_ANNOTATION))
        .and_then(Value::as_str)
        .ok_or_else(denied)?;
    let stages = authorized_stages(annotation).map_err(|e| {
        format!(
            "unable to parse annotation {AUTHORIZED_STAGE_ANNOTATION} (`{annotation}`) of Argo CD \
             Application `{}` in namespace `{}`: {e}",
            app.name(),
            app.namespace()
        )
    })?;
    if stages.contains(&(project, stage)) {
        Ok(())
    } else {
        Err(denied())
    }
}

/// Argo CD's operation phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    // Ordered by precedence when aggregating, as Kargo sorts them: a phase
    // Argo CD did not document counts only when no Application has another.
    Failed,
    Running,
    Succeeded,
    Unknown,
}

fn phase_of(text: &str) -> Phase {
    match text {
        "Running" | "Terminating" => Phase::Running,
        "Failed" | "Error" => Phase::Failed,
        "Succeeded" => Phase::Succeeded,
        _ => Phase::Unknown,
    }
}

/// What to do about one Application.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    /// Start a sync.
    Update,
    /// Report this phase.
    Observe(Phase),
}

/// Whether this promotion (`promotion`) must start a sync of `app`, whose
/// sources should be observed at `desired` (by index; empty: any).
fn decide(promotion: &str, app: &Value, desired: &[String]) -> Decision {
    let Some(state) = app.at("/status/operationState").filter(|s| !s.is_null()) else {
        return Decision::Update;
    };
    let phase = phase_of(state.str_at("/phase"));
    // As Argo CD's `Completed()`: an unknown phase is not.
    let completed = matches!(phase, Phase::Failed | Phase::Succeeded);
    let info = state
        .at("/operation/info")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|i| i.str_at("/name") == PROMOTION_INFO);
    let ours = info.is_some_and(|i| i.str_at("/value") == promotion);
    if !ours {
        // Someone else's operation: let it finish, then start ours.
        return if completed {
            Decision::Update
        } else {
            Decision::Observe(phase)
        };
    }
    if !completed {
        return Decision::Observe(phase);
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

/// At most this many incompatible Applications are named in an error.
const MAX_INCOMPATIBLE_SHOWN: usize = 3;

/// The desired sources of each of `apps`; when any update targets no
/// source of some Application, an error naming them (the first
/// [`MAX_INCOMPATIBLE_SHOWN`]) and saying that none was updated.
fn plan(app_update: &AppUpdate, apps: &[Value]) -> Result<Vec<Vec<Value>>, String> {
    let mut plans = Vec::with_capacity(apps.len());
    let mut incompatible = Vec::new();
    for app in apps {
        match desired_sources(app_update, app) {
            Ok(desired) => plans.push(desired),
            Err(e) => incompatible.push(e),
        }
    }
    match incompatible.len() {
        0 => Ok(plans),
        1 if apps.len() == 1 => Err(incompatible.remove(0)),
        n => {
            let shown = if n > MAX_INCOMPATIBLE_SHOWN {
                format!(" (showing first {MAX_INCOMPATIBLE_SHOWN})")
            } else {
                String::new()
            };
            incompatible.truncate(MAX_INCOMPATIBLE_SHOWN);
            Err(format!(
                "selected Applications must have compatible sources; {n} incompatible{shown}; \
                 no Application was updated: {}",
                incompatible.join("; ")
            ))
        }
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

/// The Application's spec with the `desired` sources in place: in
/// `spec.sources` when it has any (leaving `spec.source` alone), else in
/// `spec.source`; `None` when that changes nothing.
fn updated_spec(app: &Value, desired: Vec<Value>) -> Option<Value> {
    let mut spec = app.at("/spec").cloned().unwrap_or_else(|| json!({}));
    let multi = matches!(spec.get("sources"), Some(Value::Array(s)) if !s.is_empty());
    if multi {
        let desired = Value::Array(desired);
        if spec["sources"] == desired {
            return None;
        }
        spec["sources"] = desired;
    } else {
        let source = desired.into_iter().next()?;
        if spec.get("source") == Some(&source) {
            return None;
        }
        spec["source"] = source;
    }
    Some(spec)
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
        if let Some(spec) = updated_spec(app, desired) {
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
        let mut unknown = Vec::new();
        for (i, app_update) in config.apps.iter().enumerate() {
            let target = crate::argocd::target(KIND, i, &app_update.name, &app_update.selector)?;
            let namespace = non_empty(&app_update.namespace).unwrap_or(&self.options.namespace);
            let found = client::resolve(&api, KIND, namespace, &target).await?;
            let total = found.len();
            let mut apps = Vec::new();
            let mut refused = Vec::new();
            for app in found {
                match authorized(&ctx.project, &ctx.stage, &app) {
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
            let plans =
                plan(app_update, &apps).map_err(|e| StepError::terminal(format!("{KIND}: {e}")))?;
            for (app, desired) in apps.iter().zip(plans) {
                resolved.push(app_ref(app));
                let revisions = desired_revisions(app_update, app);
                match decide(&ctx.promotion, app, &revisions) {
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
                    Decision::Observe(Phase::Unknown) => {
                        unknown.push(format!(
                            "`{}` of Application `{}`",
                            app.str_at("/status/operationState/phase"),
                            app.name()
                        ));
                        phases.push(Phase::Unknown);
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
            Some(Phase::Unknown) => Err(StepError::terminal(format!(
                "{KIND}: could not determine the step's status from operation phase(s) {}",
                unknown.join(", ")
            ))),
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

#[cfg(test)]
mod tests {
    //! Kargo's `argocd_updater_test.go` and `argocd_revisions_test.go`
    //! cases for the parts that need no Argo CD: config checks,
    //! authorization, source building and the update decision. The runs
    //! against Argo CD's API are in `tests/it/argocd_steps.rs`.

    use super::*;

    fn update(value: Value) -> AppUpdate {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn configs_are_checked_as_kargos_schema_says() {
        let app = |extra: Value| {
            let mut app = json!({"name": "app"});
            app.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            json!({"apps": [app]})
        };
        let source = |extra: Value| {
            let mut source = json!({"repoURL": "https://github.com/example/repo"});
            source
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            app(json!({"sources": [source]}))
        };
        let selector = |selector: Value| json!({"apps": [{"selector": selector}]});
        let expression = |e: Value| selector(json!({"matchExpressions": [e]}));
        let cases: Vec<(&str, Value, Option<&str>)> = vec![
            (
                "apps not specified",
                json!({}),
                Some("missing field `apps`"),
            ),
            (
                "apps is empty array",
                json!({"apps": []}),
                Some("`apps` must have at least one item"),
            ),
            (
                "app name and selector not specified",
                json!({"apps": [{}]}),
                Some("exactly one of `name` and `selector`"),
            ),
            (
                "app name is empty string",
                json!({"apps": [{"name": ""}]}),
                Some("`apps[0].name` must not be empty"),
            ),
            (
                "app name and selector both specified",
                app(json!({"selector": {"matchLabels": {"env": "prod"}}})),
                Some("exactly one of `name` and `selector`"),
            ),
            (
                "app selector is empty",
                selector(json!({})),
                Some("needs `matchLabels` or `matchExpressions`"),
            ),
            (
                "app selector matchLabels is empty object",
                selector(json!({"matchLabels": {}})),
                Some("needs `matchLabels` or `matchExpressions`"),
            ),
            (
                "app selector matchExpressions is empty array",
                selector(json!({"matchExpressions": []})),
                Some("needs `matchLabels` or `matchExpressions`"),
            ),
            (
                "app selector matchExpression missing key",
                expression(json!({"operator": "In", "values": ["a"]})),
                Some("missing field `key`"),
            ),
            (
                "app selector matchExpression missing operator",
                expression(json!({"key": "env"})),
                Some("missing field `operator`"),
            ),
            (
                "app selector matchExpression key is empty string",
                expression(json!({"key": "", "operator": "In", "values": ["a"]})),
                Some("`apps[0].selector.matchExpressions[0].key` must not be empty"),
            ),
            (
                "app selector matchExpression operator is empty string",
                expression(json!({"key": "env", "operator": ""})),
                Some("unknown variant ``"),
            ),
            (
                "app selector matchExpression operator is invalid",
                expression(json!({"key": "env", "operator": "InvalidOperator"})),
                Some("unknown variant `InvalidOperator`"),
            ),
            (
                "app namespace is empty string",
                app(json!({"namespace": ""})),
                Some("`apps[0].namespace` must not be empty"),
            ),
            (
                "app sources is empty array",
                app(json!({"sources": []})),
                Some("`apps[0].sources` must have at least one item"),
            ),
            (
                "source repoURL not specified",
                app(json!({"sources": [{}]})),
                Some("missing field `repoURL`"),
            ),
            (
                "source repoURL is empty string",
                source(json!({"repoURL": ""})),
                Some("`apps[0].sources[0].repoURL` must not be empty"),
            ),
            (
                "updateTargetRevision without desiredRevision",
                source(json!({"updateTargetRevision": true})),
                Some("`updateTargetRevision` needs `desiredRevision`"),
            ),
            (
                "helm images is empty array",
                source(json!({"helm": {"images": []}})),
                Some("`apps[0].sources[0].helm.images` must have at least one item"),
            ),
            (
                "helm images update key is not specified",
                source(json!({"helm": {"images": [{"value": "v"}]}})),
                Some("missing field `key`"),
            ),
            (
                "helm images update key is empty string",
                source(json!({"helm": {"images": [{"key": "", "value": "v"}]}})),
                Some("`apps[0].sources[0].helm.images[0].key` must not be empty"),
            ),
            (
                "helm images update value is not specified",
                source(json!({"helm": {"images": [{"key": "k"}]}})),
                Some("missing field `value`"),
            ),
            (
                "kustomize images is empty array",
                source(json!({"kustomize": {"images": []}})),
                Some("`apps[0].sources[0].kustomize.images` must have at least one item"),
            ),
            (
                "kustomize images update newName is empty string",
                source(json!({"kustomize": {"images": [{"repoURL": "img", "newName": ""}]}})),
                Some("`apps[0].sources[0].kustomize.images[0].newName` must not be empty"),
            ),
            (
                "kustomize images update repoURL is not specified",
                source(json!({"kustomize": {"images": [{"tag": "t"}]}})),
                Some("missing field `repoURL`"),
            ),
            (
                "kustomize images update repoURL is empty string",
                source(json!({"kustomize": {"images": [{"repoURL": ""}]}})),
                Some("`apps[0].sources[0].kustomize.images[0].repoURL` must not be empty"),
            ),
            (
                "kustomize images digest and tag are both specified",
                source(
                    json!({"kustomize": {"images": [{"repoURL": "img", "digest": "fake-digest", "tag": "fake-tag"}]}}),
                ),
                Some("`tag` and `digest` of `img` are exclusive"),
            ),
            (
                "valid selector with matchLabels",
                selector(json!({"matchLabels": {"env": "prod", "team": "platform"}})),
                None,
            ),
            (
                "valid selector with matchExpressions",
                expression(json!({"key": "env", "operator": "In", "values": ["prod"]})),
                None,
            ),
            (
                "valid selector with both matchLabels and matchExpressions",
                selector(json!({
                    "matchLabels": {"team": "platform"},
                    "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "staging"]}],
                })),
                None,
            ),
            (
                "valid kitchen sink",
                json!({"apps": [{
                    "name": "app",
                    "namespace": "argocd",
                    "sources": [{
                        "repoURL": "fake-git-url",
                        "desiredRevision": "fake-commit",
                        "updateTargetRevision": true,
                        "helm": {"images": [{"key": "another-fake-key", "value": "fake-tag"}]},
                        "kustomize": {"images": [
                            {"repoURL": "another-fake-image", "digest": "fake-digest"},
                            {"repoURL": "yet-another-fake-image", "tag": "fake-tag"},
                        ]},
                    }],
                }]}),
                None,
            ),
        ];
        assert_eq!(cases.len(), 31);
        // What the engine and the step check before touching Argo CD.
        crate::testing::convert_cases::<Config>(&ArgoCdUpdate::default(), KIND, validate, cases);
    }

    /// An Application whose annotation is `annotation`.
    fn annotated(annotation: Option<&str>) -> Value {
        let mut app = json!({"metadata": {"name": "my-app", "namespace": "argocd"}});
        if let Some(a) = annotation {
            app["metadata"]["annotations"] = json!({AUTHORIZED_STAGE_ANNOTATION: a});
        }
        app
    }

    #[test]
    fn the_authorized_stage_annotation_must_name_the_stage() {
        const DENIED: &str =
            "does not permit mutation by Kargo Stage `name-yep` in project `ns-yep`";
        const UNPARSABLE: &str = "unable to parse annotation kargo.akuity.io/authorized-stage";
        const GLOB: &str = "deprecated glob expressions are no longer supported";
        let mut without_annotations = annotated(None);
        let with_other_annotations = {
            let mut app = annotated(None);
            app["metadata"]["annotations"] = json!({"team": "platform"});
            app
        };
        let cases = [
            (
                "annotations are nil",
                without_annotations.clone(),
                Some(DENIED),
            ),
            (
                "annotation is missing",
                with_other_annotations,
                Some(DENIED),
            ),
            (
                "annotation cannot be parsed",
                annotated(Some("bogus")),
                Some(UNPARSABLE),
            ),
            (
                "mutation is not allowed",
                annotated(Some("ns-nope:name-nope")),
                Some(DENIED),
            ),
            (
                "mutation is allowed",
                annotated(Some("ns-yep:name-yep")),
                None,
            ),
            (
                "allowed via list (last entry matches)",
                annotated(Some("ns-nope:name-nope,ns-yep:name-yep")),
                None,
            ),
            (
                "allowed via list with whitespace (first entry matches)",
                annotated(Some(" ns-yep : name-yep , other:stage ")),
                None,
            ),
            (
                "not allowed for any list entry",
                annotated(Some("ns-nope:name-nope,other:stage")),
                Some(DENIED),
            ),
            // A matching entry does not excuse a malformed one after it.
            (
                "list with a malformed entry cannot be parsed",
                annotated(Some("ns-yep:name-yep,bogus")),
                Some(UNPARSABLE),
            ),
            (
                "wildcard project with full stage",
                annotated(Some("*:name-yep")),
                Some(GLOB),
            ),
            (
                "full project with wildcard stage",
                annotated(Some("ns-yep:*")),
                Some(GLOB),
            ),
            (
                "a list naming no Stage",
                annotated(Some(" , ")),
                Some("no authorized Stages found"),
            ),
            (
                "an entry without a stage",
                annotated(Some("ns-yep:")),
                Some("expected `<project>:<stage>`"),
            ),
        ];
        for (name, app, expected) in cases {
            match (authorized("ns-yep", "name-yep", &app), expected) {
                (Ok(()), None) => {}
                (Err(e), Some(expected)) => {
                    assert!(e.contains(expected), "{name}: {e}");
                    assert!(e.contains("`my-app` in namespace `argocd`"), "{name}: {e}");
                }
                (got, expected) => panic!("{name}: got {got:?}, expected {expected:?}"),
            }
        }
        // The annotation of another key does not count.
        without_annotations["metadata"]["annotations"] =
            json!({"kargo.akuity.io/authorized-stages": "ns-yep:name-yep"});
        assert!(authorized("ns-yep", "name-yep", &without_annotations).is_err());
    }

    /// `source` with `update` applied, if `update` targets it.
    fn applied(update: Value, source: Value) -> Option<Value> {
        let update: SourceUpdate = serde_json::from_value(update).unwrap();
        let mut source = source;
        matches(&update, &source).then(|| {
            apply(&update, &mut source);
            source
        })
    }

    #[test]
    fn a_source_update_applies_only_to_its_source() {
        // update doesn't apply to this source
        assert_eq!(
            applied(
                json!({"repoURL": "different-fake-url", "desiredRevision": "c", "updateTargetRevision": true}),
                json!({"repoURL": "fake-url"})
            ),
            None
        );
        // Git URLs compare normalised; chart sources need both equal.
        assert!(
            applied(
                json!({"repoURL": "https://github.com/Example/Repo.git/"}),
                json!({"repoURL": "https://github.com/example/repo"})
            )
            .is_some()
        );
        assert_eq!(
            applied(
                json!({"repoURL": "fake-url"}),
                json!({"repoURL": "fake-url", "chart": "fake-chart"})
            ),
            None
        );
        assert_eq!(
            applied(
                json!({"repoURL": "fake-url", "chart": "other"}),
                json!({"repoURL": "fake-url", "chart": "fake-chart"})
            ),
            None
        );
        assert_eq!(
            applied(
                json!({"repoURL": "fake-url/", "chart": "fake-chart"}),
                json!({"repoURL": "fake-url", "chart": "fake-chart"})
            ),
            None
        );
    }

    #[test]
    fn source_updates_change_only_what_they_name() {
        // update target revision (git)
        assert_eq!(
            applied(
                json!({"repoURL": "fake-url", "desiredRevision": "fake-commit", "updateTargetRevision": true}),
                json!({"repoURL": "fake-url", "path": "p", "targetRevision": "main"})
            ),
            Some(json!({"repoURL": "fake-url", "path": "p", "targetRevision": "fake-commit"}))
        );
        // Without updateTargetRevision the revision is only observed.
        assert_eq!(
            applied(
                json!({"repoURL": "fake-url", "desiredRevision": "fake-commit"}),
                json!({"repoURL": "fake-url", "targetRevision": "main"})
            ),
            Some(json!({"repoURL": "fake-url", "targetRevision": "main"}))
        );
        // update target revision (helm chart)
        assert_eq!(
            applied(
                json!({"repoURL": "fake-url", "chart": "fake-chart", "desiredRevision": "fake-version", "updateTargetRevision": true}),
                json!({"repoURL": "fake-url", "chart": "fake-chart"})
            ),
            Some(
                json!({"repoURL": "fake-url", "chart": "fake-chart", "targetRevision": "fake-version"})
            )
        );
        // update images with kustomize (Kargo's kustomize image strings too)
        assert_eq!(
            applied(
                json!({"repoURL": "fake-url", "kustomize": {"images": [
                    {"repoURL": "yet-another-fake-url", "digest": "fake-digest"},
                    {"repoURL": "still-another-fake-url", "tag": "fake-tag"},
                    {"repoURL": "another-fake-url", "newName": "another-fake-name", "tag": "another-fake-tag"},
                ]}}),
                json!({"repoURL": "fake-url", "kustomize": {"namePrefix": "p-", "images": ["old:1"]}})
            ),
            Some(
                json!({"repoURL": "fake-url", "kustomize": {"namePrefix": "p-", "images": [
                    "yet-another-fake-url@fake-digest",
                    "still-another-fake-url:fake-tag",
                    "another-fake-url=another-fake-name:another-fake-tag",
                ]}})
            )
        );
        // update images with helm: existing parameters are replaced in
        // place, new ones appended, others kept.
        assert_eq!(
            applied(
                json!({"repoURL": "fake-url", "helm": {"images": [
                    {"key": "image", "value": "fake-image-url:fake-tag"},
                    {"key": "first-fake-key", "value": "fake-value"},
                    {"key": "second-fake-key", "value": "another-fake-value"},
                ]}}),
                json!({"repoURL": "fake-url"})
            ),
            Some(json!({"repoURL": "fake-url", "helm": {"parameters": [
                {"name": "image", "value": "fake-image-url:fake-tag"},
                {"name": "first-fake-key", "value": "fake-value"},
                {"name": "second-fake-key", "value": "another-fake-value"},
            ]}}))
        );
        assert_eq!(
            applied(
                json!({"repoURL": "fake-url", "helm": {"images": [{"key": "image.tag", "value": "2"}]}}),
                json!({"repoURL": "fake-url", "helm": {"releaseName": "r", "parameters": [
                    {"name": "image.tag", "value": "1", "forceString": true},
                    {"name": "replicas", "value": "2"},
                ]}})
            ),
            Some(
                json!({"repoURL": "fake-url", "helm": {"releaseName": "r", "parameters": [
                    {"name": "image.tag", "value": "2"},
                    {"name": "replicas", "value": "2"},
                ]}})
            )
        );
    }

    /// A multi-source Application (or single-source with `single`).
    fn app_with(sources: Value) -> Value {
        json!({
            "metadata": {"name": "my-app", "namespace": "argocd"},
            "spec": {"project": "default", "sources": sources},
        })
    }

    #[test]
    fn desired_sources_apply_every_update_to_its_source() {
        // applies updates to sources
        let update = update(json!({"name": "my-app", "sources": [
            {"repoURL": "fake-chart-url", "chart": "fake-chart", "desiredRevision": "fake-version", "updateTargetRevision": true},
            {"repoURL": "fake-git-url", "desiredRevision": "fake-commit", "updateTargetRevision": true},
        ]}));
        let app = app_with(json!([
            {"repoURL": "fake-chart-url", "chart": "fake-chart"},
            {"repoURL": "fake-git-url"},
        ]));
        assert_eq!(
            desired_sources(&update, &app).unwrap(),
            vec![
                json!({"repoURL": "fake-chart-url", "chart": "fake-chart", "targetRevision": "fake-version"}),
                json!({"repoURL": "fake-git-url", "targetRevision": "fake-commit"}),
            ]
        );
        // An update matching no source is an error naming the Application,
        // the repoURL and the chart.
        let app = app_with(json!([{"repoURL": "fake-git-url"}]));
        let err = desired_sources(&update, &app).unwrap_err();
        assert!(
            err.contains("`my-app` in namespace `argocd`")
                && err.contains("repoURL `fake-chart-url` and chart `fake-chart`"),
            "{err}"
        );
        // A single source Application.
        let single = json!({"metadata": {"name": "my-app", "namespace": "argocd"},
                            "spec": {"source": {"repoURL": "fake-git-url"}}});
        let git_only = AppUpdate {
            sources: update.sources[1..].to_vec(),
            ..update.clone()
        };
        assert_eq!(
            desired_sources(&git_only, &single).unwrap(),
            vec![json!({"repoURL": "fake-git-url", "targetRevision": "fake-commit"})]
        );
        let err = desired_sources(&update, &single).unwrap_err();
        assert!(err.contains("and chart `fake-chart`"), "{err}");
    }

    #[test]
    fn desired_revisions_follow_the_sources_by_index() {
        let update = update(json!({"name": "my-app", "sources": [
            {"repoURL": "https://example.com", "chart": "another-fake-chart", "desiredRevision": "another-fake-version"},
            {"repoURL": "https://github.com/another-universe/42", "desiredRevision": "another-fake-commit"},
        ]}));
        // no sources
        assert!(desired_revisions(&update, &json!({"spec": {}})).is_empty());
        assert!(desired_revisions(&update, &Value::Null).is_empty());
        // multisource: a source without an update that names a revision
        // has none (no inference from Freight).
        let app = app_with(json!([
            {},
            {"repoURL": "https://example.com", "chart": "fake-chart"},
            {"repoURL": "https://example.com", "chart": "another-fake-chart"},
            {"repoURL": "https://github.com/universe/42"},
            {"repoURL": "https://github.com/another-universe/42"},
        ]));
        assert_eq!(
            desired_revisions(&update, &app),
            ["", "", "another-fake-version", "", "another-fake-commit"]
        );
    }

    /// An Application with one Git source and `operation_state`.
    fn operated(operation_state: Option<Value>) -> Value {
        let mut app = json!({
            "metadata": {"name": "fake-name", "namespace": "fake-namespace"},
            "spec": {"source": {"repoURL": "https://github.com/universe/42"}},
            "status": {},
        });
        if let Some(state) = operation_state {
            app["status"]["operationState"] = state;
        }
        app
    }

    fn state(phase: &str, info: Option<&str>, sync_result: Option<Value>) -> Value {
        let mut state = json!({
            "phase": phase,
            "operation": {"initiatedBy": {"username": "someone-else"}, "sync": {}},
        });
        if let Some(promotion) = info {
            state["operation"]["info"] = json!([{"name": PROMOTION_INFO, "value": promotion}]);
        }
        if let Some(result) = sync_result {
            state["syncResult"] = result;
        }
        state
    }

    #[test]
    fn a_sync_is_started_unless_this_promotions_sync_runs_or_is_done() {
        const PROMOTION: &str = "fake-promotion";
        let update = update(json!({"name": "fake-name", "sources": [
            {"repoURL": "https://github.com/universe/42", "desiredRevision": "fake-revision"},
        ]}));
        let decision = |app: &Value| decide(PROMOTION, app, &desired_revisions(&update, app));
        let revision = |r: &str| Some(json!({"revision": r}));
        let cases = [
            ("no operation state", operated(None), Decision::Update),
            (
                "running operation initiated by different user",
                operated(Some(state("Running", None, None))),
                Decision::Observe(Phase::Running),
            ),
            (
                "completed operation initiated by non-kargo",
                operated(Some(state("Succeeded", None, None))),
                Decision::Update,
            ),
            (
                "running operation initiated for incorrect Promotion",
                operated(Some(state("Running", Some("wrong-promotion"), None))),
                Decision::Observe(Phase::Running),
            ),
            (
                "completed operation initiated for incorrect Promotion",
                operated(Some(state("Succeeded", Some("wrong-promotion"), None))),
                Decision::Update,
            ),
            (
                "running operation",
                operated(Some(state("Running", Some(PROMOTION), None))),
                Decision::Observe(Phase::Running),
            ),
            (
                "terminating operation",
                operated(Some(state("Terminating", Some(PROMOTION), None))),
                Decision::Observe(Phase::Running),
            ),
            (
                "no sync result",
                operated(Some(state("Succeeded", Some(PROMOTION), None))),
                Decision::Update,
            ),
            (
                "desired revision does not match operation state",
                operated(Some(state(
                    "Succeeded",
                    Some(PROMOTION),
                    revision("other-fake-revision"),
                ))),
                Decision::Update,
            ),
            (
                "operation completed",
                operated(Some(state(
                    "Succeeded",
                    Some(PROMOTION),
                    revision("fake-revision"),
                ))),
                Decision::Observe(Phase::Succeeded),
            ),
            (
                "operation failed",
                operated(Some(state(
                    "Error",
                    Some(PROMOTION),
                    revision("fake-revision"),
                ))),
                Decision::Observe(Phase::Failed),
            ),
            (
                "a phase Argo CD does not have",
                operated(Some(state("Unknown", Some(PROMOTION), None))),
                Decision::Observe(Phase::Unknown),
            ),
            (
                "someone else's operation in a phase Argo CD does not have",
                operated(Some(state("", None, None))),
                Decision::Observe(Phase::Unknown),
            ),
        ];
        for (name, app, expected) in cases {
            assert_eq!(decision(&app), expected, "{name}");
        }

        // unable to determine desired revisions: an Application without
        // sources has none to compare.
        let mut app = operated(Some(state("Succeeded", Some(PROMOTION), Some(json!({})))));
        app["spec"] = json!({});
        assert_eq!(decision(&app), Decision::Observe(Phase::Succeeded));

        // Multi-source: each desired revision against the revision at its
        // index; sources without a desired revision are not compared.
        let multi = |revisions: Value| {
            let mut app = operated(Some(state(
                "Succeeded",
                Some(PROMOTION),
                Some(json!({"revisions": revisions})),
            )));
            app["spec"] = json!({"sources": [
                {"repoURL": "https://charts.example.com", "chart": "c"},
                {"repoURL": "https://github.com/universe/42"},
            ]});
            app
        };
        assert_eq!(
            decision(&multi(json!(["9.9.9", "fake-revision"]))),
            Decision::Observe(Phase::Succeeded)
        );
        assert_eq!(
            decision(&multi(json!(["9.9.9", "other"]))),
            Decision::Update
        );
        assert_eq!(decision(&multi(json!(["9.9.9"]))), Decision::Update);
    }

    #[test]
    fn phases_aggregate_as_kargo_sorts_them() {
        let min = |phases: &[Phase]| phases.iter().min().copied();
        assert_eq!(
            min(&[Phase::Succeeded, Phase::Running]),
            Some(Phase::Running)
        );
        assert_eq!(
            min(&[Phase::Succeeded, Phase::Failed, Phase::Running]),
            Some(Phase::Failed)
        );
        assert_eq!(
            min(&[Phase::Unknown, Phase::Succeeded]),
            Some(Phase::Succeeded)
        );
        assert_eq!(min(&[Phase::Unknown]), Some(Phase::Unknown));
        assert_eq!(phase_of("Error"), Phase::Failed);
        assert_eq!(phase_of("Terminating"), Phase::Running);
    }

    #[test]
    fn the_spec_gets_the_desired_sources_where_the_application_keeps_them() {
        let app = |spec: Value| json!({"metadata": {"name": "fake"}, "spec": spec});
        let new = vec![json!({"targetRevision": "new-rev"})];
        // success (no sources to update)
        assert_eq!(
            updated_spec(&app(json!({"project": "p"})), Vec::new()),
            None
        );
        // Nothing changed: no update.
        assert_eq!(
            updated_spec(
                &app(json!({"source": {"targetRevision": "new-rev"}})),
                new.clone()
            ),
            None
        );
        // updates Sources when present
        assert_eq!(
            updated_spec(
                &app(json!({"sources": [{"targetRevision": "old-rev"}]})),
                new.clone()
            ),
            Some(json!({"sources": [{"targetRevision": "new-rev"}]}))
        );
        // updates Source when Sources not present
        assert_eq!(
            updated_spec(
                &app(json!({"project": "p", "source": {"targetRevision": "old-rev"}})),
                new.clone()
            ),
            Some(json!({"project": "p", "source": {"targetRevision": "new-rev"}}))
        );
        // updates Sources when both Source and Sources are present
        assert_eq!(
            updated_spec(
                &app(
                    json!({"source": {"targetRevision": "old-rev-source"}, "sources": [{"targetRevision": "old-rev-sources"}]})
                ),
                new
            ),
            Some(
                json!({"source": {"targetRevision": "old-rev-source"}, "sources": [{"targetRevision": "new-rev"}]})
            )
        );
    }

    #[test]
    fn every_selected_application_must_take_the_updates_before_any_is_updated() {
        let update = update(json!({"selector": {"matchLabels": {"a": "b"}}, "sources": [
            {"repoURL": "https://github.com/example/repo", "desiredRevision": "abc", "updateTargetRevision": true},
        ]}));
        let app = |name: &str, repo: &str| json!({"metadata": {"name": name, "namespace": "argocd"}, "spec": {"source": {"repoURL": repo}}});
        let good = |name: &str| app(name, "https://github.com/example/repo.git");
        let bad = |name: &str| app(name, "https://github.com/example/other");
        // empty apps list returns no error
        assert_eq!(plan(&update, &[]).unwrap().len(), 0);
        // single app with valid sources
        assert_eq!(plan(&update, &[good("app1")]).unwrap().len(), 1);
        // A single Application's error is its own.
        let err = plan(&update, &[bad("app1")]).unwrap_err();
        assert!(
            err.starts_with("no source of Argo CD Application `app1`"),
            "{err}"
        );
        // multiple apps all valid
        assert_eq!(
            plan(&update, &[good("app1"), good("app2"), good("app3")])
                .unwrap()
                .len(),
            3
        );
        // one app fails validation
        let err = plan(&update, &[good("app1"), bad("app2"), good("app3")]).unwrap_err();
        assert!(
            err.contains("selected Applications must have compatible sources; 1 incompatible;"),
            "{err}"
        );
        assert!(
            err.contains("no Application was updated") && err.contains("`app2`"),
            "{err}"
        );
        // multiple apps fail validation - aggregates errors
        let err = plan(
            &update,
            &[good("app1"), bad("app2"), good("app3"), bad("app4")],
        )
        .unwrap_err();
        assert!(
            err.contains("2 incompatible;") && err.contains("`app2`") && err.contains("`app4`"),
            "{err}"
        );
        // many apps fail - limits error reporting to first 3
        let apps: Vec<Value> = (1..=5).map(|i| bad(&format!("app{i}"))).collect();
        let err = plan(&update, &apps).unwrap_err();
        assert!(err.contains("5 incompatible (showing first 3)"), "{err}");
        assert!(
            ["`app1`", "`app2`", "`app3`"]
                .iter()
                .all(|a| err.contains(a)),
            "{err}"
        );
        assert!(!err.contains("`app4`") && !err.contains("`app5`"), "{err}");
    }
}
