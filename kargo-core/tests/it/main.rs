//! The integration tests, in one binary: one link instead of one per file.

mod engine;
mod pipeline_flow;
