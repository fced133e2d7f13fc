//! `warehouse_subscribes` and `warehouse_wants`: which Warehouses a refresh concerns.

use super::*;

#[test]
fn git_subscriptions_match_https_ssh_and_dot_git_forms() {
    let https = warehouse(json!([{"git": {"repoURL": "https://github.com/Acme/Demo.git"}}]));
    let scp = warehouse(json!([{"git": {"repoURL": "git@github.com:acme/demo.git"}}]));
    let ssh = warehouse(json!([{"git": {"repoURL": "ssh://git@github.com/acme/demo"}}]));
    for url in [
        "https://github.com/acme/demo",
        "https://github.com/acme/demo.git",
        "https://GitHub.com/Acme/Demo/",
        "https://user:token@github.com/acme/demo.git",
    ] {
        assert!(warehouse_subscribes(&https, url), "{url}");
        assert!(!warehouse_subscribes(&scp, url), "{url}");
    }
    for url in [
        "ssh://git@github.com/acme/demo",
        "git@github.com:acme/demo.git",
        "ssh://git@github.com/acme/demo.git",
    ] {
        assert!(warehouse_subscribes(&scp, url), "{url}");
        assert!(warehouse_subscribes(&ssh, url), "{url}");
        assert!(!warehouse_subscribes(&https, url), "{url}");
    }
    for url in [
        "https://github.com/acme/other",
        "https://gitlab.com/acme/demo",
        "",
    ] {
        assert!(!warehouse_subscribes(&https, url), "{url}");
    }
}

#[test]
fn image_subscriptions_match_docker_hub_library_forms() {
    let nginx = warehouse(json!([{"image": {"repoURL": "nginx"}}]));
    for url in [
        "nginx",
        "library/nginx",
        "docker.io/library/nginx",
        "index.docker.io/library/nginx",
        "registry-1.docker.io/library/nginx:1.27",
        "Docker.io/Library/Nginx",
    ] {
        assert!(warehouse_subscribes(&nginx, url), "{url}");
    }
    assert!(!warehouse_subscribes(&nginx, "ghcr.io/library/nginx"));
    assert!(!warehouse_subscribes(&nginx, "acme/nginx"));
    let ghcr = warehouse(json!([{"image": {"repoURL": "ghcr.io/acme/app"}}]));
    assert!(warehouse_subscribes(&ghcr, "GHCR.io/acme/app:v1"));
    assert!(!warehouse_subscribes(&ghcr, "ghcr.io/acme/app/sub"));
}

#[test]
fn chart_subscriptions_match_oci_and_https_repositories() {
    let oci = warehouse(json!([{"chart": {"repoURL": "oci://ghcr.io/acme/charts/app"}}]));
    assert!(warehouse_subscribes(&oci, "ghcr.io/acme/charts/app"));
    assert!(warehouse_subscribes(&oci, "oci://GHCR.io/acme/charts/app"));
    assert!(!warehouse_subscribes(&oci, "ghcr.io/acme/charts"));
    let hub = warehouse(
        json!([{"chart": {"repoURL": "oci://registry-1.docker.io/bitnamicharts/nginx"}}]),
    );
    assert!(warehouse_subscribes(&hub, "bitnamicharts/nginx"));
    let https = warehouse(
        json!([{"chart": {"repoURL": "https://Charts.Example.com/stable", "name": "app"}}]),
    );
    assert!(warehouse_subscribes(
        &https,
        "https://charts.example.com/stable"
    ));
    assert!(!warehouse_subscribes(
        &https,
        "https://charts.example.com/stable/app"
    ));
}

#[test]
fn any_subscription_of_several_counts_and_generic_ones_never_do() {
    let w = warehouse(json!([
        {"name": "custom", "jenkins": {"config": {"repoURL": "https://github.com/acme/demo"}}},
        {"image": {"repoURL": "ghcr.io/acme/app"}},
        {"git": {"repoURL": "https://github.com/acme/config"}},
    ]));
    assert!(warehouse_subscribes(&w, "ghcr.io/acme/app"));
    assert!(warehouse_subscribes(&w, "https://github.com/acme/config"));
    assert!(!warehouse_subscribes(&w, "https://github.com/acme/demo"));
}

/// What a receiver delivers matches the Warehouses subscribed in their own
/// spelling: the end-to-end meaning of a delivery.
#[test]
fn delivered_urls_match_subscriptions_as_users_write_them() {
    let r = receiver(ReceiverKind::DockerHub, "hub", "s", json!({}));
    let body = br#"{"push_data": {"tag": "1.27"}, "repository": {"repo_name": "library/nginx"}}"#;
    let Delivery::Refresh { repo_urls, .. } = r.handle(&HeaderMap::new(), body).unwrap() else {
        panic!("a refresh");
    };
    let subscribed = warehouse(json!([{"image": {"repoURL": "docker.io/library/nginx"}}]));
    let other = warehouse(json!([{"image": {"repoURL": "docker.io/library/httpd"}}]));
    assert!(
        repo_urls
            .iter()
            .any(|u| warehouse_subscribes(&subscribed, u))
    );
    assert!(!repo_urls.iter().any(|u| warehouse_subscribes(&other, u)));
}

#[test]
fn a_push_concerns_only_warehouses_whose_selection_would_take_it() {
    let owned = |items: &[&str]| -> Vec<String> { items.iter().map(|s| (*s).to_owned()).collect() };
    let git = "https://github.com/acme/demo";
    let image = "ghcr.io/acme/app";
    let chart = "ghcr.io/acme/charts/app";
    // (subscriptions, pushed URL, qualifiers, changed paths, concerned)
    let cases = [
        (
            json!([{"git": {"repoURL": git, "branch": "main"}}]),
            git,
            &["refs/heads/main"][..],
            &[][..],
            true,
        ),
        (
            json!([{"git": {"repoURL": git, "branch": "main"}}]),
            git,
            &["refs/heads/dev"][..],
            &[][..],
            false,
        ),
        (
            json!([{"git": {"repoURL": git}}]),
            git,
            &["refs/heads/master"][..],
            &[][..],
            true,
        ),
        (
            json!([{"git": {"repoURL": git, "commitSelectionStrategy": "SemVer"}}]),
            git,
            &["refs/heads/main"][..],
            &[][..],
            false,
        ),
        (
            json!([{"git": {"repoURL": git, "commitSelectionStrategy": "SemVer"}}]),
            git,
            &["refs/tags/v1.2.0"][..],
            &[][..],
            true,
        ),
        (
            json!([{"git": {"repoURL": git, "includePaths": ["apps/web"]}}]),
            git,
            &["refs/heads/main"][..],
            &["apps/api/x.yaml"][..],
            false,
        ),
        (
            json!([{"git": {"repoURL": git, "includePaths": ["apps/web"]}}]),
            git,
            &["refs/heads/main"][..],
            &["apps/web/x.yaml"][..],
            true,
        ),
        (
            json!([{"git": {"repoURL": git, "branch": "main"}}]),
            "https://github.com/acme/other",
            &["refs/heads/main"][..],
            &[][..],
            false,
        ),
        // Without qualifiers, the repository alone decides.
        (
            json!([{"git": {"repoURL": git, "branch": "main"}}]),
            git,
            &[][..],
            &[][..],
            true,
        ),
        (
            json!([{"image": {"repoURL": image, "constraint": "^1"}}]),
            image,
            &["v1.4.0"][..],
            &[][..],
            true,
        ),
        (
            json!([{"image": {"repoURL": image, "constraint": "^1"}}]),
            image,
            &["v2.0.0", "latest"][..],
            &[][..],
            false,
        ),
        (
            json!([{"image": {"repoURL": image, "imageSelectionStrategy": "Lexical", "allowTagsRegexes": ["^nightly-"]}}]),
            image,
            &["nightly-0102"][..],
            &[][..],
            true,
        ),
        (
            json!([{"image": {"repoURL": image, "imageSelectionStrategy": "Digest", "constraint": "stable"}}]),
            image,
            &["v1.4.0"][..],
            &[][..],
            false,
        ),
        (
            json!([{"chart": {"repoURL": format!("oci://{chart}"), "semverConstraint": "<2"}}]),
            chart,
            &["1.9.0"][..],
            &[][..],
            true,
        ),
        (
            json!([{"chart": {"repoURL": format!("oci://{chart}"), "semverConstraint": "<2"}}]),
            chart,
            &["2.0.0"][..],
            &[][..],
            false,
        ),
        // One subscription of several is enough.
        (
            json!([{"image": {"repoURL": image, "constraint": "^1"}}, {"git": {"repoURL": git}}]),
            git,
            &["refs/heads/main"][..],
            &[][..],
            true,
        ),
        // A subscription that does not compile counts: discovery says why.
        (
            json!([{"image": {"repoURL": image, "allowTags": "^v"}}]),
            image,
            &["v1.0.0"][..],
            &[][..],
            true,
        ),
    ];
    for (subscriptions, url, qualifiers, changed, expected) in cases {
        let w = warehouse(subscriptions.clone());
        assert_eq!(
            warehouse_wants(&w, url, &owned(qualifiers), &owned(changed)),
            expected,
            "{subscriptions} {url} {qualifiers:?} {changed:?}"
        );
    }
}
