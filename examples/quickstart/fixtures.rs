//! What the demo works on, created from scratch on every run: a GitOps
//! repository and an OCI image-layout registry, in a directory that is new,
//! empty, or the demo's own from an earlier run (marked by [`MARKER`]).

use std::path::{Path, PathBuf};
use std::process::Command;

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
}

/// The file that marks a directory as the demo's own: only a directory
/// holding it may have its contents replaced.
pub(crate) const MARKER: &str = ".kargo-quickstart";

/// What the demo creates in its directory, besides [`MARKER`]: all that a
/// later run removes. Anything else in the directory is left alone.
const ENTRIES: [&str; 5] = ["gitops.git", "registry", "seed", "work", "review"];

impl Demo {
    /// Creates the demo in `root`: a new or empty directory, or one an
    /// earlier run made (it holds [`MARKER`]), whose [`ENTRIES`] are then
    /// replaced. Any other directory is refused before anything is written.
    pub(crate) fn create(root: &Path) -> Result<Demo, Box<dyn std::error::Error>> {
        let within = |e: std::io::Error| format!("{}: {e}", root.display());
        if root.exists() {
            let ours = root.join(MARKER).is_file();
            let empty = std::fs::read_dir(root).map_err(within)?.next().is_none();
            if !ours && !empty {
                return Err(format!(
                    "{} is not empty and was not made by the quickstart (it has no {MARKER} \
                     file); nothing was changed. Give a new or empty directory.",
                    root.display()
                )
                .into());
            }
            for entry in ENTRIES {
                let path = root.join(entry);
                if path.symlink_metadata().is_ok() {
                    std::fs::remove_dir_all(&path).map_err(within)?;
                }
            }
        }
        std::fs::create_dir_all(root).map_err(within)?;
        std::fs::write(
            root.join(MARKER),
            "Made by the kargo-rs quickstart, which replaces gitops.git, registry, work and \
             review here on its next run in this directory.\n",
        )
        .map_err(within)?;
        let root = root.canonicalize()?;
        let demo = Demo {
            repo: root.join("gitops.git"),
            registry: root.join("registry"),
            root,
        };
        demo.create_repository()?;
        demo.create_registry()?;
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
        image_layout(
            &self.registry.join("guestbook"),
            &[
                ("v0.1.0", "2026-09-01T09:00:00Z"),
                ("v0.2.0", "2026-10-01T09:00:00Z"),
                ("v0.3.0", "2026-11-01T09:00:00Z"),
            ],
        )?;
        image_layout(
            &self.registry.join("guestbook-function"),
            &[
                ("1.0.0", "2026-10-15T09:00:00Z"),
                ("1.1.0", "2026-11-15T09:00:00Z"),
            ],
        )
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

/// Writes an OCI image layout holding one small image per `(tag, created)`.
fn image_layout(layout: &Path, tags: &[(&str, &str)]) -> Result<(), Box<dyn std::error::Error>> {
    let mut manifests = Vec::new();
    for (tag, created) in tags {
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
        manifests.push(descriptor);
    }
    write(layout, "oci-layout", r#"{"imageLayoutVersion": "1.0.0"}"#)?;
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests});
    write(layout, "index.json", &index.to_string())?;
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
