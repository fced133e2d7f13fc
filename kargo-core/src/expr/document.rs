//! [`Document`]: a compact, read-only JSON-shaped tree for the documents
//! parse steps read (`yaml-parse`, `json-parse`, ...), which expressions
//! see as `$env`.
//!
//! # Why not `serde_json::Value`
//! A parse step's file may be tens of megabytes. As a `serde_json::Value`
//! every string, list and map is a heap allocation of its own and every
//! map an index map: about eight to ten times the file. Handing that to
//! minijinja converted it once more, into minijinja's own values. A
//! [`Document`] keeps every node in one array (16 bytes each), all the
//! text in one string and the children in two index arrays, so a document
//! takes about three times its file, and is never converted as a whole:
//! an expression sees it through a lazy minijinja object that makes a
//! value only of what the expression reads (`$env.image.tag` makes two
//! maps' views and one string).
//!
//! # What an expression sees
//! Exactly what the JSON value would give it: maps with their keys in
//! sorted order (as minijinja's own maps are), sequences, strings,
//! booleans, `nil`, and numbers as `serde_json` would hand them over
//! (non-negative integers unsigned, negative ones signed, floats as
//! floats). [`Document::to_json`] gives the document back as JSON with its
//! keys in the order the file wrote them.

use std::fmt;
use std::sync::Arc;

use minijinja::Value as MjValue;
use minijinja::value::{Enumerator, Object, ObjectExt, ObjectRepr};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// A read-only, JSON-shaped document in a compact form; cheap to clone
/// (shared). See the [module docs](self).
///
/// ```
/// use kargo_core::expr::Document;
/// use serde_json::json;
///
/// let doc: Document = serde_json::from_str(r#"{"image": {"tag": "v1"}, "n": [1, 2]}"#).unwrap();
/// assert_eq!(doc.to_json(), json!({"image": {"tag": "v1"}, "n": [1, 2]}));
/// ```
#[derive(Clone)]
pub struct Document {
    tree: Arc<Tree>,
    root: u32,
}

impl fmt::Debug for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Document")
            .field("nodes", &self.tree.nodes.len())
            .field("text_bytes", &self.tree.text.len())
            .finish()
    }
}

/// Why a [`DocumentBuilder`] could not build a document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DocumentError {
    /// The document has more than 4 GiB of text or more than 2^32 nodes.
    #[error("the document is too large to hold (more than 4 GiB of text or 2^32 values)")]
    TooLarge,
    /// The builder was called out of order (a bug in the reader using it).
    #[error("document builder: {0}")]
    Misuse(&'static str),
}

/// A byte range of [`Tree::text`], or an index range of
/// [`Tree::items`] / [`Tree::entries`].
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u32,
    len: u32,
}

impl Span {
    fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.start as usize + self.len as usize
    }
}

#[derive(Debug, Clone, Copy)]
enum Node {
    Null,
    Bool(bool),
    /// A negative integer (non-negative ones are `UInt`, as serde_json
    /// holds them).
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(Span),
    /// Items in [`Tree::items`].
    Seq(Span),
    /// Entries in [`Tree::entries`] (in the order written) and
    /// [`Tree::sorted`] (the same entries' offsets, sorted by key).
    Map(Span),
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    key: Span,
    value: u32,
}

#[derive(Debug, Default)]
struct Tree {
    nodes: Vec<Node>,
    items: Vec<u32>,
    entries: Vec<Entry>,
    sorted: Vec<u32>,
    text: String,
}

impl Tree {
    fn str(&self, span: Span) -> &str {
        &self.text[span.range()]
    }

    fn entries(&self, span: Span) -> &[Entry] {
        &self.entries[span.range()]
    }

    /// The entries of a map, sorted by key.
    fn sorted_entries(&self, span: Span) -> impl DoubleEndedIterator<Item = &Entry> + '_ {
        let entries = self.entries(span);
        self.sorted[span.range()]
            .iter()
            .map(move |&i| &entries[i as usize])
    }

    fn lookup(&self, span: Span, key: &str) -> Option<u32> {
        let entries = self.entries(span);
        let order = &self.sorted[span.range()];
        order
            .binary_search_by(|&i| self.str(entries[i as usize].key).cmp(key))
            .ok()
            .map(|at| entries[order[at] as usize].value)
    }

    fn json(&self, node: u32) -> Value {
        match self.nodes[node as usize] {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(b),
            Node::Int(i) => Value::from(i),
            Node::UInt(u) => Value::from(u),
            Node::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
            Node::Str(s) => Value::String(self.str(s).to_owned()),
            Node::Seq(span) => Value::Array(
                self.items[span.range()]
                    .iter()
                    .map(|&i| self.json(i))
                    .collect(),
            ),
            Node::Map(span) => Value::Object(
                self.entries(span)
                    .iter()
                    .map(|e| (self.str(e.key).to_owned(), self.json(e.value)))
                    .collect::<Map<_, _>>(),
            ),
        }
    }
}

impl Document {
    /// The document holding `value`.
    pub fn from_json(value: &Value) -> Document {
        let mut b = DocumentBuilder::new();
        // A `serde_json::Value` is far smaller than 4 GiB of text, and a
        // balanced walk cannot misuse the builder.
        b.value(value)
            .and_then(|root| b.finish(root))
            .unwrap_or_else(|_| Document::null())
    }

    /// The document `null`.
    pub fn null() -> Document {
        Document {
            tree: Arc::new(Tree {
                nodes: vec![Node::Null],
                ..Tree::default()
            }),
            root: 0,
        }
    }

    /// The document as JSON, its maps' keys in the order they were
    /// written (a key written twice keeps its first place and its last
    /// value).
    pub fn to_json(&self) -> Value {
        self.tree.json(self.root)
    }

    /// The document as an expression sees it: scalars as values, maps and
    /// sequences as lazy views.
    pub(crate) fn to_minijinja(&self) -> MjValue {
        node_value(&self.tree, self.root)
    }

    /// The root node, to read the document without converting it.
    pub fn root(&self) -> NodeRef<'_> {
        NodeRef {
            tree: &self.tree,
            node: self.root,
        }
    }
}

/// A node of a [`Document`], read in place.
#[derive(Clone, Copy)]
pub struct NodeRef<'d> {
    tree: &'d Tree,
    node: u32,
}

impl fmt::Debug for NodeRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeRef({})", self.node)
    }
}

/// What a [`NodeRef`] holds, as a `serde_json::Value` would.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum NodeKind<'d> {
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A negative integer (non-negative ones are [`UInt`](Self::UInt)).
    Int(i64),
    /// A non-negative integer.
    UInt(u64),
    /// A float.
    Float(f64),
    /// A string.
    Str(&'d str),
    /// A sequence of this many items.
    Seq(usize),
    /// A map of this many entries.
    Map(usize),
}

impl<'d> NodeRef<'d> {
    /// What the node holds.
    pub fn kind(&self) -> NodeKind<'d> {
        match self.tree.nodes[self.node as usize] {
            Node::Null => NodeKind::Null,
            Node::Bool(b) => NodeKind::Bool(b),
            Node::Int(i) => NodeKind::Int(i),
            Node::UInt(u) => NodeKind::UInt(u),
            Node::Float(f) => NodeKind::Float(f),
            Node::Str(s) => NodeKind::Str(self.tree.str(s)),
            Node::Seq(span) => NodeKind::Seq(span.len as usize),
            Node::Map(span) => NodeKind::Map(span.len as usize),
        }
    }

    fn at(&self, node: u32) -> NodeRef<'d> {
        NodeRef {
            tree: self.tree,
            node,
        }
    }

    /// A sequence's items, in order (none for another kind).
    pub fn items(&self) -> impl ExactSizeIterator<Item = NodeRef<'d>> + 'd {
        let this = *self;
        let items: &'d [u32] = match self.tree.nodes[self.node as usize] {
            Node::Seq(span) => &self.tree.items[span.range()],
            _ => &[],
        };
        items.iter().map(move |&i| this.at(i))
    }

    /// A map's entries, in the order written (none for another kind).
    pub fn entries(&self) -> impl ExactSizeIterator<Item = (&'d str, NodeRef<'d>)> + 'd {
        let this = *self;
        let tree: &'d Tree = self.tree;
        let entries: &'d [Entry] = match tree.nodes[self.node as usize] {
            Node::Map(span) => tree.entries(span),
            _ => &[],
        };
        entries
            .iter()
            .map(move |e| (tree.str(e.key), this.at(e.value)))
    }

    /// A map's value at `key`.
    pub fn get(&self, key: &str) -> Option<NodeRef<'d>> {
        match self.tree.nodes[self.node as usize] {
            Node::Map(span) => self.tree.lookup(span, key).map(|id| self.at(id)),
            _ => None,
        }
    }

    /// The node as JSON.
    pub fn to_json(&self) -> Value {
        self.tree.json(self.node)
    }

    /// Whether the node equals `value` as two `serde_json::Value`s compare
    /// (maps regardless of order).
    pub fn eq_json(&self, value: &Value) -> bool {
        match (self.kind(), value) {
            (NodeKind::Null, Value::Null) => true,
            (NodeKind::Bool(a), Value::Bool(b)) => a == *b,
            (NodeKind::Int(a), Value::Number(b)) => b.as_i64() == Some(a) && !b.is_u64(),
            (NodeKind::UInt(a), Value::Number(b)) => b.as_u64() == Some(a),
            (NodeKind::Float(a), Value::Number(b)) => b.is_f64() && b.as_f64() == Some(a),
            (NodeKind::Str(a), Value::String(b)) => a == b,
            (NodeKind::Seq(len), Value::Array(items)) => {
                len == items.len() && self.items().zip(items).all(|(a, b)| a.eq_json(b))
            }
            (NodeKind::Map(len), Value::Object(map)) => {
                len == map.len()
                    && map
                        .iter()
                        .all(|(k, v)| self.get(k).is_some_and(|n| n.eq_json(v)))
            }
            _ => false,
        }
    }

    /// Whether two nodes (of any documents) are equal as their JSON would
    /// be (maps regardless of order).
    pub fn eq_node(&self, other: &NodeRef<'_>) -> bool {
        match (self.kind(), other.kind()) {
            (NodeKind::Null, NodeKind::Null) => true,
            (NodeKind::Bool(a), NodeKind::Bool(b)) => a == b,
            (NodeKind::Int(a), NodeKind::Int(b)) => a == b,
            (NodeKind::UInt(a), NodeKind::UInt(b)) => a == b,
            (NodeKind::Float(a), NodeKind::Float(b)) => a == b,
            (NodeKind::Str(a), NodeKind::Str(b)) => a == b,
            (NodeKind::Seq(a), NodeKind::Seq(b)) => {
                a == b && self.items().zip(other.items()).all(|(x, y)| x.eq_node(&y))
            }
            (NodeKind::Map(a), NodeKind::Map(b)) => {
                a == b
                    && self
                        .entries()
                        .all(|(k, v)| other.get(k).is_some_and(|w| v.eq_node(&w)))
            }
            _ => false,
        }
    }
}

/// A value of `tree`: a scalar converted, a collection as a lazy view.
fn node_value(tree: &Arc<Tree>, node: u32) -> MjValue {
    match tree.nodes[node as usize] {
        Node::Null => MjValue::from(()),
        Node::Bool(b) => MjValue::from(b),
        Node::Int(i) => MjValue::from(i),
        Node::UInt(u) => MjValue::from(u),
        Node::Float(f) => MjValue::from(f),
        Node::Str(s) => MjValue::from(tree.str(s)),
        Node::Seq(_) | Node::Map(_) => MjValue::from_object(View {
            tree: Arc::clone(tree),
            node,
        }),
    }
}

/// A map or sequence of a document, as minijinja sees it. It behaves as
/// minijinja's own `BTreeMap` and `Vec` values do (keys enumerated in
/// sorted order, reversible); its children are made when read.
struct View {
    tree: Arc<Tree>,
    node: u32,
}

impl View {
    fn kind(&self) -> Node {
        self.tree.nodes[self.node as usize]
    }
}

impl fmt::Debug for View {
    // As minijinja's own map and list values print.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tree = &self.tree;
        match self.kind() {
            Node::Map(span) => f
                .debug_map()
                .entries(
                    tree.sorted_entries(span)
                        .map(|e| (MjValue::from(tree.str(e.key)), node_value(tree, e.value))),
                )
                .finish(),
            Node::Seq(span) => f
                .debug_list()
                .entries(
                    tree.items[span.range()]
                        .iter()
                        .map(|&i| node_value(tree, i)),
                )
                .finish(),
            _ => f.write_str("<scalar>"),
        }
    }
}

impl Object for View {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        match self.kind() {
            Node::Seq(_) => ObjectRepr::Seq,
            _ => ObjectRepr::Map,
        }
    }

    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        match self.kind() {
            Node::Seq(span) => {
                let i = key.as_usize()?;
                let items = &self.tree.items[span.range()];
                items.get(i).map(|&id| node_value(&self.tree, id))
            }
            Node::Map(span) => {
                let id = self.tree.lookup(span, key.as_str()?)?;
                Some(node_value(&self.tree, id))
            }
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match self.kind() {
            Node::Seq(span) => Enumerator::Seq(span.len as usize),
            Node::Map(_) => self.mapped_rev_key_value_enumerator(|this| {
                let Node::Map(span) = this.kind() else {
                    return Box::new(std::iter::empty());
                };
                let tree = &this.tree;
                Box::new(
                    tree.sorted_entries(span)
                        .map(|e| (MjValue::from(tree.str(e.key)), node_value(tree, e.value))),
                )
            }),
            _ => Enumerator::Empty,
        }
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        match self.kind() {
            Node::Seq(span) | Node::Map(span) => Some(span.len as usize),
            _ => Some(0),
        }
    }
}

/// A node of a document being built, to place in a collection or make the
/// root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeId(u32);

/// A map key stored by [`DocumentBuilder::key`], to pair with its value in
/// [`DocumentBuilder::entry`].
#[derive(Debug, Clone, Copy)]
pub struct Key(Span);

#[derive(Debug)]
enum Frame {
    Seq { start: usize },
    Map { start: usize },
}

/// Builds a [`Document`] bottom-up, as a reader walks its file: make a
/// value, then place it in the collection being built.
///
/// ```
/// use kargo_core::expr::document::DocumentBuilder;
/// use serde_json::json;
///
/// let mut b = DocumentBuilder::new();
/// b.begin_map();
/// let key = b.key("tags")?;
/// b.begin_seq();
/// let v1 = b.string("v1")?;
/// b.item(v1)?;
/// let tags = b.end_seq()?;
/// b.entry(key, tags)?;
/// let root = b.end_map()?;
/// let doc = b.finish(root)?;
/// assert_eq!(doc.to_json(), json!({"tags": ["v1"]}));
/// # Ok::<(), kargo_core::expr::document::DocumentError>(())
/// ```
#[derive(Debug, Default)]
pub struct DocumentBuilder {
    tree: Tree,
    frames: Vec<Frame>,
    pending_items: Vec<u32>,
    pending_entries: Vec<Entry>,
}

fn to_u32(n: usize) -> Result<u32, DocumentError> {
    u32::try_from(n).map_err(|_| DocumentError::TooLarge)
}

impl DocumentBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        DocumentBuilder::default()
    }

    fn node(&mut self, node: Node) -> Result<NodeId, DocumentError> {
        let id = to_u32(self.tree.nodes.len())?;
        self.tree.nodes.push(node);
        Ok(NodeId(id))
    }

    fn text(&mut self, s: &str) -> Result<Span, DocumentError> {
        let start = to_u32(self.tree.text.len())?;
        let len = to_u32(s.len())?;
        to_u32(self.tree.text.len() + s.len())?;
        self.tree.text.push_str(s);
        Ok(Span { start, len })
    }

    /// `null`.
    pub fn null(&mut self) -> Result<NodeId, DocumentError> {
        self.node(Node::Null)
    }

    /// A boolean.
    pub fn bool(&mut self, b: bool) -> Result<NodeId, DocumentError> {
        self.node(Node::Bool(b))
    }

    /// A signed integer (held as serde_json holds it: unsigned when it is
    /// not negative).
    pub fn int(&mut self, i: i64) -> Result<NodeId, DocumentError> {
        match u64::try_from(i) {
            Ok(u) => self.node(Node::UInt(u)),
            Err(_) => self.node(Node::Int(i)),
        }
    }

    /// An unsigned integer.
    pub fn uint(&mut self, u: u64) -> Result<NodeId, DocumentError> {
        self.node(Node::UInt(u))
    }

    /// A float. A non-finite one reads back as `null` in
    /// [`Document::to_json`], as serde_json has no place for it; readers
    /// decide what a NaN or an infinity in their format becomes before
    /// they get here.
    pub fn float(&mut self, f: f64) -> Result<NodeId, DocumentError> {
        self.node(Node::Float(f))
    }

    /// A string.
    pub fn string(&mut self, s: &str) -> Result<NodeId, DocumentError> {
        let span = self.text(s)?;
        self.node(Node::Str(span))
    }

    /// A JSON value, collections included.
    pub fn value(&mut self, value: &Value) -> Result<NodeId, DocumentError> {
        match value {
            Value::Null => self.null(),
            Value::Bool(v) => self.bool(*v),
            Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => self.uint(u),
                (None, Some(i), _) => self.int(i),
                (None, None, Some(f)) => self.float(f),
                (None, None, None) => self.null(),
            },
            Value::String(s) => self.string(s),
            Value::Array(items) => {
                self.begin_seq();
                for item in items {
                    let id = self.value(item)?;
                    self.item(id)?;
                }
                self.end_seq()
            }
            Value::Object(map) => {
                self.begin_map();
                for (k, v) in map {
                    let key = self.key(k)?;
                    let id = self.value(v)?;
                    self.entry(key, id)?;
                }
                self.end_map()
            }
        }
    }

    /// Opens a sequence: [`item`](Self::item) adds to it until
    /// [`end_seq`](Self::end_seq).
    pub fn begin_seq(&mut self) {
        self.frames.push(Frame::Seq {
            start: self.pending_items.len(),
        });
    }

    /// Appends `value` to the innermost open sequence.
    pub fn item(&mut self, value: NodeId) -> Result<(), DocumentError> {
        match self.frames.last() {
            Some(Frame::Seq { .. }) => {
                self.pending_items.push(value.0);
                Ok(())
            }
            _ => Err(DocumentError::Misuse("an item outside a sequence")),
        }
    }

    /// Closes the innermost open sequence.
    pub fn end_seq(&mut self) -> Result<NodeId, DocumentError> {
        let Some(Frame::Seq { start }) = self.frames.last() else {
            return Err(DocumentError::Misuse("end of a sequence that is not open"));
        };
        let start = *start;
        self.frames.pop();
        let span = Span {
            start: to_u32(self.tree.items.len())?,
            len: to_u32(self.pending_items.len() - start)?,
        };
        to_u32(self.tree.items.len() + span.len as usize)?;
        self.tree.items.extend(self.pending_items.drain(start..));
        self.node(Node::Seq(span))
    }

    /// Opens a map: [`entry`](Self::entry) adds to it until
    /// [`end_map`](Self::end_map).
    pub fn begin_map(&mut self) {
        self.frames.push(Frame::Map {
            start: self.pending_entries.len(),
        });
    }

    /// Stores a map key, for an [`entry`](Self::entry) once its value is
    /// built.
    pub fn key(&mut self, key: &str) -> Result<Key, DocumentError> {
        self.text(key).map(Key)
    }

    /// Adds `key: value` to the innermost open map. A key already there
    /// keeps its place and takes the new value, as `serde_json::Map`
    /// does.
    pub fn entry(&mut self, key: Key, value: NodeId) -> Result<(), DocumentError> {
        match self.frames.last() {
            Some(Frame::Map { .. }) => {
                self.pending_entries.push(Entry {
                    key: key.0,
                    value: value.0,
                });
                Ok(())
            }
            _ => Err(DocumentError::Misuse("an entry outside a map")),
        }
    }

    /// Closes the innermost open map.
    pub fn end_map(&mut self) -> Result<NodeId, DocumentError> {
        let Some(Frame::Map { start }) = self.frames.last() else {
            return Err(DocumentError::Misuse("end of a map that is not open"));
        };
        let start = *start;
        self.frames.pop();
        let tree = &self.tree;
        let mut entries: Vec<Entry> = self.pending_entries.drain(start..).collect();
        // Offsets sorted by key; a stable sort keeps repeated keys in the
        // order written.
        let key_of = |entries: &[Entry], i: u32| tree.str(entries[i as usize].key);
        let mut order: Vec<u32> = (0..to_u32(entries.len())?).collect();
        order.sort_by(|&a, &b| key_of(&entries, a).cmp(key_of(&entries, b)));
        let repeated = order
            .windows(2)
            .any(|w| key_of(&entries, w[0]) == key_of(&entries, w[1]));
        if repeated {
            // The first place takes the last value; later places go.
            let mut keep = vec![true; entries.len()];
            let mut run = 0;
            while run < order.len() {
                let mut end = run + 1;
                while end < order.len()
                    && key_of(&entries, order[end]) == key_of(&entries, order[run])
                {
                    end += 1;
                }
                let first = order[run] as usize;
                let last = order[end - 1] as usize;
                entries[first].value = entries[last].value;
                for &later in &order[run + 1..end] {
                    keep[later as usize] = false;
                }
                run = end;
            }
            let mut i = 0;
            entries.retain(|_| {
                i += 1;
                keep[i - 1]
            });
            order = (0..to_u32(entries.len())?).collect();
            order.sort_by(|&a, &b| key_of(&entries, a).cmp(key_of(&entries, b)));
        }
        let span = Span {
            start: to_u32(self.tree.entries.len())?,
            len: to_u32(entries.len())?,
        };
        to_u32(self.tree.entries.len() + entries.len())?;
        self.tree.entries.extend(entries);
        self.tree.sorted.extend(order);
        self.node(Node::Map(span))
    }

    /// The JSON of a node built so far (for readers whose map keys may be
    /// collections, which become their JSON text).
    pub fn json_of(&self, node: NodeId) -> Value {
        self.tree.json(node.0)
    }

    /// The text of a string node, or `None` for another kind.
    pub fn str_of(&self, node: NodeId) -> Option<&str> {
        match self.tree.nodes.get(node.0 as usize) {
            Some(Node::Str(span)) => Some(self.tree.str(*span)),
            _ => None,
        }
    }

    /// The document whose root is `root`. Every collection must be closed.
    pub fn finish(mut self, root: NodeId) -> Result<Document, DocumentError> {
        if !self.frames.is_empty() {
            return Err(DocumentError::Misuse("a collection is still open"));
        }
        if root.0 as usize >= self.tree.nodes.len() {
            return Err(DocumentError::Misuse(
                "the root is not a node of this document",
            ));
        }
        self.tree.nodes.shrink_to_fit();
        self.tree.items.shrink_to_fit();
        self.tree.entries.shrink_to_fit();
        self.tree.sorted.shrink_to_fit();
        self.tree.text.shrink_to_fit();
        Ok(Document {
            tree: Arc::new(self.tree),
            root: root.0,
        })
    }
}

/// Reads any self-describing serde format (`serde_json::from_str`) into a
/// [`Document`], as `serde_json::Value` reads it, without building one.
impl<'de> serde::Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut builder = DocumentBuilder::new();
        let root = ValueSeed(&mut builder).deserialize(deserializer)?;
        builder.finish(root).map_err(de::Error::custom)
    }
}

struct ValueSeed<'b>(&'b mut DocumentBuilder);

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = NodeId;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<NodeId, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = NodeId;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<NodeId, E> {
        self.0.bool(v).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<NodeId, E> {
        self.0.int(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<NodeId, E> {
        self.0.uint(v).map_err(E::custom)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<NodeId, E> {
        // As serde_json::Value: a float it cannot hold is null.
        if v.is_finite() {
            self.0.float(v)
        } else {
            self.0.null()
        }
        .map_err(E::custom)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<NodeId, E> {
        self.0.string(v).map_err(E::custom)
    }

    fn visit_none<E: de::Error>(self) -> Result<NodeId, E> {
        self.0.null().map_err(E::custom)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<NodeId, D::Error> {
        ValueSeed(self.0).deserialize(deserializer)
    }

    fn visit_unit<E: de::Error>(self) -> Result<NodeId, E> {
        self.0.null().map_err(E::custom)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeId, A::Error> {
        let b = self.0;
        b.begin_seq();
        while let Some(id) = seq.next_element_seed(ValueSeed(b))? {
            b.item(id).map_err(de::Error::custom)?;
        }
        b.end_seq().map_err(de::Error::custom)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeId, A::Error> {
        let b = self.0;
        b.begin_map();
        while let Some(key) = map.next_key_seed(KeySeed(b))? {
            let id = map.next_value_seed(ValueSeed(b))?;
            b.entry(key, id).map_err(de::Error::custom)?;
        }
        b.end_map().map_err(de::Error::custom)
    }
}

struct KeySeed<'b>(&'b mut DocumentBuilder);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        self.0.key(v).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_reads_back_as_serde_json_reads_it() {
        let text = r#"{"b": 1, "a": [true, null, -2, 2.5, "s"], "c": {"z": {}, "y": []},
                       "b": 3, "d": 18446744073709551615}"#;
        let doc: Document = serde_json::from_str(text).unwrap();
        let value: Value = serde_json::from_str(text).unwrap();
        assert_eq!(doc.to_json(), value);
        // The repeated `b` keeps its first place with its last value.
        let keys: Vec<String> = doc.to_json().as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["b", "a", "c", "d"]);
        assert_eq!(Document::from_json(&value).to_json(), value);
    }

    #[test]
    fn syntax_errors_are_serde_json_errors() {
        let doc = serde_json::from_str::<Document>("{\"a\": [1, }").unwrap_err();
        let value = serde_json::from_str::<Value>("{\"a\": [1, }").unwrap_err();
        assert_eq!(doc.to_string(), value.to_string());
    }

    #[test]
    fn the_view_reads_as_minijinja_reads_a_converted_value() {
        let value = json!({"b": {"x": [1, -1, 1.5]}, "a": "s", "c": null, "é": true});
        let lazy = Document::from_json(&value).to_minijinja();
        let eager = MjValue::from(minijinja::value::Serde(&value));
        assert_eq!(lazy, eager);
        assert_eq!(format!("{lazy:?}"), format!("{eager:?}"));
        assert_eq!(lazy.to_string(), eager.to_string());
        let keys = |v: &MjValue| v.try_iter().unwrap().collect::<Vec<_>>();
        assert_eq!(keys(&lazy), keys(&eager));
        let b = lazy.get_attr("b").unwrap().get_attr("x").unwrap();
        assert_eq!(b.get_item(&MjValue::from(2)).unwrap(), MjValue::from(1.5));
        assert_eq!(b.get_item(&MjValue::from(-1)).unwrap(), MjValue::from(1.5));
        assert!(lazy.get_attr("missing").unwrap().is_undefined());
        assert_eq!(lazy.len(), Some(4));
    }

    #[test]
    fn misuse_is_an_error_not_a_panic() {
        let mut b = DocumentBuilder::new();
        let id = b.null().unwrap();
        assert!(b.item(id).is_err());
        assert!(b.end_map().is_err());
        b.begin_seq();
        assert!(b.finish(id).is_err(), "a sequence is still open");
    }
}
