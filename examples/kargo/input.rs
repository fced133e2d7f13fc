//! Reading the runner's input files: steps files, Stage manifests, task
//! manifests and Freight documents.

use std::path::Path;

use kargo_core::manifest::Manifests;
use kargo_core::model::{Freight, PromotionTemplateSpec, Stage};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::InputError;

fn read_text(path: &Path) -> Result<String, InputError> {
    std::fs::read_to_string(path)
        .map_err(|e| InputError(format!("cannot read {}: {e}", path.display())))
}

/// A YAML error on one line: the parser's first line names the position
/// and the problem; the source snippet below it is left out.
fn yaml_error(path: &Path, e: &serde_saphyr::Error) -> InputError {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    InputError(format!("{}: {first}", path.display()))
}

/// Reads the YAML (or JSON) documents of `path`, skipping empty ones.
fn read_documents(path: &Path) -> Result<Vec<Value>, InputError> {
    let text = read_text(path)?;
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).map_err(|e| yaml_error(path, &e))?;
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
        // Parsed again, typed, so that errors carry line and column.
        let template =
            serde_saphyr::from_str(&read_text(path)?).map_err(|e| yaml_error(path, &e))?;
        return Ok(StepsFile {
            template,
            stage: None,
            project: None,
        });
    }
    let manifests = Manifests::load(path).map_err(|e| InputError(e.to_string()))?;
    let stage = manifests
        .stages()
        .first()
        .ok_or_else(|| InputError(format!("{}: no Stage found", path.display())))?;
    let template = stage_template(stage).ok_or_else(|| {
        InputError(format!(
            "{}: Stage `{}` has no `spec.promotionTemplate`",
            path.display(),
            stage.metadata.name
        ))
    })?;
    Ok(StepsFile {
        template,
        stage: Some(stage.metadata.name.clone()),
        project: Some(stage.metadata.namespace.clone()).filter(|n| !n.is_empty()),
    })
}

/// The promotion template of `stage` with its variables: the Stage's
/// `spec.vars` first, then the template's (later ones win); `None` when
/// it has no `spec.promotionTemplate`.
pub(crate) fn stage_template(stage: &Stage) -> Option<PromotionTemplateSpec> {
    let mut template = stage.spec.promotion_template.as_ref()?.spec.clone();
    let mut vars = stage.spec.vars.clone();
    vars.append(&mut template.vars);
    template.vars = vars;
    Some(template)
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

/// The manifests under `dir` (PromotionTask and ClusterPromotionTask are
/// the ones a promotion uses).
pub(crate) fn load_tasks(dir: &Path) -> Result<Manifests, InputError> {
    Manifests::load(dir).map_err(|e| InputError(e.to_string()))
}
