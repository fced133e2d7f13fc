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

use super::{Error, Kind, ParseError};
use crate::model::{
    API_VERSION, AnalysisTemplate, ClusterPromotionTask, Freight, Project, ProjectConfig,
    Promotion, PromotionTask, Stage, Warehouse,
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
    AnalysisTemplate(Box<AnalysisTemplate>),
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
            Resource::AnalysisTemplate(_) => Kind::AnalysisTemplate,
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
            Resource::AnalysisTemplate(r) => &r.metadata,
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
            Some(Kind::AnalysisTemplate) => {
                Resource::AnalysisTemplate(Deserialize::deserialize(deserializer)?)
            }
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

/// One step of a field path.
enum Segment {
    Key(String),
    Index(usize),
}

/// The key at the start of `rest` (`key:` followed by a space or the end
/// of the line), plain or quoted, and what follows the colon.
fn leading_key(rest: &str) -> Option<(String, &str)> {
    let (key, after) = if let Some(quoted) = rest.strip_prefix('"') {
        let end = quoted.find('"')?;
        (quoted[..end].to_owned(), &quoted[end + 1..])
    } else if let Some(quoted) = rest.strip_prefix('\'') {
        let end = quoted.find('\'')?;
        (quoted[..end].to_owned(), &quoted[end + 1..])
    } else {
        let end = rest
            .find(": ")
            .or_else(|| rest.strip_suffix(':').map(str::len))?;
        let key = &rest[..end];
        if key.is_empty() || key.starts_with(['#', '{', '[', '&', '*', '!', '|', '>']) {
            return None;
        }
        (key.trim_end().to_owned(), &rest[end..])
    };
    let value = after.trim_start().strip_prefix(':')?;
    if !(value.is_empty() || value.starts_with([' ', '\t'])) {
        return None;
    }
    Some((key, value.trim()))
}

/// The field path (`spec.steps[2].config`) of the node on `line` (1-based)
/// of a block-style YAML document starting after line `start`, read from
/// the indentation of the lines before it. `None` when the document uses
/// multi-line flow collections (JSON included), where indentation says
/// nothing.
fn field_path(text: &str, start: usize, line: usize) -> Option<String> {
    let mut stack: Vec<(usize, Segment)> = Vec::new();
    // Lines more indented than this belong to a block scalar.
    let mut block_scalar_parent: Option<usize> = None;
    let first = if start == 1 && !text.starts_with("---") {
        1
    } else {
        start + 1
    };
    for (number, raw) in text.lines().enumerate().map(|(i, l)| (i + 1, l)) {
        if number < first {
            continue;
        }
        if number > line {
            break;
        }
        let indent = raw.len() - raw.trim_start_matches(' ').len();
        let content = raw[indent..].trim_end();
        if let Some(parent) = block_scalar_parent {
            if content.is_empty() || indent > parent {
                continue;
            }
            block_scalar_parent = None;
        }
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        if content.starts_with(['{', '[']) {
            return None;
        }
        let mut pos = indent;
        let mut rest = content;
        // Sequence items: `- ` (possibly several on one line).
        while rest == "-" || rest.starts_with("- ") {
            let mut previous = None;
            while let Some((at, segment)) = stack.last() {
                let is_index = matches!(segment, Segment::Index(_));
                if *at > pos || (*at == pos && is_index) {
                    if let (true, Segment::Index(i)) = (*at == pos, segment) {
                        previous = Some(*i);
                    }
                    stack.pop();
                } else {
                    break;
                }
            }
            stack.push((pos, Segment::Index(previous.map_or(0, |i| i + 1))));
            let after = rest[1..].trim_start_matches(' ');
            pos += rest.len() - after.len();
            rest = after;
        }
        let Some((key, value)) = leading_key(rest) else {
            continue;
        };
        while stack.last().is_some_and(|(at, _)| *at >= pos) {
            stack.pop();
        }
        let opens_flow = |open: char, close: char| {
            value.starts_with(open) && value.matches(open).count() > value.matches(close).count()
        };
        if number < line && (opens_flow('{', '}') || opens_flow('[', ']')) {
            return None;
        }
        if value.starts_with(['|', '>']) {
            block_scalar_parent = Some(pos);
        }
        stack.push((pos, Segment::Key(key)));
    }
    let mut path = String::new();
    for (_, segment) in &stack {
        match segment {
            Segment::Key(key) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            Segment::Index(i) => path.push_str(&format!("[{i}]")),
        }
    }
    (!path.is_empty()).then_some(path)
}

/// Reads the Kargo resources of one text.
pub(super) fn parse_documents(text: &str, source_name: &str) -> Result<Vec<Document>, Error> {
    let starts = document_start_lines(text);
    let syntax_error = |err: serde_saphyr::Error| {
        let location = err.location();
        let line = location.map(|l| l.line() as usize);
        Error::Parse(Box::new(ParseError {
            source_name: source_name.to_owned(),
            document: line.map_or(1, |l| document_number(&starts, l)),
            kind: None,
            name: None,
            line,
            column: location.map(|l| l.column() as usize),
            field: None,
            message: err.without_snippet().to_string(),
        }))
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
        let document = numbers.get(index).copied().unwrap_or(1);
        let field = line.and_then(|line| {
            let start = starts.get(document.saturating_sub(1)).copied().unwrap_or(1);
            field_path(text, start, line)
        });
        Error::Parse(Box::new(ParseError {
            source_name: source_name.to_owned(),
            document,
            kind: plan.get(index).copied().flatten(),
            name: headers.get(index).and_then(|h| h.value.name.clone()),
            line,
            column: location.map(|l| l.column() as usize),
            field,
            message: err.without_snippet().to_string(),
        }))
    })?;

    let mut documents = Vec::new();
    for (index, slot) in slots.into_iter().enumerate() {
        let Some(resource) = slot.0 else { continue };
        let number = numbers.get(index).copied().unwrap_or(index + 1);
        let (_, name) = resource.namespace_and_name();
        if name.is_empty() {
            return Err(Error::Parse(Box::new(ParseError {
                source_name: source_name.to_owned(),
                document: number,
                kind: Some(resource.kind()),
                name: None,
                line: headers.get(index).map(|h| h.referenced.line() as usize),
                column: None,
                field: Some("metadata.name".to_owned()),
                message: "metadata.name is missing".to_owned(),
            })));
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

    #[test]
    fn field_path_follows_indentation_and_sequences() {
        let text = "kind: Stage
spec:
  requestedFreight:
  - origin:
      kind: Warehouse
    sources:
      direct: true
  - origin:
      name: b
    sources:
      stages: [a]
      requiredSoakTim: 1h
  promotionTemplate:
    spec:
      steps:
      - uses: x
        config:
          script: |
            a: 1
            - b
          n: 2
        \"as\": y
";
        assert_eq!(field_path(text, 1, 1).as_deref(), Some("kind"));
        assert_eq!(
            field_path(text, 1, 7).as_deref(),
            Some("spec.requestedFreight[0].sources.direct")
        );
        assert_eq!(
            field_path(text, 1, 12).as_deref(),
            Some("spec.requestedFreight[1].sources.requiredSoakTim")
        );
        assert_eq!(
            field_path(text, 1, 16).as_deref(),
            Some("spec.promotionTemplate.spec.steps[0].uses")
        );
        assert_eq!(
            field_path(text, 1, 21).as_deref(),
            Some("spec.promotionTemplate.spec.steps[0].config.n")
        );
        assert_eq!(
            field_path(text, 1, 22).as_deref(),
            Some("spec.promotionTemplate.spec.steps[0].as")
        );
        // Inside a flow collection spanning lines: unknown.
        assert_eq!(field_path("a: [\n  1,\n  x]\n", 1, 3), None);
        assert_eq!(field_path("{\"a\": 1}\n", 1, 1), None);
    }
}
