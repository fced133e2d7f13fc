//! A fake forge for the REST providers' tests: pull requests kept in
//! memory, routes mounted on wiremock, and checks on the requests a
//! provider sent. Each provider's test file shapes the answers after the
//! service's documented API.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kargo_git::provider::rest::{RestOptions, Retry};
use kargo_git::provider::{DynGitProvider, Error};
use serde_json::Value;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

pub(crate) const TOKEN: &str = "t0ken-never-shown";

/// One pull request of a fake forge.
#[derive(Debug, Clone)]
pub(crate) struct FakePr {
    pub(crate) number: u64,
    pub(crate) title: String,
    pub(crate) body: String,
    pub(crate) source: String,
    pub(crate) target: String,
    /// `open`, `closed` or `merged`.
    pub(crate) state: &'static str,
    pub(crate) labels: Vec<String>,
}

impl FakePr {
    pub(crate) fn head_sha(&self) -> String {
        format!("{:040x}", 0xaaaa_0000 + self.number)
    }
    pub(crate) fn merge_sha(&self) -> String {
        format!("{:040x}", 0xbbbb_0000 + self.number)
    }
    /// The suite's conflicting branch is the one that never merges.
    pub(crate) fn conflicts(&self) -> bool {
        self.source.contains("conflict")
    }
}

pub(crate) type Prs = Arc<Mutex<Vec<FakePr>>>;

pub(crate) fn number_in(req: &Request, after: &str) -> u64 {
    let path = req.url.path();
    let rest = &path[path.find(after).unwrap() + after.len()..];
    rest.split('/').next().unwrap().parse().unwrap()
}

pub(crate) fn body(req: &Request) -> Value {
    serde_json::from_slice(&req.body).unwrap_or(Value::Null)
}

pub(crate) fn query(req: &Request, key: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

pub(crate) fn fast() -> RestOptions {
    RestOptions::default()
        .with_token(Some(TOKEN.to_owned()))
        .with_retry(Retry::new(
            3,
            Duration::from_millis(5),
            Duration::from_secs(2),
        ))
}

/// Mounts a route answering with `answer(prs, request)`.
pub(crate) async fn route(
    server: &MockServer,
    verb: &str,
    path: &str,
    prs: &Prs,
    answer: impl Fn(&mut Vec<FakePr>, &Request) -> ResponseTemplate + Send + Sync + 'static,
) {
    let prs = Arc::clone(prs);
    Mock::given(method(verb))
        .and(path_regex(path))
        .respond_with(move |req: &Request| answer(&mut prs.lock().unwrap(), req))
        .mount(server)
        .await;
}

pub(crate) fn find(prs: &mut [FakePr], n: u64) -> Option<&mut FakePr> {
    prs.iter_mut().find(|p| p.number == n)
}

pub(crate) fn create(
    prs: &mut Vec<FakePr>,
    title: &str,
    body: &str,
    source: &str,
    target: &str,
    labels: Vec<String>,
) -> FakePr {
    let pr = FakePr {
        number: prs.len() as u64 + 1,
        title: title.to_owned(),
        body: body.to_owned(),
        source: source.to_owned(),
        target: target.to_owned(),
        state: "open",
        labels,
    };
    prs.push(pr.clone());
    pr
}

pub(crate) fn str_of(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_owned()
}

/// The requests the server received: (method, path, body).
pub(crate) async fn requests(server: &MockServer) -> Vec<(String, String, Value)> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| (r.method.to_string(), r.url.path().to_owned(), body(r)))
        .collect()
}

pub(crate) fn has(requests: &[(String, String, Value)], verb: &str, path: &str, body: Value) {
    assert!(
        requests
            .iter()
            .any(|(m, p, b)| m == verb && p == path && *b == body),
        "no {verb} {path} with {body}; got {requests:#?}"
    );
}

/// Reads pull requests 1, 2 and 3 of `provider`, whose server answers them
/// with 401, 403 and 404, and checks each error: its kind, that it names
/// `repo` and the pull request, that none of `secrets` shows in it, and
/// that it is not retried.
pub(crate) async fn status_errors_name_the_pull_request(
    provider: &DynGitProvider,
    repo: &str,
    secrets: &[&str],
) {
    for n in 1..=3 {
        let err = provider.get(n).await.unwrap_err();
        match (n, &err) {
            (1, Error::Unauthorized { pr: Some(1), .. })
            | (2, Error::Forbidden { pr: Some(2), .. })
            | (3, Error::NotFound { pr: Some(3), .. }) => {}
            _ => panic!("{n}: {err:?}"),
        }
        let text = format!("{err} {err:?}");
        assert!(
            text.contains(provider.name())
                && text.contains(repo)
                && text.contains(&format!("#{n}")),
            "{text}"
        );
        for secret in secrets {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(!err.is_retryable());
        assert!(!kargo_core::Error::from(err).is_temporary());
    }
    let shown = format!("{provider:?}");
    for secret in secrets {
        assert!(!shown.contains(secret), "{shown}");
    }
}

/// A pull request for the forges' "missing field" tests.
pub(crate) fn sample_pr() -> FakePr {
    FakePr {
        number: 1,
        title: "Promote v2".to_owned(),
        body: String::new(),
        source: "kargo/promotion/p1".to_owned(),
        target: "main".to_owned(),
        state: "open",
        labels: vec![],
    }
}

/// Makes `server` answer every GET with `answer` less the field at
/// `pointer` (`/head/ref`), and checks that reading pull request 1 through
/// `provider` is an error naming the forge, where the field is and that it
/// is missing: never a pull request with an empty value in its place.
pub(crate) async fn a_missing_field_is_an_error(
    server: &MockServer,
    provider: &DynGitProvider,
    mut answer: Value,
    pointer: &str,
) {
    let (parent, field) = pointer.rsplit_once('/').unwrap();
    let removed = answer
        .pointer_mut(if parent.is_empty() { "" } else { parent })
        .and_then(Value::as_object_mut)
        .and_then(|o| o.remove(field));
    assert!(removed.is_some(), "the fixture has {pointer}");
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer))
        .with_priority(1)
        .mount(server)
        .await;
    let err = provider.get(1).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(provider.name()) && text.contains(&format!("missing field `{field}`")),
        "{text}"
    );
    if !parent.is_empty() {
        let at = parent.trim_start_matches('/').replace('/', ".");
        assert!(text.contains(&format!("at `{at}`")), "{text}");
    }
}
