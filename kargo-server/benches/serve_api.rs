//! `kargo serve` under load, on this machine: `ListStages` of a
//! 1,000-stage project from concurrent clients (requests per second, p50,
//! p99; plain JSON and gzip), writes through the API, and 1,000 watch
//! streams (the server's memory, and how long an event takes to reach
//! every one of them).
//!
//! The server runs in a process of its own (this program started again
//! with `SERVE_API_ROLE=server`), so that its memory is measured apart
//! from the clients'; both share the machine's cores.
//!
//! ```sh
//! cargo bench -p kargo-server --bench serve_api
//! SECONDS=20 CLIENTS=16 cargo bench -p kargo-server --bench serve_api
//! ```
//!
//! Targets (issue #18): at least 2,000 requests/s with p99 ≤ 25 ms; 1,000
//! streams in at most 100 MB more memory, an event at every stream within
//! 100 ms p99.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kargo_core::manifest::Manifests;
use kargo_core::model::{Freight, FreightOrigin, Image, PromotionPhase};
use kargo_core::state::{InMemoryStore, NewPromotion, StateStore};
use kargo_core::time::Timestamp;
use kargo_runtime::Controller;
use kargo_server::Server;
use kargo_server::auth::{Auth, token_hash};

const STAGES: usize = 1_000;
const STREAMS: usize = 1_000;
const TOKEN: &str = "bench-viewer-token";
const ADMIN: &str = "bench-admin-token";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A Warehouse and 1,000 Stages, each taking Freight from the one before.
fn manifests() -> Manifests {
    let mut text = String::from(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Warehouse\nmetadata: {name: app, namespace: demo}\n\
         spec: {subscriptions: [{image: {repoURL: registry.example.com/app}}]}\n",
    );
    for i in 0..STAGES {
        let source = if i == 0 {
            "{direct: true}".to_owned()
        } else {
            format!("{{stages: [stage-{:04}]}}", i - 1)
        };
        text.push_str(&format!(
            "---\napiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata: {{name: stage-{i:04}, namespace: demo, labels: {{tier: bench}}}}\n\
             spec:\n  requestedFreight: [{{origin: {{kind: Warehouse, name: app}}, sources: {source}}}]\n\
             \x20 promotionTemplate: {{spec: {{steps: [{{uses: compose-output, as: out, config: {{stage: stage-{i:04}}}}}]}}}}\n"
        ));
    }
    Manifests::from_yaml_str(&text, "bench").unwrap()
}

/// Every Stage holds one piece of Freight, promoted by a finished
/// promotion: the objects look like a live project's.
async fn seed(store: &InMemoryStore) -> String {
    let freight = Freight {
        origin: FreightOrigin::warehouse("app"),
        images: vec![Image {
            repo_url: "registry.example.com/app".into(),
            tag: "v1.0.0".into(),
            digest: format!("sha256:{}", "a".repeat(64)),
            ..Default::default()
        }],
        ..Default::default()
    };
    let name = store
        .put_freight(freight)
        .await
        .unwrap()
        .freight
        .metadata
        .name;
    let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
    for i in 0..STAGES {
        let stage = format!("stage-{i:04}");
        store
            .create_promotion(NewPromotion::new(&stage, &name).with_actor("bench"))
            .await
            .unwrap();
        let promo = store.start_promotion(&stage, now).await.unwrap().unwrap();
        let mut state = kargo_core::engine::PromotionState::default();
        state.phase = PromotionPhase::Succeeded;
        store
            .save_promotion_state(&promo.name, &state)
            .await
            .unwrap();
        store.finish_promotion(&promo.name, now).await.unwrap();
    }
    name
}

/// The resident memory of process `pid` (`self` for this one), in KiB.
fn rss_kib(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if std::env::var("SERVE_API_ROLE").as_deref() == Ok("server") {
        runtime.block_on(serve());
    } else {
        runtime.block_on(measure());
    }
}

/// The server's process: serves the seeded project on a loopback port,
/// prints `ADDRESS FREIGHT` on its first line, and stops when its
/// standard input closes.
async fn serve() {
    let store = Arc::new(InMemoryStore::new());
    let freight = seed(&store).await;
    let mut registry = kargo_core::step::StepRegistry::new();
    kargo_steps::register_builtins(&mut registry);
    let controller = Controller::builder()
        .manifests(manifests(), "bench")
        .registry(Arc::new(registry))
        .store(store)
        .build()
        .unwrap();
    let auth = Auth::from_yaml(
        &format!(
            "tokenSigningKey: MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\ntokens:\n\
             - {{name: viewer, hash: '{}', role: viewer, projects: ['*']}}\n\
             - {{name: admin, hash: '{}', role: admin, projects: ['*']}}\n",
            token_hash(TOKEN),
            token_hash(ADMIN)
        ),
        "bench",
    )
    .unwrap();
    let server = Server::builder()
        .project("demo", controller)
        .auth(auth)
        .build()
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("http://{} {freight}", listener.local_addr().unwrap());
    let stdin_closed = tokio::task::spawn_blocking(|| {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
    });
    server
        .serve(listener, async {
            let _ = stdin_closed.await;
        })
        .await
        .unwrap();
}

/// The server's process, stopped (its standard input closed) when
/// dropped.
struct ServerProcess {
    child: Child,
}

impl ServerProcess {
    /// Starts it; returns it with its base URL and the seeded Freight.
    fn start() -> (ServerProcess, String, String) {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env("SERVE_API_ROLE", "server")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let (base, freight) = line.trim().split_once(' ').unwrap();
        let (base, freight) = (base.to_owned(), freight.to_owned());
        (ServerProcess { child }, base, freight)
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

async fn measure() {
    let (server, base, freight) = ServerProcess::start();
    for encoding in [Encoding::Plain, Encoding::Gzip, Encoding::GzipInflated] {
        list_stages(&base, encoding, &server.pid()).await;
    }
    write(&base, &freight).await;
    watch_streams(&base, &freight, &server.pid()).await;
    drop(server);
}

/// How a client takes its answers.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Encoding {
    /// Plain JSON.
    Plain,
    /// `Accept-Encoding: gzip`, the body read as sent.
    Gzip,
    /// `Accept-Encoding: gzip`, the body inflated (as Go's client does).
    GzipInflated,
}

impl Encoding {
    fn request(self, client: &reqwest::Client, url: &str) -> reqwest::RequestBuilder {
        let request = client.get(url).bearer_auth(TOKEN);
        match self {
            Encoding::Plain => request,
            _ => request.header("accept-encoding", "gzip"),
        }
    }

    /// The JSON of an answer's `body`.
    fn json(self, body: &[u8]) -> Vec<u8> {
        match self {
            Encoding::Plain => body.to_vec(),
            _ => inflate(body),
        }
    }
}

fn inflate(body: &[u8]) -> Vec<u8> {
    let mut json = Vec::with_capacity(body.len() * 16);
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut json)
        .unwrap();
    json
}

/// `CLIENTS` clients calling `ListStages` for `SECONDS`, taking answers
/// as `encoding` says; the CPU time of the server's process `server` is
/// measured.
async fn list_stages(base: &str, encoding: Encoding, server: &str) {
    let seconds = env_number("SECONDS", 10);
    let clients = env_number("CLIENTS", 8);
    let url = format!("{base}/v1beta1/projects/demo/stages");
    let client = reqwest::Client::new();
    // The first answer makes the list (and its gzip) for the snapshot.
    let started = Instant::now();
    let first = encoding.request(&client, &url).send().await.unwrap();
    let gzipped = first.headers().get("content-encoding").is_some();
    if gzipped != (encoding != Encoding::Plain) {
        // A server before gzip (to compare with): nothing to measure.
        println!("ListStages {encoding:?}: answered without gzip, skipped");
        return;
    }
    let first = first.bytes().await.unwrap();
    let made = started.elapsed();
    let json = encoding.json(&first);
    let items = serde_json::from_slice::<serde_json::Value>(&json).unwrap()["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(items, STAGES);
    let (server_cpu, clients_cpu) = (cpu_ms(server), cpu_ms("self"));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let started = Instant::now();
                let body = encoding
                    .request(&client, &url)
                    .send()
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                let length = match encoding {
                    Encoding::GzipInflated => inflate(&body).len(),
                    _ => body.len(),
                };
                assert!(length > 1000);
                latencies.push(started.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let server_cpu = cpu_ms(server) - server_cpu;
    let clients_cpu = cpu_ms("self") - clients_cpu;
    all.sort();
    println!(
        "ListStages {encoding:?}, {STAGES} stages ({} KiB sent per answer, {} KiB of JSON; the first answer {:.1} ms), {clients} clients, {seconds} s: \
         {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; CPU per request: server {:.0} µs, clients {:.0} µs",
        first.len() / 1024,
        json.len() / 1024,
        made.as_secs_f64() * 1e3,
        all.len() as f64 / seconds as f64,
        percentile(&all, 0.50).as_secs_f64() * 1e3,
        percentile(&all, 0.99).as_secs_f64() * 1e3,
        all.last().unwrap().as_secs_f64() * 1e3,
        server_cpu as f64 * 1e3 / all.len() as f64,
        clients_cpu as f64 * 1e3 / all.len() as f64,
    );
}

/// Writes through the API: each is answered once the project's snapshot
/// was read again.
async fn write(base: &str, freight: &str) {
    let client = reqwest::Client::new();
    let mut took = Vec::new();
    for i in 0..10 {
        let started = Instant::now();
        let status = client
            .patch(format!(
                "{base}/v1beta1/projects/demo/freight/{freight}/alias?newAlias=write-{i}"
            ))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
        took.push(started.elapsed());
    }
    took.sort();
    println!(
        "a write (PatchFreightAlias) on the {STAGES}-stage project, answered after what it wrote is read again: p50 {:.1} ms, max {:.1} ms",
        percentile(&took, 0.5).as_secs_f64() * 1e3,
        took.last().unwrap().as_secs_f64() * 1e3
    );
}

/// The CPU time process `pid` (`self` for this one) has used, in ms
/// (user and system; the kernel counts in ticks of 10 ms).
fn cpu_ms(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .map(|f| f.parse().unwrap_or(0))
                .collect()
        })
        .unwrap_or_default();
    // utime and stime: fields 14 and 15 of proc(5), 11 and 12 after the
    // command's closing parenthesis.
    (fields.get(11).unwrap_or(&0) + fields.get(12).unwrap_or(&0)) * 10
}

/// `STREAMS` watch streams on the first Stage's Freight, then `ROUNDS`
/// changes of it, one at a time; the memory of the server's process
/// `server` is measured.
async fn watch_streams(base: &str, freight: &str, server: &str) {
    let rounds = env_number("ROUNDS", 10) as usize;
    let (before, clients_before) = (rss_kib(server), rss_kib("self"));
    let address = base.trim_start_matches("http://").to_owned();
    let request = format!(
        "GET /v1beta1/projects/demo/freight/{freight}?watch=true HTTP/1.1\r\n\
         Host: {address}\r\nAuthorization: Bearer {TOKEN}\r\nAccept: text/event-stream\r\n\r\n"
    );
    let (ready_tx, mut ready) = tokio::sync::mpsc::channel(STREAMS);
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
    // Each stream on a connection of its own, read by a minimal HTTP/1.1
    // reader (it counts `data: ` lines), so that the clients, which share
    // the machine's cores with the server, cost little.
    let mut streams = Vec::new();
    for _ in 0..STREAMS {
        let (address, request, ready_tx, seen_tx) = (
            address.clone(),
            request.clone(),
            ready_tx.clone(),
            seen_tx.clone(),
        );
        streams.push(tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut connection = tokio::net::TcpStream::connect(&address).await.unwrap();
            connection.write_all(request.as_bytes()).await.unwrap();
            let mut buffer = vec![0; 16 * 1024];
            let mut carried = 0;
            let mut events = 0;
            let mut answered = false;
            loop {
                let read = connection.read(&mut buffer[carried..]).await.unwrap();
                if read == 0 {
                    return;
                }
                let now = &buffer[..carried + read];
                if !answered {
                    assert!(
                        now.starts_with(b"HTTP/1.1 200"),
                        "{}",
                        String::from_utf8_lossy(now)
                    );
                    answered = true;
                }
                for _ in now.windows(6).filter(|w| *w == b"data: ") {
                    events += 1;
                    if events == 1 {
                        let _ = ready_tx.send(()).await;
                    } else {
                        let _ = seen_tx.send(Instant::now());
                    }
                }
                // Keep the last bytes: a `data: ` may straddle two reads.
                carried = now.len().min(5);
                let from = now.len() - carried;
                buffer.copy_within(from..from + carried, 0);
            }
        }));
    }
    for _ in 0..STREAMS {
        ready.recv().await.unwrap();
    }
    let (after, clients_after) = (rss_kib(server), rss_kib("self"));
    // One change at a time: the Freight's alias.
    let writer = reqwest::Client::new();
    let mut delays = Vec::new();
    let mut spreads = Vec::new();
    let (server_cpu, clients_cpu) = (cpu_ms(server), cpu_ms("self"));
    for round in 0..rounds {
        let sent = Instant::now();
        let status = writer
            .patch(format!(
                "{base}/v1beta1/projects/demo/freight/{freight}/alias?newAlias=bench-{round}"
            ))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
        let mut round_delays = Vec::new();
        for _ in 0..STREAMS {
            round_delays.push(seen.recv().await.unwrap().duration_since(sent));
        }
        round_delays.sort();
        spreads.push(*round_delays.last().unwrap() - round_delays[0]);
        delays.extend(round_delays);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let server_cpu = cpu_ms(server) - server_cpu;
    let clients_cpu = cpu_ms("self") - clients_cpu;
    for stream in streams {
        stream.abort();
    }
    delays.sort();
    spreads.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{STREAMS} watch streams: server +{:.1} MiB resident ({:.1} MiB in all; the clients' process +{:.1} MiB)",
        after.saturating_sub(before) as f64 / 1024.0,
        after as f64 / 1024.0,
        clients_after.saturating_sub(clients_before) as f64 / 1024.0,
    );
    println!(
        "{rounds} changes, each to {STREAMS} streams: from the write's request to each stream p50 {:.1} ms, \
         p99 {:.1} ms, max {:.1} ms; first to last stream of a change: median {:.1} ms; \
         CPU per change: server {:.1} ms, clients {:.1} ms",
        ms(percentile(&delays, 0.50)),
        ms(percentile(&delays, 0.99)),
        ms(*delays.last().unwrap()),
        ms(percentile(&spreads, 0.50)),
        server_cpu as f64 / rounds as f64,
        clients_cpu as f64 / rounds as f64,
    );
}
