//! Reading and planning on a large HCL file without hcl-edit's syntax tree of
//! the whole file, which takes tens of times the text.
//!
//! # Pieces
//! A body, object or tuple larger than a chunk is read as *segments*: runs
//! of consecutive items (structures, object items, tuple elements) of about
//! a chunk each, parsed one at a time inside the brackets (or block) they
//! belong to. In a segment, each bracket group larger than a quarter of a
//! chunk that is a whole value (an attribute's or object item's value, a
//! tuple element) or a multi-line block's body is blanked out: every byte
//! but line breaks becomes a space, so the segment keeps its offsets and
//! its tree holds an empty collection there. Each blanked group is then
//! read on its own, the same way, down to groups small enough to parse
//! whole. What a whole parse checks across items is checked across
//! segments: attribute names and object keys are unique.
//!
//! A piece is parsed at the nesting depth the whole file's parse would
//! reach it at (inside as many wrapping `[`…`]` or `b {`…`}` as its depth),
//! so hcl-edit's nesting limit refuses exactly what it refuses in the whole
//! file. The scanner that finds the items and groups ([`Scan`]) knows only
//! tokens (strings and their templates, heredocs, comments, brackets) and
//! the separators between items; whatever it gets wrong is caught: a
//! segment must parse to exactly the items the scanner found, each blanked
//! group must come back as an empty collection spanning exactly that group
//! (or as an empty block body ending there), and each group read on its
//! own must parse to one collection spanning all of it. Anything else gives
//! up ([`GiveUp`]), and the caller parses the whole file as before, which
//! also gives the exact error for a file that does not parse.
//!
//! A group that hcl-edit reads as a collection in its segment and alone is
//! read the same in the whole file: a collection's parse runs from its
//! opening to its closing bracket whatever follows, and what follows is the
//! same text in both.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use hcl_edit::Span;
use hcl_edit::expr::{Expression, ObjectKey};
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

/// The most items a segment holds: hcl-edit checks an object's keys
/// against each other, in time that grows with the square of their number.
const MAX_SEGMENT_ITEMS: usize = 256;

/// How an item is named.
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

/// An item of a body, object or tuple.
#[derive(Debug, Clone)]
struct Item {
    key: ItemKey,
    /// From the item's first byte to its value's (or block's) last.
    extent: Range<usize>,
    /// Its value or body, when that is a bracket group that can be read
    /// on its own (brackets included): an object or tuple that is the whole
    /// value, or a multi-line block's body.
    group: Option<Range<usize>>,
}

impl Item {
    /// The group, when it is larger than `min`.
    fn group_over(&self, min: usize) -> Option<&Range<usize>> {
        self.group.as_ref().filter(|g| g.len() > min)
    }
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
    /// `/*` is none: the scan stops there).
    fn comment_end(&self, i: usize) -> Option<usize> {
        match (self.at(i), self.at(i + 1)) {
            (b'#', _) | (b'/', b'/') => Some(self.line_end(i)),
            (b'/', b'*') => self.b[i + 2..]
                .windows(2)
                .position(|w| w == b"*/")
                .map(|p| i + 2 + p + 2),
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
                b'/' if self.at(i + 1) == b'*' => match self.comment_end(i) {
                    Some(end) => i = end,
                    None => return i,
                },
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

    /// The structures of the body in `start..end` (the file, or a block's
    /// text between its braces).
    fn body_items(&self, start: usize, end: usize) -> Option<Vec<Item>> {
        let mut items = Vec::new();
        let mut i = start;
        loop {
            i = self.ws(i);
            if i >= end {
                return Some(items);
            }
            let first = i;
            let ident = i..self.ident_end(i)?;
            i = self.sp(ident.end);
            let (key, group) = if self.at(i) == b'=' {
                i = self.sp(i + 1);
                let mut group = None;
                if let Some(close) = self.group_at(i) {
                    let after = self.sp(close + 1);
                    if self.line_break(after, end) || self.line_comment(after) {
                        group = Some(i..close + 1);
                    }
                }
                i = self.value_end(i, end, false, true)?;
                (ItemKey::Attribute(ident), group)
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
                let group =
                    (self.line_break(first, close) && first < close).then_some(i..close + 1);
                i = close + 1;
                (ItemKey::Block(ident, labels), group)
            };
            let extent = first..first + trimmed_len(&self.b[first..i]);
            items.push(Item { key, extent, group });
            // The structure's line ends: a block's body ends with a line
            // break before its brace; only the file may end right after a
            // structure.
            i = self.sp(i);
            if self.line_comment(i) {
                i = self.line_end(i);
            }
            let ends = if i >= end {
                end == self.b.len()
            } else {
                self.line_break(i, end)
            };
            if !ends {
                return None;
            }
        }
    }

    /// The items of the object whose braces are at `open` and `close`.
    fn object_items(&self, open: usize, close: usize) -> Option<Vec<Item>> {
        let mut items = Vec::new();
        let mut i = open + 1;
        loop {
            i = self.ws(i);
            if i >= close {
                return Some(items);
            }
            let first = i;
            i = self.key_end(i, close)?;
            let key = first..first + trimmed_len(&self.b[first..i]);
            i = self.sp(i + 1);
            let mut group = None;
            if let Some(group_close) = self.group_at(i) {
                let after = self.sp(group_close + 1);
                if after >= close
                    || matches!(self.at(after), b',' | b'\n' | b'\r')
                    || self.line_comment(after)
                {
                    group = Some(i..group_close + 1);
                }
            }
            i = self.value_end(i, close, true, true)?;
            let extent = first..first + trimmed_len(&self.b[first..i]);
            items.push(Item {
                key: ItemKey::Key(key),
                extent,
                group,
            });
            // What ends an item: a comma, a line break (a lone `\r` is
            // none), a line comment and its line break, or the brace.
            match self.at(i) {
                b',' | b'\n' => i += 1,
                b'\r' if self.at(i + 1) == b'\n' => i += 2,
                b'#' | b'/' => {
                    i = self.line_end(i);
                    if i >= close {
                        return None;
                    }
                }
                _ if i >= close => {}
                _ => return None,
            }
        }
    }

    /// The elements of the tuple whose brackets are at `open` and `close`.
    fn tuple_items(&self, open: usize, close: usize) -> Option<Vec<Item>> {
        let mut items = Vec::new();
        let mut i = open + 1;
        loop {
            i = self.ws(i);
            if i >= close {
                return Some(items);
            }
            let first = i;
            let mut group = None;
            if let Some(group_close) = self.group_at(i) {
                let after = self.ws(group_close + 1);
                if after >= close || self.at(after) == b',' {
                    group = Some(i..group_close + 1);
                }
            }
            i = self.value_end(i, close, true, false)?;
            let extent = first..first + trimmed_len(&self.b[first..i]);
            items.push(Item {
                key: ItemKey::Index(items.len()),
                extent,
                group,
            });
            if self.at(i) == b',' {
                i += 1;
            }
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

/// The length of `text` without trailing white space: an item's extent
/// ends at its last non-blank byte.
fn trimmed_len(text: &[u8]) -> usize {
    text.iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(0, |p| p + 1)
}

/// `prefix`, then `src[range]` with the inside of each of `blanks` (bracket
/// groups) blanked, line breaks kept, then `suffix`; and where
/// `range.start` is in it.
fn piece(
    src: &str,
    prefix: &str,
    range: Range<usize>,
    blanks: &[Range<usize>],
    suffix: &str,
) -> Result<(String, usize), GiveUp> {
    let mut bytes = Vec::with_capacity(prefix.len() + range.len() + suffix.len());
    bytes.extend_from_slice(prefix.as_bytes());
    bytes.extend_from_slice(&src.as_bytes()[range.clone()]);
    bytes.extend_from_slice(suffix.as_bytes());
    let shift = prefix.len();
    for group in blanks {
        let inside = group.start + 1 - range.start + shift..group.end - 1 - range.start + shift;
        blank(&mut bytes[inside]);
    }
    // Only whole characters became spaces (a group's brackets are ASCII):
    // the text stays UTF-8.
    String::from_utf8(bytes)
        .map(|text| (text, shift))
        .map_err(|_| GiveUp)
}

/// Every byte but line breaks becomes a space.
fn blank(bytes: &mut [u8]) {
    for c in bytes {
        if !matches!(*c, b'\n' | b'\r') {
            *c = b' ';
        }
    }
}

/// The text around a body read at nesting depth `depth`: blocks opening
/// and closing on lines of their own; or, for a block's whole body (its
/// text between the braces, `own_braces`), the innermost block's braces
/// right around it, as the block wrote them.
fn block_wrap(depth: usize, own_braces: bool) -> (String, String) {
    match depth {
        0 => (String::new(), String::new()),
        _ if own_braces => (
            "b {\n".repeat(depth - 1) + "b {",
            "}".to_owned() + &"\n}".repeat(depth - 1),
        ),
        _ => ("b {\n".repeat(depth), "\n}".repeat(depth)),
    }
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

fn parse_body(text: &str) -> Result<Body, GiveUp> {
    hcl_edit::parser::parse_body(text).map_err(|_| GiveUp)
}

fn parse_expr(text: &str) -> Result<Expression, GiveUp> {
    hcl_edit::parser::parse_expr(text).map_err(|_| GiveUp)
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
/// them, so the map of a block another block nests into stays open until
/// its body is read.
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
    /// already built (an attribute and a block of the same name, or a block
    /// another one nests into that was closed).
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

/// The identifiers and labels that begin another block's (a body's blocks
/// given by theirs): those blocks' maps stay open, any other block's body
/// is built into the document as soon as it is read.
fn open_blocks(blocks: impl Iterator<Item = Vec<String>>) -> HashSet<Vec<String>> {
    let mut open = HashSet::new();
    for keys in blocks {
        for len in 1..keys.len() {
            open.insert(keys[..len].to_vec());
        }
    }
    open
}

/// A block's body as its slot: kept open when another block nests into it.
fn block_slot(
    b: &mut DocumentBuilder,
    open: &HashSet<Vec<String>>,
    keys: &[String],
    inner: Slots,
) -> Result<Slot, GiveUp> {
    Ok(if open.contains(keys) {
        Slot::Map(inner)
    } else {
        Slot::Built(inner.finish(b)?, Built::Map)
    })
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
    let open = open_blocks(body.iter().filter_map(|s| match s {
        Structure::Block(block) => Some(block_keys(block)),
        Structure::Attribute(_) => None,
    }));
    let mut slots = Slots::default();
    for structure in body.iter() {
        match structure {
            Structure::Attribute(a) => slots.insert(a.key.as_str(), expr_node(b, src, &a.value)?),
            Structure::Block(block) => {
                let keys = block_keys(block);
                let inner = body_slots(b, src, &block.body)?;
                let inner = block_slot(b, &open, &keys, inner)?;
                slots.insert_block(&keys, inner)?;
            }
        }
    }
    Ok(slots)
}

/// Whether a piece's expression is what a blanked group becomes.
fn is_empty_collection(e: &Expression) -> bool {
    match e {
        Expression::Object(object) => object.is_empty(),
        Expression::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// An object's keys across its segments, compared as hcl-edit compares
/// them within one parse (a key repeated is refused).
#[derive(Default)]
struct Keys {
    /// Identifiers (`true`) and strings, by their value.
    plain: HashSet<(bool, String)>,
    /// Any other expression.
    other: Vec<Expression>,
}

impl Keys {
    /// Whether `key` is new.
    fn insert(&mut self, key: &ObjectKey) -> bool {
        match key {
            ObjectKey::Ident(ident) => self.plain.insert((true, ident.as_str().to_owned())),
            ObjectKey::Expression(Expression::String(s)) => {
                self.plain.insert((false, s.value().clone()))
            }
            ObjectKey::Expression(e) => {
                let new = !self.other.contains(e);
                if new {
                    self.other.push(e.clone());
                }
                new
            }
        }
    }
}

/// A scanned key or label as the tree has it: an identifier, or a quoted
/// string without escapes, as its text; `None` otherwise.
fn plain_name(raw: &str) -> Option<&str> {
    match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) if !inner.contains(['\\', '$', '%']) => Some(inner),
        Some(_) => None,
        None if raw.bytes().all(is_ident_byte) => Some(raw),
        None => None,
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

impl<'s> Reader<'s> {
    /// Groups larger than this are read on their own.
    fn blank_min(&self) -> usize {
        self.chunk / 4
    }

    /// `items` in runs of about a chunk (their groups read on their own
    /// not counted), as index ranges.
    fn segments(&self, items: &[Item]) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        let (mut start, mut bytes) = (0, 0);
        for (i, item) in items.iter().enumerate() {
            let size = item.extent.len() - item.group_over(self.blank_min()).map_or(0, Range::len);
            if i > start && (bytes + size > self.chunk || i - start >= MAX_SEGMENT_ITEMS) {
                out.push(start..i);
                (start, bytes) = (i, 0);
            }
            bytes += size;
        }
        if start < items.len() {
            out.push(start..items.len());
        }
        out
    }

    /// The groups of `items` read on their own.
    fn blanks(&self, items: &[Item]) -> Vec<Range<usize>> {
        items
            .iter()
            .filter_map(|item| item.group_over(self.blank_min()).cloned())
            .collect()
    }

    /// The body at `range` (the file, or a block's text between its
    /// braces) whose structures the whole file's parse reads at nesting
    /// depth `depth`.
    fn body(&mut self, range: Range<usize>, depth: usize) -> Result<Slots, GiveUp> {
        if range.len() <= self.chunk {
            let (prefix, suffix) = block_wrap(depth, true);
            let (text, shift) = piece(self.src, &prefix, range.clone(), &[], &suffix)?;
            let parsed = parse_body(&text)?;
            drop(text);
            let body = unwrap_body(&parsed, depth)?;
            let src = Source::shifted(self.src, range.start, shift);
            return body_slots(&mut self.b, &src, body);
        }
        let text: &'s str = self.src;
        let items = self.scan.body_items(range.start, range.end).ok_or(GiveUp)?;
        let open = open_blocks(items.iter().filter_map(|item| {
            match &item.key {
                ItemKey::Block(ident, labels) => Some(
                    std::iter::once(ident)
                        .chain(labels)
                        .map(|r| {
                            plain_name(&text[r.clone()])
                                .unwrap_or(&text[r.clone()])
                                .to_owned()
                        })
                        .collect(),
                ),
                _ => None,
            }
        }));
        let mut names: HashSet<&'s str> = HashSet::new();
        let mut slots = Slots::default();
        let (prefix, suffix) = block_wrap(depth, false);
        for segment in self.segments(&items) {
            let items = &items[segment];
            let span = items[0].extent.start..items[items.len() - 1].extent.end;
            let (piece_text, shift) =
                piece(text, &prefix, span.clone(), &self.blanks(items), &suffix)?;
            let parsed = parse_body(&piece_text)?;
            drop(piece_text);
            let body = unwrap_body(&parsed, depth)?;
            if body.len() != items.len() {
                return Err(GiveUp);
            }
            let src = Source::shifted(text, span.start, shift);
            let at = |r: &Range<usize>| r.start - span.start + shift..r.end - span.start + shift;
            for (structure, item) in body.iter().zip(items) {
                let blank = item.group_over(self.blank_min());
                match (structure, &item.key) {
                    (Structure::Attribute(a), ItemKey::Attribute(name)) => {
                        let name = &text[name.clone()];
                        if a.key.as_str() != name || !names.insert(name) {
                            return Err(GiveUp);
                        }
                        let value = match blank {
                            Some(g)
                                if a.value.span() == Some(at(g))
                                    && is_empty_collection(&a.value) =>
                            {
                                self.group(g.clone(), depth)?
                            }
                            Some(_) => return Err(GiveUp),
                            None => expr_node(&mut self.b, &src, &a.value)?,
                        };
                        slots.insert(name, value);
                    }
                    (Structure::Block(block), ItemKey::Block(..)) => {
                        let keys = block_keys(block);
                        let inner = match blank {
                            Some(g)
                                if block.body.is_empty()
                                    && block.span().map(|s| s.end) == Some(at(g).end) =>
                            {
                                self.body(g.start + 1..g.end - 1, depth + 1)?
                            }
                            Some(_) => return Err(GiveUp),
                            None => body_slots(&mut self.b, &src, &block.body)?,
                        };
                        let inner = block_slot(&mut self.b, &open, &keys, inner)?;
                        slots.insert_block(&keys, inner)?;
                    }
                    _ => return Err(GiveUp),
                }
            }
        }
        Ok(slots)
    }

    /// The object or tuple at `range`, which the whole file's parse reads
    /// at nesting depth `depth`.
    fn group(&mut self, range: Range<usize>, depth: usize) -> Result<Slot, GiveUp> {
        let object = self.src.as_bytes()[range.start] == b'{';
        let (prefix, suffix) = ("[".repeat(depth), "]".repeat(depth));
        if range.len() <= self.chunk {
            let (text, shift) = piece(self.src, &prefix, range.clone(), &[], &suffix)?;
            let parsed = parse_expr(&text)?;
            drop(text);
            let expr = unwrap_expr(&parsed, depth)?;
            let kind_matches = matches!(
                (expr, object),
                (Expression::Object(_), true) | (Expression::Array(_), false)
            );
            if !kind_matches || expr.span() != Some(shift..shift + range.len()) {
                return Err(GiveUp);
            }
            return expr_node(
                &mut self.b,
                &Source::shifted(self.src, range.start, shift),
                expr,
            );
        }
        let text: &'s str = self.src;
        let items = self.scan.group_items(&range).ok_or(GiveUp)?;
        let (open, close) = if object { ("{", "}") } else { ("[", "]") };
        let (prefix, suffix) = (prefix + open, close.to_owned() + &suffix);
        let mut keys = Keys::default();
        if object {
            self.b.begin_map();
        } else {
            self.b.begin_seq();
        }
        for segment in self.segments(&items) {
            let items = &items[segment];
            let span = items[0].extent.start..items[items.len() - 1].extent.end;
            let (piece_text, shift) =
                piece(text, &prefix, span.clone(), &self.blanks(items), &suffix)?;
            let whole = depth..piece_text.len() - depth;
            let parsed = parse_expr(&piece_text)?;
            drop(piece_text);
            let expr = unwrap_expr(&parsed, depth)?;
            if expr.span() != Some(whole) {
                return Err(GiveUp);
            }
            let src = Source::shifted(text, span.start, shift);
            let at = |r: &Range<usize>| r.start - span.start + shift..r.end - span.start + shift;
            match expr {
                Expression::Object(o) if object && o.len() == items.len() => {
                    for ((k, v), item) in o.iter().zip(items) {
                        if !keys.insert(k) {
                            return Err(GiveUp);
                        }
                        let key = self.b.key(&key_text(&src, k))?;
                        let id = self.value(v.expr(), item, &src, at(&item.extent), depth)?;
                        self.b.entry(key, id)?;
                    }
                }
                Expression::Array(a) if !object && a.len() == items.len() => {
                    for (e, item) in a.iter().zip(items) {
                        let id = self.value(e, item, &src, at(&item.extent), depth)?;
                        self.b.item(id)?;
                    }
                }
                _ => return Err(GiveUp),
            }
        }
        Ok(if object {
            Slot::Built(self.b.end_map()?, Built::Map)
        } else {
            Slot::Built(self.b.end_seq()?, Built::Seq)
        })
    }

    /// The value `e` of a segment's `item` (whose extent is at `extent`
    /// in the segment): read on its own when its group was blanked.
    fn value(
        &mut self,
        e: &Expression,
        item: &Item,
        src: &Source<'_>,
        extent: Range<usize>,
        depth: usize,
    ) -> Result<NodeId, GiveUp> {
        match item.group_over(self.blank_min()) {
            Some(g) => {
                // The group's place in the segment, from the item's.
                let start = extent.start + (g.start - item.extent.start);
                if e.span() != Some(start..start + g.len()) || !is_empty_collection(e) {
                    return Err(GiveUp);
                }
                self.group(g.clone(), depth + 1)?.finish(&mut self.b)
            }
            None => expr_node(&mut self.b, src, e)?.finish(&mut self.b),
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

/// How [`path_skeleton`] fills a range of the text.
enum Fill {
    /// A group off the path: its inside blanked.
    Inside(Range<usize>),
    /// An item off the path: all of it blanked (with what separates it
    /// from the next item).
    Whole(Range<usize>),
    /// A tuple element off the path: `0`, then blanks (the elements keep
    /// their number).
    Zero(Range<usize>),
}

/// The text as the planner needs it for an update of `segments`, at the
/// same offsets: along the path, every item; off it, in a body or object,
/// the first and last items (where new entries go), their groups blanked,
/// and nothing else; in a tuple, every element, as an empty group or `0`.
/// The groups the path ends at are blanked too: the planner only needs
/// their kind and span.
pub(super) fn path_skeleton(src: &str, segments: &[String]) -> Result<String, GiveUp> {
    let scan = Scan { b: src.as_bytes() };
    let mut fills = Vec::new();
    path_body(&scan, src, 0..src.len(), segments, &mut fills)?;
    let mut bytes = src.as_bytes().to_vec();
    for fill in fills {
        match fill {
            Fill::Inside(r) => blank(&mut bytes[r.start + 1..r.end - 1]),
            Fill::Whole(r) => blank(&mut bytes[r]),
            Fill::Zero(r) => {
                bytes[r.start] = b'0';
                blank(&mut bytes[r.start + 1..r.end]);
            }
        }
    }
    String::from_utf8(bytes).map_err(|_| GiveUp)
}

/// Whether the key or label text `raw` may name `segment`: an identifier
/// or a plain quoted string is compared, anything else may.
fn may_name(raw: &str, segment: &str) -> bool {
    plain_name(raw).is_none_or(|name| name == segment)
}

/// What to fill for item `n` of `items`, off the path: the first and last
/// keep their place (their group blanked), the others go with what
/// separates them from the next.
fn off_path(items: &[Item], n: usize, fills: &mut Vec<Fill>) {
    if n == 0 || n + 1 == items.len() {
        if let Some(group) = &items[n].group {
            fills.push(Fill::Inside(group.clone()));
        }
    } else {
        fills.push(Fill::Whole(
            items[n].extent.start..items[n + 1].extent.start,
        ));
    }
}

fn path_body(
    scan: &Scan<'_>,
    src: &str,
    range: Range<usize>,
    segments: &[String],
    fills: &mut Vec<Fill>,
) -> Result<(), GiveUp> {
    let items = scan.body_items(range.start, range.end).ok_or(GiveUp)?;
    for (n, item) in items.iter().enumerate() {
        let Some((first, rest)) = segments.split_first() else {
            off_path(&items, n, fills);
            continue;
        };
        match (&item.key, &item.group) {
            (ItemKey::Attribute(name), group) if &src[name.clone()] == first => {
                if let Some(group) = group {
                    path_group(scan, src, group.clone(), rest, fills)?;
                }
            }
            (ItemKey::Block(ident, labels), group)
                if &src[ident.clone()] == first
                    && rest.len() > labels.len()
                    && labels
                        .iter()
                        .zip(rest)
                        .all(|(l, s)| may_name(&src[l.clone()], s)) =>
            {
                if let Some(group) = group {
                    let inner = group.start + 1..group.end - 1;
                    path_body(scan, src, inner, &rest[labels.len()..], fills)?;
                }
            }
            _ => off_path(&items, n, fills),
        }
    }
    Ok(())
}

fn path_group(
    scan: &Scan<'_>,
    src: &str,
    range: Range<usize>,
    segments: &[String],
    fills: &mut Vec<Fill>,
) -> Result<(), GiveUp> {
    let Some((first, rest)) = segments.split_first() else {
        fills.push(Fill::Inside(range));
        return Ok(());
    };
    let items = scan.group_items(&range).ok_or(GiveUp)?;
    let object = src.as_bytes()[range.start] == b'{';
    for (n, item) in items.iter().enumerate() {
        let on_path = match &item.key {
            ItemKey::Key(key) => may_name(&src[key.clone()], first),
            ItemKey::Index(i) => index_of(first) == Some(*i),
            _ => false,
        };
        match (&item.group, on_path) {
            (Some(group), true) => path_group(scan, src, group.clone(), rest, fills)?,
            (None, true) => {}
            _ if object => off_path(&items, n, fills),
            (Some(group), false) => fills.push(Fill::Inside(group.clone())),
            (None, false) => fills.push(Fill::Zero(item.extent.clone())),
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "hcl_layered_tests.rs"]
mod tests;
