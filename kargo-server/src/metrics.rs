//! `/metrics`: Prometheus text, every name prefixed `kargo_`.
//!
//! - `kargo_promotions_total{project,stage,phase}`: promotions that
//!   finished, by phase; `kargo_promotions{project,stage,phase}` those
//!   queued or running now;
//! - `kargo_promotion_duration_seconds`, `kargo_step_duration_seconds{uses}`;
//! - `kargo_discoveries_total{project,warehouse,outcome}`;
//! - `kargo_webhook_requests_total{receiver,outcome}`;
//! - `kargo_http_requests_total{route,method,status}` and
//!   `kargo_http_request_duration_seconds{route}`;
//! - `kargo_watch_streams`: watch streams open now.

use std::sync::Mutex;
use std::sync::atomic::AtomicI64;

use kargo_runtime::Event;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PromotionLabels {
    project: String,
    stage: String,
    phase: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StepLabels {
    uses: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DiscoveryLabels {
    project: String,
    warehouse: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    receiver: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

fn seconds_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    promotions_finished: Family<PromotionLabels, Counter>,
    promotions_active: Family<PromotionLabels, Gauge<i64, AtomicI64>>,
    promotion_seconds: Histogram,
    step_seconds: Family<StepLabels, Histogram>,
    discoveries: Family<DiscoveryLabels, Counter>,
    webhooks: Family<WebhookLabels, Counter>,
    http_requests: Family<HttpLabels, Counter>,
    http_seconds: Family<RouteLabels, Histogram>,
    watch_streams: Gauge<i64, AtomicI64>,
    /// When each running promotion started, for its duration.
    started: Mutex<std::collections::HashMap<String, std::time::Instant>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Metrics at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("kargo");
        let promotions_finished = Family::<PromotionLabels, Counter>::default();
        let promotions_active = Family::<PromotionLabels, Gauge<i64, AtomicI64>>::default();
        let promotion_seconds = seconds_histogram();
        let step_seconds = Family::<StepLabels, Histogram>::new_with_constructor(
            seconds_histogram as fn() -> Histogram,
        );
        let discoveries = Family::<DiscoveryLabels, Counter>::default();
        let webhooks = Family::<WebhookLabels, Counter>::default();
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_seconds = Family::<RouteLabels, Histogram>::new_with_constructor(
            seconds_histogram as fn() -> Histogram,
        );
        let watch_streams = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "promotions",
            "Promotions that finished, by phase",
            promotions_finished.clone(),
        );
        registry.register(
            "promotions_active",
            "Promotions queued or running now, by phase",
            promotions_active.clone(),
        );
        registry.register(
            "promotion_duration_seconds",
            "How long promotions took from start to finish",
            promotion_seconds.clone(),
        );
        registry.register(
            "step_duration_seconds",
            "How long promotion steps took, by step kind",
            step_seconds.clone(),
        );
        registry.register(
            "discoveries",
            "Warehouse discoveries, by outcome",
            discoveries.clone(),
        );
        registry.register(
            "webhook_requests",
            "Webhook requests, by receiver and outcome",
            webhooks.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests, by route, method and status",
            http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "How long HTTP requests took to answer, by route",
            http_seconds.clone(),
        );
        registry.register(
            "watch_streams",
            "Watch streams open now",
            watch_streams.clone(),
        );
        Metrics {
            registry,
            promotions_finished,
            promotions_active,
            promotion_seconds,
            step_seconds,
            discoveries,
            webhooks,
            http_requests,
            http_seconds,
            watch_streams,
            started: Mutex::new(Default::default()),
        }
    }

    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Counts what a controller event says.
    pub fn observe(&self, project: &str, event: &Event) {
        let labels = |stage: &str, phase: &str| PromotionLabels {
            project: project.to_owned(),
            stage: stage.to_owned(),
            phase: phase.to_owned(),
        };
        match event {
            Event::PromotionQueued { stage, .. } => {
                self.promotions_active
                    .get_or_create(&labels(stage, "Pending"))
                    .inc();
            }
            Event::PromotionStarted {
                stage,
                promotion,
                resumed,
            } => {
                if !resumed {
                    self.promotions_active
                        .get_or_create(&labels(stage, "Pending"))
                        .dec();
                }
                self.promotions_active
                    .get_or_create(&labels(stage, "Running"))
                    .inc();
                self.started
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(promotion.clone(), std::time::Instant::now());
            }
            Event::StepFinished {
                uses,
                duration: Some(d),
                ..
            } => {
                self.step_seconds
                    .get_or_create(&StepLabels { uses: uses.clone() })
                    .observe(d.as_secs_f64());
            }
            Event::PromotionFinished {
                stage,
                promotion,
                phase,
                ..
            } => {
                let started = self
                    .started
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(promotion);
                match started {
                    Some(at) => {
                        self.promotions_active
                            .get_or_create(&labels(stage, "Running"))
                            .dec();
                        self.promotion_seconds.observe(at.elapsed().as_secs_f64());
                    }
                    // Aborted before it started.
                    None => {
                        self.promotions_active
                            .get_or_create(&labels(stage, "Pending"))
                            .dec();
                    }
                }
                self.promotions_finished
                    .get_or_create(&labels(stage, phase.as_str()))
                    .inc();
            }
            Event::FreightCreated { warehouse, .. } => {
                self.discovery(project, warehouse, "freight");
            }
            Event::DiscoveryFailed { warehouse, .. } => {
                self.discovery(project, warehouse, "error");
            }
            _ => {}
        }
    }

    fn discovery(&self, project: &str, warehouse: &str, outcome: &str) {
        self.discoveries
            .get_or_create(&DiscoveryLabels {
                project: project.to_owned(),
                warehouse: warehouse.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Counts a webhook request.
    pub fn webhook(&self, receiver: &str, outcome: &str) {
        self.webhooks
            .get_or_create(&WebhookLabels {
                receiver: receiver.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Counts an HTTP request to `route` (the route's pattern, never the
    /// raw path) and its time.
    pub fn http(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.http_requests
            .get_or_create(&HttpLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status,
            })
            .inc();
        self.http_seconds
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    /// Counts a watch stream as open until the guard is dropped.
    pub fn watch_opened(self: &std::sync::Arc<Self>) -> WatchGuard {
        self.watch_streams.inc();
        WatchGuard(self.clone())
    }
}

/// An open watch stream, counted until dropped.
#[derive(Debug)]
pub struct WatchGuard(std::sync::Arc<Metrics>);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.0.watch_streams.dec();
    }
}
