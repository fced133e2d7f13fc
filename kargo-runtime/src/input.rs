//! Reading a runner's input files: steps files, Stage manifests, task
//! manifests, Freight documents, credential Secrets and custom step
//! declarations. Every error names the file (and document).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kargo_core::credentials::{CredentialsProvider, SecretsOptions, StaticCredentials};
use kargo_core::step::StepRegistry;
use kargo_steps::process_step::Declarations;

use kargo_core::manifest::Manifests;
use kargo_core::model::{Freight, PromotionTemplate, PromotionTemplateSpec};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{Error, Result};

/// The text of `path`.
fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::Invalid(format!("cannot read {}: {e}", path.display())))
}

/// A YAML error on one line: the parser's first line names the position
/// and the problem; the source snippet below it is left out.
fn yaml_error(path: &Path, e: &serde_saphyr::Error) -> Error {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    Error::Invalid(format!("{}: {first}", path.display()))
}

/// Reads the YAML (or JSON) documents of `path`, skipping empty ones.
fn read_documents(path: &Path) -> Result<Vec<Value>> {
    let text = read_text(path)?;
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).map_err(|e| yaml_error(path, &e))?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// `value` as a `T`, or an error naming the document.
fn decode<T: DeserializeOwned>(path: &Path, index: usize, what: &str, value: Value) -> Result<T> {
    serde_json::from_value(value).map_err(|e| {
        Error::Invalid(format!(
            "{} (document {}): invalid {what}: {e}",
            path.display(),
            index + 1
        ))
    })
}

/// The document's `kind`.
fn kind_of(doc: &Value) -> Option<&str> {
    doc.get("kind").and_then(Value::as_str)
}

/// What a steps file holds.
#[derive(Debug)]
pub struct StepsFile {
    /// Variables and steps.
    pub template: PromotionTemplateSpec,
    /// The Stage's name, when the file is a Stage manifest.
    pub stage: Option<String>,
    /// The Stage's project (namespace), when the file is a Stage manifest.
    pub project: Option<String>,
}

/// A promotion template from a steps file: `{vars, steps}` as in a
/// `promotionTemplate.spec`, or a whole Kargo `Stage` manifest (its
/// `spec.vars` come first, then the template's).
pub fn load_steps(path: &Path) -> Result<StepsFile> {
    let mut docs = read_documents(path)?;
    if docs.len() != 1 {
        return Err(Error::Invalid(format!(
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
    let manifests = Manifests::load(path).map_err(|e| Error::Invalid(e.to_string()))?;
    let stage = manifests
        .stages()
        .first()
        .ok_or_else(|| Error::Invalid(format!("{}: no Stage found", path.display())))?;
    let template = PromotionTemplate::for_stage(stage).ok_or_else(|| {
        Error::Invalid(format!(
            "{}: Stage `{}` has no `spec.promotionTemplate`",
            path.display(),
            stage.metadata.name
        ))
    })?;
    Ok(StepsFile {
        template: template.spec,
        stage: Some(stage.metadata.name.clone()),
        project: Some(stage.metadata.namespace.clone()).filter(|n| !n.is_empty()),
    })
}

/// Every Freight document in `path`; a Freight without a name is named
/// after its ID.
pub fn load_freight(path: &Path) -> Result<Vec<Freight>> {
    let docs = read_documents(path)?;
    if docs.is_empty() {
        return Err(Error::Invalid(format!(
            "{}: no Freight document",
            path.display()
        )));
    }
    docs.into_iter()
        .enumerate()
        .map(|(i, doc)| {
            if let Some(kind) = kind_of(&doc).filter(|k| *k != "Freight") {
                return Err(Error::Invalid(format!(
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
pub fn load_tasks(dir: &Path) -> Result<Manifests> {
    Manifests::load(dir).map_err(|e| Error::Invalid(e.to_string()))
}

/// The credentials in `files` of Kargo credential Secrets
/// (`--credentials`), with cloud registry keys (ECR, GAR) and the ambient
/// AWS or Azure identity exchanged for registry tokens
/// ([`kargo_credentials::CloudCredentials`]): every registry client
/// (discovery, `oci-push`, `oci-download`) asks this one provider.
pub fn load_credentials(files: &[PathBuf]) -> Result<Arc<dyn CredentialsProvider>> {
    Ok(credentials_provider(load_secrets(
        files,
        SecretsOptions::default(),
    )?))
}

/// The credential Secrets of `files` (Kubernetes `Secret` documents), read
/// with `options` (e.g. keeping Secrets without a credential-type label by
/// name, for webhook receivers).
pub fn load_secrets(files: &[PathBuf], options: SecretsOptions) -> Result<StaticCredentials> {
    let mut credentials = StaticCredentials::new();
    for file in files {
        let shown = file.display().to_string();
        let text = read_text(file)?;
        credentials = credentials
            .with_secrets_opts(&text, &shown, options)
            .map_err(|e| Error::Invalid(e.to_string()))?;
    }
    Ok(credentials)
}

/// The provider promotions and discovery use over `secrets`: their
/// credentials, cloud registry keys exchanged for tokens, and the ambient
/// cloud identity.
pub fn credentials_provider(secrets: StaticCredentials) -> Arc<dyn CredentialsProvider> {
    Arc::new(
        kargo_credentials::CloudCredentials::builder(Arc::new(secrets))
            .from_env()
            .build(),
    )
}

/// Every built-in step this build has, plus the out-of-process custom
/// steps declared in `custom_steps` files (`{steps: [{name, command, env,
/// timeout}]}`).
pub fn registry_with_custom_steps(custom_steps: &[PathBuf]) -> Result<StepRegistry> {
    let mut registry = StepRegistry::new();
    kargo_steps::register_builtins(&mut registry);
    for file in custom_steps {
        let steps = Declarations::load(file).map_err(|e| Error::Invalid(e.to_string()))?;
        Declarations::register(steps, &mut registry)
            .map_err(|e| Error::Invalid(format!("{}: {e}", file.display())))?;
    }
    Ok(registry)
}
