//! Reading and planning on a large HCL file without hcl-edit's syntax tree of
//! the whole file, which takes tens of times the text.
//!
//! # Layers
//! A body, object or tuple larger than a chunk is parsed as a *skeleton*:
//! its text with the inside of every bracket group that is a whole value
//! (an attribute's or object item's value, a tuple element) or a multi-line
//! block's body blanked out: every byte but line breaks becomes a space, so
//! the skeleton has the same length and the same offsets as the text, and
//! its tree holds one small node per item. Each blanked group is then read
//! on its own, the same way, down to groups small enough to parse whole.
//!
//! A piece is parsed at the nesting depth the whole file's parse would
//! reach it at (inside as many wrapping `[`…`]` or `b {`…`}` as its depth),
//! so hcl-edit's nesting limit refuses exactly what it refuses in the whole
//! file. The scanner that finds the groups ([`Scan`]) knows only tokens
//! (strings and their templates, heredocs, comments, brackets); whatever it
//! gets wrong is caught: each blanked group must come back from the
//! skeleton as an empty collection spanning exactly that group (or as an
//! empty block body ending there), and each piece must parse, alone, to one
//! collection spanning all of it. Anything else gives up ([`GiveUp`]), and
//! the caller parses the whole file as before, which also gives the exact
//! error for a file that does not parse.
//!
//! A group that hcl-edit reads as a collection in the skeleton and alone is
//! read the same in the whole file: a collection's parse runs from its
//! opening to its closing bracket whatever follows, and what follows is the
//! same text in both.

use std::collections::HashMap;
use std::ops::Range;

use hcl_edit::Span;
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Body, Structure};
use kargo_core::expr::Document;
use kargo_core::expr::document::{DocumentBuilder, DocumentError, NodeId};

use super::{Source, block_keys, index_of, key_text, scalar_json};

/// The layered reader or planner gave up: the caller parses the whole file.
#[derive(Debug)]
pub(super) struct GiveUp;

impl From<DocumentError> for GiveUp {
    fn from(_: DocumentError) -> Self {
        GiveUp
    }
}

/// What a bracket group found by [`Scan`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GroupKind {
    /// An object or tuple that is a whole value.
    Value,
    /// A multi-line block's body.
    BlockBody,
}

/// How the item owning a group is named.
#[derive(Debug, Clone)]
enum ItemKey {
    /// A body's attribute: its name's range.
    Attribute(Range<usize>),
    /// A block: its identifier's range and its labels' (strings quoted).
    Block(Range<usize>, Vec<Range<usize>>),
    /// An object item: its key's text range.
    Key(Range<usize>),
    /// A tuple element: its index.
    Index(usize),
}

/// A bracket group that is a whole value or a block's body, and its item.
#[derive(Debug, Clone)]
struct Item {
    key: ItemKey,
    /// The group, brackets included.
    group: Range<usize>,
    kind: GroupKind,
}

/// A scanner over HCL text (see the [module docs](self)). Positions are
/// byte offsets; `None` means the scanner does not follow the text.
struct Scan<'t> {
    b: &'t [u8],
}

fn closer(open: u8) -> u8 {
    match open {
        b'{' => b'}',
        b'[' => b']',
        _ => b')',
    }
}

fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c >= 0x80
}

impl Scan<'_> {
    fn at(&self, i: usize) -> u8 {
        self.b.get(i).copied().unwrap_or(0)
    }

    /// Where the line holding `i` ends (its `\n`, or the end).
    fn line_end(&self, i: usize) -> usize {
        self.b[i.min(self.b.len())..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(self.b.len(), |p| i + p)
    }

    /// After the comment at `i`, if one starts there (an unterminated
    /// `/*` runs to the end).
    fn comment_end(&self, i: usize) -> Option<usize> {
        match (self.at(i), self.at(i + 1)) {
            (b'#', _) | (b'/', b'/') => Some(self.line_end(i)),
            (b'/', b'*') => Some(
                self.b[i + 2..]
                    .windows(2)
                    .position(|w| w == b"*/")
                    .map_or(self.b.len(), |p| i + 2 + p + 2),
            ),
            _ => None,
        }
    }

    /// Whether a line comment starts at `i`.
    fn line_comment(&self, i: usize) -> bool {
        self.at(i) == b'#' || (self.at(i) == b'/' && self.at(i + 1) == b'/')
    }

    /// Past spaces, tabs and inline comments.
    fn sp(&self, mut i: usize) -> usize {
        loop {
            match self.at(i) {
                b' ' | b'\t' => i += 1,
                b'/' if self.at(i + 1) == b'*' => i = self.comment_end(i).unwrap_or(i + 2),
                _ => return i,
            }
        }
    }

    /// Past white space, line breaks and comments.
    fn ws(&self, mut i: usize) -> usize {
        loop {
            match self.at(i) {
                b' ' | b'\t' | b'\n' | b'\r' => i += 1,
                b'#' | b'/' => match self.comment_end(i) {
                    Some(end) => i = end,
                    None => return i,
                },
                _ => return i,
            }
        }
    }

    /// Whether a line break (or the end, at `end`) is at `i`.
    fn line_break(&self, i: usize, end: usize) -> bool {
        i >= end || self.at(i) == b'\n' || (self.at(i) == b'\r' && self.at(i + 1) == b'\n')
    }

    /// After the identifier at `i`.
    fn ident_end(&self, i: usize) -> Option<usize> {
        let c = self.at(i);
        if !(c.is_ascii_alphabetic() || c == b'_' || c >= 0x80) {
            return None;
        }
        let mut j = i + 1;
        while is_ident_byte(self.at(j)) {
            j += 1;
        }
        Some(j)
    }

    /// After the quoted string (or template) at `i`.
    fn string_end(&self, i: usize) -> Option<usize> {
        let mut j = i + 1;
        loop {
            match *self.b.get(j)? {
                b'"' => return Some(j + 1),
                b'\\' => j += 2,
                b'\n' => return None,
                c @ (b'$' | b'%') if self.at(j + 1) == c && self.at(j + 2) == b'{' => j += 3,
                b'$' | b'%' if self.at(j + 1) == b'{' => j = self.close(j + 1)? + 1,
                _ => j += 1,
            }
        }
    }

    /// After the heredoc at `i` (`<<EOT` or `<<-EOT`, its lines, and the
    /// line closing it).
    fn heredoc_end(&self, i: usize) -> Option<usize> {
        let mut j = i + 2;
        if self.at(j) == b'-' {
            j += 1;
        }
        let id_start = j;
        j = self.ident_end(j)?;
        let id = &self.b[id_start..j];
        let mut line = self.line_end(j) + 1;
        loop {
            if line > self.b.len() {
                return None;
            }
            let end = self.line_end(line);
            let text = &self.b[line..end];
            let indent = text
                .iter()
                .position(|c| !matches!(c, b' ' | b'\t'))
                .unwrap_or(text.len());
            let rest = &text[indent..];
            let rest = rest.strip_suffix(b"\r").unwrap_or(rest);
            if rest == id {
                return Some(line + indent + id.len());
            }
            line = end + 1;
        }
    }

    /// Where the bracket opened at `i` closes.
    fn close(&self, i: usize) -> Option<usize> {
        let mut open = vec![closer(self.at(i))];
        let mut j = i + 1;
        while let Some(&c) = self.b.get(j) {
            match c {
                b'"' => {
                    j = self.string_end(j)?;
                    continue;
                }
                b'<' if self.at(j + 1) == b'<' => {
                    j = self.heredoc_end(j)?;
                    continue;
                }
                b'#' | b'/' => {
                    if let Some(end) = self.comment_end(j) {
                        j = end;
                        continue;
                    }
                }
                b'{' | b'[' | b'(' => open.push(closer(c)),
                b'}' | b']' | b')' => {
                    if open.pop()? != c {
                        return None;
                    }
                    if open.is_empty() {
                        return Some(j);
                    }
                }
                _ => {}
            }
            j += 1;
        }
        None
    }

    /// Where the group at `i` closes, when an object or tuple constructor
    /// (not a `for` expression) opens there.
    fn group_at(&self, i: usize) -> Option<usize> {
        if !matches!(self.at(i), b'{' | b'[') {
            return None;
        }
        let j = self.ws(i + 1);
        if self.b[j.min(self.b.len())..].starts_with(b"for")
            && matches!(self.at(j + 3), b' ' | b'\t' | b'#' | b'/' | b'\n')
        {
            return None;
        }
        self.close(i)
    }

    /// Past the tokens of a value starting at `i`, up to (not past) a
    /// comma (with `comma`), a line break or line comment (with `lines`),
    /// or `end`.
    fn value_end(&self, mut i: usize, end: usize, comma: bool, lines: bool) -> Option<usize> {
        while i < end {
            match self.at(i) {
                b',' if comma => return Some(i),
                b'\n' | b'\r' if lines => return Some(i),
                b'#' | b'/' if lines && self.line_comment(i) => return Some(i),
                b'/' if self.at(i + 1) == b'*' => i = self.comment_end(i)?,
                b'#' | b'/' if self.line_comment(i) => i = self.line_end(i),
                b'"' => i = self.string_end(i)?,
                b'<' if self.at(i + 1) == b'<' => i = self.heredoc_end(i)?,
                b'{' | b'[' | b'(' => i = self.close(i)? + 1,
                b'}' | b']' | b')' => return None,
                _ => i += 1,
            }
        }
        (i == end).then_some(i)
    }

    /// The items of the body in `start..end` whose value is a group, or
    /// which are multi-line blocks.
    fn body_items(&self, start: usize, end: usize) -> Option<Vec<Item>> {
        let mut items = Vec::new();
        let mut i = start;
        loop {
            i = self.ws(i);
            if i >= end {
                return Some(items);
            }
            let ident = i..self.ident_end(i)?;
            i = self.sp(ident.end);
            if self.at(i) == b'=' {
                i = self.sp(i + 1);
                if let Some(close) = self.group_at(i) {
                    let after = self.sp(close + 1);
                    if self.line_break(after, end) || self.line_comment(after) {
                        items.push(Item {
                            key: ItemKey::Attribute(ident),
                            group: i..close + 1,
                            kind: GroupKind::Value,
                        });
                    }
                }
                i = self.value_end(i, end, false, true)?;
            } else {
                let mut labels = Vec::new();
                while self.at(i) != b'{' {
                    let label_end = if self.at(i) == b'"' {
                        self.string_end(i)?
                    } else {
                        self.ident_end(i)?
                    };
                    labels.push(i..label_end);
                    i = self.sp(label_end);
                }
                let close = self.close(i)?;
                let first = self.sp(i + 1);
                let first = if self.line_comment(first) {
                    self.line_end(first)
                } else {
                    first
                };
                if self.line_break(first, close) && first < close {
                    items.push(Item {
                        key: ItemKey::Block(ident, labels),
                        group: i..close + 1,
                        kind: GroupKind::BlockBody,
                    });
                }
                i = close + 1;
            }
            // The structure's line ends.
            i = self.sp(i);
            if self.line_comment(i) {
                i = self.line_end(i);
            }
            if !self.line_break(i, end) {
                return None;
            }
        }
    }

    /// Where the key of an object item starting at `i` ends: at the `=`
    /// or `:` that assigns its value (not `==`, `!=`, `<=`, `>=` or `=>`).
    fn key_end(&self, mut i: usize, close: usize) -> Option<usize> {
        while i < close {
            match self.at(i) {
                b'=' if !matches!(self.at(i + 1), b'=' | b'>') => return Some(i),
                b':' => return Some(i),
                b'=' | b'!' | b'<' | b'>' if matches!(self.at(i + 1), b'=' | b'>') => i += 2,
                b'"' => i = self.string_end(i)?,
                b'<' if self.at(i + 1) == b'<' => i = self.heredoc_end(i)?,
                b'{' | b'[' | b'(' => i = self.close(i)? + 1,
                b'/' if self.at(i + 1) == b'*' => i = self.comment_end(i)?,
                b'\n' | b',' | b'#' | b'}' | b']' | b')' => return None,
                b'/' if self.at(i + 1) == b'/' => return None,
                _ => i += 1,
            }
        }
        None
    }

    /// The items of the object whose braces are at `open` and `close`
    /// that hold a group.
    fn object_items(&self, open: usize, close: usize) -> Option<Vec<Item>> {
        let mut items = Vec::new();
        let mut i = open + 1;
        loop {
            i = self.ws(i);
            if i >= close {
                return Some(items);
            }
            // The key runs to the `=` or `:` that assigns the value.
            let key_start = i;
            i = self.key_end(i, close)?;
            let key = key_start..key_start + trimmed_len(&self.b[key_start..i]);
            i = self.sp(i + 1);
            if let Some(group_close) = self.group_at(i) {
                let after = self.sp(group_close + 1);
                if after >= close
                    || matches!(self.at(after), b',' | b'\n' | b'\r')
                    || self.line_comment(after)
                {
                    items.push(Item {
                        key: ItemKey::Key(key),
                        group: i..group_close + 1,
                        kind: GroupKind::Value,
                    });
                }
            }
            i = self.value_end(i, close, true, true)?;
            if self.at(i) == b',' {
                i += 1;
            }
        }
    }

    /// The elements of the tuple whose brackets are at `open` and `close`
    /// that are a group.
    fn tuple_items(&self, open: usize, close: usize) -> Option<Vec<Item>> {
        let mut items = Vec::new();
        let mut i = open + 1;
        let mut index = 0;
        loop {
            i = self.ws(i);
            if i >= close {
                return Some(items);
            }
            if let Some(group_close) = self.group_at(i) {
                let after = self.ws(group_close + 1);
                if after >= close || self.at(after) == b',' {
                    items.push(Item {
                        key: ItemKey::Index(index),
                        group: i..group_close + 1,
                        kind: GroupKind::Value,
                    });
                }
            }
            i = self.value_end(i, close, true, false)?;
            if self.at(i) == b',' {
                i += 1;
            }
            index += 1;
        }
    }

    /// The items of the group at `range` (an object or a tuple).
    fn group_items(&self, range: &Range<usize>) -> Option<Vec<Item>> {
        if self.at(range.start) == b'{' {
            self.object_items(range.start, range.end - 1)
        } else {
            self.tuple_items(range.start, range.end - 1)
        }
    }
}

/// The length of `text` without trailing white space.
fn trimmed_len(text: &[u8]) -> usize {
    text.iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(0, |p| p + 1)
}

/// How a piece is wrapped to be parsed at its depth.
#[derive(Debug, Clone, Copy)]
enum Wrap {
    /// A body, inside this many blocks (the innermost's braces are the
    /// piece's own).
    Body(usize),
    /// An expression, inside this many tuples.
    Expr(usize),
}

/// `src[range]` with the inside of each of `groups` blanked (line breaks
/// kept), wrapped for its depth; and where `range.start` is in it.
fn skeleton(
    src: &str,
    range: Range<usize>,
    groups: &[Item],
    wrap: Wrap,
) -> Result<(String, usize), GiveUp> {
    let (prefix, suffix) = match wrap {
        Wrap::Body(0) => (String::new(), String::new()),
        Wrap::Body(depth) => (
            "b {\n".repeat(depth - 1) + "b {",
            "}".to_owned() + &"\n}".repeat(depth - 1),
        ),
        Wrap::Expr(depth) => ("[".repeat(depth), "]".repeat(depth)),
    };
    let mut bytes = Vec::with_capacity(prefix.len() + range.len() + suffix.len());
    bytes.extend_from_slice(prefix.as_bytes());
    bytes.extend_from_slice(&src.as_bytes()[range.clone()]);
    bytes.extend_from_slice(suffix.as_bytes());
    let shift = prefix.len();
    for item in groups {
        let inside =
            item.group.start + 1 - range.start + shift..item.group.end - 1 - range.start + shift;
        for c in &mut bytes[inside] {
            if !matches!(*c, b'\n' | b'\r') {
                *c = b' ';
            }
        }
    }
    // Only whole characters became spaces (a group's brackets are ASCII):
    // the text stays UTF-8.
    String::from_utf8(bytes)
        .map(|text| (text, shift))
        .map_err(|_| GiveUp)
}

/// The body inside `depth` wrapping blocks.
fn unwrap_body(mut body: &Body, depth: usize) -> Result<&Body, GiveUp> {
    for _ in 0..depth {
        let mut structures = body.iter();
        body = match (structures.next(), structures.next()) {
            (Some(Structure::Block(block)), None) => &block.body,
            _ => return Err(GiveUp),
        };
    }
    Ok(body)
}

/// The expression inside `depth` wrapping tuples.
fn unwrap_expr(mut expr: &Expression, depth: usize) -> Result<&Expression, GiveUp> {
    for _ in 0..depth {
        expr = match expr {
            Expression::Array(items) if items.len() == 1 => items.iter().next().ok_or(GiveUp)?,
            _ => return Err(GiveUp),
        };
    }
    Ok(expr)
}

/// What a value built into the document is, for merging blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Built {
    Map,
    Seq,
    Other,
}

/// A value of a body's map as it is assembled: blocks with the same
/// identifier and labels nest and repeat as [`super::read`]'s JSON has
/// them, so a block's body stays open until the whole file is read.
#[derive(Debug)]
enum Slot {
    /// A value already in the document.
    Built(NodeId, Built),
    /// A block's body, or the blocks under an identifier or label.
    Map(Slots),
    /// Blocks with the same identifier and labels.
    List(Vec<Slot>),
}

/// An ordered map of [`Slot`]s.
#[derive(Debug, Default)]
struct Slots {
    entries: Vec<(String, Slot)>,
    index: HashMap<String, usize>,
}

impl Slots {
    fn get_mut(&mut self, key: &str) -> Option<&mut Slot> {
        let at = *self.index.get(key)?;
        Some(&mut self.entries[at].1)
    }

    fn push(&mut self, key: &str, slot: Slot) {
        self.index.insert(key.to_owned(), self.entries.len());
        self.entries.push((key.to_owned(), slot));
    }

    /// An attribute: a key already there keeps its place and takes the
    /// value.
    fn insert(&mut self, key: &str, slot: Slot) {
        match self.get_mut(key) {
            Some(old) => *old = slot,
            None => self.push(key, slot),
        }
    }

    /// A block under `keys` (its identifier and labels), as
    /// [`super::read`] places it; gives up where that would change a value
    /// already built (an attribute and a block of the same name).
    fn insert_block(&mut self, keys: &[String], inner: Slot) -> Result<(), GiveUp> {
        let Some((first, rest)) = keys.split_first() else {
            return Ok(());
        };
        if rest.is_empty() {
            match self.get_mut(first) {
                Some(Slot::List(items)) => items.push(inner),
                Some(Slot::Built(_, Built::Seq)) => return Err(GiveUp),
                Some(existing) => {
                    let old = std::mem::replace(existing, Slot::List(Vec::new()));
                    *existing = Slot::List(vec![old, inner]);
                }
                None => self.push(first, inner),
            }
            return Ok(());
        }
        if self.get_mut(first).is_none() {
            self.push(first, Slot::Map(Slots::default()));
        }
        match self.get_mut(first) {
            Some(Slot::Map(child)) => child.insert_block(rest, inner),
            Some(Slot::Built(_, Built::Map)) => Err(GiveUp),
            _ => Ok(()),
        }
    }

    /// The map, built into the document.
    fn finish(self, b: &mut DocumentBuilder) -> Result<NodeId, GiveUp> {
        b.begin_map();
        for (key, slot) in self.entries {
            let value = slot.finish(b)?;
            let key = b.key(&key)?;
            b.entry(key, value)?;
        }
        Ok(b.end_map()?)
    }
}

impl Slot {
    fn finish(self, b: &mut DocumentBuilder) -> Result<NodeId, GiveUp> {
        match self {
            Slot::Built(id, _) => Ok(id),
            Slot::Map(slots) => slots.finish(b),
            Slot::List(items) => {
                b.begin_seq();
                for item in items {
                    let id = item.finish(b)?;
                    b.item(id)?;
                }
                Ok(b.end_seq()?)
            }
        }
    }
}

/// An expression of a parsed piece, built into the document as
/// [`super::read`] reads it.
fn expr_node(b: &mut DocumentBuilder, src: &Source<'_>, e: &Expression) -> Result<Slot, GiveUp> {
    Ok(match e {
        Expression::Array(items) => {
            b.begin_seq();
            for item in items.iter() {
                let id = expr_node(b, src, item)?.finish(b)?;
                b.item(id)?;
            }
            Slot::Built(b.end_seq()?, Built::Seq)
        }
        Expression::Object(object) => {
            b.begin_map();
            for (k, v) in object.iter() {
                let key = b.key(&key_text(src, k))?;
                let id = expr_node(b, src, v.expr())?.finish(b)?;
                b.entry(key, id)?;
            }
            Slot::Built(b.end_map()?, Built::Map)
        }
        other => Slot::Built(b.value(&scalar_json(src, other))?, Built::Other),
    })
}

/// A body of a parsed piece, its blocks' bodies included.
fn body_slots(b: &mut DocumentBuilder, src: &Source<'_>, body: &Body) -> Result<Slots, GiveUp> {
    let mut slots = Slots::default();
    for structure in body.iter() {
        match structure {
            Structure::Attribute(a) => slots.insert(a.key.as_str(), expr_node(b, src, &a.value)?),
            Structure::Block(block) => {
                let inner = Slot::Map(body_slots(b, src, &block.body)?);
                slots.insert_block(&block_keys(block), inner)?;
            }
        }
    }
    Ok(slots)
}

/// Whether a skeleton's expression is what a blanked group becomes.
fn is_empty_collection(e: &Expression) -> bool {
    match e {
        Expression::Object(object) => object.is_empty(),
        Expression::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// The layered reader (see the [module docs](self)).
struct Reader<'s> {
    src: &'s str,
    scan: Scan<'s>,
    b: DocumentBuilder,
    /// Pieces up to this size are parsed whole.
    chunk: usize,
}

impl Reader<'_> {
    /// The groups of the piece at `range` to read on their own: none when
    /// it is small enough to parse whole.
    fn items(&self, range: &Range<usize>, body: bool) -> Result<Vec<Item>, GiveUp> {
        if range.len() <= self.chunk {
            return Ok(Vec::new());
        }
        if body {
            self.scan.body_items(range.start, range.end)
        } else {
            self.scan.group_items(range)
        }
        .ok_or(GiveUp)
    }

    /// The body at `range` (the file, or a block's text between its
    /// braces) whose structures the whole file's parse reads at nesting
    /// depth `depth`.
    fn body(&mut self, range: Range<usize>, depth: usize) -> Result<Slots, GiveUp> {
        let items = self.items(&range, true)?;
        let (text, shift) = skeleton(self.src, range.clone(), &items, Wrap::Body(depth))?;
        let parsed = hcl_edit::parser::parse_body(&text).map_err(|_| GiveUp)?;
        drop(text);
        let body = unwrap_body(&parsed, depth)?;
        let src = Source::shifted(self.src, range.start, shift);
        // Where each group sits in the skeleton.
        let to_text = |r: &Range<usize>| r.start - range.start + shift..r.end - range.start + shift;
        let mut values: HashMap<usize, (Range<usize>, Range<usize>)> = HashMap::new();
        let mut bodies: HashMap<usize, Range<usize>> = HashMap::new();
        for item in &items {
            match item.kind {
                GroupKind::Value => {
                    values.insert(
                        to_text(&item.group).start,
                        (to_text(&item.group), item.group.clone()),
                    );
                }
                GroupKind::BlockBody => {
                    bodies.insert(to_text(&item.group).end, item.group.clone());
                }
            }
        }
        let mut slots = Slots::default();
        for structure in body.iter() {
            match structure {
                Structure::Attribute(a) => {
                    let span = a.value.span().ok_or(GiveUp)?;
                    let value = match values.remove(&span.start) {
                        Some((at, group)) if at == span && is_empty_collection(&a.value) => {
                            self.group(group, depth)?
                        }
                        Some(_) => return Err(GiveUp),
                        None => expr_node(&mut self.b, &src, &a.value)?,
                    };
                    slots.insert(a.key.as_str(), value);
                }
                Structure::Block(block) => {
                    let end = block.span().ok_or(GiveUp)?.end;
                    let inner = match bodies.remove(&end) {
                        Some(group) if block.body.is_empty() => {
                            self.body(group.start + 1..group.end - 1, depth + 1)?
                        }
                        Some(_) => return Err(GiveUp),
                        None => body_slots(&mut self.b, &src, &block.body)?,
                    };
                    slots.insert_block(&block_keys(block), Slot::Map(inner))?;
                }
            }
        }
        if values.is_empty() && bodies.is_empty() {
            Ok(slots)
        } else {
            Err(GiveUp)
        }
    }

    /// The object or tuple at `range`, which the whole file's parse reads
    /// at nesting depth `depth`.
    fn group(&mut self, range: Range<usize>, depth: usize) -> Result<Slot, GiveUp> {
        let items = self.items(&range, false)?;
        let (text, shift) = skeleton(self.src, range.clone(), &items, Wrap::Expr(depth))?;
        let parsed = hcl_edit::parser::parse_expr(&text).map_err(|_| GiveUp)?;
        drop(text);
        let expr = unwrap_expr(&parsed, depth)?;
        if expr.span() != Some(shift..shift + range.len()) {
            return Err(GiveUp);
        }
        let src = Source::shifted(self.src, range.start, shift);
        let mut groups: HashMap<usize, (usize, Range<usize>)> = items
            .iter()
            .map(|item| {
                let start = item.group.start - range.start + shift;
                (start, (start + item.group.len(), item.group.clone()))
            })
            .collect();
        let object = self.src.as_bytes()[range.start] == b'{';
        let mut value = |reader: &mut Self, e: &Expression| -> Result<NodeId, GiveUp> {
            let span = e.span().ok_or(GiveUp)?;
            match groups.remove(&span.start) {
                Some((end, group)) if end == span.end && is_empty_collection(e) => {
                    reader.group(group, depth + 1)?.finish(&mut reader.b)
                }
                Some(_) => Err(GiveUp),
                None => expr_node(&mut reader.b, &src, e)?.finish(&mut reader.b),
            }
        };
        let slot = match expr {
            Expression::Object(o) if object => {
                self.b.begin_map();
                for (k, v) in o.iter() {
                    let key = self.b.key(&key_text(&src, k))?;
                    let id = value(self, v.expr())?;
                    self.b.entry(key, id)?;
                }
                Slot::Built(self.b.end_map()?, Built::Map)
            }
            Expression::Array(a) if !object => {
                self.b.begin_seq();
                for item in a.iter() {
                    let id = value(self, item)?;
                    self.b.item(id)?;
                }
                Slot::Built(self.b.end_seq()?, Built::Seq)
            }
            _ => return Err(GiveUp),
        };
        if groups.is_empty() {
            Ok(slot)
        } else {
            Err(GiveUp)
        }
    }
}

/// Reads an HCL text as [`super::read`] does, in layers whose pieces are
/// at most `chunk` bytes where the text allows; `Err` when it gives up.
pub(super) fn read(src: &str, chunk: usize) -> Result<Document, GiveUp> {
    let mut reader = Reader {
        src,
        scan: Scan { b: src.as_bytes() },
        b: DocumentBuilder::new(),
        chunk,
    };
    let slots = reader.body(0..src.len(), 0)?;
    let root = slots.finish(&mut reader.b)?;
    Ok(reader.b.finish(root)?)
}

/// The text with every group blanked that an update of `segments` does
/// not go through (the groups it ends at are blanked too: the planner only
/// needs their kind and span). Its tree has what the planner looks at, at
/// the same offsets as in the text.
pub(super) fn path_skeleton(src: &str, segments: &[String]) -> Result<String, GiveUp> {
    let scan = Scan { b: src.as_bytes() };
    let mut blank = Vec::new();
    path_body(&scan, src, 0..src.len(), segments, &mut blank)?;
    Ok(skeleton(src, 0..src.len(), &blank, Wrap::Body(0))?.0)
}

/// Whether the key or label text `raw` may name `segment`: an identifier
/// or a plain quoted string is compared, anything else may.
fn may_name(raw: &str, segment: &str) -> bool {
    match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) if !inner.contains(['\\', '$', '%']) => inner == segment,
        Some(_) => true,
        None if raw.bytes().all(is_ident_byte) => raw == segment,
        None => true,
    }
}

fn path_body(
    scan: &Scan<'_>,
    src: &str,
    range: Range<usize>,
    segments: &[String],
    blank: &mut Vec<Item>,
) -> Result<(), GiveUp> {
    for item in scan.body_items(range.start, range.end).ok_or(GiveUp)? {
        match (&item.key, segments.split_first()) {
            (ItemKey::Attribute(name), Some((first, rest))) if &src[name.clone()] == first => {
                path_group(scan, src, item.group.clone(), rest, blank)?;
            }
            (ItemKey::Block(ident, labels), Some((first, rest)))
                if &src[ident.clone()] == first
                    && rest.len() > labels.len()
                    && labels
                        .iter()
                        .zip(rest)
                        .all(|(l, s)| may_name(&src[l.clone()], s)) =>
            {
                let inner = item.group.start + 1..item.group.end - 1;
                path_body(scan, src, inner, &rest[labels.len()..], blank)?;
            }
            _ => blank.push(item),
        }
    }
    Ok(())
}

fn path_group(
    scan: &Scan<'_>,
    src: &str,
    range: Range<usize>,
    segments: &[String],
    blank: &mut Vec<Item>,
) -> Result<(), GiveUp> {
    let Some((first, rest)) = segments.split_first() else {
        blank.push(Item {
            key: ItemKey::Index(0),
            group: range,
            kind: GroupKind::Value,
        });
        return Ok(());
    };
    for item in scan.group_items(&range).ok_or(GiveUp)? {
        let on_path = match &item.key {
            ItemKey::Key(key) => may_name(&src[key.clone()], first),
            ItemKey::Index(i) => index_of(first) == Some(*i),
            _ => false,
        };
        if on_path {
            path_group(scan, src, item.group.clone(), rest, blank)?;
        } else {
            blank.push(item);
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "hcl_layered_tests.rs"]
mod tests;
