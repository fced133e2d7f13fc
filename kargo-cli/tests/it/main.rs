//! The `kargo` command's tests, in one binary: one link instead of one
//! per file. They run the binary as a user would, for its exit codes,
//! JSON and files; the pipeline's scenarios run in-process against the
//! controller in `kargo-runtime`'s tests.

mod support;

mod cli_custom_steps;
mod cli_discover;
mod cli_files;
mod cli_kill;
mod cli_manifest_steps;
mod cli_pipeline;
mod cli_postgres;
mod cli_pr;
mod cli_render_steps;
mod cli_run;
mod cli_serve;
mod cli_terraform;
mod git_promotion;
