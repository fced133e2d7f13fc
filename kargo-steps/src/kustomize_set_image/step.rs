use async_trait::async_trait;
use kargo_core::model::FreightCollection;
use kargo_core::step::{Capabilities, Step, StepContext, StepError, StepOutcome, parse_config};
use serde_json::Value;

use super::{
    Config, ImageUpdate, KIND, KUSTOMIZATION_FILES, KustomizeSetImage, RULES, TOUCHES, TargetImage,
    apply, commit_message,
};
use crate::edit::{blocking, read_text};
use crate::schema;

#[async_trait]
impl Step for KustomizeSetImage {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        let config: Config = parse_config(KIND, config)?;
        // No images, or an empty list, is Kargo's automatic mode.
        let targets = match config.images.as_deref() {
            Some(images) if !images.is_empty() => images
                .iter()
                .enumerate()
                .map(|(i, image)| from_config(i, image, &ctx.freight))
                .collect::<Result<Vec<_>, _>>()?,
            _ => from_freight(&ctx.freight)?,
        };
        let dir = ctx.workspace.resolve(&config.path)?;
        let path = config.path.trim_end_matches('/').to_owned();
        let workspace = ctx.workspace.clone();
        let set = blocking(move || {
            let found: Vec<&str> = KUSTOMIZATION_FILES
                .into_iter()
                .filter(|name| std::fs::symlink_metadata(dir.join(name)).is_ok_and(|m| m.is_file()))
                .collect();
            let name = match found.as_slice() {
                [one] => *one,
                [] => {
                    return Err(StepError::terminal(format!(
                        "{KIND}: no Kustomization file in `{path}` (looked for {})",
                        KUSTOMIZATION_FILES.join(", ")
                    )));
                }
                many => {
                    return Err(StepError::terminal(format!(
                        "{KIND}: more than one Kustomization file in `{path}`: {}",
                        many.join(", ")
                    )));
                }
            };
            let shown = format!("{path}/{name}");
            let file = dir.join(name);
            let src = read_text(&workspace, &file, &shown)?;
            let (out, set) = apply(&src, &targets).map_err(|e| {
                StepError::terminal(format!("{KIND}: cannot update `{shown}`")).with_source(e)
            })?;
            if out != src {
                crate::fs::write_atomic(&file, out.as_bytes(), None).map_err(|e| {
                    StepError::terminal(format!("{KIND}: cannot write `{shown}`")).with_source(e)
                })?;
            }
            Ok(set)
        })
        .await?;
        let outcome = StepOutcome::succeeded();
        Ok(match commit_message(&config.path, &set) {
            Some(message) => outcome.with_output("commitMessage", message),
            None => outcome,
        })
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_touches(TOUCHES)
    }

    fn check_config(&self, config: &Value) -> Result<(), StepError> {
        schema::check(KIND, RULES, config)?;
        let images = config.get("images").and_then(Value::as_array);
        for (i, image) in images.into_iter().flatten().enumerate() {
            let given = |key: &str| {
                image
                    .get(key)
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty() && !schema::holds_expression(s))
            };
            if given("tag") && given("digest") {
                return Err(both_versions(i));
            }
        }
        Ok(())
    }
}

fn invalid(message: String) -> StepError {
    StepError::failed(format!("invalid {KIND} config: {message}"))
}

/// `images[i]` gives both `tag` and `digest`.
fn both_versions(i: usize) -> StepError {
    invalid(format!(
        "`images[{i}]`: `tag` and `digest` are mutually exclusive"
    ))
}

/// The target of one configured image; its version from the Freight when
/// neither `tag` nor `digest` is given.
fn from_config(
    i: usize,
    image: &ImageUpdate,
    freight: &FreightCollection,
) -> Result<TargetImage, StepError> {
    if image.image.is_empty() {
        return Err(invalid(format!("`images[{i}].image` is empty")));
    }
    if !image.tag.is_empty() && !image.digest.is_empty() {
        return Err(both_versions(i));
    }
    let name = if image.name.is_empty() {
        &image.image
    } else {
        &image.name
    };
    let mut target = TargetImage::new(name.clone())
        .with_new_name(image.new_name.clone())
        .with_tag(image.tag.clone())
        .with_digest(image.digest.clone());
    if image.tag.is_empty() && image.digest.is_empty() {
        let found: Vec<_> = freight
            .items
            .iter()
            .flat_map(|f| f.images.iter().filter(|img| img.repo_url == image.image))
            .collect();
        match found.as_slice() {
            [one] if image.use_digest => target.digest = one.digest.clone(),
            [one] => target.new_tag = one.tag.clone(),
            [] if !image.new_name.is_empty() => {}
            [] => {
                return Err(StepError::terminal(format!(
                    "{KIND}: `images[{i}]` gives no `tag` or `digest`, and the Freight \
                     being promoted has no image `{}`",
                    image.image
                )));
            }
            _ => {
                return Err(StepError::terminal(format!(
                    "{KIND}: `images[{i}]`: image `{}` is in more than one piece of Freight; \
                     give its `tag` or `digest` (e.g. with imageFrom and an origin)",
                    image.image
                )));
            }
        }
    }
    Ok(target)
}

/// Every image of the Freight collection, with its tag and digest
/// (Kargo's automatic mode).
fn from_freight(freight: &FreightCollection) -> Result<Vec<TargetImage>, StepError> {
    let mut targets: Vec<TargetImage> = Vec::new();
    for image in freight.items.iter().flat_map(|f| &f.images) {
        if targets.iter().any(|t| t.name == image.repo_url) {
            return Err(StepError::terminal(format!(
                "{KIND}: image `{}` is in more than one piece of Freight: manual \
                 configuration (`images`) is required",
                image.repo_url
            )));
        }
        targets.push(
            TargetImage::new(image.repo_url.clone())
                .with_tag(image.tag.clone())
                .with_digest(image.digest.clone()),
        );
    }
    Ok(targets)
}
