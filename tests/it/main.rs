//! The examples' tests, in one binary. The `kargo` command's tests live
//! with its crate, `kargo-cli/tests`.

mod examples;
mod quickstart_ui;

/// The path of the compiled example `name` (built by `cargo test`).
fn example_bin(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    let profile_dir = exe
        .parent()
        .and_then(std::path::Path::parent)
        .expect("test binaries live in target/<profile>/deps");
    let bin = profile_dir.join("examples").join(name);
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test` (which builds examples) or `cargo build --example {name}`",
        bin.display()
    );
    bin
}
