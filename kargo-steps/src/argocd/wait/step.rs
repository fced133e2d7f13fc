use std::collections::BTreeMap;

use async_trait::async_trait;
use kargo_core::step::{
    Capabilities, RetryDefaults, Step, StepContext, StepError, StepOutcome, parse_config,
};
use kargo_core::time::Timestamp;
use serde_json::{Map, Value};

use super::{Config, DEFAULT_WAIT_FOR, KIND, RULES, TOUCHES, WaitFor};
use crate::argocd::client::{self, Api};
use crate::argocd::{AppView, Options, app_ref};
use crate::schema;

/// The `argocd-wait` step (see the [module](super)).
#[derive(Debug, Clone, Default)]
pub struct ArgoCdWait {
    options: Options,
}

impl ArgoCdWait {
    /// The step talking to the server of `options`.
    pub fn new(options: Options) -> Self {
        ArgoCdWait { options }
    }
}

/// Whether one Application is ready; `Err` for conditions that end the
/// step.
enum Readiness {
    Ready,
    NotReady(String),
    /// Health cannot be trusted yet: ask for a hard refresh.
    Stale,
}

fn readiness(
    app: &Value,
    wait_for: &[WaitFor],
    previous: Option<&str>,
) -> Result<Readiness, String> {
    let (name, namespace) = (app.name(), app.namespace());
    let health = app.str_at("/status/health/status");
    let errors: Vec<String> = app
        .at("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| matches!(c.str_at("/type"), "ComparisonError" | "InvalidSpecError"))
        .map(|c| {
            format!(
                "Argo CD Application `{name}` in namespace `{namespace}` has `{}` condition: {}",
                c.str_at("/type"),
                c.str_at("/message")
            )
        })
        .collect();
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    let has = |w: WaitFor| wait_for.contains(&w);
    let finished_at = app
        .at("/status/operationState/finishedAt")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    if has(WaitFor::Operation) {
        let requested = app.at("/operation").is_some_and(|o| !o.is_null());
        let unfinished = app
            .at("/status/operationState")
            .is_some_and(|s| !s.is_null())
            && finished_at.is_none();
        if requested || unfinished {
            return Ok(Readiness::NotReady(format!(
                "`{name}`: an operation is in progress"
            )));
        }
    }
    let health_checked = has(WaitFor::Health) || has(WaitFor::Suspended) || has(WaitFor::Degraded);
    if health_checked {
        if let Some(finished) = finished_at {
            let reconciled = app.at("/status/reconciledAt").and_then(Value::as_str);
            let parse = |t: &str| t.parse::<Timestamp>().ok();
            let stale = match (reconciled.and_then(parse), parse(finished)) {
                (Some(reconciled), Some(finished)) => reconciled < finished,
                (None, _) => true,
                (Some(_), None) => false,
            };
            if stale {
                return Ok(Readiness::Stale);
            }
        }
        if has(WaitFor::Health)
            && health == "Degraded"
            && previous.is_some_and(|p| !p.is_empty() && p != "Degraded" && p != "Unknown")
        {
            return Err(format!(
                "Argo CD Application `{name}` in namespace `{namespace}` health has regressed \
                 from {} to Degraded",
                previous.unwrap_or_default()
            ));
        }
        let passed = (has(WaitFor::Health) && health == "Healthy")
            || (has(WaitFor::Suspended) && health == "Suspended")
            || (has(WaitFor::Degraded) && health == "Degraded");
        if !passed {
            return Ok(Readiness::NotReady(format!(
                "`{name}`: health is {health:?}"
            )));
        }
    }
    if has(WaitFor::Sync) {
        let sync = app.str_at("/status/sync/status");
        if sync != "Synced" {
            return Ok(Readiness::NotReady(format!(
                "`{name}`: sync status is {sync:?}"
            )));
        }
    }
    Ok(Readiness::Ready)
}

/// The health statuses an earlier run of this step saw.
fn previous_health(ctx: &StepContext) -> BTreeMap<String, String> {
    ctx.scope
        .outputs
        .get(&ctx.alias)
        .and_then(|o| o.get("healthStatus"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

#[async_trait]
impl Step for ArgoCdWait {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        if config.apps.is_empty() {
            return Err(StepError::failed(format!(
                "invalid {KIND} config: `apps` is empty"
            )));
        }
        let targets = config
            .apps
            .iter()
            .enumerate()
            .map(|(i, a)| crate::argocd::target(KIND, i, &a.name, &a.selector))
            .collect::<Result<Vec<_>, _>>()?;
        let api = Api::connect(ctx, KIND, &self.options).await?;
        let previous = previous_health(ctx);
        let mut health = previous.clone();
        let mut resolved = Vec::new();
        let mut waiting = Vec::new();
        for (spec, target) in config.apps.iter().zip(&targets) {
            let wait_for = if spec.wait_for.is_empty() {
                DEFAULT_WAIT_FOR
            } else {
                &spec.wait_for
            };
            let namespace = spec
                .namespace
                .as_deref()
                .filter(|n| !n.is_empty())
                .unwrap_or(&self.options.namespace);
            for app in client::resolve(&api, KIND, namespace, target).await? {
                let key = format!("{}/{}", app.namespace(), app.name());
                resolved.push(app_ref(&app));
                let status = app.str_at("/status/health/status").to_owned();
                match readiness(&app, wait_for, previous.get(&key).map(String::as_str)) {
                    Ok(Readiness::Ready) => {}
                    Ok(Readiness::NotReady(why)) => waiting.push(why),
                    Ok(Readiness::Stale) => {
                        api.get(app.namespace(), app.name(), true).await?;
                        waiting.push(format!(
                            "`{}`: not reconciled since its last operation; refresh requested",
                            app.name()
                        ));
                    }
                    Err(e) => return Err(StepError::terminal(format!("{KIND}: {e}"))),
                }
                if !status.is_empty() {
                    health.insert(key, status);
                }
            }
        }
        let mut output = Map::new();
        output.insert("apps".into(), Value::Array(resolved));
        output.insert(
            "healthStatus".into(),
            Value::Object(
                health
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect(),
            ),
        );
        if waiting.is_empty() {
            Ok(StepOutcome::succeeded().with_outputs(output))
        } else {
            Ok(StepOutcome::running(self.options.poll_interval)
                .with_outputs(output)
                .with_message(format!("waiting: {}", waiting.join("; "))))
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
    //! Kargo's `argocd_waiter_test.go` cases for the config and for one
    //! Application's readiness; runs against Argo CD's API are in
    //! `tests/it/argocd_steps.rs`.

    use serde_json::json;

    use super::*;

    #[test]
    fn configs_are_checked_as_kargos_schema_says() {
        let cases: Vec<(&str, Value, Option<&str>)> = vec![
            (
                "apps not specified",
                json!({}),
                Some("missing field `apps`"),
            ),
            (
                "apps is empty",
                json!({"apps": []}),
                Some("`apps` must have at least one item"),
            ),
            (
                "app entry has neither name nor selector",
                json!({"apps": [{}]}),
                Some("exactly one of `name` and `selector`"),
            ),
            (
                "app entry has both name and selector",
                json!({"apps": [{"name": "my-app", "selector": {"matchLabels": {"env": "prod"}}}]}),
                Some("exactly one of `name` and `selector`"),
            ),
            (
                "waitFor has invalid value",
                json!({"apps": [{"name": "my-app", "waitFor": ["invalid"]}]}),
                Some("`apps[0].waitFor[0]` is `invalid`; it must be one of"),
            ),
            (
                "valid config with name",
                json!({"apps": [{"name": "my-app"}]}),
                None,
            ),
            (
                "valid config with selector",
                json!({"apps": [{"selector": {"matchLabels": {"env": "prod"}}}]}),
                None,
            ),
            (
                "valid config with waitFor",
                json!({"apps": [{"name": "my-app", "waitFor": ["health", "sync"]}]}),
                None,
            ),
            // The selector rules shared with argocd-update.
            (
                "an empty selector",
                json!({"apps": [{"selector": {}}]}),
                Some("needs `matchLabels` or `matchExpressions`"),
            ),
            (
                "In without values",
                json!({"apps": [{"selector": {"matchExpressions": [{"key": "env", "operator": "In"}]}}]}),
                Some("`values` must be non-empty for In"),
            ),
        ];
        // What the engine and the step check before asking Argo CD.
        crate::testing::convert_cases::<Config>(
            &ArgoCdWait::default(),
            KIND,
            |config| {
                for (i, app) in config.apps.iter().enumerate() {
                    crate::argocd::target(KIND, i, &app.name, &app.selector)?;
                }
                Ok(())
            },
            cases,
        );
    }

    /// An Application with `health` and `sync` statuses, plus `extra`
    /// fields of its status.
    fn app(health: &str, sync: &str, extra: Value) -> Value {
        let mut status = json!({"health": {"status": health}, "sync": {"status": sync}});
        status
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({"metadata": {"name": "my-app", "namespace": "argocd"}, "status": status})
    }

    /// What `readiness` says, as text: `ready`, `waiting`, `refresh`, or
    /// the error.
    fn outcome(app: &Value, wait_for: &[WaitFor], previous: Option<&str>) -> String {
        match readiness(app, wait_for, previous) {
            Ok(Readiness::Ready) => "ready".into(),
            Ok(Readiness::NotReady(_)) => "waiting".into(),
            Ok(Readiness::Stale) => "refresh".into(),
            Err(e) => format!("error: {e}"),
        }
    }

    /// A readiness case: name, Application, `waitFor`, the health seen
    /// before, and the [`outcome`].
    type Case<'a> = (&'a str, Value, &'a [WaitFor], Option<&'a str>, &'a str);

    #[test]
    fn readiness_follows_kargos_rules() {
        const NOW: &str = "2024-01-01T00:00:00Z";
        let operation = |finished: &str| json!({"phase": "Succeeded", "finishedAt": finished});
        let cases: Vec<Case<'_>> = vec![
            (
                "error condition is terminal",
                app(
                    "Healthy",
                    "Synced",
                    json!({"conditions": [{"type": "InvalidSpecError", "message": "bad spec"}]}),
                ),
                DEFAULT_WAIT_FOR,
                None,
                "error: Argo CD Application `my-app` in namespace `argocd` has `InvalidSpecError` condition: bad spec",
            ),
            (
                "a comparison error too, whatever is waited for",
                app(
                    "Healthy",
                    "Synced",
                    json!({"conditions": [
                        {"type": "SyncError", "message": "ignored"},
                        {"type": "ComparisonError", "message": "cannot compare"},
                    ]}),
                ),
                &[WaitFor::Sync],
                None,
                "error: Argo CD Application `my-app` in namespace `argocd` has `ComparisonError` condition: cannot compare",
            ),
            (
                "operation in progress returns not ready",
                {
                    let mut a = app("Healthy", "Synced", json!({}));
                    a["operation"] = json!({"sync": {}});
                    a
                },
                DEFAULT_WAIT_FOR,
                None,
                "waiting",
            ),
            (
                "an operation state without finishedAt is in progress",
                app(
                    "Healthy",
                    "Synced",
                    json!({"operationState": {"phase": "Running"}}),
                ),
                DEFAULT_WAIT_FOR,
                None,
                "waiting",
            ),
            (
                "reconciledAt nil after operation requests refresh and returns not ready",
                app(
                    "Healthy",
                    "Synced",
                    json!({"operationState": operation(NOW)}),
                ),
                DEFAULT_WAIT_FOR,
                None,
                "refresh",
            ),
            (
                "reconciledAt before finishedAt requests refresh and returns not ready",
                app(
                    "Healthy",
                    "Synced",
                    json!({"operationState": operation("2024-01-01T00:00:10Z"), "reconciledAt": "2024-01-01T00:00:05Z"}),
                ),
                DEFAULT_WAIT_FOR,
                None,
                "refresh",
            ),
            (
                "reconciledAt equal to finishedAt trusts health",
                app(
                    "Healthy",
                    "Synced",
                    json!({"operationState": operation(NOW), "reconciledAt": NOW}),
                ),
                DEFAULT_WAIT_FOR,
                None,
                "ready",
            ),
            (
                "healthy and synced returns ready",
                app("Healthy", "Synced", json!({})),
                DEFAULT_WAIT_FOR,
                None,
                "ready",
            ),
            (
                "progressing returns not ready",
                app("Progressing", "Synced", json!({})),
                DEFAULT_WAIT_FOR,
                None,
                "waiting",
            ),
            (
                "out of sync returns not ready",
                app("Healthy", "OutOfSync", json!({})),
                DEFAULT_WAIT_FOR,
                None,
                "waiting",
            ),
            (
                "waitFor sync only - degraded health ignored",
                app("Degraded", "Synced", json!({})),
                &[WaitFor::Sync],
                Some("Healthy"),
                "ready",
            ),
            (
                "waitFor health and suspended - suspended satisfies health check",
                app("Suspended", "Synced", json!({})),
                &[WaitFor::Health, WaitFor::Suspended],
                None,
                "ready",
            ),
            (
                "waitFor degraded - degraded satisfies it",
                app("Degraded", "OutOfSync", json!({})),
                &[WaitFor::Degraded],
                Some("Healthy"),
                "ready",
            ),
            (
                "waitFor health - suspended does not satisfy it",
                app("Suspended", "Synced", json!({})),
                &[WaitFor::Health],
                None,
                "waiting",
            ),
            (
                "health regression to Degraded from prior non-Degraded is terminal",
                app("Degraded", "Synced", json!({})),
                DEFAULT_WAIT_FOR,
                Some("Progressing"),
                "error: Argo CD Application `my-app` in namespace `argocd` health has regressed from Progressing to Degraded",
            ),
            (
                "degraded with no prior health status is not terminal",
                app("Degraded", "Synced", json!({})),
                DEFAULT_WAIT_FOR,
                None,
                "waiting",
            ),
            (
                "degraded after Unknown is not terminal",
                app("Degraded", "Synced", json!({})),
                DEFAULT_WAIT_FOR,
                Some("Unknown"),
                "waiting",
            ),
            (
                "degraded after Degraded is not terminal",
                app("Degraded", "Synced", json!({})),
                DEFAULT_WAIT_FOR,
                Some("Degraded"),
                "waiting",
            ),
            (
                "waitFor operation only - operation completed, health/sync ignored",
                app(
                    "Degraded",
                    "OutOfSync",
                    json!({"operationState": operation("2023-12-31T23:59:00Z")}),
                ),
                &[WaitFor::Operation],
                None,
                "ready",
            ),
        ];
        for (name, app, wait_for, previous, expected) in cases {
            assert_eq!(outcome(&app, wait_for, previous), expected, "{name}");
        }
    }
}
