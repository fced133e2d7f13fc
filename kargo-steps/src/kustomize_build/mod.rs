//! `kustomize-build`: renders the kustomization in `path` with the
//! `kustomize` binary and writes the manifests to `outPath`.
//!
//! Kargo links Kustomize as a Go library; kargo-rs runs `kustomize build`
//! (Kustomize 5.3 or later, for the `--helm-*` flags). The binary is the
//! host's [`Options::binary`], else `KARGO_KUSTOMIZE` (a name or a path),
//! else `kustomize` on `PATH`; none found is an `Errored` step whose
//! message says where it looked.
//!
//! As in Kargo, Kustomize's Helm chart inflation is on (`--enable-helm`),
//! with `plugin.helm.apiVersions` and `plugin.helm.kubeVersion` passed
//! through; the `helm` it runs is [`Options::helm_binary`], else
//! `KARGO_HELM`, else Kustomize's default (`helm` on `PATH`). Unlike
//! Kargo, whose in-process build reads any file in the work directory,
//! the binary keeps Kustomize's default load restrictor: files outside a
//! kustomization's directory are refused (other kustomization directories,
//! such as `../base`, are fine).
//!
//! # Output
//! An `outPath` ending in `.yaml` or `.yml` is a file holding the whole
//! stream, as `kustomize build` prints it. Any other `outPath` is a
//! directory with one file per resource, named by `outputFormat`: `kargo`
//! (default) `[namespace-]kind-name.yaml`, or `kustomize`
//! `[namespace_]group_version_kind_name.yaml` (the namespace only when the
//! resources span several namespaces), all lower case, as Kargo names
//! them. Each file holds its resource as Kustomize printed it (Kargo
//! re-serializes it with sorted keys). Files are written atomically;
//! nothing is written when the build fails. The step has no output.

mod step;

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use kargo_core::step::Touches;
use serde::{Deserialize, Serialize};

use crate::render::manifests::{Meta, check_file_name, split_documents};
use crate::render::{Tool, flag};
use crate::schema::Check::{NonEmpty, OneOf};
use crate::schema::Rule;

/// The step kind.
pub const KIND: &str = "kustomize-build";

/// Kargo's schema rules for the config, checked before the promotion
/// starts (see [`schema`](crate::schema)).
const RULES: &[Rule] = &[
    ("path", NonEmpty),
    ("outPath", NonEmpty),
    ("outputFormat", OneOf(&["kargo", "kustomize"])),
    ("plugin.helm.apiVersions[]", NonEmpty),
];

/// Where in the work directory the step reads and writes. Not only its
/// config's paths: a Kustomization names its resources, bases and
/// components (`../base`) itself.
const TOUCHES: Touches = Touches::Unknown;

/// The environment variable naming the `kustomize` binary.
pub const ENV_VAR: &str = "KARGO_KUSTOMIZE";

const TOOL: Tool = Tool {
    kind: KIND,
    name: "kustomize",
    env_var: ENV_VAR,
};

/// The `kustomize-build` config (Kargo's `KustomizeBuildConfig`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The directory holding `kustomization.yaml`, relative to the work
    /// directory.
    pub path: String,
    /// The output file (ending in `.yaml` / `.yml`) or directory, relative
    /// to the work directory.
    pub out_path: String,
    /// How files in an output directory are named (default `kargo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_format: Option<OutputFormat>,
    /// Settings of Kustomize's built-in plugins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<Plugin>,
}

/// How files in an output directory are named.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum OutputFormat {
    /// `[namespace-]kind-name.yaml`.
    #[default]
    Kargo,
    /// `[namespace_]group_version_kind_name.yaml`, as `kustomize build -o
    /// dir/` names them.
    Kustomize,
}

/// Settings of Kustomize's built-in plugins.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Plugin {
    /// The Helm chart inflation generator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm: Option<HelmPlugin>,
}

/// Settings of Kustomize's Helm chart inflation generator.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct HelmPlugin {
    /// API versions the charts may assume the cluster serves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_versions: Vec<String>,
    /// The Kubernetes version the charts may assume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_version: Option<String>,
}

/// Host settings of the step.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Options {
    /// The `kustomize` binary (a name on `PATH` or a path); before
    /// `KARGO_KUSTOMIZE` and `PATH`.
    pub binary: Option<PathBuf>,
    /// The `helm` binary Kustomize's Helm plugin runs; before `KARGO_HELM`.
    pub helm_binary: Option<PathBuf>,
}

impl Options {
    /// Sets [`Options::binary`].
    pub fn with_binary(mut self, binary: impl Into<PathBuf>) -> Self {
        self.binary = Some(binary.into());
        self
    }

    /// Sets [`Options::helm_binary`].
    pub fn with_helm_binary(mut self, binary: impl Into<PathBuf>) -> Self {
        self.helm_binary = Some(binary.into());
        self
    }
}

/// The `kustomize-build` step.
#[derive(Debug, Clone, Default)]
pub struct KustomizeBuild {
    options: Options,
}

impl KustomizeBuild {
    /// The step with default [`Options`].
    pub fn new() -> Self {
        KustomizeBuild::default()
    }

    /// The step with `options`.
    pub fn with_options(options: Options) -> Self {
        KustomizeBuild { options }
    }
}

/// The `kustomize build` arguments for `config`, the kustomization at
/// `dir`, and the `helm` command for its Helm plugin (when the host names
/// one).
fn args(config: &Config, dir: &Path, helm: Option<&OsStr>) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["build".into(), dir.into(), "--enable-helm".into()];
    if let Some(helm) = helm {
        flag(&mut args, "--helm-command", helm);
    }
    if let Some(plugin) = config.plugin.as_ref().and_then(|p| p.helm.as_ref()) {
        for version in &plugin.api_versions {
            flag(&mut args, "--helm-api-versions", version);
        }
        if let Some(kube) = plugin.kube_version.as_deref().filter(|v| !v.is_empty()) {
            flag(&mut args, "--helm-kube-version", kube);
        }
    }
    args
}

/// Kinds that no namespace holds, among Kubernetes' own APIs, by group:
/// what kustomize leaves out when it counts namespaces. Other kinds
/// (custom resources included) count as namespaced, as in kustomize.
const CLUSTER_SCOPED: &[(&str, &[&str])] = &[
    (
        "",
        &["ComponentStatus", "Namespace", "Node", "PersistentVolume"],
    ),
    (
        "admissionregistration.k8s.io",
        &[
            "MutatingWebhookConfiguration",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
            "ValidatingWebhookConfiguration",
        ],
    ),
    ("apiextensions.k8s.io", &["CustomResourceDefinition"]),
    ("apiregistration.k8s.io", &["APIService"]),
    ("certificates.k8s.io", &["CertificateSigningRequest"]),
    (
        "flowcontrol.apiserver.k8s.io",
        &["FlowSchema", "PriorityLevelConfiguration"],
    ),
    ("networking.k8s.io", &["IngressClass"]),
    ("node.k8s.io", &["RuntimeClass"]),
    ("policy", &["PodSecurityPolicy"]),
    (
        "rbac.authorization.k8s.io",
        &["ClusterRole", "ClusterRoleBinding"],
    ),
    ("scheduling.k8s.io", &["PriorityClass"]),
    (
        "storage.k8s.io",
        &["CSIDriver", "CSINode", "StorageClass", "VolumeAttachment"],
    ),
];

fn is_cluster_scoped(meta: &Meta) -> bool {
    CLUSTER_SCOPED
        .iter()
        .any(|(group, kinds)| *group == meta.group() && kinds.contains(&meta.kind.as_str()))
}

/// The file name of a resource under `format`; `multi_ns` says whether the
/// namespaced resources span several namespaces.
fn file_name(format: OutputFormat, meta: &Meta, multi_ns: bool) -> String {
    let name = match format {
        OutputFormat::Kargo if meta.namespace.is_empty() => {
            format!("{}-{}.yaml", meta.kind, meta.name)
        }
        OutputFormat::Kargo => format!("{}-{}-{}.yaml", meta.namespace, meta.kind, meta.name),
        OutputFormat::Kustomize => {
            let gvk: Vec<&str> = [meta.group(), meta.version(), meta.kind.as_str()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect();
            let base = format!("{}_{}.yaml", gvk.join("_"), meta.name);
            if multi_ns && !meta.namespace.is_empty() && !is_cluster_scoped(meta) {
                format!("{}_{base}", meta.namespace)
            } else {
                base
            }
        }
    };
    name.to_lowercase()
}

/// One file per resource of `stream` (what `kustomize build` printed),
/// named by `format`. Later resources with the same file name replace
/// earlier ones, as in Kargo.
fn files(stream: &str, format: OutputFormat) -> Result<Vec<(PathBuf, Vec<u8>)>, String> {
    let docs = split_documents(stream)
        .into_iter()
        .map(|doc| {
            Meta::of(doc).map(|meta| (meta, doc)).ok_or_else(|| {
                format!("kustomize printed a document that is not a resource: {doc}")
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    // kustomize counts a namespaced resource without a namespace as in
    // `default`.
    let namespaces: BTreeSet<&str> = docs
        .iter()
        .filter(|(meta, _)| !is_cluster_scoped(meta))
        .map(|(meta, _)| match meta.namespace.as_str() {
            "" => "default",
            ns => ns,
        })
        .collect();
    let multi_ns = namespaces.len() > 1;
    let mut out = Vec::with_capacity(docs.len());
    for (meta, doc) in docs {
        let name = file_name(format, &meta, multi_ns);
        check_file_name(&name)?;
        out.push((PathBuf::from(name), doc.as_bytes().to_vec()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
