//! A span-splicing JSON editor: a small parser that records the byte span
//! of every value, so an update rewrites only the value's bytes and keeps
//! key order, indentation and spacing. The result is parsed again with
//! serde_json and compared with the expected document.

use std::ops::Range;

use kargo_core::expr::Document;
use serde_json::Value;

use super::expected::{Expected, Step};
use super::{
    EditError, KeyPart, Splice, Update, index_of, line_ending, line_start, split_key_parts,
};

#[derive(Debug)]
struct Node {
    span: Range<usize>,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Scalar,
    Array(Vec<Node>),
    Object(Vec<(String, Range<usize>, Node)>),
}

/// Scans the values on one key's path, recording spans; values off the
/// path are stepped over without being kept (their span only).
struct Scanner<'a, 'p> {
    src: &'a str,
    pos: usize,
    depth: usize,
    path: &'p [KeyPart],
}

impl Scanner<'_, '_> {
    fn err(&self, what: &str) -> EditError {
        let line = self.src[..self.pos.min(self.src.len())]
            .matches('\n')
            .count()
            + 1;
        EditError::Parse(format!("{what} at line {line}"))
    }

    fn ws(&mut self) {
        let b = self.src.as_bytes();
        while self.pos < b.len() && matches!(b[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    /// Steps over a string, returning its span.
    fn skip_string(&mut self) -> Result<Range<usize>, EditError> {
        let start = self.pos;
        let b = self.src.as_bytes();
        self.pos += 1;
        while self.pos < b.len() {
            match b[self.pos] {
                b'\\' => self.pos += 2,
                b'"' => {
                    self.pos += 1;
                    return Ok(start..self.pos);
                }
                _ => self.pos += 1,
            }
        }
        Err(self.err("unterminated string"))
    }

    fn string(&mut self) -> Result<(String, Range<usize>), EditError> {
        let span = self.skip_string()?;
        let s: String = serde_json::from_str(&self.src[span.clone()])
            .map_err(|_| self.err("invalid string"))?;
        Ok((s, span))
    }

    /// The segment the value at path depth `on` continues with, if the
    /// value is on the path and the path goes on past it.
    fn segment(&self, on: Option<usize>) -> Option<&KeyPart> {
        on.and_then(|d| self.path.get(d))
    }

    /// Scans a value at path depth `on` (`None`: off the path).
    fn value(&mut self, on: Option<usize>) -> Result<Node, EditError> {
        self.ws();
        let start = self.pos;
        let next_on = on.map(|d| d + 1);
        match self.peek() {
            Some(b'{') => {
                self.depth += 1;
                if self.depth > 512 {
                    return Err(self.err("nesting too deep"));
                }
                self.pos += 1;
                let seg = self.segment(on).map(|p| p.name.clone());
                let mut members = Vec::new();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                } else {
                    loop {
                        self.ws();
                        if self.peek() != Some(b'"') {
                            return Err(self.err("expected a key"));
                        }
                        // Keys are read only where the path goes on.
                        let (key, key_span) = match seg {
                            Some(_) => self.string()?,
                            None => (String::new(), self.skip_string()?),
                        };
                        self.ws();
                        if self.peek() != Some(b':') {
                            return Err(self.err("expected `:`"));
                        }
                        self.pos += 1;
                        let member_on = match &seg {
                            Some(seg) if *seg == key => next_on,
                            _ => None,
                        };
                        let value = self.value(member_on)?;
                        // Off the path, or where it ends, only the
                        // object's own span is used.
                        if seg.is_some() {
                            members.push((key, key_span, value));
                        }
                        self.ws();
                        match self.peek() {
                            Some(b',') => self.pos += 1,
                            Some(b'}') => {
                                self.pos += 1;
                                break;
                            }
                            _ => return Err(self.err("expected `,` or `}`")),
                        }
                    }
                }
                self.depth -= 1;
                Ok(Node {
                    span: start..self.pos,
                    kind: Kind::Object(members),
                })
            }
            Some(b'[') => {
                self.depth += 1;
                if self.depth > 512 {
                    return Err(self.err("nesting too deep"));
                }
                self.pos += 1;
                let seg = self.segment(on);
                let keep = seg.is_some();
                let slot = seg.and_then(array_slot).flatten();
                let mut items = Vec::new();
                let mut count = 0;
                self.ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                } else {
                    loop {
                        let item_on = if slot == Some(count) { next_on } else { None };
                        let item = self.value(item_on)?;
                        if keep {
                            items.push(item);
                        }
                        count += 1;
                        self.ws();
                        match self.peek() {
                            Some(b',') => self.pos += 1,
                            Some(b']') => {
                                self.pos += 1;
                                break;
                            }
                            _ => return Err(self.err("expected `,` or `]`")),
                        }
                    }
                }
                self.depth -= 1;
                Ok(Node {
                    span: start..self.pos,
                    kind: Kind::Array(items),
                })
            }
            Some(b'"') => {
                let span = self.skip_string()?;
                Ok(Node {
                    span,
                    kind: Kind::Scalar,
                })
            }
            Some(_) => {
                let b = self.src.as_bytes();
                while self.pos < b.len()
                    && !matches!(
                        b[self.pos],
                        b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'
                    )
                {
                    self.pos += 1;
                }
                if self.pos == start {
                    return Err(self.err("expected a value"));
                }
                Ok(Node {
                    span: start..self.pos,
                    kind: Kind::Scalar,
                })
            }
            None => Err(self.err("unexpected end of file")),
        }
    }
}

/// Parses `src` as far as `path` needs: the values along it, with their
/// spans.
fn parse(src: &str, path: &[KeyPart]) -> Result<Node, EditError> {
    // serde_json checks the grammar; the scanner only finds spans.
    serde_json::from_str::<serde::de::IgnoredAny>(src)
        .map_err(|e| EditError::Parse(e.to_string()))?;
    let mut scanner = Scanner {
        src,
        pos: 0,
        depth: 0,
        path,
    };
    scanner.value(Some(0))
}

/// Compact JSON with a space after `:` and `,` (`{"a": [1, 2]}`).
fn render(value: &Value) -> String {
    match value {
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(render).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", render(&Value::from(k.as_str())), render(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        Value::Number(n) => match n.as_f64() {
            // Kargo's sjson writes a float with Go's `'f', -1` format:
            // `123.0` as `123`, never with an exponent.
            Some(f) if !n.is_i64() && !n.is_u64() && f.is_finite() => format!("{f}"),
            _ => n.to_string(),
        },
        scalar => scalar.to_string(),
    }
}

/// How a key segment addresses an array, as sjson reads it: an index, or
/// `-1` for "append"; `None` for a segment that is not an index or was
/// marked as a map key with `:`.
fn array_slot(part: &KeyPart) -> Option<Option<usize>> {
    if part.map_key {
        return None;
    }
    if part.name == "-1" {
        return Some(None);
    }
    index_of(&part.name).map(Some)
}

/// The value sjson creates for the missing segments `parts`: an index
/// segment makes an array (padded with nulls up to the index), any other
/// segment an object.
fn nested(parts: &[KeyPart], value: &Value) -> Value {
    parts
        .iter()
        .rev()
        .fold(value.clone(), |acc, part| match array_slot(part) {
            Some(slot) => {
                let mut items = vec![Value::Null; slot.unwrap_or(0)];
                items.push(acc);
                Value::Array(items)
            }
            None => {
                let mut map = serde_json::Map::new();
                map.insert(part.name.clone(), acc);
                Value::Object(map)
            }
        })
}

/// Kargo's json-update writes scalars only (strings, numbers, booleans).
fn check_scalar(update: &Update) -> Result<(), EditError> {
    match update.value {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => Ok(()),
        _ => Err(EditError::key(
            &update.key,
            "the value is not a scalar (string, number or boolean)",
        )),
    }
}

fn plan(src: &str, root: &Node, update: &Update, parts: &[KeyPart]) -> Result<Splice, EditError> {
    let key = update.key.as_str();
    let nl = line_ending(src);
    let mut node = root;
    for (i, part) in parts.iter().enumerate() {
        let seg = &part.name;
        let at = || {
            parts[..i]
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(".")
        };
        match &node.kind {
            Kind::Object(members) => match members.iter().find(|(k, _, _)| k == seg) {
                Some((_, _, value)) => node = value,
                None => {
                    let rest = &parts[i..];
                    let entry_value = render(&nested(&rest[1..], &update.value));
                    let entry = format!("{}: {entry_value}", render(&Value::from(seg.clone())));
                    return Ok(match members.last() {
                        Some((_, _, last)) => {
                            let (_, first_key, _) = &members[0];
                            let multiline = src[node.span.start..first_key.start].contains('\n');
                            let text = if multiline {
                                let ls = line_start(src, first_key.start);
                                let indent = &src[ls..first_key.start];
                                format!(",{nl}{indent}{entry}")
                            } else {
                                format!(", {entry}")
                            };
                            Splice {
                                range: last.span.end..last.span.end,
                                text,
                            }
                        }
                        None => {
                            let at = node.span.end - 1;
                            Splice {
                                range: at..at,
                                text: entry,
                            }
                        }
                    });
                }
            },
            Kind::Array(items) => {
                let Some(slot) = array_slot(part) else {
                    let why = if part.map_key {
                        format!("`:{seg}` names a map key, but `{}` is an array", at())
                    } else {
                        format!("`{}` is an array; `{seg}` is not an index", at())
                    };
                    return Err(EditError::key(key, why));
                };
                match slot.and_then(|idx| items.get(idx)) {
                    Some(item) => node = item,
                    None => {
                        // Past the end (or `-1`): sjson appends, padding
                        // with nulls up to the index.
                        let pad = slot.map_or(0, |idx| idx - items.len());
                        let mut new: Vec<String> = vec!["null".to_owned(); pad];
                        new.push(render(&nested(&parts[i + 1..], &update.value)));
                        let joined = new.join(", ");
                        let at = node.span.end - 1;
                        let text = if items.is_empty() {
                            joined
                        } else {
                            format!(", {joined}")
                        };
                        let at = items.last().map_or(at, |last| last.span.end);
                        return Ok(Splice {
                            range: at..at,
                            text,
                        });
                    }
                }
            }
            Kind::Scalar => {
                let what = if i == 0 {
                    "the document".to_owned()
                } else {
                    format!("`{}`", at())
                };
                return Err(EditError::key(
                    key,
                    format!("{what} is a scalar, not an object"),
                ));
            }
        }
    }
    Ok(Splice {
        range: node.span.clone(),
        text: render(&update.value),
    })
}

/// Applies `updates` to the JSON text `src`, keeping every byte that does
/// not hold a changed value. Keys follow sjson as Kargo uses it: a missing
/// key is created, an index past the end (or `-1`) appends, a `:` before a
/// segment makes it a map key; values must be scalars.
///
/// The file is read into a compact [`Document`] before and after the edit;
/// the check compares the two with the updates set along their paths
/// ([`Expected`]), so no other copy of the document is made.
pub(crate) fn update(src: &str, updates: &[Update]) -> Result<String, EditError> {
    // Kargo's sjson treats an empty file as an empty object.
    let src = if src.trim().is_empty() { "{}" } else { src };
    let before = read_document(src)?;
    let mut expected = Expected::new(before.root());
    let mut text = src.to_owned();
    for update in updates {
        check_scalar(update)?;
        let parts = split_key_parts(&update.key)?;
        let splice = plan(&text, &parse(&text, &parts)?, update, &parts)?;
        text = splice.apply(&text);
        // The value as it reads back once written (`123.0` as `123`).
        let written =
            serde_json::from_str(&render(&update.value)).unwrap_or_else(|_| update.value.clone());
        let path: Vec<Step<'_>> = parts
            .iter()
            .map(|part| Step {
                key: &part.name,
                slot: array_slot(part),
            })
            .collect();
        expected.set(&path, written, &|from, value| nested(&parts[from..], value));
    }
    expected.check(serde_json::from_str::<Document>(&text), updates)?;
    Ok(text)
}

/// Reads a JSON text.
pub(crate) fn read(src: &str) -> Result<Value, EditError> {
    serde_json::from_str(src).map_err(|e| EditError::Parse(e.to_string()))
}

/// Reads a JSON text into a compact [`Document`], as [`read`] reads it.
pub(crate) fn read_document(src: &str) -> Result<Document, EditError> {
    serde_json::from_str(src).map_err(|e| EditError::Parse(e.to_string()))
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
