//! `kargo run` with the file steps on a sample GitOps layout
//! (`examples/gitops`): only the promoted values change, byte for byte.

use std::path::Path;

use crate::support::kargo;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn gitops_promotion_edits_only_the_promoted_values() {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let repo = root.join("examples/gitops/repo");
    let work = tempfile::tempdir().unwrap();
    let wd = work.path().join("wd");
    copy_dir(&repo, &wd);
    let out = kargo(
        root,
        &[
            "run",
            "--steps",
            "examples/gitops/steps.yaml",
            "--workdir",
            wd.to_str().unwrap(),
            "--var",
            "env=staging",
            "--var",
            "tag=1.5.0",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let json = out.json();
    assert_eq!(json["phase"], "Succeeded", "{json}");
    assert_eq!(
        json["state"]["values"]["commitMessage"],
        "Updated envs/staging/kubernetes/values.yaml\n\n- image.tag: 1.5.0"
    );
    assert_eq!(
        json["state"]["tfvars"]["commitMessage"],
        "Updated envs/staging/terraform/terraform.tfvars\n\n- image_uri: \"123456789012.dkr.ecr.us-east-1.amazonaws.com/orders-api:1.5.0\"\n- tags.version: \"1.5.0\""
    );

    let read = |p: &str| std::fs::read_to_string(wd.join(p)).unwrap();
    let original = |p: &str| std::fs::read_to_string(repo.join(p)).unwrap();
    assert_eq!(
        read("envs/staging/kubernetes/values.yaml"),
        original("envs/staging/kubernetes/values.yaml").replace(
            "  tag: \"1.4.2\" # promoted by kargo",
            "  tag: \"1.5.0\" # promoted by kargo"
        )
    );
    assert_eq!(
        read("envs/staging/terraform/terraform.tfvars"),
        original("envs/staging/terraform/terraform.tfvars")
            .replace(
                "orders-api:1.4.2\" # promoted",
                "orders-api:1.5.0\" # promoted"
            )
            .replace("version = \"1.4.2\"", "version = \"1.5.0\"")
    );
    assert_eq!(
        read("envs/staging/terraform/iam-policy.json"),
        original("policies/iam-policy.json")
    );
    // The other environments are untouched.
    for env in ["dev", "prod"] {
        for file in ["kubernetes/values.yaml", "terraform/terraform.tfvars"] {
            let p = format!("envs/{env}/{file}");
            assert_eq!(read(&p), original(&p), "{p}");
        }
        assert!(
            !wd.join(format!("envs/{env}/terraform/iam-policy.json"))
                .exists()
        );
    }
}
