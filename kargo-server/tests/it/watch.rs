//! `?watch=true`: server-sent events of changes, starting with the
//! objects that exist.

use std::pin::Pin;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use serde_json::{Value, json};

use super::*;

/// A server-sent event stream being read.
pub(crate) struct Events {
    stream: Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffer: String,
}

impl Events {
    /// Opens `path` (with `?watch=true`) as `token`.
    pub(crate) async fn open(server: &TestServer, path: &str, token: Option<&str>) -> Events {
        let response = server
            .request(reqwest::Method::GET, path, token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Events {
            stream: Box::pin(response.bytes_stream()),
            buffer: String::new(),
        }
    }

    /// The next event's data (at most 30 s away).
    pub(crate) async fn next(&mut self) -> Value {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                    return serde_json::from_str(data).unwrap();
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(30), self.stream.next())
                .await
                .expect("an event within 30 s")
                .expect("the stream goes on")
                .unwrap();
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// Reads events until one satisfies `done`; returns them all.
    pub(crate) async fn until(&mut self, done: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let event = self.next().await;
            let stop = done(&event);
            seen.push(event);
            if stop {
                return seen;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_watch_starts_with_what_exists_and_follows_a_promotion_step_by_step() {
    let world = world();
    let server = TestServer::start(&world, sqlite(&world).await, true).await;
    server
        .wait_for("/v1beta1/projects/demo/stages/dev", Some(VIEWER), |s| {
            s.pointer("/status/lastPromotion/status/phase") == Some(&json!("Succeeded"))
        })
        .await;
    let mut stages = Events::open(
        &server,
        "/v1beta1/projects/demo/stages/dev?watch=true",
        Some(VIEWER),
    )
    .await;
    let first = stages.next().await;
    assert_eq!(first["type"], "ADDED");
    assert_eq!(first["object"]["metadata"]["name"], "dev");
    let mut promotions = Events::open(
        &server,
        "/v1beta1/projects/demo/promotions?watch=true&stage=dev",
        Some(VIEWER),
    )
    .await;
    let existing = promotions.next().await;
    assert_eq!(existing["type"], "ADDED");
    assert_eq!(existing["object"]["spec"]["stage"], "dev");

    // v2.0.0 is pushed and the Warehouse refreshed: dev auto-promotes it.
    push_v2(&world);
    let (status, _) = server
        .post(
            "/v1beta1/projects/demo/warehouses/app/refresh",
            Some(PROMOTER),
            Value::Null,
        )
        .await;
    assert_eq!(status, 200);
    let first_seen = existing["object"]["metadata"]["name"].clone();
    let events = promotions
        .until(|e| {
            e["type"] != "DELETED"
                && e["object"]["metadata"]["name"] != first_seen
                && e["object"]["status"]["phase"] == "Succeeded"
        })
        .await;
    let name = events.last().unwrap()["object"]["metadata"]["name"].clone();
    let v2 = events.last().unwrap()["object"]["spec"]["freight"]
        .as_str()
        .unwrap()
        .to_owned();
    // Only dev's promotions are sent (others' changes as DELETED, as
    // Kubernetes' filtered watches do).
    assert!(
        events
            .iter()
            .all(|e| e["object"]["spec"]["stage"] == "dev" || e["type"] == "DELETED"),
        "{events:#?}"
    );
    let mine: Vec<&Value> = events
        .iter()
        .filter(|e| e["object"]["metadata"]["name"] == name)
        .collect();
    assert_eq!(mine[0]["type"], "ADDED", "{mine:#?}");
    assert!(
        mine[1..].iter().all(|e| e["type"] == "MODIFIED"),
        "{mine:#?}"
    );
    // The steps tick over: from none finished to all four.
    let finished = |e: &Value| {
        e["object"]["status"]["stepExecutionMetadata"]
            .as_array()
            .map_or(0, |s| {
                s.iter().filter(|s| s["status"] == "Succeeded").count()
            })
    };
    assert_eq!(finished(mine[0]), 0);
    assert_eq!(finished(mine.last().unwrap()), 4);
    assert_eq!(
        mine.last().unwrap()["object"]["status"]["freight"]["images"][0]["tag"],
        "v2.0.0"
    );
    // The Stage's stream sees it hold v2.0.0.
    stages
        .until(|e| e["object"]["status"]["freightSummary"] == v2.as_str())
        .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_watch_of_an_unknown_object_is_a_404_and_needs_a_token() {
    let world = world();
    let server = TestServer::start(&world, sqlite(&world).await, true).await;
    let (status, _) = server
        .get(
            "/v1beta1/projects/demo/stages/nope?watch=true",
            Some(VIEWER),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = server
        .get("/v1beta1/projects/demo/stages?watch=true", None)
        .await;
    assert_eq!(status, 401);
    server.stop().await;
}
