//! `kustomize-set-image`: sets images in a `kustomization.yaml`, as
//! `kustomize edit set image` does, keeping the file's format and without
//! a kustomize binary.
//!
//! `path` is the directory holding the Kustomization file
//! (`kustomization.yaml`, `kustomization.yml` or `Kustomization`; more
//! than one is an error). Each entry of `images` sets the `images` entry
//! whose `name` is the entry's `name` (default: `image`):
//! - `tag` becomes `newTag`, `digest` becomes `digest` (at most one of the
//!   two), `newName` becomes `newName`; the fields not given are removed
//!   from the entry, as Kargo (and kustomize) replace the whole entry.
//!   `*` keeps the entry's current value of that field.
//! - Without `tag` and `digest`, the version comes from the Freight being
//!   promoted: the image whose `repoURL` is `image`, its tag (its digest
//!   with `useDigest: true`). That image in more than one piece of
//!   Freight is ambiguous and fails the step; not finding it fails the
//!   step unless `newName` is given (then only the name is set).
//! - A name not in `images` gets a new entry, at its sorted place in a
//!   list sorted by name, else at the end (the list is created when
//!   missing).
//!
//! Without `images` (or with an empty list), every image of the Freight
//! collection is set by its `repoURL`, with its tag and digest (Kargo's
//! automatic mode); an image found in more than one piece of Freight
//! needs manual configuration.
//!
//! Edits go through the [`yaml-update`](crate::yaml_update) editor: values
//! change in place, removed fields take their lines with them, and new
//! entries follow the list's indentation; comments and the order of
//! existing entries stay (Kargo rewrites the file with the entries sorted
//! by name).
//!
//! Output: `commitMessage`, as Kargo writes it (`Updated <path> to use new
//! image(s)` and one `- <name>[:<tag>][@<digest>]` line per image, sorted
//! by name, `*` shown as the value kept), when at least one image was set.
//! Only the images the step set are listed; Kargo also lists every other
//! image the file names, unchanged.

mod step;

use std::collections::BTreeMap;

use kargo_core::expr::document::{NodeKind, NodeRef};
use kargo_core::step::Touches;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::edit::Update;
use crate::edit::yaml::ops::{insert_item, remove_key};
use crate::schema::Check::NonEmpty;
use crate::schema::Rule;

pub use crate::edit::EditError as Error;

/// The step kind.
pub const KIND: &str = "kustomize-set-image";

/// Kargo's schema rules for the config, checked before the promotion
/// starts (see [`schema`](crate::schema)). The step's `check_config`
/// also refuses an entry of `images` giving both `tag` and `digest`
/// (Kargo's `oneOf`).
const RULES: &[Rule] = &[("path", NonEmpty), ("images[].image", NonEmpty)];

/// Where in the work directory the step reads and writes.
const TOUCHES: Touches = Touches::Fields(&["path"]);

/// The file names kustomize recognizes, in its order.
pub const KUSTOMIZATION_FILES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The value of a field that keeps the entry's current value.
pub const PRESERVE: &str = "*";

/// The `kustomize-set-image` config (Kargo's `KustomizeSetImageConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The directory holding the Kustomization file, relative to the work
    /// dir.
    pub path: String,
    /// The images to set; all images of the Freight when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<ImageUpdate>>,
}

/// One entry of `images`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct ImageUpdate {
    /// The image (repository) to set, as the Freight names it.
    pub image: String,
    /// The `images` entry's name in the Kustomization, when it differs
    /// from `image`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The tag to set.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tag: String,
    /// The digest to set.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
    /// The image name to substitute.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub new_name: String,
    /// With neither `tag` nor `digest`: take the Freight image's digest
    /// instead of its tag (Kargo up to v1.2; later Kargo versions require
    /// `tag` or `digest`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub use_digest: bool,
}

/// The `kustomize-set-image` step.
#[derive(Debug, Clone, Copy, Default)]
pub struct KustomizeSetImage;

/// What to set in one `images` entry (kustomize's `Image`); an empty
/// field is left out of the entry, [`PRESERVE`] keeps the current value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TargetImage {
    /// The entry's `name`.
    pub name: String,
    /// `newName`.
    pub new_name: String,
    /// `newTag`.
    pub new_tag: String,
    /// `digest`.
    pub digest: String,
}

impl TargetImage {
    /// An entry for image `name`.
    pub fn new(name: impl Into<String>) -> Self {
        TargetImage {
            name: name.into(),
            ..Default::default()
        }
    }

    /// Sets `newTag`.
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.new_tag = tag.into();
        self
    }

    /// Sets `digest`.
    pub fn with_digest(mut self, digest: impl Into<String>) -> Self {
        self.digest = digest.into();
        self
    }

    /// Sets `newName`.
    pub fn with_new_name(mut self, new_name: impl Into<String>) -> Self {
        self.new_name = new_name.into();
        self
    }

    /// The fields in kustomize's order, as `(key, value)`.
    fn fields(&self) -> [(&'static str, &str); 3] {
        [
            ("newName", &self.new_name),
            ("newTag", &self.new_tag),
            ("digest", &self.digest),
        ]
    }
}

/// Sets `images` (by name; a later one with the same name wins) in the
/// text of a Kustomization file, as the step does to the file.
///
/// ```
/// use kargo_steps::kustomize_set_image::{TargetImage, edit};
///
/// let src = "images:\n- name: app # the app\n  newTag: v1\n";
/// let out = edit(src, &[TargetImage::new("app").with_tag("v2")]).unwrap();
/// assert_eq!(out, "images:\n- name: app # the app\n  newTag: v2\n");
/// ```
pub fn edit(src: &str, images: &[TargetImage]) -> Result<String, Error> {
    apply(src, images).map(|(text, _)| text)
}

/// [`edit`], and the images as the file now holds them: [`PRESERVE`]
/// replaced by the entry's current value (by nothing in a new entry), one
/// per name. The commit message describes these, as Kargo's does.
fn apply(src: &str, images: &[TargetImage]) -> Result<(String, Vec<TargetImage>), Error> {
    let mut targets: BTreeMap<&str, &TargetImage> = BTreeMap::new();
    for image in images {
        targets.insert(&image.name, image);
    }
    let doc = crate::edit::yaml::read_document(src)?;
    let current: Vec<NodeRef<'_>> = match doc.root().get("images") {
        Some(images) => match images.kind() {
            NodeKind::Seq(_) => images.items().collect(),
            NodeKind::Null => Vec::new(),
            _ => return Err(Error::key("images", "is not a list")),
        },
        None => Vec::new(),
    };
    let mut updates = Vec::new();
    let mut removals = Vec::new();
    let mut appends = Vec::new();
    let mut resolved = Vec::with_capacity(targets.len());
    for (name, target) in targets {
        let found = current
            .iter()
            .position(|item| field(*item, "name") == Some(name));
        resolved.push(resolve(target, found.map(|i| current[i])));
        match found {
            Some(i) => {
                for (field, value) in target.fields() {
                    let key = format!("images.{i}.{field}");
                    let old = current[i].get(field);
                    match value {
                        PRESERVE => {}
                        "" if old.is_some() => removals.push(key),
                        "" => {}
                        v if self::field(current[i], field) != Some(v) => {
                            updates.push(Update::new(key, v));
                        }
                        _ => {}
                    }
                }
            }
            None => {
                let mut item = Map::new();
                item.insert("name".into(), name.into());
                for (field, value) in target.fields() {
                    if !value.is_empty() && value != PRESERVE {
                        item.insert(field.into(), value.into());
                    }
                }
                appends.push((name, Value::Object(item)));
            }
        }
    }
    let mut text = if updates.is_empty() {
        src.to_owned()
    } else {
        crate::edit::yaml::update(src, &updates)?
    };
    for key in removals {
        text = remove_key(&text, &key)?;
    }
    // Kargo keeps the list sorted by name: a new image goes before the
    // first one whose name sorts after it (at the end of an unsorted list).
    drop(current);
    drop(doc);
    for (name, item) in appends {
        let doc = crate::edit::yaml::read_document(&text)?;
        let names: Vec<&str> = match doc.root().get("images") {
            Some(images) => images
                .items()
                .map(|i| field(i, "name").unwrap_or(""))
                .collect(),
            None => Vec::new(),
        };
        let before = if names.is_sorted() {
            names.partition_point(|n| *n < name)
        } else {
            names.len()
        };
        text = insert_item(&text, "images", before, &item)?;
    }
    Ok((text, resolved))
}

/// `target` with each [`PRESERVE`] replaced by the value `entry` (the
/// current `images` entry of that name, if any) holds.
fn resolve(target: &TargetImage, entry: Option<NodeRef<'_>>) -> TargetImage {
    let keep = |key: &str, value: &str| -> String {
        if value != PRESERVE {
            return value.to_owned();
        }
        match entry.and_then(|e| e.get(key)) {
            None => String::new(),
            Some(node) => match node.kind() {
                NodeKind::Str(s) => s.to_owned(),
                NodeKind::Null => String::new(),
                _ => node.to_json().to_string(),
            },
        }
    };
    TargetImage {
        name: target.name.clone(),
        new_name: keep("newName", &target.new_name),
        new_tag: keep("newTag", &target.new_tag),
        digest: keep("digest", &target.digest),
    }
}

/// The string at `key` of a map node.
fn field<'d>(node: NodeRef<'d>, key: &str) -> Option<&'d str> {
    match node.get(key)?.kind() {
        NodeKind::Str(s) => Some(s),
        _ => None,
    }
}

/// Kargo's commit message for the images set, or `None` when none was.
fn commit_message(path: &str, images: &[TargetImage]) -> Option<String> {
    let mut refs: BTreeMap<&str, String> = BTreeMap::new();
    for image in images {
        let mut r = if image.new_name.is_empty() {
            image.name.clone()
        } else {
            image.new_name.clone()
        };
        if !image.new_tag.is_empty() {
            r = format!("{r}:{}", image.new_tag);
        }
        if !image.digest.is_empty() {
            r = format!("{r}@{}", image.digest);
        }
        refs.insert(&image.name, r);
    }
    if refs.is_empty() {
        return None;
    }
    let plural = if refs.len() > 1 { "s" } else { "" };
    let mut msg = format!("Updated {path} to use new image{plural}\n");
    for r in refs.values() {
        msg.push_str(&format!("\n- {r}"));
    }
    Some(msg)
}

#[cfg(test)]
mod tests;
