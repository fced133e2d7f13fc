//! TOML editing with toml_edit, which keeps comments, whitespace and the
//! representation of every value it does not touch. As in Kargo, only
//! existing scalar values are replaced: a missing key, or one holding a
//! table or an array, is an error naming the key. A replaced value keeps
//! the old one's surrounding whitespace and comment, and is written as
//! Kargo writes it: strings literal (`'v2'`) where they can be, floats
//! with a decimal (`123.0`).

use serde_json::{Map, Value};
use toml_edit::{DocumentMut, Item, TableLike};

use super::{EditError, Update, index_of, split_key};

fn parse(src: &str) -> Result<DocumentMut, EditError> {
    src.parse::<DocumentMut>()
        .map_err(|e| EditError::Parse(e.to_string().trim_end().to_owned()))
}

/// A TOML string as Kargo writes it (go-toml's encoder): a literal
/// `'...'` string unless the text holds a `'`, a line break or a control
/// character other than tab, then a basic `"..."` string with escapes.
pub(crate) fn string_text(s: &str) -> String {
    let needs_basic = s
        .chars()
        .any(|c| c == '\'' || c == '\u{7f}' || (c.is_ascii_control() && c != '\t'));
    if !needs_basic {
        return format!("'{s}'");
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The text Kargo writes for a scalar value (strings as [`string_text`],
/// floats with at least one decimal, `123.0`), or an error naming the key
/// for a value TOML-update cannot write: null, a list or a map.
///
/// Kargo holds every config number as a float and so writes `100` as
/// `100.0`; an integer in the config stays an integer here (see the
/// README's "Compared with Kargo").
pub(crate) fn value_text(key: &str, value: &Value) -> Result<String, EditError> {
    Ok(match value {
        Value::Bool(b) => b.to_string(),
        Value::String(s) => string_text(s),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, _) if n.is_u64() => {
                return Err(EditError::key(
                    key,
                    format!("{n} does not fit a TOML integer (64-bit signed)"),
                ));
            }
            (None, Some(f)) if f.is_finite() && f.fract() == 0.0 => format!("{f:.1}"),
            (None, Some(f)) if f.is_finite() => format!("{f}"),
            _ => return Err(EditError::key(key, format!("{n} is not a TOML number"))),
        },
        Value::Null | Value::Array(_) | Value::Object(_) => {
            return Err(EditError::key(
                key,
                "the value is not a TOML scalar (string, number or boolean)",
            ));
        }
    })
}

fn make_value(key: &str, value: &Value) -> Result<toml_edit::Value, EditError> {
    let text = value_text(key, value)?;
    text.parse::<toml_edit::Value>()
        .map_err(|e| EditError::key(key, format!("cannot write `{text}` as TOML: {e}")))
}

struct Target<'k> {
    key: &'k str,
    segments: &'k [String],
    value: &'k Value,
}

impl Target<'_> {
    fn at(&self, depth: usize) -> String {
        self.segments[..depth].join(".")
    }

    fn set_item(&self, item: &mut Item, depth: usize) -> Result<(), EditError> {
        if depth == self.segments.len() {
            return match item {
                Item::Value(old) => self.replace(old),
                _ => Err(self.not_scalar("a table")),
            };
        }
        match item {
            Item::Table(table) => self.set_table(table, false, depth),
            Item::Value(toml_edit::Value::InlineTable(table)) => self.set_table(table, true, depth),
            Item::Value(value) => self.set_value(value, depth),
            Item::ArrayOfTables(tables) => {
                let len = tables.len();
                let table = index_of(&self.segments[depth])
                    .and_then(|i| tables.get_mut(i))
                    .ok_or_else(|| self.bad_index(depth, len))?;
                self.set_table(table, false, depth + 1)
            }
            Item::None => Err(EditError::key(
                self.key,
                format!("`{}` is empty", self.at(depth)),
            )),
        }
    }

    /// Replaces a scalar value, keeping its decoration (spaces, comment).
    fn replace(&self, old: &mut toml_edit::Value) -> Result<(), EditError> {
        match old {
            toml_edit::Value::Array(_) => return Err(self.not_scalar("an array")),
            toml_edit::Value::InlineTable(_) => return Err(self.not_scalar("an inline table")),
            _ => {}
        }
        let mut new = make_value(self.key, self.value)?;
        *new.decor_mut() = old.decor().clone();
        *old = new;
        Ok(())
    }

    fn not_scalar(&self, what: &str) -> EditError {
        EditError::key(
            self.key,
            format!("holds {what}, not a scalar; toml-update only changes scalar values"),
        )
    }

    fn bad_index(&self, depth: usize, len: usize) -> EditError {
        let seg = &self.segments[depth];
        match index_of(seg) {
            Some(i) => EditError::key(
                self.key,
                format!(
                    "index {i} is out of range: `{}` has {len} items",
                    self.at(depth)
                ),
            ),
            None => EditError::key(
                self.key,
                format!("`{}` is an array; `{seg}` is not an index", self.at(depth)),
            ),
        }
    }

    fn set_value(&self, value: &mut toml_edit::Value, depth: usize) -> Result<(), EditError> {
        match value {
            toml_edit::Value::Array(array) => {
                let len = array.len();
                let idx = index_of(&self.segments[depth])
                    .filter(|&i| i < len)
                    .ok_or_else(|| self.bad_index(depth, len))?;
                let slot = array
                    .get_mut(idx)
                    .ok_or_else(|| self.bad_index(depth, len))?;
                if depth + 1 == self.segments.len() {
                    self.replace(slot)
                } else {
                    self.set_value(slot, depth + 1)
                }
            }
            toml_edit::Value::InlineTable(table) => self.set_table(table, true, depth),
            _ => Err(EditError::key(
                self.key,
                format!("`{}` is a scalar, not a table", self.at(depth)),
            )),
        }
    }

    fn set_table(
        &self,
        table: &mut dyn TableLike,
        inline: bool,
        depth: usize,
    ) -> Result<(), EditError> {
        if depth == self.segments.len() {
            return Err(self.not_scalar(if inline { "an inline table" } else { "a table" }));
        }
        let seg = &self.segments[depth];
        match table.get_mut(seg) {
            Some(child) => self.set_item(child, depth + 1),
            None => {
                let within = if depth == 0 {
                    "the document".to_owned()
                } else {
                    format!("`{}`", self.at(depth))
                };
                Err(EditError::key(
                    self.key,
                    format!(
                        "not found: {within} has no key `{seg}`; toml-update only changes existing keys"
                    ),
                ))
            }
        }
    }
}

fn to_json_item(item: &Item) -> Value {
    match item {
        Item::None => Value::Null,
        Item::Value(v) => to_json_value(v),
        Item::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.to_owned(), to_json_item(v)))
                .collect::<Map<_, _>>(),
        ),
        Item::ArrayOfTables(a) => Value::Array(
            a.iter()
                .map(|t| to_json_item(&Item::Table(t.clone())))
                .collect(),
        ),
    }
}

fn to_json_value(value: &toml_edit::Value) -> Value {
    match value {
        toml_edit::Value::String(s) => Value::String(s.value().clone()),
        toml_edit::Value::Integer(i) => Value::from(*i.value()),
        toml_edit::Value::Float(f) => serde_json::Number::from_f64(*f.value())
            .map_or_else(|| Value::String(f.value().to_string()), Value::Number),
        toml_edit::Value::Boolean(b) => Value::Bool(*b.value()),
        toml_edit::Value::Datetime(d) => Value::String(d.value().to_string()),
        toml_edit::Value::Array(a) => Value::Array(a.iter().map(to_json_value).collect()),
        toml_edit::Value::InlineTable(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.to_owned(), to_json_value(v)))
                .collect::<Map<_, _>>(),
        ),
    }
}

/// Reads a TOML text as JSON (datetimes become strings).
pub(crate) fn read(src: &str) -> Result<Value, EditError> {
    Ok(to_json_item(parse(src)?.as_item()))
}

/// Reads a TOML text into a [`Document`](kargo_core::expr::Document), as [`read`] reads it.
pub(crate) fn read_document(src: &str) -> Result<kargo_core::expr::Document, EditError> {
    read(src).map(|value| kargo_core::expr::Document::from_json(&value))
}

fn set_json(doc: &mut Value, segments: &[String], value: Value) {
    let mut cur = doc;
    for seg in segments {
        if cur.is_null() {
            *cur = Value::Object(Map::new());
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

/// Applies `updates` to the TOML text `src`.
pub(crate) fn update(src: &str, updates: &[Update]) -> Result<String, EditError> {
    let mut doc = parse(src)?;
    let mut expected = to_json_item(doc.as_item());
    for update in updates {
        let segments = split_key(&update.key)?;
        let target = Target {
            key: &update.key,
            segments: &segments,
            value: &update.value,
        };
        target.set_table(doc.as_table_mut(), false, 0)?;
        set_json(&mut expected, &segments, update.value.clone());
    }
    let mut text = doc.to_string();
    if super::line_ending(src) == "\r\n" {
        // toml_edit writes `\n`; give a CRLF file its line endings back.
        text = text.replace("\r\n", "\n").replace('\n', "\r\n");
    }
    let keys: Vec<&str> = updates.iter().map(|u| u.key.as_str()).collect();
    let got = read(&text).map_err(|e| {
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

#[cfg(test)]
#[path = "toml_tests.rs"]
mod tests;
