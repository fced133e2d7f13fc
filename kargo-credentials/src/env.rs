//! The environment the ambient credential sources read.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// A snapshot of environment variables (`AWS_*`, `AZURE_*`, `HOME`), taken
/// once, so that tests and hosts can hand a provider its own.
///
/// `Debug` shows the variable names only: some of them are secrets.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Environment {
    vars: BTreeMap<String, String>,
}

impl Environment {
    /// The process's environment (the variables ambient credentials use).
    pub fn from_process() -> Self {
        Environment {
            vars: std::env::vars()
                .filter(|(k, _)| k.starts_with("AWS_") || k.starts_with("AZURE_") || k == "HOME")
                .collect(),
        }
    }

    /// An environment holding `vars` only.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (impl Into<String>, impl Into<String>)>,
    ) -> Self {
        Environment {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The value of `name`, if set and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The first of `names` that is set.
    pub(crate) fn first(&self, names: &[&str]) -> Option<&str> {
        names.iter().find_map(|n| self.get(n))
    }

    /// `$HOME/<rest>`, if `HOME` is set.
    pub(crate) fn home_path(&self, rest: &str) -> Option<PathBuf> {
        self.get("HOME").map(|h| PathBuf::from(h).join(rest))
    }
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Environment")
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .finish()
    }
}
