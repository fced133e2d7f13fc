//! A span-splicing JSON editor: a small parser that records the byte span
//! of every value, so an update rewrites only the value's bytes and keeps
//! key order, indentation and spacing. The result is parsed again with
//! serde_json and compared with the expected document.

use std::ops::Range;

use serde_json::Value;

use super::{EditError, Splice, Update, index_of, line_ending, line_start, split_key};

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

struct Scanner<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
}

impl Scanner<'_> {
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

    fn string(&mut self) -> Result<(String, Range<usize>), EditError> {
        let start = self.pos;
        let b = self.src.as_bytes();
        self.pos += 1;
        while self.pos < b.len() {
            match b[self.pos] {
                b'\\' => self.pos += 2,
                b'"' => {
                    self.pos += 1;
                    let raw = &self.src[start..self.pos];
                    let s: String =
                        serde_json::from_str(raw).map_err(|_| self.err("invalid string"))?;
                    return Ok((s, start..self.pos));
                }
                _ => self.pos += 1,
            }
        }
        Err(self.err("unterminated string"))
    }

    fn value(&mut self) -> Result<Node, EditError> {
        self.ws();
        let start = self.pos;
        match self.peek() {
            Some(b'{') => {
                self.depth += 1;
                if self.depth > 512 {
                    return Err(self.err("nesting too deep"));
                }
                self.pos += 1;
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
                        let (key, key_span) = self.string()?;
                        self.ws();
                        if self.peek() != Some(b':') {
                            return Err(self.err("expected `:`"));
                        }
                        self.pos += 1;
                        let value = self.value()?;
                        members.push((key, key_span, value));
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
                let mut items = Vec::new();
                self.ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                } else {
                    loop {
                        items.push(self.value()?);
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
                let (_, span) = self.string()?;
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

fn parse(src: &str) -> Result<Node, EditError> {
    // serde_json checks the grammar; the scanner only finds spans.
    serde_json::from_str::<serde::de::IgnoredAny>(src)
        .map_err(|e| EditError::Parse(e.to_string()))?;
    let mut scanner = Scanner {
        src,
        pos: 0,
        depth: 0,
    };
    scanner.value()
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
        scalar => scalar.to_string(),
    }
}

fn nested(segments: &[String], value: &Value) -> Value {
    segments.iter().rev().fold(value.clone(), |acc, seg| {
        let mut map = serde_json::Map::new();
        map.insert(seg.clone(), acc);
        Value::Object(map)
    })
}

fn plan(src: &str, root: &Node, update: &Update) -> Result<Splice, EditError> {
    let key = update.key.as_str();
    let segments = split_key(key)?;
    let nl = line_ending(src);
    let mut node = root;
    for (i, seg) in segments.iter().enumerate() {
        let at = || segments[..i].join(".");
        match &node.kind {
            Kind::Object(members) => match members.iter().find(|(k, _, _)| k == seg) {
                Some((_, _, value)) => node = value,
                None => {
                    let rest = &segments[i..];
                    let entry_value = render(&nested(&rest[1..], &update.value));
                    let entry = format!("{}: {entry_value}", render(&Value::from(rest[0].clone())));
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
                let Some(idx) = index_of(seg) else {
                    return Err(EditError::key(
                        key,
                        format!("`{}` is an array; `{seg}` is not an index", at()),
                    ));
                };
                node = items.get(idx).ok_or_else(|| {
                    EditError::key(
                        key,
                        format!(
                            "index {idx} is out of range: `{}` has {} items",
                            at(),
                            items.len()
                        ),
                    )
                })?;
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

fn set(doc: &mut Value, segments: &[String], value: Value) {
    let mut cur = doc;
    for seg in segments {
        if cur.is_null() {
            *cur = Value::Object(serde_json::Map::new());
        }
        cur = match cur {
            Value::Array(items) => match index_of(seg).and_then(|i| items.get_mut(i)) {
                Some(v) => v,
                None => return,
            },
            Value::Object(map) => map.entry(seg.clone()).or_insert(Value::Null),
            _ => return,
        };
    }
    *cur = value;
}

/// Applies `updates` to the JSON text `src`, keeping every byte that does
/// not hold a changed value.
pub(crate) fn update(src: &str, updates: &[Update]) -> Result<String, EditError> {
    let mut expected: Value =
        serde_json::from_str(src).map_err(|e| EditError::Parse(e.to_string()))?;
    let mut text = src.to_owned();
    for update in updates {
        let root = parse(&text)?;
        let splice = plan(&text, &root, update)?;
        text = splice.apply(&text);
        set(
            &mut expected,
            &split_key(&update.key)?,
            update.value.clone(),
        );
    }
    let keys: Vec<&str> = updates.iter().map(|u| u.key.as_str()).collect();
    let got: Value = serde_json::from_str(&text).map_err(|e| {
        EditError::key(
            &keys.join(", "),
            format!("the edited file does not parse ({e}); nothing was written"),
        )
    })?;
    if got != expected {
        return Err(EditError::key(
            &keys.join(", "),
            "the edited file does not read back as expected; nothing was written",
        ));
    }
    Ok(text)
}

/// Reads a JSON text.
pub(crate) fn read(src: &str) -> Result<Value, EditError> {
    serde_json::from_str(src).map_err(|e| EditError::Parse(e.to_string()))
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
