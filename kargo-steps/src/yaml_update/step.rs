use async_trait::async_trait;
use kargo_core::step::{Step, StepContext, StepError, StepOutcome, parse_config};
use serde_json::Value;

use super::{Config, KIND, YamlUpdate};
use crate::edit::{self, go_format, go_quote};

/// Kargo's `QuoteIfNecessary` for commit messages: strings that read as a
/// number, a boolean or JSON are quoted.
fn commit_value(value: &Value) -> String {
    match value {
        Value::String(s) => {
            let looks_typed = s.parse::<f64>().is_ok()
                || matches!(
                    s.as_str(),
                    "1" | "t"
                        | "T"
                        | "TRUE"
                        | "true"
                        | "True"
                        | "0"
                        | "f"
                        | "F"
                        | "FALSE"
                        | "false"
                        | "False"
                )
                || serde_json::from_str::<Value>(s).is_ok();
            if looks_typed { go_quote(s) } else { s.clone() }
        }
        other => go_format(other),
    }
}

#[async_trait]
impl Step for YamlUpdate {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        edit::run_update(
            ctx,
            KIND,
            config.path,
            config.updates,
            edit::yaml::update_existing,
            commit_value,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_values_quote_strings_that_read_as_other_types() {
        assert_eq!(commit_value(&Value::from("v1.2.3")), "v1.2.3");
        assert_eq!(commit_value(&Value::from("1.10")), "\"1.10\"");
        assert_eq!(commit_value(&Value::from("true")), "\"true\"");
        assert_eq!(commit_value(&Value::from(3)), "3");
    }
}
