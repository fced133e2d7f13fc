//! What the steps' unit tests share: Kargo's `convert` tables
//! (`validationTestCase`), run through the same checks a promotion runs
//! before the step does anything. Unlike the integration tests' runner,
//! which runs the step in an empty work dir, this stops before the step
//! runs: a valid git or Argo CD config would reach its remote
//! (`github.com` in Kargo's tables), which these tests must not.

use kargo_core::step::{ErrorKind, Step, StepError, parse_config};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// One case of a Kargo `convert` table: its name, the config, and a
/// piece of the expected error (`None`: the config is valid).
pub(crate) type Case<'a> = (&'a str, Value, Option<&'a str>);

/// Runs `cases` through `step`'s schema rules, the config type `C` and
/// `validate` (the step's own checks of the parsed config), in the
/// order a promotion meets them. Every refusal must end the step
/// `Failed`, as Kargo's schema check does, and name what is wrong.
pub(crate) fn convert_cases<C: DeserializeOwned>(
    step: &dyn Step,
    kind: &str,
    validate: impl Fn(&C) -> Result<(), StepError>,
    cases: Vec<Case<'_>>,
) {
    for (name, config, expected) in cases {
        let got = step
            .check_config(&config)
            .and_then(|()| parse_config::<C>(kind, config))
            .and_then(|config| validate(&config))
            .map_err(|e| {
                assert_eq!(e.kind(), ErrorKind::Failed, "{name}: {e}");
                e.to_string()
            });
        match (got, expected) {
            (Ok(()), None) => {}
            (Err(e), Some(expected)) => assert!(e.contains(expected), "{name}: {e}"),
            (got, expected) => panic!("{name}: got {got:?}, expected {expected:?}"),
        }
    }
}
