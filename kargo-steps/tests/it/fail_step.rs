//! Cases from Kargo's `pkg/promotion/runner/builtin/failer_test.go`:
//! the config (`Test_failer_convert`, plus the schema's `minLength` and
//! `additionalProperties`) and the run (`Test_failer_run`).

use kargo_core::model::StepStatus;
use serde_json::json;

use crate::{check_convert_cases, run, setup};

/// Kargo: failer_test.go, `Test_failer_convert`.
#[tokio::test]
async fn kargo_failer_convert_cases() {
    check_convert_cases(
        "fail",
        vec![
            ("valid empty config", json!({}), None),
            (
                "valid config with message",
                json!({"message": "test message"}),
                None,
            ),
            (
                "empty message",
                json!({"message": ""}),
                Some("`message` must not be empty"),
            ),
            ("unknown field", json!({"reason": "x"}), Some("reason")),
        ],
    )
    .await;
}

/// Kargo: failer_test.go, `Test_failer_run`: the step fails (not retried)
/// with `failed`, or `failed: <message>`.
#[tokio::test]
async fn kargo_failer_run_cases() {
    let (_dir, ctx) = setup(&[]);
    for (name, config, want) in [
        ("without message", json!({}), "failed"),
        (
            "with message",
            json!({"message": "test message"}),
            "failed: test message",
        ),
    ] {
        let outcome = run(&ctx, "fail", config).await.expect(name);
        assert_eq!(outcome.status, StepStatus::Failed, "{name}");
        assert_eq!(outcome.message.as_deref(), Some(want), "{name}");
        assert_eq!(outcome.retry_after, None, "{name}");
    }
}
