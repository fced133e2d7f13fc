use async_trait::async_trait;
use kargo_core::step::{Capabilities, Step, StepContext, StepError, StepOutcome, parse_config};
use serde_json::{Map, Value};

use super::{
    Format, PARSE_RULES, ParseConfig, ParseStep, TOUCHES, UPDATE_RULES, Update, UpdateConfig,
    UpdateStep,
};
use crate::edit::{blocking, read_text};
use crate::schema;

/// Builds the `commitMessage` output: `Updated <path>` and one
/// `- <key>: <value>` line per update; empty for no update, as in Kargo
/// (the step refuses an empty `updates` before it gets here).
pub(super) fn commit_message(
    path: &str,
    updates: &[Update],
    render: impl Fn(&Value) -> String,
) -> String {
    if updates.is_empty() {
        return String::new();
    }
    let mut msg = format!("Updated {path}\n");
    for update in updates {
        msg.push_str(&format!("\n- {}: {}", update.key, render(&update.value)));
    }
    msg
}

/// Resolves the path inside the work dir, edits, verifies (inside the
/// format's editor), writes atomically, and returns `commitMessage`.
#[async_trait]
impl<F: Format> Step for UpdateStep<F> {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let kind = F::UPDATE_KIND;
        let UpdateConfig { path, updates } = parse_config(kind, config)?;
        if updates.is_empty() {
            return Err(StepError::failed(format!(
                "invalid {kind} config: `updates` needs at least one entry"
            )));
        }
        let abs = ctx.workspace.resolve(&path)?;
        let message = commit_message(&path, &updates, F::commit_value);
        let workspace = ctx.workspace.clone();
        blocking(move || {
            let src = read_text(&workspace, &abs, &path)?;
            let out = F::update(&src, &updates).map_err(|e| {
                StepError::terminal(format!("{kind}: cannot update `{path}`")).with_source(e)
            })?;
            if out != src {
                crate::fs::write_atomic(&abs, out.as_bytes(), None).map_err(|e| {
                    StepError::terminal(format!("{kind}: cannot write `{path}`")).with_source(e)
                })?;
            }
            Ok(())
        })
        .await?;
        Ok(StepOutcome::succeeded().with_output("commitMessage", message))
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_touches(TOUCHES)
    }

    fn check_config(&self, config: &Value) -> Result<(), StepError> {
        schema::check(F::UPDATE_KIND, UPDATE_RULES, config)
    }
}

/// Reads the file and evaluates each `fromExpression` on it: `$env` is the
/// whole document, whatever its root (a map, a list or a scalar:
/// `$env[0].name`, `$env`), as expr-lang, which Kargo runs on the
/// document, has it, and a bare name is read from it. Only what the
/// expressions read is ever converted.
#[async_trait]
impl<F: Format> Step for ParseStep<F> {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let kind = F::PARSE_KIND;
        let ParseConfig { path, outputs } = parse_config(kind, config)?;
        if outputs.is_empty() {
            return Err(StepError::failed(format!(
                "invalid {kind} config: `outputs` needs at least one entry"
            )));
        }
        let abs = ctx.workspace.resolve(&path)?;
        let shown = path.clone();
        let workspace = ctx.workspace.clone();
        let doc = blocking(move || {
            let src = read_text(&workspace, &abs, &shown)?;
            if src.trim().is_empty() {
                return Err(StepError::terminal(format!("{kind}: `{shown}` is empty")));
            }
            F::read(&src)
                .map_err(|e| StepError::terminal(format!("{kind}: `{shown}`")).with_source(e))
        })
        .await?;
        let expressions: Vec<&str> = outputs.iter().map(|o| o.from_expression.as_str()).collect();
        let values = ctx.eval_on_document(&expressions, doc);
        let mut result = Map::new();
        for (output, value) in outputs.iter().zip(values) {
            let value = value.map_err(|e| {
                StepError::terminal(format!(
                    "{kind}: `{path}`: cannot evaluate `{}` for output `{}`",
                    output.from_expression, output.name
                ))
                .with_source(e)
            })?;
            result.insert(output.name.clone(), value);
        }
        Ok(StepOutcome::succeeded().with_outputs(result))
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_touches(TOUCHES)
    }

    fn check_config(&self, config: &Value) -> Result<(), StepError> {
        schema::check(F::PARSE_KIND, PARSE_RULES, config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edit::go_format;
    use crate::file_edit::{Json, Toml, Yaml};

    #[test]
    fn commit_message_lists_every_update() {
        let updates = [Update::new("image.tag", "v2"), Update::new("replicas", 3)];
        let msg = commit_message("values.yaml", &updates, go_format);
        assert_eq!(msg, "Updated values.yaml\n\n- image.tag: v2\n- replicas: 3");
    }

    #[test]
    fn yaml_commit_values_quote_strings_that_read_as_other_types() {
        assert_eq!(Yaml::commit_value(&Value::from("v1.2.3")), "v1.2.3");
        assert_eq!(Yaml::commit_value(&Value::from("1.10")), "\"1.10\"");
        assert_eq!(Yaml::commit_value(&Value::from("true")), "\"true\"");
        assert_eq!(Yaml::commit_value(&Value::from(3)), "3");
    }

    /// Kargo: {toml,yaml,json}_updater_test.go, `generateCommitMessage`
    /// (three cases each): "no changes", "single change", "multiple changes".
    #[test]
    fn kargo_updater_generate_commit_message() {
        let none: &[Update] = &[];
        assert_eq!(commit_message("values.toml", none, Toml::commit_value), "");
        assert_eq!(commit_message("values.yaml", none, Yaml::commit_value), "");
        assert_eq!(commit_message("values.json", none, Json::commit_value), "");
        let toml = [
            Update::new("package.version", "1.2.3"),
            Update::new("features.enabled", true),
            Update::new("threshold", 42),
        ];
        assert_eq!(
            commit_message("values.toml", &toml[..1], Toml::commit_value),
            "Updated values.toml\n\n- package.version: '1.2.3'"
        );
        assert_eq!(
            commit_message("Cargo.toml", &toml, Toml::commit_value),
            "Updated Cargo.toml\n\n- package.version: '1.2.3'\n- features.enabled: true\n- threshold: 42"
        );
        let images = [
            Update::new("image1", "repo1/image1:tag1"),
            Update::new("image2", "repo2/image2:tag2"),
            Update::new("numStr", "42"),
            Update::new("realNum", 42),
        ];
        assert_eq!(
            commit_message(
                "values.yaml",
                &[Update::new("image", "repo/image:tag1")],
                Yaml::commit_value
            ),
            "Updated values.yaml\n\n- image: repo/image:tag1"
        );
        assert_eq!(
            commit_message("chart/values.yaml", &images, Yaml::commit_value),
            "Updated chart/values.yaml\n\n- image1: repo1/image1:tag1\n- image2: repo2/image2:tag2\n- numStr: \"42\"\n- realNum: 42"
        );
        assert_eq!(
            commit_message(
                "values.json",
                &[Update::new("image", "repo/image:tag1")],
                Json::commit_value
            ),
            "Updated values.json\n\n- image: \"repo/image:tag1\""
        );
        assert_eq!(
            commit_message("chart/values.json", &images[..2], Json::commit_value),
            "Updated chart/values.json\n\n- image1: \"repo1/image1:tag1\"\n- image2: \"repo2/image2:tag2\""
        );
    }
}
