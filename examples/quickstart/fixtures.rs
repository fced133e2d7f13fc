//! What the demo works on: a GitOps repository and an OCI image-layout
//! registry, made from scratch in a directory that is new or empty, and
//! continued with the next release in one an earlier run made (marked by
//! [`MARKER`]).

use std::path::{Path, PathBuf};
use std::process::Command;

use kargo::core::time::Timestamp;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The environments, in promotion order.
pub(crate) const ENVS: [&str; 3] = ["dev", "staging", "prod"];

/// The demo's directory layout.
#[derive(Debug)]
pub(crate) struct Demo {
    /// Everything the demo writes lives here.
    pub(crate) root: PathBuf,
    /// The GitOps repository (bare), as the remote every promotion pushes to.
    pub(crate) repo: PathBuf,
    /// The OCI image-layout directories, one per image repository.
    pub(crate) registry: PathBuf,
    /// The newest guestbook tag: the one this run released.
    pub(crate) release: String,
    /// Whether this run continued an earlier run's demo.
    pub(crate) continued: bool,
}

/// The file that marks a directory as the demo's own: only a directory
/// holding it may have the demo's files changed.
pub(crate) const MARKER: &str = ".kargo-quickstart";

/// What the demo creates in its directory, besides [`MARKER`]: all that a
/// later run removes when an earlier one left them unfinished. Anything
/// else in the directory is left alone.
const ENTRIES: [&str; 10] = [
    "gitops.git",
    "registry",
    "seed",
    "work",
    "review",
    "manifests.yaml",
    ".manifests.yaml.tmp",
    "state.db",
    "state.db-wal",
    "state.db-shm",
];

/// The guestbook tags of a new demo, with their creation times.
const FIRST_RELEASES: [(&str, &str); 3] = [
    ("v0.1.0", "2026-09-01T09:00:00Z"),
    ("v0.2.0", "2026-10-01T09:00:00Z"),
    ("v0.3.0", "2026-11-01T09:00:00Z"),
];

impl Demo {
    /// Opens the demo in `root`. A new or empty directory gets a new
    /// repository, registry and state. One an earlier run made (it holds
    /// [`MARKER`]) is continued: the registry gets the next guestbook
    /// release, the repository and the state stay (when that run left
    /// them unfinished, the demo's [`ENTRIES`] are made anew). Any other
    /// directory is refused before anything is written.
    pub(crate) fn open(root: &Path) -> Result<Demo, Box<dyn std::error::Error>> {
        let within = |e: std::io::Error| format!("{}: {e}", root.display());
        let ours = root.join(MARKER).is_file();
        if root.exists() && !ours {
            let empty = std::fs::read_dir(root).map_err(within)?.next().is_none();
            if !empty {
                return Err(format!(
                    "{} is not empty and was not made by the quickstart (it has no {MARKER} \
                     file); nothing was changed. Give a new or empty directory.",
                    root.display()
                )
                .into());
            }
        }
        std::fs::create_dir_all(root).map_err(within)?;
        std::fs::write(
            root.join(MARKER),
            "Made by the kargo-rs quickstart. Its next run here releases the next guestbook \
             version and promotes it through gitops.git; only the quickstart's own files \
             are ever changed.\n",
        )
        .map_err(within)?;
        let root = root.canonicalize()?;
        let mut demo = Demo {
            repo: root.join("gitops.git"),
            registry: root.join("registry"),
            root,
            release: String::new(),
            continued: false,
        };
        if ours && demo.is_complete() {
            demo.continued = true;
            demo.release = demo.next_release()?;
        } else {
            demo.remove_entries()?;
            demo.create_repository()?;
            demo.create_registry()?;
            demo.release = FIRST_RELEASES[2].0.to_owned();
        }
        Ok(demo)
    }

    /// The repository's URL.
    pub(crate) fn repo_url(&self) -> String {
        format!("file://{}", self.repo.display())
    }

    /// The `oci-layout://` URL of image repository `name`.
    pub(crate) fn image_url(&self, name: &str) -> String {
        format!("oci-layout://{}", self.registry.join(name).display())
    }

    /// The project's manifests, as the controller reads them.
    pub(crate) fn manifests(&self) -> PathBuf {
        self.root.join("manifests.yaml")
    }

    /// The state store (SQLite), kept between runs.
    pub(crate) fn state(&self) -> PathBuf {
        self.root.join("state.db")
    }

    /// Writes the project's manifests from `template` with this demo's
    /// repository and registry filled in (a temporary file, renamed).
    pub(crate) fn write_manifests(&self, template: &str) -> std::io::Result<()> {
        let text = template
            .replace("__REPO_URL__", &self.repo_url())
            .replace("__GUESTBOOK_URL__", &self.image_url("guestbook"))
            .replace(
                "__FUNCTION_IMAGE_URL__",
                &self.image_url("guestbook-function"),
            );
        let temp = self.root.join(".manifests.yaml.tmp");
        std::fs::write(&temp, text)?;
        std::fs::rename(&temp, self.manifests())
    }

    /// Whether an earlier run finished making the repository, the
    /// registry and the manifests.
    fn is_complete(&self) -> bool {
        self.repo.join("refs/heads/main").is_file()
            && self.registry.join("guestbook/index.json").is_file()
            && self
                .registry
                .join("guestbook-function/index.json")
                .is_file()
            && self.manifests().is_file()
    }

    fn remove_entries(&self) -> Result<(), Box<dyn std::error::Error>> {
        for entry in ENTRIES {
            let path = self.root.join(entry);
            let Ok(meta) = path.symlink_metadata() else {
                continue;
            };
            let removed = if meta.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed.map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(())
    }

    /// Adds the next guestbook release to the registry (the minor version
    /// after the highest there, created now) and returns its tag.
    fn next_release(&self) -> Result<String, Box<dyn std::error::Error>> {
        let layout = self.registry.join("guestbook");
        let index: Value = serde_json::from_slice(&std::fs::read(layout.join("index.json"))?)?;
        let highest = index["manifests"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["annotations"]["org.opencontainers.image.ref.name"].as_str())
            .filter_map(|tag| semver::Version::parse(tag.trim_start_matches('v')).ok())
            .max()
            .ok_or_else(|| format!("{}: no release tags", layout.display()))?;
        let tag = format!("v{}.{}.0", highest.major, highest.minor + 1);
        add_image(&layout, &tag, &Timestamp::now().to_string())?;
        Ok(tag)
    }

    fn create_repository(&self) -> Result<(), Box<dyn std::error::Error>> {
        std::fs::create_dir_all(&self.repo)?;
        git(
            &self.repo,
            &["init", "-q", "--bare", "--initial-branch=main"],
        )?;
        let seed = self.root.join("seed");
        std::fs::create_dir_all(&seed)?;
        git(&seed, &["init", "-q", "--initial-branch=main"])?;
        write(&seed, ".gitignore", ".terraform/\n")?;
        for env in ENVS {
            write(
                &seed,
                &format!("envs/{env}/kubernetes/values.yaml"),
                &values(env),
            )?;
            write(&seed, &format!("envs/{env}/terraform/main.tf"), MAIN_TF)?;
            write(
                &seed,
                &format!("envs/{env}/terraform/terraform.tfvars"),
                &tfvars(env),
            )?;
        }
        write(&seed, "policies/iam-policy.json", IAM_POLICY)?;
        git(&seed, &["add", "-A"])?;
        git(
            &seed,
            &["commit", "-q", "-m", "GitOps repository for guestbook"],
        )?;
        git(&seed, &["push", "-q", &self.repo_url(), "main"])?;
        std::fs::remove_dir_all(&seed)?;
        Ok(())
    }

    fn create_registry(&self) -> Result<(), Box<dyn std::error::Error>> {
        for (tag, created) in FIRST_RELEASES {
            add_image(&self.registry.join("guestbook"), tag, created)?;
        }
        for (tag, created) in [
            ("1.0.0", "2026-10-15T09:00:00Z"),
            ("1.1.0", "2026-11-15T09:00:00Z"),
        ] {
            add_image(&self.registry.join("guestbook-function"), tag, created)?;
        }
        Ok(())
    }
}

/// Runs git in `dir` with a fixed identity and no user configuration.
pub(crate) fn git(dir: &Path, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Platform Team")
        .env("GIT_AUTHOR_EMAIL", "platform@example.com")
        .env("GIT_COMMITTER_NAME", "Platform Team")
        .env("GIT_COMMITTER_EMAIL", "platform@example.com")
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn write(dir: &Path, path: &str, contents: &str) -> std::io::Result<()> {
    let path = dir.join(path);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, contents)
}

fn values(env: &str) -> String {
    format!(
        "# Helm values for guestbook in {env}.\n\
         # image.tag and FUNCTION_URL are promoted by kargo-rs: change them through a promotion.\n\
         image:\n  repository: registry.example.com/guestbook # from the Warehouse\n  tag: \"v0.0.0\" # promoted\n\
         replicas: {replicas}\n\
         env:\n  - name: FUNCTION_URL # terraform output function_url\n    value: \"\"\n  - name: LOG_LEVEL\n    value: info\n",
        replicas = if env == "prod" { 3 } else { 1 }
    )
}

fn tfvars(env: &str) -> String {
    format!(
        "# Inputs of the guestbook function in {env}.\n\
         environment    = \"{env}\"\n\
         function_image = \"guestbook-function:0.0.0\" # promoted by kargo-rs\n"
    )
}

/// A stand-in for a Lambda function with a function URL: variables,
/// locals and outputs only, so Terraform needs no provider download. The
/// URL changes with the image, as a redeployed function's would.
const MAIN_TF: &str = r#"variable "environment" {
  type = string
}

variable "function_image" {
  type        = string
  description = "The Lambda function's container image."
}

locals {
  function_id = substr(sha256(var.function_image), 0, 12)
}

output "function_url" {
  value = "https://${local.function_id}.lambda-url.eu-west-1.on.aws/${var.environment}"
}
"#;

const IAM_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
      "Resource": "arn:aws:dynamodb:eu-west-1:123456789012:table/guestbook"
    }
  ]
}
"#;

/// Adds a small image tagged `tag`, created at `created`, to the OCI image
/// layout `layout` (made when missing); the index is replaced atomically.
fn add_image(layout: &Path, tag: &str, created: &str) -> Result<(), Box<dyn std::error::Error>> {
    let config = json!({"created": created, "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": []}});
    let config = blob(
        layout,
        "application/vnd.oci.image.config.v1+json",
        config.to_string().as_bytes(),
    )?;
    let manifest = json!({"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config, "layers": []});
    let mut descriptor = blob(
        layout,
        "application/vnd.oci.image.manifest.v1+json",
        manifest.to_string().as_bytes(),
    )?;
    descriptor["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
    let index_path = layout.join("index.json");
    let mut index = match std::fs::read(&index_path) {
        Ok(bytes) => serde_json::from_slice(&bytes)?,
        Err(_) => json!({"schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}),
    };
    index["manifests"]
        .as_array_mut()
        .ok_or_else(|| format!("{}: `manifests` is not a list", index_path.display()))?
        .push(descriptor);
    write(layout, "oci-layout", r#"{"imageLayoutVersion": "1.0.0"}"#)?;
    write(layout, "index.json.tmp", &index.to_string())?;
    std::fs::rename(layout.join("index.json.tmp"), &index_path)?;
    Ok(())
}

/// Stores `bytes` as a blob of the layout and returns its descriptor.
fn blob(layout: &Path, media_type: &str, bytes: &[u8]) -> std::io::Result<Value> {
    let digest = hex::encode(Sha256::digest(bytes));
    let blobs = layout.join("blobs/sha256");
    std::fs::create_dir_all(&blobs)?;
    std::fs::write(blobs.join(&digest), bytes)?;
    Ok(json!({"mediaType": media_type, "digest": format!("sha256:{digest}"), "size": bytes.len()}))
}
