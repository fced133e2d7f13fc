//! `helm-update-chart`: sets the versions of dependencies (subcharts) in a
//! Helm chart's `Chart.yaml`, keeping the file's format.
//!
//! Each entry of `charts` names a dependency by `repository` and `name`,
//! both matched exactly against the `dependencies` entries (for OCI
//! charts, Helm's convention: the registry URL in `repository`, the chart
//! in `name`); its `version` is written over the entry's `version` with
//! the [`yaml-update`](crate::yaml_update) editor, so comments, quoting
//! and layout stay as they were. An entry that matches no dependency fails
//! the step and leaves the file as it was.
//!
//! Output: `commitMessage`, as Kargo writes it
//! (`Updated chart dependencies for <path>` and one `- <name>: <old> ->
//! <new>` line per changed dependency, sorted by name), only when a
//! version changed.
//!
//! # Departures from Kargo
//! Kargo runs Helm's `dependency update` after editing `Chart.yaml`: it
//! resolves SemVer ranges against the chart repositories, downloads the
//! subcharts into `charts/` and rewrites `Chart.lock`. kargo-rs has no
//! Helm here, so:
//! - `charts` is required: without it Kargo resolves the ranges in
//!   `Chart.yaml`, which needs the repositories' indexes; the step fails
//!   with an error saying so.
//! - `Chart.lock` and `charts/*.tgz` are left alone. A `Chart.lock` then
//!   no longer matches `Chart.yaml` (Helm's `dependency build` reports
//!   it out of sync): run `helm dependency update` where the chart is
//!   rendered (Argo CD does for charts whose dependencies are not
//!   vendored), or keep no `Chart.lock` in the repository. The step logs
//!   a warning when it finds one.
//! - The commit message compares `Chart.yaml` before and after (Kargo
//!   compares `Chart.lock`).

mod step;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::edit::EditError as Error;
use crate::edit::Update;

/// The step kind.
pub const KIND: &str = "helm-update-chart";

/// The `helm-update-chart` config (Kargo's `HelmUpdateChartConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The chart's directory (holding `Chart.yaml`), relative to the work
    /// dir.
    pub path: String,
    /// The dependency versions to set; required here (see the module
    /// docs).
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
    let doc = crate::edit::yaml::read(src)?;
    let deps = match doc.get("dependencies") {
        Some(Value::Array(deps)) => deps.as_slice(),
        _ => &[],
    };
    let field = |dep: &Value, key: &str| -> String {
        match dep.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
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
    let text = if updates.is_empty() {
        src.to_owned()
    } else {
        crate::edit::yaml::update(src, &updates)?
    };
    Ok(Edited { text, changes })
}

/// Kargo's commit message for the changed versions, or `None` when none
/// changed.
fn commit_message(path: &str, changes: &BTreeMap<String, String>) -> Option<String> {
    if changes.is_empty() {
        return None;
    }
    let mut msg = format!("Updated chart dependencies for {path}\n");
    for (name, change) in changes {
        msg.push_str(&format!("\n- {name}: {change}"));
    }
    Some(msg)
}

#[cfg(test)]
mod tests;
