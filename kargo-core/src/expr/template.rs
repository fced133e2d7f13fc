//! Finding `${{ }}` / `${% %}` in a string, turning expression results into
//! text, and Kargo's coercion of the evaluated text into a JSON value.

use minijinja::Value as MjValue;
use minijinja::value::ValueKind;
use serde_json::{Map, Number, Value};

use super::functions::{as_plain_json, semver_text};

/// The delimiter pairs Kargo accepts, in no particular order.
const DELIMITERS: [(&str, &str); 2] = [("${{", "}}"), ("${%", "%}")];

/// Whether `s` holds the start of an expression.
pub(super) fn has_expression(s: &str) -> bool {
    DELIMITERS.iter().any(|(start, _)| s.contains(start))
}

/// One piece of a template: literal text or the source of an expression.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Piece<'a> {
    Text(&'a str),
    Expr(&'a str),
}

/// Splits a template into literal text and expressions. The earliest start
/// delimiter wins; an expression ends at the first matching end delimiter
/// after it (as in Kargo, an expression cannot contain its own end
/// delimiter).
pub(super) fn split(template: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut rest = template;
    loop {
        let next = DELIMITERS
            .iter()
            .filter_map(|(start, end)| rest.find(start).map(|i| (i, *start, *end)))
            .min_by_key(|(i, _, _)| *i);
        let Some((idx, start, end)) = next else {
            if !rest.is_empty() {
                pieces.push(Piece::Text(rest));
            }
            return Ok(pieces);
        };
        if idx > 0 {
            pieces.push(Piece::Text(&rest[..idx]));
        }
        let body_start = idx + start.len();
        let Some(len) = rest[body_start..].find(end) else {
            return Err(format!(
                "unclosed expression: `{start}` at byte {} has no closing `{end}`",
                template.len() - rest.len() + idx
            ));
        };
        pieces.push(Piece::Expr(&rest[body_start..body_start + len]));
        rest = &rest[body_start + len + end.len()..];
    }
}

/// Kargo's coercion of an evaluated template into a JSON value:
/// one trailing newline is set aside; text surrounded by double quotes is
/// the string between them; then a number (Go's `ParseFloat`), a bool (Go's
/// `ParseBool`), any JSON value; otherwise the text itself.
pub(super) fn coerce(text: String) -> Value {
    let (body, newline) = match text.strip_suffix('\n') {
        Some(body) => (body, true),
        None => (text.as_str(), false),
    };
    let with_newline = |s: &str| {
        let mut s = s.to_owned();
        if newline {
            s.push('\n');
        }
        Value::String(s)
    };
    if body.len() > 1 && body.starts_with('"') && body.ends_with('"') {
        return with_newline(&body[1..body.len() - 1]);
    }
    if let Some(n) = parse_go_float(body) {
        return Value::Number(n);
    }
    match body {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => return Value::Bool(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        return integral_floats_to_ints(v);
    }
    with_newline(body)
}

/// Numbers as Go's `strconv.ParseFloat(s, 64)` accepts them (decimal and
/// hexadecimal floats, no surrounding space, no underscores in decimals).
/// Integers keep their exact value; other integral values within the range
/// where `f64` is exact become integers (Kargo writes them without a
/// fraction). `NaN`, infinities and out-of-range values are not numbers
/// here: JSON cannot hold them (Kargo fails later for these; we keep the
/// text).
pub(super) fn parse_go_float(s: &str) -> Option<Number> {
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let starts_ok = unsigned.starts_with(|c: char| c.is_ascii_digit() || c == '.');
    if !starts_ok {
        return None; // rules out inf, nan and empty input
    }
    if let Ok(i) = s.strip_prefix('+').unwrap_or(s).parse::<i64>() {
        return Some(Number::from(i));
    }
    if let Ok(u) = s.strip_prefix('+').unwrap_or(s).parse::<u64>() {
        return Some(Number::from(u));
    }
    let lower = unsigned.to_ascii_lowercase();
    let f = if let Some(hex) = lower.strip_prefix("0x") {
        let v = parse_hex_float(hex)?;
        if s.starts_with('-') { -v } else { v }
    } else {
        if !unsigned
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        {
            return None;
        }
        s.parse::<f64>().ok()?
    };
    float_number(f)
}

/// A JSON number for `f`: an integer when `f` is integral and exact.
pub(super) fn float_number(f: f64) -> Option<Number> {
    if !f.is_finite() {
        return None;
    }
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if f.fract() == 0.0 && f.abs() <= EXACT {
        #[allow(clippy::cast_possible_truncation)]
        return Some(Number::from(f as i64));
    }
    Number::from_f64(f)
}

/// `[mantissa]p[exponent]` after `0x`: hex digits with an optional point and
/// a mandatory binary exponent, as in Go's float literals.
fn parse_hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = s.split_once('p')?;
    let exp: i32 = exp.parse().ok()?;
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut value = 0f64;
    for c in int.chars() {
        value = value * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        value += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    Some(value * 2f64.powi(exp))
}

/// Go decodes every JSON number as a float and writes integral ones without
/// a fraction; doing the same keeps `1.0` usable where a step wants an int.
fn integral_floats_to_ints(v: Value) -> Value {
    match v {
        Value::Number(n) if n.is_f64() => match n.as_f64().and_then(float_number) {
            Some(n) => Value::Number(n),
            None => Value::Number(n),
        },
        Value::Array(items) => {
            Value::Array(items.into_iter().map(integral_floats_to_ints).collect())
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, integral_floats_to_ints(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Converts an expression's result into JSON. Maps are ordered by key (as
/// Go writes maps); the objects returned by Kargo's functions keep their
/// field order. Fails on undefined values and on functions, and once more
/// than `budget` values have been visited (a lazily repeated list can be
/// huge without costing the engine fuel).
pub(super) fn to_json(
    value: &MjValue,
    path: &mut String,
    budget: &mut u64,
) -> Result<Value, String> {
    if *budget == 0 {
        return Err("the result is too large to convert".into());
    }
    *budget -= 1;
    if let Some(json) = as_plain_json(value) {
        return Ok(json);
    }
    if let Some(text) = semver_text(value) {
        return Ok(Value::String(text));
    }
    let depth_guard = path.len();
    match value.kind() {
        ValueKind::Undefined => {
            let at = if path.is_empty() {
                String::new()
            } else {
                format!(" at `{path}`")
            };
            Err(format!("the result holds an undefined value{at}"))
        }
        ValueKind::None => Ok(Value::Null),
        ValueKind::Bool => Ok(Value::Bool(value.is_true())),
        ValueKind::String => Ok(Value::String(value.as_str().unwrap_or_default().to_owned())),
        ValueKind::Number => {
            serde_json::to_value(value).map_err(|e| format!("number not representable: {e}"))
        }
        ValueKind::Bytes => Ok(Value::String(
            String::from_utf8_lossy(value.as_bytes().unwrap_or_default()).into_owned(),
        )),
        ValueKind::Seq | ValueKind::Iterable => {
            let iter = value.try_iter().map_err(|e| e.to_string())?;
            let mut items = Vec::new();
            for (i, item) in iter.enumerate() {
                path.push_str(&format!("[{i}]"));
                let r = to_json(&item, path, budget);
                path.truncate(depth_guard);
                items.push(r?);
            }
            Ok(Value::Array(items))
        }
        ValueKind::Map => {
            let iter = value.try_iter().map_err(|e| e.to_string())?;
            let mut pairs = Vec::new();
            for key in iter {
                let item = value.get_item(&key).map_err(|e| e.to_string())?;
                let key_text = match key.as_str() {
                    Some(s) => s.to_owned(),
                    None => key.to_string(),
                };
                path.push_str(&format!(".{key_text}"));
                let r = to_json(&item, path, budget);
                path.truncate(depth_guard);
                pairs.push((key_text, r?));
            }
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(Value::Object(pairs.into_iter().collect::<Map<_, _>>()))
        }
        ValueKind::Plain | ValueKind::Invalid => Err(format!(
            "the result is a {} (`{value}`), not a value",
            value.kind()
        )),
        _ => Err(format!(
            "the result has an unsupported kind {}",
            value.kind()
        )),
    }
}

/// The text an expression's result contributes to the template: strings as
/// they are, anything else as Go's `json.Marshal` would write it.
pub(super) fn to_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => go_json(other, None),
    }
}

/// Writes `value` as Go's `encoding/json` does: `<`, `>`, `&`, U+2028 and
/// U+2029 escaped in strings, floats without a needless fraction. With an
/// indent, as `json.MarshalIndent(v, "", indent)`.
pub(super) fn go_json(value: &Value, indent: Option<&str>) -> String {
    let mut out = String::new();
    write_go_json(value, indent, 0, &mut out);
    out
}

fn write_go_json(value: &Value, indent: Option<&str>, level: usize, out: &mut String) {
    let newline = |out: &mut String, level: usize| {
        if let Some(ind) = indent {
            out.push('\n');
            for _ in 0..level {
                out.push_str(ind);
            }
        }
    };
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => out.push_str(&go_float(f)),
            _ => out.push_str(&n.to_string()),
        },
        Value::String(s) => write_go_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, level + 1);
                write_go_json(item, indent, level + 1, out);
            }
            if !items.is_empty() {
                newline(out, level);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, level + 1);
                write_go_string(k, out);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write_go_json(v, indent, level + 1, out);
            }
            if !map.is_empty() {
                newline(out, level);
            }
            out.push('}');
        }
    }
}

fn write_go_string(s: &str, out: &mut String) {
    let quoted = serde_json::to_string(s).unwrap_or_else(|_| String::from("\"\""));
    for c in quoted.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
}

/// A float as Go's JSON encoder writes it: shortest form, exponent notation
/// below 1e-6 and from 1e21 on (`1e+21`, `1e-7`).
pub(super) fn go_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let e = format!("{f:e}");
        if let Some((mant, exp)) = e.split_once('e') {
            let exp: i32 = exp.parse().unwrap_or(0);
            let sign = if exp < 0 { '-' } else { '+' };
            return format!("{mant}e{sign}{}", exp.abs());
        }
        e
    } else {
        format!("{f}")
    }
}

/// Go's `strconv.Quote`: double quotes around the string with `"` and `\`
/// escaped and non-printable characters written as escapes.
pub(super) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if is_unprintable(c) => {
                let n = c as u32;
                if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An approximation of Go's `unicode.IsPrint` for characters above ASCII:
/// C1 controls, format and separator characters count as unprintable.
fn is_unprintable(c: char) -> bool {
    matches!(c as u32,
        0x80..=0xa0 | 0xad | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x206f
        | 0x3000 | 0xfeff | 0xfff9..=0xfffb | 0xe000..=0xf8ff | 0xf0000..)
}
