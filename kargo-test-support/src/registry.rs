//! A real `docker-registry` on 127.0.0.1 (killed on drop), image content
//! that is pushed to it through oci-client or written as an OCI
//! image-layout directory, and a proxy counting the requests a client
//! sends it.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use crate::layout::sha256;
use crate::process::{free_port, which};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde_json::{Value, json};

/// The media type of an OCI image index.
pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// The media type of an OCI image manifest.
pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// The media type of an OCI image config.
pub const IMAGE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// The media type of a Helm chart's config.
pub const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
/// The media type of a Helm chart's archive layer.
pub const HELM_CHART: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
/// The media type of an uncompressed layer.
pub const LAYER: &str = "application/vnd.oci.image.layer.v1.tar";

/// A `docker-registry serve` process on a free loopback port.
#[derive(Debug)]
pub struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Registry {
    /// Starts a registry; with `user`, it requires that user's password
    /// (htpasswd basic auth).
    pub fn start(user: Option<(&str, &str)>) -> Registry {
        Registry::start_with(user, None)
    }

    /// Starts a registry whose storage lives in `data` (kept after the
    /// registry stops, so benchmarks can seed it once).
    pub fn start_in(data: &Path) -> Registry {
        Registry::start_with(None, Some(data))
    }

    fn start_with(user: Option<(&str, &str)>, data: Option<&Path>) -> Registry {
        let binary = which(&["docker-registry"]).unwrap_or_else(|| {
            panic!(
                "`docker-registry` is not on PATH: these tests need a real OCI registry. \
                 Install it with scripts/install-registry.sh (scripts/test.sh runs every \
                 scripts/install-*.sh)."
            )
        });
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
            data.map_or_else(|| dir.path().join("data"), Path::to_owned)
                .display()
        );
        if let Some((name, password)) = user {
            let hash = bcrypt::hash(password, 4).expect("bcrypt");
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, format!("{name}:{hash}\n")).expect("write htpasswd");
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: kargo-test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("write config");
        let child = Command::new(binary)
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry");
        let registry = Registry {
            child,
            addr,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&registry.addr).is_err() {
            assert!(Instant::now() < deadline, "docker-registry did not start");
            std::thread::sleep(Duration::from_millis(25));
        }
        registry
    }
}

/// What one tag points to.
#[derive(Debug, Clone, Default)]
pub struct Seed {
    /// The tag.
    pub tag: String,
    /// The config's `created` (for an index: every child's).
    pub created: Option<String>,
    /// Empty: a single `linux/amd64` manifest; otherwise an index with one
    /// manifest per `os/arch[/variant]`.
    pub platforms: Vec<&'static str>,
    /// Annotations of the manifest or index.
    pub annotations: BTreeMap<String, String>,
    /// Annotations of each index entry.
    pub entry_annotations: BTreeMap<String, String>,
    /// A non-image artifact: config media type and `artifactType`.
    pub artifact: Option<(&'static str, &'static str)>,
}

impl Seed {
    /// A single `linux/amd64` image tagged `tag`.
    pub fn new(tag: &str) -> Seed {
        Seed {
            tag: tag.into(),
            ..Default::default()
        }
    }

    /// Sets the config's `created`.
    pub fn created(mut self, t: &str) -> Seed {
        self.created = Some(t.into());
        self
    }

    /// Makes it an index over these `os/arch[/variant]` platforms.
    pub fn platforms(mut self, p: &[&'static str]) -> Seed {
        self.platforms = p.to_vec();
        self
    }

    /// Adds an annotation to the manifest or index.
    pub fn annotation(mut self, k: &str, v: &str) -> Seed {
        self.annotations.insert(k.into(), v.into());
        self
    }

    /// Adds an annotation to each index entry.
    pub fn entry_annotation(mut self, k: &str, v: &str) -> Seed {
        self.entry_annotations.insert(k.into(), v.into());
        self
    }

    /// Makes it a non-image artifact with this config media type and
    /// `artifactType`.
    pub fn artifact(mut self, config_type: &'static str, artifact_type: &'static str) -> Seed {
        self.artifact = Some((config_type, artifact_type));
        self
    }
}

/// Blobs and manifests of a repository, ready to push or write.
#[derive(Debug, Default)]
pub struct Content {
    /// Config and layer blobs, by digest.
    pub blobs: BTreeMap<String, Vec<u8>>,
    /// Untagged manifests (index children), by digest.
    pub children: Vec<(String, Vec<u8>, &'static str)>,
    /// Tagged manifests: (tag, digest, bytes, media type).
    pub tagged: Vec<(String, String, Vec<u8>, &'static str)>,
}

impl Content {
    /// The digest of the manifest or index tagged `tag`.
    pub fn digest_of(&self, tag: &str) -> String {
        self.tagged
            .iter()
            .find(|t| t.0 == tag)
            .map(|t| t.1.clone())
            .unwrap_or_else(|| panic!("no tag {tag}"))
    }

    fn blob(&mut self, bytes: Vec<u8>) -> (String, usize) {
        let digest = sha256(&bytes);
        let size = bytes.len();
        self.blobs.insert(digest.clone(), bytes);
        (digest, size)
    }

    fn manifest(
        &mut self,
        seed: &Seed,
        platform: &str,
        annotations: &BTreeMap<String, String>,
    ) -> Vec<u8> {
        let mut parts = platform.split('/');
        let (os, arch, variant) = (
            parts.next().unwrap_or("linux"),
            parts.next().unwrap_or("amd64"),
            parts.next(),
        );
        let (config_type, artifact_type) = seed.artifact.unwrap_or((IMAGE_CONFIG, ""));
        let config = if seed.artifact.is_some() {
            json!({"tag": seed.tag}).to_string().into_bytes()
        } else {
            let mut c = json!({
                "architecture": arch, "os": os,
                "rootfs": {"type": "layers", "diff_ids": []},
                "config": {},
            });
            if let Some(v) = variant {
                c["variant"] = json!(v);
            }
            if let Some(t) = &seed.created {
                c["created"] = json!(t);
            }
            c.to_string().into_bytes()
        };
        let (config_digest, config_size) = self.blob(config);
        let (layer_digest, layer_size) =
            self.blob(format!("layer of {} for {platform}", seed.tag).into_bytes());
        let mut m = json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": {"mediaType": config_type, "digest": config_digest, "size": config_size},
            "layers": [{"mediaType": LAYER, "digest": layer_digest, "size": layer_size}],
        });
        if !artifact_type.is_empty() {
            m["artifactType"] = json!(artifact_type);
        }
        if !annotations.is_empty() {
            m["annotations"] = json!(annotations);
        }
        m.to_string().into_bytes()
    }

    /// Adds the manifests and blobs of `seed`.
    pub fn add(&mut self, seed: &Seed) {
        if seed.platforms.is_empty() {
            let bytes = self.manifest(seed, "linux/amd64", &seed.annotations);
            let digest = sha256(&bytes);
            self.tagged
                .push((seed.tag.clone(), digest, bytes, MANIFEST));
            return;
        }
        let mut entries = Vec::new();
        for platform in &seed.platforms {
            let bytes = self.manifest(seed, platform, &BTreeMap::new());
            let digest = sha256(&bytes);
            let mut parts = platform.split('/');
            let mut p = json!({"os": parts.next(), "architecture": parts.next()});
            if let Some(v) = parts.next() {
                p["variant"] = json!(v);
            }
            let mut entry = json!({"mediaType": MANIFEST, "digest": digest, "size": bytes.len(), "platform": p});
            if !seed.entry_annotations.is_empty() {
                entry["annotations"] = json!(seed.entry_annotations);
            }
            entries.push(entry);
            self.children.push((digest, bytes, MANIFEST));
        }
        let mut index = json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": entries});
        if !seed.annotations.is_empty() {
            index["annotations"] = json!(seed.annotations);
        }
        let bytes = index.to_string().into_bytes();
        let digest = sha256(&bytes);
        self.tagged.push((seed.tag.clone(), digest, bytes, INDEX));
    }

    /// Adds a Helm chart tagged `tag` (a `+` in it written `_`, as Helm
    /// tags charts): a manifest with Helm's config and one chart layer
    /// holding `archive`, as `helm push` writes it.
    pub fn add_chart(&mut self, tag: &str, archive: Vec<u8>) {
        let (config_digest, config_size) = self.blob(
            json!({"apiVersion": "v2", "name": "chart", "version": tag.replace('_', "+")})
                .to_string()
                .into_bytes(),
        );
        let (layer_digest, layer_size) = self.blob(archive);
        let m = json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": {"mediaType": HELM_CONFIG, "digest": config_digest, "size": config_size},
            "layers": [{"mediaType": HELM_CHART, "digest": layer_digest, "size": layer_size}],
        });
        let bytes = m.to_string().into_bytes();
        let digest = sha256(&bytes);
        self.tagged
            .push((tag.replace('+', "_"), digest, bytes, MANIFEST));
    }

    /// The content of `seeds`.
    pub fn from_seeds(seeds: &[Seed]) -> Content {
        let mut c = Content::default();
        for s in seeds {
            c.add(s);
        }
        c
    }

    /// Pushes everything to `addr/repo` through oci-client.
    pub async fn push(&self, addr: &str, repo: &str, auth: &RegistryAuth) {
        let client = Client::new(ClientConfig {
            protocol: ClientProtocol::HttpsExcept(vec![addr.to_owned()]),
            ..Default::default()
        });
        let at = |r: &str| -> Reference {
            if r.starts_with("sha256:") {
                Reference::with_digest(addr.into(), repo.into(), r.into())
            } else {
                Reference::with_tag(addr.into(), repo.into(), r.into())
            }
        };
        let base = at("seed");
        client
            .auth(&base, auth, oci_client::RegistryOperation::Push)
            .await
            .expect("auth for push");
        for (digest, bytes) in &self.blobs {
            client
                .push_blob(&base, bytes.clone(), digest)
                .await
                .unwrap_or_else(|e| panic!("push blob {digest}: {e}"));
        }
        for (digest, bytes, media_type) in &self.children {
            client
                .push_manifest_raw(
                    &at(digest),
                    bytes.clone(),
                    media_type.parse().expect("header"),
                )
                .await
                .unwrap_or_else(|e| panic!("push child {digest}: {e}"));
        }
        for (tag, _, bytes, media_type) in &self.tagged {
            client
                .push_manifest_raw(&at(tag), bytes.clone(), media_type.parse().expect("header"))
                .await
                .unwrap_or_else(|e| panic!("push {tag}: {e}"));
        }
    }

    /// Writes everything as an OCI image-layout directory at `dir`.
    pub fn write_layout(&self, dir: &Path) {
        let blobs = dir.join("blobs").join("sha256");
        std::fs::create_dir_all(&blobs).expect("mkdir blobs");
        let write = |digest: &str, bytes: &[u8]| {
            let hex = digest.strip_prefix("sha256:").expect("sha256");
            std::fs::write(blobs.join(hex), bytes).expect("write blob");
        };
        for (digest, bytes) in &self.blobs {
            write(digest, bytes);
        }
        for (digest, bytes, _) in &self.children {
            write(digest, bytes);
        }
        let mut manifests = Vec::new();
        for (tag, digest, bytes, media_type) in &self.tagged {
            write(digest, bytes);
            manifests.push(json!({
                "mediaType": media_type, "digest": digest, "size": bytes.len(),
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }));
        }
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
            .expect("write oci-layout");
        let index = json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": manifests});
        std::fs::write(dir.join("index.json"), index.to_string()).expect("write index.json");
    }
}

/// The parsed JSON of an object, for assertions.
pub fn value<T: serde::Serialize>(t: &T) -> Value {
    serde_json::to_value(t).expect("serializes")
}

/// A TCP proxy on a free loopback port in front of a registry that counts
/// the HTTP requests passing through it, by method and path (without the
/// query). Discovery only sends bodiless GET/HEAD requests, so request
/// lines are found by scanning what clients send.
#[derive(Debug)]
pub struct CountingProxy {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl CountingProxy {
    /// Proxies to `upstream` (`host:port`); call inside a tokio runtime.
    pub async fn start(upstream: &str) -> CountingProxy {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr").to_string();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let upstream = upstream.to_owned();
        let log = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let log = log.clone();
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let up = async move {
                        let mut buf = vec![0u8; 16 * 1024];
                        let mut pending = Vec::new();
                        loop {
                            let n = match cr.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            pending.extend_from_slice(&buf[..n]);
                            while let Some(end) = pending.windows(2).position(|w| w == b"\r\n") {
                                let line = String::from_utf8_lossy(&pending[..end]).to_string();
                                pending.drain(..end + 2);
                                let mut parts = line.split(' ');
                                if let (Some(method), Some(target), Some(version)) =
                                    (parts.next(), parts.next(), parts.next())
                                    && version.starts_with("HTTP/")
                                {
                                    let path = target.split('?').next().unwrap_or(target);
                                    log.lock().expect("log").push(format!("{method} {path}"));
                                }
                            }
                            if sw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = sw.shutdown().await;
                    };
                    let down = async move {
                        let _ = tokio::io::copy(&mut sr, &mut cw).await;
                        let _ = cw.shutdown().await;
                    };
                    tokio::join!(up, down);
                });
            }
        });
        CountingProxy { addr, seen, task }
    }

    /// Every request so far (`GET /v2/app/tags/list`), and forgets them.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.seen.lock().expect("log"))
    }

    /// How many of `requests` hit a path containing `part`.
    pub fn count(requests: &[String], part: &str) -> usize {
        requests.iter().filter(|r| r.contains(part)).count()
    }
}
