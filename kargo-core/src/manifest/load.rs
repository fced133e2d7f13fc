//! Reading manifest files and splitting them into typed resources.
//!
//! A text is read twice. The first pass reads only each document's
//! `apiVersion`, `kind` and `metadata.name`, and where it starts. The second
//! pass deserializes every document straight into the type its kind names,
//! so the YAML reader reports problems at their own line and column (a
//! buffered, untyped first step would lose them). serde-saphyr has no
//! seeded multi-document entry point, so the kinds of the second pass are
//! handed over through a thread-local plan, used only for the duration of
//! one synchronous call.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_saphyr::Spanned;

use super::{Error, Kind};
use crate::model::{
    API_VERSION, ClusterPromotionTask, Freight, Project, ProjectConfig, Promotion, PromotionTask,
    Stage, Warehouse,
};

/// One resource read from a manifest.
#[derive(Debug)]
pub(super) enum Resource {
    Project(Project),
    ProjectConfig(ProjectConfig),
    Warehouse(Warehouse),
    Stage(Stage),
    PromotionTask(PromotionTask),
    ClusterPromotionTask(ClusterPromotionTask),
    Promotion(Box<Promotion>),
    Freight(Box<Freight>),
}

impl Resource {
    pub(super) fn kind(&self) -> Kind {
        match self {
            Resource::Project(_) => Kind::Project,
            Resource::ProjectConfig(_) => Kind::ProjectConfig,
            Resource::Warehouse(_) => Kind::Warehouse,
            Resource::Stage(_) => Kind::Stage,
            Resource::PromotionTask(_) => Kind::PromotionTask,
            Resource::ClusterPromotionTask(_) => Kind::ClusterPromotionTask,
            Resource::Promotion(_) => Kind::Promotion,
            Resource::Freight(_) => Kind::Freight,
        }
    }

    /// The namespace and the name; Freight without a name is named by its ID.
    pub(super) fn namespace_and_name(&self) -> (String, String) {
        let meta = match self {
            Resource::Project(r) => &r.metadata,
            Resource::ProjectConfig(r) => &r.metadata,
            Resource::Warehouse(r) => &r.metadata,
            Resource::Stage(r) => &r.metadata,
            Resource::PromotionTask(r) => &r.metadata,
            Resource::ClusterPromotionTask(r) => &r.metadata,
            Resource::Promotion(r) => &r.metadata,
            Resource::Freight(r) => return (r.metadata.namespace.clone(), r.name()),
        };
        (meta.namespace.clone(), meta.name.clone())
    }
}

/// A resource and where it was read (`file (document n)`).
#[derive(Debug)]
pub(super) struct Document {
    pub(super) resource: Resource,
    pub(super) origin: String,
}

impl Document {
    pub(super) fn new(resource: Resource, origin: String) -> Self {
        Document { resource, origin }
    }
}

/// The files to read for `path`: the file itself, or the manifest files
/// under a directory, sorted.
pub(super) fn manifest_files(path: &Path) -> Result<Vec<PathBuf>, Error> {
    let io_error = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let metadata = std::fs::metadata(path).map_err(io_error)?;
    if !metadata.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files = Vec::new();
    let mut visited = HashSet::new();
    walk(path, &mut files, &mut visited)?;
    files.sort();
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, visited: &mut HashSet<PathBuf>) -> Result<(), Error> {
    let io_error = |source| Error::Io {
        path: dir.to_owned(),
        source,
    };
    // Symbolic links are followed, each directory once (no cycles).
    let canonical = std::fs::canonicalize(dir).map_err(io_error)?;
    if !visited.insert(canonical) {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).map_err(io_error)? {
        let entry = entry.map_err(io_error)?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let metadata = std::fs::metadata(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        if metadata.is_dir() {
            walk(&path, files, visited)?;
        } else if is_manifest_file(&path) {
            files.push(path);
        }
    }
    Ok(())
}

fn is_manifest_file(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        ["yaml", "yml", "json"]
            .iter()
            .any(|m| e.eq_ignore_ascii_case(m))
    })
}

/// What the first pass learns about a document.
#[derive(Debug, Default)]
struct Header {
    api_version: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    /// Whether the document is a mapping at all.
    is_mapping: bool,
}

impl<'de> Deserialize<'de> for Header {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(HeaderVisitor { top_level: true })
    }
}

/// Reads `apiVersion`, `kind` and `metadata.name` when they are strings,
/// and accepts any other shape of document.
struct HeaderVisitor {
    top_level: bool,
}

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = Header;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Kubernetes-style resource")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header, A::Error> {
        let mut header = Header {
            is_mapping: true,
            ..Header::default()
        };
        while let Some(key) = map.next_key::<KeyOrOther>()? {
            match (key, self.top_level) {
                (KeyOrOther::Key(k), true) if k == "apiVersion" => {
                    header.api_version = map.next_value::<StringOrOther>()?.0;
                }
                (KeyOrOther::Key(k), true) if k == "kind" => {
                    header.kind = map.next_value::<StringOrOther>()?.0;
                }
                (KeyOrOther::Key(k), true) if k == "metadata" => {
                    header.name = map.next_value::<MetadataName>()?.0;
                }
                (KeyOrOther::Key(k), false) if k == "name" => {
                    header.name = map.next_value::<StringOrOther>()?.0;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(header)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Header, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Header::default())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Header, E> {
        Ok(Header::default())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Header, E> {
        Ok(Header::default())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Header, E> {
        Ok(Header::default())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Header, E> {
        Ok(Header::default())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Header, E> {
        Ok(Header::default())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Header, E> {
        Ok(Header::default())
    }

    fn visit_none<E: de::Error>(self) -> Result<Header, E> {
        Ok(Header::default())
    }
}

/// A mapping key: a string, or anything else (ignored).
enum KeyOrOther {
    Key(String),
    Other,
}

impl<'de> Deserialize<'de> for KeyOrOther {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyOrOther;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyOrOther, E> {
                Ok(KeyOrOther::Key(v.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<KeyOrOther, E> {
                Ok(KeyOrOther::Other)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<KeyOrOther, E> {
                Ok(KeyOrOther::Other)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<KeyOrOther, E> {
                Ok(KeyOrOther::Other)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<KeyOrOther, E> {
                Ok(KeyOrOther::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<KeyOrOther, E> {
                Ok(KeyOrOther::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<KeyOrOther, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(KeyOrOther::Other)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<KeyOrOther, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(KeyOrOther::Other)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A string value, or `None` for any other value.
struct StringOrOther(Option<String>);

impl<'de> Deserialize<'de> for StringOrOther {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match KeyOrOther::deserialize(deserializer)? {
            KeyOrOther::Key(s) => Ok(StringOrOther(Some(s))),
            KeyOrOther::Other => Ok(StringOrOther(None)),
        }
    }
}

/// `metadata.name`, when `metadata` is a mapping with a string `name`.
struct MetadataName(Option<String>);

impl<'de> Deserialize<'de> for MetadataName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let header = deserializer.deserialize_any(HeaderVisitor { top_level: false })?;
        Ok(MetadataName(header.name))
    }
}

thread_local! {
    /// The kinds the second pass deserializes, in document order (`None`:
    /// skip the document), and how many were used.
    static PLAN: RefCell<(Vec<Option<Kind>>, usize)> = const { RefCell::new((Vec::new(), 0)) };
}

/// Clears the plan when the second pass ends, however it ends.
struct PlanGuard;

impl PlanGuard {
    fn install(kinds: Vec<Option<Kind>>) -> Self {
        PLAN.with(|plan| *plan.borrow_mut() = (kinds, 0));
        PlanGuard
    }
}

impl Drop for PlanGuard {
    fn drop(&mut self) {
        PLAN.with(|plan| *plan.borrow_mut() = (Vec::new(), 0));
    }
}

/// One document of the second pass: the resource its planned kind names,
/// or nothing for a skipped document.
struct Slot(Option<Resource>);

impl<'de> Deserialize<'de> for Slot {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let kind = PLAN.with(|plan| {
            let mut plan = plan.borrow_mut();
            let (kinds, used) = &mut *plan;
            let kind = kinds.get(*used).copied().flatten();
            *used += 1;
            kind
        });
        let resource = match kind {
            None => {
                IgnoredAny::deserialize(deserializer)?;
                return Ok(Slot(None));
            }
            Some(Kind::Project) => Resource::Project(Deserialize::deserialize(deserializer)?),
            Some(Kind::ProjectConfig) => {
                Resource::ProjectConfig(Deserialize::deserialize(deserializer)?)
            }
            Some(Kind::Warehouse) => Resource::Warehouse(Deserialize::deserialize(deserializer)?),
            Some(Kind::Stage) => Resource::Stage(Deserialize::deserialize(deserializer)?),
            Some(Kind::PromotionTask) => {
                Resource::PromotionTask(Deserialize::deserialize(deserializer)?)
            }
            Some(Kind::ClusterPromotionTask) => {
                Resource::ClusterPromotionTask(Deserialize::deserialize(deserializer)?)
            }
            Some(Kind::Promotion) => Resource::Promotion(Deserialize::deserialize(deserializer)?),
            Some(Kind::Freight) => Resource::Freight(Deserialize::deserialize(deserializer)?),
        };
        Ok(Slot(Some(resource)))
    }
}

/// The lines (1-based) on which the documents of `text` start: line 1 when
/// content comes before the first `---`, and every `---` marker line.
fn document_start_lines(text: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut content_before_marker = false;
    for (i, line) in text.lines().enumerate() {
        let is_marker = line == "---" || line.starts_with("--- ") || line.starts_with("---\t");
        if is_marker {
            if starts.is_empty() && content_before_marker {
                starts.push(1);
            }
            starts.push(i + 1);
            continue;
        }
        let trimmed = line.trim();
        if starts.is_empty()
            && !trimmed.is_empty()
            && !trimmed.starts_with('#')
            && !line.starts_with('%')
        {
            content_before_marker = true;
        }
    }
    if starts.is_empty() {
        starts.push(1);
    }
    starts
}

/// The 1-based number of the document that contains `line`.
fn document_number(starts: &[usize], line: usize) -> usize {
    starts.iter().filter(|&&start| start <= line).count().max(1)
}

/// Reads the Kargo resources of one text.
pub(super) fn parse_documents(text: &str, source_name: &str) -> Result<Vec<Document>, Error> {
    let starts = document_start_lines(text);
    let syntax_error = |err: serde_saphyr::Error| {
        let location = err.location();
        let line = location.map(|l| l.line() as usize);
        Error::Parse {
            source_name: source_name.to_owned(),
            document: line.map_or(1, |l| document_number(&starts, l)),
            kind: None,
            name: None,
            line,
            column: location.map(|l| l.column() as usize),
            message: err.without_snippet().to_string(),
        }
    };

    let headers: Vec<Spanned<Header>> = serde_saphyr::from_multiple(text).map_err(syntax_error)?;

    let mut plan = Vec::with_capacity(headers.len());
    let mut numbers = Vec::with_capacity(headers.len());
    for header in &headers {
        let number = document_number(&starts, header.referenced.line() as usize);
        numbers.push(number);
        let h = &header.value;
        let kind = match (h.api_version.as_deref(), h.kind.as_deref()) {
            (Some(API_VERSION), Some(kind)) => match kind.parse::<Kind>() {
                Ok(kind) => Some(kind),
                Err(_) => {
                    tracing::warn!(
                        source = source_name,
                        document = number,
                        kind,
                        "skipping a {API_VERSION} document of unknown kind `{kind}`"
                    );
                    None
                }
            },
            (api_version, kind) => {
                if h.is_mapping {
                    tracing::warn!(
                        source = source_name,
                        document = number,
                        api_version = api_version.unwrap_or(""),
                        kind = kind.unwrap_or(""),
                        "skipping a document that is not a {API_VERSION} resource"
                    );
                } else {
                    tracing::warn!(
                        source = source_name,
                        document = number,
                        "skipping a document that is not a mapping"
                    );
                }
                None
            }
        };
        plan.push(kind);
    }

    let slots: Vec<Slot> = {
        let _guard = PlanGuard::install(plan.clone());
        serde_saphyr::from_multiple(text)
    }
    .map_err(|err| {
        let location = err.location();
        let line = location.map(|l| l.line() as usize);
        // The document the error is in: the last one starting at or before it.
        let index = line
            .and_then(|line| {
                headers
                    .iter()
                    .rposition(|h| (h.referenced.line() as usize) <= line)
            })
            .unwrap_or(0);
        Error::Parse {
            source_name: source_name.to_owned(),
            document: numbers.get(index).copied().unwrap_or(1),
            kind: plan.get(index).copied().flatten(),
            name: headers.get(index).and_then(|h| h.value.name.clone()),
            line,
            column: location.map(|l| l.column() as usize),
            message: err.without_snippet().to_string(),
        }
    })?;

    let mut documents = Vec::new();
    for (index, slot) in slots.into_iter().enumerate() {
        let Some(resource) = slot.0 else { continue };
        let number = numbers.get(index).copied().unwrap_or(index + 1);
        let (_, name) = resource.namespace_and_name();
        if name.is_empty() {
            return Err(Error::Parse {
                source_name: source_name.to_owned(),
                document: number,
                kind: Some(resource.kind()),
                name: None,
                line: headers.get(index).map(|h| h.referenced.line() as usize),
                column: None,
                message: "metadata.name is missing".to_owned(),
            });
        }
        documents.push(Document::new(
            resource,
            format!("{source_name} (document {number})"),
        ));
    }
    Ok(documents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_numbers_count_empty_documents() {
        let text = "# comment\n---\na: 1\n---\n---\nb: 2\n";
        let starts = document_start_lines(text);
        assert_eq!(starts, [2, 4, 5]);
        assert_eq!(document_number(&starts, 3), 1);
        assert_eq!(document_number(&starts, 6), 3);

        let implicit = "a: 1\n---\nb: 2\n";
        let starts = document_start_lines(implicit);
        assert_eq!(starts, [1, 2]);
        assert_eq!(document_number(&starts, 3), 2);
    }
}
