//! `?watch=true`: server-sent events of one kind's changes, as Kargo's
//! server streams them: `data: {"type": "ADDED"|"MODIFIED"|"DELETED",
//! "object": {...}}`, a `: keepalive` comment every 30 seconds.
//!
//! A stream starts with an `ADDED` event for every object that matches
//! (as a Kubernetes watch without a resource version does), then follows
//! the project's changes. An object that stops matching a filter is sent
//! as `DELETED`, as Kubernetes' server-side selectors do.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt};
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;

use crate::hub::{ChangeType, Hub, WatchEvent};
use crate::objects::Kind;
use crate::server::AppState;

/// How often a quiet stream gets a keep-alive comment.
const KEEPALIVE: Duration = Duration::from_secs(30);

/// Which objects a stream follows.
pub(crate) struct Filter {
    kind: Kind,
    name: Option<String>,
    matches: Box<dyn Fn(&Value) -> bool + Send + Sync>,
}

impl Filter {
    /// Every object of `kind`.
    pub(crate) fn all(kind: Kind) -> Self {
        Filter {
            kind,
            name: None,
            matches: Box::new(|_| true),
        }
    }

    /// The object of `kind` named `name`.
    pub(crate) fn named(kind: Kind, name: impl Into<String>) -> Self {
        Filter {
            name: Some(name.into()),
            ..Filter::all(kind)
        }
    }

    /// Only objects for which `matches` holds.
    pub(crate) fn matching(
        mut self,
        matches: impl Fn(&Value) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.matches = Box::new(matches);
        self
    }

    /// What to send for `event`, if anything.
    fn apply(&self, event: &WatchEvent) -> Option<ChangeType> {
        if event.kind != self.kind || self.name.as_ref().is_some_and(|n| *n != event.name) {
            return None;
        }
        match ((self.matches)(&event.object), event.change) {
            (true, change) => Some(change),
            (false, ChangeType::Modified) => Some(ChangeType::Deleted),
            (false, _) => None,
        }
    }
}

/// The watch stream of `filter` over `hub`'s project.
pub(crate) fn respond(state: &AppState, hub: &Hub, filter: Filter) -> Response {
    let (snapshot, changes) = hub.subscribe();
    let initial: Vec<SseEvent> = snapshot
        .of(filter.kind)
        .filter(|(name, o)| filter.name.as_ref().is_none_or(|n| n == *name) && (filter.matches)(o))
        .map(|(name, o)| {
            let added = WatchEvent::new(filter.kind, name.clone(), ChangeType::Added, o.clone());
            event(&added, ChangeType::Added)
        })
        .collect();
    let follow = Follow {
        changes,
        filter,
        stop: state.stop.clone(),
        _open: state.metrics.watch_opened(),
    };
    let live = stream::unfold(follow, |mut follow| async move {
        loop {
            let next = tokio::select! {
                () = follow.stop.cancelled() => return None,
                next = follow.changes.recv() => next,
            };
            match next {
                Ok(change) => {
                    if let Some(kind) = follow.filter.apply(&change) {
                        let sent = event(&change, kind);
                        return Some((Ok::<_, Infallible>(sent), follow));
                    }
                }
                // A stream that fell this far behind ends; the client lists
                // and watches again, as with Kubernetes.
                Err(RecvError::Lagged(_) | RecvError::Closed) => return None,
            }
        }
    });
    sse(stream::iter(initial.into_iter().map(Ok)).chain(live))
}

/// A live stream's state.
struct Follow {
    changes: tokio::sync::broadcast::Receiver<Arc<WatchEvent>>,
    filter: Filter,
    /// Ends the stream when the server stops.
    stop: tokio_util::sync::CancellationToken,
    /// Counts the stream as open until it is dropped.
    _open: crate::metrics::WatchGuard,
}

fn sse(stream: impl Stream<Item = Result<SseEvent, Infallible>> + Send + 'static) -> Response {
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(KEEPALIVE).text("keepalive"))
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        "x-accel-buffering",
        axum::http::HeaderValue::from_static("no"),
    );
    headers.insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-cache"),
    );
    response
}

fn event(e: &WatchEvent, change: ChangeType) -> SseEvent {
    SseEvent::default().data(&*e.to_json(change))
}
