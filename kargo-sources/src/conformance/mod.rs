//! Conformance suites for trait implementations. Not semver-stable: they
//! grow with the traits' contracts.

pub mod source;
