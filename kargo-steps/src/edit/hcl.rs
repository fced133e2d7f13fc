//! A span-splicing HCL editor for Terraform `.tf` and `.tfvars` files,
//! on top of hcl-edit's parser spans.
//!
//! Keys are dotted paths: a segment names a top-level attribute, an object
//! key inside an attribute's value, an array index, or a block (its
//! identifier followed by its labels: `resource.aws_lambda_function.fn.image_uri`).
//! Strings are written quoted, numbers and booleans raw. Only the value's
//! bytes change, so comments and `=` alignment stay. A missing key is added
//! to its object or block, or appended at the end of the file when it is a
//! top-level attribute.
//!
//! A large file is read and planned on in layers ([`layered`]), never as
//! one syntax tree; an update is then checked on two compact documents,
//! the file read before it with the new value set along the key's path
//! ([`Expected`]) against the file read after it.

#[path = "hcl_layered.rs"]
mod layered;

use std::ops::Range;

use hcl_edit::Span;
use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::structure::{Block, BlockLabel, Body, Structure};
use kargo_core::expr::Document;
use serde_json::{Map, Value};

use super::expected::{Expected, Step};
use super::{
    EditError, Splice, Update, index_of, line_end, line_ending, line_start, next_line_start,
    split_key,
};

/// Files from this size on are read and planned on in layers
/// ([`layered`]): hcl-edit's tree of a whole file takes about 30 times
/// its text, so below this size that is a few tens of megabytes at most.
const LAYERED_MIN_LEN: usize = 1 << 20;

/// The largest piece of a layered file parsed whole.
const CHUNK_LEN: usize = 64 * 1024;

/// The text a parsed piece's spans index: `text` from `base`, which the
/// piece's parse saw at offset `shift` (after the text it was wrapped in).
#[derive(Debug, Clone, Copy)]
struct Source<'s> {
    text: &'s str,
    base: usize,
    shift: usize,
}

impl<'s> Source<'s> {
    /// A text parsed as it is.
    fn whole(text: &'s str) -> Self {
        Source::shifted(text, 0, 0)
    }

    /// `text` from `base`, parsed at offset `shift`.
    fn shifted(text: &'s str, base: usize, shift: usize) -> Self {
        Source { text, base, shift }
    }

    /// The text at a span of the parse.
    fn get(&self, span: Range<usize>) -> &'s str {
        let (Some(start), Some(end)) = (
            span.start.checked_sub(self.shift),
            span.end.checked_sub(self.shift),
        ) else {
            return "";
        };
        self.text
            .get(self.base + start..self.base + end)
            .unwrap_or("")
    }

    /// The text of `e`, trimmed.
    fn of(&self, e: &impl Span) -> &'s str {
        e.span().map_or("", |r| self.get(r).trim())
    }
}

fn parse(src: &str) -> Result<Body, EditError> {
    hcl_edit::parser::parse_body(src)
        .map_err(|e| EditError::Parse(e.to_string().trim_end().to_owned()))
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

/// An HCL string literal.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn render(value: &Value) -> String {
    match value {
        Value::String(s) => quote(s),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(render).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Object(map) if map.is_empty() => "{}".to_owned(),
        Value::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{} = {}", render_key(k), render(v)))
                .collect();
            format!("{{ {} }}", parts.join(", "))
        }
        scalar => scalar.to_string(),
    }
}

fn render_key(key: &str) -> String {
    if is_ident(key) {
        key.to_owned()
    } else {
        quote(key)
    }
}

fn nested(segments: &[String], value: &Value) -> Value {
    segments.iter().rev().fold(value.clone(), |acc, seg| {
        let mut map = Map::new();
        map.insert(seg.clone(), acc);
        Value::Object(map)
    })
}

fn span_of(e: &impl Span) -> Result<Range<usize>, EditError> {
    e.span()
        .ok_or_else(|| EditError::Parse("the HCL parser gave no position".into()))
}

fn object_key(key: &ObjectKey) -> Option<&str> {
    match key {
        ObjectKey::Ident(ident) => Some(ident.as_str()),
        ObjectKey::Expression(Expression::String(s)) => Some(s.as_str()),
        ObjectKey::Expression(_) => None,
    }
}

struct Planner<'a> {
    src: &'a str,
    key: &'a str,
    segments: &'a [String],
    value: &'a Value,
    nl: &'static str,
}

impl Planner<'_> {
    fn fail(&self, reason: impl Into<String>) -> EditError {
        EditError::key(self.key, reason)
    }

    fn at(&self, depth: usize) -> String {
        self.segments[..depth].join(".")
    }

    fn body(
        &self,
        body: &Body,
        depth: usize,
        top: bool,
        close: Option<usize>,
    ) -> Result<Splice, EditError> {
        let seg = &self.segments[depth];
        for structure in body.iter() {
            match structure {
                Structure::Attribute(attr) if attr.key.as_str() == seg => {
                    return self.expr(&attr.value, depth + 1);
                }
                Structure::Block(block) if block.ident.as_str() == seg => {
                    let labels: Vec<&str> = block
                        .labels
                        .iter()
                        .map(|l| match l {
                            BlockLabel::Ident(i) => i.as_str(),
                            BlockLabel::String(s) => s.as_str(),
                        })
                        .collect();
                    let rest = &self.segments[depth + 1..];
                    if rest.len() > labels.len()
                        && labels.iter().zip(rest).all(|(l, s)| *l == s.as_str())
                    {
                        let span = span_of(block)?;
                        return self.body(
                            &block.body,
                            depth + 1 + labels.len(),
                            false,
                            Some(span.end - 1),
                        );
                    }
                }
                _ => {}
            }
        }
        // Missing: add an attribute to this body.
        let rest = &self.segments[depth..];
        let line = format!(
            "{} = {}",
            render_key(&rest[0]),
            render(&nested(&rest[1..], self.value))
        );
        let nl = self.nl;
        if top {
            let at = self.src.len();
            let sep = if self.src.is_empty() || self.src.ends_with('\n') {
                ""
            } else {
                nl
            };
            return Ok(Splice {
                range: at..at,
                text: format!("{sep}{line}{nl}"),
            });
        }
        let close = close.ok_or_else(|| self.fail("cannot add a key here"))?;
        let close_line = line_start(self.src, close);
        if self.src[close_line..close].trim().is_empty() && close_line > 0 {
            let indent = match body.iter().next() {
                Some(first) => {
                    let start = span_of(first)?.start;
                    self.src[line_start(self.src, start)..start].to_owned()
                }
                None => format!("{}  ", &self.src[close_line..close]),
            };
            Ok(Splice {
                range: close_line..close_line,
                text: format!("{indent}{line}{nl}"),
            })
        } else {
            Err(self.fail(format!("cannot add `{}` to a one-line block", rest[0])))
        }
    }

    fn expr(&self, expr: &Expression, depth: usize) -> Result<Splice, EditError> {
        if depth == self.segments.len() {
            return match expr {
                Expression::Object(_) | Expression::Array(_)
                    if !self.value.is_object() && !self.value.is_array() =>
                {
                    Err(self.fail("holds an object or a list; only values can be replaced"))
                }
                _ => Ok(Splice {
                    range: span_of(expr)?,
                    text: render(self.value),
                }),
            };
        }
        let seg = &self.segments[depth];
        match expr {
            Expression::Object(object) => {
                let mut last_end = None;
                for (key, value) in object.iter() {
                    let value_span = span_of(value.expr())?;
                    last_end = Some(value_span.end);
                    if object_key(key) == Some(seg.as_str()) {
                        return self.expr(value.expr(), depth + 1);
                    }
                }
                let rest = &self.segments[depth..];
                let item = format!(
                    "{} = {}",
                    render_key(&rest[0]),
                    render(&nested(&rest[1..], self.value))
                );
                let span = span_of(object)?;
                let first = object.iter().next().map(|(k, _)| k);
                match (last_end, first) {
                    (Some(end), Some(first)) => {
                        let first_start = match first {
                            ObjectKey::Ident(i) => span_of(i)?.start,
                            ObjectKey::Expression(e) => span_of(e)?.start,
                        };
                        if self.src[span.start..first_start].contains('\n') {
                            let indent = &self.src[line_start(self.src, first_start)..first_start];
                            let at = next_line_start(self.src, end).unwrap_or(self.src.len());
                            // Keep a trailing comma style: only when the last item has one.
                            let sep = if self.src[end..line_end(self.src, end)]
                                .trim_start()
                                .starts_with(',')
                            {
                                ","
                            } else {
                                ""
                            };
                            Ok(Splice {
                                range: at..at,
                                text: format!("{indent}{item}{sep}{}", self.nl),
                            })
                        } else {
                            Ok(Splice {
                                range: end..end,
                                text: format!(", {item}"),
                            })
                        }
                    }
                    _ => {
                        let at = span.end - 1;
                        Ok(Splice {
                            range: at..at,
                            text: item,
                        })
                    }
                }
            }
            Expression::Array(array) => {
                let len = array.iter().count();
                let item = index_of(seg)
                    .and_then(|i| array.iter().nth(i))
                    .ok_or_else(|| match index_of(seg) {
                        Some(i) => self.fail(format!(
                            "index {i} is out of range: `{}` has {len} items",
                            self.at(depth)
                        )),
                        None => self.fail(format!(
                            "`{}` is a list; `{seg}` is not an index",
                            self.at(depth)
                        )),
                    })?;
                self.expr(item, depth + 1)
            }
            _ => Err(self.fail(format!("`{}` is not an object", self.at(depth)))),
        }
    }
}

/// Every value in the file as `(path, source text)`, for verification.
fn leaves(src: &str, body: &Body) -> Result<Vec<(String, String)>, EditError> {
    fn expr(
        src: &str,
        path: String,
        e: &Expression,
        out: &mut Vec<(String, String)>,
    ) -> Result<(), EditError> {
        match e {
            Expression::Object(object) => {
                for (k, v) in object.iter() {
                    // An expression key as its text: its debug form holds
                    // its offsets, which an edit before it moves.
                    let key = key_text(&Source::whole(src), k);
                    expr(src, format!("{path}.{key}"), v.expr(), out)?;
                }
                out.push((path, "{}".into()));
            }
            Expression::Array(array) => {
                for (i, v) in array.iter().enumerate() {
                    expr(src, format!("{path}.{i}"), v, out)?;
                }
                out.push((path, "[]".into()));
            }
            other => out.push((path, src[span_of(other)?].to_owned())),
        }
        Ok(())
    }
    fn walk(
        src: &str,
        prefix: &str,
        body: &Body,
        out: &mut Vec<(String, String)>,
    ) -> Result<(), EditError> {
        for (n, s) in body.iter().enumerate() {
            match s {
                Structure::Attribute(a) => {
                    expr(src, format!("{prefix}{}", a.key.as_str()), &a.value, out)?
                }
                Structure::Block(b) => {
                    let mut p = format!("{prefix}{}#{n}", b.ident.as_str());
                    for l in &b.labels {
                        match l {
                            BlockLabel::Ident(i) => p.push_str(&format!(".{}", i.as_str())),
                            BlockLabel::String(s) => p.push_str(&format!(".{}", s.as_str())),
                        }
                    }
                    walk(src, &format!("{p}."), &b.body, out)?;
                }
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(src, "", body, &mut out)?;
    out.sort();
    Ok(out)
}

/// Applies `updates` to the HCL text `src`: a large file in layers
/// ([`update_layered`]), else (or should that give up) on whole trees
/// ([`update_whole`]).
pub(crate) fn update(src: &str, updates: &[Update]) -> Result<String, EditError> {
    if src.len() >= LAYERED_MIN_LEN
        && let Some(result) = update_layered(src, updates, CHUNK_LEN)
    {
        return result;
    }
    update_whole(src, updates)
}

/// [`update_whole`] in layers: each update is planned on the text with
/// every group off its key's path blanked ([`layered::path_skeleton`]),
/// which gives the planner the same tree along the path at the same
/// offsets, and checked on the compact documents read before and after it
/// ([`layered::read`], pieces up to `chunk` bytes): the document read after
/// must be the one read before with the new value set along the key's path.
/// `None` where the layers give up, or the check finds a difference:
/// [`update_whole`] then gives its own result and error.
fn update_layered(
    src: &str,
    updates: &[Update],
    chunk: usize,
) -> Option<Result<String, EditError>> {
    let mut text = src.to_owned();
    // As on whole trees: a text that does not parse is reported first.
    let mut before = layered::read(&text, chunk).ok()?;
    let nl = line_ending(src);
    for update in updates {
        let segments = match split_key(&update.key) {
            Ok(segments) => segments,
            Err(e) => return Some(Err(e)),
        };
        let body = parse(&layered::path_skeleton(&text, &segments).ok()?).ok()?;
        let planner = Planner {
            src: &text,
            key: &update.key,
            segments: &segments,
            value: &update.value,
            nl,
        };
        let splice = match planner.body(&body, 0, true, None) {
            Ok(splice) => splice,
            Err(e) => return Some(Err(e)),
        };
        drop(body);
        let edited = splice.apply(&text);
        let after = layered::read(&edited, chunk).ok()?;
        let path: Vec<Step<'_>> = segments
            .iter()
            .map(|s| Step {
                key: s,
                slot: index_of(s).map(Some),
            })
            .collect();
        let mut expected = Expected::new(before.root());
        expected.set(&path, update.value.clone(), &|depth, value| {
            nested(&segments[depth..], value)
        });
        if !expected.matches(after.root()) {
            return None;
        }
        drop(expected);
        before = after;
        text = edited;
    }
    Some(Ok(text))
}

/// Applies `updates` to the HCL text `src`, planning on and checking whole
/// syntax trees: the reference [`update_layered`] agrees with.
fn update_whole(src: &str, updates: &[Update]) -> Result<String, EditError> {
    let mut text = src.to_owned();
    let nl = line_ending(src);
    for update in updates {
        let body = parse(&text)?;
        let segments = split_key(&update.key)?;
        let planner = Planner {
            src: &text,
            key: &update.key,
            segments: &segments,
            value: &update.value,
            nl,
        };
        let splice = planner.body(&body, 0, true, None)?;
        let before = leaves(&text, &body)?;
        let edited = splice.apply(&text);
        let after = parse(&edited)
            .and_then(|b| leaves(&edited, &b))
            .map_err(|e| {
                EditError::key(
                    &update.key,
                    format!("the edited file does not parse ({e}); nothing was written"),
                )
            })?;
        // Everything but the updated key (and the objects holding it) reads the same.
        let touched = |path: &str| {
            let plain: String = path
                .split('.')
                .map(|p| p.split('#').next().unwrap_or(p))
                .collect::<Vec<_>>()
                .join(".");
            update.key.replace("\\.", ".").starts_with(&plain)
                || plain.starts_with(&update.key.replace("\\.", "."))
        };
        let keep = |l: &Vec<(String, String)>| {
            l.iter()
                .filter(|(p, _)| !touched(p))
                .cloned()
                .collect::<Vec<_>>()
        };
        if keep(&before) != keep(&after) {
            return Err(EditError::key(
                &update.key,
                "the edit would change other values; nothing was written",
            ));
        }
        let probe = read(&edited)?;
        let mut cur = &probe;
        for seg in &segments {
            cur = match cur {
                Value::Object(map) => map.get(seg.as_str()).unwrap_or(&Value::Null),
                Value::Array(items) => index_of(seg)
                    .and_then(|i| items.get(i))
                    .unwrap_or(&Value::Null),
                _ => &Value::Null,
            };
        }
        if cur != &update.value {
            return Err(EditError::key(
                &update.key,
                "the edited file does not hold the new value; nothing was written",
            ));
        }
        text = edited;
    }
    Ok(text)
}

/// An object key's text: an identifier or string as it is, any other
/// expression as its source text.
fn key_text(src: &Source<'_>, key: &ObjectKey) -> String {
    match key {
        ObjectKey::Ident(i) => i.as_str().to_owned(),
        ObjectKey::Expression(Expression::String(s)) => s.as_str().to_owned(),
        ObjectKey::Expression(e) => e.span().map_or_else(String::new, |r| src.get(r).to_owned()),
    }
}

/// A block's identifier and labels, the keys it nests under.
fn block_keys(block: &Block) -> Vec<String> {
    let mut keys: Vec<String> = vec![block.ident.as_str().to_owned()];
    keys.extend(block.labels.iter().map(|l| match l {
        BlockLabel::Ident(i) => i.as_str().to_owned(),
        BlockLabel::String(s) => s.as_str().to_owned(),
    }));
    keys
}

/// An expression that is not an object or tuple as JSON: literals as their
/// values, anything else as its source text.
fn scalar_json(src: &Source<'_>, e: &Expression) -> Value {
    match e {
        Expression::Null(_) => Value::Null,
        Expression::Bool(b) => Value::Bool(*b.value()),
        Expression::Number(n) => {
            let n = n.value();
            n.as_i64()
                .map(Value::from)
                .or_else(|| n.as_u64().map(Value::from))
                .or_else(|| {
                    n.as_f64()
                        .and_then(serde_json::Number::from_f64)
                        .map(Value::Number)
                })
                .unwrap_or(Value::Null)
        }
        Expression::String(s) => Value::String(s.value().clone()),
        Expression::StringTemplate(_) => {
            let text = src.of(e);
            let inner = text
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .unwrap_or(text);
            Value::String(inner.to_owned())
        }
        // Anything else (references, calls, heredocs) as its source text.
        other => Value::String(src.of(other).to_owned()),
    }
}

fn expr_json(src: &Source<'_>, e: &Expression) -> Value {
    match e {
        Expression::Array(a) => Value::Array(a.iter().map(|e| expr_json(src, e)).collect()),
        Expression::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (key_text(src, k), expr_json(src, v.expr())))
                .collect(),
        ),
        other => scalar_json(src, other),
    }
}

fn body_json(src: &Source<'_>, body: &Body) -> Map<String, Value> {
    let mut map = Map::new();
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => {
                map.insert(a.key.as_str().to_owned(), expr_json(src, &a.value));
            }
            Structure::Block(b) => {
                let inner = Value::Object(body_json(src, &b.body));
                insert_block(&mut map, &block_keys(b), inner);
            }
        }
    }
    map
}

/// Blocks nest by identifier and labels, as in Terraform's JSON syntax;
/// repeated blocks with the same path become a list.
fn insert_block(map: &mut Map<String, Value>, keys: &[String], inner: Value) {
    let Some((first, rest)) = keys.split_first() else {
        return;
    };
    if rest.is_empty() {
        match map.get_mut(first) {
            Some(Value::Array(items)) => items.push(inner),
            Some(existing) => {
                let old = existing.take();
                *existing = Value::Array(vec![old, inner]);
            }
            None => {
                map.insert(first.clone(), inner);
            }
        }
        return;
    }
    let child = map
        .entry(first.clone())
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(child) = child {
        insert_block(child, rest, inner);
    }
}

/// Reads an HCL text as JSON: attributes as values, blocks nested by
/// identifier and labels, expressions that are not literals as their text.
pub(crate) fn read(src: &str) -> Result<Value, EditError> {
    let body = parse(src)?;
    Ok(Value::Object(body_json(&Source::whole(src), &body)))
}

/// Reads a HCL text into a [`Document`], as [`read`] reads it: a large
/// file in layers, never as one syntax tree ([`layered::read`]); a small
/// one, or one the layers give up on, through [`read`].
pub(crate) fn read_document(src: &str) -> Result<Document, EditError> {
    if src.len() >= LAYERED_MIN_LEN
        && let Ok(doc) = layered::read(src, CHUNK_LEN)
    {
        return Ok(doc);
    }
    read(src).map(|value| Document::from_json(&value))
}

#[cfg(test)]
#[path = "hcl_tests.rs"]
mod tests;
