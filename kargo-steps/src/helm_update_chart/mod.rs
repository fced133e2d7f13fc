//! `helm-update-chart`: updates the dependencies (subcharts) of a Helm
//! chart as Kargo does, which is Helm's `dependency update` after an edit
//! of `Chart.yaml`.
//!
//! 1. Each entry of `charts` names a dependency by `repository` and
//!    `name`, both matched exactly against the `dependencies` entries (for
//!    OCI charts, Helm's convention: the registry URL in `repository`, the
//!    chart in `name`); its `version` is written over the entry's
//!    `version` with the [`yaml-update`](crate::yaml_update) editor, so
//!    comments, quoting and layout stay as they were. An entry that
//!    matches no dependency fails the step. Without `charts`, `Chart.yaml`
//!    is left as it is and its versions (or SemVer ranges) are resolved
//!    again.
//! 2. Every dependency's `version` is resolved as Helm resolves it: the
//!    newest version its constraint allows in the repository's
//!    `index.yaml` (`http://`, `https://`), among the registry's tags
//!    (`oci://`; an exact version is taken as it is), of the chart
//!    directory (`file://`, relative and inside the work dir, as Kargo
//!    requires), or of `charts/<name>` (no repository). Repositories are
//!    read through [`kargo_sources::helm::ChartSource`], with the Helm
//!    credentials of the step's credentials provider, as the Helm source
//!    reads them.
//! 3. The archives are downloaded (or packaged, for `file://`) into
//!    `charts/`, and the chart archives left there from other versions
//!    are removed (archives of dependencies without a repository stay).
//! 4. `Chart.lock` is written as Helm writes it, with Helm's digest of the
//!    requirements and the locked versions.
//!
//! Nothing is written before every version is resolved and every archive
//! fetched: a failure leaves `Chart.yaml`, `Chart.lock` and `charts/` as
//! they were. An unreachable repository (connection refused, a timeout,
//! 429 or 5xx) is a retryable error; a dependency or version that does not
//! exist fails the step, naming the chart, the repository and the range.
//!
//! Output: `commitMessage`, as Kargo writes it (`Updated chart
//! dependencies for <path>`, then one line per dependency whose locked
//! version changed: `- <name>: <old> -> <new>`, `- <name>: <version>` for
//! an addition, `- <name>: removed`), only when a locked version changed.
//!
//! # Departures from Kargo
//! - The commit message lists dependencies sorted by name (Kargo's order
//!   is Go's random map order).
//! - `Chart.lock` is rewritten whenever Helm's digest changes. Kargo puts
//!   the old file back when no locked version changed, which leaves a
//!   digest that no longer matches `Chart.yaml` after a range was edited,
//!   and `helm dependency build` then refuses the chart.
//! - A downloaded file that is not a chart archive fails the step (Helm
//!   skips it silently and writes `Chart.lock` anyway).
//! - An `oci://` range that no tag satisfies fails while resolving, naming
//!   the range (Helm fails later, trying to pull the range as a tag).
//! - A `file://` dependency is packaged with its files as they are
//!   (Helm rewrites `Chart.yaml` inside the archive), so its archive's
//!   bytes differ from Helm's; its content is the same.
//! - Repositories named `@name` or `alias:name` are refused, as in Kargo
//!   (whose Helm knows no repository names); other schemes are refused
//!   too.

mod archive;
mod lock;
mod step;

use std::collections::BTreeMap;

use kargo_core::expr::document::{NodeKind, NodeRef};
use kargo_core::step::Touches;
use serde::{Deserialize, Serialize};

use crate::edit::Update;
use crate::schema::Check::NonEmpty;
use crate::schema::Rule;

pub use crate::edit::EditError as Error;

/// The step kind.
pub const KIND: &str = "helm-update-chart";

/// Kargo's schema rules for the config, checked before the promotion
/// starts (see [`schema`](crate::schema)).
const RULES: &[Rule] = &[
    ("path", NonEmpty),
    ("charts", NonEmpty),
    ("charts[].repository", NonEmpty),
    ("charts[].name", NonEmpty),
    ("charts[].version", NonEmpty),
];

/// Where in the work directory the step reads and writes. Not only its
/// config's paths: a `file://` dependency is a chart outside `path`.
const TOUCHES: Touches = Touches::Unknown;

/// The `helm-update-chart` config (Kargo's `HelmUpdateChartConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The chart's directory (holding `Chart.yaml`), relative to the work
    /// dir.
    pub path: String,
    /// The dependency versions to set; without them, the versions and
    /// ranges in `Chart.yaml` are resolved again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charts: Option<Vec<ChartUpdate>>,
}

/// One entry of `charts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct ChartUpdate {
    /// The dependency's `repository`, exactly as in `Chart.yaml`.
    pub repository: String,
    /// The dependency's `name`, exactly as in `Chart.yaml`.
    pub name: String,
    /// The version to set.
    pub version: String,
}

impl ChartUpdate {
    /// An update of dependency `name` from `repository` to `version`.
    pub fn new(
        repository: impl Into<String>,
        name: impl Into<String>,
        version: impl Into<String>,
    ) -> Self {
        ChartUpdate {
            repository: repository.into(),
            name: name.into(),
            version: version.into(),
        }
    }
}

/// The `helm-update-chart` step.
#[derive(Debug, Clone, Copy, Default)]
pub struct HelmUpdateChart;

/// What [`edit`] did: the new text and, by dependency name, each changed
/// version as `old -> new`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Edited {
    /// The edited `Chart.yaml` (the source itself when nothing changed).
    pub text: String,
    /// `old -> new` by dependency name.
    pub changes: BTreeMap<String, String>,
}

/// Applies `charts` to the text of a `Chart.yaml`, as the step does to the
/// file.
///
/// ```
/// use kargo_steps::helm_update_chart::{ChartUpdate, edit};
///
/// let src = "dependencies:\n- name: redis # cache\n  repository: https://charts.example.com\n  version: 1.2.3\n";
/// let out = edit(src, &[ChartUpdate::new("https://charts.example.com", "redis", "1.3.0")]).unwrap();
/// assert_eq!(out.text, src.replace("1.2.3", "1.3.0"));
/// assert_eq!(out.changes["redis"], "1.2.3 -> 1.3.0");
/// ```
pub fn edit(src: &str, charts: &[ChartUpdate]) -> Result<Edited, Error> {
    let doc = crate::edit::yaml::read_document(src)?;
    let deps: Vec<NodeRef<'_>> = match doc.root().get("dependencies") {
        Some(deps) => deps.items().collect(),
        None => Vec::new(),
    };
    let field = |dep: &NodeRef<'_>, key: &str| -> String {
        match dep.get(key) {
            Some(node) => match node.kind() {
                NodeKind::Str(s) => s.to_owned(),
                NodeKind::Null => String::new(),
                _ => node.to_json().to_string(),
            },
            None => String::new(),
        }
    };
    let mut updates = Vec::new();
    let mut changes = BTreeMap::new();
    for chart in charts {
        let found = deps.iter().position(|d| {
            field(d, "name") == chart.name && field(d, "repository") == chart.repository
        });
        let Some(i) = found else {
            return Err(Error::key(
                "dependencies",
                format!(
                    "no dependency matches repository {:?} and name {:?}",
                    chart.repository, chart.name
                ),
            ));
        };
        let old = field(&deps[i], "version");
        if old != chart.version {
            updates.push(Update::new(
                format!("dependencies.{i}.version"),
                chart.version.clone(),
            ));
            changes.insert(chart.name.clone(), format!("{old} -> {}", chart.version));
        }
    }
    drop(deps);
    drop(doc);
    let text = if updates.is_empty() {
        src.to_owned()
    } else {
        crate::edit::yaml::update(src, &updates)?
    };
    Ok(Edited { text, changes })
}

/// Kargo's commit message for the changed locked versions (by name:
/// `old -> new`, the new version of an addition, an empty string for a
/// removal), or `None` when none changed.
fn commit_message(path: &str, changes: &BTreeMap<String, String>) -> Option<String> {
    if changes.is_empty() {
        return None;
    }
    let mut msg = format!("Updated chart dependencies for {path}\n");
    for (name, change) in changes {
        let change = if change.is_empty() { "removed" } else { change };
        msg.push_str(&format!("\n- {name}: {change}"));
    }
    Some(msg)
}

#[cfg(test)]
mod tests;
