//! What an edited file must read back as, held without a second copy of the
//! document: the [`Document`](kargo_core::expr::Document) read before the
//! edit, with the values set along the updated keys' paths. Only the maps
//! and sequences on those paths are opened (one level each, their children
//! still nodes of the old document), so checking an edit of a large file
//! costs the two compact documents and little else.

use std::borrow::Cow;

use kargo_core::expr::Document;
use kargo_core::expr::document::{NodeKind, NodeRef};
use serde_json::Value;

use super::{EditError, Update, index_of};

/// The expected document (see the [module docs](self)).
#[derive(Debug)]
pub(crate) enum Expected<'d> {
    /// A node of the document before the edit, unchanged.
    Node(NodeRef<'d>),
    /// A map opened on a path, its entries in order.
    Map(Vec<(Cow<'d, str>, Expected<'d>)>),
    /// A sequence opened on a path.
    Seq(Vec<Expected<'d>>),
    /// A value set by an update (or a scalar of the old document on a path).
    Value(Value),
}

/// One step of a path into a document: the key it takes in a map, and the
/// slot it takes in a sequence (`Some(i)`, `None` for "append"; no slot:
/// the step cannot go into a sequence).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Step<'k> {
    pub(crate) key: &'k str,
    pub(crate) slot: Option<Option<usize>>,
}

impl<'d> Expected<'d> {
    /// The expected document, starting as `root`.
    pub(crate) fn new(root: NodeRef<'d>) -> Self {
        Expected::Node(root)
    }

    /// Turns a node or value that is a map or sequence into an opened
    /// [`Map`](Self::Map) or [`Seq`](Self::Seq); a scalar node into a
    /// [`Value`](Self::Value).
    fn open(&mut self) {
        let opened = match self {
            Expected::Node(node) => match node.kind() {
                NodeKind::Map(_) => Expected::Map(
                    node.entries()
                        .map(|(k, v)| (Cow::Borrowed(k), Expected::Node(v)))
                        .collect(),
                ),
                NodeKind::Seq(_) => Expected::Seq(node.items().map(Expected::Node).collect()),
                _ => Expected::Value(node.to_json()),
            },
            Expected::Value(Value::Object(map)) => Expected::Map(
                std::mem::take(map)
                    .into_iter()
                    .map(|(k, v)| (Cow::Owned(k), Expected::Value(v)))
                    .collect(),
            ),
            Expected::Value(Value::Array(items)) => Expected::Seq(
                std::mem::take(items)
                    .into_iter()
                    .map(Expected::Value)
                    .collect(),
            ),
            _ => return,
        };
        *self = opened;
    }

    /// This value opened (see [`open`](Self::open)).
    pub(crate) fn opened(&mut self) -> &mut Self {
        self.open();
        self
    }

    /// The value at `segments` (map keys and sequence indexes, as
    /// `serde_json` finds them), opened; `None` where there is none.
    pub(crate) fn at_mut(&mut self, segments: &[String]) -> Option<&mut Self> {
        let mut here = self.opened();
        for segment in segments {
            here = match here {
                Expected::Map(entries) => {
                    &mut entries
                        .iter_mut()
                        .find(|(k, _)| k.as_ref() == segment.as_str())?
                        .1
                }
                Expected::Seq(items) => items.get_mut(index_of(segment)?)?,
                _ => return None,
            }
            .opened();
        }
        Some(here)
    }

    /// Sets `value` at `path` as sjson does: a missing map key is added
    /// (holding `create(rest)` for the steps past it), an index past a
    /// sequence's end (or "append") pads it with nulls and pushes
    /// `create(rest)`; a step into a scalar, or a key into a sequence,
    /// changes nothing.
    pub(crate) fn set(
        &mut self,
        path: &[Step<'_>],
        value: Value,
        create: &dyn Fn(usize, &Value) -> Value,
    ) {
        self.set_at(path, 0, value, create);
    }

    fn set_at(
        &mut self,
        path: &[Step<'_>],
        depth: usize,
        value: Value,
        create: &dyn Fn(usize, &Value) -> Value,
    ) {
        let Some(step) = path.get(depth) else {
            *self = Expected::Value(value);
            return;
        };
        self.open();
        match (self, step.slot) {
            (Expected::Map(entries), _) => match entries.iter_mut().find(|(k, _)| k == step.key) {
                Some((_, child)) => child.set_at(path, depth + 1, value, create),
                None => entries.push((
                    Cow::Owned(step.key.to_owned()),
                    Expected::Value(create(depth + 1, &value)),
                )),
            },
            (Expected::Seq(items), Some(slot)) => match slot {
                Some(i) if i < items.len() => items[i].set_at(path, depth + 1, value, create),
                _ => {
                    let pad = slot.map_or(0, |i| i - items.len());
                    items.extend((0..pad).map(|_| Expected::Value(Value::Null)));
                    items.push(Expected::Value(create(depth + 1, &value)));
                }
            },
            _ => {}
        }
    }

    /// Checks the edited file, `after` as read, against what is expected:
    /// an error naming the `updates`' keys when it does not read, or does
    /// not read as expected.
    pub(crate) fn check<E: std::fmt::Display>(
        &self,
        after: Result<Document, E>,
        updates: &[Update],
    ) -> Result<(), EditError> {
        let keys = || {
            let keys: Vec<&str> = updates.iter().map(|u| u.key.as_str()).collect();
            keys.join(", ")
        };
        let after = after.map_err(|e| {
            EditError::key(
                &keys(),
                format!("the edited file does not parse ({e}); nothing was written"),
            )
        })?;
        if !self.matches(after.root()) {
            return Err(EditError::key(
                &keys(),
                "the edited file does not read back as expected; nothing was written",
            ));
        }
        Ok(())
    }

    /// Whether `node` (of the document read after the edit) is what is
    /// expected, comparing as `serde_json::Value`s do.
    pub(crate) fn matches(&self, node: NodeRef<'_>) -> bool {
        match self {
            Expected::Node(old) => old.eq_node(&node),
            Expected::Value(value) => node.eq_json(value),
            Expected::Map(entries) => {
                matches!(node.kind(), NodeKind::Map(len) if len == entries.len())
                    && entries
                        .iter()
                        .all(|(k, v)| node.get(k).is_some_and(|n| v.matches(n)))
            }
            Expected::Seq(items) => {
                matches!(node.kind(), NodeKind::Seq(len) if len == items.len())
                    && items.iter().zip(node.items()).all(|(e, n)| e.matches(n))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nested(_: usize, v: &Value) -> Value {
        v.clone()
    }

    fn key(key: &str) -> Step<'_> {
        Step { key, slot: None }
    }

    #[test]
    fn only_the_set_value_differs() {
        let doc = Document::from_json(&json!({"a": {"b": [1, 2], "c": "x"}, "d": true}));
        let mut expected = Expected::new(doc.root());
        expected.set(&[key("a"), key("c")], json!("y"), &nested);
        let good = Document::from_json(&json!({"d": true, "a": {"c": "y", "b": [1, 2]}}));
        assert!(expected.matches(good.root()));
        let unchanged = Document::from_json(&json!({"a": {"b": [1, 2], "c": "x"}, "d": true}));
        assert!(!expected.matches(unchanged.root()));
        let other = Document::from_json(&json!({"a": {"b": [1, 3], "c": "y"}, "d": true}));
        assert!(!expected.matches(other.root()), "a sibling changed");
    }

    #[test]
    fn missing_keys_and_indexes_are_created() {
        let doc = Document::from_json(&json!({"a": [1]}));
        let mut expected = Expected::new(doc.root());
        let index = Step {
            key: "2",
            slot: Some(Some(2)),
        };
        expected.set(&[key("a"), index], json!(3), &nested);
        expected.set(&[key("b")], json!("new"), &nested);
        let good = Document::from_json(&json!({"a": [1, null, 3], "b": "new"}));
        assert!(expected.matches(good.root()));
    }
}
