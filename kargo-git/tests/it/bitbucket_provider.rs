//! The Bitbucket Cloud provider against wiremock: Bitbucket Cloud cannot
//! run here, so a small stateful fake answers as its REST API 2.0
//! documents ("Pullrequests": create, get, list with `state` and paging by
//! `page` / `pagelen` / `next`, merge, decline, approve; "Commits": get a
//! commit), in the fields the provider reads. Errors have Bitbucket's shape
//! (`{"type": "error", "error": {"message": ...}}`).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use kargo_git::conformance::git_provider::{self, Case};
use kargo_git::provider::bitbucket::BitbucketProvider;
use kargo_git::provider::{
    Error, GitProvider, ListOptions, MergeMethod, MergeOutcome, NewPullRequest, StateFilter,
};
use serde_json::{Value, json};
use wiremock::{MockServer, ResponseTemplate};

use crate::forge::{
    FakePr, Prs, TOKEN, body, create, fast, find, has, number_in, query, requests, route,
    status_errors_name_the_pull_request, str_of,
};

const REPO: &str = "/repositories/acme/deploy";

/// The merge commit of pull request `n`: unique in its first 12
/// characters, which is what Bitbucket shows of it in a pull request.
fn merge_hash(n: u64) -> String {
    format!("{:012x}{}", 0xbbbb_0000_0000_u64 + n, "c".repeat(28))
}

fn bb_state(pr: &FakePr) -> &'static str {
    match pr.state {
        "open" => "OPEN",
        "merged" => "MERGED",
        _ => "DECLINED",
    }
}

/// A pull request as Bitbucket's "Get a pull request" documents it.
fn bitbucket_pr(pr: &FakePr, approved: bool) -> Value {
    let merged = pr.state == "merged";
    json!({
        "type": "pullrequest",
        "id": pr.number,
        "title": pr.title,
        "description": pr.body,
        "state": bb_state(pr),
        "draft": false,
        "author": {"type": "user", "display_name": "Kargo", "nickname": "kargo"},
        "source": {
            "branch": {"name": pr.source},
            "commit": {"type": "commit", "hash": pr.head_sha()},
            "repository": {"full_name": "acme/deploy"}
        },
        "destination": {
            "branch": {"name": pr.target},
            "commit": {"type": "commit", "hash": "0".repeat(12)},
            "repository": {"full_name": "acme/deploy"}
        },
        "merge_commit": if merged { json!({"type": "commit", "hash": merge_hash(pr.number)[..12]}) } else { Value::Null },
        "participants": if approved {
            json!([{"type": "participant", "role": "REVIEWER", "approved": true, "state": "approved",
                    "user": {"type": "user", "display_name": "Re Viewer", "nickname": "reviewer"}}])
        } else {
            json!([])
        },
        "links": {
            "self": {"href": format!("https://api.bitbucket.org/2.0{REPO}/pullrequests/{}", pr.number)},
            "html": {"href": format!("https://bitbucket.org/acme/deploy/pull-requests/{}", pr.number)}
        },
        "created_on": "2026-11-28T01:00:00.000000+00:00",
        "updated_on": "2026-11-28T01:00:00.000000+00:00"
    })
}

fn bitbucket_error(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({"type": "error", "error": {"message": message}}))
}

/// A fake Bitbucket Cloud serving `acme/deploy`; the numbers of approved
/// pull requests are kept beside them.
async fn fake_bitbucket() -> (MockServer, Prs, Arc<Mutex<BTreeSet<u64>>>) {
    let server = MockServer::start().await;
    let prs: Prs = Arc::default();
    let approved: Arc<Mutex<BTreeSet<u64>>> = Arc::default();
    let pulls = format!("^{REPO}/pullrequests");
    route(&server, "GET", &format!("{pulls}$"), &prs, |prs, req| {
        let states: Vec<String> = req
            .url
            .query_pairs()
            .filter(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .collect();
        let page: usize = query(req, "page").map_or(1, |p| p.parse().unwrap());
        let len: usize = query(req, "pagelen").map_or(10, |p| p.parse().unwrap());
        let matching: Vec<&FakePr> = prs
            .iter()
            .filter(|p| states.is_empty() || states.iter().any(|s| s == bb_state(p)))
            .collect();
        let values: Vec<Value> = matching
            .iter()
            .skip((page - 1) * len)
            .take(len)
            .map(|p| bitbucket_pr(p, false))
            .collect();
        let mut answer =
            json!({"pagelen": len, "page": page, "size": matching.len(), "values": values});
        if page * len < matching.len() {
            answer["next"] = json!(format!(
                "https://api.bitbucket.org/2.0{REPO}/pullrequests?page={}",
                page + 1
            ));
        }
        ResponseTemplate::new(200).set_body_json(answer)
    })
    .await;
    route(&server, "POST", &format!("{pulls}$"), &prs, |prs, req| {
        let v = body(req);
        if v["source"]["branch"]["name"] == "feature/nothing" {
            return bitbucket_error(400, "There are no changes to be pulled");
        }
        let pr = create(
            prs,
            &str_of(&v, "title"),
            &str_of(&v, "description"),
            v["source"]["branch"]["name"].as_str().unwrap_or_default(),
            v["destination"]["branch"]["name"]
                .as_str()
                .unwrap_or_default(),
            vec![],
        );
        ResponseTemplate::new(201).set_body_json(bitbucket_pr(&pr, false))
    })
    .await;
    let seen = Arc::clone(&approved);
    route(
        &server,
        "GET",
        &format!("{pulls}/\\d+$"),
        &prs,
        move |prs, req| {
            let n = number_in(req, "/pullrequests/");
            match find(prs, n) {
                Some(pr) => ResponseTemplate::new(200)
                    .set_body_json(bitbucket_pr(pr, seen.lock().unwrap().contains(&n))),
                None => bitbucket_error(404, "Pull request not found"),
            }
        },
    )
    .await;
    route(
        &server,
        "POST",
        &format!("{pulls}/\\d+/merge$"),
        &prs,
        |prs, req| {
            let Some(pr) = find(prs, number_in(req, "/pullrequests/")) else {
                return bitbucket_error(404, "Pull request not found");
            };
            if pr.conflicts() {
                return bitbucket_error(
                    400,
                    "You can't merge until you resolve all merge conflicts.",
                );
            }
            pr.state = "merged";
            ResponseTemplate::new(200).set_body_json(bitbucket_pr(pr, false))
        },
    )
    .await;
    route(
        &server,
        "POST",
        &format!("{pulls}/\\d+/decline$"),
        &prs,
        |prs, req| {
            let Some(pr) = find(prs, number_in(req, "/pullrequests/")) else {
                return bitbucket_error(404, "Pull request not found");
            };
            pr.state = "closed";
            ResponseTemplate::new(200).set_body_json(bitbucket_pr(pr, false))
        },
    )
    .await;
    let marks = Arc::clone(&approved);
    route(
        &server,
        "POST",
        &format!("{pulls}/\\d+/approve$"),
        &prs,
        move |_, req| {
            marks
                .lock()
                .unwrap()
                .insert(number_in(req, "/pullrequests/"));
            ResponseTemplate::new(200).set_body_json(json!({
                "type": "participant", "role": "REVIEWER", "approved": true, "state": "approved",
                "user": {"type": "user", "display_name": "Re Viewer", "nickname": "reviewer"}
            }))
        },
    )
    .await;
    route(
        &server,
        "GET",
        &format!("^{REPO}/commit/[0-9a-f]+$"),
        &prs,
        |prs, req| {
            let short = req.url.path().rsplit('/').next().unwrap().to_owned();
            match prs
                .iter()
                .map(|p| merge_hash(p.number))
                .find(|h| h.starts_with(&short))
            {
                Some(hash) => ResponseTemplate::new(200)
                    .set_body_json(json!({"type": "commit", "hash": hash, "message": "Merged"})),
                None => bitbucket_error(404, "Commit not found"),
            }
        },
    )
    .await;
    (server, prs, approved)
}

fn provider(server: &MockServer) -> BitbucketProvider {
    BitbucketProvider::new(
        "https://bitbucket.org/acme/deploy.git",
        fast().with_api_base(server.uri()),
    )
    .unwrap()
}

#[tokio::test]
async fn bitbucket_passes_the_conformance_suite_and_sends_documented_requests() {
    let (server, _, _) = fake_bitbucket().await;
    let bitbucket = provider(&server);
    let caps = bitbucket.capabilities();
    assert!(caps.approve && !caps.labels);
    git_provider::all(&bitbucket, &Case::default()).await;

    let sent = requests(&server).await;
    // Labels are left out: Bitbucket pull requests have none.
    has(
        &sent,
        "POST",
        &format!("{REPO}/pullrequests"),
        json!({
            "type": "pullrequest", "title": "Promote v2",
            "description": "tf-plan:\n  + resource \"x\"\n",
            "source": {"branch": {"name": "feature/merge"}},
            "destination": {"branch": {"name": "main"}}
        }),
    );
    has(
        &sent,
        "POST",
        &format!("{REPO}/pullrequests/1/merge"),
        json!({"type": "pullrequestMergeParameters"}),
    );
    has(
        &sent,
        "POST",
        &format!("{REPO}/pullrequests/4/merge"),
        json!({"type": "pullrequestMergeParameters", "merge_strategy": "squash"}),
    );
    has(
        &sent,
        "POST",
        &format!("{REPO}/pullrequests/2/decline"),
        Value::Null,
    );
    // The merge commit was read in full from its abbreviation.
    let merged = bitbucket.get(1).await.unwrap();
    assert_eq!(merged.merge_commit.as_deref(), Some(merge_hash(1).as_str()));
    assert!(sent.iter().any(|(m, p, _)| {
        m == "GET" && *p == format!("{REPO}/commit/{}", &merge_hash(1)[..12])
    }));
    assert_eq!(
        merged.url,
        "https://bitbucket.org/acme/deploy/pull-requests/1"
    );
    let received = server.received_requests().await.unwrap();
    assert!(
        received
            .iter()
            .all(|r| r.headers.get("authorization").unwrap() == &format!("Bearer {TOKEN}"))
    );
}

#[tokio::test]
async fn approvals_fast_forwards_and_refused_methods() {
    let (server, _, _) = fake_bitbucket().await;
    let bitbucket = provider(&server);
    let pr = bitbucket
        .open(&NewPullRequest::new("feature/merge", "main", "Promote"))
        .await
        .unwrap()
        .pr;
    let err = bitbucket
        .open(&NewPullRequest::new("feature/nothing", "main", "Nothing"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NothingToMerge { .. }), "{err:?}");
    let approved = bitbucket.approve(pr.number).await.unwrap();
    assert_eq!(approved.approved_by, vec!["reviewer".to_owned()]);

    for method in [MergeMethod::Rebase, MergeMethod::RebaseMerge] {
        let err = bitbucket.merge(pr.number, Some(method)).await.unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    }
    let merged = bitbucket
        .merge(pr.number, Some(MergeMethod::FastForward))
        .await
        .unwrap();
    assert!(matches!(merged, MergeOutcome::Merged(_)), "{merged:?}");
    let sent = requests(&server).await;
    has(
        &sent,
        "POST",
        &format!("{REPO}/pullrequests/{}/merge", pr.number),
        json!({"type": "pullrequestMergeParameters", "merge_strategy": "fast_forward"}),
    );
    let merges = sent
        .iter()
        .filter(|(_, p, _)| p.ends_with("/merge"))
        .count();
    assert_eq!(merges, 1, "refused methods sent nothing");
}

#[tokio::test]
async fn lists_follow_next_pages_and_filter_by_state() {
    let (server, prs, _) = fake_bitbucket().await;
    {
        let mut prs = prs.lock().unwrap();
        for n in 0..120 {
            let pr = create(&mut prs, "t", "", &format!("f/{n}"), "main", vec![]);
            if n % 3 == 0 {
                find(&mut prs, pr.number).unwrap().state = "merged";
            }
        }
    }
    let bitbucket = provider(&server);
    let open = bitbucket.list(&ListOptions::default()).await.unwrap();
    assert_eq!(open.len(), 80);
    let all = bitbucket
        .list(&ListOptions::default().with_state(StateFilter::All))
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|p| p.number).collect::<Vec<_>>(),
        (1..=120).collect::<Vec<_>>()
    );
    let closed = bitbucket
        .list(&ListOptions::default().with_state(StateFilter::Closed))
        .await
        .unwrap();
    assert_eq!(closed.len(), 40);
    assert!(
        closed
            .iter()
            .all(|p| p.merge_commit.as_ref().is_some_and(|h| h.len() == 40))
    );
    // 120 pull requests, 50 a page: three pages.
    let pages = requests(&server)
        .await
        .iter()
        .filter(|(m, p, _)| m == "GET" && *p == format!("{REPO}/pullrequests"))
        .count();
    assert_eq!(pages, 2 + 3 + 1);
}

#[tokio::test]
async fn errors_name_the_repository_and_pull_request_never_the_token() {
    let server = MockServer::start().await;
    for (n, status, message) in [
        (1, 401, "Access token expired."),
        (2, 403, "You do not have access to this repository."),
        (3, 404, "Pull request not found"),
    ] {
        wiremock::Mock::given(wiremock::matchers::path(format!("{REPO}/pullrequests/{n}")))
            .respond_with(bitbucket_error(status, message))
            .mount(&server)
            .await;
    }
    status_errors_name_the_pull_request(&provider(&server), "acme/deploy", &[TOKEN]).await;
}

/// #22: an answer without a field a pull request needs is an error naming
/// Bitbucket and the field.
#[tokio::test]
async fn bitbucket_answers_without_a_field_are_errors() {
    let server = MockServer::start().await;
    let answer = bitbucket_pr(&crate::forge::sample_pr(), false);
    crate::forge::a_missing_field_is_an_error(
        &server,
        &provider(&server),
        answer,
        "/destination/branch/name",
    )
    .await;
}
