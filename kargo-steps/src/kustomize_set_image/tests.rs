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
