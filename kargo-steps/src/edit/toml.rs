//! TOML reading and editing. Files are read by the compact reader of
//! [`toml_tree`](super::toml_tree) (toml_parser's parser, toml_edit's
//! rules); toml_edit itself gives the error for a file that does not read.
//! As in Kargo, only existing scalar values are replaced: a missing key, or
//! one holding a table or an array, is an error naming the key. A replaced
//! value's text is spliced over the old one's, so its surrounding
//! whitespace and comment and every other byte stay, and is written as
//! Kargo writes it: strings literal (`'v2'`) where they can be, floats
//! with a decimal (`123.0`).

use kargo_core::expr::Document;
use serde_json::{Map, Value};
use toml_edit::{DocumentMut, Item};

use super::expected::{Expected, Step};
use super::toml_tree::Toml;
use super::{EditError, Splice, Update, index_of, split_key};

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
    read_document(src).map(|doc| doc.to_json())
}

/// Reads a TOML text into a [`Document`] with the compact reader
/// ([`Toml`]); a file it refuses goes to toml_edit, for toml_edit's error
/// (or, should toml_edit accept it, toml_edit's reading).
pub(crate) fn read_document(src: &str) -> Result<Document, EditError> {
    match Toml::read(src) {
        Some(toml) => toml.to_document(),
        None => toml_edit_json(src).map(|value| Document::from_json(&value)),
    }
}

/// Reads a TOML text as JSON with toml_edit (for its errors, and the tests
/// that hold [`Toml`] to it).
pub(crate) fn toml_edit_json(src: &str) -> Result<Value, EditError> {
    Ok(to_json_item(parse(src)?.as_item()))
}

/// Applies `updates` to the TOML text `src`: each key must hold a scalar,
/// whose text is replaced by the new value's (as Kargo writes it); every
/// other byte stays. The edited text is read again and must hold the new
/// values and nothing else changed.
pub(crate) fn update(src: &str, updates: &[Update]) -> Result<String, EditError> {
    let Some(mut toml) = Toml::read(src) else {
        parse(src)?;
        return Err(EditError::Parse(
            "kargo-rs's TOML reader cannot read this file, though toml_edit can; please report it"
                .into(),
        ));
    };
    let before = toml.to_document()?;
    let mut expected = Expected::new(before.root());
    let mut splices: Vec<Splice> = Vec::new();
    for update in updates {
        let segments = split_key(&update.key)?;
        let range = toml.scalar_span(&update.key, &segments)?;
        // What toml_edit would write, checked as toml_edit checks it.
        make_value(&update.key, &update.value)?;
        let text = value_text(&update.key, &update.value)?;
        splices.retain(|s| s.range != range);
        splices.push(Splice { range, text });
        let path: Vec<Step<'_>> = segments
            .iter()
            .map(|seg| Step {
                key: seg,
                slot: index_of(seg).map(Some),
            })
            .collect();
        expected.set(&path, update.value.clone(), &|_, value| value.clone());
    }
    drop(toml);
    splices.sort_by_key(|s| s.range.start);
    let mut text = String::with_capacity(src.len());
    let mut at = 0;
    for splice in &splices {
        text.push_str(&src[at..splice.range.start]);
        text.push_str(&splice.text);
        at = splice.range.end;
    }
    text.push_str(&src[at..]);
    if super::line_ending(src) == "\r\n" {
        // As toml_edit's output was: every line break CRLF.
        text = text.replace("\r\n", "\n").replace('\n', "\r\n");
    }
    expected.check(read_document(&text), updates)?;
    Ok(text)
}

#[cfg(test)]
#[path = "toml_tests.rs"]
mod tests;
