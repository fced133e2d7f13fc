//! Webhook to promotion, end to end (a target of the `kargo serve` issue):
//! an image tag is pushed to a real registry, the registry's webhook is
//! posted to the server, the Warehouse finds the tag, Freight is created,
//! `dev` is auto-promoted (git-clone, yaml-update, git-commit, git-push)
//! and the commit lands on the remote's `main`.
//!
//! The world: Debian's `docker-registry` on a loopback port
//! (kargo-test-support's registry fixture starts it and pushes small
//! images through oci-client), a bare git repository with
//! `env/dev/values.yaml`, a Warehouse subscribed to `127.0.0.1:PORT/app`,
//! one Stage `dev` taking Freight directly with auto-promotion on, and a
//! Harbor webhook receiver (Harbor's `PUSH_ARTIFACT` payload names the
//! image repository, and the receiver checks the `Authorization` header).
//! The server runs in-process over SQLite, with its controller's loop
//! set to an hour (and Warehouses' discovery interval too), so only the
//! webhook can make the Warehouse look. The git-clone step's repository
//! cache is a temporary directory, warmed by the first promotion (of
//! `v1.0.0`, found by the loop's first pass) and one untimed webhook run.
//!
//! Each timed run pushes `v1.0.N`, posts its webhook and waits until the
//! remote's `main` moves (its ref file is read every millisecond), then
//! checks that `env/dev/values.yaml` there holds the tag. The controller's
//! events give the breakdown: webhook → Freight created → promotion
//! queued → started → each step's duration → the remote moved → the
//! promotion recorded as finished. Prints p50, p90, p99 and the maximum of
//! each (nearest rank: over 50 runs, p99 is the slowest run).
//! Target: p50 ≤ 250 ms and p99 ≤ 1 s over 50 runs.
//!
//! Run: `cargo bench -p kargo-server --bench webhook_promotion`
//! (`KARGO_BENCH_RUNS=N` sets the number of timed runs, default 50;
//! `KARGO_LOG=debug` logs what the server does, with timestamps, on
//! stderr).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kargo_core::credentials::{SecretsOptions, StaticCredentials};
use kargo_core::model::PromotionPhase;
use kargo_git::RepoCache;
use kargo_runtime::{Controller, Event, RunOptions};
use kargo_server::Server;
use kargo_test_support::PipelineWorld;
use kargo_test_support::registry;
use oci_client::secrets::RegistryAuth;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// What the webhook's `Authorization` header carries (the receiver's
/// Secret field `auth-header`).
const AUTH_HEADER: &str = "Bearer bench-harbor-s3cret";

/// One Stage, `dev`, taking Freight straight from the Warehouse.
const DEV: &str = r#"apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: dev, namespace: demo}
spec:
  requestedFreight: [{origin: {kind: Warehouse, name: app}, sources: {direct: true}}]
  promotionTemplate:
    spec:
      steps: [{task: {name: set-tag}, vars: [{name: env, value: dev}]}]
"#;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The pipeline world with its image moved to the registry's `image`
/// and a Harbor receiver in the ProjectConfig.
fn world(image: &str) -> PipelineWorld {
    let world = PipelineWorld::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], DEV);
    let path = world.path("manifests/project.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let hooked = text.replace(&world.image(), image).replace(
        "spec:\n  promotionPolicies:",
        "spec:\n  webhookReceivers:\n  - name: registry\n    harbor: {secretRef: {name: harbor-hook}}\n  promotionPolicies:",
    );
    assert!(
        hooked.contains(image) && hooked.contains("webhookReceivers"),
        "the world's manifests changed shape:\n{text}"
    );
    std::fs::write(&path, hooked).unwrap();
    world
}

fn secrets() -> Arc<StaticCredentials> {
    let yaml = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: harbor-hook, namespace: demo}}\nstringData: {{auth-header: '{AUTH_HEADER}'}}\n"
    );
    Arc::new(
        StaticCredentials::new()
            .with_secrets_opts(
                &yaml,
                "secrets.yaml",
                SecretsOptions::default().keep_unlabelled(),
            )
            .unwrap(),
    )
}

/// The commit the bare repository's `main` points at: its loose ref file
/// (a cheap read, done every millisecond), else `git rev-parse`.
fn remote_head(bare: &Path) -> String {
    match std::fs::read_to_string(bare.join("refs/heads/main")) {
        Ok(sha) => sha.trim().to_owned(),
        Err(_) => kargo_test_support::git(bare, &["rev-parse", "main"]),
    }
}

/// Pushes tag `tag` of a small single-platform image (the `n`th, which
/// tells its creation time) to `addr/app`; returns its digest.
async fn push_tag(addr: &str, tag: &str, n: usize) -> String {
    let created = format!("2026-01-01T{:02}:{:02}:00Z", n / 60, n % 60);
    let content = registry::Content::from_seeds(&[registry::Seed::new(tag).created(&created)]);
    content.push(addr, "app", &RegistryAuth::Anonymous).await;
    content.digest_of(tag)
}

/// Harbor's `PUSH_ARTIFACT` payload for `image:tag`.
fn harbor_push(image: &str, tag: &str, digest: &str, n: usize) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "type": "PUSH_ARTIFACT",
        "occur_at": 1_767_225_600 + n,
        "operator": "ci",
        "event_data": {
            "resources": [{"digest": digest, "tag": tag, "resource_url": format!("{image}:{tag}")}],
            "repository": {"name": "app", "namespace": "library", "repo_full_name": "library/app", "repo_type": "private"},
        },
    }))
    .unwrap()
}

/// When each thing happened in one run, from the controller's events.
#[derive(Debug, Default)]
struct Timeline {
    freight: Option<Instant>,
    queued: Option<Instant>,
    started: Option<Instant>,
    finished: Option<(Instant, PromotionPhase, Option<String>)>,
    /// `(step kind, duration)` in order.
    steps: Vec<(String, Duration)>,
}

impl Timeline {
    fn record(&mut self, at: Instant, event: Event) {
        match event {
            Event::FreightCreated { .. } => {
                self.freight.get_or_insert(at);
            }
            Event::PromotionQueued { stage, .. } if stage == "dev" => {
                self.queued.get_or_insert(at);
            }
            Event::PromotionStarted { stage, .. } if stage == "dev" => {
                self.started.get_or_insert(at);
            }
            Event::StepFinished {
                stage,
                uses,
                duration,
                ..
            } if stage == "dev" => self.steps.push((uses, duration.unwrap_or_default())),
            Event::PromotionFinished {
                stage,
                phase,
                message,
                ..
            } if stage == "dev" => {
                self.finished.get_or_insert((at, phase, message));
            }
            Event::DiscoveryFailed { message, .. } => panic!("discovery failed: {message}"),
            _ => {}
        }
    }
}

/// What one run measured.
#[derive(Debug)]
struct Sample {
    total: Duration,
    answered: Duration,
    to_freight: Duration,
    to_queued: Duration,
    to_started: Duration,
    to_remote: Duration,
    to_finished: Duration,
    steps: Vec<(String, Duration)>,
}

/// Events with the instant they arrived, from a task that listens all
/// along.
type Timed = mpsc::UnboundedReceiver<(Instant, Event)>;

/// Waits (at most a minute) until the remote's `main` leaves `before`
/// and `dev`'s promotion is recorded as finished.
async fn follow(events: &mut Timed, bare: &Path, before: &str) -> (Timeline, Instant) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut timeline = Timeline::default();
    let mut remote = None;
    loop {
        while let Ok((at, event)) = events.try_recv() {
            timeline.record(at, event);
        }
        if remote.is_none() && remote_head(bare) != before {
            remote = Some(Instant::now());
        }
        if let (Some(remote), Some((_, phase, message))) = (remote, &timeline.finished) {
            assert_eq!(
                *phase,
                PromotionPhase::Succeeded,
                "dev's promotion: {message:?}"
            );
            return (timeline, remote);
        }
        assert!(
            Instant::now() < deadline,
            "no promotion within a minute: {timeline:?}, remote moved: {}",
            remote.is_some()
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Nearest-rank percentile of sorted `xs`.
fn percentile(xs: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * xs.len() as f64).ceil() as usize;
    xs[rank.clamp(1, xs.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn summary(name: &str, mut xs: Vec<Duration>) -> (Duration, Duration) {
    xs.sort();
    let (p50, p90, p99) = (
        percentile(&xs, 50.0),
        percentile(&xs, 90.0),
        percentile(&xs, 99.0),
    );
    println!(
        "  {name:<34} {:>8} {:>8} {:>8} {:>8}",
        ms(p50),
        ms(p90),
        ms(p99),
        ms(xs[xs.len() - 1])
    );
    (p50, p99)
}

async fn bench(runs: usize) {
    let registry = registry::Registry::start(None);
    let image = format!("{}/app", registry.addr);
    push_tag(&registry.addr, "v1.0.0", 0).await;
    let world = world(&image);
    let cache = tempfile::tempdir().unwrap();

    let mut steps = kargo_runtime::input::registry_with_custom_steps(&[]).unwrap();
    steps.replace(
        kargo_steps::git::clone::KIND,
        kargo_steps::git::GitClone::new(RepoCache::new(cache.path())),
    );
    let store = kargo_store::open(world.path("state.db").to_str().unwrap())
        .await
        .unwrap();
    let controller = Controller::builder()
        .manifests_path(world.manifests())
        .registry(Arc::new(steps))
        .store(store)
        .work_root(world.path("work"), false)
        .build()
        .unwrap();
    let mut subscription = controller.subscribe();
    let (tx, mut events) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(event) = subscription.next().await {
            if tx.send((Instant::now(), event)).is_err() {
                break;
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hour = Duration::from_secs(3600);
    let server = Server::builder()
        .project("demo", controller)
        .run_controllers(
            RunOptions::default()
                .with_interval(hour)
                .with_discovery_interval(hour),
        )
        .secrets(secrets())
        .external_url(base.clone())
        .build()
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(listener, async {
        let _ = stopped.await;
    }));

    // The loop's first pass finds v1.0.0 and promotes it: the git cache
    // is filled.
    let seed = remote_head(&world.bare);
    let t = Instant::now();
    follow(&mut events, &world.bare, &seed).await;
    assert_eq!(world.deployed("dev"), "v1.0.0");
    eprintln!("first promotion (cold git cache): {:.1?}", t.elapsed());

    let client = reqwest::Client::new();
    let config: Value = client
        .get(format!("{base}/v1beta1/projects/demo/config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = config["status"]["webhookReceivers"][0]["path"]
        .as_str()
        .unwrap_or_else(|| panic!("no webhook receiver: {config:#}"))
        .to_owned();
    assert!(path.starts_with("/webhooks/harbor/"), "{path}");
    let hook = format!("{base}{path}");

    let mut samples = Vec::new();
    let mut pushes = Vec::new();
    // Run 1 is the untimed warm-up.
    for n in 1..=runs + 1 {
        let tag = format!("v1.0.{n}");
        let pushing = Instant::now();
        let digest = push_tag(&registry.addr, &tag, n).await;
        let pushed = pushing.elapsed();
        let body = harbor_push(&image, &tag, &digest, n);
        // Settle: what the last run left (its pass's end) is done.
        tokio::time::sleep(Duration::from_millis(200)).await;
        while events.try_recv().is_ok() {}
        let before = remote_head(&world.bare);

        let t0 = Instant::now();
        let response = client
            .post(&hook)
            .header("authorization", AUTH_HEADER)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let answered = t0.elapsed();
        let status = response.status();
        let answer = response.text().await.unwrap();
        assert_eq!(status, 200, "webhook refused: {answer}");
        assert!(answer.contains("refreshing 1 Warehouse"), "{answer}");
        let (timeline, remote) = follow(&mut events, &world.bare, &before).await;
        assert_eq!(
            world.deployed("dev"),
            tag,
            "the remote's env/dev/values.yaml"
        );
        let at = |what: &str, i: Option<Instant>| {
            i.unwrap_or_else(|| panic!("run {n}: no {what} event: {timeline:?}"))
        };
        let freight = at("FreightCreated", timeline.freight);
        let queued = at("PromotionQueued", timeline.queued);
        let started = at("PromotionStarted", timeline.started);
        let finished = timeline.finished.as_ref().map(|f| f.0).unwrap();
        let sample = Sample {
            total: remote - t0,
            answered,
            to_freight: freight - t0,
            to_queued: queued - freight,
            to_started: started - queued,
            to_remote: remote.saturating_duration_since(started),
            to_finished: finished.saturating_duration_since(remote),
            steps: timeline.steps,
        };
        eprintln!(
            "{} {tag}: {} ms (answered {}, Freight +{}, queued +{}, started +{}, on the remote +{}; registry push {})",
            if n == 1 { "warm-up" } else { "run" },
            ms(sample.total),
            ms(sample.answered),
            ms(sample.to_freight),
            ms(sample.to_queued),
            ms(sample.to_started),
            ms(sample.to_remote),
            ms(pushed),
        );
        if n > 1 {
            samples.push(sample);
            pushes.push(pushed);
        }
    }
    let _ = stop.send(());
    serving.await.unwrap().unwrap();

    println!(
        "webhook to promotion, {runs} runs, warm git cache (ms; nearest rank: under 100 runs, p99 is the slowest):"
    );
    println!(
        "  {:<34} {:>8} {:>8} {:>8} {:>8}",
        "", "p50", "p90", "p99", "max"
    );
    let series = |f: &dyn Fn(&Sample) -> Duration| samples.iter().map(f).collect::<Vec<_>>();
    let (p50, p99) = summary("webhook posted -> commit on remote", series(&|s| s.total));
    summary("  webhook answered (200)", series(&|s| s.answered));
    summary("  webhook -> Freight created", series(&|s| s.to_freight));
    summary("  Freight -> promotion queued", series(&|s| s.to_queued));
    summary("  queued -> promotion started", series(&|s| s.to_started));
    summary("  started -> commit on remote", series(&|s| s.to_remote));
    let kinds: Vec<String> = samples[0].steps.iter().map(|(k, _)| k.clone()).collect();
    for (i, kind) in kinds.iter().enumerate() {
        summary(
            &format!("    step {kind}"),
            series(&|s| s.steps.get(i).map_or(Duration::ZERO, |(_, d)| *d)),
        );
    }
    summary("  remote -> promotion recorded", series(&|s| s.to_finished));
    summary("(registry push, not timed above)", pushes);
    println!(
        "target p50 <= 250 ms: {} ({} ms); p99 <= 1 s: {} ({} ms)",
        if p50 <= Duration::from_millis(250) {
            "met"
        } else {
            "MISSED"
        },
        ms(p50),
        if p99 <= Duration::from_secs(1) {
            "met"
        } else {
            "MISSED"
        },
        ms(p99),
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs benches
    // in test mode, where this end-to-end run is skipped.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("KARGO_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    }
    let runs = env_usize("KARGO_BENCH_RUNS", 50).max(1);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(bench(runs));
}
