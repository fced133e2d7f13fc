//! TOML editing with toml_edit, which keeps comments, whitespace and the
//! representation of every value it does not touch. A replaced value keeps
//! the old one's surrounding whitespace and comment, and a literal string
//! (`'...'`) stays literal. A missing nested key becomes a `[a.b]` table
//! header at the end of the document, not an inline table.

use serde_json::{Map, Value};
use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, TableLike};

use super::{EditError, Update, index_of, split_key};

fn parse(src: &str) -> Result<DocumentMut, EditError> {
    src.parse::<DocumentMut>()
        .map_err(|e| EditError::Parse(e.to_string().trim_end().to_owned()))
}

/// Builds the TOML value for `value`; `old` (the value replaced) decides
/// the string style.
fn make_value(
    key: &str,
    value: &Value,
    old: Option<&toml_edit::Value>,
) -> Result<toml_edit::Value, EditError> {
    Ok(match value {
        Value::Null => return Err(EditError::key(key, "TOML has no null value")),
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.into(),
            (None, _) if n.is_u64() => {
                return Err(EditError::key(
                    key,
                    format!("{n} does not fit a TOML integer (64-bit signed)"),
                ));
            }
            (None, Some(f)) => f.into(),
            _ => return Err(EditError::key(key, format!("{n} is not a TOML number"))),
        },
        Value::String(s) => {
            let literal = match old {
                Some(toml_edit::Value::String(f)) => f
                    .as_repr()
                    .and_then(|r| r.as_raw().as_str())
                    .is_some_and(|raw| raw.starts_with('\'') && !raw.starts_with("'''")),
                _ => false,
            };
            let fits_literal = !s.contains('\'') && !s.chars().any(char::is_control);
            if literal && fits_literal {
                format!("'{s}'")
                    .parse::<toml_edit::Value>()
                    .unwrap_or_else(|_| s.as_str().into())
            } else {
                s.as_str().into()
            }
        }
        Value::Array(items) => {
            let mut array = Array::new();
            for item in items {
                array.push(make_value(key, item, None)?);
            }
            toml_edit::Value::Array(array)
        }
        Value::Object(map) => {
            let mut table = InlineTable::new();
            for (k, v) in map {
                table.insert(k, make_value(key, v, None)?);
            }
            toml_edit::Value::InlineTable(table)
        }
    })
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
                Item::Value(old) => {
                    let mut new = make_value(self.key, self.value, Some(old))?;
                    *new.decor_mut() = old.decor().clone();
                    *old = new;
                    Ok(())
                }
                _ => Err(EditError::key(
                    self.key,
                    "holds a table; only values can be replaced",
                )),
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
                    let mut new = make_value(self.key, self.value, Some(slot))?;
                    *new.decor_mut() = slot.decor().clone();
                    *slot = new;
                    Ok(())
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
            return Err(EditError::key(
                self.key,
                "holds a table; only values can be replaced",
            ));
        }
        let seg = &self.segments[depth];
        if let Some(child) = table.get_mut(seg) {
            return self.set_item(child, depth + 1);
        }
        if depth + 1 == self.segments.len() {
            table.insert(seg, Item::Value(make_value(self.key, self.value, None)?));
            return Ok(());
        }
        let child = if inline {
            Item::Value(toml_edit::Value::InlineTable(InlineTable::new()))
        } else {
            let mut new = Table::new();
            // Only the table that holds the key gets a header.
            new.set_implicit(true);
            Item::Table(new)
        };
        table.insert(seg, child);
        let child = table
            .get_mut(seg)
            .ok_or_else(|| EditError::key(self.key, "lost the table it created"))?;
        if let Item::Table(t) = child {
            t.set_implicit(depth + 2 < self.segments.len());
        }
        self.set_item(child, depth + 1)
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
