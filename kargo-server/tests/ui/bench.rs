//! The UI's figures (not a timed test: it prints what it measures and
//! asserts only what must hold whatever the machine). Run it with
//! `scripts/bench-ui.sh`, or
//! `cargo test -p kargo-server --test ui -- --ignored --nocapture ui_figures`:
//! - the first render of a 200-stage project (20 chains of 10, every Stage
//!   holding Freight) in headless Chromium, cold and warm;
//! - an event in the API reaching the page (a Freight's alias changed,
//!   seen on the freightline);
//! - a 1,000-stage project: its first render, and scrolling its graph
//!   (nodes in the page, time per scroll step);
//! - the size of the embedded assets.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use kargo_test_support::{layout_with_tags, write};
use serde_json::{Value, json};

use super::*;

/// A world of `chains` × `length` Stages, `s-C-R` taking Freight from
/// `s-(C-1)-R` (column 0 from the Warehouse), each promotion one
/// `compose-output` step; auto-promotion on when `auto`.
fn big_world(chains: usize, length: usize, auto: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    layout_with_tags(&layout, &[("v1.0.0", "2026-01-01T00:00:00Z")]);
    let mut yaml = format!(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Warehouse\nmetadata: {{name: app, namespace: demo}}\n\
         spec:\n  subscriptions: [{{image: {{repoURL: \"oci-layout://{}\"}}}}]\n",
        layout.display()
    );
    if auto {
        yaml.push_str(
            "---\napiVersion: kargo.akuity.io/v1alpha1\nkind: ProjectConfig\nmetadata: {name: demo, namespace: demo}\n\
             spec:\n  promotionPolicies:\n  - stageSelector: {name: \"glob:*\"}\n    autoPromotionEnabled: true\n",
        );
    }
    for col in 0..length {
        for row in 0..chains {
            let sources = if col == 0 {
                "{direct: true}".to_owned()
            } else {
                format!("{{stages: [s-{}-{row}]}}", col - 1)
            };
            yaml.push_str(&format!(
                "---\napiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata: {{name: s-{col}-{row}, namespace: demo}}\n\
                 spec:\n  requestedFreight: [{{origin: {{kind: Warehouse, name: app}}, sources: {sources}}}]\n\
                 \x20 promotionTemplate:\n    spec:\n      steps: [{{uses: compose-output, as: out, config: {{stage: s-{col}-{row}}}}}]\n"
            ));
        }
    }
    write(dir.path(), "manifests/all.yaml", &yaml);
    dir
}

/// An open server over `dir`'s manifests.
async fn serve(dir: &std::path::Path) -> TestServer {
    let store = kargo_store::open(dir.join("state.db").to_str().unwrap())
        .await
        .unwrap();
    TestServer::start_in(dir, store, false, |c| c, |b| b).await
}

/// Waits until `count` Stages hold Freight (auto-promotion done).
async fn settled(server: &TestServer, count: usize) {
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        let body: Value = client
            .get(server.url("/v1beta1/projects/demo/stages"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let holding = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s.pointer("/status/freightHistory/0").is_some())
            .count();
        if holding == count {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "only {holding} of {count} Stages hold Freight"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Loads the project page and returns the time from navigation to the
/// graph drawn with every kind listed (ms).
async fn first_render(browser: &Browser, server: &TestServer) -> f64 {
    browser.goto(&server.url("/")).await;
    browser.goto(&server.url("/project/demo")).await;
    let mark = browser
        .wait_for(
            "the graph's first render",
            "const m = performance.getEntriesByName('kargo:graph')[0]; return m ? m.startTime : null",
        )
        .await;
    mark.as_f64().unwrap()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: scripts/bench-ui.sh"]
async fn ui_figures() {
    let mut report = vec![format!(
        "embedded assets: {} bytes ({:.1} KiB)",
        kargo_server::ui::embedded_size(),
        kargo_server::ui::embedded_size() as f64 / 1024.0
    )];

    // 200 Stages, every one holding Freight.
    let dir = big_world(20, 10, true);
    let server = serve(dir.path()).await;
    settled(&server, 200).await;
    let (browser, shots, _permit) = browser("ui_figures").await;
    let cold = first_render(&browser, &server).await;
    let mut warm = Vec::new();
    for _ in 0..7 {
        warm.push(first_render(&browser, &server).await);
    }
    report.push(format!(
        "first render, 200 stages: cold {cold:.0} ms, warm median {:.0} ms (max {:.0} ms, {} runs)",
        median(warm.clone()),
        warm.iter().copied().fold(0.0, f64::max),
        warm.len()
    ));
    shots.save(&browser, "200-stages", false).await;

    // An event: the Freight's alias changes; the freightline shows it.
    let client = reqwest::Client::new();
    let freight: Value = client
        .get(server.url("/v1beta1/projects/demo/freight"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let name = freight["groups"][""]["items"][0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let (mut from_request, mut from_answer, mut in_page) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..10 {
        let alias = format!("bench-{i}");
        browser
            .eval(
                "window.__seen = 0; const want = arguments[0];
                 const line = document.querySelector('[data-test=freightline]');
                 const o = new MutationObserver(() => {
                   if (!window.__seen && line.querySelector(`[data-test=\"freight-${want}\"]`)) {
                     window.__seen = Date.now();
                     const store = [...window.kargoStores.values()].find(s => s.kinds.includes('freight'));
                     window.__client = performance.now() - store.lastEventAt;
                     o.disconnect();
                   }
                 });
                 o.observe(line, {subtree: true, childList: true, characterData: true});",
                vec![json!(alias)],
            )
            .await;
        let sent = now_ms();
        let response = client
            .patch(server.url(&format!(
                "/v1beta1/projects/demo/freight/{name}/alias?newAlias={alias}"
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let answered = now_ms();
        let seen = browser
            .wait_for("the new alias on the freightline", "return window.__seen")
            .await
            .as_f64()
            .unwrap();
        from_request.push(seen - sent);
        from_answer.push(seen - answered);
        let client = browser.eval("return window.__client", vec![]).await;
        in_page.push(client.as_f64().unwrap());
    }
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    report.push(format!(
        "event -> page (a Freight's alias changed, seen on the freightline), {} events: \
         from the API's answer (the server sends the event before it answers) median {:.0} ms, max {:.0} ms; \
         from the event's arrival in the page median {:.0} ms, max {:.0} ms; \
         from the request median {:.0} ms, max {:.0} ms",
        from_request.len(),
        median(from_answer.clone()),
        max(&from_answer),
        median(in_page.clone()),
        max(&in_page),
        median(from_request.clone()),
        max(&from_request),
    ));
    server.stop().await;

    // 1,000 Stages (no promotions): first render, then scrolling.
    let dir = big_world(100, 10, false);
    let server = serve(dir.path()).await;
    let renders = vec![
        first_render(&browser, &server).await,
        first_render(&browser, &server).await,
        first_render(&browser, &server).await,
    ];
    let steps = browser
        .eval(
            "const g = document.querySelector('.graph'); const times = []; let most = 0;
             const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
             return (async () => {
               for (let y = 0; y < g.scrollHeight; y += 1500) {
                 const t = performance.now(); g.scrollTop = y; await frame();
                 times.push(performance.now() - t);
                 most = Math.max(most, document.querySelectorAll('.graph .node').length);
               }
               g.scrollTop = g.scrollHeight; g.scrollLeft = g.scrollWidth; await frame();
               return {times, most, height: g.scrollHeight,
                       bottom: document.querySelector('[data-test=\"node-Stage/s-9-99\"]') !== null};
             })()",
            vec![],
        )
        .await;
    let times: Vec<f64> = steps["times"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_f64().unwrap())
        .collect();
    assert_eq!(
        steps["bottom"], true,
        "the last Stage is drawn at the bottom"
    );
    let most = steps["most"].as_u64().unwrap();
    assert!(most < 200, "only the nodes in view are in the page: {most}");
    report.push(format!(
        "1,000 stages: first render median {:.0} ms; scrolling {} px in {} steps: median {:.0} ms, max {:.0} ms per step (two frames); at most {most} nodes in the page",
        median(renders),
        steps["height"],
        times.len(),
        median(times.clone()),
        times.iter().copied().fold(0.0, f64::max),
    ));
    shots.save(&browser, "1000-stages", false).await;
    browser.close().await;
    server.stop().await;

    let text = report.join("\n");
    println!("\n{text}\n");
    std::fs::write(
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-figures.txt"),
        &text,
    )
    .unwrap();
}
