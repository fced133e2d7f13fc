//! A person's actions on a running pipeline, in a real browser, each seen
//! to take effect on the page live: promoting downstream, a failed step's
//! message, aborting a running promotion, a promotion waiting for its pull
//! request (the local provider's, kept in the bare repository), reverifying
//! a Stage and refreshing a Warehouse.

use serde_json::{Value, json};

use super::browser::{assert_not_reloaded, dismiss_toasts, mark_page};
use super::*;
use kargo_test_support::webdriver::node_text;

/// dev takes Freight from the Warehouse (auto-promoted, verified);
/// staging and qa take it from dev (promoted by a person; qa's values file
/// is missing from the repository, so its promotion fails); prod takes it
/// from the Warehouse too, through a change window (the `gate` step) and
/// a pull request it opens and waits for.
const OPS_STAGES: &str = r#"apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: dev, namespace: demo}
spec:
  requestedFreight: [{origin: {kind: Warehouse, name: app}, sources: {direct: true}}]
  promotionTemplate:
    spec:
      steps: [{task: {name: set-tag}, vars: [{name: env, value: dev}]}]
  verification:
    analysisTemplates: [{name: smoke}]
    args: [{name: BROKEN, value: BROKEN_FLAG}]
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: staging, namespace: demo}
spec:
  requestedFreight: [{origin: {kind: Warehouse, name: app}, sources: {stages: [dev]}}]
  promotionTemplate:
    spec:
      steps: [{task: {name: set-tag}, vars: [{name: env, value: staging}]}]
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: qa, namespace: demo}
spec:
  requestedFreight: [{origin: {kind: Warehouse, name: app}, sources: {stages: [dev]}}]
  promotionTemplate:
    spec:
      steps: [{task: {name: set-tag}, vars: [{name: env, value: qa}]}]
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {name: prod, namespace: demo}
spec:
  requestedFreight: [{origin: {kind: Warehouse, name: app}, sources: {direct: true}}]
  promotionTemplate:
    spec:
      steps:
      - {uses: gate, as: change-window, config: {file: "GATE_FILE"}}
      - uses: git-clone
        as: clone
        config:
          repoURL: "REPO_URL"
          checkout: [{branch: main, path: ./out}]
          author: {name: Kargo, email: no-reply@kargo.io}
      - uses: yaml-update
        as: edit
        config:
          path: ./out/env/prod/values.yaml
          updates: [{key: image.tag, value: "${{ imageFrom('IMAGE').tag }}"}]
      - uses: git-commit
        as: commit
        config: {path: ./out, message: "prod: ${{ imageFrom('IMAGE').tag }}"}
      - uses: git-push
        as: push
        config: {path: ./out, generateTargetBranch: true}
      - uses: git-open-pr
        as: open-pr
        config:
          repoURL: "REPO_URL"
          provider: local
          sourceBranch: "${{ outputs.push.branch }}"
          targetBranch: main
      - uses: git-wait-for-pr
        as: wait-for-pr
        config:
          repoURL: "REPO_URL"
          provider: local
          prNumber: "${{ outputs['open-pr'].pr.id }}"
"#;

/// The pipeline of [`OPS_STAGES`], auto-promotion on for dev only.
fn ops_world() -> PipelineWorld {
    let world = world_with(OPS_STAGES, &["dev"]);
    let stages = OPS_STAGES
        .replace("BROKEN_FLAG", world.path("broken").to_str().unwrap())
        .replace("GATE_FILE", world.path("gate").to_str().unwrap())
        .replace("REPO_URL", &format!("file://{}", world.bare.display()))
        .replace("IMAGE", &world.image());
    std::fs::write(world.manifests().join("stages.yaml"), stages).unwrap();
    world
}

/// Waits until the node of `key` (`Stage/prod`) exists and `condition`
/// (a script body seeing it as `n`) returns something truthy; returns it.
async fn wait_node(browser: &Browser, key: &str, what: &str, condition: &str) -> Value {
    browser
        .wait_for(
            what,
            &format!(
                "const n = document.querySelector('[data-test=\"node-{key}\"]');
                 if (!n) return null;
                 {condition}"
            ),
        )
        .await
}

/// Waits until dev holds the Freight, verified, and the freightline
/// shows it (so that the node names it by its alias); returns the alias.
async fn dev_verified(browser: &Browser) -> String {
    let alias = wait_node(
        browser,
        "Stage/dev",
        "dev to hold the Freight, verified, and the freightline to show it",
        "const a = n.querySelector('[data-test=freight]')?.textContent;
         const v = n.querySelector('[data-test=verification]');
         return a && v && v.textContent.includes('Successful')
           && document.querySelector(`[data-test=\"freight-${a}\"]`) ? a : null",
    )
    .await;
    alias.as_str().unwrap().to_owned()
}

/// The status of each step on the promotion page, in order.
async fn step_statuses(browser: &Browser) -> String {
    let statuses = browser
        .eval(
            "return [...document.querySelectorAll('[data-test=steps] tbody tr')].map(r => r.dataset.status).join()",
            vec![],
        )
        .await;
    statuses.as_str().unwrap().to_owned()
}

/// Waits for the promotion page's phase to read `phase`.
async fn wait_phase(browser: &Browser, phase: &str) {
    browser
        .wait_for(
            &format!("the promotion's phase {phase}"),
            &format!(
                "return document.querySelector('[data-test=phase]')?.textContent === '{phase}'"
            ),
        )
        .await;
}

/// Promotes the newest Freight to prod from prod's node, follows the
/// toast to the promotion's page, and returns the promotion's name.
async fn promote_prod_and_open_the_promotion(browser: &Browser) -> String {
    browser
        .click_on(
            "[data-test=\"node-Stage/prod\"] [data-test=promote]",
            "Promote",
        )
        .await;
    browser
        .wait_for(
            "the Freight available to prod in the dialog",
            "return document.querySelector('dialog fieldset input[type=radio]:checked')",
        )
        .await;
    browser
        .click_on("dialog [data-test=confirm]", "Promote")
        .await;
    browser.click_on(".toast a", "View promotion").await;
    let name = browser
        .wait_for(
            "the promotion page",
            "return location.pathname.startsWith('/project/demo/promotion/')
               && document.querySelector('[data-test=steps]') ? location.pathname.split('/').pop() : null",
        )
        .await;
    name.as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn promoting_downstream_starts_each_downstream_stage_and_a_failed_step_shows_its_message() {
    let world = ops_world();
    let server = ui_server(&world, false).await;
    let (browser, shots, _permit) = browser("downstream_and_failure").await;

    browser.goto(&server.url("/project/demo")).await;
    let alias = dev_verified(&browser).await;
    mark_page(&browser).await;
    for stage in ["staging", "qa"] {
        let text = browser
            .eval(&node_text(&format!("Stage/{stage}")), vec![])
            .await;
        assert!(text.as_str().unwrap().contains("No Freight yet"), "{text}");
    }

    // dev's Freight, promoted to every Stage after dev at once.
    browser
        .click_on(
            "[data-test=\"node-Stage/dev\"] [data-test=downstream]",
            "Downstream",
        )
        .await;
    let question = browser
        .wait_for(
            "the downstream dialog",
            "return document.querySelector('dialog')?.innerText || null",
        )
        .await;
    let question = question.as_str().unwrap();
    assert!(
        question.contains(&alias) && question.contains("to qa, staging?"),
        "{question}"
    );
    browser
        .click_on("dialog [data-test=confirm]", "Promote downstream")
        .await;
    browser
        .wait_for(
            "the toast counting the promotions",
            "return [...document.querySelectorAll('.toast')].some(t => t.textContent.includes('2 promotion(s) created downstream of dev'))",
        )
        .await;

    // staging takes it; qa's promotion fails, and its node says at which
    // step and why.
    wait_node(
        &browser,
        "Stage/staging",
        "staging to hold the Freight after a succeeded promotion",
        &format!(
            "return n.querySelector('[data-test=freight]')?.textContent === '{alias}'
               && n.querySelector('[data-test=promotion]')?.textContent.includes('Succeeded')"
        ),
    )
    .await;
    let failure = wait_node(
        &browser,
        "Stage/qa",
        "qa's node to show the failed step",
        "const f = n.querySelector('[data-test=failure]');
         return n.classList.contains('health-failed') && f ? f.textContent : null",
    )
    .await;
    let failure = failure.as_str().unwrap().to_owned();
    assert!(
        failure.starts_with("task-1::edit: ") && failure.contains("env/qa/values.yaml"),
        "{failure}"
    );
    let qa = browser.eval(&node_text("Stage/qa"), vec![]).await;
    assert!(qa.as_str().unwrap().contains("No Freight yet"), "{qa}");
    assert_not_reloaded(&browser).await;
    assert_eq!(world.deployed("staging"), "v1.0.0");
    dismiss_toasts(&browser).await;
    shots.save(&browser, "failed-node", false).await;

    // The promotion's page: the same message, on the promotion and on its
    // step; the steps after it did not run.
    browser
        .click_on("[data-test=\"node-Stage/qa\"] [data-test=promotion] a", "")
        .await;
    let phase = browser
        .wait_for(
            "qa's promotion page, finished",
            "const p = document.querySelector('[data-test=phase]')?.textContent;
             return location.pathname.startsWith('/project/demo/promotion/') && ['Failed', 'Errored'].includes(p) ? p : null",
        )
        .await;
    let message = browser
        .eval(
            "return document.querySelector('main [data-test=failure]')?.textContent || ''",
            vec![],
        )
        .await;
    assert_eq!(message, json!(failure));
    let step = browser
        .eval(
            "const r = document.querySelector('[data-test=\"step-task-1::edit\"]');
             return [r.dataset.status, r.querySelector('td.message').textContent]",
            vec![],
        )
        .await;
    assert_eq!(step[0], phase, "{step}");
    assert!(
        failure.ends_with(step[1].as_str().unwrap()),
        "{step} / {failure}"
    );
    assert_eq!(
        step_statuses(&browser).await,
        format!(
            "Succeeded,{phase},Skipped,Skipped",
            phase = phase.as_str().unwrap()
        )
    );
    shots.save(&browser, "failed-promotion", false).await;
    assert_not_reloaded(&browser).await;
    browser.close().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_aborted_promotion_stops_at_its_next_step_boundary() {
    let world = ops_world();
    // The change window stays open until the test closes it.
    std::fs::write(world.path("gate"), "").unwrap();
    let server = ui_server(&world, false).await;
    let (browser, shots, _permit) = browser("abort").await;

    browser.goto(&server.url("/project/demo")).await;
    dev_verified(&browser).await;
    mark_page(&browser).await;
    promote_prod_and_open_the_promotion(&browser).await;
    browser
        .wait_for(
            "the change window running, the abort offered",
            "return document.querySelector('[data-test=\"step-change-window\"]')?.dataset.status === 'Running'
               && document.querySelector('[data-test=abort]')",
        )
        .await;

    // Abort: the promotion says it will stop once the running step ends.
    browser.click_on("[data-test=abort]", "Abort").await;
    let question = browser
        .wait_for(
            "the abort dialog",
            "return document.querySelector('dialog')?.innerText || null",
        )
        .await;
    assert!(
        question.as_str().unwrap().contains("next step boundary"),
        "{question}"
    );
    browser
        .click_on("dialog [data-test=confirm]", "Abort")
        .await;
    browser
        .wait_for(
            "the toast saying when it stops",
            "return [...document.querySelectorAll('.toast')].some(t => t.textContent.includes('stops at its next step boundary'))",
        )
        .await;
    let note = browser
        .wait_for(
            "the page saying the abort was asked",
            "return document.querySelector('[data-test=aborting]')?.textContent || null",
        )
        .await;
    assert!(
        note.as_str().unwrap().contains("Abort asked")
            && note
                .as_str()
                .unwrap()
                .contains("stops once its running step ends"),
        "{note}"
    );
    let state = browser
        .eval(
            "return [document.querySelector('[data-test=phase]').textContent, !!document.querySelector('[data-test=abort]')]",
            vec![],
        )
        .await;
    assert_eq!(state, json!(["Running", false]));
    assert_eq!(
        step_statuses(&browser).await,
        "Running,Pending,Pending,Pending,Pending,Pending,Pending"
    );
    dismiss_toasts(&browser).await;
    shots.save(&browser, "aborting", false).await;

    // The window closes: the step finishes, and the promotion stops there.
    std::fs::remove_file(world.path("gate")).unwrap();
    wait_phase(&browser, "Aborted").await;
    assert_eq!(
        step_statuses(&browser).await,
        "Succeeded,Skipped,Skipped,Skipped,Skipped,Skipped,Skipped"
    );
    let note = browser
        .eval(
            "return !!document.querySelector('[data-test=aborting]')",
            vec![],
        )
        .await;
    assert_eq!(note, json!(false), "the abort is done");
    shots.save(&browser, "aborted", false).await;

    // prod's node shows it; nothing was pushed.
    browser.click_on(".crumbs a", "demo").await;
    wait_node(
        &browser,
        "Stage/prod",
        "prod's node to show the aborted promotion",
        "return n.querySelector('[data-test=promotion]')?.textContent.includes('Aborted')
           && n.classList.contains('health-failed') && n.innerText.includes('No Freight yet')",
    )
    .await;
    assert_not_reloaded(&browser).await;
    assert_eq!(world.deployed("prod"), "v0");
    let branches = kargo_test_support::git(&world.bare, &["branch", "--list", "kargo/*"]);
    assert_eq!(branches, "", "nothing was pushed");
    browser.close().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_promotion_waiting_for_its_pull_request_shows_it_and_goes_on_once_merged() {
    use kargo_git::provider::GitProvider;
    use kargo_git::provider::local::LocalProvider;

    let world = ops_world();
    let server = ui_server(&world, false).await;
    let (browser, shots, _permit) = browser("pull_request").await;

    browser.goto(&server.url("/project/demo")).await;
    let alias = dev_verified(&browser).await;
    mark_page(&browser).await;
    let name = promote_prod_and_open_the_promotion(&browser).await;

    // The promotion waits for the pull request it opened (#1 of the bare
    // repository, on the local provider): its page names it, and the step
    // that waits says so.
    let pr = browser
        .wait_for(
            "the pull request on the promotion page",
            "return document.querySelector('main [data-test=pull-request]')?.innerText || null",
        )
        .await;
    let repo = format!("file://{}", world.bare.display());
    assert_eq!(pr, json!(format!("Pull request #1 {repo}#pull/1")));
    let waiting = browser
        .wait_for(
            "the step waiting for the pull request",
            "const r = document.querySelector('[data-test=\"step-wait-for-pr\"]');
             return r && r.dataset.status === 'Running' ? r.querySelector('td.message').textContent : null",
        )
        .await;
    assert_eq!(
        waiting,
        json!("pull request #1 is open; waiting for it to be merged")
    );
    shots.save(&browser, "pull-request-promotion", false).await;

    // prod's node links it too, next to the waiting step.
    browser.click_on(".crumbs a", "demo").await;
    let node = wait_node(
        &browser,
        "Stage/prod",
        "prod's node to show the pull request",
        "const pr = n.querySelector('[data-test=pull-request]');
         const p = n.querySelector('[data-test=promotion]');
         return pr && p ? [pr.textContent, pr.title, p.textContent] : null",
    )
    .await;
    assert_eq!(node[0], json!("Pull request #1"), "{node}");
    assert_eq!(node[1], json!(format!("{repo}#pull/1")), "{node}");
    assert!(
        node[2]
            .as_str()
            .unwrap()
            .ends_with(&format!("Running {alias} · step 7/7 wait-for-pr")),
        "{node}"
    );
    dismiss_toasts(&browser).await;
    shots.save(&browser, "pull-request-node", false).await;

    // A reviewer merges it, and the forge's news reaches the promotion (here
    // through the API's RefreshPromotion, as a webhook receiver would):
    // prod's node shows the Freight arrive and the link go.
    LocalProvider::new(repo.clone())
        .merge(1, None)
        .await
        .expect("the pull request merges");
    let refreshed = reqwest::Client::new()
        .post(server.url(&format!("/v1beta1/projects/demo/promotions/{name}/refresh")))
        .send()
        .await
        .unwrap();
    assert!(refreshed.status().is_success(), "{}", refreshed.status());
    wait_node(
        &browser,
        "Stage/prod",
        "prod to hold the Freight, the pull request gone",
        &format!(
            "return n.querySelector('[data-test=freight]')?.textContent === '{alias}'
               && n.querySelector('[data-test=promotion]')?.textContent.includes('Succeeded')
               && !n.querySelector('[data-test=pull-request]')"
        ),
    )
    .await;
    assert_not_reloaded(&browser).await;
    assert_eq!(world.deployed("prod"), "v1.0.0");
    browser.close().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reverifying_a_stage_and_refreshing_a_warehouse_show_their_results_live() {
    let world = ops_world();
    let server = ui_server(&world, false).await;
    let (browser, shots, _permit) = browser("reverify_and_refresh").await;

    browser.goto(&server.url("/project/demo")).await;
    dev_verified(&browser).await;
    mark_page(&browser).await;

    // The smoke test breaks: verifying dev again fails, on its node; mended,
    // it passes again.
    std::fs::write(world.path("broken"), "").unwrap();
    for (broken, phase, health) in [(true, "Failed", "failed"), (false, "Successful", "ok")] {
        if !broken {
            std::fs::remove_file(world.path("broken")).unwrap();
        }
        browser
            .click_on(
                "[data-test=\"node-Stage/dev\"] [data-test=reverify]",
                "Reverify",
            )
            .await;
        browser
            .click_on("dialog [data-test=confirm]", "Reverify")
            .await;
        wait_node(
            &browser,
            "Stage/dev",
            &format!("dev's verification {phase}"),
            &format!(
                "return n.querySelector('[data-test=verification]')?.textContent === 'Verification {phase}'
                   && n.classList.contains('health-{health}')"
            ),
        )
        .await;
        let why = browser
            .eval(
                "return document.querySelector('[data-test=\"node-Stage/dev\"] [data-test=failure]')?.textContent || ''",
                vec![],
            )
            .await;
        let why = why.as_str().unwrap();
        if broken {
            assert!(
                why.starts_with("verification: ") && why.contains("smoke test failed"),
                "{why}"
            );
            dismiss_toasts(&browser).await;
            shots.save(&browser, "verification-failed", false).await;
        } else {
            assert_eq!(why, "", "a passing verification leaves no failure");
        }
    }

    // A new tag; the Warehouse refreshed from its page: the new Freight is
    // listed there, and dev (auto-promoted) takes it.
    kargo_test_support::layout_with_tags(
        &world.layout,
        &[
            ("v1.0.0", "2026-01-01T00:00:00Z"),
            ("v2.0.0", "2026-01-02T00:00:00Z"),
        ],
    );
    browser
        .click_on("[data-test=\"node-Warehouse/app\"] a.title", "app")
        .await;
    let listed = "return [...document.querySelectorAll('main ul.plain li')].map(l => l.innerText)";
    let before = browser
        .wait_for(
            "the Warehouse page with its Freight",
            &format!(
                "if (location.pathname !== '/project/demo/warehouse/app') return null; {listed}"
            ),
        )
        .await;
    assert_eq!(before.as_array().unwrap().len(), 1, "{before}");
    browser.click_on("[data-test=refresh]", "Refresh").await;
    browser
        .click_on("dialog [data-test=confirm]", "Refresh")
        .await;
    let after = browser
        .wait_for(
            "the new Freight on the Warehouse page",
            &format!("const l = (() => {{ {listed} }})(); return l.length === 2 ? l : null"),
        )
        .await;
    assert!(after[0].as_str().unwrap().contains("v2.0.0"), "{after}");
    browser.click_on(".crumbs a", "demo").await;
    wait_node(
        &browser,
        "Stage/dev",
        "dev to take the new Freight",
        "return n.innerText.includes('v2.0.0') && n.querySelector('[data-test=promotion]')?.textContent.includes('Succeeded')",
    )
    .await;
    assert_not_reloaded(&browser).await;
    assert_eq!(world.deployed("dev"), "v2.0.0");
    browser.close().await;
    server.stop().await;
}
