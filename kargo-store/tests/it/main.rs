//! The integration tests, in one binary: one link instead of one per file.

mod postgres;
mod postgres_replicas;
mod resume;
