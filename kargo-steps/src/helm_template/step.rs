use async_trait::async_trait;
use kargo_core::step::{Capabilities, Step, StepContext, StepError, StepOutcome, parse_config};
use serde_json::Value;

use std::path::PathBuf;

use super::{
    CHART_FILE, Config, HelmTemplate, KIND, OutLayout, RULES, Resolved, TOOL, TOUCHES, args,
    check_kube_version, collect_tree, flat_files,
};
use crate::edit::blocking;
use crate::render::{self, Invocation, process_env};
use crate::schema;

#[async_trait]
impl Step for HelmTemplate {
    async fn run(&self, ctx: &StepContext, config: Value) -> Result<StepOutcome, StepError> {
        // Kargo validates the evaluated config against its schema.
        schema::check(KIND, RULES, &config)?;
        let config: Config = parse_config(KIND, config)?;
        if let Some(version) = config.kube_version.as_deref() {
            check_kube_version(version).map_err(|why| {
                StepError::failed(format!(
                    "invalid {KIND} config: `kubeVersion` `{version}` {why}"
                ))
            })?;
        }
        let chart = resolve_chart(ctx, &config.path)?;
        // Checked before anything runs.
        ctx.workspace.resolve(&config.out_path)?;
        let mut values_files = Vec::new();
        for (i, file) in config.values_files.iter().enumerate() {
            let abs = ctx.workspace.resolve(file)?;
            if abs.is_file() {
                values_files.push(abs);
            } else if abs.exists() || !config.ignore_missing_value_files {
                // Only a file that does not exist at all may be skipped.
                return Err(StepError::terminal(format!(
                    "{KIND}: `valuesFiles[{i}]` `{file}` is not a file in the work directory"
                )));
            }
        }
        let namespace = match config.namespace.as_deref() {
            Some(ns) if !ns.is_empty() => ns,
            _ if !ctx.project.is_empty() => ctx.project.as_str(),
            // Helm's own default, rather than whatever a kubeconfig says.
            _ => "default",
        };
        let program = TOOL.locate(self.options.binary.as_deref(), &process_env)?;

        let home = tempfile::Builder::new()
            .prefix("kargo-helm-")
            .tempdir()
            .map_err(|e| {
                StepError::terminal(format!("{KIND}: cannot create a temporary directory"))
                    .with_source(e)
            })?;
        let env: Vec<(std::ffi::OsString, std::ffi::OsString)> = [
            ("HELM_CACHE_HOME", "cache"),
            ("HELM_CONFIG_HOME", "config"),
            ("HELM_DATA_HOME", "data"),
        ]
        .into_iter()
        .map(|(k, sub)| (k.into(), home.path().join(sub).into()))
        .collect();
        let invocation = |args| Invocation {
            program: program.clone(),
            args,
            cwd: ctx.workspace.root().to_owned(),
            env: env.clone(),
        };

        if config.build_dependencies {
            let args = vec!["dependency".into(), "build".into(), chart.clone().into()];
            render::run(ctx, &TOOL, "helm dependency build", invocation(args)).await?;
        }

        let to_file = render::out_path_is_file(&config.out_path);
        let layout = config.out_layout.unwrap_or_default();
        let rendered = home.path().join("rendered");
        let resolved = Resolved {
            config: &config,
            chart,
            namespace,
            values_files,
            output_dir: (!to_file && layout == OutLayout::Helm).then_some(rendered.as_path()),
        };
        let stdout = render::run(ctx, &TOOL, "helm template", invocation(args(&resolved))).await?;

        let workspace = ctx.workspace.clone();
        let out_path = config.out_path.clone();
        blocking(move || {
            let write_error =
                |e: String| StepError::terminal(format!("{KIND}: cannot write `{out_path}`: {e}"));
            let files = if to_file {
                return render::write_file(&workspace, KIND, &out_path, stdout.as_bytes());
            } else if layout == OutLayout::Flat {
                flat_files(&stdout).map_err(write_error)?
            } else if rendered.exists() {
                collect_tree(&rendered).map_err(|e| write_error(e.to_string()))?
            } else {
                // Helm creates the directory only when it writes a file.
                Vec::new()
            };
            render::write_files(&workspace, KIND, &out_path, files)
        })
        .await?;
        // The temporary homes (and Helm's rendered tree) go now.
        drop(home);
        Ok(StepOutcome::succeeded())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().with_touches(TOUCHES)
    }

    fn check_config(&self, config: &Value) -> Result<(), StepError> {
        schema::check(KIND, RULES, config)
    }
}

/// The chart `path` in the work directory: a chart directory (holding
/// `Chart.yaml`) or a chart archive, the two Helm loads.
fn resolve_chart(ctx: &StepContext, path: &str) -> Result<PathBuf, StepError> {
    let abs = ctx.workspace.resolve(path)?;
    if abs.is_file() {
        return Ok(abs);
    }
    let why = if !abs.is_dir() {
        "is not a chart directory or archive in the work directory"
    } else if !abs.join(CHART_FILE).is_file() {
        "is a directory without a `Chart.yaml`, so not a chart"
    } else {
        return Ok(abs);
    };
    Err(StepError::terminal(format!(
        "{KIND}: `path` `{path}` {why}"
    )))
}
