//! schemathesis (PyPI) against the server's own `/openapi.json`: every
//! operation called with generated valid and invalid inputs, every answer
//! checked against the document (status codes, content types, shapes) and
//! for server errors.

use std::process::Command;

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_no_disagreement_with_the_openapi_document() {
    let Some(st) = std::env::var_os("KARGO_SCHEMATHESIS") else {
        panic!("KARGO_SCHEMATHESIS is not set: source scripts/setup.sh (it installs schemathesis)");
    };
    let world = world();
    let server = TestServer::start(&world, sqlite(&world).await, true).await;
    let report = world.path("schemathesis");
    let base = server.base.clone();
    std::fs::create_dir_all(&report).unwrap();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(st)
            // schemathesis keeps a cache in its working directory.
            .current_dir(&report)
            .arg("--config-file")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/schemathesis.toml"
            ))
            .args(["run", &format!("{base}/openapi.json")])
            .args(["--header", &format!("Authorization: Bearer {ADMIN}")])
            // Every check (schemathesis' default), but one for
            // `/resources` (see the config file).
            // Aliases and approvals generated at random change what later
            // calls see; deterministic and bounded keeps the run short.
            .args([
                "--max-examples",
                "12",
                "--generation-deterministic",
                "--seed",
                "1",
            ])
            .args(["--request-timeout", "20", "--workers", "1"])
            .args(["--no-color", "--warnings", "off", "--report", "junit"])
            .arg("--report-dir")
            .arg(&report)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    server.stop().await;
}
