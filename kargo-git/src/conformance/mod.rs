//! Conformance suites for implementations of this crate's traits. Not
//! semver-stable: they grow with the contracts.

pub mod git_provider;
