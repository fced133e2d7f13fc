//! Helm charts built in tests: chart archives packaged as Helm packages
//! them (`<name>/Chart.yaml` and friends in a gzipped tar) and classic
//! chart repositories (archives plus an `index.yaml`) written to a
//! directory, to be served by [`HttpServer::files`](crate::git_server::HttpServer::files).

use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;

/// A chart archive of chart `name` at `version`: `Chart.yaml`,
/// `values.yaml` and one template, under `name/`.
pub fn chart_archive(name: &str, version: &str) -> Vec<u8> {
    let files = [
        (
            "Chart.yaml",
            format!("apiVersion: v2\nname: {name}\nversion: {version}\ntype: application\n"),
        ),
        ("values.yaml", format!("version: {version}\n")),
        (
            "templates/configmap.yaml",
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  version: {{{{ .Values.version | quote }}}}\n"
            ),
        ),
    ];
    let mut tar = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    for (path, text) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        tar.append_data(&mut header, format!("{name}/{path}"), text.as_bytes())
            .expect("append to the chart archive");
    }
    tar.into_inner()
        .expect("finish the tar")
        .finish()
        .expect("finish the gzip stream")
}

/// An `index.yaml` listing `charts` as `(name, version, url)`, in that
/// order, as `helm repo index` writes one (the fields a client reads).
pub fn index_yaml(charts: &[(&str, &str, &str)]) -> String {
    let mut out = String::from("apiVersion: v1\nentries:\n");
    let mut names: Vec<&str> = charts.iter().map(|c| c.0).collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        out.push_str(&format!("  {name}:\n"));
        for (_, version, url) in charts.iter().filter(|c| c.0 == name) {
            out.push_str(&format!(
                "  - apiVersion: v2\n    name: {name}\n    version: {version}\n    created: \"2024-01-01T00:00:00Z\"\n    urls:\n    - {url}\n"
            ));
        }
    }
    out.push_str("generated: \"2024-01-01T00:00:00Z\"\n");
    out
}

/// Writes a classic chart repository into `dir`: an archive
/// `<name>-<version>.tgz` for each of `charts` and an `index.yaml`
/// listing them by relative URL.
pub fn write_repository(dir: &Path, charts: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).expect("create the repository directory");
    let mut listed = Vec::new();
    for (name, version) in charts {
        let file = format!("{name}-{version}.tgz");
        std::fs::write(dir.join(&file), chart_archive(name, version)).expect("write an archive");
        listed.push((*name, *version, file));
    }
    let entries: Vec<(&str, &str, &str)> = listed
        .iter()
        .map(|(n, v, f)| (*n, *v, f.as_str()))
        .collect();
    std::fs::write(dir.join("index.yaml"), index_yaml(&entries)).expect("write index.yaml");
}
