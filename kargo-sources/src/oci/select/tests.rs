//! Kargo's table tests of image selection (akuity/kargo `pkg/image/*_test.go`),
//! case by case, in kargo-rs's terms: selectors are built from the
//! subscription as a Warehouse writes it, tags are plain lists, and images
//! are read from an OCI image-layout directory written for the test.

use std::collections::BTreeMap;
use std::path::Path;

use kargo_core::model::ImageSubscription;
use kargo_core::time::Timestamp;
use serde_json::{Value, json};

use super::super::{Core, Error, image_query};
use super::*;
use crate::oci::repo::{Layout, REF_NAME};

/// The selector an image subscription with `fields` (and `repoURL:
/// example/image` unless given) compiles to.
fn selector(fields: Value) -> Result<Selector, Error> {
    let mut image = json!({"repoURL": "example/image"});
    image
        .as_object_mut()
        .expect("object")
        .extend(fields.as_object().expect("object").clone());
    let sub: ImageSubscription = serde_json::from_value(image).expect("valid subscription");
    Core::selector(&image_query(&sub)?)
}

fn ok(fields: Value) -> Selector {
    selector(fields.clone()).unwrap_or_else(|e| panic!("{fields}: {e}"))
}

/// The field an invalid subscription is refused for.
fn refused_field(fields: Value) -> &'static str {
    match selector(fields.clone()) {
        Err(Error::Invalid { field, .. }) => field,
        other => panic!("{fields}: {other:?}"),
    }
}

fn t(s: &str) -> Timestamp {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn strings(tags: &[&str]) -> Vec<String> {
    tags.iter().map(|t| (*t).to_owned()).collect()
}

// TestNewBaseSelector, TestNewTagBasedSelector, TestNewSemverSelector,
// TestNewDigestSelector, TestNewLexicalSelector, TestNewNewestBuildSelector.
#[test]
fn kargo_selector_construction_errors_name_the_field() {
    // "error parsing platform constraint"
    assert_eq!(refused_field(json!({"platform": "invalid"})), "platform");
    // "error creating repository client": no repoURL, for every strategy.
    for strategy in ["SemVer", "Lexical", "NewestBuild", "Digest"] {
        assert_eq!(
            refused_field(
                json!({"repoURL": "", "imageSelectionStrategy": strategy, "constraint": "latest"})
            ),
            "repoURL",
            "{strategy}"
        );
    }
    // The deprecated fields are refused (Kargo: "AllowTags is deprecated").
    assert_eq!(refused_field(json!({"allowTags": "^v1\\."})), "allowTags");
    assert_eq!(
        refused_field(json!({"ignoreTags": ["v1.0.0"]})),
        "ignoreTags"
    );
    // "error compiling regular expression"
    assert_eq!(
        refused_field(json!({"allowTagsRegexes": ["["]})),
        "allowTagsRegexes"
    );
    assert_eq!(
        refused_field(json!({"ignoreTagsRegexes": ["["]})),
        "ignoreTagsRegexes"
    );
    // "error parsing semver constraint"
    assert_eq!(
        refused_field(json!({"constraint": "invalid"})),
        "constraint"
    );
}

#[test]
fn kargo_selector_construction_success() {
    // TestNewBaseSelector "success".
    let s = ok(json!({"platform": "linux/amd64"}));
    assert_eq!(
        s.platform,
        Some(Platform {
            os: "linux".into(),
            arch: "amd64".into(),
            variant: String::new(),
        })
    );
    // TestNewTagBasedSelector "success".
    let s = ok(json!({"allowTagsRegexes": ["^v2\\."], "ignoreTagsRegexes": ["^v1\\.0\\..*"]}));
    let patterns =
        |r: &[regex_lite::Regex]| r.iter().map(|r| r.as_str().to_owned()).collect::<Vec<_>>();
    assert_eq!(patterns(&s.allow), ["^v2\\."]);
    assert_eq!(patterns(&s.ignore), ["^v1\\.0\\..*"]);
    // TestNewSemverSelector: with a constraint, and without one.
    assert!(ok(json!({"constraint": "^v1.0.0"})).constraint.is_some());
    assert!(ok(json!({})).constraint.is_none());
    // TestNewDigestSelector: the constraint names the mutable tag.
    let s = ok(json!({"imageSelectionStrategy": "Digest", "constraint": "latest"}));
    assert_eq!(s.mutable_tag, "latest");
    // TestNewLexicalSelector, TestNewNewestBuildSelector.
    for strategy in ["Lexical", "NewestBuild"] {
        let s = ok(json!({"imageSelectionStrategy": strategy, "constraint": "latest"}));
        assert!(s.allow.is_empty() && s.ignore.is_empty(), "{strategy}");
    }
}

// Test_semverSelector_MatchesTag. Kargo's selectors in this table are
// built without strictSemvers (Go's zero value) unless the case says so.
#[test]
fn kargo_semver_matches_tag() {
    let cases = [
        ("non semver ignored", json!({}), "foo", false),
        (
            "non strict semver ignored",
            json!({"strictSemvers": true}),
            "v1.0",
            false,
        ),
        ("no regex specified", json!({}), "v1.0.0", true),
        (
            "regex matches",
            json!({"allowTagsRegexes": ["^v1\\."]}),
            "v1.0.0",
            true,
        ),
        (
            "regex does not match",
            json!({"allowTagsRegexes": ["^v1\\."]}),
            "v2.0.0",
            false,
        ),
        (
            "ignored",
            json!({"ignoreTagsRegexes": ["^v2\\.0\\.0$"]}),
            "v2.0.0",
            false,
        ),
        (
            "not ignored",
            json!({"ignoreTagsRegexes": ["^v2\\.0\\.0$"]}),
            "v1.0.0",
            true,
        ),
        (
            "regex matches, but ignored",
            json!({"allowTagsRegexes": ["^v1\\."], "ignoreTagsRegexes": ["^v1\\.0\\.0$"]}),
            "v1.0.0",
            false,
        ),
    ];
    for (name, mut fields, tag, want) in cases {
        let object = fields.as_object_mut().expect("object");
        object.entry("strictSemvers").or_insert(json!(false));
        let s = ok(fields);
        assert_eq!(s.matches_tag(tag), want, "{name}");
        // Selection keeps exactly the tags MatchesTag accepts.
        assert_eq!(s.candidates(strings(&[tag])).len() == 1, want, "{name}");
    }
    // The non-strict tag passes when strictSemvers is off.
    assert!(ok(json!({"strictSemvers": false})).matches_tag("v1.0"));
}

// Test_semVerSelector_sort.
#[test]
fn kargo_semver_sort() {
    let s = ok(json!({}));
    assert_eq!(
        s.candidates(strings(&[
            "5.0.0", "0.0.1", "0.2.1", "0.1.1", "1.1.1", "7.0.6", "1.0.0", "1.0.2"
        ])),
        [
            "7.0.6", "5.0.0", "1.1.1", "1.0.2", "1.0.0", "0.2.1", "0.1.1", "0.0.1"
        ]
    );
    // Equal versions are ordered by their text, greatest first, as Kargo's
    // sort breaks ties with the original strings.
    assert_eq!(
        ok(json!({"strictSemvers": false})).candidates(strings(&["1.0.0", "v1.0.0", "1.0"])),
        ["v1.0.0", "1.0.0", "1.0"]
    );
}

// Test_tagBasedSelector_MatchesTag (Lexical and NewestBuild selectors).
#[test]
fn kargo_tag_based_matches_tag() {
    let cases = [
        ("no regex specified", json!({}), "abc", true),
        (
            "regex matches",
            json!({"allowTagsRegexes": ["[a-z]+"]}),
            "abc",
            true,
        ),
        (
            "regex does not match",
            json!({"allowTagsRegexes": ["[a-z]+"]}),
            "123",
            false,
        ),
        (
            "ignored",
            json!({"ignoreTagsRegexes": ["^abc$"]}),
            "abc",
            false,
        ),
        (
            "not ignored",
            json!({"ignoreTagsRegexes": ["^abc$"]}),
            "123",
            true,
        ),
        (
            "regex matches, but ignored",
            json!({"allowTagsRegexes": ["[a-z]+"], "ignoreTagsRegexes": ["^abc$"]}),
            "abc",
            false,
        ),
    ];
    for strategy in ["Lexical", "NewestBuild"] {
        for (name, mut fields, tag, want) in cases.clone() {
            fields["imageSelectionStrategy"] = json!(strategy);
            assert_eq!(ok(fields).matches_tag(tag), want, "{strategy}: {name}");
        }
    }
}

// Test_tagBasedSelector_filterTags.
#[test]
fn kargo_tag_based_filter_tags() {
    let s = ok(json!({
        "imageSelectionStrategy": "Lexical",
        "allowTagsRegexes": ["v1\\."],
        "ignoreTagsRegexes": ["^v1\\.0\\.0$"],
    }));
    assert_eq!(
        s.candidates(strings(&["v1.0.0", "v1.1.0", "v2.0.0"])),
        ["v1.1.0"]
    );
}

// The digest selector's MatchesTag: only the followed tag, whatever the
// allow and ignore expressions say.
#[test]
fn kargo_digest_matches_only_its_tag() {
    let s = ok(
        json!({"imageSelectionStrategy": "Digest", "constraint": "latest", "ignoreTagsRegexes": ["latest"]}),
    );
    assert!(s.matches_tag("latest"));
    assert!(!s.matches_tag("v1.0.0"));
    assert_eq!(s.candidates(strings(&["v1.0.0", "latest"])), ["latest"]);
}

// Test_newestBuildSelector_sort.
#[test]
fn kargo_newest_build_sort() {
    let hours = [0, 1, 5, 24, 8, 2, 7, 3];
    let at = |h: u64| t("2024-01-01T00:00:00Z").plus(std::time::Duration::from_secs(h * 3600));
    let mut selected: Vec<Selected> = hours
        .iter()
        .map(|h| Selected {
            tag: format!("t{h}"),
            meta: Meta {
                created: Some(at(*h)),
                ..Default::default()
            },
        })
        .collect();
    sort_newest_first(&mut selected);
    let order: Vec<&str> = selected.iter().map(|s| s.tag.as_str()).collect();
    assert_eq!(order, ["t24", "t8", "t7", "t5", "t3", "t2", "t1", "t0"]);
    // Equal times: by tag, greatest first; an unknown time sorts last.
    let mut selected = vec![
        Selected {
            tag: "a".into(),
            meta: Meta {
                created: Some(at(1)),
                ..Default::default()
            },
        },
        Selected {
            tag: "none".into(),
            meta: Meta::default(),
        },
        Selected {
            tag: "b".into(),
            meta: Meta {
                created: Some(at(1)),
                ..Default::default()
            },
        },
    ];
    sort_newest_first(&mut selected);
    let order: Vec<&str> = selected.iter().map(|s| s.tag.as_str()).collect();
    assert_eq!(order, ["b", "a", "none"]);
}

// TestValidatePlatformConstraint, TestParsePlatformConstraint,
// TestPlatformConstraintMatches.
#[test]
fn kargo_platform_constraints() {
    assert_eq!(Platform::parse("invalid"), None);
    let p = Platform::parse("linux/amd64").expect("valid");
    assert_eq!(
        (p.os.as_str(), p.arch.as_str(), p.variant.as_str()),
        ("linux", "amd64", "")
    );
    let p = Platform::parse("linux/amd64/fake-variant").expect("valid");
    assert_eq!(
        (p.os.as_str(), p.arch.as_str(), p.variant.as_str()),
        ("linux", "amd64", "fake-variant")
    );
    // Kargo accepts an empty os or arch (`linux/`), which no image has;
    // kargo-rs refuses it when the Warehouse is read.
    assert_eq!(Platform::parse("linux/"), None);
    assert_eq!(Platform::parse("/amd64"), None);
    let amd64 = Platform::parse("linux/amd64").expect("valid");
    assert_eq!(Platform::parse("linux/amd64"), Some(amd64.clone()));
    assert_ne!(Platform::parse("linux/arm64"), Some(amd64));
}

fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

// TestImageGetPlatform and TestImageGetAnnotations: an index's annotations,
// with the selected platform's entry annotations over them.
#[test]
fn kargo_image_annotations_follow_the_platform() {
    let amd64 = Platform::parse("linux/amd64").expect("valid");
    let arm64 = Platform::parse("linux/arm64").expect("valid");
    let base = annotations(&[("key1", "value1"), ("key2", "value2")]);
    let per_platform = annotations(&[("key2", "override-value2"), ("key3", "value3")]);
    let index = |annotations: &BTreeMap<String, String>,
                 platforms: &[(&Platform, &BTreeMap<String, String>)]| Meta {
        annotations: annotations.clone(),
        platforms: platforms
            .iter()
            .map(|(p, a)| PlatformMeta {
                platform: (*p).clone(),
                annotations: (*a).clone(),
            })
            .collect(),
        is_index: !platforms.is_empty(),
        ..Default::default()
    };
    let none = BTreeMap::new();
    let merged = {
        let mut m = base.clone();
        m.extend(per_platform.clone());
        m
    };
    let cases = [
        (
            "nil constraint with no annotations",
            index(&none, &[]),
            None,
            none.clone(),
        ),
        (
            "nil constraint with base annotations only",
            index(&base, &[]),
            None,
            base.clone(),
        ),
        (
            "nil constraint with platform annotations only",
            index(&none, &[(&amd64, &per_platform)]),
            None,
            none.clone(),
        ),
        (
            "nil constraint with base and platform annotations",
            index(&base, &[(&amd64, &per_platform)]),
            None,
            base.clone(),
        ),
        (
            "constraint with no annotations",
            index(&none, &[]),
            Some(&amd64),
            none.clone(),
        ),
        (
            "constraint with base annotations only",
            index(&base, &[]),
            Some(&amd64),
            base.clone(),
        ),
        (
            "constraint with base annotations, no matching platform annotations",
            index(&base, &[(&arm64, &per_platform)]),
            Some(&amd64),
            base.clone(),
        ),
        (
            "constraint with base annotations, and matching platform annotations",
            index(&base, &[(&amd64, &per_platform)]),
            Some(&amd64),
            merged,
        ),
        (
            "constraint with no base annotations, and matching platform annotations",
            index(&none, &[(&amd64, &per_platform)]),
            Some(&amd64),
            per_platform.clone(),
        ),
    ];
    for (name, meta, platform, want) in cases {
        assert_eq!(meta.annotations_for(platform), want, "{name}");
    }
    // TestImageGetPlatform: nil, empty, no match, match.
    assert!(Meta::default().platform(&amd64).is_none());
    assert!(index(&none, &[(&arm64, &none)]).platform(&amd64).is_none());
    let found = index(&none, &[(&arm64, &none), (&amd64, &none)]);
    assert_eq!(found.platform(&amd64).map(|p| &p.platform), Some(&amd64));
}

// Test_repositoryClient_getImageFromV1Image: where an image's creation
// time comes from.
#[test]
fn kargo_creation_time_of_an_image() {
    const OCI: &str = "org.opencontainers.image.created";
    const LEGACY: &str = "org.label-schema.build-date";
    let jan = Some(t("2023-01-01T00:00:00Z"));
    let dec = Some(t("2023-12-01T00:00:00Z"));
    let cases = [
        (
            "created date is taken from label",
            &[][..],
            &[(OCI, "2023-02-01T00:00:00Z")][..],
            jan,
            "2023-02-01T00:00:00Z",
        ),
        (
            "created date is taken from annotation (higher priority than label)",
            &[(OCI, "2023-03-01T00:00:00Z")],
            &[(OCI, "2023-02-01T00:00:00Z")],
            jan,
            "2023-03-01T00:00:00Z",
        ),
        (
            "created date is taken from legacy label schema annotation",
            &[(LEGACY, "2023-04-01T00:00:00Z")],
            &[],
            jan,
            "2023-04-01T00:00:00Z",
        ),
        (
            "created date is taken from legacy label schema label",
            &[],
            &[(LEGACY, "2023-05-01T00:00:00Z")],
            jan,
            "2023-05-01T00:00:00Z",
        ),
        (
            "OCI annotation takes priority over legacy annotation",
            &[
                (OCI, "2023-06-01T00:00:00Z"),
                (LEGACY, "2023-07-01T00:00:00Z"),
            ],
            &[],
            jan,
            "2023-06-01T00:00:00Z",
        ),
        (
            "legacy annotation takes priority over OCI label",
            &[(LEGACY, "2023-09-01T00:00:00Z")],
            &[(OCI, "2023-08-01T00:00:00Z")],
            jan,
            "2023-09-01T00:00:00Z",
        ),
        (
            "OCI label takes priority over legacy label",
            &[],
            &[
                (OCI, "2023-10-01T00:00:00Z"),
                (LEGACY, "2023-11-01T00:00:00Z"),
            ],
            jan,
            "2023-10-01T00:00:00Z",
        ),
        (
            "fallback to config.Created when no annotations or labels",
            &[],
            &[],
            dec,
            "2023-12-01T00:00:00Z",
        ),
        (
            "config.Created is used when it is later than the OCI label",
            &[],
            &[(OCI, "2023-01-01T00:00:00Z")],
            dec,
            "2023-12-01T00:00:00Z",
        ),
        (
            "OCI label is used when it is later than config.Created",
            &[],
            &[(OCI, "2023-05-01T00:00:00Z")],
            None,
            "2023-05-01T00:00:00Z",
        ),
        (
            "annotation is used even when config.Created is later",
            &[(OCI, "2023-01-01T00:00:00Z")],
            &[],
            dec,
            "2023-01-01T00:00:00Z",
        ),
        // An unparsable claim is passed over for the next key.
        (
            "unparsable annotation",
            &[(OCI, "yesterday"), (LEGACY, "2023-04-01T00:00:00Z")],
            &[],
            jan,
            "2023-04-01T00:00:00Z",
        ),
    ];
    for (name, annotations_, labels, config, want) in cases {
        assert_eq!(
            creation_time(&annotations(annotations_), &annotations(labels), config),
            Some(t(want)),
            "{name}"
        );
    }
    // "basic case": nothing says when. Kargo reports Go's zero time
    // (0001-01-01); kargo-rs reports no time, which sorts the same way.
    assert_eq!(
        creation_time(&BTreeMap::new(), &BTreeMap::new(), None),
        None
    );
}

/// An OCI image layout written for a test: blobs, and tags in `index.json`.
struct TestLayout {
    dir: tempfile::TempDir,
    tagged: Vec<Value>,
}

impl TestLayout {
    fn new() -> Self {
        TestLayout {
            dir: tempfile::tempdir().expect("tempdir"),
            tagged: Vec::new(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// An image manifest over `config`, with `annotations`; its descriptor.
    fn image(&self, config: Value, annotations: Value) -> Value {
        let config = kargo_test_support::blob(
            self.path(),
            "application/vnd.oci.image.config.v1+json",
            config.to_string().as_bytes(),
        );
        let mut manifest = json!({"schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config, "layers": []});
        if !annotations.is_null() {
            manifest["annotations"] = annotations;
        }
        kargo_test_support::blob(
            self.path(),
            "application/vnd.oci.image.manifest.v1+json",
            manifest.to_string().as_bytes(),
        )
    }

    /// An index over `entries` (descriptors with their `platform` and
    /// annotations set), with `annotations`; its descriptor.
    fn index(&self, entries: Vec<Value>, annotations: Value) -> Value {
        let mut index = json!({"schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": entries});
        if !annotations.is_null() {
            index["annotations"] = annotations;
        }
        kargo_test_support::blob(
            self.path(),
            "application/vnd.oci.image.index.v1+json",
            index.to_string().as_bytes(),
        )
    }

    fn tag(&mut self, tag: &str, mut descriptor: Value) {
        descriptor["annotations"] = json!({REF_NAME: tag});
        self.tagged.push(descriptor);
        kargo_test_support::write(
            self.path(),
            "oci-layout",
            r#"{"imageLayoutVersion": "1.0.0"}"#,
        );
        let index = json!({"schemaVersion": 2, "manifests": self.tagged});
        kargo_test_support::write(self.path(), "index.json", &index.to_string());
    }

    fn repository(&self) -> Layout {
        Layout::new(self.path().to_owned())
    }
}

fn config(created: Option<&str>, arch: &str) -> Value {
    let mut c =
        json!({"architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}});
    if let Some(created) = created {
        c["created"] = json!(created);
    }
    c
}

fn entry(mut descriptor: Value, arch: &str, annotations: Value) -> Value {
    descriptor["platform"] = json!({"os": "linux", "architecture": arch});
    if !annotations.is_null() {
        descriptor["annotations"] = annotations;
    }
    descriptor
}

async fn meta_of(layout: &TestLayout, tag: &str) -> Result<Option<Meta>, Error> {
    resolve(&layout.repository(), &MetaCache::default(), tag, true).await
}

// Test_repositoryClient_getImageFromV1ImageIndex, read from a layout.
#[tokio::test]
async fn kargo_creation_time_and_annotations_of_an_index() {
    let mut layout = TestLayout::new();
    let jan = layout.image(
        json!(config(Some("2023-01-01T00:00:00Z"), "amd64")),
        Value::Null,
    );
    let apr = layout.image(
        json!(config(Some("2023-04-01T00:00:00Z"), "arm64")),
        Value::Null,
    );

    // "with annotations, success": the index's own annotations only.
    let with_vendor = layout.index(
        vec![entry(jan.clone(), "amd64", Value::Null)],
        json!({"org.opencontainers.image.vendor": "Test Vendor"}),
    );
    layout.tag("vendor", with_vendor);
    // "creation time is taken from the index's own annotations"
    let own = layout.index(
        vec![entry(jan.clone(), "amd64", Value::Null)],
        json!({"org.opencontainers.image.created": "2023-03-01T00:00:00Z"}),
    );
    layout.tag("own", own);
    // "creation time is taken from a reference's annotations"
    let reference = layout.index(
        vec![entry(
            jan.clone(),
            "amd64",
            json!({"org.opencontainers.image.created": "2023-02-01T00:00:00Z"}),
        )],
        Value::Null,
    );
    layout.tag("reference", reference);
    // "creation time falls back to the newest referenced image"
    let newest = layout.index(
        vec![
            entry(jan.clone(), "amd64", Value::Null),
            entry(apr, "arm64", Value::Null),
        ],
        Value::Null,
    );
    layout.tag("newest", newest);
    // "empty list or index not supported": no entry names a platform.
    let empty = layout.index(vec![jan.clone()], Value::Null);
    layout.tag("empty", empty);
    // "no image found": an entry whose manifest is missing.
    let mut missing = jan.clone();
    missing["digest"] = json!(format!("sha256:{}", "0".repeat(64)));
    let missing = layout.index(vec![entry(missing, "amd64", Value::Null)], Value::Null);
    layout.tag("missing", missing);

    let vendor = meta_of(&layout, "vendor")
        .await
        .expect("reads")
        .expect("tagged");
    assert_eq!(
        vendor.annotations,
        annotations(&[("org.opencontainers.image.vendor", "Test Vendor")])
    );
    assert_eq!(vendor.created, Some(t("2023-01-01T00:00:00Z")));
    for (tag, want) in [
        ("own", "2023-03-01T00:00:00Z"),
        ("reference", "2023-02-01T00:00:00Z"),
        ("newest", "2023-04-01T00:00:00Z"),
    ] {
        let meta = meta_of(&layout, tag).await.expect("reads").expect("tagged");
        assert_eq!(meta.created, Some(t(want)), "{tag}");
    }

    let s = ok(json!({"imageSelectionStrategy": "Lexical", "allowTagsRegexes": ["^empty$"]}));
    let err = s
        .select(&layout.repository(), &MetaCache::default(), &|| false)
        .await
        .expect_err("an index without platforms");
    assert!(
        err.to_string()
            .contains("an index without platforms is not an image"),
        "{err}"
    );

    let err = meta_of(&layout, "missing")
        .await
        .expect_err("a missing child");
    assert!(err.to_string().contains("found no manifest"), "{err}");
}

// Test_repositoryClient_getImageFromV1Image "created date is taken from
// label" and "with annotations", through a manifest and its config.
#[tokio::test]
async fn kargo_creation_time_of_an_image_read_from_its_config() {
    let mut layout = TestLayout::new();
    let mut labelled = config(Some("2023-01-01T00:00:00Z"), "amd64");
    labelled["config"] =
        json!({"Labels": {"org.opencontainers.image.created": "2023-02-01T00:00:00Z"}});
    let labelled = layout.image(labelled, Value::Null);
    layout.tag("label", labelled);
    let annotated = layout.image(
        config(None, "amd64"),
        json!({"org.opencontainers.image.created": "2023-01-01T00:00:00Z",
               "org.opencontainers.image.authors": "Test Author"}),
    );
    layout.tag("annotated", annotated);

    let meta = meta_of(&layout, "label")
        .await
        .expect("reads")
        .expect("tagged");
    assert_eq!(meta.created, Some(t("2023-02-01T00:00:00Z")));
    assert!(meta.annotations.is_empty());
    let meta = meta_of(&layout, "annotated")
        .await
        .expect("reads")
        .expect("tagged");
    assert_eq!(meta.created, Some(t("2023-01-01T00:00:00Z")));
    assert_eq!(
        meta.annotations["org.opencontainers.image.authors"],
        "Test Author"
    );
}

// Test_baseSelector_imagesToAPIImages's limit and the selectors' order,
// over a layout: the limit applies after filtering and sorting.
#[tokio::test]
async fn kargo_discovery_limit_applies_after_ordering() {
    let mut layout = TestLayout::new();
    for (tag, created) in [
        ("foo", "2024-01-03T00:00:00Z"),
        ("bar", "2024-01-01T00:00:00Z"),
        ("bat", "2024-01-02T00:00:00Z"),
    ] {
        let image = layout.image(config(Some(created), "amd64"), Value::Null);
        layout.tag(tag, image);
    }
    let repo = layout.repository();
    for (strategy, want) in [("Lexical", ["foo", "bat"]), ("NewestBuild", ["foo", "bat"])] {
        let s = ok(json!({"imageSelectionStrategy": strategy, "discoveryLimit": 2}));
        let got = s
            .select(&repo, &MetaCache::default(), &|| false)
            .await
            .expect("selects");
        let tags: Vec<&str> = got.iter().map(|s| s.tag.as_str()).collect();
        assert_eq!(tags, want, "{strategy}");
    }
    let s = ok(json!({"imageSelectionStrategy": "Digest", "constraint": "bar"}));
    let got = s
        .select(&repo, &MetaCache::default(), &|| false)
        .await
        .expect("selects");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].meta.created, Some(t("2024-01-01T00:00:00Z")));
    // "miss": the followed tag does not exist.
    let s = ok(json!({"imageSelectionStrategy": "Digest", "constraint": "fake-constraint"}));
    assert!(
        s.select(&repo, &MetaCache::default(), &|| false)
            .await
            .expect("selects")
            .is_empty()
    );
}

// Test_imageRepoURLRegex (pkg/subscription/image_test.go): which
// repository URLs an image subscription takes. kargo-rs reads them with
// oci-client's reference parser when the registry is first asked.
#[tokio::test]
async fn kargo_image_repository_urls() {
    let core = Core::new(super::super::Options::default());
    let cases = [
        ("", false),
        ("repo", true),
        ("library/ubuntu", true),
        ("/akuity/kargo", false),
        ("docker.io/library/ubuntu", true),
        ("ghcr.io/akuity/kargo", true),
        ("ghcr.io/akuity/kargo/sub", true),
        ("ghcr.io/akuity/kargo-sub", true),
        ("ghcr.io/akuity/kargo.sub", true),
        ("ghcr.io:443/akuity/kargo", true),
        ("ghcr.io/akuity/kargo/", false),
        ("ghcr.io//akuity/kargo", false),
        ("ghcr.io/akuity//kargo", false),
        ("ghcr.io/akuity/kargo@sha256", false),
        ("ghcr.io/akuity/kargo:tag", false),
        ("ghcr.io/akuity/kargo:tag/name", false),
        // Test_imageSubscriber_ValidateSubscription "RepoURL invalid format".
        ("bogus invalid", false),
    ];
    for (url, valid) in cases {
        let got = core
            .repository(url, false, kargo_core::credentials::CredentialType::Image)
            .await;
        match (got, valid) {
            (Ok(_), true) => {}
            (
                Err(Error::Invalid {
                    field: "repoURL", ..
                }),
                false,
            ) => {}
            (got, _) => panic!("{url:?}: want valid={valid}, got {:?}", got.map(|_| ())),
        }
    }
}

// Test_imageSubscriber_ApplySubscriptionDefaults and the remaining cases
// of Test_imageSubscriber_ValidateSubscription.
#[test]
fn kargo_image_subscription_defaults_and_limits() {
    let sub: ImageSubscription =
        serde_json::from_value(json!({"repoURL": "ghcr.io/akuity/kargo"})).expect("valid");
    assert_eq!(
        sub.image_selection_strategy,
        kargo_core::model::ImageSelectionStrategy::SemVer
    );
    assert!(sub.strict_semvers);
    assert_eq!(sub.discovery_limit, 20);
    let sub: ImageSubscription = serde_json::from_value(
        json!({"repoURL": "ghcr.io/akuity/kargo", "imageSelectionStrategy": "NewestBuild", "strictSemvers": false, "discoveryLimit": 9}),
    )
    .expect("valid");
    assert_eq!(
        sub.image_selection_strategy,
        kargo_core::model::ImageSelectionStrategy::NewestBuild
    );
    assert!(!sub.strict_semvers);
    assert_eq!(sub.discovery_limit, 9);
    // "ImageSelectionStrategy invalid" is refused when the subscription is read.
    assert!(
        serde_json::from_value::<ImageSubscription>(
            json!({"repoURL": "x", "imageSelectionStrategy": "InvalidStrategy"})
        )
        .is_err()
    );
    assert_eq!(
        refused_field(json!({"imageSelectionStrategy": "Digest", "constraint": ""})),
        "constraint"
    );
    assert_eq!(refused_field(json!({"constraint": "bogus"})), "constraint");
    assert_eq!(refused_field(json!({"platform": "bogus"})), "platform");
    assert_eq!(
        refused_field(json!({"discoveryLimit": 0})),
        "discoveryLimit"
    );
    assert_eq!(
        refused_field(json!({"discoveryLimit": 101})),
        "discoveryLimit"
    );
    // "valid"
    ok(
        json!({"repoURL": "ghcr.io/akuity/kargo", "imageSelectionStrategy": "SemVer",
        "constraint": "^1.0.0", "platform": "linux/amd64", "discoveryLimit": 20}),
    );
}
