//! A person's flows in a real browser: signing in, the graph, the
//! freightline, approving and promoting to prod and watching it live,
//! a viewer refused, an open server, keyboard and theme.

use serde_json::json;

use super::*;
use kargo_test_support::webdriver::node_text;

/// Waits until the graph shows dev, staging and prod, dev and staging
/// holding Freight (auto-promoted) and dev verified; returns the alias of
/// their Freight.
async fn graph_with_freight(browser: &Browser) -> String {
    browser
        .wait_for_nodes(
            "the graph's dev, staging and prod nodes",
            &["Stage/dev", "Stage/staging", "Stage/prod", "Warehouse/app"],
        )
        .await;
    let alias = browser
        .wait_for(
            "dev and staging to hold the same Freight, dev verified",
            "const a = k => document.querySelector(`[data-test=\"node-Stage/${k}\"] [data-test=freight]`);
             const v = document.querySelector('[data-test=\"node-Stage/dev\"] [data-test=verification]');
             return a('dev') && a('staging') && a('dev').textContent === a('staging').textContent
               && v && v.textContent.includes('Successful') ? a('dev').textContent : null",
        )
        .await;
    alias.as_str().unwrap().to_owned()
}

/// Marks the page: the mark is gone if the page is ever reloaded.
pub(super) async fn mark_page(browser: &Browser) {
    browser
        .eval("window.__kargoTestMark = 'no reload'", vec![])
        .await;
}

/// Takes the toasts away (before a screenshot).
pub(super) async fn dismiss_toasts(browser: &Browser) {
    browser
        .eval(
            "document.querySelectorAll('.toast').forEach(t => t.remove())",
            vec![],
        )
        .await;
}

pub(super) async fn assert_not_reloaded(browser: &Browser) {
    let mark = browser
        .eval("return window.__kargoTestMark || null", vec![])
        .await;
    assert_eq!(mark, json!("no reload"), "the page was reloaded");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_approves_and_promotes_to_prod_and_watches_its_steps_live() {
    let world = world();
    let server = ui_server(&world, true).await;
    let (browser, shots, _permit) = browser("admin_promotes_to_prod").await;

    // A link to the project leads through the login and back.
    browser.goto(&server.url("/project/demo")).await;
    browser
        .wait_for(
            "the login page",
            "return location.pathname === '/login' && document.querySelector('#password')",
        )
        .await;
    let wrong = browser.find("#password", "").await;
    browser.type_into(&wrong, "wrong").await;
    browser.click_on("button", "Sign in as admin").await;
    browser
        .wait_for(
            "a refused password",
            "return document.querySelector('[role=alert]:not([hidden])')?.textContent.includes('refused')",
        )
        .await;
    let password = browser.find("#password", "").await;
    browser
        .eval("document.querySelector('#password').value = ''", vec![])
        .await;
    browser.type_into(&password, PASSWORD).await;
    browser.click_on("button", "Sign in as admin").await;
    browser
        .wait_for(
            "the project page after the login",
            "return location.pathname === '/project/demo'",
        )
        .await;
    browser
        .wait_for(
            "the admin's subject and role",
            "return document.querySelector('[data-test=subject]')?.textContent === 'admin · admin'",
        )
        .await;
    let alias = graph_with_freight(&browser).await;
    mark_page(&browser).await;
    let prod = browser.eval(&node_text("Stage/prod"), vec![]).await;
    assert!(prod.as_str().unwrap().contains("No Freight yet"), "{prod}");
    // The freightline shows the Freight in dev and staging.
    browser
        .wait_for(
            "the freightline card in dev and staging",
            &format!(
                "const c = document.querySelector('[data-test=\"freight-{alias}\"]');
                 return c && [...c.querySelectorAll('.mark.in')].map(m => m.textContent).join() === 'dev,staging'"
            ),
        )
        .await;
    shots.save(&browser, "graph-first", false).await;

    // Approve the Freight for prod from its page.
    browser
        .click_on(&format!("[data-test=\"freight-{alias}\"] a"), &alias)
        .await;
    browser
        .wait_for(
            "the Freight page",
            "return location.pathname.startsWith('/project/demo/freight/') && document.querySelector('[data-test=approve]')",
        )
        .await;
    browser.click_on("[data-test=approve]", "Approve").await;
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
    assert_not_reloaded(&browser).await;
    shots.save(&browser, "freight", true).await;

    // Back on the graph, promote it to prod.
    browser.click_on(".crumbs a", "demo").await;
    browser
        .click_on(
            "[data-test=\"node-Stage/prod\"] [data-test=promote]",
            "Promote",
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
    let running = browser
        .wait_for(
            "prod's node to show the running promotion and its step",
            // Queued a moment (Pending) before it starts.
            "const p = document.querySelector('[data-test=\"node-Stage/prod\"] [data-test=promotion]');
             return p && p.classList.contains('running') && !p.textContent.startsWith('Pending') ? p.textContent : null",
        )
        .await;
    assert!(
        running
            .as_str()
            .unwrap()
            .contains(&format!("Running {alias} · step 1/6 change-window")),
        "{running}"
    );
    shots.save(&browser, "graph-promoting", false).await;

    // The promotion's page, reached from the toast, ticks over step by step.
    browser.click_on(".toast a", "View promotion").await;
    browser
        .wait_for(
            "the promotion page",
            "return location.pathname.startsWith('/project/demo/promotion/') && document.querySelector('[data-test=steps]')",
        )
        .await;
    // The steps' statuses and the phase, read at the same moment (read
    // apart, the page may change between the two).
    let statuses = "return [[...document.querySelectorAll('[data-test=steps] tbody tr')].map(r => r.dataset.status).join(),
                            document.querySelector('[data-test=phase]')?.textContent || '']";
    let mut seen: Vec<String> = Vec::new();
    let started = std::time::Instant::now();
    loop {
        let read = browser.eval(statuses, vec![]).await;
        let now = read[0].as_str().unwrap().to_owned();
        if seen.last() != Some(&now) {
            seen.push(now.clone());
        }
        if read[1] == "Succeeded" {
            break;
        }
        if seen
            .iter()
            .any(|s| s.starts_with("Succeeded,Succeeded") && s.ends_with("Running"))
        {
            shots.save(&browser, "promotion-running", false).await;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the promotion did not finish; steps seen: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    assert_eq!(
        seen.last().unwrap(),
        &["Succeeded"; 6].join(","),
        "{seen:?}"
    );
    // Seen while it ran: the first step running alone, then the last one
    // running after the others succeeded.
    assert!(
        seen.iter()
            .any(|s| s.starts_with("Running,") && s.ends_with("Pending")),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|s| s == &format!("{},Running", ["Succeeded"; 5].join(","))),
        "{seen:?}"
    );
    let outputs = browser
        .eval(
            "return document.querySelector('[data-test=\"step-change-window\"] pre')?.textContent || ''",
            vec![],
        )
        .await;
    assert!(outputs.as_str().unwrap().contains("1.5s"), "{outputs}");
    browser
        .click_on("[data-test=\"step-task-2::commit\"] summary", "outputs")
        .await;
    dismiss_toasts(&browser).await;
    shots.save(&browser, "promotion", true).await;
    assert_not_reloaded(&browser).await;

    // prod's node changed, without a reload.
    browser.click_on(".crumbs a", "demo").await;
    browser
        .wait_for(
            "prod's node to hold the Freight and the succeeded promotion",
            &format!(
                "const n = document.querySelector('[data-test=\"node-Stage/prod\"]');
                 return n && n.querySelector('[data-test=freight]')?.textContent === '{alias}'
                   && n.querySelector('[data-test=promotion]')?.textContent.includes('Succeeded')"
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
    assert_not_reloaded(&browser).await;
    assert_eq!(world.deployed("prod"), "v1.0.0");

    // A new tag; the Warehouse refreshed from its node: the new Freight
    // arrives on the freightline and goes through dev and staging.
    kargo_test_support::layout_with_tags(
        &world.layout,
        &[
            ("v1.0.0", "2026-01-01T00:00:00Z"),
            ("v2.0.0", "2026-01-02T00:00:00Z"),
        ],
    );
    browser
        .click_on(
            "[data-test=\"node-Warehouse/app\"] [data-test=refresh]",
            "Refresh",
        )
        .await;
    browser
        .click_on("dialog [data-test=confirm]", "Refresh")
        .await;
    browser
        .wait_for(
            "the new Freight in dev and staging, the first in prod",
            "const marks = c => [...c.querySelectorAll('.mark.in')].map(m => m.textContent).join();
             const cards = [...document.querySelectorAll('.freight-card')];
             const staging = document.querySelector('[data-test=\"node-Stage/staging\"]')?.innerText || '';
             return cards.length === 2 && marks(cards[0]) === 'dev,staging' && marks(cards[1]) === 'prod'
               && cards[0].innerText.includes('v2.0.0') && staging.includes('v2.0.0') && staging.includes('Succeeded')",
        )
        .await;
    assert_not_reloaded(&browser).await;
    dismiss_toasts(&browser).await;
    shots.save(&browser, "graph", true).await;
    shots
        .save_element(&browser, ".freightline-wrap", "freightline", true)
        .await;
    browser.close().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_viewer_sees_no_actions_and_a_promotion_is_refused() {
    let world = world();
    let server = ui_server(&world, true).await;
    let (browser, shots, _permit) = browser("viewer_is_refused").await;

    browser.goto(&server.url("/login")).await;
    let token = browser.find("#token", "").await;
    browser.type_into(&token, "not-a-token").await;
    browser.click_on("button", "Sign in with token").await;
    browser
        .wait_for(
            "a refused token",
            "return document.querySelector('[role=alert]:not([hidden])')?.textContent.includes('API token refused')",
        )
        .await;
    browser
        .eval("document.querySelector('#token').value = ''", vec![])
        .await;
    browser.type_into(&token, VIEWER).await;
    browser.click_on("button", "Sign in with token").await;
    browser
        .wait_for(
            "the projects page with demo and its three stages",
            "const r = document.querySelector('[data-test=project-demo]');
             return location.pathname === '/' && r && r.children[1].textContent === '3'",
        )
        .await;
    browser
        .wait_for(
            "the viewer's subject and role",
            "return document.querySelector('[data-test=subject]')?.textContent === 'alice · viewer'",
        )
        .await;
    browser.click_on("[data-test=project-demo] a", "demo").await;
    let alias = graph_with_freight(&browser).await;
    let buttons = browser
        .eval(
            "return document.querySelectorAll('.graph button').length",
            vec![],
        )
        .await;
    assert_eq!(buttons, json!(0), "a viewer is offered no action");

    // A shared promote link still opens the dialog: the API refuses it.
    browser
        .goto(&server.url(&format!("/project/demo/promote/freight/{alias}/stage/prod")))
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
        refused.contains("Refused")
            && refused.contains("role viewer")
            && refused.contains("may not promote"),
        "{refused}"
    );
    shots.save(&browser, "refused", true).await;
    browser
        .click_on("dialog [data-test=cancel]", "Cancel")
        .await;
    browser.close().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_open_server_lets_people_straight_in_with_keyboard_links_and_themes() {
    let world = world();
    let server = ui_server(&world, false).await;
    let (browser, shots, _permit) = browser("open_server").await;

    browser.goto(&server.url("/login")).await;
    browser
        .wait_for(
            "the projects page, no sign-in, saying the server is open",
            "return location.pathname === '/' && document.querySelector('[data-test=open-server]')",
        )
        .await;
    browser.goto(&server.url("/project/demo")).await;
    graph_with_freight(&browser).await;
    let stages = browser
        .eval(
            "return document.querySelector('[data-test=stage-count]').textContent",
            vec![],
        )
        .await;
    assert_eq!(stages, json!("3 stages"));

    // Arrow keys move along the graph; Enter opens the Stage, and the URL
    // says where the person is.
    browser
        .eval(
            "document.querySelector('[data-test=\"node-Stage/dev\"] a.title').focus()",
            vec![],
        )
        .await;
    browser.press("\u{E014}").await; // ArrowRight
    let focused = browser
        .eval("return document.activeElement.dataset.key || ''", vec![])
        .await;
    assert_eq!(focused, json!("Stage/staging"));
    browser.press("\u{E012}").await; // ArrowLeft
    browser.press("\u{E012}").await;
    let focused = browser
        .eval("return document.activeElement.dataset.key || ''", vec![])
        .await;
    assert_eq!(focused, json!("Warehouse/app"));
    browser.press("\u{E014}").await;
    browser.press("\u{E007}").await; // Enter
    browser
        .wait_for(
            "the Stage page of dev, its promotion history and verification",
            "return location.pathname === '/project/demo/stage/dev'
               && document.querySelector('[data-test=steps]')
               && document.body.innerText.includes('Successful')",
        )
        .await;
    let unlabelled = browser
        .eval(
            "return [...document.querySelectorAll('input, select')].filter(i => !i.labels?.length && !i.getAttribute('aria-label')).length",
            vec![],
        )
        .await;
    assert_eq!(unlabelled, json!(0), "every control has a label");
    shots.save(&browser, "stage", true).await;

    // Dark, as the system says.
    browser.color_scheme("dark").await;
    browser.goto(&server.url("/project/demo")).await;
    graph_with_freight(&browser).await;
    let background = browser
        .eval(
            "return getComputedStyle(document.body).backgroundColor",
            vec![],
        )
        .await;
    assert_eq!(background, json!("rgb(13, 17, 23)"));
    shots.save(&browser, "graph-dark", true).await;
    browser.close().await;
    server.stop().await;
}
