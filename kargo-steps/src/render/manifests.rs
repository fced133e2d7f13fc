//! Rendered Kubernetes manifests: splitting a multi-document YAML stream,
//! reading each resource's identity, and the file names Kargo gives them.

use serde::Deserialize;

/// The documents of a YAML stream, split as Kubernetes' YAML reader
/// (which Kargo uses) splits them: a line starting with `---` followed by
/// nothing or a comment separates documents, the separator line belongs to
/// neither, and documents that hold only whitespace are left out. Each
/// document keeps its text, comments included.
pub(crate) fn split_documents(stream: &str) -> Vec<&str> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut at = 0;
    for line in stream.split_inclusive('\n') {
        if is_separator(line) {
            push_doc(&mut docs, &stream[start..at]);
            start = at + line.len();
        }
        at += line.len();
    }
    push_doc(&mut docs, &stream[start..]);
    docs
}

fn push_doc<'a>(docs: &mut Vec<&'a str>, doc: &'a str) {
    if !doc.trim().is_empty() {
        docs.push(doc);
    }
}

fn is_separator(line: &str) -> bool {
    line.strip_prefix("---").is_some_and(|rest| {
        let rest = rest.trim();
        rest.is_empty() || rest.starts_with('#')
    })
}

/// A resource's identity: what file names are made of. Fields that are
/// missing are empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Meta {
    pub(crate) api_version: String,
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) namespace: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMeta {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    metadata: RawObjectMeta,
}

#[derive(Default, Deserialize)]
struct RawObjectMeta {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
}

// `group` and `version` serve kustomize's file names.
#[cfg_attr(not(feature = "kustomize"), allow(dead_code))]
impl Meta {
    /// Reads a document's identity; `None` when it is not a YAML mapping
    /// with string fields where they are expected.
    pub(crate) fn of(doc: &str) -> Option<Meta> {
        let raw: RawMeta = serde_saphyr::from_str(doc).ok()?;
        Some(Meta {
            api_version: raw.api_version,
            kind: raw.kind,
            name: raw.metadata.name,
            namespace: raw.metadata.namespace,
        })
    }

    /// The API group (empty for the core group), as kustomize reads it:
    /// what precedes the first `/`.
    pub(crate) fn group(&self) -> &str {
        self.api_version
            .split_once('/')
            .map_or("", |(group, _)| group)
    }

    /// The API version without its group.
    pub(crate) fn version(&self) -> &str {
        self.api_version
            .split_once('/')
            .map_or(self.api_version.as_str(), |(_, version)| version)
    }
}

/// Refuses a generated file name that is not a plain name in the output
/// directory (Kargo's `validateGeneratedResourceFilename`): names come from
/// rendered metadata, which the chart or kustomization controls.
pub(crate) fn check_file_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("generated resource file name is empty".to_owned());
    }
    if name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
        return Err(format!("unsafe generated resource file name `{name}`"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_split_on_separator_lines_only() {
        let stream = "---\n# Source: c/templates/a.yaml\nkind: A\n--- # next\nkind: B\ntext: |\n  ---x\n---\n\n---\nkind: C";
        assert_eq!(
            split_documents(stream),
            vec![
                "# Source: c/templates/a.yaml\nkind: A\n",
                "kind: B\ntext: |\n  ---x\n",
                "kind: C"
            ]
        );
        assert!(split_documents("").is_empty());
        assert!(split_documents("---\n  \n---\n").is_empty());
    }

    #[test]
    fn identity_is_read_from_the_document() {
        let meta = Meta::of("# Source: x\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: prod\n  labels: {a: b}\nspec: {}\n").unwrap();
        assert_eq!(meta.group(), "apps");
        assert_eq!(meta.version(), "v1");
        assert_eq!(
            (meta.kind.as_str(), meta.name.as_str()),
            ("Deployment", "web")
        );
        assert_eq!(meta.namespace, "prod");
        let core = Meta::of("apiVersion: v1\nkind: Service\n").unwrap();
        assert_eq!((core.group(), core.version()), ("", "v1"));
        assert_eq!(core.name, "");
        assert!(Meta::of("- a\n- b\n").is_none());
        assert!(Meta::of("kind: A\nmetadata:\n  name: [1]\n").is_none());
    }

    /// Kargo: resource_filename_test.go, every case of
    /// `Test_validateGeneratedResourceFilename` (plus a NUL byte and a name
    /// that merely starts with two dots).
    #[test]
    fn unsafe_file_names_are_refused() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("empty", "", Some("generated resource file name is empty")),
            (
                "plain filename",
                "configmap-test-ns-test-configmap.yaml",
                None,
            ),
            ("absolute path", "/etc/passwd", Some("unsafe")),
            (
                "forward slash separator",
                "subdir/file.yaml",
                Some("unsafe"),
            ),
            ("backslash separator", "subdir\\file.yaml", Some("unsafe")),
            ("current segment alone", ".", Some("unsafe")),
            ("parent segment", "..", Some("unsafe")),
            ("parent traversal", "../owned-marker.yaml", Some("unsafe")),
            ("current-dir prefix", "./file.yaml", Some("unsafe")),
            ("backslash traversal", "..\\x.yaml", Some("unsafe")),
            ("NUL byte", "a\0.yaml", Some("unsafe")),
            ("leading dots only", "..a.yaml", None),
        ];
        for (case, name, want) in cases {
            match (check_file_name(name), want) {
                (Ok(()), None) => {}
                (Err(err), Some(want)) => {
                    assert!(err.contains(want), "{case}: {err}");
                    if !name.is_empty() {
                        assert!(err.contains(&format!("`{name}`")), "{case}: {err}");
                    }
                }
                (got, want) => panic!("{case}: got {got:?}, want error {want:?}"),
            }
        }
    }
}
