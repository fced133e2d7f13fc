//! The `kargo` runner.
fn main() {}
