//! Freight: `QueryFreights`, `GetFreight`, `PatchFreightAlias`,
//! `ApproveFreight`.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::response::IntoResponse;
use kargo_core::model::Freight;
use serde_json::{Value, json};

use super::watch::Filter;
use super::{
    ApiError, ApiResult, Caller, found, freight_id, get_or_watch, ok, query_flag, query_value,
    query_values,
};
use crate::auth::Action;
use crate::objects::Kind;
use crate::schema;
use crate::server::AppState;
use crate::touched::Touched;

/// The group keys Kargo offers.
const GROUP_BY: [&str; 3] = ["image_repo", "git_repo", "chart_repo"];

/// `GET /v1beta1/projects/{project}/freight`: Freight, all of it, from
/// some Warehouses (`origins`), or available to a Stage (`stage`);
/// grouped (`groupBy`, `group`), ordered (`orderBy` `first_seen` or
/// `tag`, oldest first unless `reverse`). `?watch=true` streams Freight
/// changes (filtered by `origins`).
#[utoipa::path(get, path = "/v1beta1/projects/{project}/freight", operation_id = "QueryFreightsRest",
    tag = "Core", security(("BearerAuth" = [])),
    params(("project" = String, Path),
           ("stage" = Option<String>, Query, description = "Only Freight available to this Stage"),
           ("origins" = Option<Vec<String>>, Query, description = "Only Freight from these Warehouses"),
           ("group" = Option<String>, Query), ("groupBy" = Option<String>, Query, description = "image_repo, git_repo or chart_repo"),
           ("orderBy" = Option<String>, Query, description = "first_seen or tag"),
           ("reverse" = Option<bool>, Query), ("watch" = Option<bool>, Query)),
    responses((status = 200, body = schema::QueryFreightsResponse), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub(crate) async fn query(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(project): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let hub = caller.project(&state, &project, Action::Read)?;
    let q = query.as_deref();
    let one = |key: &str| query_value(q, key).unwrap_or_default();
    let origins = query_values(q, "origins");
    let from_origins = {
        let origins = origins.clone();
        move |f: &Value| {
            origins.is_empty()
                || f.pointer("/origin/name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| origins.iter().any(|o| o == n))
        }
    };
    if query_flag(q, "watch")? {
        let filter = Filter::all(Kind::Freight).matching(from_origins);
        return Ok(super::watch::respond(&state, &hub, filter));
    }
    let (stage, group, group_by, order_by) =
        (one("stage"), one("group"), one("groupBy"), one("orderBy"));
    if !group_by.is_empty() && !GROUP_BY.contains(&group_by.as_str()) {
        return Err(ApiError::bad_request(format!(
            "invalid groupBy {group_by:?}: one of {}",
            GROUP_BY.join(", ")
        )));
    }
    if !group.is_empty() && group_by.is_empty() {
        return Err(ApiError::bad_request("group requires groupBy"));
    }
    if !matches!(order_by.as_str(), "" | "first_seen" | "tag") {
        return Err(ApiError::bad_request(format!(
            "invalid orderBy {order_by:?}: first_seen or tag"
        )));
    }
    let snapshot = hub.snapshot();
    let mut freight: Vec<&Freight> = if stage.is_empty() {
        snapshot
            .freight_records()
            .filter(|f| origins.is_empty() || origins.contains(&f.origin.name))
            .collect()
    } else {
        let project_view = hub.controller().project();
        let stage = project_view.stage(&stage)?;
        let now = hub.controller().now();
        snapshot
            .freight_records()
            .filter(|f| kargo_core::pipeline::availability(stage, f, now).is_some())
            .collect()
    };
    freight.sort_by(|a, b| order(a, b, &order_by));
    if query_flag(q, "reverse")? {
        freight.reverse();
    }
    let groups = grouped(&freight, &group_by, &group);
    let groups: BTreeMap<String, Value> = groups
        .into_iter()
        .map(|(key, items)| {
            let items: Vec<&Value> = items
                .into_iter()
                .filter_map(|f| snapshot.get(Kind::Freight, &f.metadata.name).map(|o| &**o))
                .collect();
            (key, json!({"items": items}))
        })
        .collect();
    Ok(Json(json!({"groups": groups})).into_response())
}

/// Kargo's order: by discovery time; with `tag`, Freight whose first image
/// (or chart) is from the same repository by its tag, semantically when
/// both are versions.
fn order(a: &Freight, b: &Freight, order_by: &str) -> Ordering {
    if order_by == "tag"
        && let (Some((repo_a, tag_a)), Some((repo_b, tag_b))) = (repo_and_tag(a), repo_and_tag(b))
        && repo_a == repo_b
    {
        let version = |t: &str| kargo_core::semver::Version::parse(t, false).ok();
        return match (version(&tag_a), version(&tag_b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => tag_a.cmp(&tag_b),
        };
    }
    seen(a).cmp(seen(b))
}

fn seen(f: &Freight) -> &str {
    f.discovered_at
        .as_deref()
        .or(f.metadata.creation_timestamp.as_deref())
        .unwrap_or_default()
}

fn repo_and_tag(f: &Freight) -> Option<(String, String)> {
    if let Some(i) = f.images.first() {
        return Some((i.repo_url.clone(), i.tag.clone()));
    }
    f.charts
        .first()
        .map(|c| (chart_key(&c.repo_url, &c.name), c.version.clone()))
}

fn chart_key(repo: &str, name: &str) -> String {
    if name.is_empty() {
        repo.to_owned()
    } else {
        format!("{}/{name}", repo.trim_end_matches('/'))
    }
}

/// Freight by group key: one group `""` without `groupBy`.
fn grouped<'a>(
    freight: &[&'a Freight],
    group_by: &str,
    group: &str,
) -> BTreeMap<String, Vec<&'a Freight>> {
    let mut groups: BTreeMap<String, Vec<&Freight>> = BTreeMap::new();
    for f in freight {
        let keys: Vec<String> = match group_by {
            "image_repo" => f.images.iter().map(|i| i.repo_url.clone()).collect(),
            "git_repo" => f.commits.iter().map(|c| c.repo_url.clone()).collect(),
            "chart_repo" => f
                .charts
                .iter()
                .map(|c| chart_key(&c.repo_url, &c.name))
                .collect(),
            _ => vec![String::new()],
        };
        for key in keys {
            if group.is_empty() || key == group {
                groups.entry(key).or_default().push(f);
            }
        }
    }
    if group_by.is_empty() {
        groups.entry(String::new()).or_default();
    }
    groups
}

/// `GET /v1beta1/projects/{project}/freight/{freight-name-or-alias}[?watch=true]`.
#[utoipa::path(get, path = "/v1beta1/projects/{project}/freight/{freight-name-or-alias}", operation_id = "GetFreight",
    tag = "Core", security(("BearerAuth" = [])),
    params(("project" = String, Path), ("freight-name-or-alias" = String, Path), ("watch" = Option<bool>, Query)),
    responses((status = 200, body = schema::Object), (status = 401), (status = 403), (status = 404)))]
pub(crate) async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((project, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let hub = caller.project(&state, &project, Action::Read)?;
    let snapshot = hub.snapshot();
    let id = freight_id(&snapshot, &name, &project)?;
    let freight = found(snapshot.get(Kind::Freight, &id), "Freight", &name, &project)?;
    get_or_watch(&state, &hub, query.as_deref(), Kind::Freight, &id, freight)
}

/// `PATCH /v1beta1/projects/{project}/freight/{freight-name-or-alias}/alias?newAlias=NAME`.
#[utoipa::path(patch, path = "/v1beta1/projects/{project}/freight/{freight-name-or-alias}/alias", operation_id = "PatchFreightAlias",
    tag = "Core", security(("BearerAuth" = [])),
    params(("project" = String, Path), ("freight-name-or-alias" = String, Path), ("newAlias" = String, Query)),
    responses((status = 200), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub(crate) async fn alias(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((project, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let hub = caller.project(&state, &project, Action::Admin)?;
    let alias = query_value(query.as_deref(), "newAlias")
        .ok_or_else(|| ApiError::bad_request("newAlias should not be empty"))?;
    let id = freight_id(&hub.snapshot(), &name, &project)?;
    hub.controller()
        .set_freight_alias(&id, &alias, caller.actor())
        .await?;
    state.settle(&hub, Touched::freight(&id)).await;
    Ok(ok())
}

/// `POST /v1beta1/projects/{project}/freight/{freight-name-or-alias}/approve?stage=STAGE`.
#[utoipa::path(post, path = "/v1beta1/projects/{project}/freight/{freight-name-or-alias}/approve", operation_id = "ApproveFreight",
    tag = "Core", security(("BearerAuth" = [])),
    params(("project" = String, Path), ("freight-name-or-alias" = String, Path), ("stage" = String, Query)),
    responses((status = 200), (status = 400), (status = 401), (status = 403), (status = 404)))]
pub(crate) async fn approve(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((project, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let hub = caller.project(&state, &project, Action::Promote)?;
    let stage = query_value(query.as_deref(), "stage")
        .ok_or_else(|| ApiError::bad_request("stage should not be empty"))?;
    let id = freight_id(&hub.snapshot(), &name, &project)?;
    hub.controller()
        .approve(&id, &stage, caller.actor())
        .await?;
    state
        .settle(&hub, Touched::stage(&stage).with_freight(&id))
        .await;
    Ok(ok())
}
