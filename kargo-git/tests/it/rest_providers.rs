//! The GitHub, GitLab and Gitea providers against wiremock: GitHub, GitLab
//! and Gitea cannot run here, so each is a small stateful fake whose
//! answers follow the service's documented REST API (GitHub "Pulls" and
//! "Issues/Labels" endpoints, GitLab "Merge requests" API v4, Gitea API v1
//! "repository" pulls and labels) in the fields the providers read. The
//! `GitProvider` conformance suite runs against each, and the tests check
//! the requests each provider sends (method, path, body, auth header),
//! retries on 429/5xx, and the 401/403/404 errors.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use kargo_git::conformance::git_provider::{self, Case};
use kargo_git::provider::gitea::GiteaProvider;
use kargo_git::provider::github::GitHubProvider;
use kargo_git::provider::gitlab::GitLabProvider;
use kargo_git::provider::rest::Retry;

use crate::forge::{
    FakePr, Prs, TOKEN, a_missing_field_is_an_error, body, create, fast, find, has, number_in,
    query, requests, route, sample_pr, status_errors_name_the_pull_request, str_of,
};
use kargo_git::provider::{DynGitProvider, Error, GitProvider, NewPullRequest};
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

// ---------------------------------------------------------------- GitHub

/// A pull request as GitHub's "Get a pull request" documents it (the
/// fields the provider reads, plus a few around them).
fn github_pr(base: &str, pr: &FakePr) -> Value {
    let merged = pr.state == "merged";
    json!({
        "url": format!("{base}/api/v3/repos/acme/deploy/pulls/{}", pr.number),
        "id": 1_000_000 + pr.number,
        "node_id": "PR_kwDOA",
        "html_url": format!("{base}/acme/deploy/pull/{}", pr.number),
        "number": pr.number,
        "state": if pr.state == "open" { "open" } else { "closed" },
        "locked": false,
        "title": pr.title,
        "user": {"login": "kargo-bot", "id": 1},
        "body": pr.body,
        "labels": pr.labels.iter().enumerate().map(|(i, l)| json!({"id": i + 1, "name": l, "color": "ededed"})).collect::<Vec<_>>(),
        "created_at": "2026-11-28T01:00:00Z",
        "closed_at": if pr.state == "open" { Value::Null } else { json!("2026-11-28T02:00:00Z") },
        "merged_at": if merged { json!("2026-11-28T02:00:00Z") } else { Value::Null },
        // GitHub names a test merge commit while the pull request is open.
        "merge_commit_sha": pr.merge_sha(),
        "draft": false,
        "head": {"label": format!("acme:{}", pr.source), "ref": pr.source, "sha": pr.head_sha()},
        "base": {"label": format!("acme:{}", pr.target), "ref": pr.target, "sha": "0".repeat(40)},
        "merged": merged,
        "mergeable": !pr.conflicts(),
        "mergeable_state": if pr.conflicts() { "dirty" } else { "clean" },
    })
}

fn github_not_found() -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_json(json!({
        "message": "Not Found",
        "documentation_url": "https://docs.github.com/rest/pulls/pulls#get-a-pull-request",
        "status": "404"
    }))
}

async fn fake_github() -> (MockServer, Prs) {
    let server = MockServer::start().await;
    let prs = mount_github(&server).await;
    (server, prs)
}

/// The GitHub fake's routes on `server`.
async fn mount_github(server: &MockServer) -> Prs {
    let base = server.uri();
    let prs: Prs = Arc::default();
    let repo = "^/api/v3/repos/acme/deploy";
    let b = base.clone();
    route(
        server,
        "GET",
        &format!("{repo}/pulls$"),
        &prs,
        move |prs, req| {
            let state = query(req, "state").unwrap_or_else(|| "open".into());
            let head = query(req, "head");
            let base_branch = query(req, "base");
            let list: Vec<Value> = prs
                .iter()
                .filter(|p| match state.as_str() {
                    "open" => p.state == "open",
                    "closed" => p.state != "open",
                    _ => true,
                })
                .filter(|p| {
                    head.as_ref()
                        .is_none_or(|h| *h == format!("acme:{}", p.source))
                })
                .filter(|p| base_branch.as_ref().is_none_or(|b| *b == p.target))
                .map(|p| github_pr(&b, p))
                .collect();
            ResponseTemplate::new(200).set_body_json(list)
        },
    )
    .await;
    let b = base.clone();
    route(
        server,
        "POST",
        &format!("{repo}/pulls$"),
        &prs,
        move |prs, req| {
            let v = body(req);
            let pr = create(
                prs,
                &str_of(&v, "title"),
                &str_of(&v, "body"),
                &str_of(&v, "head"),
                &str_of(&v, "base"),
                vec![],
            );
            ResponseTemplate::new(201).set_body_json(github_pr(&b, &pr))
        },
    )
    .await;
    route(
        server,
        "POST",
        &format!("{repo}/issues/\\d+/labels$"),
        &prs,
        |prs, req| {
            let n = number_in(req, "/issues/");
            let labels: Vec<String> = serde_json::from_value(body(req)["labels"].clone()).unwrap();
            let pr = find(prs, n).unwrap();
            pr.labels.extend(labels);
            let out: Vec<Value> = pr
                .labels
                .iter()
                .enumerate()
                .map(|(i, l)| json!({"id": i + 1, "name": l, "color": "ededed", "default": false}))
                .collect();
            ResponseTemplate::new(200).set_body_json(out)
        },
    )
    .await;
    let b = base.clone();
    route(
        server,
        "GET",
        &format!("{repo}/pulls/\\d+$"),
        &prs,
        move |prs, req| match find(prs, number_in(req, "/pulls/")) {
            Some(pr) => ResponseTemplate::new(200).set_body_json(github_pr(&b, pr)),
            None => github_not_found(),
        },
    )
    .await;
    route(
        server,
        "PUT",
        &format!("{repo}/pulls/\\d+/merge$"),
        &prs,
        |prs, req| {
            let Some(pr) = find(prs, number_in(req, "/pulls/")) else {
                return github_not_found();
            };
            pr.state = "merged";
            ResponseTemplate::new(200).set_body_json(json!({
                "sha": pr.merge_sha(), "merged": true, "message": "Pull Request successfully merged"
            }))
        },
    )
    .await;
    let b = base.clone();
    route(
        server,
        "PATCH",
        &format!("{repo}/pulls/\\d+$"),
        &prs,
        move |prs, req| {
            let Some(pr) = find(prs, number_in(req, "/pulls/")) else {
                return github_not_found();
            };
            if body(req)["state"] == "closed" {
                pr.state = "closed";
            }
            ResponseTemplate::new(200).set_body_json(github_pr(&b, pr))
        },
    )
    .await;
    route(
        server,
        "POST",
        &format!("{repo}/pulls/\\d+/reviews$"),
        &prs,
        |_, _| {
            ResponseTemplate::new(200).set_body_json(json!({
                "id": 80, "user": {"login": "reviewer"}, "body": "", "state": "APPROVED",
                "commit_id": "ecdd80bb57125d7ba9641ffaa4d7d2c19d3f3091"
            }))
        },
    )
    .await;
    prs
}

#[tokio::test]
async fn github_passes_the_conformance_suite_and_sends_documented_requests() {
    let (server, _) = fake_github().await;
    // A GitHub Enterprise URL: the API is at /api/v3 on the same host.
    let url = format!("{}/acme/deploy.git", server.uri());
    let provider = GitHubProvider::new(&url, fast()).unwrap();
    git_provider::all(&provider, &Case::default()).await;

    let sent = requests(&server).await;
    let repo = "/api/v3/repos/acme/deploy";
    has(
        &sent,
        "POST",
        &format!("{repo}/pulls"),
        json!({
            "title": "Promote v2", "head": "feature/merge", "base": "main",
            "body": "tf-plan:\n  + resource \"x\"\n", "maintainer_can_modify": false
        }),
    );
    has(
        &sent,
        "POST",
        &format!("{repo}/issues/1/labels"),
        json!({"labels": ["promotion"]}),
    );
    has(&sent, "PUT", &format!("{repo}/pulls/1/merge"), json!({}));
    has(
        &sent,
        "PUT",
        &format!("{repo}/pulls/4/merge"),
        json!({"merge_method": "squash"}),
    );
    has(
        &sent,
        "PUT",
        &format!("{repo}/pulls/5/merge"),
        json!({"merge_method": "rebase"}),
    );
    has(
        &sent,
        "PATCH",
        &format!("{repo}/pulls/2"),
        json!({"state": "closed"}),
    );
    has(
        &sent,
        "POST",
        &format!("{repo}/pulls/1/reviews"),
        json!({"event": "APPROVE"}),
    );
    // The conflicting pull request is never sent to the merge endpoint.
    assert!(
        !sent
            .iter()
            .any(|(m, p, _)| m == "PUT" && p == &format!("{repo}/pulls/6/merge"))
    );
    let received = server.received_requests().await.unwrap();
    assert!(
        received
            .iter()
            .all(|r| r.headers.get("authorization").unwrap() == &format!("Bearer {TOKEN}"))
    );
    let list = received
        .iter()
        .find(|r| r.method.as_str() == "GET" && r.url.path() == format!("{repo}/pulls"))
        .unwrap();
    assert_eq!(query(list, "head").as_deref(), Some("acme:feature/merge"));
    assert_eq!(query(list, "base").as_deref(), Some("main"));
}

#[tokio::test]
async fn github_through_box_and_arc() {
    let (server, _) = fake_github().await;
    let url = format!("{}/acme/deploy", server.uri());
    let boxed: Box<DynGitProvider> = Box::new(GitHubProvider::new(&url, fast()).unwrap());
    git_provider::open_then_reuse(&boxed, &Case::default()).await;
    let shared: Arc<DynGitProvider> = Arc::new(GitHubProvider::new(&url, fast()).unwrap());
    git_provider::unknown_pull_requests_are_not_found(&shared).await;
}

// ---------------------------------------------------------------- GitLab

/// A merge request as GitLab's "Get single MR" documents it.
fn gitlab_mr(base: &str, pr: &FakePr) -> Value {
    let merged = pr.state == "merged";
    json!({
        "id": 5_000 + pr.number,
        "iid": pr.number,
        "project_id": 3,
        "title": pr.title,
        "description": pr.body,
        "state": match pr.state { "open" => "opened", s => s },
        "created_at": "2026-11-28T01:00:00.000Z",
        "target_branch": pr.target,
        "source_branch": pr.source,
        "author": {"id": 1, "username": "kargo-bot"},
        "labels": pr.labels,
        "draft": false,
        "work_in_progress": false,
        "merge_when_pipeline_succeeds": false,
        "detailed_merge_status": if pr.state != "open" { "not_open" } else if pr.conflicts() { "conflict" } else { "mergeable" },
        "has_conflicts": pr.conflicts(),
        "sha": pr.head_sha(),
        "merge_commit_sha": if merged { json!(pr.merge_sha()) } else { Value::Null },
        "squash_commit_sha": Value::Null,
        "web_url": format!("{base}/group/sub/deploy/-/merge_requests/{}", pr.number),
    })
}

fn gitlab_not_found() -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_json(json!({"message": "404 Not found"}))
}

async fn fake_gitlab() -> (MockServer, Prs) {
    let server = MockServer::start().await;
    let base = server.uri();
    let prs: Prs = Arc::default();
    let mrs = "^/api/v4/projects/group%2Fsub%2Fdeploy/merge_requests";
    let b = base.clone();
    route(&server, "GET", &format!("{mrs}$"), &prs, move |prs, req| {
        let state = query(req, "state").unwrap_or_else(|| "all".into());
        let source = query(req, "source_branch");
        let target = query(req, "target_branch");
        let list: Vec<Value> = prs
            .iter()
            .filter(|p| {
                state == "all" || (state == "opened" && p.state == "open") || state == p.state
            })
            .filter(|p| source.as_ref().is_none_or(|s| *s == p.source))
            .filter(|p| target.as_ref().is_none_or(|t| *t == p.target))
            .map(|p| gitlab_mr(&b, p))
            .collect();
        ResponseTemplate::new(200).set_body_json(list)
    })
    .await;
    let b = base.clone();
    route(
        &server,
        "POST",
        &format!("{mrs}$"),
        &prs,
        move |prs, req| {
            let v = body(req);
            let labels = v["labels"]
                .as_str()
                .map(|l| l.split(',').map(str::to_owned).collect())
                .unwrap_or_default();
            let pr = create(
                prs,
                &str_of(&v, "title"),
                &str_of(&v, "description"),
                &str_of(&v, "source_branch"),
                &str_of(&v, "target_branch"),
                labels,
            );
            ResponseTemplate::new(201).set_body_json(gitlab_mr(&b, &pr))
        },
    )
    .await;
    let b = base.clone();
    route(
        &server,
        "GET",
        &format!("{mrs}/\\d+$"),
        &prs,
        move |prs, req| match find(prs, number_in(req, "/merge_requests/")) {
            Some(pr) => ResponseTemplate::new(200).set_body_json(gitlab_mr(&b, pr)),
            None => gitlab_not_found(),
        },
    )
    .await;
    let b = base.clone();
    route(
        &server,
        "PUT",
        &format!("{mrs}/\\d+/merge$"),
        &prs,
        move |prs, req| {
            let Some(pr) = find(prs, number_in(req, "/merge_requests/")) else {
                return gitlab_not_found();
            };
            pr.state = "merged";
            ResponseTemplate::new(200).set_body_json(gitlab_mr(&b, pr))
        },
    )
    .await;
    let b = base.clone();
    route(
        &server,
        "PUT",
        &format!("{mrs}/\\d+$"),
        &prs,
        move |prs, req| {
            let Some(pr) = find(prs, number_in(req, "/merge_requests/")) else {
                return gitlab_not_found();
            };
            if body(req)["state_event"] == "close" {
                pr.state = "closed";
            }
            ResponseTemplate::new(200).set_body_json(gitlab_mr(&b, pr))
        },
    )
    .await;
    route(
        &server,
        "POST",
        &format!("{mrs}/\\d+/approve$"),
        &prs,
        |prs, req| {
            let n = number_in(req, "/merge_requests/");
            let pr = find(prs, n).unwrap();
            ResponseTemplate::new(201).set_body_json(json!({
                "id": 5_000 + pr.number, "iid": pr.number, "project_id": 3, "title": pr.title,
                "state": "opened", "approved": true,
                "approved_by": [{"user": {"id": 2, "username": "reviewer", "name": "Reviewer"}}]
            }))
        },
    )
    .await;
    (server, prs)
}

#[tokio::test]
async fn gitlab_passes_the_conformance_suite_and_sends_documented_requests() {
    let (server, _) = fake_gitlab().await;
    // A self-hosted GitLab with a subgroup: the project path is URL-encoded.
    let url = format!("{}/group/sub/deploy.git", server.uri());
    let provider = GitLabProvider::new(&url, fast()).unwrap();
    assert!(
        !kargo_git::provider::GitProvider::capabilities(&provider)
            .merges_with(kargo_git::provider::MergeMethod::Rebase)
    );
    git_provider::all(&provider, &Case::default()).await;

    let sent = requests(&server).await;
    let mrs = "/api/v4/projects/group%2Fsub%2Fdeploy/merge_requests";
    has(
        &sent,
        "POST",
        mrs,
        json!({
            "source_branch": "feature/merge", "target_branch": "main", "title": "Promote v2",
            "description": "tf-plan:\n  + resource \"x\"\n", "labels": "promotion"
        }),
    );
    has(&sent, "PUT", &format!("{mrs}/1/merge"), json!({}));
    has(
        &sent,
        "PUT",
        &format!("{mrs}/4/merge"),
        json!({"squash": true}),
    );
    has(
        &sent,
        "PUT",
        &format!("{mrs}/2"),
        json!({"state_event": "close"}),
    );
    has(&sent, "POST", &format!("{mrs}/1/approve"), json!({}));
    let received = server.received_requests().await.unwrap();
    assert!(
        received
            .iter()
            .all(|r| r.headers.get("private-token").unwrap() == TOKEN)
    );

    let err = provider
        .merge(1, Some(kargo_git::provider::MergeMethod::Rebase))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
}

// ---------------------------------------------------------------- Gitea

/// A pull request as Gitea's API v1 `PullRequest` schema documents it.
fn gitea_pr(base: &str, pr: &FakePr) -> Value {
    let merged = pr.state == "merged";
    json!({
        "id": 700 + pr.number,
        "url": format!("{base}/acme/deploy/pulls/{}", pr.number),
        "number": pr.number,
        "user": {"id": 1, "login": "kargo-bot"},
        "title": pr.title,
        "body": pr.body,
        "labels": pr.labels.iter().map(|l| json!({"id": label_id(l), "name": l, "color": "ededed"})).collect::<Vec<_>>(),
        "state": if pr.state == "open" { "open" } else { "closed" },
        "draft": false,
        "html_url": format!("{base}/acme/deploy/pulls/{}", pr.number),
        "mergeable": !pr.conflicts(),
        "merged": merged,
        "merged_at": if merged { json!("2026-11-28T02:00:00Z") } else { Value::Null },
        "merge_commit_sha": if merged { json!(pr.merge_sha()) } else { Value::Null },
        "base": {"label": pr.target, "ref": pr.target, "sha": "0".repeat(40)},
        "head": {"label": pr.source, "ref": pr.source, "sha": pr.head_sha()},
        "created_at": "2026-11-28T01:00:00Z",
    })
}

fn label_id(name: &str) -> u64 {
    match name {
        "promotion" => 11,
        _ => 12,
    }
}

fn gitea_not_found() -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_json(json!({"message": "The target couldn't be found.", "errors": [], "url": "https://gitea.example.com/api/swagger"}))
}

async fn fake_gitea() -> (MockServer, Prs) {
    let server = MockServer::start().await;
    let base = server.uri();
    let prs: Prs = Arc::default();
    let repo = "^/api/v1/repos/acme/deploy";
    route(&server, "GET", &format!("{repo}/labels$"), &prs, |_, _| {
        ResponseTemplate::new(200).set_body_json(json!([
            {"id": 11, "name": "promotion", "color": "ededed", "description": ""},
            {"id": 12, "name": "infra", "color": "ededed", "description": ""}
        ]))
    })
    .await;
    let b = base.clone();
    route(
        &server,
        "GET",
        &format!("{repo}/pulls$"),
        &prs,
        move |prs, req| {
            let state = query(req, "state").unwrap_or_else(|| "open".into());
            let list: Vec<Value> = prs
                .iter()
                .filter(|p| match state.as_str() {
                    "open" => p.state == "open",
                    "closed" => p.state != "open",
                    _ => true,
                })
                .map(|p| gitea_pr(&b, p))
                .collect();
            ResponseTemplate::new(200).set_body_json(list)
        },
    )
    .await;
    let b = base.clone();
    route(
        &server,
        "POST",
        &format!("{repo}/pulls$"),
        &prs,
        move |prs, req| {
            let v = body(req);
            let labels = v["labels"]
                .as_array()
                .map(|ids| {
                    ids.iter()
                        .map(|id| {
                            if id == 11 {
                                "promotion".to_owned()
                            } else {
                                "infra".to_owned()
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            let pr = create(
                prs,
                &str_of(&v, "title"),
                &str_of(&v, "body"),
                &str_of(&v, "head"),
                &str_of(&v, "base"),
                labels,
            );
            ResponseTemplate::new(201).set_body_json(gitea_pr(&b, &pr))
        },
    )
    .await;
    let b = base.clone();
    route(
        &server,
        "GET",
        &format!("{repo}/pulls/\\d+$"),
        &prs,
        move |prs, req| match find(prs, number_in(req, "/pulls/")) {
            Some(pr) => ResponseTemplate::new(200).set_body_json(gitea_pr(&b, pr)),
            None => gitea_not_found(),
        },
    )
    .await;
    route(
        &server,
        "POST",
        &format!("{repo}/pulls/\\d+/merge$"),
        &prs,
        |prs, req| {
            let Some(pr) = find(prs, number_in(req, "/pulls/")) else {
                return gitea_not_found();
            };
            if pr.conflicts() {
                return ResponseTemplate::new(409)
                    .set_body_json(json!({"message": "merge conflict in merged.txt", "url": ""}));
            }
            pr.state = "merged";
            ResponseTemplate::new(200)
        },
    )
    .await;
    let b = base.clone();
    route(
        &server,
        "PATCH",
        &format!("{repo}/pulls/\\d+$"),
        &prs,
        move |prs, req| {
            let Some(pr) = find(prs, number_in(req, "/pulls/")) else {
                return gitea_not_found();
            };
            if body(req)["state"] == "closed" {
                pr.state = "closed";
            }
            ResponseTemplate::new(201).set_body_json(gitea_pr(&b, pr))
        },
    )
    .await;
    route(
        &server,
        "POST",
        &format!("{repo}/pulls/\\d+/reviews$"),
        &prs,
        |_, _| {
            ResponseTemplate::new(200).set_body_json(json!({
                "id": 9, "user": {"id": 2, "login": "reviewer"}, "body": "", "state": "APPROVED",
                "commit_id": "ecdd80bb57125d7ba9641ffaa4d7d2c19d3f3091"
            }))
        },
    )
    .await;
    (server, prs)
}

#[tokio::test]
async fn gitea_passes_the_conformance_suite_and_sends_documented_requests() {
    let (server, _) = fake_gitea().await;
    let url = format!("{}/acme/deploy.git", server.uri());
    let provider = GiteaProvider::new(&url, fast()).unwrap();
    git_provider::all(&provider, &Case::default()).await;

    let sent = requests(&server).await;
    let repo = "/api/v1/repos/acme/deploy";
    has(
        &sent,
        "POST",
        &format!("{repo}/pulls"),
        json!({
            "head": "feature/merge", "base": "main", "title": "Promote v2",
            "body": "tf-plan:\n  + resource \"x\"\n", "labels": [11]
        }),
    );
    has(
        &sent,
        "POST",
        &format!("{repo}/pulls/1/merge"),
        json!({"Do": "merge"}),
    );
    has(
        &sent,
        "POST",
        &format!("{repo}/pulls/4/merge"),
        json!({"Do": "squash"}),
    );
    has(
        &sent,
        "POST",
        &format!("{repo}/pulls/5/merge"),
        json!({"Do": "rebase"}),
    );
    has(
        &sent,
        "PATCH",
        &format!("{repo}/pulls/2"),
        json!({"state": "closed"}),
    );
    has(
        &sent,
        "POST",
        &format!("{repo}/pulls/1/reviews"),
        json!({"event": "APPROVED", "body": ""}),
    );
    let received = server.received_requests().await.unwrap();
    assert!(
        received
            .iter()
            .all(|r| r.headers.get("authorization").unwrap() == &format!("token {TOKEN}"))
    );

    let err = provider
        .open(&NewPullRequest::new("feature/x", "main", "x").with_labels(vec!["missing".into()]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
}

// ---------------------------------------------------------------- errors and retries

#[tokio::test]
async fn status_401_403_404_name_the_repository_and_pull_request_never_the_token() {
    let server = MockServer::start().await;
    for (n, status) in [(1, 401), (2, 403), (3, 404)] {
        Mock::given(method("GET"))
            .and(path_regex(format!("^/api/v3/repos/acme/deploy/pulls/{n}$")))
            .respond_with(
                ResponseTemplate::new(status).set_body_json(json!({"message": "Bad credentials"})),
            )
            .mount(&server)
            .await;
    }
    let url = format!("{}/acme/deploy", server.uri());
    let provider = GitHubProvider::new(&url, fast()).unwrap();
    status_errors_name_the_pull_request(&provider, "acme/deploy", &[TOKEN]).await;
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_honouring_the_headers() {
    let server = MockServer::start().await;
    let prs = mount_github(&server).await;
    create(
        &mut prs.lock().unwrap(),
        "t",
        "b",
        "feature/a",
        "main",
        vec![],
    );
    // First a 429 with Retry-After, then a 503, then GitHub's secondary
    // rate limit (403 with X-RateLimit-Remaining: 0 and a reset time).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for response in [
        ResponseTemplate::new(429).insert_header("retry-after", "0"),
        ResponseTemplate::new(503),
        ResponseTemplate::new(403)
            .insert_header("x-ratelimit-remaining", "0")
            .insert_header("x-ratelimit-reset", now.to_string().as_str()),
    ] {
        Mock::given(method("GET"))
            .and(path_regex("^/api/v3/repos/acme/deploy/pulls/1$"))
            .respond_with(response)
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
    }
    let url = format!("{}/acme/deploy", server.uri());
    let provider = GitHubProvider::new(
        &url,
        fast().with_retry(Retry::new(
            5,
            Duration::from_millis(5),
            Duration::from_secs(2),
        )),
    )
    .unwrap();
    let pr = provider.get(1).await.unwrap();
    assert_eq!(pr.number, 1);
    let gets = server.received_requests().await.unwrap().len();
    assert_eq!(gets, 4, "three refusals, then the answer");

    // A wait longer than allowed fails at once (bounded), naming it.
    Mock::given(method("GET"))
        .and(path_regex("^/api/v3/repos/acme/deploy/pulls/1$"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "3600"))
        .with_priority(1)
        .mount(&server)
        .await;
    let err = provider.get(1).await.unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(err.to_string().contains("3600"), "{err}");
    // Above the provider, the error stays temporary.
    assert!(kargo_core::Error::from(err).is_temporary());

    // Attempts are bounded too.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    let provider = GitLabProvider::new(&format!("{}/g/p", server.uri()), fast()).unwrap();
    let err = provider.get(1).await.unwrap_err();
    assert!(err.to_string().contains("after 3 attempts"), "{err}");
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn pull_requests_not_ready_to_merge_are_reported_not_failed() {
    // GitHub still computing mergeability: no merge is attempted.
    let server = MockServer::start().await;
    let pr = FakePr {
        number: 7,
        title: "t".into(),
        body: String::new(),
        source: "feature/a".into(),
        target: "main".into(),
        state: "open",
        labels: vec![],
    };
    let mut unknown = github_pr(&server.uri(), &pr);
    unknown["mergeable_state"] = json!("unknown");
    unknown["mergeable"] = Value::Null;
    Mock::given(method("GET"))
        .and(path_regex("^/api/v3/repos/acme/deploy/pulls/7$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(unknown))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/api/v3/repos/acme/deploy/pulls/7$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(github_pr(&server.uri(), &pr)))
        .mount(&server)
        .await;
    // The base moved between the check and the merge: GitHub's 405.
    Mock::given(method("PUT"))
        .and(path_regex("^/api/v3/repos/acme/deploy/pulls/7/merge$"))
        .respond_with(ResponseTemplate::new(405).set_body_json(json!({
            "message": "Base branch was modified. Review and try the merge again.",
            "documentation_url": "https://docs.github.com/rest/pulls/pulls#merge-a-pull-request"
        })))
        .mount(&server)
        .await;
    let provider = GitHubProvider::new(&format!("{}/acme/deploy", server.uri()), fast()).unwrap();
    for expected in ["mergeable_state is unknown", "Base branch was modified"] {
        match provider.merge(7, None).await.unwrap() {
            kargo_git::provider::MergeOutcome::NotReady { reason } => {
                assert!(reason.contains(expected), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
    let puts = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "PUT")
        .count();
    assert_eq!(puts, 1, "no merge attempted while mergeability is unknown");
}

#[tokio::test]
async fn merge_methods_go_by_each_forge_s_name_or_are_refused_before_any_request() {
    use kargo_git::provider::MergeMethod::{FastForward, Rebase, RebaseMerge};

    // Gitea names a fast-forward its own way.
    let (server, _) = fake_gitea().await;
    let gitea = GiteaProvider::new(&format!("{}/acme/deploy.git", server.uri()), fast()).unwrap();
    let pr = gitea
        .open(&NewPullRequest::new("feature/merge", "main", "Fast"))
        .await
        .unwrap()
        .pr;
    gitea.merge(pr.number, Some(FastForward)).await.unwrap();
    has(
        &requests(&server).await,
        "POST",
        &format!("/api/v1/repos/acme/deploy/pulls/{}/merge", pr.number),
        json!({"Do": "fast-forward-only"}),
    );

    // GitHub and GitLab lack some methods: Unsupported, and nothing sent.
    let (github_server, _) = fake_github().await;
    let github =
        GitHubProvider::new(&format!("{}/acme/deploy", github_server.uri()), fast()).unwrap();
    let (gitlab_server, _) = fake_gitlab().await;
    let gitlab = GitLabProvider::new(&format!("{}/g/p", gitlab_server.uri()), fast()).unwrap();
    let lacking: [(&DynGitProvider, &[_]); 2] = [
        (&github, &[RebaseMerge, FastForward]),
        (&gitlab, &[Rebase, RebaseMerge, FastForward]),
    ];
    for (provider, methods) in lacking {
        for method in methods {
            let err = provider.merge(1, Some(*method)).await.unwrap_err();
            assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
            assert!(err.to_string().contains(method.as_str()), "{err}");
            assert!(!provider.capabilities().merges_with(*method));
        }
    }
    assert!(github_server.received_requests().await.unwrap().is_empty());
    assert!(gitlab_server.received_requests().await.unwrap().is_empty());
}

/// #22: an answer without a field a pull request needs is an error naming
/// GitHub and the field (str_field read it as ""), for one pull request
/// and in a list.
#[tokio::test]
async fn github_answers_without_a_field_are_errors() {
    let server = MockServer::start().await;
    let provider = GitHubProvider::new(&format!("{}/acme/deploy", server.uri()), fast()).unwrap();
    let answer = github_pr(&server.uri(), &sample_pr());
    a_missing_field_is_an_error(&server, &provider, answer.clone(), "/head/ref").await;

    let list = MockServer::start().await;
    let mut broken = answer.clone();
    broken.as_object_mut().unwrap().remove("html_url");
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([answer, broken])))
        .mount(&list)
        .await;
    let provider = GitHubProvider::new(&format!("{}/acme/deploy", list.uri()), fast()).unwrap();
    let err = provider
        .list(&kargo_git::provider::ListOptions::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("at `[1]`: missing field `html_url`"),
        "{err}"
    );
}

#[tokio::test]
async fn gitlab_answers_without_a_field_are_errors() {
    let server = MockServer::start().await;
    let provider =
        GitLabProvider::new(&format!("{}/group/sub/deploy", server.uri()), fast()).unwrap();
    let answer = gitlab_mr(&server.uri(), &sample_pr());
    a_missing_field_is_an_error(&server, &provider, answer, "/source_branch").await;
}

#[tokio::test]
async fn gitea_answers_without_a_field_are_errors() {
    let server = MockServer::start().await;
    let provider = GiteaProvider::new(&format!("{}/acme/deploy", server.uri()), fast()).unwrap();
    let answer = gitea_pr(&server.uri(), &sample_pr());
    a_missing_field_is_an_error(&server, &provider, answer, "/base/ref").await;
}
