//! [`Project`]: manifests checked once, with what every operation needs
//! from them (the Stage graph, each Stage's inflated promotion template,
//! its verification and its auto-promotion policy).

use std::collections::HashMap;
use std::path::Path;

use kargo_core::engine::{Engine, inflate_tasks};
use kargo_core::manifest::Manifests;
use kargo_core::model::{
    ExpressionVariable, FreightOrigin, PromotionStep, PromotionTemplate, Stage,
};
use kargo_core::pipeline::{StageGraph, StageVerification, stage_verification};

use crate::{Error, Result};

/// The promotion steps of a Stage with its variables (Stage `spec.vars`
/// first, then the template's), tasks inflated and step kinds checked.
#[derive(Debug, Clone, PartialEq)]
pub struct StageTemplate {
    /// The steps, [`inflate_tasks`] applied.
    pub steps: Vec<PromotionStep>,
    /// The variables.
    pub vars: Vec<ExpressionVariable>,
}

/// Manifests checked for use: everything that makes them unusable is
/// found when the project is built, before anything runs.
#[derive(Debug)]
pub struct Project {
    manifests: Manifests,
    graph: StageGraph,
    templates: HashMap<String, StageTemplate>,
    verifications: HashMap<String, StageVerification>,
    auto: HashMap<String, bool>,
}

impl Project {
    /// Loads the manifests at `path` (a file or a directory) and checks
    /// them against `engine`'s steps.
    pub fn load(path: &Path, engine: &Engine) -> Result<Project> {
        Project::new(load_manifests(path)?, &path.display().to_string(), engine)
    }

    /// Checks `manifests` (named `source` in errors) against `engine`'s
    /// steps: the Stage graph, each Stage's template and verification,
    /// and the auto-promotion policies.
    pub fn new(manifests: Manifests, source: &str, engine: &Engine) -> Result<Project> {
        let graph = StageGraph::from_manifests(&manifests)
            .map_err(|e| Error::Invalid(format!("{source}: {e}")))?;
        let mut templates = HashMap::new();
        let mut verifications = HashMap::new();
        let mut auto = HashMap::new();
        for stage in graph.stages() {
            let name = stage.metadata.name.clone();
            let at = |e: &dyn std::fmt::Display| {
                Error::Invalid(format!("{source}: Stage `{name}`: {e}"))
            };
            auto.insert(
                name.clone(),
                manifests
                    .auto_promotion_enabled(stage)
                    .map_err(|e| at(&e))?,
            );
            if let Some(template) = stage_template(stage, &manifests, engine).map_err(|e| at(&e))? {
                templates.insert(name.clone(), template);
            }
            if let Some(v) = stage_verification(stage, &manifests, engine)
                .map_err(|e| Error::Invalid(format!("{source}: {e}")))?
            {
                verifications.insert(name, v);
            }
        }
        Ok(Project {
            manifests,
            graph,
            templates,
            verifications,
            auto,
        })
    }

    /// The manifests.
    pub fn manifests(&self) -> &Manifests {
        &self.manifests
    }

    /// The Stages in flow order.
    pub fn graph(&self) -> &StageGraph {
        &self.graph
    }

    /// The Stage named `name`, or [`Error::NotFound`] listing the known ones.
    pub fn stage(&self, name: &str) -> Result<&Stage> {
        self.graph.stage(name).ok_or_else(|| Error::NotFound {
            what: "Stage",
            name: name.to_owned(),
            known: self
                .graph
                .stages()
                .map(|s| s.metadata.name.clone())
                .collect(),
        })
    }

    /// The promotion template of `stage`; `None` for a control-flow Stage.
    pub fn template(&self, stage: &str) -> Option<&StageTemplate> {
        self.templates.get(stage)
    }

    /// The verification of `stage`, when it has `spec.verification`.
    pub fn verification(&self, stage: &str) -> Option<&StageVerification> {
        self.verifications.get(stage)
    }

    /// Whether auto-promotion is on for `stage`
    /// (`ProjectConfig.spec.promotionPolicies`).
    pub fn auto_promotion_enabled(&self, stage: &str) -> bool {
        self.auto.get(stage).copied().unwrap_or(false)
    }

    /// The Freight origins `stage` requests.
    pub fn origins(&self, stage: &str) -> Vec<FreightOrigin> {
        self.graph
            .stage(stage)
            .map(|s| {
                s.spec
                    .requested_freight
                    .iter()
                    .map(|r| r.origin.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The project (namespace) of `stage`.
    pub fn namespace_of(&self, stage: &str) -> String {
        self.graph
            .stage(stage)
            .map(|s| s.metadata.namespace.clone())
            .unwrap_or_default()
    }

    /// What differs from `before`, one line per resource, e.g.
    /// `Stage prod changed`, `Warehouse images added`.
    pub fn changes_since(&self, before: &Project) -> Vec<String> {
        let (new, old) = (&self.manifests, &before.manifests);
        let mut out = Vec::new();
        diff(
            &mut out,
            "Warehouse",
            old.warehouses(),
            new.warehouses(),
            |w| &w.metadata.name,
        );
        diff(&mut out, "Stage", old.stages(), new.stages(), |s| {
            &s.metadata.name
        });
        diff(
            &mut out,
            "ProjectConfig",
            old.project_configs(),
            new.project_configs(),
            |p| &p.metadata.name,
        );
        diff(
            &mut out,
            "PromotionTask",
            old.promotion_tasks(),
            new.promotion_tasks(),
            |t| &t.metadata.name,
        );
        diff(
            &mut out,
            "ClusterPromotionTask",
            old.cluster_promotion_tasks(),
            new.cluster_promotion_tasks(),
            |t| &t.metadata.name,
        );
        diff(
            &mut out,
            "AnalysisTemplate",
            old.analysis_templates(),
            new.analysis_templates(),
            |t| &t.metadata.name,
        );
        out
    }
}

/// Appends `Kind name added|removed|changed` for each resource of `kind`
/// that differs between `old` and `new`.
fn diff<T: PartialEq>(
    out: &mut Vec<String>,
    kind: &str,
    old: &[T],
    new: &[T],
    name: impl Fn(&T) -> &String,
) {
    for n in new {
        match old.iter().find(|o| name(o) == name(n)) {
            None => out.push(format!("{kind} {} added", name(n))),
            Some(o) if o != n => out.push(format!("{kind} {} changed", name(n))),
            Some(_) => {}
        }
    }
    for o in old {
        if !new.iter().any(|n| name(n) == name(o)) {
            out.push(format!("{kind} {} removed", name(o)));
        }
    }
}

/// The manifests at `path` (a file or a directory).
pub(crate) fn load_manifests(path: &Path) -> Result<Manifests> {
    Manifests::load(path).map_err(|e| Error::Invalid(e.to_string()))
}

/// The template of `stage` with its tasks inflated and its step kinds
/// checked; `None` for a Stage without steps.
fn stage_template(
    stage: &Stage,
    manifests: &Manifests,
    engine: &Engine,
) -> kargo_core::Result<Option<StageTemplate>> {
    let Some(template) = PromotionTemplate::for_stage(stage).filter(|t| !t.spec.steps.is_empty())
    else {
        return Ok(None);
    };
    let steps = inflate_tasks(&template.spec.steps, &template.spec.vars, manifests)?;
    check_step_kinds(&steps, engine)?;
    Ok(Some(StageTemplate {
        steps,
        vars: template.spec.vars,
    }))
}

/// Refuses the first step whose kind `engine` does not know.
pub(crate) fn check_step_kinds(steps: &[PromotionStep], engine: &Engine) -> kargo_core::Result<()> {
    match steps
        .iter()
        .find(|s| engine.registry().get(&s.uses).is_none())
    {
        Some(step) => Err(kargo_core::Error::Invalid(format!(
            "step `{}` uses unknown step kind `{}`",
            step.alias, step.uses
        ))),
        None => Ok(()),
    }
}
