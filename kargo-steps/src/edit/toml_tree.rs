//! A compact TOML reader: toml_parser's lexer and parser, fed one
//! top-level expression at a time, and the events assembled into tables as
//! toml_edit assembles them (the TOML rules for headers, dotted keys,
//! arrays of tables and inline tables, and the order keys end up in), with
//! the span of every scalar.
//!
//! toml_edit keeps every token, every event and a formatted tree of the
//! whole file, about 60 times the file's size; this tree takes a few times
//! the file. It answers only for valid files: on any error, syntax or
//! semantic, [`Toml::read`] returns `None` and the caller asks toml_edit,
//! so errors keep toml_edit's exact messages.

use std::collections::HashMap;
use std::ops::Range;

use kargo_core::expr::Document;
use kargo_core::expr::document::{DocumentBuilder, NodeId};
use toml_parser::decoder::{Encoding, ScalarKind};
use toml_parser::lexer::TokenKind;
use toml_parser::parser::{EventReceiver, RecursionGuard, ValidateWhitespace};
use toml_parser::{ErrorSink, ParseError, Raw, Source, Span};

use super::{EditError, index_of};

/// toml_edit's nesting limit, for arrays, inline tables and dotted keys.
const LIMIT: u32 = 80;

/// From this many entries a table keeps an index of its keys.
const INDEXED: usize = 16;

/// A range of [`Toml::text`].
#[derive(Debug, Clone, Copy)]
struct Text {
    start: u32,
    len: u32,
}

#[derive(Debug, Clone, Copy)]
enum Scalar {
    Str(Text),
    Int(i64),
    Float(f64),
    Bool(bool),
    Datetime(Text),
}

#[derive(Debug, Clone, Copy)]
enum Item {
    /// A scalar and the span of its text.
    Scalar(Scalar, (u32, u32)),
    /// A table (inline or not: see [`Table::inline`]).
    Table(u32),
    /// An array value, in [`Toml::arrays`].
    Array(u32),
    /// An array of tables, in [`Toml::table_arrays`].
    Tables(u32),
}

#[derive(Debug, Default)]
struct Table {
    entries: Vec<(Text, Item)>,
    // Boxed: most tables have no index, and a `HashMap` in place would
    // make every table 40 bytes larger.
    #[allow(clippy::box_collection)]
    index: Option<Box<HashMap<Box<str>, u32>>>,
    implicit: bool,
    dotted: bool,
    inline: bool,
}

/// A TOML document read by [`Toml::read`].
#[derive(Debug)]
pub(crate) struct Toml {
    tables: Vec<Table>,
    arrays: Vec<Vec<Item>>,
    table_arrays: Vec<Vec<u32>>,
    text: String,
}

impl Toml {
    fn str(&self, t: Text) -> &str {
        &self.text[t.start as usize..t.start as usize + t.len as usize]
    }

    fn add_text(&mut self, s: &str) -> Option<Text> {
        let start = u32::try_from(self.text.len()).ok()?;
        let len = u32::try_from(s.len()).ok()?;
        u32::try_from(self.text.len() + s.len()).ok()?;
        self.text.push_str(s);
        Some(Text { start, len })
    }

    fn new_table(&mut self, implicit: bool, dotted: bool, inline: bool) -> u32 {
        self.tables.push(Table {
            implicit,
            dotted,
            inline,
            ..Table::default()
        });
        (self.tables.len() - 1) as u32
    }

    /// Gives a large table its index of keys (again, after a removal).
    fn index(&mut self, table: u32) {
        let t = &self.tables[table as usize];
        if t.entries.len() >= INDEXED && t.index.is_none() {
            let index = t
                .entries
                .iter()
                .enumerate()
                .map(|(i, (k, _))| (Box::from(self.str(*k)), i as u32))
                .collect();
            self.tables[table as usize].index = Some(Box::new(index));
        }
    }

    /// The position of `key` in `table` (indexed by [`index`](Self::index)
    /// when large).
    fn find(&self, table: u32, key: &str) -> Option<usize> {
        let t = &self.tables[table as usize];
        match &t.index {
            Some(index) => index.get(key).map(|&i| i as usize),
            None => t.entries.iter().position(|(k, _)| self.str(*k) == key),
        }
    }

    fn get(&mut self, table: u32, key: Text) -> Option<Item> {
        self.index(table);
        let at = self.find(table, self.str(key))?;
        Some(self.tables[table as usize].entries[at].1)
    }

    fn get_str(&mut self, table: u32, key: &str) -> Option<Item> {
        self.index(table);
        let at = self.find(table, key)?;
        Some(self.tables[table as usize].entries[at].1)
    }

    fn insert(&mut self, table: u32, key: Text, item: Item) {
        self.index(table);
        match self.find(table, self.str(key)) {
            // As IndexMap::insert: in place.
            Some(at) => self.tables[table as usize].entries[at].1 = item,
            None => {
                let name: Option<Box<str>> = self.tables[table as usize]
                    .index
                    .as_ref()
                    .map(|_| Box::from(self.str(key)));
                let t = &mut self.tables[table as usize];
                if let (Some(index), Some(name)) = (&mut t.index, name) {
                    index.insert(name, t.entries.len() as u32);
                }
                t.entries.push((key, item));
            }
        }
    }

    /// Removes `key` from `table`, keeping the order of the rest.
    fn remove(&mut self, table: u32, key: Text) -> Option<Item> {
        self.index(table);
        let at = self.find(table, self.str(key))?;
        let t = &mut self.tables[table as usize];
        t.index = None;
        Some(t.entries.remove(at).1)
    }

    /// Reads `src`, or `None` when it is not valid TOML (or holds more than
    /// 4 GiB of text).
    pub(crate) fn read(src: &str) -> Option<Toml> {
        let source = Source::new(src);
        let mut assembler = Assembler {
            source,
            toml: Toml {
                tables: Vec::new(),
                arrays: Vec::new(),
                table_arrays: Vec::new(),
                text: String::new(),
            },
            current: 0,
            header: None,
            in_header: false,
            keys: Vec::new(),
            open: Vec::new(),
            failed: false,
        };
        assembler.toml.new_table(false, false, false);
        let mut errors = Failed(false);
        let mut chunk = Vec::new();
        let mut depth = 0u32;
        // One top-level expression at a time: it ends at a line break
        // outside brackets (strings and comments are single tokens).
        for token in source.lex() {
            match token.kind() {
                TokenKind::LeftSquareBracket | TokenKind::LeftCurlyBracket => depth += 1,
                TokenKind::RightSquareBracket | TokenKind::RightCurlyBracket => {
                    depth = depth.saturating_sub(1);
                }
                _ => {}
            }
            let end = matches!(token.kind(), TokenKind::Eof)
                || (depth == 0 && matches!(token.kind(), TokenKind::Newline));
            chunk.push(token);
            if end {
                let mut validate = ValidateWhitespace::new(&mut assembler, source);
                let mut guard = RecursionGuard::new(&mut validate, LIMIT);
                toml_parser::parser::parse_document(&chunk, &mut guard, &mut errors);
                chunk.clear();
                if errors.0 || assembler.failed {
                    return None;
                }
            }
        }
        let finished = assembler.finish_table();
        if errors.0 || assembler.failed || !assembler.open.is_empty() || finished.is_none() {
            return None;
        }
        Some(assembler.toml)
    }

    /// The document as JSON reads it: tables as maps in toml_edit's key
    /// order, arrays of tables as lists of maps, datetimes as their text,
    /// NaN and infinities as their text.
    pub(crate) fn to_document(&self) -> Result<Document, EditError> {
        let mut b = DocumentBuilder::new();
        let root = self.table_node(&mut b, 0).map_err(parse_error)?;
        b.finish(root).map_err(parse_error)
    }

    fn table_node(
        &self,
        b: &mut DocumentBuilder,
        table: u32,
    ) -> Result<NodeId, kargo_core::expr::document::DocumentError> {
        b.begin_map();
        for (key, item) in &self.tables[table as usize].entries {
            let key = b.key(self.str(*key))?;
            let id = self.item_node(b, *item)?;
            b.entry(key, id)?;
        }
        b.end_map()
    }

    fn item_node(
        &self,
        b: &mut DocumentBuilder,
        item: Item,
    ) -> Result<NodeId, kargo_core::expr::document::DocumentError> {
        match item {
            Item::Scalar(Scalar::Str(t) | Scalar::Datetime(t), _) => b.string(self.str(t)),
            Item::Scalar(Scalar::Int(i), _) => b.int(i),
            Item::Scalar(Scalar::Float(f), _) if f.is_finite() => b.float(f),
            Item::Scalar(Scalar::Float(f), _) => b.string(&f.to_string()),
            Item::Scalar(Scalar::Bool(v), _) => b.bool(v),
            Item::Table(t) => self.table_node(b, t),
            Item::Array(a) => {
                b.begin_seq();
                for item in &self.arrays[a as usize] {
                    let id = self.item_node(b, *item)?;
                    b.item(id)?;
                }
                b.end_seq()
            }
            Item::Tables(a) => {
                b.begin_seq();
                for &t in &self.table_arrays[a as usize] {
                    let id = self.table_node(b, t)?;
                    b.item(id)?;
                }
                b.end_seq()
            }
        }
    }

    /// The span of the scalar at `segments`, found as toml_edit's
    /// `toml-update` finds it, with its errors naming `key`.
    pub(crate) fn scalar_span(
        &mut self,
        key: &str,
        segments: &[String],
    ) -> Result<Range<usize>, EditError> {
        Locator {
            toml: self,
            key,
            segments,
        }
        .in_table(0, false, 0)
    }
}

fn parse_error(e: impl std::fmt::Display) -> EditError {
    EditError::Parse(e.to_string())
}

/// An error sink that only remembers that there was an error.
struct Failed(bool);

impl ErrorSink for Failed {
    fn report_error(&mut self, _error: ParseError) {
        self.0 = true;
    }
}

/// A `[table]` or `[[table]]` header.
#[derive(Debug)]
struct Header {
    path: Vec<Text>,
    key: Text,
    array: bool,
}

/// A value being read inside brackets.
#[derive(Debug)]
enum Open {
    Array(Vec<Item>),
    Inline { table: u32, keys: Vec<Text> },
}

struct Assembler<'s> {
    source: Source<'s>,
    toml: Toml,
    /// The table key-values go into.
    current: u32,
    /// The current table's header (`None`: the root table).
    header: Option<Header>,
    /// Whether a `[table]` or `[[table]]` header is being read.
    in_header: bool,
    /// The key being read (of a key-value or a header).
    keys: Vec<Text>,
    open: Vec<Open>,
    failed: bool,
}

impl Assembler<'_> {
    fn decode_key(&mut self, span: Span, encoding: Option<Encoding>, errors: &mut dyn ErrorSink) {
        let raw = Raw::new_unchecked(
            &self.source.input()[span.start()..span.end()],
            encoding,
            span,
        );
        let mut decoded = std::borrow::Cow::Borrowed("");
        raw.decode_key(&mut decoded, errors);
        match self.toml.add_text(&decoded) {
            Some(text) => match self.open.last_mut() {
                Some(Open::Inline { keys, .. }) => keys.push(text),
                Some(Open::Array(_)) => self.failed = true,
                None => self.keys.push(text),
            },
            None => self.failed = true,
        }
    }

    fn decode_scalar(
        &mut self,
        span: Span,
        encoding: Option<Encoding>,
        errors: &mut dyn ErrorSink,
    ) -> Option<Scalar> {
        let raw = Raw::new_unchecked(
            &self.source.input()[span.start()..span.end()],
            encoding,
            span,
        );
        let mut decoded = std::borrow::Cow::Borrowed("");
        Some(match raw.decode_scalar(&mut decoded, errors) {
            ScalarKind::String => Scalar::Str(self.toml.add_text(&decoded)?),
            ScalarKind::Boolean(b) => Scalar::Bool(b),
            ScalarKind::DateTime => {
                let datetime = decoded.parse::<toml_edit::Datetime>().ok()?;
                Scalar::Datetime(self.toml.add_text(&datetime.to_string())?)
            }
            ScalarKind::Float => {
                let f = decoded.parse::<f64>().ok()?;
                let word = decoded
                    .strip_prefix(['+', '-'])
                    .unwrap_or(&decoded)
                    .chars()
                    .all(|c| c.is_ascii_alphabetic());
                if f.is_infinite() && !word {
                    // A literal too large: toml_edit reports an overflow.
                    return None;
                }
                Scalar::Float(f)
            }
            ScalarKind::Integer(radix) => {
                Scalar::Int(i64::from_str_radix(&decoded, radix.value()).ok()?)
            }
        })
    }

    /// A complete value: into the open array or inline table, or the
    /// current table under the key just read.
    fn value(&mut self, item: Item) {
        let placed = match self.open.last_mut() {
            Some(Open::Array(items)) => {
                items.push(item);
                Some(())
            }
            Some(Open::Inline { table, keys }) => {
                let (table, keys) = (*table, std::mem::take(keys));
                self.inline_key_value(table, keys, item)
            }
            None => {
                let keys = std::mem::take(&mut self.keys);
                self.key_value(keys, item)
            }
        };
        if placed.is_none() {
            self.failed = true;
        }
    }

    /// Walks `path` from `table`, creating implicit tables, as a header
    /// (`dotted` false) or a dotted key does.
    fn descend(&mut self, mut table: u32, path: &[Text], dotted: bool) -> Option<u32> {
        for &key in path {
            table = match self.toml.get(table, key) {
                None => {
                    let new = self.toml.new_table(true, dotted, false);
                    self.toml.insert(table, key, Item::Table(new));
                    new
                }
                Some(Item::Tables(a)) => *self.toml.table_arrays[a as usize].last()?,
                Some(Item::Table(t)) if !self.toml.tables[t as usize].inline => {
                    let child = &mut self.toml.tables[t as usize];
                    if dotted && child.implicit {
                        child.dotted = true;
                    }
                    if dotted && !child.implicit {
                        return None;
                    }
                    t
                }
                // A value (an inline table or array too) cannot be extended.
                Some(_) => return None,
            };
        }
        Some(table)
    }

    fn key_value(&mut self, keys: Vec<Text>, item: Item) -> Option<()> {
        let (path, key) = last_key(keys)?;
        let dotted = !path.is_empty();
        let parent = self.descend(self.current, &path, dotted)?;
        if (dotted && !self.toml.tables[parent as usize].implicit)
            || self.toml.get(parent, key).is_some()
        {
            return None;
        }
        self.toml.insert(parent, key, item);
        Some(())
    }

    fn inline_key_value(&mut self, table: u32, keys: Vec<Text>, item: Item) -> Option<()> {
        let (path, key) = last_key(keys)?;
        let mut parent = table;
        for &k in &path {
            parent = match self.toml.get(parent, k) {
                None => {
                    let new = self.toml.new_table(true, true, true);
                    self.toml.insert(parent, k, Item::Table(new));
                    new
                }
                Some(Item::Table(t))
                    if self.toml.tables[t as usize].inline
                        && self.toml.tables[t as usize].implicit =>
                {
                    t
                }
                Some(_) => return None,
            };
        }
        if self.toml.tables[parent as usize].dotted == path.is_empty()
            || self.toml.get(parent, key).is_some()
        {
            return None;
        }
        self.toml.insert(parent, key, item);
        Some(())
    }

    /// Attaches the table read so far under its header.
    fn finish_table(&mut self) -> Option<()> {
        let Some(header) = self.header.take() else {
            return Some(());
        };
        let parent = self.descend(0, &header.path, false)?;
        if header.array {
            let array = match self.toml.get(parent, header.key) {
                None => {
                    self.toml.table_arrays.push(Vec::new());
                    let a = (self.toml.table_arrays.len() - 1) as u32;
                    self.toml.insert(parent, header.key, Item::Tables(a));
                    a
                }
                Some(Item::Tables(a)) => a,
                Some(_) => return None,
            };
            self.toml.table_arrays[array as usize].push(self.current);
        } else {
            self.toml
                .insert(parent, header.key, Item::Table(self.current));
        }
        Some(())
    }

    /// A header begins: its keys follow.
    fn open_header(&mut self) {
        self.in_header = true;
        self.keys.clear();
    }

    /// Starts the table of a header just read.
    fn start_table(&mut self, array: bool) {
        self.in_header = false;
        let keys = std::mem::take(&mut self.keys);
        if self.try_start_table(keys, array).is_none() {
            self.failed = true;
        }
    }

    fn try_start_table(&mut self, keys: Vec<Text>, array: bool) -> Option<()> {
        let (path, key) = last_key(keys)?;
        self.finish_table()?;
        let mut table = None;
        if !array {
            // An implicit table made by an earlier header is now defined
            // (it moves to the end of its parent); anything else of that
            // name is defined twice.
            let parent = self.descend(0, &path, false)?;
            match self.toml.remove(parent, key) {
                None => {}
                Some(Item::Table(t))
                    if self.toml.tables[t as usize].implicit
                        && !self.toml.tables[t as usize].dotted
                        && !self.toml.tables[t as usize].inline =>
                {
                    table = Some(t);
                }
                Some(_) => return None,
            }
        }
        let table = table.unwrap_or_else(|| self.toml.new_table(false, false, false));
        let t = &mut self.toml.tables[table as usize];
        t.implicit = false;
        t.dotted = false;
        self.current = table;
        self.header = Some(Header { path, key, array });
        Some(())
    }
}

/// The last key of a dotted key and the path before it; `None` for no key,
/// or a path at toml_edit's nesting limit.
fn last_key(mut keys: Vec<Text>) -> Option<(Vec<Text>, Text)> {
    let key = keys.pop()?;
    (keys.len() < LIMIT as usize).then_some((keys, key))
}

impl EventReceiver for Assembler<'_> {
    fn std_table_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.open_header();
    }

    fn std_table_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.start_table(false);
    }

    fn array_table_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.open_header();
    }

    fn array_table_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.start_table(true);
    }

    fn inline_table_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) -> bool {
        let table = self.toml.new_table(false, false, true);
        self.open.push(Open::Inline {
            table,
            keys: Vec::new(),
        });
        true
    }

    fn inline_table_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        match self.open.pop() {
            Some(Open::Inline { table, keys }) if keys.is_empty() => {
                self.value(Item::Table(table));
            }
            _ => self.failed = true,
        }
    }

    fn array_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) -> bool {
        self.open.push(Open::Array(Vec::new()));
        true
    }

    fn array_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        match self.open.pop() {
            Some(Open::Array(items)) => {
                self.toml.arrays.push(items);
                let id = (self.toml.arrays.len() - 1) as u32;
                self.value(Item::Array(id));
            }
            _ => self.failed = true,
        }
    }

    fn simple_key(&mut self, span: Span, encoding: Option<Encoding>, error: &mut dyn ErrorSink) {
        self.decode_key(span, encoding, error);
    }

    fn scalar(&mut self, span: Span, encoding: Option<Encoding>, error: &mut dyn ErrorSink) {
        if self.in_header {
            self.failed = true;
            return;
        }
        let (Some(scalar), Ok(start), Ok(end)) = (
            self.decode_scalar(span, encoding, error),
            u32::try_from(span.start()),
            u32::try_from(span.end()),
        ) else {
            self.failed = true;
            return;
        };
        self.value(Item::Scalar(scalar, (start, end)));
    }

    fn error(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.failed = true;
    }
}

/// Finds a key's scalar, with toml-update's errors (see `Target` in the
/// toml module: the same checks, in the same order).
struct Locator<'t, 'k> {
    toml: &'t mut Toml,
    key: &'k str,
    segments: &'k [String],
}

impl Locator<'_, '_> {
    fn at(&self, depth: usize) -> String {
        self.segments[..depth].join(".")
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

    fn span(scalar_span: (u32, u32)) -> Range<usize> {
        scalar_span.0 as usize..scalar_span.1 as usize
    }

    fn in_table(
        &mut self,
        table: u32,
        inline: bool,
        depth: usize,
    ) -> Result<Range<usize>, EditError> {
        if depth == self.segments.len() {
            return Err(self.not_scalar(if inline { "an inline table" } else { "a table" }));
        }
        let seg = &self.segments[depth];
        match self.toml.get_str(table, seg) {
            Some(item) => self.in_item(item, depth + 1),
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

    fn in_item(&mut self, item: Item, depth: usize) -> Result<Range<usize>, EditError> {
        let inline = |l: &Self, t: u32| l.toml.tables[t as usize].inline;
        if depth == self.segments.len() {
            return match item {
                Item::Scalar(_, span) => Ok(Self::span(span)),
                Item::Array(_) => Err(self.not_scalar("an array")),
                Item::Table(t) if inline(self, t) => Err(self.not_scalar("an inline table")),
                Item::Table(_) | Item::Tables(_) => Err(self.not_scalar("a table")),
            };
        }
        match item {
            Item::Table(t) => self.in_table(t, inline(self, t), depth),
            Item::Tables(a) => {
                let tables = &self.toml.table_arrays[a as usize];
                let len = tables.len();
                let table = index_of(&self.segments[depth])
                    .and_then(|i| tables.get(i).copied())
                    .ok_or_else(|| self.bad_index(depth, len))?;
                self.in_table(table, false, depth + 1)
            }
            Item::Array(a) => self.in_value(Item::Array(a), depth),
            Item::Scalar(..) => self.in_value(item, depth),
        }
    }

    fn in_value(&mut self, item: Item, depth: usize) -> Result<Range<usize>, EditError> {
        match item {
            Item::Array(a) => {
                let items = &self.toml.arrays[a as usize];
                let len = items.len();
                let slot = index_of(&self.segments[depth])
                    .filter(|&i| i < len)
                    .and_then(|i| items.get(i).copied())
                    .ok_or_else(|| self.bad_index(depth, len))?;
                if depth + 1 == self.segments.len() {
                    match slot {
                        Item::Scalar(_, span) => Ok(Self::span(span)),
                        Item::Array(_) => Err(self.not_scalar("an array")),
                        _ => Err(self.not_scalar("an inline table")),
                    }
                } else {
                    self.in_value(slot, depth + 1)
                }
            }
            Item::Table(t) => self.in_table(t, true, depth),
            _ => Err(EditError::key(
                self.key,
                format!("`{}` is a scalar, not a table", self.at(depth)),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::toml::toml_edit_json;
    use super::*;

    /// Every file reads as toml_edit reads it, keys in the same order.
    #[test]
    fn files_read_as_toml_edit_reads_them() {
        let files = [
            "",
            "a = 1",
            "\u{feff}a = 1\n",
            "title = \"x\" # c\na.b.c = 1\na.b.d = 's'\n\n[t]\nk = 1\nx.y = 2\n[t.sub]\nz = true\n",
            "[[aot]]\nn = 1\n[[aot]]\nn = 2\n[aot.child]\nm = 3\n[[aot.child.list]]\nq = 1\n",
            "[implicit.deep]\nv = 1\n[other]\nw = 2\n[implicit]\nlate = 3\n",
            "[fruit]\napple.color = \"red\"\napple.taste.sweet = true\n[fruit.apple.texture]\nsmooth = true\n",
            "a = {x = 1, y.z = 2, y.w = [1, {q = 'r'}]}\nb = []\nc = {}\n",
            "arr = [\n  1, # one\n  2,\n]\nnested = [[1, 2], ['a', \"b\"], [{k = 1}]]\n",
            "ints = [0x1F, 0o17, 0b101, 1_000, -5, +7]\nfloats = [1.5, -0.0, 1e3, inf, -inf, nan, 6.626e-34]\n",
            "dt = 1979-05-27T07:32:00Z\nld = 1979-05-27\nlt = 07:32:00\nldt = 1979-05-27T07:32:00.999\n",
            "s = \"tab\\there \\u00e9 \\\"q\\\"\"\nml = \"\"\"\nline one\nline two \\\n  joined\"\"\"\nlit = '''\nraw \\n\n'''\n",
            "\"quoted key\" = 1\n'lit.key' = 2\n\"a.b\".c = 3\nbare-key_1 = 4\n",
            "a = 1\r\n[b]\r\nc = 'd'\r\n",
            "x = 1\n[a.b]\nc = 1\n[a]\nd = 2\n[a.e]\nf = 3\n",
            "[a]\nb.c = 1\n[a.b.d]\ne = 2\n",
            "t = {a = 1,\n  b = 2}\n",
        ];
        for src in files {
            let old = toml_edit_json(src).unwrap_or_else(|e| panic!("{src:?}: {e}"));
            let new = Toml::read(src)
                .unwrap_or_else(|| panic!("{src:?} reads"))
                .to_document()
                .unwrap()
                .to_json();
            assert_eq!(
                serde_json::to_string(&new).unwrap(),
                serde_json::to_string(&old).unwrap(),
                "{src:?}"
            );
        }
    }

    /// A file toml_edit refuses is refused (and the caller asks toml_edit
    /// for its error).
    #[test]
    fn files_toml_edit_refuses_are_refused() {
        let deep = format!("a = {}1{}\n", "[".repeat(100), "]".repeat(100));
        let files = [
            "a = 1\na = 2\n",
            "a = 1\na.b = 2\n",
            "a.b = 1\na = 2\n",
            "[a]\n[a]\n",
            "[a]\nb = 1\n[a.b]\n",
            "[fruit]\napple.color = \"red\"\n[fruit.apple]\n",
            "[[a]]\n[a]\n",
            "[a]\n[[a]]\n",
            "a = [1]\n[[a]]\n",
            "a = {x = 1}\na.y = 2\n",
            "a = {x = 1}\n[a.b]\n",
            "a = {x = 1, x = 2}\n",
            "a = {x = {y = 1}, x.z = 2}\n",
            "[a]\nx = 1\n[b]\n[a]\n",
            "a = \n",
            "a = \"open\n",
            "[a\nb = 1\n",
            "a = 1 b = 2\n",
            "a = 9223372036854775808\n",
            "a = 1e400\n",
            "a = 1979-13-27\n",
            "a = [1, 2\nb = 3\n",
            "a = ]\n",
            "= 1\n",
            "a.b.c = 1\n[a.b]\n",
            &deep,
        ];
        for src in files {
            assert!(toml_edit_json(src).is_err(), "toml_edit refuses {src:?}");
            assert!(Toml::read(src).is_none(), "{src:?}");
        }
    }
}
