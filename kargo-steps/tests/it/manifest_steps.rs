//! `kustomize-set-image` run through the registry on Kargo's documented
//! examples (`helm-update-chart`: `helm_steps.rs`).

use kargo_core::step::StepContext;
use serde_json::json;

use crate::{run, setup};

fn read(dir: &tempfile::TempDir, path: &str) -> String {
    std::fs::read_to_string(dir.path().join(path)).unwrap()
}

fn image_freight(warehouse: &str, images: &[(&str, &str, &str)]) -> kargo_core::model::Freight {
    kargo_core::model::Freight {
        origin: kargo_core::model::FreightOrigin::warehouse(warehouse),
        images: images
            .iter()
            .map(|(repo, tag, digest)| kargo_core::model::Image {
                repo_url: (*repo).into(),
                tag: (*tag).into(),
                digest: (*digest).into(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
    .with_generated_name()
}

fn with_freight(ctx: StepContext, freight: Vec<kargo_core::model::Freight>) -> StepContext {
    ctx.with_freight(std::sync::Arc::new(
        kargo_core::model::FreightCollection::new(freight),
    ))
}

const ECR_EAST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-image";
const ECR_WEST: &str = "123456789012.dkr.ecr.us-west-2.amazonaws.com/my-image";

#[test]
fn kustomize_set_image_documented_examples_deserialize_and_unknown_keys_are_rejected() {
    use kargo_steps::kustomize_set_image::Config;
    for config in [
        json!({"path": "./src/base", "images": [{"image": "my/image", "tag": "1.2.3"}]}),
        json!({"path": "./src/base", "images": [{"image": ECR_EAST, "newName": ECR_WEST}]}),
        json!({"path": "./src/base"}),
        json!({"path": "./src/base", "images": [{"image": "my/image", "name": "app", "digest": "sha256:1"}]}),
    ] {
        serde_json::from_value::<Config>(config).unwrap();
    }
    let extra = json!({"path": "x", "images": [{"image": "a", "tag": "1", "fromOrigin": {"kind": "Warehouse", "name": "w"}}]});
    assert!(serde_json::from_value::<Config>(extra).is_err());
    assert!(serde_json::from_value::<Config>(json!({"path": "x", "bogus": 1})).is_err());
}

#[tokio::test]
async fn kustomize_set_image_runs_the_documented_examples() {
    let base = "resources:\n- deployment.yaml # the app\n";
    let (dir, ctx) = setup(&[("src/base/kustomization.yaml", base)]);
    let ctx = with_freight(
        ctx,
        vec![image_freight(
            "w",
            &[
                ("my/image", "1.2.3", "sha256:abc"),
                (ECR_EAST, "v7", "sha256:def"),
            ],
        )],
    );
    // "Common Usage", with `imageFrom(vars.imageRepo).Tag` evaluated.
    let out = run(
        &ctx,
        "kustomize-set-image",
        json!({"path": "./src/base", "images": [{"image": "my/image", "tag": "1.2.3"}]}),
    )
    .await
    .unwrap();
    assert_eq!(
        read(&dir, "src/base/kustomization.yaml"),
        "resources:\n- deployment.yaml # the app\nimages:\n- name: my/image\n  newTag: 1.2.3\n"
    );
    assert_eq!(
        out.output["commitMessage"],
        "Updated ./src/base to use new image\n\n- my/image:1.2.3"
    );

    // "Changing an Image Name": the tag comes from the Freight.
    let out = run(
        &ctx,
        "kustomize-set-image",
        json!({"path": "./src/base", "images": [{"image": ECR_EAST, "newName": ECR_WEST}]}),
    )
    .await
    .unwrap();
    assert_eq!(
        read(&dir, "src/base/kustomization.yaml"),
        format!(
            // Kargo keeps the list sorted by name.
            "resources:\n- deployment.yaml # the app\nimages:\n\
             - name: {ECR_EAST}\n  newName: {ECR_WEST}\n  newTag: v7\n\
             - name: my/image\n  newTag: 1.2.3\n"
        )
    );
    assert_eq!(
        out.output["commitMessage"],
        format!("Updated ./src/base to use new image\n\n- {ECR_WEST}:v7")
    );
}

#[tokio::test]
async fn kustomize_set_image_without_images_sets_every_freight_image() {
    let (dir, ctx) = setup(&[(
        "overlay/Kustomization",
        "images:\n  - name: a/api\n    newTag: old # keep this comment\n",
    )]);
    let ctx = with_freight(
        ctx,
        vec![
            image_freight("api", &[("a/api", "v2", "sha256:2")]),
            image_freight("web", &[("a/web", "v9", "sha256:9")]),
        ],
    );
    let out = run(&ctx, "kustomize-set-image", json!({"path": "overlay/"}))
        .await
        .unwrap();
    assert_eq!(
        read(&dir, "overlay/Kustomization"),
        "images:\n  - name: a/api\n    newTag: v2 # keep this comment\n    digest: sha256:2\n  \
         - name: a/web\n    newTag: v9\n    digest: sha256:9\n"
    );
    assert_eq!(
        out.output["commitMessage"],
        "Updated overlay/ to use new images\n\n- a/api:v2@sha256:2\n- a/web:v9@sha256:9"
    );

    // The same image in two pieces of Freight needs manual configuration.
    let ctx = with_freight(
        ctx,
        vec![
            image_freight("one", &[("a/api", "v2", "sha256:2")]),
            image_freight("two", &[("a/api", "v3", "sha256:3")]),
        ],
    );
    let err = run(&ctx, "kustomize-set-image", json!({"path": "overlay"}))
        .await
        .expect_err("ambiguous");
    assert!(
        err.contains("manual configuration (`images`) is required"),
        "{err}"
    );
    let err = run(
        &ctx,
        "kustomize-set-image",
        json!({"path": "overlay", "images": [{"image": "a/api"}]}),
    )
    .await
    .expect_err("ambiguous");
    assert!(
        err.contains("image `a/api` is in more than one piece of Freight"),
        "{err}"
    );
    // useDigest picks the digest when the Freight has one match.
    let ctx = with_freight(
        ctx,
        vec![image_freight("one", &[("a/api", "v4", "sha256:4")])],
    );
    run(
        &ctx,
        "kustomize-set-image",
        json!({"path": "overlay", "images": [{"image": "a/api", "useDigest": true}]}),
    )
    .await
    .unwrap();
    assert!(
        read(&dir, "overlay/Kustomization")
            .starts_with("images:\n  - name: a/api\n    digest: sha256:4\n")
    );
}

#[tokio::test]
async fn kustomize_set_image_errors_name_the_problem_and_leave_files_alone() {
    let k = "images:\n- name: a\n  newTag: v1\n";
    let (dir, ctx) = setup(&[
        ("one/kustomization.yaml", k),
        ("two/kustomization.yaml", k),
        ("two/kustomization.yml", k),
        ("bad/kustomization.yaml", "images: {a: 1}\n"),
    ]);
    for (config, want) in [
        (
            json!({"path": "none", "images": [{"image": "a", "tag": "v2"}]}),
            "no Kustomization file in `none`",
        ),
        (
            json!({"path": "two", "images": [{"image": "a", "tag": "v2"}]}),
            "more than one Kustomization file in `two`: kustomization.yaml, kustomization.yml",
        ),
        (
            json!({"path": "one", "images": [{"image": "a", "tag": "v2", "digest": "sha256:1"}]}),
            "`images[0]`: `tag` and `digest` are mutually exclusive",
        ),
        (
            json!({"path": "one", "images": [{"image": "a"}]}),
            "`images[0]` gives no `tag` or `digest`, and the Freight being promoted has no image `a`",
        ),
        (
            json!({"path": "bad", "images": [{"image": "a", "tag": "v2"}]}),
            "cannot update `bad/kustomization.yaml`: key `images`: is not a list",
        ),
    ] {
        let err = run(&ctx, "kustomize-set-image", config.clone())
            .await
            .expect_err("fails");
        assert!(err.contains(want), "{config}: {err}");
    }
    assert_eq!(read(&dir, "one/kustomization.yaml"), k);
    assert_eq!(read(&dir, "bad/kustomization.yaml"), "images: {a: 1}\n");
}
