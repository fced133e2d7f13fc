//! The integration tests, in one binary: one link instead of one per file.

mod azure_provider;
mod bitbucket_provider;
mod credentials;
mod forge;
mod git;
mod local_provider;
mod rest_providers;
