//! Kargo manifests: multi-document YAML (or JSON) files of
//! `kargo.akuity.io/v1alpha1` resources, read from a file or a directory tree.
//!
//! Documents of another API version or of a kind kargo-rs does not know are
//! skipped with a warning (so a directory may also hold Argo CD or plain
//! Kubernetes manifests); empty documents are skipped silently. Anything
//! else that does not fit Kargo's schema is an [`Error`] naming the file,
//! the document (counted from 1, empty documents included), the resource
//! when its kind and name are known, and the line and column of the problem.
//!
//! ```
//! use kargo_core::manifest::Manifests;
//!
//! let manifests = Manifests::from_yaml_str(
//!     r#"
//! apiVersion: kargo.akuity.io/v1alpha1
//! kind: Warehouse
//! metadata:
//!   name: guestbook
//! spec:
//!   subscriptions:
//!   - image:
//!       repoURL: ghcr.io/acme/guestbook
//! ---
//! apiVersion: argoproj.io/v1alpha1
//! kind: Application
//! metadata:
//!   name: skipped-with-a-warning
//! "#,
//!     "inline.yaml",
//! )?;
//! assert!(manifests.warehouse("guestbook").is_some());
//! assert_eq!(manifests.len(), 1);
//! # Ok::<(), kargo_core::manifest::Error>(())
//! ```

mod load;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::model::{
    AnalysisTemplate, ClusterPromotionTask, Freight, PolicyError, Project, ProjectConfig,
    Promotion, PromotionPolicy, PromotionTask, Stage, Warehouse,
};

/// The kinds of resource a [`Manifests`] collection holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// `Project`.
    Project,
    /// `ProjectConfig`.
    ProjectConfig,
    /// `Warehouse`.
    Warehouse,
    /// `Stage`.
    Stage,
    /// `PromotionTask`.
    PromotionTask,
    /// `ClusterPromotionTask`.
    ClusterPromotionTask,
    /// `Promotion`.
    Promotion,
    /// `Freight`.
    Freight,
    /// `AnalysisTemplate` (kargo-rs's verification template).
    AnalysisTemplate,
}

impl Kind {
    /// Every kind, in the order [`Manifests`] reports them.
    pub const ALL: [Kind; 9] = [
        Kind::Project,
        Kind::ProjectConfig,
        Kind::Warehouse,
        Kind::Stage,
        Kind::PromotionTask,
        Kind::ClusterPromotionTask,
        Kind::Promotion,
        Kind::Freight,
        Kind::AnalysisTemplate,
    ];

    /// The kind's name as manifests write it, e.g. `"Stage"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Project => "Project",
            Kind::ProjectConfig => "ProjectConfig",
            Kind::Warehouse => "Warehouse",
            Kind::Stage => "Stage",
            Kind::PromotionTask => "PromotionTask",
            Kind::ClusterPromotionTask => "ClusterPromotionTask",
            Kind::Promotion => "Promotion",
            Kind::Freight => "Freight",
            Kind::AnalysisTemplate => "AnalysisTemplate",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A kind name kargo-rs does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown Kargo kind `{0}`")]
pub struct UnknownKind(pub String);

impl FromStr for Kind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

/// The error returned when manifests cannot be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read.
    #[error("cannot read manifests at {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A document is not valid YAML or does not fit its kind's schema.
    #[error(transparent)]
    Parse(Box<ParseError>),
    /// Two documents define the same resource.
    #[error("{kind} \"{name}\" is defined twice: in {first} and in {second}")]
    Duplicate {
        /// The resource's kind.
        kind: Kind,
        /// The resource's name (prefixed with its namespace when it has one).
        name: String,
        /// Where it was defined first.
        first: String,
        /// Where it was defined again.
        second: String,
    },
}

/// Where and why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{source_name}: document {document}{}{}: {message}",
    describe_resource(*kind, name.as_deref()),
    describe_field(field.as_deref())
)]
#[non_exhaustive]
pub struct ParseError {
    /// The file (or the name given to [`Manifests::from_yaml_str`]).
    pub source_name: String,
    /// The document's position in the file, counted from 1, empty
    /// documents included.
    pub document: usize,
    /// The resource's kind, when known.
    pub kind: Option<Kind>,
    /// The resource's name, when known.
    pub name: Option<String>,
    /// The line of the problem (1-based), when known.
    pub line: Option<usize>,
    /// The column of the problem (1-based), when known.
    pub column: Option<usize>,
    /// The path of the field at fault (`spec.steps[0].config`), when it
    /// can be told from the document's layout.
    pub field: Option<String>,
    /// What is wrong, as the YAML reader says it (position included).
    pub message: String,
}

fn describe_field(field: Option<&str>) -> String {
    field.map(|f| format!(", field {f}")).unwrap_or_default()
}

fn describe_resource(kind: Option<Kind>, name: Option<&str>) -> String {
    match (kind, name) {
        (Some(kind), Some(name)) => format!(" ({kind} \"{name}\")"),
        (Some(kind), None) => format!(" ({kind})"),
        (None, _) => String::new(),
    }
}

impl From<Error> for crate::Error {
    fn from(err: Error) -> Self {
        match err {
            Error::Io { path, source } if source.kind() == std::io::ErrorKind::NotFound => {
                crate::Error::NotFound {
                    what: "manifest path",
                    name: path.display().to_string(),
                }
            }
            Error::Duplicate {
                kind,
                name,
                first,
                second,
            } => crate::Error::AlreadyExists {
                what: "manifest resource",
                name: format!("{kind} \"{name}\" (in {first} and in {second})"),
            },
            Error::Parse(parse) => crate::Error::Invalid(parse.to_string()),
            other => crate::Error::generic("manifest", other),
        }
    }
}

/// The Kargo resources read from manifests, by kind, in the order they were
/// read. Names are unique per kind and namespace.
#[derive(Debug, Clone, Default)]
pub struct Manifests {
    projects: Vec<Project>,
    project_configs: Vec<ProjectConfig>,
    warehouses: Vec<Warehouse>,
    stages: Vec<Stage>,
    promotion_tasks: Vec<PromotionTask>,
    cluster_promotion_tasks: Vec<ClusterPromotionTask>,
    promotions: Vec<Promotion>,
    freight: Vec<Freight>,
    analysis_templates: Vec<AnalysisTemplate>,
    /// Where each resource was read: `(kind, namespace, name)` to
    /// `file (document n)`.
    origins: BTreeMap<(Kind, String, String), String>,
}

impl Manifests {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the manifests in `path`: one file, or every `.yaml`, `.yml` and
    /// `.json` file under a directory (recursively, in sorted path order;
    /// entries whose names start with `.` are skipped).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Error> {
        let mut manifests = Self::new();
        manifests.add_path(path)?;
        Ok(manifests)
    }

    /// Reads the documents of one YAML (or JSON) text; `source_name` names
    /// it in errors and warnings.
    pub fn from_yaml_str(text: &str, source_name: &str) -> Result<Self, Error> {
        let mut manifests = Self::new();
        manifests.add_yaml_str(text, source_name)?;
        Ok(manifests)
    }

    /// Adds the manifests in `path` (see [`Manifests::load`]). On error,
    /// resources read before the failing document stay added.
    pub fn add_path(&mut self, path: impl AsRef<Path>) -> Result<(), Error> {
        for file in load::manifest_files(path.as_ref())? {
            let text = std::fs::read_to_string(&file).map_err(|source| Error::Io {
                path: file.clone(),
                source,
            })?;
            self.add_yaml_str(&text, &file.display().to_string())?;
        }
        Ok(())
    }

    /// Adds the documents of one YAML (or JSON) text. Nothing is added when
    /// any of its documents is invalid.
    pub fn add_yaml_str(&mut self, text: &str, source_name: &str) -> Result<(), Error> {
        let documents = load::parse_documents(text, source_name)?;
        self.insert_all(documents)
    }

    /// Adds every resource of `other`; fails on the first resource both
    /// define.
    pub fn extend(&mut self, other: Manifests) -> Result<(), Error> {
        let mut origins = other.origins;
        let mut take = |kind: Kind, namespace: &str, name: &str| {
            origins
                .remove(&(kind, namespace.to_owned(), name.to_owned()))
                .unwrap_or_else(|| "another collection".to_owned())
        };
        let mut documents = Vec::new();
        for r in other.projects {
            let at = take(Kind::Project, &r.metadata.namespace, &r.metadata.name);
            documents.push(load::Document::new(load::Resource::Project(r), at));
        }
        for r in other.project_configs {
            let at = take(Kind::ProjectConfig, &r.metadata.namespace, &r.metadata.name);
            documents.push(load::Document::new(load::Resource::ProjectConfig(r), at));
        }
        for r in other.warehouses {
            let at = take(Kind::Warehouse, &r.metadata.namespace, &r.metadata.name);
            documents.push(load::Document::new(load::Resource::Warehouse(r), at));
        }
        for r in other.stages {
            let at = take(Kind::Stage, &r.metadata.namespace, &r.metadata.name);
            documents.push(load::Document::new(load::Resource::Stage(r), at));
        }
        for r in other.promotion_tasks {
            let at = take(Kind::PromotionTask, &r.metadata.namespace, &r.metadata.name);
            documents.push(load::Document::new(load::Resource::PromotionTask(r), at));
        }
        for r in other.cluster_promotion_tasks {
            let at = take(
                Kind::ClusterPromotionTask,
                &r.metadata.namespace,
                &r.metadata.name,
            );
            documents.push(load::Document::new(
                load::Resource::ClusterPromotionTask(r),
                at,
            ));
        }
        for r in other.promotions {
            let at = take(Kind::Promotion, &r.metadata.namespace, &r.metadata.name);
            documents.push(load::Document::new(
                load::Resource::Promotion(Box::new(r)),
                at,
            ));
        }
        for r in other.analysis_templates {
            let at = take(
                Kind::AnalysisTemplate,
                &r.metadata.namespace,
                &r.metadata.name,
            );
            documents.push(load::Document::new(
                load::Resource::AnalysisTemplate(Box::new(r)),
                at,
            ));
        }
        for r in other.freight {
            let at = take(Kind::Freight, &r.metadata.namespace, &r.name());
            documents.push(load::Document::new(
                load::Resource::Freight(Box::new(r)),
                at,
            ));
        }
        self.insert_all(documents)
    }

    /// Adds all documents, or none when one of them is a duplicate.
    fn insert_all(&mut self, documents: Vec<load::Document>) -> Result<(), Error> {
        let mut batch: BTreeMap<(Kind, String, String), &str> = BTreeMap::new();
        for document in &documents {
            let kind = document.resource.kind();
            let (namespace, name) = document.resource.namespace_and_name();
            let key = (kind, namespace, name);
            let first = self
                .origins
                .get(&key)
                .map(String::as_str)
                .or_else(|| batch.get(&key).copied());
            if let Some(first) = first {
                let (kind, namespace, name) = key;
                let name = if namespace.is_empty() {
                    name
                } else {
                    format!("{namespace}/{name}")
                };
                return Err(Error::Duplicate {
                    kind,
                    name,
                    first: first.to_owned(),
                    second: document.origin.clone(),
                });
            }
            batch.insert(key, &document.origin);
        }
        for document in documents {
            self.insert(document);
        }
        Ok(())
    }

    fn insert(&mut self, document: load::Document) {
        let kind = document.resource.kind();
        let (namespace, name) = document.resource.namespace_and_name();
        self.origins
            .insert((kind, namespace, name), document.origin);
        match document.resource {
            load::Resource::Project(r) => self.projects.push(r),
            load::Resource::ProjectConfig(r) => self.project_configs.push(r),
            load::Resource::Warehouse(r) => self.warehouses.push(r),
            load::Resource::Stage(r) => self.stages.push(r),
            load::Resource::PromotionTask(r) => self.promotion_tasks.push(r),
            load::Resource::ClusterPromotionTask(r) => self.cluster_promotion_tasks.push(r),
            load::Resource::Promotion(r) => self.promotions.push(*r),
            load::Resource::Freight(r) => self.freight.push(*r),
            load::Resource::AnalysisTemplate(r) => self.analysis_templates.push(*r),
        }
    }

    /// How many resources the collection holds.
    pub fn len(&self) -> usize {
        self.origins.len()
    }

    /// Whether the collection holds no resource.
    pub fn is_empty(&self) -> bool {
        self.origins.is_empty()
    }

    /// Where a resource was read, as `file (document n)`.
    pub fn origin_of(&self, kind: Kind, namespace: &str, name: &str) -> Option<&str> {
        self.origins
            .get(&(kind, namespace.to_owned(), name.to_owned()))
            .map(String::as_str)
    }

    /// The Projects.
    pub fn projects(&self) -> &[Project] {
        &self.projects
    }

    /// The ProjectConfigs.
    pub fn project_configs(&self) -> &[ProjectConfig] {
        &self.project_configs
    }

    /// The Warehouses.
    pub fn warehouses(&self) -> &[Warehouse] {
        &self.warehouses
    }

    /// The Stages.
    pub fn stages(&self) -> &[Stage] {
        &self.stages
    }

    /// The PromotionTasks.
    pub fn promotion_tasks(&self) -> &[PromotionTask] {
        &self.promotion_tasks
    }

    /// The ClusterPromotionTasks.
    pub fn cluster_promotion_tasks(&self) -> &[ClusterPromotionTask] {
        &self.cluster_promotion_tasks
    }

    /// The Promotions.
    pub fn promotions(&self) -> &[Promotion] {
        &self.promotions
    }

    /// The Freight.
    pub fn freight(&self) -> &[Freight] {
        &self.freight
    }

    /// The AnalysisTemplates.
    pub fn analysis_templates(&self) -> &[AnalysisTemplate] {
        &self.analysis_templates
    }

    /// The first AnalysisTemplate named `name`, in any namespace.
    pub fn analysis_template(&self, name: &str) -> Option<&AnalysisTemplate> {
        self.analysis_templates
            .iter()
            .find(|r| r.metadata.name == name)
    }

    /// The Project named `name`.
    pub fn project(&self, name: &str) -> Option<&Project> {
        self.projects.iter().find(|r| r.metadata.name == name)
    }

    /// The ProjectConfig named `name` (by convention, the project's name).
    pub fn project_config(&self, name: &str) -> Option<&ProjectConfig> {
        self.project_configs
            .iter()
            .find(|r| r.metadata.name == name)
    }

    /// The first Warehouse named `name`, in any namespace.
    pub fn warehouse(&self, name: &str) -> Option<&Warehouse> {
        self.warehouses.iter().find(|r| r.metadata.name == name)
    }

    /// The first Stage named `name`, in any namespace.
    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|r| r.metadata.name == name)
    }

    /// The first PromotionTask named `name`, in any namespace.
    pub fn promotion_task(&self, name: &str) -> Option<&PromotionTask> {
        self.promotion_tasks
            .iter()
            .find(|r| r.metadata.name == name)
    }

    /// The ClusterPromotionTask named `name`.
    pub fn cluster_promotion_task(&self, name: &str) -> Option<&ClusterPromotionTask> {
        self.cluster_promotion_tasks
            .iter()
            .find(|r| r.metadata.name == name)
    }

    /// The first Promotion named `name`, in any namespace.
    pub fn promotion(&self, name: &str) -> Option<&Promotion> {
        self.promotions.iter().find(|r| r.metadata.name == name)
    }

    /// The promotion policy that applies to `stage`: from the ProjectConfig
    /// of the Stage's project (named after its namespace; when the Stage
    /// has no namespace, the only ProjectConfig loaded), or else from the
    /// legacy `spec.promotionPolicies` of its Project (found the same way).
    pub fn promotion_policy_for(
        &self,
        stage: &Stage,
    ) -> Result<Option<&PromotionPolicy>, PolicyError> {
        fn project_of<'a, T>(
            items: &'a [T],
            namespace: &str,
            name: impl Fn(&T) -> &str,
        ) -> Option<&'a T> {
            if namespace.is_empty() {
                match items {
                    [only] => Some(only),
                    _ => None,
                }
            } else {
                items.iter().find(|i| name(i) == namespace)
            }
        }
        let namespace = stage.metadata.namespace.as_str();
        if let Some(config) = project_of(&self.project_configs, namespace, |c| &c.metadata.name) {
            return config.spec.policy_for(&stage.metadata);
        }
        match project_of(&self.projects, namespace, |p| &p.metadata.name)
            .and_then(|p| p.spec.as_ref())
        {
            Some(spec) => spec.policy_for(&stage.metadata),
            None => Ok(None),
        }
    }

    /// Whether new Freight is promoted into `stage` automatically, as the
    /// [policy](Manifests::promotion_policy_for) that applies to it says.
    pub fn auto_promotion_enabled(&self, stage: &Stage) -> Result<bool, PolicyError> {
        Ok(self
            .promotion_policy_for(stage)?
            .is_some_and(|p| p.auto_promotion_enabled))
    }

    /// The Freight named `name` (its ID) or aliased `name`.
    pub fn freight_named(&self, name: &str) -> Option<&Freight> {
        self.freight
            .iter()
            .find(|f| f.name() == name)
            .or_else(|| self.freight.iter().find(|f| f.alias == name))
    }
}

/// Tasks are looked up by name among the loaded `PromotionTask` and
/// `ClusterPromotionTask` manifests, so a promotion built from manifests
/// can be inflated with [`inflate_tasks`](crate::engine::inflate_tasks).
impl crate::engine::TaskResolver for Manifests {
    fn resolve(
        &self,
        reference: &crate::model::PromotionTaskReference,
    ) -> Option<&crate::model::PromotionTemplateSpec> {
        match reference.kind.as_deref().unwrap_or("PromotionTask") {
            "PromotionTask" => self.promotion_task(&reference.name).map(|t| &t.spec),
            "ClusterPromotionTask" => self
                .cluster_promotion_task(&reference.name)
                .map(|t| &t.spec),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
