//! Reading the runner's input files: steps files, Stage manifests, task
//! manifests and Freight documents.

use std::path::{Path, PathBuf};

use kargo_core::engine::TaskCatalog;
use kargo_core::model::{Freight, PromotionTemplateSpec};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::InputError;

/// Reads the YAML (or JSON) documents of `path`, skipping empty ones.
fn read_documents(path: &Path) -> Result<Vec<Value>, InputError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| InputError(format!("cannot read {}: {e}", path.display())))?;
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
        .map_err(|e| InputError(format!("{}: invalid YAML: {e}", path.display())))?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

fn decode<T: DeserializeOwned>(
    path: &Path,
    index: usize,
    what: &str,
    value: Value,
) -> Result<T, InputError> {
    serde_json::from_value(value).map_err(|e| {
        InputError(format!(
            "{} (document {}): invalid {what}: {e}",
            path.display(),
            index + 1
        ))
    })
}

fn kind_of(doc: &Value) -> Option<&str> {
    doc.get("kind").and_then(Value::as_str)
}

/// What a steps file holds.
#[derive(Debug)]
pub(crate) struct StepsFile {
    /// Variables and steps.
    pub(crate) template: PromotionTemplateSpec,
    /// The Stage's name, when the file is a Stage manifest.
    pub(crate) stage: Option<String>,
    /// The Stage's project (namespace), when the file is a Stage manifest.
    pub(crate) project: Option<String>,
}

/// A promotion template from a steps file: `{vars, steps}` as in a
/// `promotionTemplate.spec`, or a whole Kargo `Stage` manifest (its
/// `spec.vars` come first, then the template's).
pub(crate) fn load_steps(path: &Path) -> Result<StepsFile, InputError> {
    let mut docs = read_documents(path)?;
    if docs.len() != 1 {
        return Err(InputError(format!(
            "{}: expected one document with `steps` (or one Stage), found {}",
            path.display(),
            docs.len()
        )));
    }
    let doc = docs.remove(0);
    if kind_of(&doc) != Some("Stage") {
        return Ok(StepsFile {
            template: decode(path, 0, "steps file", doc)?,
            stage: None,
            project: None,
        });
    }
    let meta = |key: &str| {
        doc.get("metadata")
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let (stage, project) = (meta("name"), meta("namespace"));
    let spec = doc.get("spec").cloned().unwrap_or(Value::Null);
    let stage_vars = spec
        .get("vars")
        .cloned()
        .unwrap_or_else(|| Value::Array(vec![]));
    let template = spec
        .get("promotionTemplate")
        .and_then(|t| t.get("spec"))
        .cloned()
        .ok_or_else(|| {
            InputError(format!(
                "{}: Stage has no `spec.promotionTemplate.spec`",
                path.display()
            ))
        })?;
    let mut template: PromotionTemplateSpec = decode(path, 0, "Stage promotionTemplate", template)?;
    let mut vars: Vec<kargo_core::model::ExpressionVariable> =
        decode(path, 0, "Stage vars", stage_vars)?;
    vars.append(&mut template.vars);
    template.vars = vars;
    Ok(StepsFile {
        template,
        stage,
        project,
    })
}

/// Every Freight document in `path`; a Freight without a name is named
/// after its ID.
pub(crate) fn load_freight(path: &Path) -> Result<Vec<Freight>, InputError> {
    let docs = read_documents(path)?;
    if docs.is_empty() {
        return Err(InputError(format!(
            "{}: no Freight document",
            path.display()
        )));
    }
    docs.into_iter()
        .enumerate()
        .map(|(i, doc)| {
            if let Some(kind) = kind_of(&doc).filter(|k| *k != "Freight") {
                return Err(InputError(format!(
                    "{} (document {}): expected kind Freight, found {kind}",
                    path.display(),
                    i + 1
                )));
            }
            let mut freight: Freight = decode(path, i, "Freight", doc)?;
            if freight.metadata.name.is_empty() {
                freight.metadata.name = freight.id();
            }
            Ok(freight)
        })
        .collect()
}

/// The `PromotionTask` and `ClusterPromotionTask` manifests under `dir`
/// (recursively; other kinds are ignored).
pub(crate) fn load_tasks(dir: &Path) -> Result<TaskCatalog, InputError> {
    let mut catalog = TaskCatalog::new();
    for file in yaml_files(dir)? {
        for (i, doc) in read_documents(&file)?.into_iter().enumerate() {
            let kind = kind_of(&doc).map(str::to_owned);
            let name = doc
                .get("metadata")
                .and_then(|m| m.get("name"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            let (Some(kind), Some(name)) = (kind, name) else {
                continue;
            };
            if kind != "PromotionTask" && kind != "ClusterPromotionTask" {
                continue;
            }
            let spec = doc.get("spec").cloned().unwrap_or(Value::Null);
            let spec: PromotionTemplateSpec = decode(&file, i, &kind, spec)?;
            if kind == "PromotionTask" {
                catalog.insert_task(name, spec);
            } else {
                catalog.insert_cluster_task(name, spec);
            }
        }
    }
    Ok(catalog)
}

fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, InputError> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current)
            .map_err(|e| InputError(format!("cannot read directory {}: {e}", current.display())))?;
        for entry in entries {
            let path = entry
                .map_err(|e| {
                    InputError(format!("cannot read directory {}: {e}", current.display()))
                })?
                .path();
            if path.is_dir() {
                pending.push(path);
            } else if path
                .extension()
                .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
            {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}
