//! The examples run as a user would run them, and do what they say.

mod support;

use std::process::Command;

#[test]
fn custom_step_example_promotes_the_newest_release_with_the_host_step_and_source() {
    let output = Command::new(support::example_bin("custom_step"))
        .output()
        .expect("the example runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The host source picked 1.10.0 over 1.1.0 (semantic, not lexical,
    // order) and the host step's outputs fed the next step.
    assert!(stdout.contains("release 1.10.0"), "{stdout}");
    assert!(
        stdout.contains("2 objects under site/prod/1.10.0"),
        "{stdout}"
    );
}
