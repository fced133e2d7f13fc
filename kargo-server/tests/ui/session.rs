//! The login token in the browser: kept for the tab only
//! (sessionStorage), and a token the API refuses signs the person out with
//! the reason, then brings them back where they were once signed in again.

use serde_json::json;

use super::*;

/// The token the page keeps, and how many entries localStorage has.
const STORED: &str = "return [sessionStorage.getItem('kargo-rs.token'), localStorage.length]";

#[tokio::test(flavor = "multi_thread")]
async fn the_token_lasts_as_long_as_the_tab_and_a_refused_one_sends_the_person_to_sign_in_again() {
    let world = world();
    // Login tokens that expire within seconds, so that one expires while
    // the person looks at the graph.
    let auth = Auth::from_yaml(&auth_file("demo"), "auth.yaml")
        .unwrap()
        .with_login_ttl(Duration::from_secs(5));
    let server = ui_server_with(&world, Some(auth)).await;
    let (browser, shots, _permit) = browser("session").await;

    // An API token: in the tab's sessionStorage, never in localStorage; a
    // reload keeps the person signed in.
    browser.goto(&server.url("/login")).await;
    let token = browser.find("#token", "").await;
    browser.type_into(&token, VIEWER).await;
    browser.click_on("button", "Sign in with token").await;
    browser
        .wait_for(
            "the projects page, signed in as the viewer",
            "return location.pathname === '/'
               && document.querySelector('[data-test=subject]')?.textContent === 'alice · viewer'",
        )
        .await;
    assert_eq!(browser.eval(STORED, vec![]).await, json!([VIEWER, 0]));
    browser.goto(&server.url("/project/demo")).await;
    browser
        .wait_for(
            "the project page after a reload, still signed in",
            "return location.pathname === '/project/demo'
               && document.querySelector('[data-test=\"node-Stage/prod\"]')
               && document.querySelector('[data-test=subject]')?.textContent === 'alice · viewer'",
        )
        .await;

    // Signing out forgets it.
    browser.click_on(".who button", "Sign out").await;
    browser
        .wait_for(
            "the login page",
            "return location.pathname === '/login' && document.querySelector('#password')",
        )
        .await;
    assert_eq!(browser.eval(STORED, vec![]).await, json!([null, 0]));

    // The admin signs in; their token expires while the graph is open.
    let password = browser.find("#password", "").await;
    browser.type_into(&password, PASSWORD).await;
    browser.click_on("button", "Sign in as admin").await;
    browser
        .wait_for(
            "the projects page, signed in as the admin",
            "return location.pathname === '/'
               && document.querySelector('[data-test=subject]')?.textContent === 'admin · admin'",
        )
        .await;
    browser.click_on("[data-test=project-demo] a", "demo").await;
    browser
        .wait_for(
            "the graph with prod's Promote action",
            "return document.querySelector('[data-test=\"node-Stage/prod\"] [data-test=promote]')",
        )
        .await;
    let stored = browser.eval(STORED, vec![]).await;
    let login_token = stored[0].as_str().unwrap().to_owned();
    assert_eq!(login_token.matches('.').count(), 2, "a JWT: {stored}");
    assert_eq!(stored[1], json!(0));
    // Wait until the API refuses the token (not a timed assertion: the
    // test goes on once it is expired).
    let http = reqwest::Client::new();
    let started = std::time::Instant::now();
    loop {
        let status = http
            .get(server.url("/v1beta1/projects"))
            .bearer_auth(&login_token)
            .send()
            .await
            .unwrap()
            .status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the login token never expired ({status})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The next thing the person does is refused: they land on the login
    // page, told why, and the token is gone.
    browser
        .click_on(
            "[data-test=\"node-Stage/prod\"] [data-test=promote]",
            "Promote",
        )
        .await;
    let notice = browser
        .wait_for(
            "the login page saying why",
            "return location.pathname === '/login'
               && document.querySelector('[data-test=signed-out]')?.textContent || null",
        )
        .await;
    let notice = notice.as_str().unwrap();
    assert!(
        notice.contains("You were signed out") && notice.contains("token expired"),
        "{notice}"
    );
    let next = browser.eval("return location.search", vec![]).await;
    assert_eq!(next, json!("?next=%2Fproject%2Fdemo"));
    assert_eq!(browser.eval(STORED, vec![]).await, json!([null, 0]));
    let dialogs = browser
        .eval("return document.querySelectorAll('dialog').length", vec![])
        .await;
    assert_eq!(dialogs, json!(0), "no dialog is left over the login page");
    shots.save(&browser, "signed-out", false).await;

    // Signing in again leads back to the graph.
    let password = browser.find("#password", "").await;
    browser.type_into(&password, PASSWORD).await;
    browser.click_on("button", "Sign in as admin").await;
    browser
        .wait_for(
            "the graph again",
            "return location.pathname === '/project/demo'
               && document.querySelector('[data-test=\"node-Stage/prod\"]')",
        )
        .await;
    browser.close().await;
    server.stop().await;
}
