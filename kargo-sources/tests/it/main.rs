//! The integration tests, in one binary: one link instead of one per file.

mod ecr;
mod git;
mod oci;
