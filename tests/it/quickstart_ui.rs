//! The quickstart's own pipeline in a real browser: `quickstart --serve`
//! (its repository, registry, manifests and reviewer, served by its serve
//! code) driven through the web UI by headless Chromium over WebDriver.
//!
//! Screenshots go to `$CARGO_TARGET_TMPDIR/ui-screenshots/quickstart/`;
//! with `KARGO_UI_DOCS_SCREENSHOTS=1` the main ones also to the
//! repository's `docs/quickstart-*.png`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kargo_test_support::auth::{PASSWORD, VIEWER, auth_file};
use kargo_test_support::webdriver::{Browser, Screenshots, node_text};
use serde_json::json;

/// How long the quickstart may take to serve (it builds its repository
/// and registry first).
const START: Duration = Duration::from_secs(60);

/// `quickstart DIR --serve` on a free loopback port; interrupted (as
/// Ctrl-C does) by [`Served::stop`], killed when dropped.
struct Served {
    child: Child,
    /// The UI's address, `http://127.0.0.1:PORT/project/quickstart`.
    ui: String,
    /// What it printed so far.
    stdout: Arc<Mutex<String>>,
}

impl Served {
    fn start(dir: &Path, auth: &Path, cache: &Path) -> Served {
        let mut child = Command::new(crate::example_bin("quickstart"))
            .arg(dir)
            .args(["--serve", "--listen", "127.0.0.1:0", "--auth"])
            .arg(auth)
            .env("KARGO_GIT_CACHE", cache)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the quickstart starts");
        let stdout = Arc::new(Mutex::new(String::new()));
        let (found, ui) = std::sync::mpsc::channel();
        let lines = BufReader::new(child.stdout.take().unwrap());
        let printed = stdout.clone();
        std::thread::spawn(move || {
            for line in lines.lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("UI: ") {
                    let _ = found.send(url.to_owned());
                }
                let mut printed = printed.lock().unwrap();
                printed.push_str(&line);
                printed.push('\n');
            }
        });
        let ui = ui.recv_timeout(START).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!(
                "the quickstart printed no UI address within {START:?}:\n{}",
                stdout.lock().unwrap()
            )
        });
        Served { child, ui, stdout }
    }

    /// The page at `path` of the server.
    fn url(&self, path: &str) -> String {
        let base = self.ui.trim_end_matches("/project/quickstart");
        format!("{base}{path}")
    }

    fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// Interrupts it as Ctrl-C does; returns whether it exited 0.
    fn stop(mut self) -> bool {
        rustix::process::kill_process(
            rustix::process::Pid::from_child(&self.child),
            rustix::process::Signal::INT,
        )
        .unwrap();
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the quickstart did not stop on Ctrl-C"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the graph shows the Warehouse, dev, staging and prod, and
/// dev and staging hold the same Freight (auto-promoted, staging's
/// promotion succeeded); returns the alias of that Freight.
async fn graph_with_freight(browser: &Browser) -> String {
    browser
        .wait_for_nodes(
            "the graph's guestbook, dev, staging and prod nodes",
            &[
                "Warehouse/guestbook",
                "Stage/dev",
                "Stage/staging",
                "Stage/prod",
            ],
        )
        .await;
    let alias = browser
        .wait_for_within(
            "dev and staging to hold the same Freight, staging's promotion succeeded",
            "const n = k => document.querySelector(`[data-test=\"node-Stage/${k}\"]`);
             const a = k => n(k)?.querySelector('[data-test=freight]');
             const p = n('staging')?.querySelector('[data-test=promotion]');
             return a('dev') && a('staging') && a('dev').textContent === a('staging').textContent
               && p && p.textContent.includes('Succeeded') ? a('dev').textContent : null",
            Duration::from_secs(90),
        )
        .await;
    alias.as_str().unwrap().to_owned()
}

/// Clicks the first element matching `css` once it is there, in one
/// script: the live graph re-renders its nodes as the API reports, which
/// would leave a found element stale before WebDriver clicks it.
async fn click_live(browser: &Browser, css: &str) {
    browser
        .wait_for(
            &format!("{css} to click"),
            &format!(
                "const e = document.querySelector({}); if (!e) return null; e.click(); return true",
                json!(css)
            ),
        )
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_quickstart_served_is_promoted_to_prod_from_the_browser_and_refuses_a_viewer() {
    let dir = tempfile::tempdir().unwrap();
    let auth = kargo_test_support::write(dir.path(), "auth.yaml", &auth_file("quickstart"));
    let served = Served::start(&dir.path().join("demo"), &auth, &dir.path().join("cache"));
    let browser = Browser::start(1440, 900).await;
    let shots = Screenshots::new(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots/quickstart"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs"),
        "quickstart",
    );

    // The address the quickstart printed leads through the login.
    browser.goto(&served.ui).await;
    browser
        .wait_for(
            "the login page",
            "return location.pathname === '/login' && document.querySelector('#password')",
        )
        .await;
    let password = browser.find("#password", "").await;
    browser.type_into(&password, PASSWORD).await;
    browser.click_on("button", "Sign in as admin").await;
    browser
        .wait_for(
            "the quickstart's project after the login",
            "return location.pathname === '/project/quickstart'",
        )
        .await;
    let alias = graph_with_freight(&browser).await;
    browser
        .eval("window.__kargoTestMark = 'no reload'", vec![])
        .await;
    let prod = browser.eval(&node_text("Stage/prod"), vec![]).await;
    assert!(prod.as_str().unwrap().contains("No Freight yet"), "{prod}");
    // The Warehouse lists its three subscriptions by kind.
    let warehouse = browser
        .eval(
            "return [...document.querySelectorAll('[data-test=\"node-Warehouse/guestbook\"] .subs li')].map(l => l.textContent)",
            vec![],
        )
        .await;
    assert_eq!(
        warehouse,
        json!([
            "image guestbook",
            "oci guestbook-function",
            "git gitops.git"
        ])
    );
    let staging = browser.eval(&node_text("Stage/staging"), vec![]).await;
    assert!(staging.as_str().unwrap().contains("v0.3.0"), "{staging}");
    shots.save(&browser, "graph-first", false).await;

    // Approve the Freight for prod from its page.
    click_live(&browser, &format!("[data-test=\"freight-{alias}\"] a")).await;
    browser
        .wait_for(
            "the Freight page",
            "return location.pathname.startsWith('/project/quickstart/freight/') && document.querySelector('[data-test=approve]')",
        )
        .await;
    click_live(&browser, "[data-test=approve]").await;
    browser
        .eval(
            "const s = document.querySelector('dialog select'); s.value = 'prod'; s.dispatchEvent(new Event('change'))",
            vec![],
        )
        .await;
    browser
        .click_on("dialog [data-test=confirm]", "Approve")
        .await;
    browser
        .wait_for(
            "prod's approval on the Freight page",
            "return document.querySelector('[data-test=where-prod]')?.textContent.includes('★')",
        )
        .await;

    // Back on the graph, promote it to prod, and watch prod's node go
    // through the steps, the pull request and its merge included.
    click_live(&browser, ".crumbs a[href=\"/project/quickstart\"]").await;
    click_live(
        &browser,
        "[data-test=\"node-Stage/prod\"] [data-test=promote]",
    )
    .await;
    browser
        .wait_for(
            "the Freight available to prod in the dialog",
            &format!(
                "return document.querySelector('dialog fieldset')?.textContent.includes('{alias}')"
            ),
        )
        .await;
    browser
        .click_on("dialog [data-test=confirm]", "Promote")
        .await;
    let promotion =
        "const p = document.querySelector('[data-test=\"node-Stage/prod\"] [data-test=promotion]');
         return p ? p.textContent : ''";
    let mut seen: Vec<String> = Vec::new();
    let started = Instant::now();
    loop {
        let now = browser.eval(promotion, vec![]).await;
        let now = now.as_str().unwrap().to_owned();
        if now.starts_with("Running") && now.contains("· step ") && seen.last() != Some(&now) {
            seen.push(now.clone());
            if now.contains("wait-for-pr") {
                shots.save(&browser, "graph-promoting", true).await;
            }
        }
        if now.starts_with("Succeeded") {
            break;
        }
        assert!(
            !now.starts_with("Failed") && !now.starts_with("Errored"),
            "prod's promotion: {now}\n{}",
            served.stdout()
        );
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "prod's promotion did not finish; seen: {seen:?}\n{}",
            served.stdout()
        );
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    // Its steps ticked over on the node, onwards only, the wait for the
    // pull request the quickstart merged among them.
    let steps: Vec<u32> = seen
        .iter()
        .map(|s| {
            assert!(
                s.starts_with(&format!("Running {alias} · step ")),
                "{seen:?}"
            );
            let (_, step) = s.split_once("· step ").unwrap();
            step.split('/').next().unwrap().parse().unwrap()
        })
        .collect();
    assert!(steps.len() >= 3, "{seen:?}");
    assert!(steps.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert!(seen.iter().any(|s| s.contains("wait-for-pr")), "{seen:?}");
    browser
        .wait_for(
            "prod's node to hold the Freight",
            &format!(
                "return document.querySelector('[data-test=\"node-Stage/prod\"] [data-test=freight]')?.textContent === '{alias}'"
            ),
        )
        .await;
    browser
        .wait_for(
            "the freightline card in dev, staging and prod",
            &format!(
                "const c = document.querySelector('[data-test=\"freight-{alias}\"]');
                 return c && [...c.querySelectorAll('.mark.in')].map(m => m.textContent).join() === 'dev,staging,prod'"
            ),
        )
        .await;
    let mark = browser
        .eval("return window.__kargoTestMark || null", vec![])
        .await;
    assert_eq!(mark, json!("no reload"), "the page was reloaded");
    let stdout = served.stdout();
    assert!(
        stdout.contains("prod: pull request #1: Promote guestbook v0.3.0 to prod"),
        "{stdout}"
    );
    assert!(stdout.contains("merged as "), "{stdout}");
    browser
        .eval(
            "document.querySelectorAll('.toast').forEach(t => t.remove())",
            vec![],
        )
        .await;
    shots.save(&browser, "graph", true).await;

    // The promotion's page: every step succeeded, the wait included.
    click_live(
        &browser,
        "[data-test=\"node-Stage/prod\"] [data-test=promotion] a",
    )
    .await;
    let statuses = browser
        .wait_for(
            "the promotion page with its steps",
            "const rows = [...document.querySelectorAll('[data-test=steps] tbody tr')];
             return location.pathname.startsWith('/project/quickstart/promotion/') && rows.length
               ? rows.map(r => r.dataset.status) : null",
        )
        .await;
    let statuses = statuses.as_array().unwrap();
    assert!(statuses.len() > 10, "{statuses:?}");
    assert!(statuses.iter().all(|s| s == "Succeeded"), "{statuses:?}");
    let wait = browser
        .eval(
            "return document.querySelector('[data-test=\"step-wait-for-pr\"]')?.dataset.status || ''",
            vec![],
        )
        .await;
    assert_eq!(wait, json!("Succeeded"));
    shots.save(&browser, "promotion", true).await;

    // A viewer: no actions offered, and a shared promote link refused by
    // the API.
    browser.click_on("button", "Sign out").await;
    browser
        .wait_for(
            "the login page after signing out",
            "return location.pathname === '/login' && document.querySelector('#token')",
        )
        .await;
    let token = browser.find("#token", "").await;
    browser.type_into(&token, VIEWER).await;
    browser.click_on("button", "Sign in with token").await;
    browser
        .wait_for(
            "the viewer's subject and role",
            "return document.querySelector('[data-test=subject]')?.textContent === 'alice · viewer'",
        )
        .await;
    browser.goto(&served.url("/project/quickstart")).await;
    browser
        .wait_for(
            "prod's node holding the Freight, for the viewer",
            &format!(
                "return document.querySelector('[data-test=\"node-Stage/prod\"] [data-test=freight]')?.textContent === '{alias}'"
            ),
        )
        .await;
    let buttons = browser
        .eval(
            "return document.querySelectorAll('.graph button').length",
            vec![],
        )
        .await;
    assert_eq!(buttons, json!(0), "a viewer is offered no action");
    browser
        .goto(&served.url(&format!(
            "/project/quickstart/promote/freight/{alias}/stage/prod"
        )))
        .await;
    browser
        .wait_for(
            "the promote dialog warning about the role",
            "return document.querySelector('dialog .note')?.textContent.includes('role viewer')",
        )
        .await;
    browser
        .click_on("dialog [data-test=confirm]", "Promote")
        .await;
    let refused = browser
        .wait_for(
            "the API's refusal in the dialog",
            "const e = document.querySelector('dialog [role=alert]:not([hidden])'); return e ? e.textContent : null",
        )
        .await;
    let refused = refused.as_str().unwrap();
    assert!(
        refused.contains("role viewer") && refused.contains("may not promote"),
        "{refused}"
    );
    shots.save(&browser, "refused", false).await;
    browser.close().await;
    assert!(served.stop(), "the quickstart exits 0 on Ctrl-C");
}
