//! `helm-template`: renders the Helm chart in `path` with the `helm`
//! binary and writes the manifests to `outPath`.
//!
//! Kargo links Helm as a Go library; kargo-rs runs `helm template` (Helm
//! 3.10 or later, for `--set-literal`). The binary is the host's
//! [`Options::binary`], else `KARGO_HELM` (a name or a path), else `helm`
//! on `PATH`; none found is an `Errored` step whose message says where it
//! looked. Helm runs with its cache, configuration and data homes in a
//! fresh temporary directory, so the host's repositories and registry
//! logins are not used, as Kargo's in-process Helm does not use them.
//!
//! The config is Kargo's: `path` (a chart directory holding `Chart.yaml`,
//! or a chart archive), `releaseName`, `namespace` (default: the
//! project), `valuesFiles` (inside the work directory; a missing one fails
//! the step unless `ignoreMissingValueFiles`), `setValues` (`--set`, or
//! `--set-literal` with `literal`), `buildDependencies` (`helm dependency
//! build` first), `includeCRDs`, `disableHooks`, `skipTests`,
//! `kubeVersion` (a version as Helm reads it, `1.29`, `v1.29.0`; anything
//! else fails the step before Helm runs) and `apiVersions`. Kargo's schema
//! rules are checked again on the evaluated config when the step runs.
//!
//! # Output
//! An `outPath` ending in `.yaml` or `.yml` (not `/`) is a file holding
//! everything `helm template` prints (manifests, then hooks). Any other
//! `outPath` is a directory laid out by `outLayout`: `helm` (default) is
//! Helm's own `--output-dir` layout (`<chart>/templates/...`, under
//! `<releaseName>/` with `useReleaseName`); `flat` puts each resource in
//! its own file named `[group-]kind[-namespace]-name.yaml`, as Kargo does
//! (a resource without kind or name goes to `resource-N.yaml`, numbered,
//! where Kargo writes them all to `resource-0.yaml`). Helm renders into a
//! temporary directory first; files are then written into the work
//! directory atomically, and nothing is written when rendering fails. The
//! step has no output.

mod step;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use kargo_core::step::Touches;
use serde::{Deserialize, Serialize};

use crate::render::manifests::{Meta, check_file_name, split_documents};
use crate::render::{HELM_ENV_VAR, Tool, flag};
use crate::schema::Check::{NonEmpty, OneOf};
use crate::schema::Rule;

/// The step kind.
pub const KIND: &str = "helm-template";

/// Kargo's schema rules for the config, checked before the promotion
/// starts (see [`schema`](crate::schema)).
const RULES: &[Rule] = &[
    ("path", NonEmpty),
    ("outPath", NonEmpty),
    ("outLayout", OneOf(&["helm", "flat"])),
    ("releaseName", NonEmpty),
    ("valuesFiles[]", NonEmpty),
    ("setValues[].key", NonEmpty),
    ("apiVersions[]", NonEmpty),
];

/// Where in the work directory the step reads and writes. Not only its
/// config's paths: building dependencies reads `file://` charts outside
/// `path`.
const TOUCHES: Touches = Touches::Unknown;

/// The file that makes a directory a chart.
const CHART_FILE: &str = "Chart.yaml";

/// The environment variable naming the `helm` binary.
pub const ENV_VAR: &str = HELM_ENV_VAR;

const TOOL: Tool = Tool {
    kind: KIND,
    name: "helm",
    env_var: ENV_VAR,
};

/// The `helm-template` config (Kargo's `HelmTemplateConfig`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The chart directory (holding `Chart.yaml`), relative to the work
    /// directory.
    pub path: String,
    /// The output file (ending in `.yaml` / `.yml`) or directory, relative
    /// to the work directory.
    pub out_path: String,
    /// How an output directory is laid out (default `helm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_layout: Option<OutLayout>,
    /// The release name.
    pub release_name: String,
    /// Put the files under the release name rather than the chart name
    /// (the `helm` layout only).
    #[serde(default)]
    pub use_release_name: bool,
    /// The release namespace (default: the project).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Values files, in order, relative to the work directory.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values_files: Vec<String>,
    /// Skip values files that do not exist instead of failing.
    #[serde(default)]
    pub ignore_missing_value_files: bool,
    /// Values set as with `--set` / `--set-literal`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set_values: Vec<SetValue>,
    /// Run `helm dependency build` on the chart first.
    #[serde(default)]
    pub build_dependencies: bool,
    /// Include the chart's CRDs.
    #[serde(default, rename = "includeCRDs")]
    pub include_crds: bool,
    /// Leave hooks out.
    #[serde(default)]
    pub disable_hooks: bool,
    /// Leave test hooks out.
    #[serde(default)]
    pub skip_tests: bool,
    /// The Kubernetes version the chart may assume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_version: Option<String>,
    /// API versions the chart may assume the cluster serves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_versions: Vec<String>,
}

/// How an output directory is laid out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum OutLayout {
    /// Helm's `--output-dir` layout.
    #[default]
    Helm,
    /// One file per resource, no subdirectories.
    Flat,
}

/// One `setValues` entry.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct SetValue {
    /// The key, with `.` between nested keys (`image.tag`).
    pub key: String,
    /// The value.
    pub value: String,
    /// Take the value literally (`--set-literal`).
    #[serde(default)]
    pub literal: bool,
}

impl std::fmt::Debug for SetValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may be secrets.
        f.debug_struct("SetValue")
            .field("key", &self.key)
            .field("value", &"<redacted>")
            .field("literal", &self.literal)
            .finish()
    }
}

/// Host settings of the step.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Options {
    /// The `helm` binary (a name on `PATH` or a path); before `KARGO_HELM`
    /// and `PATH`.
    pub binary: Option<PathBuf>,
}

impl Options {
    /// Sets [`Options::binary`].
    pub fn with_binary(mut self, binary: impl Into<PathBuf>) -> Self {
        self.binary = Some(binary.into());
        self
    }
}

/// The `helm-template` step.
#[derive(Debug, Clone, Default)]
pub struct HelmTemplate {
    options: Options,
}

impl HelmTemplate {
    /// The step with default [`Options`].
    pub fn new() -> Self {
        HelmTemplate::default()
    }

    /// The step with `options`.
    pub fn with_options(options: Options) -> Self {
        HelmTemplate { options }
    }
}

/// What the arguments are built from, paths resolved.
#[derive(Debug)]
struct Resolved<'a> {
    config: &'a Config,
    chart: PathBuf,
    namespace: &'a str,
    values_files: Vec<PathBuf>,
    /// Where Helm writes its `--output-dir` layout, if it does.
    output_dir: Option<&'a Path>,
}

/// The `helm template` arguments.
fn args(r: &Resolved<'_>) -> Vec<OsString> {
    let c = r.config;
    let mut args: Vec<OsString> = vec![
        "template".into(),
        c.release_name.clone().into(),
        r.chart.clone().into(),
    ];
    flag(&mut args, "--namespace", r.namespace);
    for file in &r.values_files {
        flag(&mut args, "--values", file);
    }
    for set in &c.set_values {
        let name = if set.literal {
            "--set-literal"
        } else {
            "--set"
        };
        flag(&mut args, name, format!("{}={}", set.key, set.value));
    }
    for (on, name) in [
        (c.include_crds, "--include-crds"),
        (c.disable_hooks, "--no-hooks"),
        (c.skip_tests, "--skip-tests"),
    ] {
        if on {
            args.push(name.into());
        }
    }
    if let Some(kube) = c.kube_version.as_deref().filter(|v| !v.is_empty()) {
        flag(&mut args, "--kube-version", kube);
    }
    for version in &c.api_versions {
        flag(&mut args, "--api-versions", version);
    }
    if let Some(dir) = r.output_dir {
        flag(&mut args, "--output-dir", dir);
        if c.use_release_name {
            args.push("--release-name".into());
        }
    }
    args
}

/// Checks `version` as Helm reads a Kubernetes version (a semantic
/// version with an optional `v`, and minor and patch optional: `1.29`,
/// `v1.29.0-rc.1`); empty means not set. What this lets through and Helm
/// still refuses, Helm reports when it runs.
fn check_kube_version(version: &str) -> Result<(), &'static str> {
    const WHY: &str = "is not a Kubernetes version such as `1.29.0`";
    if version.is_empty() {
        return Ok(());
    }
    let rest = version.strip_prefix('v').unwrap_or(version);
    let (rest, build) = match rest.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (rest, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (rest, None),
    };
    let identifiers = |s: &str| {
        s.split('.')
            .all(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    };
    let numbers: Vec<&str> = core.split('.').collect();
    let core_ok = numbers.len() <= 3
        && numbers
            .iter()
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if core_ok && pre.is_none_or(identifiers) && build.is_none_or(identifiers) {
        Ok(())
    } else {
        Err(WHY)
    }
}

/// The `flat` layout: one file per resource of `stream` (what `helm
/// template` printed), each holding the resource's text trimmed of
/// surrounding whitespace, as Kargo writes it.
fn flat_files(stream: &str) -> Result<Vec<(PathBuf, Vec<u8>)>, String> {
    let mut out = Vec::new();
    let mut unnamed = 0;
    for doc in split_documents(stream) {
        let resource = doc.trim();
        let name = match Meta::of(resource).and_then(|m| flat_name(&m)) {
            Some(name) => name,
            None => {
                unnamed += 1;
                format!("resource-{}.yaml", unnamed - 1)
            }
        };
        check_file_name(&name)?;
        out.push((PathBuf::from(name), resource.as_bytes().to_vec()));
    }
    Ok(out)
}

/// `[group-]kind[-namespace]-name.yaml`, lower case, dots in the group
/// made underscores; `None` without a kind or a name.
fn flat_name(meta: &Meta) -> Option<String> {
    if meta.kind.is_empty() || meta.name.is_empty() {
        return None;
    }
    // Kargo takes everything before the last `/` as the group.
    let group = meta
        .api_version
        .rsplit_once('/')
        .map_or("", |(group, _)| group);
    let mut name = meta.kind.clone();
    if !group.is_empty() {
        name = format!("{}-{name}", group.replace('.', "_"));
    }
    if !meta.namespace.is_empty() {
        name = format!("{name}-{}", meta.namespace);
    }
    Some(format!("{name}-{}.yaml", meta.name).to_lowercase())
}

/// Every regular file under `root`, with its path relative to `root`.
fn collect_tree(root: &Path) -> std::io::Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(rel) = pending.pop() {
        let mut entries = std::fs::read_dir(root.join(&rel))?.collect::<Result<Vec<_>, _>>()?;
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for entry in entries {
            let kind = entry.file_type()?;
            let path = rel.join(entry.file_name());
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() {
                out.push((path.clone(), std::fs::read(root.join(&path))?));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
