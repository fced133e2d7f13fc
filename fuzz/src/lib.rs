//! The property every editor's fuzz target checks.
//!
//! An input is split into a key (first line), a value (second line, read
//! as JSON when it parses, else as a string) and the document (the rest).
//! The editor may refuse the document or the key, but must not panic, and
//! when it accepts the update: the result reads back, holds the value at
//! the key, and applying the same update again changes nothing.

use serde_json::Value;

/// One editor: its update and its reader.
pub struct Editor {
    /// Applies updates to a text.
    pub edit: fn(&str, &[kargo_steps::yaml_update::Update]) -> Result<String, String>,
    /// Reads a text as JSON.
    pub read: fn(&str) -> Result<Value, String>,
}

/// Runs the property on one fuzz input.
pub fn check(editor: &Editor, data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, '\n');
    let (Some(key), Some(value), Some(doc)) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    let value: Value = serde_json::from_str(value).unwrap_or_else(|_| Value::from(value));
    let updates = [kargo_steps::yaml_update::Update::new(key, value.clone())];
    let Ok(out) = (editor.edit)(doc, &updates) else {
        return;
    };
    let read = (editor.read)(&out).unwrap_or_else(|e| panic!("edited text does not read: {e}"));
    if let Some(pointer) = pointer(key) {
        let got = read.pointer(&pointer);
        // Formats without null (TOML) or with their own number types may
        // write a value differently; a string always reads back as itself.
        if value.is_string() {
            assert_eq!(got, Some(&value), "key {key:?} in\n{out}");
        } else {
            assert!(got.is_some(), "key {key:?} missing in\n{out}");
        }
    }
    let again = (editor.edit)(&out, &updates).unwrap_or_else(|e| panic!("second edit fails: {e}"));
    assert_eq!(again, out, "a repeated update changed the text");
}

/// The JSON pointer of an sjson key without escapes.
fn pointer(key: &str) -> Option<String> {
    if key.is_empty() || key.contains('\\') || key.split('.').any(str::is_empty) {
        return None;
    }
    Some(
        key.split('.')
            .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
            .collect(),
    )
}
