//! The integration tests, in one binary: one link instead of one per file.

mod support;

mod postgres;
mod postgres_replicas;
mod resume;
