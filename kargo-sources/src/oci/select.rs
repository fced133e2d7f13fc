//! Reading image metadata from manifests, and the selection strategies
//! (SemVer, Lexical, Digest, NewestBuild) over a [`Repository`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use futures_util::{StreamExt as _, TryStreamExt as _};
use kargo_core::model::ImageSelectionStrategy;
use kargo_core::time::Timestamp;
use regex_lite::Regex;
use serde_json::Value;

use super::Error;
use super::repo::Repository;
use kargo_core::semver::{Constraint, Version};

/// The annotation holding an image's creation time.
const CREATED: &str = "org.opencontainers.image.created";
/// The older label-schema spelling of the same.
const LEGACY_CREATED: &str = "org.label-schema.build-date";

/// How many images NewestBuild reads at once from one repository.
const NEWEST_BUILD_CONCURRENCY: usize = 8;

/// The most metadata entries kept per source (by digest, so never stale).
const CACHE_LIMIT: usize = 20_000;

/// What discovery knows about one manifest or index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Meta {
    pub(crate) digest: String,
    pub(crate) media_type: String,
    /// The manifest's `artifactType`, else its config's media type (or
    /// the index's `artifactType`).
    pub(crate) artifact_type: String,
    pub(crate) created: Option<Timestamp>,
    pub(crate) annotations: BTreeMap<String, String>,
    /// An index's platforms; a single manifest's own platform from its config.
    pub(crate) platforms: Vec<PlatformMeta>,
    pub(crate) is_index: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PlatformMeta {
    pub(crate) platform: Platform,
    pub(crate) annotations: BTreeMap<String, String>,
}

/// `os/arch[/variant]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Platform {
    pub(crate) os: String,
    pub(crate) arch: String,
    pub(crate) variant: String,
}

impl Platform {
    pub(crate) fn parse(s: &str) -> Option<Platform> {
        let mut parts = s.splitn(3, '/');
        let os = parts.next().filter(|p| !p.is_empty())?;
        let arch = parts.next().filter(|p| !p.is_empty())?;
        let variant = parts.next().unwrap_or("");
        Some(Platform {
            os: os.to_owned(),
            arch: arch.to_owned(),
            variant: variant.to_owned(),
        })
    }
}

impl Meta {
    fn platform(&self, want: &Platform) -> Option<&PlatformMeta> {
        self.platforms.iter().find(|p| &p.platform == want)
    }

    /// The annotations to report: the manifest's, plus the selected
    /// platform's entry annotations.
    pub(crate) fn annotations_for(&self, platform: Option<&Platform>) -> BTreeMap<String, String> {
        let mut out = self.annotations.clone();
        if let Some(p) = platform.and_then(|p| self.platform(p))
            && self.is_index
        {
            out.extend(p.annotations.clone());
        }
        out
    }
}

fn created_from(map: &BTreeMap<String, String>) -> Option<Timestamp> {
    [CREATED, LEGACY_CREATED]
        .iter()
        .find_map(|k| map.get(*k).and_then(|v| v.parse().ok()))
}

/// An image's creation time as Kargo reads it: what an annotation of its
/// manifest claims, as is (annotations are written with the manifest);
/// else the later of the config's `created` and what a label claims
/// (labels may come from the base image, and every way a time goes wrong
/// makes it earlier, never later).
fn creation_time(
    annotations: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
    config_created: Option<Timestamp>,
) -> Option<Timestamp> {
    created_from(annotations).or_else(|| config_created.max(created_from(labels)))
}

fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Metadata by digest, shared by every discovery of a source.
#[derive(Debug, Default)]
pub(crate) struct MetaCache {
    entries: Mutex<HashMap<String, Meta>>,
}

impl MetaCache {
    fn get(&self, key: &str) -> Option<Meta> {
        self.entries.lock().ok()?.get(key).cloned()
    }

    fn put(&self, key: String, meta: Meta) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CACHE_LIMIT {
                entries.clear();
            }
            entries.insert(key, meta);
        }
    }
}

/// Reads the metadata of the manifest `reference` (a tag or a digest)
/// names; `None` when there is none.
pub(crate) async fn resolve(
    repo: &dyn Repository,
    cache: &MetaCache,
    reference: &str,
    need_created: bool,
) -> Result<Option<Meta>, Error> {
    let Some((bytes, digest)) = repo.manifest(reference).await? else {
        return Ok(None);
    };
    let key = format!("{}@{digest}", repo.key());
    if let Some(meta) = cache.get(&key) {
        return Ok(Some(meta));
    }
    let meta = parse(repo, cache, &bytes, &digest, need_created).await?;
    cache.put(key, meta.clone());
    Ok(Some(meta))
}

async fn parse(
    repo: &dyn Repository,
    cache: &MetaCache,
    bytes: &[u8],
    digest: &str,
    need_created: bool,
) -> Result<Meta, Error> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| Error::Manifest {
        digest: digest.to_owned(),
        reason: e.to_string(),
    })?;
    let annotations = string_map(doc.get("annotations").unwrap_or(&Value::Null));
    let mut meta = Meta {
        digest: digest.to_owned(),
        media_type: str_of(&doc, "mediaType").to_owned(),
        created: created_from(&annotations),
        ..Default::default()
    };
    if let Some(entries) = doc.get("manifests").and_then(Value::as_array) {
        meta.is_index = true;
        if meta.media_type.is_empty() {
            meta.media_type = oci_client::manifest::OCI_IMAGE_INDEX_MEDIA_TYPE.to_owned();
        }
        meta.artifact_type = str_of(&doc, "artifactType").to_owned();
        if meta.artifact_type.is_empty() {
            meta.artifact_type = meta.media_type.clone();
        }
        let mut newest: Option<Timestamp> = None;
        for entry in entries {
            let Some(p) = entry.get("platform") else {
                continue;
            };
            let (os, arch) = (str_of(p, "os"), str_of(p, "architecture"));
            if os.is_empty() || arch.is_empty() || os == "unknown" || arch == "unknown" {
                continue;
            }
            let entry_annotations = string_map(entry.get("annotations").unwrap_or(&Value::Null));
            // A child's time only matters when the index has none.
            if meta.created.is_none() && need_created {
                let mut t = created_from(&entry_annotations);
                if t.is_none() {
                    let child = str_of(entry, "digest");
                    // As Kargo: an index entry whose manifest is missing is an error.
                    let Some(child) = Box::pin(resolve(repo, cache, child, true)).await? else {
                        return Err(Error::Manifest {
                            digest: digest.to_owned(),
                            reason: format!("found no manifest {child} that the index lists"),
                        });
                    };
                    t = child.created;
                }
                newest = newest.max(t);
            }
            meta.platforms.push(PlatformMeta {
                platform: Platform {
                    os: os.to_owned(),
                    arch: arch.to_owned(),
                    variant: str_of(p, "variant").to_owned(),
                },
                annotations: entry_annotations,
            });
        }
        meta.created = meta.created.or(newest);
    } else if let Some(config) = doc.get("config") {
        let config_type = str_of(config, "mediaType");
        meta.artifact_type = str_of(&doc, "artifactType").to_owned();
        if meta.artifact_type.is_empty() {
            meta.artifact_type = config_type.to_owned();
        }
        if meta.media_type.is_empty() {
            meta.media_type = oci_client::manifest::OCI_IMAGE_MEDIA_TYPE.to_owned();
        }
        // Only image configs hold a creation time and a platform.
        let is_image_config = config_type.ends_with("image.config.v1+json")
            || config_type == oci_client::manifest::IMAGE_DOCKER_CONFIG_MEDIA_TYPE;
        if is_image_config {
            let config_digest = str_of(config, "digest");
            let blob = repo.blob(config_digest).await?;
            let cfg: Value = serde_json::from_slice(&blob).map_err(|e| Error::Manifest {
                digest: config_digest.to_owned(),
                reason: format!("image config: {e}"),
            })?;
            let config_created: Option<Timestamp> = cfg
                .get("created")
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok());
            let labels = cfg
                .get("config")
                .and_then(|c| c.get("Labels"))
                .map(string_map)
                .unwrap_or_default();
            meta.created = creation_time(&annotations, &labels, config_created);
            let (os, arch) = (str_of(&cfg, "os"), str_of(&cfg, "architecture"));
            if !os.is_empty() && !arch.is_empty() {
                meta.platforms.push(PlatformMeta {
                    platform: Platform {
                        os: os.to_owned(),
                        arch: arch.to_owned(),
                        variant: str_of(&cfg, "variant").to_owned(),
                    },
                    annotations: BTreeMap::new(),
                });
            }
        }
    } else {
        return Err(Error::Manifest {
            digest: digest.to_owned(),
            reason: "neither an image manifest nor an index".into(),
        });
    }
    meta.annotations = annotations;
    Ok(meta)
}

/// A compiled selection: strategy, filters and limit.
#[derive(Debug)]
pub(crate) struct Selector {
    pub(crate) strategy: ImageSelectionStrategy,
    pub(crate) constraint: Option<Constraint>,
    pub(crate) mutable_tag: String,
    pub(crate) strict_semvers: bool,
    pub(crate) allow: Vec<Regex>,
    pub(crate) ignore: Vec<Regex>,
    pub(crate) platform: Option<Platform>,
    pub(crate) artifact_type: Option<String>,
    pub(crate) limit: usize,
    /// Image subscriptions reject indexes without platforms, as Kargo does.
    pub(crate) images_only: bool,
}

/// One selected manifest and the tag it was found through.
#[derive(Debug, Clone)]
pub(crate) struct Selected {
    pub(crate) tag: String,
    pub(crate) meta: Meta,
}

impl Selector {
    /// Kargo's `MatchesTag`: whether `tag` could be selected.
    pub(crate) fn matches_tag(&self, tag: &str) -> bool {
        match self.strategy {
            ImageSelectionStrategy::Digest => tag == self.mutable_tag,
            ImageSelectionStrategy::SemVer => {
                self.tag_allowed(tag)
                    && Version::parse(tag, self.strict_semvers)
                        .is_ok_and(|v| self.constraint.as_ref().is_none_or(|c| c.matches(&v)))
            }
            ImageSelectionStrategy::Lexical | ImageSelectionStrategy::NewestBuild => {
                self.tag_allowed(tag)
            }
        }
    }

    fn tag_allowed(&self, tag: &str) -> bool {
        if self.ignore.iter().any(|r| r.is_match(tag)) {
            return false;
        }
        self.allow.is_empty() || self.allow.iter().any(|r| r.is_match(tag))
    }

    /// Whether `meta` fits the platform and artifact-type filters.
    fn fits(&self, meta: &Meta) -> Result<bool, Error> {
        if self.images_only && meta.is_index && meta.platforms.is_empty() {
            return Err(Error::Manifest {
                digest: meta.digest.clone(),
                reason: "an index without platforms is not an image".into(),
            });
        }
        if let Some(want) = &self.artifact_type
            && &meta.artifact_type != want
        {
            return Ok(false);
        }
        Ok(match &self.platform {
            Some(p) => meta.platform(p).is_some(),
            None => true,
        })
    }

    /// The tags worth reading, most preferred first: Kargo's `filterTags`
    /// (the allow and ignore expressions, and for SemVer a version within
    /// `constraint`), then the strategy's order. SemVer sorts by
    /// precedence, equal versions (`v1.0.0` and `1.0.0`) by their text,
    /// greatest first; Lexical and NewestBuild by text, greatest first
    /// (NewestBuild sorts again by build time once it has read them).
    pub(crate) fn candidates(&self, tags: Vec<String>) -> Vec<String> {
        if self.strategy == ImageSelectionStrategy::Digest {
            return tags.into_iter().filter(|t| self.matches_tag(t)).collect();
        }
        let tags = tags.into_iter().filter(|t| self.tag_allowed(t));
        match self.strategy {
            ImageSelectionStrategy::SemVer => {
                let mut versions: Vec<Version> = tags
                    .filter_map(|t| Version::parse(&t, self.strict_semvers).ok())
                    .filter(|v| self.constraint.as_ref().is_none_or(|c| c.matches(v)))
                    .collect();
                versions.sort_by(|a, b| b.cmp(a));
                versions.iter().map(|v| v.original().to_owned()).collect()
            }
            ImageSelectionStrategy::Lexical | ImageSelectionStrategy::NewestBuild => {
                let mut tags: Vec<String> = tags.collect();
                tags.sort_by(|a, b| b.cmp(a));
                tags
            }
            ImageSelectionStrategy::Digest => unreachable!("handled above"),
        }
    }

    /// Runs the selection, newest first, at most `limit` entries.
    pub(crate) async fn select(
        &self,
        repo: &dyn Repository,
        cache: &MetaCache,
        cancelled: &(dyn Fn() -> bool + Send + Sync),
    ) -> Result<Vec<Selected>, Error> {
        let need_created = true;
        if self.strategy == ImageSelectionStrategy::Digest {
            let tag = &self.mutable_tag;
            return Ok(match resolve(repo, cache, tag, need_created).await? {
                Some(meta) if self.fits(&meta)? => vec![Selected {
                    tag: tag.clone(),
                    meta,
                }],
                _ => Vec::new(),
            });
        }
        let ordered = self.candidates(repo.tags().await?);
        if self.strategy == ImageSelectionStrategy::NewestBuild {
            // Every candidate's build time is needed: read them a few at a time.
            let mut selected: Vec<Selected> = futures_util::stream::iter(ordered)
                .map(|tag| async move {
                    if cancelled() {
                        return Err(Error::Cancelled);
                    }
                    match resolve(repo, cache, &tag, need_created).await? {
                        Some(meta) => Ok(self.fits(&meta)?.then_some(Selected { tag, meta })),
                        None => Err(Error::TagVanished { tag }),
                    }
                })
                .buffer_unordered(NEWEST_BUILD_CONCURRENCY)
                .try_filter_map(|s| async move { Ok(s) })
                .try_collect()
                .await?;
            sort_newest_first(&mut selected);
            selected.truncate(self.limit);
            return Ok(selected);
        }
        let mut selected = Vec::new();
        for tag in ordered {
            if selected.len() >= self.limit {
                break;
            }
            if cancelled() {
                return Err(Error::Cancelled);
            }
            let Some(meta) = resolve(repo, cache, &tag, need_created).await? else {
                return Err(Error::TagVanished { tag });
            };
            if self.fits(&meta)? {
                selected.push(Selected { tag, meta });
            }
        }
        Ok(selected)
    }
}

/// NewestBuild's order: newest first; equal (or unknown) build times by
/// tag, greatest first, as Kargo sorts them.
fn sort_newest_first(selected: &mut [Selected]) {
    selected.sort_by(|a, b| {
        b.meta
            .created
            .cmp(&a.meta.created)
            .then_with(|| b.tag.cmp(&a.tag))
    });
}

#[cfg(test)]
mod tests;
