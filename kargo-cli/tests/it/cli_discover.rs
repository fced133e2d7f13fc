//! `kargo discover` over an OCI image-layout directory (the embedded
//! registry): the newest image becomes Freight with Kargo's ID.

use std::path::Path;

use crate::support::{credential_secret, kargo, layout_with_tags, write};
use serde_json::{Value, json};

#[test]
fn discover_prints_the_newest_image_as_freight_with_kargos_id() {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("guestbook");
    layout_with_tags(
        &layout,
        &[
            ("v1.0.0", "2026-01-01T00:00:00Z"),
            ("v1.2.0", "2026-02-01T00:00:00Z"),
            ("v1.10.0", "2026-03-01T00:00:00Z"),
            ("latest", "2026-03-01T00:00:00Z"),
        ],
    );
    let repo_url = format!("oci-layout://{}", layout.display());
    write(
        dir.path(),
        "manifests/warehouse.yaml",
        &format!(
            r#"apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: guestbook
  namespace: demo
spec:
  subscriptions:
  - image:
      repoURL: {repo_url}
"#
        ),
    );
    let manifests = dir.path().join("manifests");
    let out = kargo(
        dir.path(),
        &["discover", "--manifests", manifests.to_str().unwrap()],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let freight: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    let freight = freight.as_array().expect("a JSON array");
    assert_eq!(freight.len(), 1);
    let f = &freight[0];
    assert_eq!(
        f["origin"],
        json!({"kind": "Warehouse", "name": "guestbook"})
    );
    assert_eq!(
        f["images"][0]["tag"], "v1.10.0",
        "SemVer picks the highest version"
    );
    let digest = f["images"][0]["digest"].as_str().unwrap();
    assert!(digest.starts_with("sha256:"), "{digest}");

    // The ID is Kargo's recipe over what was found.
    let part = format!("{repo_url}:v1.10.0@{digest}");
    let expected = hex::encode(sha1_of(&format!("Warehouse/guestbook:{part}")));
    assert_eq!(f["metadata"]["name"], expected);

    // The printed Freight feeds `freight-id` unchanged.
    let file = write(dir.path(), "freight.json", &f.to_string());
    let id = kargo(dir.path(), &["freight-id", file.to_str().unwrap()]);
    assert_eq!(id.stdout.trim(), expected);
}

#[test]
fn discover_of_an_unknown_warehouse_is_unusable_input() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "m/empty.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    );
    let m = dir.path().join("m");
    let out = kargo(
        dir.path(),
        &[
            "discover",
            "--manifests",
            m.to_str().unwrap(),
            "--warehouse",
            "nope",
        ],
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("no Warehouse named `nope`"),
        "{}",
        out.stderr
    );
}

fn sha1_of(text: &str) -> Vec<u8> {
    // sha1 through the same crate kargo-core uses would couple the test to
    // the implementation; compute it with the system's sha1sum instead.
    let out = std::process::Command::new("sha1sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(text.as_bytes())?;
            child.wait_with_output()
        })
        .expect("sha1sum runs");
    let hex_digest = String::from_utf8(out.stdout).unwrap();
    hex::decode(hex_digest.split_whitespace().next().unwrap()).unwrap()
}

#[test]
fn credential_secrets_open_a_registry_that_requires_a_login() {
    let dir = tempfile::tempdir().unwrap();
    let registry = kargo_test_support::registry::Registry::start(Some(("kargo", "t0ps3cret")));
    let auth = oci_client::secrets::RegistryAuth::Basic("kargo".into(), "t0ps3cret".into());
    let content = kargo_test_support::registry::Content::from_seeds(&[
        kargo_test_support::registry::Seed::new("1.2.3"),
    ]);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(content.push(&registry.addr, "app", &auth));
    let repo_url = format!("{}/app", registry.addr);
    write(
        dir.path(),
        "manifests/warehouse.yaml",
        &format!(
            "apiVersion: kargo.akuity.io/v1alpha1\nkind: Warehouse\nmetadata:\n  name: app\nspec:\n  subscriptions:\n  - image:\n      repoURL: {repo_url}\n"
        ),
    );
    let manifests = dir.path().join("manifests");
    let manifests = manifests.to_str().unwrap();

    let discover = |credentials: Option<&Path>| {
        let mut args = vec!["discover", "--manifests", manifests];
        if let Some(file) = credentials {
            args.extend(["--credentials", file.to_str().unwrap()]);
        }
        kargo(dir.path(), &args)
    };

    // Without credentials the registry refuses.
    let out = discover(None);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains(&repo_url), "{}", out.stderr);

    // A Kargo credential Secret for the repository opens it.
    let creds = credential_secret(dir.path(), "creds.yaml", "image", &repo_url);
    let out = discover(Some(&creds));
    assert_eq!(out.code, 0, "{out:?}");
    let freight: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(freight[0]["images"][0]["tag"], "1.2.3", "{freight}");
    assert!(!out.stderr.contains("t0ps3cret"), "{}", out.stderr);

    // A file that is not a credential Secret is unusable input.
    let bad = write(
        dir.path(),
        "bad.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: registry\nstringData:\n  password: t0ps3cret\n",
    );
    let out = discover(Some(&bad));
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("bad.yaml"), "{}", out.stderr);
    assert!(
        out.stderr.contains("kargo.akuity.io/cred-type"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("t0ps3cret"), "{}", out.stderr);
}
