//! `kargo serve` as a user runs it: refused without `--auth` on a network
//! address, the URL on stderr once ready, the API answering, SIGTERM
//! draining it.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{kargo, kargo_bin};
use kargo_test_support::{PipelineWorld, STAGES, auth};

fn world() -> PipelineWorld {
    PipelineWorld::new(&[("v1.0.0", "2026-01-01T00:00:00Z")], STAGES)
}

#[test]
fn serve_refuses_a_network_address_without_auth_and_creates_nothing() {
    let world = world();
    let state = world.path("state.db");
    let out = kargo(
        world.dir.path(),
        &[
            "serve",
            "--manifests",
            world.manifests().to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
            "--listen",
            "0.0.0.0:0",
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--auth"), "{}", out.stderr);
    assert!(!state.exists());
}

#[test]
fn serve_refuses_an_unusable_auth_file_naming_the_field() {
    let world = world();
    let auth = world.path("auth.yaml");
    std::fs::write(&auth, "tokenSigningKey: c2hvcnQ=\n").unwrap();
    let out = kargo(
        world.dir.path(),
        &[
            "serve",
            "--manifests",
            world.manifests().to_str().unwrap(),
            "--state",
            world.path("state.db").to_str().unwrap(),
            "--auth",
            auth.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("tokenSigningKey"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_prints_its_url_answers_and_drains_on_sigterm() {
    let world = world();
    let token = auth::PROMOTER;
    let auth = kargo_test_support::write(world.dir.path(), "auth.yaml", &auth::auth_file("demo"));
    let mut child = Command::new(kargo_bin())
        .args([
            "serve",
            "--manifests",
            world.manifests().to_str().unwrap(),
            "--state",
            world.path("state.db").to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--auth",
            auth.to_str().unwrap(),
        ])
        .env("KARGO_GIT_CACHE", world.path("git-cache"))
        .env("KARGO_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines_tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let _ = lines_tx.send(line.unwrap_or_default());
        }
    });
    let mut seen = Vec::new();
    let url = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the URL on stderr");
        seen.push(line.clone());
        if let Some((_, url)) = line.split_once("serving project demo on ") {
            break url.trim().to_owned();
        }
    };
    let client = reqwest::Client::new();
    let get = |path: &str, token: Option<&str>| {
        let mut request = client.get(format!("{url}{path}"));
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        request.send()
    };
    assert_eq!(get("/healthz", None).await.unwrap().status(), 200);
    assert_eq!(
        get("/v1beta1/projects/demo/stages", None)
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        get("/v1beta1/projects/demo/stages", Some(token))
            .await
            .unwrap()
            .status(),
        200
    );

    rustix::process::kill_process(
        rustix::process::Pid::from_child(&child),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "still running after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0));
    seen.extend(lines.try_iter());
    let log = seen.join("\n");
    assert!(log.contains("shutting down"), "{log}");
    assert!(!log.contains(token), "the token was logged:\n{log}");
}
