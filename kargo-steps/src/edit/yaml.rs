//! A span-splicing YAML editor on top of granit-parser's byte spans.
//!
//! Why not yaml-edit: the editor must keep every byte that does not hold a
//! changed value (end-of-line comments, quote style, CRLF, flow
//! collections) and must choose the quoting of new values itself (Helm
//! reads YAML 1.1, where `yes`, `on` and `0755` are not strings). Splicing
//! the rendered value over the old value's span gives both by
//! construction; the edited text is then parsed again and compared value by
//! value with what the update asked for.

use std::borrow::Cow;
use std::ops::Range;

use granit_parser::{Event, Parser, ScalarStyle, StructureStyle};
use kargo_core::expr::Document;
use kargo_core::expr::document::{DocumentBuilder, Key, NodeId};
use serde_json::{Number, Value};

use super::{
    EditError, Splice, Update, index_of, line_end, line_ending, line_start, next_line_start,
    split_key,
};

/// A YAML node with the byte span of its text.
#[derive(Debug)]
struct Node<'a> {
    span: Range<usize>,
    kind: Kind<'a>,
}

#[derive(Debug)]
enum Kind<'a> {
    Scalar {
        value: Cow<'a, str>,
        style: ScalarStyle,
        tag: Option<String>,
    },
    Seq {
        items: Vec<Node<'a>>,
        flow: bool,
    },
    Map {
        entries: Vec<(Node<'a>, Node<'a>)>,
        flow: bool,
    },
    Alias(usize),
}

/// A YAML value as a reader sees it (YAML 1.2 core schema), used to check
/// an edit changed nothing but the updated key.
#[derive(Debug, Clone, PartialEq)]
enum Sem {
    Null,
    Bool(bool),
    Int(i128),
    Float(u64),
    Str(String),
    Tagged(String, String),
    Seq(Vec<Sem>),
    Map(Vec<(Sem, Sem)>),
    Alias(usize),
}

fn parse_error(e: impl std::fmt::Display) -> EditError {
    EditError::Parse(e.to_string())
}

/// The events of `src` with their byte ranges, comments and anchor
/// markers left out; running out of events is an error.
fn events<'a>(src: &'a str) -> impl FnMut() -> Result<(Event<'a>, Range<usize>), EditError> + 'a {
    let mut events = Parser::new_from_str(src)
        .filter(|ev| !matches!(ev, Ok((Event::Comment(..) | Event::Anchor(..), _))));
    move || match events.next() {
        Some(Ok((ev, span))) => {
            let range = span
                .byte_range()
                .ok_or_else(|| EditError::Parse("parser gave no byte offsets".into()))?;
            Ok((ev, range))
        }
        Some(Err(e)) => Err(parse_error(e)),
        None => Err(EditError::Parse("unexpected end of events".into())),
    }
}

/// The events source [`each_document`] hands its reader.
type Next<'n, 'a> = dyn FnMut() -> Result<(Event<'a>, Range<usize>), EditError> + 'n;

/// Walks the documents of `src`, calling `read` with each one's number,
/// the event that starts its root node and the events that follow.
fn each_document<'a>(
    src: &'a str,
    mut read: impl FnMut(usize, Event<'a>, Range<usize>, &mut Next<'_, 'a>) -> Result<(), EditError>,
) -> Result<(), EditError> {
    let mut next = events(src);
    let mut n = 0;
    loop {
        let (ev, _) = next()?;
        match ev {
            Event::StreamStart | Event::DocumentEnd => {}
            Event::StreamEnd => return Ok(()),
            Event::DocumentStart(..) => {
                let (ev, range) = next()?;
                read(n, ev, range, &mut next)?;
                n += 1;
            }
            other => return Err(EditError::Parse(format!("unexpected event {other:?}"))),
        }
    }
}

/// Parses every document of `src`.
fn parse(src: &str) -> Result<Vec<Node<'_>>, EditError> {
    let mut docs = Vec::new();
    each_document(src, |_, ev, range, mut next| {
        docs.push(build(src, ev, range, &mut next, Keep::All)?);
        Ok(())
    })?;
    Ok(docs)
}

/// Parses every document of `src`, keeping of the first only the nodes on
/// the path of `segments` (see [`Keep::Path`]): enough to plan an update
/// of that key, at a fraction of [`parse`]'s memory.
fn parse_on_path<'a>(src: &'a str, segments: &[String]) -> Result<Vec<Node<'a>>, EditError> {
    let mut docs = Vec::new();
    each_document(src, |n, ev, range, mut next| {
        if n == 0 {
            docs.push(build(src, ev, range, &mut next, Keep::Path(segments))?);
        } else {
            skip(ev, &mut next)?;
        }
        Ok(())
    })?;
    Ok(docs)
}

/// How much of a node [`build`] keeps.
#[derive(Debug, Clone, Copy)]
enum Keep<'p> {
    /// Everything.
    All,
    /// The nodes on the path of these remaining key segments (with every
    /// key of the mappings on it); at its end, as [`Keep::Span`].
    Path(&'p [String]),
    /// The node's kind and span, not its children.
    Span,
}

impl<'p> Keep<'p> {
    /// Whether a collection keeps its children.
    fn children(self) -> bool {
        match self {
            Keep::All => true,
            Keep::Path(segments) => !segments.is_empty(),
            Keep::Span => false,
        }
    }

    /// What an item at `index` of a sequence kept so keeps.
    fn item(self, index: usize) -> Keep<'p> {
        match self {
            Keep::All => Keep::All,
            Keep::Path([first, rest @ ..]) if index_of(first) == Some(index) => Keep::Path(rest),
            _ => Keep::Span,
        }
    }

    /// What the value of `key` in a mapping kept so keeps.
    fn value(self, key: &Node<'_>) -> Keep<'p> {
        match self {
            Keep::All => Keep::All,
            Keep::Path([first, rest @ ..]) if is_key(key, first) => Keep::Path(rest),
            _ => Keep::Span,
        }
    }
}

/// Whether `key` is the mapping key `segment` (a scalar of that text; an
/// empty key has an empty span, which the parser calls `~`).
fn is_key(key: &Node<'_>, segment: &str) -> bool {
    !key.span.is_empty() && matches!(&key.kind, Kind::Scalar { value, .. } if value == segment)
}

fn build<'a>(
    src: &'a str,
    ev: Event<'a>,
    range: Range<usize>,
    next: &mut impl FnMut() -> Result<(Event<'a>, Range<usize>), EditError>,
    keep: Keep<'_>,
) -> Result<Node<'a>, EditError> {
    match ev {
        Event::Scalar(value, style, _, tag) => {
            let mut span = range;
            if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) {
                // The span runs to the next token; the value ends at its
                // last non-blank character.
                let text = &src[span.clone()];
                span.end = span.start + text.trim_end().len();
            }
            Ok(Node {
                span,
                kind: Kind::Scalar {
                    value,
                    style,
                    tag: tag.map(|t| t.to_string()),
                },
            })
        }
        Event::Alias(id) => Ok(Node {
            span: range,
            kind: Kind::Alias(id),
        }),
        Event::SequenceStart(style, _, _) => {
            let flow = style == StructureStyle::Flow;
            let mut items = Vec::new();
            let mut last_end = None;
            loop {
                let (ev, r) = next()?;
                if let Event::SequenceEnd = ev {
                    let end = if flow {
                        r.end
                    } else {
                        last_end.unwrap_or(range.end)
                    };
                    return Ok(Node {
                        span: range.start..end,
                        kind: Kind::Seq { items, flow },
                    });
                }
                let item = build(src, ev, r, next, keep.item(items.len()))?;
                last_end = Some(item.span.end);
                if keep.children() {
                    items.push(item);
                }
            }
        }
        Event::MappingStart(style, _, _) => {
            let flow = style == StructureStyle::Flow;
            let mut entries: Vec<(Node<'a>, Node<'a>)> = Vec::new();
            let mut last_end = None;
            loop {
                let (ev, r) = next()?;
                if let Event::MappingEnd = ev {
                    let end = if flow {
                        r.end
                    } else {
                        last_end.unwrap_or(range.end)
                    };
                    return Ok(Node {
                        span: range.start..end,
                        kind: Kind::Map { entries, flow },
                    });
                }
                let key_keep = if keep.children() {
                    Keep::All
                } else {
                    Keep::Span
                };
                let key = build(src, ev, r, next, key_keep)?;
                let (ev, r) = next()?;
                let value = build(src, ev, r, next, keep.value(&key))?;
                last_end = Some(key.span.end.max(value.span.end));
                if keep.children() {
                    entries.push((key, value));
                }
            }
        }
        other => Err(EditError::Parse(format!("unexpected event {other:?}"))),
    }
}

fn resolve_plain(s: &str) -> Sem {
    resolve_plain_typed(s).unwrap_or_else(|| Sem::Str(s.to_owned()))
}

/// What a plain scalar resolves to, or `None` for a string.
fn resolve_plain_typed(s: &str) -> Option<Sem> {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Sem::Null),
        "true" | "True" | "TRUE" => return Some(Sem::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Sem::Bool(false)),
        _ => {}
    }
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    if !unsigned.is_empty()
        && unsigned.bytes().all(|b| b.is_ascii_digit())
        && let Ok(i) = s.parse::<i128>()
    {
        return Some(Sem::Int(i));
    }
    if let Some(oct) = s.strip_prefix("0o")
        && let Ok(i) = i128::from_str_radix(oct, 8)
    {
        return Some(Sem::Int(i));
    }
    if let Some(hex) = s.strip_prefix("0x")
        && let Ok(i) = i128::from_str_radix(hex, 16)
    {
        return Some(Sem::Int(i));
    }
    match unsigned {
        ".inf" | ".Inf" | ".INF" => {
            let f = if s.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            };
            return Some(Sem::Float(f.to_bits()));
        }
        ".nan" | ".NaN" | ".NAN" if unsigned == s => {
            return Some(Sem::Float(f64::NAN.to_bits()));
        }
        _ => {}
    }
    if is_core_float(unsigned)
        && let Ok(f) = s.parse::<f64>()
    {
        return Some(Sem::Float(f.to_bits()));
    }
    None
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
fn is_core_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    let int = digits(&mut i);
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac = digits(&mut i);
        if int == 0 && frac == 0 {
            return false;
        }
    } else if int == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// A scalar as a reader sees it.
fn scalar_sem(value: &str, style: ScalarStyle, tag: Option<String>) -> Sem {
    match tag {
        Some(tag) => Sem::Tagged(tag, value.to_owned()),
        None if style == ScalarStyle::Plain => resolve_plain(value),
        None => Sem::Str(value.to_owned()),
    }
}

fn sem(node: &Node<'_>) -> Sem {
    match &node.kind {
        Kind::Scalar { value, style, tag } => scalar_sem(value, *style, tag.clone()),
        Kind::Seq { items, .. } => Sem::Seq(items.iter().map(sem).collect()),
        Kind::Map { entries, .. } => {
            Sem::Map(entries.iter().map(|(k, v)| (sem(k), sem(v))).collect())
        }
        Kind::Alias(id) => Sem::Alias(*id),
    }
}

fn sem_of_json(value: &Value) -> Sem {
    match value {
        Value::Null => Sem::Null,
        Value::Bool(b) => Sem::Bool(*b),
        // As written: `123.0` goes in as `123`, an integer.
        Value::Number(n) => resolve_plain(&super::number_text(n)),
        Value::String(s) => Sem::Str(s.clone()),
        Value::Array(items) => Sem::Seq(items.iter().map(sem_of_json).collect()),
        Value::Object(map) => Sem::Map(
            map.iter()
                .map(|(k, v)| (Sem::Str(k.clone()), sem_of_json(v)))
                .collect(),
        ),
    }
}

fn sem_at_mut<'s>(mut sem: &'s mut Sem, path: &[usize]) -> Option<&'s mut Sem> {
    for &i in path {
        sem = match sem {
            Sem::Seq(items) => items.get_mut(i)?,
            Sem::Map(entries) => &mut entries.get_mut(i)?.1,
            _ => return None,
        };
    }
    Some(sem)
}

fn nested_sem(segments: &[String], value: &Value) -> Sem {
    match segments.split_first() {
        None => sem_of_json(value),
        Some((first, rest)) => Sem::Map(vec![(Sem::Str(first.clone()), nested_sem(rest, value))]),
    }
}

/// Whether `s` can be written as a plain scalar that every YAML reader
/// (YAML 1.1 ones such as Helm's included) reads back as the same string.
pub(crate) fn plain_is_safe(s: &str, flow: bool) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if "-?:,[]{}#&*!|>'\"%@`=<".contains(first) || first.is_whitespace() {
        return false;
    }
    if s.ends_with(char::is_whitespace) || s.ends_with(':') {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || (flow && s.contains(':')) {
        return false;
    }
    let ok_char =
        |c: char| c.is_alphanumeric() || (c.is_ascii() && " ._/+-=:@~^()$%;<>?!&*\\".contains(c));
    if !s.chars().all(ok_char) {
        return false;
    }
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "y" | "yes" | "n" | "no" | "true" | "false" | "on" | "off" | "null" | "~"
    ) {
        return false;
    }
    !looks_numeric(&lower)
}

/// Whether a YAML 1.1 or 1.2 reader (or Go's `strconv`) may read `s` as a
/// number or a timestamp: ints and floats in any base, with `_`
/// separators, sexagesimals (`1:20`), `.inf`/`.nan`, dates.
fn looks_numeric(lower: &str) -> bool {
    let unsigned = lower.strip_prefix(['+', '-']).unwrap_or(lower);
    let t: String = unsigned.chars().filter(|&c| c != '_').collect();
    if t.is_empty() {
        return false;
    }
    if matches!(t.as_str(), ".inf" | ".nan") || t.parse::<f64>().is_ok() {
        return true;
    }
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(digits) = t.strip_prefix(prefix)
            && !digits.is_empty()
            && digits.chars().all(|c| c.is_digit(radix))
        {
            return true;
        }
    }
    let digits_and = |extra: &str| t.chars().all(|c| c.is_ascii_digit() || extra.contains(c));
    if t.contains(':') && t.starts_with(|c: char| c.is_ascii_digit()) && digits_and(":.") {
        return true;
    }
    let b = t.as_bytes();
    b.len() >= 5 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-'
}

/// A double-quoted YAML string.
pub(crate) fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{85}' => out.push_str("\\N"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            '\u{feff}' => out.push_str("\\ufeff"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn single_quoted(s: &str) -> Option<String> {
    if s.chars()
        .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}'))
    {
        return None;
    }
    Some(format!("'{}'", s.replace('\'', "''")))
}

/// Renders a value as a YAML scalar or flow collection, keeping `style`
/// for strings where it can hold them.
fn render(value: &Value, style: ScalarStyle, flow: bool) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => super::number_text(n),
        Value::String(s) => match style {
            ScalarStyle::SingleQuoted => single_quoted(s).unwrap_or_else(|| double_quoted(s)),
            ScalarStyle::DoubleQuoted => double_quoted(s),
            _ if plain_is_safe(s, flow) => s.clone(),
            _ => double_quoted(s),
        },
        Value::Array(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|v| render(v, ScalarStyle::Plain, true))
                .collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}: {}",
                        render_key(k, true),
                        render(v, ScalarStyle::Plain, true)
                    )
                })
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
    }
}

fn render_key(key: &str, flow: bool) -> String {
    if plain_is_safe(key, flow) {
        key.to_owned()
    } else {
        double_quoted(key)
    }
}

/// A literal or folded block scalar for `s`, or `None` when `s` is better
/// written quoted.
fn render_block(s: &str, folded: bool, indent: usize, nl: &str) -> Option<String> {
    if s.is_empty() || s.starts_with([' ', '\n']) || s.chars().any(|c| c.is_control() && c != '\n')
    {
        return None;
    }
    let body = s.trim_end_matches('\n');
    let trailing = s.len() - body.len();
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let indicator = if folded && !body.contains('\n') {
        '>'
    } else {
        '|'
    };
    let pad = " ".repeat(indent);
    let mut out = format!("{indicator}{chomp}");
    for line in body.split('\n') {
        out.push_str(nl);
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    for _ in 1..trailing {
        out.push_str(nl);
    }
    Some(out)
}

enum Located {
    /// The key exists: index path, and whether its parent is a flow collection.
    Found(Vec<usize>, bool),
    /// The key's first `consumed` segments exist, ending at the node at the
    /// index path; the rest must be created under it.
    Missing(Vec<usize>, usize),
}

fn node_at<'n, 'a>(mut node: &'n Node<'a>, path: &[usize]) -> &'n Node<'a> {
    for &i in path {
        node = match &node.kind {
            Kind::Seq { items, .. } => &items[i],
            Kind::Map { entries, .. } => &entries[i].1,
            _ => unreachable!("index paths only go through collections"),
        };
    }
    node
}

fn locate(root: &Node<'_>, key: &str, segments: &[String]) -> Result<Located, EditError> {
    let mut node = root;
    let mut path = Vec::new();
    let mut flow = false;
    for (i, seg) in segments.iter().enumerate() {
        let at = || segments[..i].join(".");
        match &node.kind {
            Kind::Map { entries, flow: f } => {
                let is_seg = |(k, _): &(Node<'_>, Node<'_>)| is_key(k, seg);
                let found = entries.iter().position(is_seg);
                if let Some(idx) = found
                    && entries[idx + 1..].iter().any(is_seg)
                {
                    // YAML forbids it, and readers differ on which one counts.
                    let within = if i == 0 {
                        "the document".to_owned()
                    } else {
                        format!("`{}`", at())
                    };
                    return Err(EditError::key(
                        key,
                        format!("`{seg}` appears more than once in {within}"),
                    ));
                }
                match found {
                    Some(idx) => {
                        path.push(idx);
                        flow = *f;
                        node = &entries[idx].1;
                    }
                    None => return Ok(Located::Missing(path, i)),
                }
            }
            Kind::Seq { items, flow: f } => {
                let Some(idx) = index_of(seg) else {
                    return Err(EditError::key(
                        key,
                        format!("`{}` is a sequence; `{seg}` is not an index", at()),
                    ));
                };
                if idx >= items.len() {
                    return Err(EditError::key(
                        key,
                        format!(
                            "index {idx} is out of range: `{}` has {} items",
                            at(),
                            items.len()
                        ),
                    ));
                }
                path.push(idx);
                flow = *f;
                node = &items[idx];
            }
            Kind::Scalar { style, .. }
                if *style == ScalarStyle::Plain && node.span.is_empty() && !path.is_empty() =>
            {
                // `key:` with no value: children can be created under it.
                return Ok(Located::Missing(path, i));
            }
            Kind::Scalar { .. } => {
                let what = if i == 0 {
                    "the document".to_owned()
                } else {
                    format!("`{}`", at())
                };
                return Err(EditError::key(
                    key,
                    format!("{what} is a scalar, not a mapping"),
                ));
            }
            Kind::Alias(_) => {
                return Err(EditError::key(key, format!("`{}` is an alias", at())));
            }
        }
    }
    Ok(Located::Found(path, flow))
}

/// What an update does to the values the file reads as: the value at an
/// index path becomes `Set`'s, or `Create`s the given entries under it.
#[derive(Debug)]
enum Change {
    /// The value at `path` becomes `sem`.
    Set { path: Vec<usize>, sem: Sem },
    /// Under the value at `path`, the missing segments `rest` are created
    /// holding the update's value (`nested`): added as an entry to a
    /// mapping, or replacing anything else.
    Create {
        path: Vec<usize>,
        first: String,
        nested: Sem,
        whole: Sem,
    },
}

/// What an edit did to the first document, as [`same_after`] checks it.
#[derive(Debug, Clone, PartialEq)]
enum Edit {
    /// The value at the index path now reads as this.
    Set(Vec<usize>, Sem),
    /// The mapping at the index path has one more entry, after the others:
    /// this key and value.
    Append(Vec<usize>, Sem, Sem),
}

impl Change {
    /// The edit this change makes to the document `root` was planned on
    /// (as [`apply`](Self::apply) makes it to the expected values: a key
    /// created under a mapping is appended to it, anything else under the
    /// path is replaced).
    fn edit(self, root: &Node<'_>) -> Edit {
        match self {
            Change::Set { path, sem } => Edit::Set(path, sem),
            Change::Create {
                path,
                first,
                nested,
                whole,
            } => match node_at(root, &path).kind {
                Kind::Map { .. } => Edit::Append(path, Sem::Str(first), nested),
                _ => Edit::Set(path, whole),
            },
        }
    }

    /// Applies the change to the expected values of the document.
    fn apply(self, expected: &mut Sem, key: &str) -> Result<(), EditError> {
        let lost = || EditError::key(key, "lost its place");
        match self {
            Change::Set { path, sem } => *sem_at_mut(expected, &path).ok_or_else(lost)? = sem,
            Change::Create {
                path,
                first,
                nested,
                whole,
            } => match sem_at_mut(expected, &path).ok_or_else(lost)? {
                Sem::Map(entries) => entries.push((Sem::Str(first), nested)),
                other => *other = whole,
            },
        }
        Ok(())
    }
}

/// Plans one update: the splice to make and the change to the expected
/// values.
fn plan(
    src: &str,
    root: &Node<'_>,
    update: &Update,
    mode: Mode,
) -> Result<(Splice, Change), EditError> {
    let key = update.key.as_str();
    let segments = split_key(key)?;
    let nl = line_ending(src);
    let fail = |reason: &str| EditError::key(key, reason);
    let located = locate(root, key, &segments)?;
    if mode == Mode::ExistingScalars {
        check_existing_scalar(root, key, &segments, &located)?;
    }
    let splice = match located {
        Located::Found(path, flow) => {
            let node = node_at(root, &path);
            let style = match &node.kind {
                Kind::Scalar { style, .. } => style,
                // A flow collection has a span of its own, brackets
                // included: it is replaced like a scalar.
                Kind::Seq { flow: true, .. } | Kind::Map { flow: true, .. } => &ScalarStyle::Plain,
                Kind::Alias(_) => {
                    return Err(fail(
                        "holds an alias; only scalars and collections can be replaced",
                    ));
                }
                // A block collection: the new value takes its place, after
                // the key's colon.
                _ => {
                    let key_end = parent_key_end(root, &path)
                        .ok_or_else(|| fail("holds a block collection inside a sequence"))?;
                    let colon = src[key_end..node.span.start]
                        .find(':')
                        .map(|i| key_end + i + 1)
                        .ok_or_else(|| fail("cannot find the `:` after the key"))?;
                    let end = colon + src[colon..node.span.end].trim_end().len();
                    let key_start = parent_key_start(root, &path).unwrap_or(key_end);
                    let indent = key_start - line_start(src, key_start) + 2;
                    let value = block_value(&update.value, indent, nl);
                    // A comment on the key's line stays there.
                    let comment = src[colon..line_end(src, colon)].trim();
                    let text = match (comment.starts_with('#'), value.starts_with(' ')) {
                        (false, _) => value,
                        (true, true) => format!("{value} {comment}"),
                        (true, false) => format!(" {comment}{value}"),
                    };
                    let change = Change::Set {
                        path,
                        sem: sem_of_json(&update.value),
                    };
                    return Ok((
                        Splice {
                            range: colon..end,
                            text,
                        },
                        change,
                    ));
                }
            };
            let splice = if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) {
                block_splice(src, root, &path, node, &update.value, *style, nl)?
            } else if node.span.is_empty() {
                // `key:` with no value: write after the colon.
                let key_end =
                    parent_key_end(root, &path).ok_or_else(|| fail("has no value to replace"))?;
                let colon = src[key_end..]
                    .find(':')
                    .map(|i| key_end + i + 1)
                    .ok_or_else(|| fail("cannot find the `:` after the key"))?;
                Splice {
                    range: colon..colon,
                    text: format!(" {}", render(&update.value, ScalarStyle::Plain, flow)),
                }
            } else {
                Splice {
                    range: node.span.clone(),
                    text: render(&update.value, *style, flow),
                }
            };
            let change = Change::Set {
                path,
                sem: sem_of_json(&update.value),
            };
            (splice, change)
        }
        Located::Missing(path, consumed) => {
            let rest = &segments[consumed..];
            let parent = node_at(root, &path);
            let splice = match &parent.kind {
                Kind::Map {
                    entries,
                    flow: false,
                } => {
                    let first = &entries
                        .first()
                        .ok_or_else(|| fail("parent mapping is empty"))?
                        .0;
                    let indent = first.span.start - line_start(src, first.span.start);
                    let lines = block_lines(rest, &update.value, indent, nl);
                    match next_line_start(src, parent.span.end) {
                        Some(at) => Splice {
                            range: at..at,
                            text: lines,
                        },
                        None => Splice {
                            range: src.len()..src.len(),
                            text: format!("{nl}{}", lines.strip_suffix(nl).unwrap_or(&lines)),
                        },
                    }
                }
                Kind::Map {
                    entries,
                    flow: true,
                } => {
                    let entry = flow_entry(rest, &update.value);
                    match entries.last() {
                        Some((k, v)) => {
                            let at = k.span.end.max(v.span.end);
                            Splice {
                                range: at..at,
                                text: format!(", {entry}"),
                            }
                        }
                        None => {
                            let at = parent.span.end - 1;
                            Splice {
                                range: at..at,
                                text: entry,
                            }
                        }
                    }
                }
                Kind::Scalar { .. } => {
                    // `key:` with nothing after it becomes a block mapping.
                    let key_start = parent_key_start(root, &path)
                        .ok_or_else(|| fail("cannot create a key here"))?;
                    let indent = key_start - line_start(src, key_start) + 2;
                    let lines = block_lines(rest, &update.value, indent, nl);
                    let at = line_end(src, key_start);
                    Splice {
                        range: at..at,
                        text: format!("{nl}{}", lines.strip_suffix(nl).unwrap_or(&lines)),
                    }
                }
                _ => return Err(fail("cannot create a key here")),
            };
            let (first, more) = rest.split_first().ok_or_else(|| fail("empty key"))?;
            let change = Change::Create {
                path,
                first: first.clone(),
                nested: nested_sem(more, &update.value),
                whole: nested_sem(rest, &update.value),
            };
            (splice, change)
        }
    };
    Ok(splice)
}

/// What an update may do to the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Only replace the value of an existing scalar key, as Kargo's
    /// `yaml-update` does (`key: ` with no value counts: it is a null
    /// scalar).
    ExistingScalars,
    /// Also create missing keys and replace whole collections (the
    /// steps that write structures: yaml-merge, kustomize-set-image,
    /// helm-update-chart).
    CreateOrReplace,
}

/// Refuses, naming the key, an update whose key does not exist or does
/// not hold a scalar.
fn check_existing_scalar(
    root: &Node<'_>,
    key: &str,
    segments: &[String],
    located: &Located,
) -> Result<(), EditError> {
    match located {
        Located::Missing(path, consumed) => {
            let parent = segments[..*consumed].join(".");
            let missing = &segments[*consumed];
            let reason = match &node_at(root, path).kind {
                Kind::Map { .. } if parent.is_empty() => {
                    format!("not found: the document has no key `{missing}`")
                }
                Kind::Map { .. } => format!("not found: `{parent}` has no key `{missing}`"),
                _ => format!("not found: `{parent}` holds no mapping"),
            };
            Err(EditError::key(
                key,
                format!("{reason}; yaml-update only changes existing keys"),
            ))
        }
        Located::Found(path, _) => match &node_at(root, path).kind {
            Kind::Scalar { .. } => Ok(()),
            Kind::Map { .. } => Err(EditError::key(
                key,
                "holds a mapping, not a scalar; yaml-update only changes scalar values",
            )),
            Kind::Seq { .. } => Err(EditError::key(
                key,
                "holds a sequence, not a scalar; yaml-update only changes scalar values",
            )),
            Kind::Alias(_) => Err(EditError::key(
                key,
                "holds an alias, not a scalar; yaml-update only changes scalar values",
            )),
        },
    }
}

fn parent_entry<'n, 'a>(root: &'n Node<'a>, path: &[usize]) -> Option<&'n Node<'a>> {
    let (last, parent_path) = path.split_last()?;
    match &node_at(root, parent_path).kind {
        Kind::Map { entries, .. } => Some(&entries[*last].0),
        _ => None,
    }
}

fn parent_key_end(root: &Node<'_>, path: &[usize]) -> Option<usize> {
    parent_entry(root, path).map(|k| k.span.end)
}

fn parent_key_start(root: &Node<'_>, path: &[usize]) -> Option<usize> {
    parent_entry(root, path).map(|k| k.span.start)
}

fn block_lines(segments: &[String], value: &Value, indent: usize, nl: &str) -> String {
    let mut out = String::new();
    for (j, seg) in segments.iter().enumerate() {
        out.push_str(&" ".repeat(indent + 2 * j));
        out.push_str(&render_key(seg, false));
        out.push(':');
        if j + 1 == segments.len() {
            out.push_str(&block_value(value, indent + 2 * j + 2, nl));
        }
        out.push_str(nl);
    }
    out
}

/// What follows a block mapping key's `:` for `value`: a scalar (or an
/// empty `[]` / `{}`) on the key's line, a collection in block style on the
/// lines below, its entries at column `indent`. Ends without a line break.
fn block_value(value: &Value, indent: usize, nl: &str) -> String {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => map
            .iter()
            .map(|(k, v)| {
                let k = render_key(k, false);
                format!("{nl}{pad}{k}:{}", block_value(v, indent + 2, nl))
            })
            .collect(),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|item| {
                let nested = block_value(item, indent + 2, nl);
                match item {
                    // The first entry of a mapping shares the dash's line.
                    Value::Object(map) if !map.is_empty() => {
                        format!("{nl}{pad}- {}", &nested[nl.len() + indent + 2..])
                    }
                    _ => format!("{nl}{pad}-{nested}"),
                }
            })
            .collect(),
        other => format!(" {}", render(other, ScalarStyle::Plain, false)),
    }
}

fn flow_entry(segments: &[String], value: &Value) -> String {
    match segments.split_first() {
        None => render(value, ScalarStyle::Plain, true),
        Some((first, [])) => format!(
            "{}: {}",
            render_key(first, true),
            render(value, ScalarStyle::Plain, true)
        ),
        Some((first, rest)) => format!(
            "{}: {{{}}}",
            render_key(first, true),
            flow_entry(rest, value)
        ),
    }
}

fn block_splice(
    src: &str,
    root: &Node<'_>,
    path: &[usize],
    node: &Node<'_>,
    value: &Value,
    style: ScalarStyle,
    nl: &str,
) -> Result<Splice, EditError> {
    // The header (`|`, `>-`, ...) sits between the previous token and the
    // content; it is the last `|`/`>` before the content's line.
    let content_line = line_start(src, node.span.start);
    let from = parent_key_end(root, path).unwrap_or(0);
    let header = src[from..content_line]
        .rfind(['|', '>'])
        .map(|i| from + i)
        .ok_or_else(|| EditError::Parse("cannot find a block scalar header".into()))?;
    let header_end = header
        + 1
        + src[header + 1..]
            .find(|c: char| !(c.is_ascii_digit() || c == '-' || c == '+'))
            .unwrap_or(0);
    let rest_of_header = &src[header_end..line_end(src, header)];
    let indent = node.span.start - content_line;
    let text = match value {
        Value::String(s) => match render_block(s, style == ScalarStyle::Folded, indent, nl) {
            Some(block) => {
                let (ind, body) = block.split_at(block.find(['\r', '\n']).unwrap_or(block.len()));
                format!("{ind}{rest_of_header}{body}")
            }
            None => format!("{}{rest_of_header}", double_quoted(s)),
        },
        other => format!(
            "{}{rest_of_header}",
            render(other, ScalarStyle::Plain, false)
        ),
    };
    Ok(Splice {
        range: header..node.span.end,
        text,
    })
}

/// Files from this size on are edited one top-level section at a time.
///
/// Parsing costs about 150 ms per megabyte, and an update parses twice
/// (to plan, and to verify). Below this size that stays under 40 ms and
/// the whole file is checked, so a file that does not parse anywhere is
/// refused. From this size on, only the sections an update touches are
/// parsed: a defect elsewhere in the file is left as it was, untouched.
const SECTION_EDIT_MIN_LEN: usize = 128 * 1024;

/// Applies `updates` to the YAML text `src` (its first document), keeping
/// every byte that does not hold a changed value.
///
/// Large files that are a block mapping with top-level keys in column 0
/// are planned and verified on the sections the updates touch
/// ([`update_section`]), which keeps an edit of a megabyte-sized file in
/// the low milliseconds. Every other file, and any update the section path
/// cannot settle, goes through the whole document, which also gives the
/// authoritative error.
pub(crate) fn update(src: &str, updates: &[Update]) -> Result<String, EditError> {
    update_with(src, updates, Mode::CreateOrReplace)
}

/// Kargo's `yaml-update`: like [`update`], but every key must already
/// exist and hold a scalar; otherwise nothing changes and the error names
/// the key.
pub(crate) fn update_existing(src: &str, updates: &[Update]) -> Result<String, EditError> {
    update_with(src, updates, Mode::ExistingScalars)
}

/// Applies the updates in order. In a large file each one goes through
/// its top-level section when it can and through the whole document (as
/// edited by the updates before it) when it cannot, so one update that
/// needs the whole document (a new top-level key, say) does not make the
/// others parse the whole file as well.
fn update_with(src: &str, updates: &[Update], mode: Mode) -> Result<String, EditError> {
    if src.len() < SECTION_EDIT_MIN_LEN {
        return update_document(src, updates, mode);
    }
    let mut text = Cow::Borrowed(src);
    for update in updates {
        let edited = match update_section(&text, update, mode) {
            Some(edited) => edited,
            None => update_document(&text, std::slice::from_ref(update), mode)?,
        };
        text = Cow::Owned(edited);
    }
    Ok(text.into_owned())
}

/// Applies `update` to its top-level section alone, or returns `None`
/// when the file or the update needs the whole document.
///
/// A section runs from a top-level key's line to the next one. In a block
/// mapping whose keys sit in column 0, no node crosses a section boundary:
/// block content of a top-level key is indented, and a flow collection or
/// quoted scalar that spilled into column 0 would leave its section
/// unterminated, so parsing the section alone fails and the whole
/// document is used. So a section parses on its own to the same values
/// as in the whole document, and checking the edited section value by
/// value checks everything the edit can change: bytes outside it are
/// copied as they are. A section that refers to an anchor defined
/// elsewhere does not parse alone either, and falls back the same way.
fn update_section(src: &str, update: &Update, mode: Mode) -> Option<String> {
    let segments = split_key(&update.key).ok()?;
    let section = top_level_section(src, &segments[0])?;
    let edited = update_document(&src[section.clone()], std::slice::from_ref(update), mode).ok()?;
    let mut out = String::with_capacity(src.len() + edited.len() - section.len());
    out.push_str(&src[..section.start]);
    out.push_str(&edited);
    out.push_str(&src[section.end..]);
    Some(out)
}

/// Applies every update by its section ([`update_section`]), or returns
/// `None` as soon as one needs the whole document: the section path alone,
/// which the tests compare with the whole-document path.
#[cfg(test)]
fn update_sections(src: &str, updates: &[Update], mode: Mode) -> Option<String> {
    let mut text = src.to_owned();
    for update in updates {
        text = update_section(&text, update, mode)?;
    }
    Some(text)
}

/// The byte range of the section of top-level key `key`: its line up to the
/// next top-level key's line. `None` unless the file is one block mapping
/// whose keys are plain, in column 0, and hold `key` exactly once.
fn top_level_section(src: &str, key: &str) -> Option<Range<usize>> {
    // Where the key's line starts, and where the next top-level line does.
    let (mut start, mut next_key) = (None, None);
    let mut seen_content = false;
    let mut pos = 0;
    while pos < src.len() {
        let end = next_line_start(src, pos).unwrap_or(src.len());
        let line = src[pos..end].trim_end_matches(['\n', '\r']);
        match line.as_bytes().first() {
            None | Some(b' ' | b'#') => {}
            Some(_) if line.starts_with("...") => return None,
            Some(_) if line.starts_with("---") => {
                // A document marker: only a `---` before any content is
                // the simple case.
                if seen_content || !matches!(line.as_bytes().get(3), None | Some(b' ')) {
                    return None;
                }
                if !line[3..].trim_start().is_empty() && !line[3..].trim_start().starts_with('#') {
                    return None;
                }
            }
            Some(_) => {
                seen_content = true;
                let this = plain_top_level_key(line)?;
                if start.is_some() && next_key.is_none() {
                    next_key = Some(pos);
                }
                if this == key {
                    if start.is_some() {
                        return None;
                    }
                    start = Some(pos);
                }
            }
        }
        pos = end;
    }
    Some(start?..next_key.unwrap_or(src.len()))
}

/// The key of a top-level `key: ...` line when it is plain and simple
/// enough to read without a parser (letters, digits and `_-./`).
fn plain_top_level_key(line: &str) -> Option<&str> {
    let colon = line.find(':')?;
    let key = &line[..colon];
    let after = &line[colon + 1..];
    let simple = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/');
    let ok = !key.is_empty()
        && key.as_bytes()[0].is_ascii_alphanumeric()
        && key.bytes().all(simple)
        && (after.is_empty() || after.starts_with([' ', '\t']));
    ok.then_some(key)
}

/// Applies `updates` to the whole document: [`update_scalars`] or
/// [`update_created`], each of which plans on the updated key's path only.
fn update_document(src: &str, updates: &[Update], mode: Mode) -> Result<String, EditError> {
    match mode {
        Mode::ExistingScalars => update_scalars(src, updates),
        Mode::CreateOrReplace => update_created(src, updates),
    }
}

/// Applies `updates` planning and verifying on whole trees of the
/// document: the reference the lean paths ([`update_scalars`],
/// [`update_created`]) must agree with, and what gives
/// [`update_created`]'s result when one of its checks fails.
fn update_document_whole(src: &str, updates: &[Update], mode: Mode) -> Result<String, EditError> {
    let mut text = src.to_owned();
    let mut expected: Vec<Sem> = Vec::new();
    for (n, update) in updates.iter().enumerate() {
        // The first update plans on the parse that also gives the expected
        // values; later ones on the text as edited so far.
        let splice = {
            let docs = parse(&text)?;
            if n == 0 {
                expected = docs.iter().map(sem).collect();
            }
            let root = docs
                .first()
                .ok_or_else(|| EditError::key(&update.key, "the file holds no YAML document"))?;
            let (splice, change) = plan(&text, root, update, mode)?;
            change.apply(&mut expected[0], &update.key)?;
            splice
        };
        text = splice.apply(&text);
    }
    verify(&text, &expected, updates)?;
    Ok(text)
}

/// [`update_document`] for [`Mode::CreateOrReplace`], where an update may
/// add entries and replace collections: [`created_in_steps`], or should
/// one of its checks find a difference (a bug in the planner),
/// [`update_document_whole`], for its own result and error.
fn update_created(src: &str, updates: &[Update]) -> Result<String, EditError> {
    match created_in_steps(src, updates)? {
        Some(text) => Ok(text),
        None => update_document_whole(src, updates, Mode::CreateOrReplace),
    }
}

/// Each update planned on a parse that keeps only the nodes on its key's
/// path, and its edit checked against the text before it, event by event
/// ([`same_after`]): memory stays at a few copies of the text, whatever
/// the file's size. `None` when a check finds a difference.
///
/// Each plan sees the text as the updates before it left it, as in
/// [`update_document_whole`], so the two give the same splices and the
/// same planning errors.
fn created_in_steps(src: &str, updates: &[Update]) -> Result<Option<String>, EditError> {
    let mut text = src.to_owned();
    for update in updates {
        // As the whole-tree path: a text that does not parse is reported
        // before a key that does not split.
        let segments = split_key(&update.key).unwrap_or_default();
        let (splice, edit) = {
            let docs = parse_on_path(&text, &segments)?;
            let root = docs
                .first()
                .ok_or_else(|| EditError::key(&update.key, "the file holds no YAML document"))?;
            let (splice, change) = plan(&text, root, update, Mode::CreateOrReplace)?;
            (splice, change.edit(root))
        };
        let edited = splice.apply(&text);
        if !matches!(same_after(&text, &edited, &[edit]), Ok(true)) {
            return Ok(None);
        }
        text = edited;
    }
    Ok(Some(text))
}

/// [`update_document`] for [`Mode::ExistingScalars`], where an edit only
/// replaces scalars, so the document keeps its shape: each update plans
/// on a parse that keeps only the nodes on its key's path, and the edited
/// text is checked against the original event by event
/// ([`verify_in_step`]). Memory stays at a few copies of the text,
/// whatever the file's size.
fn update_scalars(src: &str, updates: &[Update]) -> Result<String, EditError> {
    let mut text = src.to_owned();
    // What the updated paths must read as, in the first document.
    let mut changes: Vec<(Vec<usize>, Sem)> = Vec::new();
    for update in updates {
        let splice = {
            let segments = split_key(&update.key)?;
            let docs = parse_on_path(&text, &segments)?;
            let root = docs
                .first()
                .ok_or_else(|| EditError::key(&update.key, "the file holds no YAML document"))?;
            let (splice, change) = plan(&text, root, update, Mode::ExistingScalars)?;
            let Change::Set { path, sem } = change else {
                return Err(EditError::key(
                    &update.key,
                    "yaml-update only changes existing keys",
                ));
            };
            // A path inside one set earlier (a scalar that became a flow
            // collection) changes that value.
            match changes.iter_mut().find(|(p, _)| path.starts_with(p)) {
                Some((p, value)) => {
                    let inner = &path[p.len()..];
                    let slot = sem_at_mut(value, inner)
                        .ok_or_else(|| EditError::key(&update.key, "lost its place"))?;
                    *slot = sem;
                }
                None => changes.push((path, sem)),
            }
            splice
        };
        text = splice.apply(&text);
    }
    verify_in_step(src, &text, &changes, updates)?;
    Ok(text)
}

fn verify(text: &str, expected: &[Sem], updates: &[Update]) -> Result<(), EditError> {
    let keys: Vec<&str> = updates.iter().map(|u| u.key.as_str()).collect();
    let keys = keys.join(", ");
    let docs = parse(text).map_err(|e| {
        EditError::key(
            &keys,
            format!("the edited file does not parse ({e}); nothing was written"),
        )
    })?;
    let got: Vec<Sem> = docs.iter().map(sem).collect();
    if got != expected {
        return Err(EditError::key(
            &keys,
            "the edited file does not read back as expected; nothing was written",
        ));
    }
    Ok(())
}

/// Checks that `new` reads as `old` with the values at `changes`' index
/// paths (in the first document) replaced, walking both texts' events side
/// by side: no tree of either document is built. When the walk finds a
/// difference or an error, the check is made again as [`verify`] makes
/// it, on whole trees, for its exact error.
fn verify_in_step(
    old: &str,
    new: &str,
    changes: &[(Vec<usize>, Sem)],
    updates: &[Update],
) -> Result<(), EditError> {
    if let Ok(true) = same_in_step(old, new, changes) {
        return Ok(());
    }
    let mut expected: Vec<Sem> = parse(old)?.iter().map(sem).collect();
    if let Some(first) = expected.first_mut() {
        for (path, value) in changes {
            if let Some(slot) = sem_at_mut(first, path) {
                *slot = value.clone();
            }
        }
    }
    verify(new, &expected, updates)
}

/// Where the walk of [`same_in_step`] is in one collection.
struct Position {
    index: usize,
    map: bool,
    /// In a mapping: whether the next node is a key.
    at_key: bool,
}

/// Whether `new` reads as `old` with the values at `changes`' index paths
/// replaced, event by event (see [`same_after`]).
fn same_in_step(old: &str, new: &str, changes: &[(Vec<usize>, Sem)]) -> Result<bool, EditError> {
    let edits: Vec<Edit> = changes
        .iter()
        .map(|(path, sem)| Edit::Set(path.clone(), sem.clone()))
        .collect();
    same_after(old, new, &edits)
}

/// Whether `new` reads as `old` with `edits` made (in the first
/// document), walking both texts' events side by side: no tree of either
/// document is built, only the edited values of `new`.
fn same_after(old: &str, new: &str, edits: &[Edit]) -> Result<bool, EditError> {
    let (mut a, mut b) = (events(old), events(new));
    let mut documents = 0;
    let mut open: Vec<Position> = Vec::new();
    loop {
        let ((ea, _), (mut eb, mut rb)) = (a()?, b()?);
        if matches!(ea, Event::MappingEnd) && documents == 1 {
            // A mapping that gained an entry: the entry comes before its end.
            let inner = open.len().saturating_sub(1);
            let appended = edits.iter().find_map(|edit| match edit {
                Edit::Append(path, key, value) if is_at(&open[..inner], path) => Some((key, value)),
                _ => None,
            });
            if let Some((key, value)) = appended {
                if matches!(eb, Event::MappingEnd) {
                    return Ok(false);
                }
                let got_key = sem(&build(new, eb, rb, &mut b, Keep::All)?);
                let (ev, r) = b()?;
                let got_value = sem(&build(new, ev, r, &mut b, Keep::All)?);
                if got_key != *key || got_value != *value {
                    return Ok(false);
                }
                (eb, rb) = b()?;
            }
        }
        let node_start = matches!(
            ea,
            Event::Scalar(..)
                | Event::Alias(_)
                | Event::SequenceStart(..)
                | Event::MappingStart(..)
        );
        if node_start {
            let target = edits.iter().find_map(|edit| match edit {
                Edit::Set(path, sem) if documents == 1 && is_at(&open, path) => Some(sem),
                _ => None,
            });
            if let Some(expected) = target {
                skip(ea, &mut a)?;
                if sem(&build(new, eb, rb, &mut b, Keep::All)?) != *expected {
                    return Ok(false);
                }
                step_past(&mut open);
                continue;
            }
        }
        match (ea, eb) {
            (Event::StreamEnd, Event::StreamEnd) => return Ok(true),
            (Event::StreamStart, Event::StreamStart) | (Event::DocumentEnd, Event::DocumentEnd) => {
            }
            (Event::DocumentStart(..), Event::DocumentStart(..)) => documents += 1,
            (Event::Scalar(va, sa, _, ta), Event::Scalar(vb, sb, _, tb)) => {
                // The same text, style and tag read the same: only scalars
                // written differently are resolved (which allocates).
                if !(va == vb && sa == sb && ta == tb) {
                    let (ta, tb) = (ta.map(|t| t.to_string()), tb.map(|t| t.to_string()));
                    if scalar_sem(&va, sa, ta) != scalar_sem(&vb, sb, tb) {
                        return Ok(false);
                    }
                }
                step_past(&mut open);
            }
            (Event::Alias(x), Event::Alias(y)) if x == y => step_past(&mut open),
            (Event::SequenceStart(..), Event::SequenceStart(..)) => open.push(Position {
                index: 0,
                map: false,
                at_key: false,
            }),
            (Event::MappingStart(..), Event::MappingStart(..)) => open.push(Position {
                index: 0,
                map: true,
                at_key: true,
            }),
            (Event::SequenceEnd, Event::SequenceEnd) | (Event::MappingEnd, Event::MappingEnd) => {
                open.pop();
                step_past(&mut open);
            }
            _ => return Ok(false),
        }
    }
}

/// Whether the walk of [`same_after`], its collections at `open`, is at
/// the node at index path `path` (and not inside a mapping key).
fn is_at(open: &[Position], path: &[usize]) -> bool {
    open.len() == path.len()
        && !open.iter().any(|p| p.map && p.at_key)
        && open.iter().zip(path).all(|(p, &i)| p.index == i)
}

/// Moves the innermost collection's position past the node just read.
fn step_past(open: &mut [Position]) {
    if let Some(p) = open.last_mut() {
        if !p.map {
            p.index += 1;
        } else if p.at_key {
            p.at_key = false;
        } else {
            p.at_key = true;
            p.index += 1;
        }
    }
}

/// The most values aliases may expand to in one document read by
/// [`read`]: 1,000,000. Each alias counts the values of what it repeats, so
/// an "alias bomb" (each anchor repeating the previous one several times)
/// stops here instead of growing exponentially. A document without
/// aliases is bounded by the file size limit alone.
pub(crate) const MAX_ALIAS_EXPANSION: usize = 1_000_000;

/// Refuses what Go's yaml.v3 (which Kargo reads YAML with) refuses but
/// YAML 1.2 allows: a block mapping entry whose key is written as nothing
/// (a line that is just `:` or `: value`). The first such key is named,
/// unless the text does not parse (then the parse error is); the events
/// are walked, no tree is built.
pub(crate) fn check_go_yaml(src: &str) -> Result<(), EditError> {
    /// An open collection: a mapping (block or flow) or a sequence, and
    /// for a mapping whether its next node is a key.
    struct Open {
        block_map: bool,
        map: bool,
        at_key: bool,
    }
    fn done(open: &mut [Open]) {
        if let Some(top) = open.last_mut().filter(|o| o.map) {
            top.at_key = !top.at_key;
        }
    }
    let mut found = None;
    let mut open: Vec<Open> = Vec::new();
    let mut next = events(src);
    loop {
        let (ev, range) = next()?;
        match ev {
            Event::StreamEnd => return found.map_or(Ok(()), Err),
            Event::Scalar(_, style, ..) => {
                let at_block_key = open.last().is_some_and(|o| o.block_map && o.at_key);
                // As the tree's span of the key: a block scalar's runs to its
                // last non-blank character.
                let empty = if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) {
                    src[range.clone()].trim_end().is_empty()
                } else {
                    range.is_empty()
                };
                if at_block_key && empty && found.is_none() {
                    let line = src[..range.start].matches('\n').count() + 1;
                    found = Some(EditError::Parse(format!(
                        "a mapping key is missing at line {line} (`:` with no key before it)"
                    )));
                }
                done(&mut open);
            }
            Event::Alias(_) => done(&mut open),
            Event::SequenceStart(..) => open.push(Open {
                block_map: false,
                map: false,
                at_key: false,
            }),
            Event::MappingStart(style, ..) => open.push(Open {
                block_map: style != StructureStyle::Flow,
                map: true,
                at_key: true,
            }),
            Event::SequenceEnd | Event::MappingEnd => {
                open.pop();
                done(&mut open);
            }
            _ => {}
        }
    }
}

/// Reads the first document of a YAML text as JSON (YAML 1.2 core schema;
/// aliases are expanded, at most [`MAX_ALIAS_EXPANSION`] values, tags
/// ignored).
pub(crate) fn read(src: &str) -> Result<Value, EditError> {
    read_document(src).map(|doc| doc.to_json())
}

/// Reads the first document of a YAML text, as [`read`] does, into a
/// compact [`Document`] built straight from the parser's events: no tree
/// of the whole file, and an alias shares the nodes of what it repeats
/// (the expansion limit still counts them). Later documents are parsed,
/// so a syntax error anywhere is reported, but not kept.
pub(crate) fn read_document(src: &str) -> Result<Document, EditError> {
    let mut reader = DocReader {
        src,
        builder: DocumentBuilder::new(),
        anchors: std::collections::HashMap::new(),
        budget: MAX_ALIAS_EXPANSION,
        exceeded: None,
    };
    let mut root = None;
    each_document(src, |n, ev, range, mut next| {
        if n == 0 {
            root = Some(reader.node(ev, range, &mut next)?.0);
        } else {
            skip(ev, &mut next)?;
        }
        Ok(())
    })?;
    // A syntax error anywhere is reported before an expansion over the
    // limit, as when the whole stream was parsed first.
    if let Some(e) = reader.exceeded {
        return Err(e);
    }
    let Some(root) = root else {
        return Ok(Document::null());
    };
    reader.builder.finish(root).map_err(parse_error)
}

/// Builds a [`Document`] from YAML events, remembering anchored nodes
/// (with how many values each holds) and charging alias expansions to a
/// budget.
struct DocReader<'s> {
    src: &'s str,
    builder: DocumentBuilder,
    anchors: std::collections::HashMap<usize, (NodeId, usize)>,
    budget: usize,
    /// Set once the aliases expand over the budget: the rest of the stream
    /// is only parsed.
    exceeded: Option<EditError>,
}

impl<'s> DocReader<'s> {
    /// Reads the node that `ev` starts: the node, and how many values it
    /// holds (itself included).
    fn node(
        &mut self,
        ev: Event<'s>,
        range: Range<usize>,
        next: &mut impl FnMut() -> Result<(Event<'s>, Range<usize>), EditError>,
    ) -> Result<(NodeId, usize), EditError> {
        if self.exceeded.is_some() {
            skip(ev, next)?;
            return Ok((self.builder.null().map_err(parse_error)?, 1));
        }
        let b = &mut self.builder;
        let (id, count, anchor) = match ev {
            Event::Scalar(value, style, anchor, tag) => {
                let id = b
                    .value(&scalar_value(&value, style, tag.is_some()))
                    .map_err(parse_error)?;
                (id, 1, anchor)
            }
            Event::Alias(anchor) => return self.alias(anchor, range),
            Event::SequenceStart(_, anchor, _) => {
                b.begin_seq();
                let mut count = 1;
                loop {
                    let (ev, r) = next()?;
                    if let Event::SequenceEnd = ev {
                        break;
                    }
                    let (item, n) = self.node(ev, r, next)?;
                    self.builder.item(item).map_err(parse_error)?;
                    count += n;
                }
                (self.builder.end_seq().map_err(parse_error)?, count, anchor)
            }
            Event::MappingStart(_, anchor, _) => {
                b.begin_map();
                let mut count = 1;
                loop {
                    let (ev, r) = next()?;
                    if let Event::MappingEnd = ev {
                        break;
                    }
                    let key = self.key(ev, r, next)?;
                    let (ev, r) = next()?;
                    let (value, n) = self.node(ev, r, next)?;
                    self.builder.entry(key, value).map_err(parse_error)?;
                    count += n;
                }
                (self.builder.end_map().map_err(parse_error)?, count, anchor)
            }
            other => return Err(EditError::Parse(format!("unexpected event {other:?}"))),
        };
        if anchor != 0 {
            self.anchors.insert(anchor, (id, count));
        }
        Ok((id, count))
    }

    /// An alias: the anchored node again, its values charged to the budget.
    fn alias(&mut self, anchor: usize, range: Range<usize>) -> Result<(NodeId, usize), EditError> {
        match self.anchors.get(&anchor) {
            Some(&(id, count)) if count <= self.budget => {
                self.budget -= count;
                Ok((id, count))
            }
            Some(_) => {
                self.exceeded = Some(EditError::Parse(format!(
                    "aliases expand to more than {MAX_ALIAS_EXPANSION} values \
                     (line {}); refusing to expand them further",
                    line_of(self.src, range.start)
                )));
                Ok((self.builder.null().map_err(parse_error)?, 1))
            }
            None => Ok((self.builder.null().map_err(parse_error)?, 1)),
        }
    }

    /// A map key: a string as it is, any other value as its JSON text.
    fn key(
        &mut self,
        ev: Event<'s>,
        range: Range<usize>,
        next: &mut impl FnMut() -> Result<(Event<'s>, Range<usize>), EditError>,
    ) -> Result<Key, EditError> {
        let text = match ev {
            // The common case, without a node of its own.
            Event::Scalar(value, style, 0, tag) if self.exceeded.is_none() => {
                match scalar_value(&value, style, tag.is_some()) {
                    Value::String(s) => s,
                    other => other.to_string(),
                }
            }
            ev => {
                let (id, _) = self.node(ev, range, next)?;
                match self.builder.str_of(id) {
                    Some(s) => s.to_owned(),
                    None => self.builder.json_of(id).to_string(),
                }
            }
        };
        self.builder.key(&text).map_err(parse_error)
    }
}

/// A scalar's value (YAML 1.2 core schema for plain scalars without a tag;
/// strings otherwise).
fn scalar_value(value: &str, style: ScalarStyle, tagged: bool) -> Value {
    let resolved = if !tagged && style == ScalarStyle::Plain {
        resolve_plain_typed(value)
    } else {
        None
    };
    match resolved {
        Some(Sem::Null) => Value::Null,
        Some(Sem::Bool(b)) => Value::Bool(b),
        Some(Sem::Int(i)) => i64::try_from(i)
            .map(Value::from)
            .or_else(|_| u64::try_from(i).map(Value::from))
            .unwrap_or_else(|_| Value::String(i.to_string())),
        Some(Sem::Float(bits)) => Number::from_f64(f64::from_bits(bits))
            .map_or_else(|| Value::String(value.to_owned()), Value::Number),
        _ => Value::String(value.to_owned()),
    }
}

/// Consumes the events of the node that `ev` starts, as [`build`] would
/// read them, keeping nothing.
fn skip<'a>(
    ev: Event<'a>,
    next: &mut impl FnMut() -> Result<(Event<'a>, Range<usize>), EditError>,
) -> Result<(), EditError> {
    match ev {
        Event::Scalar(..) | Event::Alias(_) => Ok(()),
        Event::SequenceStart(..) => loop {
            let (ev, _) = next()?;
            if let Event::SequenceEnd = ev {
                return Ok(());
            }
            skip(ev, next)?;
        },
        Event::MappingStart(..) => loop {
            let (ev, _) = next()?;
            if let Event::MappingEnd = ev {
                return Ok(());
            }
            skip(ev, next)?;
            let (ev, _) = next()?;
            skip(ev, next)?;
        },
        other => Err(EditError::Parse(format!("unexpected event {other:?}"))),
    }
}

/// The 1-based line of byte `offset` in `src`.
fn line_of(src: &str, offset: usize) -> usize {
    src.get(..offset)
        .map_or(0, |head| head.matches('\n').count())
        + 1
}

#[path = "yaml_ops.rs"]
pub(crate) mod ops;

#[cfg(test)]
#[path = "yaml_tests.rs"]
mod tests;
