//! Chart archives: what Helm checks before it moves one into `charts/` or
//! deletes one from there (a gzipped tar whose top directory holds a
//! `Chart.yaml` with a name and a version), and packaging a chart
//! directory (a `file://` dependency) into one.

use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

/// The largest `Chart.yaml` read from an archive.
const MAX_CHART_YAML: u64 = 1 << 20;

/// The most files a packaged chart directory may hold.
const MAX_FILES: usize = 10_000;

/// The name and version in a chart's `Chart.yaml` text.
pub(super) fn metadata(chart_yaml: &str) -> Result<(String, String), String> {
    let doc = crate::edit::yaml::read(chart_yaml).map_err(|e| e.to_string())?;
    let field = |key: &str| match doc.get(key) {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(serde_json::Value::Number(n)) => Ok(crate::edit::number_text(n)),
        _ => Err(format!("`{key}` is missing")),
    };
    Ok((field("name")?, field("version")?))
}

/// The name and version of the chart in archive `bytes`, or why it is
/// not a chart archive.
pub(super) fn inspect(bytes: &[u8]) -> Result<(String, String), String> {
    let mut archive = tar::Archive::new(GzDecoder::new(bytes));
    let entries = archive
        .entries()
        .map_err(|e| format!("not a gzipped tar archive: {e}"))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("not a gzipped tar archive: {e}"))?;
        let path = entry
            .path()
            .map_err(|e| format!("bad entry name: {e}"))?
            .into_owned();
        let parts: Vec<_> = path.components().collect();
        if parts.len() == 2 && parts[1].as_os_str() == "Chart.yaml" {
            let mut text = String::new();
            entry
                .take(MAX_CHART_YAML)
                .read_to_string(&mut text)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            return metadata(&text).map_err(|e| format!("{}: {e}", path.display()));
        }
    }
    Err("no Chart.yaml in its top directory".into())
}

/// Packages the chart directory `dir` as Helm packages a `file://`
/// dependency: its files (less those `.helmignore` names) under
/// `<name>/`, gzipped; returns the archive's file name
/// (`<name>-<version>.tgz`) and bytes. Symbolic links are followed, and
/// must stay inside `root` (the work dir), as Kargo requires.
pub(super) fn package(dir: &Path, root: &Path) -> Result<(String, Vec<u8>), String> {
    let chart_yaml = std::fs::read_to_string(dir.join("Chart.yaml"))
        .map_err(|e| format!("cannot read Chart.yaml: {e}"))?;
    let (name, version) = metadata(&chart_yaml).map_err(|e| format!("Chart.yaml: {e}"))?;
    let rules = std::fs::read_to_string(dir.join(".helmignore")).ok();
    let ignore = crate::fs::ignore_matcher("helm-update-chart", dir, &[], rules.as_deref())
        .map_err(|e| e.to_string())?;
    let root = root
        .canonicalize()
        .map_err(|e| format!("cannot resolve the work dir: {e}"))?;
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    collect(dir, "", &root, &ignore, &mut files, 0)?;
    files.sort();
    let mut tar = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    tar.mode(tar::HeaderMode::Deterministic);
    for (rel, path) in &files {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {rel}: {e}"))?;
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, format!("{name}/{rel}"), bytes.as_slice())
            .map_err(|e| format!("cannot archive {rel}: {e}"))?;
    }
    let gz = tar
        .into_inner()
        .map_err(|e| format!("cannot archive: {e}"))?;
    let bytes = gz.finish().map_err(|e| format!("cannot archive: {e}"))?;
    Ok((format!("{name}-{version}.tgz"), bytes))
}

/// Adds the files under `dir` (shown as `prefix`) to `out`.
fn collect(
    dir: &Path,
    prefix: &str,
    root: &Path,
    ignore: &ignore::gitignore::Gitignore,
    out: &mut Vec<(String, PathBuf)>,
    depth: usize,
) -> Result<(), String> {
    if depth > 100 {
        return Err(format!("{prefix}: directories nest too deep"));
    }
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot list {prefix:?}: {e}"))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list {prefix:?}: {e}"))?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            file_name
        } else {
            format!("{prefix}/{file_name}")
        };
        let path = entry.path();
        let real = path
            .canonicalize()
            .map_err(|e| format!("cannot resolve {rel}: {e}"))?;
        if !real.starts_with(root) {
            return Err(format!("{rel} leads outside the work dir"));
        }
        let is_dir = real.is_dir();
        if ignore.matched(&path, is_dir).is_ignore() {
            continue;
        }
        if is_dir {
            collect(&path, &rel, root, ignore, out, depth + 1)?;
        } else {
            if out.len() >= MAX_FILES {
                return Err(format!("more than {MAX_FILES} files"));
            }
            out.push((rel, real));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packaged_directory_is_a_chart_archive_named_as_helm_names_it() {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path().join("lib");
        std::fs::create_dir_all(dir.join("templates")).unwrap();
        std::fs::write(
            dir.join("Chart.yaml"),
            "apiVersion: v2\nname: lib\nversion: 1.2.0\n",
        )
        .unwrap();
        std::fs::write(dir.join("templates/a.yaml"), "a: 1\n").unwrap();
        std::fs::write(dir.join("notes.bak"), "x").unwrap();
        std::fs::write(dir.join(".helmignore"), "*.bak\n").unwrap();
        let (file, bytes) = package(&dir, work.path()).unwrap();
        assert_eq!(file, "lib-1.2.0.tgz");
        assert_eq!(inspect(&bytes).unwrap(), ("lib".into(), "1.2.0".into()));
        let mut names: Vec<String> = tar::Archive::new(GzDecoder::new(bytes.as_slice()))
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["lib/.helmignore", "lib/Chart.yaml", "lib/templates/a.yaml"]
        );
        let (_, again) = package(&dir, work.path()).unwrap();
        assert_eq!(bytes, again, "packaging is deterministic");
    }

    #[test]
    fn a_symlink_leading_outside_the_work_dir_is_refused() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        let work = tempfile::tempdir().unwrap();
        let dir = work.path().join("lib");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("Chart.yaml"), "name: lib\nversion: 1.0.0\n").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.join("link")).unwrap();
        let err = package(&dir, work.path()).unwrap_err();
        assert!(err.contains("link leads outside the work dir"), "{err}");
    }

    #[test]
    fn archives_without_a_chart_are_told_apart() {
        assert!(inspect(b"not gzip").is_err());
        let mut tar = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
        let mut header = tar::Header::new_gnu();
        header.set_size(2);
        tar.append_data(&mut header, "x/values.yaml", &b"{}"[..])
            .unwrap();
        let bytes = tar.into_inner().unwrap().finish().unwrap();
        assert_eq!(
            inspect(&bytes).unwrap_err(),
            "no Chart.yaml in its top directory"
        );
    }
}
