use super::*;

const KUSTOMIZATION: &str = r#"apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../base # shared

# Images promoted by Kargo.
images:
  - name: ghcr.io/acme/api # backend
    newTag: v1.0.0 # set by Kargo
  - name: ghcr.io/acme/web
    newName: registry.local/acme/web
    digest: sha256:aaaa
"#;

fn run(images: &[TargetImage]) -> String {
    match edit(KUSTOMIZATION, images) {
        Ok(out) => out,
        Err(e) => format!("ERROR: {e}"),
    }
}

#[test]
fn a_tag_changes_in_place_with_comments_kept() {
    insta::assert_snapshot!(run(&[TargetImage::new("ghcr.io/acme/api").with_tag("v1.1.0")]), @r#"
    apiVersion: kustomize.config.k8s.io/v1beta1
    kind: Kustomization
    resources:
      - ../base # shared

    # Images promoted by Kargo.
    images:
      - name: ghcr.io/acme/api # backend
        newTag: v1.1.0 # set by Kargo
      - name: ghcr.io/acme/web
        newName: registry.local/acme/web
        digest: sha256:aaaa
    "#);
}

#[test]
fn the_whole_entry_is_replaced_unless_a_field_says_keep() {
    insta::assert_snapshot!(
        run(&[TargetImage::new("ghcr.io/acme/web").with_tag("2.0")]),
        "newName and digest go, newTag comes",
        @r#"
    apiVersion: kustomize.config.k8s.io/v1beta1
    kind: Kustomization
    resources:
      - ../base # shared

    # Images promoted by Kargo.
    images:
      - name: ghcr.io/acme/api # backend
        newTag: v1.0.0 # set by Kargo
      - name: ghcr.io/acme/web
        newTag: "2.0"
    "#
    );
    insta::assert_snapshot!(
        run(&[TargetImage::new("ghcr.io/acme/web")
            .with_new_name(PRESERVE)
            .with_digest("sha256:bbbb")]),
        "`*` keeps newName",
        @r#"
    apiVersion: kustomize.config.k8s.io/v1beta1
    kind: Kustomization
    resources:
      - ../base # shared

    # Images promoted by Kargo.
    images:
      - name: ghcr.io/acme/api # backend
        newTag: v1.0.0 # set by Kargo
      - name: ghcr.io/acme/web
        newName: registry.local/acme/web
        digest: sha256:bbbb
    "#
    );
}

#[test]
fn new_images_are_appended_in_the_list_style() {
    insta::assert_snapshot!(
        run(&[
            TargetImage::new("redis").with_digest("sha256:cccc"),
            TargetImage::new("nginx").with_new_name("mirror/nginx").with_tag("1.27"),
        ]),
        @r#"
    apiVersion: kustomize.config.k8s.io/v1beta1
    kind: Kustomization
    resources:
      - ../base # shared

    # Images promoted by Kargo.
    images:
      - name: ghcr.io/acme/api # backend
        newTag: v1.0.0 # set by Kargo
      - name: ghcr.io/acme/web
        newName: registry.local/acme/web
        digest: sha256:aaaa
      - name: nginx
        newName: mirror/nginx
        newTag: "1.27"
      - name: redis
        digest: sha256:cccc
    "#
    );
    insta::assert_snapshot!(
        edit("resources:\n- deploy.yaml\n", &[TargetImage::new("app").with_tag("v1")]).unwrap(),
        "no images list yet",
        @r"
    resources:
    - deploy.yaml
    images:
    - name: app
      newTag: v1
    "
    );
}

/// Kargo writes the images list sorted by name
/// (`kustomize_image_setter_test.go`): a new image takes its sorted place,
/// before the comment lines of the item it precedes.
#[test]
fn new_images_take_their_sorted_place() {
    let src = "images:\n# the api\n- name: b/api\n  newTag: v1\n- name: d/web\n  newTag: v1\n";
    insta::assert_snapshot!(
        edit(src, &[TargetImage::new("c/db").with_tag("v2"), TargetImage::new("a/cache").with_tag("v3"), TargetImage::new("e/x").with_tag("v4")]).unwrap(),
        @r"
    images:
    - name: a/cache
      newTag: v3
    # the api
    - name: b/api
      newTag: v1
    - name: c/db
      newTag: v2
    - name: d/web
      newTag: v1
    - name: e/x
      newTag: v4
    "
    );
    insta::assert_snapshot!(
        edit("images: [{name: b}]\n", &[TargetImage::new("a").with_tag("1")]).unwrap(),
        "flow",
        @r#"images: [{name: a, newTag: "1"}, {name: b}]"#
    );
}

#[test]
fn setting_what_is_there_changes_nothing() {
    let same = [
        TargetImage::new("ghcr.io/acme/api").with_tag("v1.0.0"),
        TargetImage::new("ghcr.io/acme/web")
            .with_new_name("registry.local/acme/web")
            .with_digest("sha256:aaaa"),
    ];
    assert_eq!(edit(KUSTOMIZATION, &same).unwrap(), KUSTOMIZATION);
    assert_eq!(edit(KUSTOMIZATION, &[]).unwrap(), KUSTOMIZATION);
}

#[test]
fn images_that_is_not_a_list_is_an_error() {
    insta::assert_snapshot!(
        edit("images: nginx\n", &[TargetImage::new("a").with_tag("1")]).unwrap_err(),
        @"key `images`: is not a list"
    );
}

#[test]
fn commit_message_is_kargos() {
    let images = [
        TargetImage::new("b").with_tag("v2").with_digest("sha256:1"),
        TargetImage::new("a")
            .with_new_name("mirror/a")
            .with_tag("v1"),
    ];
    assert_eq!(
        commit_message("./src/base", &images).unwrap(),
        "Updated ./src/base to use new images\n\n- mirror/a:v1\n- b:v2@sha256:1"
    );
    assert_eq!(
        commit_message("p", &images[..1]).unwrap(),
        "Updated p to use new image\n\n- b:v2@sha256:1"
    );
    assert_eq!(commit_message("p", &[]), None);
}

// Every case of Kargo's `kustomize_image_setter_test.go`, in the `kargo_*`
// tests below, each naming the Kargo test it ports. They run the step on
// real files in a temporary work directory (the engine's order: the early
// config check, then the run) or call the editor and the commit message
// directly where Kargo tests a helper.

mod kargo {
    use std::sync::Arc;

    use kargo_core::Workspace;
    use kargo_core::model::{Freight, FreightCollection, FreightOrigin, Image, StepStatus};
    use kargo_core::step::{ErrorKind, Step, StepContext, StepError, StepOutcome};
    use serde_json::{Value, json};

    use super::super::{KustomizeSetImage, PRESERVE, TargetImage, commit_message, edit};

    /// Freight images: (repoURL, tag, digest).
    type Images<'a> = &'a [(&'a str, &'a str, &'a str)];

    const EMPTY: &str = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n";

    /// A work dir holding `files`, and a context over it whose Freight
    /// has `images` (repoURL, tag, digest) per Warehouse.
    fn context(
        files: &[(&str, &str)],
        freight: &[(&str, Images<'_>)],
    ) -> (tempfile::TempDir, StepContext) {
        let dir = tempfile::tempdir().unwrap();
        for (path, contents) in files {
            kargo_test_support::write(dir.path(), path, contents);
        }
        let items = freight
            .iter()
            .map(|(warehouse, images)| {
                Freight {
                    origin: FreightOrigin::warehouse(*warehouse),
                    images: images
                        .iter()
                        .map(|(repo, tag, digest)| Image {
                            repo_url: (*repo).into(),
                            tag: (*tag).into(),
                            digest: (*digest).into(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }
                .with_generated_name()
            })
            .collect();
        let ctx = StepContext::new(Workspace::new(dir.path()).unwrap())
            .with_freight(Arc::new(FreightCollection::new(items)));
        (dir, ctx)
    }

    /// As the engine runs a step: the early config check, then the run.
    async fn run(ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        KustomizeSetImage.check_config(&config)?;
        KustomizeSetImage.run(ctx, config).await
    }

    fn read(dir: &tempfile::TempDir, path: &str) -> String {
        std::fs::read_to_string(dir.path().join(path)).unwrap()
    }

    fn message(outcome: &StepOutcome) -> &str {
        outcome.output["commitMessage"].as_str().unwrap()
    }

    /// `Test_kustomizeImageSetter_convert`: Kargo's schema cases. "digest
    /// and tag are both not specified" and "... both empty" differ on
    /// purpose: such an entry takes its version from the Freight (see
    /// `kargo_an_entry_without_tag_or_digest_takes_the_freight_version`).
    #[tokio::test]
    async fn kargo_convert() {
        let (_dir, ctx) = context(&[("fake-path/kustomization.yaml", EMPTY)], &[]);
        for (name, config, want) in [
            ("path is not specified", json!({}), "missing field `path`"),
            (
                "path is empty",
                json!({"path": ""}),
                "`path` must not be empty",
            ),
            (
                "image not specified",
                json!({"path": "fake-path", "images": [{}]}),
                "missing field `image`",
            ),
            (
                "image is empty",
                json!({"path": "fake-path", "images": [{"image": ""}]}),
                "`images[0].image` must not be empty",
            ),
            (
                "digest and tag are both specified",
                json!({"path": "fake-path", "images": [{"image": "fake-image", "digest": "fake-digest", "tag": "fake-tag"}]}),
                "`images[0]`: `tag` and `digest` are mutually exclusive",
            ),
        ] {
            let err = run(&ctx, config).await.expect_err(name);
            assert_eq!(err.kind(), ErrorKind::Failed, "{name}: {err}");
            assert!(err.to_string().contains(want), "{name}: {err}");
        }
        // Both versions given is refused before the promotion starts.
        let both = json!({"path": "p", "images": [{"image": "a", "tag": "1"}, {"image": "b", "tag": "2", "digest": "sha256:2"}]});
        let err = KustomizeSetImage.check_config(&both).unwrap_err();
        assert!(err.to_string().contains("`images[1]`"), "{err}");
        // ... unless one of them is an expression, known only at run time.
        let later = json!({"path": "p", "images": [{"image": "b", "tag": "${{ vars.t }}", "digest": "sha256:2"}]});
        KustomizeSetImage.check_config(&later).unwrap();

        // "valid config with only path (images optional)": the Freight has
        // no images, so nothing is set.
        let outcome = run(&ctx, json!({"path": "fake-path"})).await.unwrap();
        assert_eq!(outcome, StepOutcome::succeeded());
        // "valid kitchen sink": an empty `tag` or `digest` is as absent.
        let outcome = run(
            &ctx,
            json!({"path": "fake-path", "images": [
                {"image": "fake-image-2", "digest": "fake-digest"},
                {"image": "fake-image-3", "digest": "fake-digest", "tag": ""},
                {"image": "fake-image-4", "tag": "fake-tag"},
                {"image": "fake-image-5", "digest": "", "tag": "fake-tag"},
            ]}),
        )
        .await
        .unwrap();
        assert_eq!(
            message(&outcome),
            "Updated fake-path to use new images\n\n- fake-image-2@fake-digest\n\
             - fake-image-3@fake-digest\n- fake-image-4:fake-tag\n- fake-image-5:fake-tag"
        );
    }

    /// Kargo's "digest and tag are both not specified" / "both empty" are
    /// schema errors there; here (as in Kargo up to v1.2, and in Kargo's
    /// own "Changing an Image Name" example) the version comes from the
    /// Freight being promoted.
    #[tokio::test]
    async fn kargo_an_entry_without_tag_or_digest_takes_the_freight_version() {
        let (dir, ctx) = context(
            &[("kustomization.yaml", EMPTY)],
            &[("w", &[("fake-image", "v3", "sha256:3")])],
        );
        for config in [
            json!({"path": ".", "images": [{"image": "fake-image"}]}),
            json!({"path": ".", "images": [{"image": "fake-image", "digest": "", "tag": ""}]}),
        ] {
            let outcome = run(&ctx, config).await.unwrap();
            assert_eq!(
                message(&outcome),
                "Updated . to use new image\n\n- fake-image:v3"
            );
        }
        assert_eq!(
            read(&dir, "kustomization.yaml"),
            format!("{EMPTY}images:\n- name: fake-image\n  newTag: v3\n")
        );
    }

    /// `Test_kustomizeImageSetter_run`, "successfully sets image".
    #[tokio::test]
    async fn kargo_run_successfully_sets_image() {
        let (dir, ctx) = context(
            &[("kustomization.yaml", EMPTY)],
            &[("warehouse1", &[("nginx", "1.21.0", "sha256:123")])],
        );
        let outcome = run(
            &ctx,
            json!({"path": ".", "images": [{"image": "nginx", "tag": "1.21.0"}]}),
        )
        .await
        .unwrap();
        assert_eq!(
            outcome,
            StepOutcome::succeeded().with_output(
                "commitMessage",
                "Updated . to use new image\n\n- nginx:1.21.0"
            )
        );
        insta::assert_snapshot!(read(&dir, "kustomization.yaml"), @r"
        apiVersion: kustomize.config.k8s.io/v1beta1
        kind: Kustomization
        images:
        - name: nginx
          newTag: 1.21.0
        ");
    }

    /// `Test_kustomizeImageSetter_run`, "automatically sets image"; an
    /// empty `images` list is the automatic mode too, as in Kargo.
    #[tokio::test]
    async fn kargo_run_automatically_sets_image() {
        for config in [json!({"path": "."}), json!({"path": ".", "images": []})] {
            let (dir, ctx) = context(
                &[("kustomization.yaml", EMPTY)],
                &[
                    ("warehouse1", &[("nginx", "", "sha256:123")]),
                    ("warehouse2", &[("redis", "6.2.5", "")]),
                ],
            );
            let outcome = run(&ctx, config.clone()).await.unwrap();
            assert_eq!(outcome.status, StepStatus::Succeeded);
            assert_eq!(
                message(&outcome),
                "Updated . to use new images\n\n- nginx@sha256:123\n- redis:6.2.5",
                "{config}"
            );
            assert_eq!(
                read(&dir, "kustomization.yaml"),
                format!(
                    "{EMPTY}images:\n- name: nginx\n  digest: sha256:123\n\
                     - name: redis\n  newTag: 6.2.5\n"
                ),
                "{config}"
            );
        }
    }

    /// `Test_kustomizeImageSetter_run`, "Kustomization file not found":
    /// the step ends Errored (Terminal), naming the directory.
    #[tokio::test]
    async fn kargo_run_kustomization_file_not_found() {
        let (_dir, ctx) = context(&[], &[]);
        let err = run(
            &ctx,
            json!({"path": ".", "images": [{"image": "nginx", "tag": "1"}]}),
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Terminal);
        assert!(
            err.to_string()
                .starts_with("kustomize-set-image: no Kustomization file in `.`"),
            "{err}"
        );
    }

    /// `Test_kustomizeImageSetter_buildTargetImages`, "digest or tag
    /// specified".
    #[tokio::test]
    async fn kargo_build_target_images_from_config() {
        let (dir, ctx) = context(&[("kustomization.yaml", EMPTY)], &[]);
        let outcome = run(
            &ctx,
            json!({"path": ".", "images": [
                {"image": "nginx", "tag": "fake-tag"},
                {"image": "redis", "digest": "fake-digest"},
            ]}),
        )
        .await
        .unwrap();
        assert_eq!(
            message(&outcome),
            "Updated . to use new images\n\n- nginx:fake-tag\n- redis@fake-digest"
        );
        assert_eq!(
            read(&dir, "kustomization.yaml"),
            format!(
                "{EMPTY}images:\n- name: nginx\n  newTag: fake-tag\n\
                 - name: redis\n  digest: fake-digest\n"
            )
        );
    }

    /// `Test_kustomizeImageSetter_buildTargetImagesAutomatically`. Kargo
    /// finds the ambiguity in the Warehouses' subscriptions (read from
    /// Kubernetes); kargo-rs, which has no Warehouse objects at this
    /// point, in the Freight: one image in two pieces of Freight.
    #[tokio::test]
    async fn kargo_build_target_images_automatically() {
        let (dir, ctx) = context(
            &[("kustomization.yaml", EMPTY)],
            &[
                (
                    "warehouse1",
                    &[("nginx", "1.21.0", "sha256:abcdef1234567890")],
                ),
                ("warehouse2", &[("redis", "6.2.5", "")]),
                ("warehouse3", &[("postgres", "", "sha256:abcdef1234567890")]),
            ],
        );
        let outcome = run(&ctx, json!({"path": "."})).await.unwrap();
        assert_eq!(
            message(&outcome),
            "Updated . to use new images\n\n- nginx:1.21.0@sha256:abcdef1234567890\n\
             - postgres@sha256:abcdef1234567890\n- redis:6.2.5"
        );
        insta::assert_snapshot!(read(&dir, "kustomization.yaml"), @r"
        apiVersion: kustomize.config.k8s.io/v1beta1
        kind: Kustomization
        images:
        - name: nginx
          newTag: 1.21.0
          digest: sha256:abcdef1234567890
        - name: postgres
          digest: sha256:abcdef1234567890
        - name: redis
          newTag: 6.2.5
        ");

        // "error on ambiguous image match".
        let nginx: Images<'_> = &[("nginx", "1.21.0", "sha256:abcdef1234567890")];
        let (dir, ctx) = context(
            &[("kustomization.yaml", EMPTY)],
            &[("warehouse1", nginx), ("warehouse2", nginx)],
        );
        let err = run(&ctx, json!({"path": "."})).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Terminal);
        assert!(
            err.to_string()
                .contains("image `nginx` is in more than one piece of Freight: manual configuration (`images`) is required"),
            "{err}"
        );
        assert_eq!(read(&dir, "kustomization.yaml"), EMPTY);
    }

    /// `Test_kustomizeImageSetter_generateCommitMessage`: the subject, one
    /// line per image, and the line count.
    #[test]
    fn kargo_generate_commit_message() {
        let path = "path/to/kustomization";
        assert_eq!(commit_message(path, &[]), None, "empty images");
        let nginx = TargetImage::new("nginx").with_tag("1.19");
        for (name, images, want) in [
            (
                "single image update",
                vec![nginx.clone()],
                vec!["- nginx:1.19"],
            ),
            (
                "multiple image updates",
                vec![nginx.clone(), TargetImage::new("redis").with_tag("6.0")],
                vec!["- nginx:1.19", "- redis:6.0"],
            ),
            (
                "image update with new name",
                vec![nginx.clone().with_new_name("custom-nginx")],
                vec!["- custom-nginx:1.19"],
            ),
            (
                "image update with digest",
                vec![TargetImage::new("nginx").with_digest("sha256:abcdef1234567890")],
                vec!["- nginx@sha256:abcdef1234567890"],
            ),
            (
                "mixed image updates",
                vec![
                    nginx.clone(),
                    TargetImage::new("redis")
                        .with_new_name("custom-redis")
                        .with_tag("6.0"),
                    TargetImage::new("postgres").with_digest("sha256:abcdef1234567890"),
                ],
                // Sorted by the images' names: nginx, postgres, redis.
                vec![
                    "- nginx:1.19",
                    "- postgres@sha256:abcdef1234567890",
                    "- custom-redis:6.0",
                ],
            ),
        ] {
            let got = commit_message(path, &images).unwrap();
            let plural = if images.len() > 1 { "s" } else { "" };
            let subject = format!("Updated {path} to use new image{plural}");
            assert_eq!(got, format!("{subject}\n\n{}", want.join("\n")), "{name}");
            assert_eq!(got.matches('\n').count(), images.len() + 1, "{name}");
        }
    }

    /// `Test_updateKustomizationFile` and `Test_getCurrentImages`: an
    /// existing entry is updated, a missing `images` list is created.
    #[test]
    fn kargo_update_kustomization_file() {
        let with_nginx = format!("{EMPTY}images:\n- name: nginx\n  newTag: 1.19.0\n");
        let target = [TargetImage::new("nginx").with_tag("1.21.0")];
        let updated = format!("{EMPTY}images:\n- name: nginx\n  newTag: 1.21.0\n");
        assert_eq!(
            edit(&with_nginx, &target).unwrap(),
            updated,
            "update existing images"
        );
        assert_eq!(edit(EMPTY, &target).unwrap(), updated, "add new image");
        // "valid images field": the current entry is what `*` keeps.
        assert_eq!(
            edit(
                &with_nginx,
                &[TargetImage::new("nginx")
                    .with_tag(PRESERVE)
                    .with_digest("sha256:1")]
            )
            .unwrap(),
            format!("{with_nginx}  digest: sha256:1\n")
        );
    }

    /// `Test_readKustomizationFile`: YAML that does not parse fails the
    /// step, naming the file, and leaves it as it was.
    #[tokio::test]
    async fn kargo_read_kustomization_file() {
        let valid = format!("{EMPTY}images:\n- name: nginx\n  newTag: 1.21.0\n");
        let invalid = format!("{valid}  - invalid\n");
        let (dir, ctx) = context(
            &[
                ("valid/kustomization.yaml", &valid),
                ("invalid/kustomization.yaml", &invalid),
            ],
            &[],
        );
        let config =
            |path: &str| json!({"path": path, "images": [{"image": "nginx", "tag": "1.21.0"}]});
        run(&ctx, config("valid")).await.unwrap();
        assert_eq!(read(&dir, "valid/kustomization.yaml"), valid);
        let err = run(&ctx, config("invalid")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Terminal);
        assert!(
            err.to_string()
                .starts_with("kustomize-set-image: cannot update `invalid/kustomization.yaml`"),
            "{err}"
        );
        assert_eq!(read(&dir, "invalid/kustomization.yaml"), invalid);
    }

    /// `Test_mergeImages`. Kargo rewrites the whole list sorted by name;
    /// kargo-rs edits in place: a new image takes its sorted place in a
    /// sorted list and goes last in an unsorted one, whose order is kept
    /// (see README, "Where kargo-rs deliberately differs").
    #[tokio::test]
    async fn kargo_merge_images() {
        let list = |entries: &[(&str, &str)]| {
            let mut s = String::from("images:\n");
            for (name, tag) in entries {
                s.push_str(&format!("- name: {name}\n  newTag: {tag}\n"));
            }
            s
        };
        let nginx = TargetImage::new("nginx").with_tag("1.21.0");
        let redis = TargetImage::new("redis").with_tag("6.2.5");
        assert_eq!(
            edit(
                &list(&[("nginx", "1.19.0")]),
                &[nginx.clone(), redis.clone()]
            )
            .unwrap(),
            list(&[("nginx", "1.21.0"), ("redis", "6.2.5")]),
            "merge new and existing images"
        );
        assert_eq!(
            edit(&list(&[("nginx", "1.19.0"), ("mysql", "8.0.0")]), &[nginx]).unwrap(),
            list(&[("nginx", "1.21.0"), ("mysql", "8.0.0")]),
            "preserve existing images not in target (Kargo: mysql first)"
        );
        assert_eq!(
            edit(
                &list(&[("nginx", "1.19.0"), ("mysql", "8.0.0")]),
                std::slice::from_ref(&redis)
            )
            .unwrap(),
            list(&[("nginx", "1.19.0"), ("mysql", "8.0.0"), ("redis", "6.2.5")]),
            "sort images by name (Kargo: mysql, nginx, redis)"
        );
        assert_eq!(
            edit(&list(&[("mysql", "8.0.0"), ("nginx", "1.19.0")]), &[redis]).unwrap(),
            list(&[("mysql", "8.0.0"), ("nginx", "1.19.0"), ("redis", "6.2.5")]),
            "a sorted list stays sorted"
        );

        // "handle asterisk separator", through the step: the commit
        // message shows the name kept, as Kargo's does.
        let custom = "images:\n- name: nginx\n  newName: custom-nginx\n  newTag: 1.19.0\n";
        let (dir, ctx) = context(&[("kustomization.yaml", custom)], &[]);
        let outcome = run(
            &ctx,
            json!({"path": ".", "images": [{"image": "nginx", "newName": "*", "tag": "1.21.0"}]}),
        )
        .await
        .unwrap();
        assert_eq!(
            read(&dir, "kustomization.yaml"),
            "images:\n- name: nginx\n  newName: custom-nginx\n  newTag: 1.21.0\n"
        );
        assert_eq!(
            message(&outcome),
            "Updated . to use new image\n\n- custom-nginx:1.21.0"
        );
        // `*` where the entry has no value, or for a new entry, sets
        // nothing.
        let outcome = run(
            &ctx,
            json!({"path": ".", "images": [
                {"image": "nginx", "tag": "*", "digest": ""},
                {"image": "redis", "newName": "*", "tag": "7"},
            ]}),
        )
        .await
        .unwrap();
        assert_eq!(
            read(&dir, "kustomization.yaml"),
            "images:\n- name: nginx\n  newTag: 1.21.0\n- name: redis\n  newTag: \"7\"\n"
        );
        assert_eq!(
            message(&outcome),
            "Updated . to use new images\n\n- nginx:1.21.0\n- redis:7"
        );
    }

    /// `Test_findKustomization`, and Kargo's rule that only a regular file
    /// counts (a symlink named `kustomization.yaml` does not).
    #[tokio::test]
    async fn kargo_find_kustomization() {
        let k = "kind: Kustomization\n";
        let (dir, ctx) = context(
            &[
                ("single-yaml/kustomization.yaml", k),
                ("single-bare/Kustomization", k),
                ("multiple/kustomization.yaml", k),
                ("multiple/Kustomization", k),
                ("none/README", k),
                ("parent/subdir/kustomization.yaml", k),
                ("linked/target.yaml", k),
            ],
            &[],
        );
        std::os::unix::fs::symlink("target.yaml", dir.path().join("linked/kustomization.yaml"))
            .unwrap();
        let config = |path: &str| json!({"path": path, "images": [{"image": "a", "tag": "1"}]});
        for (path, file) in [
            ("single-yaml", "single-yaml/kustomization.yaml"),
            ("single-bare", "single-bare/Kustomization"),
            ("parent/subdir", "parent/subdir/kustomization.yaml"),
        ] {
            run(&ctx, config(path)).await.unwrap();
            assert_eq!(
                read(&dir, file),
                format!("{k}images:\n- name: a\n  newTag: \"1\"\n"),
                "{path}"
            );
        }
        for (path, want) in [
            (
                "multiple",
                "more than one Kustomization file in `multiple`: kustomization.yaml, Kustomization",
            ),
            ("none", "no Kustomization file in `none`"),
            ("linked", "no Kustomization file in `linked`"),
        ] {
            let err = run(&ctx, config(path)).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Terminal, "{path}");
            assert!(err.to_string().contains(want), "{path}: {err}");
        }
        assert_eq!(read(&dir, "multiple/kustomization.yaml"), k);
        assert_eq!(read(&dir, "linked/target.yaml"), k);
    }
}
