//! Each kind of receiver: a valid request of each event it handles, the
//! events it ignores or refuses, and forged, missing and replayed proofs.

use super::*;

fn github_headers(event: &str, secret: &str, body: &[u8], delivery: &str) -> HeaderMap {
    headers(&[
        ("x-github-event", event),
        ("x-github-delivery", delivery),
        ("content-type", "application/json"),
        (
            "x-hub-signature-256",
            &format!("sha256={}", sha256_hmac(secret, body)),
        ),
    ])
}

#[test]
fn github_signature_matches_an_independently_computed_hmac() {
    // printf '{"zen":"Keep it logically awesome."}' | openssl dgst -sha256 -hmac s3cret
    let body = br#"{"zen":"Keep it logically awesome."}"#;
    let signature = "sha256=bcf4aa51133ef9ab7d02f9da6e30ed7529389095a3c94d76a76608dfd05e2c49";
    let r = receiver(ReceiverKind::GitHub, "gh", "s3cret", json!({}));
    let h = headers(&[
        ("x-github-event", "ping"),
        ("x-hub-signature-256", signature),
    ]);
    assert_ignored(r.handle(&h, body), "ping event received");
    let upper = signature.to_uppercase().replace("SHA256=", "sha256=");
    let h = headers(&[("x-github-event", "ping"), ("x-hub-signature-256", &upper)]);
    assert_ignored(r.handle(&h, body), "ping");
}

#[test]
fn github_push_refreshes_both_clone_urls_with_ref_and_changed_files() {
    let r = receiver(ReceiverKind::GitHub, "gh", "s3cret", json!({}));
    let body = json!({
        "ref": "refs/heads/main",
        "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "after": "0000000000000000000000000000000000000001",
        "repository": {
            "full_name": "Acme/Demo",
            "clone_url": "https://github.com/Acme/Demo.git",
            "ssh_url": "git@github.com:Acme/Demo.git",
        },
        "commits": [
            {"id": "1", "added": ["charts/app/values.yaml"], "modified": ["README.md"], "removed": []},
            {"id": "2", "added": [], "modified": ["README.md"], "removed": ["old.txt"]},
        ],
        "head_commit": {"id": "2", "added": [], "modified": ["README.md"], "removed": ["old.txt"]},
    })
    .to_string();
    let delivery = r.handle(
        &github_headers("push", "s3cret", body.as_bytes(), "d-1"),
        body.as_bytes(),
    );
    assert_eq!(
        delivery.unwrap(),
        refresh(
            &[
                "https://github.com/acme/demo",
                "ssh://git@github.com/acme/demo"
            ],
            &["refs/heads/main"],
            &["README.md", "charts/app/values.yaml", "old.txt"],
        )
    );
}

#[test]
fn github_packages_refresh_the_image_or_chart_repository() {
    let r = receiver(ReceiverKind::GitHub, "gh", "s3cret", json!({}));
    let package = |media_type: &str, url: &str| {
        json!({
            "package_type": "CONTAINER",
            "package_version": {
                "package_url": url,
                "container_metadata": {
                    "tag": {"name": "v1.2.3", "digest": "sha256:abc"},
                    "manifest": {"config": {"media_type": media_type}},
                },
            },
        })
    };
    // A repository webhook sends `package`.
    let body = json!({
        "action": "published",
        "package": package("application/vnd.oci.image.config.v1+json", "ghcr.io/Acme/app:v1.2.3"),
    })
    .to_string();
    let h = github_headers("package", "s3cret", body.as_bytes(), "p-1");
    assert_eq!(
        r.handle(&h, body.as_bytes()).unwrap(),
        refresh(&["ghcr.io/acme/app"], &["v1.2.3"], &[])
    );
    // A GitHub App sends `registry_package`, sometimes with a dangling `:`.
    let body = json!({
        "action": "updated",
        "registry_package": package("application/vnd.cncf.helm.config.v1+json", "ghcr.io/acme/charts/app:"),
    })
    .to_string();
    let h = github_headers("registry_package", "s3cret", body.as_bytes(), "p-2");
    assert_eq!(
        r.handle(&h, body.as_bytes()).unwrap(),
        refresh(&["ghcr.io/acme/charts/app"], &["v1.2.3"], &[])
    );
    // Other package types and actions are ignored; no version is an error.
    for (body, outcome) in [
        (
            json!({"action": "deleted", "package": package("", "ghcr.io/acme/app")}),
            "deleted",
        ),
        (
            json!({"action": "published", "package": {"package_type": "npm", "package_version": {}}}),
            "npm",
        ),
    ] {
        let body = body.to_string();
        let h = github_headers("package", "s3cret", body.as_bytes(), "p-3");
        assert_ignored(r.handle(&h, body.as_bytes()), outcome);
    }
    let body = json!({"action": "published", "package": {"package_type": "CONTAINER"}}).to_string();
    let h = github_headers("package", "s3cret", body.as_bytes(), "p-4");
    assert_rejected(
        r.handle(&h, body.as_bytes()),
        StatusCode::BAD_REQUEST,
        "package.package_version",
    );
}

#[test]
fn github_closed_pull_requests_wake_promotions_and_other_actions_do_not() {
    let r = receiver(ReceiverKind::GitHub, "gh", "s3cret", json!({}));
    for (merged, action) in [(true, "closed"), (false, "closed")] {
        let body = json!({
            "action": action,
            "number": 42,
            "pull_request": {"html_url": "https://github.com/acme/demo/pull/42", "merged": merged, "state": "closed"},
        })
        .to_string();
        let h = github_headers("pull_request", "s3cret", body.as_bytes(), "pr");
        assert_eq!(
            r.handle(&h, body.as_bytes()).unwrap(),
            closed("https://github.com/acme/demo/pull/42", Some(42), merged)
        );
    }
    let body = json!({"action": "opened", "number": 43, "pull_request": {"html_url": "https://github.com/acme/demo/pull/43"}}).to_string();
    let h = github_headers("pull_request", "s3cret", body.as_bytes(), "pr");
    assert_ignored(r.handle(&h, body.as_bytes()), "opened");
}

#[test]
fn github_refuses_missing_forged_and_malformed_signatures_before_reading_the_event() {
    let r = receiver(ReceiverKind::GitHub, "gh", "s3cret", json!({}));
    let body = br#"{"ref": "refs/heads/main", "repository": {"clone_url": "https://github.com/acme/demo"}}"#;
    // Not even the event type is looked at without a valid signature.
    let h = headers(&[("x-github-event", "nonsense")]);
    assert_rejected(
        r.handle(&h, body),
        StatusCode::UNAUTHORIZED,
        "missing X-Hub-Signature-256",
    );
    let forged = github_headers("push", "not-the-secret", body, "x");
    assert_rejected(
        r.handle(&forged, body),
        StatusCode::FORBIDDEN,
        "does not match",
    );
    let tampered = github_headers("push", "s3cret", b"{}", "x");
    assert_rejected(
        r.handle(&tampered, body),
        StatusCode::FORBIDDEN,
        "does not match",
    );
    for malformed in [
        "sha256=zz",
        "md5=00",
        "bcf4aa51",
        "sha1=0000000000000000000000000000000000000000",
    ] {
        let h = headers(&[
            ("x-github-event", "push"),
            ("x-hub-signature-256", malformed),
        ]);
        assert_rejected(
            r.handle(&h, body),
            StatusCode::FORBIDDEN,
            "X-Hub-Signature-256",
        );
    }
    // With a valid signature, an unknown event and a broken payload are 400.
    let h = github_headers("issues", "s3cret", body, "x");
    assert_rejected(
        r.handle(&h, body),
        StatusCode::BAD_REQUEST,
        "event type issues is not supported",
    );
    let h = github_headers("push", "s3cret", b"[1,", "x");
    assert_rejected(
        r.handle(&h, b"[1,"),
        StatusCode::BAD_REQUEST,
        "invalid request body",
    );
    let h = github_headers("push", "s3cret", b"{}", "x");
    assert_rejected(
        r.handle(&h, b"{}"),
        StatusCode::BAD_REQUEST,
        "missing field `ref`",
    );
}

#[test]
fn github_replays_are_refused_by_delivery_id_and_by_signature() {
    let r = receiver(ReceiverKind::GitHub, "gh", "s3cret", json!({}));
    let guard = ReplayGuard::default();
    let body = br#"{"ref": "refs/heads/main", "repository": {"clone_url": "https://github.com/acme/demo"}}"#;
    let first = github_headers(
        "push",
        "s3cret",
        body,
        "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    );
    assert!(guard.handle(&r, &first, body).is_ok());
    assert_rejected(
        guard.handle(&r, &first, body),
        StatusCode::FORBIDDEN,
        "received before",
    );
    // The same signed body under a new delivery ID is still a replay.
    let new_id = github_headers("push", "s3cret", body, "a-fresh-id");
    assert_rejected(
        guard.handle(&r, &new_id, body),
        StatusCode::FORBIDDEN,
        "received before",
    );
    // A new body with a known delivery ID too.
    let other = br#"{"ref": "refs/heads/dev", "repository": {"clone_url": "https://github.com/acme/demo"}}"#;
    let reused_id = github_headers(
        "push",
        "s3cret",
        other,
        "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    );
    assert_rejected(
        guard.handle(&r, &reused_id, other),
        StatusCode::FORBIDDEN,
        "received before",
    );
    let fresh = github_headers("push", "s3cret", other, "another-id");
    assert!(guard.handle(&r, &fresh, other).is_ok());
}

fn gitlab_headers(event: &str, token: &str, uuid: &str) -> HeaderMap {
    headers(&[
        ("x-gitlab-event", event),
        ("x-gitlab-token", token),
        ("x-gitlab-event-uuid", uuid),
    ])
}

#[test]
fn gitlab_pushes_tags_and_merge_requests() {
    let r = receiver(ReceiverKind::GitLab, "gl", "t0ken", json!({}));
    let repository = json!({
        "name": "Demo",
        "git_http_url": "https://gitlab.com/acme/demo.git",
        "git_ssh_url": "git@gitlab.com:acme/demo.git",
    });
    let push = json!({
        "object_kind": "push",
        "ref": "refs/heads/main",
        "total_commits_count": 2,
        "commits": [
            {"id": "a", "added": ["app/deploy.yaml"], "modified": [], "removed": []},
            {"id": "b", "added": [], "modified": ["app/deploy.yaml"], "removed": ["x"]},
        ],
        "repository": repository,
    });
    let urls = [
        "https://gitlab.com/acme/demo",
        "ssh://git@gitlab.com/acme/demo",
    ];
    let body = push.to_string();
    assert_eq!(
        r.handle(&gitlab_headers("Push Hook", "t0ken", "1"), body.as_bytes())
            .unwrap(),
        refresh(&urls, &["refs/heads/main"], &["app/deploy.yaml", "x"])
    );
    // More commits than listed: the files are unknown.
    let mut truncated = push.clone();
    truncated["total_commits_count"] = json!(40);
    let body = truncated.to_string();
    assert_eq!(
        r.handle(&gitlab_headers("Push Hook", "t0ken", "2"), body.as_bytes())
            .unwrap(),
        refresh(&urls, &["refs/heads/main"], &[])
    );
    let tag =
        json!({"object_kind": "tag_push", "ref": "refs/tags/v1.0.0", "repository": repository})
            .to_string();
    assert_eq!(
        r.handle(
            &gitlab_headers("Tag Push Hook", "t0ken", "3"),
            tag.as_bytes()
        )
        .unwrap(),
        refresh(&urls, &["refs/tags/v1.0.0"], &[])
    );
    for (action, merged) in [("merge", true), ("close", false)] {
        let body = json!({
            "object_kind": "merge_request",
            "object_attributes": {"iid": 7, "action": action, "url": "https://gitlab.com/acme/demo/-/merge_requests/7"},
        })
        .to_string();
        assert_eq!(
            r.handle(
                &gitlab_headers("Merge Request Hook", "t0ken", action),
                body.as_bytes()
            )
            .unwrap(),
            closed(
                "https://gitlab.com/acme/demo/-/merge_requests/7",
                Some(7),
                merged
            )
        );
    }
    let body = json!({"object_attributes": {"iid": 7, "action": "open", "url": "u"}}).to_string();
    assert_ignored(
        r.handle(
            &gitlab_headers("Merge Request Hook", "t0ken", "4"),
            body.as_bytes(),
        ),
        "open",
    );
    assert_rejected(
        r.handle(&gitlab_headers("Issue Hook", "t0ken", "5"), b"{}"),
        StatusCode::BAD_REQUEST,
        "Issue Hook",
    );
}

#[test]
fn gitlab_refuses_missing_and_wrong_tokens_and_replays() {
    let r = receiver(ReceiverKind::GitLab, "gl", "t0ken", json!({}));
    let body = br#"{"ref": "refs/tags/v1", "repository": {"git_http_url": "https://gitlab.com/acme/demo.git"}}"#;
    let missing = headers(&[("x-gitlab-event", "Tag Push Hook")]);
    assert_rejected(
        r.handle(&missing, body),
        StatusCode::UNAUTHORIZED,
        "missing X-Gitlab-Token",
    );
    for wrong in ["t0ke", "t0ken ", "T0KEN", "t0ken-and-more"] {
        assert_rejected(
            r.handle(&gitlab_headers("Tag Push Hook", wrong, "1"), body),
            StatusCode::FORBIDDEN,
            "wrong X-Gitlab-Token",
        );
    }
    let guard = ReplayGuard::default();
    let h = gitlab_headers(
        "Tag Push Hook",
        "t0ken",
        "13792a34-cac6-4fda-95a8-c58e00a3954e",
    );
    assert!(guard.handle(&r, &h, body).is_ok());
    assert_rejected(
        guard.handle(&r, &h, body),
        StatusCode::FORBIDDEN,
        "received before",
    );
}

fn gitea_headers(event: &str, secret: &str, body: &[u8], delivery: &str) -> HeaderMap {
    headers(&[
        ("x-gitea-event", event),
        ("x-gitea-delivery", delivery),
        (
            "x-hub-signature-256",
            &format!("sha256={}", sha256_hmac(secret, body)),
        ),
    ])
}

#[test]
fn gitea_pushes_and_closed_pull_requests() {
    let r = receiver(ReceiverKind::Gitea, "gitea", "s3cret", json!({}));
    let body = json!({
        "ref": "refs/heads/main",
        "total_commits": 1,
        "commits": [{"id": "a", "added": [], "modified": ["env/prod.yaml"], "removed": []}],
        "repository": {
            "clone_url": "https://gitea.example.com/acme/demo.git",
            "ssh_url": "git@gitea.example.com:acme/demo.git",
        },
    })
    .to_string();
    let expected = refresh(
        &[
            "https://gitea.example.com/acme/demo",
            "ssh://git@gitea.example.com/acme/demo",
        ],
        &["refs/heads/main"],
        &["env/prod.yaml"],
    );
    let h = gitea_headers("push", "s3cret", body.as_bytes(), "1");
    assert_eq!(r.handle(&h, body.as_bytes()).unwrap(), expected);
    // Gitea's own signature header, bare hex, works too.
    let h = headers(&[
        ("x-gitea-event", "push"),
        ("x-gitea-signature", &sha256_hmac("s3cret", body.as_bytes())),
    ]);
    assert_eq!(r.handle(&h, body.as_bytes()).unwrap(), expected);
    let pr = json!({
        "action": "closed",
        "number": 3,
        "pull_request": {"html_url": "https://gitea.example.com/acme/demo/pulls/3", "merged": true},
    })
    .to_string();
    let h = gitea_headers("pull_request", "s3cret", pr.as_bytes(), "2");
    assert_eq!(
        r.handle(&h, pr.as_bytes()).unwrap(),
        closed("https://gitea.example.com/acme/demo/pulls/3", Some(3), true)
    );
    let h = gitea_headers("issues", "s3cret", b"{}", "3");
    assert_rejected(r.handle(&h, b"{}"), StatusCode::NOT_IMPLEMENTED, "issues");
}

#[test]
fn gitea_refuses_missing_forged_and_replayed_signatures() {
    let r = receiver(ReceiverKind::Gitea, "gitea", "s3cret", json!({}));
    let body = br#"{"ref": "refs/heads/main", "repository": {"clone_url": "https://gitea.example.com/a/b"}}"#;
    assert_rejected(
        r.handle(&headers(&[("x-gitea-event", "push")]), body),
        StatusCode::UNAUTHORIZED,
        "missing",
    );
    assert_rejected(
        r.handle(&gitea_headers("push", "guess", body, "1"), body),
        StatusCode::FORBIDDEN,
        "does not match",
    );
    let forged_bare = headers(&[
        ("x-gitea-event", "push"),
        ("x-gitea-signature", &sha256_hmac("guess", body)),
    ]);
    assert_rejected(
        r.handle(&forged_bare, body),
        StatusCode::FORBIDDEN,
        "X-Gitea-Signature",
    );
    let guard = ReplayGuard::default();
    let h = gitea_headers("push", "s3cret", body, "delivery-1");
    assert!(guard.handle(&r, &h, body).is_ok());
    assert_rejected(
        guard.handle(&r, &h, body),
        StatusCode::FORBIDDEN,
        "received before",
    );
}

fn bitbucket_headers(event: &str, secret: &str, body: &[u8], uuid: &str) -> HeaderMap {
    headers(&[
        ("x-event-key", event),
        ("x-request-uuid", uuid),
        (
            "x-hub-signature",
            &format!("sha256={}", sha256_hmac(secret, body)),
        ),
    ])
}

#[test]
fn bitbucket_cloud_and_server_pushes_and_pull_requests() {
    let r = receiver(ReceiverKind::Bitbucket, "bb", "s3cret", json!({}));
    // Cloud: bare branch and tag names, the repository's web page.
    let body = json!({
        "push": {"changes": [
            {"new": {"type": "branch", "name": "main"}},
            {"new": {"type": "tag", "name": "v1.0.0"}},
            {"new": null, "old": {"type": "branch", "name": "gone"}},
        ]},
        "repository": {"full_name": "acme/demo", "links": {"html": {"href": "https://bitbucket.org/Acme/Demo"}}},
    })
    .to_string();
    let h = bitbucket_headers("repo:push", "s3cret", body.as_bytes(), "1");
    assert_eq!(
        r.handle(&h, body.as_bytes()).unwrap(),
        refresh(
            &["https://bitbucket.org/acme/demo"],
            &["refs/heads/main", "refs/tags/v1.0.0"],
            &[]
        )
    );
    // Server: full refs, the clone links.
    let body = json!({
        "eventKey": "repo:refs_changed",
        "changes": [{"ref": {"id": "refs/heads/main", "displayId": "main", "type": "BRANCH"}}],
        "repository": {"links": {"clone": [
            {"href": "ssh://git@bitbucket.example.com:7999/acme/demo.git", "name": "ssh"},
            {"href": "https://bitbucket.example.com/scm/acme/demo.git", "name": "http"},
        ]}},
    })
    .to_string();
    // Bitbucket Server may sign with SHA-1.
    let h = headers(&[
        ("x-event-key", "repo:refs_changed"),
        ("x-request-id", "2"),
        (
            "x-hub-signature",
            &format!(
                "sha1={}",
                hmac_hex(
                    hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
                    "s3cret",
                    body.as_bytes()
                )
            ),
        ),
    ]);
    assert_eq!(
        r.handle(&h, body.as_bytes()).unwrap(),
        refresh(
            &[
                "https://bitbucket.example.com/scm/acme/demo",
                "ssh://git@bitbucket.example.com:7999/acme/demo",
            ],
            &["refs/heads/main"],
            &[],
        )
    );
    let cloud_pr = json!({"pullrequest": {"id": 5, "links": {"html": {"href": "https://bitbucket.org/acme/demo/pull-requests/5"}}}}).to_string();
    let server_pr = json!({"pullRequest": {"id": 6, "links": {"self": [{"href": "https://bitbucket.example.com/projects/ACME/repos/demo/pull-requests/6"}]}}}).to_string();
    for (event, body, expected) in [
        (
            "pullrequest:fulfilled",
            &cloud_pr,
            closed(
                "https://bitbucket.org/acme/demo/pull-requests/5",
                Some(5),
                true,
            ),
        ),
        (
            "pullrequest:rejected",
            &cloud_pr,
            closed(
                "https://bitbucket.org/acme/demo/pull-requests/5",
                Some(5),
                false,
            ),
        ),
        (
            "pr:merged",
            &server_pr,
            closed(
                "https://bitbucket.example.com/projects/ACME/repos/demo/pull-requests/6",
                Some(6),
                true,
            ),
        ),
        (
            "pr:declined",
            &server_pr,
            closed(
                "https://bitbucket.example.com/projects/ACME/repos/demo/pull-requests/6",
                Some(6),
                false,
            ),
        ),
    ] {
        let h = bitbucket_headers(event, "s3cret", body.as_bytes(), event);
        assert_eq!(r.handle(&h, body.as_bytes()).unwrap(), expected, "{event}");
    }
    let h = bitbucket_headers("diagnostics:ping", "s3cret", b"{}", "p");
    assert_ignored(r.handle(&h, b"{}"), "ping");
    let h = bitbucket_headers("repo:fork", "s3cret", b"{}", "f");
    assert_rejected(r.handle(&h, b"{}"), StatusCode::BAD_REQUEST, "repo:fork");
}

#[test]
fn bitbucket_refuses_missing_forged_and_replayed_signatures() {
    let r = receiver(ReceiverKind::Bitbucket, "bb", "s3cret", json!({}));
    let body = br#"{"push": {"changes": []}, "repository": {"links": {"html": {"href": "https://bitbucket.org/a/b"}}}}"#;
    assert_rejected(
        r.handle(&headers(&[("x-event-key", "repo:push")]), body),
        StatusCode::UNAUTHORIZED,
        "missing X-Hub-Signature",
    );
    assert_rejected(
        r.handle(&bitbucket_headers("repo:push", "guess", body, "1"), body),
        StatusCode::FORBIDDEN,
        "does not match",
    );
    let guard = ReplayGuard::default();
    let h = bitbucket_headers(
        "repo:push",
        "s3cret",
        body,
        "{6f9bbc4b-ab2c-4a4d-9f0c-6c2f3f1c9b3e}",
    );
    assert!(guard.handle(&r, &h, body).is_ok());
    assert_rejected(
        guard.handle(&r, &h, body),
        StatusCode::FORBIDDEN,
        "received before",
    );
}

#[test]
fn azure_container_registry_and_devops_events() {
    let r = receiver(ReceiverKind::Azure, "azure", "s3cret", json!({}));
    let acr = headers(&[("user-agent", "AzureContainerRegistry/1.0")]);
    let devops = headers(&[("user-agent", "VSServices/19.255.34822.1")]);
    let push = json!({
        "id": "cb8c3971-9adc-488b-bdd8-43cbb4974ff5",
        "action": "push",
        "target": {
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "repository": "acme/app",
            "tag": "v1.0.0",
        },
        "request": {"host": "acme.azurecr.io"},
    })
    .to_string();
    assert_eq!(
        r.handle(&acr, push.as_bytes()).unwrap(),
        refresh(&["acme.azurecr.io/acme/app"], &["v1.0.0"], &[])
    );
    assert_ignored(r.handle(&acr, br#"{"action": "ping"}"#), "ping");
    assert_rejected(
        r.handle(&acr, br#"{"action": "delete"}"#),
        StatusCode::BAD_REQUEST,
        "delete",
    );

    let git_push = json!({
        "eventType": "git.push",
        "resource": {
            "refUpdates": [{"name": "refs/heads/main", "oldObjectId": "a", "newObjectId": "b"}],
            "repository": {"remoteUrl": "https://dev.azure.com/acme/Demo/_git/Demo"},
        },
    })
    .to_string();
    assert_eq!(
        r.handle(&devops, git_push.as_bytes()).unwrap(),
        refresh(
            &["https://dev.azure.com/acme/demo/_git/demo"],
            &["refs/heads/main"],
            &[]
        )
    );
    let pr = |event: &str, status: &str| {
        json!({
            "eventType": event,
            "resource": {
                "pullRequestId": 9,
                "status": status,
                "_links": {"web": {"href": "https://dev.azure.com/acme/Demo/_git/Demo/pullrequest/9"}},
            },
        })
        .to_string()
    };
    let url = "https://dev.azure.com/acme/Demo/_git/Demo/pullrequest/9";
    assert_eq!(
        r.handle(
            &devops,
            pr("git.pullrequest.merged", "completed").as_bytes()
        )
        .unwrap(),
        closed(url, Some(9), true)
    );
    assert_eq!(
        r.handle(
            &devops,
            pr("git.pullrequest.updated", "abandoned").as_bytes()
        )
        .unwrap(),
        closed(url, Some(9), false)
    );
    assert_ignored(
        r.handle(&devops, pr("git.pullrequest.updated", "active").as_bytes()),
        "active",
    );
    assert_rejected(
        r.handle(&devops, pr("workitem.created", "").as_bytes()),
        StatusCode::BAD_REQUEST,
        "workitem.created",
    );
    assert_rejected(
        r.handle(&headers(&[("user-agent", "curl/8")]), push.as_bytes()),
        StatusCode::BAD_REQUEST,
        "supported service",
    );
}

/// For the kinds whose secret is only in the path, a forged request is one
/// sent to a path made with another secret: no receiver listens there.
#[test]
fn path_only_kinds_are_not_found_under_a_path_made_with_another_secret() {
    for kind in [
        ReceiverKind::Azure,
        ReceiverKind::Quay,
        ReceiverKind::DockerHub,
        ReceiverKind::Generic,
    ] {
        let extra = if kind == ReceiverKind::Generic {
            json!({"actions": [{"action": "Refresh", "targetSelectionCriteria": [{"kind": "Warehouse", "name": "w"}]}]})
        } else {
            json!({})
        };
        let mut settings = json!({"secretRef": {"name": "s"}});
        if let (Value::Object(s), Value::Object(e)) = (&mut settings, extra) {
            s.extend(e);
        }
        let configs = [project_config(
            "demo",
            json!([{"name": "hook", kind.as_str(): settings}]),
        )];
        let real = secret_table(&[("demo", "s", &[("secret", "real-secret")])]);
        let guessed = secret_table(&[("demo", "s", &[("secret", "guessed")])]);
        let (receivers, _) = build_with(&configs, &real, BASE_URL);
        let (forged, _) = build_with(&configs, &guessed, BASE_URL);
        let forged_path = &forged.details("demo")[0].path;
        assert!(receivers.find(forged_path).is_none(), "{kind}");
        assert!(
            receivers.find(&receivers.details("demo")[0].path).is_some(),
            "{kind}"
        );
    }
}

#[test]
fn quay_pushes_refresh_the_repository_in_both_forms() {
    let r = receiver(ReceiverKind::Quay, "quay", "s3cret", json!({}));
    let body = json!({
        "name": "app",
        "repository": "acme/app",
        "namespace": "acme",
        "docker_url": "quay.io/acme/app",
        "homepage": "https://quay.io/repository/acme/app",
        "updated_tags": ["v1.0.0", "latest"],
    })
    .to_string();
    assert_eq!(
        r.handle(&HeaderMap::new(), body.as_bytes()).unwrap(),
        refresh(&["quay.io/acme/app"], &["latest", "v1.0.0"], &[])
    );
    assert_rejected(
        r.handle(&HeaderMap::new(), b"{}"),
        StatusCode::BAD_REQUEST,
        "docker_url",
    );
}

#[test]
fn docker_hub_pushes_refresh_the_repository() {
    let r = receiver(ReceiverKind::DockerHub, "hub", "s3cret", json!({}));
    let body = |repo: &str, media_type: &str| {
        json!({
            "callback_url": "https://registry.hub.docker.com/u/acme/app/hook/x/",
            "push_data": {"pushed_at": 1_700_000_000, "pusher": "acme", "tag": "v2", "media_type": media_type},
            "repository": {"repo_name": repo, "namespace": "acme", "name": "app"},
        })
        .to_string()
    };
    let image = "application/vnd.docker.distribution.manifest.v2+json";
    assert_eq!(
        r.handle(&HeaderMap::new(), body("acme/app", image).as_bytes())
            .unwrap(),
        refresh(&["acme/app"], &["v2"], &[])
    );
    assert_eq!(
        r.handle(&HeaderMap::new(), body("library/nginx", "").as_bytes())
            .unwrap(),
        refresh(&["nginx"], &["v2"], &[])
    );
    let helm = "application/vnd.cncf.helm.config.v1+json";
    assert_eq!(
        r.handle(&HeaderMap::new(), body("acme/chart", helm).as_bytes())
            .unwrap(),
        refresh(&["acme/chart"], &["v2"], &[])
    );
}

fn artifactory_event(path: &str, image_type: &str) -> String {
    json!({
        "domain": "docker",
        "event_type": "pushed",
        "data": {
            "repo_key": "docker-local",
            "path": path,
            "name": "manifest.json",
            "sha256": "0e0c1ac5e1f2a5a8b1c3e3d0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0",
            "size": 1,
            "image_name": "app",
            "image_type": image_type,
            "tag": "v1.0.0",
        },
        "subscription_key": "kargo",
        "jpd_origin": "https://acme.jfrog.io",
        "source": "jfrog/user@example.com",
    })
    .to_string()
}

#[test]
fn artifactory_pushes_of_images_and_charts() {
    let r = receiver(ReceiverKind::Artifactory, "jfrog", "t0ken", json!({}));
    let signed =
        |body: &str| headers(&[("x-jfrog-event-auth", &sha256_hmac("t0ken", body.as_bytes()))]);
    let body = artifactory_event("team/app/v1.0.0/manifest.json", "docker");
    assert_eq!(
        r.handle(&signed(&body), body.as_bytes()).unwrap(),
        refresh(&["acme.jfrog.io/docker-local/team/app"], &["v1.0.0"], &[])
    );
    let body = artifactory_event("charts/app/v1.0.0/manifest.json", "oci");
    assert_eq!(
        r.handle(&signed(&body), body.as_bytes()).unwrap(),
        refresh(&["acme.jfrog.io/docker-local/charts/app"], &["v1.0.0"], &[])
    );
    // A virtual repository replaces the local one.
    let virtual_repo = receiver(
        ReceiverKind::Artifactory,
        "jfrog-virtual",
        "t0ken",
        json!({"virtualRepoName": "docker-virtual"}),
    );
    let body = artifactory_event("app/v1.0.0/manifest.json", "docker");
    assert_eq!(
        virtual_repo
            .handle(&signed(&body), body.as_bytes())
            .unwrap(),
        refresh(&["acme.jfrog.io/docker-virtual/app"], &["v1.0.0"], &[])
    );
    let body = artifactory_event("manifest.json", "docker");
    assert_rejected(
        r.handle(&signed(&body), body.as_bytes()),
        StatusCode::BAD_REQUEST,
        "data.path",
    );
    let body = artifactory_event("app/v1/manifest.json", "generic");
    assert_rejected(
        r.handle(&signed(&body), body.as_bytes()),
        StatusCode::NOT_IMPLEMENTED,
        "generic",
    );
    let body =
        artifactory_event("app/v1/manifest.json", "docker").replace("\"pushed\"", "\"deleted\"");
    assert_rejected(
        r.handle(&signed(&body), body.as_bytes()),
        StatusCode::NOT_IMPLEMENTED,
        "'pushed'",
    );
}

#[test]
fn artifactory_refuses_missing_and_forged_signatures() {
    let r = receiver(ReceiverKind::Artifactory, "jfrog", "t0ken", json!({}));
    let body = artifactory_event("app/v1.0.0/manifest.json", "docker");
    assert_rejected(
        r.handle(&HeaderMap::new(), body.as_bytes()),
        StatusCode::UNAUTHORIZED,
        "missing",
    );
    let forged = headers(&[("x-jfrog-event-auth", &sha256_hmac("guess", body.as_bytes()))]);
    assert_rejected(
        r.handle(&forged, body.as_bytes()),
        StatusCode::FORBIDDEN,
        "does not match",
    );
    let prefixed = headers(&[(
        "x-jfrog-event-auth",
        &format!("sha256={}", sha256_hmac("t0ken", body.as_bytes())),
    )]);
    assert_rejected(
        r.handle(&prefixed, body.as_bytes()),
        StatusCode::FORBIDDEN,
        "malformed",
    );
    // The signature identifies the delivery.
    let guard = ReplayGuard::default();
    let h = headers(&[("x-jfrog-event-auth", &sha256_hmac("t0ken", body.as_bytes()))]);
    assert!(guard.handle(&r, &h, body.as_bytes()).is_ok());
    assert_rejected(
        guard.handle(&r, &h, body.as_bytes()),
        StatusCode::FORBIDDEN,
        "received before",
    );
}

#[test]
fn harbor_artifact_pushes_with_the_auth_header() {
    let r = receiver(ReceiverKind::Harbor, "harbor", "Bearer h4rbor", json!({}));
    let body = json!({
        "type": "PUSH_ARTIFACT",
        "occur_at": 1_700_000_000,
        "operator": "admin",
        "event_data": {
            "resources": [
                {"digest": "sha256:1", "tag": "v1.0.0", "resource_url": "harbor.example.com/acme/app:v1.0.0"},
                {"digest": "sha256:1", "tag": "stable", "resource_url": "harbor.example.com/acme/app:stable"},
            ],
            "repository": {"name": "app", "namespace": "acme", "repo_full_name": "acme/app"},
        },
    })
    .to_string();
    let auth = headers(&[("authorization", "Bearer h4rbor")]);
    assert_eq!(
        r.handle(&auth, body.as_bytes()).unwrap(),
        refresh(&["harbor.example.com/acme/app"], &["stable", "v1.0.0"], &[])
    );
    assert_rejected(
        r.handle(&HeaderMap::new(), body.as_bytes()),
        StatusCode::UNAUTHORIZED,
        "missing Authorization",
    );
    let wrong = headers(&[("authorization", "Bearer guess")]);
    assert_rejected(
        r.handle(&wrong, body.as_bytes()),
        StatusCode::FORBIDDEN,
        "wrong Authorization",
    );
    let delete = body.replace("PUSH_ARTIFACT", "DELETE_ARTIFACT");
    assert_rejected(
        r.handle(&auth, delete.as_bytes()),
        StatusCode::BAD_REQUEST,
        "DELETE_ARTIFACT",
    );
}

/// The targets generic actions choose from: three Warehouses and two
/// Promotions.
fn generic_targets() -> GenericTargets {
    let target = |name: &str, labels: &[(&str, &str)], urls: &[&str]| GenericTarget {
        name: name.to_owned(),
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        subscribed_urls: urls.iter().map(|u| (*u).to_owned()).collect(),
    };
    GenericTargets {
        warehouses: vec![
            target(
                "api",
                &[("service", "api"), ("env", "prod")],
                &["https://github.com/acme/api"],
            ),
            target(
                "ui",
                &[("service", "ui"), ("env", "prod")],
                &["https://github.com/acme/ui", "ghcr.io/acme/ui"],
            ),
            target("db", &[("service", "db")], &["ghcr.io/acme/db"]),
        ],
        promotions: vec![
            target("prod.01j.abc", &[], &[]),
            target("prod.01j.def", &[], &[]),
        ],
    }
}

/// Runs a generic receiver with `actions` on a request; the results as
/// JSON and the `(kind, name)`s refreshed, in order.
fn run_actions(
    actions: Value,
    query: &str,
    request_headers: &[(&str, &str)],
    body: &[u8],
) -> (Value, Vec<(TargetKind, String)>) {
    let r = receiver(
        ReceiverKind::Generic,
        "generic",
        "s3cret",
        json!({"actions": actions}),
    );
    let Delivery::Generic(request) = r
        .handle_query(query, &headers(request_headers), body)
        .unwrap()
    else {
        panic!("a generic receiver's delivery is Generic");
    };
    let mut refreshed = Vec::new();
    let results = run_generic(
        r.config().generic.as_ref().unwrap(),
        "demo",
        &request,
        &generic_targets(),
        &mut |kind, name| {
            refreshed.push((kind, name.to_owned()));
            name != "db"
        },
    );
    (serde_json::to_value(&results).unwrap(), refreshed)
}

#[test]
fn generic_actions_select_by_name_labels_and_index_with_request_expressions() {
    let body = br#"{"repository": {"url": "https://GitHub.com/Acme/UI.git", "name": "api"}, "promotion": "prod.01j.def"}"#;
    let push = [("x-event-type", "push")];
    let warehouse =
        |criteria: Value| json!([{"action": "Refresh", "targetSelectionCriteria": [criteria]}]);
    // (what, actions, query, selected names, result)
    let cases: Vec<(&str, Value, &str, Vec<&str>, &str)> = vec![
        (
            "index from the body, normalised",
            warehouse(
                json!({"kind": "Warehouse", "indexSelector": {"matchIndices": [
                    {"key": "subscribedURLs", "operator": "Equals", "value": "${{ normalizeGit(request.body.repository.url) }}"},
                ]}}),
            ),
            "",
            vec!["ui"],
            "Success",
        ),
        (
            "NotEquals: Warehouses without that URL",
            warehouse(
                json!({"kind": "Warehouse", "indexSelector": {"matchIndices": [
                    {"key": "subscribedURLs", "operator": "NotEquals", "value": "https://github.com/acme/ui"},
                ]}}),
            ),
            "",
            vec!["api", "db"],
            "PartialSuccess",
        ),
        (
            "name from the body",
            warehouse(json!({"kind": "Warehouse", "name": "${{ request.body.repository.name }}"})),
            "",
            vec!["api"],
            "Success",
        ),
        (
            "labels, static and from a query parameter",
            warehouse(json!({"kind": "Warehouse", "labelSelector": {
                "matchLabels": {"env": "prod"},
                "matchExpressions": [{"key": "service", "operator": "In", "values": ["${{ request.params('svc') }}", "db"]}],
            }})),
            "svc=ui&other=1",
            vec!["ui"],
            "Success",
        ),
        (
            "criteria of one entry are ANDed",
            warehouse(
                json!({"kind": "Warehouse", "name": "api", "labelSelector": {"matchLabels": {"service": "ui"}}}),
            ),
            "",
            vec![],
            "Success",
        ),
        (
            "entries are joined, duplicates dropped, sorted by name",
            json!([{"action": "Refresh", "targetSelectionCriteria": [
                {"kind": "Warehouse", "name": "ui"},
                {"kind": "Warehouse", "labelSelector": {"matchLabels": {"env": "prod"}}},
            ]}]),
            "",
            vec!["api", "ui"],
            "Success",
        ),
        (
            "a Promotion named in the body",
            warehouse(json!({"kind": "Promotion", "name": "${{ request.body.promotion }}"})),
            "",
            vec!["prod.01j.def"],
            "Success",
        ),
        (
            "every target failed",
            warehouse(json!({"kind": "Warehouse", "name": "db"})),
            "",
            vec!["db"],
            "Failure",
        ),
        (
            "whenExpression with headers and parameters",
            json!([{"action": "Refresh",
                "whenExpression": "request.header('X-Event-Type') == params.event && len(request.headers('x-event-type')) == 1",
                "parameters": {"event": "push"},
                "targetSelectionCriteria": [{"kind": "Warehouse", "name": "db"}]}]),
            "",
            vec!["db"],
            "Failure",
        ),
        (
            "whenExpression not met",
            json!([{"action": "Refresh", "whenExpression": "request.header('X-Event-Type') == 'ping'",
                "targetSelectionCriteria": [{"kind": "Warehouse", "name": "api"}]}]),
            "",
            vec![],
            "NotApplicable",
        ),
        (
            "whenExpression that is no bool",
            json!([{"action": "Refresh", "whenExpression": "request.body.repository.name",
                "targetSelectionCriteria": [{"kind": "Warehouse", "name": "api"}]}]),
            "",
            vec![],
            "Error",
        ),
        (
            "a name that is no string",
            warehouse(json!({"kind": "Warehouse", "name": "${{ request.body.repository }}"})),
            "",
            vec![],
            "Error",
        ),
        (
            "an index Promotions do not have",
            warehouse(
                json!({"kind": "Promotion", "indexSelector": {"matchIndices": [
                    {"key": "subscribedURLs", "operator": "Equals", "value": "x"},
                ]}}),
            ),
            "",
            vec![],
            "Error",
        ),
    ];
    for (what, actions, query, selected, result) in cases {
        let (results, refreshed) = run_actions(actions.clone(), query, &push, body);
        let names: Vec<&str> = refreshed.iter().map(|(_, n)| n.as_str()).collect();
        assert_eq!(names, selected, "{what}: {results:#}");
        let got = &results[0];
        assert_eq!(got["result"], result, "{what}: {got:#}");
        // Kargo's shape: the action inline, then what happened.
        assert_eq!(got["action"], "Refresh", "{what}");
        assert_eq!(
            got["targetSelectionCriteria"][0]["kind"],
            actions[0]["targetSelectionCriteria"][0]["kind"],
            "{what}"
        );
        let shown: Vec<&str> = got["selectedTargets"]
            .as_array()
            .map(|t| t.iter().map(|t| t["name"].as_str().unwrap()).collect())
            .unwrap_or_default();
        assert_eq!(shown, selected, "{what}");
        match result {
            "NotApplicable" => {
                assert_eq!(got["matchedWhenExpression"], false, "{what}");
                assert_eq!(got["summary"], "Request did not match whenExpression");
            }
            "Error" => assert!(
                got["summary"]
                    .as_str()
                    .unwrap()
                    .starts_with("Error evaluating"),
                "{what}: {got}"
            ),
            _ => assert_eq!(
                got["summary"],
                format!(
                    "Refreshed {} of {} selected resources",
                    selected.iter().filter(|n| **n != "db").count(),
                    selected.len()
                ),
                "{what}"
            ),
        }
    }
    let (_, refreshed) = run_actions(
        json!([{"action": "Refresh", "targetSelectionCriteria": [{"kind": "Promotion", "name": "prod.01j.abc"}]}]),
        "",
        &[],
        b"",
    );
    assert_eq!(
        refreshed,
        [(TargetKind::Promotion, "prod.01j.abc".to_owned())]
    );
}

#[test]
fn generic_results_are_written_as_kargos() {
    let actions = json!([{
        "action": "Refresh",
        "whenExpression": "request.header('X-Event-Type') == 'push'",
        "parameters": {"foo": "bar"},
        "targetSelectionCriteria": [
            {
                "kind": "Warehouse",
                "labelSelector": {
                    "matchLabels": {"env": "prod"},
                    "matchExpressions": [{"key": "service", "operator": "In", "values": ["ui", "db"]}],
                },
                "indexSelector": {"matchIndices": [{
                    "key": "subscribedURLs",
                    "operator": "Equals",
                    "value": "${{ normalizeGit(request.body.repository.url) }}",
                }]},
            },
            {"kind": "Warehouse", "name": "db"},
        ],
    }]);
    let (results, _) = run_actions(
        actions,
        "",
        &[("x-event-type", "push")],
        br#"{"repository": {"url": "https://GitHub.com/Acme/UI.git"}}"#,
    );
    assert_eq!(
        results,
        json!([{
            "action": "Refresh",
            "whenExpression": "request.header('X-Event-Type') == 'push'",
            "parameters": {"foo": "bar"},
            "targetSelectionCriteria": [
                {
                    "kind": "Warehouse",
                    "labelSelector": {
                        "matchLabels": {"env": "prod"},
                        "matchExpressions": [{"key": "service", "operator": "In", "values": ["ui", "db"]}],
                    },
                    "indexSelector": {"matchIndices": [{
                        "key": "subscribedURLs",
                        "operator": "Equals",
                        "value": "${{ normalizeGit(request.body.repository.url) }}",
                    }]},
                },
                {"kind": "Warehouse", "name": "db", "labelSelector": {}, "indexSelector": {}},
            ],
            "matchedWhenExpression": true,
            "selectedTargets": [
                {"namespace": "demo", "name": "db", "success": false},
                {"namespace": "demo", "name": "ui", "success": true},
            ],
            "result": "PartialSuccess",
            "summary": "Refreshed 1 of 2 selected resources",
        }])
    );
}

#[test]
fn generic_receivers_refuse_bodies_that_are_not_json_and_bad_expressions_when_set_up() {
    let r = receiver(
        ReceiverKind::Generic,
        "generic",
        "s3cret",
        json!({"actions": [{"action": "Refresh", "targetSelectionCriteria": [{"kind": "Warehouse", "name": "w"}]}]}),
    );
    assert_rejected(
        r.handle(&HeaderMap::new(), b"not json"),
        StatusCode::BAD_REQUEST,
        "invalid request body",
    );
    let cases = [
        (
            json!({"action": "Refresh", "whenExpression": "request.header('a') ==", "targetSelectionCriteria": [{"kind": "Warehouse", "name": "w"}]}),
            "generic.actions[0].whenExpression: syntax error",
        ),
        (
            json!({"action": "Refresh", "targetSelectionCriteria": [{"kind": "Warehouse", "name": "${{ secret('x') }}"}]}),
            "generic.actions[0].targetSelectionCriteria[0].name: function `secret()` is not supported",
        ),
        (
            json!({"action": "Refresh", "targetSelectionCriteria": [{"kind": "Warehouse", "indexSelector": {"matchIndices": [
                {"key": "subscribedURLs", "operator": "Equals", "value": "${{ normalizeUrl(request.body.url) }}"}]}}]}),
            "generic.actions[0].targetSelectionCriteria[0].indexSelector.matchIndices[0].value: unknown function `normalizeUrl()`",
        ),
    ];
    for (action, expected) in cases {
        let err = config::WebhookReceiverConfig::parse(&json!({
            "name": "g",
            "generic": {"secretRef": {"name": "s"}, "actions": [action]},
        }))
        .unwrap_err();
        assert!(err.contains(expected), "{expected:?} in {err:?}");
    }
}

#[test]
fn payloads_with_event_ids_or_timestamps_are_refused_when_replayed() {
    let guard = ReplayGuard::default();
    let harbor = receiver(ReceiverKind::Harbor, "harbor", "Bearer h4rbor", json!({}));
    let auth = headers(&[("authorization", "Bearer h4rbor")]);
    let push = |at: u64| {
        json!({
            "type": "PUSH_ARTIFACT",
            "occur_at": at,
            "event_data": {"resources": [{"tag": "v1", "resource_url": "harbor.example.com/acme/app:v1"}]},
        })
        .to_string()
    };
    assert!(guard.handle(&harbor, &auth, push(1).as_bytes()).is_ok());
    assert_rejected(
        guard.handle(&harbor, &auth, push(1).as_bytes()),
        StatusCode::FORBIDDEN,
        "received before",
    );
    assert!(guard.handle(&harbor, &auth, push(2).as_bytes()).is_ok());

    let hub = receiver(ReceiverKind::DockerHub, "hub", "s", json!({}));
    let body = br#"{"push_data": {"pushed_at": 1700000000, "tag": "v1"}, "repository": {"repo_name": "acme/app"}}"#;
    assert!(guard.handle(&hub, &HeaderMap::new(), body).is_ok());
    assert_rejected(
        guard.handle(&hub, &HeaderMap::new(), body),
        StatusCode::FORBIDDEN,
        "received before",
    );

    let azure = receiver(ReceiverKind::Azure, "azure", "s", json!({}));
    let acr = headers(&[("user-agent", "AzureContainerRegistry/1.0")]);
    let body = br#"{"id": "e1", "action": "push", "target": {"repository": "app", "tag": "v1"}, "request": {"host": "acme.azurecr.io"}}"#;
    assert!(guard.handle(&azure, &acr, body).is_ok());
    assert_rejected(
        guard.handle(&azure, &acr, body),
        StatusCode::FORBIDDEN,
        "received before",
    );

    // Quay sends the same payload for every push of a tag: not guarded.
    let quay = receiver(ReceiverKind::Quay, "quay", "s", json!({}));
    let body = br#"{"docker_url": "quay.io/acme/app", "updated_tags": ["latest"]}"#;
    assert!(guard.handle(&quay, &HeaderMap::new(), body).is_ok());
    assert!(guard.handle(&quay, &HeaderMap::new(), body).is_ok());
    let shown = format!("{guard:?}");
    assert!(
        shown.contains("demo/harbor") && shown.contains("capacity: 1024"),
        "{shown}"
    );
}
