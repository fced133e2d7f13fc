//! The Azure DevOps provider against wiremock: Azure DevOps cannot run
//! here, so this is a small stateful fake whose answers follow the Git
//! "Pull Requests" REST API 7.1 as Microsoft documents it (`GitPullRequest`
//! objects, lists as `{value, count}` paged by `$top` / `$skip`, the
//! `searchCriteria.*` filters, `TF...` error bodies) in the fields the
//! provider reads, plus a few around them. The `GitProvider` conformance
//! suite runs against it, and the tests check the requests the provider
//! sends (method, path, `api-version`, body, basic auth), the pull
//! requests' web URLs, merges that are not ready, conflict or complete
//! asynchronously, and the 401/403/404 errors.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use kargo_core::credentials::Credentials;
use kargo_git::conformance::git_provider::{self, Case};
use kargo_git::provider::azure::AzureProvider;
use kargo_git::provider::rest::Retry;
use kargo_git::provider::{
    self, Error, GitProvider, ListOptions, MergeMethod, MergeOutcome, NewPullRequest, PrState,
    SelectOptions, StateFilter,
};
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::forge::{
    FakePr, Prs, TOKEN, body, create, fast, find, has, query, requests, route,
    status_errors_name_the_pull_request,
};

/// `Basic base64(":" + TOKEN)`: a personal access token with an empty
/// user name (worked out independently of the code under test).
const BASIC: &str = "Basic OnQwa2VuLW5ldmVyLXNob3du";

const REPO_ID: &str = "3411ebc1-d5aa-464f-9615-0b527bc66719";
const PROJECT_ID: &str = "a7573007-bbb3-4341-b726-0c4148a07853";

/// A pull request as "Pull Requests - Get Pull Request" documents it.
/// `org` is the organization's API root (`SCHEME://HOST/ORG`).
fn azure_pr(org: &str, pr: &FakePr) -> Value {
    let status = match pr.state {
        "open" => "active",
        "merged" => "completed",
        _ => "abandoned",
    };
    let commit = |sha: String| json!({"commitId": sha, "url": format!("{org}/_apis/git/repositories/{REPO_ID}/commits/{sha}")});
    let mut v = json!({
        "repository": {
            "id": REPO_ID,
            "name": "app",
            "url": format!("{org}/_apis/git/repositories/{REPO_ID}"),
            "project": {"id": PROJECT_ID, "name": "deploy", "state": "wellFormed", "visibility": "private"}
        },
        "pullRequestId": pr.number,
        "codeReviewId": pr.number,
        "status": status,
        "createdBy": {
            "displayName": "Kargo",
            "uniqueName": "kargo@acme.example",
            "id": "d6245f20-2af8-44f4-9451-8107cb2767db"
        },
        "creationDate": "2026-11-28T01:00:00.0000000Z",
        "title": pr.title,
        "description": pr.body,
        "sourceRefName": format!("refs/heads/{}", pr.source),
        "targetRefName": format!("refs/heads/{}", pr.target),
        "mergeStatus": if pr.conflicts() { "conflicts" } else { "succeeded" },
        "isDraft": false,
        "mergeId": "f5fc8381-3fb2-49fe-8a0d-27dcc2d6ef82",
        "lastMergeSourceCommit": commit(pr.head_sha()),
        "lastMergeTargetCommit": commit("0".repeat(40)),
        "reviewers": [],
        "labels": pr.labels.iter().enumerate().map(|(i, l)| json!({
            "id": format!("{i:08}-0000-0000-0000-000000000000"), "name": l, "active": true
        })).collect::<Vec<_>>(),
        "url": format!("{org}/_apis/git/repositories/{REPO_ID}/pullRequests/{}", pr.number),
        "supportsIterations": true,
    });
    // An active pull request's test merge; the merge itself once completed.
    if !pr.conflicts() {
        v["lastMergeCommit"] = commit(pr.merge_sha());
    }
    if status != "active" {
        v["closedDate"] = json!("2026-11-28T02:00:00.0000000Z");
    }
    v
}

/// Azure's error body: `{$id, innerException, message, typeName, typeKey,
/// errorCode, eventId}`.
fn azure_error(status: u16, message: &str, type_key: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "$id": "1",
        "innerException": null,
        "message": message,
        "typeName": format!("Microsoft.TeamFoundation.Git.Server.{type_key}, Microsoft.TeamFoundation.Git.Server"),
        "typeKey": type_key,
        "errorCode": 0,
        "eventId": 3000
    }))
}

fn not_found() -> ResponseTemplate {
    azure_error(
        404,
        "TF401180: The requested pull request was not found.",
        "GitPullRequestNotFoundException",
    )
}

/// Azure refuses a request without the API version.
fn versioned(req: &Request) -> Option<ResponseTemplate> {
    (query(req, "api-version").as_deref() != Some("7.1")).then(|| {
        azure_error(
            400,
            "No api-version was supplied for the \"GET\" request.",
            "VssVersionNotSpecifiedException",
        )
    })
}

fn pr_number(req: &Request) -> u64 {
    crate::forge::number_in(req, "/pullrequests/")
}

fn branch(refname: &str) -> String {
    refname
        .strip_prefix("refs/heads/")
        .unwrap_or(refname)
        .to_owned()
}

/// The fake's routes on `server`, for the repository at
/// `/{org}/{project}/_apis/git/repositories/{repo}` (`project` as it
/// appears in the path, encoded). `org` is the organization's API root.
async fn mount_azure(server: &MockServer, org: &str, project: &str) -> Prs {
    let prs: Prs = Arc::default();
    let api = format!("^/acme/{project}/_apis/git/repositories/app/pullrequests");
    let o = org.to_owned();
    route(server, "GET", &format!("{api}$"), &prs, move |prs, req| {
        if let Some(refused) = versioned(req) {
            return refused;
        }
        let status = query(req, "searchCriteria.status").unwrap_or_else(|| "active".into());
        let source = query(req, "searchCriteria.sourceRefName");
        let target = query(req, "searchCriteria.targetRefName");
        let top: usize = query(req, "$top").map_or(101, |t| t.parse().unwrap());
        let skip: usize = query(req, "$skip").map_or(0, |s| s.parse().unwrap());
        let mut matching: Vec<&FakePr> = prs
            .iter()
            .filter(|p| match status.as_str() {
                "active" => p.state == "open",
                "completed" => p.state == "merged",
                "abandoned" => p.state == "closed",
                _ => true,
            })
            .filter(|p| {
                source
                    .as_ref()
                    .is_none_or(|s| *s == format!("refs/heads/{}", p.source))
            })
            .filter(|p| {
                target
                    .as_ref()
                    .is_none_or(|t| *t == format!("refs/heads/{}", p.target))
            })
            .collect();
        // Newest first, as Azure lists them.
        matching.sort_by_key(|p| std::cmp::Reverse(p.number));
        let page: Vec<Value> = matching
            .into_iter()
            .skip(skip)
            .take(top)
            .map(|p| azure_pr(&o, p))
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({"value": page, "count": page.len()}))
    })
    .await;
    let o = org.to_owned();
    route(server, "POST", &format!("{api}$"), &prs, move |prs, req| {
        if let Some(refused) = versioned(req) {
            return refused;
        }
        let v = body(req);
        let (source, target) = (
            branch(v["sourceRefName"].as_str().unwrap()),
            branch(v["targetRefName"].as_str().unwrap()),
        );
        if prs
            .iter()
            .any(|p| p.state == "open" && p.source == source && p.target == target)
        {
            return azure_error(
                409,
                "TF401179: An active pull request for the source and target branch already exists.",
                "GitPullRequestExistsException",
            );
        }
        let labels = v["labels"]
            .as_array()
            .map(|ls| {
                ls.iter()
                    .map(|l| l["name"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        let pr = create(
            prs,
            v["title"].as_str().unwrap(),
            v["description"].as_str().unwrap_or_default(),
            &source,
            &target,
            labels,
        );
        ResponseTemplate::new(201).set_body_json(azure_pr(&o, &pr))
    })
    .await;
    let o = org.to_owned();
    route(
        server,
        "GET",
        &format!("{api}/\\d+$"),
        &prs,
        move |prs, req| {
            if let Some(refused) = versioned(req) {
                return refused;
            }
            match find(prs, pr_number(req)) {
                Some(pr) => ResponseTemplate::new(200).set_body_json(azure_pr(&o, pr)),
                None => not_found(),
            }
        },
    )
    .await;
    let o = org.to_owned();
    route(
        server,
        "PATCH",
        &format!("{api}/\\d+$"),
        &prs,
        move |prs, req| {
            if let Some(refused) = versioned(req) {
                return refused;
            }
            let v = body(req);
            let Some(pr) = find(prs, pr_number(req)) else {
                return not_found();
            };
            match v["status"].as_str() {
                Some("completed") => {
                    if v["lastMergeSourceCommit"]["commitId"].as_str() != Some(&pr.head_sha()) {
                        return azure_error(
                            400,
                            "Invalid argument value.\r\nParameter name: You must specify a valid \
                             LastMergeSourceCommit to perform this operation.",
                            "InvalidArgumentValueException",
                        );
                    }
                    pr.state = "merged";
                    let mut answer = azure_pr(&o, pr);
                    if let Some(options) = v.get("completionOptions") {
                        answer["completionOptions"] = options.clone();
                    }
                    ResponseTemplate::new(200).set_body_json(answer)
                }
                Some("abandoned") => {
                    pr.state = "closed";
                    ResponseTemplate::new(200).set_body_json(azure_pr(&o, pr))
                }
                _ => ResponseTemplate::new(200).set_body_json(azure_pr(&o, pr)),
            }
        },
    )
    .await;
    prs
}

/// A fake on a new server, for `SERVER/acme/deploy/_git/app` (an Azure
/// DevOps Server collection named `acme`).
async fn fake_azure() -> (MockServer, Prs, String) {
    let server = MockServer::start().await;
    let org = format!("{}/acme", server.uri());
    let prs = mount_azure(&server, &org, "deploy").await;
    let url = format!("{}/acme/deploy/_git/app", server.uri());
    (server, prs, url)
}

fn open_pr(number: u64, source: &str) -> FakePr {
    FakePr {
        number,
        title: "t".into(),
        body: String::new(),
        source: source.into(),
        target: "main".into(),
        state: "open",
        labels: vec![],
    }
}

#[tokio::test]
async fn azure_passes_the_conformance_suite_and_sends_documented_requests() {
    let (server, _, url) = fake_azure().await;
    let provider = AzureProvider::new(&url, fast()).unwrap();
    let caps = provider.capabilities();
    assert!(!caps.approve && caps.labels);
    for m in [MergeMethod::Merge, MergeMethod::Squash, MergeMethod::Rebase] {
        assert!(caps.merges_with(m), "{m}");
    }
    git_provider::all(&provider, &Case::default()).await;

    let sent = requests(&server).await;
    let prs = "/acme/deploy/_apis/git/repositories/app/pullrequests";
    has(
        &sent,
        "POST",
        prs,
        json!({
            "sourceRefName": "refs/heads/feature/merge", "targetRefName": "refs/heads/main",
            "title": "Promote v2", "description": "tf-plan:\n  + resource \"x\"\n",
            "labels": [{"name": "promotion"}]
        }),
    );
    let head = |n: u64| open_pr(n, "x").head_sha();
    // The default method: Azure (the branch policy) chooses.
    has(
        &sent,
        "PATCH",
        &format!("{prs}/1"),
        json!({"status": "completed", "lastMergeSourceCommit": {"commitId": head(1)}}),
    );
    has(
        &sent,
        "PATCH",
        &format!("{prs}/4"),
        json!({
            "status": "completed", "lastMergeSourceCommit": {"commitId": head(4)},
            "completionOptions": {"mergeStrategy": "squash"}
        }),
    );
    has(
        &sent,
        "PATCH",
        &format!("{prs}/5"),
        json!({
            "status": "completed", "lastMergeSourceCommit": {"commitId": head(5)},
            "completionOptions": {"mergeStrategy": "rebase"}
        }),
    );
    has(
        &sent,
        "PATCH",
        &format!("{prs}/2"),
        json!({"status": "abandoned"}),
    );
    // The merged pull request is completed once: merging again only reads.
    let completions = |n: u64| {
        sent.iter()
            .filter(|(m, p, b)| {
                m == "PATCH" && *p == format!("{prs}/{n}") && b["status"] == "completed"
            })
            .count()
    };
    assert_eq!(completions(1), 1);
    // The conflicting pull request (6) is never completed, only abandoned.
    assert_eq!(completions(6), 0);
    has(
        &sent,
        "PATCH",
        &format!("{prs}/6"),
        json!({"status": "abandoned"}),
    );

    let received = server.received_requests().await.unwrap();
    for r in &received {
        assert_eq!(
            r.headers.get("authorization").unwrap(),
            BASIC,
            "{} {}",
            r.method,
            r.url
        );
        assert_eq!(query(r, "api-version").as_deref(), Some("7.1"), "{}", r.url);
    }
    let list = received
        .iter()
        .find(|r| r.method.as_str() == "GET" && r.url.path() == prs)
        .unwrap();
    for (key, value) in [
        ("searchCriteria.status", "active"),
        ("searchCriteria.sourceRefName", "refs/heads/feature/merge"),
        ("searchCriteria.targetRefName", "refs/heads/main"),
        ("$top", "100"),
        ("$skip", "0"),
    ] {
        assert_eq!(query(list, key).as_deref(), Some(value), "{key}");
    }

    // What a person opens, and what was merged.
    let pr = provider.get(1).await.unwrap();
    assert_eq!(
        pr.url,
        format!("{}/acme/deploy/_git/app/pullrequest/1", server.uri())
    );
    assert_eq!(pr.state, PrState::Merged);
    assert_eq!(pr.merge_commit, Some(open_pr(1, "x").merge_sha()));
    assert_eq!(pr.head_sha, Some(head(1)));
    assert_eq!(pr.labels, vec!["promotion".to_owned()]);
    assert_eq!(
        pr.created_at.as_deref(),
        Some("2026-11-28T01:00:00.0000000Z")
    );
    // An open pull request's test merge is not a merge commit.
    let open = provider
        .open(&NewPullRequest::new("feature/late", "main", "Later"))
        .await
        .unwrap();
    assert_eq!(open.pr.merge_commit, None);
    assert!(open.pr.head_sha.is_some());

    let err = provider.approve(1).await.unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
}

#[tokio::test]
async fn azure_through_select_with_a_dev_azure_com_url() {
    // A dev.azure.com URL whose project has a space, its API pointed at the
    // fake; the token comes from the credentials' password.
    let server = MockServer::start().await;
    let org = format!("{}/acme", server.uri());
    mount_azure(&server, &org, "Deploy%20Project").await;
    let url = "https://kargo:ignored@dev.azure.com/acme/Deploy%20Project/_git/app";
    let provider = AzureProvider::new(url, fast().with_api_base(&org)).unwrap();
    let opened = provider
        .open(&NewPullRequest::new("feature/a", "main", ""))
        .await
        .unwrap();
    assert_eq!(
        opened.pr.url,
        "https://dev.azure.com/acme/Deploy%20Project/_git/app/pullrequest/1"
    );
    assert_eq!(opened.pr.title, "Promote feature/a into main");

    // select() names it `azure` and sends the credentials' password.
    let credentials = Credentials {
        username: "someone".into(),
        password: TOKEN.into(),
    };
    let selected = provider::select(
        &format!("{}/acme/Deploy%20Project/_git/app", server.uri()),
        Some("azure"),
        SelectOptions::default().with_credentials(Some(credentials)),
    )
    .unwrap();
    assert_eq!(selected.name(), "azure");
    let listed = selected.list(&ListOptions::default()).await.unwrap();
    assert_eq!(listed.iter().map(|p| p.number).collect::<Vec<_>>(), vec![1]);
    let received = server.received_requests().await.unwrap();
    assert!(
        received.iter().all(|r| {
            r.url
                .path()
                .starts_with("/acme/Deploy%20Project/_apis/git/repositories/app/")
                && r.headers.get("authorization").unwrap() == BASIC
        }),
        "{received:#?}"
    );
}

#[tokio::test]
async fn lists_are_read_page_by_page() {
    let (server, prs, url) = fake_azure().await;
    {
        let mut prs = prs.lock().unwrap();
        for i in 0..150 {
            create(&mut prs, "t", "", &format!("feature/{i}"), "main", vec![]);
        }
        find(&mut prs, 7).unwrap().state = "merged";
        find(&mut prs, 8).unwrap().state = "closed";
    }
    let provider = AzureProvider::new(&url, fast()).unwrap();
    let open = provider.list(&ListOptions::default()).await.unwrap();
    assert_eq!(open.len(), 148);
    assert!(open.windows(2).all(|w| w[0].number < w[1].number));
    let closed = provider
        .list(&ListOptions::default().with_state(StateFilter::Closed))
        .await
        .unwrap();
    assert_eq!(
        closed
            .iter()
            .map(|p| (p.number, p.state))
            .collect::<Vec<_>>(),
        vec![(7, PrState::Merged), (8, PrState::Closed)]
    );
    let skips: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter_map(|r| query(r, "$skip"))
        .collect();
    assert_eq!(skips, ["0", "100", "0", "100"]);
}

#[tokio::test]
async fn a_pull_request_opened_concurrently_is_reused() {
    let (server, prs, url) = fake_azure().await;
    create(
        &mut prs.lock().unwrap(),
        "Theirs",
        "",
        "feature/a",
        "main",
        vec![],
    );
    // The first search misses it (it is being opened at the same time).
    Mock::given(method("GET"))
        .and(path_regex(
            "^/acme/deploy/_apis/git/repositories/app/pullrequests$",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [], "count": 0})))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let provider = AzureProvider::new(&url, fast()).unwrap();
    let opened = provider
        .open(&NewPullRequest::new("feature/a", "main", "Mine"))
        .await
        .unwrap();
    assert!(opened.reused);
    assert_eq!((opened.pr.number, opened.pr.title.as_str()), (1, "Theirs"));
    assert_eq!(prs.lock().unwrap().len(), 1);
}

/// A change to a pull request's answer.
type Tweak = fn(&mut Value);

#[tokio::test]
async fn merges_that_cannot_happen_yet_are_not_ready_and_conflicts_fail() {
    let server = MockServer::start().await;
    let org = format!("{}/acme", server.uri());
    let api = "^/acme/deploy/_apis/git/repositories/app/pullrequests";
    let cases: [(u64, Tweak, &str); 4] = [
        (11, |v| v["mergeStatus"] = json!("queued"), "queued"),
        (12, |v| v["isDraft"] = json!(true), "draft"),
        (
            13,
            |v| v["mergeStatus"] = json!("rejectedByPolicy"),
            "rejectedByPolicy",
        ),
        (
            14,
            |v| {
                v["mergeStatus"] = json!("failure");
                v["mergeFailureType"] = json!("caseSensitive");
                v["mergeFailureMessage"] = json!("Paths differ only in case: App.yaml");
            },
            "Paths differ only in case",
        ),
    ];
    for (n, tweak, _) in &cases {
        let mut v = azure_pr(&org, &open_pr(*n, "feature/a"));
        tweak(&mut v);
        Mock::given(method("GET"))
            .and(path_regex(format!("{api}/{n}$")))
            .respond_with(ResponseTemplate::new(200).set_body_json(v))
            .mount(&server)
            .await;
    }
    let provider = AzureProvider::new(&format!("{org}/deploy/_git/app"), fast()).unwrap();
    for (n, _, expected) in &cases[..3] {
        match provider.merge(*n, None).await.unwrap() {
            MergeOutcome::NotReady { reason } => assert!(reason.contains(expected), "{reason}"),
            other => panic!("{n}: {other:?}"),
        }
    }
    let err = provider.merge(14, None).await.unwrap_err();
    match &err {
        Error::Conflict {
            pr: 14, message, ..
        } => {
            assert!(message.contains(cases[3].2), "{message}");
        }
        _ => panic!("{err:?}"),
    }
    assert!(err.to_string().contains("acme/deploy/_git/app"), "{err}");
    let patches = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "PATCH")
        .count();
    assert_eq!(patches, 0, "nothing is completed that cannot merge");

    // Azure refuses the completion (the branch moved, a policy): not ready.
    let pr = open_pr(15, "feature/b");
    Mock::given(method("GET"))
        .and(path_regex(format!("{api}/15$")))
        .respond_with(ResponseTemplate::new(200).set_body_json(azure_pr(&org, &pr)))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path_regex(format!("{api}/15$")))
        .respond_with(azure_error(
            409,
            "The pull request cannot be completed: its source branch was updated.",
            "GitPullRequestUpdateRejectedException",
        ))
        .mount(&server)
        .await;
    match provider.merge(15, Some(MergeMethod::Merge)).await.unwrap() {
        MergeOutcome::NotReady { reason } => {
            assert!(reason.contains("source branch was updated"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn completion_is_awaited_then_reported_or_left_for_later() {
    let server = MockServer::start().await;
    let org = format!("{}/acme", server.uri());
    let api = "^/acme/deploy/_apis/git/repositories/app/pullrequests";
    // 21: Azure queues the completion; the second read shows it completed.
    // 22: a branch policy holds it; it stays active.
    for n in [21, 22] {
        let active = azure_pr(&org, &open_pr(n, "feature/a"));
        let mut queued = active.clone();
        queued["completionQueueTime"] = json!("2026-11-28T01:30:00.0000000Z");
        queued["completionOptions"] = json!({"mergeStrategy": "noFastForward"});
        Mock::given(method("GET"))
            .and(path_regex(format!("{api}/{n}$")))
            .respond_with(ResponseTemplate::new(200).set_body_json(active.clone()))
            .up_to_n_times(if n == 21 { 2 } else { u64::MAX })
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(method("PATCH"))
            .and(path_regex(format!("{api}/{n}$")))
            .respond_with(ResponseTemplate::new(200).set_body_json(queued))
            .mount(&server)
            .await;
    }
    let mut done = open_pr(21, "feature/a");
    done.state = "merged";
    Mock::given(method("GET"))
        .and(path_regex(format!("{api}/21$")))
        .respond_with(ResponseTemplate::new(200).set_body_json(azure_pr(&org, &done)))
        .with_priority(2)
        .mount(&server)
        .await;
    let provider = AzureProvider::new(
        &format!("{org}/deploy/_git/app"),
        fast().with_retry(Retry::new(
            4,
            Duration::from_millis(5),
            Duration::from_millis(20),
        )),
    )
    .unwrap();

    match provider.merge(21, Some(MergeMethod::Merge)).await.unwrap() {
        MergeOutcome::Merged(pr) => {
            assert_eq!(pr.state, PrState::Merged);
            assert_eq!(pr.merge_commit, Some(done.merge_sha()));
        }
        other => panic!("{other:?}"),
    }
    match provider.merge(22, None).await.unwrap() {
        MergeOutcome::NotReady { reason } => assert!(reason.contains("policy"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // 21: the check, a read still active, then the completed one.
    // 22: the check, then as many reads as the retry allows (4).
    assert_eq!(count(&server, "GET", 21).await, 3);
    assert_eq!(count(&server, "GET", 22).await, 5);
}

/// How many `verb` requests named pull request `n`.
async fn count(server: &MockServer, verb: &str, n: u64) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == verb && r.url.path().ends_with(&format!("/{n}")))
        .count()
}

#[tokio::test]
async fn votes_are_reported_as_approvals_and_removed_labels_are_not_labels() {
    let server = MockServer::start().await;
    let org = format!("{}/acme", server.uri());
    let mut pr = open_pr(31, "feature/a");
    pr.labels = vec!["promotion".into(), "stale".into()];
    let mut v = azure_pr(&org, &pr);
    v["labels"][1]["active"] = json!(false);
    v["reviewers"] = json!([
        {"vote": 10, "displayName": "Alice", "uniqueName": "alice@acme.example", "id": "1"},
        {"vote": 5, "displayName": "Bob", "id": "2"},
        {"vote": 0, "displayName": "Carol", "uniqueName": "carol@acme.example", "id": "3"},
        {"vote": -10, "displayName": "Dan", "uniqueName": "dan@acme.example", "id": "4"}
    ]);
    Mock::given(method("GET"))
        .and(path_regex(
            "^/acme/deploy/_apis/git/repositories/app/pullrequests/31$",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(v))
        .mount(&server)
        .await;
    let provider = AzureProvider::new(&format!("{org}/deploy/_git/app"), fast()).unwrap();
    let pr = provider.get(31).await.unwrap();
    assert_eq!(pr.approved_by, ["alice@acme.example", "Bob"]);
    assert_eq!(pr.labels, ["promotion"]);
    assert_eq!(
        (pr.source_branch.as_str(), pr.target_branch.as_str()),
        ("feature/a", "main")
    );
}

#[tokio::test]
async fn status_401_403_404_name_the_repository_and_pull_request_never_the_token() {
    let server = MockServer::start().await;
    let api = "^/acme/deploy/_apis/git/repositories/app/pullrequests";
    // Azure answers a token it refuses with 401 and an empty body.
    Mock::given(method("GET"))
        .and(path_regex(format!("{api}/1$")))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(format!("{api}/2$")))
        .respond_with(azure_error(
            403,
            "TF401027: You need the Git 'PullRequestContribute' permission to perform this action.",
            "GitNeedsPermissionException",
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(format!("{api}/3$")))
        .respond_with(not_found())
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(format!("{api}$")))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    let provider =
        AzureProvider::new(&format!("{}/acme/deploy/_git/app", server.uri()), fast()).unwrap();
    status_errors_name_the_pull_request(&provider, "acme/deploy/_git/app", &[TOKEN, &BASIC[6..]])
        .await;
    let err = provider
        .open(&NewPullRequest::new("feature/a", "main", "t"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Unauthorized { pr: None, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("repository acme/deploy/_git/app"),
        "{err}"
    );
}

#[tokio::test]
async fn rebase_merge_is_azure_s_rebase_merge_and_fast_forward_is_refused() {
    let (server, _, url) = fake_azure().await;
    let provider = AzureProvider::new(&url, fast()).unwrap();
    let err = provider
        .merge(1, Some(MergeMethod::FastForward))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    assert!(server.received_requests().await.unwrap().is_empty());

    let pr = provider
        .open(&NewPullRequest::new("feature/merge", "main", "Promote"))
        .await
        .unwrap()
        .pr;
    let merged = provider
        .merge(pr.number, Some(MergeMethod::RebaseMerge))
        .await
        .unwrap();
    assert!(matches!(merged, MergeOutcome::Merged(_)), "{merged:?}");
    has(
        &requests(&server).await,
        "PATCH",
        &format!(
            "/acme/deploy/_apis/git/repositories/app/pullrequests/{}",
            pr.number
        ),
        json!({
            "status": "completed",
            "lastMergeSourceCommit": {"commitId": open_pr(pr.number, "x").head_sha()},
            "completionOptions": {"mergeStrategy": "rebaseMerge"}
        }),
    );
}

/// #22: an answer without a field a pull request needs is an error naming
/// Azure DevOps and the field.
#[tokio::test]
async fn azure_answers_without_a_field_are_errors() {
    let server = MockServer::start().await;
    let provider =
        AzureProvider::new(&format!("{}/acme/deploy/_git/app", server.uri()), fast()).unwrap();
    let answer = azure_pr(&server.uri(), &crate::forge::sample_pr());
    crate::forge::a_missing_field_is_an_error(&server, &provider, answer, "/sourceRefName").await;
}
